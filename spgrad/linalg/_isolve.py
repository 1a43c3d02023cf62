"""Iterative solvers: SciPy's in plain mode, differentiable with torch operands.

Plain mode (no torch operand) calls ``scipy.sparse.linalg``'s solver with spgrad containers
converted at the boundary, so values, ``info`` codes, callbacks, warnings and errors are SciPy's.

On a GPU (A an spgrad array moved there, ``b`` a CuPy array), every solver runs SciPy's
algorithm on the device and returns ``x`` as a CuPy array: the Krylov solvers through
:func:`spgrad.linalg._krylov.device_solve`, ``lsqr`` and ``lsmr`` through
:func:`spgrad.linalg._lsq.device_solve`.

Differentiable mode (A's values, ``b``, ``x0`` or the preconditioner hold torch tensors, or A
is a torch :class:`~spgrad.linalg.LinearOperator`) returns ``x`` as a ``torch.Tensor``:

* ``grad="implicit"`` (default): the forward is SciPy's solver on detached values (the same
  ``x`` as plain mode); the backward solves the adjoint system with the same method (see
  :mod:`spgrad._autograd._isolve_ops`). ``x0`` and the preconditioner receive no gradient
  (the exact solution depends on neither).
* ``grad="unroll"``: the iterations run in torch (:mod:`spgrad.linalg._krylov`; lsqr and lsmr
  :mod:`spgrad.linalg._lsq`), so the gradient is that of the computed iterate, preconditioner
  values and ``x0`` included.
"""

import numpy as np
import scipy.sparse.linalg as _sla

from .. import _backend
from .._base import _spbase
from ._common import from_scipy_result, is_differentiable, to_scipy
from ._interface import _numpy_operator

__all__ = ["bicg", "bicgstab", "cg", "cgs", "gcrotmk", "gmres", "lgmres", "lsmr", "lsqr",
           "minres", "qmr", "tfqmr"]

_GRAD_MODES = ("implicit", "unroll")
_UNROLLED = ("cg", "bicgstab", "gmres", "minres", "cgs", "bicg", "tfqmr", "qmr")
# methods whose derivation assumes a Hermitian A (the adjoint operator is A itself)
_HERMITIAN = ("cg", "minres")


def _check_grad(grad):
    if not (isinstance(grad, str) and grad in _GRAD_MODES):
        raise ValueError(f"grad must be 'implicit' or 'unroll', got {grad!r}")


def _plain_call(function, args, kwargs):
    what = f"spgrad.linalg.{function.__name__}"
    args = tuple(to_scipy(a, what) for a in args)
    kwargs = {k: to_scipy(v, what) for k, v in kwargs.items()}
    return from_scipy_result(function(*args, **kwargs))


# -- differentiable mode: helpers ------------------------------------------------------------


def _torch():
    return _backend.torch_module()


def _is_torch_operator(A):
    """True for operators whose products may be taken on torch tensors: spgrad's
    LinearOperators (they pass tensors to the user's functions) and torch-valued ones."""
    from ._interface import LinearOperator

    return isinstance(A, LinearOperator) or getattr(A, "_spgrad_torch", False)


def _scipy_operand(x):
    """An operand (A or a preconditioner) as SciPy's solver takes it, detached."""
    if x is None:
        return None
    if _is_torch_operator(x):
        return _numpy_operator(x)
    return to_scipy(x)


def _adjoint(M):
    """``Mᴴ`` of a SciPy-ready operand (None stays None)."""
    if M is None:
        return None
    return _sla.aslinearoperator(M).H


def _solution_dtype(*dtypes):
    """SciPy's working dtype: the promotion of the operands' dtypes, non-floating types
    counting as float64."""
    out = np.dtype(np.float32)
    for d in dtypes:
        d = _backend.numpy_dtype(d)
        if d.char not in "fdFD":
            d = np.dtype(np.float64)
        out = np.promote_types(out, d)
    return out


