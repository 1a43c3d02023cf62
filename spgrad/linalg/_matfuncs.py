"""Norms and matrix functions: ``norm``, ``onenormest``, ``matrix_power``, ``expm``,
``expm_multiply`` and the ``LaplacianNd`` operator.

Plain mode (NumPy values) hands the work to :mod:`scipy.sparse.linalg`, so results are SciPy's
exactly. Differentiable mode (torch values in a sparse container, or torch tensors):

- ``norm``: the norm of the matrix with duplicates summed, written with torch reductions on
  the stored values (gradients on the stored pattern); ``ord=2`` goes through ``svds``.
- ``matrix_power``: repeated differentiable sparse products (structural pattern: entries that
  cancel to zero stay stored).
- ``expm_multiply``: the truncated-Taylor scaling method of Al-Mohy and Higham, run in torch with
  differentiable ``A @ X``; the degree and the number of scaling steps are chosen on the
  detached values as SciPy chooses them, so the result agrees with SciPy's to rounding.
- ``expm``: dense, through ``torch.linalg.matrix_exp`` (the exponential of a sparse matrix is
  dense in general).
- ``onenormest``: an estimate, never differentiable; torch operands are detached.
"""

import numpy as np
import scipy.sparse as _ss
import scipy.sparse.linalg as _sla
from scipy.sparse.linalg import _expm_multiply as _scipy_expm_multiply_module

from .. import _backend
from .._base import _spbase
from ._common import from_scipy_result, is_differentiable, scipy_wrapper, to_scipy
from ._interface import _detached_operand

__all__ = ["LaplacianNd", "expm", "expm_multiply", "funm_multiply_krylov", "matrix_power",
           "norm", "onenormest"]

_scipy_norm = scipy_wrapper(_sla.norm)
_scipy_matrix_power = scipy_wrapper(_sla.matrix_power)
_scipy_expm = scipy_wrapper(_sla.expm)
_scipy_expm_multiply = scipy_wrapper(_sla.expm_multiply)
_scipy_funm_multiply_krylov = scipy_wrapper(_sla.funm_multiply_krylov)


def _torch():
    return _backend.torch_module()


# -- norm -------------------------------------------------------------------------------------


def _canonical_csr(x):
    """CSR form of a container with duplicates summed (differentiable for torch values)."""
    C = x.tocsr()
    if not C.has_canonical_format:
        C = C.copy()
        C.sum_duplicates()
    return C


def _group_index(C, axis):
    """For every stored entry, the index of the slice it falls in when reducing over
    ``axis``: the column for ``axis=0``, the row for ``axis=1``."""
    from .._autograd import _ops

    rows, cols = _ops.coords(C)
    return cols if axis == 0 else rows


def _abs_sums(C, axis):
    from .._autograd import _ops

    return _ops.axis_sums(C.data.abs(), _group_index(C, axis), C.shape[1 - axis])


def _vector_norm(C, ord, axis):
    torch = _torch()
    from .._autograd import _ops

    idx = _backend.index_tensor(_group_index(C, axis))
    length = C.shape[1 - axis]
    a = _ops.values(C.data).abs()
    zeros = a.new_zeros(length)
    if ord == np.inf:
        return zeros.scatter_reduce(0, idx, a, "amax", include_self=True)
    if ord == -np.inf:
        smallest = a.new_full((length,), np.inf).scatter_reduce(0, idx, a, "amin",
                                                              include_self=True)
        # an implicit zero in the slice makes the minimum 0
        counts = torch.zeros(length, dtype=torch.int64, device=a.device).index_add(
            0, idx, torch.ones_like(idx))
        return torch.where(counts == C.shape[axis], smallest, zeros)
    if ord == 1:
        return zeros.index_add(0, idx, a)
    p = 2 if ord is None else ord
    if p == 2:
        terms = a * a
    elif p > 0:
        # |x|**p has an infinite slope at a stored zero when p < 1: its (sub)gradient there
        # is 0, as in torch.linalg.vector_norm (0 * inf would give NaN)
        nonzero = a > 0
        terms = torch.where(nonzero, torch.where(nonzero, a, torch.ones_like(a)) ** p,
                            torch.zeros_like(a))
    else:
        terms = a ** p
    powers = zeros.index_add(0, idx, terms)
    if p < 0:
        return powers ** (1.0 / p)
    # A slice whose sum is 0 (empty, or explicit zeros only) has norm 0 and, as in
    # torch.linalg.vector_norm, a zero (sub)gradient: the root's infinite slope at 0 is kept
    # out of both the backward and the forward pass.
    positive = powers > 0
    safe = torch.where(positive, powers, torch.ones_like(powers))
    root = torch.sqrt(safe) if p == 2 else safe ** (1.0 / p)
    return torch.where(positive, root, zeros)


