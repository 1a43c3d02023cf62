"""The sparse *matrix* family (``csr_matrix`` …): SciPy's ``np.matrix``-like semantics.

``spmatrix`` comes first in the bases of every ``*_matrix`` class, so what it defines wins:
``*`` is the matrix product, ``**`` the matrix power, ``todense`` returns ``np.matrix`` and
reductions return ``np.matrix`` (through ``_ascontainer``).
"""

import numpy as np


class spmatrix:
    """Base of the sparse matrix family. Not instantiated directly."""

    _allow_nd = (2,)

    def __mul__(self, other):
        return self._matmul_dispatch(other)

    def __rmul__(self, other):
        return self._rmatmul_dispatch(other)

    def __pow__(self, power):
        return _matrix_power(self, power)

    def set_shape(self, shape):
        """Set the shape in place (the matrix is reshaped; the format is kept)."""
        new = self.reshape(shape, copy=False).asformat(self.format)
        self.__dict__ = new.__dict__

    def get_shape(self):
        """Shape of the matrix."""
        return self._shape

    shape = property(fget=get_shape, fset=set_shape, doc="Shape of the matrix")

    def asfptype(self):
        """Upcast to a floating point dtype if necessary (float32 stays, ints go to float64)."""
        if self.dtype.kind in "fc":
            return self
        for fp in (np.float32, np.float64):
            if np.can_cast(self.dtype, fp):
                return self.astype(fp)
        raise TypeError(f"cannot upcast [{self.dtype.name}] to a floating point format")

    def getmaxprint(self):
        """Maximum number of elements printed by ``str``."""
        return self._getmaxprint()

    def getformat(self):
        """Storage format string."""
        return self.format

    def getnnz(self, axis=None):
        """Number of stored values, over the whole matrix (None) or per column/row (0/1)."""
        return self._getnnz(axis=axis)

    def getH(self):
        """Conjugate transpose."""
        return self.conjugate().transpose()

    def getcol(self, j):
        """Column ``j`` as an (m × 1) sparse matrix (CSC for a CSC matrix, else CSR).

        Examples
        --------
        >>> import spgrad as sp
        >>> sp.csr_matrix([[1, 2], [3, 4]]).getcol(-1).toarray()
        array([[2],
               [4]])
        """
        M, N = self.shape
        j = _vector_index(j, N)
        if self.format in ("csr", "csc"):
            return self[:, j]
        # SciPy multiplies by a selector here (explicit zeros are dropped)
        selector = self._csc_container(([1], ([j], [0])), shape=(N, 1), dtype=self.dtype)
        return self @ selector

    def getrow(self, i):
        """Row ``i`` as a (1 × n) sparse matrix in CSR format.

        Examples
        --------
        >>> import spgrad as sp
        >>> sp.csc_matrix([[1, 2], [3, 4]]).getrow(0).toarray()
        array([[1, 2]])
        """
        M, N = self.shape
        i = _vector_index(i, M)
        if self.format in ("csr", "csc"):
            return self.tocsr()[i, :]
        # SciPy multiplies by a selector here (explicit zeros are dropped)
        selector = self._csr_container(([1], ([0], [i])), shape=(1, M), dtype=self.dtype)
        return selector @ self

    def todense(self, order=None, out=None):
        """Dense ``np.matrix`` with the same values."""
        return super().todense(order, out)


def _vector_index(i, n):
    """``i`` as an in-range integer row/column index for ``getrow``/``getcol``."""
    from ._sputils import isintlike

    if not isintlike(i):
        raise TypeError(f"row/column index must be an integer, got {i!r}")
    i = int(i)
    if i < -n or i >= n:
        raise IndexError(f"index ({i}) out of range")
    return i + n if i < 0 else i


def _matrix_power(A, power):
    """``A ** power`` for square sparse matrices by repeated squaring."""
    from ._sputils import isintlike

    M, N = A.shape
    if M != N:
        raise TypeError("sparse matrix is not square")
    if not isintlike(power):
        raise ValueError("exponent must be an integer")
    power = int(power)
    if power < 0:
        raise ValueError("exponent must be >= 0")
    if power == 0:
        # SciPy 1.17 returns an identity *array* here (its matrix_power uses eye_array).
        from ._construct import eye_array

        return eye_array(M, dtype=A.dtype)
    if power == 1:
        return A.copy()
    half = _matrix_power(A, power // 2)
    result = half @ half
    if power % 2:
        result = result @ A
    return result
