"""Sparse arrays on the GPU (plain mode): ``A.to("cuda")``, construction from CuPy arrays, and
the operations that run there, compared with the same operations on the CPU.

Every test runs on the ``gpu`` fixture's devices: ``emulated`` always (the stand-in CuPy of
``emulated_cupy``, whose kernels run through the C++ emulation of the ``.cu`` sources and which
refuses implicit host/device mixing, as CuPy does), and ``cuda`` unchanged when CuPy and a GPU
are present.
"""

import sys
import types
import warnings

import numpy as np
import pytest
import scipy.sparse

import spgrad as sp
from cuda_support import gpu_fixtures

VALUE_DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
FORMATS = ["csr", "csc", "coo", "dia"]


emulation, gpu = gpu_fixtures("cuda_containers")


def _values(rng, n, dtype):
    v = rng.standard_normal(n)
    if np.dtype(dtype).kind == "c":
        v = v + 1j * rng.standard_normal(n)
    return v.astype(dtype)


def _matrix(fmt, shape, dtype, *, idx=np.int32, density=0.3, seed=0, array=True,
            messy=False):
    """A random spgrad matrix with an empty row; ``messy``: unsorted indices and duplicates."""
    rng = np.random.default_rng(seed)
    m, n = shape
    A = scipy.sparse.random_array(shape, density=density, format="coo", rng=rng)
    row, col = A.coords
    if m > 2:
        keep = row != 1
        row, col = row[keep], col[keep]
    messy = messy and len(row) >= 3
    if messy:
        row, col = np.r_[row, row[:3]], np.r_[col, col[:3]]
        order = rng.permutation(len(row))
        row, col = row[order], col[order]
    data = _values(rng, len(row), dtype)
    family = "array" if array else "matrix"
    coo = getattr(sp, f"coo_{family}")((data, (row.astype(idx), col.astype(idx))), shape=shape)
    if fmt == "coo":
        return coo
    if fmt in ("csr", "csc") and messy:
        # keep the duplicates and the row order of the triplets: build the arrays directly
        csr = coo.tocsr()
        order = np.lexsort((rng.permutation(len(row)), row))
        indptr = np.r_[0, np.cumsum(np.bincount(row, minlength=m))].astype(idx)
        M = getattr(sp, f"csr_{family}")((data[order], col[order].astype(idx), indptr),
                                         shape=shape)
        assert not M.has_canonical_format and csr.has_canonical_format
        return M if fmt == "csr" else getattr(sp, f"csc_{family}")(M.T.tocsr().T)
    return coo.asformat(fmt)


def _host(x):
    """A GPU result back on the host (a container's ``.cpu()``, an array's ``.get()``)."""
    if sp.issparse(x):
        assert x.device.startswith("cuda"), x.device
        return x.cpu()
    assert type(x).__module__.split(".")[0] in ("cupy", "emulated_cupy"), type(x)
    return x.get()


def _tol(dtype):
    single = np.dtype(dtype) in (np.float32, np.complex64)
    return {"rtol": 2e-5 if single else 1e-12, "atol": 2e-5 if single else 1e-12}


def _assert_same_sparse(got, expected, dtype):
    assert type(got) is type(expected)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got.toarray(), expected.toarray(), **_tol(dtype))


def _assert_same_dense(got, expected, dtype):
    got = np.asarray(got)
    assert got.shape == np.shape(expected) and got.dtype == np.asarray(expected).dtype
    np.testing.assert_allclose(got, np.asarray(expected), **_tol(dtype))


# ---------------------------------------------------------------------------------- moving
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("idx", [np.int32, np.int64])
@pytest.mark.parametrize("array", [True, False])
def test_to_gpu_and_back_keeps_every_array(gpu, fmt, dtype, idx, array):
    A = _matrix(fmt, (6, 5), dtype, idx=idx, array=array)
    before = {name: np.copy(getattr(A, name)) for name in A._array_names if name != "coords"}
    G = A.to("cuda")
    assert G.device == "cuda:0" and A.device == "cpu"
    assert type(G) is type(A) and G.shape == A.shape and G.dtype == A.dtype
    for name in A._array_names:
        for g, a in zip(*(((getattr(X, name),) if name != "coords" else getattr(X, name))
                          for X in (G, A))):
            assert isinstance(g, gpu.ndarray) and g.dtype == a.dtype
    assert G.to("cuda:0") is G and G.cuda() is G and G.to("cuda", copy=True) is not G
    back = G.cpu()
    assert back.device == "cpu"
    for name, a in before.items():
        np.testing.assert_array_equal(getattr(back, name), a)
        assert getattr(back, name).dtype == a.dtype
        np.testing.assert_array_equal(getattr(A, name), a)  # the original is untouched
    assert A.to("cpu") is A and A.cpu() is A


def test_device_names(gpu):
    A = _matrix("csr", (3, 3), np.float64)
    assert A.to(0).device == A.to("cuda").device == A.to(gpu.cuda.Device(0)).device == "cuda:0"
    torch = pytest.importorskip("torch")
    assert A.to(torch.device("cuda:0")).device == "cuda:0"
    for bad in ("gpu", "cuda:x", "cpu:0", -1, 1.5):
        with pytest.raises(ValueError, match="expected a device|must be >= 0"):
            A.to(bad)


def test_gpu_values_must_be_floating(gpu):
    A = sp.csr_array(np.array([[1, 0], [2, 3]]))
    with pytest.raises(TypeError, match="float32, float64, complex64 or complex128.*int64"):
        A.to("cuda")
    G = A.astype(np.float64).to("cuda")
    with pytest.raises(TypeError, match="astype.*got int32"):
        G.astype(np.int32)


def test_nd_arrays_stay_on_the_cpu(gpu):
    A = sp.coo_array((np.ones(2), ([0, 1], [1, 0], [0, 2])), shape=(2, 2, 3))
    with pytest.raises(NotImplementedError, match="3-D sparse array to the GPU"):
        A.to("cuda")
    with pytest.raises(ValueError, match="1-D and 2-D dense arrays, got a 3-D"):
        sp.coo_array(gpu.zeros((2, 2, 2)))


def test_without_a_device(gpu, monkeypatch):
    if not hasattr(gpu, "transfers"):
        pytest.skip("needs the emulated CuPy (the device count is faked)")
    A = sp.csr_array(np.eye(2))
    with pytest.raises(ValueError, match="no GPU cuda:3; this machine has 1"):
        A.to("cuda:3")
    monkeypatch.setattr(gpu.cuda.runtime, "getDeviceCount", lambda: 0)
    with pytest.raises(RuntimeError, match="need a CUDA device; none was found"):
        A.to("cuda:0")

    def no_driver():
        raise gpu.cuda.runtime.CUDARuntimeError("cudaErrorInsufficientDriver")

    monkeypatch.setattr(gpu.cuda.runtime, "getDeviceCount", no_driver)
    with pytest.raises(RuntimeError, match="CuPy reports: cudaErrorInsufficientDriver"):
        A.to("cuda:0")


def test_without_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # `import cupy` raises ImportError
    A = sp.csr_array(np.eye(2))
    with pytest.raises(ImportError, match=r"spgrad\[cuda\]"):
        A.to("cuda:0")
    with pytest.raises(ImportError, match=r"spgrad\[cuda\]"):
        A.cuda()
    assert A.to("cpu") is A


# ---------------------------------------------------------------------------- construction
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("idx", [np.int32, np.int64])
def test_construct_from_cupy_arrays(gpu, fmt, idx):
    A = _matrix(fmt, (7, 4), np.float64, idx=idx)
    cls = type(A)
    G = cls((gpu.asarray(A.data), gpu.asarray(A.indices), gpu.asarray(A.indptr)),
            shape=A.shape)
    assert G.device == "cuda:0" and G.indices.dtype == A.indices.dtype
    _assert_same_sparse(_host(G), A, np.float64)
    G32 = cls((gpu.asarray(A.data), gpu.asarray(A.indices), gpu.asarray(A.indptr)),
              shape=A.shape, dtype=np.float32)
    assert G32.dtype == np.float32
    inferred = cls((gpu.asarray(A.data), gpu.asarray(A.indices), gpu.asarray(A.indptr)))
    assert inferred.shape[1 if fmt == "csr" else 0] == int(A.indices.max()) + 1


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("array", [True, False])
def test_construct_from_a_dense_cupy_array(gpu, fmt, array):
    D = _matrix("coo", (6, 9), np.complex128, seed=3).toarray()
    cls = getattr(sp, f"{fmt}_{'array' if array else 'matrix'}")
    G = cls(gpu.asarray(D))
    expected = cls(D)
    assert G.device == "cuda:0"
    _assert_same_sparse(_host(G), expected, np.complex128)
    back = _host(G)
    for name in ("indices", "indptr", "row", "col"):
        if hasattr(expected, name):
            np.testing.assert_array_equal(getattr(back, name), getattr(expected, name))
            assert getattr(back, name).dtype == getattr(expected, name).dtype
    with pytest.raises(TypeError, match="float32, float64"):
        cls(gpu.asarray(np.eye(3, dtype=np.int64)))