def _operand_dtype(A):
    if isinstance(A, _spbase) or _backend.is_tensor(A):
        return _backend.numpy_dtype(A.dtype if not isinstance(A, _spbase) else A.data.dtype)
    dtype = getattr(A, "dtype", None)
    return np.dtype(dtype) if dtype is not None else np.dtype(np.float64)


def _check_system(A, b):
    """SciPy's shape checks (``make_system``), raised before any torch work."""
    shape = getattr(A, "shape", None)
    if shape is None or len(shape) != 2:
        raise TypeError(f"A must be a 2-D matrix or linear operator, got {type(A).__name__}")
    if shape[0] != shape[1]:
        raise ValueError(f"expected square matrix, but got shape={(tuple(shape),)}")
    bshape = tuple(getattr(b, "shape", np.shape(b)))
    n = shape[0]
    if bshape not in ((n,), (n, 1)):
        raise ValueError(f"shapes of A {tuple(shape)} and b {bshape} are incompatible")


def _rhs_tensor(b, dtype):
    on_device = _backend.is_tensor(b) or _backend.is_device_array(b)
    bt = _backend.as_tensor(b if on_device else np.asarray(b))
    return bt.reshape(-1).to(_backend.torch_dtype(dtype))


def _detached(x):
    """``x0`` (or a string such as ``'Mb'``) as SciPy takes it."""
    if x is None or isinstance(x, str):
        return x
    return np.array(_backend.to_numpy(x) if _backend.is_tensor(x) else to_scipy(x))


def _implicit(name, function, A, b, kwargs, preconditioners):
    """Implicit differentiation of one solve (see the module docstring)."""
    from .._autograd._isolve_ops import SolveSpec, operator_solve, sparse_solve
    from .._autograd._ops import pattern, values

    _check_system(A, b)
    if _on_gpu(A, b, kwargs.get("x0"), *(kwargs.get(k) for k in preconditioners)):
        return _implicit_device(name, A, b, kwargs)
    kwargs = dict(kwargs)
    for key in preconditioners:
        kwargs[key] = _scipy_operand(kwargs.get(key))
    if "x0" in kwargs:
        kwargs["x0"] = _detached(kwargs["x0"])
    base = {k: v for k, v in kwargs.items() if k not in ("x0", "callback", "outer_v", "CU")}
    if name == "gmres":
        base["callback_type"] = None
    adjoint = dict(base)
    if name == "qmr":
        adjoint["M1"], adjoint["M2"] = _adjoint(base.get("M2")), _adjoint(base.get("M1"))
    elif "M" in base:
        adjoint["M"] = _adjoint(base["M"])

    b_dtype = b.dtype if _backend.is_tensor(b) else np.asarray(b).dtype
    if isinstance(A, _spbase) and _backend.is_tensor(A.data):
        A_csr = A.tocsr()
        dtype = _solution_dtype(A_csr.data.dtype, b_dtype)
        a = values(A_csr.data).to(_backend.torch_dtype(dtype))
        spec = SolveSpec(name, function, kwargs, adjoint, base)
        return sparse_solve(a, _rhs_tensor(b, dtype), pattern(A_csr), spec)

    dtype = _solution_dtype(_operand_dtype(A), b_dtype)
    operator = _scipy_operand(A)
    if isinstance(A, _spbase):
        operator = to_scipy(A)
    adjoint_operator = operator if name in _HERMITIAN else _adjoint(operator)
    matvec = None
    if _is_torch_operator(A) or _backend.is_tensor(A):
        from ._interface import aslinearoperator

        op = aslinearoperator(A)

        def matvec(x):
            return op.matvec(x.to(_backend.torch_dtype(_operand_dtype(A))))

    spec = SolveSpec(name, function, kwargs, adjoint, base, operator, adjoint_operator)
    return operator_solve(_rhs_tensor(b, dtype), spec, matvec)


def _plain_device(M):
    """A GPU preconditioner as the device solvers take it: an spgrad array with CuPy values
    (torch values detached: in implicit mode the preconditioner is a constant), a callable
    as it is."""
    return M._kernel_view() if isinstance(M, _spbase) else M


