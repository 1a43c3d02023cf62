"""spgrad.ad: sparse Jacobians and Hessians against dense torch.func references, colour counts,
the prepared objects (NumPy/torch in and out, save/load, differentiable values), bad input, and
the SciPy callbacks they are made for (least_squares, minimize, solve_ivp)."""

import numpy as np
import pytest
import scipy.integrate
import scipy.optimize
import scipy.sparse

torch = pytest.importorskip("torch")

import spgrad
from spgrad import ad

F64 = torch.float64

# torch's forward-mode AD imports its jvp decompositions through torch.jit.script, which warns
# in torch 2.13; pytest turns warnings into errors
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning")


# --------------------------------------------------------------------------------------------
# the suite of functions
# --------------------------------------------------------------------------------------------

def banded(x):
    """f_i = x_{i-1}^2 + x_i x_{i+1} (zero outside): a tridiagonal Jacobian."""
    xp = torch.nn.functional.pad(x, (1, 1))
    return xp[:-2] ** 2 + xp[1:-1] * xp[2:]


def brusselator(y, alpha=0.02):
    """Right-hand side of the 2-D Brusselator on a periodic N x N grid, species blocked."""
    n = y.shape[0] // 2
    N = round(n ** 0.5)
    u, v = y[:n].reshape(N, N), y[n:].reshape(N, N)

    def lap(w):
        return (torch.roll(w, 1, 0) + torch.roll(w, -1, 0) + torch.roll(w, 1, 1)
                + torch.roll(w, -1, 1) - 4 * w) * (N - 1) ** 2

    uuv = u * u * v
    du = 1 + uuv - 4.4 * u + alpha * lap(u)
    dv = 3.4 * u - uuv + alpha * lap(v)
    return torch.cat([du.reshape(-1), dv.reshape(-1)])


def bratu(u, lam=1.0):
    """Residual of the 2-D Bratu problem -Δu = λ e^u on the unit square, u = 0 on the boundary."""
    N = round(u.shape[0] ** 0.5)
    h2 = 1.0 / (N + 1) ** 2
    U = torch.nn.functional.pad(u.reshape(N, N), (1, 1, 1, 1))
    lap = U[:-2, 1:-1] + U[2:, 1:-1] + U[1:-1, :-2] + U[1:-1, 2:] - 4 * U[1:-1, 1:-1]
    return (lap / h2 + lam * torch.exp(U[1:-1, 1:-1])).reshape(-1)


def rosenbrock(x):
    """Chained Rosenbrock: a tridiagonal Hessian."""
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def arrowhead(x):
    """x_0 Σ x_i^2 + Σ x_i^4: diagonal plus a full first row and column."""
    return x[0] * (x ** 2).sum() + (x ** 4).sum()


def _sparse_operator(n, seed=0):
    rng = np.random.default_rng(seed)
    A = scipy.sparse.random_array((n, n), density=3.0 / n, rng=rng, format="csr")
    return spgrad.csr_array(A + scipy.sparse.eye_array(n, format="csr"))


def with_spgrad(n):
    """A function using spgrad's sparse @."""
    A = _sparse_operator(n)

    def f(x):
        return A @ x + (A.T @ x ** 2) * x
    return f


def dense_jacobian(f, x):
    return torch.func.jacrev(f)(x).detach().numpy()


def dense_hessian(f, x):
    return torch.func.hessian(f)(x).detach().numpy()


def point(n, seed=1):
    return torch.from_numpy(np.random.default_rng(seed).uniform(0.5, 1.5, n))


JACOBIAN_CASES = {
    "banded": (banded, 40),
    "brusselator": (brusselator, 2 * 36),
    "bratu": (bratu, 49),
    "spgrad": (with_spgrad(30), 30),
}


# --------------------------------------------------------------------------------------------
# correctness against dense references
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["auto", "compressed"])
@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
@pytest.mark.parametrize("name", sorted(JACOBIAN_CASES))
def test_jacobian_matches_jacrev(name, mode, method):
    f, n = JACOBIAN_CASES[name]
    x = point(n)
    J = ad.sparse_jacobian(f, x, mode=mode, method=method)
    assert J.method == ("compressed" if method == "compressed" else "propagation")
    dense = dense_jacobian(f, x)
    # the detected pattern holds every nonzero of the dense Jacobian
    assert not np.any((dense != 0) & ~J.pattern.toarray())
    for at in (x, point(n, seed=7)):
        Jx = J(at)
        assert isinstance(Jx, spgrad.csr_array) and Jx.shape == dense.shape
        np.testing.assert_allclose(Jx.toarray().numpy(), dense_jacobian(f, at), rtol=1e-12,
                                   atol=1e-12)


