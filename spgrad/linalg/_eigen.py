"""Sparse eigensolvers: ``eigsh``, ``eigs``, ``svds``, ``lobpcg`` (ARPACK, PROPACK, LOBPCG
through SciPy) and ARPACK's exceptions. On a GPU ``eigsh``, ``svds`` and ``lobpcg`` run
cupyx's solvers and ``eigs`` spgrad's Krylov–Schur method (:mod:`spgrad.linalg._eigen_device`,
:mod:`spgrad.linalg._arnoldi_device`).

Plain mode hands the work to :mod:`scipy.sparse.linalg` (spgrad containers converted), so
results, warnings and exceptions are SciPy's. Differentiable mode (``A`` an spgrad container
with torch values, or a dense torch tensor) runs the same solver on the detached values and
attaches the results to autograd with first-order perturbation theory:

==========  ======================================================================
``eigsh``   eigenvalues: ``∂λ_k = v_k v_kᴴ`` on the pattern; eigenvectors (real
            symmetric ``A``, no ``M``): ``∂v_k = -(A - λ_k I)⁺ (·) v_k``, one sparse
            solve of a bordered system per eigenvector that receives a gradient
``svds``    singular values: ``∂σ_k = u_k v_kᴴ`` on the pattern; singular vectors (real
            ``A``) through the eigenvector rule on ``[[0, A], [Aᵀ, 0]]``
``lobpcg``  eigenvalues: ``∂λ_k = x_k x_kᴴ`` on the pattern (``x_k`` B-normalised)
``eigs``    eigenvalues of a general matrix: ``∂λ_k = w_k v_kᴴ`` on the pattern, with the
            left eigenvector ``w_k`` (``w_kᴴ v_k = 1``) from one bordered sparse solve
==========  ======================================================================

Every formula holds where the value is simple (non-degenerate); vectors that are not in the
graph are returned as constant tensors. The backward passes are once differentiable.
"""

import numpy as np
import scipy.sparse as _ss
import scipy.sparse.linalg as _sla

from .. import _backend
from .._base import _spbase
from . import _eigen_device as _device
from ._common import is_differentiable, scipy_wrapper, to_scipy
from ._interface import _detached_operand as _plain_operand

__all__ = ["ArpackError", "ArpackNoConvergence", "eigs", "eigsh", "lobpcg", "svds"]

ArpackError = _sla.ArpackError
ArpackNoConvergence = _sla.ArpackNoConvergence

_scipy_eigsh = scipy_wrapper(_sla.eigsh)
_scipy_eigs = scipy_wrapper(_sla.eigs)
_scipy_svds = scipy_wrapper(_sla.svds)
_scipy_lobpcg = scipy_wrapper(_sla.lobpcg)


def _torch():
    return _backend.torch_module()


def _differentiable_operand(A, name):
    """``(data, pattern, detached SciPy/NumPy A)`` of the matrix being differentiated."""
    if _backend.is_tensor(A):
        if A.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D matrix, got shape {tuple(A.shape)}")
        return A, None, _backend.to_numpy(A)
    if isinstance(A, _spbase):
        from .._autograd import _ops

        C = A.tocsr()
        return _ops.values(C.data), _ops.pattern(C), to_scipy(C)
    raise NotImplementedError(
        f"{name}: gradients need the matrix entries; differentiable mode supports spgrad "
        f"sparse containers with torch values and dense torch tensors, got {type(A).__name__} "
        f"(a LinearOperator works in plain mode with NumPy vectors)"
    )


def _reject_torch(name, **operands):
    """Gradients flow to ``A`` only: an auxiliary operand that requires grad is an error
    (rather than a silently missing gradient)."""
    for key, value in operands.items():
        values = value.data if isinstance(value, _spbase) else value
        if _backend.is_tensor(values) and values.requires_grad:
            raise NotImplementedError(
                f"{name}: gradients flow to A only; pass {key} with NumPy/SciPy values "
                f"(or values that do not require grad)"
            )


def _tensor(x, like):
    return _backend.as_tensor(np.array(x, order="C", copy=True)).to(like.device)


