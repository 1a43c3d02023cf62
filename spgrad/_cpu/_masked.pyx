"""Masked products: the kernels of the backward passes.

A gradient with respect to the stored values of a sparse matrix is a dense or sparse product
evaluated only on that matrix's pattern (the *mask*):

- ``csr_sddmm``: ``out[p] = sum_k A[i, k] * B[j, k]`` for every stored ``(i, j)`` of the mask,
  with dense ``A`` and ``B`` (sampled dense-dense product; the gradient of ``S @ X`` with
  respect to ``S`` is ``sddmm(G, X)``).
- ``csr_masked_dot``: the same with sparse ``A`` and ``B`` given in CSR (the gradient of a
  sparse-sparse product ``C = S @ T`` with respect to ``S`` is ``masked_dot(mask(S), G_C, Tᵀ)``).
- ``csr_spmv_backward`` and ``csr_spgemm_backward``: both gradients of ``S @ x`` (resp.
  ``S @ T``) in one sweep over ``S``, reading each stored entry once where the separate
  masked product and transposed product read it twice (the first-order backward passes; the
  separate kernels stay for double backward, which needs each half as its own product).
- ``csr_spmm_backward`` and ``csr_spmm_backward_scatter``: both gradients of ``S @ X`` for a
  dense matrix ``X``, in parallel (SDDMM rows alternating with rows of a gather over the
  transposed pattern) or on one thread (one sweep over ``S`` scattering into ``Sᵀ G``).

Python allocates, kernels fill; index arrays of one call share one dtype and value arrays
another (see ``_fused.pxd``). Preconditions (validated by the caller): the mask is a valid
CSR structure whose row indices lie in ``[0, A.shape[0])`` and column indices in
``[0, B.shape[0])``; dense operands are C-contiguous with the same number of columns; ``out``
has ``mask_indptr[-1]`` entries.
"""

from cython.parallel cimport prange
from libc.stdlib cimport calloc, free
from libc.string cimport memset

from ._fused cimport index_t, value_t
from ._memory cimport STREAM_MIN_BYTES as _STREAM_MIN_BYTES
from ._memory cimport (PREFETCH_AHEAD, PREFETCH_AHEAD_PAIR, PREFETCH_BYTES, prefetch,
                      prefetch_gathered_row, prefetch_row, stream_fence, stream_store)
from ._parallel cimport _split, get_num_threads
from ._simd cimport dot1_f32, dot1_f64, dot4_f32, dot4_f64, dot_axpy_f32, dot_axpy_f64

__all__ = [
    "csr_masked_dot",
    "csr_matvecs_permuted",
    "csr_sddmm",
    "csr_spgemm_backward",
    "csr_spmm_backward",
    "csr_spmm_backward_scatter",
    "csr_spmv_backward",
]

#: Work (stored entries times dense columns) below which kernels run on one thread.
MIN_PARALLEL_WORK = 50_000

#: Value outputs of at least this many bytes that a kernel writes once, in order (the SDDMM of
#: a vector, the SpMV backward's ``g_data``), are stored around the caches (``_memory.pxd``).
STREAM_MIN_BYTES = _STREAM_MIN_BYTES


cdef int _threads(Py_ssize_t work) noexcept:
    if work < MIN_PARALLEL_WORK:
        return 1
    return max(get_num_threads(), 1)


cdef enum:
    _SDDMM_BLOCK = 8  # columns summed side by side by the SDDMM kernel
    _GATHER_WIDE = 16  # columns of an output row summed together in registers by the gather
    _GATHER_BLOCK = 8  # ... and then, for the columns left, 8 (then the rest)
    _ROWS_AHEAD = 8  # the SDDMM prefetches the row of A this many rows on
    _FUSED_ROWS = 8  # rows of each half per block of the fused SpMM backward


cdef inline void _sddmm_row_simd(const index_t* indices, const value_t* ar, const value_t* B,
                                 Py_ssize_t k, Py_ssize_t p0, Py_ssize_t p1, Py_ssize_t ahead,
                                 Py_ssize_t row_bytes, value_t* out) noexcept nogil:
    # the entries [p0, p1) of one mask row whose row of A is ar, four at a time by the SIMD
    # dot products of ``_simd.pxd`` (float and double only); below entry ``ahead`` each entry
    # prefetches the row of B that the entry PREFETCH_AHEAD positions on reads
    cdef Py_ssize_t p = p0, q
    while p + 4 <= p1:
        for q in range(p, p + 4):
            if q < ahead:
                prefetch_gathered_row(indices, B, k, row_bytes, q + PREFETCH_AHEAD)
        if value_t is double:
            dot4_f64(ar, B + <Py_ssize_t>indices[p] * k, B + <Py_ssize_t>indices[p + 1] * k,
                     B + <Py_ssize_t>indices[p + 2] * k, B + <Py_ssize_t>indices[p + 3] * k, k,
                     out + p)
        elif value_t is float:
            dot4_f32(ar, B + <Py_ssize_t>indices[p] * k, B + <Py_ssize_t>indices[p + 1] * k,
                     B + <Py_ssize_t>indices[p + 2] * k, B + <Py_ssize_t>indices[p + 3] * k, k,
                     out + p)
        p = p + 4
    while p < p1:
        if p < ahead:
            prefetch_gathered_row(indices, B, k, row_bytes, p + PREFETCH_AHEAD)
        if value_t is double:
            out[p] = dot1_f64(ar, B + <Py_ssize_t>indices[p] * k, k)
        elif value_t is float:
            out[p] = dot1_f32(ar, B + <Py_ssize_t>indices[p] * k, k)
        p = p + 1


