"""Iterative solvers of ``spgrad.linalg``: SciPy parity in plain mode, implicit and unrolled
gradients in differentiable mode.

Gradient tests use a NONSYMMETRIC matrix for every method that allows one, so a backward pass
that solved with ``A`` instead of ``Aᴴ`` fails the dense-reference comparison; symmetric methods
(cg, minres) get ``A = B + Bᵀ + c I`` built differentiably from ``B``'s values, so finite
differences stay symmetric.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sps
import scipy.sparse.linalg as sla

torch = pytest.importorskip("torch")
pyamg = pytest.importorskip("pyamg")

import spgrad as sp
from spgrad import linalg as L

F64 = torch.float64
SQUARE = ["cg", "bicg", "bicgstab", "cgs", "gmres", "lgmres", "minres", "qmr", "gcrotmk",
          "tfqmr"]
HERMITIAN = {"cg", "minres"}


def _nonsymmetric(n=12, seed=0, density=0.3, shift=4.0):
    S = sps.random_array((n, n), density=density, rng=seed, format="csr")
    return (S + shift * sps.eye_array(n)).tocsr()


def _spd(n=12, seed=0, density=0.3):
    S = sps.random_array((n, n), density=density, rng=seed, format="csr")
    return (S + S.T + 4.0 * sps.eye_array(n)).tocsr()


def _matrix_for(name, n=12, seed=0):
    return _spd(n, seed) if name in HERMITIAN else _nonsymmetric(n, seed)


def _rhs(n, seed=1):
    return np.random.default_rng(seed).standard_normal(n)


def _call(fn, name, A, b, **kw):
    if name == "gmres" and kw.get("callback") is not None:
        kw.setdefault("callback_type", "x")
    return fn(A, b, **kw)


def _assert_same(res, ref):
    assert type(res) is type(ref)
    assert len(res) == len(ref)
    np.testing.assert_array_equal(res[0], ref[0])
    assert res[0].dtype == ref[0].dtype
    for r, e in zip(res[1:], ref[1:]):
        np.testing.assert_array_equal(r, e)


# -- plain mode -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SQUARE)
@pytest.mark.parametrize("family", ["array", "matrix"])
def test_plain_parity_random(name, family):
    S = _matrix_for(name)
    A = sp.csr_array(S) if family == "array" else sp.csr_matrix(S)
    b = _rhs(S.shape[0])
    _assert_same(getattr(L, name)(A, b), getattr(sla, name)(S, b))


@pytest.mark.parametrize("example, name", [
    (e, m) for e in ["airfoil", "bar", "knot", "recirc_flow"] for m in SQUARE
    if not (e == "recirc_flow" and m in HERMITIAN)  # recirc_flow is nonsymmetric
])
def test_plain_parity_pyamg(example, name):
    S = pyamg.gallery.load_example(example)["A"]
    b = _rhs(S.shape[0], 3)
    kw = {"maxiter": 15}
    res = getattr(L, name)(sp.csc_array(S), b, **kw)
    _assert_same(res, getattr(sla, name)(S, b, **kw))


@pytest.mark.parametrize("name", SQUARE)
def test_plain_x0_M_callback_maxiter(name):
    S = _matrix_for(name)
    n = S.shape[0]
    b, x0 = _rhs(n), _rhs(n, 7)
    M = sps.diags_array(1.0 / S.diagonal()).tocsr()
    got, want = [], []
    prec = {"M": M}
    if name == "qmr":  # SciPy's qmr takes LinearOperators
        prec = {"M1": sla.aslinearoperator(M), "M2": sla.aslinearoperator(2 * M)}
    small = {"gmres": {"restart": 2}, "lgmres": {"inner_m": 2}, "gcrotmk": {"m": 2}}
    kw = dict(maxiter=2, callback=lambda x: got.append(np.array(x)), **prec,
              **small.get(name, {}))
    res = _call(getattr(L, name), name, sp.csr_array(S), b,
                **dict(kw, x0=x0, **{k: v if name == "qmr" else sp.csr_array(v)
                                     for k, v in prec.items()}))
    kw["callback"] = lambda x: want.append(np.array(x))
    ref = _call(getattr(sla, name), name, S, b, **dict(kw, x0=x0))
    _assert_same(res, ref)
    assert res[1] > 0  # maxiter hit: info > 0, no exception
    assert len(got) == len(want) > 0
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_plain_gmres_callback_types_and_warning():
    S = _nonsymmetric()
    b = _rhs(12)
    for ct in ("x", "pr_norm", "legacy"):
        got, want = [], []
        r = L.gmres(sp.csr_array(S), b, restart=3, maxiter=4, callback=got.append,
                    callback_type=ct)
        e = sla.gmres(S, b, restart=3, maxiter=4, callback=want.append, callback_type=ct)
        _assert_same(r, e)
        np.testing.assert_array_equal(np.array(got), np.array(want))
    with pytest.warns(DeprecationWarning, match="callback_type"):
        L.gmres(sp.csr_array(S), b, callback=lambda r: None)


@pytest.mark.parametrize("name", ["lsqr", "lsmr"])
def test_plain_least_squares(name):
    S = sps.random_array((15, 8), density=0.4, rng=2, format="csr") + sps.eye_array(15, 8)
    b = _rhs(15)
    kw = {"damp": 0.1, "x0": _rhs(8, 4)}
    _assert_same(getattr(L, name)(sp.csr_array(S), b, **kw), getattr(sla, name)(S, b, **kw))


@pytest.mark.parametrize("name", SQUARE)
def test_plain_linear_operators(name):
    S = _matrix_for(name)
    b = _rhs(12)
    ref = getattr(sla, name)(S, b)
    _assert_same(getattr(L, name)(L.aslinearoperator(sp.csr_array(S)), b), ref)
    _assert_same(getattr(L, name)(sla.aslinearoperator(S), b), ref)


@pytest.mark.parametrize("name", SQUARE + ["lsqr", "lsmr"])
def test_plain_inputs_not_mutated(name):
    S = _matrix_for(name)
    A = sp.csr_array(S)
    b, x0 = _rhs(12), _rhs(12, 5)
    copies = [A.data.copy(), A.indices.copy(), A.indptr.copy(), b.copy(), x0.copy()]
    getattr(L, name)(A, b, x0=x0, maxiter=3) if name != "lsqr" else \
        L.lsqr(A, b, x0=x0, iter_lim=3)
    for before, after in zip(copies, [A.data, A.indices, A.indptr, b, x0]):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("name", SQUARE)
def test_bad_input(name):
    fn = getattr(L, name)
    S = _matrix_for(name)
    with pytest.raises(ValueError, match="square"):
        fn(sp.csr_array(sps.random_array((4, 5), density=0.5, rng=0)), np.ones(4))
    with pytest.raises(ValueError, match="incompatible"):
        fn(sp.csr_array(S), np.ones(5))
    with pytest.raises(ValueError, match="square"):
        fn(sp.csr_array(sps.random_array((4, 5), density=0.5, rng=0)).requires_grad_(),
           torch.ones(4, dtype=F64))
    with pytest.raises(ValueError, match="incompatible"):
        fn(sp.csr_array(S).requires_grad_(), torch.ones(5, dtype=F64))
    with pytest.raises(ValueError, match="grad"):
        fn(sp.csr_array(S), np.ones(12), grad="adjoint")


@pytest.mark.parametrize("name", SQUARE)
def test_nan_in_b_matches_scipy(name):
    S = _matrix_for(name)
    b = _rhs(12)
    b[3] = np.nan
    with warnings.catch_warnings():
        # SciPy's own arithmetic on NaNs may warn; the comparison is the point here
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            ref = getattr(sla, name)(S, b, maxiter=5)
        except ValueError as e:  # lgmres, gcrotmk check the right-hand side
            with pytest.raises(ValueError, match=str(e)):
                getattr(L, name)(sp.csr_array(S), b, maxiter=5)
            return
        res = getattr(L, name)(sp.csr_array(S), b, maxiter=5)
    np.testing.assert_array_equal(res[0], ref[0])
    assert res[1] == ref[1] > 0


# -- implicit gradients -----------------------------------------------------------------------


def _symmetric_from(v, B, c=4.0):
    """``Bv + Bvᵀ + c I`` for values ``v`` on B's pattern, built with differentiable ops."""
    Bv = sp.csr_array((v, B.indices, B.indptr), shape=B.shape)
    return Bv + Bv.T + c * sp.eye_array(B.shape[0])


