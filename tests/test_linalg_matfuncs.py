"""spgrad.linalg norm / onenormest / matrix_power / expm / expm_multiply / LaplacianNd: SciPy
parity in plain mode, gradients (gradcheck, dense torch references) in differentiable mode."""

import warnings

import numpy as np
import pyamg
import pytest
import scipy.sparse as ss
import scipy.sparse.linalg as sla
import torch
import torch.autograd.forward_ad as fwAD

import spgrad as sp
from spgrad.linalg import (
    LaplacianNd,
    expm,
    expm_multiply,
    matrix_power,
    norm,
    onenormest,
)

MATRIX_ORDS = [None, "fro", 1, -1, np.inf, -np.inf, 2]
VECTOR_ORDS = [None, 0, 1, 2, 3, 0.5, np.inf, -np.inf]
REAL = ["airfoil", "bar", "knot", "recirc_flow"]


def _scipy_random(shape, seed, fmt="csr", density=0.4, dtype=np.float64, matrix=False):
    S = ss.random_array(shape, density=density, rng=seed, format=fmt, dtype=dtype)
    if dtype in (np.complex128,):
        S = S + 1j * ss.random_array(shape, density=density, rng=seed, format=fmt)
        S = S.asformat(fmt)
    return ss.csr_matrix(S).asformat(fmt) if matrix else S


def _spgrad_of(S):
    """The spgrad container of a SciPy sparse object, same format and family."""
    return sp.from_scipy(S)


def _with_duplicates(seed):
    """A COO array with duplicate entries and an explicit zero (nonsymmetric)."""
    rng = np.random.default_rng(seed)
    row = np.array([0, 0, 1, 2, 2, 3, 4, 4, 1, 3])
    col = np.array([1, 1, 2, 0, 0, 4, 3, 2, 0, 3])
    data = rng.standard_normal(len(row))
    data[-1] = 0.0
    return ss.coo_array((data, (row, col)), shape=(5, 6))


def _torch_container(S):
    """``(values leaf, builder)``: builder(values) rebuilds the container of S's structure."""
    A = _spgrad_of(S)
    values = torch.from_numpy(np.array(A.data)).requires_grad_()

    def build(v):
        B = A.copy()
        B.data = v
        return B

    return values, build


def _dense_on_pattern(S, v):
    """Dense torch matrix with the stored values v of S at its coordinates (duplicates add)."""
    coo = ss.coo_array(S) if ss.issparse(S) else S.tocoo()
    out = torch.zeros(S.shape, dtype=v.dtype)
    return out.index_put((torch.from_numpy(coo.row.astype(np.int64)),
                          torch.from_numpy(coo.col.astype(np.int64))), v, accumulate=True)


