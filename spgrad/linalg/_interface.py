"""Linear operators that let torch tensors and CuPy arrays through.

:class:`LinearOperator` is a subclass of :class:`scipy.sparse.linalg.LinearOperator`, so SciPy's
solvers and ``isinstance`` checks accept it. With NumPy (or SciPy sparse) operands every public
method is SciPy's own, so results, types, ``np.matrix`` handling and errors are SciPy's. With a
``torch.Tensor`` or a CuPy operand the same checks run but nothing is converted to NumPy (an
operator of an spgrad array on the GPU, or of user functions on CuPy arrays, works on the GPU,
as ``cupyx``'s operators do), and with a tensor autograd records
``matvec``/``rmatvec``/``matmat``/``rmatmat``/``dot``/``@``/``__call__`` and every
composition (``A + B``, ``A * B``, ``A @ B``, ``alpha * A``, ``-A``, ``A ** k``, ``.T``, ``.H``).

The composition classes are spgrad's own (SciPy's call ``np.conj``/``np.array`` on the vector,
which would detach a tensor); they keep SciPy's class names, so ``repr`` is SciPy's.
"""

import numpy as np
import scipy.sparse.linalg as _sla
from scipy.sparse import issparse

from .. import _backend
from .._base import _spbase
from ._common import to_scipy

__all__ = ["LinearOperator", "aslinearoperator"]

_ScipyLinearOperator = _sla.LinearOperator


def _torch():
    return _backend.torch_module()


def _conj(x):
    """Complex conjugate of an array, tensor or scalar (a tensor stays in autograd)."""
    if _backend.is_tensor(x):
        return x.conj() if x.is_complex() else x
    return np.conj(x)


def _hstack(columns):
    if columns and _backend.is_tensor(columns[0]):
        return _torch().hstack(columns)
    if columns and _backend.is_device_array(columns[0]):
        return _backend.array_module(columns[0]).hstack(columns)
    return np.hstack(columns)


def _result_dtype(operators, scalar_types=()):
    """Dtype of a composition: SciPy's rule (``np.result_type`` of the operands' dtypes and
    the scalars' types)."""
    dtypes = [op.dtype for op in operators] + list(scalar_types)
    return np.result_type(*dtypes)


def _as_input_tensor(op, x):
    """``x`` converted to a tensor when ``op`` is a torch operator and ``x`` is a NumPy array
    (so the torch path serves it), a tensor or a CuPy array as it is (they take the same
    path); ``None`` when the NumPy path applies."""
    if _backend.is_tensor(x) or _backend.is_device_array(x):
        return x
    if getattr(op, "_spgrad_torch", False) and not issparse(x) and not isinstance(x, _spbase):
        return _backend.as_tensor(np.asarray(x))
    return None


def _plain_sparse(method):
    """Run a SciPy method with an spgrad sparse operand as SciPy would with its own sparse
    object (converted in, the result converted back)."""

    def wrapper(self, x):
        if isinstance(x, _spbase):
            if _backend.is_tensor(x.data):
                raise NotImplementedError(
                    "a sparse operand with torch values cannot be multiplied by a "
                    "LinearOperator; wrap it with aslinearoperator() and compose the operators"
                )
            from ._common import from_scipy_result, to_scipy

            return from_scipy_result(method(self, to_scipy(x)))
        return method(self, x)

    wrapper.__name__ = method.__name__
    wrapper.__qualname__ = method.__qualname__
    # an override keeps its base's documentation
    wrapper.__doc__ = method.__doc__ or getattr(_ScipyLinearOperator, method.__name__).__doc__
    return wrapper


def _as_output_tensor(y, like):
    """A user function may return NumPy for a tensor input: give it back as a tensor. For a
    CuPy input the result must be a CuPy array on its GPU (a host result is refused: it
    would need a silent copy to the GPU)."""
    if _backend.is_device_array(like):
        if not _backend.is_device_array(y):
            raise TypeError(f"a LinearOperator applied to a CuPy array must return a CuPy "
                            f"array, got {type(y).__module__}.{type(y).__name__}")
        _backend.check_same_device(like, y)
        return y
    if _backend.is_tensor(y):
        return y
    return _backend.as_tensor(np.asarray(y), like=like)


