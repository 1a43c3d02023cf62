"""Zero-copy conversion between spgrad containers and SciPy's sparse objects."""

import warnings

import scipy.sparse as _sps

__all__ = ["from_scipy", "from_torch"]

_NATIVE = ("csr", "csc", "coo", "dia")


def from_scipy(obj, array=None):
    """Wrap a SciPy sparse array or matrix as the spgrad container of the same format.

    The value and index arrays are shared, not copied, for CSR, CSC, COO and DIA input, and
    validated in full, so a malformed SciPy object raises here rather than in a kernel. BSR,
    LIL and DOK input becomes ``spgrad.bsr_array``, ``lil_array``, ``dok_array`` (or the
    matrix classes), which are SciPy's classes with spgrad's conversions; their storage is
    shared too when the family is kept.

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
    >>> type(sp.from_scipy(S.tolil())).__module__
    'spgrad._assembly'
    """
    from ._base import _CONTAINERS

    if not _sps.issparse(obj):
        raise TypeError(f"from_scipy expected a scipy.sparse array or matrix, got "
                        f"{type(obj).__module__}.{type(obj).__name__}")
    if array is None:
        array = isinstance(obj, _sps.sparray)
    fmt = obj.format
    if fmt not in _NATIVE:
        from ._assembly import _adopt

        return _adopt(obj, array=array)
    cls = _CONTAINERS[fmt][0 if array else 1]
    if fmt in ("csr", "csc"):
        A = cls._from_arrays(obj.data, obj.indices, obj.indptr, obj.shape)
        for flag in ("_has_sorted_indices", "_has_canonical_format"):
            if flag in obj.__dict__:
                A.__dict__[flag] = obj.__dict__[flag]
        A.check_format(full_check=True)
        return A
    if fmt == "coo":
        A = cls((obj.data, obj.coords), shape=obj.shape)
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
        S = cls((A.data, A.coords), shape=A.shape, copy=False)
        S.has_canonical_format = A.has_canonical_format
        return S
    return cls((A.data, A.offsets), shape=A.shape, copy=False)


def to_torch(A):
    """A torch sparse tensor with the values of ``A`` (in the autograd graph when they are a
    tensor): ``sparse_csr`` for CSR, ``sparse_csc`` for CSC, ``sparse_coo`` otherwise (and for
    1-D arrays). Complex values that require grad need the COO layout (torch's compressed
    layouts refuse them): a ``TypeError`` for CSR and CSC says so."""
    from . import _backend

    torch = _backend.torch_module()
    idx = _backend.index_tensor
    # spgrad validated the arrays already; torch's own invariant check would repeat it. Its
    # "sparse CSR support is in beta" notice is not actionable for our users, so it is muted.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta",
                                category=UserWarning)
        if A.format in ("csr", "csc") and A.ndim == 2:
            make = torch.sparse_csr_tensor if A.format == "csr" else torch.sparse_csc_tensor
            data = _backend.as_tensor(A.data)
            if data.requires_grad and data.is_complex():
                raise TypeError(
                    f"to_torch: torch's sparse {A.format.upper()} tensors do not support "
                    f"autograd with complex values (got {A.dtype} values that require "
                    "grad); A.tocoo().to_torch() gives a sparse COO tensor, which does"
                )
            return make(idx(A.indptr), idx(A.indices), data, size=A.shape,
                        device=data.device, check_invariants=False)
        A = A.tocoo()
        data = _backend.as_tensor(A.data)
        return torch.sparse_coo_tensor(
            torch.stack([idx(c) for c in A.coords]), data, size=A.shape, device=data.device,
            is_coalesced=bool(A.has_canonical_format), check_invariants=False,
        )


def from_torch(t, array=True):
    """The spgrad sparse array of a torch tensor, values kept in the autograd graph.

    Sparse CSR, CSC and COO tensors keep their format; a dense (strided) 2-D tensor becomes a
    CSR array whose pattern is its nonzeros.

    Parameters
    ----------
    t : torch.Tensor
    array : bool, optional
        Return the array family (default) or the matrix family.

    Examples
    --------
    >>> import torch
    >>> import spgrad as sp
    >>> t = torch.tensor([[1.0, 0.0], [2.0, 3.0]]).to_sparse_csr()
    >>> A = sp.from_torch(t)
    >>> type(A).__name__, A.nnz
    ('csr_array', 3)
    """
    from . import _backend
    from ._base import _CONTAINERS

    if not _backend.is_tensor(t):
        raise TypeError(f"from_torch expected a torch.Tensor, got {type(t).__name__}")
    torch = _backend.torch_module()
    family = 0 if array else 1
    to_np = _backend.array_of  # index arrays: NumPy (CPU) or CuPy (a CUDA tensor's GPU)
    if t.layout == torch.sparse_csr:
        return _CONTAINERS["csr"][family](
            (t.values(), to_np(t.col_indices()), to_np(t.crow_indices())), shape=tuple(t.shape))
    if t.layout == torch.sparse_csc:
        return _CONTAINERS["csc"][family](
            (t.values(), to_np(t.row_indices()), to_np(t.ccol_indices())), shape=tuple(t.shape))
    if t.layout == torch.sparse_coo:
        t = t.coalesce()
        indices = to_np(t.indices())
        return _CONTAINERS["coo"][family](
            (t.values(), tuple(indices)), shape=tuple(t.shape))
    if t.layout == torch.strided:
        return _CONTAINERS["csr"][family](t)
    raise TypeError(f"from_torch does not support tensors with layout {t.layout}")
