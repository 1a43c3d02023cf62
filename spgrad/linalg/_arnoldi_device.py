"""Eigenvalues of a general square matrix on a GPU: a Krylov–Schur Arnoldi method.

cupyx has no ``eigs``, and ARPACK runs on the host, so spgrad's ``eigs`` on the GPU restarts
its Arnoldi factorisation the Krylov–Schur way (Stewart, 2001), which selects the same
Ritz values ARPACK's implicit restarts keep:

1. extend ``A V_j = V_j H_j + f e_jᵀ`` to ``ncv`` vectors, each new vector orthogonalised
   twice (classical Gram-Schmidt with one re-orthogonalisation) against the basis;
2. stop when the ``k`` wanted Ritz values have residuals ``|h_{m+1,m} y_{m,i}|`` below
   ``tol · max(ε^{2/3}, |θ_i|)``, ARPACK's test (``tol = 0``: machine precision), plus
   ``ε ‖H‖``, the rounding floor of the residuals (a backward error of machine precision);
3. otherwise reorder the complex Schur form ``H = Z T Zᴴ`` so that the ``k + (ncv − k) / 2``
   best Ritz values lead, keep those Schur vectors (locking the leading ones that have
   converged: their residual entries become exact zeros) and continue from step 1.

The Krylov basis stays on the device (rows of one ``(ncv + 1) × n`` array, complex, as the
eigenvectors are); the small ``ncv × ncv`` matrices are host arrays: each step reads back its
``j + 1`` projections, and each restart moves the kept Schur vectors to the device. Results
follow SciPy's dtypes (complex of the matrix's precision) and errors
(``ArpackNoConvergence`` with the converged pairs); the eigenvalues come most wanted first.
"""

import numpy as np
import scipy.linalg
import scipy.sparse.linalg as _sla

__all__ = []

#: which -> key whose largest values are wanted (``complex_matrix`` for LI/SI: a real matrix's
#: conjugate pairs rank by the magnitude of their imaginary parts, as in ARPACK's dnaupd)
_WHICH = ("LM", "SM", "LR", "SR", "LI", "SI")


def _key(which, complex_matrix, eps):
    """The ranking key of ``which`` (largest wanted). For a real matrix computed in complex
    arithmetic, imaginary parts at rounding level count as zero, so that its real
    eigenvalues tie under LI/SI as they do in ARPACK's real arithmetic."""
    if which == "LM":
        return np.abs
    if which == "SM":
        return lambda t: -np.abs(t)
    if which == "LR":
        return np.real
    if which == "SR":
        return lambda t: -np.real(t)
    sign = 1.0 if which == "LI" else -1.0
    if complex_matrix:
        return lambda t: sign * np.imag(t)

    def key(t):
        imag = np.abs(np.imag(t))
        return sign * np.where(imag <= 1e3 * eps * np.maximum(np.abs(t), 1.0), 0.0, imag)

    return key


def _start_vector(xp, n, dtype, seed):
    """A deterministic, unstructured start (ARPACK starts from a random vector): no host
    random numbers, so nothing is copied to the device."""
    t = xp.arange(n, dtype=np.float64)
    return (xp.sin(t * 12.9898 + 78.233 * (seed + 1)) * 43758.5453 % 1.0 - 0.5).astype(dtype)


def _extend(xp, op, V, H, start, m, eps):
    """Arnoldi steps ``start .. m - 1`` on the device basis ``V`` (rows) into the host
    Hessenberg ``H``; an invariant subspace is continued from a fresh start vector."""
    n = V.shape[1]
    for j in range(start, m):
        w = op(V[j])
        h = V[:j + 1].conj() @ w
        w = w - h @ V[:j + 1]
        h2 = V[:j + 1].conj() @ w  # re-orthogonalisation (DGKS: twice is enough)
        w = w - h2 @ V[:j + 1]
        H[:j + 1, j] = xp.asnumpy(h + h2)
        beta = float(xp.linalg.norm(w))
        if beta <= eps * max(float(np.abs(H[:j + 1, j]).sum()), 1e-300):
            H[j + 1, j] = 0.0  # invariant subspace: continue orthogonally, as ARPACK does
            w = _start_vector(xp, n, V.dtype, j)
            for _ in range(2):
                w = w - (V[:j + 1].conj() @ w) @ V[:j + 1]
            beta_new = float(xp.linalg.norm(w))
            V[j + 1] = w / beta_new
        else:
            H[j + 1, j] = beta
            V[j + 1] = w / beta


