"""Differentiable mode on the GPU: torch tensors as values of sparse arrays whose index arrays
are CuPy arrays, every kernel reached through DLPack views.

Parametrised over devices like the other GPU modules: ``emulated`` (the emulated CuPy of
``emulated_cupy``, whose "device" tensors are CPU tensors) always, ``cuda`` with a GPU. On the
emulated device torch's default device is ``meta`` while a test runs, so a tensor that spgrad
creates without naming the device of its operands fails the test (it would land on the CPU
beside CUDA operands on a real GPU). Values and gradients are compared with dense torch autograd
on the same device, the gradient gathered on the stored pattern.
"""

import numpy as np
import pytest
import scipy.sparse as ssp

import emulated_cupy
import spgrad as sp
import spgrad.linalg as spla
from cuda_support import gpu_fixtures

torch = pytest.importorskip("torch")

emulation, gpu = gpu_fixtures("cuda_autograd")


@pytest.fixture
def tdev(gpu):
    """The torch device of the GPU under test; on the emulated one, torch's default device
    is ``meta`` meanwhile (see the module docstring)."""
    if gpu is not emulated_cupy.module:
        yield "cuda"
        return
    torch.set_default_device("meta")
    try:
        yield "cpu"
    finally:
        torch.set_default_device(None)


