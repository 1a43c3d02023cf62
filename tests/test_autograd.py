"""Differentiable mode: gradients with respect to the stored values and to dense operands.

Every op is checked three ways: ``torch.autograd.gradcheck`` in float64 (finite differences),
the gradient equal to dense torch autograd gathered on the pattern, and ``gradgradcheck`` for
the ops whose backward is itself differentiable. Matrices are nonsymmetric, rectangular and
have an empty row, so a transpose mistake or a dropped row cannot pass.
"""

import numpy as np
import pytest
import scipy.sparse as sps

torch = pytest.importorskip("torch")

import spgrad as sp  # noqa: E402

F64 = torch.float64
FORMATS = ["csr", "csc", "coo"]


def _matrix(shape=(6, 5), density=0.45, seed=1, empty_row=3):
    S = sps.random_array(shape, density=density, format="csr", rng=seed).toarray()
    S[empty_row] = 0
    return S


S = _matrix()
T = _matrix((5, 4), 0.5, seed=2, empty_row=1)


def _sparse(fmt, dense, values=None):
    """A spgrad array of format ``fmt`` with the pattern of ``dense``; values from ``values``
    (a tensor in the pattern's row-major order) or from ``dense``."""
    row, col = np.nonzero(dense)
    if values is None:
        values = torch.tensor(dense[row, col], dtype=F64)
    return sp.coo_array((values, (row, col)), shape=dense.shape).asformat(fmt)


def _values_of(dense):
    row, col = np.nonzero(dense)
    return torch.tensor(dense[row, col], dtype=F64, requires_grad=True)


def _dense_from_values(v, dense):
    row, col = np.nonzero(dense)
    out = torch.zeros(dense.shape, dtype=v.dtype)
    return out.index_put((torch.from_numpy(row), torch.from_numpy(col)), v)


def _to_tensor(x):
    """Dense result of an spgrad op as a tensor (sparse results densified)."""
    if sp.issparse(x):
        return x.toarray()
    return x


