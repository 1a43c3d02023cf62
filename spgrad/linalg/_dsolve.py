"""Direct solvers: ``spsolve``, ``splu``/``SuperLU``, ``spilu``, ``factorized``, ``inv``,
``use_solver``.

Plain mode (NumPy values and right-hand sides) hands the numerics to SciPy's SuperLU, so
results, dtypes, return types, warnings and errors are SciPy's. Two deliberate differences:
an spgrad input is never modified (SciPy sorts and merges the indices of a non-canonical CSR/CSC
input in place, once; spgrad works on a canonical copy, at every call: call
``A.sum_duplicates()`` once before many solves with an unsorted matrix), and SciPy's
``SparseEfficiencyWarning`` comes out as a class that is both spgrad's and SciPy's
``SparseEfficiencyWarning``, so a filter on either catches it.

On the GPU, ``spsolve`` is cuSOLVER's sparse QR through ``cupyx`` (:mod:`spgrad._cuda._vendor`);
``splu``, ``spilu`` and ``factorized`` factorise a host copy with SuperLU (as cupyx does) and
solve on the GPU with cuSPARSE's triangular solves, differentiably as on the CPU.

Differentiable mode (torch values in ``A`` or a torch right-hand side) factorises once with
SuperLU and differentiates ``x = A⁻¹ b`` with the same factorisation (see
:mod:`spgrad._autograd._dsolve_ops`): ``∂b = A⁻ᴴ ḡ``, ``∂A = −(A⁻ᴴ ḡ) x̄ᵀ`` on the stored
pattern of ``A``. Dense results are torch tensors; double backward and forward mode work.
"""

import warnings

import numpy as np
import scipy.sparse as _sps
import scipy.sparse.linalg as _spla
from scipy.sparse.linalg import MatrixRankWarning

from .. import _backend
from .._base import SparseEfficiencyWarning as _SparseEfficiencyWarningBase
from .._base import _spbase, issparse
from ._common import from_scipy_result, is_differentiable, to_scipy

__all__ = ["MatrixRankWarning", "SuperLU", "factorized", "inv", "spilu", "splu", "spsolve",
           "use_solver"]


class _SparseEfficiencyWarning(_SparseEfficiencyWarningBase, _sps.SparseEfficiencyWarning):
    """spgrad's and SciPy's ``SparseEfficiencyWarning`` at once (what this module warns)."""


_SparseEfficiencyWarning.__name__ = _SparseEfficiencyWarning.__qualname__ = \
    "SparseEfficiencyWarning"


def _scipy(function, *args, **kwargs):
    """``function(*args, **kwargs)`` with the warnings SciPy issues re-issued at the line that
    called the public function (SciPy's ``SparseEfficiencyWarning`` as spgrad's as well),
    under the caller's filters. They are re-issued also when the call raises afterwards, in
    the order SciPy issued them."""
    caught = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            return function(*args, **kwargs)
    finally:
        for w in caught:
            category = w.category
            if issubclass(category, _sps.SparseEfficiencyWarning):
                category = _SparseEfficiencyWarning
            warnings.warn(str(w.message), category, stacklevel=3)


def _warn(message, category, stacklevel=3):
    if category is _sps.SparseEfficiencyWarning:
        category = _SparseEfficiencyWarning
    warnings.warn(message, category, stacklevel=stacklevel)


def _plain_operand(x, what=None):
    """``x`` for SciPy, never sharing arrays SciPy would modify: a non-canonical spgrad
    CSR/CSC becomes a canonical copy (SciPy would sort and merge its indices in place).

    The SciPy view of a canonical CSR/CSC is cached on the container for as long as its
    arrays are the same objects (building one costs ~30 µs, which shows on small solves);
    the view shares the arrays, so in-place value changes are seen."""
    if isinstance(x, _spbase) and x.format in ("csr", "csc"):
        if not x.has_canonical_format:
            x = x._canonical()
        cached = x.__dict__.get("_scipy_view")
        if (cached is not None and cached[0] is x.data and cached[1] is x.indices
                and cached[2] is x.indptr and cached[3] == x.shape
                and _views_of(cached[4], x)):
            return cached[4]
        S = to_scipy(x, what)
        S.has_canonical_format = True
        x.__dict__["_scipy_view"] = (x.data, x.indices, x.indptr, x.shape, S)
        return S
    return to_scipy(x, what)


def _same_memory(s, a):
    """True when arrays ``s`` and ``a`` are the same elements of the same buffer."""
    return s is a or (s.__array_interface__["data"][0] == a.__array_interface__["data"][0]
                      and s.shape == a.shape and s.strides == a.strides
                      and s.dtype == a.dtype)


def _views_of(S, x):
    """True when SciPy's ``S`` still shares ``x``'s arrays (not so after a deep copy)."""
    return (_same_memory(S.data, x.data) and _same_memory(S.indices, x.indices)
            and _same_memory(S.indptr, x.indptr))


