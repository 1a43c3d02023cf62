"""Thread-count policy shared by every parallel kernel.

One place decides how many OpenMP threads a kernel uses: the OpenMP runtime's current maximum
(which honours ``OMP_NUM_THREADS`` and threadpoolctl), unless :func:`set_num_threads` has set an
override. Builds without OpenMP report one thread and run every ``prange`` serially.
"""

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int spgrad_openmp_compiled(void) { return 1; }
    static int spgrad_omp_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int spgrad_openmp_compiled(void) { return 0; }
    static int spgrad_omp_max_threads(void) { return 1; }
    #endif
    """
    int spgrad_openmp_compiled() noexcept nogil
    int spgrad_omp_max_threads() noexcept nogil


cdef int _override = 0


def openmp_enabled():
    """Return True when the kernels were compiled with OpenMP support."""
    return bool(spgrad_openmp_compiled())


cpdef int get_num_threads() noexcept:
    """Number of threads the next kernel call will use."""
    if not spgrad_openmp_compiled():
        return 1
    if _override > 0:
        return _override
    return spgrad_omp_max_threads()


def set_num_threads(int n):
    """Use ``n`` threads in kernels from now on; ``n <= 0`` restores the OpenMP default."""
    global _override
    _override = n if n > 0 else 0