cdef void _sddmm_rows(const index_t* indptr, const index_t* indices, const value_t* A,
                      const value_t* B, Py_ssize_t k, Py_ssize_t r0, Py_ssize_t r1,
                      Py_ssize_t r_end, value_t* out, bint stream) noexcept nogil:
    """SDDMM on mask rows ``[r0, r1)`` (``A``, ``B`` C-ordered with ``k`` columns), prefetching
    up to row ``r_end >= r1``; rank-1 samples are written with :func:`stream_store` when
    ``stream``."""
    cdef Py_ssize_t i, p, c, c0, full = k - k % _SDDMM_BLOCK
    cdef Py_ssize_t ahead = indptr[r_end] - PREFETCH_AHEAD
    cdef Py_ssize_t row_bytes = min(k * <Py_ssize_t>sizeof(value_t), PREFETCH_BYTES)
    cdef value_t a, s
    cdef value_t acc[_SDDMM_BLOCK]
    cdef const value_t* ar
    cdef const value_t* br
    if k == 1:  # a rank-1 sample (the SpMV backward): no inner loop
        for i in range(r0, r1):
            prefetch_row(indices, sizeof(index_t), indptr[i], indptr[i + 1], indptr[r_end])
            a = A[i]
            if stream:
                for p in range(indptr[i], indptr[i + 1]):
                    stream_store(&out[p], a * B[indices[p]])
            else:
                for p in range(indptr[i], indptr[i + 1]):
                    out[p] = a * B[indices[p]]
        if stream:
            stream_fence()
        return
    for i in range(r0, r1):
        prefetch_row(indices, sizeof(index_t), indptr[i], indptr[i + 1], indptr[r_end])
        if i + _ROWS_AHEAD < r_end:
            ar = A + (i + _ROWS_AHEAD) * k
            for c in range(0, row_bytes, 64):
                prefetch(<const char*>ar + c)
        ar = A + i * k
        if value_t is double or value_t is float:
            _sddmm_row_simd(indices, ar, B, k, indptr[i], indptr[i + 1], ahead, row_bytes, out)
        else:
            for p in range(indptr[i], indptr[i + 1]):
                if p < ahead:
                    prefetch_gathered_row(indices, B, k, row_bytes, p + PREFETCH_AHEAD)
                br = B + <Py_ssize_t>indices[p] * k
                # eight partial sums, one per column of a block, in a local array the compiler
                # keeps in registers (vector lanes); one running sum would make every addition
                # wait for the previous one (floating-point addition cannot be reordered)
                for c in range(_SDDMM_BLOCK):
                    acc[c] = 0
                c0 = 0
                while c0 < full:
                    for c in range(_SDDMM_BLOCK):
                        acc[c] = acc[c] + ar[c0 + c] * br[c0 + c]
                    c0 = c0 + _SDDMM_BLOCK
                s = (((acc[0] + acc[1]) + (acc[2] + acc[3]))
                     + ((acc[4] + acc[5]) + (acc[6] + acc[7])))
                for c in range(full, k):
                    s = s + ar[c] * br[c]
                out[p] = s


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

    Notes
    -----
    For float32 and float64 each row's entries are summed four at a time by explicit SIMD dot
    products (``_simd.pxd``; 16 columns, one thread: 0.65-0.75 x the time of the former
    compiled loop in float64, 0.4-0.55 x in float32 on the 2-D Poisson matrix); other dtypes
    use eight partial sums per entry. Results agree with a plain sum to rounding, not bitwise.
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
    cdef Py_ssize_t t
    cdef const index_t* mp = &indptr[0]
    cdef const value_t* Ap = &A[0, 0] if A.shape[0] > 0 and k > 0 else NULL
    cdef const value_t* Bp = &B[0, 0] if B.shape[0] > 0 and k > 0 else NULL
    cdef bint stream = nnz * <Py_ssize_t>sizeof(value_t) >= _STREAM_MIN_BYTES
    if nnz == 0:
        return
    if k == 0:
        out[:nnz] = 0
        return
    with nogil:
        if nthreads == 1:  # a plain loop: an OpenMP region costs the compiler its optimisations
            _sddmm_rows(mp, &indices[0], Ap, Bp, k, 0, n_row, n_row, &out[0], stream)
        else:
            for t in prange(nthreads, schedule="static", chunksize=1, num_threads=nthreads):
                _sddmm_rows(mp, &indices[0], Ap, Bp, k, _split(mp, n_row, t, nthreads),
                            _split(mp, n_row, t + 1, nthreads), _split(mp, n_row, t + 1, nthreads),
                            &out[0], stream)


# ------------------------------------------------------------------------------------------------
# the transposed product as a gather over the transposed pattern

cdef inline void _perm_row_cols(const index_t* Aj, const index_t* perm, const value_t* Ax,
                                const value_t* X, value_t* yr, Py_ssize_t k, Py_ssize_t c0,
                                Py_ssize_t w, Py_ssize_t p0, Py_ssize_t p1, Py_ssize_t ahead,
                                Py_ssize_t row_bytes) noexcept nogil:
    # columns [c0, c0 + w) of one output row yr, w <= _GATHER_WIDE, over the entries [p0, p1)
    # with values read through perm, summed in a local array that stays in registers (every
    # call passes a constant w); below entry ``ahead`` each entry prefetches what the entry
    # PREFETCH_AHEAD positions on reads
    cdef Py_ssize_t p, c
    cdef value_t a
    cdef value_t acc[_GATHER_WIDE]
    cdef const value_t* xr
    for c in range(w):
        acc[c] = 0
    for p in range(p0, p1):
        if p < ahead:
            _prefetch_entry(Aj, perm, Ax, X, k, row_bytes, p + PREFETCH_AHEAD)
        a = Ax[perm[p]]
        xr = X + <Py_ssize_t>Aj[p] * k + c0
        for c in range(w):
            acc[c] = acc[c] + a * xr[c]
    for c in range(w):
        yr[c0 + c] = acc[c]