def _check_implicit_device(name, A, b):
    """Implicit gradients on the GPU take ``A`` as an spgrad sparse array there, on the device
    of ``b``."""
    if not (isinstance(A, _spbase) and A._on_gpu):
        raise NotImplementedError(
            f"{name} on the GPU with implicit gradients needs A as an spgrad sparse array on "
            f"the GPU, got {type(A).__name__} on {_backend.device_of(A)}; for a linear "
            f"operator or a dense A, use grad='unroll'")
    _backend.check_same_device(A, b)


def _implicit_device(name, A, b, kwargs):
    """Implicit differentiation on the GPU: the forward and the adjoint solves by the device
    solver of ``name`` (any of the Krylov solvers), for a sparse ``A`` on the GPU."""
    from functools import partial

    from .._autograd._isolve_ops import SolveSpec, sparse_solve
    from .._autograd._ops import pattern, values
    from . import _krylov

    _check_implicit_device(name, A, b)
    kwargs = dict(kwargs)
    preconditioners = ("M1", "M2") if name == "qmr" else ("M",)
    for key in preconditioners:
        kwargs[key] = _plain_device(kwargs.get(key))
    x0 = kwargs.get("x0")
    if x0 is not None and not isinstance(x0, str):
        _backend.check_same_device(A, x0)
        kwargs["x0"] = (_backend.kernel_array(x0, A._index_array()) if _backend.is_tensor(x0)
                        else x0)
    base = {k: v for k, v in kwargs.items() if k not in ("x0", "callback", "outer_v", "CU")}
    if name == "gmres":
        base["callback_type"] = None
    adjoint = dict(base)
    if name == "qmr":  # the adjoint system's split preconditioners: M2ᴴ on the left, M1ᴴ
        adjoint["M1"] = _device_adjoint_preconditioner(name, "M2", kwargs["M2"])
        adjoint["M2"] = _device_adjoint_preconditioner(name, "M1", kwargs["M1"])
    elif name not in _HERMITIAN:
        adjoint["M"] = _device_adjoint_preconditioner(name, "M", kwargs["M"])
    b_dtype = b.dtype if (_backend.is_tensor(b) or _backend.is_device_array(b)) else \
        np.asarray(b).dtype
    A_csr = A.tocsr()
    dtype = _solution_dtype(A_csr.dtype, b_dtype)
    a = values(A_csr.data).to(_backend.torch_dtype(dtype))
    spec = SolveSpec(name, partial(_krylov.device_solve, name), kwargs, adjoint, base)
    return sparse_solve(a, _rhs_tensor(b, dtype), pattern(A_csr), spec)


def _device_adjoint_preconditioner(name, key, M):
    """``Mᴴ`` for the adjoint solve on the GPU: None for None, the conjugate transpose of a
    sparse array on the GPU."""
    if M is None:
        return None
    if not isinstance(M, _spbase):
        raise NotImplementedError(
            f"{name} on the GPU with implicit gradients and a callable {key}: the adjoint "
            f"solve needs {key}ᴴ; pass {key} as a sparse array, or use grad='unroll'")
    return M.conj().T.tocsr()


def _on_gpu(*operands):
    """True when an operand is a CuPy array or an spgrad array on the GPU."""
    return any(_backend.is_device_array(x) or (isinstance(x, _spbase) and x._on_gpu)
               for x in operands)


def _solve(name, A, b, x0, kwargs, grad, preconditioners=("M",)):
    """Dispatch one call of the solver ``name`` to plain, implicit or unrolled mode."""
    _check_grad(grad)
    function = getattr(_sla, name)
    precs = [kwargs.get(k) for k in preconditioners]
    differentiable = is_differentiable(A, b, x0, *precs, gpu=True)
    if not differentiable and _on_gpu(A, b, x0, *precs):
        from . import _krylov

        return _krylov.device_solve(name, A, b, x0, **kwargs)
    if not differentiable:
        return _plain_call(function, (A, b, x0), kwargs)
    if grad == "unroll":
        if name not in _UNROLLED:
            raise NotImplementedError(
                f"{name}: grad='unroll' is implemented for {', '.join(_UNROLLED)}; "
                f"use grad='implicit' for {name}"
            )
        from . import _krylov

        return _krylov.unrolled(name, A, b, x0, **kwargs)
    return _implicit(name, function, A, b, dict(kwargs, x0=x0), preconditioners)


