"""CSR and COO kernels: products, transposes, format conversions and canonicalisation.

Python allocates, kernels fill: every function receives preallocated, C-contiguous output
arrays and fills them; none allocates a NumPy array. Within one call all index arrays share one
dtype (``int32`` or ``int64``) and all value arrays share one dtype (``int32``, ``int64``,
``float32``, ``float64``, ``complex64`` or ``complex128``).

Common preconditions (checked in Python by ``spgrad._sputils``, not here): an ``indptr`` has
``n_row + 1`` entries, starts at 0 and never decreases; every column index of a row lies in
``[0, n_col)``; ``indices`` and ``data`` have at least ``indptr[-1]`` entries; output arrays have
the lengths stated in each docstring and do not overlap the inputs. Given these, no kernel
reads or writes out of bounds. The kernels check only O(1) facts (array lengths) and raise
``ValueError`` when those are inconsistent.

Threads: a kernel runs in parallel over rows (or entries) with ``get_num_threads()`` threads
when its work (usually the number of stored entries) is at least :data:`MIN_PARALLEL_WORK`,
and serially otherwise. Row ranges are split so that each thread gets about the same number of
``rows + entries``.
"""

from cython.parallel cimport prange
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from ._fused cimport index_t, value_t
from ._memory cimport PREFETCH_AHEAD, PREFETCH_BYTES, prefetch, prefetch_gathered_row, prefetch_row
from ._parallel cimport _even, _split, get_num_threads

__all__ = [
    "coo_todense",
    "coo_tocsr",
    "coo_tocsr_pattern",
    "csr_diagonal",
    "csr_eliminate_zeros",
    "csr_has_canonical_format",
    "csr_has_sorted_indices",
    "csr_matmat",
    "csr_matmat_row_nnz",
    "csr_matvec",
    "csr_matvec_transpose",
    "csr_matvecs",
    "csr_matvecs_transpose",
    "csr_sort_indices",
    "csr_sort_indices_pattern",
    "csr_sum_duplicates",
    "csr_sum_duplicates_pattern",
    "csr_todense",
    "csr_transpose",
    "csr_transpose_pattern",
    "expand_indptr",
]

#: Kernels whose work (stored entries touched) is below this run on one thread; starting an
#: OpenMP team costs a few microseconds, about the time to stream 50 000 entries.
#: Tests set it to 0 to force the parallel code paths on small inputs.
MIN_PARALLEL_WORK = 50_000

cdef enum:
    # Rows (and quicksort partitions) of at most this many entries are insertion-sorted.
    _INSERTION_SORT_MAX = 16

#: Rows with at most this many entries are sorted by insertion sort, longer ones by introsort.
INSERTION_SORT_MAX = _INSERTION_SORT_MAX


# ------------------------------------------------------------------------------------------------
# helpers (called with the GIL)

cdef Py_ssize_t _num_parts(Py_ssize_t work) except -1:
    """How many parts (one per thread) a kernel with ``work`` units splits into."""
    cdef int nthreads = get_num_threads()
    if nthreads <= 1 or work < MIN_PARALLEL_WORK:
        return 1
    return nthreads


cdef void* _scratch(Py_ssize_t count, size_t itemsize) except NULL:
    """malloc ``count`` items (at least one byte), raising MemoryError on failure."""
    cdef void* p = malloc(<size_t>count * itemsize if count > 0 else 1)
    if p == NULL:
        raise MemoryError(f"could not allocate {count} x {itemsize} bytes of kernel scratch")
    return p


cdef Py_ssize_t _n_row(Py_ssize_t indptr_len) except -1:
    if indptr_len < 1:
        raise ValueError("indptr must have n_row + 1 >= 1 entries, got an empty array")
    return indptr_len - 1


cdef int _check_len(str name, Py_ssize_t got, Py_ssize_t want) except -1:
    if got != want:
        raise ValueError(f"{name} must have length {want}, got {got}")
    return 0


cdef int _check_min_len(str name, Py_ssize_t got, Py_ssize_t want) except -1:
    if got < want:
        raise ValueError(f"{name} must have at least {want} entries, got {got}")
    return 0


# ------------------------------------------------------------------------------------------------
# sparse matrix - dense vector products