def test_construct_coo_from_cupy_triplets(gpu):
    A = _matrix("coo", (5, 8), np.float32, messy=True)
    G = sp.coo_array((gpu.asarray(A.data), (gpu.asarray(A.row), gpu.asarray(A.col))),
                     shape=A.shape)
    assert G.device == "cuda:0" and not G.has_canonical_format
    _assert_same_sparse(_host(G.tocsr()), A.tocsr(), np.float32)
    with pytest.raises(ValueError, match="exceeds matrix dimension"):
        sp.coo_array((gpu.asarray(A.data), (gpu.asarray(A.row), gpu.asarray(A.col))),
                     shape=(5, 3))


def test_malformed_arrays_are_caught_on_the_device(gpu):
    data, indices, indptr = np.ones(3), np.array([0, 2, 1]), np.array([0, 2, 2, 3])
    d, i, p = (gpu.asarray(a) for a in (data, indices, indptr))
    sp.csr_array((d, i, p), shape=(3, 3))
    with pytest.raises(ValueError, match="non-decreasing"):
        sp.csr_array((d, i, gpu.asarray(np.array([0, 2, 1, 3]))), shape=(3, 3))
    with pytest.raises(ValueError, match="indices must be < 2, got 2"):
        sp.csr_array((d, i, p), shape=(3, 2))
    with pytest.raises(ValueError, match="indices must be >= 0"):
        sp.csr_array((d, gpu.asarray(np.array([0, -1, 1])), p), shape=(3, 3))
    with pytest.raises(ValueError, match="index pointer size 4 should be 3"):
        sp.csr_array((d, i, p), shape=(2, 3))
    with pytest.raises(ValueError, match="different devices"):
        sp.csr_array((data, i, p), shape=(3, 3))
    with pytest.raises(TypeError, match="float32, float64"):
        sp.csr_array((gpu.asarray(np.ones(3, np.int64)), i, p), shape=(3, 3))
    with pytest.raises(ValueError, match="integer dtype"):
        sp.csr_array((d, gpu.asarray(indices.astype(float)), p), shape=(3, 3))
    np.testing.assert_array_equal(_host(i), indices)  # inputs untouched


# ------------------------------------------------------------------------------ operations
SHAPES = [(7, 5), (0, 4), (4, 0), (1, 1)]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("array", [True, False])
def test_products(gpu, fmt, dtype, shape, array):
    A = _matrix(fmt, shape, dtype, array=array)
    G = A.to("cuda")
    rng = np.random.default_rng(1)
    m, n = shape
    x = _values(rng, n, dtype)
    X = _values(rng, n * 3, dtype).reshape(n, 3)
    _assert_same_dense(_host(G @ gpu.asarray(x)), A @ x, dtype)
    _assert_same_dense(_host(G.dot(gpu.asarray(x))), A @ x, dtype)
    _assert_same_dense(_host(G @ gpu.asarray(x[:, None])), A @ x[:, None], dtype)
    _assert_same_dense(_host(G @ gpu.asarray(X)), A @ X, dtype)
    if fmt in ("csr", "csc", "coo"):
        B = _matrix("csr", (n, 6), dtype, seed=2, array=array)
        _assert_same_sparse(_host(G @ B.to("cuda")), A @ B, dtype)
        _assert_same_sparse(_host(G @ G.T), A @ A.T, dtype)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("messy", [False, True])
def test_elementwise(gpu, fmt, dtype, shape, messy):
    A = _matrix(fmt, shape, dtype, messy=messy and shape == (7, 5))
    B = _matrix(fmt, shape, dtype, seed=5)
    G, H = A.to("cuda"), B.to("cuda")
    D = _values(np.random.default_rng(2), shape[0] * shape[1], dtype).reshape(shape)
    _assert_same_sparse(_host(G + H), A + B, dtype)
    _assert_same_sparse(_host(G - H), A - B, dtype)
    _assert_same_sparse(_host(G.multiply(H)), A.multiply(B), dtype)
    _assert_same_sparse(_host(G * 2.5), A * 2.5, dtype)
    _assert_same_sparse(_host(G * np.float32(2.5)), A * np.float32(2.5), dtype)
    _assert_same_sparse(_host(G.multiply(np.array(2.5))), A.multiply(np.array(2.5)), dtype)
    _assert_same_sparse(_host(G / 4), A / 4, dtype)
    _assert_same_sparse(_host(-G), -A, dtype)
    _assert_same_sparse(_host(G.conj()), A.conj(), dtype)
    _assert_same_sparse(_host(G.power(2)), A.power(2), dtype)
    _assert_same_sparse(_host(G.sin()), A.sin(), dtype)
    _assert_same_sparse(_host(G.multiply(gpu.asarray(D))), A.multiply(D), dtype)
    # row and column scalings (shapes (1, n), (m, 1), (n,), (1, 1), (1,))
    for scale in (D[:1], D[:, :1], D[:1].ravel(), D[:1, :1], D[:1, :1].ravel()):
        if scale.size:
            _assert_same_sparse(_host(G.multiply(gpu.asarray(scale))), A.multiply(scale),
                                dtype)
            _assert_same_sparse(_host(G * gpu.asarray(scale)), A * scale, dtype)
    _assert_same_dense(_host(G + gpu.asarray(D)), A + D, dtype)
    _assert_same_dense(_host(G - gpu.asarray(D)), A - D, dtype)
    _assert_same_dense(_host(gpu.asarray(D) - G), D - A, dtype)
    if np.dtype(dtype).kind == "f":
        for name in ("maximum", "minimum"):
            for other, other_gpu in ((B, H), (-0.5, -0.5), (0.5, 0.5), (D, gpu.asarray(D))):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
                    got = getattr(G, name)(other_gpu)
                    expected = getattr(A, name)(other)
                if sp.issparse(expected):
                    _assert_same_sparse(_host(got), expected, dtype)
                else:
                    _assert_same_dense(_host(got), np.asarray(expected), dtype)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("array", [True, False])
def test_triangles(gpu, fmt, dtype, shape, array):
    A = _matrix(fmt, shape, dtype, array=array, messy=True)
    G = A.to("cuda")
    for k in (-1, 0, 2):
        for result_format in (None, "csr", "csc"):
            for f in (sp.tril, sp.triu):
                got, expected = f(G, k, format=result_format), f(A, k, format=result_format)
                _assert_same_sparse(_host(got), expected, dtype)
    D = A.toarray()
    _assert_same_sparse(_host(sp.tril(gpu.asarray(D))), sp.tril(D), dtype)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("idx", [np.int32, np.int64])
def test_conversions(gpu, fmt, dtype, shape, idx):
    messy = fmt != "dia" and shape == (7, 5)
    A = _matrix(fmt, shape, dtype, idx=idx, messy=messy)
    G = A.to("cuda")
    for target in ("csr", "csc", "coo", "dia"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)  # many diagonals
            got, expected = G.asformat(target), A.asformat(target)
        assert got.device == "cuda:0"
        back = got.cpu()
        _assert_same_sparse(back, expected, dtype)
        if target in ("csr", "csc"):
            np.testing.assert_array_equal(back.indptr, expected.indptr)
            assert back.indices.dtype == expected.indices.dtype
        if target == "dia":  # the same stored diagonals
            np.testing.assert_array_equal(back.offsets, expected.offsets)
            np.testing.assert_allclose(back.data, expected.data, **_tol(dtype))
    _assert_same_dense(_host(G.toarray()), A.toarray(), dtype)
    _assert_same_dense(_host(G.todense()), np.asarray(A.todense()), dtype)
    _assert_same_sparse(_host(G.T), A.T, dtype)
    _assert_same_sparse(_host(G.transpose(copy=True)), A.transpose(copy=True), dtype)
    _assert_same_sparse(_host(G.copy()), A.copy(), dtype)
    wider = np.complex128 if np.dtype(dtype).kind == "c" else np.float64
    _assert_same_sparse(_host(G.astype(wider)), A.astype(wider), wider)


