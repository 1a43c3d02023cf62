"""SciPy's least-squares solvers LSQR and LSMR written once for torch tensors and CuPy arrays.

:func:`unrolled` runs them in torch (``grad="unroll"``: autograd differentiates the
iterations, so the gradient is that of the computed iterate, ``x0`` included) and
:func:`device_solve` on a GPU (plain mode: ``A`` an spgrad array there or a LinearOperator on
CuPy arrays, ``b`` a CuPy array). The algorithm, its defaults, stopping tests, ``istop``
codes and result tuples are SciPy's (the Golub-Kahan bidiagonalisation of Paige and
Saunders' LSQR and of Fong and Saunders' LSMR, with their estimates of ``‖A‖``, ``cond(A)``,
``‖r‖``, ``‖Aᴴr‖`` and ``‖x‖``). The scalar recurrences
run on 0-d tensors in torch (so they are differentiated) and on host scalars on the GPU
(each iteration reads its norms back, as the stopping tests need them on the host), in
SciPy's precisions: the vectors in the dtype of ``A`` and ``b``, the iterate in double
precision unless ``x0`` says otherwise.
"""

import math

import numpy as np

from .. import _backend
from ._krylov import (_adjoint_operator, _device_adjoint, _device_dtype, _device_product,
                      _dtype_of, _operator, _TorchOps)


def _sqrt(s):
    return s.sqrt() if _backend.is_tensor(s) else math.sqrt(s)


def _float(s):
    """A scalar of the recurrences as a Python float (detached: for the stopping tests and
    the returned estimates)."""
    return float(s.detach()) if _backend.is_tensor(s) else float(s)


def _sign(s):
    return s.sign() if _backend.is_tensor(s) else np.sign(s)


def _sym_ortho(a, b):
    """SciPy's stable Givens rotation of real ``(a, b)``: ``(c, s, r)`` with
    ``[c s; -s c] [a; b] = [r; 0]``."""
    if b == 0:
        return _sign(a), 0.0, abs(a)
    if a == 0:
        return 0.0, _sign(b), abs(b)
    if abs(b) > abs(a):
        tau = a / b
        s = _sign(b) / _sqrt(1 + tau * tau)
        return s * tau, s, b / s
    tau = b / a
    c = _sign(a) / _sqrt(1 + tau * tau)
    return c, c * tau, a / c


def _start(norm, matvec, rmatvec, x, x0_given, b, v_for_zero_beta):
    """The first step of the Golub-Kahan bidiagonalisation (SciPy's, in LSQR and LSMR):
    ``(‖b‖, u, β, v, α)`` with ``β u = b - A x`` and ``α v = Aᴴ u`` normalised (``v`` from
    ``v_for_zero_beta()`` when ``β = 0``)."""
    bnorm = norm(b)
    u, beta = b, bnorm
    if x0_given:
        u = u - matvec(x)
        beta = norm(u)
    if beta > 0:
        u = (1 / beta) * u
        v = rmatvec(u)
        alpha = norm(v)
    else:
        v, alpha = v_for_zero_beta(), 0.0
    if alpha > 0:
        v = (1 / alpha) * v
    return bnorm, u, beta, v, alpha


