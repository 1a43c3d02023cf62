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
