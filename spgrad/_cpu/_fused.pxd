# Fused types shared by every CPU kernel module.
#
# Index arrays are int32 or int64 (SciPy's two index dtypes). Value kernels are instantiated
# for the six arithmetic types below; the container layer widens the other integer and bool
# dtypes SciPy accepts to int64 before calling a kernel and casts the result back, which gives
# SciPy's wrap-around results for + - * and its logical-or results for bool.
from libc.stdint cimport int32_t, int64_t

ctypedef fused index_t:
    int32_t
    int64_t

ctypedef fused value_t:
    int32_t
    int64_t
    float
    double
    float complex
    double complex