def _dense_symmetric(v, B, c=4.0):
    r, col = B.nonzero()
    D = torch.zeros(B.shape, dtype=F64).index_put((torch.from_numpy(r), torch.from_numpy(col)),
                                                  v)
    return D + D.T + c * torch.eye(B.shape[0], dtype=F64)


def _dense_of(v, S):
    r, col = S.nonzero()
    return torch.zeros(S.shape, dtype=F64).index_put((torch.from_numpy(r),
                                                      torch.from_numpy(col)), v)


def _system(name, n=10, seed=0, density=0.3):
    """``(make_A(v), make_dense(v), v0)`` for a differentiable system suiting ``name``."""
    if name in HERMITIAN:
        B = sps.random_array((n, n), density=0.3, rng=seed, format="csr")
        B.sort_indices()
        return (lambda v: _symmetric_from(v, B), lambda v: _dense_symmetric(v, B),
                torch.tensor(B.data, dtype=F64))
    S = _nonsymmetric(n, seed, density=density, shift=3.0)
    S.sort_indices()
    return (lambda v: sp.csr_array((v, S.indices, S.indptr), shape=S.shape),
            lambda v: _dense_of(v, S), torch.tensor(S.data, dtype=F64))


TIGHT = {"rtol": 1e-12, "atol": 1e-14}


