"""Colourings of sparsity patterns and the index maps that decompress colour-compressed
derivatives.

A Jacobian ``J`` (m × n) with a column colouring ``c`` (columns sharing a row get different
colours: a *partial distance-2* colouring) is recovered from ``B = J S``, where the seed matrix
``S`` (n × ncolors) has ``S[j, c[j]] = 1``: ``J[i, j] = B[i, c[j]]``. A row colouring does the
same with ``B = Sᵀ J``. A symmetric Hessian with a *star colouring* (a distance-1 colouring in
which every path on four vertices uses at least three colours) is recovered from ``B = H S``:
``H[i, j] = B[i, c[j]]`` when ``j`` is the only neighbour of ``i`` with colour ``c[j]``, else
``B[j, c[i]]``.

The colourings are greedy (Cython kernels in ``spgrad._cpu._coloring``) on an explicit graph —
the column intersection graph ``PᵀP`` for columns, ``PPᵀ`` for rows, the adjacency graph of the
pattern for stars — in one of several vertex orders. Checks and maps are vectorised NumPy.
"""

import numpy as np
import scipy.sparse

from .. import _backend

ORDERS = ("natural", "random", "largest_first", "smallest_last", "incidence_degree",
          "dynamic_largest_first")
#: random orders tried by ``order="best"`` (seeded, so "best" is deterministic)
_BEST_RANDOM_TRIES = 3


# --------------------------------------------------------------------------------------------
# patterns and graphs
# --------------------------------------------------------------------------------------------

def _structure(pattern):
    """``(indptr, indices, shape)`` of a CSR structure of ``pattern`` (any sparse or dense
    input; values ignored for sparse input, nonzeros for dense input)."""
    from .._base import issparse

    if issparse(pattern):
        c = pattern.tocsr()
        return c.indptr, c.indices, c.shape
    if scipy.sparse.issparse(pattern):
        c = scipy.sparse.csr_array(pattern)
        return c.indptr, c.indices, c.shape
    if _backend.is_tensor(pattern):
        pattern = _backend.to_numpy(pattern)
    arr = np.asarray(pattern)
    if arr.ndim != 2:
        raise ValueError(f"a sparsity pattern must be 2-D, got an array of shape {arr.shape}")
    c = scipy.sparse.csr_array(arr != 0)
    return c.indptr, c.indices, c.shape


def canonical_pattern(pattern):
    """The structure of ``pattern`` as a boolean ``spgrad.csr_array`` in canonical form (sorted
    indices, no duplicates); the index maps of this module refer to its entries in order.

    Parameters
    ----------
    pattern : sparse array or matrix (spgrad or SciPy), or array_like
        Stored entries count, explicit zeros included; for dense input, the nonzeros.

    Examples
    --------
    >>> import numpy as np
    >>> from spgrad.ad._coloring import canonical_pattern
    >>> canonical_pattern(np.array([[1.0, 0.0], [0.0, 2.0]])).toarray()
    array([[ True, False],
           [False,  True]])
    """
    from .._csr import csr_array

    indptr, indices, shape = _structure(pattern)
    S = scipy.sparse.csr_array((np.ones(len(indices), dtype=bool), indices, indptr),
                               shape=shape)
    S.sum_duplicates()  # also sorts the indices
    return csr_array(S)


def _as_scipy(pattern):
    """The canonical pattern as a SciPy CSR of int8 ones (for products of patterns)."""
    p = canonical_pattern(pattern)
    return p, scipy.sparse.csr_array((np.ones(p.nnz, dtype=np.int8), p.indices, p.indptr),
                                     shape=p.shape)


def _graph(G):
    """Adjacency arrays ``(indptr, indices)`` of a symmetric SciPy pattern, diagonal removed."""
    G = scipy.sparse.csr_array(G, copy=True)  # may share arrays with a caller's pattern
    G.setdiag(0)
    G.eliminate_zeros()
    G.sort_indices()
    return G.indptr.astype(np.int64), G.indices.astype(np.int64)


def _intersection_graph(S, axis):
    """Graph on the columns (``axis=1``) or rows (``axis=0``) of ``S``: two are adjacent when
    they share a row (column), i.e. the pattern of ``SᵀS`` (``SSᵀ``) off the diagonal."""
    S = S.astype(np.int64)
    G = (S.T @ S) if axis == 1 else (S @ S.T)
    return _graph(G)


