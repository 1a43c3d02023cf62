"""Implicit differentiation of the iterative solvers of :mod:`spgrad.linalg`.

The forward pass of ``x = A⁻¹ b`` is SciPy's solver run on detached NumPy values (so it is the
same ``x`` as plain mode; on the GPU, spgrad's device solver on CuPy views of the values). The
backward pass solves the adjoint system ``Aᴴ λ = ḡ`` with the same method, tolerances and the
adjoint preconditioner, then

* ``∂b = λ``,
* ``∂A_values = −λ x̄ᵀ`` on A's stored pattern (one SDDMM, never a dense n×n matrix),
* for an operator ``A_θ``: ``∂θ = −∂⟨λ, A_θ x̂⟩/∂θ`` (torch autograd through one matvec at the
  detached solution ``x̂``).

The adjoint solve is again a call of the differentiable solve, and ``x`` enters the value
gradient as the saved output, so for a sparse ``A`` the backward is differentiable (double
backward, Hessian-vector products). ``x0`` does not change the solution (only the iterations
that reach it) and receives no gradient. ``vmap`` is not supported: the forward calls SciPy.
"""

import warnings

import numpy as np
import scipy.sparse as sps
import torch

from .. import _backend
from ._function import Function
from ._functions import SDDMM, SpMM, _arr

__all__ = []


def _np(t):
    return np.ascontiguousarray(_backend.to_numpy(t))


def _match(grad, like):
    """A gradient in the dtype of its input (the real part for a real input)."""
    if grad.is_complex() and not like.is_complex():
        grad = grad.real
    return grad.to(like.dtype)


def _operand(a, pattern):
    """The CSR matrix of values ``a`` on ``pattern`` as a solver of the forward or backward
    pass takes it: a SciPy array of NumPy views on the CPU, an spgrad array of CuPy views on
    the GPU."""
    like = pattern.indptr
    if _backend.is_device_array(like):
        from .._csr import csr_array

        return csr_array._from_arrays(_backend.kernel_array(a, like), pattern.indices, like,
                                      pattern.shape, sorted_indices=False)
    return sps.csr_array((_np(a), pattern.indices, pattern.indptr), shape=pattern.shape)


class SolveSpec:
    """One call of a SciPy solver, minus ``A`` and ``b``.

    Parameters
    ----------
    name : str
        The method's name (for messages).
    function : callable
        SciPy's solver, called as ``function(A, b, **kwargs)`` and returning ``(x, info)``.
    kwargs : dict
        Keyword arguments of this solve (tolerances, preconditioner, callback, ``x0``...).
    adjoint_kwargs : dict
        Keyword arguments of the adjoint solve (preconditioner replaced by its adjoint, no
        callback, no ``x0``).
    repeat_kwargs : dict
        Keyword arguments of a further solve with the same operator (no callback, no ``x0``).
    operator, adjoint_operator : object, optional
        ``A`` and ``Aᴴ`` as SciPy takes them, for the operator path (the sparse path builds
        them from the values).
    adjoint : bool
        True for the adjoint solve of a backward pass (its failure to converge warns, since
        it has no ``info`` to report through).
    """

    def __init__(self, name, function, kwargs, adjoint_kwargs, repeat_kwargs,
                 operator=None, adjoint_operator=None, adjoint=False):
        self.name = name
        self.function = function
        self.kwargs = kwargs
        self.adjoint_kwargs = adjoint_kwargs
        self.repeat_kwargs = repeat_kwargs
        self.operator = operator
        self.adjoint_operator = adjoint_operator
        self.is_adjoint = adjoint
        self.info = None

    def adjoint(self):
        """The spec of the adjoint solve (whose own adjoint is a repeat of this one)."""
        return SolveSpec(self.name, self.function, self.adjoint_kwargs, self.repeat_kwargs,
                         self.adjoint_kwargs, self.adjoint_operator, self.operator, True)

    def repeat(self):
        """The spec of another solve with the same operator (forward-mode tangents)."""
        return SolveSpec(self.name, self.function, self.repeat_kwargs, self.adjoint_kwargs,
                         self.repeat_kwargs, self.operator, self.adjoint_operator, True)

    def run(self, A, b):
        """``x`` of SciPy's solve of ``A x = b`` (a fresh array), recording ``info``."""
        x, info = self.function(A, b, **self.kwargs)
        self.info = info
        if self.is_adjoint and info != 0:
            warnings.warn(
                f"spgrad.linalg.{self.name}: the solve of the backward or forward-mode pass "
                f"did not converge (info={info}); the derivative is inaccurate",
                RuntimeWarning, stacklevel=4,
            )
        # SciPy may return (a view of) b itself: never alias the caller's memory
        return _backend.array_module(x).array(x, copy=True)


