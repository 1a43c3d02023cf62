"""The eigensolvers on a GPU: ``eigsh``, ``svds``, ``lobpcg`` and ``eigs`` of an spgrad array
there (``eigs`` by spgrad's Krylov–Schur method, :mod:`spgrad.linalg._arnoldi_device`).

The solvers are cupyx's (:mod:`spgrad._cuda._vendor`): thick-restart Lanczos for ``eigsh``
(``which`` 'LM', 'LA' or 'SA'), Lanczos on ``AᴴA`` (or ``AAᴴ``) for ``svds`` (``which='LM'``),
and LOBPCG; the options cupyx has no counterpart for raise ``NotImplementedError`` naming
them. Results are CuPy arrays in plain mode. With torch values on the GPU the results are
CUDA tensors in the graph of ``A``'s values, with the rules of the CPU
(:mod:`spgrad.linalg._eigen`): eigenvalue and singular value gradients as one SDDMM on the
pattern; for a real ``A`` also the eigenvectors of ``eigsh`` and the singular vectors of
``svds``, through one bordered system per vector that receives a gradient, factorised by
:func:`spgrad.linalg.splu` on the GPU (SuperLU of a host copy, triangular solves on the GPU).
"""

import numpy as np

from .. import _backend
from .._base import _spbase

__all__ = []


def on_gpu(*operands):
    """True when an operand is an spgrad array on a GPU, a CuPy array or a CUDA tensor."""
    return any((isinstance(x, _spbase) and x._on_gpu) or _backend.is_device_array(x)
               or (_backend.is_tensor(x) and _backend.tensor_device(x) != "cpu")
               for x in operands)


def _unsupported(function, **options):
    """Raise ``NotImplementedError`` for an option that is set (not ``None``; a ``(value,
    default)`` pair: not the default) but that cupyx's solver does not take."""
    for name, value in options.items():
        value, default = value if isinstance(value, tuple) else (value, None)
        unset = value is None if default is None else (
            isinstance(value, type(default)) and value == default)
        if not unset:
            raise NotImplementedError(
                f"{function} on the GPU (cupyx's solver) does not take {name}={value!r}; "
                f"solve on the CPU (A.cpu()) for it")


def _operand(A, function):
    """``(C, data, pattern)``: ``C`` the CSR form of ``A`` on the GPU with CuPy values (the
    detached values in differentiable mode), ``data``/``pattern`` its tensor values and
    pattern when they are a tensor (else ``None``)."""
    if not (isinstance(A, _spbase) and A._on_gpu):
        raise NotImplementedError(
            f"{function} on the GPU takes A as an spgrad sparse array there (A.to('cuda')), "
            f"got {type(A).__name__} on {_backend.device_of(A)}")
    if A.ndim != 2:
        raise ValueError(f"{function}: expected a 2-D matrix, got shape {A.shape}")
    C = A.tocsr()
    if not C._is_torch:
        return C, None, None
    from .._autograd import _ops

    data, pattern = _ops.values(C.data), _ops.pattern(C)
    return C._kernel_view(), data, pattern


def _device_array(x, C, name):
    """An auxiliary operand (``v0``, ``X``, ``Y``; ``B``, ``M`` dense or sparse) on ``C``'s GPU, as
    cupyx takes it: CuPy arrays, sparse arrays in CSR with CuPy values."""
    if x is None:
        return None
    if _backend.is_tensor(x):
        if x.requires_grad:
            raise NotImplementedError(f"gradients flow to A only; pass {name} without "
                                      f"requires_grad")
        x = _backend.kernel_array(x, C.indices)
    _backend.check_same_device(C, x)
    return x._kernel_view().tocsr() if isinstance(x, _spbase) else x


def _tensors(*arrays):
    """CuPy results as tensors on their GPU (sharing their memory)."""
    return tuple(_backend.tensor_of(_backend.array_module(a).ascontiguousarray(a))
                 for a in arrays)