cdef void _matvecs_perm_rows(const index_t* Ap, const index_t* Aj, const index_t* perm,
                             const value_t* Ax, const value_t* X, value_t* Y, Py_ssize_t k,
                             Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t r_end) noexcept nogil:
    # The SpMM row loop (``_csr_kernels._matvecs_rows``) with the values read through perm:
    # blocks of _GATHER_WIDE, then _GATHER_BLOCK columns, then the rest, each summed in
    # registers by one sweep over the row's entries. The first sweep prefetches the row of X
    # and the value that the entry PREFETCH_AHEAD positions on reads: both are gathered in an
    # order (the transposed pattern's) that the hardware prefetchers cannot follow (up to the
    # entries of row r_end >= r1).
    cdef Py_ssize_t i, c0, w, pf
    cdef Py_ssize_t ahead = Ap[r_end] - PREFETCH_AHEAD
    cdef Py_ssize_t row_bytes = min(k * <Py_ssize_t>sizeof(value_t), PREFETCH_BYTES)
    cdef value_t* yr
    for i in range(r0, r1):
        yr = Y + i * k
        c0 = 0
        pf = ahead
        while c0 + _GATHER_WIDE <= k:
            _perm_row_cols(Aj, perm, Ax, X, yr, k, c0, _GATHER_WIDE, Ap[i], Ap[i + 1], pf,
                           row_bytes)
            c0 = c0 + _GATHER_WIDE
            pf = 0
        if c0 + _GATHER_BLOCK <= k:
            _perm_row_cols(Aj, perm, Ax, X, yr, k, c0, _GATHER_BLOCK, Ap[i], Ap[i + 1], pf,
                           row_bytes)
            c0 = c0 + _GATHER_BLOCK
            pf = 0
        w = k - c0
        if w == 0:
            continue
        elif w == 1:
            _perm_row_cols(Aj, perm, Ax, X, yr, k, c0, 1, Ap[i], Ap[i + 1], pf, row_bytes)
        elif w == 2:
            _perm_row_cols(Aj, perm, Ax, X, yr, k, c0, 2, Ap[i], Ap[i + 1], pf, row_bytes)
        elif w == 3:
            _perm_row_cols(Aj, perm, Ax, X, yr, k, c0, 3, Ap[i], Ap[i + 1], pf, row_bytes)
        elif w == 4:
            _perm_row_cols(Aj, perm, Ax, X, yr, k, c0, 4, Ap[i], Ap[i + 1], pf, row_bytes)
        elif w == 5:
            _perm_row_cols(Aj, perm, Ax, X, yr, k, c0, 5, Ap[i], Ap[i + 1], pf, row_bytes)
        elif w == 6:
            _perm_row_cols(Aj, perm, Ax, X, yr, k, c0, 6, Ap[i], Ap[i + 1], pf, row_bytes)
        else:
            _perm_row_cols(Aj, perm, Ax, X, yr, k, c0, 7, Ap[i], Ap[i + 1], pf, row_bytes)


cdef inline void _prefetch_entry(const index_t* Aj, const index_t* perm, const value_t* Ax,
                                 const value_t* X, Py_ssize_t k, Py_ssize_t row_bytes,
                                 Py_ssize_t q) noexcept nogil:
    # the cache lines that entry q of _matvecs_perm_rows reads: its value and its row of X
    prefetch(Ax + perm[q])
    prefetch_gathered_row(Aj, X, k, row_bytes, q)


cdef int _check_gather(str name, Py_ssize_t n_ptr, Py_ssize_t n_indices, Py_ssize_t n_perm,
                       Py_ssize_t n_data, Py_ssize_t y_rows, Py_ssize_t y_cols,
                       Py_ssize_t k, Py_ssize_t nnz) except -1:
    """The shape checks of a gather over a transposed pattern with ``n_ptr - 1`` rows."""
    if n_ptr < 1:
        raise ValueError(f"{name}: indptr must have n_row + 1 >= 1 entries, got an empty array")
    if y_rows != n_ptr - 1 or y_cols != k:
        raise ValueError(f"{name}: the output must have shape ({n_ptr - 1}, {k}), "
                         f"got ({y_rows}, {y_cols})")
    for what, got in (("indices", n_indices), ("perm", n_perm), ("data", n_data)):
        if got < nnz:
            raise ValueError(f"{name}: {what} must have at least {nnz} entries, got {got}")
    return 0