def norm(x, ord=None, axis=None):
    """Norm of a sparse matrix, or vector norms along an axis.

    Same parameters, results and errors as :func:`scipy.sparse.linalg.norm`; in
    differentiable mode (torch values) the result is a torch tensor whose gradient lives on
    the stored pattern. The norm is that of the matrix with duplicate entries summed.

    Parameters
    ----------
    x : sparse array or matrix
        Input (any spgrad or SciPy sparse format).
    ord : {non-zero int, inf, -inf, 'fro'}, optional
        Order of the norm: ``None``/``'fro'`` Frobenius, ``1``/``-1`` max/min column sum of
        absolute values, ``inf``/``-inf`` max/min row sum, ``2`` largest singular value
        (through :func:`spgrad.linalg.svds`). With ``axis`` an int: vector norms
        (``inf``, ``-inf``, ``0``, ``1``, ``2``, any other p).
    axis : {int, 2-tuple of ints, None}, optional
        Axis of vector norms, or the two axes of a matrix norm.

    Returns
    -------
    n : float or ndarray, or torch.Tensor in differentiable mode

    Notes
    -----
    ``ord=0`` counts nonzeros: in differentiable mode it is returned as a (non-differentiable)
    tensor. Subgradients at ties (``max``/``min``) are split as torch splits them.

    Examples
    --------
    >>> import numpy as np, torch, spgrad as sp
    >>> from spgrad.linalg import norm
    >>> A = sp.csr_array(np.array([[3.0, 0.0], [0.0, -4.0]]))
    >>> float(norm(A)), float(norm(A, 1)), norm(A, axis=1)
    (5.0, 4.0, array([3., 4.]))
    >>> A.requires_grad_()  # doctest: +ELLIPSIS
    <...>
    >>> norm(A).backward()
    >>> A.grad.toarray()
    array([[ 0.6,  0. ],
           [ 0. , -0.8]])
    """
    on_gpu = isinstance(x, _spbase) and x._on_gpu
    if not is_differentiable(x, gpu=on_gpu):
        if on_gpu:
            return _device_norm(x, ord, axis)
        return _scipy_norm(x, ord=ord, axis=axis)
    if not isinstance(x, _spbase):
        raise TypeError(
            f"input is not sparse (got {type(x).__name__}); use torch.linalg.norm for a dense "
            f"tensor"
        )
    if x.ndim != 2:
        raise NotImplementedError(f"differentiable norm supports 2-D arrays, got {x.ndim}-D")
    torch = _torch()
    # SciPy on the detached values does all the validation (and raises its own errors; on the
    # GPU its rules, on the device); the spectral norm is validated by svds itself (running it
    # twice would double the cost)
    reference = None
    if not (ord == 2 and axis is None):
        if on_gpu:
            reference = _device_norm(x._kernel_view(), ord, axis)
        else:
            reference = _sla.norm(to_scipy(x), ord=ord, axis=axis)
    C = _canonical_csr(x)
    data = C.data
    if axis is None and ord in (None, "fro", "f"):
        return torch.linalg.vector_norm(data)
    if axis is None:
        axis = (0, 1)
    elif not isinstance(axis, tuple):
        axis = (int(axis),)
    if len(axis) == 2:
        row_axis, col_axis = (a % 2 for a in axis)
        if ord in (None, "f", "fro"):
            return torch.linalg.vector_norm(data)
        if ord == 2:
            from ._eigen import svds

            return svds(x, k=1)[1][0]
        sums = _abs_sums(C, row_axis if ord in (1, -1) else col_axis)
        return sums.max() if ord in (1, np.inf) else sums.min()
    (a,) = axis
    a %= 2
    if ord == 0:
        return _backend.tensor_of(reference) if on_gpu else torch.from_numpy(
            np.asarray(reference))
    return _vector_norm(C, ord, a)


