"""NVIDIA's sparse libraries through CuPy: cuSPARSE's sparse-dense products and triangular
solves, cuSOLVER's sparse QR and cupyx's eigensolvers (thick-restart Lanczos, LOBPCG).

The products (:func:`dense_product`) call cuSPARSE's generic SpMV/SpMM through CuPy's
low-level bindings (``cupy_backends.cuda.libs.cusparse``), with row-major dense descriptors
so that spgrad's C-ordered operands need no copy; the environment variable
``SPGRAD_CUDA_PRODUCTS`` chooses who computes them (:func:`products_policy`). The solvers go
through ``cupyx``.

Where a vendor routine is the best kernel and has no spgrad counterpart on the GPU, spgrad calls
it here. Each routine is listed in :data:`ROUTINES` with the library capability it needs;
:func:`require` checks it and raises ``NotImplementedError`` naming the spgrad function, the
routine and the CuPy/CUDA build that lacks it. Operands are CuPy arrays: a sparse matrix as its
CSR arrays, wrapped as a ``cupyx.scipy.sparse.csr_matrix`` built on copies (cupyx may sort or
sum duplicates in place, and spgrad never modifies its inputs). These libraries take 32-bit
indices only: int64 index arrays are narrowed when the matrix allows it, and a matrix too large
for 32-bit indices raises ``ValueError`` naming the routine.
"""

import os
import warnings

import numpy as np

#: spgrad function -> (library, capability name in ``cupyx.<library>.check_availability``)
ROUTINES = {
    "spsolve_triangular": ("cusparse", ("spsm", "csrsm2")),
    "spsolve": ("cusolver", ("csrlsvqr",)),
    "splu": ("cusparse", ("spsm", "csrsm2")),
    "spilu": ("cusparse", ("spsm", "csrsm2")),
}

_INT32_MAX = np.iinfo(np.int32).max


def require(function):
    """Raise ``NotImplementedError`` unless the library routine behind ``function`` is
    available in this CuPy build."""
    import importlib

    library, capabilities = ROUTINES[function]
    try:
        module = importlib.import_module(f"cupyx.{library}")
        available = any(module.check_availability(c) for c in capabilities)
    except ImportError as e:
        raise NotImplementedError(f"{function} on the GPU needs cupyx.{library} ({e})") from e
    if not available:
        raise NotImplementedError(
            f"{function} on the GPU needs {library} {' or '.join(capabilities)}, which this "
            f"CuPy/CUDA build does not provide; move the operands to the CPU with .cpu() and "
            f"cupy.asnumpy")


def csr_matrix(data, indices, indptr, shape, function):
    """A ``cupyx.scipy.sparse.csr_matrix`` on copies of CSR arrays, with int32 indices."""
    import cupyx.scipy.sparse as cusp

    if max(shape, default=0) > _INT32_MAX or len(data) > _INT32_MAX:
        raise ValueError(
            f"{function} on the GPU calls a cuSPARSE/cuSOLVER routine that takes 32-bit "
            f"indices; this matrix (shape {shape}, {len(data)} stored entries) needs 64-bit "
            f"indices: solve it on the CPU (A.cpu())")
    return cusp.csr_matrix((data.copy(), indices.astype(np.int32), indptr.astype(np.int32)),
                           shape=shape)


def spsolve_triangular(data, indices, indptr, shape, b, lower, unit_diagonal):
    """``A x = b`` for a triangular CSR ``A`` (canonical, only the solved triangle stored) by
    cuSPARSE; ``b`` and ``data`` share the result dtype, and so does ``x``."""
    import cupyx.scipy.sparse.linalg as cusla

    require("spsolve_triangular")
    A = csr_matrix(data, indices, indptr, shape, "spsolve_triangular")
    x = cusla.spsolve_triangular(A, b, lower=lower, unit_diagonal=unit_diagonal)
    return x.astype(data.dtype, copy=False)  # cupyx widens float32 results to float64


def spsolve(data, indices, indptr, shape, b):
    """``A x = b`` for a square CSR ``A`` by cuSOLVER's sparse QR (one solve per column of a
    2-D ``b``). Returns ``(x, singular)``: ``singular`` when cuSOLVER found ``A`` singular
    (cupyx then warns; the warning is turned into this flag)."""
    import cupyx.scipy.sparse.linalg as cusla

    require("spsolve")
    A = csr_matrix(data, indices, indptr, shape, "spsolve")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x = cusla.spsolve(A, b)
    singular = False
    for w in caught:
        if "singular" in str(w.message):
            singular = True
        else:  # anything else is the caller's to see
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return x, singular


def superlu(lu, function):
    """The GPU solver of a SciPy ``SuperLU`` factorisation ``lu`` (computed on the host):
    cupyx's ``SuperLU``, which copies ``L``, ``U`` and the permutations to the current GPU
    once and solves with ``A``, ``Aᵀ`` or ``Aᴴ`` by two cuSPARSE triangular solves there
    (``solve(B, trans)`` for a CuPy ``B``; the result has the factors' dtype)."""
    import cupyx.scipy.sparse.linalg as cusla

    require(function)
    return cusla.SuperLU(lu)