def _scipy_matrix(m, n, dtype, seed, index_dtype=np.int32):
    """A random nonsymmetric CSR matrix with empty rows (the first and a middle one)."""
    rng = np.random.default_rng(seed)
    S = ssp.random(m, n, density=0.45, format="csr", random_state=rng, dtype=np.float64)
    S = S.tolil()
    S[0, :] = 0
    S[m // 2, :] = 0
    S = S.tocsr()
    S.eliminate_zeros()
    if np.dtype(dtype).kind == "c":
        S = S + 1j * ssp.csr_matrix((rng.standard_normal(S.nnz), S.indices, S.indptr), S.shape)
    S = S.astype(dtype)
    S.indices, S.indptr = S.indices.astype(index_dtype), S.indptr.astype(index_dtype)
    return S


def _leaf_on_gpu(S, tdev):
    """``(A, D)``: ``A`` the spgrad array of ``S`` on the GPU with its values a leaf tensor,
    ``D`` the dense tensor built from the same leaf (the reference's graph)."""
    A = sp.csr_array(S).to("cuda").requires_grad_()
    rows = torch.from_numpy(np.repeat(np.arange(S.shape[0]), np.diff(S.indptr))).to(tdev)
    cols = torch.from_numpy(S.indices.astype(np.int64)).to(tdev)
    D = torch.zeros(S.shape, dtype=A.data.dtype, device=tdev).index_put((rows, cols), A.data)
    return A, D


def _random(shape, dtype, tdev, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return torch.from_numpy(np.asarray(a, dtype=dtype)).to(tdev)


def _as_dense(out):
    """A tensor result, or the dense tensor of a sparse one (its ``toarray()``)."""
    return out.toarray() if sp.issparse(out) else out


def _constant_gpu(S):
    return sp.csr_array(S).to("cuda")


# (name, spgrad function of (A, X, B, tdev), dense function of (D, X, Bd)); X a dense operand,
# B a constant sparse array on the GPU and Bd its dense tensor
CASES = [
    ("spmv", lambda A, X, B: A @ X[:, 0], lambda D, X, Bd: D @ X[:, 0]),
    ("spmm", lambda A, X, B: A @ X, lambda D, X, Bd: D @ X),
    ("transpose_spmv", lambda A, X, B: A.T @ (A @ X[:, 0]), lambda D, X, Bd: D.T @ (D @ X[:, 0])),
    ("csc_spmm", lambda A, X, B: A.tocsc() @ X, lambda D, X, Bd: D @ X),
    ("spgemm", lambda A, X, B: A @ B, lambda D, X, Bd: D @ Bd),
    ("spgemm_gram", lambda A, X, B: A @ A.T, lambda D, X, Bd: D @ D.T),
    ("add", lambda A, X, B: A.T.T + B.T.T, lambda D, X, Bd: D + Bd),
    ("sub", lambda A, X, B: 2.0 * A - B, lambda D, X, Bd: 2.0 * D - Bd),
    ("multiply", lambda A, X, B: A.multiply(A + B), lambda D, X, Bd: D * (D + Bd)),
    ("maximum", lambda A, X, B: A.maximum(B), lambda D, X, Bd: torch.maximum(D, Bd)),
    # (SciPy divides float32 values by a Python float in float64; complex64 stays)
    ("scalar", lambda A, X, B: -A / 3.0,
     lambda D, X, Bd: (-D / 3.0).to(torch.float64 if D.dtype == torch.float32 else D.dtype)),
    ("power", lambda A, X, B: A.power(2), lambda D, X, Bd: D ** 2),
    ("transpose", lambda A, X, B: A.T, lambda D, X, Bd: D.T),
    ("sum", lambda A, X, B: A.sum(), lambda D, X, Bd: D.sum()),
    ("sum0", lambda A, X, B: A.sum(axis=0), lambda D, X, Bd: D.sum(0)),
    ("sum1", lambda A, X, B: A.sum(axis=1), lambda D, X, Bd: D.sum(1)),
    ("diagonal", lambda A, X, B: A.diagonal(1), lambda D, X, Bd: torch.diagonal(D, 1)),
    ("mean", lambda A, X, B: A.mean(), lambda D, X, Bd: D.mean()),
    ("trace", lambda A, X, B: A.trace(), lambda D, X, Bd: torch.trace(D)),
    ("tocoo", lambda A, X, B: A.tocoo(), lambda D, X, Bd: D),
    ("coo_tocsr", lambda A, X, B: (A.tocoo() + B.tocoo()).tocsr(), lambda D, X, Bd: D + Bd),
    ("rows", lambda A, X, B: A[1:5], lambda D, X, Bd: D[1:5]),
    ("columns", lambda A, X, B: A[:, 2:6], lambda D, X, Bd: D[:, 2:6]),
    ("fancy", lambda A, X, B: A[[0, 4, 4, 2]][:, [5, 1, 1]],
     lambda D, X, Bd: D[[0, 4, 4, 2]][:, [5, 1, 1]]),
    ("element", lambda A, X, B: A[2, 3] + A[4, 4], lambda D, X, Bd: D[2, 3] + D[4, 4]),
    ("vectors", lambda A, X, B: A[1].multiply(A[3]) + 2.0 * A[:, 2],
     lambda D, X, Bd: D[1] * D[3] + 2.0 * D[:, 2]),
    ("max0", lambda A, X, B: A.max(axis=0), lambda D, X, Bd: D.amax(0)),
    ("nanmin1", lambda A, X, B: A.nanmin(axis=1), lambda D, X, Bd: D.amin(1)),
    ("matrix_power", lambda A, X, B: spla.matrix_power(A, 3),
     lambda D, X, Bd: torch.linalg.matrix_power(D, 3)),
    ("norm", lambda A, X, B: spla.norm(A), lambda D, X, Bd: torch.linalg.norm(D)),
    ("norm1", lambda A, X, B: spla.norm(A, 1), lambda D, X, Bd: torch.linalg.matrix_norm(D, 1)),
    ("norm_axis", lambda A, X, B: spla.norm(A, axis=0),
     lambda D, X, Bd: torch.linalg.vector_norm(D, dim=0)),
    ("norm_inf_axis", lambda A, X, B: spla.norm(A, np.inf, axis=1),
     lambda D, X, Bd: torch.linalg.vector_norm(D, ord=np.inf, dim=1)),
    ("hstack", lambda A, X, B: sp.hstack([A, B]), lambda D, X, Bd: torch.hstack([D, Bd])),
    ("vstack", lambda A, X, B: sp.vstack([B, A], format="csr"),
     lambda D, X, Bd: torch.vstack([Bd, D])),
    ("kron", lambda A, X, B: sp.kron(A, B), lambda D, X, Bd: torch.kron(D, Bd)),
    ("block_diag", lambda A, X, B: sp.block_diag([A, B]),
     lambda D, X, Bd: torch.block_diag(D, Bd)),
    ("tril", lambda A, X, B: sp.tril(A), lambda D, X, Bd: torch.tril(D)),
    ("triu", lambda A, X, B: sp.triu(A, 1, format="csr"), lambda D, X, Bd: torch.triu(D, 1)),
    ("sin", lambda A, X, B: A.sin(), lambda D, X, Bd: torch.sin(D)),
    ("abs", lambda A, X, B: abs(A), lambda D, X, Bd: D.abs()),
    ("conj", lambda A, X, B: A.conj(), lambda D, X, Bd: D.conj()),
    ("astype", lambda A, X, B: A.astype(np.complex128),
     lambda D, X, Bd: D.to(torch.complex128)),
    ("diags", lambda A, X, B: sp.diags_array(A.diagonal()),
     lambda D, X, Bd: torch.diag(torch.diagonal(D))),
    ("rmatmul", lambda A, X, B: X[:, 0] @ A, lambda D, X, Bd: X[:, 0] @ D),
    ("multiply_dense", lambda A, X, B: A.multiply(X @ X.T), lambda D, X, Bd: D * (X @ X.T)),
    ("add_dense", lambda A, X, B: A + X @ X.T, lambda D, X, Bd: D + X @ X.T),
    ("matrix_product", lambda A, X, B: sp.csr_matrix(A) * sp.csr_matrix(B),
     lambda D, X, Bd: D @ Bd),
    ("matrix_power", lambda A, X, B: sp.csr_matrix(A) ** 2, lambda D, X, Bd: D @ D),
]
#: cases without a complex version (an order of values)
REAL_ONLY = {"maximum", "max0", "nanmin1"}


@pytest.mark.parametrize("name,fn,ref", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype,index_dtype", [(np.float64, np.int32), (np.float64, np.int64),
                                               (np.complex128, np.int32),
                                               (np.float32, np.int64), (np.complex64, np.int64)])
def test_matches_dense_autograd(gpu, tdev, name, fn, ref, dtype, index_dtype):
    if name in REAL_ONLY and np.dtype(dtype).kind == "c":
        pytest.skip("complex values have no order")
    S = _scipy_matrix(7, 7, dtype, seed=1, index_dtype=index_dtype)
    Sb = _scipy_matrix(7, 7, dtype, seed=2, index_dtype=index_dtype)
    A, D = _leaf_on_gpu(S, tdev)
    B = _constant_gpu(Sb)
    Bd = torch.from_numpy(Sb.toarray()).to(tdev)
    X = _random((7, 3), dtype, tdev, seed=3).requires_grad_()
    X_ref = X.detach().clone().requires_grad_()

    result = fn(A, X, B)
    if sp.issparse(result):
        assert result.device == A.device and isinstance(result._index_array(), gpu.ndarray)
    out = _as_dense(result)
    expected = ref(D, X_ref, Bd)
    assert isinstance(out, torch.Tensor) and out.device == expected.device
    assert out.dtype == expected.dtype
    torch.testing.assert_close(out, expected)

    W = _random(tuple(out.shape), dtype, tdev, seed=4)
    (out * W).sum().real.backward()
    grad = A.grad
    assert isinstance(grad.data, gpu.ndarray) and grad.indices is A.indices
    ours = torch.from_dlpack(grad.data).clone()
    A.data.grad = None  # the dense reference's graph ends in the same leaf
    (expected * W).sum().real.backward()
    torch.testing.assert_close(ours, A.data.grad)
    if X.grad is not None or X_ref.grad is not None:
        torch.testing.assert_close(X.grad, X_ref.grad)


def test_rectangular_composition(gpu, tdev):
    """A composition on a rectangular matrix: SpGEMM, SpMM, a row sum and a sum of sparse
    arrays in one graph."""
    S = _scipy_matrix(9, 6, np.float64, seed=5)
    A, D = _leaf_on_gpu(S, tdev)
    X = _random((9, 4), np.float64, tdev, seed=6)
    W = _random((9, 4), np.float64, tdev, seed=7)
    out = ((A @ A.T + A @ A.T) @ X) * A.sum(axis=1)[:, None]
    (out * W).sum().backward()
    ours = A.data.grad.clone()
    A.data.grad = None
    expected = ((D @ D.T + D @ D.T) @ X) * D.sum(1)[:, None]
    (expected * W).sum().backward()
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(ours, A.data.grad)


def test_hessian_vector_product(gpu, tdev):
    """Double backward through SpMV: ``d/dA (d/dx ||A x||²) · 1``."""
    S = _scipy_matrix(8, 8, np.float64, seed=8)
    A, D = _leaf_on_gpu(S, tdev)
    x = _random((8,), np.float64, tdev, seed=9).requires_grad_()
    (g,) = torch.autograd.grad((A @ x).pow(2).sum(), x, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), A.data)
    x_ref = x.detach().clone().requires_grad_()
    (g_ref,) = torch.autograd.grad((D @ x_ref).pow(2).sum(), x_ref, create_graph=True)
    (h_ref,) = torch.autograd.grad(g_ref.sum(), A.data)
    torch.testing.assert_close(g, g_ref)
    torch.testing.assert_close(h, h_ref)