def _pinv_solver(S, w, V):
    """``solve(k, r)``: ``x = (A - w_k I)⁺ r`` for ``r ⊥ v_k`` through the bordered system
    ``[[A - w_k I, v_k], [v_kᵀ, 0]] [x; μ] = [r; 0]``, which is nonsingular when ``w_k`` is a
    simple eigenvalue (its solution has ``x ⊥ v_k`` and ``μ = 0``). One LU per ``k``, cached."""
    n = S.shape[0]
    factors = {}

    def solve(k, r):
        torch = _torch()
        if k not in factors:
            vk = V[:, k][:, None]
            if _ss.issparse(S):
                shifted = _ss.csc_array(S) - w[k] * _ss.eye_array(n, format="csc")
                K = _ss.block_array([[shifted, _ss.csc_array(vk)],
                                     [_ss.csc_array(vk.T), None]], format="csc")
                factors[k] = _sla.splu(K).solve
            else:
                K = np.block([[S - w[k] * np.eye(n), vk], [vk.T, np.zeros((1, 1))]])
                factors[k] = lambda b, K=K: np.linalg.solve(K, b)
        rhs = np.append(_backend.to_numpy(r).astype(V.dtype), 0.0)
        return torch.from_numpy(np.ascontiguousarray(factors[k](rhs)[:n])).to(r.dtype)

    return solve


def _augmented_solver(S, s, U, V):
    """``solve(k, r) = (H - σ_k I)⁺ r`` for ``H = [[0, A], [Aᵀ, 0]]`` and ``r ⊥ z_k``,
    ``z_k = [u_k; v_k] / √2`` (see :class:`~spgrad._autograd._matfuncs_ops.SingularTriplets`)."""
    if _ss.issparse(S):
        H = _ss.block_array([[None, S], [S.T, None]], format="csc")
    else:
        m, n = S.shape
        H = np.block([[np.zeros((m, m)), S], [S.T, np.zeros((n, n))]])
    return _pinv_solver(H, s, np.vstack((U, V)) * 2.0 ** -0.5)


def _match_order(w_target, w):
    """Permutation ``p`` with ``w[p] ≈ w_target`` (nearest unused value)."""
    free = list(range(len(w)))
    order = []
    for value in w_target:
        j = min(free, key=lambda i: abs(w[i] - value))
        free.remove(j)
        order.append(j)
    return np.array(order, dtype=np.intp)


def eigsh(A, k=6, M=None, sigma=None, which="LM", v0=None, ncv=None, maxiter=None, tol=0,
          return_eigenvectors=True, Minv=None, OPinv=None, mode="normal", rng=None):
    """Eigenvalues and eigenvectors of a real symmetric or complex Hermitian matrix (ARPACK).

    Parameters, results, warnings and exceptions are those of
    :func:`scipy.sparse.linalg.eigsh`. In differentiable mode (``A`` an spgrad container
    with torch values, or a dense torch tensor) the eigenvalues are torch tensors whose
    gradient is ``v_k v_kᴴ`` on ``A``'s stored pattern; for a real ``A`` without ``M`` the
    eigenvectors are differentiable too (for simple eigenvalues; one sparse LU of a bordered
    ``(n+1) × (n+1)`` system per eigenvector that receives a gradient). Eigenvector signs are
    ARPACK's (arbitrary, as in SciPy), so a loss should be sign-invariant. With ``M`` or a
    complex ``A`` the eigenvectors are returned as constants. ``A`` must be symmetric for the
    gradients to mean anything: parametrise it symmetrically (``B + B.T``). With
    ``return_eigenvectors=False`` the solver runs twice (once for SciPy's value order, once
    for the vectors the gradient needs).

    Examples
    --------
    >>> import numpy as np, torch, spgrad as sp
    >>> from spgrad.linalg import eigsh
    >>> A = sp.csr_array(np.diag([1.0, 2.0, 3.0, 4.0])).requires_grad_()
    >>> w, v = eigsh(A, k=1, which="LA")
    >>> w.grad_fn is not None, w.detach().numpy().round(10)
    (True, array([4.]))
    >>> w.sum().backward()
    >>> A.grad.toarray().diagonal().round(12)
    array([0., 0., 0., 1.])
    """
    if _device.on_gpu(A):
        return _device.eigsh(A, k, M, sigma, which, v0, ncv, maxiter, tol, return_eigenvectors,
                             Minv, OPinv, mode, rng)
    options = {"k": k, "sigma": sigma, "which": which, "ncv": ncv, "maxiter": maxiter,
               "tol": tol, "mode": mode, "rng": rng}
    if not is_differentiable(A):
        return _scipy_eigsh(A, M=_plain_operand(M), v0=_plain_operand(v0),
                            return_eigenvectors=return_eigenvectors,
                            Minv=_plain_operand(Minv), OPinv=_plain_operand(OPinv), **options)
    _reject_torch("eigsh", M=M, Minv=Minv, OPinv=OPinv)
    from .._autograd._matfuncs_ops import SpectralValues, SymmetricEigenpairs

    data, pattern, S = _differentiable_operand(A, "eigsh")
    aux = {"M": _plain_operand(M), "v0": _plain_operand(v0), "Minv": _plain_operand(Minv),
               "OPinv": _plain_operand(OPinv)}
    w, V = _sla.eigsh(S, return_eigenvectors=True, **aux, **options)
    if not return_eigenvectors:
        order = _match_order(_sla.eigsh(S, return_eigenvectors=False, **aux, **options), w)
        w, V = w[order], V[:, order]
    w_t, V_t = _tensor(w, data), _tensor(V, data)
    if M is None and not np.iscomplexobj(V) and not data.is_complex():
        w_t, V_t = SymmetricEigenpairs.apply(data, w_t, V_t, pattern, _pinv_solver(S, w, V))
    else:
        w_t = SpectralValues.apply(data, w_t, V_t, V_t, pattern)
    return (w_t, V_t) if return_eigenvectors else w_t


