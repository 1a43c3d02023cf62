"""spgrad.ad pattern detection: the traced pattern holds every nonzero of the dense Jacobian
(Hessian) at random points, equals it on the issue's suite, follows spgrad's sparse kernels,
and refuses what it cannot follow."""

import numpy as np
import pytest
import scipy.sparse

torch = pytest.importorskip("torch")

from test_ad import arrowhead, banded, bratu, brusselator, rosenbrock, with_spgrad

import spgrad
from spgrad.ad import UnsupportedOperationError, hessian_pattern, jacobian_pattern

F64 = torch.float64


def _point(n, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).uniform(0.5, 1.5, n))


def _dense_pattern(f, x, hessian=False):
    """Nonzeros of the dense Jacobian / Hessian at two random points (union)."""
    out = 0
    for seed in (1, 2):
        y = _point(x.numel(), seed)
        D = (torch.autograd.functional.hessian if hessian else
             torch.autograd.functional.jacobian)(f, y)
        out = out | (D.numpy() != 0)
    return out


def _check(f, n, hessian=False, exact=False):
    x = _point(n)
    P = (hessian_pattern if hessian else jacobian_pattern)(f, x)
    assert isinstance(P, spgrad.csr_array) and P.dtype == np.bool_
    assert P.has_canonical_format
    true = _dense_pattern(f, x, hessian)
    detected = P.toarray()
    assert not np.any(true & ~detected), "the detected pattern misses nonzeros"
    if exact:
        np.testing.assert_array_equal(detected, true)
    return detected


@pytest.mark.parametrize("f, n", [(banded, 30), (brusselator, 2 * 36), (bratu, 49)],
                         ids=["banded", "brusselator", "bratu"])
def test_suite_jacobians_are_exact(f, n):
    _check(f, n, exact=True)


@pytest.mark.parametrize("f", [rosenbrock, arrowhead], ids=["rosenbrock", "arrowhead"])
def test_suite_hessians_are_exact(f):
    _check(f, 25, hessian=True, exact=True)


def test_spgrad_sparse_products():
    _check(with_spgrad(20), 20, exact=True)
    A = spgrad.csr_array(scipy.sparse.random_array((8, 6), density=0.3, rng=3))
    B = spgrad.csr_array(scipy.sparse.random_array((6, 5), density=0.4, rng=4))
    idx = A.tocsr().indices.astype(np.int64)

    def values_from_x(x):  # a sparse matrix whose values are functions of x
        return spgrad.csr_array((x[idx] ** 2, A.indices, A.indptr), shape=A.shape)

    _check(lambda x: A.T @ (A @ x), 6, exact=True)
    _check(lambda x: values_from_x(x) @ torch.ones(6, dtype=F64), 6, exact=True)
    _check(lambda x: (values_from_x(x) @ B).sum(axis=1), 6, exact=True)  # SpGEMM
    _check(lambda x: values_from_x(x).multiply(values_from_x(x)).sum(axis=0), 6, exact=True)
    _check(lambda x: (x * (A.T @ (A @ x))).sum(), 6, hessian=True, exact=True)
    _check(lambda x: (values_from_x(x) @ x).sum(), 6, hessian=True, exact=True)
    _check(lambda x: (values_from_x(x) @ values_from_x(x).T).sum(axis=0), 6, exact=True)
    _check(lambda x: (values_from_x(x) @ values_from_x(x).T).sum(), 6, hessian=True,
           exact=True)


# one small function per rule; the detected pattern must hold the true one
OPS = {
    "slicing": lambda x: x[1::2] * x[:-1:2],
    "index": lambda x: x[torch.tensor([3, 0, 3, 7])] ** 2,
    "gather": lambda x: torch.exp(x.gather(0, torch.tensor([9, 1, 1]))),
    "cat_stack": lambda x: torch.cat([x[:3], torch.stack([x[5], x[6] ** 2])]),
    "roll_flip": lambda x: x.roll(2) * x.flip(0),
    "reshape_permute": lambda x: x.reshape(2, 5).T.reshape(-1) * x,
    "pad": lambda x: torch.nn.functional.pad(x, (2, 1), value=3.0) ** 2,
    "pad_reflect": lambda x: torch.nn.functional.pad(x.reshape(1, 1, 10), (2, 2),
                                                     mode="reflect").reshape(-1),
    "matmul_constant": lambda x: torch.tensor(np.triu(np.ones((4, 10)))) @ x,
    "matmul_variable": lambda x: torch.outer(x[:3], x[3:6]) @ x[6:9],
    "einsum": lambda x: torch.einsum("ij,j->i", torch.eye(10, dtype=F64), x),
    "linear": lambda x: torch.nn.functional.linear(x, torch.eye(10, dtype=F64), x[:10]),
    "reductions": lambda x: torch.stack([x[:4].sum(), x[4:].prod(), x.amax(),
                                         torch.logsumexp(x[2:5], 0)]),
    "norm_softmax": lambda x: torch.cat([torch.linalg.vector_norm(x.reshape(5, 2), dim=1),
                                         torch.softmax(x.reshape(2, 5), dim=1).reshape(-1)]),
    "cumsum_sort_topk": lambda x: torch.cat([torch.cumsum(x, 0), torch.sort(x).values,
                                             torch.topk(x.reshape(2, 5), 2).values.ravel()]),
    "where_max_clamp": lambda x: torch.where(x > 1, x, x.flip(0)) + torch.maximum(x, x.roll(1))
    + x.clamp(0.7, 1.2),
    "division_pow": lambda x: x[1:] / x[:-1] + 2 ** x[1:] + x[1:] ** x[:-1],
    "setitem": lambda x: _setitem(x),
    "inplace": lambda x: _inplace(x),
    "index_put_accumulate": lambda x: torch.zeros(4, dtype=F64).index_put(
        (torch.tensor([0, 0, 3]),), x[:3], accumulate=True),
    "scatter_add": lambda x: torch.zeros(4, dtype=F64).scatter_add(
        0, torch.tensor([0, 1, 1, 2, 3, 3, 0, 2, 1, 0]), x),
    "index_add": lambda x: torch.zeros(3, dtype=F64).index_add(
        0, torch.tensor([2, 2, 0, 1, 0, 1, 2, 0, 1, 1]), torch.sin(x)),
    "constants": lambda x: x * torch.ones(10, dtype=F64) + (x > 1).to(F64) + x.sign(),
}