def _lsqr(norm, matvec, rmatvec, x, x0_given, b, damp, atol, btol, conlim, iter_lim, calc_var,
          var):
    """SciPy's LSQR iterations from ``x`` (zeros, or a copy of ``x0`` when ``x0_given``)
    with ``norm(v)`` the scalar 2-norm of the recurrences and ``var`` zeros; returns SciPy's
    10-tuple (the scalars as Python floats)."""
    eps = _float(np.finfo(np.float64).eps)
    itn = istop = 0
    ctol = 1 / conlim if conlim > 0 else 0
    anorm = acond = ddnorm = res2 = xnorm = xxnorm = z = sn2 = 0.0
    cs2 = -1.0
    dampsq = damp ** 2
    bnorm, u, beta, v, alfa = _start(norm, matvec, rmatvec, x, x0_given, b, lambda: x * 1)
    w = v * 1
    rhobar, phibar = alfa, beta
    rnorm = r1norm = r2norm = beta
    arnorm = alfa * beta

    def result():
        return (x, istop, itn, _float(r1norm), _float(r2norm), _float(anorm), _float(acond),
                _float(arnorm), _float(xnorm), var)

    if arnorm == 0:
        return result()
    while itn < iter_lim:
        itn += 1
        u = matvec(v) - alfa * u
        beta = norm(u)
        if beta > 0:
            u = (1 / beta) * u
            anorm = _sqrt(anorm ** 2 + alfa ** 2 + beta ** 2 + dampsq)
            v = rmatvec(u) - beta * v
            alfa = norm(v)
            if alfa > 0:
                v = (1 / alfa) * v
        if damp > 0:
            rhobar1 = _sqrt(rhobar ** 2 + dampsq)
            cs1, sn1 = rhobar / rhobar1, damp / rhobar1
            psi = sn1 * phibar
            phibar = cs1 * phibar
        else:
            rhobar1, psi = rhobar, 0.0
        cs, sn, rho = _sym_ortho(rhobar1, beta)
        theta = sn * alfa
        rhobar = -cs * alfa
        phi = cs * phibar
        phibar = sn * phibar
        tau = sn * phi
        t1, t2 = phi / rho, -theta / rho
        dk = (1 / rho) * w
        x = x + t1 * w
        w = v + t2 * w
        ddnorm = ddnorm + norm(dk) ** 2
        if calc_var:
            var = var + dk ** 2
        delta, gambar = sn2 * rho, -cs2 * rho
        rhs = phi - delta * z
        zbar = rhs / gambar
        xnorm = _sqrt(xxnorm + zbar ** 2)
        gamma = _sqrt(gambar ** 2 + theta ** 2)
        cs2, sn2 = gambar / gamma, theta / gamma
        z = rhs / gamma
        xxnorm = xxnorm + z ** 2
        acond = anorm * _sqrt(ddnorm)
        res2 = res2 + psi ** 2
        rnorm = _sqrt(phibar ** 2 + res2)
        arnorm = alfa * abs(tau)
        if damp > 0:
            r1sq = rnorm ** 2 - dampsq * xxnorm
            r1norm = _sqrt(abs(r1sq)) * (-1 if r1sq < 0 else 1)
        else:
            r1norm = rnorm
        r2norm = rnorm
        test1 = _float(rnorm / bnorm)
        test2 = _float(arnorm / (anorm * rnorm + eps))
        test3 = _float(1 / (acond + eps))
        t1 = test1 / (1 + _float(anorm * xnorm / bnorm))
        rtol = btol + atol * _float(anorm * xnorm / bnorm)
        istop = _stop(istop, itn >= iter_lim, test1, test2, test3, t1, rtol, atol, ctol)
        if istop != 0:
            break
    return result()