class LinearOperator(_ScipyLinearOperator):
    """Common interface for performing matrix-vector products, torch-aware.

    Identical to :class:`scipy.sparse.linalg.LinearOperator` (construct it with
    ``LinearOperator(shape, matvec, rmatvec=None, matmat=None, dtype=None, rmatmat=None)`` or
    subclass it and implement ``_matvec`` and/or ``_matmat``), except that a
    ``torch.Tensor`` given to ``matvec``, ``rmatvec``, ``matmat``, ``rmatmat``, ``dot``, ``@``
    or a call is passed to the user functions unchanged and the result is a tensor, so
    gradients flow through it. Operators made from torch objects (see
    :func:`aslinearoperator`) have ``_spgrad_torch = True`` and turn NumPy inputs into tensors.

    Parameters
    ----------
    shape : tuple
        Matrix dimensions ``(M, N)``.
    matvec : callable f(v)
        Returns ``A @ v``.
    rmatvec : callable f(v), optional
        Returns ``A^H @ v``.
    matmat : callable f(V), optional
        Returns ``A @ V`` for a 2-D ``V``.
    dtype : dtype, optional
        Data type of the matrix.
    rmatmat : callable f(V), optional
        Returns ``A^H @ V``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from spgrad.linalg import LinearOperator
    >>> A = LinearOperator((2, 2), matvec=lambda v: 2 * v, rmatvec=lambda v: 2 * v)
    >>> A.matvec(np.ones(2))
    array([2., 2.])
    >>> x = torch.ones(2, dtype=torch.float64, requires_grad=True)
    >>> (A @ x).sum().backward()
    >>> x.grad
    tensor([2., 2.], dtype=torch.float64)
    """

    _spgrad_torch = False

    def __new__(cls, *args, **kwargs):
        if cls is LinearOperator:
            # the function-based constructor form, as in SciPy
            return _ScipyLinearOperator.__new__(_CustomLinearOperator)
        return super().__new__(cls)

    # -- products ---------------------------------------------------------------------------

    @_plain_sparse
    def matvec(self, x):
        t = _as_input_tensor(self, x)
        if t is None:
            return super().matvec(x)
        return self._tensor_vec(t, self._matvec, self.shape[1], self.shape[0], "matvec")

    @_plain_sparse
    def rmatvec(self, x):
        t = _as_input_tensor(self, x)
        if t is None:
            return super().rmatvec(x)
        return self._tensor_vec(t, self._rmatvec, self.shape[0], self.shape[1], "rmatvec")

    def _tensor_vec(self, x, fun, n_in, n_out, name):
        if tuple(x.shape) not in ((n_in,), (n_in, 1)):
            raise ValueError("dimension mismatch")
        y = _as_output_tensor(fun(x), x)
        if (y.size if _backend.is_device_array(y) else y.numel()) != n_out:
            raise ValueError(f"invalid shape returned by user-defined {name}()")
        return y.reshape(n_out) if x.ndim == 1 else y.reshape(n_out, 1)

    @_plain_sparse
    def matmat(self, X):
        t = _as_input_tensor(self, X)
        if t is None:
            return super().matmat(X)
        return self._tensor_mat(t, self.shape[1], self._tensor_matmat)

    @_plain_sparse
    def rmatmat(self, X):
        t = _as_input_tensor(self, X)
        if t is None:
            return super().rmatmat(X)
        return self._tensor_mat(t, self.shape[0], self._tensor_rmatmat)

    def _tensor_mat(self, X, n_in, fun):
        if X.ndim != 2:
            raise ValueError(f"expected 2-d ndarray or matrix, not {X.ndim}-d")
        if X.shape[0] != n_in:
            raise ValueError(f"dimension mismatch: {self.shape}, {tuple(X.shape)}")
        return _as_output_tensor(fun(X), X)

    def _tensor_matmat(self, X):
        # SciPy's default _matmat stacks NumPy columns; stack tensor columns instead.
        if type(self)._matmat is _ScipyLinearOperator._matmat:
            return _hstack([self.matvec(X[:, j:j + 1]) for j in range(X.shape[1])])
        return self._matmat(X)

    def _tensor_rmatmat(self, X):
        cls = type(self)
        if cls._rmatmat is _ScipyLinearOperator._rmatmat:
            if cls._adjoint is not _ScipyLinearOperator._adjoint:
                return self.H.matmat(X)
            return _hstack([self.rmatvec(X[:, j:j + 1]) for j in range(X.shape[1])])
        return self._rmatmat(X)

    @_plain_sparse
    def dot(self, x):
        if isinstance(x, _ScipyLinearOperator):
            return _ProductLinearOperator(self, x)
        if np.isscalar(x) or (_backend.is_tensor(x) and x.ndim == 0):
            return _ScaledLinearOperator(self, x)
        t = _as_input_tensor(self, x)
        if t is None:
            return super().dot(x)
        if t.ndim == 1 or (t.ndim == 2 and t.shape[1] == 1):
            return self.matvec(t)
        if t.ndim == 2:
            return self.matmat(t)
        raise ValueError(f"expected 1-d or 2-d array or matrix, got {x!r}")

    def __mul__(self, x):
        return self.dot(x)

    def __matmul__(self, other):
        if np.isscalar(other):
            raise ValueError("Scalar operands are not allowed, use '*' instead")
        return self.__mul__(other)

    def __rmatmul__(self, other):
        if np.isscalar(other):
            raise ValueError("Scalar operands are not allowed, use '*' instead")
        return self.__rmul__(other)

    def __call__(self, x):
        return self @ x

    def __rmul__(self, x):
        if np.isscalar(x) or (_backend.is_tensor(x) and x.ndim == 0):
            return _ScaledLinearOperator(self, x)
        return self._rdot(x)

    @_plain_sparse
    def _rdot(self, x):
        if isinstance(x, _ScipyLinearOperator):
            return _ProductLinearOperator(x, self)
        t = _as_input_tensor(self, x)
        if t is None:
            return super()._rdot(x)
        # x @ A = (Aᵀ xᵀ)ᵀ
        if t.ndim == 1:
            return self.T.matvec(t)
        if t.ndim == 2 and t.shape[0] == 1:
            return self.T.matvec(t.T).T
        if t.ndim == 2:
            return self.T.matmat(t.T).T
        raise ValueError(f"expected 1-d or 2-d array or matrix, got {x!r}")

    def __truediv__(self, other):
        if not np.isscalar(other):
            raise ValueError("Can only divide a linear operator by a scalar.")
        return _ScaledLinearOperator(self, 1.0 / other)

    def __pow__(self, p):
        if np.isscalar(p):
            return _PowerLinearOperator(self, p)
        return NotImplemented

    def __add__(self, x):
        if isinstance(x, _ScipyLinearOperator):
            return _SumLinearOperator(self, x)
        return NotImplemented

    def __neg__(self):
        return _ScaledLinearOperator(self, -1)

    def __sub__(self, x):
        return self.__add__(-x)

    def _adjoint(self):
        return _AdjointLinearOperator(self)

    def _transpose(self):
        return _TransposedLinearOperator(self)


