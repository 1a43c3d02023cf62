"""torch.func transforms through spgrad's products: ``vmap`` batching rules of SpMM, SpMMT,
SDDMM and MaskedDot, and ``jacrev``/``jacfwd``/``hessian`` (built on vmap) against the same
derivatives computed without vmap (``torch.autograd.functional``, one product at a time).
Matrices are rectangular and nonsymmetric with an empty row."""

import numpy as np
import pytest
import scipy.sparse as sps

torch = pytest.importorskip("torch")

import spgrad as sp

F64 = torch.float64

# torch's forward-mode AD imports its jvp decompositions through torch.jit.script, which warns
# in torch 2.13; pytest turns warnings into errors
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def _matrix(shape, seed, fmt="csr"):
    S = sps.random_array(shape, density=0.4, format="csr", rng=seed).toarray()
    S[1] = 0
    return sp.csr_array(S).asformat(fmt)


A = _matrix((6, 5), 1)
B = _matrix((5, 4), 2)


def _rand(*shape, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape))


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("in_dim", [0, 1])
def test_vmap_dense_operand(fmt, in_dim):
    M = A.asformat(fmt)
    X = _rand(3, 5) if in_dim == 0 else _rand(5, 3)
    out = torch.vmap(lambda x: M @ x, in_dims=in_dim)(X)
    ref = torch.stack([M @ (X[b] if in_dim == 0 else X[:, b]) for b in range(3)])
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-14)
    # the transposed product and a batch of matrices (2-D per sample)
    Y = _rand(3, 6, 2)
    out = torch.vmap(lambda y: M.T @ y)(Y)
    torch.testing.assert_close(out, torch.stack([M.T @ Y[b] for b in range(3)]), rtol=0,
                               atol=1e-14)


def test_vmap_over_values():
    vals = _rand(4, A.nnz, seed=3)
    x = _rand(5, seed=4)

    def product(v):
        return sp.csr_array((v, A.indices, A.indptr), shape=A.shape) @ x

    def spgemm(v):
        M = sp.csr_array((v, A.indices, A.indptr), shape=A.shape)
        return (M @ B).sum(axis=1)

    for f in (product, spgemm):
        torch.testing.assert_close(torch.vmap(f)(vals), torch.stack([f(v) for v in vals]),
                                   rtol=0, atol=1e-14)


def _with_spgrad(x):
    return A @ torch.sin(x) + (A @ x) ** 2


def _values_function(v):
    M = sp.csr_array((v, A.indices, A.indptr), shape=A.shape)
    return (M @ B).multiply(M @ B).sum(axis=1) + M @ torch.ones(5, dtype=F64)


@pytest.mark.parametrize("transform", ["jacrev", "jacfwd"])
@pytest.mark.parametrize("f, n", [(_with_spgrad, 5), (_values_function, A.nnz)],
                         ids=["dense-operand", "values"])
def test_jacobians(transform, f, n):
    x = _rand(n, seed=5)
    ref = torch.autograd.functional.jacobian(f, x)
    torch.testing.assert_close(getattr(torch.func, transform)(f)(x), ref, rtol=1e-12,
                               atol=1e-12)


def test_hessian():
    def energy(x):
        return 0.5 * (x * (A.T @ (A @ x))).sum() + torch.cos(x).sum() * (A @ x).sum()

    x = _rand(5, seed=6)
    torch.testing.assert_close(torch.func.hessian(energy)(x),
                               torch.autograd.functional.hessian(energy, x), rtol=1e-12,
                               atol=1e-12)


# --------------------------------------------------------------------- direct solvers
def _system(n=7, seed=3):
    S = sps.random_array((n, n), density=0.35, rng=seed) + 3 * sps.eye_array(n)
    return sp.csc_array(S)


