"""Compressed Sparse Row: ``csr_array`` and ``csr_matrix``."""

from ._base import _register, sparray
from ._compressed import _cs_base, compressed_doc
from ._matrix import spmatrix
from ._oned import support_1d

__all__ = ["csr_array", "csr_matrix", "isspmatrix_csr"]


class _csr_base(_cs_base):
    _format = "csr"

    @staticmethod
    def _swap(x):
        """(row, col) quantities as (major, minor): unchanged for CSR."""
        return x


@support_1d
class csr_array(_csr_base, sparray):
    __doc__ = compressed_doc("csr", "array")


class csr_matrix(spmatrix, _csr_base):
    __doc__ = compressed_doc("csr", "matrix")


_register("csr", csr_array, csr_matrix)


def isspmatrix_csr(x):
    """True if ``x`` is a ``csr_matrix`` (not a ``csr_array``).

    Examples
    --------
    >>> import spgrad as sp
    >>> sp.isspmatrix_csr(sp.csr_matrix([[1]])), sp.isspmatrix_csr(sp.csr_array([[1]]))
    (True, False)
    """
    return isinstance(x, csr_matrix)