def _tight(name):
    return {"rtol": 1e-13} if name == "minres" else dict(TIGHT)


@pytest.mark.parametrize("name", SQUARE)
def test_implicit_gradient_matches_dense(name):
    make, dense, v0 = _system(name)
    n = 10
    v = v0.clone().requires_grad_()
    b = torch.tensor(_rhs(n), dtype=F64, requires_grad=True)
    w = torch.linspace(-1, 2, n, dtype=F64)
    x, info = getattr(L, name)(make(v), b, **_tight(name))
    assert info == 0 and isinstance(x, torch.Tensor)
    gv, gb = torch.autograd.grad((x * w).sum(), (v, b))
    v2 = v0.clone().requires_grad_()
    b2 = b.detach().clone().requires_grad_()
    x2 = torch.linalg.solve(dense(v2), b2)
    rv, rb = torch.autograd.grad((x2 * w).sum(), (v2, b2))
    np.testing.assert_allclose(x.detach().numpy(), x2.detach().numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(gb.numpy(), rb.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gv.numpy(), rv.numpy(), rtol=1e-8, atol=1e-10)
    if name not in HERMITIAN:
        # the test has power: a backward that solved with A instead of Aᵀ would be far off
        wrong = torch.linalg.solve(dense(v0), w)
        assert (wrong - rb).abs().max() > 1e-2


def test_implicit_forward_is_plain_forward():
    S = _nonsymmetric()
    b = _rhs(12)
    x, info = L.gmres(sp.csr_array(S).requires_grad_(), torch.tensor(b), maxiter=2, restart=3)
    x_ref, info_ref = sla.gmres(S, b, maxiter=2, restart=3)
    np.testing.assert_array_equal(x.detach().numpy(), x_ref)
    assert info == info_ref > 0


@pytest.mark.parametrize("name", ["cg", "minres", "gmres", "bicgstab"])
def test_implicit_gradcheck(name):
    # density 0.7: SciPy's bicgstab breaks down (info -10) on sparser 7×7 systems for some
    # unit right-hand sides, which is what gradcheck's backward passes solve
    make, _, v0 = _system(name, n=7, seed=3, density=0.7)
    b = torch.tensor(_rhs(7, 2), dtype=F64, requires_grad=True)
    v = v0.clone().requires_grad_()
    kw = _tight(name)

    def f(v, b):
        return getattr(L, name)(make(v), b, **kw)[0]

    assert torch.autograd.gradcheck(f, (v, b))


@pytest.mark.parametrize("name", ["cg", "gmres"])
def test_implicit_gradgradcheck(name):
    make, _, v0 = _system(name, n=6, seed=4)
    b = torch.tensor(_rhs(6, 2), dtype=F64, requires_grad=True)
    v = v0.clone().requires_grad_()
    kw = _tight(name)

    def f(v, b):
        return getattr(L, name)(make(v), b, **kw)[0]

    assert torch.autograd.gradgradcheck(f, (v, b))


# torch's forward-mode AD imports its jvp decompositions through torch.jit.script, which warns
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_implicit_forward_mode_matches_dense():
    make, dense, v0 = _system("gmres", n=8, seed=5)
    b = torch.tensor(_rhs(8), dtype=F64)
    dv = torch.randn(v0.shape, dtype=F64, generator=torch.Generator().manual_seed(0))
    db = torch.randn(8, dtype=F64, generator=torch.Generator().manual_seed(1))
    with torch.autograd.forward_ad.dual_level():
        fv = torch.autograd.forward_ad.make_dual(v0, dv)
        fb = torch.autograd.forward_ad.make_dual(b, db)
        x, _ = L.gmres(make(fv), fb, **TIGHT)
        tangent = torch.autograd.forward_ad.unpack_dual(x).tangent
    # dx = A⁻¹ (db − dA x)
    D = dense(v0)
    x_ref = torch.linalg.solve(D, b)
    ref = torch.linalg.solve(D, db - dense(dv) @ x_ref)
    np.testing.assert_allclose(tangent.numpy(), ref.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", ["gmres", "bicgstab", "cg"])
def test_implicit_operator_parameters(name):
    # a LinearOperator whose matvec is differentiable in a dense parameter D
    n = 8
    S = _matrix_for(name, n, 6).toarray()
    D = torch.tensor(S, requires_grad=True)
    op = L.LinearOperator((n, n), matvec=lambda v: D @ v, rmatvec=lambda v: D.T @ v,
                          dtype=np.float64)
    b = torch.tensor(_rhs(n), dtype=F64, requires_grad=True)
    w = torch.linspace(1, 3, n, dtype=F64)
    x, info = getattr(L, name)(op, b, **TIGHT)
    assert info == 0
    gD, gb = torch.autograd.grad((x * w).sum(), (D, b))
    D2 = D.detach().clone().requires_grad_()
    b2 = b.detach().clone().requires_grad_()
    rD, rb = torch.autograd.grad((torch.linalg.solve(D2, b2) * w).sum(), (D2, b2))
    np.testing.assert_allclose(gb.numpy(), rb.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gD.numpy(), rD.numpy(), rtol=1e-8, atol=1e-10)


def test_implicit_operator_without_rmatvec_uses_vjp():
    n = 8
    S = _nonsymmetric(n, 8).toarray()
    D = torch.tensor(S, requires_grad=True)
    op = L.LinearOperator((n, n), matvec=lambda v: D @ v, dtype=np.float64)
    b = torch.tensor(_rhs(n), dtype=F64, requires_grad=True)
    x, _ = L.bicgstab(op, b, **TIGHT)
    (gb,) = torch.autograd.grad(x.sum(), (b,))
    ref = torch.linalg.solve(D.detach().T, torch.ones(n, dtype=F64))
    np.testing.assert_allclose(gb.numpy(), ref.numpy(), rtol=1e-8, atol=1e-10)


def test_implicit_constant_A_tensor_b_and_x0_gets_no_gradient():
    S = _nonsymmetric(10, 9)
    b = torch.tensor(_rhs(10), dtype=F64, requires_grad=True)
    x0 = torch.tensor(_rhs(10, 3), dtype=F64, requires_grad=True)
    b_copy, x0_copy = b.detach().clone(), x0.detach().clone()
    x, _ = L.gmres(S, b, x0=x0, **TIGHT)
    gb, gx0 = torch.autograd.grad(x.sum(), (b, x0), allow_unused=True)
    ref = np.linalg.solve(S.toarray().T, np.ones(10))
    np.testing.assert_allclose(gb.numpy(), ref, rtol=1e-8)
    assert gx0 is None
    assert torch.equal(b.detach(), b_copy) and torch.equal(x0.detach(), x0_copy)


def test_implicit_preconditioner_and_qmr_split():
    make, dense, v0 = _system("qmr", n=9, seed=10)
    A = make(v0.clone().requires_grad_())
    # SciPy's qmr takes its split preconditioners as LinearOperators
    M1 = L.aslinearoperator(sp.csr_array(sps.diags_array(np.linspace(0.2, 0.4, 9))))
    M2 = sla.aslinearoperator(sps.diags_array(np.linspace(1.0, 2.0, 9)))
    b = torch.tensor(_rhs(9), dtype=F64)
    x, info = L.qmr(A, b, M1=M1, M2=M2, **TIGHT)
    assert info == 0
    (gv,) = torch.autograd.grad(x.sum(), (A.data,))
    v2 = v0.clone().requires_grad_()
    (rv,) = torch.autograd.grad(torch.linalg.solve(dense(v2), b).sum(), (v2,))
    np.testing.assert_allclose(gv.numpy(), rv.numpy(), rtol=1e-8, atol=1e-10)


def test_implicit_adjoint_nonconvergence_warns():
    make, _, v0 = _system("gmres", n=10, seed=11)
    v = v0.clone().requires_grad_()
    x, info = L.gmres(make(v), torch.tensor(_rhs(10), dtype=F64), restart=2, maxiter=1)
    assert info > 0
    with pytest.warns(RuntimeWarning, match="did not converge"):
        x.sum().backward()


def _tall(m=9, n=5, seed=2):
    S = (sps.random_array((m, n), density=0.5, rng=seed, format="csr")
         + sps.eye_array(m, n)).tocsr()
    S.sort_indices()
    return S


LS_TIGHT = {"atol": 1e-14, "btol": 1e-14, "conlim": 1e12}


@pytest.mark.parametrize("name", ["lsqr", "lsmr"])
@pytest.mark.parametrize("damp", [0.0, 0.5])
def test_least_squares_gradcheck(name, damp):
    S = _tall()
    b = torch.tensor(_rhs(9), dtype=F64, requires_grad=True)
    x0 = torch.tensor(_rhs(5, 3), dtype=F64, requires_grad=True) if damp else None
    v = torch.tensor(S.data, dtype=F64, requires_grad=True)

    def f(v, b, x0):
        A = sp.csr_array((v, S.indices, S.indptr), shape=S.shape)
        return getattr(L, name)(A, b, damp=damp, x0=x0, **LS_TIGHT)[0]

    assert torch.autograd.gradcheck(f, (v, b, x0))


@pytest.mark.parametrize("name", ["lsqr", "lsmr"])
def test_least_squares_gradient_matches_dense(name):
    S = _tall(12, 6, 5)
    v = torch.tensor(S.data, dtype=F64, requires_grad=True)
    b = torch.tensor(_rhs(12), dtype=F64, requires_grad=True)
    w = torch.linspace(-1, 1, 6, dtype=F64)
    res = getattr(L, name)(sp.csr_array((v, S.indices, S.indptr), shape=S.shape), b,
                           **LS_TIGHT)
    ref = getattr(sla, name)(S, b.detach().numpy(), **LS_TIGHT)
    np.testing.assert_array_equal(res[0].detach().numpy(), ref[0])
    assert len(res) == len(ref) and res[1:3] == ref[1:3]
    gv, gb = torch.autograd.grad((res[0] * w).sum(), (v, b))
    v2, b2 = v.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
    x2 = torch.linalg.lstsq(_dense_of(v2, S), b2[:, None]).solution[:, 0]
    rv, rb = torch.autograd.grad((x2 * w).sum(), (v2, b2))
    np.testing.assert_allclose(gb.numpy(), rb.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gv.numpy(), rv.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", ["lsqr", "lsmr"])
@pytest.mark.parametrize("kw", [{}, {"damp": 0.3}, {"damp": 0.3, "x0": "x0"}, {"limit": 3},
                                {"calc_var": True}, {"atol": 1e-10, "btol": 1e-10},
                                {"conlim": 10.0}, {"zero_b": True}])
def test_unrolled_least_squares_match_scipy(name, kw):
    """lsqr and lsmr with ``grad="unroll"`` run SciPy's iterations in torch: the same ``x``
    (lsqr: and ``var``) and estimates (to rounding: the iterations amplify the last bits),
    the same ``istop`` and iteration count; on a tall and a square system, through a
    LinearOperator and a dense tensor too."""
    S = _tall(14, 6, 8)
    kw = dict(kw)
    if "limit" in kw:
        kw["iter_lim" if name == "lsqr" else "maxiter"] = kw.pop("limit")
    if kw.pop("calc_var", False) and name == "lsqr":
        kw["calc_var"] = True
    zero_b = kw.pop("zero_b", False)
    for A, ref in ((sp.csr_array(S).requires_grad_(), S),
                   (L.aslinearoperator(sp.csr_array(S)), S),
                   (torch.tensor(S.toarray()), S),
                   (sp.csr_array(_nonsymmetric()).requires_grad_(), _nonsymmetric())):
        b = np.zeros(ref.shape[0]) if zero_b else _rhs(ref.shape[0])
        if "x0" in kw:
            kw["x0"] = _rhs(ref.shape[1], 4)
        got = getattr(L, name)(A, torch.tensor(b), grad="unroll", **kw)
        want = getattr(sla, name)(ref, b, **kw)
        assert len(got) == len(want) and got[1:3] == want[1:3]
        np.testing.assert_allclose(got[0].detach().numpy(), want[0], rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(got[3:9], want[3:9], rtol=1e-6, atol=1e-12)
        if name == "lsqr":
            np.testing.assert_allclose(got[9].detach().numpy(), want[9], rtol=1e-6,
                                       atol=1e-12)


@pytest.mark.parametrize("name", ["lsqr", "lsmr"])
def test_unrolled_least_squares_gradients(name):
    """The unrolled solvers' gradients: gradcheck in A's values, b and x0 (damped), and those
    of the same iterations on the dense matrix, restricted to the pattern."""
    S = _tall(10, 5, 9)
    v0 = torch.tensor(S.data, dtype=F64)
    b = torch.tensor(_rhs(10), dtype=F64, requires_grad=True)
    x0 = torch.tensor(_rhs(5, 2), dtype=F64, requires_grad=True)

    limit = {"iter_lim" if name == "lsqr" else "maxiter": 4}

    def f(v, b, x0):
        A = sp.csr_array((v, S.indices, S.indptr), shape=S.shape)
        return getattr(L, name)(A, b, damp=0.4, x0=x0, **limit, grad="unroll")[0]

    v = v0.clone().requires_grad_()
    assert torch.autograd.gradcheck(f, (v, b, x0))
    x = f(v, b, x0)
    gv, gb = torch.autograd.grad(x.sum(), (v, b))
    D = _dense_of(v0, S).requires_grad_()
    x_ref = getattr(L, name)(D, b, damp=0.4, x0=x0, **limit, grad="unroll")[0]
    torch.testing.assert_close(x, x_ref)
    gD, gb_ref = torch.autograd.grad(x_ref.sum(), (D, b))
    rows = np.repeat(np.arange(S.shape[0]), np.diff(S.indptr))
    torch.testing.assert_close(gv, gD[torch.from_numpy(rows), torch.from_numpy(S.indices)])
    torch.testing.assert_close(gb, gb_ref)
    with pytest.raises(NotImplementedError, match="show=True"):
        getattr(L, name)(sp.csr_array(S), b, show=True, grad="unroll")
    with pytest.raises(ValueError, match="incompatible"):
        getattr(L, name)(sp.csr_array(S), b, x0=torch.ones(4, dtype=F64), grad="unroll")


@pytest.mark.parametrize("name", ["lsqr", "lsmr"])
def test_least_squares_unsupported(name):
    A = sp.csr_array(_tall()).requires_grad_()
    b = torch.ones(9, dtype=F64)
    with pytest.raises(NotImplementedError, match="LinearOperator"):
        getattr(L, name)(L.aslinearoperator(_tall()), b)
    with pytest.raises(ValueError, match="incompatible"):
        getattr(L, name)(A, torch.ones(5, dtype=F64))


# -- unrolled ---------------------------------------------------------------------------------

UNROLLED = ["cg", "bicgstab", "gmres", "minres", "cgs", "bicg", "tfqmr", "qmr"]


@pytest.mark.parametrize("name", UNROLLED)
@pytest.mark.parametrize("maxiter", [None, 3])
def test_unrolled_matches_scipy(name, maxiter):
    S = _matrix_for(name, 14, 12)
    b = _rhs(14)
    M = sps.diags_array(1.0 / S.diagonal()).tocsr()
    got, want = [], []
    kw = {"maxiter": maxiter}
    if name == "gmres":
        kw.update(restart=4, callback_type="x")
    ours, ref = {"M": sp.csr_array(M)}, {"M": M}
    if name == "qmr":  # split preconditioners (SciPy's qmr takes them as LinearOperators)
        ours = {"M1": sp.csr_array(M), "M2": L.aslinearoperator(sp.csr_array(2 * M))}
        ref = {"M1": sla.aslinearoperator(M), "M2": sla.aslinearoperator(2 * M)}
    x, info = getattr(L, name)(sp.csr_array(S).requires_grad_(), b, **ours,
                               callback=lambda x: got.append(x.detach().clone()),
                               grad="unroll", **kw)
    x_ref, info_ref = getattr(sla, name)(S, b, **ref, callback=lambda x: want.append(x.copy()),
                                         **kw)
    assert info == info_ref
    np.testing.assert_allclose(x.detach().numpy(), x_ref, rtol=1e-10, atol=1e-12)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-10, atol=1e-12)


def test_unrolled_gmres_pr_norm_callback():
    S = _nonsymmetric(14, 13)
    b = _rhs(14)
    got, want = [], []
    L.gmres(sp.csr_array(S), torch.tensor(b), restart=3, maxiter=3, callback=got.append,
            callback_type="pr_norm", grad="unroll")
    sla.gmres(S, b, restart=3, maxiter=3, callback=want.append, callback_type="pr_norm")
    np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.parametrize("name", UNROLLED)
def test_unrolled_gradcheck(name):
    make, _, v0 = _system(name, n=6, seed=14)
    b = torch.tensor(_rhs(6, 2), dtype=F64, requires_grad=True)
    v = v0.clone().requires_grad_()
    kw = {"maxiter": 4, "restart": 3} if name == "gmres" else {"maxiter": 4}

    def f(v, b):
        return getattr(L, name)(make(v), b, grad="unroll", **kw)[0]

    assert torch.autograd.gradcheck(f, (v, b))


def test_unrolled_cg_gradcheck_preconditioner_values():
    make, _, v0 = _system("cg", n=7, seed=15)
    A = make(v0)
    b = torch.tensor(_rhs(7), dtype=F64)
    m0 = torch.linspace(0.1, 0.3, 7, dtype=F64).requires_grad_()
    rows = np.arange(7)

    def f(m):
        M = sp.csr_array((m, rows, np.arange(8)), shape=(7, 7))
        return L.cg(A, b, M=M, maxiter=3, grad="unroll")[0]

    assert torch.autograd.gradcheck(f, (m0,))


def test_unrolled_callable_preconditioner_and_x0_gradient():
    make, _, v0 = _system("gmres", n=8, seed=16)
    A = make(v0)
    b = torch.tensor(_rhs(8), dtype=F64)
    scale = torch.tensor(0.3, dtype=F64, requires_grad=True)
    x0 = torch.zeros(8, dtype=F64, requires_grad=True)
    x, _ = L.bicgstab(A, b, x0=x0, M=lambda r: scale * r, maxiter=2, grad="unroll")
    gs, gx0 = torch.autograd.grad(x.sum(), (scale, x0))
    assert gs.abs() > 0 and gx0.abs().sum() > 0


def test_unrolled_qmr_learns_its_split_preconditioners():
    """qmr with ``grad="unroll"``: gradients reach the values of both preconditioners, equal
    to those of the same iterations on dense torch matrices; a plain callable is refused (the
    shadow recurrence needs its adjoint), and so is a preconditioner of the wrong shape."""
    make, _, v0 = _system("qmr", n=7, seed=17)
    A = make(v0)
    b = torch.tensor(_rhs(7), dtype=F64)
    rows, ptr = np.arange(7), np.arange(8)
    m1 = torch.linspace(0.2, 0.4, 7, dtype=F64).requires_grad_()
    m2 = torch.linspace(1.5, 0.9, 7, dtype=F64).requires_grad_()

    def f(m1, m2):
        M1 = sp.csr_array((m1, rows, ptr), shape=(7, 7))
        M2 = sp.csr_array((m2, rows, ptr), shape=(7, 7))
        return L.qmr(A, b, M1=M1, M2=M2, maxiter=4, grad="unroll")[0]

    assert torch.autograd.gradcheck(f, (m1, m2))
    x = f(m1, m2)
    ours = torch.autograd.grad(x.sum(), (m1, m2))
    D = A.toarray().detach()
    x_ref = L.qmr(D, b, M1=torch.diag(m1), M2=torch.diag(m2), maxiter=4, grad="unroll")[0]
    torch.testing.assert_close(x, x_ref)
    for got, want in zip(ours, torch.autograd.grad(x_ref.sum(), (m1, m2))):
        torch.testing.assert_close(got, want)
    with pytest.raises(TypeError, match="qmr's M1 must be a matrix or a LinearOperator"):
        L.qmr(A, b, M1=lambda r: r, grad="unroll")
    with pytest.raises(ValueError, match="preconditioner M2 have different shapes"):
        L.qmr(A, b, M2=sp.eye_array(6), grad="unroll")


@pytest.mark.parametrize("name", ["lgmres", "gcrotmk"])
def test_unroll_unsupported(name):
    A = sp.csr_array(_nonsymmetric()).requires_grad_()
    with pytest.raises(NotImplementedError, match="cg, bicgstab, gmres, minres"):
        getattr(L, name)(A, torch.ones(12, dtype=F64), grad="unroll")


@pytest.mark.parametrize("name", SQUARE + ["lsqr", "lsmr"])
def test_signature_is_scipys_plus_grad(name):
    import inspect

    ours = inspect.signature(getattr(L, name))
    params = list(ours.parameters.values())
    assert params[-1].name == "grad" and params[-1].default == "implicit"
    assert params[-1].kind is inspect.Parameter.KEYWORD_ONLY
    assert ours.replace(parameters=params[:-1]) == inspect.signature(getattr(sla, name))


@pytest.mark.parametrize("grad", ["implicit", "unroll"])
@pytest.mark.parametrize("name", ["gmres", "bicgstab"])
def test_dense_torch_matrix_and_column_rhs(name, grad):
    n = 8
    S = _nonsymmetric(n, 17).toarray()
    D = torch.tensor(S, requires_grad=True)
    b = torch.tensor(_rhs(n)[:, None], requires_grad=True)
    x, info = getattr(L, name)(D, b, rtol=1e-13, grad=grad)
    assert info == 0 and x.shape == (n,)
    gD, gb = torch.autograd.grad(x.sum(), (D, b))
    assert gb.shape == (n, 1)
    D2, b2 = D.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
    rD, rb = torch.autograd.grad(torch.linalg.solve(D2, b2).sum(), (D2, b2))
    np.testing.assert_allclose(gD.numpy(), rD.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gb.numpy(), rb.numpy(), rtol=1e-8, atol=1e-10)


def test_implicit_complex_gmres_matches_dense():
    n = 8
    S = _nonsymmetric(n, 18)
    S.sort_indices()
    rng = np.random.default_rng(0)
    v = torch.tensor(S.data * (1 + 0.5j), requires_grad=True)
    b = torch.tensor(rng.standard_normal(n) + 1j * rng.standard_normal(n), requires_grad=True)
    wt = torch.arange(n, dtype=F64)
    for grad in ("implicit", "unroll"):
        x, info = L.gmres(sp.csr_array((v, S.indices, S.indptr), shape=S.shape), b,
                          grad=grad, **TIGHT)
        assert info == 0
        gv, gb = torch.autograd.grad((x.abs() ** 2 * wt).sum(), (v, b))
        r, c = S.nonzero()
        v2, b2 = v.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
        D = torch.zeros(n, n, dtype=v.dtype).index_put(
            (torch.from_numpy(r), torch.from_numpy(c)), v2)
        x2 = torch.linalg.solve(D, b2)
        rv, rb = torch.autograd.grad((x2.abs() ** 2 * wt).sum(), (v2, b2))
        np.testing.assert_allclose(gv.numpy(), rv.numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(gb.numpy(), rb.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("kind", ["scipy_operator", "spgrad_operator", "scipy_sparse",
                                  "ndarray"])
def test_unrolled_constant_operator_kinds(kind):
    n = 10
    P = _spd(n, 19)
    A = {"scipy_operator": sla.aslinearoperator(P),
         "spgrad_operator": L.aslinearoperator(sp.csr_array(P)),
         "scipy_sparse": P, "ndarray": P.toarray()}[kind]
    M = sps.diags_array(1.0 / P.diagonal()).tocsr()
    b = torch.tensor(_rhs(n), dtype=F64, requires_grad=True)
    x, info = L.cg(A, b, x0="Mb", M=M, rtol=1e-12, grad="unroll")
    x_ref, info_ref = sla.cg(P, b.detach().numpy(), x0="Mb", M=M, rtol=1e-12)
    assert info == info_ref == 0
    np.testing.assert_allclose(x.detach().numpy(), x_ref, rtol=1e-10, atol=1e-12)
    (gb,) = torch.autograd.grad(x.sum(), (b,))
    np.testing.assert_allclose(gb.numpy(), np.linalg.solve(P.toarray(), np.ones(n)),
                               rtol=1e-8, atol=1e-10)
