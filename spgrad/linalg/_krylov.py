"""Krylov iterations written once for torch tensors and for CuPy arrays.

Each method follows SciPy's algorithm step by step (same stopping tests, evaluated on detached
values; same default ``maxiter``; same ``info`` codes and callbacks). The iterations take an
*array namespace* (:class:`_TorchOps` or :class:`_DeviceOps`) for the few operations that
differ between the two:

- ``grad="unroll"`` (:func:`unrolled`): every vector and every scalar that depends on the data
  is a torch tensor, so autograd records the iterations and the gradient is the gradient of
  the computed iterate: with respect to A's values (or an operator's parameters), ``b``,
  ``x0`` and the preconditioner's values (learned preconditioners). Memory grows with the
  number of iterations (each one's vectors are kept for the backward pass).
- plain mode on a GPU (:func:`device_solve`): the vectors are CuPy arrays and the products
  run on spgrad's CUDA kernels; only the scalars of the stopping tests are read back.
"""

import math
import warnings

import numpy as np

from .. import _backend
from .._base import _spbase

__all__ = []


def _torch():
    return _backend.torch_module()


class _TorchOps:
    """The array operations of the iterations on torch tensors (recorded by autograd; the
    Python numbers of the stopping tests are read from detached values)."""

    def __init__(self):
        self.t = _torch()

    def norm(self, v):
        """A vector's 2-norm as a Python float (for stopping tests: never differentiated)."""
        return float(self.t.linalg.vector_norm(v.detach()))

    def vnorm(self, v):
        """A vector's 2-norm as a 0-d array in the iteration (differentiable)."""
        return self.t.linalg.vector_norm(v)

    def dot(self, a, b):
        """``aᴴ b`` (NumPy's ``vdot``; ``dot`` for real vectors)."""
        return self.t.vdot(a, b)

    def real(self, s):
        """A 0-d value (or a number) as a Python float."""
        return float(s.detach()) if _backend.is_tensor(s) else float(s)

    def complex(self, s):
        return complex(s.detach())

    def any(self, v):
        return bool(v.detach().any())

    def copy(self, v):
        return v.clone()

    def zeros(self, n, like):
        return self.t.zeros(n, dtype=like.dtype, device=like.device)

    def like(self, s, like):
        """``s`` (0-d) in the dtype of ``like``."""
        return s.to(like.dtype)

    def sqrt(self, s):
        return self.t.sqrt(s)

    def abs(self, s):
        return self.t.abs(s)

    def clamp_min(self, s, low):
        return self.t.clamp_min(s, low)

    def is_complex(self, s):
        return s.is_complex()


class _DeviceOps:
    """The same operations on CuPy (or NumPy) arrays, for plain mode on a GPU."""

    def __init__(self, xp):
        self.xp = xp

    def norm(self, v):
        return float(self.xp.linalg.norm(v))

    def vnorm(self, v):
        return self.xp.linalg.norm(v)

    def dot(self, a, b):
        return self.xp.vdot(a, b)

    def real(self, s):
        return float(s)

    def complex(self, s):
        return complex(s)

    def any(self, v):
        return bool(v.any())

    def copy(self, v):
        return v.copy()

    def zeros(self, n, like):
        return self.xp.zeros(n, dtype=like.dtype)

    def like(self, s, like):
        return s.astype(like.dtype)

    def sqrt(self, s):
        return self.xp.sqrt(s)

    def abs(self, s):
        return self.xp.abs(s)

    def clamp_min(self, s, low):
        return self.xp.maximum(s, low)

    def is_complex(self, s):
        return s.dtype.kind == "c"


def _dtype_of(A):
    if isinstance(A, _spbase):
        return _backend.numpy_dtype(A.data.dtype)
    if _backend.is_tensor(A):
        return _backend.numpy_dtype(A.dtype)
    dtype = getattr(A, "dtype", None)
    return np.dtype(dtype) if dtype is not None else np.dtype(np.float64)


def _constant_product(op, adjoint):
    """``v ↦ op @ v`` for a constant SciPy operator, differentiable in ``v`` (its backward
    applies ``adjoint``)."""
    torch = _torch()

    class ConstantProduct(torch.autograd.Function):
        @staticmethod
        def forward(v):
            return torch.from_numpy(np.array(op.matvec(_backend.to_numpy(v))).reshape(-1))

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, g):
            return apply_adjoint(g)

    def apply_adjoint(g):
        return _constant_product(adjoint, op)(g)

    return ConstantProduct.apply


def _operator(A, dtype, name):
    """``v ↦ A v`` in torch for every kind of A (or M) that SciPy's solvers accept, plus
    torch tensors and callables (preconditioners only)."""
    import scipy.sparse as sps
    import scipy.sparse.linalg as sla

    from ._interface import LinearOperator

    torch = _torch()
    tdtype = _backend.torch_dtype(dtype)
    if isinstance(A, LinearOperator):
        return lambda v: A.matvec(v.to(_backend.torch_dtype(_dtype_of(A)))).to(tdtype)
    if isinstance(A, sla.LinearOperator):
        return _constant_product(A, A.H)
    if isinstance(A, _spbase):
        return lambda v: (A @ v.to(_backend.torch_dtype(_dtype_of(A)))).to(tdtype)
    if sps.issparse(A):
        from .._interop import from_scipy

        return _operator(from_scipy(A), dtype, name)
    if _backend.is_tensor(A) or isinstance(A, np.ndarray):
        D = _backend.as_tensor(np.asarray(A) if not _backend.is_tensor(A) else A)
        if D.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got {D.ndim}-D")
        return lambda v: (D @ v.to(D.dtype)).to(tdtype)
    if callable(A) and name == "M":
        return lambda v: torch.as_tensor(A(v)).to(tdtype)
    raise TypeError(f"type not understood: cannot use {type(A).__name__} as {name}")


def _adjoint_operator(A, dtype, name):
    """``v ↦ Aᴴ v`` in torch (the shadow systems of bicg and qmr) for the A and M that SciPy's
    bicg takes: the conjugate transpose of a matrix, an operator's ``rmatvec``."""
    import scipy.sparse as sps
    import scipy.sparse.linalg as sla

    from ._interface import LinearOperator

    tdtype = _backend.torch_dtype(dtype)
    if isinstance(A, LinearOperator):
        return lambda v: A.rmatvec(v.to(_backend.torch_dtype(_dtype_of(A)))).to(tdtype)
    if isinstance(A, sla.LinearOperator):
        return _constant_product(A.H, A)
    if isinstance(A, _spbase) or sps.issparse(A):
        return _operator(A.conj().T, dtype, name)
    if _backend.is_tensor(A) or isinstance(A, np.ndarray):
        return _operator(A.conj().T, dtype, name)
    raise TypeError(f"bicg and qmr need the adjoint of {name}: pass it as a matrix or a "
                    f"LinearOperator with rmatvec, got {type(A).__name__}")