def test_requires_grad_shares_the_device_values(gpu, tdev):
    A = sp.csr_array(_scipy_matrix(5, 5, np.float64, seed=10)).to("cuda")
    values = A.data
    A.requires_grad_()
    assert isinstance(A.data, torch.Tensor) and A.requires_grad and A.device == "cuda:0"
    assert isinstance(A.indices, gpu.ndarray)
    with torch.no_grad():
        A.data[0] = 7.0
    assert float(values[0]) == 7.0  # one memory, shared through DLPack
    assert A.detach().data.requires_grad is False
    assert A.grad is None


def test_torch_sparse_tensors(gpu, tdev):
    """``to_torch`` of an array on the GPU is a sparse tensor on its device, in the graph;
    ``from_torch`` of it gives an array on the GPU again."""
    S = _scipy_matrix(6, 5, np.float64, seed=19)
    A, D = _leaf_on_gpu(S, tdev)
    for fmt, layout in (("csr", torch.sparse_csr), ("csc", torch.sparse_csc),
                        ("coo", torch.sparse_coo)):
        t = A.asformat(fmt).to_torch()
        assert t.layout == layout
        torch.testing.assert_close(t.to_dense(), D)
        back = sp.from_torch(t)
        assert back.format == fmt and isinstance(back._index_array(), gpu.ndarray)
        torch.testing.assert_close(back.toarray(), D)
    sp.from_torch(A.to_torch()).sum().backward()
    torch.testing.assert_close(A.data.grad, torch.ones_like(A.data))
    plain = sp.csr_array(S).to("cuda").to_torch()  # CuPy values: shared through DLPack
    torch.testing.assert_close(plain.to_dense(), D.detach())


def test_float32_values(gpu, tdev):
    S = _scipy_matrix(6, 5, np.float32, seed=11)
    A, D = _leaf_on_gpu(S, tdev)
    x = _random((5,), np.float32, tdev, seed=12)
    y = A @ x
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, D @ x)
    y.sum().backward()
    assert A.grad.dtype == np.float32


def test_moving_a_cpu_leaf_keeps_the_graph(gpu, tdev):
    """``A.to("cuda")`` of values that are a CPU leaf is a differentiable move: the gradient
    reaches the CPU leaf."""
    S = _scipy_matrix(6, 6, np.float64, seed=13)
    leaf = torch.from_numpy(S.data.copy()).requires_grad_()
    L = sp.csr_array((leaf, S.indices, S.indptr), shape=S.shape)
    G = L.to("cuda")
    assert isinstance(G.indices, gpu.ndarray) and G.device == "cuda:0"
    x = _random((6,), np.float64, tdev, seed=14)
    (G @ x).sum().backward()
    rows = np.repeat(np.arange(6), np.diff(S.indptr))
    expected = x.cpu().numpy()[S.indices] * np.ones_like(rows)
    np.testing.assert_allclose(leaf.grad.numpy(), expected)


def test_no_host_round_trip(gpu, tdev):
    """Forward and backward of SpMV, SpMM, SpGEMM and a sum copy nothing between host and
    device (the emulated CuPy counts every copy; scalar reads such as a result's nnz are
    allowed, as in SciPy's semantics)."""
    if gpu is not emulated_cupy.module:
        pytest.skip("the transfer count is the emulated CuPy's")
    S = _scipy_matrix(10, 10, np.float64, seed=15)
    A, _ = _leaf_on_gpu(S, tdev)
    X = _random((10, 3), np.float64, tdev, seed=16).requires_grad_()
    emulated_cupy.transfers.clear()
    loss = (A @ X).sum() + (A @ X[:, 0]).sum() + (A @ A).sum() + (A + A.T).sum()
    loss.backward()
    assert emulated_cupy.transfers["h2d"] == 0 and emulated_cupy.transfers["d2h"] == 0