class SparseSolve(Function):
    """``x = A⁻¹ b`` for CSR values ``a`` on ``pattern`` and a 1-D ``b`` (see module doc)."""

    @staticmethod
    def forward(a, b, pattern, spec):
        # on the GPU, the device solver on CuPy views
        with _backend.torch_stream(a):
            return _backend.tensor_of(spec.run(_operand(a, pattern), _arr(b, pattern)))

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, _, pattern, spec = inputs
        ctx.save_for_backward(a, output)
        ctx.save_for_forward(a, output)
        ctx.pattern = pattern
        ctx.spec = spec

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        pattern = ctx.pattern
        pattern_h, perm = pattern.transpose()
        # Aᴴ λ = ḡ, with the same method: the values of Aᴴ are a (conjugating) gather of a's
        lam = SparseSolve.apply(a.conj()[perm], g.to(x.dtype), pattern_h, ctx.spec.adjoint())
        g_a = g_b = None
        if ctx.needs_input_grad[0]:
            g_a = _match(-SDDMM.apply(lam[:, None], x.conj()[:, None], pattern), a)
        if ctx.needs_input_grad[1]:
            g_b = lam
        return g_a, g_b, None, None

    @staticmethod
    def jvp(ctx, d_a, d_b, _pattern, _spec):
        # dx = A⁻¹ (db − dA x)
        a, x = ctx.saved_tensors
        rhs = d_b.to(x.dtype) if d_b is not None else torch.zeros_like(x)
        if d_a is not None:
            rhs = rhs - SpMM.apply(d_a.to(x.dtype), x[:, None], ctx.pattern)[:, 0]
        return SparseSolve.apply(a, rhs, ctx.pattern, ctx.spec.repeat())


def sparse_solve(a, b, pattern, spec):
    """``(x, info)`` of the differentiable solve with a sparse ``A`` (values ``a``)."""
    x = SparseSolve.apply(a, b, pattern, spec)
    return x, spec.info


class _OperatorSolution(Function):
    """Attaches the implicit gradients to a solution ``x̂`` computed outside autograd:
    inputs ``(x̂, b, y, spec)`` with ``y = A_θ x̂`` recorded in torch (or None)."""

    @staticmethod
    def forward(x_hat, b, y, spec):
        return x_hat.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.spec = inputs[3]
        ctx.has_y = inputs[2] is not None

    @staticmethod
    def backward(ctx, g):
        lam, _ = operator_solve(g, ctx.spec.adjoint())
        g_b = lam if ctx.needs_input_grad[1] else None
        g_y = -lam if ctx.has_y and ctx.needs_input_grad[2] else None
        return None, g_b, g_y, None


def operator_solve(b, spec, matvec=None):
    """``(x, info)`` of the differentiable solve with an operator ``A`` (``spec.operator``,
    a constant for SciPy); ``matvec`` is A's torch matvec when A has torch parameters.

    The parameters' gradient comes through ``y = A_θ x̂`` at the detached solution, which is
    exact for first derivatives; second derivatives with respect to the parameters are not
    propagated (they are for ``b``, and for sparse ``A`` through :func:`sparse_solve`).
    """
    x_hat = torch.from_numpy(spec.run(spec.operator, _np(b)))
    y = None
    if matvec is not None and torch.is_grad_enabled():
        y = matvec(x_hat)
        if not (_backend.is_tensor(y) and y.requires_grad):
            y = None
    return _OperatorSolution.apply(x_hat, b, y, spec), spec.info