def _sparse_linalg(function):
    """``cupyx.scipy.sparse.linalg``, checked to provide ``function``."""
    try:
        import cupyx.scipy.sparse.linalg as cusla
    except ImportError as e:
        raise NotImplementedError(f"{function} on the GPU needs cupyx.scipy.sparse.linalg "
                                  f"({e})") from e
    if not hasattr(cusla, function):
        raise NotImplementedError(
            f"{function} on the GPU needs cupyx.scipy.sparse.linalg.{function}, which this "
            f"CuPy version does not have; move the operands to the CPU with .cpu() and "
            f"cupy.asnumpy")
    return cusla


def _operand(A, function):
    """A cupyx operand: an spgrad CSR array on the GPU as a ``csr_matrix`` (copies, int32
    indices); a CuPy array or ``None`` as it is."""
    if A is None or not hasattr(A, "indptr"):
        return A
    return csr_matrix(A.data, A.indices, A.indptr, A.shape, function)


def eigsh(A, **options):
    """cupyx's ``eigsh`` (thick-restart Lanczos; ``which`` 'LM', 'LA' or 'SA') of the CSR
    array ``A`` on the GPU: ``(w, V)``, eigenvalues in ascending order."""
    cusla = _sparse_linalg("eigsh")
    return cusla.eigsh(_operand(A, "eigsh"), **options)


def svds(A, **options):
    """cupyx's ``svds`` (Lanczos on ``AᴴA`` or ``AAᴴ``; ``which='LM'``) of the CSR array
    ``A`` on the GPU: ``(u, s, vh)`` with ``s`` ascending, or ``s``."""
    cusla = _sparse_linalg("svds")
    return cusla.svds(_operand(A, "svds"), **options)


def lobpcg(A, X, B=None, M=None, Y=None, **options):
    """cupyx's ``lobpcg`` with ``A`` (and ``B``, ``M``) CSR arrays on the GPU or CuPy
    arrays, ``X`` and ``Y`` CuPy arrays."""
    cusla = _sparse_linalg("lobpcg")
    return cusla.lobpcg(_operand(A, "lobpcg"), X, B=_operand(B, "lobpcg"),
                        M=_operand(M, "lobpcg"), Y=Y, **options)


# -- sparse-dense products --------------------------------------------------------------------

#: spgrad kernel -> (cuSPARSE routine, whether it multiplies by the transpose)
DENSE_PRODUCTS = {"csr_matvec": ("spmv", False), "csr_matvec_transpose": ("spmv", True),
                  "csr_matvecs": ("spmm", False), "csr_matvecs_transpose": ("spmm", True)}

#: value dtype character -> its CUDA data type (a constant of ``cupy_backends.cuda.api.runtime``)
_CUDA_TYPES = {"f": "CUDA_R_32F", "d": "CUDA_R_64F", "F": "CUDA_C_32F", "D": "CUDA_C_64F"}

_POLICIES = ("auto", "cusparse", "spgrad")


def products_policy():
    """Who computes SpMV and SpMM on the GPU, from ``SPGRAD_CUDA_PRODUCTS``: ``"auto"`` (the
    default: cuSPARSE where it can, spgrad's kernels otherwise), ``"cusparse"`` (cuSPARSE,
    and a clear error where it cannot) or ``"spgrad"`` (spgrad's kernels only)."""
    policy = os.environ.get("SPGRAD_CUDA_PRODUCTS", "auto")
    if policy not in _POLICIES:
        raise ValueError(f"SPGRAD_CUDA_PRODUCTS must be one of {', '.join(_POLICIES)}, got "
                         f"{policy!r}")
    return policy


def _bindings(routine):
    """``(cusparse, runtime)`` low-level bindings when this CuPy build has ``routine``, or the
    reason it cannot be used."""
    try:
        import cupyx.cusparse
        from cupy_backends.cuda.api import runtime
        from cupy_backends.cuda.libs import cusparse
    except ImportError as e:
        return f"this CuPy has no cuSPARSE bindings ({e})"
    if not cupyx.cusparse.check_availability(routine):
        return f"this CuPy/CUDA build does not provide cuSPARSE's {routine}"
    return cusparse, runtime


def _refusal(indices, data, X, canonical):
    """Why cuSPARSE cannot compute this product, or None."""
    if len(data) != len(indices):
        return "the values and indices differ in length"
    if data.dtype.char not in _CUDA_TYPES:
        return f"cuSPARSE has no {data.dtype} products"
    if not canonical():
        return ("A is not in canonical format (indices sorted within rows, no duplicates), "
                "which cuSPARSE assumes")
    return None


