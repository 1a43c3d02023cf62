"""spgrad's CUDA launchers run unchanged on a CPU emulation of the kernels (the same .cu source
compiled as C++, the grid run thread by thread) and match spgrad's CPU kernels on random
inputs: empty rows, no rows, no entries, int32 and int64 indices, all four value types."""

import numpy as np
import pytest
import scipy.sparse
from cuda_support import build_emulation

from spgrad import _cpu, _cuda
from spgrad._cuda import _launch

VALUE_DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
INDEX_DTYPES = [np.int32, np.int64]


@pytest.fixture(scope="module")
def emulated(tmp_path_factory):
    backend = build_emulation(tmp_path_factory.mktemp("cuda_emulation"))
    if backend is None:
        pytest.skip("no C++ compiler to build the CUDA emulation")
    previous = _launch.set_backend(backend)
    yield backend
    _launch.set_backend(previous)


def _values(rng, shape, dtype):
    v = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        v = v + 1j * rng.standard_normal(shape)
    return np.ascontiguousarray(v.astype(dtype))


def _matrices(dtype, idx):
    rng = np.random.default_rng(0)
    shapes = [(0, 4), (5, 0), (1, 1), (7, 5), (40, 33), (300, 2)]
    for shape in shapes:
        for density in (0.0, 0.2, 0.9):
            A = scipy.sparse.random_array(shape, density=density, format="csr", rng=rng)
            if A.shape[0] > 3:
                A = A.tolil()
                A[2, :] = 0  # an empty row
                A = A.tocsr()
            data = _values(rng, A.nnz, dtype)
            yield (A.indptr.astype(idx), A.indices.astype(idx), data, A.shape, rng)


def _raw_csr(rng, m, n, nnz, idx):
    """CSR arrays with unsorted column indices and duplicates (rows in order)."""
    rows = np.sort(rng.integers(0, m, nnz)) if m else np.zeros(0, np.int64)
    cols = rng.integers(0, n, len(rows)) if n else np.zeros(0, np.int64)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=m))]).astype(idx)
    return indptr, cols.astype(idx)


def _structures(idx):
    rng = np.random.default_rng(1)
    for m, n, nnz in [(0, 3, 0), (4, 0, 0), (1, 1, 3), (6, 9, 0), (7, 5, 20), (50, 40, 400)]:
        if m == 0 or n == 0:
            nnz = 0
        yield (*_raw_csr(rng, m, n, nnz, idx), m, n, rng)


def _tolerance(dtype):
    return {"rtol": 1e-5, "atol": 1e-5} if np.dtype(dtype).itemsize <= 8 and \
        np.dtype(dtype) != np.float64 else {"rtol": 1e-12, "atol": 1e-12}


@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("idx", INDEX_DTYPES)
def test_products_match_the_cpu_kernels(emulated, dtype, idx):
    for indptr, indices, data, (m, n), rng in _matrices(dtype, idx):
        for name, rows_in, rows_out in (("csr_matvec", n, m), ("csr_matvec_transpose", m, n)):
            x = _values(rng, rows_in, dtype)
            expected, got = np.empty(rows_out, dtype), np.full(rows_out, np.nan, dtype)
            getattr(_cpu, name)(indptr, indices, data, x, expected)
            getattr(_cuda, name)(indptr, indices, data, x, got)
            np.testing.assert_allclose(got, expected, **_tolerance(dtype))
        for k in (1, 3):
            for name, rows_in, rows_out in (("csr_matvecs", n, m),
                                            ("csr_matvecs_transpose", m, n)):
                X = _values(rng, (rows_in, k), dtype)
                expected = np.empty((rows_out, k), dtype)
                got = np.full((rows_out, k), np.nan, dtype)
                getattr(_cpu, name)(indptr, indices, data, X, expected)
                getattr(_cuda, name)(indptr, indices, data, X, got)
                np.testing.assert_allclose(got, expected, **_tolerance(dtype))