# Each case: (name, spgrad function of (A, X), dense torch reference of (A_dense, X), X shape)
CASES = [
    ("spmv", lambda A, x: A @ x, lambda D, x: D @ x, (5,)),
    ("spmm", lambda A, X: A @ X, lambda D, X: D @ X, (5, 3)),
    ("transpose_spmm", lambda A, X: A.T @ X, lambda D, X: D.T @ X, (6, 2)),
    ("tocsc_spmv", lambda A, x: A.tocsc() @ x, lambda D, x: D @ x, (5,)),
    ("toarray", lambda A, x: A.toarray() * x, lambda D, x: D * x, (5,)),
    ("multiply_dense", lambda A, X: A.multiply(X).toarray(), lambda D, X: D * X, (6, 5)),
    ("multiply_row", lambda A, x: A.multiply(x).toarray(), lambda D, x: D * x, (5,)),
    ("sum_axis0", lambda A, x: A.sum(axis=0) * x, lambda D, x: D.sum(0) * x, (5,)),
    ("sum_axis1", lambda A, x: A.sum(axis=1), lambda D, x: D.sum(1), (5,)),
    ("sum_all", lambda A, x: A.sum() * x, lambda D, x: D.sum() * x, (5,)),
    ("mean", lambda A, x: A.mean(axis=0) * x, lambda D, x: D.mean(0) * x, (5,)),
    ("diagonal", lambda A, x: A.diagonal(), lambda D, x: torch.diagonal(D), (5,)),
    ("diagonal_k", lambda A, x: A.diagonal(k=-1), lambda D, x: torch.diagonal(D, -1), (5,)),
    ("trace", lambda A, x: A.trace() * x, lambda D, x: torch.trace(D) * x, (5,)),
    ("power", lambda A, x: A.power(3).toarray(), lambda D, x: D**3, (5,)),
    ("scalar", lambda A, x: (2.5 * A - A / 4).toarray(), lambda D, x: 2.25 * D, (5,)),
    ("neg", lambda A, x: (-A) @ x, lambda D, x: -D @ x, (5,)),
    ("add_self", lambda A, x: (A + A).toarray(), lambda D, x: 2 * D, (5,)),
    ("add_dense", lambda A, X: A + X, lambda D, X: D + X, (6, 5)),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name, f, ref, xshape", CASES, ids=[c[0] for c in CASES])
def test_gradient_matches_dense_and_gradcheck(fmt, name, f, ref, xshape):
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(xshape, dtype=F64, generator=gen, requires_grad=True)
    v = _values_of(S)

    def spgrad_fn(v, X):
        return _to_tensor(f(_sparse(fmt, S, v), X))

    def dense_fn(v, X):
        return ref(_dense_from_values(v, S), X)

    out = spgrad_fn(v, X)
    expected = dense_fn(v, X)
    torch.testing.assert_close(out, expected)
    weights = torch.randn(out.shape, dtype=F64, generator=gen)
    g = torch.autograd.grad((out * weights).sum(), (v, X), allow_unused=True)
    g_ref = torch.autograd.grad((expected * weights).sum(), (v, X), allow_unused=True)
    for a, b in zip(g, g_ref):
        if b is None:
            assert a is None or torch.count_nonzero(a) == 0
        else:
            torch.testing.assert_close(a, b)
    assert torch.autograd.gradcheck(spgrad_fn, (v, X))


SECOND_ORDER = ["spmv", "spmm", "transpose_spmm", "multiply_dense", "sum_axis0"]


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_double_backward(name):
    _, f, _, xshape = next(c for c in CASES if c[0] == name)
    X = torch.randn(xshape, dtype=F64, requires_grad=True)
    v = _values_of(S)
    assert torch.autograd.gradgradcheck(lambda v, X: _to_tensor(f(_sparse("csr", S, v), X)),
                                        (v, X))


@pytest.mark.parametrize("fa, fb", [("csr", "csr"), ("csc", "csr"), ("coo", "csc")])
def test_spgemm_gradients(fa, fb):
    va, vb = _values_of(S), _values_of(T)

    def fn(va, vb):
        return (_sparse(fa, S, va) @ _sparse(fb, T, vb)).toarray()

    torch.testing.assert_close(fn(va, vb), torch.tensor(S @ T))
    gen = torch.Generator().manual_seed(3)
    w = torch.randn((6, 4), dtype=F64, generator=gen)
    g = torch.autograd.grad((fn(va, vb) * w).sum(), (va, vb))
    Da, Db = _dense_from_values(va, S), _dense_from_values(vb, T)
    g_ref = torch.autograd.grad(((Da @ Db) * w).sum(), (va, vb))
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b)
    assert torch.autograd.gradcheck(fn, (va, vb))
    assert torch.autograd.gradgradcheck(fn, (va, vb))


def test_spgemm_keeps_structural_zeros():
    # [1 1] @ [[1], [-1]] is exactly 0: plain mode drops it (like SciPy), differentiable mode
    # keeps the entry so that it still receives a gradient.
    A = sp.csr_array(np.array([[1.0, 1.0]]))
    B = sp.csr_array(np.array([[1.0], [-1.0]]))
    assert (A @ B).nnz == 0
    C = A.requires_grad_() @ B
    assert C.nnz == 1
    C.sum().backward()
    np.testing.assert_array_equal(A.grad.toarray(), [[1.0, -1.0]])


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_sparse_sparse_elementwise(op):
    other = _matrix((6, 5), 0.45, seed=7, empty_row=0)
    va, vb = _values_of(S), _values_of(other)
    fns = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b,
           "mul": lambda a, b: a.multiply(b)}

    def fn(va, vb):
        return fns[op](_sparse("csr", S, va), _sparse("csc", other, vb)).toarray()

    ref = fns[op](torch.tensor(S), torch.tensor(other)) if op != "mul" else \
        torch.tensor(S * other)
    torch.testing.assert_close(fn(va, vb), ref)
    assert torch.autograd.gradcheck(fn, (va, vb))
    assert torch.autograd.gradgradcheck(fn, (va, vb))