def _pinv_solver(S, w, V):
    """``solve(k, r) = (S - w_k I)⁺ r`` for ``r ⊥ v_k`` on the GPU: the bordered system
    ``[[S - w_k I, v_k], [v_kᵀ, 0]]`` (nonsingular for a simple ``w_k``), factorised once per
    ``k`` by :func:`spgrad.linalg.splu`, solved on the GPU."""
    from .. import _construct
    from ._dsolve import splu

    n = S.shape[0]
    xp = S._xp()
    factors = {}

    def solve(k, r):
        if k not in factors:
            shift = _construct.diags_array(xp.full(n, -float(w[k]), dtype=V.dtype))
            column = S.__class__(V[:, k:k + 1])
            K = _construct.block_array([[S.astype(V.dtype) + shift, column],
                                        [column.T, None]], format="csc")
            factors[k] = splu(K).solve
        rhs = xp.concatenate((_backend.kernel_array(r, S.indices).astype(V.dtype),
                              xp.zeros(1, dtype=V.dtype)))
        (x,) = _tensors(factors[k](rhs)[:n])
        return x.to(r.dtype)

    return solve


def eigsh(A, k, M, sigma, which, v0, ncv, maxiter, tol, return_eigenvectors, Minv, OPinv,
          mode, rng):
    """``eigsh`` on the GPU: cupyx's thick-restart Lanczos for ``which`` 'LM', 'LA' or 'SA';
    spgrad's Krylov–Schur method (:func:`_krylov_schur_eigsh`) for 'SM', 'BE' and
    shift-invert ``sigma``."""
    from .._cuda import _vendor

    _unsupported("eigsh", M=M, Minv=Minv, OPinv=OPinv, mode=(mode, "normal"))
    C, data, pattern = _operand(A, "eigsh")
    if sigma is not None or which not in ("LM", "LA", "SA"):
        w, V = _krylov_schur_eigsh(C, k, sigma, which, v0, ncv, maxiter, tol, rng)
    else:
        _unsupported("eigsh", rng=rng)
        w, V = _vendor.eigsh(C, k=k, which=which, v0=_device_array(v0, C, "v0"), ncv=ncv,
                             maxiter=maxiter, tol=tol, return_eigenvectors=True)
    if data is None:
        return (w, V) if return_eigenvectors else w
    from .._autograd._matfuncs_ops import SpectralValues, SymmetricEigenpairs

    w_t, V_t = _tensors(w, V)
    if not data.is_complex() and not V_t.is_complex():
        w_t, V_t = SymmetricEigenpairs.apply(data, w_t, V_t, pattern, _pinv_solver(C, w, V))
    else:
        w_t = SpectralValues.apply(data, w_t, V_t, V_t, pattern)
    return (w_t, V_t) if return_eigenvectors else w_t


def _shift_invert(Cc, sigma):
    """``v ↦ (A - σI)⁻¹ v`` by :func:`spgrad.linalg.splu` (SuperLU of a host copy, the
    solves on the GPU), in ``Cc``'s dtype."""
    from .. import _construct
    from ._dsolve import splu

    xp = Cc._xp()
    shift = _construct.diags_array(xp.full(Cc.shape[0], -sigma, dtype=Cc.dtype))
    solve = splu((Cc + shift).tocsc()).solve
    return lambda v: solve(v).astype(Cc.dtype, copy=False)