@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("idx", INDEX_DTYPES)
def test_sddmm_and_expand_indptr(emulated, dtype, idx):
    for indptr, indices, _, (m, n), rng in _matrices(dtype, idx):
        for k in (1, 4):
            A, B = _values(rng, (m, k), dtype), _values(rng, (n, k), dtype)
            expected, got = np.empty(len(indices), dtype), np.full(len(indices), np.nan, dtype)
            _cpu.csr_sddmm(indptr, indices, A, B, expected)
            _cuda.csr_sddmm(indptr, indices, A, B, got)
            np.testing.assert_allclose(got, expected, **_tolerance(dtype))
        expected, got = np.empty(len(indices), idx), np.full(len(indices), -1, idx)
        _cpu.expand_indptr(indptr, expected)
        _cuda.expand_indptr(indptr, got)
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("idx", INDEX_DTYPES)
def test_structural_kernels(emulated, dtype, idx):
    for indptr, indices, m, n, rng in _structures(idx):
        data = _values(rng, len(indices), dtype)
        tol = _tolerance(dtype)
        for k in range(-m - 1, n + 2):
            count = max(0, min(m + min(k, 0), n - max(k, 0)))
            expected, got = np.zeros(count, dtype), np.zeros(count, dtype)
            _cpu.csr_diagonal(k, m, n, indptr, indices, data, expected)
            _cuda.csr_diagonal(k, m, n, indptr, indices, data, got)
            np.testing.assert_allclose(got, expected, **tol)
        expected, got = np.empty(m, dtype), np.full(m, np.nan, dtype)
        _cpu.csr_row_sums(indptr, data, expected)
        _cuda.csr_row_sums(indptr, data, got)
        np.testing.assert_allclose(got, expected, **tol)
        expected, got = np.empty(n, dtype), np.full(n, np.nan, dtype)
        _cpu.csr_col_sums(indices, data, expected)
        _cuda.csr_col_sums(indices, data, got)
        np.testing.assert_allclose(got, expected, **tol)
        for layout in ("C", "F", "strided"):
            expected = np.zeros((m, n), dtype, order="F" if layout == "F" else "C")
            base = np.zeros((2 * m, 3 * n), dtype)
            got = base[::2, ::-3] if layout == "strided" else np.zeros_like(expected)
            _cpu.csr_todense(indptr, indices, data, expected)
            _cuda.csr_todense(indptr, indices, data, got)
            np.testing.assert_allclose(got, expected, **tol)
        for k_lo, k_hi in [(-2**63, 0), (1, 2**63 - 1), (-1, 1), (3, -3)]:
            outs = [(np.empty(m + 1, idx), np.empty(len(indices), idx),
                     np.empty(len(indices), dtype)) for _ in range(2)]
            nnz_cpu = _cpu.csr_band_filter(k_lo, k_hi, indptr, indices, data, *outs[0])
            nnz_gpu = _cuda.csr_band_filter(k_lo, k_hi, indptr, indices, data, *outs[1])
            assert nnz_cpu == nnz_gpu
            np.testing.assert_array_equal(outs[1][0], outs[0][0])
            np.testing.assert_array_equal(outs[1][1][:nnz_cpu], outs[0][1][:nnz_cpu])
            np.testing.assert_array_equal(outs[1][2][:nnz_cpu], outs[0][2][:nnz_cpu])
        outs = [(np.empty(n + 1, idx), np.empty(len(indices), idx),
                 np.empty(len(indices), dtype)) for _ in range(2)]
        _cpu.csr_transpose(n, indptr, indices, data, *outs[0])
        _cuda.csr_transpose(n, indptr, indices, data, *outs[1])
        for a, b in zip(outs[1], outs[0]):
            np.testing.assert_array_equal(a, b)
        outs = [(np.empty(n + 1, idx), np.empty(len(indices), idx), np.empty(len(indices), idx))
                for _ in range(2)]
        _cpu.csr_transpose_pattern(n, indptr, indices, *outs[0])
        _cuda.csr_transpose_pattern(n, indptr, indices, *outs[1])
        for a, b in zip(outs[1], outs[0]):
            np.testing.assert_array_equal(a, b)


def _canonical(indptr, indices, data):
    """Entries sorted by (row, column, value): equal for any order of duplicates."""
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    order = np.lexsort((data.imag, data.real, indices, rows))
    return indices[order], data[order]