# torch's forward-mode gradcheck calls torch.jit.script internally, which warns in torch 2.13.
def _pattern_values(dense, dtype, rng, duplicate=False):
    """``(values, (row, col))`` of ``dense``'s pattern with random values of ``dtype``; with
    ``duplicate`` every entry is stored twice (two halves of one value)."""
    row, col = np.nonzero(dense)
    v = rng.standard_normal(len(row))
    if np.dtype(dtype).kind == "c":
        v = v + 1j * rng.standard_normal(len(row))
    if duplicate:
        row, col, v = np.concatenate((row, row)), np.concatenate((col, col)), np.r_[v, v] / 2
    return torch.from_numpy(v.astype(dtype)), row, col


@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32])
@pytest.mark.parametrize("idx", [np.int32, np.int64])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("op", ["spmv", "spmv-sweeps", "spmm", "spmm-sweeps", "spgemm"])
def test_fused_backward_equals_composite_and_dense(op, dtype, idx, threads, monkeypatch):
    """A first-order backward runs kernels outside autograd (SpMV, SpMM and SpGEMM: one fused
    kernel for both gradients, SpMM's on one thread a scatter; SpMV and SpMM two sweeps for a
    pattern far from the diagonal,
    SpMM's transposed product then a gather, or on one thread a scatter); with
    ``create_graph=True`` it runs the differentiable Functions. Both equal dense autograd
    (complex gradients by torch's convention), with duplicates and empty rows, in parallel."""
    from spgrad import _cpu
    from spgrad._autograd import _functions
    from spgrad._cpu import _masked

    monkeypatch.setattr(_masked, "MIN_PARALLEL_WORK", 0)
    kernel = {"spmv": "csr_spmv_backward", "spmv-sweeps": "csr_spmv_backward",
              "spmm": "csr_spmm_backward", "spmm-sweeps": "csr_matvecs_permuted",
              "spgemm": "csr_spgemm_backward"}[op]
    scatter = op == "spmm-sweeps" and threads == 1
    if scatter:
        kernel = "csr_matvecs_transpose"
    if op == "spmm" and threads == 1:  # one sweep scattering into Āᵀ G
        kernel = "csr_spmm_backward_scatter"
    # the fused kernel for every pattern, or the two sweeps for every pattern
    sweeps = op.endswith("-sweeps")
    monkeypatch.setattr(_functions, "_FUSED_SPREAD", -1.0 if sweeps else np.inf)
    expected_calls = 0 if op == "spmv-sweeps" else 1
    calls = []
    real = getattr(_cpu, kernel)
    monkeypatch.setattr(_cpu, kernel, lambda *args: calls.append(1) or real(*args))
    previous = _cpu.get_num_threads()
    _cpu.set_num_threads(threads)
    try:
        rng = np.random.default_rng(3)
        v, row, col = _pattern_values(S, dtype, rng, duplicate=True)
        tdtype = v.dtype
        if op == "spgemm":
            w, row_b, col_b = _pattern_values(T, dtype, rng)
            other = lambda t: sp.csr_array((t, (row_b, col_b)), shape=T.shape)
            x0 = w
        else:
            shape = (5,) if op.startswith("spmv") else (5, 11)
            x0 = torch.from_numpy(rng.standard_normal(shape).astype(dtype))
            other = lambda t: t
        grads = []
        for create_graph in (False, True):
            a = v.clone().requires_grad_()
            x = x0.clone().requires_grad_()
            A = sp.csr_array((a, (row, col)), shape=S.shape)
            A.indices, A.indptr = A.indices.astype(idx), A.indptr.astype(idx)
            out = A @ other(x)
            out = out.data if sp.issparse(out) else out
            g = torch.from_numpy(np.random.default_rng(4).standard_normal(out.shape)).to(tdtype)
            grads.append(torch.autograd.grad(out, (a, x), g, create_graph=create_graph))
            # the first-order kernel ran, for create_graph=False only (the scatter also runs
            # as the forward of the composite's transposed product, SpMMT)
            assert len(calls) == expected_calls + (scatter and create_graph)
        tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {}
        for fused, composite in zip(*grads):
            torch.testing.assert_close(fused, composite.detach(), **tol)
        # dense reference
        a = v.clone().requires_grad_()
        x = x0.clone().requires_grad_()
        D = torch.zeros(S.shape, dtype=tdtype).index_put(
            (torch.from_numpy(row), torch.from_numpy(col)), a, accumulate=True)
        if op == "spgemm":
            X = torch.zeros(T.shape, dtype=tdtype).index_put(
                (torch.from_numpy(row_b), torch.from_numpy(col_b)), x)
            C = D @ X
            Cs = (A @ other(x0)).tocoo()
            out = C[torch.from_numpy(Cs.row.astype(np.int64)),
                    torch.from_numpy(Cs.col.astype(np.int64))]
        else:
            out = D @ x
        expected = torch.autograd.grad(out, (a, x), g)
        for fused, ref in zip(grads[0], expected):
            torch.testing.assert_close(fused, ref, **tol)
    finally:
        _cpu.set_num_threads(previous)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_forward_mode_spmm_and_spgemm():
    X = torch.randn((5, 3), dtype=F64, requires_grad=True)
    va, vb = _values_of(S), _values_of(T)
    assert torch.autograd.gradcheck(lambda v, X: _sparse("csr", S, v) @ X, (va, X),
                                    check_forward_ad=True, check_backward_ad=False)
    assert torch.autograd.gradcheck(
        lambda va, vb: (_sparse("csr", S, va) @ _sparse("csr", T, vb)).toarray(), (va, vb),
        check_forward_ad=True, check_backward_ad=False)


