"""Compressed Sparse Column: ``csc_array`` and ``csc_matrix``."""

from ._base import _register, sparray
from ._compressed import _cs_base, compressed_doc
from ._matrix import spmatrix
from ._oned import accept_1d_operands

__all__ = ["csc_array", "csc_matrix", "isspmatrix_csc"]


class _csc_base(_cs_base):
    _format = "csc"

    @staticmethod
    def _swap(x):
        """(row, col) quantities as (major, minor): reversed for CSC."""
        return x[::-1]


@accept_1d_operands
class csc_array(_csc_base, sparray):
    __doc__ = compressed_doc("csc", "array")


class csc_matrix(spmatrix, _csc_base):
    __doc__ = compressed_doc("csc", "matrix")


_register("csc", csc_array, csc_matrix)


def isspmatrix_csc(x):
    """True if ``x`` is a ``csc_matrix`` (not a ``csc_array``).

    Examples
    --------
    >>> import spgrad as sp
    >>> sp.isspmatrix_csc(sp.csc_matrix([[1]])), sp.isspmatrix_csc(sp.csc_array([[1]]))
    (True, False)
    """
    return isinstance(x, csc_matrix)
