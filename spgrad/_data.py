"""Behaviour of formats that store their values in one ``data`` array (csr, csc, coo, dia).

Operations that only touch the stored values — scalar multiplication, negation, ``astype``,
``conj``, ``power``, ``real``/``imag`` — are written once here on top of ``_with_data``, which
each format implements to rebuild itself around new values with the same pattern.
"""

import numpy as np

from . import _backend
from ._base import _spbase
from ._sputils import getdtype, isscalarlike


class _data_base(_spbase):
    @property
    def dtype(self):
        """NumPy dtype of the stored values (also when they are a torch tensor)."""
        return _backend.numpy_dtype(self.data.dtype)

    # ------------------------------------------------------------ differentiable mode
    @property
    def _is_torch(self):
        return _backend.is_tensor(self.data)

    @property
    def requires_grad(self):
        """Whether the stored values are a torch tensor that requires gradients.

        Setting it to True turns NumPy values into a torch leaf tensor (sharing memory).
        """
        return self._is_torch and self.data.requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad=True):
        """Make the stored values a torch leaf tensor with ``requires_grad`` set; returns self.

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.csr_array([[1.0, 0.0], [2.0, 3.0]]).requires_grad_()
        >>> A.requires_grad, type(A.data).__name__
        (True, 'Tensor')
        """
        if not self._is_torch:
            self.data = _backend.as_tensor(self.data)
        self.data.requires_grad_(requires_grad)
        return self

    @property
    def grad(self):
        """Gradient of the stored values as a sparse array of the same format and pattern,
        or None before any backward pass.

        Examples
        --------
        >>> import numpy as np
        >>> import spgrad as sp
        >>> A = sp.csr_array([[1.0, 0.0], [2.0, 3.0]]).requires_grad_()
        >>> (A @ np.ones(2)).sum().backward()
        >>> A.grad.toarray()
        array([[1., 0.],
               [1., 1.]])
        """
        if not self._is_torch or self.data.grad is None:
            return None
        return self._with_data(self.data.grad.detach().numpy(), copy=False)

    def detach(self):
        """The same sparse array with values detached from the autograd graph (shared)."""
        if not self._is_torch:
            return self
        return self._with_data(self.data.detach(), copy=False)

    def _copy_values(self):
        return self.data.clone() if self._is_torch else self.data.copy()

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
        dtype = getdtype(dtype)
        if self.dtype != dtype:
            A = self._with_data(self._cast_values(dtype, casting), copy=True)
            return A._deduped()
        return self.copy() if copy else self

    def _cast_values(self, dtype, casting="unsafe"):
        """The stored values cast to ``dtype`` (a new array or tensor, same length)."""
        dtype = np.dtype(dtype)
        if self._is_torch:
            return self.data.to(_backend.torch_dtype(dtype))
        return self.data.astype(dtype, casting=casting, copy=True)

    def conjugate(self, copy=True):
        """Elementwise complex conjugate.

        Examples
        --------
        >>> import spgrad as sp
        >>> sp.csr_array([[1j, 0]]).conj().toarray()
        array([[0.-1.j, 0.+0.j]])
        """
        if np.issubdtype(self.dtype, np.complexfloating):
            return self._with_data(self.data.conj(), copy=copy)
        return self.copy() if copy else self

    def copy(self):
        """Return a copy sharing no data with ``self`` (a torch copy stays in the graph)."""
        return self._with_data(self._copy_values(), copy=True)

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
        if dtype is not None:
            A = A.astype(dtype, copy=False)
        return A._with_data(A.data**n)

    def _mul_scalar(self, other):
        return self._with_data(self.data * other)
