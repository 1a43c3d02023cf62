"""Tests of the masked-product kernels (``spgrad._cpu._masked``) called directly, against NumPy:
SDDMM for 0, 1 (the rank-1 path of the SpMV backward) and several columns, the transposed
product as a gather, and the fused SpMV, SpMM and SpGEMM backward passes; every value and index
dtype, serial and forced parallel, empty masks, empty rows, duplicated and unsorted entries."""

import numpy as np
import pytest
import scipy.sparse as ssp

from spgrad._cpu import _masked as K

VALUE_DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


@pytest.fixture(params=["serial-threshold", "force-parallel"])
def parallel(request, monkeypatch):
    if request.param == "force-parallel":
        monkeypatch.setattr(K, "MIN_PARALLEL_WORK", 0)
    return request.param


@pytest.mark.parametrize("idt", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
# every remainder of the SIMD dot products: columns left after blocks of 4 (float64) and of 8
# (float32) and then of 2 or 4, mask rows of 1 to 9 entries (four entries at a time, then the rest)
@pytest.mark.parametrize("k", [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 19])
@pytest.mark.parametrize("shape", [(0, 4), (6, 0), (7, 5), (11, 9)])
def test_sddmm_matches_numpy(idt, dtype, k, shape, parallel):
    rng = np.random.default_rng(k + shape[0])
    mask = ssp.random_array(shape, density=0.5, format="csr", rng=rng)
    if shape[0] > 2:
        mask = ssp.csr_array(mask.toarray() * (np.arange(shape[0]) != 2)[:, None])  # empty row
    indptr, indices = mask.indptr.astype(idt), mask.indices.astype(idt)
    A = rng.standard_normal((shape[0], k)).astype(dtype)
    B = rng.standard_normal((shape[1], k)).astype(dtype)
    if np.dtype(dtype).kind == "c":
        A = A + 1j * rng.standard_normal(A.shape).astype(dtype)
    out = np.full(len(indices), 99, dtype=dtype)
    K.csr_sddmm(indptr, indices, A, B, out)
    rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
    expected = (A[rows] * B[indices]).sum(axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-5)


@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("k", [1, 16])
def test_sddmm_large_mask(dtype, k, parallel):
    """Masks past the kernels' cache hints: rank-1 outputs of STREAM_MIN_BYTES and more are
    written around the caches; the rows of B read further ahead are prefetched (up to the
    last entry of each thread's rows)."""
    itemsize = np.dtype(dtype).itemsize
    nnz = K.STREAM_MIN_BYTES // itemsize + 1001 if k == 1 else 3001
    rng = np.random.default_rng(k)
    n_row, n_col = nnz // 7, 501
    indices = rng.integers(0, n_col, nnz).astype(np.int32)
    indptr = np.sort(rng.integers(0, nnz + 1, n_row + 1)).astype(np.int32)
    indptr[0], indptr[-1] = 0, nnz
    A = _random_values(rng, (n_row, k), dtype)
    B = _random_values(rng, (n_col, k), dtype)
    out = np.full(nnz, 99, dtype=dtype)
    K.csr_sddmm(indptr, indices, A, B, out)
    rows = np.repeat(np.arange(n_row), np.diff(indptr))
    np.testing.assert_allclose(out, (A[rows] * B[indices]).sum(axis=1), rtol=1e-5, atol=1e-5)


def test_sddmm_checks_shapes():
    indptr = np.array([0, 1, 1], np.int32)
    indices = np.array([0], np.int32)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        K.csr_sddmm(indptr, indices, np.ones((3, 2)), np.ones((2, 2)), np.empty(1))
    with pytest.raises(ValueError, match="inconsistent shapes"):
        K.csr_sddmm(indptr, indices, np.ones((2, 2)), np.ones((2, 3)), np.empty(1))


def _pattern_with_empty_row(shape, rng, idt, duplicates=False):
    """CSR arrays of a random ``shape`` pattern whose row 2 is empty; with ``duplicates``, every
    row's entries are stored twice, the second copy in reverse (unsorted) order."""
    mask = ssp.random_array(shape, density=0.4, format="csr", rng=rng)
    if shape[0] > 2:
        mask = ssp.csr_array(mask.toarray() * (np.arange(shape[0]) != 2)[:, None])
    indptr, indices = mask.indptr, mask.indices
    if duplicates:
        rows = [indices[indptr[i]:indptr[i + 1]] for i in range(shape[0])]
        indices = np.concatenate([np.concatenate((r, r[::-1])) for r in rows] or [[]])
        indptr = 2 * indptr
    return indptr.astype(idt), indices.astype(idt)


def _random_values(rng, shape, dtype):
    v = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        v = v + 1j * rng.standard_normal(shape)
    return np.ascontiguousarray(v.astype(dtype))


@pytest.mark.parametrize("idt", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("shape", [(0, 4), (6, 0), (7, 5), (40, 3)])
def test_spmv_backward_matches_numpy(idt, dtype, shape, parallel):
    rng = np.random.default_rng(10 * shape[0] + shape[1])
    indptr, indices = _pattern_with_empty_row(shape, rng, idt, duplicates=shape[0] == 40)
    data = _random_values(rng, len(indices), dtype)
    x = _random_values(rng, shape[1], dtype)
    g = _random_values(rng, shape[0], dtype)
    g_data = np.full(len(indices), 99, dtype=dtype)
    g_x = np.full(shape[1], 99, dtype=dtype)
    K.csr_spmv_backward(indptr, indices, data, x, g, g_data, g_x)
    rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
    A = ssp.csr_array((data.astype(np.complex128), indices, indptr), shape=shape)
    np.testing.assert_allclose(g_data, g[rows] * x[indices], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g_x, A.T @ g.astype(np.complex128), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", VALUE_DTYPES)
def test_spmv_backward_large_output(dtype, parallel):
    """A ``g_data`` of STREAM_MIN_BYTES or more, written around the caches."""
    rng = np.random.default_rng(3)
    nnz = K.STREAM_MIN_BYTES // np.dtype(dtype).itemsize + 1001
    n_row, n_col = nnz // 5, nnz // 3  # g_x copies no larger than A: parallel when forced
    indices = rng.integers(0, n_col, nnz).astype(np.int64)
    indptr = np.sort(rng.integers(0, nnz + 1, n_row + 1))
    indptr[0], indptr[-1] = 0, nnz
    data = _random_values(rng, nnz, dtype)
    x = _random_values(rng, n_col, dtype)
    g = _random_values(rng, n_row, dtype)
    g_data = np.full(nnz, 99, dtype=dtype)
    g_x = np.full(n_col, 99, dtype=dtype)
    K.csr_spmv_backward(indptr, indices, data, x, g, g_data, g_x)
    rows = np.repeat(np.arange(n_row), np.diff(indptr))
    np.testing.assert_allclose(g_data, g[rows] * x[indices], rtol=1e-6)
    expected = np.zeros(n_col, np.complex128)
    np.add.at(expected, indices, data.astype(np.complex128) * g[rows])
    np.testing.assert_allclose(g_x, expected, rtol=1e-4, atol=1e-4)


def _transposed(indptr, indices, n_col):
    idt = indptr.dtype
    Tp, Ti, perm = np.empty(n_col + 1, idt), np.empty(len(indices), idt), np.empty_like(indices)
    from spgrad import _cpu
    _cpu.csr_transpose_pattern(n_col, indptr, indices, Tp, Ti, perm)
    return Tp, Ti, perm


@pytest.mark.parametrize("idt", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("k", [0, 1, 3, 8, 17])  # 8 and 17: register blocks (+ remainder)
@pytest.mark.parametrize("shape", [(0, 4), (6, 0), (7, 5), (40, 3), (3, 40), (90, 90)])
def test_spmm_backward_matches_numpy_and_the_separate_kernels(idt, dtype, k, shape, parallel):
    """The fused SpMM backward (blocks of SDDMM rows and gather rows, alternating) gives
    bitwise what ``csr_sddmm`` and ``csr_matvecs_permuted`` give, and NumPy's values."""
    rng = np.random.default_rng(10 * shape[0] + shape[1] + k)
    indptr, indices = _pattern_with_empty_row(shape, rng, idt, duplicates=shape[0] == 40)
    data = _random_values(rng, len(indices), dtype)
    X = _random_values(rng, (shape[1], k), dtype)
    G = _random_values(rng, (shape[0], k), dtype)
    Tp, Ti, perm = _transposed(indptr, indices, shape[1])
    g_data = np.full(len(indices), 99, dtype=dtype)
    g_X = np.full((shape[1], k), 99, dtype=dtype)
    K.csr_spmm_backward(indptr, indices, Tp, Ti, perm, data, X, G, g_data, g_X)
    sep_data, sep_X = np.full_like(g_data, 7), np.full_like(g_X, 7)
    K.csr_sddmm(indptr, indices, G, X, sep_data)
    K.csr_matvecs_permuted(Tp, Ti, perm, data, G, sep_X)
    np.testing.assert_array_equal(g_data, sep_data)
    np.testing.assert_array_equal(g_X, sep_X)
    rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
    A = ssp.csr_array((data.astype(np.complex128), indices, indptr), shape=shape)
    np.testing.assert_allclose(g_data, (G[rows] * X[indices]).sum(axis=1), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(g_X, A.T @ G.astype(np.complex128), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("idt", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("k", [0, 1, 2, 3, 4, 5, 8, 17])  # SIMD pairs, quads, remainders
@pytest.mark.parametrize("shape", [(0, 4), (6, 0), (7, 5), (40, 3), (3, 40), (90, 90)])
@pytest.mark.parametrize("gathered", [False, True])
@pytest.mark.parametrize("order", ["sorted", "reversed"])
def test_spmm_backward_scatter_matches_numpy(idt, dtype, k, shape, gathered, order):
    """The one-sweep SpMM backward gives NumPy's values for any valid CSR (duplicates, empty
    rows, unsorted indices: the rows of g_X are zeroed up to each row's largest column), with
    and without prefetching, and overwrites both outputs."""
    rng = np.random.default_rng(10 * shape[0] + shape[1] + k)
    indptr, indices = _pattern_with_empty_row(shape, rng, idt, duplicates=shape[0] == 40)
    if order == "reversed":
        indices = np.concatenate([indices[indptr[i]:indptr[i + 1]][::-1]
                                  for i in range(shape[0])] or [indices])
    data = _random_values(rng, len(indices), dtype)
    X = _random_values(rng, (shape[1], k), dtype)
    G = _random_values(rng, (shape[0], k), dtype)
    g_data = np.full(len(indices), 99, dtype=dtype)
    g_X = np.full((shape[1], k), 99, dtype=dtype)
    K.csr_spmm_backward_scatter(indptr, indices, data, X, G, g_data, g_X, gathered)
    rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
    A = ssp.csr_array((data.astype(np.complex128), indices, indptr), shape=shape)
    np.testing.assert_allclose(g_data, (G[rows] * X[indices]).sum(axis=1), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(g_X, A.T @ G.astype(np.complex128), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_spmm_backward_scatter_large_pattern(dtype):
    """Past the prefetch distance, on a banded pattern whose rows' largest columns do not
    grow monotonically (the zeroing watermark), both prefetch modes agree with SciPy."""
    rng = np.random.default_rng(21)
    n, k = 3000, 16
    rows = np.repeat(np.arange(n), 6)
    cols = np.clip(rows + rng.integers(-300, 300, rows.size), 0, n - 1)
    S = ssp.csr_array((rng.standard_normal(rows.size), (rows, cols)), shape=(n, n))
    indptr, indices = S.indptr.astype(np.int32), S.indices.astype(np.int32)
    data = S.data.astype(dtype)
    X = rng.standard_normal((n, k)).astype(dtype)
    G = rng.standard_normal((n, k)).astype(dtype)
    ref_X = S.astype(np.float64).T @ G.astype(np.float64)
    r = np.repeat(np.arange(n), np.diff(indptr))
    ref_data = (G[r].astype(np.float64) * X[indices].astype(np.float64)).sum(axis=1)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    for gathered in (False, True):
        g_data, g_X = np.full(S.nnz, np.nan, dtype), np.full((n, k), np.nan, dtype)
        K.csr_spmm_backward_scatter(indptr, indices, data, X, G, g_data, g_X, gathered)
        np.testing.assert_allclose(g_data, ref_data, **tol)
        np.testing.assert_allclose(g_X, ref_X, **tol)


def test_spmm_backward_scatter_checks_shapes():
    indptr, indices = np.array([0, 1, 1], np.int32), np.array([0], np.int32)
    args = (indptr, indices, np.ones(1))
    with pytest.raises(ValueError, match="inconsistent shapes"):  # G has 3 rows, A 2
        K.csr_spmm_backward_scatter(*args, np.ones((3, 2)), np.ones((3, 2)), np.empty(1),
                                    np.empty((3, 2)))
    with pytest.raises(ValueError, match="inconsistent shapes"):  # g_X has 2 rows, X 3
        K.csr_spmm_backward_scatter(*args, np.ones((3, 2)), np.ones((2, 2)), np.empty(1),
                                    np.empty((2, 2)))
    with pytest.raises(ValueError, match="inconsistent shapes"):  # g_data too short
        K.csr_spmm_backward_scatter(*args, np.ones((3, 2)), np.ones((2, 2)), np.empty(0),
                                    np.empty((3, 2)))


def test_spmm_backward_checks_shapes():
    indptr, indices = np.array([0, 1, 1], np.int32), np.array([0], np.int32)
    Tp, Ti, perm = _transposed(indptr, indices, 3)
    args = (indptr, indices, Tp, Ti, perm, np.ones(1))
    with pytest.raises(ValueError, match="inconsistent shapes"):  # X has 2 rows, A 3 columns
        K.csr_spmm_backward(*args, np.ones((2, 2)), np.ones((2, 2)), np.empty(1),
                            np.empty((3, 2)))
    with pytest.raises(ValueError, match="inconsistent shapes"):  # G has 3 columns, X 2
        K.csr_spmm_backward(*args, np.ones((3, 2)), np.ones((2, 3)), np.empty(1),
                            np.empty((3, 2)))
    with pytest.raises(ValueError, match="inconsistent shapes"):  # a transpose of 0 entries
        K.csr_spmm_backward(indptr, indices, np.zeros(4, np.int32), Ti[:0], perm[:0],
                            np.ones(1), np.ones((3, 2)), np.ones((2, 2)), np.empty(1),
                            np.empty((3, 2)))


def test_spmv_backward_checks_shapes():
    indptr = np.array([0, 1, 1], np.int32)
    indices = np.array([0], np.int32)
    data = np.ones(1)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        K.csr_spmv_backward(indptr, indices, data, np.ones(3), np.ones(3), np.empty(1),
                            np.empty(3))
    with pytest.raises(ValueError, match="inconsistent shapes"):
        K.csr_spmv_backward(indptr, indices, data, np.ones(3), np.ones(2), np.empty(1),
                            np.empty(2))


@pytest.mark.parametrize("idt", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("shapes", [((0, 4), (4, 3)), ((5, 0), (0, 6)), ((3, 4), (4, 0)),
                                    ((30, 20), (20, 25))])
def test_spgemm_backward_matches_numpy(idt, dtype, shapes, parallel):
    (m, inner), (_, n) = shapes
    rng = np.random.default_rng(m + inner + n)
    Ap, Aj = _pattern_with_empty_row((m, inner), rng, idt, duplicates=m == 30)
    Bp, Bj = _pattern_with_empty_row((inner, n), rng, idt)
    Ax, Bx = _random_values(rng, len(Aj), dtype), _random_values(rng, len(Bj), dtype)
    ones = (np.ones(len(Aj)), np.ones(len(Bj)))
    pattern = (ssp.csr_array((ones[0], Aj, Ap), shape=(m, inner))
               @ ssp.csr_array((ones[1], Bj, Bp), shape=(inner, n)))
    Cp, Cj = pattern.indptr.astype(idt), pattern.indices.astype(idt)
    Gc = _random_values(rng, len(Cj), dtype)
    g_A = np.full(len(Aj), 99, dtype=dtype)
    g_B = np.full(len(Bj), 99, dtype=dtype)
    K.csr_spgemm_backward(n, Ap, Aj, Ax, Bp, Bj, Bx, Cp, Cj, Gc, g_A, g_B)
    G = ssp.csr_array((Gc.astype(np.complex128), Cj, Cp), shape=(m, n)).toarray()
    A = ssp.csr_array((Ax.astype(np.complex128), Aj, Ap), shape=(m, inner)).toarray()
    B = ssp.csr_array((Bx.astype(np.complex128), Bj, Bp), shape=(inner, n)).toarray()
    a_rows = np.repeat(np.arange(m), np.diff(Ap))
    b_rows = np.repeat(np.arange(inner), np.diff(Bp))
    np.testing.assert_allclose(g_A, (G @ B.T)[a_rows, Aj], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(g_B, (A.T @ G)[b_rows, Bj], rtol=1e-4, atol=1e-5)


def test_spgemm_backward_checks_lengths():
    Ap = np.array([0, 1], np.int32)
    Aj = np.array([0], np.int32)
    with pytest.raises(ValueError, match="do not describe a product"):
        K.csr_spgemm_backward(1, Ap, Aj, np.ones(1), Ap, Aj, np.ones(1),
                              np.array([0, 1, 1], np.int32), Aj, np.ones(1),
                              np.empty(1), np.empty(1))
    with pytest.raises(ValueError, match="shorter"):
        K.csr_spgemm_backward(1, Ap, Aj, np.ones(1), Ap, Aj, np.ones(1), Ap, Aj, np.ones(1),
                              np.empty(0), np.empty(1))
