"""Launchers of the CUDA kernels, with the names and signatures of ``spgrad._cpu``'s.

Each receives the preallocated output and fills it, exactly like the CPU kernel of the same
name (see its docstring for the semantics); preconditions are the same (validated CSR arrays,
matching dtypes, C-contiguous dense operands). They take CuPy arrays in production; the test
suite runs them unchanged on NumPy arrays through an emulated launch backend.

Differences from the CPU kernels: the transposed products add into each output entry with
atomic operations, so the order of those additions (and the last bits of a floating-point
result) may vary between runs on a GPU.
"""

from ._launch import launch

__all__ = [
    "csr_matvec",
    "csr_matvec_transpose",
    "csr_matvecs",
    "csr_matvecs_transpose",
    "csr_sddmm",
    "expand_indptr",
]


def _n_row(indptr):
    return max(len(indptr) - 1, 0)


def csr_matvec(indptr, indices, data, x, y):
    """Fill ``y = A @ x`` (see ``spgrad._cpu.csr_matvec``)."""
    n = _n_row(indptr)
    launch("csr_matvec", indptr.dtype, data.dtype, n, (n, indptr, indices, data, x, y))


def csr_matvecs(indptr, indices, data, X, Y):
    """Fill ``Y = A @ X`` for a C-ordered ``X`` (see ``spgrad._cpu.csr_matvecs``)."""
    n, k = _n_row(indptr), Y.shape[1]
    launch("csr_matvecs", indptr.dtype, data.dtype, n * k, (n, k, indptr, indices, data, X, Y))


def csr_matvec_transpose(indptr, indices, data, x, y):
    """Fill ``y = A.T @ x`` (see ``spgrad._cpu.csr_matvec_transpose``)."""
    n = _n_row(indptr)
    y.fill(0)
    launch("csr_matvec_transpose", indptr.dtype, data.dtype, n,
           (n, indptr, indices, data, x, y))


def csr_matvecs_transpose(indptr, indices, data, X, Y):
    """Fill ``Y = A.T @ X`` for a C-ordered ``X`` (see ``spgrad._cpu.csr_matvecs_transpose``)."""
    n, k = _n_row(indptr), Y.shape[1]
    Y.fill(0)
    launch("csr_matvecs_transpose", indptr.dtype, data.dtype, n * k,
           (n, k, indptr, indices, data, X, Y))


def csr_sddmm(indptr, indices, A, B, out):
    """Fill ``out[p] = sum_c A[i, c] B[j, c]`` on the mask (see ``spgrad._cpu.csr_sddmm``)."""
    n, k = _n_row(indptr), A.shape[1]
    launch("csr_sddmm", indptr.dtype, out.dtype, n, (n, k, indptr, indices, A, B, out))


def expand_indptr(indptr, rows):
    """Fill the row of every stored entry (see ``spgrad._cpu.expand_indptr``)."""
    n = _n_row(indptr)
    launch("expand_indptr", indptr.dtype, None, n, (n, indptr, rows))