def csr_matvecs_permuted(const index_t[::1] indptr, const index_t[::1] indices,
                         const index_t[::1] perm, const value_t[::1] data,
                         const value_t[:, ::1] X, value_t[:, ::1] Y):
    """Fill ``Y = A @ X`` for a CSR matrix ``A`` whose values are ``data[perm]`` (SpMM).

    The transposed product of a CSR matrix as a gather: with ``(indptr, indices, perm)`` the
    pattern of ``Aᵀ`` and its map from ``csr_transpose_pattern``, ``Y = Aᵀ X`` without
    building ``Aᵀ``. Each output row accumulates in registers and is written once, where
    :func:`csr_matvecs_transpose` reads and writes a row of ``Y`` for every entry (the SpMM
    backward's ``Aᵀ G``). The values are read through ``perm`` inside the product (gathering
    them into scratch first measured slower: a pass over a fresh array of ``nnz`` values).

    Parameters
    ----------
    indptr, indices : ndarray
        A CSR pattern (``n_row x n_col``).
    perm : ndarray
        For each entry ``p`` of the pattern, the position of its value in ``data``.
    data : ndarray
        Values, read as ``data[perm[p]]``.
    X : ndarray, shape (n_col, k), C-contiguous
    Y : ndarray, shape (n_row, k), C-contiguous
        Output, overwritten; row ``i`` summed from 0 over the row's entries in storage order.

    Notes
    -----
    Preconditions: every column index is in ``[0, X.shape[0])`` and every ``perm`` entry in
    ``[0, len(data))``. Parallel over rows (same result as serial).
    """
    cdef Py_ssize_t k = X.shape[1]
    cdef Py_ssize_t n_row = indptr.shape[0] - 1
    cdef Py_ssize_t nnz = indptr[n_row] if n_row >= 0 else 0
    _check_gather("csr_matvecs_permuted", indptr.shape[0], indices.shape[0], perm.shape[0],
                  data.shape[0], Y.shape[0], Y.shape[1], k, nnz)
    if k == 0 or n_row == 0:
        return
    cdef int nparts = _threads(nnz * k)
    cdef Py_ssize_t t
    cdef const index_t* Ap = &indptr[0]
    cdef const index_t* Aj = &indices[0] if nnz > 0 else NULL
    cdef const index_t* pp = &perm[0] if nnz > 0 else NULL
    cdef const value_t* Ax = &data[0] if nnz > 0 else NULL
    cdef const value_t* Xp = &X[0, 0] if X.shape[0] > 0 else NULL
    cdef value_t* Yp = &Y[0, 0]
    with nogil:
        if nparts == 1:
            _matvecs_perm_rows(Ap, Aj, pp, Ax, Xp, Yp, k, 0, n_row, n_row)
        else:
            for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
                _matvecs_perm_rows(Ap, Aj, pp, Ax, Xp, Yp, k, _split(Ap, n_row, t, nparts),
                                   _split(Ap, n_row, t + 1, nparts),
                                   _split(Ap, n_row, t + 1, nparts))


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


# ------------------------------------------------------------------------------------------------
# fused backward passes: both gradients of a product in one sweep over the sparse operand

cdef void _add_copies(value_t* target, const value_t* copies, Py_ssize_t n, Py_ssize_t ncopies,
                      int nthreads) noexcept nogil:
    """``target += copies[0] + ... + copies[ncopies - 1]`` (each of length ``n``), adding the
    threads' private copies in thread order (deterministic for a given thread count)."""
    cdef Py_ssize_t q, u
    cdef value_t s
    for q in prange(n, schedule="static", num_threads=nthreads):
        s = target[q]
        for u in range(ncopies):
            s = s + copies[u * n + q]
        target[q] = s


cdef void _spmv_backward_rows(const index_t* Ap, const index_t* Aj, const value_t* Ax,
                              const value_t* x, const value_t* g, Py_ssize_t r0, Py_ssize_t r1,
                              value_t* gA, value_t* gx, bint stream) noexcept nogil:
    """Rows ``[r0, r1)`` of the SpMV backward: ``gA[p] = g[i] x[j]``, ``gx[j] += A[p] g[i]``;
    ``gA`` is written with :func:`stream_store` when ``stream``."""
    cdef Py_ssize_t i, p, j, nnz = Ap[r1]
    cdef value_t gi
    if stream:
        for i in range(r0, r1):
            prefetch_row(Ax, sizeof(value_t), Ap[i], Ap[i + 1], nnz)
            prefetch_row(Aj, sizeof(index_t), Ap[i], Ap[i + 1], nnz)
            gi = g[i]
            for p in range(Ap[i], Ap[i + 1]):
                j = Aj[p]
                stream_store(&gA[p], gi * x[j])
                gx[j] = gx[j] + Ax[p] * gi
        stream_fence()
        return
    for i in range(r0, r1):
        prefetch_row(Ax, sizeof(value_t), Ap[i], Ap[i + 1], nnz)
        prefetch_row(Aj, sizeof(index_t), Ap[i], Ap[i + 1], nnz)
        gi = g[i]
        for p in range(Ap[i], Ap[i + 1]):
            j = Aj[p]
            gA[p] = gi * x[j]
            gx[j] = gx[j] + Ax[p] * gi