def _setup(name, A, b, x0, M):
    """SciPy's ``make_system`` in torch: ``(matvec, psolve, x, b, dtype)``."""
    torch = _torch()
    shape = getattr(A, "shape", None)
    if shape is None or len(shape) != 2:
        raise TypeError(f"A must be a 2-D matrix or linear operator, got {type(A).__name__}")
    if shape[0] != shape[1]:
        raise ValueError(f"expected square matrix, but got shape={(tuple(shape),)}")
    n = shape[0]
    bt = _backend.as_tensor(b if _backend.is_tensor(b) else np.asarray(b))
    if tuple(bt.shape) not in ((n,), (n, 1)):
        raise ValueError(f"shapes of A {tuple(shape)} and b {tuple(bt.shape)} are "
                         f"incompatible")
    from ._isolve import _solution_dtype

    dtype = _solution_dtype(_dtype_of(A), _backend.numpy_dtype(bt.dtype))
    tdtype = _backend.torch_dtype(dtype)
    bt = bt.reshape(-1).to(tdtype)
    matvec = _operator(A, dtype, "A")
    if M is None:
        def psolve(v):
            return v
    else:
        if getattr(M, "shape", (n, n)) != tuple(shape):
            raise ValueError("matrix and preconditioner have different shapes")
        psolve = _operator(M, dtype, "M")
    if x0 is None:
        x = torch.zeros(n, dtype=tdtype, device=bt.device)
    elif isinstance(x0, str):
        if x0 != "Mb":
            raise ValueError(f"x0 must be an array or 'Mb', got {x0!r}")
        x = psolve(bt)
    else:
        x = _backend.as_tensor(x0 if _backend.is_tensor(x0) else np.asarray(x0)).to(tdtype)
        if tuple(x.shape) not in ((n,), (n, 1)):
            raise ValueError(f"shapes of A {tuple(shape)} and x0 {tuple(x.shape)} are "
                             f"incompatible")
        x = x.reshape(-1)
    return matvec, psolve, x, bt, dtype


def _adjoints(name, A, M, dtype, adjoint, operator=None, M1=None, M2=None):
    """The extra products of the methods with a shadow system, from ``adjoint(op, dtype,
    name)`` (``v ↦ opᴴ v``) and ``operator(op, dtype, name)`` (``v ↦ op v``): bicg's
    ``(rmatvec, rpsolve)``; qmr's ``(rmatvec, m1, m1ᴴ, m2, m2ᴴ)`` for its left and right
    preconditioners (the identity where None); None for the other methods."""
    if name == "bicg":
        return adjoint(A, dtype, "A"), _identity if M is None else adjoint(M, dtype, "M")
    if name != "qmr":
        return None
    products = [adjoint(A, dtype, "A")]
    for op, what in ((M1, "M1"), (M2, "M2")):
        if op is None:
            products += [_identity, _identity]
        else:
            if getattr(op, "shape", A.shape) != A.shape:
                raise ValueError(f"matrix and preconditioner {what} have different shapes")
            products += [operator(op, dtype, what), adjoint(op, dtype, what)]
    return tuple(products)


def _identity(v):
    return v


def _tolerance(name, b_norm, atol, rtol):
    if isinstance(atol, str) or atol is None or atol < 0:
        raise ValueError(f"'spgrad.linalg.{name}' called with invalid `atol`={atol}; if set, "
                         f"`atol` must be a real, non-negative number.")
    return max(float(atol), float(rtol) * float(b_norm))


def _initial_residual(ops, matvec, x, b):
    return b - matvec(x) if ops.any(x) else ops.copy(b)


def _cg(ops, matvec, psolve, x, b, atol, maxiter, callback):
    r = _initial_residual(ops, matvec, x, b)
    rho_prev = p = None
    for iteration in range(maxiter):
        if ops.norm(r) < atol:
            return x, 0
        z = psolve(r)
        rho = ops.dot(r, z)
        p = z if iteration == 0 else z + (rho / rho_prev) * p
        q = matvec(p)
        alpha = rho / ops.dot(p, q)
        x = x + alpha * p
        r = r - alpha * q
        rho_prev = rho
        if callback:
            callback(x)
    return x, maxiter


def _bicgstab(ops, matvec, psolve, x, b, atol, maxiter, callback, eps):
    rhotol = omegatol = eps ** 2
    r = _initial_residual(ops, matvec, x, b)
    rtilde = ops.copy(r)
    rho_prev = omega = alpha = p = v = None
    for iteration in range(maxiter):
        if ops.norm(r) < atol:
            return x, 0
        rho = ops.dot(rtilde, r)
        if abs(ops.complex(rho)) < rhotol:
            return x, -10
        if iteration > 0:
            if abs(ops.complex(omega)) < omegatol:
                return x, -11
            beta = (rho / rho_prev) * (alpha / omega)
            p = (p - omega * v) * beta + r
        else:
            p = ops.copy(r)
        phat = psolve(p)
        v = matvec(phat)
        rv = ops.dot(rtilde, v)
        if ops.complex(rv) == 0:
            return x, -11
        alpha = rho / rv
        r = r - alpha * v
        s = r
        if ops.norm(s) < atol:
            return x + alpha * phat, 0
        shat = psolve(s)
        t = matvec(shat)
        omega = ops.dot(t, s) / ops.dot(t, t)
        x = x + alpha * phat + omega * shat
        r = r - omega * t
        rho_prev = rho
        if callback:
            callback(x)
    return x, maxiter


def _bicg(ops, matvec, psolve, rmatvec, rpsolve, x, b, atol, maxiter, callback, eps):
    # SciPy's bicg: the shadow system runs with the adjoints of A and M
    rhotol = eps ** 2
    r = _initial_residual(ops, matvec, x, b)
    rtilde = ops.copy(r)
    rho_prev = p = ptilde = None
    for iteration in range(maxiter):
        if ops.norm(r) < atol:
            return x, 0
        z, ztilde = psolve(r), rpsolve(rtilde)
        rho = ops.dot(rtilde, z)
        if abs(ops.complex(rho)) < rhotol:
            return x, -10
        if iteration > 0:
            beta = rho / rho_prev
            p = p * beta + z
            ptilde = ptilde * beta.conj() + ztilde
        else:
            p, ptilde = ops.copy(z), ops.copy(ztilde)
        q, qtilde = matvec(p), rmatvec(ptilde)
        rv = ops.dot(ptilde, q)
        if ops.complex(rv) == 0:
            return x, -11
        alpha = rho / rv
        x = x + alpha * p
        r = r - alpha * q
        rtilde = rtilde - alpha.conj() * qtilde
        rho_prev = rho
        if callback:
            callback(x)
    return x, maxiter


