"""Compressed Sparse Row: ``csr_array`` and ``csr_matrix``."""

from ._base import _register, sparray
from ._compressed import _cs_base
from ._matrix import spmatrix

__all__ = ["csr_array", "csr_matrix", "isspmatrix_csr"]


class _csr_base(_cs_base):
    _format = "csr"

    @staticmethod
    def _swap(x):
        """(row, col) quantities as (major, minor): unchanged for CSR."""
        return x

    def transpose(self, axes=None, copy=False):
        if axes is not None and axes != (1, 0):
            raise ValueError("Sparse arrays/matrices do not support an 'axes' parameter "
                             "because swapping dimensions is the only logical permutation.")
        M, N = self.shape
        A = self._csc_container._from_arrays(
            self._copy_values() if copy else self.data,
            self.indices.copy() if copy else self.indices,
            self.indptr.copy() if copy else self.indptr,
            (N, M),
            maxprint=self.maxprint,
        )
        A._copy_flags(self)
        return A

    transpose.__doc__ = _cs_base.transpose.__doc__

    def tocsr(self, copy=False):
        return self.copy() if copy else self

    tocsr.__doc__ = _cs_base.tocsr.__doc__

    def tocsc(self, copy=False):
        return self._convert_compressed("csc")

    tocsc.__doc__ = _cs_base.tocsc.__doc__


_ARRAY_DOC = """
Compressed Sparse Row {kind}.

Constructed like SciPy's ``csr_{kind}``:

- ``csr_{kind}(D)`` from a dense array or another sparse array/matrix (spgrad's or SciPy's,
  any format);
- ``csr_{kind}((M, N), dtype=...)`` an empty one;
- ``csr_{kind}((data, (row, col)), shape=(M, N))`` from COO triplets (duplicates summed);
- ``csr_{kind}((data, indices, indptr), shape=(M, N))`` from the CSR arrays, which are
  checked in full (``indptr`` monotone, indices in range) before any kernel reads them.

Attributes
----------
data, indices, indptr : ndarray
    Values, column indices and row pointers.
shape : tuple of int
nnz : int
    Number of stored values (explicit zeros included).
{semantics}
Examples
--------
>>> import numpy as np
>>> import spgrad as sp
>>> A = sp.csr_{kind}(([1.0, 2.0, 3.0], [0, 2, 1], [0, 2, 2, 3]), shape=(3, 3))
>>> A.toarray()
array([[1., 0., 2.],
       [0., 0., 0.],
       [0., 3., 0.]])
>>> A @ np.ones(3)
array([3., 0., 3.])
"""

_ARRAY_SEMANTICS = """
Notes
-----
Array semantics: ``*`` and ``**`` are elementwise, reductions along an axis return 1-D
arrays, ``todense`` returns an ``ndarray``.
"""

_MATRIX_SEMANTICS = """
Notes
-----
Matrix semantics: ``*`` is the matrix product, ``**`` the matrix power, reductions return
``np.matrix``, ``todense`` returns ``np.matrix``.
"""


class csr_array(_csr_base, sparray):
    __doc__ = _ARRAY_DOC.format(kind="array", semantics=_ARRAY_SEMANTICS)


class csr_matrix(spmatrix, _csr_base):
    __doc__ = _ARRAY_DOC.format(kind="matrix", semantics=_MATRIX_SEMANTICS)


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