def test_mixed_devices_are_refused(gpu, tdev):
    if gpu is emulated_cupy.module:
        pytest.skip("emulated device tensors are CPU tensors: mixing needs a real GPU")
    A = sp.csr_array(_scipy_matrix(4, 4, np.float64, seed=17)).to("cuda").requires_grad_()
    with pytest.raises(ValueError, match="different devices"):
        A @ torch.ones(4, dtype=torch.float64)
    C = sp.csr_array(_scipy_matrix(4, 4, np.float64, seed=18)).requires_grad_()
    with pytest.raises(ValueError, match="different devices"):
        A + C


def test_linalg_limits_and_expm_on_the_gpu(gpu, tdev):
    """What differentiable spgrad.linalg refuses on the GPU (lsqr's implicit gradients with a
    dense A, funm_multiply_krylov anywhere), and expm, which densifies there as on the CPU."""
    S = _scipy_matrix(6, 6, np.float64, seed=20) + 10 * ssp.eye(6, format="csr")
    A, _ = _leaf_on_gpu(S.tocsr(), tdev)
    b = _random((6,), np.float64, tdev, seed=21)
    with pytest.raises(NotImplementedError, match="lsqr on the GPU with implicit gradients "
                                                  "needs A as an spgrad sparse array"):
        spla.lsqr(torch.eye(6, dtype=torch.float64, device=tdev), b)
    with pytest.raises(NotImplementedError, match="funm_multiply_krylov is not differentiable"):
        spla.funm_multiply_krylov(np.exp, A, b)
    # a differentiable expm there densifies, as on the CPU: torch.linalg.matrix_exp's values
    # and gradients, the result sparse on the GPU
    E = spla.expm(A)
    assert E.device == A.device
    W = _random((6, 6), np.float64, tdev, seed=22)
    (g,) = torch.autograd.grad((E.toarray() * W).sum(), A.data)
    ref = torch.linalg.matrix_exp(A.toarray())
    torch.testing.assert_close(E.toarray(), ref)
    (g_ref,) = torch.autograd.grad((ref * W).sum(), A.data)
    torch.testing.assert_close(g, g_ref)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_inv_and_sparse_right_hand_sides(gpu, tdev, dtype):
    """inv and spsolve with a sparse b of several columns on the GPU in differentiable mode:
    the values and gradients of dense torch's solve, the result's values in the graph (its
    pattern the nonzeros of the solution)."""
    S = _scipy_matrix(8, 8, dtype, seed=42) + 4 * ssp.eye(8, format="csr")
    A, D = _leaf_on_gpu(S.tocsr(), tdev)
    with pytest.warns(sp.SparseEfficiencyWarning, match="splu converted|more efficient"):
        X = spla.inv(A)
    assert X.device == A.device and X.data.requires_grad
    W = _random((8, 8), dtype, tdev, seed=43)
    (g,) = torch.autograd.grad((X.toarray() * W).sum().real, A.data)
    ref = torch.linalg.inv(D)
    torch.testing.assert_close(X.toarray(), ref)
    (g_ref,) = torch.autograd.grad((ref * W).sum().real, A.data, retain_graph=True)
    torch.testing.assert_close(g, g_ref)
    B = sp.csc_array(ssp.random(8, 3, density=0.5, random_state=44, format="csc")).to("cuda")
    with pytest.warns(sp.SparseEfficiencyWarning, match="splu converted"):
        Y = spla.spsolve(A, B)
    (g,) = torch.autograd.grad((Y.toarray() * W[:, :3]).sum().real, A.data)
    ref = torch.linalg.solve(D, torch.as_tensor(B.toarray(), device=D.device).to(D.dtype))
    torch.testing.assert_close(Y.toarray(), ref)
    (g_ref,) = torch.autograd.grad((ref * W[:, :3]).sum().real, A.data)
    torch.testing.assert_close(g, g_ref)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_expm_multiply(gpu, tdev, dtype):
    """expm_multiply on the GPU in differentiable mode: the values and gradients (of A's
    values and of B) of dense torch.matrix_exp, for a vector, a matrix and time points."""
    S = _scipy_matrix(8, 8, dtype, seed=40) - 2 * ssp.eye(8, format="csr")
    A, D = _leaf_on_gpu(S.tocsr(), tdev)
    X = _random((8, 2), dtype, tdev, seed=41).requires_grad_()
    E = torch.linalg.matrix_exp(D)
    for ours, ref in ((lambda: spla.expm_multiply(A, X[:, 0]), lambda: E @ X[:, 0]),
                      (lambda: spla.expm_multiply(A, X), lambda: E @ X),
                      (lambda: spla.expm_multiply(A, X, start=0.0, stop=1.0, num=3),
                       lambda: torch.stack([torch.linalg.matrix_exp(t * D) @ X
                                            for t in (0.0, 0.5, 1.0)]))):
        got, expected = ours(), ref()
        torch.testing.assert_close(got, expected)
        W = _random(tuple(expected.shape), dtype, tdev, seed=42)
        g = torch.autograd.grad((got * W).sum().real, (A.data, X))
        g_ref = torch.autograd.grad((expected * W).sum().real, (A.data, X), retain_graph=True)
        for a, b in zip(g, g_ref):
            torch.testing.assert_close(a, b)