def _spgrad_torch_of(*operators):
    return any(getattr(op, "_spgrad_torch", False) for op in operators)


class _CustomLinearOperator(LinearOperator):
    """Operator from user functions (the ``LinearOperator(shape, matvec, ...)`` form)."""

    def __init__(self, shape, matvec, rmatvec=None, matmat=None, dtype=None, rmatmat=None):
        super().__init__(dtype, shape)
        self.args = ()
        self.__matvec_impl = matvec
        self.__rmatvec_impl = rmatvec
        self.__rmatmat_impl = rmatmat
        self.__matmat_impl = matmat
        self._init_dtype()

    def _init_dtype(self):
        # SciPy probes the dtype with an int8 NumPy vector; a torch function may not take
        # NumPy input, so probe with a tensor when the NumPy probe fails.
        if self.dtype is not None:
            return
        try:
            super()._init_dtype()
        except (TypeError, AttributeError, RuntimeError):
            torch = _torch()
            y = self.matvec(torch.zeros(self.shape[-1], dtype=torch.float64))
            self.dtype = _backend.numpy_dtype(y.dtype)

    def _matmat(self, X):
        if self.__matmat_impl is not None:
            return self.__matmat_impl(X)
        if _backend.is_tensor(X):
            return _hstack([self.matvec(X[:, j:j + 1]) for j in range(X.shape[1])])
        return super()._matmat(X)

    def _matvec(self, x):
        return self.__matvec_impl(x)

    def _rmatvec(self, x):
        if self.__rmatvec_impl is None:
            raise NotImplementedError("rmatvec is not defined")
        return self.__rmatvec_impl(x)

    def _rmatmat(self, X):
        if self.__rmatmat_impl is not None:
            return self.__rmatmat_impl(X)
        return _hstack([self.rmatvec(X[:, j:j + 1]) for j in range(X.shape[1])])

    def _adjoint(self):
        return _CustomLinearOperator(
            shape=(self.shape[1], self.shape[0]), matvec=self.__rmatvec_impl,
            rmatvec=self.__matvec_impl, matmat=self.__rmatmat_impl,
            rmatmat=self.__matmat_impl, dtype=self.dtype,
        )


