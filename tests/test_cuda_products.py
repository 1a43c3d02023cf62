"""SpMV and SpMM on the GPU by cuSPARSE (``spgrad._cuda._vendor.dense_product``) and by
spgrad's kernels, as ``SPGRAD_CUDA_PRODUCTS`` chooses.

Parametrised like ``test_cuda_containers``: ``emulated`` runs on the emulated CuPy with the
emulated low-level cuSPARSE bindings of ``emulated_cusparse`` (which compute with SciPy and
check sizes, pointers, types and layouts as cuSPARSE does, and count the calls), ``cuda``
unchanged with a GPU. Every product is compared with the same product on the CPU.
"""

import numpy as np
import pytest

import emulated_cusparse
import spgrad as sp
from cuda_support import gpu_fixtures

emulation, gpu = gpu_fixtures("cuda_products")

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


@pytest.fixture
def library(gpu, monkeypatch):
    """cuSPARSE's call counter (emulated: the stand-in bindings installed; on a GPU, None)."""
    monkeypatch.delenv("SPGRAD_CUDA_PRODUCTS", raising=False)
    if hasattr(gpu, "transfers"):
        return emulated_cusparse.install(monkeypatch)
    return None


def _matrix(shape, dtype, idx=np.int32, fmt="csr", seed=0):
    rng = np.random.default_rng(seed)
    A = sp.random_array(shape, density=0.3, rng=rng, format="csr", dtype=np.float64)
    if np.dtype(dtype).kind == "c":
        A = A + 1j * sp.random_array(shape, density=0.2, rng=rng, format="csr")
    A = sp.csr_array(A).astype(dtype)
    A.indices, A.indptr = A.indices.astype(idx), A.indptr.astype(idx)
    A.data[A.indptr[1]:A.indptr[2]] = 0  # an empty row
    A.eliminate_zeros()
    return A.asformat(fmt)


def _dense(rng, shape, dtype):
    v = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        v = v + 1j * rng.standard_normal(shape)
    return v.astype(dtype)