# torch's forward-mode AD imports its jvp decompositions through torch.jit.script, which warns
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_splu(gpu, tdev, dtype):
    """splu/factorized on the GPU (SuperLU of a host copy, solves there) in differentiable
    mode: ``solve`` with A, Aᵀ and Aᴴ against dense torch, gradients of A's values and of
    the right-hand side, double backward and forward mode; spilu in the right-hand side."""
    n = 8
    S = (_scipy_matrix(n, n, dtype, seed=40) + 4 * ssp.eye(n, format="csr")).tocsr()
    leaf, D = _leaf_on_gpu(S, tdev)
    A = leaf.tocsc()  # differentiable: the gradients reach the CSR leaf's values
    lu = spla.splu(A)
    B = _random((n, 2), dtype, tdev, seed=41).requires_grad_()
    B_ref = B.detach().clone().requires_grad_()
    ops = {"N": lambda M: M, "T": lambda M: M.T, "H": lambda M: M.mH}
    for trans, op in ops.items():  # one factorisation, one graph of A and D: retained
        X, X_ref = lu.solve(B, trans), torch.linalg.solve(op(D), B_ref)
        torch.testing.assert_close(X, X_ref)
        W = _random((n, 2), dtype, tdev, seed=42)
        (g,) = torch.autograd.grad((X * W).sum().real, B, create_graph=True)
        (g_ref,) = torch.autograd.grad((X_ref * W).sum().real, B_ref, create_graph=True)
        torch.testing.assert_close(g, g_ref)
        (X.abs().pow(2).sum() + g.abs().pow(2).sum()).backward(retain_graph=True)
        ours = leaf.data.grad.clone()
        leaf.data.grad = None
        (X_ref.abs().pow(2).sum() + g_ref.abs().pow(2).sum()).backward(retain_graph=True)
        torch.testing.assert_close(ours, leaf.data.grad)
        torch.testing.assert_close(B.grad, B_ref.grad)
        for t in (leaf.data, B, B_ref):
            t.grad = None
    x = spla.factorized(A)(B[:, 0])
    assert x.shape == (n,)
    torch.testing.assert_close(x, torch.linalg.solve(D, B_ref[:, 0]))
    # forward mode along a direction of b, for a factorisation with constant (CuPy) values
    V = _random((n, 2), dtype, tdev, seed=43)
    C = spla.splu(sp.csc_array(S).to("cuda"))
    _, tangent = torch.func.jvp(lambda b: C.solve(b), (B.detach(),), (V,))
    torch.testing.assert_close(tangent, torch.linalg.solve(D.detach(), V))
    # spilu: differentiable in the right-hand side, A's values held constant
    M = spla.spilu(A, drop_tol=0.0)
    y = M.solve(B)
    torch.testing.assert_close(y, torch.linalg.solve(D, B_ref), rtol=1e-8, atol=1e-8)
    y.sum().real.backward()
    assert leaf.data.grad is None
    torch.testing.assert_close(B.grad, torch.linalg.solve(D.detach().mH, torch.ones_like(V)))


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("unit_diagonal", [False, True])
def test_spsolve_triangular(gpu, tdev, fmt, lower, unit_diagonal):
    """The triangular solve on the GPU (cuSPARSE), differentiable in the values and in b:
    the entries outside the triangle (stored in A) take no part and get no gradient, as on
    the CPU; a second column of b and double backward included."""
    n = 8
    S = (_scipy_matrix(n, n, np.float64, seed=23) + 4 * ssp.eye(n, format="csr")).tocsr()
    A, D = _leaf_on_gpu(S, tdev)
    B = _random((n, 2), np.float64, tdev, seed=24).requires_grad_()
    B_ref = B.detach().clone().requires_grad_()
    X = spla.spsolve_triangular(A.asformat(fmt), B, lower=lower, unit_diagonal=unit_diagonal)
    T = torch.tril(D) if lower else torch.triu(D)
    if unit_diagonal:
        T = T - torch.diag(torch.diagonal(T)) + torch.eye(n, dtype=D.dtype, device=tdev)
    X_ref = torch.linalg.solve_triangular(T, B_ref, upper=not lower)
    torch.testing.assert_close(X, X_ref)
    W = _random((n, 2), np.float64, tdev, seed=25)
    (g,) = torch.autograd.grad((X * W).sum(), B, create_graph=True)
    (g_ref,) = torch.autograd.grad((X_ref * W).sum(), B_ref, create_graph=True)
    torch.testing.assert_close(g, g_ref)
    (X.pow(2).sum() + g.pow(2).sum()).backward()
    ours = A.data.grad.clone()
    A.data.grad = None
    (X_ref.pow(2).sum() + g_ref.pow(2).sum()).backward()
    torch.testing.assert_close(ours, A.data.grad)
    torch.testing.assert_close(B.grad, B_ref.grad)


def test_spsolve_triangular_singular(gpu, tdev):
    S = ssp.csr_matrix(np.array([[1.0, 0.0], [2.0, 0.0]]))
    A = sp.csr_array(S).to("cuda").requires_grad_()
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        spla.spsolve_triangular(A, _random((2,), np.float64, tdev, seed=26))


