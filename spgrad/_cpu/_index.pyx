"""Indexing kernels: row gathers, column selections, submatrices and scalar lookups.

Every kernel works on the CSR arrays of an (n_row x n_col) matrix (a CSC container passes the
CSR arrays of its transpose). The three selection kernels (row gather, column select, submatrix)
have two optional outputs, each skipped when passed with length 0: the values (``out_data``,
copied from ``data`` in the same pass: plain mode) and the **source position** of each output
entry (``out_map``: torch mode takes the values with a differentiable gather, which gives slicing
its gradient for free).

Python allocates, kernels fill. Sizes that are not known in advance are computed by a counting
pass (``*_count``) that fills the output ``indptr``; the filling pass then writes each row's
slice of the outputs independently, in parallel over output rows when the work is large enough.

Preconditions (checked by the caller in ``spgrad._index``, not here): the CSR arrays are valid
(``indptr`` non-decreasing from 0, every column in ``[0, n_col)``); every requested row lies in
``[0, n_row)`` and every requested column in ``[0, n_col)``; all index arrays of one call share
one dtype (``int32`` or ``int64``); output arrays have the lengths stated below.
"""

from cython.parallel cimport prange
from libc.stdint cimport int64_t
from libc.string cimport memcpy

from ._fused cimport index_t, value_t
from ._parallel cimport get_num_threads

__all__ = [
    "column_map",
    "csr_column_select",
    "csr_column_select_count",
    "csr_lookup_count",
    "csr_lookup_fill",
    "csr_lookup_offsets",
    "csr_lookup_values",
    "csr_row_gather",
    "csr_row_gather_count",
    "csr_submatrix",
    "csr_submatrix_count",
]

#: Below this many output entries the kernels run on one thread (an OpenMP team costs a few
#: microseconds). Tests set it to 0 to exercise the parallel paths on small inputs.
MIN_PARALLEL_WORK = 50_000


cdef int _threads(Py_ssize_t work):
    cdef int n = get_num_threads()
    if n <= 1 or work < MIN_PARALLEL_WORK:
        return 1
    return n


cdef int _check_len(str name, Py_ssize_t got, Py_ssize_t want) except -1:
    if got != want:
        raise ValueError(f"{name} must have length {want}, got {got}")
    return 0


# ------------------------------------------------------------------------------------------------
# row gather: output row k is source row rows[k] (repeats allowed)

def csr_row_gather_count(const index_t[::1] indptr, const index_t[::1] rows,
                         int64_t[::1] out_indptr):
    """Fill ``out_indptr`` (length ``len(rows) + 1``) for gathering ``rows``; return the nnz."""
    cdef Py_ssize_t k, n = rows.shape[0]
    cdef int64_t acc = 0
    cdef index_t r
    _check_len("out_indptr", out_indptr.shape[0], n + 1)
    with nogil:
        out_indptr[0] = 0
        for k in range(n):
            r = rows[k]
            acc += indptr[r + 1] - indptr[r]
            out_indptr[k + 1] = acc
    return acc


cdef int _check_outputs(Py_ssize_t nnz, Py_ssize_t n_data, Py_ssize_t n_out_data,
                        Py_ssize_t n_out_map, Py_ssize_t max_source) except -1:
    """Each optional output has ``nnz`` entries or none; values need the whole source."""
    if n_out_data != 0:
        _check_len("out_data", n_out_data, nnz)
        if n_data < max_source:
            raise ValueError(f"data must have at least {max_source} entries, got {n_data}")
    if n_out_map != 0:
        _check_len("out_map", n_out_map, nnz)
    return 0


cdef void _row_gather_rows(const index_t* indptr, const index_t* indices, const index_t* rows,
                           Py_ssize_t k0, Py_ssize_t k1, const index_t* out_indptr,
                           index_t* out_indices, const value_t* data, value_t* out_data,
                           index_t* out_map) noexcept nogil:
    """Output rows ``[k0, k1)`` of the row gather; null ``out_data``/``out_map`` are
    skipped."""
    cdef Py_ssize_t k
    cdef index_t p, start, w, length
    for k in range(k0, k1):
        start = indptr[rows[k]]
        length = indptr[rows[k] + 1] - start
        w = out_indptr[k]
        # each row is a contiguous run in every array: block copies
        memcpy(&out_indices[w], &indices[start], length * sizeof(index_t))
        if out_data != NULL:
            memcpy(&out_data[w], &data[start], length * sizeof(value_t))
        if out_map != NULL:
            for p in range(length):
                out_map[w + p] = start + p


