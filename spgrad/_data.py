"""Behaviour of formats that store their values in one ``data`` array (csr, csc, coo, dia).

Operations that only touch the stored values — scalar multiplication, negation, ``astype``,
``conj``, ``power``, ``real``/``imag`` — are written once here on top of ``_with_data``, which
each format implements to rebuild itself around new values with the same pattern.
"""

import numpy as np

from ._base import _spbase
from ._sputils import isscalarlike


class _data_base(_spbase):
    @property
    def dtype(self):
        """Dtype of the stored values."""
        return self.data.dtype

    def _deduped(self):
        """``self`` with duplicates summed: ``self`` itself when already canonical, else a
        canonical copy (``self`` is never modified)."""
        if getattr(self, "has_canonical_format", True):
            return self
        A = self.copy()
        A.sum_duplicates()
        return A

    def __abs__(self):
        A = self._deduped()
        return A._with_data(abs(A.data))

    def __round__(self, ndigits=0):
        A = self._deduped()
        return A._with_data(np.around(A.data, decimals=ndigits))

    def _real(self):
        return self._with_data(self.data.real)

    def _imag(self):
        return self._with_data(self.data.imag)

    def __neg__(self):
        if self.dtype.kind == "b":
            raise NotImplementedError("negating a boolean sparse array is not supported")
        return self._with_data(-self.data)

    def __imul__(self, other):
        if isscalarlike(other):
            self.data *= other
            return self
        return NotImplemented

    def __itruediv__(self, other):
        if isscalarlike(other):
            self.data *= 1.0 / other
            return self
        return NotImplemented

    def astype(self, dtype, casting="unsafe", copy=True):
        """Cast the stored values to ``dtype``.

        Parameters
        ----------
        dtype : dtype
        casting : {'no', 'equiv', 'safe', 'same_kind', 'unsafe'}, optional
        copy : bool, optional
            With False, ``self`` is returned when the dtype already matches.

        Examples
        --------
        >>> import spgrad as sp
        >>> sp.csr_array([[1.5, 0], [0, 2.5]]).astype(int).toarray()
        array([[1, 0],
               [0, 2]])
        """
        dtype = np.dtype(dtype)
        if self.dtype != dtype:
            A = self._deduped()
            return A._with_data(A.data.astype(dtype, casting=casting, copy=True), copy=True)
        return self.copy() if copy else self

    def conjugate(self, copy=True):
        """Elementwise complex conjugate.

        Examples
        --------
        >>> import spgrad as sp
        >>> sp.csr_array([[1j, 0]]).conj().toarray()
        array([[0.-1.j, 0.+0.j]])
        """
        if np.issubdtype(self.dtype, np.complexfloating):
            return self._with_data(self.data.conjugate(), copy=copy)
        return self.copy() if copy else self

    def copy(self):
        """Return a copy sharing no data with ``self``."""
        return self._with_data(self.data.copy(), copy=True)

    def power(self, n, dtype=None):
        """Elementwise power of the stored values.

        Parameters
        ----------
        n : scalar
            A nonzero power (zero would make every entry 1, i.e. dense).
        dtype : dtype, optional
            Compute in this dtype.

        Examples
        --------
        >>> import spgrad as sp
        >>> sp.csr_array([[2, 0], [0, 3]]).power(2).toarray()
        array([[4, 0],
               [0, 9]])
        """
        if not isscalarlike(n):
            raise NotImplementedError("input is not scalar")
        if not n:
            raise NotImplementedError(
                "zero power is not supported as it would densify the matrix.\n"
                "Use `np.ones(A.shape, dtype=A.dtype)` for this case."
            )
        A = self._deduped()
        data = A.data if dtype is None else A.data.astype(dtype, copy=False)
        return A._with_data(data**n)

    def _mul_scalar(self, other):
        return self._with_data(self.data * other)