# torch's forward-mode AD imports its jvp decompositions through torch.jit.script, which warns
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_spsolve(gpu, tdev, fmt, dtype):
    """spsolve on the GPU (cuSOLVER's sparse QR) in differentiable mode: the backward is the
    adjoint solve and an SDDMM on A's pattern; double backward and forward mode included."""
    n = 8
    S = (_scipy_matrix(n, n, dtype, seed=27) + 4 * ssp.eye(n, format="csr")).tocsr()
    A, D = _leaf_on_gpu(S, tdev)
    B = _random((n, 2), dtype, tdev, seed=28).requires_grad_()
    B_ref = B.detach().clone().requires_grad_()
    X = spla.spsolve(A.asformat(fmt), B)
    X_ref = torch.linalg.solve(D, B_ref)
    torch.testing.assert_close(X, X_ref)
    x = spla.spsolve(A.asformat(fmt), B[:, 0])
    assert x.shape == (n,)
    W = _random((n, 2), dtype, tdev, seed=29)
    (g,) = torch.autograd.grad((X * W).sum().real, B, create_graph=True)
    (g_ref,) = torch.autograd.grad((X_ref * W).sum().real, B_ref, create_graph=True)
    torch.testing.assert_close(g, g_ref)
    (X.abs().pow(2).sum() + g.abs().pow(2).sum()).backward()
    ours = A.data.grad.clone()
    A.data.grad = None
    (X_ref.abs().pow(2).sum() + g_ref.abs().pow(2).sum()).backward()
    torch.testing.assert_close(ours, A.data.grad)
    torch.testing.assert_close(B.grad, B_ref.grad)
    # forward mode along a direction of b, and a Jacobian, for a constant A (CuPy values)
    V = _random((n, 2), dtype, tdev, seed=30)
    C = sp.csr_array(S).to("cuda").asformat(fmt)
    _, tangent = torch.func.jvp(lambda b: spla.spsolve(C, b), (B.detach(),), (V,))
    torch.testing.assert_close(tangent, torch.linalg.solve(D.detach(), V))
    if np.dtype(dtype).kind == "f":  # (jacrev takes real inputs only)
        J = torch.func.jacrev(lambda b: spla.spsolve(C, b))(B.detach()[:, 0])
        torch.testing.assert_close(J, torch.linalg.inv(D.detach()))


def test_spsolve_singular(gpu, tdev):
    from scipy.sparse.linalg import MatrixRankWarning

    S = ssp.csr_matrix(np.array([[1.0, 2.0], [2.0, 4.0]]))
    A = sp.csr_array(S).to("cuda").requires_grad_()
    with pytest.warns(MatrixRankWarning, match="singular"):
        x = spla.spsolve(A, _random((2,), np.float64, tdev, seed=31))
    assert torch.isnan(x).all()


@pytest.mark.parametrize("grad", ["implicit", "unroll"])
@pytest.mark.parametrize("name", ["cg", "bicgstab", "gmres", "minres", "cgs", "bicg",
                                  "tfqmr", "qmr", "lgmres", "gcrotmk"])
