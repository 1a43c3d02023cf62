"""Direct unit tests of the CPU CSR/COO kernels (spgrad._cpu._csr_kernels).

Every kernel is checked against a NumPy/SciPy (or plain-Python) reference on random inputs for
both index dtypes and all six value dtypes, on empty shapes, empty rows, duplicates, unsorted
indices, explicit zeros and long rows; each test runs serially and with the parallel code path
forced (MIN_PARALLEL_WORK = 0, three threads, so row splits are uneven).
"""

import numpy as np
import pytest
import scipy.sparse as ss
from hypothesis import given, settings
from hypothesis import strategies as st

from spgrad import _cpu
from spgrad._cpu import _csr_kernels as K
from spgrad._cpu import _masked as M

INDEX_DTYPES = [np.int32, np.int64]
VALUE_DTYPES = [np.int32, np.int64, np.float32, np.float64, np.complex64, np.complex128]
INT_VALUES = (np.int32, np.int64)

# name -> (n_row, n_col, max entries per row, fraction of empty rows)
SHAPES = {
    "0x0": (0, 0, 0, 0.0),
    "0x5": (0, 5, 0, 0.0),
    "5x0": (5, 0, 0, 0.0),
    "nnz0": (6, 4, 0, 0.0),
    "random": (37, 23, 9, 0.3),
    "long_rows": (5, 40, 3 * K.INSERTION_SORT_MAX + 120, 0.2),
}


@pytest.fixture(params=["serial", "parallel"])
def mode(request, monkeypatch):
    if request.param == "parallel":
        monkeypatch.setattr(K, "MIN_PARALLEL_WORK", 0)
        monkeypatch.setattr(M, "MIN_PARALLEL_WORK", 0)
        _cpu.set_num_threads(3)
    else:
        _cpu.set_num_threads(1)
    yield request.param
    _cpu.set_num_threads(0)


def random_values(rng, n, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "i":
        v = rng.integers(-4, 5, size=n)
    elif dtype.kind == "f":
        v = rng.standard_normal(n)
        v[rng.random(n) < 0.15] = 0.0
    else:
        v = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        v[rng.random(n) < 0.15] = 0.0
    return v.astype(dtype)


def random_csr(rng, n_row, n_col, max_row, empty_frac, idtype, vdtype):
    """Raw CSR arrays with empty rows, duplicates, unsorted indices and explicit zeros."""
    if n_col == 0:
        max_row = 0
    lengths = rng.integers(0, max_row + 1, size=n_row)
    lengths[rng.random(n_row) < empty_frac] = 0
    indptr = np.zeros(n_row + 1, dtype=idtype)
    np.cumsum(lengths, out=indptr[1:])
    nnz = int(indptr[-1])
    # few distinct columns per row relative to its length -> many duplicates
    indices = rng.integers(0, max(n_col, 1), size=nnz).astype(idtype)
    data = random_values(rng, nnz, vdtype)
    return indptr, indices, data


def make(name, idtype, vdtype, seed=0):
    rng = np.random.default_rng(seed)
    n_row, n_col, max_row, empty = SHAPES[name]
    return (n_row, n_col) + random_csr(rng, n_row, n_col, max_row, empty, idtype, vdtype)


def scipy_csr(n_row, n_col, indptr, indices, data):
    return ss.csr_array((data, indices, indptr), shape=(n_row, n_col))


def row_of_entries(indptr):
    return np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))


def assert_close(actual, desired):
    dt = np.dtype(desired.dtype)
    assert actual.dtype == dt
    if dt.kind in "iu":
        np.testing.assert_array_equal(actual, desired)
    else:
        tol = 1e-4 if dt in (np.float32, np.complex64) else 1e-12
        np.testing.assert_allclose(actual, desired, rtol=tol, atol=tol)


def assert_exact(actual, desired):
    assert actual.dtype == desired.dtype
    np.testing.assert_array_equal(actual, desired)


all_dtypes = pytest.mark.parametrize(
    "idtype,vdtype", [(i, v) for i in INDEX_DTYPES for v in VALUE_DTYPES]
)
all_shapes = pytest.mark.parametrize("name", list(SHAPES))


# ------------------------------------------------------------------------------------------------
# products with dense operands