@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("array", [True, False])
def test_dia_arithmetic(gpu, dtype, array):
    """DIA arrays on the GPU keep their format through the operations that keep it on the CPU
    (sums and products of DIA operands, scaling, elementwise products with dense operands),
    with data wider than the matrix and offsets in any order; the rest goes through CSR."""
    rng = np.random.default_rng(12)
    cls = sp.dia_array if array else sp.dia_matrix
    A = cls((_values(rng, (4, 8), dtype).reshape(4, 8), [3, -2, 0, 1]), shape=(6, 7))
    B = cls((_values(rng, (2, 7), dtype).reshape(2, 7), [0, 4]), shape=(6, 7))
    C = cls((_values(rng, (4, 8), dtype).reshape(4, 8), [1, 3, 0, -2]), shape=(6, 7))
    D, x = _values(rng, 42, dtype).reshape(6, 7), _values(rng, 7, dtype)
    G = {id(M): M.to("cuda") for M in (A, B, C)}
    cases = {
        "A + B": lambda M, N, P, D, x: M + N, "A - B": lambda M, N, P, D, x: M - N,
        "A + C": lambda M, N, P, D, x: M + P, "A - A": lambda M, N, P, D, x: M - M,
        "A.multiply(C)": lambda M, N, P, D, x: M.multiply(P),
        "A.multiply(D)": lambda M, N, P, D, x: M.multiply(D),
        "A.multiply(x)": lambda M, N, P, D, x: M.multiply(x),
        "A @ B.T": lambda M, N, P, D, x: M @ N.T, "2 * A": lambda M, N, P, D, x: 2 * M,
        "A + D": lambda M, N, P, D, x: M + D,
        "count_nonzero": lambda M, N, P, D, x: M.count_nonzero(),
        "nnz": lambda M, N, P, D, x: M.nnz,
    }
    for name, op in cases.items():
        expected = op(A, B, C, D, x)
        got = op(G[id(A)], G[id(B)], G[id(C)], gpu.asarray(D), gpu.asarray(x))
        if sp.issparse(expected):
            assert got.format == expected.format, name
            _assert_same_sparse(_host(got), expected, dtype)
        elif isinstance(expected, (int, np.integer)):
            assert got == expected, name
        else:
            _assert_same_dense(_host(got), expected, dtype)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
@pytest.mark.parametrize("idx", [np.int32, np.int64])
def test_canonical_form_in_place(gpu, fmt, dtype, idx):
    A = _matrix(fmt, (7, 5), dtype, idx=idx, messy=True)
    A.data[::4] = 0
    G = A.to("cuda")
    assert G.has_canonical_format == A.has_canonical_format
    assert G.has_sorted_indices == A.has_sorted_indices
    for method in ("sort_indices", "sum_duplicates", "eliminate_zeros"):
        getattr(G, method)()
        getattr(A, method)()
        back = G.cpu()
        np.testing.assert_array_equal(back.indptr, A.indptr)
        np.testing.assert_array_equal(back.indices, A.indices)
        np.testing.assert_allclose(back.data, A.data, **_tol(dtype))
        assert back.indices.dtype == A.indices.dtype
    assert G.has_canonical_format and G.nnz == A.nnz


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("array", [True, False])
def test_reductions(gpu, fmt, dtype, shape, array):
    A = _matrix(fmt, shape, dtype, array=array, messy=fmt in ("csr", "coo"))
    G = A.to("cuda")
    for axis in (None, 0, 1, -1):
        got, expected = _host(G.sum(axis=axis)), np.asarray(A.sum(axis=axis))
        _assert_same_dense(got, expected, dtype)  # the matrix family: 2-D arrays
        if 0 not in shape:  # (SciPy's mean divides by zero on empty shapes)
            _assert_same_dense(_host(G.mean(axis=axis)), np.asarray(A.mean(axis=axis)),
                               dtype)
    for k in (-2, 0, 1, 9):
        _assert_same_dense(_host(G.diagonal(k)), A.diagonal(k), dtype)
    _assert_same_dense(_host(G.trace()), np.asarray(A.trace()), dtype)
    if fmt != "dia" and np.dtype(dtype).kind == "f" and 0 not in shape:
        for name in ("max", "min", "nanmax", "nanmin"):
            for explicit in (False, True):
                got = getattr(G, name)(explicit=explicit)
                _assert_same_dense(_host(got), np.asarray(getattr(A, name)(explicit=explicit)),
                                   dtype)


@pytest.mark.parametrize("array", [True, False])
def test_sum_and_mean_into_out(gpu, array):
    """``sum``/``mean`` with ``out``: a CuPy array of the result's shape, filled and
    returned; anything else raises ``ValueError``."""
    A = _matrix("csr", (4, 5), np.float64, array=array, seed=3)
    G = A.to("cuda")
    for axis in (None, 0, 1):
        for name in ("sum", "mean"):
            expected = np.asarray(getattr(A, name)(axis=axis))
            out = gpu.zeros(expected.shape)
            assert getattr(G, name)(axis=axis, out=out) is out
            np.testing.assert_allclose(_host(out), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="out dimensions do not match"):
        G.sum(axis=0, out=gpu.zeros((3,)))
    with pytest.raises(ValueError, match="takes a CuPy array"):
        G.sum(axis=0, out=np.zeros(5))


def _assert_same_coo(got, expected):
    """The same COO result, entry for entry (coordinates, their dtype, NaNs included)."""
    assert type(got) is type(expected) and got.device.startswith("cuda")
    got = got.cpu()
    assert got.shape == expected.shape and got.dtype == expected.dtype
    for g, e in zip(got.coords, expected.coords):
        np.testing.assert_array_equal(g, e)
        assert g.dtype == e.dtype
    np.testing.assert_array_equal(got.data, expected.data)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("array", [True, False])
def test_axis_extremes(gpu, fmt, dtype, array):
    """``max``/``min``/``nanmax``/``nanmin`` along an axis (a 1-D ``coo_array`` for sparse
    arrays, a (1, n) or (m, 1) ``coo_matrix`` for matrices) and ``argmax``/``argmin`` along an
    axis on the GPU, equal to the CPU's: ties, NaNs, negative values, empty and full lines,
    duplicates summed first."""
    A = _matrix(fmt, (7, 5), dtype, array=array, messy=fmt != "dia", density=0.5, seed=2)
    A = A.tocsr() if fmt == "csr" else A
    full = _matrix(fmt, (4, 3), dtype, array=array, density=1.0, seed=5)
    data = A.data
    data[::4] = np.nan
    data[1::5] = -abs(data[1::5])
    data[2::7] = 0.5
    for M in (A, full, A.T):
        G = M.to("cuda")
        for axis in (0, 1, -1, -2):
            for name in ("max", "min", "nanmax", "nanmin"):
                for explicit in (False, True):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        expected = getattr(M, name)(axis=axis, explicit=explicit)
                    _assert_same_coo(getattr(G, name)(axis=axis, explicit=explicit), expected)
            for name in ("argmax", "argmin"):
                for explicit in (False, True):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        expected = np.asarray(getattr(M, name)(axis=axis, explicit=explicit))
                    got = _host(getattr(G, name)(axis=axis, explicit=explicit))
                    np.testing.assert_array_equal(got, expected)
                    assert got.shape == expected.shape and got.dtype == expected.dtype
    G = A.to("cuda")
    with pytest.raises(ValueError, match="zero-size array"):
        sp.csr_array((0, 3)).to("cuda").max(axis=0)
    with pytest.raises(ValueError, match="'out' parameter"):
        G.argmax(axis=0, out=gpu.zeros(5, dtype=np.int64))


_SUBMATRIX_KEYS = [
    (slice(1, 5), slice(None)), (slice(None), slice(0, 3)), (slice(None, None, 2), slice(1, 4)),
    (slice(None, None, -1), slice(None, None, 3)), (slice(2, 2), slice(None)),
    ([4, 0, 4], slice(None)), (slice(None), [3, 1, 1, 0]), (np.ix_([1, 3], [0, 4])),
    (np.array([True, False, True, True, False, False, True]), slice(1, None)),
    ([], slice(None)), (slice(None), np.array([], dtype=int)), ([6, -1], [0, 2, 4]),
]


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float64, np.complex64])
@pytest.mark.parametrize("idx", [np.int32, np.int64])
@pytest.mark.parametrize("array", [True, False])
def test_indexing(gpu, fmt, dtype, idx, array):
    A = _matrix(fmt, (7, 5), dtype, idx=idx, array=array, messy=True)
    G = A.to("cuda")
    for key in _SUBMATRIX_KEYS:
        if len(key) == 2 and all(isinstance(k, (list, np.ndarray)) for k in key) \
                and np.ndim(key[0]) == 1:
            continue  # pairs, below
        got, expected = G[key], A[key]
        assert got.device == "cuda:0"
        back = got.cpu()
        _assert_same_sparse(back, expected, dtype)
        assert back.indices.dtype == expected.indices.dtype, key
        # index arrays given as CuPy arrays
        dkey = tuple(gpu.asarray(np.asarray(k)) if isinstance(k, (list, np.ndarray)) else k
                     for k in key)
        _assert_same_sparse(_host(G[dkey]), expected, dtype)
    for key in (([1, 3, 6], [0, 4, 4]), (np.array([[0, 1], [2, 3]]), np.array([[4, 3], [0, 0]]))):
        got, expected = G[key], A[key]
        if sp.issparse(expected):
            _assert_same_sparse(_host(got), expected, dtype)
        else:
            _assert_same_dense(_host(got), np.asarray(expected), dtype)
    for i, j in ((0, 0), (3, 4), (-1, -2), (1, 2)):
        _assert_same_dense(_host(G[i, j]), np.asarray(A[i, j]), dtype)
    if not array:  # a matrix row stays 2-D
        _assert_same_sparse(_host(G[2]), A[2], dtype)
        _assert_same_sparse(_host(G[:, 1]), A[:, 1], dtype)