def _qmr(ops, matvec, rmatvec, m1, m1h, m2, m2h, x, b, atol, maxiter, callback, eps):
    # SciPy's qmr (Freund and Nachtigal): the left and right preconditioners M1 and M2, the
    # shadow recurrence with the adjoints of A, M1 and M2, breakdown codes -10 to -15 against
    # the dtype's epsilon
    r = _initial_residual(ops, matvec, x, b)
    vtilde, wtilde = ops.copy(r), ops.copy(r)
    y = m1(vtilde)
    rho = ops.vnorm(y)
    z = m2h(wtilde)
    xi = ops.vnorm(z)
    gamma, eta, theta = 1.0, -1.0, 0.0
    epsilon = p = q = d = s = None
    for iteration in range(maxiter):
        if ops.norm(r) < atol:
            return x, 0
        if ops.real(rho) < eps:  # rho and xi are norms: their own absolute values
            return x, -10
        if ops.real(xi) < eps:
            return x, -15
        v, y = vtilde * (1 / rho), y * (1 / rho)
        w, z = wtilde * (1 / xi), z * (1 / xi)
        delta = ops.dot(z, y)
        if abs(ops.complex(delta)) < eps:
            return x, -13
        ytilde, ztilde = m2(y), m1h(z)
        if iteration > 0:
            p = ytilde - (xi * delta / epsilon) * p
            q = ztilde - (rho * (delta / epsilon).conj()) * q
        else:
            p, q = ytilde, ztilde
        ptilde = matvec(p)
        epsilon = ops.dot(q, ptilde)
        if abs(ops.complex(epsilon)) < eps:
            return x, -14
        beta = epsilon / delta
        if abs(ops.complex(beta)) < eps:
            return x, -11
        vtilde = ptilde - beta * v
        y = m1(vtilde)
        rho_prev, rho = rho, ops.vnorm(y)
        wtilde = w * (-beta.conj()) + rmatvec(q)
        z = m2h(wtilde)
        xi = ops.vnorm(z)
        gamma_prev, theta_prev = gamma, theta
        theta = rho / (gamma_prev * ops.abs(beta))
        gamma = 1 / ops.sqrt(1 + theta ** 2)
        if ops.real(gamma) < eps:  # gamma > 0
            return x, -12
        eta = eta * (-(rho_prev / beta) * (gamma / gamma_prev) ** 2)
        if iteration > 0:
            d = d * (theta_prev * gamma) ** 2 + eta * p
            s = s * (theta_prev * gamma) ** 2 + eta * ptilde
        else:
            d, s = p * eta, ptilde * eta
        x = x + d
        r = r - s
        if callback:
            callback(x)
    return x, maxiter


def _tfqmr(ops, matvec, psolve, x, b, x0_given, rtol, atol, maxiter, callback):
    # SciPy's tfqmr (Freund's transpose-free QMR): its own defaults (maxiter at most 10000,
    # the tolerance relative to the initial residual) and its breakdown code -1
    if ops.norm(b) == 0:
        return ops.copy(b), 0
    n = b.shape[0]
    maxiter = min(10000, n * 10) if maxiter is None else maxiter
    r = b - matvec(x) if x0_given else ops.copy(b)
    u, w, rstar = r, ops.copy(r), r
    v = uhat = psolve(matvec(r))
    d = theta = eta = 0.0
    rho = rho_last = ops.dot(rstar, r).real  # real: rstar is r
    tau = ops.sqrt(rho)
    if ops.real(tau) == 0:
        return x, 0
    atol = _tolerance("tfqmr", ops.real(tau), atol, rtol)
    alpha = u_next = None
    for iteration in range(maxiter):
        even = iteration % 2 == 0
        if even:
            vtrstar = ops.dot(rstar, v)
            if ops.complex(vtrstar) == 0:
                return x, -1
            alpha = rho / vtrstar
            u_next = u - alpha * v
        w = w - alpha * uhat
        d = u + (theta ** 2 / alpha) * eta * d
        theta = ops.vnorm(w) / tau
        c = ops.sqrt(1.0 / (1 + theta ** 2))
        tau = tau * theta * c
        eta = c ** 2 * alpha
        x = x + eta * psolve(d)
        if callback:
            callback(x)
        if ops.real(tau) * math.sqrt(iteration + 1) < atol:
            return x, 0
        if even:
            uhat = psolve(matvec(u_next))
            u = u_next
            rho_last = rho
        else:
            rho = ops.dot(rstar, w)
            beta = rho / rho_last
            u = w + beta * u
            v = beta * uhat + beta ** 2 * v
            uhat = psolve(matvec(u))
            v = v + uhat
    return x, maxiter


def _cgs(ops, matvec, psolve, x, b, atol, maxiter, callback, eps):
    # SciPy's cgs: the residual is recomputed from x at every step (as SciPy does, against
    # the drift of the recurrence)
    rhotol = eps ** 2
    r = _initial_residual(ops, matvec, x, b)
    rtilde = ops.copy(r)
    rho_prev = p = u = q = None
    for iteration in range(maxiter):
        if ops.norm(r) < atol:
            return x, 0
        rho = ops.dot(rtilde, r)
        if abs(ops.complex(rho)) < rhotol:
            return x, -10
        if iteration > 0:
            beta = rho / rho_prev
            u = r + beta * q
            p = (p * beta + q) * beta + u
        else:
            p, u = ops.copy(r), ops.copy(r)
        phat = psolve(p)
        vhat = matvec(phat)
        rv = ops.dot(rtilde, vhat)
        if ops.complex(rv) == 0:
            return x, -11
        alpha = rho / rv
        q = u - alpha * vhat
        x = x + alpha * psolve(u + q)
        r = b - matvec(x)
        rho_prev = rho
        if callback:
            callback(x)
    return x, maxiter


def _givens(ops, f, g):
    """``(c, s, r)`` with ``[[c, s], [-s̄, c]] @ [f, g] = [r, 0]`` (c real)."""
    af = ops.abs(f)
    rho = ops.sqrt(af ** 2 + ops.abs(g) ** 2)
    if ops.real(af) == 0:
        return rho * 0, g * 0 + 1, g
    phase = f / af
    c = af / rho
    s = phase * g.conj() / rho if ops.is_complex(g) else phase * g / rho
    return c, s, phase * rho