def test_complex_spmm_gradcheck():
    row, col = np.nonzero(S)
    gen = torch.Generator().manual_seed(5)
    v = torch.randn(len(row), dtype=torch.complex128, generator=gen, requires_grad=True)
    X = torch.randn((5, 2), dtype=torch.complex128, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda v, X: sp.csr_array((v, (row, col)), shape=S.shape) @ X, (v, X))


def test_requires_grad_grad_detach_roundtrip():
    A = sp.csr_array(S)
    assert not A.requires_grad and A.grad is None
    A.requires_grad_()
    assert A.requires_grad and isinstance(A.data, torch.Tensor)
    loss = (A @ torch.ones(5, dtype=F64)).pow(2).sum()
    loss.backward()
    G = A.grad
    assert type(G) is sp.csr_array and G.shape == A.shape
    np.testing.assert_array_equal(G.indices, A.indices)
    np.testing.assert_array_equal(G.indptr, A.indptr)
    expected = 2 * (S @ np.ones(5))[:, None] * (S != 0)
    np.testing.assert_allclose(G.toarray(), expected)
    D = A.detach()
    assert not D.requires_grad and np.shares_memory(D.data.numpy(), A.data.detach().numpy())


def test_numpy_operand_with_tensor_values_and_tensor_operand_with_numpy_values():
    A = sp.csr_array(S)
    x = torch.randn(5, dtype=F64, requires_grad=True)
    y = A @ x                                   # NumPy values, tensor operand
    assert isinstance(y, torch.Tensor) and y.requires_grad
    (g,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(g, torch.tensor(S.sum(axis=0)))
    B = sp.csr_array(S).requires_grad_()
    z = B @ np.ones(5)                          # tensor values, NumPy operand
    assert isinstance(z, torch.Tensor) and z.requires_grad


@pytest.mark.parametrize("fmt", FORMATS + ["dia"])
def test_plain_values_with_dense_tensor_operand_add_sub_maximum(fmt):
    # NumPy values and a torch operand: the result is a tensor in the graph of the operand
    A = sp.csr_array(S).asformat(fmt)
    X = torch.randn(S.shape, dtype=F64, requires_grad=True)
    Sd = torch.tensor(S)
    for out, ref in [(A + X, Sd + X), (X + A, X + Sd), (A - X, Sd - X), (X - A, X - Sd),
                     (A.maximum(X), torch.maximum(Sd, X)), (A.minimum(X), torch.minimum(Sd, X))]:
        assert isinstance(out, torch.Tensor) and out.requires_grad
        torch.testing.assert_close(out, ref)
        (g,) = torch.autograd.grad(out.sum(), X)
        (g_ref,) = torch.autograd.grad(ref.sum(), X)
        torch.testing.assert_close(g, g_ref)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("which", ["numerator", "divisor", "both"])
def test_sparse_divided_by_sparse(fmt, which):
    # A / B of two sparse operands, either with tensor values: SciPy's dense quotient (NaN
    # where both store nothing, inf where only A does) as a tensor in the graph (it raised
    # torch's RuntimeError); gradients equal dense torch autograd on the finite entries
    B_dense = np.where(S != 0, S + 1.5, 0.0)
    B_dense[0, :] = np.abs(B_dense[0, :]) + 0.5  # a divisor row that A does not fill
    a = torch.tensor(S[np.nonzero(S)], dtype=F64, requires_grad=True)
    b = torch.tensor(B_dense[np.nonzero(B_dense)], dtype=F64, requires_grad=True)
    A = _sparse(fmt, S, a if which != "divisor" else None)
    B = _sparse(fmt, B_dense, b if which != "numerator" else None)
    out = A / B
    expected = sps.csr_array(S) / sps.csr_array(B_dense)
    assert isinstance(out, torch.Tensor) and out.dtype == F64 and out.requires_grad
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    finite = torch.from_numpy(np.isfinite(expected))
    w = torch.arange(out.numel(), dtype=F64).reshape(out.shape)
    leaves = [t for t, used in ((a, which != "divisor"), (b, which != "numerator")) if used]
    got = torch.autograd.grad((out[finite] * w[finite]).sum(), leaves)
    ref = (_dense_from_values(a, S) / _dense_from_values(b, B_dense))[finite]
    want = torch.autograd.grad((ref * w[finite]).sum(), leaves)
    for g, r in zip(got, want):
        torch.testing.assert_close(g, r)


@pytest.mark.parametrize("fmt", FORMATS + ["dia"])
def test_tensor_values_with_dense_numpy_operand_add_sub(fmt):
    # tensor values and a NumPy operand on either side of + and -: a tensor in the values'
    # graph (``ndarray - A`` raised torch's TypeError: NumPy cannot subtract a tensor; a bool
    # operand torch's RuntimeError)
    A = sp.csr_array(S).asformat(fmt).requires_grad_()
    N = np.linspace(-1.0, 1.0, S.size).reshape(S.shape)
    (g_one,) = torch.autograd.grad(A.toarray().sum(), A.data)
    M = N > 0  # bool: NumPy counts it as 0 and 1, torch refuses ``-`` with it
    for out, ref, sign in [(A + N, S + N, 1), (N + A, N + S, 1), (A - N, S - N, 1),
                           (N - A, N - S, -1), (N[0] - A, N[0] - S, -1), (A - M, S - M, 1),
                           (M - A, M - S, -1)]:
        assert isinstance(out, torch.Tensor) and out.requires_grad
        np.testing.assert_allclose(out.detach().numpy(), ref)
        (g,) = torch.autograd.grad(out.sum(), A.data)
        torch.testing.assert_close(g, sign * g_one)


@pytest.mark.parametrize("cls", [sp.csr_array, sp.csc_matrix, sp.coo_array, sp.coo_matrix,
                                 sp.dia_array])
@pytest.mark.parametrize("tensor_values", [False, True])
def test_scalar_and_dense_tensor_divisors_and_0d_tensor_factors(cls, tensor_values):
    # a 0-d tensor is a scalar as a 0-d NumPy array is (same class kept, also for the matrix
    # family's *); a dense tensor divisor keeps the pattern; gradients reach both operands
    A = cls(S)
    if tensor_values:
        A.requires_grad_()
    t = torch.tensor(2.5, dtype=F64, requires_grad=True)
    X = torch.rand(S.shape, dtype=F64) + 0.5
    X.requires_grad_()
    Sd = torch.tensor(S)
    cases = [(A / t, Sd / t, A.__class__), (A * t, Sd * t, A.__class__),
             (t * A, Sd * t, A.__class__), (A.multiply(t), Sd * t, A.__class__),
             (A / X, Sd / X, None)]
    for out, ref, out_cls in cases:
        assert sp.issparse(out) and out.shape == S.shape
        if out_cls is not None:
            assert type(out) is out_cls
        dense = out.toarray()
        torch.testing.assert_close(dense, ref)
        w = torch.arange(dense.numel(), dtype=F64).reshape(dense.shape)
        leaves = [t, X] + ([A.data] if tensor_values else [])
        g = torch.autograd.grad((dense * w).sum(), leaves, allow_unused=True)
        g_ref = torch.autograd.grad((ref * w).sum(), [t, X], allow_unused=True)
        for a, b in zip(g, g_ref):
            if b is None:
                assert a is None
            else:
                torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="Scalar operands"):
        A @ t