@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("idx", INDEX_DTYPES)
def test_conversion_kernels(emulated, dtype, idx):
    for indptr, indices, m, n, rng in _structures(idx):
        data = _values(rng, len(indices), dtype)
        if len(data):
            data[rng.random(len(data)) < 0.3] = 0  # stored zeros, some -0.0
            data[:1] = -0.0
        nnz = len(indices)
        # COO -> CSR from shuffled triplets (duplicates kept, input order within rows)
        rows = np.repeat(np.arange(m), np.diff(indptr)).astype(idx)
        shuffle = rng.permutation(nnz)
        row, col, val = rows[shuffle], indices[shuffle], data[shuffle]
        outs = [(np.empty(m + 1, idx), np.empty(nnz, idx), np.empty(nnz, dtype))
                for _ in range(2)]
        _cpu.coo_tocsr(m, row, col, val, *outs[0])
        _cuda.coo_tocsr(m, row, col, val, *outs[1])
        for a, b in zip(outs[1], outs[0]):
            np.testing.assert_array_equal(a, b)
        outs = [(np.empty(m + 1, idx), np.empty(nnz, idx), np.empty(nnz, idx)) for _ in range(2)]
        _cpu.coo_tocsr_pattern(m, row, col, *outs[0])
        _cuda.coo_tocsr_pattern(m, row, col, *outs[1])
        for a, b in zip(outs[1], outs[0]):
            np.testing.assert_array_equal(a, b)
        # sorting indices (in place; duplicates may be ordered differently)
        results = []
        for k in (_cpu, _cuda):
            ind, dat, perm = indices.copy(), data.copy(), np.empty(nnz, idx)
            k.csr_sort_indices(indptr, ind, dat)
            ind2 = indices.copy()
            k.csr_sort_indices_pattern(indptr, ind2, perm)
            np.testing.assert_array_equal(ind2, ind)
            np.testing.assert_array_equal(np.sort(perm), np.arange(nnz))
            results.append(_canonical(indptr, ind, dat))
        np.testing.assert_array_equal(results[1][0], results[0][0])
        np.testing.assert_array_equal(results[1][1], results[0][1])
        # format checks: unsorted with duplicates, sorted with duplicates, canonical
        ptr, ind, dat = indptr.copy(), indices.copy(), data.copy()
        _cpu.csr_sort_indices(ptr, ind, dat)
        cases = [(indptr, indices), (ptr, ind.copy())]
        _cpu.csr_sum_duplicates(ptr, ind, dat)
        cases.append((ptr, ind))
        for p_, i_ in cases:
            for name in ("csr_has_sorted_indices", "csr_has_canonical_format"):
                assert getattr(_cuda, name)(p_, i_) == getattr(_cpu, name)(p_, i_)
        # removing stored zeros in place
        arrays = []
        for k in (_cpu, _cuda):
            ptr, ind, dat = indptr.copy(), indices.copy(), data.copy()
            kept = k.csr_eliminate_zeros(ptr, ind, dat)
            arrays.append((ptr, ind[:kept], dat[:kept]))
        for a, b in zip(arrays[1], arrays[0]):
            np.testing.assert_array_equal(a, b)


def _same_on_both(name, args, out_shapes, dtype):
    """Run launcher ``name`` and the CPU kernel of that name on NaN-filled outputs of
    ``out_shapes``; their outputs must agree."""
    outs = [[np.full(shape, np.nan, dtype) for shape in out_shapes] for _ in range(2)]
    getattr(_cpu, name)(*args, *outs[0])
    getattr(_cuda, name)(*args, *outs[1])
    for got, expected in zip(outs[1], outs[0]):
        np.testing.assert_allclose(got, expected, **_tolerance(dtype))


