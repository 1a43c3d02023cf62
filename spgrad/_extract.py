"""Functions that pull parts out of a sparse array."""


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


# The predicates live with the classes they recognise.
from ._assembly import isspmatrix_bsr, isspmatrix_dok, isspmatrix_lil  # noqa: E402
