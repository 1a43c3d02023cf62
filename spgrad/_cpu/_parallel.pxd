# C-level interface of the thread-count policy and of the work splits, for kernel modules that
# cimport them:
#     from ._parallel cimport _split, get_num_threads
#
# get_num_threads is called with the GIL held, before entering a ``nogil`` block; the splits
# (inline, nogil) give the first row or item of part ``part`` of ``nparts``.
from libc.stdint cimport int64_t

from ._fused cimport index_t


cpdef int get_num_threads() noexcept


cdef inline Py_ssize_t _split(const index_t* indptr, Py_ssize_t n_row, Py_ssize_t part,
                              Py_ssize_t nparts) noexcept nogil:
    """First row of ``part`` when rows are split into ``nparts`` ranges of equal rows + entries.

    The cost ``indptr[i] - indptr[0] + i`` increases strictly with ``i``, so consecutive parts
    are contiguous, disjoint and together cover ``[0, n_row)``.
    """
    cdef int64_t base, total, target
    cdef Py_ssize_t lo, hi, mid
    if part <= 0:
        return 0
    if part >= nparts:
        return n_row
    base = indptr[0]
    total = <int64_t>indptr[n_row] - base + n_row
    target = (total * part) // nparts
    lo = 0
    hi = n_row
    while lo < hi:
        mid = lo + (hi - lo) // 2
        if <int64_t>indptr[mid] - base + mid < target:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline Py_ssize_t _even(Py_ssize_t n, Py_ssize_t part, Py_ssize_t nparts) noexcept nogil:
    """First item of ``part`` when ``n`` items are split into ``nparts`` equal ranges."""
    return <Py_ssize_t>((<int64_t>n * part) // nparts)