def _same_result(got, expected, dtype):
    """A GPU result equal to the CPU's: the same sparse class, shape, dtype and values, or
    the same dense values as a CuPy array (a 0-d one for a NumPy scalar)."""
    if sp.issparse(expected):
        assert sp.issparse(got) and got.device == "cuda:0"
        _assert_same_sparse(got.cpu(), expected, dtype)
        if expected.format in ("csr", "coo"):
            index = expected.indices if expected.format == "csr" else expected.coords[0]
            assert (got.indices if got.format == "csr" else got.coords[0]).dtype == index.dtype
    elif isinstance(got, int):  # an index that needed a host read (argmax), as on the CPU
        assert got == expected
    else:
        _assert_same_dense(_host(got), expected, dtype)


@pytest.mark.parametrize("fmt", ["csr", "coo"])
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("idx", [np.int32, np.int64])
def test_vectors(gpu, fmt, dtype, idx):
    """1-D sparse arrays on the GPU (moved there, built from CuPy arrays, and the 1-D
    results of indexing and reductions): every operation as on the CPU."""
    rng = np.random.default_rng(4)
    cls = getattr(sp, f"{fmt}_array")
    d = _values(rng, 9, dtype)
    d[[0, 2, 3, 7]] = 0
    v = cls(d)
    v = cls((v.data, v.indices.astype(idx), v.indptr.astype(idx)), shape=(9,)) \
        if fmt == "csr" else cls((v.data, (v.coords[0].astype(idx),)), shape=(9,))
    w = cls(_values(rng, 9, dtype) * (rng.random(9) < 0.4))
    M = _matrix("csr", (4, 9), dtype, seed=9)
    x, X = _values(rng, 9, dtype), _values(rng, (9, 3), dtype)
    V, W, G = v.to("cuda"), w.to("cuda"), M.to("cuda")
    assert V.device == "cuda:0" and V.shape == (9,) and isinstance(V.data, gpu.ndarray)
    # each operation takes the vector and its operands: on the CPU, and all on the GPU
    cpu = types.SimpleNamespace(x=x, X=X, w=w, M=M)
    dev = types.SimpleNamespace(x=gpu.asarray(x), X=gpu.asarray(X), w=W, M=G)
    ops = {
        "toarray": lambda a, o: a.toarray(), "sum": lambda a, o: a.sum(),
        "sum 0": lambda a, o: a.sum(axis=0), "mean": lambda a, o: a.mean(),
        "max": lambda a, o: a.max(), "nanmin": lambda a, o: a.nanmin(),
        "argmax": lambda a, o: a.argmax(), "count_nonzero": lambda a, o: a.count_nonzero(),
        "nonzero": lambda a, o: a.nonzero()[0], "neg": lambda a, o: -a,
        "* 2": lambda a, o: a * 2, "/ 2": lambda a, o: a / 2,
        "power": lambda a, o: a.power(2), "abs": lambda a, o: abs(a),
        "sin": lambda a, o: a.sin(), "conj": lambda a, o: a.conj(), "T": lambda a, o: a.T,
        "copy": lambda a, o: a.copy(), "astype": lambda a, o: a.astype(np.complex128),
        "tocsr": lambda a, o: a.tocsr(), "tocoo": lambda a, o: a.tocoo(),
        "reshape": lambda a, o: a.reshape((3, 3)), "row": lambda a, o: a.reshape((1, 9)),
        "v[3]": lambda a, o: a[3], "v[4]": lambda a, o: a[4], "v[-1]": lambda a, o: a[-1],
        "v[1:6]": lambda a, o: a[1:6], "v[::-2]": lambda a, o: a[::-2],
        "v[array]": lambda a, o: a[np.array([8, 1, 1, 4])], "v[mask]": lambda a, o: a[d != 0],
        "v[None]": lambda a, o: a[None, :], "v[:, None]": lambda a, o: a[:, None],
        "v @ x": lambda a, o: a @ o.x, "v @ X": lambda a, o: a @ o.X,
        "X.T @ v": lambda a, o: o.X.T @ a, "M @ v": lambda a, o: o.M @ a,
        "v @ M.T": lambda a, o: a @ o.M.T, "v @ w": lambda a, o: a @ o.w,
        "v + w": lambda a, o: a + o.w, "v - w": lambda a, o: a - o.w,
        "v * w": lambda a, o: a.multiply(o.w), "maximum": lambda a, o: a.maximum(o.w),
        "minimum": lambda a, o: a.minimum(-1.0), "v + x": lambda a, o: a + o.x,
        "v * x": lambda a, o: a.multiply(o.x),
    }
    for name, op in ops.items():
        if np.dtype(dtype).kind == "c" and name in ("max", "nanmin", "argmax", "maximum",
                                                    "minimum"):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected, got = op(v, cpu), op(V, dev)
        _same_result(got, expected, dtype)
    for method in ("sum_duplicates", "sort_indices", "eliminate_zeros"):
        if not hasattr(v, method):
            continue
        expected, got = v.copy(), V.copy()
        getattr(expected, method)()
        getattr(got, method)()
        _same_result(got, expected, dtype)
    expected, got = v.copy(), V.copy()
    expected.resize(12)
    got.resize(12)
    _same_result(got, expected, dtype)
    if fmt == "csr":
        expected, got = v.copy(), V.copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
            expected[[2, 5]] = 7
            got[[2, 5]] = 7
        _same_result(got, expected, dtype)
    # built on the GPU: from a dense CuPy vector and from CuPy arrays
    _same_result(cls(gpu.asarray(d)), cls(d), dtype)
    if fmt == "csr":
        built = cls((V.data, V.indices, V.indptr), shape=(9,))
    else:
        built = cls((V.data, V.coords), shape=(9,))
    _same_result(built, v, dtype)
    # the 1-D results of 2-D arrays: a row, a column, an empty selection
    for key in ((2, slice(None)), (slice(None), 3), (1, [4, 0, 4]), (0, slice(3, 3))):
        _same_result(G[key], M[key], dtype)
        _same_result(G.tocoo()[key], M.tocoo()[key], dtype)
    _same_result(G[[], []], M[[], []], dtype)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("array", [True, False])
def test_keys_with_none_and_coo_indexing(gpu, fmt, array):
    """Keys with ``None`` and COO indexing (duplicates kept) on the GPU as on the CPU."""
    A = _matrix(fmt, (5, 6), np.float64, array=array, messy=True, seed=6)
    G = A.to("cuda")
    keys = [(None, 2), (2, None), (None, slice(1, 4)), (slice(None), None, 1), (1, 3),
            (slice(1, 4), slice(None, None, 2)), ([0, 2, 2], [1, 1, 5]), ([4, 0], 1),
            (np.array([[0], [3]]), np.array([[1, 2]])), (A.toarray() > 0,), (-1,)]
    for key in keys:
        key = key[0] if len(key) == 1 else key
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = A[key]
        except (IndexError, TypeError, NotImplementedError) as e:
            with pytest.raises(type(e)):
                G[key]
            continue
        got = G[key]
        if sp.issparse(expected) or np.ndim(expected):
            _same_result(got, expected, np.float64)
        else:
            np.testing.assert_allclose(float(got), expected)
    with pytest.raises(IndexError, match="out of range"):
        G[gpu.asarray(np.array([5])), :] if fmt != "coo" or array else G.tocsr()[7]


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("array", [True, False])
def test_iterating_over_rows(gpu, fmt, array):
    if fmt == "coo" and not array:
        pytest.skip("coo_matrix is not subscriptable, as in SciPy")
    A = _matrix(fmt, (5, 4), np.float64, array=array, messy=fmt != "coo", seed=8)
    rows = list(A.to("cuda"))
    assert len(rows) == 5
    for got, expected in zip(rows, A):
        _same_result(got, expected, np.float64)


# ----------------------------------------------------------------------- constructors
@pytest.mark.parametrize("fmts", [("csr", "csr"), ("csc", "csc"), ("csr", "coo"),
                                  ("coo", "csc")])