def _device_norm(x, ord, axis):
    """``norm`` of an spgrad array on the GPU, by SciPy's definitions and with its errors:
    a 0-d CuPy array for a matrix norm, a CuPy vector for norms along an axis; the spectral
    norm through :func:`spgrad.linalg.svds` there."""
    xp = x._xp()
    nd = x.ndim
    if ord in (None, "fro", "f") and axis is None:
        return xp.linalg.norm(x.tocsr()._deduped().data)
    x = x.tocsr()
    if axis is None:
        axis = tuple(range(nd))
    elif not isinstance(axis, tuple):
        message = "'axis' must be None, an integer or a tuple of integers"
        try:
            int_axis = int(axis)
        except TypeError as e:
            raise TypeError(message) from e
        if axis != int_axis:
            raise TypeError(message)
        axis = (int_axis,)
    if len(axis) == 2:
        row_axis, col_axis = axis
        if not (-nd <= row_axis < nd and -nd <= col_axis < nd):
            raise ValueError(f"Invalid axis {axis!r} for an array with shape {x.shape!r}")
        if row_axis % nd == col_axis % nd:
            raise ValueError("Duplicate axes given.")
        if ord == 2:
            from ._eigen import svds

            return svds(x, k=1)[1][0]
        if ord == -2:
            raise NotImplementedError
        if ord in (1, -1):
            sums = abs(x).sum(axis=row_axis)
        elif ord in (np.inf, -np.inf):
            sums = abs(x).sum(axis=col_axis)
        elif ord in (None, "f", "fro"):
            return xp.linalg.norm(x._deduped().data)
        else:
            raise ValueError("Invalid norm order for matrices.")
        return sums.max() if ord in (1, np.inf) else sums.min()
    if len(axis) != 1:
        raise ValueError("Improper number of dimensions to norm.")
    (a,) = axis
    if not -nd <= a < nd:
        raise ValueError(f"Invalid axis {axis!r} for an array with shape {x.shape!r}")
    if ord == np.inf:
        M = abs(x).max(axis=a)
    elif ord == -np.inf:
        M = abs(x).min(axis=a)
    elif ord == 0:
        M = x.count_nonzero(axis=a)
    elif ord == 1:
        M = abs(x).sum(axis=a)
    elif ord in (2, None):
        M = xp.sqrt(abs(x).power(2).sum(axis=a))
    else:
        try:
            ord + 1
        except TypeError as e:
            raise ValueError("Invalid norm order for vectors.") from e
        M = xp.power(abs(x).power(ord).sum(axis=a), 1 / ord)
    return M.toarray().ravel() if hasattr(M, "toarray") else M.ravel()


# -- onenormest -------------------------------------------------------------------------------


