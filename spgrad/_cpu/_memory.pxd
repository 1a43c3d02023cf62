# Cache hints for kernel loops, for kernel modules that cimport them:
#     from ._memory cimport (prefetch, prefetch_row, prefetch_gathered_row, stream_store,
#                            stream_fence, STREAM_MIN_BYTES, PREFETCH_AHEAD, PREFETCH_AHEAD_PAIR,
#                            PREFETCH_BYTES)
#
# ``prefetch(p)`` asks for the cache line at ``p`` ahead of a gather that reads it a few
# iterations later (a no-op where the compiler has no prefetch builtin); ``prefetch_row`` asks
# for the part of a per-entry array (values, indices) that a row loop over a CSR matrix reads
# ROW_AHEAD entries on; ``prefetch_gathered_row`` for the row of a dense operand that a
# later entry of a sparse pattern names.
# ``stream_store(p, v)``
# writes ``*p = v`` around the caches (x86-64 non-temporal stores; a plain store elsewhere):
# for an output written once, in order, and too large to be read back from the cache, it
# saves the read of every line before it is overwritten. A kernel that streams calls
# ``stream_fence()`` (on each thread) before its results are read.
cdef extern from *:
    """
    #include <string.h>
    #if defined(__GNUC__) || defined(__clang__)
    #define SPGRAD_PREFETCH(p) __builtin_prefetch((const void *)(p))
    #else
    #define SPGRAD_PREFETCH(p) ((void)0)
    #endif
    #if defined(__x86_64__) || defined(_M_X64)
    #include <emmintrin.h>
    static inline void spgrad_stream4(void *p, const void *v)
    { int b; memcpy(&b, v, 4); _mm_stream_si32((int *)p, b); }
    static inline void spgrad_stream8(void *p, const void *v)
    { long long b; memcpy(&b, v, 8); _mm_stream_si64((long long *)p, b); }
    static inline void spgrad_stream_fence(void) { _mm_sfence(); }
    #else
    static inline void spgrad_stream4(void *p, const void *v) { memcpy(p, v, 4); }
    static inline void spgrad_stream8(void *p, const void *v) { memcpy(p, v, 8); }
    static inline void spgrad_stream_fence(void) {}
    #endif
    """
    void SPGRAD_PREFETCH(const void* p) noexcept nogil
    void spgrad_stream4(void* p, const void* v) noexcept nogil
    void spgrad_stream8(void* p, const void* v) noexcept nogil
    void spgrad_stream_fence() noexcept nogil

from ._fused cimport index_t, value_t

cdef enum:
    # Outputs of at least this many bytes are written with stream_store: beyond the size of a
    # core's L2 cache they would be evicted before anything reads them.
    STREAM_MIN_BYTES = 4 * 1024 * 1024
    # A gather of dense rows in a sparse pattern's column order (which the hardware
    # prefetchers cannot follow) prefetches the row that the entry this far ahead reads, its
    # first PREFETCH_BYTES: SDDMM 1.5x faster, the SpMM backward's transposed gather 1.2x, on
    # a random 10^5 x 10^5 pattern with 16 columns.
    PREFETCH_AHEAD = 16
    PREFETCH_BYTES = 256
    # The same for a loop that gathers two rows per entry (the one-sweep SpMM backward reads a
    # row of X and updates a row of its gradient): nearer, so that the lines asked for stay
    # within what the core's miss queues hold. One thread, 16 columns, 10 entries per row at
    # random within a band of half-width w: n = 10^6, w = 2000: 190 -> 151 ms (16 -> 10
    # entries ahead); w = 8000: 256 -> 169 ms; n = 3*10^5, w = 16000: 84 -> 55 ms (8 entries
    # ahead: 157, 180, 57 ms).
    PREFETCH_AHEAD_PAIR = 10
    # Row loops prefetch the values and indices this many entries ahead: the hardware
    # prefetchers of the development VM kept a one-thread SpMV on the 2-D Poisson matrix
    # (n = 10^6, five entries per row) at 55 % of the copy bandwidth, and the hints double it.
    ROW_AHEAD = 512


cdef inline void prefetch(const void* p) noexcept nogil:
    SPGRAD_PREFETCH(p)


cdef inline void prefetch_row(const void* a, Py_ssize_t itemsize, Py_ssize_t p0, Py_ssize_t p1,
                              Py_ssize_t nnz) noexcept nogil:
    # the items of the array ``a`` ROW_AHEAD past those of the row [p0, p1), one hint per
    # 64-byte line, none past item nnz
    cdef const char* base = <const char*>a
    cdef Py_ssize_t q = p0 + ROW_AHEAD
    cdef Py_ssize_t end = min(p1 + ROW_AHEAD, nnz)
    cdef Py_ssize_t step = max(64 // itemsize, 1)
    while q < end:
        SPGRAD_PREFETCH(base + q * itemsize)
        q = q + step


cdef inline void prefetch_gathered_row(const index_t* Aj, const value_t* X, Py_ssize_t k,
                                       Py_ssize_t row_bytes, Py_ssize_t q) noexcept nogil:
    # the first row_bytes of the row of the C-ordered (., k) array X that entry q names
    cdef const char* xr = <const char*>(X + <Py_ssize_t>Aj[q] * k)
    cdef Py_ssize_t c
    for c in range(0, row_bytes, 64):
        SPGRAD_PREFETCH(xr + c)


cdef inline void stream_store(value_t* p, value_t v) noexcept nogil:
    if sizeof(value_t) == 4:
        spgrad_stream4(p, &v)
    elif sizeof(value_t) == 8:
        spgrad_stream8(p, &v)
    else:  # double complex: two halves
        spgrad_stream8(p, &v)
        spgrad_stream8((<char*>p) + 8, (<char*>&v) + 8)


cdef inline void stream_fence() noexcept nogil:
    spgrad_stream_fence()