def csr_row_gather(const index_t[::1] indptr, const index_t[::1] indices,
                   const index_t[::1] rows, const index_t[::1] out_indptr,
                   index_t[::1] out_indices, const value_t[::1] data, value_t[::1] out_data,
                   index_t[::1] out_map):
    """Copy the column indices of source rows ``rows`` (in order), and their values and/or
    source positions (optional outputs, see the module docstring).

    ``out_indptr`` comes from :func:`csr_row_gather_count` (cast to the index dtype);
    ``out_indices`` has ``out_indptr[-1]`` entries.
    """
    cdef Py_ssize_t k, n = rows.shape[0], nnz
    cdef int nthreads
    cdef bint with_data = out_data.shape[0] != 0, with_map = out_map.shape[0] != 0
    _check_len("out_indptr", out_indptr.shape[0], n + 1)
    nnz = out_indptr[n]
    _check_len("out_indices", out_indices.shape[0], nnz)
    _check_outputs(nnz, data.shape[0], out_data.shape[0], out_map.shape[0], indices.shape[0])
    if nnz == 0:
        return
    nthreads = _threads(nnz)
    with nogil:
        if nthreads == 1:  # a plain loop: an OpenMP region costs the compiler its optimisations
            _row_gather_rows(&indptr[0], &indices[0], &rows[0], 0, n, &out_indptr[0],
                             &out_indices[0], &data[0] if with_data else NULL,
                             &out_data[0] if with_data else NULL,
                             &out_map[0] if with_map else NULL)
        else:
            for k in prange(n, num_threads=nthreads, schedule="static"):
                _row_gather_rows(&indptr[0], &indices[0], &rows[0], k, k + 1, &out_indptr[0],
                                 &out_indices[0], &data[0] if with_data else NULL,
                                 &out_data[0] if with_data else NULL,
                                 &out_map[0] if with_map else NULL)


# ------------------------------------------------------------------------------------------------
# column selection through a column map
#
# The request is a list of output columns ``cols`` (repeats, any order). The caller passes it
# inverted: ``col_offsets`` (length n_col + 1) and ``col_order`` such that the output columns
# drawn from source column j are ``col_order[col_offsets[j]:col_offsets[j + 1]]``. A source entry
# in column j then yields one output entry per such output column.

def column_map(const index_t[::1] cols, index_t[::1] col_offsets, index_t[::1] col_order):
    """Invert the column request ``cols`` (values in ``[0, n_col)``) by a stable counting sort:
    fill ``col_offsets`` (length ``n_col + 1``) and ``col_order`` (length ``len(cols)``) so that
    ``col_order[col_offsets[j]:col_offsets[j + 1]]`` lists, in increasing order, the output
    columns drawn from source column ``j``. O(n_col + len(cols)), no comparison sort."""
    cdef Py_ssize_t q, j, n_col = col_offsets.shape[0] - 1, n_req = cols.shape[0]
    cdef index_t acc = 0, c
    _check_len("col_order", col_order.shape[0], n_req)
    with nogil:
        for j in range(n_col + 1):
            col_offsets[j] = 0
        for q in range(n_req):
            col_offsets[cols[q] + 1] += 1
        for j in range(n_col):
            acc = acc + col_offsets[j + 1]
            col_offsets[j + 1] = acc
        # scatter with a running cursor per column, kept in col_offsets[j] and restored below
        for q in range(n_req):
            c = cols[q]
            col_order[col_offsets[c]] = <index_t>q
            col_offsets[c] += 1
        for j in range(n_col, 0, -1):
            col_offsets[j] = col_offsets[j - 1]
        col_offsets[0] = 0


def csr_column_select_count(const index_t[::1] indptr, const index_t[::1] indices,
                            const index_t[::1] col_offsets, int64_t[::1] out_indptr):
    """Fill ``out_indptr`` (length ``n_row + 1``) of the column selection; return the nnz."""
    cdef Py_ssize_t i, n_row = indptr.shape[0] - 1
    cdef index_t p, j
    cdef int64_t acc = 0
    _check_len("out_indptr", out_indptr.shape[0], n_row + 1)
    with nogil:
        out_indptr[0] = 0
        for i in range(n_row):
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                acc += col_offsets[j + 1] - col_offsets[j]
            out_indptr[i + 1] = acc
    return acc