def _gmres(ops, matvec, psolve, x, b, atol, bnrm2, maxiter, restart, callback, callback_type,
           eps):
    n = b.shape[0]
    restart = min(20 if restart is None else restart, n)
    ptol_max_factor = 1.0
    ptol = ops.norm(psolve(b)) * min(ptol_max_factor, atol / bnrm2)
    presid = 0.0
    inner_iter = 0
    r = None
    rnorm = math.inf
    for iteration in range(maxiter):
        if iteration == 0:
            r = _initial_residual(ops, matvec, x, b)
            if ops.norm(r) < atol:
                return x, 0
        w0 = psolve(r)
        beta = ops.like(ops.vnorm(w0), b)
        V = [w0 / beta]
        S = [beta]
        H = []        # H[col][k]: column col of the rotated Hessenberg matrix
        givens = []
        breakdown = False
        for col in range(restart):
            w = psolve(matvec(V[col]))
            h0 = ops.norm(w)
            h = []
            for k in range(col + 1):
                t = ops.dot(V[k], w)
                h.append(t)
                w = w - t * V[k]
            h1 = ops.vnorm(w)
            if ops.real(h1) <= eps * h0:
                # exact solution indicator: the new column of H ends in a structural zero
                h.append(ops.zeros((), b))
                breakdown = True
                V.append(w)
            else:
                h.append(ops.like(h1, b))
                V.append(w / h1)
            for k, (c, s) in enumerate(givens):
                n0, n1 = h[k], h[k + 1]
                h[k] = c * n0 + s * n1
                h[k + 1] = -s.conj() * n0 + c * n1
            c, s, mag = _givens(ops, h[col], h[col + 1])
            givens.append((c, s))
            h[col] = mag
            h[col + 1] = ops.zeros((), b)
            tmp = -s.conj() * S[col]
            S[col] = c * S[col]
            S.append(tmp)
            H.append(h)
            presid = ops.real(ops.abs(tmp))
            inner_iter += 1
            if callback_type in ("legacy", "pr_norm"):
                callback(presid / bnrm2)
            if callback_type == "legacy" and inner_iter == maxiter:
                break
            if presid <= ptol or breakdown:
                break
        # back substitution on the rotated (upper triangular) Hessenberg matrix, with SciPy's
        # pseudo-solve of a singular one (a zero pivot zeroes its component)
        if ops.complex(H[col][col]) == 0:
            S[col] = ops.zeros((), b)
        y = list(S[:col + 1])
        for k in range(col, -1, -1):
            if ops.complex(y[k]) != 0:
                y[k] = y[k] / H[k][k]
                for i in range(k):
                    y[i] = y[i] - y[k] * H[k][i]
        x = x + sum(yk * vk for yk, vk in zip(y, V[:col + 1]))
        r = b - matvec(x)
        rnorm = ops.norm(r)
        if callback_type == "legacy" and inner_iter == maxiter:
            return x, 0 if rnorm <= atol else maxiter
        if callback_type == "x":
            callback(x)
        if rnorm <= atol or breakdown:
            break
        elif presid <= ptol:
            ptol_max_factor = max(eps, 0.25 * ptol_max_factor)
        else:
            ptol_max_factor = min(1.0, 1.5 * ptol_max_factor)
        ptol = presid * min(ptol_max_factor, atol / rnorm)
    return x, 0 if rnorm <= atol else maxiter


def _minres(ops, matvec, psolve, x, b, x0_given, rtol, shift, maxiter, callback, check, eps,
            fmax):
    n = b.shape[0]
    r1 = b - matvec(x) if x0_given else ops.copy(b)
    y = psolve(r1)
    beta1 = ops.dot(r1, y)
    if ops.real(beta1) < 0:
        raise ValueError("indefinite preconditioner")
    elif ops.real(beta1) == 0:
        return x, 0
    if ops.norm(b) == 0:
        return b, 0
    beta1 = ops.sqrt(beta1)
    if check:
        w = matvec(y)
        r2 = matvec(w)
        s, t = ops.real(ops.dot(w, w)), ops.real(ops.dot(y, r2))
        if abs(s - t) > (s + eps) * eps ** (1.0 / 3.0):
            raise ValueError("non-symmetric matrix")
        r2 = psolve(y)
        s, t = ops.real(ops.dot(y, y)), ops.real(ops.dot(r1, r2))
        if abs(s - t) > (s + eps) * eps ** (1.0 / 3.0):
            raise ValueError("non-symmetric preconditioner")
    beta1_f = ops.real(beta1)
    oldb = 0
    beta = beta1
    dbar = epsln = 0
    phibar = beta1
    rhs1, rhs2 = beta1_f, 0.0
    tnorm2 = 0.0
    gmax, gmin = 0.0, fmax
    cs, sn = -1, 0
    w = ops.zeros(n, b)
    w2 = ops.zeros(n, b)
    r2 = r1
    istop = itn = 0
    while itn < maxiter:
        itn += 1
        v = y / beta
        y = matvec(v)
        y = y - shift * v
        if itn >= 2:
            y = y - (beta / oldb) * r1
        alfa = ops.dot(v, y)
        y = y - (alfa / beta) * r2
        r1 = r2
        r2 = y
        y = psolve(r2)
        oldb = beta
        beta = ops.dot(r2, y)
        if ops.real(beta) < 0:
            raise ValueError("non-symmetric matrix")
        beta = ops.sqrt(beta)
        tnorm2 += ops.real(alfa) ** 2 + ops.real(oldb) ** 2 + ops.real(beta) ** 2
        if itn == 1 and ops.real(beta) / beta1_f <= 10 * eps:
            istop = -1
        oldeps = epsln
        delta = cs * dbar + sn * alfa
        gbar = sn * dbar - cs * alfa
        epsln = sn * beta
        dbar = -cs * beta
        root = math.hypot(ops.real(gbar), ops.real(dbar))
        gamma = ops.clamp_min(ops.sqrt(gbar ** 2 + beta ** 2), eps)
        cs = gbar / gamma
        sn = beta / gamma
        phi = cs * phibar
        phibar = sn * phibar
        w1 = w2
        w2 = w
        w = (v - oldeps * w1 - delta * w2) / gamma
        x = x + phi * w
        gamma_f = ops.real(gamma)
        gmax, gmin = max(gmax, gamma_f), min(gmin, gamma_f)
        z = rhs1 / gamma_f
        rhs1 = rhs2 - ops.real(delta) * z
        rhs2 = -ops.real(epsln) * z
        Anorm = math.sqrt(tnorm2)
        ynorm = ops.norm(x)
        epsx = Anorm * ynorm * eps
        rnorm = ops.real(phibar)
        test1 = math.inf if ynorm == 0 or Anorm == 0 else rnorm / (Anorm * ynorm)
        test2 = math.inf if Anorm == 0 else root / Anorm
        Acond = gmax / gmin
        if istop == 0:
            if 1 + test2 <= 1:
                istop = 2
            if 1 + test1 <= 1:
                istop = 1
            if itn >= maxiter:
                istop = 6
            if Acond >= 0.1 / eps:
                istop = 4
            if epsx >= beta1_f:
                istop = 3
            if test2 <= rtol:
                istop = 2
            if test1 <= rtol:
                istop = 1
        if callback is not None:
            callback(x)
        if istop != 0:
            break
    return x, maxiter if istop == 6 else 0