def onenormest(A, t=2, itmax=5, compute_v=False, compute_w=False):
    """Lower bound of the 1-norm of a sparse matrix or operator (SciPy's estimator).

    Same parameters and results as :func:`scipy.sparse.linalg.onenormest`. This is an
    estimate driven by discrete choices, so it is never differentiable: torch values and
    torch operators are detached (the operator is applied to NumPy vectors converted to
    tensors and back). On the GPU (``A`` an spgrad array there or a dense CuPy matrix) the
    products run there and ``v``, ``w`` are CuPy arrays; the random starting columns are drawn
    from NumPy's global generator as in SciPy and copied to the GPU, and ties among the row
    maxima may choose other columns than NumPy's sort does.

    Examples
    --------
    >>> import numpy as np, spgrad as sp
    >>> from spgrad.linalg import onenormest
    >>> A = sp.csr_array(np.array([[1.0, 0.0, 0.0], [5.0, 8.0, 2.0], [0.0, -1.0, 0.0]]))
    >>> float(onenormest(A))
    9.0
    """
    from ._common import _gpu_device

    if _gpu_device(A) is not None:
        from . import _matfuncs_device

        return _matfuncs_device.onenormest(A, t=t, itmax=itmax, compute_v=compute_v,
                                           compute_w=compute_w)
    return _sla.onenormest(_detached_operand(A, "spgrad.linalg.onenormest"), t=t, itmax=itmax,
                           compute_v=compute_v, compute_w=compute_w)


# -- matrix_power -----------------------------------------------------------------------------


def matrix_power(A, power):
    """Raise a square sparse matrix to an integer power (repeated squaring).

    Same results and errors as :func:`scipy.sparse.linalg.matrix_power` in plain mode. In
    differentiable mode every product is a differentiable sparse product, so the gradient of
    ``A ** power`` reaches ``A``'s stored values; the result's pattern is structural (an
    entry that cancels to zero stays stored). ``power=0`` gives a constant identity.

    Parameters
    ----------
    A : (M, M) sparse array or matrix
    power : int
        Non-negative exponent.

    Returns
    -------
    A**power : sparse array or matrix

    Examples
    --------
    >>> import numpy as np, spgrad as sp
    >>> from spgrad.linalg import matrix_power
    >>> A = sp.csr_array(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]]))
    >>> matrix_power(A, 2).toarray()
    array([[1, 0, 1],
           [0, 2, 0],
           [1, 0, 1]])
    """
    on_gpu = isinstance(A, _spbase) and A._on_gpu
    if not is_differentiable(A, gpu=on_gpu) and not on_gpu:
        return _scipy_matrix_power(A, power)
    if not isinstance(A, _spbase):
        raise TypeError(f"a sparse array or matrix is expected, got {type(A).__name__}")
    M, N = A.shape
    if M != N:
        raise TypeError("sparse matrix is not square")
    if not (isinstance(power, (int, np.integer)) or (np.isscalar(power) and int(power) == power)):
        raise ValueError("exponent must be an integer")
    power = int(power)
    if power < 0:
        raise ValueError("exponent must be >= 0")
    if power == 0:
        from .. import _construct

        # SciPy returns a DIA identity array here, whatever the input's format and family
        return _construct.eye_array(M, dtype=_backend.numpy_dtype(A.dtype)).to(A.device)
    return _power(A, power)