def _recording(call):
    """``(result, [(category, message), ...])`` of a call, recording every warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [(w.category, str(w.message)) for w in caught]


# -- norm -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("matrix", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_norm_parity(fmt, matrix, dtype):
    S = _scipy_random((7, 5), 3, fmt, dtype=dtype, matrix=matrix)
    A = _spgrad_of(S)
    for ord in MATRIX_ORDS:
        got, ref = norm(A, ord), sla.norm(S, ord)
        assert type(got) is type(ref)
        np.testing.assert_allclose(got, ref, rtol=1e-6 if dtype == np.float32 else 1e-12)
    for axis in (0, 1, -1, (1, 0)):
        for ord in VECTOR_ORDS if not isinstance(axis, tuple) else MATRIX_ORDS[:-1]:
            got, ref = norm(A, ord, axis), sla.norm(S, ord, axis)
            assert type(got) is type(ref) and np.asarray(got).dtype == np.asarray(ref).dtype
            np.testing.assert_allclose(got, ref, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("name", REAL)
def test_norm_parity_real_matrices(name):
    S = pyamg.gallery.load_example(name)["A"]
    A = _spgrad_of(S)
    for ord in [None, 1, -1, np.inf, -np.inf]:
        assert norm(A, ord) == sla.norm(S, ord)
    np.testing.assert_array_equal(norm(A, 2, axis=0), sla.norm(S, 2, axis=0))
    T = A.copy()
    T.data = torch.from_numpy(np.array(A.data))
    for ord in [None, 1, -1, np.inf, -np.inf]:
        np.testing.assert_allclose(float(norm(T, ord)), sla.norm(S, ord), rtol=1e-12)


def _norm_errors(x):
    cases = [
        lambda: norm(x, "nuc"),
        lambda: norm(x, 3, axis=(0, 1)),
        lambda: norm(x, axis=(0, 0)),
        lambda: norm(x, axis=5),
        lambda: norm(x, axis=(0, 1, 2)),
        lambda: norm(x, "abc", axis=0),
    ]
    out = []
    for case in cases:
        with pytest.raises((ValueError, TypeError)) as e:
            case()
        out.append((type(e.value), str(e.value)))
    return out


def test_norm_errors_match_scipy():
    S = _scipy_random((4, 4), 1)
    ours = _norm_errors(_spgrad_of(S))
    A = _spgrad_of(S)
    A.data = torch.from_numpy(np.array(A.data))
    ours_torch = _norm_errors(A)
    theirs = []
    for case in [
        lambda: sla.norm(S, "nuc"), lambda: sla.norm(S, 3, axis=(0, 1)),
        lambda: sla.norm(S, axis=(0, 0)), lambda: sla.norm(S, axis=5),
        lambda: sla.norm(S, axis=(0, 1, 2)), lambda: sla.norm(S, "abc", axis=0),
    ]:
        with pytest.raises((ValueError, TypeError)) as e:
            case()
        theirs.append((type(e.value), str(e.value)))
    assert ours == theirs
    assert ours_torch == theirs
    with pytest.raises(TypeError, match="not sparse"):
        norm(np.ones((2, 2)))
    with pytest.raises(TypeError, match="torch.linalg.norm"):
        norm(torch.ones(2, 2))
    with pytest.raises(NotImplementedError):
        norm(A, -2)


@pytest.mark.parametrize("ord", [None, 1, -1, np.inf, -np.inf, 2])
def test_norm_gradcheck_matrix(ord):
    S = _with_duplicates(0)
    v, build = _torch_container(S)
    assert torch.autograd.gradcheck(lambda v: norm(build(v), ord), (v,))
    # dense torch reference, gathered on the pattern (duplicates each get the summed entry's
    # derivative)
    out = norm(build(v), ord)
    (g,) = torch.autograd.grad(out, v)
    dense_ord = "fro" if ord is None else ord
    v2 = v.detach().clone().requires_grad_()
    ref = torch.linalg.matrix_norm(_dense_on_pattern(S, v2), ord=dense_ord)
    (g_ref,) = torch.autograd.grad(ref, v2)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(g, g_ref)


@pytest.mark.parametrize("ord", [None, 1, 2, 3, np.inf, -np.inf])
@pytest.mark.parametrize("axis", [0, 1])
def test_norm_gradcheck_vector(ord, axis):
    # a full-density row/column keeps the -inf norm away from the implicit-zero constant
    rng = np.random.default_rng(1)
    D = rng.standard_normal((4, 5))
    D[rng.random((4, 5)) < 0.3] = 0
    D[:, 0] = rng.standard_normal(4)
    D[0, :] = rng.standard_normal(5)
    S = ss.csr_array(D)
    v, build = _torch_container(S)
    assert torch.autograd.gradcheck(lambda v: norm(build(v), ord, axis=axis), (v,))
    ref = torch.linalg.vector_norm(_dense_on_pattern(S, v), ord=2 if ord is None else ord,
                                   dim=axis)
    torch.testing.assert_close(norm(build(v), ord, axis=axis), ref)


# torch's forward-mode AD loads its jvp decompositions through torch.jit.script, which warns
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("ord", [None, 2, 3, 0.5])
@pytest.mark.parametrize("axis", [0, 1])
def test_norm_vector_zero_slices_have_zero_gradient_and_tangent(ord, axis):
    # column/row 0 holds only an explicit zero, column/row 2 nothing: their norm is 0 and,
    # as in torch.linalg.vector_norm, their (sub)gradient and tangent are 0, not NaN
    row = np.array([0, 0, 1, 2, 1])
    col = np.array([1, 3, 1, 3, 0])
    if axis == 1:
        row, col = col, row
    v = torch.tensor([1.0, -2.0, 0.5, 3.0, 0.0], dtype=torch.float64, requires_grad=True)

    def dense(v):
        return torch.zeros((3, 4) if axis == 0 else (4, 3), dtype=v.dtype).index_put(
            (torch.from_numpy(row), torch.from_numpy(col)), v)

    def ours(v):
        return norm(sp.coo_array((v, (row, col)), shape=dense(v).shape).tocsr(), ord,
                    axis=axis)

    p = 2 if ord is None else ord
    out, ref = ours(v), torch.linalg.vector_norm(dense(v), p, dim=axis)
    torch.testing.assert_close(out, ref)
    w = torch.arange(1.0, out.numel() + 1, dtype=torch.float64)
    (g,) = torch.autograd.grad((out * w).sum(), v)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), v)
    torch.testing.assert_close(g, g_ref)
    tangent = torch.linspace(-1.0, 1.0, 5, dtype=torch.float64)
    with fwAD.dual_level():
        dual = fwAD.make_dual(v.detach(), tangent)
        t = fwAD.unpack_dual(ours(dual)).tangent
        t_ref = fwAD.unpack_dual(torch.linalg.vector_norm(dense(dual), p, dim=axis)).tangent
    torch.testing.assert_close(t, t_ref)


def test_norm_gradcheck_complex():
    S = _scipy_random((4, 4), 2, dtype=np.complex128)
    v, build = _torch_container(S)
    for ord in [None, 1, np.inf]:
        assert torch.autograd.gradcheck(lambda v, ord=ord: norm(build(v), ord), (v,))
    assert torch.autograd.gradcheck(lambda v: norm(build(v), 2, axis=1), (v,))


def test_norm_zero_count_and_gradgrad():
    S = _with_duplicates(3)
    v, build = _torch_container(S)
    counts = norm(build(v), 0, axis=1)
    np.testing.assert_array_equal(counts.numpy(), sla.norm(S.tocsr(), 0, axis=1))
    assert torch.autograd.gradgradcheck(lambda v: norm(build(v)), (v,))


# -- onenormest -------------------------------------------------------------------------------


def test_onenormest_plain_and_detached():
    S = _scipy_random((30, 30), 4, density=0.2)
    A = _spgrad_of(S)
    assert onenormest(A) == sla.onenormest(S)
    est, v, w = onenormest(A, compute_v=True, compute_w=True)
    ref = sla.onenormest(S, compute_v=True, compute_w=True)
    assert est == ref[0]
    np.testing.assert_array_equal(v, ref[1])
    np.testing.assert_array_equal(w, ref[2])
    T = A.copy()
    T.data = torch.from_numpy(np.array(A.data)).requires_grad_()
    assert onenormest(T) == sla.onenormest(S)
    from spgrad.linalg import aslinearoperator

    assert onenormest(aslinearoperator(T)) == pytest.approx(sla.onenormest(S), rel=1e-12)


# -- matrix_power -----------------------------------------------------------------------------


@pytest.mark.parametrize("matrix", [False, True])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_matrix_power_parity(matrix, fmt):
    S = ss.random_array((6, 6), density=0.3, rng=5, format=fmt, dtype=np.int64,
                        data_sampler=lambda size: np.arange(1, size + 1))
    S = ss.csr_matrix(S).asformat(fmt) if matrix else S
    A = _spgrad_of(S)
    for p in range(6):
        got, ref = matrix_power(A, p), sla.matrix_power(S, p)
        assert got.format == ref.format and got.dtype == ref.dtype
        assert ss.issparse(ref) and isinstance(got, sp.sparray) == isinstance(ref, ss.sparray)
        np.testing.assert_array_equal(got.toarray(), ref.toarray())
    for bad, exc in [(-1, ValueError), (1.5, ValueError)]:
        with pytest.raises(exc) as ours:
            matrix_power(A, bad)
        with pytest.raises(exc) as theirs:
            sla.matrix_power(S, bad)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(TypeError, match="not square"):
        matrix_power(_spgrad_of(_scipy_random((3, 4), 1)), 2)


def test_matrix_power_gradients():
    S = _scipy_random((5, 5), 6, density=0.4)
    v, build = _torch_container(S)
    w = torch.from_numpy(np.random.default_rng(0).standard_normal((5, 5)))

    def f(v, p):
        P = matrix_power(build(v), p)
        return (_dense_on_pattern(P, P.data) * w).sum()

    for p in (1, 2, 3, 5):
        assert torch.autograd.gradcheck(lambda v, p=p: f(v, p), (v,))
        ref = (torch.linalg.matrix_power(_dense_on_pattern(S, v), p) * w).sum()
        torch.testing.assert_close(f(v, p), ref)
    assert torch.autograd.gradgradcheck(lambda v: f(v, 3), (v,))
    I = matrix_power(build(v), 0)
    assert isinstance(I.data, np.ndarray) and I.format == "dia"
    with pytest.raises(TypeError, match="not square"):
        matrix_power(build(v)[:, :4], 2)


# -- expm -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("matrix", [False, True])
def test_expm_parity(fmt, matrix):
    S = _scipy_random((6, 6), 7, fmt, matrix=matrix, density=0.3)
    A = _spgrad_of(S)
    ref, ref_warnings = _recording(lambda: sla.expm(S))
    got, got_warnings = _recording(lambda: expm(A))
    assert got_warnings == ref_warnings
    assert got.format == ref.format
    assert isinstance(got, sp.sparray) == isinstance(ref, ss.sparray)
    np.testing.assert_array_equal(got.toarray(), ref.toarray())
    D = S.toarray()
    np.testing.assert_array_equal(expm(D), sla.expm(D))


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_expm_differentiable(fmt):
    S = _scipy_random((5, 5), 8, fmt, density=0.4)
    v, build = _torch_container(S)
    E = expm(build(v))
    assert E.format == fmt
    ref, _ = _recording(lambda: sla.expm(S))
    np.testing.assert_allclose(E.toarray().detach().numpy(), ref.toarray(), rtol=1e-12,
                               atol=1e-14)
    w = torch.from_numpy(np.random.default_rng(1).standard_normal((5, 5)))

    def f(v):
        E = expm(build(v))
        return (_dense_on_pattern(E, E.data) * w).sum()

    assert torch.autograd.gradcheck(f, (v,))
    ref = (torch.linalg.matrix_exp(_dense_on_pattern(S, v)) * w).sum()
    torch.testing.assert_close(f(v), ref)
    M = torch.from_numpy(S.toarray()).requires_grad_()
    torch.testing.assert_close(expm(M), torch.linalg.matrix_exp(M))
    with pytest.raises(ValueError, match="square"):
        expm(torch.ones(2, 3, dtype=torch.float64))


# -- expm_multiply ----------------------------------------------------------------------------


def _nonsym(n, seed, density=0.3, scale=1.0):
    S = ss.random_array((n, n), density=density, rng=seed, format="csr")
    return (scale * (S - 0.5 * ss.eye_array(n) * seed)).tocsr()


@pytest.mark.parametrize("B_shape", [(12,), (12, 3)])
@pytest.mark.parametrize("interval", [None, {"start": 0.2, "stop": 1.5, "num": 5},
                                      {"start": 0, "stop": 2, "num": 4, "endpoint": False}])
def test_expm_multiply_values_match_scipy(B_shape, interval):
    S = _nonsym(12, 2, scale=3.0)
    B = np.random.default_rng(0).standard_normal(B_shape)
    kw = interval or {}
    ref = sla.expm_multiply(S, B, **kw)
    A = _spgrad_of(S)
    plain = expm_multiply(A, B, **kw)
    assert type(plain) is np.ndarray
    np.testing.assert_array_equal(plain, ref)
    v, build = _torch_container(S)
    got = expm_multiply(build(v), torch.from_numpy(B), **kw)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got.detach().numpy(), ref, rtol=1e-12, atol=1e-13)
    # torch B, NumPy A
    Bt = torch.from_numpy(B).requires_grad_()
    got2 = expm_multiply(A, Bt, **kw)
    np.testing.assert_allclose(got2.detach().numpy(), ref, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", REAL)
def test_expm_multiply_real_matrices(name):
    S = pyamg.gallery.load_example(name)["A"].tocsr()
    S = S / sla.norm(S, 1)
    b = np.ones(S.shape[0])
    ref = sla.expm_multiply(S, b)
    v, build = _torch_container(S)
    got = expm_multiply(build(v), torch.from_numpy(b))
    np.testing.assert_allclose(got.detach().numpy(), ref, rtol=1e-11, atol=1e-12)


def test_expm_multiply_gradcheck():
    S = _nonsym(6, 1, density=0.5, scale=2.0)
    v, build = _torch_container(S)
    B = torch.from_numpy(np.random.default_rng(2).standard_normal((6, 2))).requires_grad_()
    assert torch.autograd.gradcheck(lambda v, B: expm_multiply(build(v), B), (v, B))
    assert torch.autograd.gradcheck(
        lambda v, B: expm_multiply(build(v), B[:, 0], start=0.5, stop=1.0, num=3), (v, B)
    )
    assert torch.autograd.gradgradcheck(lambda v, B: expm_multiply(build(v), B), (v, B))
    # dense reference
    out = expm_multiply(build(v), B)
    ref = torch.linalg.matrix_exp(_dense_on_pattern(S, v)) @ B
    torch.testing.assert_close(out, ref)
    g = torch.autograd.grad(out.sum(), (v, B))
    g_ref = torch.autograd.grad(ref.sum(), (v, B))
    torch.testing.assert_close(g, g_ref)


def test_expm_multiply_dense_tensor_and_errors():
    M = torch.from_numpy(_nonsym(5, 3).toarray()).requires_grad_()
    b = torch.ones(5, dtype=torch.float64)
    torch.testing.assert_close(expm_multiply(M, b), torch.linalg.matrix_exp(M) @ b)
    assert torch.autograd.gradcheck(lambda M: expm_multiply(M, b), (M,))
    with pytest.raises(ValueError, match="square"):
        expm_multiply(torch.ones(2, 3, dtype=torch.float64), b)
    with pytest.raises(ValueError, match="incompatible"):
        expm_multiply(M, torch.ones(4, dtype=torch.float64))
    with pytest.raises(ValueError, match="at least two time points"):
        expm_multiply(M, b, start=0, stop=1, num=1)
    from spgrad.linalg import aslinearoperator

    with pytest.raises(NotImplementedError, match="LinearOperator"):
        expm_multiply(aslinearoperator(M), b)


def test_expm_multiply_zero_matrix():
    A = _spgrad_of(ss.csr_array((4, 4)))
    A.data = torch.zeros(0, dtype=torch.float64)
    b = torch.arange(4.0, dtype=torch.float64)
    torch.testing.assert_close(expm_multiply(A, b), b)


# -- LaplacianNd ------------------------------------------------------------------------------


@pytest.mark.parametrize("bc", ["dirichlet", "neumann", "periodic"])
def test_laplacian_nd(bc):
    ours, ref = LaplacianNd((3, 4), boundary_conditions=bc), sla.LaplacianNd(
        (3, 4), boundary_conditions=bc)
    L, R = ours.tosparse(), ref.tosparse()
    assert isinstance(L, sp.sparray) and L.format == R.format and L.dtype == R.dtype
    np.testing.assert_array_equal(L.toarray(), R.toarray())
    np.testing.assert_array_equal(ours.toarray(), ref.toarray())
    np.testing.assert_array_equal(ours.eigenvalues(), ref.eigenvalues())
    x = np.arange(12.0)
    np.testing.assert_array_equal(ours @ x, ref @ x)
    with pytest.raises(ValueError, match="Unknown value"):
        LaplacianNd((2,), boundary_conditions="x")


def test_docstring_examples():
    import doctest

    import spgrad.linalg._matfuncs as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


# -- funm_multiply_krylov (plain mode only) ----------------------------------------------------


@pytest.mark.parametrize("assume_a", ["general", "hermitian"])
def test_funm_multiply_krylov_matches_scipy(assume_a):
    import scipy.linalg

    from spgrad.linalg import funm_multiply_krylov

    S = _scipy_random((30, 30), 7)
    S = (S + S.T - 3 * ss.eye_array(30)).tocsr()
    b = np.random.default_rng(1).standard_normal(30)
    expected = sla.funm_multiply_krylov(scipy.linalg.expm, S, b, assume_a=assume_a, t=0.5)
    got = funm_multiply_krylov(scipy.linalg.expm, _spgrad_of(S), b, assume_a=assume_a, t=0.5)
    np.testing.assert_array_equal(got, expected)


def test_funm_multiply_krylov_refuses_torch():
    import scipy.linalg

    from spgrad.linalg import funm_multiply_krylov

    A = sp.csr_array(np.eye(3))
    with pytest.raises(NotImplementedError, match="expm_multiply"):
        funm_multiply_krylov(scipy.linalg.expm, A, torch.ones(3, dtype=torch.float64))
