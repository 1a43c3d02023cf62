"""Tests of the indexing kernels (``spgrad._cpu._index``) called directly, as the container layer
calls them: the column map against a stable argsort, and each selection kernel's two optional
outputs (values, source positions) against NumPy, serial and forced parallel, int32/int64.
"""

import numpy as np
import pytest
import scipy.sparse as ssp

from spgrad._cpu import _index as K

INDEX_DTYPES = [np.int32, np.int64]


@pytest.fixture(params=["serial-threshold", "force-parallel"])
def parallel(request, monkeypatch):
    if request.param == "force-parallel":
        monkeypatch.setattr(K, "MIN_PARALLEL_WORK", 0)
    return request.param


def _csr(rng, shape, idt, density=0.3):
    S = ssp.random_array(shape, density=density, format="csr", rng=rng)
    S.data = rng.standard_normal(S.nnz)
    return S.indptr.astype(idt), S.indices.astype(idt), S.data


@pytest.mark.parametrize("idt", INDEX_DTYPES)
@pytest.mark.parametrize("n_col,n_req", [(0, 0), (5, 0), (7, 20), (50, 13)])
def test_column_map_is_a_stable_counting_sort(idt, n_col, n_req):
    rng = np.random.default_rng(n_col + n_req)
    cols = rng.integers(0, max(n_col, 1), n_req).astype(idt)
    offsets = np.full(n_col + 1, -7, dtype=idt)
    order = np.full(n_req, -7, dtype=idt)
    K.column_map(cols, offsets, order)
    assert offsets[0] == 0
    np.testing.assert_array_equal(np.diff(offsets), np.bincount(cols, minlength=n_col))
    np.testing.assert_array_equal(order, np.argsort(cols, kind="stable"))


def _modes(tot, data, idt):
    """(out_data, out_map) pairs for the three ways of calling a selection kernel."""
    return {
        "values": (np.empty(tot, data.dtype), np.empty(0, idt)),
        "map": (np.empty(0, data.dtype), np.empty(tot, idt)),
        "both": (np.empty(tot, data.dtype), np.empty(tot, idt)),
    }


def _check(mode, out_data, out_map, data, expected_pos):
    if mode in ("values", "both"):
        np.testing.assert_array_equal(out_data, data[expected_pos])
    if mode in ("map", "both"):
        np.testing.assert_array_equal(out_map, expected_pos)


@pytest.mark.parametrize("idt", INDEX_DTYPES)
def test_row_gather(idt, parallel):
    rng = np.random.default_rng(1)
    indptr, indices, data = _csr(rng, (30, 20), idt)
    rows = rng.integers(0, 30, 45).astype(idt)
    counts = np.empty(len(rows) + 1, np.int64)
    tot = K.csr_row_gather_count(indptr, rows, counts)
    expected = np.concatenate([np.arange(indptr[r], indptr[r + 1]) for r in rows])
    for mode, (out_data, out_map) in _modes(tot, data, idt).items():
        out_indices = np.empty(tot, idt)
        K.csr_row_gather(indptr, indices, rows, counts.astype(idt), out_indices, data,
                         out_data, out_map)
        np.testing.assert_array_equal(out_indices, indices[expected])
        _check(mode, out_data, out_map, data, expected)


@pytest.mark.parametrize("idt", INDEX_DTYPES)
@pytest.mark.parametrize("request_kind", ["repeats", "unique", "low columns only"])
def test_column_select(idt, parallel, request_kind):
    """Columns requested several times (the general loop), at most once (the branch-free
    path), and only low columns, so that entries in higher columns find no request past the
    end of the map."""
    rng = np.random.default_rng(2)
    indptr, indices, data = _csr(rng, (25, 40), idt)
    cols = {"repeats": lambda: rng.integers(0, 40, 30),
            "unique": lambda: rng.permutation(40)[:30],
            "low columns only": lambda: np.array([3, 0, 7, 5])}[request_kind]().astype(idt)
    offsets, order = np.empty(41, idt), np.empty(len(cols), idt)
    K.column_map(cols, offsets, order)
    counts = np.empty(26, np.int64)
    tot = K.csr_column_select_count(indptr, indices, offsets, counts)
    exp_pos, exp_col = [], []
    for i in range(25):
        for p in range(indptr[i], indptr[i + 1]):
            for q in np.flatnonzero(cols == indices[p]):
                exp_pos.append(p)
                exp_col.append(q)
    assert tot == len(exp_pos)
    for mode, (out_data, out_map) in _modes(tot, data, idt).items():
        out_indices = np.empty(tot, idt)
        K.csr_column_select(indptr, indices, offsets, order, counts.astype(idt), out_indices,
                            data, out_data, out_map)
        np.testing.assert_array_equal(out_indices, exp_col)
        _check(mode, out_data, out_map, data, np.array(exp_pos, dtype=np.intp))