def _left_eigenvectors(S, w, V):
    """Left eigenvectors ``W`` with ``W[:, k]ᴴ V[:, k] = 1``: ``w_k`` solves the bordered system
    ``[[Aᴴ - conj(λ_k) I, v_k], [v_kᴴ, 0]] [w_k; μ] = [0; 1]``, nonsingular for a simple
    eigenvalue (then ``μ = 0``). One complex LU per eigenvalue."""
    n = S.shape[0]
    W = np.empty(V.shape, dtype=np.complex128)
    rhs = np.zeros(n + 1, dtype=np.complex128)
    rhs[-1] = 1.0
    for k in range(V.shape[1]):
        vk = V[:, k][:, None].astype(np.complex128)
        try:
            if _ss.issparse(S):
                shifted = (_ss.csc_array(S).conj().T.astype(np.complex128)
                           - np.conj(w[k]) * _ss.eye_array(n, format="csc"))
                K = _ss.block_array([[shifted, _ss.csc_array(vk)],
                                     [_ss.csc_array(vk.conj().T), None]], format="csc")
                x = _sla.splu(K).solve(rhs)
            else:
                K = np.block([[S.conj().T - np.conj(w[k]) * np.eye(n), vk],
                              [vk.conj().T, np.zeros((1, 1))]])
                x = np.linalg.solve(K, rhs)
        except (RuntimeError, np.linalg.LinAlgError) as e:
            raise ValueError(
                f"eigs: the eigenvalue {w[k]} is not simple, so its derivative is undefined"
            ) from e
        W[:, k] = x[:n]
    return W