def _setitem(x):
    y = torch.ones(12, dtype=F64)
    y[1:-1] = x ** 2
    y[0] = 3.0
    return y


def _inplace(x):
    y = x * 2
    y.add_(x.roll(3))
    y[2:4].mul_(x[5:7])
    return y


@pytest.mark.parametrize("name", sorted(OPS))
def test_operation_rules(name):
    _check(OPS[name], 10)


def test_zero_factors_drop_dependencies():
    # x_i * 0 (padding) and a constant zero coefficient leave no entry
    P = jacobian_pattern(lambda x: torch.nn.functional.pad(x, (0, 1))[1:] * x
                         + torch.tensor([0.0, 1.0, 0.0], dtype=F64) * x ** 2, _point(3))
    np.testing.assert_array_equal(P.toarray(), [[1, 1, 0], [0, 1, 1], [0, 0, 0]])


HESSIAN_OPS = {
    "linear": lambda x: (3 * x + x.roll(1)).sum() + x[0],
    "product": lambda x: (x[:-1] * x[1:]).sum(),
    "division": lambda x: (x[1:] / x[:-1]).sum(),
    "nonlinear": lambda x: torch.exp(x[::2]).sum() + torch.sin(x[1] * 2),
    "matmul": lambda x: x @ (torch.tensor(np.eye(10, k=1)) @ x),
    "softmax": lambda x: torch.softmax(x.reshape(2, 5), 1)[:, 0].sum(),
    "piecewise": lambda x: torch.relu(x - 1).sum() + torch.abs(x).sum() + x.amax(),
}


@pytest.mark.parametrize("name", sorted(HESSIAN_OPS))
def test_hessian_rules(name):
    detected = _check(HESSIAN_OPS[name], 10, hessian=True)
    np.testing.assert_array_equal(detected, detected.T)


def test_linear_and_piecewise_hessians_are_empty():
    assert hessian_pattern(HESSIAN_OPS["linear"], _point(10)).nnz == 0
    assert hessian_pattern(HESSIAN_OPS["piecewise"], _point(10)).nnz == 0
    assert hessian_pattern(HESSIAN_OPS["product"], _point(10)).nnz == 18  # off-diagonal pairs


def test_unsupported_operations():
    class NumpySquare(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return torch.from_numpy(x.detach().numpy() ** 2)

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(UnsupportedOperationError, match="NumpySquareBackward.*pattern="):
        jacobian_pattern(lambda x: NumpySquare.apply(x) + 1, _point(4))
    with pytest.raises(UnsupportedOperationError, match="Python number"):
        jacobian_pattern(lambda x: x * float(x[0]), _point(4))
    with pytest.raises(UnsupportedOperationError, match="linalg_inv|no sparsity rule"):
        jacobian_pattern(lambda x: torch.linalg.inv(x.reshape(2, 2)).reshape(-1), _point(4))
    from spgrad.linalg import spsolve

    A = spgrad.csc_array(scipy.sparse.eye_array(4, format="csc") * 2.0)
    with pytest.raises(UnsupportedOperationError, match="LUSolveBackward"):
        jacobian_pattern(lambda x: spsolve(A, x), _point(4))


def test_constant_functions_and_bad_input():
    assert jacobian_pattern(lambda x: torch.ones(3, dtype=F64), _point(4)).nnz == 0
    assert hessian_pattern(lambda x: x.sum(), _point(4)).shape == (4, 4)
    with pytest.raises(TypeError, match="f must be callable"):
        jacobian_pattern(None, _point(3))
    with pytest.raises(ValueError, match="must be 1-D"):
        jacobian_pattern(banded, torch.ones(2, 2, dtype=F64))
    with pytest.raises(TypeError, match="real floating"):
        jacobian_pattern(banded, torch.ones(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="1-D tensor for a Jacobian"):
        jacobian_pattern(lambda x: x.sum(), _point(3))
    with pytest.raises(ValueError, match="scalar for a Hessian"):
        hessian_pattern(lambda x: x * 2, _point(3))
    with pytest.raises(TypeError, match="must return a torch.Tensor"):
        jacobian_pattern(lambda x: 3.0, _point(3))
    x = _point(10)
    before = x.clone()
    jacobian_pattern(_inplace, x)
    assert torch.equal(x, before) and not x.requires_grad


def test_numpy_point_accepted():
    P = jacobian_pattern(banded, np.ones(6))
    assert P.shape == (6, 6)