def csr_spmv_backward(const index_t[::1] indptr, const index_t[::1] indices,
                      const value_t[::1] data, const value_t[::1] x, const value_t[::1] g,
                      value_t[::1] g_data, value_t[::1] g_x):
    """Both gradients of ``y = A @ x`` in one pass over ``A``.

    Fills ``g_data[p] = g[i] * x[j]`` for every entry ``p = (i, j)`` of ``A`` (the rank-1
    SDDMM of the output gradient with ``x``) and ``g_x = A.T @ g``, reading each entry once
    where the two separate kernels read ``A``'s indices, ``x`` and ``g`` twice. The caller
    conjugates ``data`` and ``x`` for complex values (torch's convention:
    ``g_data = g conj(x)``, ``g_x = A^H g``).

    With dense matrices (SpMM) the fusion does not pay: one sweep then reads rows of ``X`` and
    updates rows of ``g_X`` at once, twice the working set of either separate kernel, and a
    matrix whose ``X`` fits in the cache but not ``X`` and ``g_X`` together runs 2x slower
    than ``csr_sddmm`` followed by ``csr_matvecs_transpose`` (measured on a 10^5 x 10^5
    random matrix with 16 columns); the SpMM backward uses those two.

    Parameters
    ----------
    indptr, indices, data : ndarray
        The CSR arrays of ``A`` (``n_row x n_col``).
    x : (n_col,) array and g : (n_row,) array.
    g_data : (nnz,) array and g_x : (n_col,) array, overwritten.

    Notes
    -----
    Preconditions: every column index is in ``[0, n_col)``. In parallel each thread takes a
    range of rows and scatters into a private copy of ``g_x`` (malloc'd scratch), summed in
    thread order afterwards (deterministic for a given thread count); that path is taken only
    when the copies are no larger than ``A``, otherwise the kernel runs serially.
    """
    cdef Py_ssize_t n_row = indptr.shape[0] - 1
    cdef Py_ssize_t n_col = x.shape[0]
    if n_row < 0:
        raise ValueError("csr_spmv_backward: indptr must have n_row + 1 >= 1 entries")
    cdef Py_ssize_t nnz = indptr[n_row]
    if (g.shape[0] != n_row or g_x.shape[0] != n_col or indices.shape[0] < nnz
            or data.shape[0] < nnz or g_data.shape[0] < nnz):
        raise ValueError(
            f"csr_spmv_backward: inconsistent shapes x=({n_col},), g=({g.shape[0]},), "
            f"g_x=({g_x.shape[0]},), g_data=({g_data.shape[0]},) for a {n_row}-row matrix "
            f"with {nnz} entries"
        )
    cdef Py_ssize_t t
    cdef int nparts = _threads(nnz)
    if nparts > 1 and n_col * (nparts - 1) > nnz:
        nparts = 1
    cdef const index_t* Ap = &indptr[0]
    cdef const index_t* Aj = &indices[0] if nnz > 0 else NULL
    cdef const value_t* Ax = &data[0] if nnz > 0 else NULL
    cdef const value_t* xp = &x[0] if n_col > 0 else NULL
    cdef const value_t* gp = &g[0] if n_row > 0 else NULL
    cdef value_t* gA = &g_data[0] if nnz > 0 else NULL
    cdef value_t* gxp = &g_x[0] if n_col > 0 else NULL
    cdef value_t* buf = NULL
    cdef value_t* target
    cdef bint stream = nnz * <Py_ssize_t>sizeof(value_t) >= _STREAM_MIN_BYTES
    if n_col > 0:
        memset(gxp, 0, n_col * sizeof(value_t))
    if nnz == 0:
        return
    if nparts == 1:
        with nogil:
            _spmv_backward_rows(Ap, Aj, Ax, xp, gp, 0, n_row, gA, gxp, stream)
        return
    buf = <value_t*> calloc(<size_t>((nparts - 1) * n_col), sizeof(value_t))
    if buf == NULL:
        raise MemoryError()
    with nogil:
        for t in prange(nparts, schedule="static", chunksize=1, num_threads=nparts):
            target = gxp if t == 0 else buf + (t - 1) * n_col
            _spmv_backward_rows(Ap, Aj, Ax, xp, gp,
                                _split(Ap, n_row, t, nparts), _split(Ap, n_row, t + 1, nparts),
                                gA, target, stream)
        _add_copies(gxp, buf, n_col, nparts - 1, nparts)
    free(buf)


cdef void _spmm_backward_rows(const index_t* Ap, const index_t* Aj, const index_t* Tp,
                              const index_t* Tj, const index_t* perm, const value_t* Ax,
                              const value_t* X, const value_t* G, Py_ssize_t k,
                              Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t t0, Py_ssize_t t1,
                              value_t* gA, value_t* gX) noexcept nogil:
    """Rows ``[s0, s1)`` of the SDDMM ``gA = (G Xᵀ)`` on ``A``'s pattern and rows ``[t0, t1)``
    of the gather ``gX = Aᵀ G`` over the transposed pattern, alternating blocks of
    ``_FUSED_ROWS`` rows of each."""
    cdef Py_ssize_t b = 0
    while s0 + b < s1 or t0 + b < t1:
        if s0 + b < s1:
            _sddmm_rows(Ap, Aj, G, X, k, s0 + b, min(s0 + b + _FUSED_ROWS, s1), s1, gA, False)
        if t0 + b < t1:
            _matvecs_perm_rows(Tp, Tj, perm, Ax, G, gX, k, t0 + b, min(t0 + b + _FUSED_ROWS, t1),
                               t1)
        b = b + _FUSED_ROWS


