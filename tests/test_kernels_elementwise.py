"""Tests of the element-wise CPU kernels (``spgrad._cpu._elementwise``) against NumPy/SciPy.

The kernels are called directly with preallocated outputs, as the container layer calls them,
so these tests need neither the spgrad containers nor torch.
"""

import itertools

import numpy as np
import pytest
import scipy.sparse as ssp

from spgrad._cpu import _elementwise as E

INDEX_DTYPES = [np.int32, np.int64]
VALUE_DTYPES = [np.int32, np.int64, np.float32, np.float64, np.complex64, np.complex128]
SHAPES = [(0, 0), (0, 5), (5, 0), (1, 1), (7, 5), (5, 9), (40, 33)]


@pytest.fixture(params=["serial-threshold", "force-parallel"])
def parallel(request, monkeypatch):
    """Run a test with the default work threshold and with every kernel forced parallel."""
    if request.param == "force-parallel":
        monkeypatch.setattr(E, "MIN_PARALLEL_WORK", 0)
    return request.param


def _values(rng, n, dtype):
    """Small integer-valued values (so sums cancel exactly), zeros included."""
    dtype = np.dtype(dtype)
    v = rng.integers(-3, 4, size=n)
    if dtype.kind == "c":
        v = v + 1j * rng.integers(-2, 3, size=n)
    return v.astype(dtype)


