"""Masked products: the kernels of the backward passes.

A gradient with respect to the stored values of a sparse matrix is a dense or sparse product
evaluated only on that matrix's pattern (the *mask*):

- ``csr_sddmm``: ``out[p] = sum_k A[i, k] * B[j, k]`` for every stored ``(i, j)`` of the mask,
  with dense ``A`` and ``B`` (sampled dense-dense product; the gradient of ``S @ X`` with
  respect to ``S`` is ``sddmm(G, X)``).
- ``csr_masked_dot``: the same with sparse ``A`` and ``B`` given in CSR (the gradient of a
  sparse-sparse product ``C = S @ T`` with respect to ``S`` is ``masked_dot(mask(S), G_C, Tᵀ)``).

Python allocates, kernels fill; index arrays of one call share one dtype and value arrays
another (see ``_fused.pxd``). Preconditions (validated by the caller): the mask is a valid
CSR structure whose row indices lie in ``[0, A.shape[0])`` and column indices in
``[0, B.shape[0])``; dense operands are C-contiguous with the same number of columns; ``out``
has ``mask_indptr[-1]`` entries.
"""

from cython.parallel cimport prange
from libc.stdlib cimport calloc, free

from ._fused cimport index_t, value_t
from ._parallel cimport get_num_threads

__all__ = ["csr_sddmm", "csr_masked_dot"]

#: Work (stored entries times dense columns) below which kernels run on one thread.
MIN_PARALLEL_WORK = 50_000


cdef int _threads(Py_ssize_t work) noexcept:
    if work < MIN_PARALLEL_WORK:
        return 1
    return max(get_num_threads(), 1)


cdef void _sddmm_rows(const index_t* indptr, const index_t* indices, const value_t* A,
                      const value_t* B, Py_ssize_t k, Py_ssize_t r0, Py_ssize_t r1,
                      value_t* out) noexcept nogil:
    """SDDMM on mask rows ``[r0, r1)`` (``A``, ``B`` C-ordered with ``k`` columns)."""
    cdef Py_ssize_t i, p, c
    cdef value_t a, s0, s1, s2, s3
    cdef const value_t* ar
    cdef const value_t* br
    if k == 1:  # a rank-1 sample (the SpMV backward): no inner loop
        for i in range(r0, r1):
            a = A[i]
            for p in range(indptr[i], indptr[i + 1]):
                out[p] = a * B[indices[p]]
        return
    for i in range(r0, r1):
        ar = A + i * k
        for p in range(indptr[i], indptr[i + 1]):
            br = B + <Py_ssize_t>indices[p] * k
            # four partial sums: one running sum would make every addition wait for the
            # previous one (floating-point addition cannot be reordered by the compiler)
            s0 = 0
            s1 = 0
            s2 = 0
            s3 = 0
            c = 0
            while c + 4 <= k:
                s0 = s0 + ar[c] * br[c]
                s1 = s1 + ar[c + 1] * br[c + 1]
                s2 = s2 + ar[c + 2] * br[c + 2]
                s3 = s3 + ar[c + 3] * br[c + 3]
                c = c + 4
            while c < k:
                s0 = s0 + ar[c] * br[c]
                c = c + 1
            out[p] = (s0 + s1) + (s2 + s3)