def _power(A, power):
    if power == 1:
        return A.copy()
    half = _power(A, power // 2)
    return A @ half @ half if power % 2 else half @ half


# -- expm -------------------------------------------------------------------------------------

# the result format SciPy's expm gives for each input format
_EXPM_FORMAT = {"csr": "csr", "coo": "csr", "lil": "csr", "dok": "csr",
                "csc": "csc", "dia": "csc", "bsr": "csc"}


def expm(A):
    """Matrix exponential.

    Plain mode: :func:`scipy.sparse.linalg.expm` (Padé approximation with scaling and
    squaring); sparse results come back as spgrad containers.

    Differentiable mode **densifies**: the exponential is computed by
    ``torch.linalg.matrix_exp`` on the dense ``n × n`` matrix (the exponential of a sparse
    matrix is dense in general, so this costs O(n²) memory and O(n³) time). For a sparse input
    the result is sparse in SciPy's format with the nonzeros of the result, whose values carry
    the gradient; a dense torch tensor gives a dense tensor. For the action on a few vectors use
    :func:`expm_multiply`, which stays sparse.

    On the GPU plain mode runs SciPy's algorithm there (the same Padé degree and scaling, its
    norms exact below 200 rows and estimated by the GPU :func:`onenormest` above, the solves
    by :func:`spsolve`'s sparse route, SciPy's result format and warnings); differentiable
    mode densifies there, as on the CPU.

    Parameters
    ----------
    A : (M, M) array_like or sparse array
        Square matrix.

    Returns
    -------
    expA : (M, M) ndarray, sparse array or torch.Tensor

    Examples
    --------
    >>> import numpy as np, spgrad as sp
    >>> from spgrad.linalg import expm
    >>> A = sp.csc_array(np.diag([1.0, 2.0]))
    >>> expm(A).toarray()
    array([[2.71828183, 0.        ],
           [0.        , 7.3890561 ]])
    """
    on_gpu = isinstance(A, _spbase) and A._on_gpu
    if not is_differentiable(A, gpu=True):
        if on_gpu:
            from . import _matfuncs_device

            return _matfuncs_device.expm(A)
        return _scipy_expm(A)
    torch = _torch()
    if _backend.is_tensor(A):
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"expected a square matrix, got shape {tuple(A.shape)}")
        return torch.linalg.matrix_exp(A)
    if not isinstance(A, _spbase):
        raise NotImplementedError(
            f"differentiable expm supports spgrad sparse containers and torch tensors, got "
            f"{type(A).__name__}"
        )
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"expected a square matrix, got shape {A.shape}")
    dense = A.toarray()
    E = torch.linalg.matrix_exp(dense)
    fmt = _EXPM_FORMAT.get(A.format, "csr")
    if fmt == "csc":
        E = E.T
    # the nonzeros of the result, row-major (column-major for CSC): SciPy's stored pattern
    # (found where E is, on the GPU too)
    nz = torch.nonzero(E.detach())
    n = A.shape[0]
    idx = torch.int32 if len(nz) < np.iinfo(np.int32).max else torch.int64
    indptr = torch.zeros(n + 1, dtype=idx, device=E.device)
    indptr[1:] = torch.cumsum(torch.bincount(nz[:, 0], minlength=n), 0)
    indices = nz[:, 1].to(idx)
    vals = E[nz[:, 0], nz[:, 1]]
    indptr, indices = (_backend.kernel_array(t, A.indices) for t in (indptr, indices))
    from .. import _csc, _csr
    from .._matrix import spmatrix

    matrix = isinstance(A, spmatrix)
    if fmt == "csr":
        cls = _csr.csr_matrix if matrix else _csr.csr_array
    else:
        cls = _csc.csc_matrix if matrix else _csc.csc_array
    return cls((vals, indices, indptr), shape=A.shape)


# -- expm_multiply ----------------------------------------------------------------------------

_UNIT_ROUNDOFF = 2.0 ** -53


def _inf_norm(X):
    """Infinity norm of a dense vector or matrix (max absolute row sum), detached, as a
    Python float: a NumPy or CuPy array, or a tensor on any device (one scalar read)."""
    if _backend.is_tensor(X):
        X = X.detach()
        if X.numel() == 0:
            return 0.0
        return float(X.abs().max() if X.ndim == 1 else X.abs().sum(1).max())
    if X.size == 0:
        return 0.0
    return float(abs(X).max()) if X.ndim == 1 else float(abs(X).sum(axis=1).max())


class _DeviceNormInfo(_scipy_expm_multiply_module.LazyOperatorNormInfo):
    """SciPy's lazily computed norms of an operator and its powers, for a matrix on the GPU:
    the 1-norm estimates of the powers by spgrad's GPU ``onenormest``."""

    def d(self, p):
        if p not in self._d:
            from . import _matfuncs_device
            from ._interface import aslinearoperator

            est = _matfuncs_device.onenormest(aslinearoperator(self._A) ** p)
            self._d[p] = est ** (1.0 / p)
        return self._scale * self._d[p]