def eigs(A, k=6, M=None, sigma=None, which="LM", v0=None, ncv=None, maxiter=None, tol=0,
         return_eigenvectors=True, Minv=None, OPinv=None, OPpart=None, rng=None):
    """Eigenvalues and eigenvectors of a square matrix (ARPACK), as
    :func:`scipy.sparse.linalg.eigs`.

    In differentiable mode (``A`` an spgrad container with torch values, or a dense torch
    tensor; ``M`` not given) the eigenvalues are complex torch tensors with the gradient of a
    simple eigenvalue of a general matrix, ``∂λ_k = w_k v_kᴴ`` on ``A``'s stored pattern with
    ``w_k`` the left eigenvector scaled so that ``w_kᴴ v_k = 1``. ARPACK does not return left
    eigenvectors, so each is found from one sparse LU of a bordered ``(n+1) × (n+1)`` system
    (``[[Aᴴ - conj(λ_k) I, v_k], [v_kᴴ, 0]]``) after the solve. The eigenvectors are
    returned as constant tensors; a degenerate eigenvalue raises ``ValueError``. With
    ``return_eigenvectors=False`` the solver runs twice (SciPy's value order, then vectors).

    Examples
    --------
    >>> import numpy as np, torch, spgrad as sp
    >>> from spgrad.linalg import eigs
    >>> A = sp.csr_array(np.array([[4.0, 1.0, 0.0], [0.0, 2.0, 1.0], [0.0, 0.0, 1.0]]))
    >>> w, v = eigs(A, k=1)
    >>> w
    array([4.+0.j])
    >>> A.requires_grad_()  # doctest: +ELLIPSIS
    <...>
    >>> w, v = eigs(A, k=1)
    >>> w.real.sum().backward()
    >>> A.grad.toarray().round(12) + 0.0  # λ = A[0, 0] for this triangular matrix
    array([[1., 0., 0.],
           [0., 0., 0.],
           [0., 0., 0.]])
    """
    if _device.on_gpu(A):
        return _device.eigs(A, k, M, sigma, which, v0, ncv, maxiter, tol, return_eigenvectors,
                            Minv, OPinv, OPpart, rng)
    options = {"k": k, "sigma": sigma, "which": which, "ncv": ncv, "maxiter": maxiter,
               "tol": tol, "OPpart": OPpart, "rng": rng}
    if not is_differentiable(A):
        return _scipy_eigs(A, M=_plain_operand(M), v0=_plain_operand(v0),
                           return_eigenvectors=return_eigenvectors,
                           Minv=_plain_operand(Minv), OPinv=_plain_operand(OPinv), **options)
    if M is not None:
        raise NotImplementedError(
            "eigs: gradients are supported for the standard problem (M=None); for a "
            "generalised problem pass NumPy values"
        )
    _reject_torch("eigs", Minv=Minv, OPinv=OPinv)
    from .._autograd._matfuncs_ops import SpectralValues

    data, pattern, S = _differentiable_operand(A, "eigs")
    aux = {"v0": _plain_operand(v0), "Minv": _plain_operand(Minv),
           "OPinv": _plain_operand(OPinv)}
    w, V = _sla.eigs(S, return_eigenvectors=True, **aux, **options)
    if not return_eigenvectors:
        order = _match_order(_sla.eigs(S, return_eigenvectors=False, **aux, **options), w)
        w, V = w[order], V[:, order]
    W = _left_eigenvectors(S, w, V)
    w_t, V_t = _tensor(w, data), _tensor(V, data)
    w_t = SpectralValues.apply(data, w_t, _tensor(W, data), V_t, pattern)
    return (w_t, V_t) if return_eigenvectors else w_t