cdef void _matvec_rows(const index_t* Ap, const index_t* Aj, const value_t* Ax,
                       const value_t* x, value_t* y,
                       Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t i, p, nnz = Ap[r1]
    cdef value_t s
    for i in range(r0, r1):
        prefetch_row(Ax, sizeof(value_t), Ap[i], Ap[i + 1], nnz)
        prefetch_row(Aj, sizeof(index_t), Ap[i], Ap[i + 1], nnz)
        s = 0
        for p in range(Ap[i], Ap[i + 1]):
            s = s + Ax[p] * x[Aj[p]]
        y[i] = s


def csr_matvec(const index_t[::1] indptr, const index_t[::1] indices,
               const value_t[::1] data, const value_t[::1] x, value_t[::1] y):
    """Fill ``y = A @ x`` for a CSR matrix ``A``.

    Parameters
    ----------
    indptr, indices, data : ndarray
        The CSR arrays of ``A`` (``n_row x n_col``).
    x : ndarray, shape (n_col,)
        Dense vector.
    y : ndarray, shape (n_row,)
        Output, overwritten: ``y[i] = sum(data[p] * x[indices[p]])`` over the entries ``p`` of
        row ``i``, summed from 0 in storage order (bitwise the same as SciPy).

    Notes
    -----
    Preconditions: every column index is in ``[0, len(x))``. Parallel over rows.
    """
    cdef Py_ssize_t n_row = _n_row(indptr.shape[0])
    cdef Py_ssize_t nnz, nparts, t
    cdef const index_t* Ap = &indptr[0]
    cdef const index_t* Aj = &indices[0] if indices.shape[0] > 0 else NULL
    cdef const value_t* Ax = &data[0] if data.shape[0] > 0 else NULL
    cdef const value_t* xp = &x[0] if x.shape[0] > 0 else NULL
    cdef value_t* yp = &y[0] if y.shape[0] > 0 else NULL
    _check_len("y", y.shape[0], n_row)
    nnz = Ap[n_row]
    _check_min_len("indices", indices.shape[0], nnz)
    _check_min_len("data", data.shape[0], nnz)
    nparts = _num_parts(nnz)
    with nogil:
        if nparts == 1:
            _matvec_rows(Ap, Aj, Ax, xp, yp, 0, n_row)
        else:
            for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
                _matvec_rows(Ap, Aj, Ax, xp, yp,
                             _split(Ap, n_row, t, nparts), _split(Ap, n_row, t + 1, nparts))


cdef enum:
    _SPMM_WIDE = 16  # columns of Y summed together in registers by the SpMM kernel ...
    _SPMM_BLOCK = 8  # ... and then, for the columns left, 8


cdef inline void _row_cols(const index_t* Aj, const value_t* Ax, const value_t* X,
                           value_t* yr, Py_ssize_t k, Py_ssize_t c0, Py_ssize_t w,
                           Py_ssize_t p0, Py_ssize_t p1, Py_ssize_t ahead,
                           Py_ssize_t row_bytes) noexcept nogil:
    # columns [c0, c0 + w) of one output row yr, w <= _SPMM_WIDE, summed over the entries
    # [p0, p1) in a local array; every call passes a constant w, so that after inlining the
    # compiler keeps the sums in registers. Below entry ``ahead`` each entry prefetches the
    # row of X that the entry PREFETCH_AHEAD positions on reads.
    cdef Py_ssize_t p, c
    cdef value_t a
    cdef value_t acc[_SPMM_WIDE]
    cdef const value_t* xr
    for c in range(w):
        acc[c] = 0
    for p in range(p0, p1):
        if p < ahead:
            prefetch_gathered_row(Aj, X, k, row_bytes, p + PREFETCH_AHEAD)
        a = Ax[p]
        xr = X + <Py_ssize_t>Aj[p] * k + c0
        for c in range(w):
            acc[c] = acc[c] + a * xr[c]
    for c in range(w):
        yr[c0 + c] = acc[c]


cdef void _matvecs_rows(const index_t* Ap, const index_t* Aj, const value_t* Ax,
                        const value_t* X, value_t* Y, Py_ssize_t k,
                        Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    # Each row of Y is summed in blocks of columns, _SPMM_WIDE, then _SPMM_BLOCK, then the
    # rest, each block by one sweep over the row's entries in registers (through Y, which may
    # alias X, a sum costs a load and a store per entry and column; in a local array of
    # variable width, a chain of stores and reloads: k = 3 columns, 10 random entries per row,
    # n = 10⁵, one thread 4.8 -> 1.9 ms, SciPy 3.4 ms). Every output is summed from 0 in
    # storage order. The first sweep over a row's entries prefetches the row of X that the
    # entry PREFETCH_AHEAD positions on reads, and every row the values and indices
    # ROW_AHEAD entries on.
    cdef Py_ssize_t i, c0, w, pf
    cdef Py_ssize_t nnz = Ap[r1], ahead = Ap[r1] - PREFETCH_AHEAD
    cdef Py_ssize_t row_bytes = min(k * <Py_ssize_t>sizeof(value_t), PREFETCH_BYTES)
    cdef value_t* yr
    for i in range(r0, r1):
        prefetch_row(Ax, sizeof(value_t), Ap[i], Ap[i + 1], nnz)
        prefetch_row(Aj, sizeof(index_t), Ap[i], Ap[i + 1], nnz)
        yr = Y + i * k
        c0 = 0
        pf = ahead
        while c0 + _SPMM_WIDE <= k:
            _row_cols(Aj, Ax, X, yr, k, c0, _SPMM_WIDE, Ap[i], Ap[i + 1], pf, row_bytes)
            c0 = c0 + _SPMM_WIDE
            pf = 0
        if c0 + _SPMM_BLOCK <= k:
            _row_cols(Aj, Ax, X, yr, k, c0, _SPMM_BLOCK, Ap[i], Ap[i + 1], pf, row_bytes)
            c0 = c0 + _SPMM_BLOCK
            pf = 0
        w = k - c0
        if w == 0:
            continue
        elif w == 1:
            _row_cols(Aj, Ax, X, yr, k, c0, 1, Ap[i], Ap[i + 1], pf, row_bytes)
        elif w == 2:
            _row_cols(Aj, Ax, X, yr, k, c0, 2, Ap[i], Ap[i + 1], pf, row_bytes)
        elif w == 3:
            _row_cols(Aj, Ax, X, yr, k, c0, 3, Ap[i], Ap[i + 1], pf, row_bytes)
        elif w == 4:
            _row_cols(Aj, Ax, X, yr, k, c0, 4, Ap[i], Ap[i + 1], pf, row_bytes)
        elif w == 5:
            _row_cols(Aj, Ax, X, yr, k, c0, 5, Ap[i], Ap[i + 1], pf, row_bytes)
        elif w == 6:
            _row_cols(Aj, Ax, X, yr, k, c0, 6, Ap[i], Ap[i + 1], pf, row_bytes)
        else:
            _row_cols(Aj, Ax, X, yr, k, c0, 7, Ap[i], Ap[i + 1], pf, row_bytes)


def csr_matvecs(const index_t[::1] indptr, const index_t[::1] indices,
                const value_t[::1] data, const value_t[:, ::1] X, value_t[:, ::1] Y):
    """Fill ``Y = A @ X`` for a CSR matrix ``A`` and a dense C-ordered ``X`` (SpMM).

    Parameters
    ----------
    indptr, indices, data : ndarray
        The CSR arrays of ``A`` (``n_row x n_col``).
    X : ndarray, shape (n_col, k), C-contiguous
        Dense operand.
    Y : ndarray, shape (n_row, k), C-contiguous
        Output, overwritten. Row ``i`` is accumulated from 0 as ``Y[i] += data[p] * X[j]`` over
        the entries of row ``i`` in storage order (bitwise the same as SciPy).

    Notes
    -----
    Preconditions: every column index is in ``[0, X.shape[0])``. Parallel over rows.
    """
    cdef Py_ssize_t n_row = _n_row(indptr.shape[0])
    cdef Py_ssize_t nnz, nparts, t, k = X.shape[1]
    cdef const index_t* Ap = &indptr[0]
    cdef const index_t* Aj = &indices[0] if indices.shape[0] > 0 else NULL
    cdef const value_t* Ax = &data[0] if data.shape[0] > 0 else NULL
    cdef const value_t* Xp = &X[0, 0] if X.shape[0] > 0 and X.shape[1] > 0 else NULL
    cdef value_t* Yp = &Y[0, 0] if Y.shape[0] > 0 and Y.shape[1] > 0 else NULL
    _check_len("Y.shape[0]", Y.shape[0], n_row)
    _check_len("Y.shape[1]", Y.shape[1], k)
    nnz = Ap[n_row]
    _check_min_len("indices", indices.shape[0], nnz)
    _check_min_len("data", data.shape[0], nnz)
    if k == 0 or n_row == 0:
        return
    nparts = _num_parts(nnz * k)
    with nogil:
        # one column is a vector: the SpMV loop keeps the sum in a register (the k-loop must
        # store through Y on every entry, about 7x slower)
        if nparts == 1 and k == 1:
            _matvec_rows(Ap, Aj, Ax, Xp, Yp, 0, n_row)
        elif nparts == 1:
            _matvecs_rows(Ap, Aj, Ax, Xp, Yp, k, 0, n_row)
        elif k == 1:
            for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
                _matvec_rows(Ap, Aj, Ax, Xp, Yp,
                             _split(Ap, n_row, t, nparts), _split(Ap, n_row, t + 1, nparts))
        else:
            for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
                _matvecs_rows(Ap, Aj, Ax, Xp, Yp, k,
                              _split(Ap, n_row, t, nparts), _split(Ap, n_row, t + 1, nparts))


cdef void _matvec_t_rows(const index_t* Ap, const index_t* Aj, const value_t* Ax,
                         const value_t* x, value_t* y,
                         Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t i, p, nnz = Ap[r1]
    cdef value_t xi
    for i in range(r0, r1):
        prefetch_row(Ax, sizeof(value_t), Ap[i], Ap[i + 1], nnz)
        prefetch_row(Aj, sizeof(index_t), Ap[i], Ap[i + 1], nnz)
        xi = x[i]
        for p in range(Ap[i], Ap[i + 1]):
            y[Aj[p]] = y[Aj[p]] + Ax[p] * xi


def csr_matvec_transpose(const index_t[::1] indptr, const index_t[::1] indices,
                         const value_t[::1] data, const value_t[::1] x, value_t[::1] y):
    """Fill ``y = A.T @ x`` for a CSR matrix ``A`` (no conjugation).

    Parameters
    ----------
    indptr, indices, data : ndarray
        The CSR arrays of ``A`` (``n_row x n_col``).
    x : ndarray, shape (n_row,)
        Dense vector.
    y : ndarray, shape (n_col,)
        Output, overwritten (the kernel zeroes it): ``y[indices[p]] += data[p] * x[i]``.

    Notes
    -----
    Preconditions: every column index is in ``[0, len(y))``.

    Serially the entries are added in storage order (bitwise the same as SciPy's
    ``A.T @ x``). When the work is large and ``n_col * (nthreads - 1) <= nnz``, each thread
    scatters its rows into a private copy of ``y`` (malloc'd scratch) and the copies are summed
    in thread order afterwards: the result is deterministic for a given thread count but may
    differ from the serial one in the last bits. Otherwise it runs serially.
    """
    cdef Py_ssize_t n_row = _n_row(indptr.shape[0])
    cdef Py_ssize_t n_col = y.shape[0]
    cdef Py_ssize_t nnz, nparts, t, j, u
    cdef const index_t* Ap = &indptr[0]
    cdef const index_t* Aj = &indices[0] if indices.shape[0] > 0 else NULL
    cdef const value_t* Ax = &data[0] if data.shape[0] > 0 else NULL
    cdef const value_t* xp = &x[0] if x.shape[0] > 0 else NULL
    cdef value_t* yp = &y[0] if y.shape[0] > 0 else NULL
    cdef value_t* buf = NULL
    cdef value_t* target
    cdef value_t s
    _check_len("x", x.shape[0], n_row)
    nnz = Ap[n_row]
    _check_min_len("indices", indices.shape[0], nnz)
    _check_min_len("data", data.shape[0], nnz)
    nparts = _num_parts(nnz)
    if nparts > 1 and n_col * (nparts - 1) > nnz:
        nparts = 1
    if nparts == 1:
        with nogil:
            if n_col > 0:
                memset(yp, 0, n_col * sizeof(value_t))
            _matvec_t_rows(Ap, Aj, Ax, xp, yp, 0, n_row)
        return
    buf = <value_t*>_scratch((nparts - 1) * n_col, sizeof(value_t))
    with nogil:
        for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
            target = yp if t == 0 else buf + (t - 1) * n_col
            memset(target, 0, n_col * sizeof(value_t))
            _matvec_t_rows(Ap, Aj, Ax, xp, target,
                           _split(Ap, n_row, t, nparts), _split(Ap, n_row, t + 1, nparts))
        for j in prange(n_col, schedule='static', num_threads=nparts):
            s = yp[j]
            for u in range(nparts - 1):
                s = s + buf[u * n_col + j]
            yp[j] = s
    free(buf)


cdef inline void _t_row_cols(const index_t* Aj, const value_t* Ax, const value_t* xr,
                             value_t* Y, Py_ssize_t k, Py_ssize_t c0, Py_ssize_t w,
                             Py_ssize_t p0, Py_ssize_t p1, Py_ssize_t ahead,
                             Py_ssize_t row_bytes) noexcept nogil:
    # adds a * xr[c0:c0 + w] (w <= _SPMM_WIDE) to the columns [c0, c0 + w) of the rows of Y
    # that the entries [p0, p1) name; xr's slice is copied to a local array first (read through
    # X, it would be reloaded after every store into Y, which may alias X), which every call's
    # constant w keeps in registers. Below entry ``ahead`` each entry prefetches the slice of
    # the row of Y that the entry PREFETCH_AHEAD positions on updates.
    cdef Py_ssize_t p, c
    cdef value_t a
    cdef value_t xl[_SPMM_WIDE]
    cdef value_t* yr
    for c in range(w):
        xl[c] = xr[c0 + c]
    for p in range(p0, p1):
        if p < ahead:
            prefetch_gathered_row(Aj, Y + c0, k, row_bytes, p + PREFETCH_AHEAD)
        a = Ax[p]
        yr = Y + <Py_ssize_t>Aj[p] * k + c0
        for c in range(w):
            yr[c] = yr[c] + a * xl[c]


cdef void _matvecs_t_block(const index_t* Ap, const index_t* Aj, const value_t* Ax,
                           const value_t* X, value_t* Y, Py_ssize_t k,
                           Py_ssize_t r0, Py_ssize_t r1,
                           Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """Y[:, c0:c1] += A[r0:r1].T @ X[r0:r1, c0:c1]; X and Y have row length k."""
    # The columns of X's row go in blocks, _SPMM_WIDE, then _SPMM_BLOCK, then the rest, each
    # by one sweep over the row's entries; every output is summed in storage order. The
    # first sweep of a row prefetches the row of Y that the entry PREFETCH_AHEAD on updates
    # (a scatter in column order, which the hardware prefetchers cannot follow: 16 columns,
    # 10 random entries per row, n = 10⁵, one thread 33-38 -> 9-11 ms), and every row the
    # values and indices ROW_AHEAD entries on.
    cdef Py_ssize_t i, b, w, pf
    cdef Py_ssize_t nnz = Ap[r1], ahead = Ap[r1] - PREFETCH_AHEAD
    cdef Py_ssize_t row_bytes = min((c1 - c0) * <Py_ssize_t>sizeof(value_t), PREFETCH_BYTES)
    cdef const value_t* xr
    for i in range(r0, r1):
        prefetch_row(Ax, sizeof(value_t), Ap[i], Ap[i + 1], nnz)
        prefetch_row(Aj, sizeof(index_t), Ap[i], Ap[i + 1], nnz)
        xr = X + i * k
        b = c0
        pf = ahead
        while b + _SPMM_WIDE <= c1:
            _t_row_cols(Aj, Ax, xr, Y, k, b, _SPMM_WIDE, Ap[i], Ap[i + 1], pf, row_bytes)
            b = b + _SPMM_WIDE
            pf = 0
        if b + _SPMM_BLOCK <= c1:
            _t_row_cols(Aj, Ax, xr, Y, k, b, _SPMM_BLOCK, Ap[i], Ap[i + 1], pf, row_bytes)
            b = b + _SPMM_BLOCK
            pf = 0
        w = c1 - b
        if w == 0:
            continue
        elif w == 1:
            _t_row_cols(Aj, Ax, xr, Y, k, b, 1, Ap[i], Ap[i + 1], pf, row_bytes)
        elif w == 2:
            _t_row_cols(Aj, Ax, xr, Y, k, b, 2, Ap[i], Ap[i + 1], pf, row_bytes)
        elif w == 3:
            _t_row_cols(Aj, Ax, xr, Y, k, b, 3, Ap[i], Ap[i + 1], pf, row_bytes)
        elif w == 4:
            _t_row_cols(Aj, Ax, xr, Y, k, b, 4, Ap[i], Ap[i + 1], pf, row_bytes)
        elif w == 5:
            _t_row_cols(Aj, Ax, xr, Y, k, b, 5, Ap[i], Ap[i + 1], pf, row_bytes)
        elif w == 6:
            _t_row_cols(Aj, Ax, xr, Y, k, b, 6, Ap[i], Ap[i + 1], pf, row_bytes)
        else:
            _t_row_cols(Aj, Ax, xr, Y, k, b, 7, Ap[i], Ap[i + 1], pf, row_bytes)


cdef void _zero_cols(value_t* Y, Py_ssize_t n, Py_ssize_t k,
                     Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    cdef Py_ssize_t j
    if c1 > c0:
        for j in range(n):
            memset(Y + j * k + c0, 0, (c1 - c0) * sizeof(value_t))


def csr_matvecs_transpose(const index_t[::1] indptr, const index_t[::1] indices,
                          const value_t[::1] data, const value_t[:, ::1] X, value_t[:, ::1] Y):
    """Fill ``Y = A.T @ X`` for a CSR matrix ``A`` and a dense C-ordered ``X`` (no conjugation).

    Parameters
    ----------
    indptr, indices, data : ndarray
        The CSR arrays of ``A`` (``n_row x n_col``).
    X : ndarray, shape (n_row, k), C-contiguous
        Dense operand.
    Y : ndarray, shape (n_col, k), C-contiguous
        Output, overwritten (the kernel zeroes it): ``Y[indices[p]] += data[p] * X[i]``.

    Notes
    -----
    Preconditions: every column index is in ``[0, Y.shape[0])``.

    Serially the entries are added in storage order (bitwise the same as SciPy). In parallel,
    when ``k >= nthreads`` each thread owns a block of the ``k`` columns of ``Y`` (same result
    as serial); otherwise, when ``n_col * (nthreads - 1) <= nnz``, threads scatter their rows
    into private copies of ``Y`` summed afterwards in thread order (deterministic for a given
    thread count, last bits may differ from serial); otherwise it runs serially.
    """
    cdef Py_ssize_t n_row = _n_row(indptr.shape[0])
    cdef Py_ssize_t n_col = Y.shape[0], k = X.shape[1]
    cdef Py_ssize_t nnz, nparts, t, j, u, size
    cdef const index_t* Ap = &indptr[0]
    cdef const index_t* Aj = &indices[0] if indices.shape[0] > 0 else NULL
    cdef const value_t* Ax = &data[0] if data.shape[0] > 0 else NULL
    cdef const value_t* Xp = &X[0, 0] if X.shape[0] > 0 and X.shape[1] > 0 else NULL
    cdef value_t* Yp = &Y[0, 0] if Y.shape[0] > 0 and Y.shape[1] > 0 else NULL
    cdef value_t* buf = NULL
    cdef value_t* target
    cdef value_t s
    _check_len("X.shape[0]", X.shape[0], n_row)
    _check_len("Y.shape[1]", Y.shape[1], k)
    nnz = Ap[n_row]
    _check_min_len("indices", indices.shape[0], nnz)
    _check_min_len("data", data.shape[0], nnz)
    if k == 0 or n_col == 0:
        return
    if k == 1:  # a vector: the SpMV-transpose loops
        csr_matvec_transpose(indptr, indices, data, X[:, 0], Y[:, 0])
        return
    nparts = _num_parts(nnz * k)
    if nparts == 1 or (k < nparts and n_col * (nparts - 1) > nnz):
        with nogil:
            _zero_cols(Yp, n_col, k, 0, k)
            _matvecs_t_block(Ap, Aj, Ax, Xp, Yp, k, 0, n_row, 0, k)
        return
    if k >= nparts:
        with nogil:
            for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
                _zero_cols(Yp, n_col, k, _even(k, t, nparts), _even(k, t + 1, nparts))
                _matvecs_t_block(Ap, Aj, Ax, Xp, Yp, k, 0, n_row,
                                 _even(k, t, nparts), _even(k, t + 1, nparts))
        return
    size = n_col * k
    buf = <value_t*>_scratch((nparts - 1) * size, sizeof(value_t))
    with nogil:
        for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
            target = Yp if t == 0 else buf + (t - 1) * size
            memset(target, 0, size * sizeof(value_t))
            _matvecs_t_block(Ap, Aj, Ax, Xp, target, k,
                             _split(Ap, n_row, t, nparts), _split(Ap, n_row, t + 1, nparts),
                             0, k)
        for j in prange(size, schedule='static', num_threads=nparts):
            s = Yp[j]
            for u in range(nparts - 1):
                s = s + buf[u * size + j]
            Yp[j] = s
    free(buf)


# ------------------------------------------------------------------------------------------------
# counting sorts: transpose and COO -> CSR
#
# Serial: counts go to out_indptr[key + 1], an exclusive scan turns them into the start of
# each output row, and the scatter advances them to the row ends, which is exactly the final
# indptr. Parallel (P parts): each part counts its keys into a private histogram
# cnt[t * n_keys : (t + 1) * n_keys]; the scan turns cnt[t][key] into the first output slot of
# part t in row key (parts in order, which keeps the sort stable); each part then scatters.
# The histograms cost P * n_keys index entries, so the parallel path is taken only when that is
# at most the number of entries.

cdef void _count_cols(const index_t* Ap, const index_t* Aj, Py_ssize_t r0, Py_ssize_t r1,
                      index_t* cnt, Py_ssize_t n_keys) noexcept nogil:
    cdef Py_ssize_t p
    if n_keys > 0:
        memset(cnt, 0, n_keys * sizeof(index_t))
    for p in range(Ap[r0], Ap[r1]):
        cnt[Aj[p]] += 1


cdef void _count_keys(const index_t* keys, Py_ssize_t p0, Py_ssize_t p1,
                      index_t* cnt, Py_ssize_t n_keys) noexcept nogil:
    cdef Py_ssize_t p, ahead = p1 - PREFETCH_AHEAD
    if n_keys > 0:
        memset(cnt, 0, n_keys * sizeof(index_t))
    for p in range(p0, p1):
        if p < ahead:
            prefetch(cnt + keys[p + PREFETCH_AHEAD])
        cnt[keys[p]] += 1


cdef void _exclusive_scan(index_t* cnt, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    cdef index_t running = 0, c
    for j in range(n):
        c = cnt[j]
        cnt[j] = running
        running = running + c


cdef void _scan_part_counts(index_t* cnt, Py_ssize_t nparts, Py_ssize_t n_keys,
                            index_t* out_indptr, int64_t* blocksum) noexcept nogil:
    """Turn the P histograms into scatter cursors and fill out_indptr (parallel over keys)."""
    cdef Py_ssize_t b, j, u
    cdef int64_t s, running
    cdef index_t cur, c
    for b in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
        s = 0
        for j in range(_even(n_keys, b, nparts), _even(n_keys, b + 1, nparts)):
            for u in range(nparts):
                s = s + cnt[u * n_keys + j]
        blocksum[b] = s
    running = 0
    for b in range(nparts):
        s = blocksum[b]
        blocksum[b] = running
        running = running + s
    out_indptr[n_keys] = <index_t>running
    for b in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
        cur = <index_t>blocksum[b]
        for j in range(_even(n_keys, b, nparts), _even(n_keys, b + 1, nparts)):
            out_indptr[j] = cur
            for u in range(nparts):
                c = cnt[u * n_keys + j]
                cnt[u * n_keys + j] = cur
                cur = cur + c


cdef void _transpose_scatter(const index_t* Ap, const index_t* Aj, const value_t* Ax,
                             Py_ssize_t r0, Py_ssize_t r1, index_t* cursor,
                             index_t* Bj, value_t* Bx) noexcept nogil:
    # the output slots of the entry PREFETCH_AHEAD on are prefetched (see _coo_scatter)
    cdef Py_ssize_t i, p, q, ahead = Ap[r1] - PREFETCH_AHEAD
    cdef index_t dest
    for i in range(r0, r1):
        for p in range(Ap[i], Ap[i + 1]):
            if p < ahead:
                q = cursor[Aj[p + PREFETCH_AHEAD]]
                prefetch(Bj + q)
                prefetch(Bx + q)
            dest = cursor[Aj[p]]
            cursor[Aj[p]] = dest + 1
            Bj[dest] = <index_t>i
            Bx[dest] = Ax[p]


cdef void _transpose_scatter_perm(const index_t* Ap, const index_t* Aj,
                                  Py_ssize_t r0, Py_ssize_t r1, index_t* cursor,
                                  index_t* Bj, index_t* perm) noexcept nogil:
    cdef Py_ssize_t i, p, q, ahead = Ap[r1] - PREFETCH_AHEAD
    cdef index_t dest
    for i in range(r0, r1):
        for p in range(Ap[i], Ap[i + 1]):
            if p < ahead:
                q = cursor[Aj[p + PREFETCH_AHEAD]]
                prefetch(Bj + q)
                prefetch(perm + q)
            dest = cursor[Aj[p]]
            cursor[Aj[p]] = dest + 1
            Bj[dest] = <index_t>i
            perm[dest] = <index_t>p


cdef Py_ssize_t _sort_parts(Py_ssize_t nnz, Py_ssize_t n_keys) except -1:
    cdef Py_ssize_t nparts = _num_parts(nnz)
    if nparts > 1 and n_keys * nparts > nnz:
        return 1
    return nparts


cdef int _transpose_impl(Py_ssize_t n_col, const index_t[::1] indptr,
                         const index_t[::1] indices, const value_t* Ax,
                         index_t[::1] out_indptr, index_t[::1] out_indices,
                         value_t* Bx, index_t* perm) except -1:
    """Shared body of csr_transpose (Bx != NULL) and csr_transpose_pattern (perm != NULL)."""
    cdef Py_ssize_t n_row = _n_row(indptr.shape[0])
    cdef Py_ssize_t nnz, nparts, t
    cdef const index_t* Ap = &indptr[0]
    cdef const index_t* Aj = &indices[0] if indices.shape[0] > 0 else NULL
    cdef index_t* Bp
    cdef index_t* Bj = &out_indices[0] if out_indices.shape[0] > 0 else NULL
    cdef index_t* cnt = NULL
    cdef int64_t* blocksum = NULL
    _check_len("out_indptr", out_indptr.shape[0], n_col + 1)
    Bp = &out_indptr[0]
    nnz = Ap[n_row]
    _check_min_len("indices", indices.shape[0], nnz)
    _check_min_len("out_indices", out_indices.shape[0], nnz)
    nparts = _sort_parts(nnz, n_col)
    if nparts == 1:
        with nogil:
            Bp[0] = 0
            _count_cols(Ap, Aj, 0, n_row, Bp + 1, n_col)
            _exclusive_scan(Bp + 1, n_col)
            if Bx != NULL:
                _transpose_scatter(Ap, Aj, Ax, 0, n_row, Bp + 1, Bj, Bx)
            elif perm != NULL:
                _transpose_scatter_perm(Ap, Aj, 0, n_row, Bp + 1, Bj, perm)
        return 0
    cnt = <index_t*>_scratch(nparts * n_col, sizeof(index_t))
    blocksum = <int64_t*>malloc(nparts * sizeof(int64_t))
    if blocksum == NULL:
        free(cnt)
        raise MemoryError()
    with nogil:
        for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
            _count_cols(Ap, Aj, _split(Ap, n_row, t, nparts), _split(Ap, n_row, t + 1, nparts),
                        cnt + t * n_col, n_col)
        _scan_part_counts(cnt, nparts, n_col, Bp, blocksum)
        for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
            if Bx != NULL:
                _transpose_scatter(Ap, Aj, Ax,
                                   _split(Ap, n_row, t, nparts), _split(Ap, n_row, t + 1, nparts),
                                   cnt + t * n_col, Bj, Bx)
            elif perm != NULL:
                _transpose_scatter_perm(Ap, Aj,
                                        _split(Ap, n_row, t, nparts),
                                        _split(Ap, n_row, t + 1, nparts),
                                        cnt + t * n_col, Bj, perm)
    free(blocksum)
    free(cnt)
    return 0


def csr_transpose(Py_ssize_t n_col, const index_t[::1] indptr, const index_t[::1] indices,
                  const value_t[::1] data, index_t[::1] out_indptr, index_t[::1] out_indices,
                  value_t[::1] out_data):
    """Fill the CSR arrays of ``A.T`` (the CSC arrays of ``A``) by a stable counting sort.

    Parameters
    ----------
    n_col : int
        Number of columns of ``A`` (rows of the output).
    indptr, indices, data : ndarray
        The CSR arrays of ``A`` (``n_row x n_col``), ``nnz = indptr[-1]`` entries.
    out_indptr : ndarray, shape (n_col + 1,)
        Output, overwritten.
    out_indices, out_data : ndarray, shape (nnz,)
        Output, overwritten: row ``j`` of ``A.T`` lists the entries of column ``j`` of ``A``
        in increasing row order (entries of one row keep their storage order), so the output
        indices are always sorted; duplicates are kept.

    Notes
    -----
    Linear time; parallel (per-thread histograms) when ``n_col * nthreads <= nnz``.
    """
    cdef value_t* Bx = &out_data[0] if out_data.shape[0] > 0 else NULL
    cdef const value_t* Ax = &data[0] if data.shape[0] > 0 else NULL
    cdef Py_ssize_t nnz = indptr[indptr.shape[0] - 1] if indptr.shape[0] > 0 else 0
    _check_min_len("data", data.shape[0], nnz)
    _check_min_len("out_data", out_data.shape[0], nnz)
    if nnz == 0:
        Bx = NULL
    if Bx == NULL:
        # nothing to move; the pattern path fills indptr and (no) indices
        _transpose_impl(n_col, indptr, indices, Ax, out_indptr, out_indices,
                        <value_t*>NULL, <index_t*>NULL)
    else:
        _transpose_impl(n_col, indptr, indices, Ax, out_indptr, out_indices,
                        Bx, <index_t*>NULL)


def csr_transpose_pattern(Py_ssize_t n_col, const index_t[::1] indptr,
                          const index_t[::1] indices, index_t[::1] out_indptr,
                          index_t[::1] out_indices, index_t[::1] perm):
    """Fill the pattern of ``A.T`` and the map from output to input entries.

    Parameters
    ----------
    n_col : int
        Number of columns of ``A``.
    indptr, indices : ndarray
        The CSR pattern of ``A``, ``nnz = indptr[-1]`` entries.
    out_indptr : ndarray, shape (n_col + 1,)
        Output, overwritten.
    out_indices : ndarray, shape (nnz,)
        Output, overwritten, as in :func:`csr_transpose`.
    perm : ndarray, shape (nnz,)
        Output, overwritten: ``perm[q]`` is the input position of output entry ``q``, so
        ``out_data = data[perm]`` (e.g. ``np.take(data, perm)`` for any dtype).
    """
    cdef Py_ssize_t nnz = indptr[indptr.shape[0] - 1] if indptr.shape[0] > 0 else 0
    cdef index_t* pp = &perm[0] if perm.shape[0] > 0 else NULL
    _check_min_len("perm", perm.shape[0], nnz)
    # value_t is unused by the pattern path; any specialisation will do.
    _transpose_impl[index_t, double](n_col, indptr, indices, NULL, out_indptr, out_indices,
                                     NULL, pp)


cdef void _coo_scatter(const index_t* Ai, const index_t* Aj, const value_t* Ax,
                       Py_ssize_t p0, Py_ssize_t p1, index_t* cursor,
                       index_t* Bj, value_t* Bx) noexcept nogil:
    # keys in random order scatter every entry to a cache line of its own: the slots that
    # the entry PREFETCH_AHEAD positions on will write are prefetched (at their current
    # cursor: a hint, exact unless that row recurs in between)
    cdef Py_ssize_t p, q, ahead = p1 - PREFETCH_AHEAD
    cdef index_t dest
    for p in range(p0, p1):
        if p < ahead:
            q = cursor[Ai[p + PREFETCH_AHEAD]]
            prefetch(Bj + q)
            prefetch(Bx + q)
        dest = cursor[Ai[p]]
        cursor[Ai[p]] = dest + 1
        Bj[dest] = Aj[p]
        Bx[dest] = Ax[p]


cdef void _coo_scatter_perm(const index_t* Ai, const index_t* Aj,
                            Py_ssize_t p0, Py_ssize_t p1, index_t* cursor,
                            index_t* Bj, index_t* perm) noexcept nogil:
    cdef Py_ssize_t p
    cdef index_t dest
    for p in range(p0, p1):
        dest = cursor[Ai[p]]
        cursor[Ai[p]] = dest + 1
        Bj[dest] = Aj[p]
        perm[dest] = <index_t>p


cdef int _coo_tocsr_impl(Py_ssize_t n_row, const index_t[::1] row, const index_t[::1] col,
                         const value_t* Ax, index_t[::1] out_indptr, index_t[::1] out_indices,
                         value_t* Bx, index_t* perm) except -1:
    """Shared body of coo_tocsr (Bx != NULL) and coo_tocsr_pattern (perm != NULL)."""
    cdef Py_ssize_t nnz = row.shape[0]
    cdef Py_ssize_t nparts, t
    cdef const index_t* Ai = &row[0] if nnz > 0 else NULL
    cdef const index_t* Aj = &col[0] if col.shape[0] > 0 else NULL
    cdef index_t* Bp
    cdef index_t* Bj = &out_indices[0] if out_indices.shape[0] > 0 else NULL
    cdef index_t* cnt = NULL
    cdef int64_t* blocksum = NULL
    _check_len("col", col.shape[0], nnz)
    _check_len("out_indptr", out_indptr.shape[0], n_row + 1)
    _check_min_len("out_indices", out_indices.shape[0], nnz)
    Bp = &out_indptr[0]
    nparts = _sort_parts(nnz, n_row)
    if nparts == 1:
        with nogil:
            Bp[0] = 0
            _count_keys(Ai, 0, nnz, Bp + 1, n_row)
            _exclusive_scan(Bp + 1, n_row)
            if Bx != NULL:
                _coo_scatter(Ai, Aj, Ax, 0, nnz, Bp + 1, Bj, Bx)
            elif perm != NULL:
                _coo_scatter_perm(Ai, Aj, 0, nnz, Bp + 1, Bj, perm)
        return 0
    cnt = <index_t*>_scratch(nparts * n_row, sizeof(index_t))
    blocksum = <int64_t*>malloc(nparts * sizeof(int64_t))
    if blocksum == NULL:
        free(cnt)
        raise MemoryError()
    with nogil:
        for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
            _count_keys(Ai, _even(nnz, t, nparts), _even(nnz, t + 1, nparts),
                        cnt + t * n_row, n_row)
        _scan_part_counts(cnt, nparts, n_row, Bp, blocksum)
        for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
            if Bx != NULL:
                _coo_scatter(Ai, Aj, Ax, _even(nnz, t, nparts), _even(nnz, t + 1, nparts),
                             cnt + t * n_row, Bj, Bx)
            elif perm != NULL:
                _coo_scatter_perm(Ai, Aj, _even(nnz, t, nparts), _even(nnz, t + 1, nparts),
                                  cnt + t * n_row, Bj, perm)
    free(blocksum)
    free(cnt)
    return 0


def coo_tocsr(Py_ssize_t n_row, const index_t[::1] row, const index_t[::1] col,
              const value_t[::1] data, index_t[::1] out_indptr, index_t[::1] out_indices,
              value_t[::1] out_data):
    """Fill CSR arrays from COO triplets by a stable counting sort on the row index.

    Parameters
    ----------
    n_row : int
        Number of rows.
    row, col, data : ndarray, shape (nnz,)
        COO triplets, any order; duplicates allowed.
    out_indptr : ndarray, shape (n_row + 1,)
        Output, overwritten.
    out_indices, out_data : ndarray, shape (nnz,)
        Output, overwritten. Entries of a row keep their input order; duplicates are kept,
        not summed (call :func:`csr_sort_indices` / :func:`csr_sum_duplicates` for that).

    Notes
    -----
    Preconditions: ``0 <= row < n_row``; ``nnz`` fits the index dtype. Linear time; parallel
    over entries (per-thread histograms) when ``n_row * nthreads <= nnz``.
    """
    cdef Py_ssize_t nnz = row.shape[0]
    cdef value_t* Bx = &out_data[0] if out_data.shape[0] > 0 else NULL
    cdef const value_t* Ax = &data[0] if data.shape[0] > 0 else NULL
    _check_len("data", data.shape[0], nnz)
    _check_min_len("out_data", out_data.shape[0], nnz)
    if nnz == 0:
        Bx = NULL
    _coo_tocsr_impl(n_row, row, col, Ax, out_indptr, out_indices, Bx, <index_t*>NULL)


def coo_tocsr_pattern(Py_ssize_t n_row, const index_t[::1] row, const index_t[::1] col,
                      index_t[::1] out_indptr, index_t[::1] out_indices, index_t[::1] perm):
    """Fill a CSR pattern from COO coordinates and the map from output to input entries.

    Parameters
    ----------
    n_row : int
        Number of rows.
    row, col : ndarray, shape (nnz,)
        COO coordinates.
    out_indptr : ndarray, shape (n_row + 1,)
        Output, overwritten.
    out_indices : ndarray, shape (nnz,)
        Output, overwritten, as in :func:`coo_tocsr`.
    perm : ndarray, shape (nnz,)
        Output, overwritten: ``perm[q]`` is the input position of output entry ``q``
        (``out_data = data[perm]``).
    """
    cdef Py_ssize_t nnz = row.shape[0]
    cdef index_t* pp = &perm[0] if perm.shape[0] > 0 else NULL
    _check_min_len("perm", perm.shape[0], nnz)
    _coo_tocsr_impl[index_t, double](n_row, row, col, NULL, out_indptr, out_indices, NULL, pp)


# ------------------------------------------------------------------------------------------------
# sorting the indices of each row

cdef inline void _insertion_sort(index_t* a, value_t* v, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef index_t key
    cdef value_t val
    for i in range(1, n):
        key = a[i]
        if a[i - 1] <= key:
            continue
        val = v[i]
        j = i - 1
        while j >= 0 and a[j] > key:
            a[j + 1] = a[j]
            v[j + 1] = v[j]
            j -= 1
        a[j + 1] = key
        v[j + 1] = val


cdef inline void _swap(index_t* a, value_t* v, Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    cdef index_t ta = a[i]
    cdef value_t tv = v[i]
    a[i] = a[j]
    v[i] = v[j]
    a[j] = ta
    v[j] = tv


cdef void _sift_down(index_t* a, value_t* v, Py_ssize_t root, Py_ssize_t n) noexcept nogil:
    cdef index_t key = a[root]
    cdef value_t val = v[root]
    cdef Py_ssize_t child
    while True:
        child = 2 * root + 1
        if child >= n:
            break
        if child + 1 < n and a[child + 1] > a[child]:
            child += 1
        if a[child] <= key:
            break
        a[root] = a[child]
        v[root] = v[child]
        root = child
    a[root] = key
    v[root] = val


cdef void _heapsort(index_t* a, value_t* v, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t start, end
    for start in range(n // 2 - 1, -1, -1):
        _sift_down(a, v, start, n)
    for end in range(n - 1, 0, -1):
        _swap(a, v, 0, end)
        _sift_down(a, v, 0, end)


cdef void _introsort_loop(index_t* a, value_t* v, Py_ssize_t lo, Py_ssize_t hi,
                          int depth) noexcept nogil:
    """Quicksort a[lo..hi] (inclusive) down to unsorted runs of <= _INSERTION_SORT_MAX items,
    switching to heapsort below ``depth`` levels; a final insertion sort finishes the job."""
    cdef Py_ssize_t mid, i, j
    cdef index_t pivot
    while hi - lo + 1 > _INSERTION_SORT_MAX:
        if depth <= 0:
            _heapsort(a + lo, v + lo, hi - lo + 1)
            return
        depth -= 1
        mid = lo + (hi - lo) // 2
        # median of three, leaving a[lo] <= a[mid] <= a[hi]
        if a[mid] < a[lo]:
            _swap(a, v, lo, mid)
        if a[hi] < a[lo]:
            _swap(a, v, lo, hi)
        if a[hi] < a[mid]:
            _swap(a, v, mid, hi)
        pivot = a[mid]
        # Hoare partition: afterwards a[lo..j] <= pivot <= a[j+1..hi] with lo <= j < hi
        i = lo - 1
        j = hi + 1
        while True:
            i += 1
            while a[i] < pivot:
                i += 1
            j -= 1
            while a[j] > pivot:
                j -= 1
            if i >= j:
                break
            _swap(a, v, i, j)
        # recurse into the smaller side, loop on the larger: O(log n) stack
        if j - lo < hi - j:
            _introsort_loop(a, v, lo, j, depth)
            lo = j + 1
        else:
            _introsort_loop(a, v, j + 1, hi, depth)
            hi = j


cdef void _sort_pairs(index_t* a, value_t* v, Py_ssize_t n, int depth) noexcept nogil:
    """Sort a[0:n] increasingly, applying the same moves to v[0:n]. Not stable."""
    if n <= 1:
        return
    if n > _INSERTION_SORT_MAX:
        _introsort_loop(a, v, 0, n - 1, depth)
    _insertion_sort(a, v, n)


cdef inline int _depth_limit(Py_ssize_t n) noexcept nogil:
    cdef int d = 0
    while n > 1:
        n >>= 1
        d += 1
    return 2 * d


cdef void _sort_rows(const index_t* Ap, index_t* Aj, value_t* Ax,
                     Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t i, n
    for i in range(r0, r1):
        n = Ap[i + 1] - Ap[i]
        _sort_pairs(Aj + Ap[i], Ax + Ap[i], n, _depth_limit(n))


cdef void _sort_rows_perm(const index_t* Ap, index_t* Aj, index_t* perm,
                          Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t i, n, p
    for i in range(r0, r1):
        for p in range(Ap[i], Ap[i + 1]):
            perm[p] = <index_t>p
        n = Ap[i + 1] - Ap[i]
        _sort_pairs(Aj + Ap[i], perm + Ap[i], n, _depth_limit(n))


def csr_sort_indices(const index_t[::1] indptr, index_t[::1] indices, value_t[::1] data):
    """Sort the column indices of every row in place, moving ``data`` along.

    Parameters
    ----------
    indptr : ndarray, shape (n_row + 1,)
        Row pointers (not modified).
    indices, data : ndarray
        Modified in place: within each row, ``indices`` become non-decreasing and ``data``
        follows. The order among equal indices (duplicates) is unspecified.

    Notes
    -----
    Insertion sort for rows of at most :data:`INSERTION_SORT_MAX` entries, introsort
    (quicksort, heapsort fallback; O(n log n) worst case, no scratch memory) for longer rows.
    Parallel over rows.
    """
    cdef Py_ssize_t n_row = _n_row(indptr.shape[0])
    cdef Py_ssize_t nnz, nparts, t
    cdef const index_t* Ap = &indptr[0]
    cdef index_t* Aj = &indices[0] if indices.shape[0] > 0 else NULL
    cdef value_t* Ax = &data[0] if data.shape[0] > 0 else NULL
    nnz = Ap[n_row]
    _check_min_len("indices", indices.shape[0], nnz)
    _check_min_len("data", data.shape[0], nnz)
    nparts = _num_parts(nnz)
    with nogil:
        if nparts == 1:
            _sort_rows(Ap, Aj, Ax, 0, n_row)
        else:
            for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
                _sort_rows(Ap, Aj, Ax,
                           _split(Ap, n_row, t, nparts), _split(Ap, n_row, t + 1, nparts))


def csr_sort_indices_pattern(const index_t[::1] indptr, index_t[::1] indices,
                             index_t[::1] perm):
    """Sort the column indices of every row in place and record the permutation.

    Parameters
    ----------
    indptr : ndarray, shape (n_row + 1,)
        Row pointers (not modified).
    indices : ndarray
        Modified in place, as in :func:`csr_sort_indices`.
    perm : ndarray, shape (nnz,)
        Output, overwritten: ``perm[new_pos] = old_pos``, so the sorted values are
        ``data[perm]``. It maps within rows only.
    """
    cdef Py_ssize_t n_row = _n_row(indptr.shape[0])
    cdef Py_ssize_t nnz, nparts, t
    cdef const index_t* Ap = &indptr[0]
    cdef index_t* Aj = &indices[0] if indices.shape[0] > 0 else NULL
    cdef index_t* pp = &perm[0] if perm.shape[0] > 0 else NULL
    nnz = Ap[n_row]
    _check_min_len("indices", indices.shape[0], nnz)
    _check_min_len("perm", perm.shape[0], nnz)
    nparts = _num_parts(nnz)
    with nogil:
        if nparts == 1:
            _sort_rows_perm(Ap, Aj, pp, 0, n_row)
        else:
            for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
                _sort_rows_perm(Ap, Aj, pp,
                                _split(Ap, n_row, t, nparts), _split(Ap, n_row, t + 1, nparts))


def _sort_pairs_for_testing(index_t[::1] keys, value_t[::1] values, int depth):
    """Test hook: sort ``keys`` in place moving ``values`` with introsort limited to ``depth``
    quicksort levels (``depth=0`` exercises the heapsort fallback)."""
    _check_len("values", values.shape[0], keys.shape[0])
    if keys.shape[0] > 0:
        _sort_pairs(&keys[0], &values[0], keys.shape[0], depth)


cdef bint _rows_ordered(const index_t* Ap, const index_t* Aj, Py_ssize_t n_row,
                        bint strict) noexcept nogil:
    cdef Py_ssize_t i, p
    for i in range(n_row):
        for p in range(Ap[i] + 1, Ap[i + 1]):
            if Aj[p] < Aj[p - 1] or (strict and Aj[p] == Aj[p - 1]):
                return False
    return True


def csr_has_sorted_indices(const index_t[::1] indptr, const index_t[::1] indices):
    """Return True when the column indices are non-decreasing within every row.

    Parameters
    ----------
    indptr, indices : ndarray
        The CSR pattern. Serial, stops at the first unsorted pair.
    """
    cdef Py_ssize_t n_row = _n_row(indptr.shape[0])
    cdef const index_t* Ap = &indptr[0]
    cdef const index_t* Aj = &indices[0] if indices.shape[0] > 0 else NULL
    cdef bint ok
    _check_min_len("indices", indices.shape[0], Ap[n_row])
    with nogil:
        ok = _rows_ordered(Ap, Aj, n_row, False)
    return ok


def csr_has_canonical_format(const index_t[::1] indptr, const index_t[::1] indices):
    """Return True when the column indices are strictly increasing within every row
    (sorted and free of duplicates).

    Parameters
    ----------
    indptr, indices : ndarray
        The CSR pattern. Serial, stops at the first offending pair.
    """
    cdef Py_ssize_t n_row = _n_row(indptr.shape[0])
    cdef const index_t* Ap = &indptr[0]
    cdef const index_t* Aj = &indices[0] if indices.shape[0] > 0 else NULL
    cdef bint ok
    _check_min_len("indices", indices.shape[0], Ap[n_row])
    with nogil:
        ok = _rows_ordered(Ap, Aj, n_row, True)
    return ok


# ------------------------------------------------------------------------------------------------
# in-place compaction

def csr_sum_duplicates(index_t[::1] indptr, index_t[::1] indices, value_t[::1] data):
    """Sum runs of equal column indices within each row, compacting the arrays in place.

    Parameters
    ----------
    indptr : ndarray, shape (n_row + 1,)
        Rewritten in place to the compacted row pointers.
    indices, data : ndarray
        Compacted in place; only the first ``new_nnz`` entries are meaningful afterwards.
        A run's values are summed in storage order (bitwise the same as SciPy); explicit
        zeros, including sums that cancel to zero, are kept.

    Returns
    -------
    new_nnz : int

    Notes
    -----
    Precondition: indices are sorted within rows (only *consecutive* equal indices are
    combined). Serial.
    """
    cdef Py_ssize_t n_row = _n_row(indptr.shape[0])
    cdef Py_ssize_t i, p, end, start, n = 0
    cdef index_t j
    cdef value_t s
    cdef index_t* Ap = &indptr[0]
    cdef index_t* Aj = &indices[0] if indices.shape[0] > 0 else NULL
    cdef value_t* Ax = &data[0] if data.shape[0] > 0 else NULL
    _check_min_len("indices", indices.shape[0], Ap[n_row])
    _check_min_len("data", data.shape[0], Ap[n_row])
    with nogil:
        start = Ap[0]
        Ap[0] = 0
        for i in range(n_row):
            end = Ap[i + 1]
            p = start
            while p < end:
                j = Aj[p]
                s = Ax[p]
                p += 1
                while p < end and Aj[p] == j:
                    s = s + Ax[p]
                    p += 1
                Aj[n] = j
                Ax[n] = s
                n += 1
            Ap[i + 1] = <index_t>n
            start = end
    return n


def csr_sum_duplicates_pattern(const index_t[::1] indptr, const index_t[::1] indices,
                               index_t[::1] out_indptr, index_t[::1] out_indices,
                               index_t[::1] segment):
    """Pattern of :func:`csr_sum_duplicates` and the map from input to output entries.

    Parameters
    ----------
    indptr, indices : ndarray
        The CSR pattern (``nnz = indptr[-1]``), indices sorted within rows. Not modified.
    out_indptr : ndarray, shape (n_row + 1,)
        Output, overwritten with the compacted row pointers.
    out_indices : ndarray, shape (nnz,)
        Output; its first ``new_nnz`` entries receive the compacted indices.
    segment : ndarray, shape (nnz,)
        Output, overwritten: ``segment[p]`` is the output position input entry ``p`` is summed
        into (non-decreasing), so the values are ``np.bincount``/``np.add.at`` of ``data``
        over ``segment``.

    Returns
    -------
    new_nnz : int
    """
    cdef Py_ssize_t n_row = _n_row(indptr.shape[0])
    cdef Py_ssize_t i, p, end, nnz, n = 0
    cdef index_t j
    cdef const index_t* Ap = &indptr[0]
    cdef const index_t* Aj = &indices[0] if indices.shape[0] > 0 else NULL
    cdef index_t* Bp
    cdef index_t* Bj = &out_indices[0] if out_indices.shape[0] > 0 else NULL
    cdef index_t* seg = &segment[0] if segment.shape[0] > 0 else NULL
    nnz = Ap[n_row] - Ap[0]
    _check_min_len("indices", indices.shape[0], Ap[n_row])
    _check_len("out_indptr", out_indptr.shape[0], n_row + 1)
    _check_min_len("out_indices", out_indices.shape[0], nnz)
    _check_min_len("segment", segment.shape[0], nnz)
    Bp = &out_indptr[0]
    with nogil:
        Bp[0] = 0
        for i in range(n_row):
            end = Ap[i + 1]
            p = Ap[i]
            while p < end:
                j = Aj[p]
                Bj[n] = j
                seg[p - Ap[0]] = <index_t>n
                p += 1
                while p < end and Aj[p] == j:
                    seg[p - Ap[0]] = <index_t>n
                    p += 1
                n += 1
            Bp[i + 1] = <index_t>n
    return n


def csr_eliminate_zeros(index_t[::1] indptr, index_t[::1] indices, value_t[::1] data):
    """Remove the stored entries whose value equals zero, compacting the arrays in place.

    Parameters
    ----------
    indptr : ndarray, shape (n_row + 1,)
        Rewritten in place to the compacted row pointers.
    indices, data : ndarray
        Compacted in place (relative order kept); only the first ``new_nnz`` entries are
        meaningful afterwards. ``-0.0`` counts as zero, NaN does not.

    Returns
    -------
    new_nnz : int

    Notes
    -----
    Serial.
    """
    cdef Py_ssize_t n_row = _n_row(indptr.shape[0])
    cdef Py_ssize_t i, p, end, start, n = 0
    cdef index_t* Ap = &indptr[0]
    cdef index_t* Aj = &indices[0] if indices.shape[0] > 0 else NULL
    cdef value_t* Ax = &data[0] if data.shape[0] > 0 else NULL
    _check_min_len("indices", indices.shape[0], Ap[n_row])
    _check_min_len("data", data.shape[0], Ap[n_row])
    with nogil:
        start = Ap[0]
        Ap[0] = 0
        for i in range(n_row):
            end = Ap[i + 1]
            for p in range(start, end):
                if Ax[p] != 0:
                    Aj[n] = Aj[p]
                    Ax[n] = Ax[p]
                    n += 1
            Ap[i + 1] = <index_t>n
            start = end
    return n


# ------------------------------------------------------------------------------------------------
# sparse x sparse product (SpGEMM), symbolic then numeric

cdef void _matmat_nnz_rows(const index_t* Ap, const index_t* Aj, const index_t* Bp,
                           const index_t* Bj, int64_t* mark, int64_t* Cp,
                           Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t i, p, q
    cdef index_t a, j
    cdef int64_t count
    for i in range(r0, r1):
        count = 0
        for p in range(Ap[i], Ap[i + 1]):
            a = Aj[p]
            for q in range(Bp[a], Bp[a + 1]):
                j = Bj[q]
                if mark[j] != i:
                    mark[j] = i
                    count += 1
        Cp[i + 1] = count


def csr_matmat_row_nnz(Py_ssize_t n_col, const index_t[::1] Ap, const index_t[::1] Aj,
                       const index_t[::1] Bp, const index_t[::1] Bj, int64_t[::1] Cp):
    """Symbolic SpGEMM: fill the row pointers of ``C = A @ B``.

    Parameters
    ----------
    n_col : int
        Number of columns of ``B`` (and of ``C``).
    Ap, Aj : ndarray
        CSR pattern of ``A`` (``n_row x n_inner``).
    Bp, Bj : ndarray
        CSR pattern of ``B`` (``n_inner x n_col``).
    Cp : ndarray of int64, shape (n_row + 1,)
        Output, overwritten: ``Cp[0] = 0`` and ``Cp[i + 1] - Cp[i]`` is the number of distinct
        columns in row ``i`` of ``C`` (structural: products that cancel still count).

    Returns
    -------
    nnz : int
        ``Cp[n_row]``, the structural number of entries of ``C``; pick the index dtype of
        ``C`` from it.

    Notes
    -----
    Preconditions: ``0 <= Aj < len(Bp) - 1``, ``0 <= Bj < n_col``. Duplicates and unsorted
    indices are fine. Parallel over rows with a per-thread int64 marker of length ``n_col``.
    """
    cdef Py_ssize_t n_row = _n_row(Ap.shape[0])
    cdef Py_ssize_t nparts, t, i
    cdef const index_t* ap = &Ap[0]
    cdef const index_t* aj = &Aj[0] if Aj.shape[0] > 0 else NULL
    cdef const index_t* bp
    cdef const index_t* bj = &Bj[0] if Bj.shape[0] > 0 else NULL
    cdef int64_t* cp
    cdef int64_t* mark
    _n_row(Bp.shape[0])
    bp = &Bp[0]
    _check_len("Cp", Cp.shape[0], n_row + 1)
    _check_min_len("Aj", Aj.shape[0], ap[n_row])
    _check_min_len("Bj", Bj.shape[0], bp[Bp.shape[0] - 1])
    cp = &Cp[0]
    nparts = _num_parts(ap[n_row])
    mark = <int64_t*>_scratch(nparts * n_col, sizeof(int64_t))
    with nogil:
        cp[0] = 0
        if nparts == 1:
            for i in range(n_col):
                mark[i] = -1
            _matmat_nnz_rows(ap, aj, bp, bj, mark, cp, 0, n_row)
        else:
            for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
                for i in range(t * n_col, (t + 1) * n_col):
                    mark[i] = -1
                _matmat_nnz_rows(ap, aj, bp, bj, mark + t * n_col, cp,
                                 _split(ap, n_row, t, nparts), _split(ap, n_row, t + 1, nparts))
        for i in range(n_row):
            cp[i + 1] += cp[i]
    free(mark)
    return cp[n_row]


cdef Py_ssize_t _matmat_rows(const index_t* Ap, const index_t* Aj, const value_t* Ax,
                             const index_t* Bp, const index_t* Bj, const value_t* Bx,
                             const index_t* Cp, index_t* Cj, value_t* Cx, index_t* pos,
                             Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    """Numeric SpGEMM for rows r0..r1; returns how many stored results are exactly zero.

    pos[j] is the output slot of column j in the row being built. Slots only grow as a thread
    moves down its rows, so pos[j] < Cp[i] means column j has not appeared yet in row i, and
    no reset between rows is needed.
    """
    cdef Py_ssize_t i, p, q, start, nxt, s, zeros = 0
    cdef index_t a, j
    cdef value_t v
    for i in range(r0, r1):
        start = Cp[i]
        nxt = start
        for p in range(Ap[i], Ap[i + 1]):
            a = Aj[p]
            v = Ax[p]
            for q in range(Bp[a], Bp[a + 1]):
                j = Bj[q]
                s = pos[j]
                if s < start:
                    pos[j] = <index_t>nxt
                    Cj[nxt] = j
                    Cx[nxt] = v * Bx[q]
                    nxt += 1
                else:
                    Cx[s] = Cx[s] + v * Bx[q]
        for s in range(start, nxt):
            if Cx[s] == 0:
                zeros += 1
    return zeros


def csr_matmat(Py_ssize_t n_col, const index_t[::1] Ap, const index_t[::1] Aj,
               const value_t[::1] Ax, const index_t[::1] Bp, const index_t[::1] Bj,
               const value_t[::1] Bx, const index_t[::1] Cp, index_t[::1] Cj,
               value_t[::1] Cx):
    """Numeric SpGEMM: fill the columns and values of ``C = A @ B``.

    Parameters
    ----------
    n_col : int
        Number of columns of ``B`` (and of ``C``).
    Ap, Aj, Ax : ndarray
        CSR arrays of ``A``.
    Bp, Bj, Bx : ndarray
        CSR arrays of ``B``.
    Cp : ndarray, shape (n_row + 1,)
        Row pointers from :func:`csr_matmat_row_nnz` for the same ``A`` and ``B``, cast to the
        index dtype.
    Cj, Cx : ndarray, shape (Cp[-1],)
        Output, overwritten. Each row lists its columns in order of first appearance
        (**unsorted**); each value is the sum of its products ``Ax[p] * Bx[q]`` in the order
        they occur (A's row in storage order, then B's rows in storage order), the same order
        as SciPy. Products that cancel are stored as zeros.

    Returns
    -------
    n_zeros : int
        Number of stored values exactly equal to zero (SciPy drops them: call
        :func:`csr_eliminate_zeros` when this is positive).

    Notes
    -----
    Preconditions as in :func:`csr_matmat_row_nnz`, and ``Cp`` must be its result (this is
    what keeps the writes in bounds). Parallel over rows, each thread with a length-``n_col``
    slot map.
    """
    cdef Py_ssize_t n_row = _n_row(Ap.shape[0])
    cdef Py_ssize_t nparts, t, i, zeros = 0
    cdef const index_t* ap = &Ap[0]
    cdef const index_t* aj = &Aj[0] if Aj.shape[0] > 0 else NULL
    cdef const value_t* ax = &Ax[0] if Ax.shape[0] > 0 else NULL
    cdef const index_t* bp
    cdef const index_t* bj = &Bj[0] if Bj.shape[0] > 0 else NULL
    cdef const value_t* bx = &Bx[0] if Bx.shape[0] > 0 else NULL
    cdef const index_t* cp
    cdef index_t* cj = &Cj[0] if Cj.shape[0] > 0 else NULL
    cdef value_t* cx = &Cx[0] if Cx.shape[0] > 0 else NULL
    cdef index_t* pos
    cdef Py_ssize_t* part_zeros
    _n_row(Bp.shape[0])
    bp = &Bp[0]
    _check_len("Cp", Cp.shape[0], n_row + 1)
    cp = &Cp[0]
    _check_min_len("Aj", Aj.shape[0], ap[n_row])
    _check_min_len("Ax", Ax.shape[0], ap[n_row])
    _check_min_len("Bj", Bj.shape[0], bp[Bp.shape[0] - 1])
    _check_min_len("Bx", Bx.shape[0], bp[Bp.shape[0] - 1])
    _check_min_len("Cj", Cj.shape[0], cp[n_row])
    _check_min_len("Cx", Cx.shape[0], cp[n_row])
    nparts = _num_parts(ap[n_row])
    pos = <index_t*>_scratch(nparts * n_col, sizeof(index_t))
    part_zeros = <Py_ssize_t*>malloc(nparts * sizeof(Py_ssize_t))
    if part_zeros == NULL:
        free(pos)
        raise MemoryError()
    with nogil:
        if nparts == 1:
            for i in range(n_col):
                pos[i] = -1
            zeros = _matmat_rows(ap, aj, ax, bp, bj, bx, cp, cj, cx, pos, 0, n_row)
        else:
            for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
                for i in range(t * n_col, (t + 1) * n_col):
                    pos[i] = -1
                part_zeros[t] = _matmat_rows(ap, aj, ax, bp, bj, bx, cp, cj, cx,
                                             pos + t * n_col,
                                             _split(cp, n_row, t, nparts),
                                             _split(cp, n_row, t + 1, nparts))
            for t in range(nparts):
                zeros = zeros + part_zeros[t]
    free(part_zeros)
    free(pos)
    return zeros


# ------------------------------------------------------------------------------------------------
# dense output, diagonal, row expansion

cdef void _csr_todense_rows(const index_t* Ap, const index_t* Aj, const value_t* Ax,
                            char* out, Py_ssize_t s0, Py_ssize_t s1,
                            Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t i, p
    cdef value_t* dst
    for i in range(r0, r1):
        for p in range(Ap[i], Ap[i + 1]):
            dst = <value_t*>(out + i * s0 + <Py_ssize_t>Aj[p] * s1)
            dst[0] = dst[0] + Ax[p]


def csr_todense(const index_t[::1] indptr, const index_t[::1] indices,
                const value_t[::1] data, value_t[:, :] out):
    """Add the entries of a CSR matrix into a dense array: ``out[i, indices[p]] += data[p]``.

    Parameters
    ----------
    indptr, indices, data : ndarray
        The CSR arrays (``n_row x n_col``); duplicates are summed.
    out : ndarray, shape (n_row, n_col), any strides
        Accumulated into (Python zeroes it first); C- or F-ordered or any strided view.

    Notes
    -----
    Preconditions: column indices in ``[0, out.shape[1])``. Parallel over rows.
    """
    cdef Py_ssize_t n_row = _n_row(indptr.shape[0])
    cdef Py_ssize_t nnz, nparts, t
    cdef const index_t* Ap = &indptr[0]
    cdef const index_t* Aj = &indices[0] if indices.shape[0] > 0 else NULL
    cdef const value_t* Ax = &data[0] if data.shape[0] > 0 else NULL
    cdef char* op
    cdef Py_ssize_t s0 = out.strides[0], s1 = out.strides[1]
    _check_len("out.shape[0]", out.shape[0], n_row)
    nnz = Ap[n_row]
    _check_min_len("indices", indices.shape[0], nnz)
    _check_min_len("data", data.shape[0], nnz)
    if nnz == 0 or out.shape[1] == 0:
        return
    op = <char*>&out[0, 0]
    nparts = _num_parts(nnz)
    with nogil:
        if nparts == 1:
            _csr_todense_rows(Ap, Aj, Ax, op, s0, s1, 0, n_row)
        else:
            for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
                _csr_todense_rows(Ap, Aj, Ax, op, s0, s1,
                                  _split(Ap, n_row, t, nparts), _split(Ap, n_row, t + 1, nparts))


def coo_todense(const index_t[::1] row, const index_t[::1] col, const value_t[::1] data,
                value_t[:, :] out):
    """Add COO triplets into a dense array: ``out[row[p], col[p]] += data[p]``.

    Parameters
    ----------
    row, col, data : ndarray, shape (nnz,)
        COO triplets, any order; duplicates are summed in input order.
    out : ndarray, shape (n_row, n_col), any strides
        Accumulated into (Python zeroes it first).

    Notes
    -----
    Preconditions: ``0 <= row < out.shape[0]``, ``0 <= col < out.shape[1]``. Serial.
    """
    cdef Py_ssize_t nnz = row.shape[0], p
    cdef const index_t* Ai = &row[0] if nnz > 0 else NULL
    cdef const index_t* Aj = &col[0] if col.shape[0] > 0 else NULL
    cdef const value_t* Ax = &data[0] if data.shape[0] > 0 else NULL
    cdef Py_ssize_t s0 = out.strides[0], s1 = out.strides[1]
    cdef char* op
    cdef value_t* dst
    _check_len("col", col.shape[0], nnz)
    _check_len("data", data.shape[0], nnz)
    if nnz == 0 or out.shape[0] == 0 or out.shape[1] == 0:
        return
    op = <char*>&out[0, 0]
    with nogil:
        for p in range(nnz):
            dst = <value_t*>(op + <Py_ssize_t>Ai[p] * s0 + <Py_ssize_t>Aj[p] * s1)
            dst[0] = dst[0] + Ax[p]


cdef void _diagonal_rows(Py_ssize_t k, const index_t* Ap, const index_t* Aj,
                         const value_t* Ax, value_t* out, Py_ssize_t first,
                         Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t i, p, j
    cdef value_t s
    for i in range(r0, r1):
        j = i + k
        s = out[i - first]
        for p in range(Ap[i], Ap[i + 1]):
            if Aj[p] == j:
                s = s + Ax[p]
        out[i - first] = s


def csr_diagonal(Py_ssize_t k, Py_ssize_t n_row, Py_ssize_t n_col, const index_t[::1] indptr,
                 const index_t[::1] indices, const value_t[::1] data, value_t[::1] out):
    """Add the ``k``-th diagonal of a CSR matrix into ``out``.

    Parameters
    ----------
    k : int
        Diagonal offset (``col - row``; positive above the main diagonal).
    n_row, n_col : int
        Shape of the matrix; ``len(indptr) == n_row + 1``.
    indptr, indices, data : ndarray
        The CSR arrays; duplicates are summed (in storage order), any index order.
    out : ndarray, shape (max(0, min(n_row + min(k, 0), n_col - max(k, 0))),)
        Accumulated into (Python zeroes it): ``out[i - max(0, -k)]`` gets the entries of row
        ``i`` in column ``i + k``.

    Notes
    -----
    Parallel over rows.
    """
    cdef Py_ssize_t first = max(0, -k)
    cdef Py_ssize_t last = min(n_row, n_col - k)
    cdef Py_ssize_t nnz, nparts, t, m
    cdef const index_t* Ap
    cdef const index_t* Aj = &indices[0] if indices.shape[0] > 0 else NULL
    cdef const value_t* Ax = &data[0] if data.shape[0] > 0 else NULL
    cdef value_t* op = &out[0] if out.shape[0] > 0 else NULL
    _check_len("indptr", indptr.shape[0], n_row + 1)
    Ap = &indptr[0]
    _check_min_len("indices", indices.shape[0], Ap[n_row])
    _check_min_len("data", data.shape[0], Ap[n_row])
    if last <= first:
        _check_len("out", out.shape[0], 0)
        return
    m = last - first
    _check_len("out", out.shape[0], m)
    nnz = Ap[last] - Ap[first]
    nparts = _num_parts(nnz)
    with nogil:
        if nparts == 1:
            _diagonal_rows(k, Ap, Aj, Ax, op, first, first, last)
        else:
            for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
                _diagonal_rows(k, Ap, Aj, Ax, op, first,
                               first + _split(Ap + first, m, t, nparts),
                               first + _split(Ap + first, m, t + 1, nparts))


cdef void _expand_rows(const index_t* Ap, index_t* rows,
                       Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t i, p
    for i in range(r0, r1):
        for p in range(Ap[i], Ap[i + 1]):
            rows[p] = <index_t>i


def expand_indptr(const index_t[::1] indptr, index_t[::1] rows):
    """Fill the row index of every stored entry (CSR row pointers to COO rows).

    Parameters
    ----------
    indptr : ndarray, shape (n_row + 1,)
        Row pointers, ``nnz = indptr[-1]``.
    rows : ndarray, shape (nnz,)
        Output, overwritten: ``rows[p] = i`` for ``indptr[i] <= p < indptr[i + 1]``.

    Notes
    -----
    Parallel over rows.
    """
    cdef Py_ssize_t n_row = _n_row(indptr.shape[0])
    cdef Py_ssize_t nparts, t
    cdef const index_t* Ap = &indptr[0]
    cdef index_t* rp = &rows[0] if rows.shape[0] > 0 else NULL
    _check_min_len("rows", rows.shape[0], Ap[n_row])
    nparts = _num_parts(Ap[n_row])
    with nogil:
        if nparts == 1:
            _expand_rows(Ap, rp, 0, n_row)
        else:
            for t in prange(nparts, schedule='static', chunksize=1, num_threads=nparts):
                _expand_rows(Ap, rp,
                             _split(Ap, n_row, t, nparts), _split(Ap, n_row, t + 1, nparts))
