"""Zero-copy conversion between spgrad containers and SciPy's sparse objects."""

import scipy.sparse as _sps

__all__ = ["from_scipy"]

_NATIVE = ("csr", "csc", "coo", "dia")


def from_scipy(obj, array=None):
    """Wrap a SciPy sparse array or matrix as the spgrad container of the same format.

    The value and index arrays are shared, not copied, for CSR, CSC, COO and DIA input; the
    other formats (BSR, LIL, DOK) are converted to CSR first. The arrays are validated in
    full, so a malformed SciPy object raises here rather than in a kernel.

    Parameters
    ----------
    obj : scipy.sparse array or matrix
    array : bool, optional
        Return the sparse-array family (True) or the sparse-matrix family (False); by
        default the family of ``obj``.

    Returns
    -------
    spgrad sparse array or matrix

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse
    >>> import spgrad as sp
    >>> S = scipy.sparse.random_array((4, 4), density=0.5, format="csr", rng=0)
    >>> A = sp.from_scipy(S)
    >>> type(A).__name__, np.shares_memory(A.data, S.data)
    ('csr_array', True)
    """
    from ._base import _CONTAINERS

    if not _sps.issparse(obj):
        raise TypeError(f"from_scipy expected a scipy.sparse array or matrix, got "
                        f"{type(obj).__module__}.{type(obj).__name__}")
    if array is None:
        array = isinstance(obj, _sps.sparray)
    fmt = obj.format if obj.format in _NATIVE else "csr"
    if fmt != obj.format:
        obj = obj.tocsr()
    cls = _CONTAINERS[fmt][0 if array else 1]
    if fmt in ("csr", "csc"):
        A = cls._from_arrays(obj.data, obj.indices, obj.indptr, obj.shape)
        for flag in ("_has_sorted_indices", "_has_canonical_format"):
            if flag in obj.__dict__:
                A.__dict__[flag] = obj.__dict__[flag]
        A.check_format(full_check=True)
        return A
    if fmt == "coo":
        if obj.ndim != 2:
            raise ValueError(f"spgrad supports 2-D COO arrays today, got {obj.ndim}-D")
        A = cls((obj.data, (obj.row, obj.col)), shape=obj.shape)
        A.has_canonical_format = obj.has_canonical_format
        return A
    return cls((obj.data, obj.offsets), shape=obj.shape)


def to_scipy(A):
    """The SciPy object of the same format and family as ``A``, sharing its arrays."""
    array = A._is_array
    fmt = A.format
    cls = getattr(_sps, f"{fmt}_{'array' if array else 'matrix'}")
    if fmt in ("csr", "csc"):
        S = cls((A.data, A.indices, A.indptr), shape=A.shape, copy=False)
        S.has_sorted_indices = A.has_sorted_indices
        return S
    if fmt == "coo":
        S = cls((A.data, (A.row, A.col)), shape=A.shape, copy=False)
        S.has_canonical_format = A.has_canonical_format
        return S
    return cls((A.data, A.offsets), shape=A.shape, copy=False)