def _fgmres_device(xp, matvec, v0, m, atol, lpsolve=_identity, rpsolve=_identity, cs=(),
                   outer_v=(), prepend_outer_v=False):
    """SciPy's flexible GMRES cycle (``_fgmres`` of ``scipy.sparse.linalg``: LGMRES'
    augmentation vectors ``outer_v``, GCROT's orthogonalisation against ``cs``) on device
    vectors: the Arnoldi vectors stay on the device, the small Hessenberg QR (``qr_insert``)
    and its least-squares solve run on the host from the dot products read back. Returns
    ``(Q, R, B, vs, zs, y, res)``."""
    from scipy.linalg import lstsq, qr_insert

    dtype = v0.dtype
    vs, zs = [v0], []
    m = m + len(outer_v)
    Q = np.ones((1, 1), dtype=dtype)
    R = np.zeros((1, 0), dtype=dtype)
    B = np.zeros((len(cs), m), dtype=dtype)
    eps = np.finfo(dtype).eps
    res, breakdown = np.nan, False
    for j in range(m):
        if prepend_outer_v and j < len(outer_v):
            z, w = outer_v[j]
        elif prepend_outer_v and j == len(outer_v):
            z, w = rpsolve(v0), None
        elif not prepend_outer_v and j >= m - len(outer_v):
            z, w = outer_v[j - (m - len(outer_v))]
        else:
            z, w = rpsolve(vs[-1]), None
        w = lpsolve(matvec(z)) if w is None else w.copy()
        w_norm = float(xp.linalg.norm(w))
        for i, c in enumerate(cs):
            alpha = xp.vdot(c, w)
            B[i, j] = alpha.item()
            w = w - alpha * c
        hcur = np.zeros(j + 2, dtype=dtype)
        for i, v in enumerate(vs):
            alpha = xp.vdot(v, w)
            hcur[i] = alpha.item()
            w = w - alpha * v
        hcur[len(vs)] = float(xp.linalg.norm(w))
        with np.errstate(over="ignore", divide="ignore"):
            alpha = 1 / hcur[-1]
        if np.isfinite(alpha):
            w = w * alpha
        if not (hcur[-1] > eps * w_norm):
            breakdown = True
        vs.append(w)
        zs.append(z)
        Q2 = np.zeros((j + 2, j + 2), dtype=dtype, order="F")
        Q2[:j + 1, :j + 1] = Q
        Q2[j + 1, j + 1] = 1
        R2 = np.zeros((j + 2, j), dtype=dtype, order="F")
        R2[:j + 1, :] = R
        Q, R = qr_insert(Q2, R2, hcur, j, which="col", overwrite_qru=True,
                         check_finite=False)
        res = abs(Q[0, -1])
        if res < atol or breakdown:
            break
    if not np.isfinite(R[j, j]):
        raise np.linalg.LinAlgError()
    y = lstsq(R[:j + 1, :j + 1], Q[0, :j + 1].conj())[0]
    return Q, R, B[:, :j + 1], vs, zs, y, res


def _lgmres_device(xp, matvec, psolve, x, b, atol, maxiter, callback, inner_m, outer_k,
                   outer_v, store_outer_Av, prepend_outer_v):
    """SciPy's LGMRES on device vectors (``x``, ``b``); ``atol`` the absolute tolerance
    ``max(atol, rtol ‖b‖)``. ``outer_v`` is the caller's list of augmentation pairs, updated in
    place as SciPy does (device vectors)."""
    ptol_max_factor = 1.0
    for k_outer in range(maxiter):
        r_outer = matvec(x) - b
        if callback is not None:
            callback(x)
        if r_outer.dtype.kind == "c" and x.dtype.kind != "c":
            x = x.astype(r_outer.dtype)
        r_norm = float(xp.linalg.norm(r_outer))
        if r_norm <= atol:
            return x, 0
        v0 = -psolve(r_outer)
        inner_res_0 = float(xp.linalg.norm(v0))
        if inner_res_0 == 0:
            raise RuntimeError(f"Preconditioner returned a zero vector; |v| ~ {r_norm:.1g}, "
                               f"|M v| = 0")
        v0 = v0 * (1.0 / inner_res_0)
        ptol = min(ptol_max_factor, atol / r_norm)
        try:
            Q, R, _, vs, zs, y, pres = _fgmres_device(
                xp, matvec, v0, inner_m, ptol, lpsolve=psolve, outer_v=outer_v,
                prepend_outer_v=prepend_outer_v)
            y = y * inner_res_0
            if not np.isfinite(y).all():
                raise np.linalg.LinAlgError()
        except np.linalg.LinAlgError:
            return x, k_outer + 1
        if pres > ptol:
            ptol_max_factor = min(1.0, 1.5 * ptol_max_factor)
        else:
            ptol_max_factor = max(1e-16, 0.25 * ptol_max_factor)
        dx = zs[0] * y[0]
        for w, yc in zip(zs[1:], y[1:]):
            dx = dx + w * yc
        nx = float(xp.linalg.norm(dx))
        if nx > 0:
            ax = None
            if store_outer_Av:
                q = Q.dot(R.dot(y))
                ax = vs[0] * q[0]
                for v, qc in zip(vs[1:], q[1:]):
                    ax = ax + v * qc
                ax = ax / nx
            outer_v.append((dx / nx, ax))
        while len(outer_v) > outer_k:
            del outer_v[0]
        x = x + dx
    return x, maxiter