def _fp_dtype(dtype):
    """SciPy's ``_asfptype`` rule: the first of float32, float64, complex64, complex128 that
    ``dtype`` casts to safely (the dtype itself if none does)."""
    for char in "fdFD":
        if np.can_cast(dtype, char):
            return np.dtype(char)
    return np.dtype(dtype)


# ------------------------------------------------------------- differentiable operands
def _compressed_operand(A, name, formats):
    """``A`` as an spgrad CSR/CSC container (of ``formats``), converted to CSC with SciPy's
    warning when it is not; torch values stay in the graph."""
    from .. import _csc, _interop

    if isinstance(A, _spbase) and A.format in formats:
        return A
    if _sps.issparse(A) and not isinstance(A, _spbase) and A.format in formats:
        return _interop.from_scipy(A)  # a SciPy CSR/CSC: shared arrays, no warning
    message = {"spsolve": "spsolve requires A be CSC or CSR matrix format",
               "splu": "splu converted its input to CSC format",
               "spilu": "spilu converted its input to CSC format"}[name]
    if isinstance(A, _spbase):
        # SciPy converts with csc_array(A): the array family, whatever A's family
        C = A.tocsc()
        C = _csc.csc_array._from_arrays(C.data, C.indices, C.indptr, C.shape)
    elif _sps.issparse(A):
        C = _interop.from_scipy(_sps.csc_array(to_scipy(A)))
    else:
        if _backend.is_tensor(A) and A.ndim != 2:
            raise ValueError(f"{name} expected a 2-D matrix A, got a {A.ndim}-D tensor")
        C = _csc.csc_array(A)
    _warn(message, _SparseEfficiencyWarning, stacklevel=5)
    return C


def _canonical_values(A, dtype):
    """Values of the canonical form of ``A`` as a tensor of ``dtype`` (in the graph), with
    the canonical container."""
    if not A.has_canonical_format:
        A = A._canonical()
    values = _backend.as_tensor(A.data)
    target = _backend.torch_dtype(dtype)
    if values.dtype != target:
        values = values.to(target)
    return A, values


def _dense_rhs(b):
    """A dense right-hand side as a tensor (NumPy and lists become constants)."""
    if _backend.is_tensor(b):
        return b
    if _backend.is_device_array(b):
        return _backend.as_tensor(b)
    b = np.asarray(b).view(np.ndarray)  # np.matrix too
    if b.dtype.kind not in "biufc":
        raise TypeError(f"spsolve expected a numeric right-hand side, got dtype {b.dtype}")
    return _backend.as_tensor(b)


def _sparse_rhs(b):
    """A sparse right-hand side as an spgrad container (torch values stay in the graph)."""
    from .. import _interop

    if isinstance(b, _spbase):
        return b
    # a SciPy object, or spgrad's BSR/LIL/DOK (SciPy subclasses)
    return _interop.from_scipy(b if b.format in ("csr", "csc", "coo") else _sps.coo_array(b))


def _check_square(A, message):
    M, N = A.shape
    if M != N:
        raise ValueError(message.format(shape=(M, N)))


def _factor_of(A, values, singular, ilu=False, **options):
    from .._autograd._dsolve_ops import factorize

    if not _backend.is_tensor(A.data):
        # constant values: factorised from the NumPy (or CuPy) array itself, which also works
        # inside torch.func transforms (vmap, jvp, jacrev over b), whose tensors made from
        # NumPy data have no storage to read
        dtype = _backend.numpy_dtype(values.dtype)
        values = (A.data.astype(dtype, copy=False) if A._on_gpu
                  else np.asarray(A.data, dtype=dtype))
    return factorize(values, A.indices, A.indptr, A.shape[0], A.format, ilu=ilu,
                     singular=singular, **options)