def _solve_call(name, params):
    """:func:`_solve` for a public solver's ``locals()`` (its arguments, by name)."""
    kwargs = dict(params)
    A, b, x0, grad = (kwargs.pop(k) for k in ("A", "b", "x0", "grad"))
    return _solve(name, A, b, x0, kwargs, grad, ("M1", "M2") if name == "qmr" else ("M",))


# -- public solvers --------------------------------------------------------------------------

_GRAD_DOC = """grad : {"implicit", "unroll"}, optional, keyword-only
        How to differentiate when an operand holds torch tensors (ignored otherwise).
        ``"implicit"`` (default) runs SciPy's solver on detached values and solves the
        adjoint system with the same method in the backward pass (``x0`` and the
        preconditioner get no gradient). ``"unroll"`` runs the iterations in torch and
        differentiates what was computed (gradients also reach ``M`` and ``x0``)."""

_RETURNS_DOC = """Returns
    -------
    x : ndarray or torch.Tensor
        The converged solution (a tensor in differentiable mode).
    info : int
        0 : successful exit; >0 : convergence to tolerance not achieved, number of
        iterations; <0 : breakdown (SciPy's codes)."""


def _doc(summary, extra, example, method=None, hermitian=False, more_examples=""):
    see = method or "the SciPy function of the same name"
    hermitian = "A must be Hermitian. " if hermitian else ""
    return f"""{summary}

    Same as :func:`scipy.sparse.linalg.{see}` (same arguments, results, ``info`` codes,
    callbacks, warnings and errors), plus ``grad``. {hermitian}spgrad containers,
    LinearOperators and torch tensors are accepted.

    Parameters
    ----------
    A : {{sparse array, ndarray, LinearOperator, torch.Tensor}}
        The ``N × N`` matrix of the linear system.
    b : ndarray or torch.Tensor
        Right-hand side, shape ``(N,)`` or ``(N, 1)``.
    x0 : ndarray or torch.Tensor, optional
        Starting guess.
    rtol, atol : float, optional
        Convergence test ``norm(b - A @ x) <= max(rtol*norm(b), atol)`` (SciPy's).
    maxiter : int, optional
        Maximum number of iterations (SciPy's default).
    {extra}
    callback : callable, optional
        Called as SciPy calls it (with the current iterate; a tensor when unrolled).
    {_GRAD_DOC}

    {_RETURNS_DOC}

    Examples
    --------
    >>> import numpy as np, spgrad as sp
    >>> from spgrad.linalg import {example}
    >>> A = sp.csr_array(np.array([[4.0, 1.0], [1.0, 3.0]]))
    >>> x, info = {example}(A, np.array([1.0, 2.0]), atol=1e-10)
    >>> info, bool(np.allclose(A @ x, [1.0, 2.0]))
    (0, True){more_examples}
    """


_M_DOC = """M : {sparse array, ndarray, LinearOperator}, optional
        Preconditioner approximating the inverse of A."""


def cg(A, b, x0=None, *, rtol=1e-5, atol=0., maxiter=None, M=None, callback=None,
       grad="implicit"):
    return _solve_call("cg", locals())


cg.__doc__ = _doc("Solve ``Ax = b`` with the Conjugate Gradient method (A Hermitian positive "
                  "definite).", _M_DOC, "cg", "cg", hermitian=True, more_examples="""

    Differentiable mode: torch values in ``A`` or a tensor ``b`` give a tensor ``x``; the
    gradient of ``b`` is ``A⁻ᵀ ḡ`` (here ``ḡ = (1, 1)``):

    >>> import torch
    >>> b = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    >>> x, info = cg(A.requires_grad_(), b, rtol=1e-12)
    >>> x.sum().backward()
    >>> b.grad
    tensor([0.1818, 0.2727], dtype=torch.float64)
    >>> A.grad.shape
    (2, 2)""")