@pytest.mark.parametrize("f", [rosenbrock, arrowhead], ids=["rosenbrock", "arrowhead"])
def test_hessian_matches_torch_hessian(f):
    n = 25
    x = point(n)
    H = ad.sparse_hessian(f, x)
    dense = dense_hessian(f, x)
    assert not np.any((dense != 0) & ~H.pattern.toarray())
    for at in (x, point(n, seed=3)):
        np.testing.assert_allclose(H(at).toarray().numpy(), dense_hessian(f, at), rtol=1e-12,
                                   atol=1e-10)


def test_hessian_through_spgrad_operations():
    n = 30
    A = _sparse_operator(n, seed=4)

    def energy(x):  # x^T A x / 2 + Σ cos(x): Hessian (A + Aᵀ)/2 - diag(cos x)
        return 0.5 * (x * (A @ x)).sum() + torch.cos(x).sum()

    x = point(n)
    H = ad.sparse_hessian(energy, x)
    np.testing.assert_allclose(H(x).toarray().numpy(), dense_hessian(energy, x), atol=1e-12)
    assert H._batched is True  # spgrad's products have vmap rules


class _Cube(torch.autograd.Function):
    """x³ computed in NumPy, with backward and jvp but no batching rule."""

    @staticmethod
    def forward(x):
        return torch.from_numpy(x.detach().numpy() ** 3)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * g

    @staticmethod
    def jvp(ctx, dx):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * dx


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_functions_vmap_cannot_batch(mode):
    """A Function without a batching rule: vmap (forward mode, Hessians) cannot run it, so the
    products run in a loop; torch's batched backward pass (reverse mode) runs its backward
    formula on the batch. The tracer has no rule for it, so the pattern is given."""
    n = 12

    def f(x):
        return _Cube.apply(x[1:] * x[:-1])

    x = point(n)
    bidiagonal = np.eye(n - 1, n) + np.eye(n - 1, n, 1)
    J = ad.sparse_jacobian(f, x, pattern=bidiagonal, mode=mode)
    np.testing.assert_allclose(J(x).toarray().numpy(),
                               torch.autograd.functional.jacobian(f, x).numpy(), atol=1e-13)
    assert J._batched is (mode == "reverse") and J.method == "compressed"
    H = ad.sparse_hessian(lambda x: f(x).sum(), x, pattern=np.ones((n, n)))
    np.testing.assert_allclose(H(x).toarray().numpy(),
                               torch.autograd.functional.hessian(lambda x: f(x).sum(),
                                                                 x).numpy(), atol=1e-12)
    assert H._batched is False


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_functions_calling_spsolve(mode):
    """spsolve's Function batches right-hand sides (forward mode and Hessians run vmap over
    it); torch's batched backward pass (reverse mode) does not use batching rules, so reverse
    mode loops. The tracer has no rule for SuperLU, so the pattern is given."""
    from spgrad.linalg import spsolve

    n = 12
    L = spgrad.csc_array(scipy.sparse.diags_array([np.full(n, 3.0), np.ones(n - 1)],
                                                  offsets=[0, -1]))

    def f(x):
        return spsolve(L, x ** 2)

    x = point(n)
    lower = np.tril(np.ones((n, n)))
    J = ad.sparse_jacobian(f, x, pattern=lower, mode=mode)
    np.testing.assert_allclose(J(x).toarray().numpy(),
                               torch.autograd.functional.jacobian(f, x).numpy(), atol=1e-14)
    assert J._batched is (mode == "forward")
    H = ad.sparse_hessian(lambda x: f(x).sum(), x, pattern=np.eye(n))
    np.testing.assert_allclose(H(x).toarray().numpy(),
                               torch.autograd.functional.hessian(lambda x: f(x).sum(),
                                                                 x).numpy(), atol=1e-14)
    assert H._batched is True


def test_batched_and_loop_agree():
    x = point(40)
    J = ad.sparse_jacobian(banded, x, method="compressed")
    batched = J(x).toarray().numpy()
    assert J._batched is True
    J._batched = False
    np.testing.assert_array_equal(J(x).toarray().numpy(), batched)