class LeastSquaresSpec:
    """One call of SciPy's ``lsqr``/``lsmr`` (on the GPU: spgrad's device solver, on an spgrad
    array of CuPy views) minus ``A`` and ``b``: ``kwargs`` of the forward call,
    ``adjoint_kwargs`` of the backward solves (no ``x0``, no printing)."""

    def __init__(self, name, function, kwargs, adjoint_kwargs):
        self.name = name
        self.function = function
        self.kwargs = kwargs
        self.adjoint_kwargs = adjoint_kwargs
        self.result = None

    def solve(self, A, b):
        """``x`` of an adjoint least-squares solve (warns when it stopped on its limit)."""
        result = self.function(A, b, **self.adjoint_kwargs)
        if result[1] == 7:
            warnings.warn(
                f"spgrad.linalg.{self.name}: a least-squares solve of the backward pass hit "
                f"its iteration limit; the gradient is inaccurate", RuntimeWarning,
                stacklevel=4,
            )
        return _backend.array_module(result[0]).asarray(result[0])


class LeastSquaresSolve(Function):
    """``x = argmin ‖A x − b‖² + damp²‖x − x0‖²`` (SciPy's lsqr/lsmr) for CSR values ``a``.

    With ``K = AᴴA + damp² I`` and ``x = K⁻¹(Aᴴ b + damp² x0)``, the backward pass needs
    ``w = K⁻¹ ḡ``: ``u = A w`` is the (damped) minimum-norm solution of ``Aᴴ u = ḡ`` (one solve
    with Aᴴ), and ``w`` solves ``A w = u`` when ``damp = 0`` (a second solve; A must have full
    column rank) or is ``(ḡ − Aᴴ u) / damp²``. Then ``∂b = u``, ``∂x0 = damp² w`` and
    ``∂A = r wᴴ − u xᴴ`` on the pattern, ``r = b − A x``. First derivatives only.
    """

    @staticmethod
    def forward(a, b, x0, pattern, spec):
        A = _operand(a, pattern)
        kwargs = dict(spec.kwargs)
        if x0 is not None:
            kwargs["x0"] = _arr(x0, pattern)
        with _backend.torch_stream(a):
            spec.result = spec.function(A, _arr(b, pattern), **kwargs)
            x = spec.result[0]
            return _backend.tensor_of(_backend.array_module(x).array(x, copy=True))

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b, x0, pattern, spec = inputs
        ctx.save_for_backward(a, b, output)
        ctx.pattern = pattern
        ctx.spec = spec
        ctx.has_x0 = x0 is not None

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        a, b, x = ctx.saved_tensors
        p, spec = ctx.pattern, ctx.spec
        A = _operand(a, p)
        AH = A.conj().T.tocsr()
        g_np = _arr(g.to(x.dtype), p)
        damp = float(spec.adjoint_kwargs["damp"])
        with _backend.torch_stream(a):
            u = spec.solve(AH, g_np)
            if damp == 0:
                w = spec.solve(A, u)
            else:
                w = (g_np - AH @ u) / damp ** 2
            Ax = A @ _arr(x, p)
        u_t, w_t = _backend.tensor_of(u), _backend.tensor_of(w)
        g_a = g_b = g_x0 = None
        if ctx.needs_input_grad[0]:
            r = b.to(x.dtype) - _backend.tensor_of(Ax)
            g_a = SDDMM.apply(r[:, None], w_t.conj()[:, None], p) \
                - SDDMM.apply(u_t[:, None], x.conj()[:, None], p)
            g_a = _match(g_a, a)
        if ctx.needs_input_grad[1]:
            g_b = u_t
        if ctx.has_x0 and ctx.needs_input_grad[2]:
            g_x0 = damp ** 2 * w_t
        return g_a, g_b, g_x0, None, None


def least_squares_solve(a, b, x0, pattern, spec):
    """SciPy's lsqr/lsmr result tuple with ``x`` a tensor differentiable in ``a``, ``b``
    and ``x0`` (see :class:`LeastSquaresSolve`)."""
    x = LeastSquaresSolve.apply(a, b, x0, pattern, spec)
    return (x,) + tuple(spec.result[1:])