def bicg(A, b, x0=None, *, rtol=1e-5, atol=0., maxiter=None, M=None, callback=None,
         grad="implicit"):
    return _solve_call("bicg", locals())


bicg.__doc__ = _doc("Solve ``Ax = b`` with the BIConjugate Gradient method.", _M_DOC, "bicg",
                    "bicg")


def bicgstab(A, b, x0=None, *, rtol=1e-5, atol=0., maxiter=None, M=None, callback=None,
             grad="implicit"):
    return _solve_call("bicgstab", locals())


bicgstab.__doc__ = _doc("Solve ``Ax = b`` with the BIConjugate Gradient STABilized method.",
                        _M_DOC, "bicgstab", "bicgstab")


def cgs(A, b, x0=None, *, rtol=1e-5, atol=0., maxiter=None, M=None, callback=None,
        grad="implicit"):
    return _solve_call("cgs", locals())


cgs.__doc__ = _doc("Solve ``Ax = b`` with the Conjugate Gradient Squared method.", _M_DOC,
                   "cgs", "cgs")


def gmres(A, b, x0=None, *, rtol=1e-5, atol=0., restart=None, maxiter=None, M=None,
          callback=None, callback_type=None, grad="implicit"):
    return _solve_call("gmres", locals())


gmres.__doc__ = _doc(
    "Solve ``Ax = b`` with the restarted Generalized Minimal RESidual method.",
    _M_DOC + """
    restart : int, optional
        Iterations between restarts (default 20).
    callback_type : {'x', 'pr_norm', 'legacy'}, optional
        What the callback receives (SciPy's semantics).""", "gmres", "gmres")


def lgmres(A, b, x0=None, *, rtol=1e-5, atol=0., maxiter=1000, M=None, callback=None,
           inner_m=30, outer_k=3, outer_v=None, store_outer_Av=True, prepend_outer_v=False,
           grad="implicit"):
    return _solve_call("lgmres", locals())


lgmres.__doc__ = _doc(
    "Solve ``Ax = b`` with the LGMRES algorithm.",
    _M_DOC + """
    inner_m, outer_k, outer_v, store_outer_Av, prepend_outer_v
        SciPy's LGMRES parameters (``outer_v`` is used by the forward solve only).""",
    "lgmres", "lgmres")


def minres(A, b, x0=None, *, rtol=1e-5, shift=0.0, maxiter=None, M=None, callback=None,
           show=False, check=False, grad="implicit"):
    return _solve_call("minres", locals())


minres.__doc__ = _doc(
    "Solve ``(A - shift*I) x = b`` with the MINimum RESidual method (A symmetric).",
    _M_DOC + """
    shift : float, optional
        Solve ``(A - shift*I) x = b`` (not differentiated).
    show, check : bool, optional
        SciPy's printing and symmetry checks (plain and implicit modes).""",
    "minres", "minres", hermitian=True).replace(
        "rtol, atol : float", "rtol : float").replace(", atol=1e-10", ", rtol=1e-10").replace(
        "``norm(b - A @ x) <= max(rtol*norm(b), atol)`` (SciPy's)",
        "on the estimated residual relative to ``norm(A) norm(x)`` (SciPy's)")


def qmr(A, b, x0=None, *, rtol=1e-5, atol=0., maxiter=None, M1=None, M2=None, callback=None,
        grad="implicit"):
    return _solve_call("qmr", locals())


qmr.__doc__ = _doc(
    "Solve ``Ax = b`` with the Quasi-Minimal Residual method.",
    """M1, M2 : {sparse array, ndarray, LinearOperator}, optional
        Left and right preconditioners (the adjoint solve uses ``M2ᴴ`` and ``M1ᴴ``).""",
    "qmr", "qmr")


def gcrotmk(A, b, x0=None, *, rtol=1e-5, atol=0., maxiter=1000, M=None, callback=None,
            m=20, k=None, CU=None, discard_C=False, truncate='oldest', grad="implicit"):
    return _solve_call("gcrotmk", locals())


