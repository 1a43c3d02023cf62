"""spgrad.ad colourings: validity (checked against brute force), exact recovery of compressed
Jacobians and Hessians, colour counts on the issue's patterns at two sizes, bad input."""

import itertools

import numpy as np
import pytest
import scipy.sparse

from spgrad.ad import _coloring as C

ORDERS = (*C.ORDERS, "best")


def _random_patterns(count, seed, square=False):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        m, n = rng.integers(0, 12, 2)
        if square:
            n = m
        P = scipy.sparse.random_array((m, n), density=rng.uniform(0, 0.6), rng=rng,
                                      format="csr")
        if rng.random() < 0.3:  # int64 indices
            P.indices, P.indptr = P.indices.astype(np.int64), P.indptr.astype(np.int64)
        yield rng, P


def _entries(P):
    p = C.canonical_pattern(P)
    return C._rows_cols(p)


@pytest.mark.parametrize("order", ORDERS)
def test_column_and_row_colourings_recover_the_jacobian(order):
    for rng, P in _random_patterns(60, seed=1):
        m, n = P.shape
        J = rng.standard_normal((m, n)) * (P.toarray() != 0)
        rows, cols = _entries(P)
        c = C.column_coloring(P, order=order, seed=3)
        assert c.shape == (n,) and c.dtype == np.int64
        assert C.is_column_coloring(P, c)
        S = np.zeros((n, C._ncolors(c)))
        S[np.arange(n), c] = 1
        r_, c_ = C.column_decompression(P, c)
        np.testing.assert_array_equal((J @ S)[r_, c_], J[rows, cols])
        r = C.row_coloring(P, order=order, seed=3)
        assert C.is_row_coloring(P, r)
        S = np.zeros((m, C._ncolors(r)))
        S[np.arange(m), r] = 1
        r_, c_ = C.row_decompression(P, r)
        np.testing.assert_array_equal((S.T @ J)[r_, c_], J[rows, cols])


@pytest.mark.parametrize("order", ORDERS)
def test_star_colourings_recover_the_hessian(order):
    for rng, P in _random_patterns(60, seed=2, square=True):
        Q = ((P + P.T) != 0).astype(float)
        n = Q.shape[0]
        s = C.star_coloring(Q, order=order, seed=4)
        assert C.is_star_coloring(Q, s)
        H = rng.standard_normal((n, n))
        H = (H + H.T) * (Q.toarray() != 0)
        S = np.zeros((n, max(C._ncolors(s), 1)))
        S[np.arange(n), s] = 1
        r_, c_ = C.star_decompression(Q, s)
        rows, cols = _entries(Q)
        np.testing.assert_allclose((H @ S)[r_, c_], H[rows, cols], rtol=1e-14, atol=1e-14)


def _brute_force_star(Q, c):
    A = Q.toarray() != 0
    np.fill_diagonal(A, False)
    if any(c[i] == c[j] for i, j in zip(*np.nonzero(A))):
        return False
    for v, w, x, y in itertools.permutations(range(len(c)), 4):
        if A[v, w] and A[w, x] and A[x, y] and c[v] == c[x] and c[w] == c[y]:
            return False
    return True


def test_checkers_against_brute_force():
    rng = np.random.default_rng(5)
    for _ in range(200):
        n = int(rng.integers(1, 7))
        P = scipy.sparse.random_array((n, n), density=rng.uniform(0, 0.7), rng=rng)
        Q = (P + P.T) != 0
        c = rng.integers(0, 3, n)
        assert C.is_star_coloring(Q, c) == _brute_force_star(Q, c)
        cols_ok = all(len(set(c[np.nonzero(row)[0]])) == np.count_nonzero(row)
                      for row in P.toarray())
        assert C.is_column_coloring(P, c) == cols_ok


def _tridiagonal(n):
    return scipy.sparse.diags_array([1.0, 1.0, 1.0], offsets=[-1, 0, 1], shape=(n, n))


def _arrowhead(n):
    A = np.eye(n)
    A[0, :] = A[:, 0] = 1
    return scipy.sparse.csr_array(A)