cdef void _column_select_rows(const index_t* indptr, const index_t* indices,
                              const index_t* col_offsets, const index_t* col_order,
                              index_t n_req, Py_ssize_t r0, Py_ssize_t r1,
                              const index_t* out_indptr,
                              index_t* out_indices, const value_t* data, value_t* out_data,
                              index_t* out_map) noexcept nogil:
    """Rows ``[r0, r1)`` of the column selection; null ``out_data``/``out_map`` are
    skipped.

    A source column requested at most once (the usual case) is written without a branch on
    whether it is requested: the entry goes to the row's next slot, which advances by the
    number of requests (0 or 1); the row stops once its known count is written, so no write
    leaves the row's own slots. Columns requested several times take the general loop."""
    cdef Py_ssize_t i
    cdef index_t p, j, q, w, end, lo, cnt
    for i in range(r0, r1):
        w = out_indptr[i]
        end = out_indptr[i + 1]
        p = indptr[i]
        while w < end:
            j = indices[p]
            lo = col_offsets[j]
            cnt = col_offsets[j + 1] - lo
            if cnt <= 1:
                # lo == n_req only when cnt == 0: read a valid slot, it is overwritten later
                out_indices[w] = col_order[lo - (lo == n_req)]
                if out_data != NULL:
                    out_data[w] = data[p]
                if out_map != NULL:
                    out_map[w] = p
                w = w + cnt
            else:
                for q in range(lo, lo + cnt):
                    out_indices[w] = col_order[q]
                    if out_data != NULL:
                        out_data[w] = data[p]
                    if out_map != NULL:
                        out_map[w] = p
                    w = w + 1
            p = p + 1


def csr_column_select(const index_t[::1] indptr, const index_t[::1] indices,
                      const index_t[::1] col_offsets, const index_t[::1] col_order,
                      const index_t[::1] out_indptr, index_t[::1] out_indices,
                      const value_t[::1] data, value_t[::1] out_data, index_t[::1] out_map):
    """Fill the column selection described above (``out_indptr`` from the counting pass),
    with values and/or source positions (optional outputs, see the module docstring)."""
    cdef Py_ssize_t i, n_row = indptr.shape[0] - 1, nnz
    cdef int nthreads
    cdef bint with_data = out_data.shape[0] != 0, with_map = out_map.shape[0] != 0
    _check_len("out_indptr", out_indptr.shape[0], n_row + 1)
    nnz = out_indptr[n_row]
    _check_len("out_indices", out_indices.shape[0], nnz)
    _check_outputs(nnz, data.shape[0], out_data.shape[0], out_map.shape[0], indptr[n_row])
    if nnz == 0:
        return
    nthreads = _threads(nnz)
    with nogil:
        if nthreads == 1:  # a plain loop: an OpenMP region costs the compiler its optimisations
            _column_select_rows(&indptr[0], &indices[0], &col_offsets[0], &col_order[0],
                                <index_t>col_order.shape[0], 0, n_row, &out_indptr[0],
                                &out_indices[0],
                                &data[0] if with_data else NULL,
                                &out_data[0] if with_data else NULL,
                                &out_map[0] if with_map else NULL)
        else:
            for i in prange(n_row, num_threads=nthreads, schedule="static"):
                _column_select_rows(&indptr[0], &indices[0], &col_offsets[0], &col_order[0],
                                    <index_t>col_order.shape[0], i, i + 1, &out_indptr[0],
                                    &out_indices[0],
                                    &data[0] if with_data else NULL,
                                    &out_data[0] if with_data else NULL,
                                    &out_map[0] if with_map else NULL)


# ------------------------------------------------------------------------------------------------
# submatrix: rows [r0, r1), columns [c0, c1)

def csr_submatrix_count(const index_t[::1] indptr, const index_t[::1] indices,
                        Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t c0, Py_ssize_t c1,
                        int64_t[::1] out_indptr):
    """Fill ``out_indptr`` (length ``r1 - r0 + 1``) of the submatrix; return its nnz."""
    cdef Py_ssize_t i
    cdef index_t p
    cdef int64_t acc = 0
    cdef size_t width = <size_t>(c1 - c0) if c1 > c0 else 0
    _check_len("out_indptr", out_indptr.shape[0], r1 - r0 + 1)
    with nogil:
        out_indptr[0] = 0
        for i in range(r0, r1):
            for p in range(indptr[i], indptr[i + 1]):
                # c0 <= j < c1 as one unsigned comparison: no branch to mispredict
                acc += <size_t>(indices[p] - c0) < width
            out_indptr[i - r0 + 1] = acc
    return acc