def krylov_schur(op, n, k, which, dtype, xp, *, ncv, maxiter, tol, v0, complex_matrix):
    """``(theta, X, converged)``: the ``k`` wanted eigenvalues of the operator ``op`` (device
    vectors of ``dtype``, complex) with their unit eigenvectors as the columns of ``X``, most
    wanted first; ``converged`` False when ``maxiter`` restarts did not suffice (then the
    converged leading pairs only)."""
    eps = float(np.finfo(dtype).eps)
    tol = eps if not tol else float(tol)
    key = _key(which, complex_matrix, eps)
    m = ncv
    V = xp.zeros((m + 1, n), dtype=dtype)
    H = np.zeros((m + 1, m), dtype=dtype)
    v = _start_vector(xp, n, dtype, 0) if v0 is None else v0.astype(dtype)
    norm = float(xp.linalg.norm(v))
    if norm == 0:
        raise ValueError("Starting vector is zero")  # (ARPACK: info = -9)
    V[0] = v / norm
    keep, p = k + (m - k) // 2, 0
    for _ in range(maxiter):
        _extend(xp, op, V, H, p, m, eps)
        theta, Y = scipy.linalg.eig(H[:m, :m])
        order = np.lexsort((-np.abs(theta), -key(theta)))  # ties: larger magnitude first
        residual = abs(H[m, m - 1]) * np.abs(Y[m - 1, order[:k]])
        # ARPACK's test, plus the rounding floor ε‖H‖ below which the residuals of Schur
        # vectors cannot go (a backward error of machine precision)
        rounding = eps * np.linalg.norm(H[:m + 1, :m])
        bound = tol * np.maximum(eps ** (2 / 3), np.abs(theta[order[:k]])) + rounding
        done = residual <= bound
        if done.all():
            return theta[order[:k]], _ritz_vectors(xp, V[:m], Y[:, order[:k]]), True
        T, Z, p = _ordered_schur(H[:m, :m], key(theta)[order], k, keep, key, eps)
        Zp = xp.asarray(np.ascontiguousarray(Z[:, :p].T.astype(dtype)))
        V[:p] = Zp @ V[:m]
        V[p] = V[m]
        spike = H[m, m - 1] * Z[m - 1, :p]
        # lock the leading Schur vectors that have converged: their residual entries become
        # exact zeros (a backward error within the tolerance), so that rounding in later
        # restarts cannot lift them above it again
        floor = tol * np.maximum(eps ** (2 / 3), np.abs(np.diag(T)[:p])) + rounding
        locked = 0
        while locked < min(k, p) and abs(spike[locked]) <= floor[locked]:
            locked += 1
        spike[:locked] = 0
        H[:] = 0
        H[:p, :p] = T[:p, :p]
        H[p, :p] = spike
    first = int(np.argmin(done)) if not done.all() else k  # the converged leading pairs
    return theta[order[:first]], _ritz_vectors(xp, V[:m], Y[:, order[:first]]), False


def _ordered_schur(Hm, ranked, k, keep, key, eps):
    """``(T, Z, p)``: a complex Schur form ``Hm = Z T Zᴴ`` whose leading ``k`` diagonal
    entries are the wanted Ritz values and the next ones the rest of the ``keep`` best
    (``ranked``: the keys of the Ritz values, best first); ``p`` how many lead (at least
    ``k``, below ``len(Hm)``). A margin lets the rounding of the Schur form's eigenvalues keep
    the ones the eigenvalues ranked."""
    def above(rank):
        return ranked[rank - 1] - 1e3 * eps * max(abs(ranked[rank - 1]), 1.0)

    wanted, kept = above(k), above(keep)
    T, Z, first = scipy.linalg.schur(Hm, output="complex", sort=lambda t: key(t) >= wanted)
    # then the trailing block's Schur form, the rest of the kept values first
    T2, Z2, second = scipy.linalg.schur(T[first:, first:], output="complex",
                                        sort=lambda t: key(t) >= kept)
    Z[:, first:] = Z[:, first:] @ Z2
    T[:first, first:] = T[:first, first:] @ Z2
    T[first:, first:] = T2
    return T, Z, min(max(first + second, k), len(Hm) - 1)


def _ritz_vectors(xp, V, Y):
    """``V Y`` (the basis as rows) as unit columns on the device."""
    X = (xp.asarray(np.ascontiguousarray(Y.T.astype(V.dtype))) @ V).T
    norms = xp.linalg.norm(X, axis=0)
    return xp.ascontiguousarray(X / xp.where(norms == 0, 1, norms))


_SEUPD_WHICH = ("LM", "SM", "LA", "SA", "BE")


def check_arguments(n, k, ncv, which, maxiter, hermitian=False):
    """SciPy's checks of the arguments of ``eigs`` (or, ``hermitian``, of ``eigsh`` for a real
    symmetric ``A``; SciPy's eigsh hands a complex Hermitian one to eigs), in its order, with
    its messages; returns ``(ncv, maxiter)`` with SciPy's defaults (``ncv = min(max(2k + 1,
    20), n)``, ``maxiter = 10 n``)."""
    import warnings

    solver, limit, choices = (("eigh", n, _SEUPD_WHICH) if hermitian
                              else ("eig", n - 1, _WHICH))
    if k <= 0:
        raise ValueError("k must be greater than 0." if hermitian
                         else f"k={k} must be greater than 0.")
    if k >= limit:
        bound = "N" if hermitian else "N - 1"
        warnings.warn(f"k >= {bound} for N * N square matrix. Attempting to use "
                      f"scipy.linalg.{solver} instead.", RuntimeWarning, stacklevel=4)
        raise TypeError(f"Cannot use scipy.linalg.{solver} for sparse A with k >= {bound}. "
                        f"Use scipy.linalg.{solver}(A.toarray()) or reduce k.")
    if which not in choices:
        raise ValueError(f"{'which' if hermitian else 'Parameter which'} must be one of "
                         f"{' '.join(choices)}")
    maxiter = n * 10 if maxiter is None else maxiter
    if maxiter <= 0:
        raise ValueError(f"maxiter must be positive, maxiter={maxiter}")
    ncv = min(max(2 * k + 1, 20) if ncv is None else ncv, n)
    if ncv <= (k if hermitian else k + 1):
        raise ValueError(f"ncv must be {'k' if hermitian else 'k+1'}<ncv<=n, ncv={ncv}")
    return ncv, maxiter


def complex_dtype(dtype):
    """The complex type of a matrix's precision (SciPy's eigs result type)."""
    return np.dtype(np.complex64 if np.dtype(dtype) in (np.float32, np.complex64)
                    else np.complex128)


def no_convergence(theta, X, maxiter, k):
    """SciPy's ``ArpackNoConvergence`` carrying the converged pairs."""
    return _sla.ArpackNoConvergence(
        f"ARPACK error -1: No convergence ({maxiter} iterations, {len(theta)}/{k} "
        f"eigenvectors converged)", theta, X)