def csr_spmm_backward(const index_t[::1] indptr, const index_t[::1] indices,
                      const index_t[::1] t_indptr, const index_t[::1] t_indices,
                      const index_t[::1] t_perm, const value_t[::1] data,
                      const value_t[:, ::1] X, const value_t[:, ::1] G,
                      value_t[::1] g_data, value_t[:, ::1] g_X):
    """Both gradients of ``Y = A @ X`` (SpMM) in one sweep over the rows.

    Fills ``g_data = sddmm(G, X)`` on ``A``'s pattern (``g_data[p] = G[i] · X[j]`` for every
    entry ``p = (i, j)``, :func:`csr_sddmm`) and ``g_X = Aᵀ G`` by a gather over the transposed
    pattern (:func:`csr_matvecs_permuted`), alternating blocks of rows of the two: the rows of
    ``G`` that a block of the SDDMM reads are still in the cache when the gather of the same
    rows reads them for their neighbours, so ``G`` comes from memory once instead of twice
    (2-D Poisson n = 10⁶, 16 columns, one thread: 48 → 39 ms). Each output is summed exactly
    as by the separate kernel. The caller conjugates ``data`` and ``X`` for complex values
    (torch's convention: ``g_data = G X̄ᵀ``, ``g_X = Āᵀ G``).

    Parameters
    ----------
    indptr, indices, data : ndarray
        The CSR arrays of ``A`` (``n_row x n_col``).
    t_indptr, t_indices, t_perm : ndarray
        The pattern of ``Aᵀ`` and its map into ``A``'s entries (``csr_transpose_pattern``).
    X : (n_col, k) array and G : (n_row, k) array, C-contiguous.
    g_data : (nnz,) array and g_X : (n_col, k) array, overwritten.

    Notes
    -----
    Preconditions: the transposed pattern is that of ``A`` (the caller's cached transpose).
    Parallel: each thread takes a range of SDDMM rows and a range of gather rows, both of about
    the same number of entries.
    """
    cdef Py_ssize_t n_row = indptr.shape[0] - 1
    cdef Py_ssize_t n_col = t_indptr.shape[0] - 1
    cdef Py_ssize_t k = X.shape[1]
    if n_row < 0 or n_col < 0:
        raise ValueError("csr_spmm_backward: indptr and t_indptr must have n + 1 >= 1 entries")
    cdef Py_ssize_t nnz = indptr[n_row]
    if (t_indptr[n_col] != nnz or X.shape[0] != n_col or G.shape[0] != n_row
            or G.shape[1] != k or g_X.shape[0] != n_col or g_X.shape[1] != k
            or indices.shape[0] < nnz or t_indices.shape[0] < nnz or t_perm.shape[0] < nnz
            or data.shape[0] < nnz or g_data.shape[0] < nnz):
        raise ValueError(
            f"csr_spmm_backward: inconsistent shapes X={tuple(X.shape)[:2]}, "
            f"G={tuple(G.shape)[:2]}, g_X={tuple(g_X.shape)[:2]}, g_data=({g_data.shape[0]},) "
            f"for a {n_row} x {n_col} matrix with {nnz} entries and a transpose with "
            f"{t_indptr[n_col]}"
        )
    if k == 0:
        g_data[:nnz] = 0
        return
    if nnz == 0:
        g_X[:, :] = 0
        return
    cdef int nparts = _threads(nnz * k)
    cdef Py_ssize_t t
    cdef const index_t* Ap = &indptr[0]
    cdef const index_t* Tp = &t_indptr[0]
    with nogil:
        if nparts == 1:
            _spmm_backward_rows(Ap, &indices[0], Tp, &t_indices[0], &t_perm[0], &data[0],
                                &X[0, 0], &G[0, 0], k, 0, n_row, 0, n_col, &g_data[0],
                                &g_X[0, 0])
        else:
            for t in prange(nparts, schedule="static", chunksize=1, num_threads=nparts):
                _spmm_backward_rows(Ap, &indices[0], Tp, &t_indices[0], &t_perm[0], &data[0],
                                    &X[0, 0], &G[0, 0], k,
                                    _split(Ap, n_row, t, nparts), _split(Ap, n_row, t + 1, nparts),
                                    _split(Tp, n_col, t, nparts), _split(Tp, n_col, t + 1, nparts),
                                    &g_data[0], &g_X[0, 0])


cdef void _spmm_backward_scatter_rows(const index_t* Ap, const index_t* Aj, const value_t* Ax,
                                      const value_t* X, const value_t* G, Py_ssize_t k,
                                      Py_ssize_t n_row, Py_ssize_t n_col, bint gathered,
                                      value_t* gA, value_t* gX) noexcept nogil:
    # One sweep over the entries (i, j) of A: gA[p] = G[i] . X[j], and gX[j] += a G[i]. The
    # rows of gX are zeroed just before the first row of A that can reach them (up to the
    # largest column of the row), so that near the diagonal they are still in the cache when
    # updated. With ``gathered``, each entry prefetches the rows of X and gX that the entry
    # PREFETCH_AHEAD_PAIR positions on reads.
    cdef Py_ssize_t i, p, c, j, top, zeroed = 0, nnz = Ap[n_row]
    cdef Py_ssize_t ahead = nnz - PREFETCH_AHEAD_PAIR
    cdef Py_ssize_t row_bytes = min(k * <Py_ssize_t>sizeof(value_t), PREFETCH_BYTES)
    cdef value_t a, s
    cdef const value_t* gi
    cdef const value_t* xr
    cdef value_t* gr
    for i in range(n_row):  # (hints for the values and indices ahead: 1.15x the time here)
        if Ap[i + 1] == Ap[i]:
            continue
        top = Aj[Ap[i]]
        for p in range(Ap[i] + 1, Ap[i + 1]):
            if Aj[p] > top:
                top = Aj[p]
        if top >= zeroed:
            memset(gX + zeroed * k, 0, (top + 1 - zeroed) * k * sizeof(value_t))
            zeroed = top + 1
        gi = G + i * k
        for p in range(Ap[i], Ap[i + 1]):
            if gathered and p < ahead:
                prefetch_gathered_row(Aj, X, k, row_bytes, p + PREFETCH_AHEAD_PAIR)
                prefetch_gathered_row(Aj, gX, k, row_bytes, p + PREFETCH_AHEAD_PAIR)
            j = Aj[p]
            gr = gX + j * k
            if value_t is double:
                gA[p] = dot_axpy_f64(gi, X + j * k, gr, Ax[p], k)
            elif value_t is float:
                gA[p] = dot_axpy_f32(gi, X + j * k, gr, Ax[p], k)
            else:
                a = Ax[p]
                xr = X + j * k
                s = 0
                for c in range(k):
                    s = s + gi[c] * xr[c]
                    gr[c] = gr[c] + a * gi[c]
                gA[p] = s
    if zeroed < n_col:
        memset(gX + zeroed * k, 0, (n_col - zeroed) * k * sizeof(value_t))