@pytest.mark.parametrize("cls", [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.dia_matrix,
                                 sp.csr_array])
@pytest.mark.parametrize("scalar", [2, 2.5, True, np.float32(1.5), np.int64(3),
                                    np.asarray(0.5)])
def test_number_times_tensor_values_is_the_scalar_product_for_both_families(cls, scalar):
    # the matrix family's * with a number and tensor values is the scalar product (it was
    # taken for a product with a length-1 vector and raised a dimension mismatch); the
    # gradient reaches the values
    A = cls(S).requires_grad_()
    expected = cls(S) * scalar
    for out in (A * scalar, scalar * A):
        assert type(out) is cls and out.shape == S.shape
        np.testing.assert_allclose(out.toarray().detach().numpy(), expected.toarray())
        (g,) = torch.autograd.grad(out.toarray().sum(), [A.data])
        (g_one,) = torch.autograd.grad(A.toarray().sum(), [A.data])
        torch.testing.assert_close(g, g_one * float(scalar))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_dense_tensor_divisor_keeps_the_dtype_a_numpy_divisor_gives(dtype):
    # SciPy casts to float64 for a scalar divisor only; a dense one multiplies by its
    # reciprocal in the promoted dtype (float32 / float32 stays float32)
    S32 = sps.csr_array(S.astype(dtype))
    X = np.full(S.shape, 2, dtype=np.float32)
    want = (S32 / X).dtype
    got = sp.csr_array(S32) / torch.from_numpy(X)
    assert sp.issparse(got) and got.dtype == (np.float32 if dtype == np.int64 else want)
    assert (sp.csr_array(S32) / torch.tensor(2.0)).dtype == (S32 / 2.0).dtype == np.float64


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("exponent", [2.5, -1.5, 3.0])
def test_power_with_a_0d_tensor_exponent(fmt, exponent):
    # a learned exponent: gradients reach the values and the exponent
    Sp = np.abs(S)  # positive values: log(a) is real
    v = _values_of(Sp)
    n = torch.tensor(exponent, dtype=F64, requires_grad=True)

    def fn(v, n):
        A = _sparse(fmt, Sp, v)
        r = A.power(n)
        assert sp.issparse(r) and r.format == fmt
        return (A ** n).toarray()

    assert torch.autograd.gradcheck(fn, (v, n))
    assert torch.autograd.gradgradcheck(fn, (v, n))
    out = fn(v, n)
    ref = _dense_from_values(v**n, Sp)
    torch.testing.assert_close(out, ref)
    g = torch.autograd.grad(out.sum(), (v, n))
    g_ref = torch.autograd.grad(ref.sum(), (v, n))
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b)
    # plain values, tensor exponent: the result joins the exponent's graph
    r = sp.csr_array(Sp).power(n)
    assert r.data.requires_grad
    with pytest.raises(NotImplementedError, match="zero power"):
        sp.csr_array(Sp).power(torch.tensor(0.0))
    with pytest.raises(NotImplementedError, match="input is not scalar"):
        sp.csr_array(Sp).power(torch.ones(2))