def csr_sddmm(const index_t[::1] indptr, const index_t[::1] indices,
              const value_t[:, ::1] A, const value_t[:, ::1] B, value_t[::1] out):
    """Sampled dense-dense product on a CSR mask.

    Fills ``out[p] = sum_k A[i, k] * B[j, k]`` for every entry ``p`` of the mask, where ``i``
    is the row of ``p`` and ``j = indices[p]``.

    Parameters
    ----------
    indptr, indices : int32 or int64 arrays
        The mask (CSR pattern) with ``n_row = len(indptr) - 1`` rows.
    A : (n_row, k) array
    B : (n_col, k) array
    out : (nnz,) array, overwritten.
    """
    cdef Py_ssize_t n_row = indptr.shape[0] - 1
    cdef Py_ssize_t k = A.shape[1]
    cdef Py_ssize_t nnz = indptr[n_row] if n_row >= 0 else 0
    if A.shape[0] != n_row or B.shape[1] != k or out.shape[0] < nnz:
        raise ValueError(
            f"csr_sddmm: inconsistent shapes A={tuple(A.shape)[:2]}, B={tuple(B.shape)[:2]}, "
            f"out=({out.shape[0]},) for a mask with {n_row} rows and {nnz} entries"
        )
    cdef int nthreads = _threads(nnz * k)
    cdef Py_ssize_t i
    cdef const value_t* Ap = &A[0, 0] if A.shape[0] > 0 and k > 0 else NULL
    cdef const value_t* Bp = &B[0, 0] if B.shape[0] > 0 and k > 0 else NULL
    if nnz == 0:
        return
    if k == 0:
        out[:nnz] = 0
        return
    with nogil:
        if nthreads == 1:  # a plain loop: an OpenMP region costs the compiler its optimisations
            _sddmm_rows(&indptr[0], &indices[0], Ap, Bp, k, 0, n_row, &out[0])
        else:
            for i in prange(n_row, schedule="static", num_threads=nthreads):
                _sddmm_rows(&indptr[0], &indices[0], Ap, Bp, k, i, i + 1, &out[0])


def csr_masked_dot(Py_ssize_t n_inner,
                   const index_t[::1] mask_indptr, const index_t[::1] mask_indices,
                   const index_t[::1] Ap, const index_t[::1] Aj, const value_t[::1] Ax,
                   const index_t[::1] Bp, const index_t[::1] Bj, const value_t[::1] Bx,
                   value_t[::1] out):
    """Sparse-sparse products sampled on a CSR mask.

    Fills ``out[p] = sum_l A[i, l] * B[j, l]`` (the dot product of row ``i`` of ``A`` with
    row ``j`` of ``B``) for every mask entry ``p = (i, j)``. ``A`` and ``B`` are CSR with
    ``n_inner`` columns each; duplicates in either are summed. Row ``i`` of ``A`` is scattered
    into a per-thread dense buffer of length ``n_inner`` once, then every ``B`` row named by the
    mask row is dotted with it, so the cost is ``nnz(A) + sum over mask entries of nnz(B_j)``.

    Parameters
    ----------
    n_inner : int
        Number of columns of ``A`` and ``B``.
    mask_indptr, mask_indices : int arrays
        The mask, with ``len(Ap) - 1`` rows and column indices in ``[0, len(Bp) - 1)``.
    Ap, Aj, Ax, Bp, Bj, Bx : CSR arrays of ``A`` and ``B``.
    out : (mask nnz,) array, overwritten.
    """
    cdef Py_ssize_t n_row = mask_indptr.shape[0] - 1
    if Ap.shape[0] != n_row + 1:
        raise ValueError(f"csr_masked_dot: A has {Ap.shape[0] - 1} rows, the mask {n_row}")
    cdef Py_ssize_t nnz = mask_indptr[n_row] if n_row >= 0 else 0
    if out.shape[0] < nnz:
        raise ValueError(f"csr_masked_dot: out has {out.shape[0]} entries, need {nnz}")
    cdef Py_ssize_t work = nnz + (Ap[n_row] if n_row >= 0 else 0)
    cdef int nthreads = _threads(work)
    cdef value_t* acc = <value_t*> calloc(<size_t>(n_inner * nthreads + 1), sizeof(value_t))
    if acc == NULL:
        raise MemoryError()
    cdef Py_ssize_t t, i, p, q, start, stop
    cdef Py_ssize_t chunk = (n_row + nthreads - 1) // nthreads if nthreads > 0 else n_row
    cdef value_t s
    cdef value_t* w
    try:
        with nogil:
            for t in prange(nthreads, schedule="static", num_threads=nthreads):
                w = acc + t * n_inner
                start = t * chunk
                stop = min(start + chunk, n_row)
                for i in range(start, stop):
                    for q in range(Ap[i], Ap[i + 1]):
                        w[Aj[q]] = w[Aj[q]] + Ax[q]
                    for p in range(mask_indptr[i], mask_indptr[i + 1]):
                        s = 0
                        for q in range(Bp[mask_indices[p]], Bp[mask_indices[p] + 1]):
                            s = s + w[Bj[q]] * Bx[q]
                        out[p] = s
                    for q in range(Ap[i], Ap[i + 1]):
                        w[Aj[q]] = 0
    finally:
        free(acc)