cdef void _submatrix_rows(const index_t* indptr, const index_t* indices, Py_ssize_t r0,
                          Py_ssize_t r1, Py_ssize_t c0, Py_ssize_t c1,
                          const index_t* out_indptr, index_t* out_indices,
                          const value_t* data, value_t* out_data,
                          index_t* out_map) noexcept nogil:
    """Rows ``[r0, r1)`` of the submatrix; ``out_indptr[0]`` belongs to row ``r0``. Null
    ``out_data``/``out_map`` are skipped.

    Every entry is written at the row's next output slot and the slot advances only when the
    entry is selected (no branch on the column test); the row stops once its known count of
    selected entries is written, so no write leaves the row's own slots."""
    cdef Py_ssize_t i
    cdef index_t p, j, w, end
    cdef size_t width = <size_t>(c1 - c0) if c1 > c0 else 0
    for i in range(r0, r1):
        w = out_indptr[i - r0]
        end = out_indptr[i - r0 + 1]
        p = indptr[i]
        while w < end:
            j = indices[p]
            out_indices[w] = <index_t>(j - c0)
            if out_data != NULL:
                out_data[w] = data[p]
            if out_map != NULL:
                out_map[w] = p
            w = w + (<size_t>(j - c0) < width)
            p = p + 1


def csr_submatrix(const index_t[::1] indptr, const index_t[::1] indices,
                  Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t c0, Py_ssize_t c1,
                  const index_t[::1] out_indptr, index_t[::1] out_indices,
                  const value_t[::1] data, value_t[::1] out_data, index_t[::1] out_map):
    """Fill the submatrix (columns shifted by ``-c0``) with values and/or source positions
    (optional outputs, see the module docstring)."""
    cdef Py_ssize_t i, nnz
    cdef int nthreads
    cdef bint with_data = out_data.shape[0] != 0, with_map = out_map.shape[0] != 0
    _check_len("out_indptr", out_indptr.shape[0], r1 - r0 + 1)
    nnz = out_indptr[r1 - r0]
    _check_len("out_indices", out_indices.shape[0], nnz)
    _check_outputs(nnz, data.shape[0], out_data.shape[0], out_map.shape[0], indptr[r1])
    nthreads = _threads(nnz)
    with nogil:
        if nthreads == 1:  # a plain loop: the OpenMP region costs the compiler its optimisations
            _submatrix_rows(&indptr[0], &indices[0] if indices.shape[0] else NULL,
                            r0, r1, c0, c1, &out_indptr[0],
                            &out_indices[0] if nnz else NULL,
                            &data[0] if data.shape[0] else NULL,
                            &out_data[0] if with_data and nnz else NULL,
                            &out_map[0] if with_map and nnz else NULL)
        else:
            for i in prange(r0, r1, num_threads=nthreads, schedule="static"):
                _submatrix_rows(&indptr[0], &indices[0] if indices.shape[0] else NULL,
                                i, i + 1, c0, c1, &out_indptr[i - r0],
                                &out_indices[0] if nnz else NULL,
                                &data[0] if data.shape[0] else NULL,
                                &out_data[0] if with_data and nnz else NULL,
                                &out_map[0] if with_map and nnz else NULL)


# ------------------------------------------------------------------------------------------------
# scalar lookups of (rows[k], cols[k]) pairs: binary search in sorted rows, scan otherwise

cdef inline index_t _first(const index_t* indices, index_t lo, index_t hi, index_t j,
                           bint sorted_rows) noexcept nogil:
    """Position of the first entry of column ``j`` in ``indices[lo:hi]``, or ``hi``."""
    cdef index_t p, n = hi - lo, half
    if sorted_rows:
        if n == 0:
            return hi
        if n <= 8:  # short rows: a scan with independent loads beats a chain of probes
            for p in range(lo, hi):
                if indices[p] >= j:
                    return p if indices[p] == j else hi
            return hi
        # branch-free lower bound: the comparison selects the base (a conditional move)
        while n > 1:
            half = n // 2
            lo = lo + half if indices[lo + half] < j else lo
            n = n - half
        lo = lo + (indices[lo] < j)
        if lo < hi and indices[lo] != j:
            return hi
        return lo
    for p in range(lo, hi):
        if indices[p] == j:
            return p
    return hi


def csr_lookup_count(const index_t[::1] indptr, const index_t[::1] indices, bint sorted_rows,
                     const index_t[::1] rows, const index_t[::1] cols, int64_t[::1] counts):
    """``counts[k]`` = number of stored entries at ``(rows[k], cols[k])``; return the total."""
    cdef Py_ssize_t k, n = rows.shape[0]
    cdef index_t p, hi, j
    cdef int64_t c, total = 0
    _check_len("cols", cols.shape[0], n)
    _check_len("counts", counts.shape[0], n)
    with nogil:
        for k in range(n):
            j = cols[k]
            hi = indptr[rows[k] + 1]
            c = 0
            p = _first(&indices[0] if indices.shape[0] else NULL, indptr[rows[k]], hi, j,
                       sorted_rows)
            while p < hi:
                if indices[p] == j:
                    c += 1
                elif sorted_rows:
                    break
                p = p + 1
            counts[k] = c
            total += c
    return total