@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
@pytest.mark.parametrize("array", [True, False])
def test_stacking_and_kron(gpu, fmts, dtype, array):
    A = _matrix(fmts[0], (4, 3), dtype, array=array, messy=True)
    B = _matrix(fmts[1], (4, 5), dtype, array=array, seed=7)
    C = _matrix(fmts[1], (2, 3), dtype, array=array, seed=8)
    E = _matrix(fmts[0], (2, 5), dtype, array=array, density=0.0)
    G = {id(X): X.to("cuda") for X in (A, B, C, E)}

    def on_gpu(blocks):
        return [[None if X is None else G[id(X)] for X in row] for row in blocks]

    for format in (None, "csr", "csc"):
        for f, args in ((sp.hstack, [A, B]), (sp.vstack, [A, C])):
            got, expected = f([G[id(X)] for X in args], format=format), f(args, format=format)
            _assert_same_sparse(_host(got), expected, dtype)
        grid = [[A, B], [C, None]]
        _assert_same_sparse(_host(sp.bmat(on_gpu(grid), format=format)),
                            sp.bmat(grid, format=format), dtype)
        grid = [[A, None], [None, E]]
        _assert_same_sparse(_host(sp.block_array(on_gpu(grid), format=format)),
                            sp.block_array(grid, format=format), dtype)
        _assert_same_sparse(_host(sp.block_diag([G[id(A)], G[id(C)]], format=format)),
                            sp.block_diag([A, C], format=format), dtype)
        for X, Y in ((A, C), (C, E), (B, A)):
            expected = sp.kron(X, Y, format=format)
            if expected.format == "bsr":  # no BSR on the GPU: the same product, as CSR
                expected = sp.kron(X, Y, format="csr")
            _assert_same_sparse(_host(sp.kron(G[id(X)], G[id(Y)], format=format)), expected,
                                dtype)
    d = _values(np.random.default_rng(9), 5, dtype)
    for format in (None, "csr", "csc"):
        got = sp.diags_array([gpu.asarray(d), gpu.asarray(d[1:])], offsets=[0, -1],
                             format=format)
        _assert_same_sparse(_host(got), sp.diags_array([d, d[1:]], offsets=[0, -1],
                                                       format=format), dtype)
        got = sp.diags(gpu.asarray(d), 1, shape=(5, 6), format=format, dtype=None)
        _assert_same_sparse(_host(got), sp.diags(d, 1, shape=(5, 6), format=format,
                                                 dtype=None), dtype)
    with pytest.raises(ValueError, match="different devices"):
        sp.hstack([G[id(A)], B])
    with pytest.raises(ValueError, match="different devices"):
        sp.kron(G[id(A)], C)


# ---------------------------------------------------------------------------- solvers
def _systems(dtype):
    m = 12
    T = sp.diags_array([-1.0, 2.0, -1.0], offsets=[-1, 0, 1], shape=(m, m))
    spd = (sp.kron(T, sp.eye_array(m)) + sp.kron(sp.eye_array(m), T)).tocsr()
    conv = (spd + 0.3 * sp.kron(sp.eye_array(m), sp.diags_array(
        [-1.0, 1.0], offsets=[-1, 1], shape=(m, m)))).tocsr()
    if np.dtype(dtype).kind == "c":
        conv = (conv + 0.2j * sp.eye_array(m * m)).tocsr()
    return spd.astype(dtype), conv.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("method", ["cg", "minres", "bicgstab", "gmres", "cgs", "bicg",
                                    "tfqmr", "qmr", "lgmres", "gcrotmk"])
