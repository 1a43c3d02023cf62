"""Greedy graph colourings and vertex orders, for sparse differentiation (``spgrad.ad``).

Every kernel works on an undirected graph given as a CSR adjacency structure
(``indptr``, ``indices``): symmetric, no self loops, no duplicates (``spgrad.ad._coloring``
builds it: the column intersection graph ``PᵀP`` for a partial distance-2 column colouring, the
adjacency graph of a symmetric pattern for a star colouring).

- ``vertex_order``: the smallest-last, incidence-degree and dynamic-largest-first orders, with a
  bucket queue (doubly linked lists of vertices per degree), O(V + E).
- ``greedy_coloring``: distance-1 greedy colouring in a given order, O(V + E).
- ``greedy_star_coloring``: greedy star colouring (a distance-1 colouring in which every path on
  four vertices uses at least three colours). Each path on four vertices is checked when its
  last vertex is coloured, so the colouring is a star colouring whatever the order; the work
  is that of walking the paths of length two (and three, while looking for a bicoloured end)
  from each vertex, O(Σ_v Σ_{w ∈ N(v)} Σ_{x ∈ N(w)} deg x) in the worst case.

Python allocates, kernels fill: scratch arrays come from the caller, sized as documented.
Preconditions (established by the caller): a valid, symmetric adjacency structure;
``order`` a permutation of the vertices.
"""

from libc.stdint cimport int64_t

from ._fused cimport index_t

__all__ = ["vertex_order", "greedy_coloring", "greedy_star_coloring", "SMALLEST_LAST",
           "INCIDENCE_DEGREE", "DYNAMIC_LARGEST_FIRST"]

cdef enum:
    _SMALLEST_LAST = 0
    _INCIDENCE_DEGREE = 1
    _DYNAMIC_LARGEST_FIRST = 2

#: ``vertex_order`` kinds
SMALLEST_LAST = _SMALLEST_LAST
INCIDENCE_DEGREE = _INCIDENCE_DEGREE
DYNAMIC_LARGEST_FIRST = _DYNAMIC_LARGEST_FIRST


cdef inline void _unlink(int64_t v, int64_t b, int64_t* head, int64_t* nxt,
                         int64_t* prv) noexcept nogil:
    """Remove vertex ``v`` from bucket ``b``."""
    if prv[v] >= 0:
        nxt[prv[v]] = nxt[v]
    else:
        head[b] = nxt[v]
    if nxt[v] >= 0:
        prv[nxt[v]] = prv[v]


cdef inline void _link(int64_t v, int64_t b, int64_t* head, int64_t* nxt,
                       int64_t* prv) noexcept nogil:
    """Push vertex ``v`` at the front of bucket ``b``."""
    prv[v] = -1
    nxt[v] = head[b]
    if head[b] >= 0:
        prv[head[b]] = v
    head[b] = v