def _random_csr(rng, shape, density, dtype, idx_dtype, empty_rows=True):
    """Canonical CSR (sorted, no duplicates) with explicit zeros and some empty rows."""
    m, n = shape
    mask = rng.random(shape) < density
    if empty_rows and m > 2:
        mask[rng.choice(m, size=m // 3, replace=False)] = False
    rows, cols = np.nonzero(mask)
    data = _values(rng, rows.size, dtype)
    indptr = np.zeros(m + 1, dtype=idx_dtype)
    np.cumsum(np.bincount(rows, minlength=m), out=indptr[1:])
    return ssp.csr_array(
        (data, cols.astype(idx_dtype), indptr), shape=shape, dtype=dtype
    ), (indptr, cols.astype(idx_dtype), data)


def _dense(indptr, indices, data, shape):
    out = np.zeros(shape, dtype=data.dtype)
    rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
    np.add.at(out, (rows, indices), data)
    return out


# ---------------------------------------------------------------------------------------------
# csr_binop
# ---------------------------------------------------------------------------------------------

def _py_binop(op, a, b):
    """Scalar reference with std::max/std::min semantics and lexicographic complex order."""
    def less(x, y):
        if np.iscomplexobj(x) or np.iscomplexobj(y):
            x, y = complex(x), complex(y)
            return x.real < y.real or (x.real == y.real and x.imag < y.imag)
        return x < y

    if op == E.BINOP_ADD:
        return a + b
    if op == E.BINOP_SUB:
        return a - b
    if op == E.BINOP_MUL:
        return a * b
    if op == E.BINOP_MAX:
        return b if less(a, b) else a
    return b if less(b, a) else a


def _reference_binop(op, A, B):
    """Canonical result arrays built entry by entry from dictionaries (slow, obviously right)."""
    m = A.shape[0]
    indptr, indices, data = [0], [], []
    zero = A.dtype.type(0)
    for i in range(m):
        ra = dict(zip(A.indices[A.indptr[i]:A.indptr[i + 1]].tolist(),
                      A.data[A.indptr[i]:A.indptr[i + 1]]))
        rb = dict(zip(B.indices[B.indptr[i]:B.indptr[i + 1]].tolist(),
                      B.data[B.indptr[i]:B.indptr[i + 1]]))
        for j in sorted(set(ra) | set(rb)):
            r = _py_binop(op, ra.get(j, zero), rb.get(j, zero))
            if r != 0:
                indices.append(j)
                data.append(r)
        indptr.append(len(indices))
    return np.array(indptr), np.array(indices, dtype=np.int64), np.array(data, dtype=A.dtype)


def _call_binop(op, A, B, capacity=None):
    if capacity is None:
        capacity = A.nnz + B.nnz
    idx = A.indices.dtype
    Cp = np.full(A.shape[0] + 1, -7, dtype=idx)
    Cj = np.full(capacity, -7, dtype=idx)
    Cx = np.zeros(capacity, dtype=A.dtype)
    nnz = E.csr_binop(op, A.shape[1], A.indptr, A.indices, A.data,
                      B.indptr, B.indices, B.data, Cp, Cj, Cx)
    return Cp, Cj[:nnz], Cx[:nnz]


OPS = [E.BINOP_ADD, E.BINOP_SUB, E.BINOP_MUL, E.BINOP_MAX, E.BINOP_MIN]


def test_binop_codes_are_distinct():
    assert len(set(OPS)) == 5


@pytest.mark.parametrize("idx_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("op", OPS)
def test_csr_binop_matches_reference(op, dtype, idx_dtype):
    rng = np.random.default_rng(1000 * op + VALUE_DTYPES.index(dtype))
    for shape in SHAPES:
        for density in (0.0, 0.3, 0.8):
            A, _ = _random_csr(rng, shape, density, dtype, idx_dtype)
            B, _ = _random_csr(rng, shape, 0.4, dtype, idx_dtype)
            Cp, Cj, Cx = _call_binop(op, A, B)
            rp, rj, rx = _reference_binop(op, A, B)
            np.testing.assert_array_equal(Cp, rp)
            np.testing.assert_array_equal(Cj, rj)
            np.testing.assert_array_equal(Cx, rx)
            assert Cp.dtype == idx_dtype and Cj.dtype == idx_dtype
            assert not np.any(Cx == 0)


@pytest.mark.parametrize("idx_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
def test_csr_binop_matches_scipy_operators(dtype, idx_dtype):
    rng = np.random.default_rng(7)
    A, _ = _random_csr(rng, (60, 45), 0.3, dtype, idx_dtype)
    B, _ = _random_csr(rng, (60, 45), 0.3, dtype, idx_dtype)
    cases = [(E.BINOP_ADD, A + B), (E.BINOP_SUB, A - B), (E.BINOP_MUL, A.multiply(B)),
             (E.BINOP_MAX, A.maximum(B)), (E.BINOP_MIN, A.minimum(B))]
    for op, expected in cases:
        expected = ssp.csr_array(expected)
        expected.sum_duplicates()
        Cp, Cj, Cx = _call_binop(op, A, B)
        np.testing.assert_array_equal(Cp, expected.indptr)
        np.testing.assert_array_equal(Cj, expected.indices)
        np.testing.assert_array_equal(Cx, expected.data.astype(dtype))


def test_csr_binop_cancellation_and_explicit_zeros_are_dropped():
    A = ssp.csr_array(np.array([[1.0, 0, 2], [0, 0, 0], [3, 4, 0]]))
    A.data[1] = 0.0  # explicit zero in the pattern
    Cp, Cj, Cx = _call_binop(E.BINOP_SUB, A, A)
    assert Cj.size == 0 and Cx.size == 0
    np.testing.assert_array_equal(Cp, [0, 0, 0, 0])
    Cp, Cj, Cx = _call_binop(E.BINOP_ADD, A, A)
    np.testing.assert_array_equal(Cp, [0, 1, 1, 3])
    np.testing.assert_array_equal(Cj, [0, 0, 1])
    np.testing.assert_array_equal(Cx, [2.0, 6.0, 8.0])


def test_csr_binop_negative_zero_not_stored():
    A2 = ssp.csr_array((np.array([-0.0, 1.0]), np.array([0, 1], np.int32),
                        np.array([0, 2], np.int32)), shape=(1, 2))
    Cp, Cj, Cx = _call_binop(E.BINOP_ADD, A2, A2)
    np.testing.assert_array_equal(Cj, [1])


def test_csr_binop_mul_nonfinite_follows_scipy():
    # inf * (absent 0) = nan is stored, like SciPy's multiply; the caller allocates the union.
    A = ssp.csr_array(np.array([[np.inf, 0, 1.0], [0, 2.0, np.nan]]))
    B = ssp.csr_array(np.array([[0, 0, 3.0], [4.0, 5.0, 0]]))
    Cp, Cj, Cx = _call_binop(E.BINOP_MUL, A, B)
    expected = A.multiply(B).tocsr()
    np.testing.assert_array_equal(Cp, expected.indptr)
    np.testing.assert_array_equal(Cj, expected.indices)
    np.testing.assert_array_equal(Cx, expected.data)
    assert np.isnan(Cx).sum() == 2


def test_csr_binop_mul_finite_fits_intersection_capacity():
    rng = np.random.default_rng(3)
    A, _ = _random_csr(rng, (50, 50), 0.3, np.float64, np.int32)
    B, _ = _random_csr(rng, (50, 50), 0.05, np.float64, np.int32)
    cap = min(A.nnz, B.nnz)
    Cp, Cj, Cx = _call_binop(E.BINOP_MUL, A, B, capacity=cap)
    expected = A.multiply(B).tocsr()
    np.testing.assert_array_equal(Cj, expected.indices)
    np.testing.assert_array_equal(Cx, expected.data)


def test_csr_binop_short_capacity_raises_instead_of_overflowing():
    A = ssp.csr_array(np.array([[np.inf, 0, 1.0], [0, 2.0, np.nan]]))
    B = ssp.csr_array(np.array([[0, 0, 3.0], [4.0, 5.0, 0]]))
    guard = 12345
    Cj = np.full(min(A.nnz, B.nnz) + 1, guard, dtype=np.int32)
    Cx = np.full(min(A.nnz, B.nnz) + 1, guard, dtype=np.float64)
    with pytest.raises(ValueError, match="capacity"):
        E.csr_binop(E.BINOP_MUL, 3, A.indptr, A.indices, A.data, B.indptr, B.indices,
                    B.data, np.empty(3, np.int32), Cj[:-1], Cx[:-1])
    assert Cj[-1] == guard and Cx[-1] == guard  # nothing written past the end
    with pytest.raises(ValueError, match="capacity"):
        E.csr_binop(E.BINOP_ADD, 3, A.indptr, A.indices, A.data, B.indptr, B.indices,
                    B.data, np.empty(3, np.int32), np.empty(0, np.int32), np.empty(0))


def test_csr_binop_max_min_nan_semantics_match_scipy():
    A = ssp.csr_array(np.array([[np.nan, 0, 1.0], [0, 2.0, np.nan]]))
    B = ssp.csr_array(np.array([[0, 0, np.nan], [4.0, 5.0, 0]]))
    for X, Y in [(A, B), (B, A)]:
        for op, expected in [(E.BINOP_MAX, X.maximum(Y)), (E.BINOP_MIN, X.minimum(Y))]:
            Cp, Cj, Cx = _call_binop(op, X, Y)
            np.testing.assert_array_equal(_dense(Cp, Cj, Cx, X.shape), expected.toarray())


def test_csr_binop_complex_order_is_lexicographic():
    A = ssp.csr_array(np.array([[1 + 2j, 0, 2 - 5j, 0]]))
    B = ssp.csr_array(np.array([[1 + 1j, 1j, 2 + 0j, -1j]]))
    Cp, Cj, Cx = _call_binop(E.BINOP_MAX, A, B)
    np.testing.assert_array_equal(_dense(Cp, Cj, Cx, A.shape), [[1 + 2j, 1j, 2 + 0j, 0]])
    Cp, Cj, Cx = _call_binop(E.BINOP_MIN, A, B)
    np.testing.assert_array_equal(_dense(Cp, Cj, Cx, A.shape), [[1 + 1j, 0, 2 - 5j, -1j]])
    np.testing.assert_array_equal(_dense(Cp, Cj, Cx, A.shape), A.minimum(B).toarray())


def test_csr_binop_rejects_bad_arguments():
    A = ssp.csr_array(np.eye(3))
    Cp = np.empty(4, np.int32)
    Cj = np.empty(6, np.int32)
    Cx = np.empty(6)
    with pytest.raises(ValueError, match="unknown operation"):
        E.csr_binop(99, 3, A.indptr, A.indices, A.data, A.indptr, A.indices, A.data,
                    Cp, Cj, Cx)
    with pytest.raises(ValueError, match="n_row"):
        E.csr_binop(0, 3, A.indptr, A.indices, A.data, A.indptr[:-1], A.indices, A.data,
                    Cp, Cj, Cx)
    with pytest.raises((TypeError, ValueError)):
        E.csr_binop(0, 3, A.indptr, A.indices, A.data, A.indptr, A.indices,
                    A.data.astype(np.float32), Cp, Cj, Cx)


def test_csr_binop_accepts_readonly_inputs():
    A = ssp.csr_array(np.eye(3))
    for arr in (A.indptr, A.indices, A.data):
        arr.setflags(write=False)
    Cp, Cj, Cx = _call_binop(E.BINOP_ADD, A, A)
    np.testing.assert_array_equal(Cx, [2.0, 2.0, 2.0])


# ---------------------------------------------------------------------------------------------
# Row / column sums
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("idx_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
def test_row_and_col_sums(dtype, idx_dtype, parallel):
    rng = np.random.default_rng(11)
    for shape in SHAPES + [(3000, 20)]:
        A, (indptr, indices, data) = _random_csr(rng, shape, 0.4, dtype, idx_dtype)
        dense = _dense(indptr, indices, data, shape)
        out = np.full(shape[0], 99, dtype=dtype)
        E.csr_row_sums(indptr, data, out)
        np.testing.assert_array_equal(out, dense.sum(axis=1).astype(dtype))
        out = np.full(shape[1], 99, dtype=dtype)
        E.csr_col_sums(indices, data, out)
        np.testing.assert_array_equal(out, dense.sum(axis=0).astype(dtype))


def test_row_sums_parallel_large():
    # large enough to take the multi-threaded path
    rng = np.random.default_rng(5)
    n = 200_000
    A = ssp.random_array((n, 50), density=0.1, format="csr", rng=rng)
    out = np.empty(n)
    E.csr_row_sums(A.indptr, A.data, out)
    np.testing.assert_allclose(out, np.asarray(A.sum(axis=1)).ravel(), rtol=1e-12)


def test_col_sums_unsorted_duplicates():
    indices = np.array([2, 0, 2, 2, 1], dtype=np.int64)
    data = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    out = np.full(4, np.nan)
    E.csr_col_sums(indices, data, out)
    np.testing.assert_array_equal(out, [2.0, 5.0, 8.0, 0.0])


def test_sums_reject_bad_lengths():
    with pytest.raises(ValueError):
        E.csr_row_sums(np.array([0, 1, 2], np.int32), np.ones(2), np.empty(3))
    with pytest.raises(ValueError):
        E.csr_col_sums(np.array([0, 1], np.int32), np.ones(3), np.empty(3))


# ---------------------------------------------------------------------------------------------
# Line reductions (max / min / argmax / argmin along an axis)
# ---------------------------------------------------------------------------------------------

def _extreme_values(rng, n, dtype):
    """Values with ties, zeros, infinities and (for inexact dtypes) NaNs, also in one part of
    a complex value."""
    dtype = np.dtype(dtype)
    pool = [0, 1, -1, 2, -2]
    if dtype.kind in "fc":
        pool += [np.inf, -np.inf, np.nan]
    v = np.zeros(n, dtype)
    v.real = rng.choice(np.array(pool, dtype=np.float64), size=n)
    if dtype.kind == "c":
        v.imag = rng.choice(np.array(pool, dtype=np.float64), size=n)
    return v


def _line_cases(dtype, idx_dtype):
    rng = np.random.default_rng(12)
    for shape in SHAPES + [(3, 2), (60, 4)]:
        for density in (0.3, 0.8, 1.0):
            A, (indptr, indices, _) = _random_csr(rng, shape, density, dtype, idx_dtype)
            data = _extreme_values(rng, len(indices), dtype)
            yield ssp.csr_array((data, indices, indptr), shape=shape), indptr, indices, data


@pytest.mark.parametrize("idx_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
def test_line_reduce_matches_scipy(dtype, idx_dtype, parallel):
    names = {E.REDUCE_MAX: "max", E.REDUCE_MIN: "min", E.REDUCE_FMAX: "nanmax",
             E.REDUCE_FMIN: "nanmin"}
    with np.errstate(invalid="ignore"):
        for A, indptr, indices, data in _line_cases(dtype, idx_dtype):
            if A.shape[1] == 0:
                continue
            for op, name in names.items():
                for explicit in (False, True):
                    out = np.full(A.shape[0], 7, dtype=dtype)
                    E.csr_line_reduce(op, A.shape[1], not explicit, indptr, data, out)
                    expected = getattr(A, name)(axis=1, explicit=explicit).toarray()
                    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("idx_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
def test_line_argreduce_matches_scipy(dtype, idx_dtype, parallel):
    with np.errstate(invalid="ignore"):
        for A, indptr, indices, data in _line_cases(dtype, idx_dtype):
            if A.shape[1] == 0:
                continue
            for op, name in ((E.REDUCE_MAX, "argmax"), (E.REDUCE_MIN, "argmin")):
                for explicit in (False, True):
                    out = np.full(A.shape[0], -5, dtype=np.int64)
                    E.csr_line_argreduce(op, A.shape[1], explicit, indptr, indices, data, out)
                    expected = getattr(A, name)(axis=1, explicit=explicit)
                    np.testing.assert_array_equal(out, expected)


def test_line_reductions_reject_bad_arguments():
    indptr, data = np.array([0, 1, 2], np.int32), np.ones(2)
    with pytest.raises(ValueError, match="out has length 3, expected 2"):
        E.csr_line_reduce(E.REDUCE_MAX, 4, True, indptr, data, np.empty(3))
    with pytest.raises(ValueError, match="REDUCE_"):
        E.csr_line_reduce(9, 4, True, indptr, data, np.empty(2))
    with pytest.raises(ValueError, match="REDUCE_MAX or REDUCE_MIN"):
        E.csr_line_argreduce(E.REDUCE_FMAX, 4, True, indptr, indptr[:2], data,
                             np.empty(2, np.int64))
    with pytest.raises(ValueError, match="out has length 1, expected 2"):
        E.csr_line_argreduce(E.REDUCE_MAX, 4, True, indptr, indptr[:2], data,
                             np.empty(1, np.int64))


# ---------------------------------------------------------------------------------------------
# Band filter
# ---------------------------------------------------------------------------------------------

BIG = np.iinfo(np.int64).max
SMALL = np.iinfo(np.int64).min


@pytest.mark.parametrize("idx_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
def test_band_filter(dtype, idx_dtype):
    rng = np.random.default_rng(21)
    for shape in SHAPES:
        A, (indptr, indices, data) = _random_csr(rng, shape, 0.5, dtype, idx_dtype)
        rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
        diag = indices.astype(np.int64) - rows
        for k_lo, k_hi in [(SMALL, 0), (0, BIG), (SMALL, -2), (3, BIG), (-1, 1), (2, 1),
                           (SMALL, BIG), (-100, -50)]:
            keep = (diag >= k_lo) & (diag <= k_hi)
            oi = np.full(indptr.size, -1, dtype=idx_dtype)
            oj = np.full(indices.size, -1, dtype=idx_dtype)
            ox = np.zeros(indices.size, dtype=dtype)
            nnz = E.csr_band_filter(k_lo, k_hi, indptr, indices, data, oi, oj, ox)
            assert nnz == keep.sum()
            np.testing.assert_array_equal(oj[:nnz], indices[keep])
            np.testing.assert_array_equal(ox[:nnz], data[keep])
            np.testing.assert_array_equal(
                oi, np.concatenate([[0], np.cumsum(np.bincount(rows[keep],
                                                               minlength=shape[0]))]))


def test_band_filter_matches_scipy_tril_triu():
    rng = np.random.default_rng(4)
    A = ssp.random_array((30, 20), density=0.4, format="csr", rng=rng)
    for k in (-3, 0, 2):
        for func, lo, hi in [(ssp.tril, SMALL, k), (ssp.triu, k, BIG)]:
            oi = np.empty_like(A.indptr)
            oj = np.empty_like(A.indices)
            ox = np.empty_like(A.data)
            nnz = E.csr_band_filter(lo, hi, A.indptr, A.indices, A.data, oi, oj, ox)
            np.testing.assert_array_equal(_dense(oi, oj[:nnz], ox[:nnz], A.shape),
                                          func(A, k).toarray())


def test_band_filter_keeps_order_and_duplicates():
    indptr = np.array([0, 4], np.int32)
    indices = np.array([3, 0, 3, 1], np.int32)
    data = np.array([1.0, 2.0, 0.0, 4.0])
    oi, oj, ox = np.empty(2, np.int32), np.empty(4, np.int32), np.empty(4)
    nnz = E.csr_band_filter(1, BIG, indptr, indices, data, oi, oj, ox)
    assert nnz == 3
    np.testing.assert_array_equal(oj[:3], [3, 3, 1])
    np.testing.assert_array_equal(ox[:3], [1.0, 0.0, 4.0])


# ---------------------------------------------------------------------------------------------
# Kronecker product
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("idx_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
def test_kron(dtype, idx_dtype, parallel):
    rng = np.random.default_rng(31)
    shapes = [(0, 0), (0, 3), (3, 0), (1, 1), (4, 3), (3, 5), (6, 6)]
    for sa, sb in itertools.product(shapes, repeat=2):
        A, (ap, aj, ax) = _random_csr(rng, sa, 0.5, dtype, idx_dtype)
        B, (bp, bj, bx) = _random_csr(rng, sb, 0.5, dtype, idx_dtype)
        n_row = sa[0] * sb[0]
        Cp = np.full(n_row + 1, -1, dtype=idx_dtype)
        Cj = np.full(ax.size * bx.size, -1, dtype=idx_dtype)
        Cx = np.zeros(ax.size * bx.size, dtype=dtype)
        E.csr_kron(sb[1], ap, aj, ax, bp, bj, bx, Cp, Cj, Cx)
        expected = ssp.kron(A, B, format="coo").tocsr()  # keeps explicit zeros
        expected.sort_indices()
        np.testing.assert_array_equal(Cp, expected.indptr)
        np.testing.assert_array_equal(Cj, expected.indices)
        np.testing.assert_array_equal(Cx, expected.data.astype(dtype))
        np.testing.assert_array_equal(
            _dense(Cp, Cj, Cx, (n_row, sa[1] * sb[1])), np.kron(A.toarray(), B.toarray()))


def test_kron_parallel_large():
    rng = np.random.default_rng(8)
    A = ssp.random_array((300, 200), density=0.05, format="csr", rng=rng)
    B = ssp.random_array((40, 30), density=0.2, format="csr", rng=rng)
    Cp = np.empty(300 * 40 + 1, np.int64)
    Cj = np.empty(A.nnz * B.nnz, np.int64)
    Cx = np.empty(A.nnz * B.nnz)
    E.csr_kron(30, A.indptr.astype(np.int64), A.indices.astype(np.int64), A.data,
               B.indptr.astype(np.int64), B.indices.astype(np.int64), B.data, Cp, Cj, Cx)
    expected = ssp.kron(A, B, format="csr")
    np.testing.assert_array_equal(Cp, expected.indptr)
    np.testing.assert_array_equal(Cj, expected.indices)
    np.testing.assert_array_equal(Cx, expected.data)


def test_kron_rejects_bad_cp_length():
    A = ssp.csr_array(np.eye(2))
    with pytest.raises(ValueError, match="Cp"):
        E.csr_kron(2, A.indptr, A.indices, A.data, A.indptr, A.indices, A.data,
                   np.empty(4, np.int32), np.empty(4, np.int32), np.empty(4))


# ---------------------------------------------------------------------------------------------
# Horizontal stacking
# ---------------------------------------------------------------------------------------------

def _hstack_call(blocks, idx_dtype, dtype):
    n_row = blocks[0][1][0].size - 1
    ncols = [b[0].shape[1] for b in blocks]
    col_offset = np.concatenate([[0], np.cumsum(ncols)[:-1]]).astype(idx_dtype)
    indptr_cat = np.concatenate([b[1][0] for b in blocks]).astype(idx_dtype)
    indices_cat = np.concatenate([b[1][1] for b in blocks]).astype(idx_dtype)
    data_cat = np.concatenate([b[1][2] for b in blocks]).astype(dtype)
    oi = np.full(n_row + 1, -1, dtype=idx_dtype)
    oj = np.full(indices_cat.size, -1, dtype=idx_dtype)
    ox = np.zeros(indices_cat.size, dtype=dtype)
    E.csr_hstack(n_row, col_offset, indptr_cat, indices_cat, data_cat, oi, oj, ox)
    return oi, oj, ox


@pytest.mark.parametrize("idx_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
def test_hstack(dtype, idx_dtype, parallel):
    rng = np.random.default_rng(41)
    for n_row in (0, 1, 6, 25):
        for ncols in [(3,), (2, 0, 5), (4, 4, 1, 7), (0, 0)]:
            blocks = [_random_csr(rng, (n_row, c), 0.5, dtype, idx_dtype) for c in ncols]
            oi, oj, ox = _hstack_call(blocks, idx_dtype, dtype)
            expected = ssp.hstack([b[0] for b in blocks], format="csr")
            np.testing.assert_array_equal(oi, expected.indptr)
            np.testing.assert_array_equal(oj, expected.indices)
            np.testing.assert_array_equal(ox, expected.data)


def test_hstack_blocks_with_offset_indptr(parallel):
    # blocks given as row slices of bigger CSR arrays: their indptr does not start at 0
    rng = np.random.default_rng(2)
    big = [ssp.random_array((20, c), density=0.4, format="csr", rng=rng) for c in (5, 3, 6)]
    r0, r1 = 4, 15
    blocks = []
    for M in big:
        p = M.indptr[r0:r1 + 1]
        blocks.append((M[r0:r1], (p, M.indices[p[0]:p[-1]], M.data[p[0]:p[-1]])))
    oi, oj, ox = _hstack_call(blocks, np.int32, np.float64)
    expected = ssp.hstack([b[0] for b in blocks], format="csr")
    np.testing.assert_array_equal(oi, expected.indptr)
    np.testing.assert_array_equal(oj, expected.indices)
    np.testing.assert_array_equal(ox, expected.data)


def test_hstack_parallel_large():
    rng = np.random.default_rng(9)
    mats = [ssp.random_array((30000, c), density=0.05, format="csr", rng=rng)
            for c in (10, 20, 5)]
    blocks = [(M, (M.indptr, M.indices, M.data)) for M in mats]
    oi, oj, ox = _hstack_call(blocks, np.int64, np.float64)
    expected = ssp.hstack(mats, format="csr")
    np.testing.assert_array_equal(oi, expected.indptr)
    np.testing.assert_array_equal(oj, expected.indices)
    np.testing.assert_array_equal(ox, expected.data)


def test_hstack_rejects_bad_indptr_cat():
    with pytest.raises(ValueError, match="indptr_cat"):
        E.csr_hstack(2, np.zeros(2, np.int32), np.zeros(5, np.int32), np.zeros(0, np.int32),
                     np.zeros(0), np.zeros(3, np.int32), np.zeros(0, np.int32), np.zeros(0))


# ---------------------------------------------------------------------------------------------
# DIA matvec
# ---------------------------------------------------------------------------------------------

def _dia_reference(offsets, data, shape, x):
    m, n = shape
    y = np.zeros(m, dtype=np.result_type(data, x))
    L = data.shape[1]
    for d, k in enumerate(offsets):
        j = np.arange(min(n, L))
        i = j - k
        ok = (i >= 0) & (i < m)
        np.add.at(y, i[ok], data[d, j[ok]] * x[j[ok]])
    return y


@pytest.mark.parametrize("idx_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
def test_dia_matvec(dtype, idx_dtype, parallel):
    rng = np.random.default_rng(51)
    for shape in SHAPES + [(9000, 8500)]:
        m, n = shape
        for L in {n, max(n - 2, 0), n + 3}:
            offsets = rng.choice(np.arange(-m - 2, n + 3), size=min(4, m + n + 5),
                                 replace=False).astype(idx_dtype)
            data = _values(rng, offsets.size * L, dtype).reshape(offsets.size, L)
            x = _values(rng, n, dtype)
            y0 = _values(rng, m, dtype)
            y = y0.copy()
            E.dia_matvec(offsets, data, m, n, x, y)
            np.testing.assert_array_equal(y, y0 + _dia_reference(offsets, data, shape, x))
            if L == n and m * n > 0:
                A = ssp.dia_array((data, offsets), shape=shape)
                np.testing.assert_array_equal(y - y0, A @ x)


def test_dia_matvec_repeated_offsets_accumulate():
    offsets = np.array([0, 0, 1], np.int32)
    data = np.array([[1.0, 2, 3], [10, 20, 30], [5, 6, 7]])
    y = np.zeros(3)
    E.dia_matvec(offsets, data, 3, 3, np.ones(3), y)
    np.testing.assert_array_equal(y, [11 + 6, 22 + 7, 33])


def test_dia_matvec_rejects_bad_shapes():
    with pytest.raises(ValueError):
        E.dia_matvec(np.array([0], np.int32), np.ones((1, 3)), 3, 3, np.ones(2), np.ones(3))
    with pytest.raises(ValueError):
        E.dia_matvec(np.array([0, 1], np.int32), np.ones((1, 3)), 3, 3, np.ones(3),
                     np.ones(3))