gcrotmk.__doc__ = _doc(
    "Solve ``Ax = b`` with the flexible GCROT(m,k) method.",
    _M_DOC + """
    m, k, CU, discard_C, truncate
        SciPy's GCROT(m,k) parameters (``CU`` is used and updated by the forward solve
        only).""", "gcrotmk", "gcrotmk")


def tfqmr(A, b, x0=None, *, rtol=1e-5, atol=0., maxiter=None, M=None, callback=None,
          show=False, grad="implicit"):
    return _solve_call("tfqmr", locals())


tfqmr.__doc__ = _doc(
    "Solve ``Ax = b`` with the Transpose-Free Quasi-Minimal Residual method.",
    _M_DOC + """
    show : bool, optional
        Print convergence messages (SciPy's).""", "tfqmr", "tfqmr")


def _least_squares(name, params):
    kwargs = dict(params)
    A, b, grad = kwargs.pop("A"), kwargs.pop("b"), kwargs.pop("grad")
    _check_grad(grad)
    function = getattr(_sla, name)
    differentiable = is_differentiable(A, b, kwargs.get("x0"), gpu=True)
    if not differentiable and _on_gpu(A, b, kwargs.get("x0")):
        from . import _lsq

        return _lsq.device_solve(name, A, b, **kwargs)
    if not differentiable:
        return _plain_call(function, (A, b), kwargs)
    if grad == "unroll":
        from . import _lsq

        return _lsq.unrolled(name, A, b, **kwargs)
    on_gpu = any(x is not None and _backend.device_of(x) != "cpu"
                 for x in (A, b, kwargs.get("x0")))
    if on_gpu:
        _check_implicit_device(name, A, b)
        from functools import partial

        from . import _lsq

        function = partial(_lsq.device_solve, name)
    if isinstance(A, _sla.LinearOperator) or not hasattr(A, "shape"):
        raise NotImplementedError(
            f"{name}: differentiable mode supports a sparse or dense matrix A (torch or "
            f"constant values), not {type(A).__name__}; LinearOperators are supported by "
            f"cg, bicg, bicgstab, cgs, gmres, lgmres, minres, qmr, gcrotmk and tfqmr"
        )
    from .._autograd._isolve_ops import LeastSquaresSpec, least_squares_solve
    from .._autograd._ops import pattern, values
    from .._csr import csr_array

    # a dense A (array or tensor) takes part as a CSR matrix of its nonzeros
    A_csr = A.tocsr() if isinstance(A, _spbase) else csr_array(A)
    m = A_csr.shape[0]
    bshape = tuple(getattr(b, "shape", np.shape(b)))
    if bshape not in ((m,), (m, 1)):
        raise ValueError(f"shapes of A {A_csr.shape} and b {bshape} are incompatible")
    x0 = kwargs.pop("x0")
    if on_gpu and x0 is not None:
        _backend.check_same_device(A, x0)
    b_dtype = b.dtype if (_backend.is_tensor(b) or _backend.is_device_array(b)) else \
        np.asarray(b).dtype
    dtype = _solution_dtype(A_csr.data.dtype, b_dtype)
    a = values(A_csr.data).to(_backend.torch_dtype(dtype))
    x0t = None if x0 is None else _rhs_tensor(x0, dtype)
    limit = "iter_lim" if name == "lsqr" else "maxiter"
    adjoint = {k: kwargs[k] for k in ("damp", "atol", "btol", "conlim", limit)}
    if adjoint[limit] is None:
        # SciPy's default limit follows the shape (lsmr: min(m, n)), which the solve with
        # Aᴴ reaches exactly while converging; give the adjoint solves room instead
        adjoint[limit] = 2 * max(A_csr.shape)
    spec = LeastSquaresSpec(name, function, kwargs, adjoint)
    return least_squares_solve(a, _rhs_tensor(b, dtype), x0t, pattern(A_csr), spec)


