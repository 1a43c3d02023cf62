"""Matrix functions on a GPU: ``funm_multiply_krylov`` of an spgrad array there.

SciPy's restarted Krylov method (Arnoldi, or Lanczos for ``assume_a='hermitian'``) with the
Krylov vectors on the device: the products are spgrad's GPU products (or a LinearOperator's
on CuPy arrays), the small Hessenberg matrix is a host array built from the dot products read
back, ``f`` is applied to it on the host (as SciPy applies it, to a NumPy matrix), and the
result is combined from the device vectors with its coefficients as host scalars, so no array
crosses between host and device.
"""

import numpy as np

from .. import _backend

__all__ = []

_NAME = "scipy.sparse.linalg.funm_multiply_krylov"


def _krylov_basis(xp, matvec, b, bnorm, V, H, m, hermitian, norm_tol):
    """SciPy's Arnoldi (or Lanczos) process from ``b / bnorm``: fills the device vectors
    ``V[0..m]`` (a list) and the host Hessenberg block ``H`` (``(m + 1) × m``); returns
    ``(breakdown, j)`` as SciPy's ``_funm_multiply_krylov_arnoldi``/``_lanczos`` do."""
    V[0] = (b / bnorm).astype(H.dtype, copy=False)
    for k in range(m):
        w = matvec(V[k])
        if hermitian:
            if k > 0:
                w = w - H[k, k - 1] * V[k - 1]
            H[k, k] = xp.vdot(w, V[k]).item()
            w = w - H[k, k] * V[k]
        else:
            for i in range(k + 1):
                H[i, k] = xp.vdot(V[i], w).item()
                w = w - H[i, k] * V[i]
        H[k + 1, k] = float(xp.linalg.norm(w))
        V[k + 1] = w
        if H[k + 1, k] < norm_tol:
            return True, k
        V[k + 1] = w / H[k + 1, k]
        if hermitian and k < m - 1:
            H[k, k + 1] = H[k + 1, k]
    return False, m


def _combine(V, coefficients, scale):
    """``scale * Σ_i coefficients[i] V[i]`` from device vectors and host coefficients."""
    if len(coefficients) == 0:
        return V[0] * (scale * np.zeros(1, dtype=coefficients.dtype)[0])
    y = V[0] * (scale * coefficients[0])
    for v, c in zip(V[1:len(coefficients)], coefficients[1:]):
        y = y + (scale * c) * v
    return y


def funm_multiply_krylov(f, A, b, *, assume_a="general", t=1.0, atol=0.0, rtol=1e-6,
                         restart_every_m=None, max_restarts=20):
    """``f(tA) b`` on the GPU by SciPy's restarted Krylov method: ``A`` an spgrad array on
    the GPU or a LinearOperator on CuPy arrays, ``b`` a 1-D CuPy array; the result is a CuPy
    array. SciPy's checks, restart rules, tolerances and dtypes."""
    from ._krylov import _device_dtype, _device_product, _tolerance

    if assume_a not in {"hermitian", "general", "her", "gen"}:
        raise ValueError(f"{_NAME}: {assume_a} is not a recognized matrix structure")
    hermitian = assume_a in ("her", "hermitian")
    if len(b.shape) != 1:
        raise ValueError(f"{_NAME}: argument 'b' must be a 1D array.")
    xp = _backend.array_module(b)
    n = b.shape[0]
    m = int(min(20, n) if restart_every_m is None else restart_every_m)
    max_restarts = int(max_restarts)
    if m <= 0:
        raise ValueError(f"{_NAME}: argument 'restart_every_m' must be positive.")
    if max_restarts <= 0:
        raise ValueError(f"{_NAME}: argument 'max_restarts' must be positive.")
    max_restarts = min(max_restarts, int(n / m) + 1)
    a_dtype = _device_dtype(A, b)
    bnorm = float(xp.linalg.norm(b))
    atol = _tolerance("funm_multiply_krylov", bnorm, atol, rtol)
    if bnorm == 0:
        return b.copy()
    dtype = np.dtype(np.common_type(np.empty(0, a_dtype), np.empty(0, b.dtype)))
    matvec = _device_product(A, dtype)
    V = [None] * (m + 1)
    H = np.zeros((m * max_restarts + 1, m * max_restarts), dtype=dtype, order="F")
    # (SciPy's breakdown tolerance follows b's precision in the first cycle, then the
    # internal precision of the restart vectors)
    breakdown, j = _krylov_basis(xp, matvec, b, bnorm, V, H[:m + 1, :m], m, hermitian,
                                 np.finfo(b.dtype).eps ** 2)
    fH = f(t * H[:j, :j])
    y = _combine(V, fH[:j, 0], bnorm)
    if breakdown:
        return y
    update_norm = np.linalg.norm(bnorm * fH[:, 0])
    restart = 1
    while restart < max_restarts and update_norm > atol:
        begin, end = restart * m, (restart + 1) * m
        breakdown, j = _krylov_basis(xp, matvec, V[m], 1, V, H[begin:end + 1, begin:end], m,
                                     hermitian, np.finfo(dtype).eps ** 2)
        if breakdown:  # (SciPy's own code has a shape error here: its V[:, :m] has m columns)
            end = begin + j
            fH = f(t * H[:end, :end])
            return y + _combine(V, fH[begin:end, 0], bnorm)
        fH = f(t * H[:end, :end])
        y = y + _combine(V, fH[begin:end, 0], bnorm)
        update_norm = np.linalg.norm(bnorm * fH[begin:end, 0])
        restart += 1
    return y


