"""Random GPU-vs-CPU parity: the raw matrices of the parity suite (0×n shapes, empty rows,
duplicates, unsorted indices, explicit zeros, int32 and int64 indices; the four GPU value
dtypes) moved to the GPU, every GPU operation compared with the same operation on the CPU
(itself checked against SciPy by the parity suite), random index keys included.

Runs on the emulated CuPy (see ``emulated_cupy``), and unchanged on a real GPU when CuPy
finds one (the ``cuda`` parameter).
"""

import warnings

import numpy as np
import pytest
from conftest import build, cases, raws
from hypothesis import strategies as st
from test_parity_index import index_keys

import emulated_cupy
import spgrad as sp
from cuda_support import build_emulation, real_cupy_or_skip

GPU_DTYPES = [np.dtype(t) for t in (np.float32, np.float64, np.complex64, np.complex128)]


@pytest.fixture(scope="module", params=["emulated", "cuda"])
def gpu(request, tmp_path_factory):
    if request.param == "cuda":
        yield real_cupy_or_skip()
        return
    backend = build_emulation(tmp_path_factory.mktemp("cuda_parity"))
    if backend is None:
        pytest.skip("no C++ compiler to build the CUDA emulation")
    with pytest.MonkeyPatch.context() as mp:
        yield emulated_cupy.install(mp, backend)


def _same(got, expected, dtype, what):
    """``got`` (a GPU result) equals ``expected`` (the CPU's): class, shape, dtype, index
    dtype and values (to the rounding of the dtype)."""
    single = np.dtype(dtype) in (np.float32, np.complex64)
    tol = {"rtol": 1e-4 if single else 1e-10, "atol": 1e-4 if single else 1e-10}
    if sp.issparse(expected):
        assert got.device.startswith("cuda"), what
        back = got.cpu()
        assert type(back) is type(expected), what
        assert back.shape == expected.shape and back.dtype == expected.dtype, what
        for name in ("indices", "indptr", "row", "col"):
            if hasattr(expected, name) and expected.format != "dia":
                assert getattr(back, name).dtype == getattr(expected, name).dtype, (what, name)
        np.testing.assert_allclose(back.toarray(), expected.toarray(), err_msg=what, **tol)
    else:
        got = got.get()
        expected = np.asarray(expected)
        assert got.shape == expected.shape and got.dtype == expected.dtype, what
        np.testing.assert_allclose(got, expected, err_msg=what, **tol)


def _values(rng, shape, dtype):
    v = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        v = v + 1j * rng.standard_normal(shape)
    return v.astype(dtype)


@cases(data=st.data(), raw=raws(dtypes=GPU_DTYPES), fmt=["csr", "csc", "coo"],
       family=["array", "matrix"])
def test_random_operations(gpu, data, raw, fmt, family):
    other = data.draw(raws(shape=raw.shape, dtypes=GPU_DTYPES))
    A = build(sp, fmt, family, raw)[0]
    G = A.to("cuda")
    m, n = A.shape
    rng = np.random.default_rng(0)
    x, X = _values(rng, n, raw.dtype), _values(rng, (n, 3), raw.dtype)
    ops = {
        "A @ x": lambda M, xp: M @ xp(x),
        "A @ X": lambda M, xp: M @ xp(X),
        "A.T @ A": lambda M, xp: M.T @ M,
        "A.T": lambda M, xp: M.T,
        "tocsr": lambda M, xp: M.tocsr(),
        "tocsc": lambda M, xp: M.tocsc(),
        "tocoo": lambda M, xp: M.tocoo(),
        "toarray": lambda M, xp: M.toarray(),
        "sum": lambda M, xp: M.sum(),
        "sum 0": lambda M, xp: M.sum(axis=0),
        "sum 1": lambda M, xp: M.sum(axis=1),
        "diagonal 1": lambda M, xp: M.diagonal(1),
        "diagonal -1": lambda M, xp: M.diagonal(-1),
        "tril": lambda M, xp: sp.tril(M, format=fmt),
        "triu 1": lambda M, xp: sp.triu(M, 1),
        "A * 3": lambda M, xp: M * 3.0,
        "count_nonzero 0": lambda M, xp: M.count_nonzero(axis=0),
    }
    if raw.dtype.kind == "f" and 0 not in A.shape:
        ops["max"] = lambda M, xp: M.max()
        ops["min"] = lambda M, xp: M.min()
        ops["max 0"] = lambda M, xp: M.max(axis=0)
        ops["nanmin 1"] = lambda M, xp: M.nanmin(axis=1, explicit=True)
        ops["argmax 0"] = lambda M, xp: M.argmax(axis=0)
        ops["argmin 1"] = lambda M, xp: M.argmin(axis=1)
    B = build(sp, fmt, family, other)[0]
    H = B.to("cuda")
    pair = {"A + B": lambda M, N: M + N, "A - B": lambda M, N: M - N,
            "A.multiply(B)": lambda M, N: M.multiply(N)}
    if raw.dtype.kind == "f" and other.dtype.kind == "f":
        pair["maximum"] = lambda M, N: M.maximum(N)
    for name, op in pair.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = op(A, B)
        _same(op(G, H), expected, expected.dtype, name)
    for name, op in ops.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = op(A, np.asarray)
        _same(op(G, gpu.asarray), expected, expected.dtype, name)
    C, D = A.copy(), G.copy()
    for method in ("sort_indices", "sum_duplicates", "eliminate_zeros"):
        if hasattr(C, method):
            getattr(C, method)()
            getattr(D, method)()
            _same(D, C, C.dtype, method)


@cases(data=st.data(), raw=raws(dtypes=GPU_DTYPES), fmt=["csr", "csc", "coo"],
       family=["array", "matrix"])
def test_random_index_keys(gpu, data, raw, fmt, family):
    if fmt == "coo" and family == "matrix":
        return  # coo_matrix is not subscriptable, as in SciPy
    A = build(sp, fmt, family, raw)[0]
    G = A.to("cuda")
    key = data.draw(index_keys(raw.shape))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = A[key]
    except (IndexError, ValueError, TypeError, NotImplementedError) as e:
        with pytest.raises(type(e)):
            G[key]
        return
    got = G[key]
    if np.ndim(expected) == 0 and not sp.issparse(expected):
        np.testing.assert_allclose(np.asarray(got.get()), expected)
        return
    _same(got, expected, expected.dtype, f"A[{key!r}]")