def lsqr(A, b, damp=0.0, atol=1e-6, btol=1e-6, conlim=1e8, iter_lim=None, show=False,
         calc_var=False, x0=None, *, grad="implicit"):
    """Find the least-squares solution of a large, sparse linear system (LSQR).

    Same as :func:`scipy.sparse.linalg.lsqr` (arguments and the 10-tuple result) for
    spgrad containers and LinearOperators. With torch operands (a sparse or dense matrix
    ``A``, ``b``, ``x0``) ``x`` is a tensor and the implicit gradient of the damped
    least-squares solution ``x = (AᴴA + damp² I)⁻¹ (Aᴴ b + damp² x0)`` is computed with
    two lsqr solves (one with ``damp = 0``, where A must have full column rank); first
    derivatives only. See :class:`spgrad._autograd._isolve_ops.LeastSquaresSolve`. With
    ``grad="unroll"`` SciPy's iterations run in torch and autograd differentiates them
    (``A`` may then also be a LinearOperator, ``x0`` gets its gradient too).

    On a GPU (``A`` an spgrad array there or a LinearOperator on CuPy arrays, ``b`` a CuPy
    array) SciPy's algorithm runs on the device and ``x`` and ``var`` are CuPy arrays;
    differentiable mode runs there too (implicit: ``A`` an spgrad array on the GPU, the
    forward and adjoint solves by the device solver; or unrolled).

    Parameters
    ----------
    A : {sparse array, ndarray, LinearOperator}
        The ``M × N`` matrix.
    b : ndarray
        Right-hand side, shape ``(M,)``.
    damp, atol, btol, conlim, iter_lim, show, calc_var, x0
        SciPy's LSQR parameters.
    grad : {"implicit", "unroll"}, optional, keyword-only
        How to differentiate when an operand holds torch tensors (ignored otherwise): the
        least-squares solution (``"implicit"``, the default) or the iterations run
        (``"unroll"``); any other value raises ``ValueError``.

    Returns
    -------
    tuple
        ``(x, istop, itn, r1norm, r2norm, anorm, acond, arnorm, xnorm, var)`` (SciPy's).

    Examples
    --------
    >>> import numpy as np, spgrad as sp
    >>> from spgrad.linalg import lsqr
    >>> A = sp.csr_array(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]))
    >>> x = lsqr(A, np.array([1.0, 2.0, 1.0]), atol=1e-12, btol=1e-12)[0]
    >>> np.round(x, 6)
    array([1., 1.])
    """
    return _least_squares("lsqr", locals())


def lsmr(A, b, damp=0.0, atol=1e-6, btol=1e-6, conlim=1e8, maxiter=None, show=False,
         x0=None, *, grad="implicit"):
    """Iterative solver for least-squares problems (LSMR).

    Same as :func:`scipy.sparse.linalg.lsmr` (arguments and the 8-tuple result) for
    spgrad containers and LinearOperators. Differentiable like :func:`lsqr` (implicit
    least-squares gradient, first derivatives, sparse or dense ``A``; or ``grad="unroll"``),
    and like it on the GPU too.

    Parameters
    ----------
    A : {sparse array, ndarray, LinearOperator}
        The ``M × N`` matrix.
    b : ndarray
        Right-hand side, shape ``(M,)``.
    damp, atol, btol, conlim, maxiter, show, x0
        SciPy's LSMR parameters.
    grad : {"implicit", "unroll"}, optional, keyword-only
        How to differentiate when an operand holds torch tensors (ignored otherwise): the
        least-squares solution (``"implicit"``, the default) or the iterations run
        (``"unroll"``); any other value raises ``ValueError``.

    Returns
    -------
    tuple
        ``(x, istop, itn, normr, normar, norma, conda, normx)`` (SciPy's).

    Examples
    --------
    >>> import numpy as np, spgrad as sp
    >>> from spgrad.linalg import lsmr
    >>> A = sp.csr_array(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]))
    >>> x = lsmr(A, np.array([1.0, 2.0, 1.0]), atol=1e-12, btol=1e-12)[0]
    >>> np.round(x, 6)
    array([1., 1.])
    """
    return _least_squares("lsmr", locals())
