"""Direct solvers on the GPU: ``spsolve_triangular`` (cuSPARSE), ``spsolve`` (cuSOLVER's
sparse QR) and ``splu``/``spilu``/``factorized`` (SuperLU on the host, cuSPARSE's triangular
solves on the GPU), through ``cupyx``, against the same calls on the CPU (which match SciPy).

Parametrised like ``test_cuda_containers``: ``emulated`` (the stand-in CuPy and cupyx of
``emulated_cupy``, whose vendor routines compute with SciPy) always, ``cuda`` unchanged with a
GPU. What the emulation checks is spgrad's side: SciPy's checks, errors, warnings, dtypes and
shapes, the 32-bit index narrowing, inputs left untouched and no host round trips.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse

import emulated_cupy
import spgrad as sp
import spgrad.linalg as spla
from cuda_support import gpu_fixtures

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


emulation, gpu = gpu_fixtures("cuda_linalg")


def _host(x):
    return x.get()


def _tol(dtype):
    single = np.dtype(dtype) in (np.float32, np.complex64)
    return {"rtol": 1e-4 if single else 1e-10, "atol": 1e-4 if single else 1e-10}


def _triangular(n, dtype, lower, *, idx=np.int32, duplicates=False, seed=0):
    rng = np.random.default_rng(seed)
    T = scipy.sparse.random_array((n, n), density=0.3, rng=rng, format="coo")
    row, col = T.coords
    keep = (row >= col) if lower else (row <= col)
    row, col = np.r_[row[keep & (row != col)], np.arange(n)], \
        np.r_[col[keep & (row != col)], np.arange(n)]
    vals = rng.uniform(0.5, 1.5, len(row))
    vals[-n:] += 2.0  # a diagonal away from zero
    if duplicates:  # the diagonal stored twice, halves summing to the value
        row, col = np.r_[row, np.arange(n)], np.r_[col, np.arange(n)]
        vals = np.r_[vals[:-n], vals[-n:] / 2, vals[-n:] / 2]
    if np.dtype(dtype).kind == "c":
        vals = vals + 0.3j * rng.standard_normal(len(vals))
    return sp.coo_array((vals.astype(dtype), (row.astype(idx), col.astype(idx))),
                        shape=(n, n))


def _rhs(n, dtype, ncols, seed=1):
    rng = np.random.default_rng(seed)
    b = rng.standard_normal((n, ncols) if ncols else n)
    if np.dtype(dtype).kind == "c":
        b = b + 1j * rng.standard_normal(b.shape)
    return b.astype(dtype)


# ------------------------------------------------------------------- spsolve_triangular
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("ncols", [0, 3])
def test_spsolve_triangular_matches_the_cpu(gpu, dtype, fmt, lower, ncols):
    A = _triangular(15, dtype, lower).asformat(fmt)
    b = _rhs(15, dtype, ncols)
    for unit in (False, True):
        expected = spla.spsolve_triangular(A, b, lower=lower, unit_diagonal=unit)
        bg = gpu.asarray(b)
        x = spla.spsolve_triangular(A.to("cuda"), bg, lower=lower, unit_diagonal=unit)
        assert isinstance(x, gpu.ndarray)
        assert x.dtype == expected.dtype and x.shape == expected.shape
        np.testing.assert_allclose(_host(x), expected, **_tol(dtype))
        np.testing.assert_array_equal(_host(bg), b)  # b untouched


@pytest.mark.parametrize("idx", [np.int32, np.int64])
def test_spsolve_triangular_index_widths_duplicates_and_dtypes(gpu, idx):
    A = _triangular(12, np.float64, True, idx=idx, duplicates=True).tocsr()
    assert not A.has_canonical_format or A.indices.dtype == idx
    G = A.to("cuda")
    before = [_host(a).copy() for a in (G.data, G.indices, G.indptr)]
    for b in (_rhs(12, np.float64, 0), np.arange(12), np.ones((12, 2), np.float32)):
        expected = spla.spsolve_triangular(A, b)
        x = spla.spsolve_triangular(G, gpu.asarray(b))
        assert x.dtype == expected.dtype
        np.testing.assert_allclose(_host(x), expected, rtol=1e-10)
    for a, old in zip((G.data, G.indices, G.indptr), before):  # A untouched
        np.testing.assert_array_equal(_host(a), old)
    # other formats are converted with SciPy's warning
    with pytest.warns(sp.SparseEfficiencyWarning, match="CSC or CSR"):
        x = spla.spsolve_triangular(A.tocoo().to("cuda"), gpu.asarray(np.ones(12)))
    np.testing.assert_allclose(_host(x), spla.spsolve_triangular(A, np.ones(12)), rtol=1e-10)


def test_spsolve_triangular_errors(gpu):
    A = _triangular(6, np.float64, True).tocsr()
    G, b = A.to("cuda"), gpu.asarray(np.ones(6))
    singular = A.copy()
    singular.data[singular.indptr[3]:singular.indptr[4]][-1] = 0  # row 3's diagonal
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        spla.spsolve_triangular(singular, np.ones(6))
    with pytest.raises(np.linalg.LinAlgError, match="A is singular: zero entry on diagonal"):
        spla.spsolve_triangular(singular.to("cuda"), b)
    for bad in (np.ones(5), np.ones((6, 2, 2))):
        with pytest.raises(ValueError) as cpu_err:
            spla.spsolve_triangular(A, bad)
        with pytest.raises(ValueError) as gpu_err:
            spla.spsolve_triangular(G, gpu.asarray(bad))
        assert str(gpu_err.value) == str(cpu_err.value)
    with pytest.raises(ValueError, match="must be a square matrix"):
        spla.spsolve_triangular(A[:, :5].to("cuda"), b)
    with pytest.raises(NotImplementedError, match="outside its upper triangle"):
        spla.spsolve_triangular(G, b, lower=False)
    with pytest.raises(ValueError, match="different devices"):
        spla.spsolve_triangular(G, np.ones(6))
    with pytest.raises(ValueError, match="different devices"):
        spla.spsolve_triangular(A, b)


# ------------------------------------------------------------------------------ spsolve
def _general(n, dtype, fmt, seed=2):
    rng = np.random.default_rng(seed)
    A = scipy.sparse.random_array((n, n), density=0.3, rng=rng) + \
        4 * scipy.sparse.eye_array(n)
    if np.dtype(dtype).kind == "c":
        A = A + 0.5j * scipy.sparse.random_array((n, n), density=0.2, rng=rng)
    return sp.csr_array(A).astype(dtype).asformat(fmt)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("bshape", [(14,), (14, 1), (14, 3)])
def test_spsolve_matches_the_cpu(gpu, dtype, fmt, bshape):
    A = _general(14, dtype, fmt)
    b = _rhs(14, dtype, 0).reshape(-1, 1) if len(bshape) == 2 else _rhs(14, dtype, 0)
    if bshape == (14, 3):
        b = _rhs(14, dtype, 3)
    expected = spla.spsolve(A, b)
    bg = gpu.asarray(b)
    x = spla.spsolve(A.to("cuda"), bg)
    assert isinstance(x, gpu.ndarray)
    assert x.dtype == expected.dtype and x.shape == expected.shape
    np.testing.assert_allclose(_host(x), expected, **_tol(dtype))
    np.testing.assert_array_equal(_host(bg), b)


def test_spsolve_formats_dtypes_and_singular(gpu):
    A = _general(10, np.float64, "csr")
    G = A.to("cuda")
    for b in (np.arange(10), np.ones(10, np.float32), np.ones(10, np.complex64)):
        expected = spla.spsolve(A, b)
        x = spla.spsolve(G, gpu.asarray(b))
        assert x.dtype == expected.dtype
        np.testing.assert_allclose(_host(x), expected, rtol=1e-10)
    with pytest.warns(sp.SparseEfficiencyWarning, match="CSC or CSR"):
        x = spla.spsolve(A.tocoo().to("cuda"), gpu.asarray(np.ones(10)))
    np.testing.assert_allclose(_host(x), spla.spsolve(A, np.ones(10)), rtol=1e-10)
    # a sparse b: a vector gives a dense x; several columns a sparse x, as on the CPU
    bs = sp.csc_array(np.ones((10, 1)))
    np.testing.assert_allclose(_host(spla.spsolve(G, bs.to("cuda"))), spla.spsolve(A, bs),
                               rtol=1e-10)
    # a singular matrix: SciPy's warning and NaN
    S = sp.csr_array(np.diag([1.0, 0.0, 2.0]))
    with pytest.warns(spla.MatrixRankWarning, match="exactly singular"):
        expected = spla.spsolve(S, np.ones(3))
    with pytest.warns(spla.MatrixRankWarning, match="exactly singular"):
        x = spla.spsolve(S.to("cuda"), gpu.asarray(np.ones(3)))
    assert np.isnan(_host(x)).all() and np.isnan(expected).all()


def _same_warnings(call_cpu, call_gpu):
    """Run both calls recording warnings; return their results after checking that they
    warned alike (the same categories and messages, each at least once)."""
    results, caught = [], []
    for call in (call_cpu, call_gpu):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            results.append(call())
        caught.append({(w.category.__name__, str(w.message)) for w in seen})
    assert caught[0] == caught[1]
    return results


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("array", [True, False])
def test_sparse_right_hand_sides_and_inv(gpu, fmt, array):
    """spsolve with a sparse b of several columns and inv on the GPU: SciPy's sparse x of A's
    class (CSC for a COO A), its pattern the nonzeros of the solution (structural zeros of the
    inverse stay out), SciPy's warnings; a singular A raises SciPy's RuntimeError."""
    rng = np.random.default_rng(5)
    blocks = [_general(5, np.float64, "csr", seed=s).toarray() for s in (1, 2)]
    D = scipy.linalg.block_diag(*blocks)  # a block-diagonal inverse: many structural zeros
    A = sp.csr_array(D).asformat(fmt)
    if not array:
        A = {"csr": sp.csr_matrix, "csc": sp.csc_matrix, "coo": sp.coo_matrix}[fmt](A)
    G = A.to("cuda")
    b = sp.random_array((10, 4), density=0.4, rng=rng, format="csr")
    for b_cpu in (b, b.tocsc()):
        want, got = _same_warnings(lambda: spla.spsolve(A, b_cpu),
                                   lambda: spla.spsolve(G, b_cpu.to("cuda")))
        assert type(got) is type(want) and got.device == "cuda:0"
        host = got.cpu()
        np.testing.assert_array_equal(host.indptr, want.indptr)
        np.testing.assert_array_equal(host.indices, want.indices)
        np.testing.assert_allclose(host.data, want.data, rtol=1e-12)
    want, got = _same_warnings(lambda: spla.inv(A), lambda: spla.inv(G))
    assert type(got) is type(want) and got.format == want.format
    host = got.cpu()
    assert host.nnz == want.nnz < 50  # (the blocks' inverses have zeros of their own)
    np.testing.assert_allclose(host.toarray(), want.toarray(), rtol=1e-12, atol=1e-14)
    S = sp.csc_array(np.diag([1.0, 0.0, 2.0])).to("cuda")
    with pytest.raises(RuntimeError, match="singular"):
        spla.inv(S)


def test_spsolve_errors(gpu):
    A = _general(6, np.float64, "csr")
    G = A.to("cuda")
    for bad_A, bad_b in ((A[:, :5], np.ones(6)), (A, np.ones(5))):
        with pytest.raises(ValueError) as cpu_err:
            spla.spsolve(bad_A, bad_b)
        with pytest.raises(ValueError) as gpu_err:
            spla.spsolve(bad_A.to("cuda"), gpu.asarray(bad_b))
        assert str(gpu_err.value) == str(cpu_err.value)
    with pytest.raises(ValueError, match="different devices"):
        spla.spsolve(G, np.ones(6))
    with pytest.raises(ValueError, match="different devices"):
        spla.spsolve(A, gpu.asarray(np.ones(6)))


# ------------------------------------------------------------- splu, spilu, factorized
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bshape", [(12,), (12, 3)])
def test_splu_matches_the_cpu(gpu, dtype, bshape):
    A = _general(12, dtype, "csc")
    b = _rhs(12, dtype, bshape[1] if len(bshape) == 2 else 0)
    lu, lu_gpu = spla.splu(A), spla.splu(A.to("cuda"))
    assert lu_gpu.shape == lu.shape and lu_gpu.nnz == lu.nnz
    for name in ("perm_r", "perm_c"):
        p = getattr(lu_gpu, name)
        assert isinstance(p, gpu.ndarray)
        np.testing.assert_array_equal(_host(p), getattr(lu, name))
    for name in ("L", "U"):
        F = getattr(lu_gpu, name)
        assert F.format == "csc" and F.device.startswith("cuda")
        np.testing.assert_array_equal(F.cpu().toarray(), getattr(lu, name).toarray())
    bg = gpu.asarray(b)
    for trans in ("N", "T", "H"):
        expected = lu.solve(b, trans)
        x = lu_gpu.solve(bg, trans)
        assert isinstance(x, gpu.ndarray)
        assert x.dtype == expected.dtype and x.shape == expected.shape
        np.testing.assert_allclose(_host(x), expected, **_tol(dtype))
    np.testing.assert_array_equal(_host(bg), b)  # b untouched
    solve = spla.factorized(A.to("cuda"))
    np.testing.assert_allclose(_host(solve(bg)), spla.factorized(A)(b), **_tol(dtype))
    M, M_gpu = spla.spilu(A, drop_tol=0.1), spla.spilu(A.to("cuda"), drop_tol=0.1)
    np.testing.assert_allclose(_host(M_gpu.solve(bg)), M.solve(b), **_tol(dtype))


def test_splu_formats_dtypes_and_errors(gpu):
    A = _general(8, np.float64, "csr")
    with pytest.warns(sp.SparseEfficiencyWarning, match="splu converted its input to CSC"):
        lu = spla.splu(A.to("cuda"))
    expected = spla.splu(A.tocsc())
    for b in (np.arange(8), np.ones(8, np.float32)):  # cast safely to the factors' dtype
        np.testing.assert_allclose(_host(lu.solve(gpu.asarray(b))), expected.solve(b),
                                   rtol=1e-10)
    lu32 = spla.splu(A.tocsc().astype(np.float32).to("cuda"))
    with pytest.raises(TypeError, match="according to the rule 'safe'"):
        lu32.solve(gpu.asarray(np.ones(8)))
    with pytest.raises(ValueError, match="trans must be N, T, or H"):
        lu.solve(gpu.asarray(np.ones(8)), trans="X")
    with pytest.raises(ValueError, match="b is of incompatible size"):
        lu.solve(gpu.asarray(np.ones(7)))
    with pytest.raises(ValueError, match="different devices"):
        lu.solve(np.ones(8))
    with pytest.raises(ValueError, match="different devices"):
        expected.solve(gpu.asarray(np.ones(8)))
    with pytest.raises(ValueError, match="can only factor square matrices"):
        spla.splu(A.tocsc()[:, :7].to("cuda"))
    with pytest.raises(RuntimeError, match="singular"):
        spla.splu(sp.csc_array(np.diag([1.0, 0.0])).to("cuda"))
    # an unsorted CSC with duplicates is factorised as its canonical form, and left as it is
    U = sp.csc_array((np.array([1.0, 3.0, 1.0, 4.0]), np.array([1, 0, 0, 1]),
                      np.array([0, 3, 4])), shape=(2, 2)).to("cuda")
    before = [_host(a).copy() for a in (U.data, U.indices, U.indptr)]
    x = spla.splu(U).solve(gpu.asarray(np.array([1.0, 2.0])))
    np.testing.assert_allclose(_host(x), np.linalg.solve([[4.0, 0.0], [1.0, 4.0]], [1, 2]))
    for a, b in zip((U.data, U.indices, U.indptr), before, strict=True):
        np.testing.assert_array_equal(_host(a), b)


# --------------------------------------------------------------------- vendor boundaries
def test_missing_library_routines_are_named(gpu, monkeypatch):
    if not hasattr(gpu, "transfers"):
        pytest.skip("the emulated cupyx can pretend a routine is missing")
    G = _triangular(5, np.float64, True).tocsr().to("cuda")
    monkeypatch.setattr(emulated_cupy, "available", set())
    with pytest.raises(NotImplementedError, match="spsolve_triangular on the GPU needs "
                                                  "cusparse spsm or csrsm2"):
        spla.spsolve_triangular(G, gpu.asarray(np.ones(5)))
    with pytest.raises(NotImplementedError, match="spsolve on the GPU needs cusolver "
                                                  "csrlsvqr"):
        spla.spsolve(G, gpu.asarray(np.ones(5)))
    with pytest.raises(NotImplementedError, match="splu on the GPU needs cusparse spsm"):
        spla.splu(G.tocsc())


def test_indices_beyond_32_bits_are_refused(gpu):
    from spgrad._cuda import _vendor

    data, indices = gpu.asarray(np.ones(1)), gpu.asarray(np.zeros(1, np.int64))
    indptr = gpu.asarray(np.array([0, 1], np.int64))
    with pytest.raises(ValueError, match="spsolve on the GPU calls a cuSPARSE/cuSOLVER "
                                         "routine that takes 32-bit indices"):
        _vendor.csr_matrix(data, indices, indptr, (2**31, 2**31), "spsolve")


def test_solves_make_no_host_round_trips(gpu):
    if not hasattr(gpu, "transfers"):
        pytest.skip("transfers are counted by the emulated CuPy only")
    T = _triangular(20, np.float64, True, duplicates=True).tocsc().to("cuda")
    A = _general(20, np.float64, "csc").to("cuda")
    b = gpu.asarray(np.ones(20))
    lu = spla.splu(A)  # SuperLU runs on a host copy of A (as in cupyx); the solves do not
    gpu.transfers.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spla.spsolve_triangular(T, b)
        spla.spsolve(A, b)
        for trans in ("N", "T", "H"):
            lu.solve(b, trans)
    assert gpu.transfers["h2d"] == 0 and gpu.transfers["d2h"] == 0, gpu.transfers


# ------------------------------------------------------------------ eigensolvers and norms
def _hermitian(n, dtype, seed=2):
    """A Hermitian matrix with well separated eigenvalues (1, ..., n on the diagonal)."""
    rng = np.random.default_rng(seed)
    R = scipy.sparse.random_array((n, n), density=0.2, rng=rng, format="csr")
    if np.dtype(dtype).kind == "c":
        R = R + 1j * scipy.sparse.random_array((n, n), density=0.2, rng=rng, format="csr")
    H = 0.2 * (R + R.conj().T) + scipy.sparse.diags_array(np.arange(1.0, n + 1))
    return sp.csr_array(H.astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("which", ["LM", "LA", "SA"])
def test_eigsh_matches_the_cpu(gpu, dtype, which):
    """cupyx's Lanczos on the GPU: the eigenvalues SciPy's ARPACK finds, in its ascending
    order, and eigenvectors with small residuals; the values alone as well."""
    A = _hermitian(40, dtype)
    G = A.to("cuda")
    tol = 1e-3 if dtype == np.float32 else 1e-8
    w_ref = scipy.sparse.linalg.eigsh(A.to_scipy(), k=3, which=which, return_eigenvectors=False)
    w, V = spla.eigsh(G, k=3, which=which)
    assert isinstance(w, gpu.ndarray) and isinstance(V, gpu.ndarray) and V.shape == (40, 3)
    np.testing.assert_allclose(_host(w), np.sort(w_ref), rtol=tol, atol=tol)
    residual = _host(G @ V) - _host(V) * _host(w)
    assert np.abs(residual).max() < 10 * tol
    w_only = spla.eigsh(G, k=3, which=which, return_eigenvectors=False)
    np.testing.assert_allclose(_host(w_only), _host(w), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("kwargs", [{"which": "SM"}, {"which": "BE"}, {"sigma": 10.3},
                                    {"sigma": 10.3, "which": "LA"},
                                    {"sigma": 10.3, "which": "SA"},
                                    {"sigma": 10.3, "which": "SM"}, {"sigma": 0.0, "k": 2}])
def test_eigsh_shift_invert_and_interior_matches_the_cpu(gpu, dtype, kwargs):
    """eigsh on the GPU beyond cupyx's Lanczos (which='SM', 'BE', shift-invert sigma: spgrad's
    Krylov-Schur method, the inverse by splu): ARPACK's eigenvalues in SciPy's ascending
    order and dtypes, eigenvectors real for a real A, unit, with small residuals."""
    if np.dtype(dtype).kind == "c" and kwargs.get("which") == "BE":
        pytest.skip("SciPy refuses which='BE' for a complex A (tested in the errors)")
    A = _hermitian(40, dtype)
    G = A.to("cuda")
    kw = {"k": 4, **kwargs}
    tol = 1e-3 if dtype == np.float32 else 1e-8
    w_ref, V_ref = scipy.sparse.linalg.eigsh(A.to_scipy(), **kw)
    w, V = spla.eigsh(G, **kw)
    assert isinstance(w, gpu.ndarray) and w.dtype == w_ref.dtype and V.dtype == V_ref.dtype
    if np.dtype(dtype).kind == "c":  # SciPy's eigsh of a complex A keeps eigs' order
        w_ref = np.sort(w_ref)
    np.testing.assert_allclose(_host(w), w_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(np.linalg.norm(_host(V), axis=0), 1.0, rtol=tol)
    residual = _host(G @ V) - _host(V) * _host(w)
    assert np.abs(residual).max() < 10 * tol
    w_only = spla.eigsh(G, return_eigenvectors=False, **kw)
    np.testing.assert_allclose(_host(w_only), _host(w), rtol=tol, atol=tol)


def test_eigsh_krylov_schur_errors(gpu):
    """SciPy's checks of eigsh on the paths of spgrad's Krylov-Schur method."""
    import scipy.sparse.linalg as sla

    G, C = _hermitian(10, np.float64).to("cuda"), _hermitian(10, np.complex128).to("cuda")
    for M, kwargs, error, message in (
            (G, {"k": 0, "which": "SM"}, ValueError, "k must be greater than 0"),
            (G, {"k": 10, "which": "SM"}, TypeError, "Cannot use scipy.linalg.eigh"),
            (G, {"k": 2, "which": "XX", "sigma": 1.0}, ValueError, "which must be one of"),
            (G, {"k": 2, "ncv": 2, "which": "SM"}, ValueError, "ncv must be k<ncv<=n"),
            (C, {"k": 2, "which": "BE"}, ValueError, "which='BE' cannot be used with complex"),
            (C, {"k": 9, "which": "SM"}, TypeError, "Cannot use scipy.linalg.eig ")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with pytest.raises(error, match=message):
                spla.eigsh(M, **kwargs)
            with pytest.raises(error, match=message):
                sla.eigsh(M.cpu().to_scipy(), **kwargs)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_svds_and_lobpcg_match_the_cpu(gpu, dtype):
    rng = np.random.default_rng(4)
    R = sp.random_array((30, 20), density=0.3, rng=rng, format="csr", dtype=np.float64)
    R = sp.csr_array(R.astype(dtype) * (1 + 0.5j if np.dtype(dtype).kind == "c" else 1))
    G = R.to("cuda")
    s_ref = scipy.sparse.linalg.svds(R.to_scipy(), k=3, return_singular_vectors=False)
    u, s, vh = spla.svds(G, k=3)
    np.testing.assert_allclose(_host(s), np.sort(s_ref), rtol=1e-8)
    np.testing.assert_allclose(_host(G @ vh.conj().T), _host(u) * _host(s), atol=1e-8)
    np.testing.assert_allclose(_host(spla.svds(G, k=3, return_singular_vectors=False)),
                               _host(s), rtol=1e-8)
    u_only, _, none = spla.svds(G, k=3, return_singular_vectors="u")
    assert none is None and u_only.shape == (30, 3)
    H = _hermitian(40, dtype)
    X = rng.standard_normal((40, 2))
    w_ref = scipy.sparse.linalg.lobpcg(H.to_scipy(), X, largest=True, tol=1e-10,
                                       maxiter=500)[0]
    w, V = spla.lobpcg(H.to("cuda"), gpu.asarray(X), largest=True, tol=1e-10, maxiter=500)
    np.testing.assert_allclose(np.sort(_host(w)), np.sort(w_ref), rtol=1e-8)
    assert isinstance(V, gpu.ndarray) and V.shape == (40, 2)


def test_eigensolver_options_the_gpu_lacks(gpu):
    G = _hermitian(20, np.float64).to("cuda")
    for call, match in (
            (lambda: spla.eigsh(G, k=2, M=G), "M="),
            (lambda: spla.eigsh(G, k=2, mode="buckling"), "mode='buckling'"),
            (lambda: spla.svds(G, k=2, solver="propack"), "solver='propack'"),
            (lambda: spla.svds(G, k=2, v0=gpu.ones(20)), "v0="),
            (lambda: spla.svds(G, k=2, which="SM"), "which='SM'"),
            (lambda: spla.lobpcg(G, gpu.ones((20, 1)), restartControl=3), "restartControl"),
            (lambda: spla.eigs(G, k=2, Minv=G), "does not take Minv="),
            (lambda: spla.eigs(gpu.asarray(np.eye(4)), k=1), "A as an spgrad sparse array"),
            (lambda: spla.eigsh(gpu.asarray(np.eye(4)), k=1), "A as an spgrad sparse array")):
        with pytest.raises(NotImplementedError, match=match):
            call()
    with pytest.raises(ValueError, match="different devices"):
        spla.eigsh(G, k=2, v0=np.ones(20))
    with pytest.raises(ValueError, match="return_singular_vectors"):
        spla.svds(G, k=2, return_singular_vectors="x")


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("array", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_norms_and_powers_match_the_cpu(gpu, fmt, array, dtype):
    """``norm`` (every order and axis SciPy takes, its errors) and ``matrix_power`` on the
    GPU against the CPU."""
    A = _general(9, dtype, fmt)
    A = A if array else getattr(sp, f"{fmt}_matrix")(A)
    G = A.to("cuda")
    cases = [(None, None), ("fro", None), (1, None), (-1, None), (np.inf, None),
             (-np.inf, None), (2, None), ("fro", (0, 1)), (1, (1, 0))]
    cases += [(o, a) for o in (np.inf, -np.inf, 0, 1, 2, None, 3, 0.5) for a in (0, 1, -1)]
    for ord, axis in cases:
        expected = spla.norm(A, ord=ord, axis=axis)
        got = spla.norm(G, ord=ord, axis=axis)
        assert isinstance(got, gpu.ndarray), (ord, axis)
        np.testing.assert_allclose(_host(got), expected, rtol=1e-10, err_msg=f"{ord} {axis}")
        assert _host(got).shape == np.shape(expected), (ord, axis)
    for ord, axis, error in ((-2, None, NotImplementedError), ("nuc", None, ValueError),
                             (None, (0, 0), ValueError), (None, (0, 2), ValueError),
                             (None, 1.5, TypeError), ("x", 0, ValueError),
                             (None, (0, 1, 2), ValueError)):
        with pytest.raises(error):
            spla.norm(A, ord=ord, axis=axis)
        with pytest.raises(error):
            spla.norm(G, ord=ord, axis=axis)
    for power in (0, 1, 2, 5):
        expected, got = spla.matrix_power(A, power), spla.matrix_power(G, power)
        assert got.device == "cuda:0" and type(got.cpu()) is type(expected)
        np.testing.assert_allclose(got.cpu().toarray(), expected.toarray(), rtol=1e-12)
    for bad, error in ((-1, ValueError), (1.5, ValueError)):
        with pytest.raises(error):
            spla.matrix_power(G, bad)
    with pytest.raises(TypeError, match="not square"):
        spla.matrix_power(sp.csr_array(np.ones((2, 3))).to("cuda"), 2)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_expm_multiply_matches_the_cpu(gpu, dtype):
    """expm_multiply on the GPU: SciPy's Taylor degree and scaling (chosen on the GPU from
    the exact 1-norm and the GPU onenormest of its powers), the products on the GPU, nothing
    read back but scalars; vectors, matrices, time points; SciPy's dtypes."""
    A = (_general(20, dtype, "csr") - 6 * sp.eye_array(20, format="csr")).tocsr()
    G = A.to("cuda")
    rng = np.random.default_rng(5)
    b, B = rng.standard_normal(20), rng.standard_normal((20, 3))
    for args, kwargs in (((b,), {}), ((B,), {}), ((b,), {"start": 0, "stop": 1, "num": 4}),
                         ((B,), {"start": 0.5, "stop": 2, "num": 3, "endpoint": False}),
                         ((b.astype(np.float32),), {"traceA": 0.0})):
        expected = scipy.sparse.linalg.expm_multiply(A.to_scipy(), *args, **kwargs)
        operands = [gpu.asarray(a) for a in args]
        if hasattr(gpu, "transfers"):
            gpu.transfers.clear()
        got = spla.expm_multiply(G, *operands, **kwargs)
        if hasattr(gpu, "transfers"):  # the parameters are chosen on the GPU too
            assert gpu.transfers["d2h"] == 0, gpu.transfers
        assert isinstance(got, gpu.ndarray) and got.dtype == expected.dtype
        np.testing.assert_allclose(_host(got), expected, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="different devices"):
        spla.expm_multiply(G, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("assume_a", ["general", "hermitian"])
def test_funm_multiply_krylov_matches_the_cpu(gpu, dtype, assume_a):
    """funm_multiply_krylov on the GPU: SciPy's Arnoldi (Lanczos for a Hermitian A) with
    restarts, f applied to the host Hessenberg matrix; A an spgrad array on the GPU or a
    LinearOperator on CuPy arrays; SciPy's dtypes; a breakdown (b in a small invariant
    subspace), b = 0, and no host copies."""
    import scipy.linalg
    import scipy.sparse.linalg as sla

    n = 30
    A = _general(n, dtype, "csr", seed=6) * 0.3
    if assume_a == "hermitian":
        A = ((A + A.conj().T) * 0.5).tocsr()
    G = A.to("cuda")
    op = spla.LinearOperator(G.shape, matvec=lambda v: G @ v, dtype=G.dtype)
    b = _rhs(n, dtype, 0, seed=8)
    single = np.dtype(dtype) in (np.float32, np.complex64)
    tol = {"rtol": 1e-4, "atol": 1e-5} if single else {"rtol": 1e-10, "atol": 1e-12}
    for f, kw in ((scipy.linalg.expm, {}), (scipy.linalg.expm, {"restart_every_m": 4}),
                  (scipy.linalg.sqrtm, {"restart_every_m": 6, "t": 0.5}),
                  (scipy.linalg.expm, {"restart_every_m": 3, "max_restarts": 2, "atol": 0.1}),
                  (scipy.linalg.cosm, {"rtol": 1e-3})):
        want = sla.funm_multiply_krylov(f, A.to_scipy(), b, assume_a=assume_a, **kw)
        for operand in (G, op):
            got = spla.funm_multiply_krylov(f, operand, gpu.asarray(b), assume_a=assume_a,
                                            **kw)
            assert isinstance(got, gpu.ndarray) and got.dtype == want.dtype, kw
            np.testing.assert_allclose(_host(got), want, **tol)
    D = sp.diags_array(np.r_[np.arange(1.0, 5.0), np.zeros(n - 4)]).astype(dtype).tocsr()
    e = np.r_[np.ones(4), np.zeros(n - 4)].astype(dtype)  # in a 4-dimensional invariant space
    want = sla.funm_multiply_krylov(scipy.linalg.expm, D.to_scipy(), e, assume_a=assume_a)
    bg, Dg = gpu.asarray(e), D.to("cuda")
    if hasattr(gpu, "transfers"):
        gpu.transfers.clear()
    got = spla.funm_multiply_krylov(scipy.linalg.expm, Dg, bg, assume_a=assume_a)
    if hasattr(gpu, "transfers"):  # only scalars are read back
        assert gpu.transfers["h2d"] == 0 and gpu.transfers["d2h"] == 0, gpu.transfers
    np.testing.assert_allclose(_host(got), want, **tol)
    zero = spla.funm_multiply_krylov(np.exp, G, gpu.zeros(n, dtype=dtype))
    assert isinstance(zero, gpu.ndarray) and not bool((zero != 0).any())
    np.testing.assert_array_equal(_host(bg), e)  # inputs untouched
    for kw, message in (({"assume_a": "sym"}, "not a recognized matrix structure"),
                        ({"restart_every_m": 0}, "'restart_every_m' must be positive"),
                        ({"max_restarts": 0}, "'max_restarts' must be positive")):
        with pytest.raises(ValueError, match=message):
            spla.funm_multiply_krylov(np.exp, G, bg, **kw)
    with pytest.raises(ValueError, match="must be a 1D array"):
        spla.funm_multiply_krylov(np.exp, G, gpu.asarray(np.ones((n, 1), dtype=dtype)))
    with pytest.raises(ValueError, match="different devices"):
        spla.funm_multiply_krylov(np.exp, G, b)


def _keys(w, which, complex_matrix):
    """What ``which`` ranks eigenvalues by (ARPACK's order), largest wanted first: equal keys
    (a real matrix's conjugate pairs, real eigenvalues under LI/SI) are ties, between which
    ARPACK's choice and spgrad's may differ."""
    return {"LM": np.abs(w), "SM": -np.abs(w), "LR": w.real, "SR": -w.real,
            "LI": w.imag if complex_matrix else np.abs(w.imag),
            "SI": -w.imag if complex_matrix else -np.abs(w.imag)}[which]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("which", ["LM", "SM", "LR", "SR", "LI", "SI"])
def test_eigs_matches_the_cpu(gpu, dtype, which):
    """eigs on the GPU (spgrad's Krylov-Schur Arnoldi): the k most wanted eigenvalues of the
    whole spectrum (as ranked by ``which``; ties may pick the other of a conjugate pair, as
    ARPACK may), most wanted first, in SciPy's dtype, with unit eigenvectors that satisfy
    A v = λ v; also from v0, with a small ncv, values only, and in shift-invert mode."""
    import scipy.sparse.linalg as sla

    n = 40
    rng = np.random.default_rng(12)
    S = scipy.sparse.diags_array(np.linspace(1.0, 10.0, n)).tolil()
    for c, i in zip((0.5, 1.0, 1.5, 2.0), (0, 10, 20, 30)):  # complex pairs i ± c
        S[i, i + 1], S[i + 1, i] = c, -c
    S = S.tocsr() + 0.05 * scipy.sparse.random_array((n, n), density=0.1, rng=rng)
    if np.dtype(dtype).kind == "c":
        S = S + 0.05j * scipy.sparse.random_array((n, n), density=0.1, rng=rng)
    A = sp.csr_array(S).astype(dtype)
    spectrum = np.linalg.eigvals(A.toarray().astype(np.complex128))
    # SciPy's result type (ARPACK itself is not the reference: in single precision it may
    # not converge on these interior eigenvalues)
    result_dtype = sla.eigs(A.to_scipy(), k=3, which="LM")[0].dtype
    G = A.to("cuda")
    complex_matrix = np.dtype(dtype).kind == "c"
    tol = 1e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-9
    for kwargs in ({"k": 3}, {"k": 3, "v0": np.ones(n, dtype=dtype)}, {"k": 4, "ncv": 10},
                   {"k": 3, "sigma": 2.1}):
        gkw = {key: gpu.asarray(v) if isinstance(v, np.ndarray) else v
               for key, v in kwargs.items()}
        w, V = spla.eigs(G, which=which, **gkw)
        assert isinstance(w, gpu.ndarray) and w.dtype == V.dtype == result_dtype
        w, V = _host(w), _host(V)
        # (shift-invert: which ranks the eigenvalues ν = 1 / (λ - σ) of the inverse)
        ranked = (lambda x: 1 / (x - 2.1)) if "sigma" in kwargs else (lambda x: x)
        keys = _keys(ranked(w), which, complex_matrix)
        scale = max(np.abs(keys).max(), 1.0)
        assert np.all(np.diff(keys) <= tol * scale), kwargs  # most wanted first
        best = np.sort(_keys(ranked(spectrum), which, complex_matrix))
        np.testing.assert_allclose(keys, best[::-1][:kwargs["k"]], rtol=tol, atol=tol)
        np.testing.assert_allclose(np.linalg.norm(V, axis=0), 1.0, rtol=tol)
        residual = A.toarray() @ V - V * w
        assert np.abs(residual).max() <= tol * 10 * np.abs(w).max(), kwargs
    values = spla.eigs(G, k=3, which=which, return_eigenvectors=False)
    np.testing.assert_allclose(_host(values), _host(spla.eigs(G, k=3, which=which)[0]),
                               rtol=tol)


def test_eigs_errors_on_the_gpu(gpu):
    """eigs' argument checks on the GPU are SciPy's; options the GPU method lacks are named;
    a run out of iterations raises ArpackNoConvergence with the converged pairs."""
    import scipy.sparse.linalg as sla

    G = _general(12, np.float64, "csr").to("cuda")
    for kwargs, error, message in (
            ({"k": 0}, ValueError, "k=0 must be greater than 0"),
            ({"k": 11}, TypeError, "Cannot use scipy.linalg.eig for sparse A with k >= N - 1"),
            ({"k": 2, "which": "LA"}, ValueError, "Parameter which must be one of LM SM"),
            ({"k": 2, "ncv": 3}, ValueError, r"ncv must be k\+1<ncv<=n, ncv=3"),
            ({"k": 2, "maxiter": 0}, ValueError, "maxiter must be positive"),
            ({"k": 2, "M": G}, NotImplementedError, "does not take M="),
            ({"k": 2, "OPpart": "r"}, NotImplementedError, "does not take OPpart=")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with pytest.raises(error, match=message):
                spla.eigs(G, **kwargs)
            if error is not NotImplementedError:  # SciPy's error for the same arguments
                with pytest.raises(error, match=message):
                    sla.eigs(G.cpu().to_scipy(), **{key: v.cpu() if sp.issparse(v) else v
                                                    for key, v in kwargs.items()})
    with pytest.raises(ValueError, match="expected square matrix"):
        spla.eigs(sp.csr_array(np.ones((3, 4))).to("cuda"), k=1)
    with pytest.raises(sla.ArpackNoConvergence, match="No convergence") as caught:
        spla.eigs(G, k=4, ncv=6, maxiter=1, tol=1e-15)
    assert len(caught.value.eigenvalues) < 4
    w1 = spla.eigs(G, k=2, rng=7)[0]  # SciPy's random start, from the same generator
    w2 = spla.eigs(G, k=2, rng=7)[0]
    np.testing.assert_array_equal(_host(w1), _host(w2))


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "dia"])
def test_triangle_and_bandwidth_queries(gpu, fmt):
    """is_sptriangular and spbandwidth of arrays on the GPU equal SciPy's (explicit zeros
    count, rectangular shapes, duplicates, no stored entry: SciPy's error)."""
    import scipy.sparse.linalg as sla

    rng = np.random.default_rng(21)
    dense = rng.standard_normal((6, 6))
    patterns = [np.tril(dense), np.triu(dense, 1), np.diag(np.diag(dense)), dense,
                np.tril(dense)[:, :4], np.triu(dense)[:4]]
    for D in patterns:
        A = sp.csr_array(D).asformat(fmt)
        if fmt != "dia":
            A = A.tocoo()
            A.data[0] = 0.0  # an explicit zero still counts
            A = A.asformat(fmt)
        S = A.to_scipy()
        G = A.to("cuda")
        lower, upper = spla.is_sptriangular(G)
        assert (lower, upper) == sla.is_sptriangular(S)
        assert spla.spbandwidth(G) == sla.spbandwidth(S)
    if fmt != "dia":
        empty = sp.csr_array((3, 3)).asformat(fmt)
        with pytest.raises(ValueError, match="zero-size array"):
            sla.spbandwidth(empty.to_scipy())
        with pytest.raises(ValueError, match="zero-size array"):
            spla.spbandwidth(empty.to("cuda"))
        assert spla.is_sptriangular(empty.to("cuda")) == (True, True)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_onenormest_matches_the_cpu(gpu, dtype):
    """onenormest on the GPU: with NumPy's global generator seeded alike, SciPy's estimate,
    v and w (CuPy arrays), for several t and itmax, an spgrad array or a dense CuPy matrix,
    the explicit branch (t >= n), SciPy's errors; only the random columns go to the GPU."""
    import scipy.sparse.linalg as sla

    for n, seed in ((30, 3), (60, 4)):
        A = _general(n, dtype, "csr", seed=seed)
        A = (A - 3.5 * sp.eye_array(n, format="csr")).tocsr()  # signs of both kinds
        G = A.to("cuda")
        for t, itmax, operand in ((1, 5, G), (2, 5, G), (3, 2, G), (2, 4, gpu.asarray(
                A.toarray())), (n, 5, G)):
            np.random.seed(11)
            est_ref, v_ref, w_ref = sla.onenormest(A.to_scipy(), t=t, itmax=itmax,
                                                   compute_v=True, compute_w=True)
            np.random.seed(11)
            if hasattr(gpu, "transfers"):
                gpu.transfers.clear()
            est, v, w = spla.onenormest(operand, t=t, itmax=itmax, compute_v=True,
                                        compute_w=True)
            if hasattr(gpu, "transfers"):
                assert gpu.transfers["d2h"] == 0, gpu.transfers
            assert isinstance(v, gpu.ndarray) and isinstance(w, gpu.ndarray)
            np.testing.assert_allclose(est, est_ref, rtol=1e-12)
            np.testing.assert_array_equal(_host(v), v_ref)
            np.testing.assert_allclose(_host(w), w_ref, rtol=1e-12, atol=1e-14)
    G = _general(8, np.float64, "csr").to("cuda")
    with pytest.raises(ValueError, match="at least two iterations"):
        spla.onenormest(G, itmax=1)
    with pytest.raises(ValueError, match="at least one column"):
        spla.onenormest(G, t=0)
    with pytest.raises(ValueError, match="act like a square matrix"):
        spla.onenormest(sp.csr_array(np.ones((3, 4))).to("cuda"))


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_expm_matches_the_cpu(gpu, fmt):
    """expm on the GPU: SciPy's degree and scaling choices (small norms: low degrees; large
    ones: degree 13 with squarings; exact norms below 200 rows, seeded estimates above), the
    upper triangular squaring, SciPy's result format, values and warnings; 0 × 0 and 1 × 1."""
    rng = np.random.default_rng(8)
    cases = []
    for n, scale in ((12, 0.001), (12, 0.05), (12, 0.4), (12, 0.9), (12, 1.5), (30, 12.0),
                     (230, 0.8)):
        S = scipy.sparse.random_array((n, n), density=min(0.3, 6 / n), rng=rng)
        cases.append(scale * (S - 0.5 * scipy.sparse.diags_array(np.ones(n))))
    cases.append(8.0 * scipy.sparse.triu(cases[4]))  # upper triangular, with squarings
    cases.append(scipy.sparse.csr_array(np.array([[2.0]])))
    for S in cases:
        A = sp.csr_array(S).asformat(fmt)
        np.random.seed(3)
        want, got = _same_warnings(lambda: spla.expm(A),
                                   lambda: (np.random.seed(3), spla.expm(A.to("cuda")))[1])
        assert type(got) is type(want) and got.device == "cuda:0", S.shape
        np.testing.assert_allclose(got.cpu().toarray(), want.toarray(), rtol=1e-10,
                                   atol=1e-13 * max(1.0, abs(want).max()))
    empty = spla.expm(sp.csc_array((0, 0)).to("cuda"))
    assert empty.shape == (0, 0) and empty.device == "cuda:0"
    with pytest.raises(ValueError, match="expected a square matrix"):
        spla.expm(sp.csr_array(np.ones((2, 3))).to("cuda"))