@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("idx", INDEX_DTYPES)
def test_fused_backward_launchers_match_the_cpu_kernels(emulated, dtype, idx):
    rng = np.random.default_rng(5)
    for m, n, inner, nnz in [(0, 3, 2, 0), (3, 0, 2, 0), (4, 5, 0, 0), (6, 7, 5, 20),
                             (30, 20, 25, 200)]:
        # SpMV backward: A (m x inner), x (inner,), g (m,)
        Ap, Aj = _raw_csr(rng, m, inner, nnz, idx)
        Ax = _values(rng, len(Aj), dtype)
        x, g = _values(rng, inner, dtype), _values(rng, m, dtype)
        _same_on_both("csr_spmv_backward", (Ap, Aj, Ax, x, g), [len(Aj), inner], dtype)
        # the transposed product as a gather: A^T G over the transposed pattern
        G3 = _values(rng, (m, 3), dtype)
        Tp, Ti, perm = np.empty(inner + 1, idx), np.empty(len(Aj), idx), np.empty(len(Aj), idx)
        _cpu.csr_transpose_pattern(inner, Ap, Aj, Tp, Ti, perm)
        _same_on_both("csr_matvecs_permuted", (Tp, Ti, perm, Ax, G3), [(inner, 3)], dtype)
        # SpMM backward: both gradients, X (inner x 3), G (m x 3)
        X3 = _values(rng, (inner, 3), dtype)
        _same_on_both("csr_spmm_backward", (Ap, Aj, Tp, Ti, perm, Ax, X3, G3),
                      [len(Aj), (inner, 3)], dtype)
        # SpGEMM backward: C = A @ B with B (inner x n), G on C's structural pattern
        Bp, Bj = _raw_csr(rng, inner, n, nnz // 2, idx)
        Bx = _values(rng, len(Bj), dtype)
        Cp = np.empty(m + 1, np.int64)
        c_nnz = _cpu.csr_matmat_row_nnz(n, Ap, Aj, Bp, Bj, Cp)
        Cp, Cj = Cp.astype(idx), np.empty(c_nnz, idx)
        _cpu.csr_matmat(n, Ap, Aj, np.ones(len(Aj)), Bp, Bj, np.ones(len(Bj)), Cp, Cj,
                        np.empty(c_nnz))
        Gc = _values(rng, c_nnz, dtype)
        _same_on_both("csr_spgemm_backward", (n, Ap, Aj, Ax, Bp, Bj, Bx, Cp, Cj, Gc),
                      [len(Aj), len(Bj)], dtype)


@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("idx", INDEX_DTYPES)
def test_masked_dot_and_union(emulated, dtype, idx):
    rng = np.random.default_rng(2)
    for m, n, inner, nnz in [(0, 3, 2, 0), (3, 0, 2, 0), (4, 5, 0, 0), (6, 7, 5, 20),
                             (30, 20, 25, 200)]:
        Ap, Aj = _raw_csr(rng, m, inner, nnz, idx)
        Bp, Bj = _raw_csr(rng, n, inner, nnz // 2, idx)
        Mp, Mj = _raw_csr(rng, m, n, nnz, idx)
        Ax, Bx = _values(rng, len(Aj), dtype), _values(rng, len(Bj), dtype)
        expected = np.empty(len(Mj), dtype)
        got = np.full(len(Mj), np.nan, dtype)
        _cpu.csr_masked_dot(inner, Mp, Mj, Ap, Aj, Ax, Bp, Bj, Bx, expected)
        _cuda.csr_masked_dot(inner, Mp, Mj, Ap, Aj, Ax, Bp, Bj, Bx, got)
        np.testing.assert_allclose(got, expected, **_tolerance(dtype))
        # union of two canonical patterns of the same shape
        A = scipy.sparse.random_array((m, n), density=0.3, format="csr", rng=rng)
        B = scipy.sparse.random_array((m, n), density=0.3, format="csr", rng=rng)
        cap = A.nnz + B.nnz
        results = []
        for k in (_cpu, _cuda):
            out = (np.empty(m + 1, idx), np.empty(cap, idx), np.empty(cap, np.int64),
                   np.empty(cap, np.int64))
            count = k.csr_union_map(A.indptr.astype(idx), A.indices.astype(idx),
                                    B.indptr.astype(idx), B.indices.astype(idx), *out)
            results.append((count, out[0], *(a[:count] for a in out[1:])))
        assert results[1][0] == results[0][0]
        for a, b in zip(results[1][1:], results[0][1:]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("idx", INDEX_DTYPES)
def test_duplicates_densify_gather(emulated, dtype, idx):
    for indptr, indices, m, n, rng in _structures(idx):
        data = _values(rng, len(indices), dtype)
        if len(data):
            data[:2] = -0.0
        nnz = len(indices)
        _cpu.csr_sort_indices(indptr, indices, data)  # runs of duplicates are adjacent
        results = []
        for k in (_cpu, _cuda):
            ptr, ind, dat = indptr.copy(), indices.copy(), data.copy()
            kept = k.csr_sum_duplicates(ptr, ind, dat)
            out = (np.empty(m + 1, idx), np.empty(nnz, idx), np.empty(nnz, idx))
            kept2 = k.csr_sum_duplicates_pattern(indptr, indices, *out)
            assert kept2 == kept
            results.append((ptr, ind[:kept], dat[:kept], out[0], out[1][:kept], out[2]))
        for a, b in zip(results[1], results[0]):
            np.testing.assert_array_equal(a, b)  # bitwise, signed zeros included
            assert np.array_equal(np.signbit(a.real), np.signbit(b.real))
        rows = np.repeat(np.arange(m), np.diff(indptr)).astype(idx)
        for layout in ("C", "strided"):
            expected = np.zeros((m, n), dtype)
            got = np.zeros((2 * m, 2 * n), dtype)[::2, 1::2] if layout == "strided" else \
                np.zeros((m, n), dtype)
            _cpu.coo_todense(rows, indices, data, expected)
            _cuda.coo_todense(rows, indices, data, got)
            np.testing.assert_allclose(got, expected, **_tolerance(dtype))
        if m:
            pick = rng.integers(0, m, 7).astype(idx)
            counts = [np.empty(8, np.int64) for _ in range(2)]
            total = _cpu.csr_row_gather_count(indptr, pick, counts[0])
            assert _cuda.csr_row_gather_count(indptr, pick, counts[1]) == total
            np.testing.assert_array_equal(counts[1], counts[0])
            out_indptr = counts[0].astype(idx)
            for with_data, with_map in [(True, True), (True, False), (False, True)]:
                outs = []
                for k in (_cpu, _cuda):
                    o = (np.empty(total, idx), np.empty(total if with_data else 0, dtype),
                         np.empty(total if with_map else 0, idx))
                    k.csr_row_gather(indptr, indices, pick, out_indptr, o[0], data, o[1], o[2])
                    outs.append(o)
                for a, b in zip(outs[1], outs[0]):
                    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("idx", INDEX_DTYPES)
def test_dia_matvec(emulated, dtype, idx):
    rng = np.random.default_rng(3)
    for m, n, width, offsets in [(0, 3, 3, [0]), (4, 6, 6, [-1, 0, 2]), (5, 3, 7, [0, 0, -4]),
                                 (8, 8, 5, [-7, 1, 7, 9]), (3, 3, 3, [])]:
        offsets = np.asarray(offsets, dtype=idx)
        data = _values(rng, (len(offsets), width), dtype)
        x = _values(rng, n, dtype)
        y0 = _values(rng, m, dtype)
        expected, got = y0.copy(), y0.copy()
        _cpu.dia_matvec(offsets, data, m, n, x, expected)
        _cuda.dia_matvec(offsets, data, m, n, x, got)
        np.testing.assert_allclose(got, expected, **_tolerance(dtype))


@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("idx", INDEX_DTYPES)
def test_binop_kron_hstack(emulated, dtype, idx):
    rng = np.random.default_rng(4)
    for m, n in [(0, 3), (3, 0), (1, 1), (6, 5), (30, 40)]:
        A = scipy.sparse.random_array((m, n), density=0.4, format="csr", rng=rng)
        B = scipy.sparse.random_array((m, n), density=0.4, format="csr", rng=rng)
        Ax, Bx = _values(rng, A.nnz, dtype), _values(rng, B.nnz, dtype)
        if A.nnz > 3:
            Ax[0] = 0  # an explicit zero, and shared entries that cancel
        if np.dtype(dtype).kind == "f" and A.nnz > 3 and B.nnz > 3:
            Ax[1], Bx[1], Bx[2] = np.nan, np.inf, -np.nan
        Ap, Aj, Bp, Bj = (a.astype(idx) for a in (A.indptr, A.indices, B.indptr, B.indices))
        cap = A.nnz + B.nnz
        for op in range(5):
            outs = []
            for k in (_cpu, _cuda):
                out = (np.empty(m + 1, idx), np.empty(cap, idx), np.empty(cap, dtype))
                count = k.csr_binop(op, n, Ap, Aj, Ax, Bp, Bj, Bx, *out)
                outs.append((count, out[0], out[1][:count], out[2][:count]))
            assert outs[1][0] == outs[0][0]
            for a, b in zip(outs[1][1:], outs[0][1:]):
                np.testing.assert_array_equal(a, b)
        if A.nnz:
            with pytest.raises(ValueError, match="capacity"):
                _cuda.csr_binop(_cuda.BINOP_ADD, n, Ap, Aj, Ax, Ap, Aj, Ax + 1,
                                np.empty(m + 1, idx), np.empty(0, idx), np.empty(0, dtype))
        # kron of A (m x n) and a small B2
        B2 = scipy.sparse.random_array((3, 4), density=0.5, format="csr", rng=rng)
        B2x = _values(rng, B2.nnz, dtype)
        B2p, B2j = B2.indptr.astype(idx), B2.indices.astype(idx)
        outs = []
        for k in (_cpu, _cuda):
            out = (np.empty(3 * m + 1, idx), np.empty(A.nnz * B2.nnz, idx),
                   np.empty(A.nnz * B2.nnz, dtype))
            k.csr_kron(4, Ap, Aj, Ax, B2p, B2j, B2x, *out)
            outs.append(out)
        for a, b in zip(outs[1], outs[0]):
            np.testing.assert_array_equal(a, b)
        # hstack of three blocks with m rows, concatenated arrays (pointers not from 0)
        blocks = [scipy.sparse.random_array((m, w), density=0.3, format="csr", rng=rng)
                  for w in (2, 5, 1)]
        indptr_cat = np.concatenate([b.indptr + 7 * i for i, b in enumerate(blocks)]).astype(idx)
        indices_cat = np.concatenate([b.indices for b in blocks]).astype(idx)
        data_cat = _values(rng, len(indices_cat), dtype)
        col_offset = np.array([0, 2, 7], dtype=idx)
        outs = []
        for k in (_cpu, _cuda):
            out = (np.empty(m + 1, idx), np.empty(len(indices_cat), idx),
                   np.empty(len(indices_cat), dtype))
            k.csr_hstack(m, col_offset, indptr_cat, indices_cat, data_cat, *out)
            outs.append(out)
        for a, b in zip(outs[1], outs[0]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("idx", INDEX_DTYPES)
def test_indexing_kernels(emulated, dtype, idx):
    for indptr, indices, m, n, rng in _structures(idx):
        data = _values(rng, len(indices), dtype)
        sorted_indices, sorted_data = indices.copy(), data.copy()
        _cpu.csr_sort_indices(indptr, sorted_indices, sorted_data)
        if n:
            cols = rng.integers(0, n, 9).astype(idx)  # repeats, any order
            maps = []
            for k in (_cpu, _cuda):
                offsets, order = np.empty(n + 1, idx), np.empty(len(cols), idx)
                k.column_map(cols, offsets, order)
                maps.append((offsets, order))
            for a, b in zip(maps[1], maps[0]):
                np.testing.assert_array_equal(a, b)
            offsets, order = maps[0]
            counts = [np.empty(m + 1, np.int64) for _ in range(2)]
            total = _cpu.csr_column_select_count(indptr, indices, offsets, counts[0])
            assert _cuda.csr_column_select_count(indptr, indices, offsets, counts[1]) == total
            np.testing.assert_array_equal(counts[1], counts[0])
            out_indptr = counts[0].astype(idx)
            outs = []
            for k in (_cpu, _cuda):
                o = (np.empty(total, idx), np.empty(total, dtype), np.empty(total, idx))
                k.csr_column_select(indptr, indices, offsets, order, out_indptr, *o[:1], data,
                                    *o[1:])
                outs.append(o)
            for a, b in zip(outs[1], outs[0]):
                np.testing.assert_array_equal(a, b)
        for r0, r1, c0, c1 in [(0, m, 0, n), (m // 3, m, 1, max(n - 1, 1)), (0, 0, 0, n)]:
            counts = [np.empty(r1 - r0 + 1, np.int64) for _ in range(2)]
            total = _cpu.csr_submatrix_count(indptr, indices, r0, r1, c0, c1, counts[0])
            assert _cuda.csr_submatrix_count(indptr, indices, r0, r1, c0, c1,
                                             counts[1]) == total
            np.testing.assert_array_equal(counts[1], counts[0])
            outs = []
            for k in (_cpu, _cuda):
                o = (np.empty(total, idx), np.empty(total, dtype), np.empty(total, idx))
                k.csr_submatrix(indptr, indices, r0, r1, c0, c1, counts[0].astype(idx), o[0],
                                data, o[1], o[2])
                outs.append(o)
            for a, b in zip(outs[1], outs[0]):
                np.testing.assert_array_equal(a, b)
        if not (m and n):
            continue
        rows = rng.integers(0, m, 12).astype(idx)
        cols = rng.integers(0, n, 12).astype(idx)
        for ind, dat, is_sorted in [(indices, data, False), (sorted_indices, sorted_data, True)]:
            res = []
            for k in (_cpu, _cuda):
                counts = np.empty(12, np.int64)
                total = k.csr_lookup_count(indptr, ind, is_sorted, rows, cols, counts)
                offs = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
                pos = np.empty(total, idx)
                k.csr_lookup_fill(indptr, ind, is_sorted, rows, cols, offs, pos)
                first = np.empty(12, np.int64)
                dup = k.csr_lookup_offsets(indptr, ind, is_sorted, rows, cols, first)
                vals = np.empty(12, dtype)
                k.csr_lookup_values(indptr, ind, dat, is_sorted, rows, cols, vals)
                res.append((total, counts, pos, first, dup, vals))
            assert res[1][0] == res[0][0] and res[1][4] == res[0][4]
            for a, b in zip(res[1][1:4], res[0][1:4]):
                np.testing.assert_array_equal(a, b)
            np.testing.assert_allclose(res[1][5], res[0][5], **_tolerance(dtype))


@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("idx", INDEX_DTYPES)
def test_spgemm(emulated, dtype, idx):
    rng = np.random.default_rng(5)
    for m, inner, n, nnz_a, nnz_b in [(0, 3, 2, 0, 2), (3, 0, 2, 0, 0), (4, 3, 0, 5, 0),
                                      (6, 5, 7, 14, 12), (40, 30, 35, 150, 120)]:
        Ap, Aj = _raw_csr(rng, m, inner, nnz_a, idx)
        Bp, Bj = _raw_csr(rng, inner, n, nnz_b, idx)
        Ax, Bx = _values(rng, len(Aj), dtype), _values(rng, len(Bj), dtype)
        if len(Ax) > 2:
            Ax[1] = 0  # products that vanish stay stored, as zeros
        counts = [np.empty(m + 1, np.int64) for _ in range(2)]
        nnz = _cpu.csr_matmat_row_nnz(n, Ap, Aj, Bp, Bj, counts[0])
        assert _cuda.csr_matmat_row_nnz(n, Ap, Aj, Bp, Bj, counts[1]) == nnz
        np.testing.assert_array_equal(counts[1], counts[0])
        Cp = counts[0].astype(idx)
        outs = []
        for k in (_cpu, _cuda):
            Cj, Cx = np.empty(nnz, idx), np.empty(nnz, dtype)
            zeros = k.csr_matmat(n, Ap, Aj, Ax, Bp, Bj, Bx, Cp, Cj, Cx)
            outs.append((zeros, Cj, Cx))
        assert outs[1][0] == outs[0][0]
        np.testing.assert_array_equal(outs[1][1], outs[0][1])  # first-appearance order
        np.testing.assert_array_equal(outs[1][2], outs[0][2])  # same additions, same order


@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("idx", INDEX_DTYPES)
def test_line_reductions(emulated, dtype, idx):
    """max/min/fmax/fmin and argmax/argmin of each row, with ties, zeros, infinities and NaNs
    (in either part of a complex value), equal to the CPU kernels bitwise."""
    rng = np.random.default_rng(3)
    pool = np.array([0.0, 1.0, -1.0, 2.0, np.inf, -np.inf, np.nan])
    for shape in [(0, 3), (1, 1), (6, 4), (30, 7), (200, 3)]:
        for density in (0.3, 1.0):
            A = scipy.sparse.random_array(shape, density=density, format="csr", rng=rng)
            indptr, indices = A.indptr.astype(idx), A.indices.astype(idx)
            data = np.zeros(A.nnz, dtype)
            data.real = rng.choice(pool, A.nnz)
            if np.dtype(dtype).kind == "c":
                data.imag = rng.choice(pool, A.nnz)
            m, n = shape
            for op in (_cuda.REDUCE_MAX, _cuda.REDUCE_MIN, _cuda.REDUCE_FMAX,
                       _cuda.REDUCE_FMIN):
                for with_zero in (False, True):
                    expected, got = np.empty(m, dtype), np.full(m, 5, dtype)
                    _cpu.csr_line_reduce(op, n, with_zero, indptr, data, expected)
                    _cuda.csr_line_reduce(op, n, with_zero, indptr, data, got)
                    np.testing.assert_array_equal(got, expected)
            for op in (_cuda.REDUCE_MAX, _cuda.REDUCE_MIN):
                for explicit in (False, True):
                    expected, got = np.empty(m, np.int64), np.full(m, -1, np.int64)
                    _cpu.csr_line_argreduce(op, n, explicit, indptr, indices, data, expected)
                    _cuda.csr_line_argreduce(op, n, explicit, indptr, indices, data, got)
                    np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="op must be one of"):
        _cuda.csr_line_reduce(7, 1, True, np.zeros(2, idx), np.zeros(0, dtype),
                              np.empty(1, dtype))
    with pytest.raises(ValueError, match="out has length 2, expected 1"):
        _cuda.csr_line_argreduce(_cuda.REDUCE_MAX, 1, True, np.zeros(2, idx),
                                 np.zeros(0, idx), np.zeros(0, dtype), np.empty(2, np.int64))


def test_launch_geometry(emulated):
    """One thread per row, blocks of _launch.BLOCK, at least one block."""
    emulated.launches.clear()
    indptr = np.zeros(1001, dtype=np.int32)
    _cuda.csr_matvec(indptr, np.zeros(0, np.int32), np.zeros(0), np.zeros(3),
                     np.empty(1000))
    _cuda.csr_matvec(np.zeros(1, np.int32), np.zeros(0, np.int32), np.zeros(0), np.zeros(3),
                     np.empty(0))
    assert emulated.launches == [("csr_matvec", 8, _launch.BLOCK),
                                 ("csr_matvec", 1, _launch.BLOCK)]


def test_launch_rejects_unsupported_dtypes(emulated):
    with pytest.raises(TypeError, match="int32 or int64"):
        _cuda.csr_matvec(np.zeros(2, np.int16), np.zeros(0, np.int16), np.zeros(0),
                         np.zeros(1), np.empty(1))
    with pytest.raises(TypeError, match="float32, float64, complex64 or complex128"):
        _cuda.csr_matvec(np.zeros(2, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int64),
                         np.zeros(1, np.int64), np.empty(1, np.int64))


def test_every_kernel_is_tested():
    launchers = {"csr_matvec", "csr_matvecs", "csr_matvec_transpose", "csr_matvecs_transpose",
                 "csr_sddmm", "expand_indptr", "csr_diagonal", "csr_row_sums", "csr_col_sums",
                 "csr_todense", "csr_band_filter", "csr_transpose", "csr_transpose_pattern",
                 "coo_tocsr", "coo_tocsr_pattern", "csr_sort_indices", "csr_sort_indices_pattern",
                 "csr_eliminate_zeros", "csr_masked_dot", "csr_union_map",
                 "csr_sum_duplicates", "csr_sum_duplicates_pattern", "coo_todense",
                 "dia_matvec", "csr_row_gather_count", "csr_row_gather", "csr_binop",
                 "csr_kron", "csr_hstack", "column_map", "csr_column_select",
                 "csr_column_select_count", "csr_submatrix", "csr_submatrix_count",
                 "csr_lookup_count", "csr_lookup_fill", "csr_lookup_offsets",
                 "csr_lookup_values", "csr_has_sorted_indices",
                 "csr_has_canonical_format", "csr_matmat", "csr_matmat_row_nnz",
                 "csr_spmv_backward", "csr_spgemm_backward", "csr_spmm_backward",
                 "csr_matvecs_permuted", "csr_line_reduce", "csr_line_argreduce"}
    # launchers made of other kernels and array operations (sorts, scans)
    composite = {"csr_band_filter", "csr_transpose", "csr_transpose_pattern", "coo_tocsr",
                 "coo_tocsr_pattern", "csr_sort_indices", "csr_sort_indices_pattern",
                 "csr_eliminate_zeros", "csr_union_map", "csr_sum_duplicates",
                 "csr_sum_duplicates_pattern", "csr_row_gather_count", "csr_binop",
                 "column_map", "csr_column_select_count", "csr_submatrix_count",
                 "csr_lookup_count", "csr_lookup_fill", "csr_lookup_offsets",
                 "csr_has_sorted_indices", "csr_has_canonical_format", "csr_matmat",
                 "csr_matmat_row_nnz", "csr_spmv_backward", "csr_spgemm_backward",
                 "csr_spmm_backward", "csr_matvecs_permuted"}
    kernels = launchers - composite
    assert set(_launch.KERNELS) == kernels | {"csr_band_count", "csr_band_fill",
                                              "csr_union_count", "csr_union_fill",
                                              "segment_sum", "csr_binop_rows",
                                              "csr_lookup", "spgemm_expand"}
    constants = {"BINOP_ADD", "BINOP_SUB", "BINOP_MUL", "BINOP_MAX", "BINOP_MIN",
                 "REDUCE_MAX", "REDUCE_MIN", "REDUCE_FMAX", "REDUCE_FMIN"}
    assert set(_cuda.__all__) == launchers | constants
    for name in constants:
        assert getattr(_cuda, name) == getattr(_cpu, name)
    tested = launchers
    # the same names and signatures as the CPU kernels
    for name in tested:
        assert hasattr(_cpu, name)


# CPU kernels without a CUDA launcher, and why
NOT_ON_THE_GPU = {
    # sparse triangular solves: cuSPARSE's (through cupyx) on the GPU, not ours
    "csr_spsolve_triangular",
    # graph colourings for spgrad.ad: sequential greedy algorithms, run on the host
    "greedy_coloring", "greedy_star_coloring", "vertex_order", "SMALLEST_LAST",
    "INCIDENCE_DEGREE", "DYNAMIC_LARGEST_FIRST",
    # the one-thread SpMM backward (a serial scatter); the GPU runs csr_spmm_backward
    "csr_spmm_backward_scatter",
}


def test_cpu_kernels_have_gpu_launchers():
    import importlib

    cpu = set()
    for module in ("_csr_kernels", "_elementwise", "_index", "_masked", "_triangular",
                   "_coloring"):
        cpu |= set(importlib.import_module(f"spgrad._cpu.{module}").__all__)
    assert cpu - set(_cuda.__all__) == NOT_ON_THE_GPU
    assert set(_cuda.__all__) <= cpu


def test_import_and_launch_without_cupy(monkeypatch):
    """Importing spgrad._cuda needs no CuPy; launching for real without it names the cause."""
    import sys

    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(ImportError, match="need CuPy"):
        _launch.CupyBackend().launch("csr_matvec", np.int32, np.float64, 1, 1, ())


def test_backend_dispatch_by_array_type(monkeypatch):
    """spgrad._backend.kernels picks the kernel module by the arrays' type: NumPy -> _cpu,
    CuPy -> _cuda (a stand-in module plays CuPy here), mixed -> an error naming both."""
    import sys
    import types

    from spgrad import _backend

    fake = types.ModuleType("cupy")
    fake.ndarray = type("ndarray", (), {})
    monkeypatch.setitem(sys.modules, "cupy", fake)
    host, device = np.zeros(3), fake.ndarray()
    assert _backend.kernels(host, None) is _cpu
    assert _backend.kernels(device, device) is _cuda
    with pytest.raises(ValueError, match="different devices: cpu .* and cuda"):
        _backend.kernels(host, device)
    with pytest.raises(TypeError, match="NumPy or CuPy arrays, got builtins.list"):
        _backend.kernels([1, 2])