@pytest.mark.parametrize("fmt", ["csc", "csr"])
def test_vmap_spsolve_over_right_hand_sides(fmt):
    from spgrad.linalg import spsolve, splu

    M = _system().asformat(fmt)
    Bs = _rand(4, 7, seed=5)
    looped = torch.stack([spsolve(M, b) for b in Bs])
    torch.testing.assert_close(torch.func.vmap(lambda b: spsolve(M, b))(Bs), looped)
    # several columns per element, batch along the last dimension
    B3 = _rand(7, 2, 3, seed=6)
    torch.testing.assert_close(torch.func.vmap(lambda b: spsolve(M, b), in_dims=2)(B3),
                               torch.stack([spsolve(M, B3[..., k]) for k in range(3)]))
    lu = splu(sp.csc_array((torch.from_numpy(M.tocsc().data.copy()), M.tocsc().indices,
                            M.tocsc().indptr), shape=M.shape))
    torch.testing.assert_close(torch.func.vmap(lu.solve)(Bs),
                               torch.stack([lu.solve(b) for b in Bs]))


def test_torch_func_transforms_through_spsolve():
    from spgrad.linalg import spsolve

    M = _system()

    def f(b):
        return spsolve(M, torch.sin(b) * b)

    b = _rand(7, seed=8)
    dense = torch.autograd.functional.jacobian(f, b)
    torch.testing.assert_close(torch.func.jacrev(f)(b), dense)
    torch.testing.assert_close(torch.func.jacfwd(f)(b), dense)
    torch.testing.assert_close(torch.func.hessian(lambda b: f(b).sum())(b),
                               torch.autograd.functional.hessian(lambda b: f(b).sum(), b))


def test_vmap_over_values_of_a_factorised_matrix_is_refused():
    from spgrad.linalg import spsolve

    M = _system()
    vals = torch.from_numpy(np.stack([M.data, 2 * M.data]))
    with pytest.raises(NotImplementedError, match="vmap over the values of A"):
        torch.func.vmap(lambda v: spsolve(sp.csc_array((v, M.indices, M.indptr),
                                                       shape=M.shape), _rand(7)))(vals)


@pytest.mark.parametrize("lower", [True, False])
def test_vmap_spsolve_triangular(lower):
    from spgrad.linalg import spsolve_triangular

    M = _system().tocsr()
    T = sp.csr_array(sps.tril(M.to_scipy()) if lower else sps.triu(M.to_scipy()))
    Bs = _rand(5, 7, seed=9)
    torch.testing.assert_close(
        torch.func.vmap(lambda b: spsolve_triangular(T, b, lower=lower))(Bs),
        torch.stack([spsolve_triangular(T, b, lower=lower) for b in Bs]))
    # a batch of values: one solve per element
    vals = torch.from_numpy(np.stack([T.data, 1.5 * T.data]))

    def solve(v):
        return spsolve_triangular(sp.csr_array((v, T.indices, T.indptr), shape=T.shape),
                                  Bs[0], lower=lower)

    torch.testing.assert_close(torch.func.vmap(solve)(vals),
                               torch.stack([solve(v) for v in vals]))
    g = torch.func.jacrev(lambda b: spsolve_triangular(T, b ** 2, lower=lower))(Bs[1])
    torch.testing.assert_close(g, torch.autograd.functional.jacobian(
        lambda b: spsolve_triangular(T, b ** 2, lower=lower), Bs[1]))


@pytest.mark.parametrize("op", ["add", "sub"])
def test_transforms_through_sums_of_sparse_arrays(op):
    """``A ± C`` on the union of two patterns under ``vmap``, ``jacrev`` and ``jacfwd`` (the
    transforms take an out-of-place path; plain autograd scatters in place)."""
    C = _matrix((6, 5), 7)
    x = _rand(5, seed=8)

    def f(a, c):
        M = sp.csr_array((a, A.indices, A.indptr), shape=A.shape)
        N = sp.csr_array((c, C.indices, C.indptr), shape=C.shape)
        return ((M + N) if op == "add" else (M - N)) @ x

    a, c = _rand(A.nnz, seed=9), _rand(C.nnz, seed=10)
    batch = _rand(3, A.nnz, seed=11)
    out = torch.vmap(f, in_dims=(0, None))(batch, c)
    torch.testing.assert_close(out, torch.stack([f(v, c) for v in batch]), rtol=0, atol=1e-14)
    ref = torch.autograd.functional.jacobian(f, (a, c))
    for jac in (torch.func.jacrev, torch.func.jacfwd):
        got = jac(f, argnums=(0, 1))(a, c)
        for g, r in zip(got, ref):
            torch.testing.assert_close(g, r, rtol=0, atol=1e-13)