def vertex_order(const index_t[::1] indptr, const index_t[::1] indices, int kind,
                 int64_t[::1] order, int64_t[::1] key, int64_t[::1] head, int64_t[::1] nxt,
                 int64_t[::1] prv, int64_t[::1] done):
    """Fill ``order`` (length n) with a vertex order of the graph.

    ``kind``: ``SMALLEST_LAST`` (repeatedly remove a vertex of smallest remaining degree; the
    order is the reverse of the removals), ``INCIDENCE_DEGREE`` (repeatedly take a vertex
    with the most already-ordered neighbours), ``DYNAMIC_LARGEST_FIRST`` (repeatedly take a
    vertex of largest degree among the vertices not yet taken). Scratch: ``key``, ``nxt``,
    ``prv``, ``done`` of length n, ``head`` of length n + 1.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef Py_ssize_t t, p
    cdef int64_t v, w, b, best = 0, top = 0
    if n == 0:
        return None
    cdef int64_t* hd = &head[0]
    cdef int64_t* nx = &nxt[0]
    cdef int64_t* pv = &prv[0]
    with nogil:
        for b in range(n + 1):
            head[b] = -1
        for v in range(n - 1, -1, -1):  # pushed in reverse: lower vertices first in a bucket
            done[v] = 0
            if kind == _INCIDENCE_DEGREE:
                key[v] = 0
            else:
                key[v] = indptr[v + 1] - indptr[v]
            _link(v, key[v], hd, nx, pv)
            if key[v] > top:
                top = key[v]
        if kind == _SMALLEST_LAST:
            best = 0
        else:
            best = top
        for t in range(n):
            if kind == _SMALLEST_LAST:
                while head[best] < 0:
                    best += 1
            else:
                while head[best] < 0:
                    best -= 1
            v = head[best]
            _unlink(v, best, hd, nx, pv)
            done[v] = 1
            if kind == _SMALLEST_LAST:
                order[n - 1 - t] = v
            else:
                order[t] = v
            for p in range(indptr[v], indptr[v + 1]):
                w = indices[p]
                if done[w]:
                    continue
                _unlink(w, key[w], hd, nx, pv)
                if kind == _INCIDENCE_DEGREE:
                    key[w] += 1
                    if key[w] > best:
                        best = key[w]
                else:
                    key[w] -= 1
                _link(w, key[w], hd, nx, pv)
            if kind == _SMALLEST_LAST and best > 0:
                best -= 1  # a removal lowers degrees by at most one
    return None


def greedy_coloring(const index_t[::1] indptr, const index_t[::1] indices,
                    const int64_t[::1] order, int64_t[::1] colors, int64_t[::1] forbidden):
    """Distance-1 greedy colouring in ``order``: each vertex takes the smallest colour none of
    its coloured neighbours has. Fills ``colors`` (length n); ``forbidden`` is scratch of
    length n + 1. Returns the number of colours."""
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef Py_ssize_t t, p
    cdef int64_t v, c, ncolors = 0
    with nogil:
        for v in range(n):
            colors[v] = -1
        for c in range(n + 1):
            forbidden[c] = -1
        for t in range(n):
            v = order[t]
            for p in range(indptr[v], indptr[v + 1]):
                c = colors[indices[p]]
                if c >= 0:
                    forbidden[c] = v
            c = 0
            while forbidden[c] == v:
                c += 1
            colors[v] = c
            if c + 1 > ncolors:
                ncolors = c + 1
    return ncolors


def greedy_star_coloring(const index_t[::1] indptr, const index_t[::1] indices,
                         const int64_t[::1] order, int64_t[::1] colors,
                         int64_t[::1] forbidden, int64_t[::1] seen, int64_t[::1] count):
    """Greedy star colouring in ``order``. A vertex ``v`` may not take

    - the colour of a neighbour (distance-1);
    - the colour of ``x`` on a path ``u - v - w - x`` with ``u``, ``w`` of one colour (``v`` in
      the middle of a bicoloured path on four vertices);
    - the colour of ``x`` on a path ``v - w - x - y`` with ``y`` of ``w``'s colour (``v`` at
      its end),

    where ``u``, ``w``, ``x``, ``y`` are already coloured. Fills ``colors`` (length n);
    ``forbidden``, ``seen``, ``count`` are scratch of length n + 1. Returns the number of
    colours.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef Py_ssize_t t, p, q, r
    cdef int64_t v, w, x, y, c, cw, cx, ncolors = 0
    cdef bint repeated
    with nogil:
        for v in range(n):
            colors[v] = -1
        for c in range(n + 1):
            forbidden[c] = -1
            seen[c] = -1
        for t in range(n):
            v = order[t]
            # distance-1, and how many neighbours of v have each colour
            for p in range(indptr[v], indptr[v + 1]):
                c = colors[indices[p]]
                if c < 0:
                    continue
                forbidden[c] = v
                if seen[c] != v:
                    seen[c] = v
                    count[c] = 1
                else:
                    count[c] += 1
            for p in range(indptr[v], indptr[v + 1]):
                w = indices[p]
                cw = colors[w]
                if cw < 0:
                    continue
                repeated = count[cw] >= 2  # another neighbour u of v has w's colour
                for q in range(indptr[w], indptr[w + 1]):
                    x = indices[q]
                    if x == v:
                        continue
                    cx = colors[x]
                    if cx < 0 or forbidden[cx] == v:
                        continue
                    if repeated:
                        forbidden[cx] = v
                        continue
                    for r in range(indptr[x], indptr[x + 1]):
                        y = indices[r]
                        if y != w and y != v and colors[y] == cw:
                            forbidden[cx] = v
                            break
            c = 0
            while forbidden[c] == v:
                c += 1
            colors[v] = c
            if c + 1 > ncolors:
                ncolors = c + 1
    return ncolors