def _taylor_parameters(shifted, t, n0):
    """``(m_star, s)``: Taylor degree and number of scaling steps for ``exp(t A) B``, chosen
    as SciPy chooses them (Al-Mohy & Higham, Algorithm 3.2 with the bound of Code Fragment
    3.1), on detached values: ``shifted`` a SciPy or NumPy operand, or an spgrad array on the
    GPU (whose norms are then computed and estimated there)."""
    on_gpu = isinstance(shifted, _spbase)
    if on_gpu:
        from ._matfuncs_device import _exact_onenorm

        A_1_norm = _exact_onenorm(shifted)
    else:
        A_1_norm = _scipy_expm_multiply_module._exact_1_norm(shifted)
    if t * A_1_norm == 0:
        return 0, 1
    info = _DeviceNormInfo if on_gpu else _scipy_expm_multiply_module.LazyOperatorNormInfo
    norm_info = info(t * shifted, A_1_norm=t * A_1_norm, ell=2)
    return _scipy_expm_multiply_module._fragment_3_1(norm_info, n0, _UNIT_ROUNDOFF, ell=2)


def _taylor_action(matmul, B, t, mu, m_star, s):
    """``exp(t (A - mu I)) B · exp(t mu)`` by ``s`` steps of a degree-``m_star`` Taylor
    polynomial, stopping a step early once two successive terms are negligible (the
    stopping test runs on detached norms, so the graph records exactly what was computed).
    ``B`` and ``matmul``'s results are tensors, or CuPy arrays in plain mode on the GPU."""
    F = B
    eta = np.exp(t * mu / s)
    for _ in range(s):
        c1 = _inf_norm(B)
        for j in range(m_star):
            coeff = t / float(s * (j + 1))
            B = coeff * (matmul(B) - mu * B)
            c2 = _inf_norm(B)
            F = F + B
            if c1 + c2 <= _UNIT_ROUNDOFF * _inf_norm(F):
                break
            c1 = c2
        F = eta * F
        B = F
    return F


def _torch_operand(A):
    """``(matmul, trace, detached SciPy matrix)`` of the matrix argument of expm_multiply."""
    torch = _torch()
    if isinstance(A, _spbase):
        # (on the GPU the parameters are chosen there, on the detached values)
        S = A._kernel_view() if A._on_gpu else to_scipy(A)
        return (lambda X: A @ X), A.trace(), S
    if _backend.is_tensor(A):
        return (lambda X: A.to(X.dtype) @ X), torch.trace(A), _backend.to_numpy(A)
    if isinstance(A, np.ndarray) or _ss.issparse(A):
        T = _backend.as_tensor(A) if isinstance(A, np.ndarray) else None
        if T is not None:
            return (lambda X: T.to(X.dtype) @ X), float(np.trace(A)), A
        from .._interop import from_scipy

        C = from_scipy(A)
        return (lambda X: C @ X), float(A.trace()), A
    raise NotImplementedError(
        f"differentiable expm_multiply supports spgrad sparse containers, SciPy sparse "
        f"matrices, NumPy arrays and torch tensors as A, got {type(A).__name__}"
    )