@pytest.mark.parametrize("operator", [False, True])
def test_iterative_solvers(gpu, method, dtype, operator):
    """The device solvers against SciPy's on the CPU: ``A`` an spgrad array on the GPU, or
    (``operator``) a LinearOperator of a function on CuPy arrays with a LinearOperator
    preconditioner (qmr: ``M`` stands for the split pair ``M1 = M``, ``M2 = 2 M``, which
    SciPy's qmr takes as LinearOperators)."""
    import scipy.sparse.linalg as sla

    import spgrad.linalg as spla

    spd, conv = _systems(dtype)
    A = spd if method in ("cg", "minres") else conv
    if np.dtype(dtype).kind == "c" and method in ("cg", "minres"):
        pytest.skip("Hermitian complex systems: covered by the real ones")
    b = _values(np.random.default_rng(3), A.shape[0], dtype)
    G, bg = A.to("cuda"), gpu.asarray(b)
    D = sp.diags_array(1.0 / A.diagonal()).astype(dtype)
    extra = {"callback_type": "x"} if method == "gmres" else {}
    tol = 1e-4 if np.dtype(dtype) == np.float32 else 1e-8
    for kwargs in ({}, {"M": D}, {"x0": b * 0.5}, {"maxiter": 3}, {"x0": "Mb", "M": D}):
        kw = dict(kwargs, **extra)
        if method == "qmr" and "M" in kw:
            kw["M1"], kw["M2"] = kw.pop("M"), 2 * D
        seen_cpu, seen_gpu = [], []
        wrap = sla.aslinearoperator if method == "qmr" else (lambda m: m)
        x_ref, info_ref = getattr(sla, method)(
            A.to_scipy(), b, callback=lambda x: seen_cpu.append(np.copy(x)),
            **{k: (wrap(v.to_scipy()) if sp.issparse(v) else v) for k, v in kw.items()})
        gkw = {k: (v.to("cuda") if sp.issparse(v) else
                   gpu.asarray(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        op = G
        if operator:
            op = spla.LinearOperator(G.shape, matvec=lambda v: G @ v,
                                     rmatvec=lambda v: G.conj().T @ v, dtype=G.dtype)
            for key in ("M", "M1", "M2"):
                if key in gkw:
                    gkw[key] = spla.aslinearoperator(gkw[key])
        x, info = getattr(spla, method)(op, bg, callback=lambda x: seen_gpu.append(_host(x)),
                                        **gkw)
        assert isinstance(x, gpu.ndarray) and x.dtype == x_ref.dtype
        assert info == info_ref, kwargs
        scale = np.linalg.norm(x_ref) or 1
        assert np.linalg.norm(_host(x) - x_ref) <= tol * scale, kwargs
        # (single precision: another summation order may end one iteration sooner or later)
        slack = 1 if np.dtype(dtype) == np.float32 else 0
        assert abs(len(seen_gpu) - len(seen_cpu)) <= slack, kwargs
    np.testing.assert_array_equal(_host(bg), b)  # inputs untouched


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("operator", [False, True])
@pytest.mark.parametrize("name", ["lsqr", "lsmr"])
def test_least_squares(gpu, name, dtype, operator):
    """lsqr and lsmr on the GPU against SciPy's on the CPU (a tall matrix with an empty row,
    damped or not, from ``x0``, lsqr with ``calc_var``, stopped by the iteration limit or by
    ``conlim``): the same result tuple, ``x`` (and ``var``) CuPy arrays; ``A`` an spgrad
    array on the GPU or a LinearOperator of functions on CuPy arrays."""
    import scipy.sparse.linalg as sla

    import spgrad.linalg as spla

    A = (_matrix("csr", (14, 6), dtype, seed=7) + sp.eye_array(14, 6, dtype=dtype)).tocsr()
    rng = np.random.default_rng(8)
    b, x0 = _values(rng, 14, dtype), _values(rng, 6, dtype)
    G, bg = A.to("cuda"), gpu.asarray(b)
    op = G
    if operator:
        op = spla.LinearOperator(G.shape, matvec=lambda v: G @ v,
                                 rmatvec=lambda v: G.conj().T @ v, dtype=G.dtype)
    tol = 1e-4 if np.dtype(dtype) == np.float32 else 1e-9
    limit = "iter_lim" if name == "lsqr" else "maxiter"
    extra = [{"calc_var": True}] if name == "lsqr" else []
    for kw in ({}, {"damp": 0.3}, {"x0": x0, "damp": 0.2}, {limit: 3}, {"conlim": 5.0},
               *extra):
        # (single-precision lsmr compares a float32 with its 1e100 start of min(rbar):
        # NumPy warns of the overflowing cast, in SciPy's solver and in spgrad's alike)
        with np.errstate(over="ignore"):
            want = getattr(sla, name)(A.to_scipy(), b, **kw)
            got = getattr(spla, name)(op, bg, **{k: gpu.asarray(v) if isinstance(v, np.ndarray)
                                                 else v for k, v in kw.items()})
        assert len(got) == len(want) and isinstance(got[0], gpu.ndarray)
        assert got[1:3] == want[1:3], kw
        assert _host(got[0]).dtype == want[0].dtype
        np.testing.assert_allclose(_host(got[0]), want[0], rtol=tol, atol=tol)
        np.testing.assert_allclose(got[3:9], want[3:9], rtol=tol * 100, atol=tol)
        if name == "lsqr":
            np.testing.assert_allclose(_host(got[9]), want[9], rtol=tol * 100, atol=tol)
    np.testing.assert_array_equal(_host(bg), b)  # inputs untouched
    x0g = gpu.asarray(x0)
    with np.errstate(over="ignore"):
        getattr(spla, name)(op, bg, x0=x0g)
    np.testing.assert_array_equal(_host(x0g), x0)
    with pytest.raises(NotImplementedError, match="show=True"):
        getattr(spla, name)(G, bg, show=True)
    with pytest.raises(ValueError, match="shapes of A"):
        getattr(spla, name)(G, gpu.asarray(np.ones(6)))


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_lgmres_options(gpu, dtype):
    """lgmres' own options on the GPU as in SciPy: a small inner space, the augmentation
    vectors kept in the caller's ``outer_v`` (as CuPy vector pairs) and reused by a second
    solve, without the stored products ``A v``, prepended to the Krylov vectors."""
    import scipy.sparse.linalg as sla

    import spgrad.linalg as spla

    A = _systems(dtype)[1]
    b = _values(np.random.default_rng(9), A.shape[0], dtype)
    G, bg = A.to("cuda"), gpu.asarray(b)
    for kw in ({"inner_m": 4, "outer_k": 2}, {"inner_m": 5, "store_outer_Av": False},
               {"inner_m": 5, "prepend_outer_v": True}):
        ours, ref = [], []
        for _ in range(2):  # the second solve starts with the first one's outer vectors
            x, info = spla.lgmres(G, bg, outer_v=ours, rtol=1e-10, **kw)
            x_ref, info_ref = sla.lgmres(A.to_scipy(), b, outer_v=ref, rtol=1e-10, **kw)
            assert info == info_ref, kw
            np.testing.assert_allclose(_host(x), x_ref, rtol=1e-8, atol=1e-10)
        # (the stored directions are the last corrections, normalised: near convergence
        # they are rounding-sized steps, equal to SciPy's in direction only roughly)
        assert len(ours) == len(ref) > 0
        for (z, w), (z_ref, w_ref) in zip(ours, ref):
            assert isinstance(z, gpu.ndarray)
            np.testing.assert_allclose(np.linalg.norm(_host(z)), 1.0, rtol=1e-12)
            assert (w is None) == (w_ref is None)
    with pytest.raises(ValueError, match="finite"):
        spla.lgmres(G, gpu.asarray(np.full(A.shape[0], np.nan)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_gcrotmk_options(gpu, dtype):
    """gcrotmk's own options on the GPU as in SciPy: small m and k, both truncation rules, the
    recycled pairs kept in the caller's ``CU`` (CuPy vectors) and reused by the next solves
    (their pivoted QR on the device, as LAPACK's), with ``discard_C`` (the ``c`` recomputed as
    ``A u``), a preconditioner, and SciPy's errors."""
    import scipy.sparse.linalg as sla

    import spgrad.linalg as spla

    A = _systems(dtype)[1]
    rng = np.random.default_rng(9)
    G = A.to("cuda")
    D = sp.diags_array(1.0 / A.diagonal()).astype(dtype)
    single = np.dtype(dtype) == np.float32
    rtol = 1e-5 if single else 1e-10
    for kw in ({"m": 4, "k": 2}, {"m": 5, "k": 3, "truncate": "smallest"},
               {"m": 3, "k": 2, "discard_C": True}, {"m": 4, "k": 3, "M": D},
               {"m": 4, "k": 2, "x0": "Mb", "M": D}, {"maxiter": 2, "m": 3}):
        ours, ref = [], []
        for solve in range(3):  # later solves start with the earlier ones' recycled pairs
            b = _values(rng, A.shape[0], dtype)
            seen, seen_ref = [], []
            gkw = {key: (v.to("cuda") if sp.issparse(v) else v) for key, v in kw.items()}
            x, info = spla.gcrotmk(G, gpu.asarray(b), CU=ours, rtol=rtol,
                                   callback=lambda x: seen.append(1), **gkw)
            skw = {key: (v.to_scipy() if sp.issparse(v) else v) for key, v in kw.items()}
            x_ref, info_ref = sla.gcrotmk(A.to_scipy(), b, CU=ref, rtol=rtol,
                                          callback=lambda x: seen_ref.append(1), **skw)
            assert isinstance(x, gpu.ndarray) and x.dtype == x_ref.dtype
            assert info == info_ref, (kw, solve)
            assert abs(len(seen) - len(seen_ref)) <= (1 if single else 0), (kw, solve)
            # (single precision, stopped after 2 iterations: the recycled vectors, with the
            # last solution among them, are nearly dependent, and their QR amplifies the
            # rounding of another summation order to 10 %; converged solves agree to 1e-6)
            if not (single and "maxiter" in kw):
                scale = np.linalg.norm(x_ref)
                assert np.linalg.norm(_host(x) - x_ref) <= (1e-4 if single else 1e-8) * scale
            assert len(ours) == len(ref) > 0, (kw, solve)
            for (c, u), (c_ref, u_ref) in zip(ours, ref):
                assert (c is None) == (c_ref is None) and isinstance(u, gpu.ndarray)
                if c is not None:  # the recycled directions are unit vectors, as in SciPy
                    np.testing.assert_allclose(np.linalg.norm(_host(c)), 1.0, rtol=1e-4)
    b = gpu.asarray(np.ones(A.shape[0], dtype=dtype))
    if hasattr(gpu, "transfers"):  # only scalars are read back, recycling included
        gpu.transfers.clear()
        spla.gcrotmk(G, b, CU=ours, m=4, k=2, rtol=rtol)
        spla.gcrotmk(G, b, CU=ours, m=4, k=3, truncate="smallest", rtol=rtol)
        assert gpu.transfers["h2d"] == 0 and gpu.transfers["d2h"] == 0, gpu.transfers
    with pytest.raises(ValueError, match="finite"):
        spla.gcrotmk(G, gpu.asarray(np.full(A.shape[0], np.nan, dtype=dtype)))
    with pytest.raises(ValueError, match="Invalid value for 'truncate'"):
        spla.gcrotmk(G, b, truncate="newest")
    with pytest.raises(ValueError, match="invalid `atol`"):
        spla.gcrotmk(G, b, atol=-1.0)
    x, info = spla.gcrotmk(G, b * 0)
    assert info == 0 and not bool((x != 0).any())


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_pivoted_qr_on_the_device_is_lapacks(gpu, dtype):
    """The column-pivoted Householder QR behind gcrotmk's recycling: the pivots, Q and R of
    ``scipy.linalg.qr(C, mode='economic', pivoting=True)`` (LAPACK's geqp3), signs included,
    on a tall matrix with nearly dependent and zero columns."""
    import scipy.linalg

    from spgrad.linalg._krylov import _pivoted_qr_device

    rng = np.random.default_rng(4)
    C = _values(rng, (40, 6), dtype)
    C[:, 3] = 2 * C[:, 0] + 1e-9 * C[:, 3]
    C[:, 5] = 0
    for cols in (C, C[:, :1], C[:, [5, 1, 2]]):
        Q_ref, R_ref, P_ref = scipy.linalg.qr(cols, mode="economic", pivoting=True)
        Q, R, P = _pivoted_qr_device(gpu, gpu.asarray(cols))
        np.testing.assert_array_equal(P, P_ref)
        np.testing.assert_allclose(R, R_ref, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(_host(Q)[:, :4], Q_ref[:, :4], rtol=1e-8, atol=1e-10)


def test_solvers_on_the_gpu_errors(gpu):
    import spgrad.linalg as spla

    A = _systems(np.float64)[0]
    G, b = A.to("cuda"), np.ones(A.shape[0])
    with pytest.raises(ValueError, match="different devices"):
        spla.cg(G, b)
    with pytest.raises(TypeError, match="qmr on the GPU need the adjoint of M1"):
        spla.qmr(G, gpu.asarray(b), M1=lambda v: v)
    with pytest.raises(ValueError, match="different devices"):
        spla.cg(G, gpu.asarray(b), M=A)
    with pytest.raises(TypeError, match="A must be an spgrad sparse array on the GPU"):
        spla.cg(A.toarray(), gpu.asarray(b))
    with pytest.raises(ValueError, match="shapes of A"):
        spla.cg(G, gpu.asarray(np.ones(3)))
    host = spla.LinearOperator(G.shape, matvec=lambda v: A @ _host(v), dtype=np.float64)
    with pytest.raises(TypeError, match="must return a CuPy array, got numpy.ndarray"):
        spla.cg(host, gpu.asarray(b))


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_linear_operators_on_cupy_arrays(gpu, dtype):
    """spgrad's LinearOperators pass CuPy arrays to their products (an spgrad array on the
    GPU, a dense CuPy matrix, user functions), compositions included, as on the CPU."""
    import spgrad.linalg as spla

    A = _matrix("csr", (6, 6), dtype, seed=4)
    B = _matrix("csr", (6, 6), dtype, seed=5)
    G, H = A.to("cuda"), B.to("cuda")
    rng = np.random.default_rng(6)
    x, X = _values(rng, 6, dtype), _values(rng, 12, dtype).reshape(6, 2)
    ops = [
        (spla.aslinearoperator(G), spla.aslinearoperator(A)),
        (spla.aslinearoperator(gpu.asarray(A.toarray())), spla.aslinearoperator(A.toarray())),
        (spla.LinearOperator((6, 6), matvec=lambda v: G @ v, rmatvec=lambda v: G.conj().T @ v,
                             dtype=dtype),
         spla.LinearOperator((6, 6), matvec=lambda v: A @ v, rmatvec=lambda v: A.conj().T @ v,
                             dtype=dtype)),
    ]
    for L, R in ops:
        pairs = [(L, R), (2.0 * L + spla.aslinearoperator(H), 2.0 * R + spla.aslinearoperator(B)),
                 (L @ L.H, R @ R.H), (L ** 2, R ** 2), (-L.T, -R.T), (L / 4, R / 4)]
        for P, Q in pairs:
            for got, expected in ((P.matvec(gpu.asarray(x)), Q.matvec(x)),
                                  (P @ gpu.asarray(X), Q @ X),
                                  (P.rmatvec(gpu.asarray(x)), Q.rmatvec(x)),
                                  (P.rmatmat(gpu.asarray(X)), Q.rmatmat(X)),
                                  (P(gpu.asarray(x[:, None])), Q(x[:, None]))):
                assert isinstance(got, gpu.ndarray)
                _assert_same_dense(_host(got), expected, dtype)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("array", [True, False])
def test_other_methods(gpu, fmt, array):
    import pickle

    A = _matrix(fmt, (7, 5), np.float64, array=array, messy=fmt != "coo")
    A.data[::3] = 0
    G = A.to("cuda")
    if fmt != "coo":
        for got, expected in zip(G.nonzero(), A.nonzero()):
            np.testing.assert_array_equal(_host(got), expected)
    assert G.count_nonzero() == A.count_nonzero()
    for axis in (0, 1):
        np.testing.assert_array_equal(_host(G.count_nonzero(axis=axis)),
                                      A.count_nonzero(axis=axis))
    for name in ("argmax", "argmin"):
        assert int(getattr(G, name)()) == int(getattr(A, name)())
    _assert_same_sparse(_host(G.reshape(5, 7)), A.reshape(5, 7), np.float64)
    for got, expected in zip(sp.find(G), sp.find(A)):
        np.testing.assert_array_equal(_host(got), expected)
    _assert_same_sparse(_host(pickle.loads(pickle.dumps(G))), A, np.float64)
    assert repr(G) == repr(A)


def test_cpu_only_methods_say_so(gpu):
    G = _matrix("csr", (4, 4), np.float64).to("cuda")
    for op in (G.to_scipy, G.tolil, G.todok, G.tobsr, lambda: G == G,
               lambda: G > 0, lambda: sp.save_npz("unused.npz", G)):
        with pytest.raises(NotImplementedError, match=r"on the GPU \(cuda:0\); move the array"):
            op()


# ---------------------------------------------------------------------------------- errors
def test_operands_on_different_devices(gpu):
    A = _matrix("csr", (4, 4), np.float64)
    G = A.to("cuda")
    x = np.ones(4)
    for op in (lambda: G @ x, lambda: A @ gpu.asarray(x), lambda: G + A, lambda: A - G,
               lambda: G.multiply(A), lambda: G @ A, lambda: G + np.eye(4),
               lambda: G.multiply(np.eye(4)), lambda: G.maximum(A),
               lambda: G.minimum(np.eye(4))):
        with pytest.raises(ValueError, match="different devices: (cuda:0 and cpu|cpu and "
                                             "cuda:0)"):
            op()


def test_shape_errors_on_the_device(gpu):
    G = _matrix("csr", (4, 3), np.float64).to("cuda")
    with pytest.raises(ValueError, match="dimension mismatch"):
        G @ gpu.asarray(np.ones(4))
    with pytest.raises(ValueError, match="inconsistent shapes"):
        G + _matrix("csr", (3, 4), np.float64).to("cuda")
    with pytest.raises(ValueError, match="shape mismatch"):
        G.multiply(gpu.asarray(np.ones((1, 4))))
    with pytest.raises(ValueError, match="inconsistent shapes"):
        G.multiply(_matrix("csr", (1, 4), np.float64).to("cuda"))


@pytest.mark.parametrize("array", [True, False])
def test_broadcasting_products(gpu, array):
    """``multiply`` that broadcasts a sparse row, column or vector against a larger dense or
    sparse operand (the result larger than ``self``), as on the CPU: same class, format,
    shape and values."""
    family = "array" if array else "matrix"
    M = _matrix("csr", (4, 7), np.float64, array=array, density=0.5, seed=1)
    r = _matrix("csr", (1, 7), np.float64, array=array, density=0.6, seed=2)
    c = _matrix("csc", (4, 1), np.float64, array=array, density=0.6, seed=3)
    rng = np.random.default_rng(4)
    X, Y, Z = rng.standard_normal((3, 7)), rng.standard_normal((4, 5)), \
        rng.standard_normal((2, 3, 7))
    one = getattr(sp, f"csr_{family}")(np.array([[2.0]]))
    pairs = [(M, r), (M, c), (r, M), (c, M), (r, c), (c, r), (r, X), (c, Y), (r, Z),
             (one, X), (one, M)]
    if array:
        v = sp.csr_array(np.array([0, 1.5, 0, -2, 0, 3, 1.0]))
        pairs += [(v, X), (M, v), (v, M)]
    on_gpu = {}
    for a, b in pairs:
        expected = a.multiply(b)
        got = on_gpu.setdefault(id(a), a.to("cuda")).multiply(
            on_gpu.setdefault(id(b), b.to("cuda")) if sp.issparse(b) else gpu.asarray(b))
        if sp.issparse(expected):
            assert got.format == expected.format
            _assert_same_sparse(_host(got), expected, np.float64)
        else:
            _assert_same_dense(_host(got), expected, np.float64)


# -------------------------------------------------------------------------- host transfers
def test_no_host_round_trips(gpu):
    """Once the operands are on the device, no operation copies an array between host and
    device (reading sizes such as a result's nnz back as scalars is allowed)."""
    if not hasattr(gpu, "transfers"):
        pytest.skip("transfers are counted by the emulated CuPy only")
    A = _matrix("csr", (30, 20), np.float64, messy=True)
    G, H = A.to("cuda"), _matrix("csc", (30, 20), np.float64, seed=4).to("cuda")
    x, y, X = gpu.asarray(np.ones(20)), gpu.asarray(np.ones(30)), gpu.asarray(np.ones((20, 3)))
    D = gpu.asarray(np.ones((30, 20)))
    C, V, r = G.tocoo(), G[3], G[5:6]  # (an integer key is copied to the device)
    gpu.transfers.clear()
    results = [G @ x, G @ X, G.T @ G, G + H, G - H, G.multiply(H), G.multiply(D), G * 3,
               G.toarray(), G.tocsc(), G.tocoo().tocsr(), G.sum(axis=0), G.sum(),
               G.diagonal(), G.copy(), G.astype(np.float32), H.T @ y, H @ G.T,
               sp.tril(G), sp.triu(H, 1, format="csr"), G[2:9], G[::3, 1:], H[4:20:2]]
    import spgrad.linalg as spla

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)  # todia's many diagonals
        results += [G.max(axis=0), G.nanmin(axis=1), G.argmax(axis=0), H.argmin(axis=1), V,
                    V @ x, V + V, V.multiply(x), C.T.tocsr()[::2, 1:], C[2:7, 3:9],
                    G.todia() + G.todia(), r.multiply(D), G.multiply(r), spla.norm(G, 1),
                    spla.norm(G, axis=0), spla.matrix_power(G.T @ G, 2)]
    S = G.copy()
    S.sum_duplicates()
    S.eliminate_zeros()
    assert gpu.transfers["h2d"] == 0 and gpu.transfers["d2h"] == 0, gpu.transfers
    assert all(sp.issparse(r) and r.device == "cuda:0" or isinstance(r, gpu.ndarray)
               for r in results)


# -------------------------------------------------------------------------------- setdiag
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("messy", [False, True])
@pytest.mark.parametrize("k", [0, 2, -1])
def test_setdiag(gpu, fmt, messy, k):
    """``setdiag`` on the GPU as on the CPU: in place where the diagonal is stored, rebuilt
    (SciPy's order) where it is not; scalar, host and device values, short and long ones."""
    def same(got, expected):
        _assert_same_sparse(got, expected, np.float64)
        assert got.has_sorted_indices == expected.has_sorted_indices
        np.testing.assert_array_equal(got.indices, expected.indices)
        np.testing.assert_array_equal(got.indptr, expected.indptr)

    A = _matrix(fmt, (6, 5), np.float64, messy=messy, seed=3)
    full = _matrix(fmt, (6, 5), np.float64, density=1.0, seed=4)
    for base in (A, full):
        _check_setdiag(gpu, base, k, same)


def _check_setdiag(gpu, base, k, same):
    """``base.setdiag(values, k)`` on the GPU against the CPU, ``same(got, expected)``, for
    scalar, short, long and list host values and CuPy values."""
    host_values = (2.5, np.arange(1.0, 3.0), np.arange(1.0, 9.0), [7, 8, 9])
    for values in host_values + (gpu.asarray(np.full(3, 4.0)),):
        expected = base.copy()
        expected.setdiag(values if isinstance(values, (float, list, np.ndarray))
                         else _host(values), k)
        G = base.to("cuda")
        G.setdiag(values, k)
        same(_host(G), expected)


@pytest.mark.parametrize("fmt", ["coo", "dia"])
@pytest.mark.parametrize("k", [0, 2, -1, 4])
def test_setdiag_coo_dia(gpu, fmt, k):
    """COO and DIA ``setdiag`` on the GPU as on the CPU (SciPy's results): scalar, host and
    device values, short and long ones, on stored and new diagonals; DIA with data rows
    longer than the shape."""
    bases = [_matrix("csr", (6, 5), np.float64, messy=True, seed=11).asformat(fmt),
             sp.coo_array((6, 5)).asformat(fmt)]
    if fmt == "dia":
        bases.append(sp.dia_array((np.arange(1.0, 31.0).reshape(3, 10), [0, 2, -3]),
                                  shape=(6, 5)))  # data rows longer than the shape
    def same(got, expected):
        assert got.format == fmt and got.dtype == expected.dtype
        np.testing.assert_array_equal(got.toarray(), expected.toarray())
        if fmt == "dia":
            np.testing.assert_array_equal(got.offsets, expected.offsets)
            np.testing.assert_array_equal(got.data, expected.data)

    for base in bases:
        _check_setdiag(gpu, base, k, same)
    G = bases[0].to("cuda")
    with pytest.raises(ValueError, match="different devices"):
        bases[0].setdiag(gpu.asarray(np.ones(3)), k)
    with pytest.raises(ValueError, match="k exceeds array dimensions"):
        G.setdiag(1.0, 5)


@pytest.mark.parametrize("shape", [(3, 2), (8, 7), (2, 9), (0, 3), (9, 3)])
def test_resize_dia(gpu, shape):
    """DIA ``resize`` on the GPU as on the CPU, including the entries a longer ``data`` row
    held outside the old shape (cleared when the shape grows, as in SciPy)."""
    A = sp.dia_array((np.arange(1.0, 25.0).reshape(3, 8), [-1, 0, 2]), shape=(5, 4))
    expected = A.copy()
    expected.resize(shape)
    G = A.to("cuda")
    data_before = _host(G.data).copy()
    shared = G.copy()
    G.resize(shape)
    got = _host(G)
    np.testing.assert_array_equal(got.toarray(), expected.toarray())
    np.testing.assert_array_equal(got.data, expected.data)
    np.testing.assert_array_equal(_host(shared.data), data_before)  # a copy is left alone


def test_setdiag_differentiable(gpu):
    """``setdiag`` of a GPU array with torch values on stored positions stays in the graph;
    new positions are refused as on the CPU."""
    torch = pytest.importorskip("torch")
    full = sp.csr_array(np.arange(1.0, 17.0).reshape(4, 4)).to("cuda")
    A = full.copy().requires_grad_()
    B = A.copy()
    B.setdiag(torch.full((4,), 3.0, dtype=torch.float64))
    B.sum().backward()
    grad = _host(A.grad).toarray()
    np.testing.assert_array_equal(grad, 1 - np.eye(4))
    sparse = _matrix("csr", (4, 4), np.float64, density=0.2, seed=6).to("cuda")
    sparse.requires_grad_()
    with pytest.raises(ValueError, match="would change the sparsity pattern"):
        sparse.copy().setdiag(1.0)


# --------------------------------------------------------------------------------- resize
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("shape", [(3, 2), (8, 7), (2, 9), (0, 3)])
def test_resize(gpu, fmt, shape):
    A = _matrix(fmt, (6, 5), np.float64, messy=True, seed=9)
    expected = A.copy()
    expected.resize(shape)
    G = A.to("cuda")
    G.resize(shape)
    got = _host(G)
    _assert_same_sparse(got, expected, np.float64)
    if fmt != "coo":
        np.testing.assert_array_equal(got.indptr, expected.indptr)
        np.testing.assert_array_equal(got.indices, expected.indices)


# ------------------------------------------------------------------------ item assignment
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("messy", [False, True])
def test_item_assignment(gpu, fmt, messy):
    """``A[key] = x`` on the GPU as on the CPU: stored positions in place, new ones inserted
    (SciPy's efficiency warning, order and index dtypes), a later pair winning over an
    earlier one; host and device values and keys."""
    import warnings

    A = _matrix(fmt, (6, 5), np.float64, messy=messy, seed=7)
    cases = [((2, 3), 4.5), ((1, 1), 2.0), ((slice(0, 4), 2), np.arange(4.0)),
             ((slice(None), slice(1, 3)), 1.5), ((np.array([0, 5, 0]), np.array([1, 4, 1])),
                                                 np.array([1.0, 2.0, 3.0])),
             ((np.array([[0], [3]]), np.array([[1, 2]])), np.array([[5.0, 6.0], [7.0, 8.0]])),
             ((slice(None), slice(None)), 0.0)]
    for key, x in cases:
        expected = A.copy()
        G = A.to("cuda")
        with warnings.catch_warnings(record=True) as caught_cpu:
            warnings.simplefilter("always")
            expected[key] = x
        with warnings.catch_warnings(record=True) as caught_gpu:
            warnings.simplefilter("always")
            G[key] = gpu.asarray(x) if isinstance(x, np.ndarray) else x
        assert [w.category for w in caught_gpu] == [w.category for w in caught_cpu]
        got = _host(G)
        _assert_same_sparse(got, expected, np.float64)
        np.testing.assert_array_equal(got.indices, expected.indices)
        np.testing.assert_array_equal(got.indptr, expected.indptr)
        assert got.indices.dtype == expected.indices.dtype


def test_coo_assignment(gpu):
    """``A[key] = x`` for a COO array on the GPU, entry for entry as on the CPU (SciPy's
    rules: the region's stored entries removed, the nonzero values appended, the first value
    of a repeated position kept, SciPy's coordinate dtypes): scalars, dense values (host and
    device) and sparse values."""
    A = _matrix("coo", (6, 7), np.float64, messy=True, seed=12)
    X = _matrix("csr", (2, 3), np.float64, density=0.5, seed=13)
    cases = [((1, 2), 3.0), ((1, 2), 0.0), ((slice(1, 3), slice(2, 5)), X),
             ((slice(1, 3), slice(2, 5)), np.arange(6.0).reshape(2, 3)),
             ((slice(None), 3), 2.5), ((np.array([0, 4, 0]), np.array([1, 2, 1])),
                                       np.array([1.0, 2.0, 3.0])),
             ((2, slice(None)), np.arange(7.0)), ((slice(0, 3), slice(0, 3)), 0.0),
             (([5, 1], slice(None, None, -2)), 1.5)]
    for key, x in cases:
        expected = A.copy()
        expected[key] = x
        device = x.to("cuda") if sp.issparse(x) else (
            gpu.asarray(x) if isinstance(x, np.ndarray) else x)
        for value in (device, x):
            G = A.to("cuda")
            G[key] = value
            got = _host(G)
            for g, e in zip(got.coords, expected.coords):
                np.testing.assert_array_equal(g, e)
                assert g.dtype == e.dtype
            np.testing.assert_array_equal(got.data, expected.data)
    G = A.to("cuda")
    with pytest.raises(ValueError, match="shape mismatch"):
        G[0:2, 0:2] = gpu.asarray(np.ones(3))
    with pytest.raises(ValueError, match="different devices"):
        A.copy()[0:2, 0:2] = gpu.asarray(np.ones(2))


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("messy", [False, True])
def test_sparse_value_assignment(gpu, fmt, messy):
    """``A[key] = S`` with a sparse ``S`` on the GPU (or on the host, copied there) as on the
    CPU: the region's stored entries zeroed, ``S``'s stored entries set, broadcast rows and
    columns included."""
    A = _matrix(fmt, (6, 7), np.float64, messy=messy, seed=8)
    X = _matrix("csr", (2, 3), np.float64, density=0.5, seed=9)
    R = _matrix("coo", (1, 3), np.float64, density=0.7, seed=10)
    C = _matrix("csc", (4, 1), np.float64, density=0.6, seed=11)
    cases = [((slice(1, 3), slice(2, 5)), X), (np.ix_([0, 4], [1, 2, 6]), X),
             ((slice(0, 4), slice(1, 4)), R), ((2, slice(0, 3)), R),
             ((slice(None), [0, 3, 5]), R), ((slice(0, 4), slice(2, 6)), C),
             ((slice(1, 3), slice(2, 5)), X.to_scipy())]
    for key, x in cases:
        expected = A.copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
            expected[key] = x
            for value in ((x.to("cuda"),) if sp.issparse(x) and hasattr(x, "to") else ()) + (x,):
                G = A.to("cuda")
                G[key] = value
                got = _host(G)
                _assert_same_sparse(got, expected, np.float64)
                assert got.nnz == expected.nnz
                np.testing.assert_array_equal(got.indices, expected.indices)
    G = A.to("cuda")
    with pytest.raises(ValueError, match="shape mismatch"):
        G[0:2, 0:2] = X.to("cuda")


# ------------------------------------------------------------------------------ benchmark
def test_gpu_benchmark_runs(gpu, tmp_path, monkeypatch):
    """benchmarks/bench_gpu.py runs end to end (tiny sizes), its results checked against
    SciPy's inside the script (emulated: with the stand-in cuSPARSE bindings, so that both
    the default products and spgrad's own kernels run)."""
    import importlib.util
    from pathlib import Path

    if hasattr(gpu, "transfers"):
        import emulated_cusparse

        calls = emulated_cusparse.install(monkeypatch)

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_gpu.py"
    if not path.is_file():
        pytest.skip("benchmarks/ not present")
    spec = importlib.util.spec_from_file_location("bench_gpu", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "gpu.md"
    assert bench.main(["--quick", "--grid", "12", "--n", "200", "--repeats", "1",
                       "--output", str(out)]) == 0
    report = out.read_text()
    assert "SpGEMM" in report and "cg" in report and "GB/s" in report
    if hasattr(gpu, "transfers"):
        assert calls["spmv"] > 0 and calls["spmm"] > 0
    if importlib.util.find_spec("torch") is not None:
        assert "forward + backward" in report