def _symmetric_graph(pattern):
    p, S = _as_scipy(pattern)
    if p.shape[0] != p.shape[1]:
        raise ValueError(f"a star colouring needs a square pattern, got shape {p.shape}")
    if (S != S.T).nnz:
        raise ValueError("a star colouring needs a structurally symmetric pattern (as a "
                         "Hessian's); this one has entries (i, j) without (j, i)")
    return p, _graph(S)


# --------------------------------------------------------------------------------------------
# orders and greedy colourings
# --------------------------------------------------------------------------------------------

def _check_order(order):
    if order != "best" and order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS} or 'best', got {order!r}")


def _vertex_order(indptr, indices, order, seed):
    n = len(indptr) - 1
    k = _backend.kernels(indptr)
    if order == "natural":
        return np.arange(n, dtype=np.int64)
    if order == "random":
        return np.random.default_rng(seed).permutation(n).astype(np.int64)
    if order == "largest_first":
        degree = np.diff(indptr)
        return np.argsort(-degree, kind="stable").astype(np.int64)
    kind = {"smallest_last": k.SMALLEST_LAST, "incidence_degree": k.INCIDENCE_DEGREE,
            "dynamic_largest_first": k.DYNAMIC_LARGEST_FIRST}[order]
    out = np.empty(n, dtype=np.int64)
    key, nxt, prv, done = (np.empty(n, dtype=np.int64) for _ in range(4))
    k.vertex_order(indptr, indices, kind, out, key, np.empty(n + 1, dtype=np.int64), nxt, prv,
                   done)
    return out


def _greedy(graph, order, seed, star):
    indptr, indices = graph
    n = len(indptr) - 1
    k = _backend.kernels(indptr)

    def run(name, rng_seed):
        perm = _vertex_order(indptr, indices, name, rng_seed)
        colors = np.empty(n, dtype=np.int64)
        scratch = np.empty(n + 1, dtype=np.int64)
        if star:
            k.greedy_star_coloring(indptr, indices, perm, colors, scratch,
                                   np.empty(n + 1, dtype=np.int64),
                                   np.empty(n + 1, dtype=np.int64))
        else:
            k.greedy_coloring(indptr, indices, perm, colors, scratch)
        return colors

    if order != "best":
        return run(order, seed)
    best = None
    rng = np.random.default_rng(0 if seed is None else seed)
    tries = [(name, None) for name in ORDERS if name != "random"]
    tries += [("random", rng) for _ in range(_BEST_RANDOM_TRIES)]
    for name, rng_seed in tries:
        colors = run(name, rng_seed)
        if best is None or _ncolors(colors) < _ncolors(best):
            best = colors
    return best


def _ncolors(colors):
    return int(colors.max()) + 1 if len(colors) else 0


_ORDER_DOC = """order : str, optional
        Vertex order of the greedy algorithm: ``"natural"``, ``"random"``,
        ``"largest_first"`` (by degree, the default), ``"smallest_last"``,
        ``"incidence_degree"``, ``"dynamic_largest_first"``, or ``"best"`` (every order, and
        a few seeded random ones; the fewest colours, the first order on a tie).
    seed : int or numpy.random.Generator, optional
        Seed of ``order="random"`` (and of the random tries of ``"best"``)."""


def column_coloring(pattern, order="largest_first", seed=None):
    """Partial distance-2 colouring of the columns of a sparsity pattern.

    Two columns that have an entry in a common row get different colours, so one Jacobian-vector
    product with the sum of the unit vectors of a colour yields all their entries.

    Parameters
    ----------
    pattern : sparse array or matrix, or array_like
        The Jacobian's pattern (m × n).
    {order}

    Returns
    -------
    colors : ndarray of int64, shape (n,)
        Colours ``0 .. ncolors - 1``.

    Examples
    --------
    >>> import scipy.sparse
    >>> from spgrad.ad import column_coloring
    >>> tridiagonal = scipy.sparse.diags_array([1.0, 1.0, 1.0], offsets=[-1, 0, 1], shape=(6, 6))
    >>> column_coloring(tridiagonal, order="natural")
    array([0, 1, 2, 0, 1, 2])
    """
    _check_order(order)
    _, S = _as_scipy(pattern)
    return _greedy(_intersection_graph(S, axis=1), order, seed, star=False)