# --------------------------------------------------------------------------------------------
# colours: independent of n
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [60, 600])
def test_banded_takes_three_colours(n):
    J = ad.sparse_jacobian(banded, point(n))
    assert J.ncolors == 3


@pytest.mark.parametrize("N", [8, 20])
def test_brusselator_takes_at_most_twelve_colours(N):
    J = ad.sparse_jacobian(brusselator, point(2 * N * N), order="best")
    assert J.ncolors <= 12


@pytest.mark.parametrize("n", [50, 500])
def test_star_colour_counts(n):
    assert ad.sparse_hessian(rosenbrock, point(n)).ncolors == 3
    assert ad.sparse_hessian(arrowhead, point(n)).ncolors == 2


# --------------------------------------------------------------------------------------------
# the prepared objects
# --------------------------------------------------------------------------------------------

def test_numpy_in_numpy_out_and_scipy():
    n = 20
    J = ad.sparse_jacobian(banded, np.ones(n))
    Jx = J(np.linspace(0, 1, n))
    assert isinstance(Jx.data, np.ndarray) and Jx.dtype == np.float64
    S = J.scipy(np.linspace(0, 1, n))
    assert isinstance(S, scipy.sparse.csr_array)
    np.testing.assert_array_equal(S.toarray(), Jx.toarray())
    np.testing.assert_allclose(S.toarray(), dense_jacobian(banded, torch.linspace(0, 1, n,
                                                                                   dtype=F64)))


def test_float32_evaluation():
    x = point(30).float()
    J = ad.sparse_jacobian(banded, x)
    Jx = J(x)
    assert Jx.data.dtype == torch.float32
    np.testing.assert_allclose(Jx.toarray().numpy(), dense_jacobian(banded, x), rtol=1e-6)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_values_are_differentiable(mode):
    """J(x).data depends on x through autograd when x requires grad: second derivatives."""
    n = 12
    J = ad.sparse_jacobian(banded, point(n), mode=mode)

    def values(x):
        return J(x).data

    x = point(n, seed=5).requires_grad_()
    assert values(x).requires_grad
    assert torch.autograd.gradcheck(values, (x,))


def test_hessian_values_are_differentiable():
    n = 10
    H = ad.sparse_hessian(arrowhead, point(n))
    assert torch.autograd.gradcheck(lambda x: H(x).data, (point(n, seed=2).requires_grad_(),))


def test_user_pattern_and_colours():
    n = 30
    x = point(n)
    tri = scipy.sparse.diags_array([1.0, 1.0, 1.0], offsets=[-1, 0, 1], shape=(n, n)).tocsr()
    J = ad.sparse_jacobian(banded, x, pattern=tri, mode="forward",
                           colors=np.arange(n) % 3)
    np.testing.assert_allclose(J(x).toarray().numpy(), dense_jacobian(banded, x))
    with pytest.raises(ValueError, match="not a valid column colouring"):
        ad.sparse_jacobian(banded, x, pattern=tri, mode="forward", colors=np.arange(n) % 2)
    with pytest.raises(ValueError, match="colors= needs mode"):
        ad.sparse_jacobian(banded, x, pattern=tri, colors=np.arange(n) % 3)
    with pytest.raises(ValueError, match="pattern has shape"):
        ad.sparse_jacobian(banded, x, pattern=tri[:-1])
    with pytest.raises(ValueError, match="not a star colouring"):
        ad.sparse_hessian(rosenbrock, x, pattern=tri, colors=np.arange(n) % 2)


@pytest.mark.parametrize("kind", ["jacobian", "hessian"])
def test_save_and_load(kind, tmp_path):
    n = 40
    x = point(n)
    f, prepare = (banded, ad.sparse_jacobian) if kind == "jacobian" else \
        (rosenbrock, ad.sparse_hessian)
    P = prepare(f, x)
    P.save(tmp_path / "prepared.npz")
    Q = ad.load(tmp_path / "prepared.npz", f)
    assert type(Q) is type(P) and Q.ncolors == P.ncolors and Q.mode == P.mode
    np.testing.assert_array_equal(Q(x).toarray().numpy(), P(x).toarray().numpy())
    np.savez(tmp_path / "other.npz", a=np.ones(3))
    with pytest.raises(ValueError, match="not a file saved by"):
        ad.load(tmp_path / "other.npz", f)