def _lsmr(norm, matvec, rmatvec, x, x0_given, b, zeros, damp, atol, btol, conlim, maxiter):
    """SciPy's LSMR iterations from ``x`` (zeros, or a copy of ``x0`` when ``x0_given``) with
    ``norm(v)`` the scalar 2-norm of the recurrences and ``zeros()`` a zero vector of the
    iterate's dtype; returns SciPy's 8-tuple (the scalars as Python floats)."""
    itn = istop = 0
    normb, u, beta, v, alpha = _start(norm, matvec, rmatvec, x, x0_given, b, zeros)
    zetabar, alphabar = alpha * beta, alpha
    rho = rhobar = cbar = rhodold = 1.0
    sbar = betad = tautildeold = thetatilde = zeta = d = maxrbar = normx = 0.0
    h, hbar = v * 1, zeros()
    betadd = beta
    normA2 = alpha * alpha
    minrbar = 1e100
    normA, condA = _sqrt(normA2), 1.0
    ctol = 1 / conlim if conlim > 0 else 0
    normr, normar = beta, alpha * beta

    def result():
        return (x, istop, itn, _float(normr), _float(normar), _float(normA), _float(condA),
                _float(normx))

    if normar == 0:
        return result()
    if normb == 0:
        x = zeros()
        return result()
    while itn < maxiter:
        itn += 1
        u = u * (-alpha) + matvec(v)
        beta = norm(u)
        if beta > 0:
            u = u * (1 / beta)
            v = v * (-beta) + rmatvec(u)
            alpha = norm(v)
            if alpha > 0:
                v = v * (1 / alpha)
        chat, shat, alphahat = _sym_ortho(alphabar, damp)
        rhoold = rho
        c, s, rho = _sym_ortho(alphahat, beta)
        thetanew = s * alpha
        alphabar = c * alpha
        rhobarold, zetaold = rhobar, zeta
        thetabar = sbar * rho
        rhotemp = cbar * rho
        cbar, sbar, rhobar = _sym_ortho(cbar * rho, thetanew)
        zeta = cbar * zetabar
        zetabar = -sbar * zetabar
        hbar = hbar * (-(thetabar * rho / (rhoold * rhobarold))) + h
        x = x + (zeta / (rho * rhobar)) * hbar
        h = h * (-(thetanew / rho)) + v
        betaacute = chat * betadd
        betacheck = -shat * betadd
        betahat = c * betaacute
        betadd = -s * betaacute
        thetatildeold = thetatilde
        ctildeold, stildeold, rhotildeold = _sym_ortho(rhodold, thetabar)
        thetatilde = stildeold * rhobar
        rhodold = ctildeold * rhobar
        betad = -stildeold * betad + ctildeold * betahat
        tautildeold = (zetaold - thetatildeold * tautildeold) / rhotildeold
        taud = (zeta - thetatilde * tautildeold) / rhodold
        d = d + betacheck * betacheck
        normr = _sqrt(d + (betad - taud) ** 2 + betadd * betadd)
        normA2 = normA2 + beta * beta
        normA = _sqrt(normA2)
        normA2 = normA2 + alpha * alpha
        maxrbar = max(maxrbar, rhobarold)
        if itn > 1:
            minrbar = min(minrbar, rhobarold)
        condA = max(maxrbar, rhotemp) / min(minrbar, rhotemp)
        normar = abs(zetabar)
        normx = norm(x)
        test1 = _float(normr / normb)
        test2 = _float(normar / (normA * normr)) if _float(normA * normr) != 0 else math.inf
        test3 = _float(1 / condA)
        t1 = test1 / (1 + _float(normA * normx / normb))
        rtol = btol + atol * _float(normA * normx / normb)
        istop = _stop(istop, itn >= maxiter, test1, test2, test3, t1, rtol, atol, ctol)
        if istop > 0:
            break
    return result()


def _stop(istop, at_limit, test1, test2, test3, t1, rtol, atol, ctol):
    """The stopping code of LSQR and LSMR (SciPy's order: the last test that holds wins)."""
    for holds, code in ((at_limit, 7), (1 + test3 <= 1, 6), (1 + test2 <= 1, 5),
                        (1 + t1 <= 1, 4), (test3 <= ctol, 3), (test2 <= atol, 2),
                        (test1 <= rtol, 1)):
        if holds:
            istop = code
    return istop


def _check(name, where, show, shape, b, x0):
    if show:
        raise NotImplementedError(f"{name}: show=True is supported in plain mode on the CPU "
                                  f"and with grad='implicit', not {where}")
    if len(shape) != 2:
        raise TypeError(f"A must be a 2-D matrix or linear operator, got shape {shape}")
    m, n = shape
    if tuple(b.shape) not in ((m,), (m, 1)):
        raise ValueError(f"shapes of A {tuple(shape)} and b {tuple(b.shape)} are incompatible")
    if x0 is not None and tuple(x0.shape) not in ((n,), (n, 1)):
        raise ValueError(f"shapes of A {tuple(shape)} and x0 {tuple(x0.shape)} are "
                         f"incompatible")


def _dtypes(a_dtype, b_dtype, x0_dtype):
    """SciPy's precisions: the vectors of the bidiagonalisation in the dtype of A and b, the
    iterate in double precision at least (SciPy starts from float64 zeros) or in the dtype of
    ``x0`` and the vectors."""
    work = np.result_type(a_dtype, b_dtype)
    if work.kind not in "fc":
        work = np.result_type(work, np.float64)
    return work, np.result_type(np.float64 if x0_dtype is None else x0_dtype, work)