@all_shapes
@all_dtypes
def test_csr_matvec(name, idtype, vdtype, mode):
    n_row, n_col, indptr, indices, data = make(name, idtype, vdtype)
    x = random_values(np.random.default_rng(1), n_col, vdtype)
    y = np.full(n_row, 7, dtype=vdtype)
    K.csr_matvec(indptr, indices, data, x, y)
    # same arithmetic order as SciPy's csr_matvec, serial or parallel: bitwise equal
    assert_exact(y, scipy_csr(n_row, n_col, indptr, indices, data) @ x)


@all_shapes
@all_dtypes
@pytest.mark.parametrize("k", [1, 2, 5, 7, 8, 13, 16, 24, 35])  # blocks of 16, 8, the rest
def test_csr_matvecs(name, idtype, vdtype, k, mode):
    n_row, n_col, indptr, indices, data = make(name, idtype, vdtype)
    X = random_values(np.random.default_rng(1), n_col * k, vdtype).reshape(n_col, k)
    Y = np.full((n_row, k), 7, dtype=vdtype)
    K.csr_matvecs(indptr, indices, data, X, Y)
    assert_exact(Y, scipy_csr(n_row, n_col, indptr, indices, data) @ X)


@all_shapes
@all_dtypes
def test_csr_matvec_transpose(name, idtype, vdtype, mode):
    n_row, n_col, indptr, indices, data = make(name, idtype, vdtype)
    x = random_values(np.random.default_rng(1), n_row, vdtype)
    y = np.full(n_col, 7, dtype=vdtype)
    K.csr_matvec_transpose(indptr, indices, data, x, y)
    ref = scipy_csr(n_row, n_col, indptr, indices, data).T @ x
    if mode == "serial":
        assert_exact(y, ref)
    else:
        assert_close(y, ref)


@all_shapes
@all_dtypes
@pytest.mark.parametrize("k", [1, 2, 5, 7, 8, 13, 16, 24, 35])  # blocks of 16, 8, the rest
def test_csr_matvecs_transpose(name, idtype, vdtype, k, mode):
    n_row, n_col, indptr, indices, data = make(name, idtype, vdtype)
    X = random_values(np.random.default_rng(1), n_row * k, vdtype).reshape(n_row, k)
    Y = np.full((n_col, k), 7, dtype=vdtype)
    K.csr_matvecs_transpose(indptr, indices, data, X, Y)
    ref = scipy_csr(n_row, n_col, indptr, indices, data).T @ X
    if mode == "serial" or k >= 3:  # k >= nthreads: column blocks, same order as serial
        assert_exact(Y, ref)
    else:
        assert_close(Y, ref)


@all_shapes
@all_dtypes
@pytest.mark.parametrize("k", [1, 2, 5, 7, 8, 13, 16, 24, 35])  # blocks of 16, 8, the rest
def test_csr_matvecs_permuted(name, idtype, vdtype, k, mode):
    """The transposed product as a gather over the transposed pattern with its map: the same
    as SciPy's ``A.T @ X`` up to rounding (entries are summed in the transpose's order)."""
    n_row, n_col, indptr, indices, data = make(name, idtype, vdtype)
    nnz = int(indptr[-1])
    Tp, Ti, perm = (np.empty(n_col + 1, idtype), np.empty(nnz, idtype),
                    np.empty(nnz, idtype))
    K.csr_transpose_pattern(n_col, indptr, indices, Tp, Ti, perm)
    X = random_values(np.random.default_rng(1), n_row * k, vdtype).reshape(n_row, k)
    Y = np.full((n_col, k), 7, dtype=vdtype)
    M.csr_matvecs_permuted(Tp, Ti, perm, data, X, Y)
    assert_close(Y, scipy_csr(n_row, n_col, indptr, indices, data).T @ X)
    if nnz:
        with pytest.raises(ValueError, match="perm must have at least"):
            M.csr_matvecs_permuted(Tp, Ti, perm[:nnz - 1], data, X, Y)