def test_to_torch_complex_values_with_grad_need_the_coo_layout():
    Z = S + 1j * S
    row, col = np.nonzero(Z)
    v = torch.tensor(Z[row, col], requires_grad=True)
    A = sp.coo_array((v, (row, col)), shape=Z.shape)
    for fmt in ("csr", "csc"):
        with pytest.raises(TypeError, match="COO"):
            A.asformat(fmt).to_torch()
    t = A.tocsr().tocoo().to_torch()
    assert t.layout == torch.sparse_coo and t.requires_grad
    (g,) = torch.autograd.grad(t.coalesce().values().abs().sum(), v)
    torch.testing.assert_close(g, v.detach() / v.detach().abs())
    # without grad the compressed layouts take complex values
    assert A.detach().tocsr().to_torch().layout == torch.sparse_csr


@pytest.mark.parametrize("fmt", FORMATS + ["dia"])
def test_mean_and_sum_with_dtype(fmt):
    v = _values_of(S)
    C128 = torch.complex128
    for f, ref_f in [(lambda A: A.mean(dtype=np.complex128), lambda D: D.mean()),
                     (lambda A: A.mean(axis=1, dtype=np.complex128), lambda D: D.mean(1)),
                     (lambda A: A.sum(axis=0, dtype=np.complex128), lambda D: D.sum(0))]:
        out = f(_sparse(fmt, S, v))
        ref = ref_f(_dense_from_values(v, S)).to(C128)
        assert out.dtype == C128
        torch.testing.assert_close(out, ref)
        w = torch.arange(1, out.numel() + 1, dtype=F64).reshape(out.shape) * (1 + 2j)
        (g,) = torch.autograd.grad((out * w).real.sum(), v)
        (g_ref,) = torch.autograd.grad((ref * w).real.sum(), v)
        torch.testing.assert_close(g, g_ref)