def _householder(xp, x):
    """LAPACK's elementary reflector of ``x`` (``?larfg``): ``(tau, beta, v)`` with
    ``(I - tau v vᴴ)ᴴ x = beta e₁``, ``v[0] = 1`` and ``beta`` real, of the sign opposite to
    ``x[0]``'s real part (no reflection, ``tau = 0``, when ``x`` is already a multiple of
    ``e₁`` with a real first entry)."""
    alpha = complex(x[0].item()) if x.dtype.kind == "c" else float(x[0].item())
    xnorm = float(xp.linalg.norm(x[1:])) if len(x) > 1 else 0.0
    v = x.copy()
    v[0] = 1
    if xnorm == 0 and alpha.imag == 0:
        return 0.0, alpha, v
    beta = -math.copysign(math.hypot(abs(alpha), xnorm), alpha.real)
    tau = (beta - alpha) / beta
    if x.dtype.kind != "c":
        tau = float(tau)
    v[1:] = x[1:] * (1 / (alpha - beta))
    return tau, beta, v


def _pivoted_qr_device(xp, C):
    """``(Q, R, P)`` of ``scipy.linalg.qr(C, mode='economic', pivoting=True)`` for a tall
    device matrix ``C`` (n × k, k small): LAPACK's unblocked column-pivoted Householder QR
    (``?laqp2``: the pivot is the first column of largest partial norm, the norms downdated
    and recomputed as LAPACK does) and its ``?ung2r``, so pivots and signs are LAPACK's. The
    reflections run on the device; ``R`` and the k partial norms are host values."""
    n, k = C.shape
    A = C.copy()
    P = np.arange(k)
    vn1 = np.array([float(xp.linalg.norm(A[:, j])) for j in range(k)])
    vn2 = vn1.copy()
    tol3z = math.sqrt(np.finfo(A.dtype).eps)
    reflectors = []
    R = np.zeros((min(n, k), k), dtype=A.dtype)
    for i in range(min(n, k)):
        p = i + int(np.argmax(vn1[i:]))
        if p != i:
            A[:, [i, p]] = A[:, [p, i]]
            R[:i, [i, p]] = R[:i, [p, i]]  # the rows of R found so far move with them
            P[[i, p]], vn1[p], vn2[p] = P[[p, i]], vn1[i], vn2[i]
        tau, beta, v = _householder(xp, A[i:, i])
        reflectors.append((tau, v))
        if i + 1 < k:  # apply H(i)ᴴ = I - conj(tau) v vᴴ to the trailing columns
            T = A[i:, i + 1:]
            A[i:, i + 1:] = T - np.conj(tau) * xp.outer(v, v.conj() @ T)
        R[i, i] = beta
        if i + 1 < k:
            R[i, i + 1:] = [A[i, j].item() for j in range(i + 1, k)]  # k scalars read back
        for j in range(i + 1, k):
            if vn1[j] == 0:
                continue
            temp = max(1 - (abs(R[i, j]) / vn1[j]) ** 2, 0.0)
            if temp * (vn1[j] / vn2[j]) ** 2 <= tol3z:
                vn1[j] = float(xp.linalg.norm(A[i + 1:, j])) if i + 1 < n else 0.0
                vn2[j] = vn1[j]
            else:
                vn1[j] *= math.sqrt(temp)
    # Q = H(0) ... H(k-1) applied to the first k columns of the identity (LAPACK's ?ung2r)
    Q = xp.zeros((n, len(reflectors)), dtype=A.dtype)
    for i in range(len(reflectors) - 1, -1, -1):
        tau, v = reflectors[i]
        if i + 1 < Q.shape[1]:
            T = Q[i:, i + 1:]
            Q[i:, i + 1:] = T - tau * xp.outer(v, v.conj() @ T)
        Q[i + 1:, i] = -tau * v[1:]
        Q[i, i] = 1 - tau
    return Q, R, P


def _gcrotmk_device(xp, matvec, psolve, x, b, x0_given, rtol, atol, maxiter, callback, m, k,
                    CU, discard_C, truncate):
    """SciPy's GCROT(m, k) on device vectors (``x``, ``b``). ``CU`` is the caller's list of
    recycled ``(c, u)`` pairs (device vectors, ``c`` possibly ``None``), updated in place as
    SciPy does (the vectors themselves are never modified). The small matrices (the Hessenberg
    QR, GCROT's projections, the SVD of the truncation) are host arrays."""
    from scipy.linalg import solve, svd

    if truncate not in ("oldest", "smallest"):
        raise ValueError(f"Invalid value for 'truncate': {truncate!r}")
    if k is None:
        k = m
    r = b - matvec(x) if x0_given else b.copy()
    b_norm = float(xp.linalg.norm(b))
    atol = _tolerance("gcrotmk", b_norm, atol, rtol)
    if b_norm == 0:
        return b.copy(), 0
    if discard_C:
        CU[:] = [(None, u) for c, u in CU]
    if CU:
        CU.sort(key=lambda cu: cu[0] is not None)
        us, columns = [], []
        while CU:
            c, u = CU.pop(0)
            columns.append(matvec(u) if c is None else c)
            us.append(u)
        Q, R, P = _pivoted_qr_device(xp, xp.stack(columns, axis=1).astype(r.dtype))
        del columns
        cs, new_us = [xp.ascontiguousarray(Q[:, j]) for j in range(Q.shape[1])], []
        for j in range(len(cs)):  # U P R⁻¹ by back substitution (SciPy's in-place BLAS)
            u = us[P[j]]
            for i in range(j):
                u = u - R[i, j] * new_us[i]
            if abs(R[j, j]) < 1e-12 * abs(R[0, 0]):
                break
            new_us.append(u * (1.0 / R[j, j]))
        CU[:] = list(zip(cs, new_us))[::-1]
    for c, u in CU:
        yc = xp.vdot(c, r)
        x = x + yc * u
        r = r - yc * c
    j_outer = -1
    for j_outer in range(maxiter):
        if callback is not None:
            callback(x)
        beta = float(xp.linalg.norm(r))
        if beta <= atol and (j_outer > 0 or CU):
            r = b - matvec(x)  # the recurrence's residual drifts: recompute it
            beta = float(xp.linalg.norm(r))
        if beta <= atol:
            j_outer = -1
            break
        ml = m + max(k - len(CU), 0)
        try:
            Q, R, B, vs, zs, y, _ = _fgmres_device(xp, matvec, r / beta, ml, atol / beta,
                                                   rpsolve=psolve, cs=[c for c, u in CU])
            y = y * beta
        except np.linalg.LinAlgError:
            break
        ux = zs[0] * y[0]
        for z, yc in zip(zs[1:], y[1:]):
            ux = ux + yc * z
        for (c, u), byc in zip(CU, B.dot(y)):
            ux = ux - byc * u
        with np.errstate(invalid="ignore"):
            hy = Q.dot(R.dot(y))
        cx = vs[0] * hy[0]
        for v, hyc in zip(vs[1:], hy[1:]):
            cx = cx + hyc * v
        cx_norm = float(xp.linalg.norm(cx))
        if not (cx_norm != 0 and np.isfinite(1 / cx_norm)):
            continue
        cx, ux = cx * (1 / cx_norm), ux * (1 / cx_norm)
        gamma = xp.vdot(cx, r)
        r = r - gamma * cx
        x = x + gamma * ux
        if truncate == "oldest":
            while len(CU) >= k and CU:
                del CU[0]
        elif len(CU) >= k and CU:  # "smallest": keep the k - 1 dominant directions
            D = solve(R[:-1, :].T, B.T).T
            W = svd(D)[0]
            new_CU = []
            for w in W[:, :k - 1].T:
                c, u = CU[0]
                c, u = c * w[0], u * w[0]
                for (cp, up), wp in zip(CU[1:], w[1:]):
                    c, u = c + wp * cp, u + wp * up
                for cp, up in new_CU:
                    alpha = xp.vdot(cp, c)
                    c, u = c - alpha * cp, u - alpha * up
                alpha = float(xp.linalg.norm(c))
                new_CU.append((c * (1.0 / alpha), u * (1.0 / alpha)))
            CU[:] = new_CU
        CU.append((cx, ux))
    CU.append((None, x.copy()))  # the solution joins the recycled span
    if discard_C:
        CU[:] = [(None, u) for c, u in CU]
    return x, j_outer + 1