def test_private_buffer_paths_differ_from_serial_only_in_rounding(monkeypatch):
    # many rows, few columns: the per-thread buffer reduction is taken for k < nthreads
    rng = np.random.default_rng(5)
    indptr, indices, data = random_csr(rng, 3000, 50, 20, 0.1, np.int64, np.float64)
    X = rng.standard_normal((3000, 2))
    monkeypatch.setattr(K, "MIN_PARALLEL_WORK", 0)
    try:
        for nthreads in (2, 3, 4):
            _cpu.set_num_threads(nthreads)
            Y = np.empty((50, 2))
            K.csr_matvecs_transpose(indptr, indices, data, X, Y)
            y = np.empty(50)
            K.csr_matvec_transpose(indptr, indices, data, X[:, 0].copy(), y)
            A = scipy_csr(3000, 50, indptr, indices, data)
            np.testing.assert_allclose(Y, A.T @ X, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(y, A.T @ X[:, 0], rtol=1e-12, atol=1e-12)
    finally:
        _cpu.set_num_threads(0)


def test_default_threshold_parallel_path():
    # above the real threshold, with the default thread count
    rng = np.random.default_rng(11)
    n = 20_000
    indptr, indices, data = random_csr(rng, n, n, 8, 0.0, np.int32, np.float64)
    assert indptr[-1] >= K.MIN_PARALLEL_WORK
    _cpu.set_num_threads(2)
    try:
        A = scipy_csr(n, n, indptr, indices, data)
        x = rng.standard_normal(n)
        y = np.empty(n)
        K.csr_matvec(indptr, indices, data, x, y)
        assert_exact(y, A @ x)
        bp = np.empty(n + 1, np.int32)
        bj = np.empty(indptr[-1], np.int32)
        bx = np.empty(indptr[-1])
        K.csr_transpose(n, indptr, indices, data, bp, bj, bx)
        T = A.T.tocsr()
        assert_exact(bp, T.indptr)
        assert_exact(bj, T.indices)
        assert_exact(bx, T.data)
        K.csr_matvec_transpose(indptr, indices, data, x, y)
        np.testing.assert_allclose(y, A.T @ x, rtol=1e-12, atol=1e-12)
    finally:
        _cpu.set_num_threads(0)


# ------------------------------------------------------------------------------------------------
# counting sorts


def expected_transpose(n_col, indptr, indices):
    nnz = int(indptr[-1])
    perm = np.argsort(indices[:nnz], kind="stable")
    rows = row_of_entries(indptr)
    out_indptr = np.zeros(n_col + 1, dtype=indptr.dtype)
    np.cumsum(np.bincount(indices[:nnz], minlength=n_col), out=out_indptr[1:])
    return out_indptr, rows[perm].astype(indptr.dtype), perm.astype(indptr.dtype)


@all_shapes
@all_dtypes
def test_csr_transpose(name, idtype, vdtype, mode):
    n_row, n_col, indptr, indices, data = make(name, idtype, vdtype)
    nnz = len(data)
    bp = np.full(n_col + 1, -1, idtype)
    bj = np.full(nnz, -1, idtype)
    bx = np.empty(nnz, vdtype)
    K.csr_transpose(n_col, indptr, indices, data, bp, bj, bx)
    ep, ej, perm = expected_transpose(n_col, indptr, indices)
    assert_exact(bp, ep)
    assert_exact(bj, ej)
    assert_exact(bx, data[perm])
    # the output is the CSC of the input
    assert_exact(scipy_csr(n_col, n_row, bp, bj, bx).toarray(),
                 scipy_csr(n_row, n_col, indptr, indices, data).toarray().T)


@all_shapes
@pytest.mark.parametrize("idtype", INDEX_DTYPES)
def test_csr_transpose_pattern(name, idtype, mode):
    n_row, n_col, indptr, indices, data = make(name, idtype, np.float64)
    nnz = len(data)
    bp = np.full(n_col + 1, -1, idtype)
    bj = np.full(nnz, -1, idtype)
    perm = np.full(nnz, -1, idtype)
    K.csr_transpose_pattern(n_col, indptr, indices, bp, bj, perm)
    ep, ej, eperm = expected_transpose(n_col, indptr, indices)
    assert_exact(bp, ep)
    assert_exact(bj, ej)
    assert_exact(perm, eperm)


def random_coo(rng, n_row, n_col, nnz, idtype, vdtype):
    if n_row == 0 or n_col == 0:
        nnz = 0
    row = rng.integers(0, max(n_row, 1), size=nnz).astype(idtype)
    col = rng.integers(0, max(n_col, 1), size=nnz).astype(idtype)
    return row, col, random_values(rng, nnz, vdtype)


COO_SHAPES = [(0, 0, 0), (0, 4, 0), (4, 0, 0), (5, 3, 0), (31, 17, 200), (3, 50, 400)]


@pytest.mark.parametrize("n_row,n_col,nnz", COO_SHAPES)
@all_dtypes
def test_coo_tocsr(n_row, n_col, nnz, idtype, vdtype, mode):
    row, col, data = random_coo(np.random.default_rng(2), n_row, n_col, nnz, idtype, vdtype)
    nnz = len(row)
    bp = np.full(n_row + 1, -1, idtype)
    bj = np.full(nnz, -1, idtype)
    bx = np.empty(nnz, vdtype)
    K.coo_tocsr(n_row, row, col, data, bp, bj, bx)
    perm = np.argsort(row, kind="stable")
    ep = np.zeros(n_row + 1, idtype)
    np.cumsum(np.bincount(row, minlength=n_row), out=ep[1:])
    assert_exact(bp, ep)
    assert_exact(bj, col[perm])
    assert_exact(bx, data[perm])


@pytest.mark.parametrize("n_row,n_col,nnz", COO_SHAPES)
@pytest.mark.parametrize("idtype", INDEX_DTYPES)
def test_coo_tocsr_pattern(n_row, n_col, nnz, idtype, mode):
    row, col, _ = random_coo(np.random.default_rng(3), n_row, n_col, nnz, idtype, np.float64)
    nnz = len(row)
    bp = np.full(n_row + 1, -1, idtype)
    bj = np.full(nnz, -1, idtype)
    perm = np.full(nnz, -1, idtype)
    K.coo_tocsr_pattern(n_row, row, col, bp, bj, perm)
    eperm = np.argsort(row, kind="stable")
    assert_exact(perm, eperm.astype(idtype))
    assert_exact(bj, col[eperm])
    assert_exact(bp[1:], np.cumsum(np.bincount(row, minlength=n_row)).astype(idtype))


@settings(max_examples=60, deadline=None)
@given(
    n_row=st.integers(0, 12),
    n_col=st.integers(0, 12),
    nnz=st.integers(0, 80),
    seed=st.integers(0, 2**32 - 1),
    threads=st.sampled_from([1, 2, 4]),
)
def test_counting_sorts_roundtrip_hypothesis(n_row, n_col, nnz, seed, threads):
    # COO -> CSR -> transpose -> transpose gives back the CSR, on any thread count
    rng = np.random.default_rng(seed)
    row, col, data = random_coo(rng, n_row, n_col, nnz, np.int64, np.float64)
    nnz = len(row)
    old = K.MIN_PARALLEL_WORK
    K.MIN_PARALLEL_WORK = 0
    _cpu.set_num_threads(threads)
    try:
        p, j, x = np.empty(n_row + 1, np.int64), np.empty(nnz, np.int64), np.empty(nnz)
        K.coo_tocsr(n_row, row, col, data, p, j, x)
        tp, tj, tx = np.empty(n_col + 1, np.int64), np.empty(nnz, np.int64), np.empty(nnz)
        K.csr_transpose(n_col, p, j, x, tp, tj, tx)
        p2, j2, x2 = np.empty(n_row + 1, np.int64), np.empty(nnz, np.int64), np.empty(nnz)
        K.csr_transpose(n_row, tp, tj, tx, p2, j2, x2)
    finally:
        K.MIN_PARALLEL_WORK = old
        _cpu.set_num_threads(0)
    assert_exact(p2, p)
    # transposing twice sorts each row's entries by column, stably
    order = np.lexsort((j, row_of_entries(p)))
    assert_exact(j2, j[order])
    assert_exact(x2, x[order])
    dense = np.zeros((n_row, n_col))
    np.add.at(dense, (row, col), data)
    np.testing.assert_allclose(scipy_csr(n_row, n_col, p, j, x).toarray(), dense)


# ------------------------------------------------------------------------------------------------
# sorting indices


def sorted_triplets(rows, cols, data):
    """Entries as a canonical sequence: sorted by row, column, then value."""
    vals = data.astype(np.complex128)
    order = np.lexsort((vals.imag, vals.real, cols, rows))
    return rows[order], cols[order], data[order]


def assert_rows_sorted(indptr, indices):
    rows = row_of_entries(indptr)
    same_row = rows[1:] == rows[:-1]
    assert np.all(np.diff(indices.astype(np.int64))[same_row] >= 0)


@all_shapes
@all_dtypes
def test_csr_sort_indices(name, idtype, vdtype, mode):
    n_row, n_col, indptr, indices, data = make(name, idtype, vdtype)
    ind, dat = indices.copy(), data.copy()
    K.csr_sort_indices(indptr, ind, dat)
    assert_rows_sorted(indptr, ind)
    rows = row_of_entries(indptr)
    for a, b in zip(sorted_triplets(rows, ind, dat), sorted_triplets(rows, indices, data)):
        assert_exact(a, b)


@all_shapes
@pytest.mark.parametrize("idtype", INDEX_DTYPES)
def test_csr_sort_indices_pattern(name, idtype, mode):
    n_row, n_col, indptr, indices, data = make(name, idtype, np.float64)
    ind = indices.copy()
    perm = np.full(len(ind), -1, idtype)
    K.csr_sort_indices_pattern(indptr, ind, perm)
    assert_rows_sorted(indptr, ind)
    assert_exact(np.sort(perm), np.arange(len(ind), dtype=idtype))
    rows = row_of_entries(indptr)
    assert_exact(rows[perm], rows)  # permutes within rows only
    assert_exact(ind, indices[perm])


@pytest.mark.parametrize("depth", [0, 1, 3, 64])
@pytest.mark.parametrize("kind", ["random", "few_keys", "sorted", "reversed", "organ_pipe"])
@pytest.mark.parametrize("n", [0, 1, 2, 17, 100, 1001])
def test_sort_pairs_introsort_and_heapsort(depth, kind, n):
    rng = np.random.default_rng(n)
    keys = {
        "random": rng.integers(0, 10 * n + 1, size=n),
        "few_keys": rng.integers(0, 3, size=n),
        "sorted": np.arange(n),
        "reversed": np.arange(n)[::-1],
        "organ_pipe": np.concatenate([np.arange(n // 2), np.arange(n - n // 2)[::-1]]),
    }[kind].astype(np.int64)
    vals = keys * (n + 1) + np.arange(n)  # value identifies the original pair
    k, v = keys.copy(), vals.copy()
    K._sort_pairs_for_testing(k, v, depth)
    assert_exact(k, np.sort(keys))
    assert_exact(np.sort(v), np.sort(vals))
    assert_exact(v // (n + 1), k)


@all_shapes
@pytest.mark.parametrize("idtype", INDEX_DTYPES)
def test_has_sorted_and_canonical(name, idtype):
    n_row, n_col, indptr, indices, data = make(name, idtype, np.float64)
    rows = row_of_entries(indptr)
    same_row = rows[1:] == rows[:-1]
    d = np.diff(indices.astype(np.int64))[same_row]
    assert K.csr_has_sorted_indices(indptr, indices) is bool(np.all(d >= 0))
    assert K.csr_has_canonical_format(indptr, indices) is bool(np.all(d > 0))
    order = np.lexsort((indices, rows))
    srt = indices[order]
    assert K.csr_has_sorted_indices(indptr, srt) is True
    dd = np.diff(srt.astype(np.int64))[same_row]
    assert K.csr_has_canonical_format(indptr, srt) is bool(np.all(dd > 0))
    # one equal pair makes a row non-canonical but still sorted
    ip = np.array([0, 2, 5], idtype)
    assert K.csr_has_sorted_indices(ip, np.array([0, 3, 1, 1, 2], idtype)) is True
    assert K.csr_has_canonical_format(ip, np.array([0, 3, 1, 1, 2], idtype)) is False
    assert K.csr_has_canonical_format(ip, np.array([0, 3, 1, 2, 4], idtype)) is True
    assert K.csr_has_sorted_indices(ip, np.array([0, 3, 1, 2, 0], idtype)) is False
    # a decrease across a row boundary is fine
    assert K.csr_has_canonical_format(ip, np.array([5, 6, 0, 1, 2], idtype)) is True


# ------------------------------------------------------------------------------------------------
# compaction


def sorted_csr(name, idtype, vdtype):
    n_row, n_col, indptr, indices, data = make(name, idtype, vdtype)
    order = np.lexsort((indices, row_of_entries(indptr)))  # stable within equal columns
    return n_row, n_col, indptr, indices[order], data[order]


def reference_sum_duplicates(indptr, indices, data):
    out_p, out_j, out_x, seg = [0], [], [], []
    for i in range(len(indptr) - 1):
        for p in range(indptr[i], indptr[i + 1]):
            if p > indptr[i] and indices[p] == indices[p - 1]:
                out_x[-1] = out_x[-1] + data[p]
            else:
                out_j.append(indices[p])
                out_x.append(data[p])
            seg.append(len(out_j) - 1)
        out_p.append(len(out_j))
    dt = indptr.dtype
    return (np.array(out_p, dt), np.array(out_j, dt), np.array(out_x, data.dtype),
            np.array(seg, dt))


@all_shapes
@all_dtypes
def test_csr_sum_duplicates(name, idtype, vdtype):
    n_row, n_col, indptr, indices, data = sorted_csr(name, idtype, vdtype)
    ep, ej, ex, _ = reference_sum_duplicates(indptr, indices, data)
    p, j, x = indptr.copy(), indices.copy(), data.copy()
    n = K.csr_sum_duplicates(p, j, x)
    assert n == len(ej)
    assert_exact(p, ep)
    assert_exact(j[:n], ej)
    assert_exact(x[:n], ex)  # same summation order: bitwise
    assert K.csr_has_canonical_format(p, j[:n])


@pytest.mark.parametrize("vdtype", VALUE_DTYPES)
def test_csr_sum_duplicates_keeps_zeros(vdtype):
    p = np.array([0, 3, 3, 5], np.int64)
    j = np.array([1, 1, 4, 0, 2], np.int64)
    x = np.array([2, -2, 0, 1, 1], vdtype)
    assert K.csr_sum_duplicates(p, j, x) == 4
    assert_exact(p, np.array([0, 2, 2, 4], np.int64))
    assert_exact(j[:4], np.array([1, 4, 0, 2], np.int64))
    assert_exact(x[:4], np.array([0, 0, 1, 1], vdtype))


@all_shapes
@pytest.mark.parametrize("idtype", INDEX_DTYPES)
def test_csr_sum_duplicates_pattern(name, idtype):
    n_row, n_col, indptr, indices, data = sorted_csr(name, idtype, np.float64)
    ep, ej, _, eseg = reference_sum_duplicates(indptr, indices, data)
    nnz = len(indices)
    p = np.full(n_row + 1, -1, idtype)
    j = np.full(nnz, -1, idtype)
    seg = np.full(nnz, -1, idtype)
    ind_before = indices.copy()
    n = K.csr_sum_duplicates_pattern(indptr, indices, p, j, seg)
    assert n == len(ej)
    assert_exact(indices, ind_before)
    assert_exact(p, ep)
    assert_exact(j[:n], ej)
    assert_exact(seg, eseg)


@all_shapes
@all_dtypes
def test_csr_eliminate_zeros(name, idtype, vdtype):
    n_row, n_col, indptr, indices, data = make(name, idtype, vdtype)
    if np.dtype(vdtype).kind == "f" and len(data) > 3:
        data[1] = -0.0
        data[2] = np.nan
    keep = data != 0
    rows = row_of_entries(indptr)
    p, j, x = indptr.copy(), indices.copy(), data.copy()
    n = K.csr_eliminate_zeros(p, j, x)
    assert n == np.count_nonzero(keep)
    ep = np.zeros(n_row + 1, idtype)
    np.cumsum(np.bincount(rows[keep], minlength=n_row), out=ep[1:])
    assert_exact(p, ep)
    assert_exact(j[:n], indices[keep])
    assert_exact(x[:n], data[keep])


# ------------------------------------------------------------------------------------------------
# SpGEMM


def reference_matmat(n_row, n_col, Ap, Aj, Ax, Bp, Bj, Bx):
    """Plain-Python SpGEMM: columns in order of first appearance, SciPy's summation order."""
    Cp, Cj, Cx = [0], [], []
    for i in range(n_row):
        slot = {}
        for p in range(Ap[i], Ap[i + 1]):
            a = Aj[p]
            for q in range(Bp[a], Bp[a + 1]):
                j = Bj[q]
                prod = Ax[p] * Bx[q]
                if j in slot:
                    Cx[slot[j]] = Cx[slot[j]] + prod
                else:
                    slot[j] = len(Cj)
                    Cj.append(j)
                    Cx.append(prod)
        Cp.append(len(Cj))
    return Cp, Cj, Cx


MATMAT_SHAPES = [
    (0, 0, 0),
    (0, 3, 4),
    (4, 0, 3),
    (3, 4, 0),
    (19, 13, 23),
    (4, 7, 300),
]


@pytest.mark.parametrize("m,kdim,n", MATMAT_SHAPES)
@all_dtypes
def test_csr_matmat(m, kdim, n, idtype, vdtype, mode):
    rng = np.random.default_rng(m * 100 + n)
    Ap, Aj, Ax = random_csr(rng, m, kdim, 6, 0.2, idtype, vdtype)
    Bp, Bj, Bx = random_csr(rng, kdim, n, 40, 0.2, idtype, vdtype)
    Cp64 = np.full(m + 1, -1, np.int64)
    total = K.csr_matmat_row_nnz(n, Ap, Aj, Bp, Bj, Cp64)
    ep, ej, ex = reference_matmat(m, n, Ap, Aj, Ax, Bp, Bj, Bx)
    assert total == len(ej)
    assert_exact(Cp64, np.array(ep, np.int64))
    Cp = Cp64.astype(idtype)
    Cj = np.full(total, -1, idtype)
    Cx = np.empty(total, vdtype)
    zeros = K.csr_matmat(n, Ap, Aj, Ax, Bp, Bj, Bx, Cp, Cj, Cx)
    assert_exact(Cj, np.array(ej, idtype))
    assert_exact(Cx, np.array(ex, vdtype))
    assert zeros == np.count_nonzero(Cx == 0)
    # after dropping zeros and sorting: equal to SciPy, bitwise
    nnz = K.csr_eliminate_zeros(Cp, Cj, Cx)
    Cj, Cx = Cj[:nnz], Cx[:nnz]
    K.csr_sort_indices(Cp, Cj, Cx)
    ref = scipy_csr(m, kdim, Ap, Aj, Ax) @ scipy_csr(kdim, n, Bp, Bj, Bx)
    ref = ss.csr_array(ref)
    ref.sort_indices()
    assert_exact(Cp, ref.indptr.astype(idtype))
    assert_exact(Cj, ref.indices.astype(idtype))
    assert_exact(Cx, ref.data)


def test_csr_matmat_row_nnz_counts_cancellations():
    # [1 1] @ [[1], [-1]] has a structural entry whose value is 0
    Ap = np.array([0, 2], np.int32)
    Aj = np.array([0, 1], np.int32)
    Ax = np.array([1.0, 1.0])
    Bp = np.array([0, 1, 2], np.int32)
    Bj = np.array([0, 0], np.int32)
    Bx = np.array([1.0, -1.0])
    Cp = np.empty(2, np.int64)
    assert K.csr_matmat_row_nnz(1, Ap, Aj, Bp, Bj, Cp) == 1
    Cj, Cx = np.empty(1, np.int32), np.empty(1)
    assert K.csr_matmat(1, Ap, Aj, Ax, Bp, Bj, Bx, Cp.astype(np.int32), Cj, Cx) == 1
    assert Cx[0] == 0


# ------------------------------------------------------------------------------------------------
# dense output, diagonal, row expansion


def dense_outputs(n_row, n_col, vdtype):
    c = np.zeros((n_row, n_col), vdtype)
    f = np.zeros((n_row, n_col), vdtype, order="F")
    big = np.zeros((2 * n_row + 1, 3 * n_col + 2), vdtype)
    strided = big[1::2, ::-3][:n_row, :n_col]  # negative, non-unit strides
    assert strided.shape == (n_row, n_col)
    return {"C": c, "F": f, "strided": strided}


@all_shapes
@all_dtypes
def test_csr_todense(name, idtype, vdtype, mode):
    n_row, n_col, indptr, indices, data = make(name, idtype, vdtype)
    ref = np.zeros((n_row, n_col), vdtype)
    np.add.at(ref, (row_of_entries(indptr), indices), data)  # in entry order, like the kernel
    for out in dense_outputs(n_row, n_col, vdtype).values():
        K.csr_todense(indptr, indices, data, out)
        assert_exact(np.ascontiguousarray(out), ref)
    assert_exact(scipy_csr(n_row, n_col, indptr, indices, data).toarray(), ref)


@pytest.mark.parametrize("n_row,n_col,nnz", COO_SHAPES)
@all_dtypes
def test_coo_todense(n_row, n_col, nnz, idtype, vdtype):
    row, col, data = random_coo(np.random.default_rng(4), n_row, n_col, nnz, idtype, vdtype)
    ref = np.zeros((n_row, n_col), vdtype)
    np.add.at(ref, (row, col), data)
    for out in dense_outputs(n_row, n_col, vdtype).values():
        K.coo_todense(row, col, data, out)
        assert_exact(np.ascontiguousarray(out), ref)


@all_shapes
@all_dtypes
def test_csr_diagonal(name, idtype, vdtype, mode):
    n_row, n_col, indptr, indices, data = make(name, idtype, vdtype)
    A = scipy_csr(n_row, n_col, indptr, indices, data)
    for k in sorted({-n_row - 1, -n_row, -3, -1, 0, 1, 2, n_col - 1, n_col, n_col + 2}):
        length = max(0, min(n_row + min(k, 0), n_col - max(k, 0)))
        out = np.zeros(length, vdtype)
        K.csr_diagonal(k, n_row, n_col, indptr, indices, data, out)
        if length:
            assert_exact(out, A.diagonal(k))


@all_shapes
@pytest.mark.parametrize("idtype", INDEX_DTYPES)
def test_expand_indptr(name, idtype, mode):
    n_row, n_col, indptr, indices, data = make(name, idtype, np.float64)
    rows = np.full(len(indices), -1, idtype)
    K.expand_indptr(indptr, rows)
    assert_exact(rows, row_of_entries(indptr).astype(idtype))


# ------------------------------------------------------------------------------------------------
# interface


def test_all_lists_the_public_kernels():
    public = {n for n in dir(K) if not n.startswith("_") and callable(getattr(K, n))}
    assert set(K.__all__) == public
    for name in K.__all__:
        assert getattr(_cpu, name) is getattr(K, name)
        assert "Parameters" in getattr(K, name).__doc__


def test_inconsistent_lengths_raise():
    indptr = np.array([0, 2, 3], np.int32)
    indices = np.array([0, 1, 1], np.int32)
    data = np.ones(3)
    with pytest.raises(ValueError, match="y must have length 2"):
        K.csr_matvec(indptr, indices, data, np.ones(2), np.empty(3))
    with pytest.raises(ValueError, match="indptr"):
        K.csr_matvec(np.empty(0, np.int32), indices, data, np.ones(2), np.empty(0))
    with pytest.raises(ValueError, match="data must have at least 3"):
        K.csr_matvec(indptr, indices, data[:2], np.ones(2), np.empty(2))
    with pytest.raises(ValueError, match="out_indptr"):
        K.csr_transpose(2, indptr, indices, data, np.empty(2, np.int32),
                        np.empty(3, np.int32), np.empty(3))
    with pytest.raises(ValueError, match="Cx"):
        K.csr_matmat(2, indptr, indices, data, indptr, indices, data,
                     indptr, np.empty(3, np.int32), np.empty(1))
    with pytest.raises((TypeError, ValueError)):  # mixed index dtypes have no kernel
        K.csr_matvec(indptr, indices.astype(np.int64), data, np.ones(2), np.empty(2))


def test_readonly_inputs_accepted():
    n_row, n_col, indptr, indices, data = make("random", np.int32, np.float64)
    x = np.ones(n_col)
    for a in (indptr, indices, data, x):
        a.flags.writeable = False
    y = np.empty(n_row)
    K.csr_matvec(indptr, indices, data, x, y)
    assert_exact(y, scipy_csr(n_row, n_col, indptr, indices, data) @ x)