def csr_spmm_backward_scatter(const index_t[::1] indptr, const index_t[::1] indices,
                              const value_t[::1] data, const value_t[:, ::1] X,
                              const value_t[:, ::1] G, value_t[::1] g_data,
                              value_t[:, ::1] g_X, bint gathered=False):
    """Both gradients of ``Y = A @ X`` (SpMM) in one sweep over the entries, on one thread.

    Fills ``g_data = sddmm(G, X)`` on ``A``'s pattern (``g_data[p] = G[i] · X[j]`` for every
    entry ``p = (i, j)``) and ``g_X = Aᵀ G`` by scattering ``data[p] * G[i]`` into row ``j``
    of ``g_X``: each entry's value, index and row of ``G`` are read in order and its rows of
    ``X`` and ``g_X`` together, with no transposed pattern. Against :func:`csr_spmm_backward`
    (one thread): 2-D Poisson n = 10⁶ 0.89–0.93x the time with 16, 8 and 3 columns, banded
    random patterns 0.7–0.9x. The rows of ``g_X`` are zeroed as the sweep first reaches them.
    The caller conjugates ``data`` and ``X`` for complex values.

    Parameters
    ----------
    indptr, indices, data : ndarray
        The CSR arrays of ``A`` (``n_row x n_col``); any valid CSR (unsorted indices and
        duplicates allowed).
    X : (n_col, k) array and G : (n_row, k) array, C-contiguous.
    g_data : (nnz,) array and g_X : (n_col, k) array, overwritten.
    gathered : bool
        Prefetch the rows of ``X`` and ``g_X`` that later entries name: for columns scattered
        at random (the caller passes ``not CSRPattern.is_stencil()``); the hardware
        prefetchers follow the few diagonals of a stencil better alone.

    Notes
    -----
    Serial by design: entries of different rows update the same rows of ``g_X``, which a
    parallel sweep would need private copies of ``g_X`` for (``csr_spmm_backward`` is the
    parallel kernel). ``g_X`` receives the entries in storage order.
    """
    cdef Py_ssize_t n_row = indptr.shape[0] - 1
    cdef Py_ssize_t n_col = X.shape[0]
    cdef Py_ssize_t k = X.shape[1]
    if n_row < 0:
        raise ValueError("csr_spmm_backward_scatter: indptr must have n_row + 1 >= 1 entries")
    cdef Py_ssize_t nnz = indptr[n_row]
    if (G.shape[0] != n_row or G.shape[1] != k or g_X.shape[0] != n_col
            or g_X.shape[1] != k or indices.shape[0] < nnz or data.shape[0] < nnz
            or g_data.shape[0] < nnz):
        raise ValueError(
            f"csr_spmm_backward_scatter: inconsistent shapes X={tuple(X.shape)[:2]}, "
            f"G={tuple(G.shape)[:2]}, g_X={tuple(g_X.shape)[:2]}, "
            f"g_data=({g_data.shape[0]},) for {n_row} rows and {nnz} entries"
        )
    if k == 0:
        g_data[:nnz] = 0
        return
    if nnz == 0:
        g_X[:, :] = 0
        return
    with nogil:
        _spmm_backward_scatter_rows(&indptr[0], &indices[0], &data[0], &X[0, 0], &G[0, 0], k,
                                    n_row, n_col, gathered, &g_data[0], &g_X[0, 0])


cdef void _spgemm_backward_rows(const index_t* Ap, const index_t* Aj, const value_t* Ax,
                                const index_t* Bp, const index_t* Bj, const value_t* Bx,
                                const index_t* Cp, const index_t* Cj, const value_t* Gc,
                                value_t* w, Py_ssize_t r0, Py_ssize_t r1,
                                value_t* gA, value_t* gB) noexcept nogil:
    """Rows ``[r0, r1)`` of the SpGEMM backward, with ``w`` a zeroed dense row buffer."""
    cdef Py_ssize_t i, p, q, kk
    cdef value_t a, s, v
    for i in range(r0, r1):
        for q in range(Cp[i], Cp[i + 1]):
            w[Cj[q]] = w[Cj[q]] + Gc[q]
        for p in range(Ap[i], Ap[i + 1]):
            a = Ax[p]
            kk = Aj[p]
            s = 0
            for q in range(Bp[kk], Bp[kk + 1]):
                v = w[Bj[q]]
                s = s + Bx[q] * v
                gB[q] = gB[q] + a * v
            gA[p] = s
        for q in range(Cp[i], Cp[i + 1]):
            w[Cj[q]] = 0