def _solver_options(name, show, callback, callback_type, mode):
    """SciPy's argument checks of ``show`` and of gmres' ``callback_type``; returns the
    callback type the iterations use."""
    if show:
        raise NotImplementedError(f"{name}: show=True is supported with grad='implicit' and "
                                  f"in plain mode on the CPU, not {mode}")
    if name != "gmres":
        return callback_type
    if callback is not None and callback_type is None:
        warnings.warn(
            "scipy.sparse.linalg.gmres called without specifying `callback_type`. The "
            "default value will be changed in a future release. For compatibility, "
            "specify a value for `callback_type` explicitly, e.g., ``gmres(..., "
            "callback_type='pr_norm')``, or to retain the old behavior ``gmres(..., "
            "callback_type='legacy')``", category=DeprecationWarning, stacklevel=5)
    if callback_type is None:
        callback_type = "legacy"
    if callback_type not in ("x", "pr_norm", "legacy"):
        raise ValueError(f"Unknown callback_type: {callback_type!r}")
    return None if callback is None else callback_type


def _iterate(ops, name, matvec, psolve, x, bt, dtype, x0_given, *, rtol, atol, maxiter,
             callback, restart, callback_type, shift, check, adjoints=None):
    """``(x, info)`` of the method ``name`` on a prepared system (SciPy's defaults);
    ``adjoints`` the extra products of bicg and qmr (:func:`_adjoints`)."""
    n = bt.shape[0]
    finfo = np.finfo(dtype)
    if name == "tfqmr":
        return _tfqmr(ops, matvec, psolve, x, bt, x0_given, rtol, atol, maxiter, callback)
    if name == "minres":
        maxiter = 5 * n if maxiter is None else maxiter
        return _minres(ops, matvec, psolve, x, bt, x0_given, rtol, shift, maxiter, callback,
                       check, float(finfo.eps), float(finfo.max))
    bnrm2 = ops.norm(bt)
    atol = _tolerance(name, bnrm2, atol, rtol)
    if bnrm2 == 0:
        return bt, 0
    maxiter = n * 10 if maxiter is None else maxiter
    if name == "cg":
        return _cg(ops, matvec, psolve, x, bt, atol, maxiter, callback)
    if name == "bicgstab":
        return _bicgstab(ops, matvec, psolve, x, bt, atol, maxiter, callback,
                         float(finfo.eps))
    if name == "cgs":
        return _cgs(ops, matvec, psolve, x, bt, atol, maxiter, callback, float(finfo.eps))
    if name == "bicg":
        return _bicg(ops, matvec, psolve, *adjoints, x, bt, atol, maxiter, callback,
                     float(finfo.eps))
    if name == "qmr":
        return _qmr(ops, matvec, *adjoints, x, bt, atol, maxiter, callback, float(finfo.eps))
    return _gmres(ops, matvec, psolve, x, bt, atol, bnrm2, maxiter, restart, callback,
                  callback_type, float(finfo.eps))


def unrolled(name, A, b, x0=None, *, rtol=1e-5, atol=0., maxiter=None, M=None, callback=None,
             restart=None, callback_type=None, shift=0.0, show=False, check=False, M1=None,
             M2=None):
    """``(x, info)`` of the method ``name`` (cg, bicg, bicgstab, cgs, tfqmr, qmr, gmres or
    minres) run in torch.

    The arguments are SciPy's; ``A`` and ``M`` (qmr: ``M1`` and ``M2``) may be spgrad
    containers (NumPy or torch values), torch tensors, spgrad or SciPy LinearOperators, SciPy
    sparse matrices or NumPy arrays, and ``M`` also a callable ``r ↦ M r``. Callbacks receive
    the iterate as a tensor (gmres' ``'pr_norm'``/``'legacy'`` callbacks a float, as in
    SciPy).
    """
    callback_type = _solver_options(name, show, callback, callback_type, "grad='unroll'")
    matvec, psolve, x, bt, dtype = _setup(name, A, b, x0, M)
    return _iterate(_TorchOps(), name, matvec, psolve, x, bt, dtype, x0 is not None,
                    rtol=rtol, atol=atol, maxiter=maxiter, callback=callback, restart=restart,
                    callback_type=callback_type, shift=shift, check=check,
                    adjoints=_adjoints(name, A, M, dtype, _adjoint_operator,
                                       _preconditioner_operator, M1, M2))


def _preconditioner_operator(op, dtype, name):
    """``v ↦ op v`` in torch for qmr's ``M1`` and ``M2`` (what :func:`_operator` takes for
    ``M``, callables excepted: qmr needs their adjoints too)."""
    if callable(op) and not hasattr(op, "shape"):
        raise TypeError(f"qmr's {name} must be a matrix or a LinearOperator (its adjoint is "
                        f"needed too), got {type(op).__name__}")
    return _operator(op, dtype, name)


