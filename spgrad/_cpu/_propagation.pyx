"""Kernels of ``spgrad.ad``'s sparse Jacobian propagation.

The propagation stores the Jacobian of every intermediate tensor of a traced function as the
values of a fixed pattern (``spgrad.ad._propagation`` builds the index maps once, from the
trace). One operation's Jacobian is a weighted sum of rows of its operands' Jacobians, which is
a list of *contributions* ``out[dst[e]] += scale · w[pair[e]] · vals[src[e]]``: ``w`` is the
operation's local derivative per output element (absent when it is a constant).

Python allocates, kernels fill. Preconditions (established by the caller, which builds the maps
from the patterns): ``dst``, ``src`` and ``pair`` have one length, and every entry is a valid
position of ``out``, ``vals`` and ``w``.
"""

from ._fused cimport index_t

__all__ = ["accumulate", "accumulate_weighted"]

ctypedef fused real_t:
    float
    double


def accumulate(real_t[::1] out, const index_t[::1] dst, const index_t[::1] src,
               const real_t[::1] vals, real_t scale):
    """``out[dst[e]] += scale * vals[src[e]]`` for every ``e``."""
    cdef Py_ssize_t e, n = dst.shape[0]
    with nogil:
        for e in range(n):
            out[dst[e]] += scale * vals[src[e]]


def accumulate_weighted(real_t[::1] out, const index_t[::1] dst, const index_t[::1] src,
                        const real_t[::1] vals, const real_t[::1] w, const index_t[::1] pair,
                        real_t scale):
    """``out[dst[e]] += scale * w[pair[e]] * vals[src[e]]`` for every ``e``."""
    cdef Py_ssize_t e, n = dst.shape[0]
    with nogil:
        for e in range(n):
            out[dst[e]] += scale * w[pair[e]] * vals[src[e]]