def _brusselator(N):
    """Jacobian pattern of the periodic 2-D Brusselator (species blocked)."""
    T = scipy.sparse.diags_array([1.0, 1.0, 1.0], offsets=[-1, 0, 1], shape=(N, N)).tolil()
    T[0, N - 1] = T[N - 1, 0] = 1
    eye = scipy.sparse.eye_array(N)
    L = ((scipy.sparse.kron(T, eye) + scipy.sparse.kron(eye, T)) != 0).astype(float)
    coupling = scipy.sparse.eye_array(N * N)
    return scipy.sparse.block_array([[L, coupling], [coupling, L]]).tocsr()


@pytest.mark.parametrize("n", [40, 4000])
def test_colour_counts_do_not_grow_with_n(n):
    assert C._ncolors(C.column_coloring(_tridiagonal(n))) == 3
    assert C._ncolors(C.row_coloring(_tridiagonal(n))) == 3
    assert C._ncolors(C.star_coloring(_tridiagonal(n))) == 3
    for order in C.ORDERS:
        assert C._ncolors(C.star_coloring(_arrowhead(n), order=order, seed=0)) == 2


@pytest.mark.parametrize("N", [8, 40])
def test_brusselator_colours(N):
    P = _brusselator(N)
    assert C._ncolors(C.column_coloring(P)) <= 12
    assert C._ncolors(C.column_coloring(P, order="best")) <= 11


def test_orders_are_permutations():
    P = _brusselator(6)
    graph = C._intersection_graph(C._as_scipy(P)[1], axis=1)
    for order in C.ORDERS:
        perm = C._vertex_order(*graph, order, seed=0)
        np.testing.assert_array_equal(np.sort(perm), np.arange(P.shape[1]))
    # smallest-last ends with a vertex of minimum degree; dynamic largest-first starts with one
    # of maximum degree
    degree = np.diff(graph[0])
    assert degree[C._vertex_order(*graph, "dynamic_largest_first", None)[0]] == degree.max()
    assert degree[C._vertex_order(*graph, "smallest_last", None)[-1]] == degree.min()


def test_empty_and_degenerate_patterns():
    for shape in [(0, 0), (0, 5), (4, 0), (3, 3)]:
        P = scipy.sparse.csr_array(shape)
        assert C.column_coloring(P).shape == (shape[1],)
        assert C.row_coloring(P).shape == (shape[0],)
    np.testing.assert_array_equal(C.column_coloring(np.zeros((2, 3))), [0, 0, 0])
    np.testing.assert_array_equal(C.star_coloring(np.eye(3)), [0, 0, 0])
    # a dense row: every column its own colour
    assert C._ncolors(C.column_coloring(np.ones((1, 7)))) == 7


def test_inputs_are_not_modified():
    P = scipy.sparse.csr_array(_arrowhead(6))
    before = (P.data.copy(), P.indices.copy(), P.indptr.copy())
    C.star_coloring(P)
    C.star_decompression(P, C.star_coloring(P))
    C.column_coloring(P)
    for a, b in zip(before, (P.data, P.indices, P.indptr)):
        np.testing.assert_array_equal(a, b)


def test_bad_input():
    with pytest.raises(ValueError, match="order must be one of"):
        C.column_coloring(np.eye(3), order="alphabetical")
    with pytest.raises(ValueError, match="square pattern"):
        C.star_coloring(np.ones((2, 3)))
    with pytest.raises(ValueError, match="structurally symmetric"):
        C.star_coloring(np.triu(np.ones((3, 3))))
    with pytest.raises(ValueError, match="colors must be 3 integers"):
        C.is_column_coloring(np.eye(3), [0, 1])
    with pytest.raises(ValueError, match="non-negative"):
        C.is_row_coloring(np.eye(3), [0, -1, 2])
    with pytest.raises(ValueError, match="not a star colouring"):
        C.star_decompression(_tridiagonal(4), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="must be 2-D"):
        C.column_coloring(np.ones(3))