def _device_adjoint(op, dtype, name, b):
    """``v ↦ opᴴ v`` on the GPU (the shadow systems of bicg and qmr): an spgrad array's
    conjugate transpose, a LinearOperator's ``rmatvec``."""
    from ._interface import LinearOperator

    if isinstance(op, LinearOperator):
        return lambda v: op.rmatvec(v).astype(dtype, copy=False)
    if isinstance(op, _spbase):
        _backend.check_same_device(b, op)
        H = op.conj().T.tocsr()
        H = H if H.dtype == dtype else H.astype(dtype)
        return lambda v: H @ v
    raise TypeError(f"bicg and qmr on the GPU need the adjoint of {name}: pass it as an spgrad "
                    f"array on the GPU or a LinearOperator with rmatvec, got "
                    f"{type(op).__name__}")


def _device_operator(op, dtype, xp, name, b):
    """``v ↦ op @ v`` on the GPU for a preconditioner: an spgrad array on the device of the
    right-hand side ``b``, or a callable (a LinearOperator among them) taking and returning
    CuPy arrays."""
    if isinstance(op, _spbase):
        _backend.check_same_device(b, op)
        op = op if op.dtype == dtype else op.astype(dtype)
        return lambda v: op @ v
    if callable(op):
        return lambda v: op(v).astype(dtype, copy=False)
    raise TypeError(f"on the GPU, {name} must be an spgrad sparse array on the GPU or a "
                    f"callable, got {type(op).__name__}")


def _device_dtype(A, b):
    """The dtype of a GPU solver's ``A``: an spgrad sparse array on the GPU (on ``b``'s
    device) or an spgrad LinearOperator whose products take and return CuPy arrays (with a
    ``dtype``); anything else raises ``TypeError``."""
    from ._interface import LinearOperator

    if isinstance(A, LinearOperator):
        if A.dtype is None:
            raise TypeError("on the GPU, a LinearOperator A needs a dtype")
        return np.dtype(A.dtype)
    if isinstance(A, _spbase) and A._on_gpu:
        _backend.check_same_device(A, b)
        return A.dtype
    raise TypeError(f"on the GPU, A must be an spgrad sparse array on the GPU "
                    f"(A.to('cuda')) or an spgrad LinearOperator on CuPy arrays, got "
                    f"{type(A).__name__} on {_backend.device_of(A)}")


def _device_product(A, dtype):
    """``v ↦ A v`` in ``dtype`` for an ``A`` that :func:`_device_dtype` accepted."""
    if isinstance(A, _spbase):
        A_d = A if A.dtype == dtype else A.astype(dtype)
        return lambda v: A_d @ v
    return lambda v: A.matvec(v).astype(dtype, copy=False)


def device_solve(name, A, b, x0=None, *, rtol=1e-5, atol=0., maxiter=None, M=None,
                 callback=None, restart=None, callback_type=None, shift=0.0, show=False,
                 check=False, M1=None, M2=None, inner_m=30, outer_k=3, outer_v=None,
                 store_outer_Av=True, prepend_outer_v=False, m=20, k=None, CU=None,
                 discard_C=False, truncate="oldest"):
    """``(x, info)`` of the method ``name`` (cg, bicg, bicgstab, cgs, tfqmr, qmr, gmres,
    minres, lgmres or gcrotmk) on a GPU: ``A`` as :func:`_device_dtype` takes it, ``b`` (and
    ``x0``) CuPy arrays, ``M`` an spgrad array on the GPU, a LinearOperator or a callable
    (bicg: not a callable, it needs ``Mᴴ``; qmr's ``M1`` and ``M2`` likewise); ``x`` is a CuPy
    array.
    SciPy's algorithm, defaults, ``info`` codes and callbacks (which receive the iterate as a
    CuPy array)."""
    from ._isolve import _check_system, _solution_dtype

    callback_type = _solver_options(name, show, callback, callback_type, "on the GPU")

    _check_system(A, b)
    xp = _backend.array_module(b)
    dtype = _solution_dtype(_device_dtype(A, b), b.dtype)
    matvec = _device_product(A, dtype)
    bt = b.reshape(-1).astype(dtype, copy=False)

    if M is None:
        psolve = _identity
    else:
        if getattr(M, "shape", A.shape) != A.shape:
            raise ValueError("matrix and preconditioner have different shapes")
        psolve = _device_operator(M, dtype, xp, "M", b)
    n = bt.shape[0]
    if x0 is None:
        x = xp.zeros(n, dtype=dtype)
    elif isinstance(x0, str):
        if x0 != "Mb":
            raise ValueError(f"x0 must be an array or 'Mb', got {x0!r}")
        x = psolve(bt)
    else:
        _backend.check_same_device(b, x0)
        if tuple(x0.shape) not in ((n,), (n, 1)):
            raise ValueError(f"shapes of A {tuple(A.shape)} and x0 {tuple(x0.shape)} are "
                             f"incompatible")
        x = x0.reshape(-1).astype(dtype)  # a copy: the caller's x0 is never changed
    if name in ("lgmres", "gcrotmk") and not bool(xp.isfinite(bt).all()):
        raise ValueError("RHS must contain only finite numbers")
    if name == "gcrotmk":
        return _gcrotmk_device(xp, matvec, psolve, x, bt, x0 is not None, rtol, atol,
                               1000 if maxiter is None else maxiter, callback, m, k,
                               [] if CU is None else CU, discard_C, truncate)
    if name == "lgmres":
        b_norm = float(xp.linalg.norm(bt))
        if b_norm == 0:
            return bt.copy(), 0
        return _lgmres_device(xp, matvec, psolve, x, bt, _tolerance(name, b_norm, atol, rtol),
                              1000 if maxiter is None else maxiter, callback, inner_m, outer_k,
                              [] if outer_v is None else outer_v, store_outer_Av,
                              prepend_outer_v)
    adjoints = _adjoints(name, A, M, dtype, lambda op, dt, what: _device_adjoint(op, dt, what, b),
                         lambda op, dt, what: _device_operator(op, dt, xp, what, b), M1, M2)
    x, info = _iterate(_DeviceOps(xp), name, matvec, psolve, x, bt, dtype, x0 is not None,
                       rtol=rtol, atol=atol, maxiter=maxiter, callback=callback,
                       restart=restart, callback_type=callback_type, shift=shift, check=check,
                       adjoints=adjoints)
    if name == "minres":
        # SciPy's minres updates x with float64 scalars, so single precision comes back double
        x = x.astype(np.promote_types(dtype, np.float64), copy=False)
    return x, info
