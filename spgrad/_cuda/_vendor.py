"""NVIDIA's sparse solvers through CuPy: cuSPARSE's triangular solves, cuSOLVER's sparse QR and
cupyx's eigensolvers (thick-restart Lanczos, LOBPCG), reached via ``cupyx``.

Where a vendor routine is the best kernel and has no spgrad counterpart on the GPU, spgrad calls
it here. Each routine is listed in :data:`ROUTINES` with the library capability it needs;
:func:`require` checks it and raises ``NotImplementedError`` naming the spgrad function, the
routine and the CuPy/CUDA build that lacks it. Operands are CuPy arrays: a sparse matrix as its
CSR arrays, wrapped as a ``cupyx.scipy.sparse.csr_matrix`` built on copies (cupyx may sort or
sum duplicates in place, and spgrad never modifies its inputs). These libraries take 32-bit
indices only: int64 index arrays are narrowed when the matrix allows it, and a matrix too large
for 32-bit indices raises ``ValueError`` naming the routine.
"""

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