# -- onenormest -------------------------------------------------------------------------------


def _signs(xp, shape):
    """Random ±1 columns drawn as SciPy draws them (NumPy's global generator, so that a seeded
    run repeats SciPy's), copied to the device: the only host-to-device copy."""
    return xp.asarray(np.random.randint(0, 2, size=shape) * 2 - 1).astype(np.float64)


def _parallel(xp, v, w):
    """SciPy's ``vectors_are_parallel`` for two columns of ±1 (or unit complex) entries."""
    return (v @ w).item() == v.shape[0]


def _needs_resampling(xp, i, X, Y=None):
    """SciPy's ``column_needs_resampling``: column ``i`` of ``X`` parallel to an earlier one,
    or to a column of ``Y``."""
    if any(_parallel(xp, X[:, i], X[:, j]) for j in range(i)):
        return True
    return Y is not None and any(_parallel(xp, X[:, i], Y[:, j]) for j in range(Y.shape[1]))


def _sign_round_up(xp, Y):
    """``Y / |Y|`` with 1 where ``Y`` is 0 (SciPy's ``sign_round_up``)."""
    S = xp.where(Y == 0, 1, Y)
    return S / abs(S)


def _less_than_or_close(a, b):
    return np.allclose(a, b) or a < b


def onenormest(A, t=2, itmax=5, compute_v=False, compute_w=False):
    """SciPy's block 1-norm estimator (Higham and Tisseur's Algorithm 2.4) on the GPU: ``A``
    an spgrad array there, a dense CuPy matrix or a LinearOperator on CuPy arrays (with its
    adjoint). The products and the column sums run on the device; the estimate and the
    column choices are host values. Returns SciPy's tuple, ``v`` and ``w`` as CuPy arrays."""
    from .._base import _spbase
    from ._interface import aslinearoperator

    if isinstance(A, _spbase) and A._is_torch:  # an estimate: never differentiated
        A = A._kernel_view()
    op = aslinearoperator(A)
    if op.shape[0] != op.shape[1]:
        raise ValueError("expected the operator to act like a square matrix")
    n = op.shape[1]
    xp = _backend.cupy_module()
    if t >= n:
        explicit = op.matmat(xp.eye(n))
        sums = abs(explicit).sum(axis=0)
        j = int(xp.argmax(sums))
        v = xp.zeros(n)
        v[j] = 1
        est, w = np.float64(sums[j].item()), explicit[:, j]
    else:
        est, v, w = _onenormest_core(xp, op, op.H, t, itmax)
    result = (est,) + ((v,) if compute_v else ()) + ((w,) if compute_w else ())
    return result if len(result) > 1 else est


def _onenormest_core(xp, op, op_h, t, itmax):
    """SciPy's ``_onenormest_core`` on device blocks: ``(est, v, w)``. Its random columns come
    from NumPy's global generator, as SciPy's do; the columns of largest row maxima are chosen
    by a stable sort on the device (NumPy's default sort leaves the order of ties open)."""
    if itmax < 2:
        raise ValueError("at least two iterations are required")
    if t < 1:
        raise ValueError("at least one column is required")
    n = op.shape[0]
    if t >= n:
        raise ValueError("t should be smaller than the order of A")
    X = xp.ones((n, t), dtype=np.float64)
    if t > 1:
        for i in range(1, t):
            X[:, i] = _signs(xp, n)
        for i in range(t):
            while _needs_resampling(xp, i, X):
                X[:, i] = _signs(xp, n)
    X /= float(n)
    ind_hist = np.zeros(0, dtype=np.intp)
    est_old, S, k, ind = 0, xp.zeros((n, t), dtype=np.float64), 1, None
    while True:
        Y = op.matmat(X)
        mags = abs(Y).sum(axis=0)
        best_j = int(xp.argmax(mags))
        est = np.float64(mags[best_j].item())
        if est > est_old or k == 2:
            if k >= 2:
                ind_best = ind[best_j]
            w = Y[:, best_j]
        if k >= 2 and est <= est_old:
            est = est_old
            break
        est_old, S_old = est, S
        if k > itmax:
            break
        S = _sign_round_up(xp, Y)
        del Y
        if all(any(_parallel(xp, S[:, i], S_old[:, j]) for j in range(t)) for i in range(t)):
            break
        if t > 1:
            for i in range(t):
                while _needs_resampling(xp, i, S, S_old):
                    S[:, i] = _signs(xp, n)
        del S_old
        h = abs(op_h.matmat(S)).max(axis=1)
        if k >= 2 and h.max().item() == h[ind_best].item():
            break
        count = t + len(ind_hist)
        # the largest row maxima (their few indices read back as scalars)
        ind = np.array([int(i) for i in xp.argsort(h)[::-1][:count]], dtype=np.intp)
        del h
        if t > 1:
            if np.isin(ind[:t], ind_hist).all():
                break
            seen = np.isin(ind, ind_hist)
            ind = np.concatenate((ind[~seen], ind[seen]))
        X = xp.zeros((n, t), dtype=np.float64)
        for j in range(t):  # unit columns at the chosen indices
            X[int(ind[j]), j] = 1
        new_ind = ind[:t][~np.isin(ind[:t], ind_hist)]
        ind_hist = np.concatenate((ind_hist, new_ind))
        k += 1
    v = xp.zeros(n)
    v[int(ind_best)] = 1
    return est, v, w
