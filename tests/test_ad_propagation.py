"""spgrad.ad's propagation method: the recorded trace replayed, one kernel per operation.

Every case compares the propagated Jacobian with ``torch.func.jacrev`` at points other than the
traced one, and with the compressed products; functions the recorder cannot replay fall back to
the compressed products (or raise, for ``method="propagation"``) with the operation named."""

import numpy as np
import pytest
import scipy.sparse

torch = pytest.importorskip("torch")

import spgrad
from spgrad import ad

F64 = torch.float64

pytestmark = [
    pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning"),
    # jacrev of take (the dense reference) runs a batching fallback
    pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning"),
]


def point(n, seed=1, low=0.5, high=1.5):
    return torch.from_numpy(np.random.default_rng(seed).uniform(low, high, n))


def dense_jacobian(f, x):
    return torch.func.jacrev(f)(x).detach().numpy()


_C = torch.from_numpy(np.random.default_rng(3).uniform(-1, 1, 12))
_IDX = torch.tensor([3, 0, 7, 7, 11, 2])
_W = torch.from_numpy(np.random.default_rng(4).uniform(-1, 1, (6, 12))
                      * (np.random.default_rng(5).uniform(size=(6, 12)) < 0.4))


# each: f(x) with x of length 12 (values in [0.5, 1.5])
CASES = {
    "scalars": lambda x: 3 * x - 2 + x / 4 - (1 - x) * 0.5,
    "products": lambda x: x * x + x[:-1].repeat(2)[: 12] * x ** 3,
    "division": lambda x: x / x.flip(0) + 2 / x + x / _C,
    "unary": lambda x: torch.cat([torch.sin(x), torch.cos(x), torch.exp(x), torch.log(x),
                                  torch.tanh(x), torch.sigmoid(x), torch.sqrt(x),
                                  torch.reciprocal(x), torch.expm1(x), torch.log1p(x),
                                  torch.square(x), -x, x ** 0.5, x ** 1, x ** 0]),
    "generic": lambda x: torch.cat([torch.atan(x), torch.clamp(x, 0.8, 1.2), torch.abs(x - 1),
                                    torch.where(x > 1, x ** 2, -x), x ** x,
                                    torch.hypot(x, x.roll(1)), torch.erf(x)]),
    "broadcast": lambda x: (x.reshape(3, 4) * _C[:4] + x[:3, None]).reshape(-1),
    "outer": lambda x: (x[:, None] * x[None, :4]).reshape(-1),
    "reductions": lambda x: torch.cat([x.reshape(3, 4).sum(0), x.reshape(3, 4).mean(1),
                                       x.sum(0, keepdim=True), x.reshape(2, 6).mean().reshape(1),
                                       x.reshape(3, 4).sum(dim=(0, 1)).reshape(1)]),
    "movement": lambda x: torch.cat([x.reshape(3, 4).t().reshape(-1), x.flip(0)[::2],
                                     x.reshape(2, 2, 3).permute(2, 0, 1).reshape(-1),
                                     torch.stack([x[:3], x[3:6]]).reshape(-1),
                                     x.reshape(3, 4)[1], x.reshape(3, 4)[:, 2],
                                     x.unsqueeze(0).expand(2, 12).reshape(-1)]),
    "indexing": lambda x: torch.cat([x[_IDX], x.index_select(0, _IDX),
                                     x.reshape(3, 4).gather(1, torch.tensor([[0], [3], [1]]))
                                     .reshape(-1), x.take(_IDX)]),
    "padding": lambda x: torch.nn.functional.pad(x.reshape(3, 4), (1, 2, 0, 1)).reshape(-1)
    * torch.arange(28, dtype=F64),
    "constants": lambda x: x * torch.zeros(12, dtype=F64) + x * torch.ones(12, dtype=F64)
    + torch.linspace(0, 1, 12, dtype=F64) * x.roll(3),
    "dtypes": lambda x: (x.float() * 2).double() + x.to(F64) * x.clone(),
    "detach": lambda x: x * x.detach() + x.detach() ** 2,
    "repeated": lambda x: torch.sin(x) * torch.sin(x) + x.sum() * x,
    "tanh net": lambda x: torch.tanh(x.reshape(3, 4) * _C.reshape(3, 4) + 0.1).sum(1),
    "matmul": lambda x: torch.cat([_W @ x, (x.reshape(3, 4) @ _W[:4, :5]).reshape(-1),
                                   torch.mv(_W, torch.sin(x)), torch.dot(x, x).reshape(1),
                                   torch.outer(x[:3], x[3:6]).reshape(-1),
                                   torch.bmm(x.reshape(2, 2, 3), x.reshape(2, 3, 2)).reshape(-1),
                                   (x.reshape(3, 4) @ x.reshape(4, 3)).reshape(-1)]),
    "addmm": lambda x: torch.cat([
        torch.addmm(x[:2].reshape(2, 1), x.reshape(2, 6), _W[:6, :3], beta=0.5,
                    alpha=2).reshape(-1),
        torch.addmv(x[:5], _W[:5], x, alpha=-1),
        torch.nn.functional.linear(x.reshape(2, 6), _W[:4, :6], _C[:4]).reshape(-1)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_propagation_matches_jacrev(name):
    f = CASES[name]
    x = point(12)
    J = ad.sparse_jacobian(f, x)
    assert J.method == "propagation"
    C = ad.sparse_jacobian(f, x, method="compressed")
    for at in (x, point(12, seed=7), point(12, seed=8, low=0.6, high=1.4)):
        dense = dense_jacobian(f, at)
        Jx = J(at)
        assert isinstance(Jx, spgrad.csr_array) and Jx.shape == dense.shape
        assert Jx.data.dtype == F64
        np.testing.assert_allclose(Jx.toarray().numpy(), dense, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(Jx.data.numpy(), C(at).data.numpy(), rtol=1e-13,
                                   atol=1e-13)


def _random_function(seed):
    """A random composition of the operations the propagation has rules for."""
    rng = np.random.default_rng(seed)
    steps = [(rng.integers(0, 14), rng.integers(0, 4), float(rng.uniform(0.5, 2)))
             for _ in range(8)]
    perm = torch.from_numpy(rng.permutation(16))
    mix = torch.from_numpy(rng.uniform(-1, 1, (16, 16)) * (rng.uniform(size=(16, 16)) < 0.2))

    def f(x):
        vals = [x, x.flip(0)]
        for op, pick, c in steps:
            a, b = vals[pick % len(vals)], vals[(pick + 1) % len(vals)]
            vals.append([
                lambda: a * b, lambda: a + c * b, lambda: torch.sin(a) - b,
                lambda: a / (1 + b * b), lambda: a.roll(int(c * 3)), lambda: a[perm],
                lambda: torch.exp(-a * a) * c, lambda: a.reshape(4, 4).sum(0).repeat(4),
                lambda: torch.cat([a[8:], b[:8]]), lambda: torch.tanh(a) * b.mean(),
                lambda: (a.reshape(4, 4) @ b.reshape(4, 4)).reshape(-1),
                lambda: mix @ a * c,
                lambda: _write_half(a, b, c), lambda: _scale_in_place(a, b, c),
            ][op]())
        return vals[-1] + 0.1 * vals[-2]
    return f


def _write_half(a, b, c):
    t = a.clone()
    t[::2] = b[1::2] * c
    return t


def _scale_in_place(a, b, c):
    t = b.clone()
    t.mul_(c)
    t[3:9] += a[:6]
    return t


@pytest.mark.parametrize("seed", range(20))
def test_random_compositions(seed):
    f = _random_function(seed)
    x = point(16, seed=seed)
    J = ad.sparse_jacobian(f, x)
    assert J.method == "propagation"
    at = point(16, seed=100 + seed)
    np.testing.assert_allclose(J(at).toarray().numpy(), dense_jacobian(f, at), rtol=1e-12,
                               atol=1e-12)


def test_float32():
    x = point(12).float()
    f = CASES["unary"]
    J = ad.sparse_jacobian(f, x)
    assert J.method == "propagation"
    Jx = J(x)
    assert Jx.data.dtype == torch.float32
    np.testing.assert_allclose(Jx.toarray().numpy(), dense_jacobian(f, x), rtol=2e-6,
                               atol=2e-6)
    # another dtype than the prepared one: the compressed products
    assert J(x.double()).data.dtype == F64


def test_numpy_point_and_one_shot():
    f = CASES["products"]
    x = point(12).numpy()
    Jx = ad.jacobian(f, x)
    assert isinstance(Jx.data, np.ndarray)
    np.testing.assert_allclose(Jx.toarray(), dense_jacobian(f, torch.from_numpy(x)),
                               rtol=1e-13)


def test_constant_and_identity_functions():
    x = point(5)
    J = ad.sparse_jacobian(lambda x: torch.ones(3, dtype=F64) * 2, x)
    assert J.nnz == 0 and J(x).toarray().shape == (3, 5)
    J = ad.sparse_jacobian(lambda x: x, x)
    assert J.method == "propagation"
    np.testing.assert_array_equal(J(point(5, seed=4)).toarray().numpy(), np.eye(5))
    J = ad.sparse_jacobian(lambda x: x.detach() * 2, x)
    assert J(x).toarray().numpy().tolist() == np.zeros((5, 5)).tolist()


def test_parameters_updated_in_place_are_seen():
    """The replay starts from the tensors f reads, so constants it derives from a parameter
    are recomputed after the parameter changes in place."""
    w = torch.linspace(0.5, 1.5, 10, dtype=F64)

    def f(x):
        scale = (w * 2).exp()  # a constant of f, derived from the parameter
        return scale * torch.sin(x) + w.roll(1) * x

    x = point(10)
    J = ad.sparse_jacobian(f, x)
    assert J.method == "propagation"
    with torch.no_grad():
        w.mul_(-0.5)
    np.testing.assert_allclose(J(x).toarray().numpy(), dense_jacobian(f, x), rtol=1e-13)


def test_values_that_require_grad_use_the_compressed_products():
    f = CASES["products"]
    J = ad.sparse_jacobian(f, point(12))
    x = point(12, seed=3).requires_grad_()
    vals = J(x).data
    assert vals.requires_grad
    assert torch.autograd.gradcheck(lambda x: J(x).data, (x,))


def _spgrad_matrix(n, seed):
    rng = np.random.default_rng(seed)
    A = scipy.sparse.random_array((n, n), density=0.3, rng=rng, format="csr")
    return spgrad.csr_array(A + scipy.sparse.eye_array(n, format="csr"))


_S = _spgrad_matrix(12, 6)
_S6 = _spgrad_matrix(6, 7)


def _spgrad_values(x):
    """A matrix whose values are a function of x: products with it are bilinear."""
    return spgrad.csr_array((x[: _S.nnz % 12 + 1].sum() * torch.from_numpy(_S.data) + 1,
                             _S.indices, _S.indptr), shape=_S.shape)


SPGRAD_CASES = {
    "A @ x": lambda x: _S @ x,
    "A.T @ f(x)": lambda x: _S.T @ torch.sin(x) + x,
    "residual": lambda x: _S @ x + (_S.T @ x ** 2) * x - 1,
    "A @ X": lambda x: (_S @ x.reshape(12, 1).expand(12, 3) * torch.arange(3.0, dtype=F64))
    .reshape(-1),
    "A(x) @ x": lambda x: _spgrad_values(x) @ torch.cos(x),
    "chained": lambda x: _S @ (_S @ x) ** 2,
}


@pytest.mark.parametrize("name", sorted(SPGRAD_CASES))
def test_spgrad_products_propagate(name):
    f = SPGRAD_CASES[name]
    x = point(12)
    J = ad.sparse_jacobian(f, x)
    assert J.method == "propagation"
    for at in (x, point(12, seed=11)):
        np.testing.assert_allclose(J(at).toarray().numpy(), dense_jacobian(f, at),
                                   rtol=1e-13, atol=1e-13)


def _sparse_sparse(x):
    """The values of an spgrad SpGEMM (the tracer has a rule, the propagation none)."""
    A = spgrad.csr_array((x[0] * torch.from_numpy(_S6.data), _S6.indices, _S6.indptr),
                         shape=_S6.shape)
    return (A @ _S6).data[:6] * x


_BUFFER = torch.zeros(12, dtype=F64)
_MASK = torch.tensor([True, False, False, True] * 3)


def _shifted(x):
    y = torch.zeros_like(x)
    y[1:] = x[:-1] ** 2
    y[0] = x[0] * x[1]
    return y


def _accumulated(x):
    y = x.clone()
    y.mul_(2)
    y[3:6] += x[:3] * x[6:9]
    return y


def _filled_empty(x):
    y = torch.empty(12, dtype=F64)
    y[:6] = x[:6]
    y[6:] = torch.sin(x[6:])
    return y * x


def _stale_view(x):
    y = x.clone()
    v = y[2:8]  # a view made before the write below, read after it
    y[4] = 0.0
    return torch.cat([v * 2, y])


def _grid(x):
    Y = x.clone().reshape(3, 4)
    Y[:, 0] = Y[:, 1] * 3 + Y[:, 2]
    Y[1] = torch.exp(Y[1])
    return Y.reshape(-1)


def _masked(x):
    y = x.clone()
    y.masked_fill_(_MASK, 2.0)
    return y * x


def _elementwise_in_place(x):
    y = x.clone()
    y.sin_()
    z = x.clone()
    z.exp_()
    return y * 3 + z * x


def _mutated_after_read(x):
    y = x.clone()
    z = torch.where(_MASK, y, 0.0)  # its derivative reads y, which changes below
    y.add_(1)
    y.mul_(2)
    return z + y


def _outside_buffer(x):
    _BUFFER.copy_(x * 2)
    return _BUFFER * x


def _index_put(x):
    return torch.zeros(12, dtype=F64).index_put_((torch.arange(11),), x[1:] ** 2)


IN_PLACE_CASES = {f.__name__.strip("_"): f for f in (
    _shifted, _accumulated, _filled_empty, _stale_view, _grid, _masked, _elementwise_in_place,
    _mutated_after_read, _outside_buffer, _index_put)}


@pytest.mark.parametrize("name", sorted(IN_PLACE_CASES))
def test_in_place_writes_propagate(name):
    f = IN_PLACE_CASES[name]
    x = point(12)
    J = ad.sparse_jacobian(f, x)
    assert J.method == "propagation"
    for at in (x, point(12, seed=13)):
        dense = torch.autograd.functional.jacobian(f, at).numpy()
        np.testing.assert_allclose(J(at).toarray().numpy(), dense, rtol=1e-13, atol=1e-13)


UNSUPPORTED = {
    "accumulating write": (lambda x: torch.zeros(6, dtype=F64).index_add_(
        0, torch.tensor([0, 0, 1, 2, 3]), x[1:] ** 2), "in-place aten.index_add_"),
    "cumsum": (lambda x: torch.cumsum(x, 0) * x, "the reduction aten.cumsum"),
    "masked factor": (lambda x: (x > 1).double().reshape(2, 3) @ x[:3], "a factor computed from "
                      "the variables"),
    "reduction": (lambda x: x.prod().reshape(1) * x, "the reduction aten.prod"),
    "sort": (lambda x: torch.sort(x)[0] * x, "the reduction aten.sort"),
    "indices from x": (lambda x: x[(x * 5).long() % 6] * x, "indices computed from "
                       "the variables"),
    "number from x": (lambda x: x[torch.argmax(x)] * x, "becomes a Python number"),
    "SpGEMM": (_sparse_sparse, "computed outside torch"),
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_operations_fall_back(name):
    f, message = UNSUPPORTED[name]
    x = point(6)
    J = ad.sparse_jacobian(f, x)
    assert J.method == "compressed"
    # at the traced point (where the pattern of the argsort case holds)
    dense = torch.autograd.functional.jacobian(f, x).numpy()
    np.testing.assert_allclose(J(x).toarray().numpy(), dense, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="method='propagation' cannot evaluate") as err:
        ad.sparse_jacobian(f, x, method="propagation")
    assert message in str(err.value)


def test_given_patterns_record_at_the_first_evaluation():
    f = CASES["products"]
    x = point(12)
    exact = ad.jacobian_pattern(f, x)
    # a superset: the extra entries are zeros
    wider = (exact.to_scipy() + scipy.sparse.eye_array(12, k=5, format="csr")).astype(bool)
    J = ad.sparse_jacobian(f, x, pattern=wider)
    assert J.method == "auto"
    Jx = J(x)
    assert J.method == "propagation" and Jx.nnz == wider.nnz
    np.testing.assert_allclose(Jx.toarray().numpy(), dense_jacobian(f, x), rtol=1e-13)
    # a pattern missing entries: those are left out, the others are exact
    narrow = scipy.sparse.csr_array(exact.to_scipy().astype(np.float64).multiply(
        np.tri(12, dtype=bool)))
    J = ad.sparse_jacobian(f, x, pattern=narrow)
    Jx = J(x)
    assert J.method == "propagation"
    dense = dense_jacobian(f, x)
    np.testing.assert_allclose(Jx.toarray().numpy(), np.tril(dense), rtol=1e-13)
    # method="compressed" never records
    J = ad.sparse_jacobian(f, x, pattern=wider, method="compressed")
    J(x)
    assert J.method == "compressed"


def test_save_and_load_record_again(tmp_path):
    f = CASES["movement"]
    x = point(12)
    J = ad.sparse_jacobian(f, x)
    J.save(tmp_path / "J.npz")
    K = ad.load(tmp_path / "J.npz", f)
    assert K.method == "auto"
    np.testing.assert_array_equal(K(x).toarray().numpy(), J(x).toarray().numpy())
    assert K.method == "propagation"
    ad.sparse_jacobian(f, x, method="compressed").save(tmp_path / "C.npz")
    C = ad.load(tmp_path / "C.npz", f)
    C(x)
    assert C.method == "compressed"


def test_bad_method():
    with pytest.raises(ValueError, match="method must be one of"):
        ad.sparse_jacobian(lambda x: x, point(3), method="dense")


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_against_numpy(dtype, index_dtype):
    """The two propagation kernels, both index widths and value types, accumulating and
    assigning, against NumPy's unbuffered ``np.add.at``."""
    from spgrad._cpu import _propagation as k

    rng = np.random.default_rng(0)
    n_out, n_in, n_w, m = 50, 40, 30, 200
    dst = rng.integers(0, n_out, m).astype(index_dtype)
    src = rng.integers(0, n_in, m).astype(index_dtype)
    pair = rng.integers(0, n_w, m).astype(index_dtype)
    vals = rng.standard_normal(n_in).astype(dtype)
    w = rng.standard_normal(n_w).astype(dtype)
    start = rng.standard_normal(n_out).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    out = start.copy()
    k.accumulate(out, dst, src, vals, dtype(1.5), False)
    expected = start.copy()
    np.add.at(expected, dst, 1.5 * vals[src])
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
    out = start.copy()
    k.accumulate_weighted(out, dst, src, vals, w, pair, dtype(-2), False)
    expected = start.copy()
    np.add.at(expected, dst, -2 * w[pair] * vals[src])
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
    # assigning: a permutation of the output
    perm = rng.permutation(n_out).astype(index_dtype)
    src = src[:n_out]
    pair = pair[:n_out]
    out = np.full(n_out, np.nan, dtype=dtype)
    k.accumulate_weighted(out, perm, src, vals, w, pair, dtype(1), True)
    expected = np.empty(n_out, dtype=dtype)
    expected[perm] = w[pair] * vals[src]
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
    out = np.full(n_out, np.nan, dtype=dtype)
    k.accumulate(out, perm, src, vals, dtype(3), True)
    expected[perm] = 3 * vals[src]
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)


def test_colouring_is_made_when_first_needed():
    """Propagation needs no colours: they are made for the compressed products (a point that
    requires grad) or when asked for."""
    f = CASES["products"]
    x = point(12)
    J = ad.sparse_jacobian(f, x)
    J(x)
    assert J._colouring is not None  # not made yet
    assert J.ncolors == ad.sparse_jacobian(f, x, method="compressed").ncolors
    assert J._colouring is None
    K = ad.sparse_jacobian(f, x)
    vals = K(x.clone().requires_grad_()).data  # compressed products: colours made here
    assert K._colouring is None and vals.requires_grad
    with pytest.raises(ValueError, match="order must be one of"):
        ad.sparse_jacobian(f, x, order="alphabetical")
