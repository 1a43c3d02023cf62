# C-level interface of the thread-count policy, for kernel modules that cimport it.
#
# Call it with the GIL held, before entering a ``nogil`` block:
#     from ._parallel cimport get_num_threads
cpdef int get_num_threads() noexcept