def _spsolve_torch(A, b, permc_spec):
    from .._autograd._dsolve_ops import lu_solve

    A = _compressed_operand(A, "spsolve", ("csr", "csc"))
    b_sparse = issparse(b)
    if b_sparse:
        b = _sparse_rhs(b)
    else:
        b = _dense_rhs(b)
    if b.ndim == 0:
        raise ValueError("spsolve expected a right-hand side b of shape (n,) or (n, k), "
                         "got a scalar")
    if b.ndim > 2:
        raise ValueError(f"spsolve expected a right-hand side b of shape (n,) or (n, k), "
                         f"got shape {tuple(b.shape)}")
    b_vector = b.ndim == 1 or b.shape[1] == 1
    b_dtype = b.dtype if b_sparse else _backend.numpy_dtype(b.dtype)
    dtype = np.promote_types(_fp_dtype(A.dtype), b_dtype)
    A, values = _canonical_values(A, dtype)
    _check_square(A, "matrix must be square (has shape {shape})")
    if A.shape[0] != b.shape[0]:
        raise ValueError(f"matrix - rhs dimension mismatch ({A.shape} - {b.shape[0]})")
    on_gpu = (isinstance(A, _spbase) and A._on_gpu) or _backend.device_of(b) != "cpu"
    if on_gpu:
        _backend.check_same_device(A, b)
    if b_sparse and not b_vector:
        return _spsolve_sparse_rhs(A, values, b, dtype)
    B = b.toarray() if b_sparse else b
    B = _backend.as_tensor(B).to(_backend.torch_dtype(dtype))
    if on_gpu:
        from .._autograd._dsolve_ops import DeviceFactor
        from .._autograd._ops import pattern

        # constant (CuPy) values are read as they are, which also works inside torch.func
        # transforms (see _factor_of)
        constant = not _backend.is_tensor(A.data)
        factor = DeviceFactor(
            A.data.astype(_backend.numpy_dtype(values.dtype)) if constant else values,
            pattern(A), A.format)
        x = lu_solve(values, B, factor)
        if factor.singular:
            _warn("Matrix is exactly singular", MatrixRankWarning, stacklevel=4)
        return x.reshape(-1) if b_vector else x
    factor = _factor_of(A, values, singular="nan", permc_spec=permc_spec)
    if factor.lu is None:
        _warn("Matrix is exactly singular", MatrixRankWarning, stacklevel=4)
    x = lu_solve(values, B, factor)
    return x.reshape(-1) if b_vector else x


def _spsolve_sparse_rhs(A, values, b, dtype):
    """SciPy's sparse-b branch: a sparse solution of ``A``'s class whose pattern is the
    nonzeros of the computed solution (found column by column, as SciPy does). Like SciPy's
    branch (``factorized(A)``), it factorises with the default options: ``permc_spec`` is
    not used. On the GPU the factorisation is SuperLU's of a host copy (as :func:`splu`'s),
    the solves and the search for nonzeros run there."""
    from .._autograd._dsolve_ops import lu_solve

    b = _sparse_rhs_checks(A, b)
    factor = _factor_of(A, values, singular="raise")
    B = _backend.as_tensor(b.toarray()).to(_backend.torch_dtype(dtype))
    X = lu_solve(values, B, factor)
    rows, cols = _nonzeros_by_column(_backend.kernel_array(X, A.indptr))
    gathered = X[_backend.index_tensor(rows), _backend.index_tensor(cols)]
    coo = A._coo_container((gathered, (rows, cols)), shape=b.shape)
    return coo.asformat(A.format)


def _sparse_rhs_checks(A, b):
    """SciPy's warnings around its sparse-b branch (factorising a CSR ``A`` converts it, and
    a ``b`` that is not CSC is converted); returns ``b`` as CSC."""
    if A.format == "csr":
        _warn("splu converted its input to CSC format", _SparseEfficiencyWarning, stacklevel=6)
    if b.format != "csc":
        _warn("spsolve is more efficient when sparse b is in the CSC matrix format",
              _SparseEfficiencyWarning, stacklevel=6)
        b = b.tocsc()
    return b


def _nonzeros_by_column(X):
    """``(rows, cols)`` of the nonzeros of the dense ``X`` in column-major order (SciPy's
    order before its format conversion), on ``X``'s device."""
    xp = _backend.array_module(X)
    cols, rows = xp.nonzero(X.T)
    return rows, cols