def test_one_shot_forms():
    x = point(20)
    np.testing.assert_allclose(ad.jacobian(banded, x).toarray().numpy(),
                               dense_jacobian(banded, x))
    np.testing.assert_allclose(ad.hessian(rosenbrock, x).toarray().numpy(),
                               dense_hessian(rosenbrock, x))


def test_repr():
    J = ad.sparse_jacobian(banded, point(10))
    assert repr(J) == ("<SparseJacobian of shape (10, 10) with 27 stored entries, 3 colours, "
                       "mode='reverse', method='propagation'>")


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------

def test_bad_input():
    x = point(10)
    with pytest.raises(TypeError, match="f must be callable"):
        ad.sparse_jacobian(3, x)
    with pytest.raises(ValueError, match="must be 1-D"):
        ad.sparse_jacobian(banded, x.reshape(2, 5))
    with pytest.raises(TypeError, match="real floating"):
        ad.sparse_jacobian(banded, x.to(torch.complex128))
    with pytest.raises(ValueError, match="mode must be one of"):
        ad.sparse_jacobian(banded, x, mode="sideways")
    J = ad.sparse_jacobian(banded, x)
    with pytest.raises(ValueError, match="x has 11 entries"):
        J(point(11))
    before = x.clone()
    J(x)
    assert torch.equal(x, before)  # the point is not modified


def test_output_shape_checked_at_evaluation(tmp_path):
    J = ad.sparse_jacobian(banded, point(10), mode="reverse")
    J.save(tmp_path / "J.npz")
    wrong = ad.load(tmp_path / "J.npz", lambda x: x[:-1] * 2)
    with pytest.raises(ValueError, match="expected \\(10,\\)"):
        wrong(point(10))


# --------------------------------------------------------------------------------------------
# the SciPy callbacks
# --------------------------------------------------------------------------------------------

def test_least_squares_with_sparse_jacobian():
    N = 12
    f = bratu
    J = ad.sparse_jacobian(f, np.zeros(N * N))

    def fun(u):
        return f(torch.from_numpy(u)).numpy()

    sol = scipy.optimize.least_squares(fun, np.zeros(N * N), jac=J.scipy, method="trf",
                                       tr_solver="lsmr")
    ref = scipy.optimize.least_squares(fun, np.zeros(N * N), method="trf",
                                       jac_sparsity=J.pattern.to_scipy(), tr_solver="lsmr")
    assert sol.success and np.abs(sol.fun).max() < 1e-8
    np.testing.assert_allclose(sol.x, ref.x, atol=1e-6)
    assert sol.njev < sol.nfev + 1


@pytest.mark.parametrize("method", ["trust-constr", "Newton-CG"])
def test_minimize_with_sparse_hessian(method):
    n = 200
    H = ad.sparse_hessian(rosenbrock, np.zeros(n))

    def fun(x):
        return float(rosenbrock(torch.from_numpy(x)))

    def grad(x):
        return torch.func.grad(rosenbrock)(torch.from_numpy(x)).numpy()

    x0 = np.full(n, 0.5)
    options = {"gtol": 1e-8} if method == "trust-constr" else {"xtol": 1e-10}
    sol = scipy.optimize.minimize(fun, x0, jac=grad, hess=H.scipy, method=method,
                                  options=options)
    np.testing.assert_allclose(sol.x, np.ones(n), atol=1e-5)


def test_solve_ivp_with_sparse_jacobian():
    N = 6
    y0 = np.concatenate([1 + np.sin(2 * np.pi * np.arange(N * N) / (N * N)),
                         np.full(N * N, 3.0)])
    J = ad.sparse_jacobian(brusselator, y0)

    def rhs(t, y):
        return brusselator(torch.from_numpy(y)).numpy()

    sol = scipy.integrate.solve_ivp(rhs, (0, 1.0), y0, method="BDF",
                                    jac=lambda t, y: J.scipy(y), rtol=1e-8, atol=1e-10)
    ref = scipy.integrate.solve_ivp(rhs, (0, 1.0), y0, method="BDF", rtol=1e-8, atol=1e-10,
                                    jac_sparsity=J.pattern.to_scipy())
    assert sol.success
    np.testing.assert_allclose(sol.y[:, -1], ref.y[:, -1], rtol=1e-5)

