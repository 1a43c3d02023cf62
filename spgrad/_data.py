"""Behaviour of formats that store their values in one ``data`` array (csr, csc, coo, dia).

Operations that only touch the stored values — scalar multiplication, negation, ``astype``,
``conj``, ``power``, ``real``/``imag`` — are written once here on top of ``_with_data``, which
each format implements to rebuild itself around new values with the same pattern.
"""

import numpy as np

from . import _backend
from ._base import _spbase
from ._sputils import check_device_dtype, getdtype, isscalarlike


# NumPy's unary ufuncs with ``f(0) == 0`` (SciPy's list): they map stored values to stored
# values. Each maps to the torch function used in differentiable mode; the rounding ones and
# ``sign`` have zero gradients there, as in torch.
_TORCH_UFUNCS = {
    "sin": "sin", "tan": "tan", "arcsin": "asin", "arctan": "atan", "sinh": "sinh",
    "tanh": "tanh", "arcsinh": "asinh", "arctanh": "atanh", "rint": "round", "sign": "sign",
    "expm1": "expm1", "log1p": "log1p", "deg2rad": "deg2rad", "rad2deg": "rad2deg",
    "floor": "floor", "ceil": "ceil", "trunc": "trunc", "sqrt": "sqrt",
}


def _checked_values(values):
    """``values`` if their dtype is one sparse arrays support (float16 is not), else
    ValueError, as SciPy raises when it wraps a ufunc's result."""
    getdtype(values.dtype)
    return values


