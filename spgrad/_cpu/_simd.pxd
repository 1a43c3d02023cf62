# Dot products of one dense row with several others, in explicit SIMD, for kernel modules that
# cimport them:
#     from ._simd cimport dot1_f64, dot4_f64, dot1_f32, dot4_f32
#
# ``dot4_*(a, b0, b1, b2, b3, k, out)`` fills ``out[e] = sum_c a[c] * b_e[c]`` (c < k) for the
# four rows ``b_e``; ``dot1_*(a, b, k)`` returns one such sum; ``dot_axpy_*(a, b, y, alpha, k)``
# returns the same sum and adds ``alpha * a`` to the row ``y`` in the same loop (the one-sweep
# SpMM backward: ``a`` a row of the output's gradient, ``b`` a row of X, ``y`` one of X's
# gradient; ``y`` must not overlap ``a`` or ``b``). They are the inner loop of the
# SDDMM (``_masked.pyx``): every entry of a mask row dots the same row of the left operand with
# a gathered row of the right one. GCC's vectoriser turns that loop into scalar code (a
# reduction per entry), so it is written here with SSE2 intrinsics, which every x86-64 CPU has
# (no build flag, no CPU dispatch): two vector partial sums per row, the left row loaded once for
# the four entries, and the four horizontal sums done together by one transpose. Elsewhere a
# portable loop with the same partial sums is compiled. The order of the additions differs from
# a plain loop (results agree to rounding, not bitwise); a backward pass has no SciPy result to
# match. Defining SPGRAD_PORTABLE_DOT when compiling selects the portable loop on x86-64 too.
cdef extern from *:
    """
    #include <stddef.h>
    #if (defined(__SSE2__) || defined(_M_X64)) && !defined(SPGRAD_PORTABLE_DOT)
    #include <emmintrin.h>

    static inline void spgrad_dot4_f64(const double *a, const double *b0, const double *b1,
                                       const double *b2, const double *b3, ptrdiff_t k,
                                       double *out)
    {
        __m128d s0 = _mm_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
        __m128d t0 = s0, t1 = s0, t2 = s0, t3 = s0;
        ptrdiff_t c = 0;
        for (; c + 4 <= k; c += 4) {
            __m128d x = _mm_loadu_pd(a + c), y = _mm_loadu_pd(a + c + 2);
            s0 = _mm_add_pd(s0, _mm_mul_pd(x, _mm_loadu_pd(b0 + c)));
            t0 = _mm_add_pd(t0, _mm_mul_pd(y, _mm_loadu_pd(b0 + c + 2)));
            s1 = _mm_add_pd(s1, _mm_mul_pd(x, _mm_loadu_pd(b1 + c)));
            t1 = _mm_add_pd(t1, _mm_mul_pd(y, _mm_loadu_pd(b1 + c + 2)));
            s2 = _mm_add_pd(s2, _mm_mul_pd(x, _mm_loadu_pd(b2 + c)));
            t2 = _mm_add_pd(t2, _mm_mul_pd(y, _mm_loadu_pd(b2 + c + 2)));
            s3 = _mm_add_pd(s3, _mm_mul_pd(x, _mm_loadu_pd(b3 + c)));
            t3 = _mm_add_pd(t3, _mm_mul_pd(y, _mm_loadu_pd(b3 + c + 2)));
        }
        if (c + 2 <= k) {
            __m128d x = _mm_loadu_pd(a + c);
            s0 = _mm_add_pd(s0, _mm_mul_pd(x, _mm_loadu_pd(b0 + c)));
            s1 = _mm_add_pd(s1, _mm_mul_pd(x, _mm_loadu_pd(b1 + c)));
            s2 = _mm_add_pd(s2, _mm_mul_pd(x, _mm_loadu_pd(b2 + c)));
            s3 = _mm_add_pd(s3, _mm_mul_pd(x, _mm_loadu_pd(b3 + c)));
            c += 2;
        }
        s0 = _mm_add_pd(s0, t0);
        s1 = _mm_add_pd(s1, t1);
        s2 = _mm_add_pd(s2, t2);
        s3 = _mm_add_pd(s3, t3);
        __m128d r01 = _mm_add_pd(_mm_unpacklo_pd(s0, s1), _mm_unpackhi_pd(s0, s1));
        __m128d r23 = _mm_add_pd(_mm_unpacklo_pd(s2, s3), _mm_unpackhi_pd(s2, s3));
        if (c < k) {
            __m128d x = _mm_set1_pd(a[c]);
            r01 = _mm_add_pd(r01, _mm_mul_pd(x, _mm_set_pd(b1[c], b0[c])));
            r23 = _mm_add_pd(r23, _mm_mul_pd(x, _mm_set_pd(b3[c], b2[c])));
        }
        _mm_storeu_pd(out, r01);
        _mm_storeu_pd(out + 2, r23);
    }

    static inline double spgrad_dot1_f64(const double *a, const double *b, ptrdiff_t k)
    {
        __m128d s = _mm_setzero_pd(), t = s;
        ptrdiff_t c = 0;
        for (; c + 4 <= k; c += 4) {
            s = _mm_add_pd(s, _mm_mul_pd(_mm_loadu_pd(a + c), _mm_loadu_pd(b + c)));
            t = _mm_add_pd(t, _mm_mul_pd(_mm_loadu_pd(a + c + 2), _mm_loadu_pd(b + c + 2)));
        }
        if (c + 2 <= k) {
            s = _mm_add_pd(s, _mm_mul_pd(_mm_loadu_pd(a + c), _mm_loadu_pd(b + c)));
            c += 2;
        }
        s = _mm_add_pd(s, t);
        double r = _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
        if (c < k)
            r += a[c] * b[c];
        return r;
    }

    static inline double spgrad_dot_axpy_f64(const double *a, const double *b, double *y,
                                             double alpha, ptrdiff_t k)
    {
        __m128d s = _mm_setzero_pd(), t = s, w = _mm_set1_pd(alpha);
        ptrdiff_t c = 0;
        for (; c + 4 <= k; c += 4) {
            __m128d x = _mm_loadu_pd(a + c), z = _mm_loadu_pd(a + c + 2);
            s = _mm_add_pd(s, _mm_mul_pd(x, _mm_loadu_pd(b + c)));
            t = _mm_add_pd(t, _mm_mul_pd(z, _mm_loadu_pd(b + c + 2)));
            _mm_storeu_pd(y + c, _mm_add_pd(_mm_loadu_pd(y + c), _mm_mul_pd(w, x)));
            _mm_storeu_pd(y + c + 2, _mm_add_pd(_mm_loadu_pd(y + c + 2), _mm_mul_pd(w, z)));
        }
        if (c + 2 <= k) {
            __m128d x = _mm_loadu_pd(a + c);
            s = _mm_add_pd(s, _mm_mul_pd(x, _mm_loadu_pd(b + c)));
            _mm_storeu_pd(y + c, _mm_add_pd(_mm_loadu_pd(y + c), _mm_mul_pd(w, x)));
            c += 2;
        }
        s = _mm_add_pd(s, t);
        double r = _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
        if (c < k) {
            r += a[c] * b[c];
            y[c] += alpha * a[c];
        }
        return r;
    }

    static inline void spgrad_dot4_f32(const float *a, const float *b0, const float *b1,
                                       const float *b2, const float *b3, ptrdiff_t k,
                                       float *out)
    {
        __m128 s0 = _mm_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        __m128 t0 = s0, t1 = s0, t2 = s0, t3 = s0;
        ptrdiff_t c = 0;
        for (; c + 8 <= k; c += 8) {
            __m128 x = _mm_loadu_ps(a + c), y = _mm_loadu_ps(a + c + 4);
            s0 = _mm_add_ps(s0, _mm_mul_ps(x, _mm_loadu_ps(b0 + c)));
            t0 = _mm_add_ps(t0, _mm_mul_ps(y, _mm_loadu_ps(b0 + c + 4)));
            s1 = _mm_add_ps(s1, _mm_mul_ps(x, _mm_loadu_ps(b1 + c)));
            t1 = _mm_add_ps(t1, _mm_mul_ps(y, _mm_loadu_ps(b1 + c + 4)));
            s2 = _mm_add_ps(s2, _mm_mul_ps(x, _mm_loadu_ps(b2 + c)));
            t2 = _mm_add_ps(t2, _mm_mul_ps(y, _mm_loadu_ps(b2 + c + 4)));
            s3 = _mm_add_ps(s3, _mm_mul_ps(x, _mm_loadu_ps(b3 + c)));
            t3 = _mm_add_ps(t3, _mm_mul_ps(y, _mm_loadu_ps(b3 + c + 4)));
        }
        if (c + 4 <= k) {
            __m128 x = _mm_loadu_ps(a + c);
            s0 = _mm_add_ps(s0, _mm_mul_ps(x, _mm_loadu_ps(b0 + c)));
            s1 = _mm_add_ps(s1, _mm_mul_ps(x, _mm_loadu_ps(b1 + c)));
            s2 = _mm_add_ps(s2, _mm_mul_ps(x, _mm_loadu_ps(b2 + c)));
            s3 = _mm_add_ps(s3, _mm_mul_ps(x, _mm_loadu_ps(b3 + c)));
            c += 4;
        }
        s0 = _mm_add_ps(s0, t0);
        s1 = _mm_add_ps(s1, t1);
        s2 = _mm_add_ps(s2, t2);
        s3 = _mm_add_ps(s3, t3);
        /* the four horizontal sums at once: lane e of r is the sum of the lanes of s_e */
        __m128 lo01 = _mm_unpacklo_ps(s0, s1), hi01 = _mm_unpackhi_ps(s0, s1);
        __m128 lo23 = _mm_unpacklo_ps(s2, s3), hi23 = _mm_unpackhi_ps(s2, s3);
        __m128 r = _mm_add_ps(_mm_add_ps(_mm_movelh_ps(lo01, lo23), _mm_movehl_ps(lo23, lo01)),
                              _mm_add_ps(_mm_movelh_ps(hi01, hi23), _mm_movehl_ps(hi23, hi01)));
        for (; c < k; c++)
            r = _mm_add_ps(r, _mm_mul_ps(_mm_set1_ps(a[c]),
                                         _mm_set_ps(b3[c], b2[c], b1[c], b0[c])));
        _mm_storeu_ps(out, r);
    }

    static inline float spgrad_dot1_f32(const float *a, const float *b, ptrdiff_t k)
    {
        __m128 s = _mm_setzero_ps(), t = s;
        ptrdiff_t c = 0;
        for (; c + 8 <= k; c += 8) {
            s = _mm_add_ps(s, _mm_mul_ps(_mm_loadu_ps(a + c), _mm_loadu_ps(b + c)));
            t = _mm_add_ps(t, _mm_mul_ps(_mm_loadu_ps(a + c + 4), _mm_loadu_ps(b + c + 4)));
        }
        if (c + 4 <= k) {
            s = _mm_add_ps(s, _mm_mul_ps(_mm_loadu_ps(a + c), _mm_loadu_ps(b + c)));
            c += 4;
        }
        s = _mm_add_ps(s, t);
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        float r = _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
        for (; c < k; c++)
            r += a[c] * b[c];
        return r;
    }

    static inline float spgrad_dot_axpy_f32(const float *a, const float *b, float *y,
                                            float alpha, ptrdiff_t k)
    {
        __m128 s = _mm_setzero_ps(), t = s, w = _mm_set1_ps(alpha);
        ptrdiff_t c = 0;
        for (; c + 8 <= k; c += 8) {
            __m128 x = _mm_loadu_ps(a + c), z = _mm_loadu_ps(a + c + 4);
            s = _mm_add_ps(s, _mm_mul_ps(x, _mm_loadu_ps(b + c)));
            t = _mm_add_ps(t, _mm_mul_ps(z, _mm_loadu_ps(b + c + 4)));
            _mm_storeu_ps(y + c, _mm_add_ps(_mm_loadu_ps(y + c), _mm_mul_ps(w, x)));
            _mm_storeu_ps(y + c + 4, _mm_add_ps(_mm_loadu_ps(y + c + 4), _mm_mul_ps(w, z)));
        }
        if (c + 4 <= k) {
            __m128 x = _mm_loadu_ps(a + c);
            s = _mm_add_ps(s, _mm_mul_ps(x, _mm_loadu_ps(b + c)));
            _mm_storeu_ps(y + c, _mm_add_ps(_mm_loadu_ps(y + c), _mm_mul_ps(w, x)));
            c += 4;
        }
        s = _mm_add_ps(s, t);
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        float r = _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
        for (; c < k; c++) {
            r += a[c] * b[c];
            y[c] += alpha * a[c];
        }
        return r;
    }

    #else  /* portable: the same partial sums in plain C */
    #define SPGRAD_DOT_PORTABLE(T, LANES)                                                   \
    static inline T spgrad_dot1_##T(const T *a, const T *b, ptrdiff_t k)                   \
    {                                                                                       \
        T s[2 * LANES] = {0};                                                               \
        ptrdiff_t c = 0, l;                                                                 \
        for (; c + 2 * LANES <= k; c += 2 * LANES)                                          \
            for (l = 0; l < 2 * LANES; l++)                                                 \
                s[l] += a[c + l] * b[c + l];                                                \
        T r = 0;                                                                            \
        for (l = 0; l < 2 * LANES; l++)                                                     \
            r += s[l];                                                                      \
        for (; c < k; c++)                                                                  \
            r += a[c] * b[c];                                                               \
        return r;                                                                           \
    }                                                                                       \
    static inline void spgrad_dot4_##T(const T *a, const T *b0, const T *b1, const T *b2,  \
                                       const T *b3, ptrdiff_t k, T *out)                   \
    {                                                                                       \
        out[0] = spgrad_dot1_##T(a, b0, k);                                                 \
        out[1] = spgrad_dot1_##T(a, b1, k);                                                 \
        out[2] = spgrad_dot1_##T(a, b2, k);                                                 \
        out[3] = spgrad_dot1_##T(a, b3, k);                                                 \
    }
    #define SPGRAD_DOT_AXPY_PORTABLE(T)                                                     \
    static inline T spgrad_dot_axpy_##T(const T *a, const T *b, T *y, T alpha, ptrdiff_t k)  \
    {                                                                                       \
        for (ptrdiff_t c = 0; c < k; c++)                                                   \
            y[c] += alpha * a[c];                                                           \
        return spgrad_dot1_##T(a, b, k);                                                    \
    }
    SPGRAD_DOT_PORTABLE(double, 2)
    SPGRAD_DOT_PORTABLE(float, 4)
    #define spgrad_dot1_f64 spgrad_dot1_double
    #define spgrad_dot4_f64 spgrad_dot4_double
    #define spgrad_dot1_f32 spgrad_dot1_float
    #define spgrad_dot4_f32 spgrad_dot4_float
    SPGRAD_DOT_AXPY_PORTABLE(double)
    SPGRAD_DOT_AXPY_PORTABLE(float)
    #define spgrad_dot_axpy_f64 spgrad_dot_axpy_double
    #define spgrad_dot_axpy_f32 spgrad_dot_axpy_float
    #endif
    """
    void dot4_f64 "spgrad_dot4_f64"(const double* a, const double* b0, const double* b1,
                                    const double* b2, const double* b3, Py_ssize_t k,
                                    double* out) noexcept nogil
    double dot1_f64 "spgrad_dot1_f64"(const double* a, const double* b,
                                      Py_ssize_t k) noexcept nogil
    void dot4_f32 "spgrad_dot4_f32"(const float* a, const float* b0, const float* b1,
                                    const float* b2, const float* b3, Py_ssize_t k,
                                    float* out) noexcept nogil
    float dot1_f32 "spgrad_dot1_f32"(const float* a, const float* b,
                                     Py_ssize_t k) noexcept nogil
    double dot_axpy_f64 "spgrad_dot_axpy_f64"(const double* a, const double* b, double* y,
                                              double alpha, Py_ssize_t k) noexcept nogil
    float dot_axpy_f32 "spgrad_dot_axpy_f32"(const float* a, const float* b, float* y,
                                             float alpha, Py_ssize_t k) noexcept nogil