def _krylov_schur_eigsh(C, k, sigma, which, v0, ncv, maxiter, tol, rng):
    """``(w, V)`` of a Hermitian ``C`` by the Krylov–Schur method, as SciPy's eigsh gives
    them: real eigenvalues in ascending order (``which`` ranks them, or with ``sigma`` the
    eigenvalues ``1 / (λ - σ)`` of the shifted inverse; 'BE' half from each end, the odd one
    from the top), eigenvectors real for a real ``C``."""
    from . import _arnoldi_device as ks

    if C.shape[0] != C.shape[1]:
        raise ValueError(f"expected square matrix (shape={C.shape})")
    n = C.shape[0]
    real = C.dtype.kind != "c"
    if real:
        ncv, maxiter = ks.check_arguments(n, k, ncv, which, maxiter, hermitian=True)
    else:  # SciPy's eigsh hands a complex A to eigs
        if which == "BE":
            raise ValueError("which='BE' cannot be used with complex matrix A")
        ncv, maxiter = ks.check_arguments(n, k, ncv, {"LA": "LR", "SA": "SR"}.get(which, which),
                                          maxiter)
    xp = C._xp()
    dtype = ks.complex_dtype(C.dtype)
    Cc = C.astype(dtype)
    op = (lambda v: Cc @ v) if sigma is None else _shift_invert(Cc, sigma)
    start = _start(v0, rng, C, n)
    runs = [("LR", k - k // 2), ("SR", k // 2)] if which == "BE" else \
        [({"LA": "LR", "SA": "SR"}.get(which, which), k)]
    values, vectors = [], []
    for key, count in runs:
        if count == 0:
            continue
        theta, X, converged = ks.krylov_schur(op, n, count, key, dtype, xp, ncv=ncv,
                                              maxiter=maxiter, tol=tol, v0=start,
                                              complex_matrix=True)
        theta = theta.real if sigma is None else sigma + 1.0 / theta.real
        if not converged:
            raise ks.no_convergence(xp.asarray(theta), X, maxiter, k)
        values.append(theta)
        vectors.append(X)
    w = np.concatenate(values)
    order = np.argsort(w, kind="stable")
    V = xp.concatenate(vectors, axis=1)[:, xp.asarray(order)]
    if real:  # a real eigenvector times a phase: undo the phase
        peak = xp.argmax(abs(V), axis=0)
        phase = V[peak, xp.arange(V.shape[1])]
        V = (V * (phase.conj() / abs(phase))).real.astype(C.dtype)
    return xp.asarray(w[order].astype(np.finfo(dtype).dtype)), xp.ascontiguousarray(V)


def _start(v0, rng, C, n):
    """The start vector on ``C``'s GPU: ``v0``, SciPy's random start from ``rng`` (drawn on
    the host), or None (the Krylov–Schur method's own)."""
    start = _device_array(v0, C, "v0")
    if start is None and rng is not None:
        start = C._xp().asarray(np.random.default_rng(rng).uniform(-1.0, 1.0, n))
    return start


def eigs(A, k, M, sigma, which, v0, ncv, maxiter, tol, return_eigenvectors, Minv, OPinv,
         OPpart, rng):
    """``eigs`` on the GPU by spgrad's Krylov–Schur Arnoldi method
    (:mod:`spgrad.linalg._arnoldi_device`): the standard problem, also in shift-invert mode
    (``sigma``: ``(A - σI)⁻¹`` by :func:`spgrad.linalg.splu`, SuperLU of a host copy with the
    solves on the GPU). Differentiable in ``A``'s values as on the CPU: each eigenvalue's
    left eigenvector from one bordered solve by the GPU's ``spsolve``."""
    from . import _arnoldi_device as ks

    _unsupported("eigs", M=M, Minv=Minv, OPinv=OPinv, OPpart=OPpart)
    C, data, pattern = _operand(A, "eigs")
    if C.shape[0] != C.shape[1]:
        raise ValueError(f"expected square matrix (shape={A.shape})")
    n = C.shape[0]
    ncv, maxiter = ks.check_arguments(n, k, ncv, which, maxiter)
    xp = C._xp()
    dtype = ks.complex_dtype(C.dtype)
    Cc = C.astype(dtype)
    op = (lambda v: Cc @ v) if sigma is None else _shift_invert(Cc, sigma)
    theta, X, converged = ks.krylov_schur(op, n, k, which, dtype, xp, ncv=ncv,
                                          maxiter=maxiter, tol=tol, v0=_start(v0, rng, C, n),
                                          complex_matrix=C.dtype.kind == "c")
    w = theta if sigma is None else sigma + 1.0 / theta
    w = xp.asarray(w.astype(dtype))
    if not converged:
        raise ks.no_convergence(w, X, maxiter, k)
    if data is None:
        return (w, X) if return_eigenvectors else w
    from .._autograd._matfuncs_ops import SpectralValues

    w_t, V_t = _tensors(w, X)
    W_t, = _tensors(_left_eigenvectors(Cc, w, X))
    w_t = SpectralValues.apply(data, w_t, W_t, V_t, pattern)
    return (w_t, V_t) if return_eigenvectors else w_t


def _left_eigenvectors(C, w, V):
    """Left eigenvectors ``W`` with ``W[:, k]ᴴ V[:, k] = 1``, each from the bordered system
    ``[[Aᴴ - conj(λ_k) I, v_k], [v_kᴴ, 0]] [w_k; μ] = [0; 1]`` (nonsingular for a simple
    eigenvalue) solved by the GPU's ``spsolve``, as on the CPU."""
    from .. import _construct
    from ._dsolve import spsolve

    n = C.shape[0]
    xp = C._xp()
    rhs = xp.zeros(n + 1, dtype=V.dtype)
    rhs[-1] = 1
    W = xp.empty_like(V)
    CH = C.conj().T.tocsr()
    for k in range(V.shape[1]):
        shift = _construct.diags_array(xp.full(n, -complex(w[k].item()).conjugate(),
                                               dtype=V.dtype))
        column = C.__class__(V[:, k:k + 1])
        K = _construct.block_array([[CH + shift, column], [column.conj().T, None]],
                                   format="csr")
        x = spsolve(K, rhs)
        if not bool(xp.isfinite(x).all()):
            raise ValueError(f"eigs: the eigenvalue {complex(w[k].item())} is not simple, so "
                             f"its derivative is undefined")
        W[:, k] = x[:n]
    return W


def svds(A, k, ncv, tol, which, v0, maxiter, return_singular_vectors, solver, rng, options):
    from .._cuda import _vendor

    _unsupported("svds", v0=v0, rng=rng, options=options, solver=(solver, "arpack"))
    if which != "LM":
        raise NotImplementedError(f"svds on the GPU (cupyx's Lanczos) finds the largest "
                                  f"singular values (which='LM'), got which={which!r}")
    if return_singular_vectors not in {True, False, "u", "vh"}:
        raise ValueError(f"`return_singular_vectors` must be in {{True, False, 'u', 'vh'}}, "
                         f"got {return_singular_vectors!r}")
    C, data, pattern = _operand(A, "svds")
    u, s, vh = _vendor.svds(C, k=k, ncv=ncv, tol=tol, which=which, maxiter=maxiter,
                            return_singular_vectors=True)
    if data is not None:
        from .._autograd._matfuncs_ops import SingularTriplets, SpectralValues

        u_t, s_t, vh_t = _tensors(u, s, vh)
        if data.is_complex() or u_t.is_complex():
            s_t = SpectralValues.apply(data, s_t, u_t, vh_t.conj().T, pattern)
        else:
            # (σ_k, [u_k; v_k] / √2) is an eigenpair of [[0, A], [Aᵀ, 0]]
            from .. import _construct

            H = _construct.block_array([[None, C], [C.T, None]], format="csr")
            Z = C._xp().vstack((u, vh.T)) * 2.0 ** -0.5
            s_t, u_t, v_t = SingularTriplets.apply(data, s_t, u_t, vh_t.T, pattern,
                                                   _pinv_solver(H, s, Z))
            vh_t = v_t.T
        u, s, vh = u_t, s_t, vh_t
    if not return_singular_vectors:
        return s
    return (u if return_singular_vectors in (True, "u") else None, s,
            vh if return_singular_vectors in (True, "vh") else None)


def lobpcg(A, X, B, M, Y, tol, maxiter, largest, verbosityLevel, retLambdaHistory,
           retResidualNormsHistory, restartControl):
    from .._cuda import _vendor

    _unsupported("lobpcg", restartControl=(restartControl, 20))
    C, data, pattern = _operand(A, "lobpcg")
    if data is not None and isinstance(B, _spbase) and B._is_torch and B.data.requires_grad:
        raise NotImplementedError("lobpcg: gradients flow to A only; pass B with values that "
                                  "do not require grad")
    aux = {name: _device_array(x, C, name) for name, x in (("B", B), ("M", M), ("Y", Y))}
    result = _vendor.lobpcg(C, _device_array(X, C, "X"), **aux, tol=tol, maxiter=maxiter,
                            largest=largest, verbosityLevel=verbosityLevel,
                            retLambdaHistory=retLambdaHistory,
                            retResidualNormsHistory=retResidualNormsHistory)
    if data is None:
        return result
    from .._autograd._matfuncs_ops import SpectralValues

    w, V = _tensors(result[0], result[1])
    w = SpectralValues.apply(data, w, V, V, pattern)
    return (w, V) + tuple(result[2:])