def svds(A, k=6, ncv=None, tol=0, which="LM", v0=None, maxiter=None,
         return_singular_vectors=True, solver="arpack", rng=None, options=None):
    """Partial singular value decomposition (ARPACK, LOBPCG or PROPACK), as
    :func:`scipy.sparse.linalg.svds`.

    In differentiable mode (torch values) the singular values are torch tensors with gradient
    ``u_k v_kᴴ`` on ``A``'s stored pattern (valid for simple, nonzero singular values). For a
    real ``A`` the singular vectors are differentiable too: ``(σ_k, [u_k; v_k]/√2)`` is an
    eigenpair of ``[[0, A], [Aᵀ, 0]]``, and each singular pair that receives a gradient costs
    one sparse LU of a bordered ``(m+n+1) × (m+n+1)`` system. Signs are arbitrary (a joint
    flip of ``u_k`` and ``v_k``), so a loss should be invariant to them. For a complex ``A``
    the singular vectors are constants.

    Examples
    --------
    >>> import numpy as np, torch, spgrad as sp
    >>> from spgrad.linalg import svds
    >>> A = sp.csr_array(np.array([[3.0, 0.0], [0.0, -1.0], [0.0, 0.0]])).requires_grad_()
    >>> s = svds(A, k=1, return_singular_vectors=False)
    >>> s.grad_fn is not None, s.detach().numpy().round(10)
    (True, array([3.]))
    >>> s.sum().backward()
    >>> A.grad.toarray().round(12) + 0.0
    array([[1., 0.],
           [0., 0.],
           [0., 0.]])
    """
    if _device.on_gpu(A):
        return _device.svds(A, k, ncv, tol, which, v0, maxiter, return_singular_vectors,
                            solver, rng, options)
    kwargs = {"k": k, "ncv": ncv, "tol": tol, "which": which, "maxiter": maxiter,
              "solver": solver, "rng": rng, "options": options}
    if not is_differentiable(A):
        return _scipy_svds(A, v0=_plain_operand(v0),
                           return_singular_vectors=return_singular_vectors, **kwargs)
    from .._autograd._matfuncs_ops import SingularTriplets, SpectralValues

    data, pattern, S = _differentiable_operand(A, "svds")
    if return_singular_vectors not in {True, False, "u", "vh"}:
        raise ValueError(f"`return_singular_vectors` must be in {{True, False, 'u', 'vh'}}, "
                         f"got {return_singular_vectors!r}")
    u, s, vh = _sla.svds(S, v0=_plain_operand(v0), return_singular_vectors=True, **kwargs)
    u_t, s_t, vh_t = _tensor(u, data), _tensor(s, data), _tensor(vh, data)
    if np.iscomplexobj(u) or data.is_complex():
        s_t = SpectralValues.apply(data, s_t, u_t, vh_t.conj().T, pattern)
    else:
        s_t, u_t, v_t = SingularTriplets.apply(data, s_t, u_t, vh_t.T, pattern,
                                               _augmented_solver(S, s, u, vh.T))
        vh_t = v_t.T
    if not return_singular_vectors:
        return s_t
    return (u_t if return_singular_vectors in (True, "u") else None, s_t,
            vh_t if return_singular_vectors in (True, "vh") else None)


def lobpcg(A, X, B=None, M=None, Y=None, tol=None, maxiter=None, largest=True,
           verbosityLevel=0, retLambdaHistory=False, retResidualNormsHistory=False,
           restartControl=20):
    """Locally Optimal Block Preconditioned Conjugate Gradient eigensolver, as
    :func:`scipy.sparse.linalg.lobpcg`.

    In differentiable mode (``A`` with torch values) the eigenvalues are torch tensors with
    gradient ``x_k x_kᴴ`` on ``A``'s stored pattern (``x_k`` B-normalised; simple eigenvalues);
    the eigenvectors and histories are constants. ``X``, ``M`` and ``Y`` are detached; ``B``
    must be constant (NumPy/SciPy values).

    Examples
    --------
    >>> import numpy as np, torch, spgrad as sp
    >>> from spgrad.linalg import lobpcg
    >>> A = sp.csr_array(np.diag(np.arange(1.0, 11.0))).requires_grad_()
    >>> X = np.random.default_rng(0).standard_normal((10, 1))
    >>> w, v = lobpcg(A, X, largest=True, tol=1e-10, maxiter=200)
    >>> round(float(w[0].detach()), 8)
    10.0
    """
    if _device.on_gpu(A):
        return _device.lobpcg(A, X, B, M, Y, tol, maxiter, largest, verbosityLevel,
                              retLambdaHistory, retResidualNormsHistory, restartControl)
    kwargs = {"tol": tol, "maxiter": maxiter, "largest": largest,
              "verbosityLevel": verbosityLevel, "retLambdaHistory": retLambdaHistory,
              "retResidualNormsHistory": retResidualNormsHistory,
              "restartControl": restartControl}
    plain = {name: _plain_operand(x, "spgrad.linalg.lobpcg")
             for name, x in (("X", X), ("M", M), ("Y", Y))}
    if not is_differentiable(A):
        return _scipy_lobpcg(A, B=_plain_operand(B), **plain, **kwargs)
    _reject_torch("lobpcg", B=B)
    from .._autograd._matfuncs_ops import SpectralValues

    data, pattern, S = _differentiable_operand(A, "lobpcg")
    result = _sla.lobpcg(S, B=_plain_operand(B), **plain, **kwargs)
    w, V = result[0], result[1]
    w_t, V_t = _tensor(w, data), _tensor(V, data)
    w_t = SpectralValues.apply(data, w_t, V_t, V_t, pattern)
    if len(result) == 2:
        return w_t, V_t
    return (w_t, V_t) + tuple(result[2:])
