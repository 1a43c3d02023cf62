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


def _parallel(v, w):
    """SciPy's ``vectors_are_parallel`` for two columns of ±1 (or unit complex) entries."""
    return (v @ w).item() == v.shape[0]


def _needs_resampling(i, X, Y=None):
    """SciPy's ``column_needs_resampling``: column ``i`` of ``X`` parallel to an earlier one,
    or to a column of ``Y``."""
    if any(_parallel(X[:, i], X[:, j]) for j in range(i)):
        return True
    return Y is not None and any(_parallel(X[:, i], Y[:, j]) for j in range(Y.shape[1]))


def _sign_round_up(xp, Y):
    """``Y / |Y|`` with 1 where ``Y`` is 0 (SciPy's ``sign_round_up``)."""
    S = xp.where(Y == 0, 1, Y)
    return S / abs(S)


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
            while _needs_resampling(i, X):
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
        if all(any(_parallel(S[:, i], S_old[:, j]) for j in range(t)) for i in range(t)):
            break
        if t > 1:
            for i in range(t):
                while _needs_resampling(i, S, S_old):
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


# -- expm -------------------------------------------------------------------------------------

#: the coefficients b_0 .. b_m of the [m/m] Padé approximants of exp (Higham, 2005)
_PADE = {
    3: (120., 60., 12., 1.),
    5: (30240., 15120., 3360., 420., 30., 1.),
    7: (17297280., 8648640., 1995840., 277200., 25200., 1512., 56., 1.),
    9: (17643225600., 8821612800., 2075673600., 302702400., 30270240., 2162160., 110880.,
        3960., 90., 1.),
    13: (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
         129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
         40840800., 960960., 16380., 182., 1.),
}
#: θ_m: the largest ‖A‖ for which the degree-m approximant is accurate in double precision
#: (Al-Mohy and Higham, 2009, Table 3.1; θ_13 as in their Algorithm 6.1)
_THETA = {3: 1.495585217958292e-2, 5: 2.539398330063230e-1, 7: 9.504178996162932e-1,
          9: 2.097847961257068, 13: 4.25}
#: 1 / |c_{2m+1}|: the reciprocal leading coefficient of the approximant's backward error
_C_RECIP = {3: 100800., 5: 10059033600., 7: 4487938430976000.,
            9: 5914384781877411840000., 13: 113250775606021113483283660800000000.}


def _exact_onenorm(A):
    """The 1-norm (largest column sum of magnitudes) of a GPU sparse array, a host float."""
    return float(abs(A).sum(axis=0).max()) if A.nnz else 0.0


class _Powers:
    """The even powers of ``A`` (computed once, on the GPU) and the 1-norms of the method:
    exact below 200 rows, as SciPy's ``expm``, else estimated by the GPU ``onenormest``."""

    def __init__(self, A, identity):
        self.A, self.identity = A, identity
        self.exact = A.shape[0] < 200
        self._powers, self._norms = {1: A}, {}

    def power(self, p):
        """``A^p`` for p = 2, 4, 6, 8, 10 (A² first, then products of those)."""
        if p not in self._powers:
            half = {2: (1, 1), 4: (2, 2), 6: (4, 2), 8: (4, 4), 10: (4, 6)}[p]
            self._powers[p] = self.power(half[0]) @ self.power(half[1])
        return self._powers[p]

    def tight(self, p):
        """``‖A^p‖₁^{1/p}``, exactly."""
        key = ("tight", p)
        if key not in self._norms:
            self._norms[key] = _exact_onenorm(self.power(p)) ** (1.0 / p)
        return self._norms[key]

    def loose(self, p):
        """``‖A^p‖₁^{1/p}``: exact (small matrices, or once known), else estimated from the
        powers SciPy's helper uses (A² for p = 4, 6; A⁴ for 8; A⁴ A⁶ for 10)."""
        if self.exact or ("tight", p) in self._norms:
            return self.tight(p)
        key = ("loose", p)
        if key not in self._norms:
            from ._interface import aslinearoperator

            base = {4: (2, 2), 6: (2, 3), 8: (4, 2)}
            if p in base:
                q, k = base[p]
                op = aslinearoperator(self.power(q)) ** k
            else:
                op = aslinearoperator(self.power(4)) * aslinearoperator(self.power(6))
            self._norms[key] = onenormest(op) ** (1.0 / p)
        return self._norms[key]

    def pade(self, m, s=0):
        """``(U, V)`` of the degree-``m`` approximant of ``exp(2⁻ˢ A)``."""
        b, I = _PADE[m], self.identity
        if m < 13:  # (sums from the highest power down, as SciPy adds them)
            even = [self.power(j) if j else I for j in range(m - 1, -1, -2)]
            U, V = b[m] * even[0], b[m - 1] * even[0]
            for j, E in zip(range(m - 3, -1, -2), even[1:]):
                U, V = U + b[j + 1] * E, V + b[j] * E
            return self.A @ U, V
        B, B2, B4, B6 = (self.power(p) * 2.0 ** (-p * s) if p > 1 else self.A * 2.0 ** -s
                         for p in (1, 2, 4, 6))
        U = B @ (B6 @ (b[13] * B6 + b[11] * B4 + b[9] * B2) + b[7] * B6 + b[5] * B4
                 + b[3] * B2 + b[1] * I)
        V = B6 @ (b[12] * B6 + b[10] * B4 + b[8] * B2) + b[6] * B6 + b[4] * B4 + b[2] * B2 \
            + b[0] * I
        return U, V