def csr_lookup_fill(const index_t[::1] indptr, const index_t[::1] indices, bint sorted_rows,
                    const index_t[::1] rows, const index_t[::1] cols,
                    const int64_t[::1] offsets, index_t[::1] out_pos):
    """Write the positions of the entries at ``(rows[k], cols[k])`` to
    ``out_pos[offsets[k]:offsets[k + 1]]`` (``offsets``: cumulated counts, length n + 1)."""
    cdef Py_ssize_t k, n = rows.shape[0]
    cdef index_t p, hi, j
    cdef int64_t w
    _check_len("cols", cols.shape[0], n)
    _check_len("offsets", offsets.shape[0], n + 1)
    _check_len("out_pos", out_pos.shape[0], offsets[n])
    with nogil:
        for k in range(n):
            j = cols[k]
            hi = indptr[rows[k] + 1]
            w = offsets[k]
            p = _first(&indices[0] if indices.shape[0] else NULL, indptr[rows[k]], hi, j,
                       sorted_rows)
            while p < hi:
                if indices[p] == j:
                    out_pos[w] = p
                    w += 1
                elif sorted_rows:
                    break
                p = p + 1


def csr_lookup_offsets(const index_t[::1] indptr, const index_t[::1] indices,
                       bint sorted_rows, const index_t[::1] rows, const index_t[::1] cols,
                       int64_t[::1] offsets):
    """``offsets[k]`` = position of the entry at ``(rows[k], cols[k])``, or -1 if none.

    Returns True when some requested position holds duplicate entries (``offsets`` then names
    the first of them; the caller sums duplicates and looks up again).
    """
    cdef Py_ssize_t k, n = rows.shape[0]
    cdef index_t p, hi, j
    cdef bint dup = False
    _check_len("cols", cols.shape[0], n)
    _check_len("offsets", offsets.shape[0], n)
    with nogil:
        for k in range(n):
            j = cols[k]
            hi = indptr[rows[k] + 1]
            p = _first(&indices[0] if indices.shape[0] else NULL, indptr[rows[k]], hi, j,
                       sorted_rows)
            if p < hi:
                offsets[k] = p
                p = p + 1
                while p < hi:
                    if indices[p] == j:
                        dup = True
                        break
                    elif sorted_rows:
                        break
                    p = p + 1
            else:
                offsets[k] = -1
    return bool(dup)


def csr_lookup_values(const index_t[::1] indptr, const index_t[::1] indices,
                      const value_t[::1] data, bint sorted_rows, const index_t[::1] rows,
                      const index_t[::1] cols, value_t[::1] out):
    """``out[k]`` = sum of the stored values at ``(rows[k], cols[k])`` (0 when none)."""
    cdef Py_ssize_t k, n = rows.shape[0]
    cdef index_t p, hi, j
    cdef value_t acc
    cdef int nthreads = _threads(n * 8)
    _check_len("cols", cols.shape[0], n)
    _check_len("out", out.shape[0], n)
    with nogil:
        if nthreads == 1:  # a plain loop: the OpenMP region costs the compiler its optimisations
            _lookup_values(&indptr[0], &indices[0] if indices.shape[0] else NULL,
                           &data[0] if data.shape[0] else NULL, sorted_rows,
                           &rows[0] if n else NULL, &cols[0] if n else NULL,
                           &out[0] if n else NULL, 0, n)
        else:
            for k in prange(n, num_threads=nthreads, schedule="static"):
                _lookup_values(&indptr[0], &indices[0] if indices.shape[0] else NULL,
                               &data[0] if data.shape[0] else NULL, sorted_rows, &rows[0],
                               &cols[0], &out[0], k, k + 1)


cdef void _lookup_values(const index_t* indptr, const index_t* indices, const value_t* data,
                         bint sorted_rows, const index_t* rows, const index_t* cols,
                         value_t* out, Py_ssize_t k0, Py_ssize_t k1) noexcept nogil:
    """``out[k]`` for ``k`` in ``[k0, k1)`` (see :func:`csr_lookup_values`)."""
    cdef Py_ssize_t k
    cdef index_t p, hi, j
    cdef value_t acc
    for k in range(k0, k1):
        j = cols[k]
        hi = indptr[rows[k] + 1]
        acc = 0
        p = _first(indices, indptr[rows[k]], hi, j, sorted_rows)
        while p < hi:
            if indices[p] == j:
                acc = acc + data[p]
            elif sorted_rows:
                break
            p = p + 1
        out[k] = acc