# ----------------------------------------------------------------------------- spsolve
def spsolve(A, b, permc_spec=None, use_umfpack=True):
    """Solve the sparse linear system ``A x = b``, where ``b`` may be a vector or a matrix.

    Parameters
    ----------
    A : sparse array or matrix, ndarray or torch.Tensor, shape (n, n)
        The square matrix; converted to CSC (with a ``SparseEfficiencyWarning``) when it is
        neither CSC nor CSR.
    b : ndarray, torch.Tensor or sparse array or matrix, shape (n,) or (n, k)
        The right-hand side. A vector if its shape is ``(n,)`` or ``(n, 1)``.
    permc_spec : str, optional
        Column permutation of SuperLU: ``"NATURAL"``, ``"MMD_ATA"``, ``"MMD_AT_PLUS_A"`` or
        ``"COLAMD"`` (default).
    use_umfpack : bool, optional
        Use UMFPACK when ``scikits.umfpack`` is installed (plain mode only; differentiable
        mode always uses SuperLU).

    Returns
    -------
    x : ndarray, torch.Tensor or sparse array or matrix
        Shape ``(n,)`` for a vector ``b``, else ``(n, k)``. A sparse ``b`` with ``k > 1``
        gives a sparse ``x`` of ``A``'s format and family whose pattern is the nonzeros of
        the solution; otherwise ``x`` is dense (a torch tensor in differentiable mode).

    Warns
    -----
    MatrixRankWarning
        If ``A`` is exactly singular; ``x`` is then NaN (a sparse ``b`` with ``k > 1``
        raises SciPy's ``RuntimeError`` instead).
    SparseEfficiencyWarning
        If ``A`` is not CSC/CSR, or a sparse ``b`` is not CSC.

    Notes
    -----
    Differentiable mode (``A`` with torch values, or ``b`` a tensor or torch-valued sparse
    matrix): one SuperLU factorisation; the backward solves ``Aᴴ λ = ḡ`` with the same
    factorisation and gives ``∂b = λ`` and ``∂A = −λ x̄ᵀ`` on the stored entries of ``A``
    (never an ``n × n`` dense matrix). The backward is differentiable (Hessian-vector
    products) and forward mode gives ``dx = A⁻¹ (db − dA x)``. A sparse ``b`` is densified
    to ``n × k`` and the sparse result keeps the entries that are nonzero in the forward
    pass. Index arrays never carry gradients. ``torch.func.vmap`` (and ``jacrev``, ``jacfwd``,
    ``hessian``) over ``b`` solve the batch as extra columns with one factorisation; a batch
    of values of ``A`` raises ``NotImplementedError``.

    On the GPU (``A`` an spgrad array there, ``b`` a CuPy array) the solve is cuSOLVER's
    sparse QR through ``cupyx``, one column at a time, with SciPy's checks, warnings and
    result dtype and shape; ``permc_spec`` and ``use_umfpack`` do not apply there. A sparse
    ``b`` of several columns takes SciPy's route there too: one SuperLU factorisation (of a
    host copy, as :func:`splu`), the solves on the GPU, a sparse ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> import spgrad as sp
    >>> from spgrad.linalg import spsolve
    >>> A = sp.csc_array([[3.0, 2.0, 0.0], [1.0, -1.0, 0.0], [0.0, 5.0, 1.0]])
    >>> spsolve(A, np.array([2.0, 4.0, -1.0]))
    array([ 2., -2.,  9.])

    Differentiable in the stored values of ``A`` and in ``b``:

    >>> import torch
    >>> A = A.requires_grad_()
    >>> x = spsolve(A, torch.tensor([2.0, 4.0, -1.0], dtype=torch.float64))
    >>> x.sum().backward()
    >>> A.grad.nnz
    6
    """
    if is_differentiable(A, b, gpu=True):
        return _spsolve_torch(A, b, permc_spec)
    if (isinstance(A, _spbase) and A._on_gpu) or _backend.is_device_array(b) or \
            (isinstance(b, _spbase) and b._on_gpu):
        return _spsolve_device(A, b)
    return from_scipy_result(_scipy(_spla.spsolve, _plain_operand(A), _plain_operand(b),
                                    permc_spec=permc_spec, use_umfpack=use_umfpack))


def _spsolve_device(A, b):
    """``spsolve`` on the GPU: cuSOLVER's sparse QR through ``cupyx`` (one solve per column of
    ``b``), with SciPy's warnings, errors, result dtype and shape; a singular ``A`` gives
    SciPy's ``MatrixRankWarning`` and NaN. ``permc_spec`` and ``use_umfpack`` do not apply."""
    from .._cuda import _vendor
    from .._sputils import DEVICE_DTYPES

    if not (isinstance(A, _spbase) and A._on_gpu):
        raise ValueError(f"operands on different devices: {_backend.device_of(A)} and "
                         f"{_backend.device_of(b)}")
    _backend.check_same_device(A, b)
    if A.format not in ("csc", "csr"):
        from .._csc import csc_array

        A = csc_array(A.tocsc())  # SciPy's conversion: a csc_array, whatever A's family
        warnings.warn("spsolve requires A be CSC or CSR matrix format",
                      _SparseEfficiencyWarningBase, stacklevel=3)
    sparse_b = issparse(b) and b.ndim == 2 and b.shape[1] != 1
    if issparse(b) and not sparse_b:
        b = b.toarray()
    b_is_vector = b.ndim == 1 or (b.ndim == 2 and b.shape[1] == 1)
    dtype = np.promote_types(A.dtype, b.dtype)
    if dtype not in DEVICE_DTYPES:
        raise TypeError(f"spsolve on the GPU solves in float32, float64, complex64 or "
                        f"complex128; A ({A.dtype}) and b ({b.dtype}) give {dtype}")
    M, N = A.shape
    if M != N:
        raise ValueError(f"matrix must be square (has shape {(M, N)})")
    if M != b.shape[0]:
        raise ValueError(f"matrix - rhs dimension mismatch ({A.shape} - {b.shape[0]})")
    if sparse_b:
        return _spsolve_device_sparse_rhs(A, b, dtype)
    S = A.tocsr()
    S = S.copy() if S is A else S
    S.sum_duplicates()
    bd = b.astype(dtype)
    if M == 0:
        x, singular = bd, False
    else:
        x, singular = _vendor.spsolve(S.data.astype(dtype), S.indices, S.indptr, S.shape, bd)
    if singular:
        warnings.warn("Matrix is exactly singular", MatrixRankWarning, stacklevel=3)
        x = x.astype(dtype)
        x.fill(np.nan)
    return x.ravel() if b_is_vector else x