def expm_multiply(A, B, start=None, stop=None, num=None, endpoint=None, traceA=None):
    """Action of the matrix exponential of ``A`` on ``B``: ``expm(t A) @ B``.

    Same parameters and results as :func:`scipy.sparse.linalg.expm_multiply`. In
    differentiable mode (torch values in ``A`` or a torch ``B``) the truncated-Taylor scaling
    method runs in torch with differentiable sparse products, so gradients reach ``A``'s
    stored values (on its pattern, never densified) and ``B``; the Taylor degree and the
    number of scaling steps are chosen on the detached values exactly as SciPy chooses them,
    so values agree with SciPy's to rounding. With ``start``/``stop``/``num`` the result
    stacks the actions at the time points ``np.linspace(start, stop, num, endpoint)``,
    each obtained from the previous one by one more step.

    Parameters
    ----------
    A : transposable linear operator
        Square matrix (sparse, dense array, torch tensor; a LinearOperator in plain mode).
    B : ndarray or torch.Tensor
        Vector or matrix.
    start, stop : scalar, optional
        Start and end of the time interval.
    num : int, optional
        Number of time points.
    endpoint : bool, optional
        Whether ``stop`` is included.
    traceA : scalar, optional
        Trace of ``A`` if known (used for the shift; the shift itself is a constant).

    Returns
    -------
    expm_A_B : ndarray or torch.Tensor

    Examples
    --------
    >>> import numpy as np, torch, spgrad as sp
    >>> from spgrad.linalg import expm_multiply
    >>> A = sp.csr_array(np.array([[1.0, 0.0], [0.0, 2.0]])).requires_grad_()
    >>> y = expm_multiply(A, torch.ones(2, dtype=torch.float64))
    >>> y.detach().numpy()
    array([2.71828183, 7.3890561 ])
    >>> y.sum().backward()
    >>> A.grad.data  # d exp(a) / d a = exp(a)
    array([2.71828183, 7.3890561 ])
    """
    on_gpu = isinstance(A, _spbase) and A._on_gpu
    differentiable = is_differentiable(A, B, gpu=on_gpu)
    if not differentiable and not on_gpu:
        return _scipy_expm_multiply(A, B, start=start, stop=stop, num=num, endpoint=endpoint,
                                    traceA=traceA)
    if isinstance(A, _sla.LinearOperator):
        raise NotImplementedError(
            "differentiable expm_multiply supports sparse containers and dense arrays or "
            "tensors as A; for a LinearOperator call it with NumPy operands"
        )
    if len(A.shape) != 2 or A.shape[0] != A.shape[1]:
        raise ValueError("expected A to be like a square matrix")
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"shapes of matrices A {tuple(A.shape)} and B {tuple(B.shape)} are "
                         f"incompatible")
    if len(B.shape) not in (1, 2):
        raise ValueError("expected B to be like a matrix or a vector")
    if differentiable:
        matmul, trace, S = _torch_operand(A)
        a_dtype = _backend.numpy_dtype(A.dtype)
        b_np_dtype = (_backend.numpy_dtype(B.dtype) if _backend.is_tensor(B)
                      else np.asarray(B).dtype)
        B = _backend.as_tensor(B).to(_backend.torch_dtype(np.result_type(a_dtype, b_np_dtype,
                                                                          float)))
        stack = _torch().stack
    else:  # plain mode on the GPU: the products and the parameter choice there
        if not _backend.is_device_array(B):
            raise ValueError(f"operands on different devices: {A.device} and "
                             f"{_backend.device_of(B)} (B must be a CuPy array)")
        _backend.check_same_device(A, B)
        S = A
        B = B.astype(np.result_type(A.dtype, B.dtype, float))
        matmul, trace, stack = (lambda X: A @ X), A.trace(), A._xp().stack
    n = A.shape[0]
    n0 = 1 if B.ndim == 1 else B.shape[1]
    if traceA is None:
        traceA = trace
    # the shift is a constant of the method (exp(tA) = exp(t mu) exp(t(A - mu I)) for any mu)
    if _backend.is_tensor(traceA):
        traceA = traceA.detach()
    mu = (traceA.item() if hasattr(traceA, "item") else traceA) / n if n else 0.0
    shifted = _shifted_scipy(S, mu)
    if all(arg is None for arg in (start, stop, num, endpoint)):
        m_star, s = _taylor_parameters(shifted, 1.0, n0)
        return _taylor_action(matmul, B, 1.0, mu, m_star, s)
    kwargs = {"retstep": True}
    if num is not None:
        kwargs["num"] = num
    if endpoint is not None:
        kwargs["endpoint"] = endpoint
    samples, step = np.linspace(start, stop, **kwargs)
    if len(samples) < 2:
        raise ValueError("at least two time points are required")
    t0 = float(samples[0])
    m0, s0 = _taylor_parameters(shifted, t0, n0)
    X = [_taylor_action(matmul, B, t0, mu, m0, s0)]
    m_star, s = _taylor_parameters(shifted, float(step), n0)
    for _ in range(len(samples) - 1):
        X.append(_taylor_action(matmul, X[-1], float(step), mu, m_star, s))
    return stack(X)