@pytest.mark.parametrize("idt", INDEX_DTYPES)
@pytest.mark.parametrize("bounds", [(4, 27, 3, 19), (0, 30, 29, 30), (2, 9, 5, 5),
                                    (0, 30, 0, 30)])
def test_submatrix(idt, parallel, bounds):
    rng = np.random.default_rng(3)
    indptr, indices, data = _csr(rng, (30, 30), idt)
    r0, r1, c0, c1 = bounds
    counts = np.empty(r1 - r0 + 1, np.int64)
    tot = K.csr_submatrix_count(indptr, indices, r0, r1, c0, c1, counts)
    keep = np.array([p for i in range(r0, r1) for p in range(indptr[i], indptr[i + 1])
                     if c0 <= indices[p] < c1], dtype=np.intp)
    for mode, (out_data, out_map) in _modes(tot, data, idt).items():
        out_indices = np.empty(tot, idt)
        K.csr_submatrix(indptr, indices, r0, r1, c0, c1, counts.astype(idt), out_indices,
                        data, out_data, out_map)
        np.testing.assert_array_equal(out_indices, indices[keep] - c0)
        _check(mode, out_data, out_map, data, keep)


def test_optional_outputs_are_checked():
    indptr = np.array([0, 2, 3], np.int32)
    indices = np.array([0, 1, 1], np.int32)
    rows = np.array([1, 0], np.int32)
    out_indptr = np.array([0, 1, 3], np.int32)
    with pytest.raises(ValueError, match="out_data must have length 3"):
        K.csr_row_gather(indptr, indices, rows, out_indptr, np.empty(3, np.int32),
                         np.ones(3), np.empty(2), np.empty(0, np.int32))
    with pytest.raises(ValueError, match="data must have at least 3 entries"):
        K.csr_row_gather(indptr, indices, rows, out_indptr, np.empty(3, np.int32),
                         np.ones(2), np.empty(3), np.empty(0, np.int32))
    with pytest.raises(ValueError, match="out_map must have length 3"):
        K.csr_row_gather(indptr, indices, rows, out_indptr, np.empty(3, np.int32),
                         np.ones(0), np.empty(0), np.empty(1, np.int32))


@pytest.mark.parametrize("idt", INDEX_DTYPES)
@pytest.mark.parametrize("row_length", [3, 8, 9, 40])
@pytest.mark.parametrize("sorted_rows", [True, False])
def test_lookups(idt, parallel, row_length, sorted_rows):
    """Scalar lookups against a dense reference: rows short enough for the scan and long
    enough for the branch-free binary search, sorted or not, with duplicate entries (summed
    by csr_lookup_values, each listed by csr_lookup_fill) and absent columns on both sides of
    a row's entries."""
    rng = np.random.default_rng(row_length)
    n_row, n_col = 12, 60
    cols_of = [np.sort(rng.choice(n_col, row_length, replace=False)) for _ in range(n_row)]
    cols_of[3] = np.sort(np.append(cols_of[3], cols_of[3][:2]))  # duplicates in row 3
    if not sorted_rows:
        cols_of = [rng.permutation(c) for c in cols_of]
    indptr = np.concatenate(([0], np.cumsum([len(c) for c in cols_of]))).astype(idt)
    indices = np.concatenate(cols_of).astype(idt)
    data = rng.standard_normal(len(indices))
    dense = np.zeros((n_row, n_col))
    np.add.at(dense, (np.repeat(np.arange(n_row), np.diff(indptr)), indices), data)
    rows = rng.integers(0, n_row, 500).astype(idt)
    cols = rng.integers(0, n_col, 500).astype(idt)
    rows[:2], cols[:2] = 3, cols_of[3][:2]  # the duplicated entries themselves
    out = np.empty(500)
    K.csr_lookup_values(indptr, indices, data, sorted_rows, rows, cols, out)
    np.testing.assert_allclose(out, dense[rows, cols], rtol=1e-14, atol=0)
    counts = np.empty(500, np.int64)
    total = K.csr_lookup_count(indptr, indices, sorted_rows, rows, cols, counts)
    stored = [np.flatnonzero(indices[indptr[r]:indptr[r + 1]] == c) + indptr[r]
              for r, c in zip(rows, cols)]
    np.testing.assert_array_equal(counts, [len(s) for s in stored])
    offsets = np.concatenate(([0], np.cumsum(counts)))
    pos = np.empty(total, idt)
    K.csr_lookup_fill(indptr, indices, sorted_rows, rows, cols, offsets, pos)
    for k, s in enumerate(stored):
        np.testing.assert_array_equal(np.sort(pos[offsets[k]:offsets[k + 1]]), s)