#: bytes of the dense blocks of columns that a sparse right-hand side is solved in on the GPU
_BLOCK_BYTES = 1 << 28


def _spsolve_device_sparse_rhs(A, b, dtype):
    """SciPy's sparse-b branch on the GPU: ``A`` factorised once by :func:`splu` (SuperLU of a
    host copy, the solves on the GPU), ``b`` solved in dense blocks of columns, the nonzeros
    of each block kept; a sparse ``x`` of ``A``'s class, as SciPy's."""
    b = _sparse_rhs_checks(A, b)
    xp = A._xp()
    A = A.astype(dtype)
    A.sum_duplicates()
    with warnings.catch_warnings():  # (the conversion was announced as SciPy does)
        warnings.simplefilter("ignore", _SparseEfficiencyWarningBase)
        lu = splu(A.tocsc())
    n, k = b.shape
    step = max(1, min(k, _BLOCK_BYTES // max(1, n * np.dtype(dtype).itemsize)))
    rows, cols, vals = [], [], []
    for start in range(0, k, step):
        X = lu.solve(b[:, start:start + step].toarray().astype(dtype))
        r, c = _nonzeros_by_column(X.reshape(n, -1))
        rows.append(r)
        cols.append(c + start)
        vals.append(X.reshape(n, -1)[r, c])
    from .._sputils import get_index_dtype

    idx = get_index_dtype(maxval=max(b.shape))
    coo = A._coo_container((xp.concatenate(vals).astype(dtype),
                            (xp.concatenate(rows).astype(idx), xp.concatenate(cols).astype(idx))),
                           shape=b.shape)
    return coo.asformat(A.format)


# ----------------------------------------------------------------------------- SuperLU
class SuperLU:
    """LU factorisation of a sparse matrix, as returned by :func:`splu` and :func:`spilu`.

    It wraps SciPy's ``scipy.sparse.linalg.SuperLU`` (whose type cannot be subclassed), so
    ``isinstance(lu, scipy.sparse.linalg.SuperLU)`` is False; the SciPy object is
    :attr:`scipy_superlu`. The factorisation is ``Pr A Pc = L U`` with ``Pr`` and ``Pc``
    given by :attr:`perm_r` and :attr:`perm_c`.

    Attributes
    ----------
    shape : tuple of int
    nnz : int
        Number of nonzeros in ``L`` and ``U``.
    perm_c, perm_r : ndarray
        Column and row permutations.
    L, U : csc_array
        The factors as spgrad CSC arrays (plain values: the factors are not differentiable).

    Notes
    -----
    When the factorised matrix had torch values, :meth:`solve` is differentiable: for
    :func:`splu` in the right-hand side and in the stored values of ``A`` (reusing this
    factorisation in the backward); for :func:`spilu` in the right-hand side only, because
    the incomplete factors are not a differentiable function of ``A`` (entries are dropped
    by thresholds): the gradient is that of the operator actually applied,
    ``(L U)⁻¹`` up to permutations, with ``A``'s values held constant. The values are those
    at factorisation time; refactorise after changing ``A``.

    Examples
    --------
    >>> import numpy as np
    >>> import spgrad as sp
    >>> from spgrad.linalg import splu
    >>> lu = splu(sp.csc_array([[1.0, 0.0, 0.0], [5.0, 0.0, 2.0], [0.0, -1.0, 0.0]]))
    >>> lu.solve(np.array([1.0, 2.0, 3.0]))
    array([ 1. , -3. , -1.5])
    >>> type(lu.L).__name__, lu.shape
    ('csc_array', (3, 3))
    """

    def __init__(self, superlu):
        if not isinstance(superlu, _spla.SuperLU):
            raise TypeError(f"SuperLU wraps a scipy.sparse.linalg.SuperLU object, got "
                            f"{type(superlu).__module__}.{type(superlu).__name__}")
        self._lu = superlu
        self._factor = None  # set on the first tensor solve, or by _differentiable/_plain_on_gpu
        self._values = None  # a tensor; CuPy values for a plain factorisation on the GPU
        self._torch_values = False  # factorised from torch values: solves return tensors

    @classmethod
    def _differentiable(cls, factor, values):
        self = cls(factor.lu)
        self._factor, self._values, self._torch_values = factor, values, True
        return self

    @classmethod
    def _plain_on_gpu(cls, factor, values):
        """The factorisation of a matrix on the GPU with CuPy ``values`` (plain mode)."""
        self = cls(factor.lu)
        self._factor, self._values = factor, values
        return self

    @property
    def _gpu(self):
        return self._factor is not None and self._factor.on_gpu

    @property
    def _device(self):
        """Where the factorised matrix lives: ``"cpu"`` or its GPU."""
        return _backend.device_of(self._factor.pattern.indptr) if self._gpu else "cpu"

    @property
    def scipy_superlu(self):
        """The wrapped ``scipy.sparse.linalg.SuperLU`` object."""
        return self._lu

    @property
    def shape(self):
        """Shape of the factorised matrix."""
        return self._lu.shape

    @property
    def nnz(self):
        """Number of nonzero elements in ``L`` and ``U``."""
        return self._lu.nnz

    @property
    def perm_c(self):
        """Column permutation ``Pc`` (``Pr A Pc = L U``); a CuPy array for a matrix on the
        GPU."""
        return _backend.to_device(self._lu.perm_c, self._device)

    @property
    def perm_r(self):
        """Row permutation ``Pr`` (``Pr A Pc = L U``); a CuPy array for a matrix on the
        GPU."""
        return _backend.to_device(self._lu.perm_r, self._device)

    @property
    def L(self):
        """Lower triangular factor with unit diagonal, as an spgrad ``csc_array`` (on the
        GPU for a matrix there)."""
        return from_scipy_result(self._lu.L).to(self._device)

    @property
    def U(self):
        """Upper triangular factor, as an spgrad ``csc_array`` (on the GPU for a matrix
        there)."""
        return from_scipy_result(self._lu.U).to(self._device)

    def __repr__(self):
        return f"<spgrad.linalg.SuperLU of shape {self.shape} with {self.nnz} stored elements>"

    def solve(self, rhs, trans="N"):
        """Solve ``op(A) x = rhs`` with the factorisation.

        Parameters
        ----------
        rhs : ndarray or torch.Tensor, shape (n,) or (n, k)
            Right-hand side; cast to the factorisation's dtype, which must be safe (as in
            SciPy: a complex ``rhs`` needs a complex factorisation).
        trans : {'N', 'T', 'H'}, optional
            Solve with ``A`` (default), ``Aᵀ`` or ``Aᴴ``.

        Returns
        -------
        x : ndarray or torch.Tensor
            Same shape as ``rhs``; a tensor when ``rhs`` is one or the factorised matrix had
            torch values (then differentiable, see the class notes).

        Examples
        --------
        >>> import numpy as np
        >>> import spgrad as sp
        >>> from spgrad.linalg import splu
        >>> lu = splu(sp.csc_array([[2.0, 1.0], [0.0, 4.0]]))
        >>> lu.solve(np.array([3.0, 4.0])), lu.solve(np.array([2.0, 5.0]), trans="T")
        (array([1., 1.]), array([1., 1.]))
        """
        gpu = self._gpu
        if not _backend.is_tensor(rhs):
            device = _backend.device_of(rhs)
            if (device != "cpu") != gpu:
                raise ValueError(f"operands on different devices: the right-hand side is on "
                                 f"{device}, the factorised matrix on {self._device}")
            if gpu and not self._torch_values:
                self._check_rhs(rhs, trans, self._factor.dtype)
                return self._factor.solve(rhs.astype(self._factor.dtype, copy=False), trans)
        if not (_backend.is_tensor(rhs) or self._torch_values):
            return self._lu.solve(rhs, trans)
        from .._autograd._dsolve_ops import Factor, lu_solve

        if self._factor is None:
            # factorised from plain values: differentiable in the right-hand side only. The
            # factor's dtype is that of a solve (float32 casts safely to every SuperLU dtype).
            n = self.shape[0]
            dtype = self._lu.solve(np.zeros((n, 0), dtype=np.float32)).dtype
            self._factor = Factor(self._lu, False, None, dtype, exact=False)
            self._values = _backend.as_tensor(np.zeros(0, dtype=dtype))
        factor, values = self._factor, self._values
        if gpu and not self._torch_values:
            values = _backend.as_tensor(values)  # a plain factorisation: constant values
        rhs = _dense_rhs(rhs)
        self._check_rhs(rhs, trans, factor.dtype)
        return lu_solve(values, rhs.to(_backend.torch_dtype(factor.dtype)), factor, trans)

    def _check_rhs(self, rhs, trans, dtype):
        """SciPy's checks of a right-hand side (a tensor or a CuPy array) and of ``trans``."""
        if trans not in ("N", "T", "H"):
            raise ValueError("trans must be N, T, or H")
        rhs_dtype = _backend.numpy_dtype(rhs.dtype)
        if not np.can_cast(rhs_dtype, dtype, "safe"):
            raise TypeError(f"Cannot cast array data from dtype('{rhs_dtype}') to "
                            f"dtype('{dtype}') according to the rule 'safe'")
        if rhs.ndim not in (1, 2):
            raise ValueError(f"SuperLU.solve expected a right-hand side of shape (n,) or "
                             f"(n, k), got shape {tuple(rhs.shape)}")
        if rhs.shape[0] != self.shape[0]:
            raise ValueError("b is of incompatible size")


def _factorize(A, name, ilu, **options):
    """splu/spilu: a SciPy factorisation in plain mode, a differentiable one otherwise; for a
    matrix on the GPU, SuperLU on a host copy and the solves on the GPU (as in cupyx)."""
    differentiable = is_differentiable(A, gpu=True)
    on_gpu = isinstance(A, _spbase) and A._on_gpu
    if not (differentiable or on_gpu):
        return SuperLU(_scipy(getattr(_spla, name), _plain_operand(A), **options))
    A = _compressed_operand(A, name, ("csc",))
    dtype = _fp_dtype(A.dtype)
    if differentiable:
        A, values = _canonical_values(A, dtype)
    else:
        A = A if A.has_canonical_format else A._canonical()
        values = A.data.astype(dtype, copy=False)
    _check_square(A, "can only factor square matrices")
    factor = _factor_of(A, values, singular="raise", ilu=ilu, **options)
    if differentiable:
        return SuperLU._differentiable(factor, values)
    return SuperLU._plain_on_gpu(factor, values)


def splu(A, permc_spec=None, diag_pivot_thresh=None, relax=None, panel_size=None,
         options=None):
    """LU factorisation of a sparse square matrix (SuperLU).

    Parameters
    ----------
    A : sparse array or matrix, shape (n, n)
        Most efficient in CSC format; other formats are converted with a
        ``SparseEfficiencyWarning``.
    permc_spec : str, optional
        Column permutation: ``"NATURAL"``, ``"MMD_ATA"``, ``"MMD_AT_PLUS_A"``, ``"COLAMD"``
        (default).
    diag_pivot_thresh : float, optional
        Threshold for a diagonal entry to be an acceptable pivot.
    relax, panel_size : int, optional
        SuperLU's supernode relaxation and panel size.
    options : dict, optional
        Further SuperLU options, e.g. ``dict(Equil=False, IterRefine="SINGLE")``.

    Returns
    -------
    SuperLU
        Factorisation object with a :meth:`SuperLU.solve` method. With torch values in
        ``A``, ``solve`` is differentiable in the right-hand side and in ``A``'s stored
        values (the backward reuses this factorisation).

    Raises
    ------
    ValueError
        If ``A`` is not square.
    RuntimeError
        If ``A`` is exactly singular (SciPy's ``"Factor is exactly singular"``).

    Notes
    -----
    For ``A`` on a GPU, SuperLU factorises a host copy (as ``cupyx.scipy.sparse.linalg.splu``
    does) and the factors are copied to the GPU once; ``solve`` then takes and returns CuPy
    arrays (CUDA tensors in differentiable mode) and runs two cuSPARSE triangular solves
    there.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> import spgrad as sp
    >>> from spgrad.linalg import splu
    >>> A = sp.csc_array([[4.0, 1.0], [2.0, 3.0]]).requires_grad_()
    >>> x = splu(A).solve(torch.tensor([1.0, 2.0], dtype=torch.float64))
    >>> x.detach().numpy()
    array([0.1, 0.6])
    >>> x.sum().backward()
    >>> A.grad.toarray().round(3)
    array([[-0.01, -0.06],
           [-0.03, -0.18]])
    """
    return _factorize(A, "splu", False, permc_spec=permc_spec,
                      diag_pivot_thresh=diag_pivot_thresh, relax=relax, panel_size=panel_size,
                      options=options)


def spilu(A, drop_tol=None, fill_factor=None, drop_rule=None, permc_spec=None,
          diag_pivot_thresh=None, relax=None, panel_size=None, options=None):
    """Incomplete LU factorisation of a sparse square matrix (SuperLU's ILUTP).

    Parameters
    ----------
    A : sparse array or matrix, shape (n, n)
        Most efficient in CSC format; other formats are converted with a
        ``SparseEfficiencyWarning``.
    drop_tol : float, optional
        Drop tolerance, ``0 <= drop_tol <= 1`` (default 1e-4).
    fill_factor : float, optional
        Upper bound of the fill ratio, ``>= 1`` (default 10).
    drop_rule : str, optional
        Comma-separated SuperLU drop rules (default ``"basic,area"``).
    permc_spec, diag_pivot_thresh, relax, panel_size, options
        As for :func:`splu`.

    Returns
    -------
    SuperLU
        Approximate factorisation; ``solve`` applies the preconditioner ``(L U)⁻¹`` (up to
        permutations). With a torch right-hand side ``solve`` is differentiable in it; it is
        *not* differentiable in ``A``'s values (see :class:`SuperLU`), which act as
        constants.

    Examples
    --------
    >>> import numpy as np
    >>> import spgrad as sp
    >>> from spgrad.linalg import spilu
    >>> M = spilu(sp.csc_array([[1.0, 0.0, 0.0], [5.0, 0.0, 2.0], [0.0, -1.0, 0.0]]))
    >>> M.solve(np.array([1.0, 2.0, 3.0]))
    array([ 1. , -3. , -1.5])
    """
    return _factorize(A, "spilu", True, drop_tol=drop_tol, fill_factor=fill_factor,
                      drop_rule=drop_rule, permc_spec=permc_spec,
                      diag_pivot_thresh=diag_pivot_thresh, relax=relax, panel_size=panel_size,
                      options=options)


def factorized(A):
    """A function that solves ``A x = b`` with ``A`` factorised once.

    Parameters
    ----------
    A : sparse array or matrix, shape (n, n)
        CSC is most efficient; other formats are converted with a
        ``SparseEfficiencyWarning``.

    Returns
    -------
    solve : callable
        ``solve(b)`` for ``b`` of shape ``(n,)`` (or ``(n, k)``): the ``solve`` method of
        :func:`splu`'s :class:`SuperLU`, so it is differentiable when ``A`` has torch values
        or ``b`` is a tensor. With UMFPACK selected (:func:`use_solver`) and installed,
        plain mode returns SciPy's UMFPACK solve.

    Examples
    --------
    >>> import numpy as np
    >>> import spgrad as sp
    >>> from spgrad.linalg import factorized
    >>> solve = factorized(sp.csc_array([[3.0, 2.0, -1.0], [2.0, -2.0, 4.0],
    ...                                  [-1.0, 0.5, -1.0]]))
    >>> solve(np.array([1.0, -2.0, 0.0]))
    array([ 1., -2., -2.])
    """
    if is_differentiable(A, gpu=True) or (isinstance(A, _spbase) and A._on_gpu):
        return splu(A).solve
    solve = _scipy(_spla.factorized, _plain_operand(A))
    lu = getattr(solve, "__self__", None)
    return SuperLU(lu).solve if isinstance(lu, _spla.SuperLU) else solve


def inv(A):
    """Inverse of a sparse square matrix, as a sparse matrix.

    Parameters
    ----------
    A : sparse array or matrix, shape (n, n)

    Returns
    -------
    Ainv : sparse array or matrix
        ``A⁻¹`` in ``A``'s format and family (CSC when ``A`` is neither CSR nor CSC).

    Raises
    ------
    TypeError
        If ``A`` is not sparse.

    Notes
    -----
    Computed as ``spsolve(A, I)``, so it warns as :func:`spsolve` does for a sparse
    right-hand side. In differentiable mode the identity is solved as a dense ``n × n``
    block: the inverse of a sparse matrix is dense in general, so this op is inherently
    dense (``O(n²)`` memory); the result keeps the entries that are nonzero. On the GPU the
    identity is built there and solved by :func:`spsolve`'s sparse-``b`` route (one SuperLU
    factorisation of a host copy, the solves on the GPU in blocks of columns).

    Examples
    --------
    >>> import spgrad as sp
    >>> from spgrad.linalg import inv
    >>> inv(sp.csc_array([[1.0, 0.0], [0.0, 4.0]])).toarray()
    array([[1.  , 0.  ],
           [0.  , 0.25]])
    """
    on_gpu = isinstance(A, _spbase) and A._on_gpu
    if not is_differentiable(A, gpu=True) and not on_gpu:
        return from_scipy_result(_scipy(_spla.inv, _plain_operand(A, "spgrad.linalg.inv")))
    if not issparse(A):
        raise TypeError("Input must be a sparse arrays")
    from .. import _construct

    if on_gpu:  # the identity built on the GPU, in A's format (SciPy's _ident_like)
        xp = A._xp()
        identity = _construct.diags_array(xp.ones(min(A.shape), dtype=_backend.numpy_dtype(
            A.dtype)), shape=A.shape).asformat(A.format)
    else:  # SciPy's identity: a sparse *matrix* of A's format and dtype
        identity = _construct.eye(A.shape[0], A.shape[1], dtype=A.dtype, format=A.format)
    return spsolve(A, identity)


def use_solver(**kwargs):
    """Select the default sparse direct solver of plain mode (SciPy's setting).

    Parameters
    ----------
    useUmfpack : bool, optional
        Use UMFPACK over SuperLU; has effect only if ``scikits.umfpack`` is installed.
    assumeSortedIndices : bool, optional
        Let UMFPACK skip sorting indices (only with ``useUmfpack=True``).

    Notes
    -----
    Differentiable mode always uses SuperLU.

    Examples
    --------
    >>> from spgrad.linalg import use_solver
    >>> use_solver(useUmfpack=False)
    """
    _spla.use_solver(**kwargs)