def row_coloring(pattern, order="largest_first", seed=None):
    """Partial distance-2 colouring of the rows of a sparsity pattern (for reverse mode: one
    vector-Jacobian product per colour).

    Parameters
    ----------
    pattern : sparse array or matrix, or array_like
        The Jacobian's pattern (m × n).
    {order}

    Returns
    -------
    colors : ndarray of int64, shape (m,)

    Examples
    --------
    >>> import numpy as np
    >>> from spgrad.ad import row_coloring
    >>> arrow = np.eye(5); arrow[:, 0] = 1          # a full first column
    >>> row_coloring(arrow)                          # every row meets column 0
    array([0, 1, 2, 3, 4])
    >>> row_coloring(arrow.T)                        # a full first row
    array([0, 1, 1, 1, 1])
    """
    _check_order(order)
    _, S = _as_scipy(pattern)
    return _greedy(_intersection_graph(S, axis=0), order, seed, star=False)


def star_coloring(pattern, order="largest_first", seed=None):
    """Star colouring of a structurally symmetric pattern (a Hessian's).

    A distance-1 colouring of the adjacency graph (the diagonal is ignored) in which every path
    on four vertices uses at least three colours; then every entry of a symmetric matrix can be
    read from one Hessian-vector product per colour (see :func:`star_decompression`), with fewer
    colours than a column colouring needs.

    Parameters
    ----------
    pattern : sparse array or matrix, or array_like
        A square, structurally symmetric pattern.
    {order}

    Returns
    -------
    colors : ndarray of int64, shape (n,)

    Raises
    ------
    ValueError
        If the pattern is not square or not structurally symmetric.

    Examples
    --------
    >>> import numpy as np
    >>> from spgrad.ad import star_coloring
    >>> arrowhead = np.eye(6); arrowhead[0, :] = arrowhead[:, 0] = 1
    >>> star_coloring(arrowhead)
    array([0, 1, 1, 1, 1, 1])
    """
    _check_order(order)
    _, graph = _symmetric_graph(pattern)
    return _greedy(graph, order, seed, star=True)


for _f in (column_coloring, row_coloring, star_coloring):
    _f.__doc__ = _f.__doc__.replace("{order}", _ORDER_DOC)


# --------------------------------------------------------------------------------------------
# checks and decompression maps
# --------------------------------------------------------------------------------------------

def _check_colors(colors, n, what):
    colors = np.asarray(colors)
    if colors.shape != (n,) or (n and colors.dtype.kind not in "iu"):
        raise ValueError(f"colors must be {n} integers (one per {what}), got an array of shape "
                         f"{colors.shape} and dtype {colors.dtype}")
    colors = colors.astype(np.int64)
    if n and colors.min() < 0:
        raise ValueError(f"colors must be non-negative, got {colors.min()}")
    return colors


def _rows_cols(p):
    counts = np.diff(p.indptr)
    return np.repeat(np.arange(p.shape[0], dtype=np.int64), counts), p.indices.astype(np.int64)


def _distinct_per_line(lines, colors_of_entries, ncolors):
    """True when no line (row) holds two entries of one colour."""
    keys = lines * max(ncolors, 1) + colors_of_entries
    return len(np.unique(keys)) == len(keys)


def is_column_coloring(pattern, colors):
    """True if ``colors`` is a partial distance-2 colouring of the columns of ``pattern``
    (no row has two entries whose columns share a colour).

    Examples
    --------
    >>> import numpy as np
    >>> from spgrad.ad import is_column_coloring
    >>> P = np.array([[1, 1, 0], [0, 1, 1]])
    >>> is_column_coloring(P, [0, 1, 0]), is_column_coloring(P, [0, 0, 1])
    (True, False)
    """
    p = canonical_pattern(pattern)
    colors = _check_colors(colors, p.shape[1], "column")
    rows, cols = _rows_cols(p)
    return _distinct_per_line(rows, colors[cols], _ncolors(colors))