class _AdjointLinearOperator(LinearOperator):
    """``A^H`` of an operator."""

    def __init__(self, A):
        super().__init__(A.dtype, (A.shape[1], A.shape[0]))
        self.A = A
        self.args = (A,)
        self._spgrad_torch = _spgrad_torch_of(A)

    def _matvec(self, x):
        return self.A._rmatvec(x)

    def _rmatvec(self, x):
        return self.A._matvec(x)

    def _matmat(self, x):
        return self.A.rmatmat(x)

    def _rmatmat(self, x):
        return self.A.matmat(x)


class _TransposedLinearOperator(LinearOperator):
    """``A^T`` of an operator: ``A^T x = conj(A^H conj(x))``."""

    def __init__(self, A):
        super().__init__(A.dtype, (A.shape[1], A.shape[0]))
        self.A = A
        self.args = (A,)
        self._spgrad_torch = _spgrad_torch_of(A)

    def _matvec(self, x):
        return _conj(self.A._rmatvec(_conj(x)))

    def _rmatvec(self, x):
        return _conj(self.A._matvec(_conj(x)))

    def _matmat(self, x):
        return _conj(self.A.rmatmat(_conj(x)))

    def _rmatmat(self, x):
        return _conj(self.A.matmat(_conj(x)))


class _SumLinearOperator(LinearOperator):
    def __init__(self, A, B):
        if not isinstance(A, _ScipyLinearOperator) or not isinstance(B, _ScipyLinearOperator):
            raise ValueError("both operands have to be a LinearOperator")  # noqa: TRY004 (SciPy's)
        if A.shape != B.shape:
            raise ValueError(f"cannot add {A} and {B}: shape mismatch")
        super().__init__(_result_dtype([A, B]), A.shape)
        self.args = (A, B)
        self._spgrad_torch = _spgrad_torch_of(A, B)

    def _matvec(self, x):
        return self.args[0].matvec(x) + self.args[1].matvec(x)

    def _rmatvec(self, x):
        return self.args[0].rmatvec(x) + self.args[1].rmatvec(x)

    def _matmat(self, x):
        return self.args[0].matmat(x) + self.args[1].matmat(x)

    def _rmatmat(self, x):
        return self.args[0].rmatmat(x) + self.args[1].rmatmat(x)

    def _adjoint(self):
        A, B = self.args
        return A.H + B.H


class _ProductLinearOperator(LinearOperator):
    def __init__(self, A, B):
        if not isinstance(A, _ScipyLinearOperator) or not isinstance(B, _ScipyLinearOperator):
            raise ValueError("both operands have to be a LinearOperator")  # noqa: TRY004 (SciPy's)
        if A.shape[1] != B.shape[0]:
            raise ValueError(f"cannot multiply {A} and {B}: shape mismatch")
        super().__init__(_result_dtype([A, B]), (A.shape[0], B.shape[1]))
        self.args = (A, B)
        self._spgrad_torch = _spgrad_torch_of(A, B)

    def _matvec(self, x):
        return self.args[0].matvec(self.args[1].matvec(x))

    def _rmatvec(self, x):
        return self.args[1].rmatvec(self.args[0].rmatvec(x))

    def _matmat(self, x):
        return self.args[0].matmat(self.args[1].matmat(x))

    def _rmatmat(self, x):
        return self.args[1].rmatmat(self.args[0].rmatmat(x))

    def _adjoint(self):
        A, B = self.args
        return B.H * A.H