def test_dense_tensor_constructor_gathers_in_graph():
    D = torch.tensor(S, requires_grad=True)
    A = sp.csr_array(D)
    assert A.nnz == np.count_nonzero(S)
    (A @ torch.ones(5, dtype=F64)).sum().backward()
    torch.testing.assert_close(D.grad, torch.tensor((S != 0).astype(float)))


def test_plain_mode_never_imports_torch_results():
    # NumPy in, NumPy out: nothing in plain mode returns a tensor.
    A = sp.csr_array(S)
    assert type(A @ np.ones(5)) is np.ndarray
    assert type((A @ A.T).data) is np.ndarray


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_to_torch_from_torch_roundtrip_keeps_graph(fmt):
    v = _values_of(S)
    A = _sparse(fmt, S, v)
    t = A.to_torch()
    torch.testing.assert_close(t.to_dense(), torch.tensor(S))
    B = sp.from_torch(t)
    assert B.format == fmt and type(B).__name__ == f"{fmt}_array"
    np.testing.assert_array_equal(B.toarray().detach().numpy(), S)
    (g,) = torch.autograd.grad((B @ torch.ones(5, dtype=F64)).sum(), v)
    torch.testing.assert_close(g, torch.ones_like(v))


def test_from_torch_rejects_non_tensors():
    with pytest.raises(TypeError, match="expected a torch.Tensor"):
        sp.from_torch(np.eye(2))