def csr_spgemm_backward(Py_ssize_t n_col,
                        const index_t[::1] Ap, const index_t[::1] Aj, const value_t[::1] Ax,
                        const index_t[::1] Bp, const index_t[::1] Bj, const value_t[::1] Bx,
                        const index_t[::1] Cp, const index_t[::1] Cj, const value_t[::1] Gc,
                        value_t[::1] g_A, value_t[::1] g_B):
    """Both gradients of ``C = A @ B`` (sparse × sparse) in one pass over the rows of ``A``.

    With ``G`` the gradient of ``C`` (values ``Gc`` on ``C``'s pattern ``Cp``, ``Cj``), fills
    ``g_A[p] = sum_j G[i, j] * B[k, j]`` for every entry ``p = (i, k)`` of ``A`` and
    ``g_B[q] = sum_i A[i, k] * G[i, j]`` for every entry ``q = (k, j)`` of ``B``: the masked
    products ``(G B^T)`` on ``A``'s pattern and ``(A^T G)`` on ``B``'s. Row ``i`` of ``G`` is
    scattered into a dense buffer of length ``n_col`` once; every ``B`` row that row ``i`` of
    ``A`` names is then read once for both gradients, so the cost is that of the numeric SpGEMM
    with no transposes. The caller conjugates ``Ax`` and ``Bx`` for complex values.

    Parameters
    ----------
    n_col : int
        Number of columns of ``B`` and ``C``.
    Ap, Aj, Ax, Bp, Bj, Bx : CSR arrays of ``A`` and ``B`` (duplicates allowed: each stored
        entry gets its own gradient).
    Cp, Cj, Gc : CSR pattern of ``C`` with the gradient's values; it must contain every
        ``(i, j)`` that the product reaches (the structural pattern of ``A @ B``).
    g_A : (nnz(A),) and g_B : (nnz(B),) arrays, overwritten.

    Notes
    -----
    Preconditions: column indices of ``A`` lie in ``[0, len(Bp) - 1)``, those of ``B`` and
    ``C`` in ``[0, n_col)``. In parallel each thread takes a range of rows (balanced by the
    entries of ``C``) with its own row buffer and its own copy of ``g_B``, summed in thread
    order afterwards; that path is taken only when the copies are no larger than ``C``.
    """
    cdef Py_ssize_t n_row = Ap.shape[0] - 1
    if n_row < 0 or Bp.shape[0] < 1 or Cp.shape[0] != n_row + 1:
        raise ValueError(
            f"csr_spgemm_backward: indptr lengths A={Ap.shape[0]}, B={Bp.shape[0]}, "
            f"C={Cp.shape[0]} do not describe a product"
        )
    cdef Py_ssize_t nnz_a = Ap[n_row], nnz_b = Bp[Bp.shape[0] - 1], nnz_c = Cp[n_row]
    if (Aj.shape[0] < nnz_a or Ax.shape[0] < nnz_a or g_A.shape[0] < nnz_a
            or Bj.shape[0] < nnz_b or Bx.shape[0] < nnz_b or g_B.shape[0] < nnz_b
            or Cj.shape[0] < nnz_c or Gc.shape[0] < nnz_c):
        raise ValueError("csr_spgemm_backward: an index or value array is shorter than its "
                         "indptr says")
    cdef int nparts = _threads(nnz_a + nnz_c)
    if nparts > 1 and nnz_b * (nparts - 1) > nnz_c:
        nparts = 1
    cdef const index_t* ap = &Ap[0]
    cdef const index_t* aj = &Aj[0] if nnz_a > 0 else NULL
    cdef const value_t* ax = &Ax[0] if nnz_a > 0 else NULL
    cdef const index_t* bp = &Bp[0]
    cdef const index_t* bj = &Bj[0] if nnz_b > 0 else NULL
    cdef const value_t* bx = &Bx[0] if nnz_b > 0 else NULL
    cdef const index_t* cp = &Cp[0]
    cdef const index_t* cj = &Cj[0] if nnz_c > 0 else NULL
    cdef const value_t* gc = &Gc[0] if nnz_c > 0 else NULL
    cdef value_t* ga = &g_A[0] if nnz_a > 0 else NULL
    cdef value_t* gb = &g_B[0] if nnz_b > 0 else NULL
    cdef Py_ssize_t t
    cdef value_t* target
    if nnz_b > 0:
        memset(gb, 0, nnz_b * sizeof(value_t))
    if nnz_a > 0:
        memset(ga, 0, nnz_a * sizeof(value_t))
    if nnz_a == 0 or nnz_b == 0:
        return
    # one row buffer per part, then the private copies of g_B of parts 1..nparts-1
    cdef value_t* scratch = <value_t*> calloc(
        <size_t>(nparts * n_col + (nparts - 1) * nnz_b + 1), sizeof(value_t))
    if scratch == NULL:
        raise MemoryError()
    cdef value_t* copies = scratch + nparts * n_col
    with nogil:
        if nparts == 1:
            _spgemm_backward_rows(ap, aj, ax, bp, bj, bx, cp, cj, gc, scratch, 0, n_row, ga, gb)
        else:
            for t in prange(nparts, schedule="static", chunksize=1, num_threads=nparts):
                target = gb if t == 0 else copies + (t - 1) * nnz_b
                _spgemm_backward_rows(ap, aj, ax, bp, bj, bx, cp, cj, gc, scratch + t * n_col,
                                      _split(cp, n_row, t, nparts),
                                      _split(cp, n_row, t + 1, nparts), ga, target)
            _add_copies(gb, copies, nnz_b, nparts - 1, nparts)
    free(scratch)