class _ScaledLinearOperator(LinearOperator):
    """``alpha * A``; ``alpha`` may be a 0-d tensor (then it receives a gradient)."""

    def __init__(self, A, alpha):
        if not isinstance(A, _ScipyLinearOperator):
            raise ValueError("LinearOperator expected as A")  # noqa: TRY004 (SciPy's type)
        if not (np.isscalar(alpha) or (_backend.is_tensor(alpha) and alpha.ndim == 0)):
            raise ValueError("scalar expected as alpha")
        if isinstance(A, _ScaledLinearOperator):
            A, inner = A.args
            alpha = alpha * inner
        if _backend.is_tensor(alpha):
            alpha_type = _backend.numpy_dtype(alpha.dtype)
        else:
            alpha_type = type(alpha)
        super().__init__(_result_dtype([A], [alpha_type]), A.shape)
        self.args = (A, alpha)
        self._spgrad_torch = _spgrad_torch_of(A) or _backend.is_tensor(alpha)

    def _matvec(self, x):
        return self.args[1] * self.args[0].matvec(x)

    def _rmatvec(self, x):
        return _conj(self.args[1]) * self.args[0].rmatvec(x)

    def _matmat(self, x):
        return self.args[1] * self.args[0].matmat(x)

    def _rmatmat(self, x):
        return _conj(self.args[1]) * self.args[0].rmatmat(x)

    def _adjoint(self):
        A, alpha = self.args
        return A.H * _conj(alpha)


class _PowerLinearOperator(LinearOperator):
    def __init__(self, A, p):
        if not isinstance(A, _ScipyLinearOperator):
            raise ValueError("LinearOperator expected as A")  # noqa: TRY004 (SciPy's type)
        if A.shape[0] != A.shape[1]:
            raise ValueError(f"square LinearOperator expected, got {A!r}")
        if not (isinstance(p, (int, np.integer)) or (np.isscalar(p) and int(p) == p)) or p < 0:
            raise ValueError("non-negative integer expected as p")
        super().__init__(_result_dtype([A]), A.shape)
        self.args = (A, p)
        self._spgrad_torch = _spgrad_torch_of(A)

    def _repeat(self, fun, x):
        # A ** 0 returns a copy, never the caller's array
        out = x.clone() if _backend.is_tensor(x) else (
            x.copy() if _backend.is_device_array(x) else np.array(x, copy=True))
        for _ in range(int(self.args[1])):
            out = fun(out)
        return out

    def _matvec(self, x):
        return self._repeat(self.args[0].matvec, x)

    def _rmatvec(self, x):
        return self._repeat(self.args[0].rmatvec, x)

    def _matmat(self, x):
        return self._repeat(self.args[0].matmat, x)

    def _rmatmat(self, x):
        return self._repeat(self.args[0].rmatmat, x)

    def _adjoint(self):
        A, p = self.args
        return A.H ** p


class MatrixLinearOperator(LinearOperator):
    """Operator of a dense array/matrix, a SciPy sparse matrix, an spgrad container or a
    dense torch tensor: ``A @ X`` with the object's own product (differentiable for torch
    values), ``A^H @ X`` through the conjugate transpose."""

    def __init__(self, A):
        if _backend.is_tensor(A):
            dtype = _backend.numpy_dtype(A.dtype)
        else:
            dtype = A.dtype
        super().__init__(dtype, A.shape)
        self.A = A
        self.args = (A,)
        self._adjoint_op = None
        data = A.data if isinstance(A, _spbase) else A
        self._spgrad_torch = _backend.is_tensor(data)

    def _matmat(self, X):
        if self._spgrad_torch or isinstance(self.A, _spbase):
            return self.A @ X
        return self.A.dot(X)

    def _matvec(self, x):
        if self._spgrad_torch:
            return self.A @ x
        return self._matmat(x.reshape(-1, 1))

    def _adjoint(self):
        if self._adjoint_op is None:
            self._adjoint_op = _AdjointMatrixOperator(self)
        return self._adjoint_op


class _AdjointMatrixOperator(MatrixLinearOperator):
    def __init__(self, op):
        A = op.A
        AH = A.conj().T if _backend.is_tensor(A) or isinstance(A, _spbase) else A.T.conj()
        super().__init__(AH)
        self.args = (A,)
        self._adjoint_op = op


class IdentityOperator(LinearOperator):
    def __init__(self, shape, dtype=None):
        super().__init__(dtype, shape)

    def _matvec(self, x):
        return x

    def _rmatvec(self, x):
        return x

    def _matmat(self, x):
        return x

    def _rmatmat(self, x):
        return x

    def _adjoint(self):
        return self