def test_column_spread_measures_the_distance_from_the_diagonal():
    """The statistic that sends an SpMV backward to the fused kernel (columns near the
    diagonal) or to two sweeps (scattered columns), on patterns whose answer is known."""
    import scipy.sparse

    from spgrad._autograd._pattern import CSRPattern

    def spread(M):
        M = scipy.sparse.csr_array(M)
        return CSRPattern(M.indptr, M.indices, M.shape).column_spread()

    n = 1000
    assert spread(scipy.sparse.diags_array([np.ones(n - 1), np.ones(n), np.ones(n - 1)],
                                           offsets=[-1, 0, 1])) <= 1
    wide = scipy.sparse.csr_array((np.ones(100), (np.arange(100), 10 * np.arange(100))),
                                  shape=(100, 1000))
    assert spread(wide) == 0  # on the diagonal scaled by n_col / n_row
    rng = np.random.default_rng(0)
    scattered = scipy.sparse.csr_array((np.ones(10 * n), (np.repeat(np.arange(n), 10),
                                                          rng.integers(0, n, 10 * n))),
                                       shape=(n, n))
    assert spread(scattered) > n / 4
    assert spread(scipy.sparse.csr_array((n, n))) == 0
    assert spread(scipy.sparse.csr_array((0, 5))) == 0


def test_is_stencil_tells_few_diagonals_from_scattered_columns():
    """The statistic that lets the one-sweep SpMM backward prefetch (scattered columns) or
    leave the rows to the hardware prefetchers (a stencil's few diagonals)."""
    import scipy.sparse

    from spgrad._autograd._pattern import CSRPattern

    def stencil(M):
        M = scipy.sparse.csr_array(M)
        return CSRPattern(M.indptr, M.indices, M.shape).is_stencil()

    m = 30
    I, T = scipy.sparse.eye_array(m), scipy.sparse.diags_array(
        [-np.ones(m - 1), 2 * np.ones(m), -np.ones(m - 1)], offsets=[-1, 0, 1])
    assert stencil(scipy.sparse.kron(I, T) + scipy.sparse.kron(T, I))  # 2-D Poisson
    assert stencil(T)
    rng = np.random.default_rng(0)
    n = 2000
    rows = np.repeat(np.arange(n), 5)
    cols = np.clip(rows + rng.integers(-100, 101, rows.size), 0, n - 1)
    assert not stencil(scipy.sparse.csr_array((np.ones(rows.size), (rows, cols)),
                                              shape=(n, n)))
    assert stencil(scipy.sparse.csr_array((n, n)))
    assert stencil(scipy.sparse.csr_array((0, 5)))


def test_transposed_product_scatters_on_one_thread_for_scattered_columns():
    """SpMM's first-order ``Āᵀ G`` (``A``'s values not requiring grad) is a scatter over A's
    rows on one CPU thread for a pattern whose columns stray further than ``_FUSED_SPREAD``
    from the diagonal, and a gather over the transposed pattern otherwise; both give dense
    autograd's gradient."""
    import scipy.sparse

    from spgrad import _cpu
    from spgrad._autograd import _functions
    from spgrad._autograd._pattern import CSRPattern

    rng = np.random.default_rng(5)
    n = 40_000
    M = scipy.sparse.random_array((60, n), density=2e-4, format="csr", rng=rng)
    X0 = torch.from_numpy(rng.standard_normal((n, 3)))
    G = torch.from_numpy(rng.standard_normal((60, 3)))
    assert CSRPattern(M.indptr, M.indices, M.shape).column_spread() > _functions._FUSED_SPREAD
    previous = _cpu.get_num_threads()
    try:
        for threads, expected in ((1, "csr_matvecs_transpose"), (2, "csr_matvecs_permuted")):
            _cpu.set_num_threads(threads)
            for kernel in ("csr_matvecs_transpose", "csr_matvecs_permuted"):
                calls = []
                real = getattr(_cpu, kernel)
                with pytest.MonkeyPatch.context() as mp:
                    mp.setattr(_cpu, kernel, lambda *a, real=real, calls=calls:
                               calls.append(1) or real(*a))
                    X = X0.clone().requires_grad_()
                    (g,) = torch.autograd.grad(sp.csr_array(M) @ X, X, G)
                assert len(calls) == (kernel == expected), (threads, kernel)
                torch.testing.assert_close(g, torch.from_numpy(M.T @ G.numpy()))
    finally:
        _cpu.set_num_threads(previous)
