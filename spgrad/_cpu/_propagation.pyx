"""Kernels of ``spgrad.ad``'s sparse Jacobian propagation.

The propagation stores the Jacobian of every intermediate tensor of a traced function as the
values of a fixed pattern (``spgrad.ad._propagation`` builds the index maps once, from the
trace). One operation's Jacobian is a weighted sum of rows of its operands' Jacobians, which is
a list of *contributions* ``out[dst[e]] += scale · w[pair[e]] · vals[src[e]]``: ``w`` is the
operation's local derivative per output element (absent when it is a constant).

Python allocates, kernels fill (a buffer is zeroed by its caller unless its first contribution
covers it, which then assigns). Preconditions (established by the caller, which builds the maps
from the patterns): ``dst``, ``src`` and ``pair`` have one length, and every entry is a valid
position of ``out``, ``vals`` and ``w``.
"""

from libc.stdint cimport int64_t

from ._fused cimport index_t

__all__ = ["accumulate", "accumulate_weighted", "match_rows"]

ctypedef fused real_t:
    float
    double


def accumulate(real_t[::1] out, const index_t[::1] dst, const index_t[::1] src,
               const real_t[::1] vals, real_t scale, bint assign):
    """``out[dst[e]] += scale * vals[src[e]]`` for every ``e`` (``=`` with ``assign``: the
    first contribution to a buffer that it covers entirely, which then needs no zeroing)."""
    cdef Py_ssize_t e, n = dst.shape[0]
    with nogil:
        if assign:
            for e in range(n):
                out[dst[e]] = scale * vals[src[e]]
        else:
            for e in range(n):
                out[dst[e]] += scale * vals[src[e]]


def accumulate_weighted(real_t[::1] out, const index_t[::1] dst, const index_t[::1] src,
                        const real_t[::1] vals, const real_t[::1] w, const index_t[::1] pair,
                        real_t scale, bint assign):
    """``out[dst[e]] += scale * w[pair[e]] * vals[src[e]]`` for every ``e`` (``=`` with
    ``assign``)."""
    cdef Py_ssize_t e, n = dst.shape[0]
    with nogil:
        if assign:
            for e in range(n):
                out[dst[e]] = scale * w[pair[e]] * vals[src[e]]
        else:
            for e in range(n):
                out[dst[e]] += scale * w[pair[e]] * vals[src[e]]


def match_rows(const int64_t[::1] out_indptr, const int64_t[::1] out_indices,
               const int64_t[::1] in_indptr, const int64_t[::1] in_indices,
               const int64_t[::1] k, const int64_t[::1] b, int64_t[::1] dst,
               int64_t[::1] src, int64_t[::1] pair):
    """The contributions of row ``b[t]`` of an input pattern to row ``k[t]`` of an output
    pattern, for every pair ``t``: each stored entry ``q`` of the input row whose column is
    stored in the output row, as ``dst`` (its position in the output), ``src`` (``q``) and
    ``pair`` (``t``), by a merge of the two sorted rows. Returns the number written (entries
    whose column the output row lacks are skipped).

    Preconditions: both patterns have sorted rows; ``k`` and ``b`` are valid rows; ``dst``,
    ``src`` and ``pair`` have room for every stored entry of the input rows named by ``b``.
    """
    cdef Py_ssize_t t, n = k.shape[0], e = 0
    cdef int64_t q, qe, po, pe, col
    with nogil:
        for t in range(n):
            po = out_indptr[k[t]]
            pe = out_indptr[k[t] + 1]
            qe = in_indptr[b[t] + 1]
            for q in range(in_indptr[b[t]], qe):
                col = in_indices[q]
                while po < pe and out_indices[po] < col:
                    po += 1
                if po < pe and out_indices[po] == col:
                    dst[e] = po
                    src[e] = q
                    pair[e] = t
                    e += 1
    return e
