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
