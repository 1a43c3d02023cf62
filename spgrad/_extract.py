"""Functions that pull parts out of a sparse array."""

import scipy.sparse as _sps

__all__ = ["find", "isspmatrix_bsr", "isspmatrix_dok", "isspmatrix_lil"]


def find(A):
    """Row indices, column indices and values of the nonzero entries of ``A``.

    Duplicates are summed and explicit zeros dropped first; entries come in row-major
    order for CSR input, as in SciPy.

    Examples
    --------
    >>> import spgrad as sp
    >>> sp.find(sp.csr_array([[7, 0], [0, 8]]))
    (array([0, 1], dtype=int32), array([0, 1], dtype=int32), array([7, 8]))
    """
    from ._coo import coo_array

    A = coo_array(A, copy=True)
    A.sum_duplicates()
    mask = A.data != 0
    return A.row[mask], A.col[mask], A.data[mask]


def _scipy_predicate(fmt):
    cls = getattr(_sps, f"{fmt}_matrix")

    def predicate(x):
        return isinstance(x, cls)

    predicate.__name__ = f"isspmatrix_{fmt}"
    predicate.__doc__ = f"""True if ``x`` is a ``{fmt}_matrix``.

    spgrad has no native {fmt.upper()} format yet, so only SciPy's ``{fmt}_matrix`` qualifies.

    Examples
    --------
    >>> import scipy.sparse
    >>> import spgrad as sp
    >>> sp.isspmatrix_{fmt}(scipy.sparse.{fmt}_matrix((2, 2))), sp.isspmatrix_{fmt}(None)
    (True, False)
    """
    return predicate


isspmatrix_bsr = _scipy_predicate("bsr")
isspmatrix_dok = _scipy_predicate("dok")
isspmatrix_lil = _scipy_predicate("lil")