def dense_product(kernel, indptr, indices, data, X, Y, canonical):
    """Fill ``Y`` as spgrad's kernel ``kernel`` (a key of :data:`DENSE_PRODUCTS`, with its
    arguments) would, by cuSPARSE's generic SpMV or SpMM, when :func:`products_policy` and
    the operands allow it; returns whether it did (else the caller runs its own kernel).

    cuSPARSE takes canonical CSR (``canonical()`` says whether the pattern is: sorted
    indices, no duplicates, which its routines assume; asked last, as it may cost a check)
    with float32/float64/complex64/complex128 values and int32 or int64 indices; ``X`` and
    ``Y`` are C-ordered (row-major descriptors, no copies). Under
    ``"auto"`` any other product, a CuPy build without the routine or one that reports the
    combination unsupported runs spgrad's kernel; under ``"cusparse"`` each of these raises
    ``NotImplementedError`` naming the kernel and the cause. Empty products (no stored
    entries, or an empty operand) are always spgrad's kernel's."""
    policy = products_policy()
    if policy == "spgrad" or len(data) == 0 or 0 in X.shape or 0 in Y.shape:
        return False  # (an empty product is spgrad's kernel's: nothing to multiply)
    routine, transposed = DENSE_PRODUCTS[kernel]
    bindings = _bindings(routine)
    reason = bindings if isinstance(bindings, str) else _refusal(indices, data, X, canonical)
    if reason is None:
        cusparse, runtime = bindings
        try:
            _generic_product(cusparse, runtime, routine, transposed, indptr, indices, data, X, Y)
            return True
        except cusparse.CuSparseError as e:
            reason = f"cuSPARSE reports {e}"
    if policy == "cusparse":
        raise NotImplementedError(
            f"{kernel} by cuSPARSE (SPGRAD_CUDA_PRODUCTS=cusparse): {reason}; unset "
            f"SPGRAD_CUDA_PRODUCTS to let spgrad's kernels compute it")
    return False


def _generic_product(cusparse, runtime, routine, transposed, indptr, indices, data, X, Y):
    """``Y = op(A) X`` by ``cusparseSpMV``/``cusparseSpMM`` on the current stream, ``A`` the
    ``n_row × n_col`` CSR matrix of the arrays (``n_col`` from the operand that has it)."""
    import cupy

    n_row = len(indptr) - 1
    n_col = Y.shape[0] if transposed else X.shape[0]
    index_type = {4: cusparse.CUSPARSE_INDEX_32I, 8: cusparse.CUSPARSE_INDEX_64I}[
        indices.dtype.itemsize]
    value_type = getattr(runtime, _CUDA_TYPES[data.dtype.char])
    op = (cusparse.CUSPARSE_OPERATION_TRANSPOSE if transposed
          else cusparse.CUSPARSE_OPERATION_NON_TRANSPOSE)
    # (host scalars, alive until the call returns; beta = 0, and Y zeroed so that no
    # uninitialised value can reach it)
    alpha, beta = np.ones(1, dtype=data.dtype), np.zeros(1, dtype=data.dtype)
    Y.fill(0)
    handle = cupy.cuda.device.get_cusparse_handle()
    matrix = cusparse.createCsr(n_row, n_col, len(data), indptr.data.ptr, indices.data.ptr,
                                data.data.ptr, index_type, index_type,
                                cusparse.CUSPARSE_INDEX_BASE_ZERO, value_type)
    dense = []
    try:
        if routine == "spmv":
            dense = [cusparse.createDnVec(len(X), X.data.ptr, value_type),
                     cusparse.createDnVec(len(Y), Y.data.ptr, value_type)]
            args = (handle, op, alpha.ctypes.data, matrix, dense[0], beta.ctypes.data, dense[1],
                    value_type, cusparse.CUSPARSE_MV_ALG_DEFAULT)
            size = cusparse.spMV_bufferSize(*args)
            buffer = cupy.empty(size, dtype=np.int8)
            cusparse.spMV(*args, buffer.data.ptr)
        else:
            k = X.shape[1]
            dense = [cusparse.createDnMat(X.shape[0], k, k, X.data.ptr, value_type,
                                          cusparse.CUSPARSE_ORDER_ROW),
                     cusparse.createDnMat(Y.shape[0], k, k, Y.data.ptr, value_type,
                                          cusparse.CUSPARSE_ORDER_ROW)]
            args = (handle, op, cusparse.CUSPARSE_OPERATION_NON_TRANSPOSE, alpha.ctypes.data,
                    matrix, dense[0], beta.ctypes.data, dense[1], value_type,
                    cusparse.CUSPARSE_MM_ALG_DEFAULT)
            size = cusparse.spMM_bufferSize(*args)
            buffer = cupy.empty(size, dtype=np.int8)
            cusparse.spMM(*args, buffer.data.ptr)
    finally:
        destroy = cusparse.destroyDnVec if routine == "spmv" else cusparse.destroyDnMat
        for descriptor in dense:
            destroy(descriptor)
        cusparse.destroySpMat(matrix)