def is_row_coloring(pattern, colors):
    """True if ``colors`` is a partial distance-2 colouring of the rows of ``pattern``.

    Examples
    --------
    >>> import numpy as np
    >>> from spgrad.ad import is_row_coloring
    >>> is_row_coloring(np.array([[1, 1, 0], [0, 1, 1]]), [0, 0])
    False
    """
    p = canonical_pattern(pattern)
    colors = _check_colors(colors, p.shape[0], "row")
    rows, cols = _rows_cols(p)
    return _distinct_per_line(cols, colors[rows], _ncolors(colors))


def _neighbour_colour_counts(rows, cols, colors):
    """For every off-diagonal entry ``(i, j)``: how many neighbours of ``i`` have colour
    ``colors[j]`` (the entry's own ``j`` included)."""
    nc = max(_ncolors(colors), 1)
    keys = rows * nc + colors[cols]
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return counts[inverse]


def is_star_coloring(pattern, colors):
    """True if ``colors`` is a star colouring of the structurally symmetric ``pattern``: no two
    adjacent vertices share a colour, and no path on four vertices is bicoloured.

    Examples
    --------
    >>> import numpy as np
    >>> from spgrad.ad import is_star_coloring
    >>> path = np.eye(4) + np.eye(4, k=1) + np.eye(4, k=-1)
    >>> is_star_coloring(path, [0, 1, 0, 1]), is_star_coloring(path, [0, 1, 0, 2])
    (False, True)
    """
    p, _ = _symmetric_graph(pattern)
    colors = _check_colors(colors, p.shape[0], "vertex")
    rows, cols = _rows_cols(p)
    off = rows != cols
    rows, cols = rows[off], cols[off]
    if np.any(colors[rows] == colors[cols]):
        return False
    if not len(rows):
        return True
    # A bicoloured path v - w - x - y exists iff some edge (w, x) has another neighbour of w
    # with x's colour and another neighbour of x with w's colour: the count of x's colour
    # around w and of w's colour around x both reach 2.
    nc = max(_ncolors(colors), 1)
    keys = rows * nc + colors[cols]  # (w, colour of x) for every edge (w, x)
    uniq, counts = np.unique(keys, return_counts=True)
    around_w = counts[np.searchsorted(uniq, keys)]
    # (x, colour of w): present, since (x, w) is an edge too
    around_x = counts[np.searchsorted(uniq, cols * nc + colors[rows])]
    return not np.any((around_w >= 2) & (around_x >= 2))


def column_decompression(pattern, colors):
    """Index maps ``(rows, cols)`` with ``J.data == B[rows, cols]`` for ``B = J S`` (``S`` the
    seed matrix of the column colouring ``colors``), in the order of
    ``canonical_pattern(pattern)``'s entries."""
    p = canonical_pattern(pattern)
    colors = _check_colors(colors, p.shape[1], "column")
    rows, cols = _rows_cols(p)
    return rows, colors[cols]


def row_decompression(pattern, colors):
    """Index maps ``(rows, cols)`` with ``J.data == B[rows, cols]`` for ``B = Sᵀ J`` (``S``
    the seed matrix of the row colouring ``colors``)."""
    p = canonical_pattern(pattern)
    colors = _check_colors(colors, p.shape[0], "row")
    rows, cols = _rows_cols(p)
    return colors[rows], cols


def star_decompression(pattern, colors):
    """Index maps ``(rows, cols)`` with ``H.data == B[rows, cols]`` for ``B = H S`` (``S`` the
    seed matrix of the star colouring ``colors``), in the order of
    ``canonical_pattern(pattern)``'s entries: ``H[i, j]`` is ``B[i, c[j]]`` when ``j`` is the
    only neighbour of ``i`` with colour ``c[j]`` (always so on the diagonal), else
    ``B[j, c[i]]``.

    Raises
    ------
    ValueError
        If ``colors`` is not a star colouring of the pattern.
    """
    if not is_star_coloring(pattern, colors):
        raise ValueError("colors is not a star colouring of the pattern")
    p = canonical_pattern(pattern)
    colors = np.asarray(colors, dtype=np.int64)
    rows, cols = _rows_cols(p)
    out_rows, out_cols = rows.copy(), colors[cols]
    off = np.flatnonzero(rows != cols)
    if len(off):
        unique = _neighbour_colour_counts(rows[off], cols[off], colors) == 1
        swap = off[~unique]
        out_rows[swap] = cols[swap]
        out_cols[swap] = colors[rows[swap]]
    return out_rows, out_cols