def _ell(A, m):
    """SciPy's ``_ell``: extra scaling steps so that the approximant's error bound, from the
    exact 1-norm of ``|A|^{2m+1}`` (products of ``|A|ᵀ`` with a vector of ones), holds."""
    import math

    xp = A._xp()
    v = xp.ones(A.shape[0])
    M = abs(A).T
    for _ in range(2 * m + 1):
        v = M @ v
    bound = float(v.max()) if len(v) else 0.0
    if not bound:
        return 0
    alpha = bound / (_exact_onenorm(A) * _C_RECIP[m])
    return max(int(math.ceil(math.log2(alpha / 2.0 ** -53) / (2 * m))), 0)


def _triangular_squaring(X, T, s):
    """The squaring phase for an upper triangular ``T`` (Al-Mohy and Higham's Code Fragment
    2.1, as SciPy's): the diagonal and superdiagonal of each square recomputed exactly."""
    import math

    xp = T._xp()
    diag, superdiag = T.diagonal(), T.diagonal(1)

    def exact(scale):
        lam_1, lam_2 = scale * diag[:-1], scale * diag[1:]
        a, b = 0.5 * (lam_1 + lam_2), 0.5 * (lam_1 - lam_2)
        small = abs(b) < 0.0135
        b2 = b * b
        series = xp.exp(a) * (1 + (b2 / 6.) * (1 + (b2 / 20.) * (1 + b2 / 42.)))
        safe = xp.where(small, 1, b)
        sinch = xp.where(small, series, (xp.exp(a + b) - xp.exp(a - b)) / (2 * safe))
        return scale * superdiag * sinch

    def assign(X, values, k=0):
        # SciPy's fragment assigns the entries one by one, warning when one is new; spgrad
        # sets the diagonal at once and warns alike when the pattern grows
        nnz = X.nnz
        X.setdiag(values, k)
        if X.nnz > nnz:
            warnings.warn(f"Changing the sparsity structure of a {type(X).__name__} is "
                          f"expensive. lil and dok are more efficient.",
                          SparseEfficiencyWarning, stacklevel=4)

    import warnings

    from .._base import SparseEfficiencyWarning

    X = X.copy()
    assign(X, xp.exp(2.0 ** -s * diag))
    for i in range(s - 1, -1, -1):
        X = X @ X
        scale = math.ldexp(1.0, -i)
        assign(X, xp.exp(scale * diag))
        if len(diag) > 1:
            assign(X, exact(scale), 1)
    return X


def expm(A):
    """SciPy's sparse ``expm`` (Al-Mohy and Higham's scaling and squaring with Padé
    approximants of degree 3 to 13) for an spgrad array on the GPU: the powers, products,
    norms and estimates there, the solves ``Q X = P`` by the GPU ``spsolve``'s sparse route
    (SuperLU of a host copy of ``Q``), with SciPy's choices of degree and scaling, result
    format and warnings."""
    import math

    from .. import _construct
    from ._dsolve import spsolve

    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError("expected a square matrix")
    xp = A._xp()
    n = A.shape[0]
    if n == 0:
        return A.__class__(xp.zeros((0, 0), dtype=A.dtype))
    if n == 1:
        return A.__class__(xp.exp(A.toarray()))
    identity = _construct.diags_array(xp.ones(n, dtype=A.dtype)).asformat(A.format)
    lower = _construct.tril(A, -1)
    upper = lower.nnz == 0 or lower.count_nonzero() == 0
    h = _Powers(A, identity)

    def solve(U, V):
        return spsolve(-U + V, U + V)

    for m, (p, q) in ((3, (4, 6)), (5, (4, 6)), (7, (6, 8)), (9, (6, 8))):
        first = h.loose(p) if m == 3 else h.tight(p)
        eta = max(first, h.loose(q))
        if eta < _THETA[m] and _ell(A, m) == 0:
            return solve(*h.pade(m))
    eta_5 = min(max(h.tight(6), h.loose(8)), max(h.loose(8), h.loose(10)))
    s = 0 if eta_5 == 0 else max(int(math.ceil(math.log2(eta_5 / _THETA[13]))), 0)
    s += _ell(A * 2.0 ** -s, 13)
    X = solve(*h.pade(13, s))
    if upper:
        return _triangular_squaring(X, A, s)
    for _ in range(s):
        X = X @ X
    return X