def test_krylov_solvers(gpu, tdev, name, grad):
    """The Krylov solvers on the GPU, with a sparse preconditioner there: implicit gradients
    (the default: the device solver forward and for the adjoint solve) and ``grad="unroll"``
    (the iteration in torch ops on the GPU's tensors and products); gradients as the exact
    ones of the solution (implicit) or as the same iteration's on the dense matrix (unroll:
    differentiating cg's or minres' iterates is not the derivative of the solution along
    the nonsymmetric directions of A's values)."""
    n = 12
    S = ssp.diags([-1.0, 2.5, -1.2], [-1, 0, 1], shape=(n, n), format="csr")
    if name in ("cg", "minres"):
        S = ssp.csr_matrix((S + S.T) / 2)
    A, D = _leaf_on_gpu(S, tdev)
    M = sp.diags_array(1.0 / S.diagonal()).tocsr().to("cuda")
    b = _random((n,), np.float64, tdev, seed=32).requires_grad_()
    b_ref = b.detach().clone().requires_grad_()
    prec = {"M1": M} if name == "qmr" else {"M": M}  # qmr: the left preconditioner
    if name in ("lgmres", "gcrotmk") and grad == "unroll":  # on the GPU, but not unrolled
        with pytest.raises(NotImplementedError, match="grad='unroll' is implemented for"):
            getattr(spla, name)(A, b, M=M, grad=grad)
        return
    x, info = getattr(spla, name)(A, b, rtol=1e-13, **prec, grad=grad)
    assert info == 0 and isinstance(x, torch.Tensor)
    x.pow(2).sum().backward()
    ours = A.data.grad.clone()
    A.data.grad = None
    if grad == "implicit":
        x_ref = torch.linalg.solve(D, b_ref)
    else:
        M_ref = torch.diag(torch.from_numpy(1.0 / S.diagonal()).to(tdev))
        prec = {"M1": M_ref} if name == "qmr" else {"M": M_ref}
        x_ref, _ = getattr(spla, name)(D, b_ref, rtol=1e-13, **prec, grad="unroll")
    x_ref.pow(2).sum().backward()
    torch.testing.assert_close(x, x_ref, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(ours, A.data.grad, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(b.grad, b_ref.grad, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("name", ["lsqr", "lsmr"])
@pytest.mark.parametrize("damp", [0.0, 0.3])
def test_least_squares_implicit(gpu, tdev, name, damp):
    """lsqr and lsmr on the GPU with implicit gradients (the default): the device solver for
    the forward solve and the adjoint solves, then two SDDMMs; ``x`` and the gradients of A's
    values, ``b`` and ``x0`` equal those of the dense damped least-squares solution."""
    S = _scipy_matrix(12, 6, np.float64, seed=36) + ssp.eye(12, 6, format="csr")
    A, D = _leaf_on_gpu(ssp.csr_matrix(S), tdev)
    b = _random((12,), np.float64, tdev, seed=37).requires_grad_()
    x0 = _random((6,), np.float64, tdev, seed=38).requires_grad_() if damp else None
    tight = {"atol": 1e-14, "btol": 1e-14, "conlim": 1e12,
             "iter_lim" if name == "lsqr" else "maxiter": 60}
    res = getattr(spla, name)(A, b, damp=damp, x0=x0, **tight)
    x = res[0]
    assert isinstance(x, torch.Tensor) and x.device == b.device and res[1] in (1, 2)
    w = torch.linspace(-1, 1, 6, dtype=torch.float64, device=tdev)
    inputs = (A.data, b) if x0 is None else (A.data, b, x0)
    ours = torch.autograd.grad((x * w).sum(), inputs)
    # the dense reference: x = (DᴴD + damp² I)⁻¹ (Dᴴ b + damp² x0)
    K = D.T @ D + damp ** 2 * torch.eye(6, dtype=torch.float64, device=tdev)
    rhs = D.T @ b + (damp ** 2 * x0 if x0 is not None else 0)
    x_ref = torch.linalg.solve(K, rhs)
    torch.testing.assert_close(x, x_ref, rtol=1e-9, atol=1e-10)
    for got, want in zip(ours, torch.autograd.grad((x_ref * w).sum(), inputs)):
        torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", ["lsqr", "lsmr"])
def test_least_squares_unrolled(gpu, tdev, name):
    """lsqr and lsmr with ``grad="unroll"`` on the GPU: the iterations in torch ops on the
    GPU's tensors and products; ``x`` and the gradients of A's values and ``b`` equal those
    of the same iterations on the dense matrix."""
    S = _scipy_matrix(12, 6, np.float64, seed=34) + ssp.eye(12, 6, format="csr")
    A, D = _leaf_on_gpu(ssp.csr_matrix(S), tdev)
    b = _random((12,), np.float64, tdev, seed=35).requires_grad_()
    b_ref = b.detach().clone().requires_grad_()
    x, istop, itn = getattr(spla, name)(A, b, damp=0.1, grad="unroll")[:3]
    assert isinstance(x, torch.Tensor) and istop in (1, 2) and itn > 0
    x.pow(2).sum().backward()
    ours = A.data.grad.clone()
    A.data.grad = None
    x_ref = getattr(spla, name)(D, b_ref, damp=0.1, grad="unroll")[0]
    x_ref.pow(2).sum().backward()
    torch.testing.assert_close(x, x_ref, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(ours, A.data.grad, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(b.grad, b_ref.grad, rtol=1e-8, atol=1e-8)


def test_back_to_the_cpu(gpu, tdev):
    """``A.cpu()`` of an array with CUDA values is a differentiable move back: NumPy index
    arrays, CPU values in the graph (on a real GPU the gradient reaches the GPU leaf)."""
    S = _scipy_matrix(5, 5, np.float64, seed=33)
    A, _ = _leaf_on_gpu(S, tdev)
    C = A.cpu()
    assert isinstance(C.indices, np.ndarray) and isinstance(C.indptr, np.ndarray)
    assert isinstance(C.data, torch.Tensor) and C.data.requires_grad
    np.testing.assert_array_equal(C.indices, S.indices)
    if gpu is emulated_cupy.module:
        return  # emulated device tensors are CPU tensors: the CPU operations need a real GPU
    assert C.device == "cpu" and C.data.device.type == "cpu"
    (C @ torch.ones(5, dtype=torch.float64)).sum().backward()
    assert A.grad is not None and A.grad.device == A.device


@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32])
def test_dia(gpu, tdev, dtype):
    """DIA arrays whose values are a CUDA tensor: copies, transposes, arithmetic, products and
    conversions on the GPU, with the values and gradients (on the stored diagonals) of dense
    torch autograd."""
    rng = np.random.default_rng(21)
    m, n, offsets = 6, 7, [-2, 0, 1, 3]
    data = rng.standard_normal((len(offsets), n + 1))  # one slot beyond the last column
    if np.dtype(dtype).kind == "c":
        data = data + 1j * rng.standard_normal(data.shape)
    A = sp.dia_array((data.astype(dtype), offsets), shape=(m, n)).to("cuda").requires_grad_()
    assert isinstance(A.offsets, gpu.ndarray) and A.data.is_leaf
    # the dense reference, from the same leaf
    rows, cols, slots = [], [], []
    for d, k in enumerate(offsets):
        for j in range(min(n, data.shape[1])):
            if 0 <= j - k < m:
                rows.append(j - k)
                cols.append(j)
                slots.append((d, j))
    index = [torch.tensor(v, device=tdev) for v in zip(*slots)]
    D = torch.zeros((m, n), dtype=A.data.dtype, device=tdev).index_put(
        (torch.tensor(rows, device=tdev), torch.tensor(cols, device=tdev)), A.data[tuple(index)])
    x = _random((n,), dtype, tdev, seed=22)
    X = _random((n, 2), dtype, tdev, seed=23)
    cases = [
        (lambda M: M.copy().toarray(), lambda E: E),
        (lambda M: M.T @ _random((m,), dtype, tdev, seed=24), lambda E: E.T @ _random(
            (m,), dtype, tdev, seed=24)),
        (lambda M: (2.0 * M).multiply(M).toarray(), lambda E: (2.0 * E) * E),
        (lambda M: (M + M).tocsr() @ X, lambda E: (E + E) @ X),
        (lambda M: (M.T @ M).toarray(), lambda E: E.T @ E),
        (lambda M: M @ x + M.sum(axis=1), lambda E: E @ x + E.sum(1)),
        (lambda M: M.diagonal(1), lambda E: torch.diagonal(E, 1)),
        (lambda M: (-M.conj()).tocoo().toarray(), lambda E: -E.conj()),
        (lambda M: M.power(2).sum(axis=0), lambda E: (E ** 2).sum(0)),
        (lambda M: sp.dia_array((M.data, M.offsets), shape=M.shape).trace(),
         lambda E: torch.trace(E)),
    ]
    for case, (ours_fn, ref_fn) in enumerate(cases):
        ours, ref = ours_fn(A), ref_fn(D)
        torch.testing.assert_close(ours, ref, msg=lambda m: f"case {case}: {m}")
        W = _random(tuple(ref.shape), dtype, tdev, seed=25)
        (g_ours,) = torch.autograd.grad((ours * W).sum().real, A.data)
        (g_ref,) = torch.autograd.grad((ref * W).sum().real, A.data, retain_graph=True)
        torch.testing.assert_close(g_ours, g_ref)


def test_eigensolvers(gpu, tdev):
    """eigsh, svds and lobpcg of an array on the GPU with CUDA tensor values: eigenvalues,
    eigenvectors (eigsh, real A parametrised symmetrically) and singular triplets (svds, real
    A) with the gradients of dense torch (eigh/svd) gathered on the pattern, and complex
    eigenvalues (eigsh, values only, as on the CPU)."""
    n = 12
    S = _scipy_matrix(n, n, np.float64, seed=31)
    S = S + ssp.diags_array(np.arange(1.0, n + 1))  # a full diagonal, separated eigenvalues
    B, Bd = _leaf_on_gpu(ssp.csr_matrix(S), tdev)

    # eigsh: the two largest eigenpairs, a sign-invariant loss of the vectors
    w, V = spla.eigsh(B + B.T, k=2, which="LA")
    assert w.device == Bd.device and V.shape == (n, 2)
    (g,) = torch.autograd.grad(w.sum() + (V[:, 0] ** 4).sum(), B.data)
    e, Q = torch.linalg.eigh(Bd + Bd.T)
    (g_ref,) = torch.autograd.grad(e[-2:].sum() + (Q[:, -2] ** 4).sum(), B.data,
                                   retain_graph=True)  # Bd's graph serves again below
    torch.testing.assert_close(w, e[-2:])
    torch.testing.assert_close(g, g_ref)

    # eigsh in shift-invert mode (spgrad's Krylov-Schur): the two eigenpairs nearest 4.2
    w, V = spla.eigsh(B + B.T, k=2, sigma=4.2)
    e, Q = torch.linalg.eigh(B.toarray() + B.toarray().T)
    pick = torch.argsort((e.detach() - 4.2).abs())[:2].sort().values
    (g,) = torch.autograd.grad(w.sum() + (V[:, 1] ** 4).sum(), B.data)
    (g_ref,) = torch.autograd.grad(e[pick].sum() + (Q[:, pick[1]] ** 4).sum(), B.data)
    torch.testing.assert_close(w, e[pick])
    torch.testing.assert_close(g, g_ref)

    # svds of the nonsymmetric matrix: singular values and vectors
    A, D = _leaf_on_gpu(_scipy_matrix(9, 6, np.float64, seed=32), tdev)
    u, s, vh = spla.svds(A, k=2)
    (g,) = torch.autograd.grad(s.sum() + (u[:, 1] ** 4).sum() + (vh[0] ** 4).sum(), A.data)
    U, Sv, Vh = torch.linalg.svd(D, full_matrices=False)
    (g_ref,) = torch.autograd.grad(Sv[:2].sum() + (U[:, 0] ** 4).sum() + (Vh[1] ** 4).sum(),
                                   A.data)
    torch.testing.assert_close(s, Sv[:2].flip(0))
    torch.testing.assert_close(g, g_ref)

    # lobpcg: eigenvalues
    X = gpu.asarray(np.random.default_rng(33).standard_normal((n, 2)))
    w, _ = spla.lobpcg(B + B.T, X, largest=True, tol=1e-10, maxiter=500)
    (g,) = torch.autograd.grad(w.sum(), B.data)
    (g_ref,) = torch.autograd.grad(torch.linalg.eigvalsh(Bd + Bd.T)[-2:].sum(), B.data)
    torch.testing.assert_close(g, g_ref)

    # eigs of the nonsymmetric matrix (spgrad's Krylov-Schur): eigenvalue gradients through
    # the left eigenvectors, a complex loss; also in shift-invert mode
    for kwargs in ({"k": 2}, {"k": 2, "sigma": 3.3}):
        w, V = spla.eigs(B, **kwargs)
        assert w.is_complex() and not V.requires_grad
        W = torch.tensor([1.0 + 0.5j, -0.7 + 0.2j], device=w.device)
        (g,) = torch.autograd.grad((w * W).sum().real, B.data)
        e = torch.linalg.eigvals(B.toarray())
        # the reference: the same eigenvalues, picked from dense torch's by nearness
        pick = torch.stack([torch.argmin((e - wi.detach()).abs()) for wi in w])
        torch.testing.assert_close(w.detach(), e[pick].detach())
        (g_ref,) = torch.autograd.grad((e[pick] * W).sum().real, B.data)
        torch.testing.assert_close(g, g_ref)

    # complex Hermitian eigsh: eigenvalue gradients, vectors constant
    Sc = _scipy_matrix(n, n, np.complex128, seed=34) + ssp.diags_array(np.arange(1.0, n + 1))
    C, Cd = _leaf_on_gpu(ssp.csr_matrix(Sc), tdev)
    w, V = spla.eigsh(C + C.conj().T, k=2, which="LA")
    assert not V.requires_grad
    (g,) = torch.autograd.grad(w.sum(), C.data)
    (g_ref,) = torch.autograd.grad(torch.linalg.eigvalsh(Cd + Cd.conj().T)[-2:].sum(), C.data)
    torch.testing.assert_close(g, g_ref)