def aslinearoperator(A):
    """Return ``A`` as a :class:`LinearOperator`.

    ``A`` may be an spgrad sparse container (NumPy or torch values, on the CPU or a GPU), a
    dense ``torch.Tensor``, a NumPy array or matrix, a CuPy array, a SciPy sparse array or
    matrix, a LinearOperator, or any object with ``shape`` and ``matvec`` attributes
    (``rmatvec``, ``rmatmat`` and ``dtype`` are used when present), as in
    :func:`scipy.sparse.linalg.aslinearoperator`. Operators of torch
    objects keep the product in torch (differentiable) and have ``_spgrad_torch = True``;
    ``rmatvec`` applies the conjugate transpose.

    Parameters
    ----------
    A : object
        What to wrap.

    Returns
    -------
    LinearOperator
        A SciPy LinearOperator is returned as is; everything else becomes an spgrad one.

    Raises
    ------
    ValueError
        An array with more than two dimensions.
    TypeError
        An object that is none of the above.

    Examples
    --------
    >>> import numpy as np, torch, spgrad as sp
    >>> from spgrad.linalg import aslinearoperator
    >>> aslinearoperator(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32))
    <2x3 MatrixLinearOperator with dtype=int32>
    >>> A = sp.csr_array(np.array([[2.0, 0.0], [1.0, 3.0]])).requires_grad_()
    >>> y = aslinearoperator(A).matvec(torch.ones(2, dtype=torch.float64))
    >>> y.sum().backward()
    >>> A.grad.toarray()
    array([[1., 0.],
           [1., 1.]])
    """
    if isinstance(A, _ScipyLinearOperator):
        return A
    if (isinstance(A, (np.ndarray, np.matrix)) or _backend.is_tensor(A)
            or _backend.is_device_array(A)):
        if A.ndim > 2:
            raise ValueError("array must have ndim <= 2")
        if _backend.is_tensor(A) or _backend.is_device_array(A):
            A = A if A.ndim == 2 else A.reshape(1, -1)
        else:
            A = np.atleast_2d(np.asarray(A))
        return MatrixLinearOperator(A)
    if isinstance(A, _spbase) or issparse(A):
        if A.ndim != 2:
            raise ValueError(f"a 2-D sparse array is expected, got {A.ndim}-D")
        return MatrixLinearOperator(A)
    if hasattr(A, "shape") and hasattr(A, "matvec"):
        return LinearOperator(
            A.shape, A.matvec, rmatvec=getattr(A, "rmatvec", None),
            rmatmat=getattr(A, "rmatmat", None), dtype=getattr(A, "dtype", None),
        )
    raise TypeError(f"type not understood: cannot make a LinearOperator of {type(A).__name__}")


def _numpy_operator(op):
    """A SciPy LinearOperator computing a torch operator's products on NumPy arrays, detached,
    for algorithms that are not differentiated (SciPy's solvers in an implicit forward,
    estimators, ARPACK): vectors go in as tensors and come back as NumPy arrays. ``rmatvec``
    falls back to the vector-Jacobian product of ``matvec`` when the operator has none."""
    torch = _torch()

    def wrap(fun):
        def apply(x):
            with torch.no_grad():
                return _backend.to_numpy(fun(torch.from_numpy(np.array(x)))).copy()

        return apply

    matvec = wrap(op.matvec)

    def rmatvec(v):
        try:
            return wrap(op.rmatvec)(v)
        except NotImplementedError:
            pass
        # Aᴴ v = the conjugated vjp of u ↦ A u at v (A is linear); SciPy may call this inside
        # a backward pass, where grad mode is off
        t = torch.from_numpy(np.array(v))
        with torch.enable_grad():
            u = torch.zeros(op.shape[1], dtype=_backend.torch_dtype(np.dtype(op.dtype)),
                            requires_grad=True)
            (g,) = torch.autograd.grad(op.matvec(u), u, t.conj() if t.is_complex() else t)
        return _backend.to_numpy(g.conj() if g.is_complex() else g).copy()

    return _ScipyLinearOperator(op.shape, matvec=matvec, rmatvec=rmatvec,
                                matmat=wrap(op.matmat), rmatmat=wrap(op.rmatmat),
                                dtype=op.dtype)


def _detached_operand(x, what=None):
    """An operand for SciPy code that is not differentiated: a torch operator becomes a
    NumPy-facing operator (:func:`_numpy_operator`), anything else is detached/converted
    (``what`` names the caller in the error for an operand on a GPU)."""
    if isinstance(x, LinearOperator) and x._spgrad_torch:
        return _numpy_operator(x)
    return to_scipy(x, what)