def funm_multiply_krylov(f, A, b, *, assume_a="general", t=1.0, atol=0.0, rtol=1e-6,
                         restart_every_m=None, max_restarts=20):
    """``y = f(tA) b`` by SciPy's restarted Krylov method (plain mode only).

    SciPy's :func:`scipy.sparse.linalg.funm_multiply_krylov`, with spgrad containers accepted
    for ``A``. Not differentiable: torch operands raise ``NotImplementedError`` (for
    ``f = exp`` use the differentiable :func:`expm_multiply`). On the GPU (``A`` an spgrad
    array there or a LinearOperator on CuPy arrays, ``b`` a CuPy vector) the Krylov vectors
    stay on the device and ``f`` is applied, as in SciPy, to the small Hessenberg matrix as a
    NumPy array; the result is a CuPy array.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.linalg
    >>> import spgrad as sp
    >>> from spgrad.linalg import funm_multiply_krylov
    >>> A = sp.diags_array([1.0, -2.0, 1.0], offsets=[-1, 0, 1], shape=(5, 5), format="csr")
    >>> y = funm_multiply_krylov(scipy.linalg.expm, A, np.ones(5))
    >>> np.allclose(y, scipy.linalg.expm(A.toarray()) @ np.ones(5))
    True
    """
    if is_differentiable(A, b, gpu=True):
        raise NotImplementedError(
            "funm_multiply_krylov is not differentiable; for f = exp use "
            "spgrad.linalg.expm_multiply, which is")
    if _backend.is_device_array(b) or (isinstance(A, _spbase) and A._on_gpu):
        from . import _matfuncs_device

        return _matfuncs_device.funm_multiply_krylov(
            f, A, b, assume_a=assume_a, t=t, atol=atol, rtol=rtol,
            restart_every_m=restart_every_m, max_restarts=max_restarts)
    return _scipy_funm_multiply_krylov(
        f, A, b, assume_a=assume_a, t=t, atol=atol, rtol=rtol,
        restart_every_m=restart_every_m, max_restarts=max_restarts)


def _shifted_scipy(S, mu):
    """``S - mu I`` for the detached operand (SciPy sparse or NumPy; an spgrad array on the
    GPU, shifted there)."""
    n = S.shape[0]
    if isinstance(S, _spbase):
        from .. import _construct

        shift = _construct.diags_array(S._xp().full(n, -mu, dtype=np.result_type(S.dtype,
                                                                                  float)))
        return (S + shift).asformat(S.format)
    if _ss.issparse(S):
        return (S - mu * _ss.eye_array(n, dtype=S.dtype, format=S.format)).asformat(S.format)
    return np.asarray(S) - mu * np.eye(n)


# -- LaplacianNd ------------------------------------------------------------------------------


class LaplacianNd(_sla.LaplacianNd):
    """Grid Laplacian in N dimensions (SciPy's :class:`scipy.sparse.linalg.LaplacianNd`)
    whose :meth:`tosparse` returns an spgrad sparse array.

    Examples
    --------
    >>> from spgrad.linalg import LaplacianNd
    >>> L = LaplacianNd((2, 2), boundary_conditions="dirichlet")
    >>> L.tosparse().toarray()
    array([[-4,  1,  1,  0],
           [ 1, -4,  0,  1],
           [ 1,  0, -4,  1],
           [ 0,  1,  1, -4]], dtype=int8)
    """

    def tosparse(self):
        """The Laplacian as an spgrad sparse array (format as SciPy's)."""
        return from_scipy_result(super().tosparse())