def _run(name, norm, matvec, rmatvec, x, x0_given, b, shape, zeros, options):
    """SciPy's ``lsqr`` or ``lsmr`` (``name``) with its keyword ``options`` (defaults filled
    from the shape as SciPy does)."""
    m, n = shape
    o = {"damp": 0.0, "atol": 1e-6, "btol": 1e-6, "conlim": 1e8, **options}
    if name == "lsqr":
        iter_lim = 2 * n if o.get("iter_lim") is None else o["iter_lim"]
        return _lsqr(norm, matvec, rmatvec, x, x0_given, b, o["damp"], o["atol"], o["btol"],
                     o["conlim"], iter_lim, o.get("calc_var", False), zeros(np.float64))
    maxiter = min(m, n) if o.get("maxiter") is None else o["maxiter"]
    return _lsmr(norm, matvec, rmatvec, x, x0_given, b, lambda: zeros(x.dtype), o["damp"],
                 o["atol"], o["btol"], o["conlim"], maxiter)


def unrolled(name, A, b, x0=None, show=False, **options):
    """SciPy's ``lsqr`` 10-tuple or ``lsmr`` 8-tuple (``name``) with the iterations run in
    torch: ``x`` (and lsqr's ``var``) tensors differentiable in ``A``'s values, ``b`` and
    ``x0``; the scalars Python floats. ``A`` is what :func:`spgrad.linalg._krylov.unrolled`
    takes (matrices, tensors, LinearOperators), of any shape; ``options`` are SciPy's."""
    torch = _backend.torch_module()
    shape = tuple(getattr(A, "shape", ()))
    bt = _backend.as_tensor(b if _backend.is_tensor(b) else np.asarray(b))
    x0t = None if x0 is None else _backend.as_tensor(
        x0 if _backend.is_tensor(x0) else np.asarray(x0))
    _check(name, "grad='unroll'", show, shape, bt, x0t)
    work, x_dtype = _dtypes(_dtype_of(A), _backend.numpy_dtype(bt.dtype),
                            None if x0t is None else _backend.numpy_dtype(x0t.dtype))

    def zeros(dtype):
        return torch.zeros(shape[1], dtype=_backend.torch_dtype(dtype), device=bt.device)

    x = zeros(x_dtype) if x0t is None else x0t.reshape(-1).to(_backend.torch_dtype(x_dtype))
    return _run(name, _TorchOps().vnorm, _operator(A, work, "A"),
                _adjoint_operator(A, work, "A"), x, x0t is not None,
                bt.reshape(-1).to(_backend.torch_dtype(work)), shape, zeros, options)


def device_solve(name, A, b, x0=None, show=False, **options):
    """SciPy's ``lsqr`` 10-tuple or ``lsmr`` 8-tuple (``name``) on a GPU: ``A`` an spgrad
    sparse array on the GPU or an spgrad LinearOperator whose ``matvec`` and ``rmatvec`` take
    and return CuPy arrays, ``b`` (and ``x0``) CuPy arrays; ``x`` (and lsqr's ``var``) are
    CuPy arrays; ``options`` are SciPy's."""
    shape = tuple(getattr(A, "shape", ()))
    _check(name, "on the GPU", show, shape, b, x0)
    a_dtype = _device_dtype(A, b)
    xp = _backend.array_module(b)
    if x0 is not None:
        _backend.check_same_device(b, x0)
    work, x_dtype = _dtypes(a_dtype, b.dtype, None if x0 is None else x0.dtype)
    matvec = _device_product(A, work)
    real = np.empty(0, work).real.dtype.type

    def norm(v):  # on the host, in the vectors' precision (as NumPy's norm gives SciPy)
        return real(float(xp.linalg.norm(v)))

    def zeros(dtype):
        return xp.zeros(shape[1], dtype=dtype)

    # a copy of x0: the caller's is never changed
    x = zeros(x_dtype) if x0 is None else x0.reshape(-1).astype(x_dtype)
    return _run(name, norm, matvec, _device_adjoint(A, work, "A", b), x, x0 is not None,
                b.reshape(-1).astype(work, copy=False), shape, zeros, options)