class _data_base(_spbase):
    @property
    def dtype(self):
        """NumPy dtype of the stored values (also when they are a torch tensor)."""
        return _backend.numpy_dtype(self.data.dtype)

    # ------------------------------------------------------------ differentiable mode
    @property
    def _is_torch(self):
        return _backend.is_tensor(self.data)

    def _check_value_dtype(self):
        """Refuse values of a dtype SciPy has no sparse type for; keep torch bool values as
        plain bool values (:func:`_backend.plain_bool`)."""
        self.data = _backend.plain_bool(self.data)
        getdtype(self.dtype)

    @property
    def requires_grad(self):
        """Whether the stored values are a torch tensor that requires gradients.

        Setting it to True turns NumPy values into a torch leaf tensor (sharing memory; CuPy
        values into a CUDA tensor, through DLPack).
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
        if requires_grad and self.dtype.kind not in "fc":
            raise TypeError(
                f"only floating-point and complex values can require gradients, got dtype "
                f"{self.dtype}; convert first, e.g. A.astype(np.float64).requires_grad_()"
            )
        if not self._is_torch:
            self.data = _backend.as_tensor(self.data)
        self.data.requires_grad_(requires_grad)
        return self

    def _check_pattern_mutable(self, operation):
        """Refuse to reorder, merge or drop the stored entries of a leaf that requires grad.

        Its gradient is defined per stored entry and an optimiser holds the values tensor, so
        changing the layout in place would silently detach the matrix from that parameter.
        Non-leaf values (results of differentiable ops) are re-gathered in the graph instead.
        """
        if self._is_torch and self.data.requires_grad and self.data.is_leaf:
            raise ValueError(
                f"{operation}() would change the stored entries of a matrix whose values are "
                f"a leaf tensor that requires grad (gradients live on the stored pattern); "
                f"call it before requires_grad_(), or use a copy (e.g. A.copy().{operation}()),"
                f" which stays in the autograd graph"
            )

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
        grad = _backend.kernel_array(self.data.grad, like=self._index_array())
        return self._with_data(grad, copy=False)

    def detach(self):
        """The same sparse array with values detached from the autograd graph (shared)."""
        if not self._is_torch:
            return self
        return self._with_data(self.data.detach(), copy=False)

    def _kernel_view(self):
        """The same sparse array with its values as arrays of its kernels (a NumPy or CuPy
        view of tensor values, detached; shared memory): ``self`` when they already are."""
        if not self._is_torch:
            return self
        return self._with_data(_backend.kernel_array(self.data, self._index_array()),
                               copy=False)

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
        if A._is_torch:
            # torch.round rounds half to even like np.around; its gradient is zero.
            return A._with_data(A.data.round(decimals=ndigits))
        return A._with_data(_checked_values(np.around(A.data, decimals=ndigits)))

    def _real(self):
        if self._is_torch:
            return self._with_data(self.data.real)
        return self._with_data(self._xp().ascontiguousarray(self.data.real))

    def _imag(self):
        if self._is_torch and not self.data.is_complex():
            # torch has no ``imag`` of a real tensor; NumPy's is zeros of the same dtype.
            return self._with_data(self.data * 0)
        if self._is_torch:
            return self._with_data(self.data.imag)
        return self._with_data(self._xp().ascontiguousarray(self.data.imag))

    def _apply_ufunc(self, name):
        """``_with_data(ufunc(values))`` for a NumPy ufunc with ``ufunc(0) == 0`` (duplicates
        are summed first, so the ufunc sees each entry's value once)."""
        A = self._deduped()
        if not A._is_torch:
            return A._with_data(_checked_values(getattr(np, name)(A.data)), copy=True)
        # Differentiable mode: NumPy's result dtype (ints widen to float), torch's function.
        torch = _backend.torch_module()
        res_dtype = getdtype(getattr(np, name)(np.zeros(0, dtype=A.dtype)).dtype)
        data = A.data.to(_backend.torch_dtype(res_dtype))
        fn = _TORCH_UFUNCS[name]
        if name == "sign" and data.is_complex():
            fn = "sgn"
        return A._with_data(getattr(torch, fn)(data), copy=True)

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
        if self._is_torch:  # bool values come out plain, as comparisons give them
            return _backend.plain_bool(self.data.to(_backend.torch_dtype(dtype)))
        if self._on_gpu:
            check_device_dtype(dtype, "astype")
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
        n : scalar or 0-d torch.Tensor
            A nonzero power (zero would make every entry 1, i.e. dense). A 0-d tensor (a
            learned exponent) puts the result in its autograd graph; its gradient is
            ``sum(log(a) * a**n)`` over the stored values ``a`` (NaN where a value is
            negative, as in torch).
        dtype : dtype, optional
            Compute in this dtype.

        Examples
        --------
        >>> import spgrad as sp
        >>> sp.csr_array([[2, 0], [0, 3]]).power(2).toarray()
        array([[4, 0],
               [0, 9]])
        """
        scalar_tensor = _backend.is_scalar_tensor(n)
        if not (scalar_tensor or isscalarlike(n)):
            raise NotImplementedError("input is not scalar")
        if not (n.detach().item() if scalar_tensor else n):
            raise NotImplementedError(
                "zero power is not supported as it would densify the matrix.\n"
                "Use `np.ones(A.shape, dtype=A.dtype)` for this case."
            )
        A = self._deduped()
        if dtype is not None:
            A = A.astype(dtype, copy=False)
        data = A.data
        if scalar_tensor:
            data = _backend.as_tensor(data, like=n)
        return A._with_data(data**n)

    def _mul_scalar(self, other):
        if isinstance(other, np.ndarray) and (self._on_gpu or self._is_torch):
            other = other[()]  # a 0-d host array as its NumPy scalar (CuPy and torch take those)
        if _backend.is_tensor(other) and not self._is_torch:
            # a 0-d tensor (a learned scale) times plain values: the values join its graph
            return self._with_data(_backend.as_tensor(self.data, like=other) * other)
        return self._with_data(self.data * other)


def _make_ufunc_method(name):
    def method(self):
        return self._apply_ufunc(name)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"""Elementwise ``numpy.{name}`` of the stored values (``{name}(0) == 0``, so the
        pattern is kept; duplicates are summed first).

        In differentiable mode the values go through ``torch.{_TORCH_UFUNCS[name]}`` and the
        result stays in the autograd graph.

        Returns
        -------
        sparse array or matrix
            Same format, family and pattern; dtype as NumPy's ``{name}`` gives it.

        Examples
        --------
        >>> import numpy as np
        >>> import spgrad as sp
        >>> A = sp.csr_array(np.array([[0.0, 0.25], [0.5, 0.0]]))
        >>> np.allclose(A.{name}().toarray(), np.{name}(A.toarray()))
        True
        """
    return method


for _name in _TORCH_UFUNCS:
    setattr(_data_base, _name, _make_ufunc_method(_name))
del _name