def _close(got, want, dtype):
    single = np.dtype(dtype) in (np.float32, np.complex64)
    np.testing.assert_allclose(got.get(), want, rtol=1e-5 if single else 1e-12,
                               atol=1e-5 if single else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("idx", [np.int32, np.int64])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_products_by_cusparse_match_the_cpu(gpu, library, dtype, idx, fmt):
    """``A @ x`` and ``A @ X`` of canonical CSR (cuSPARSE's SpMV/SpMM) and CSC (the transposed
    products) arrays and matrices, every value and index type, rectangular, with an empty row:
    cuSPARSE computes them (``auto``), each equal to the CPU's, and no descriptor is left."""
    rng = np.random.default_rng(1)
    for array in (True, False):
        A = _matrix((9, 7), dtype, idx, fmt)
        if not array:
            A = sp.csr_matrix(A) if fmt == "csr" else sp.csc_matrix(A)
        G = A.to("cuda")
        x, X = _dense(rng, 7, dtype), _dense(rng, (7, 3), dtype)
        if library is not None:
            gpu.transfers.clear()
            library.clear()
        xg, Xg = gpu.asarray(x), gpu.asarray(X)
        y, Y = G @ xg, G @ Xg
        if library is not None:
            assert library == {"spmv": 1, "spmm": 1}
            assert not emulated_cusparse._descriptors  # every descriptor destroyed
            assert gpu.transfers["d2h"] == 0 and gpu.transfers["h2d"] == 2  # x and X only
        assert isinstance(y, gpu.ndarray) and y.dtype == (A @ x).dtype
        _close(y, A @ x, dtype)
        _close(Y, A @ X, dtype)


def test_what_cusparse_does_not_compute(gpu, library, monkeypatch):
    """Non-canonical patterns (unsorted, duplicates), empty products and a CuPy without the
    routine or that reports the case unsupported run spgrad's kernels under ``auto``;
    ``SPGRAD_CUDA_PRODUCTS=spgrad`` always does; ``=cusparse`` raises naming the cause,
    except for empty products; an unknown value is refused."""
    rng = np.random.default_rng(2)
    A = _matrix((8, 6), np.float64)
    x, X = rng.standard_normal(6), rng.standard_normal((6, 2))
    messy = sp.csr_array((np.r_[A.data, 1.0], np.r_[A.indices, A.indices[0]],
                          np.r_[A.indptr[:2], A.indptr[2:] + 1]), shape=A.shape)
    messy.indices[:2] = messy.indices[:2][::-1].copy()
    cases = [(A, "spgrad"), (messy, "auto"), (sp.csr_array((8, 6)), "cusparse"),
             (sp.csr_array((8, 0)), "cusparse")]
    for M, policy in cases:
        monkeypatch.setenv("SPGRAD_CUDA_PRODUCTS", policy)
        G = M.to("cuda")
        xs, Xs = (x, X) if M.shape[1] == 6 else (np.ones(0), np.ones((0, 2)))
        if library is not None:
            library.clear()
        _close(G @ gpu.asarray(xs), M @ xs, np.float64)
        _close(G @ gpu.asarray(Xs), M @ Xs, np.float64)
        if library is not None:
            assert not library, (policy, M.nnz)
    monkeypatch.setenv("SPGRAD_CUDA_PRODUCTS", "cusparse")
    with pytest.raises(NotImplementedError, match="csr_matvec by cuSPARSE.*canonical format"):
        messy.to("cuda") @ gpu.asarray(x)
    monkeypatch.setenv("SPGRAD_CUDA_PRODUCTS", "fastest")
    with pytest.raises(ValueError, match="SPGRAD_CUDA_PRODUCTS must be one of auto, cusparse"):
        A.to("cuda") @ gpu.asarray(x)
    if library is None:
        return
    G = A.tocsc().to("cuda")
    emulated_cusparse.unsupported.add(("spmm", 1))  # the transposed SpMM, say
    for policy in ("auto", "cusparse"):
        monkeypatch.setenv("SPGRAD_CUDA_PRODUCTS", policy)
        library.clear()
        if policy == "auto":
            _close(G @ gpu.asarray(X), A @ X, np.float64)
            assert not library
        else:
            with pytest.raises(NotImplementedError, match="csr_matvecs_transpose by cuSPARSE.*"
                                                          "reports CUSPARSE_STATUS_NOT_SUPP"):
                G @ gpu.asarray(X)
    monkeypatch.setattr(emulated_cusparse.emulated_cupy, "available", {"spsm"})
    with pytest.raises(NotImplementedError, match="does not provide cuSPARSE's spmv"):
        A.to("cuda") @ gpu.asarray(x)


def test_without_the_bindings(gpu, monkeypatch):
    """A CuPy without the low-level cuSPARSE bindings: spgrad's kernels under ``auto``, a
    clear error under ``cusparse``."""
    if not hasattr(gpu, "transfers"):
        pytest.skip("a real CuPy has its bindings")
    A = _matrix((5, 4), np.float64)
    x = np.arange(4.0)
    monkeypatch.delenv("SPGRAD_CUDA_PRODUCTS", raising=False)
    _close(A.to("cuda") @ gpu.asarray(x), A @ x, np.float64)
    monkeypatch.setenv("SPGRAD_CUDA_PRODUCTS", "cusparse")
    with pytest.raises(NotImplementedError, match="no cuSPARSE bindings"):
        A.to("cuda") @ gpu.asarray(x)


@pytest.mark.parametrize("policy", ["auto", "spgrad"])
def test_differentiable_products_by_either_library(gpu, library, monkeypatch, policy):
    """Differentiable mode's forward products go the same way (the backward is spgrad's
    SDDMM and transposed products): values and gradients equal dense torch's, the values'
    gathered on the pattern."""
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("SPGRAD_CUDA_PRODUCTS", policy)
    rng = np.random.default_rng(3)
    A = _matrix((7, 5), np.float64)
    device = "cpu" if library is not None else "cuda"  # (emulated: CPU tensors are "cuda")
    x = torch.tensor(rng.standard_normal(5), device=device, requires_grad=True)
    X = torch.tensor(rng.standard_normal((5, 3)), device=device, requires_grad=True)
    M = A.to("cuda").requires_grad_()
    if library is not None:
        library.clear()
    loss = (M @ x).pow(2).sum() + (M.T @ (M @ X)).sum()
    loss.backward()
    if library is not None:  # the forward's SpMV and SpMMs (and a backward one) by cuSPARSE
        assert (library["spmv"], library["spmm"] >= 2) == ((1, True) if policy == "auto"
                                                          else (0, False))
    D = torch.tensor(A.toarray(), device=device, requires_grad=True)
    x_ref, X_ref = x.detach().clone().requires_grad_(), X.detach().clone().requires_grad_()
    ref = (D @ x_ref).pow(2).sum() + (D.T @ (D @ X_ref)).sum()
    ref.backward()
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-12)
    rows, cols = A.nonzero()
    want = D.grad[torch.as_tensor(rows), torch.as_tensor(cols)]
    np.testing.assert_allclose(M.grad.tocsr().tocoo().data.get(),
                               want.detach().cpu().numpy()[np.lexsort((cols, rows))],
                               rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(X.grad, X_ref.grad, rtol=1e-12, atol=1e-12)
