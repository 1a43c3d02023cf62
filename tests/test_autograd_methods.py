"""Differentiable mode of the methods of test_parity_methods.py: ufunc methods, abs, round,
real/imag, maximum/minimum (sparse, dense and scalar operands) and the max/min reductions.

Each op: ``gradcheck`` in float64 on a nonsymmetric rectangular matrix with an empty row, the
gradient equal to dense torch autograd gathered on the pattern, and ``gradgradcheck`` where the
op is smooth. Comparisons and argmax/argmin are checked to be detached plain results.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as ssp

torch = pytest.importorskip("torch")

import spgrad as sp  # noqa: E402

F64 = torch.float64
FORMATS = ["csr", "csc", "coo"]
UFUNCS = {"sin": torch.sin, "tan": torch.tan, "arcsin": torch.asin, "arctan": torch.atan,
          "sinh": torch.sinh, "tanh": torch.tanh, "arcsinh": torch.asinh,
          "arctanh": torch.atanh, "expm1": torch.expm1, "log1p": torch.log1p,
          "deg2rad": torch.deg2rad, "rad2deg": torch.rad2deg, "sqrt": torch.sqrt}
PIECEWISE = {"rint": torch.round, "sign": torch.sign, "floor": torch.floor,
             "ceil": torch.ceil, "trunc": torch.trunc}


def _pattern(shape=(6, 5), density=0.5, seed=0, empty_row=2):
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) < density
    mask[empty_row] = False
    mask[0, 0] = True
    return np.nonzero(mask)


ROW, COL = _pattern()
SHAPE = (6, 5)
ROW2, COL2 = _pattern(seed=1, empty_row=4)


def _values(n, seed, low=0.1, high=0.9, dtype=F64):
    """Distinct values (no ties) in (low, high), as a leaf tensor."""
    rng = np.random.default_rng(seed)
    v = low + (high - low) * (rng.permutation(n) + rng.random(n) * 0.5) / n
    return torch.tensor(v, dtype=dtype, requires_grad=True)


def _sparse(fmt, v, row=ROW, col=COL, family="array"):
    cls = sp.coo_array if family == "array" else sp.coo_matrix
    return cls((v, (row, col)), shape=SHAPE).asformat(fmt)


def _dense(v, row=ROW, col=COL):
    out = torch.zeros(SHAPE, dtype=v.dtype)
    return out.index_put((torch.from_numpy(row), torch.from_numpy(col)), v)


def _dense_result(x):
    return x.toarray() if sp.issparse(x) else x


def _check(fn, ref, inputs, gradgrad=True):
    """gradcheck of ``fn``, and its gradient equal to the dense reference's."""
    assert torch.autograd.gradcheck(fn, inputs)
    if gradgrad:
        assert torch.autograd.gradgradcheck(fn, inputs)
    out, out_ref = fn(*inputs), ref(*inputs)
    assert torch.allclose(out, out_ref)
    w = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(3))
    g = torch.autograd.grad((out * w).sum(), inputs, allow_unused=True)
    g_ref = torch.autograd.grad((out_ref * w).sum(), inputs, allow_unused=True)
    for a, b in zip(g, g_ref):
        a = torch.zeros_like(inputs[0]) if a is None else a
        b = torch.zeros_like(inputs[0]) if b is None else b
        assert torch.allclose(a, b)


@pytest.mark.parametrize("fmt", FORMATS + ["dia"])
@pytest.mark.parametrize("name", sorted(UFUNCS))
def test_ufunc(fmt, name):
    v = _values(len(ROW), 1)

    def fn(v):
        A = _sparse("coo", v).asformat(fmt) if fmt != "dia" else _sparse("csr", v)
        r = getattr(A, name)()
        assert r.format == A.format and sp.issparse(r)
        return _dense_result(r)

    _check(fn, lambda v: UFUNCS[name](_dense(v)), (v,), gradgrad=fmt != "dia")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", sorted(PIECEWISE))
def test_piecewise_ufunc_zero_gradient(fmt, name):
    v = _values(len(ROW), 2, low=-2.7, high=2.7)
    r = getattr(_sparse(fmt, v), name)()
    out = r.toarray()
    assert torch.equal(out.detach(), PIECEWISE[name](_dense(v.detach())))
    (g,) = torch.autograd.grad(out.sum(), v, allow_unused=True)
    assert g is None or torch.count_nonzero(g) == 0


def test_ufunc_integer_values_widen_like_numpy():
    v = torch.tensor([1, 4, 9], dtype=torch.int64)
    A = sp.csr_array((v, np.array([0, 1, 2]), np.array([0, 1, 3])), shape=(2, 3))
    r = A.sqrt()
    assert r.dtype == np.float64 and torch.equal(r.data, torch.tensor([1.0, 2.0, 3.0],
                                                                      dtype=F64))
    assert A.sign().dtype == np.int64


@pytest.mark.parametrize("fmt", FORMATS)
def test_abs_round(fmt):
    v = _values(len(ROW), 3, low=-1.0, high=1.0)
    _check(lambda v: abs(_sparse(fmt, v)).toarray(), lambda v: _dense(v).abs(), (v,))
    out = round(_sparse(fmt, v), 1).toarray()
    assert torch.equal(out.detach(), torch.round(_dense(v.detach()), decimals=1))
    (g,) = torch.autograd.grad(out.sum(), v)
    assert torch.count_nonzero(g) == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_real_imag(fmt):
    re, im = _values(len(ROW), 4, -1.0, 1.0), _values(len(ROW), 5, -1.0, 1.0)
    z = torch.complex(re, im)

    def fn(re, im):
        A = _sparse(fmt, torch.complex(re, im))
        return torch.stack((A.real.toarray(), A.imag.toarray()))

    def ref(re, im):
        D = _dense(torch.complex(re, im))
        return torch.stack((D.real, D.imag))

    _check(fn, ref, (re, im))
    A = _sparse(fmt, z)
    assert A.real.dtype == np.float64 and A.conj().dtype == np.complex128
    real = _sparse(fmt, re)
    assert torch.count_nonzero(real.imag.data) == 0


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_sparse(fmt, name):
    a = _values(len(ROW), 6, -1.0, 1.0)
    b = _values(len(ROW2), 7, -1.1, 0.9)
    op = getattr(torch, name)

    def fn(a, b):
        r = getattr(_sparse(fmt, a), name)(_sparse("coo", b, ROW2, COL2))
        assert r.format == ("csr" if fmt == "coo" else fmt)
        return r.toarray()

    def ref(a, b):
        return op(_dense(a), _dense(b, ROW2, COL2))

    _check(fn, ref, (a, b))
    # the pattern is the union (structural: entries equal to 0 stay stored)
    r = getattr(_sparse(fmt, a), name)(_sparse("coo", b, ROW2, COL2))
    keys = set(zip(ROW.tolist(), COL.tolist())) | set(zip(ROW2.tolist(), COL2.tolist()))
    assert r.nnz == len(keys)


@pytest.mark.parametrize("fmt", FORMATS)
def test_maximum_with_plain_sparse_operand(fmt):
    a = _values(len(ROW), 8, -1.0, 1.0)
    B = sp.coo_array((np.linspace(-0.95, 0.95, len(ROW2)), (ROW2, COL2)), shape=SHAPE)
    _check(lambda a: _sparse(fmt, a).maximum(B).toarray(),
           lambda a: torch.maximum(_dense(a), torch.from_numpy(B.toarray())), (a,))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_dense(fmt, name):
    a = _values(len(ROW), 9, -1.0, 1.0)
    X = torch.linspace(-0.93, 0.91, 30, dtype=F64).reshape(SHAPE).requires_grad_()
    op = getattr(torch, name)
    _check(lambda a, X: getattr(_sparse(fmt, a), name)(X), lambda a, X: op(_dense(a), X),
           (a, X))
    row = torch.linspace(-0.5, 0.5, 5, dtype=F64)
    out = getattr(_sparse(fmt, a), name)(row)
    assert torch.allclose(out, op(_dense(a), row))


@pytest.mark.parametrize("fmt", FORMATS)
def test_maximum_minimum_scalar(fmt):
    a = _values(len(ROW), 10, -1.0, 1.0)
    _check(lambda a: _sparse(fmt, a).maximum(-0.25).toarray(),
           lambda a: torch.where(_dense(a) != 0, torch.maximum(_dense(a), torch.tensor(-0.25,
                                                                                 dtype=F64)),
                                 _dense(a)), (a,))
    _check(lambda a: _sparse(fmt, a).minimum(0.3).toarray(),
           lambda a: torch.where(_dense(a) != 0, torch.minimum(_dense(a), torch.tensor(0.3,
                                                                                 dtype=F64)),
                                 _dense(a)), (a,))
    with pytest.warns(sp.SparseEfficiencyWarning):
        dense = _sparse(fmt, a).maximum(0.5)
    assert torch.allclose(dense.toarray(), torch.maximum(_dense(a), torch.tensor(0.5,
                                                                                 dtype=F64)))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_0d_tensor_is_a_scalar(fmt, name):
    # a 0-d tensor (a learned threshold) is a scalar operand: a sparse result (dense-valued,
    # with SciPy's warning, where 0 itself changes), gradients for the values and the tensor
    a = _values(len(ROW), 12, -1.0, 1.0)
    op = getattr(torch, name)
    for value in (-0.35, 0.45):
        s = torch.tensor(value, dtype=F64, requires_grad=True)
        densifies = bool(op(torch.tensor(0.0), torch.tensor(value)) != 0)

        def fn(a, s):
            A = _sparse(fmt, a)
            if densifies:
                with pytest.warns(sp.SparseEfficiencyWarning):
                    r = getattr(A, name)(s)
            else:
                r = getattr(A, name)(s)
            assert sp.issparse(r) and r.format in (fmt, "csr")
            return r.toarray()

        def ref(a, s):
            D = _dense(a)
            return op(D, s) if densifies else torch.where(D != 0, op(D, s), D)

        _check(fn, ref, (a, s))
    # plain values with a tensor threshold join its graph
    P = sp.csr_array(_dense(a.detach()).numpy())
    s = torch.tensor(0.2, dtype=F64, requires_grad=True)
    r = getattr(P, name)(s) if name == "minimum" else getattr(P, name)(-s)
    assert sp.issparse(r) and r.data.requires_grad


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
@pytest.mark.parametrize("scalar", [0.5, -0.5, np.float64(0.5), np.float32(-0.5),
                                    np.asarray(-0.5), 2, np.int32(-2)])
def test_maximum_minimum_number_on_integer_tensor_values(fmt, name, scalar):
    # a float number on integer torch values promotes them by torch's rule for a number (as
    # ``*`` does): SciPy's values, in torch's default float dtype, never the number truncated
    # to an integer (nor a TypeError for a NumPy float32); an integer number keeps int64
    ints = np.random.default_rng(3).integers(-4, 6, len(ROW))
    ints[ints == 0] = 1
    A = _sparse(fmt, torch.from_numpy(ints))
    S = ssp.coo_array((ints, (ROW, COL)), shape=SHAPE).asformat(fmt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
        warnings.simplefilter("ignore", ssp.SparseEfficiencyWarning)
        r = getattr(A, name)(scalar)
        expected = getattr(S, name)(scalar).toarray()
    assert sp.issparse(r)
    is_float = np.asarray(scalar).dtype.kind == "f"
    assert r.data.dtype == (torch.get_default_dtype() if is_float else torch.int64)
    np.testing.assert_array_equal(r.toarray().numpy(), expected)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_complex_torch_values_raise_type_error(name):
    # torch orders no complex numbers: a TypeError naming the dtypes, not torch's RuntimeError
    # (maximum/minimum) or NotImplementedError (the max/min reductions)
    real = _sparse("csr", _values(len(ROW), 4))
    cplx = _sparse("csr", _values(len(ROW), 5).detach().to(torch.complex128))
    for A, other in [(real, 0.5j), (real, np.complex64(1)), (real, torch.tensor(1j)),
                     (real, cplx.detach()), (cplx, 0.5), (cplx, real),
                     (sp.csr_array(np.eye(6, 5)), cplx)]:
        with pytest.raises(TypeError, match=f"{name} with complex values.*got values"):
            getattr(A, name)(other)
    reduction = name[:3]  # max / min, and their nan variants, on every axis
    for method in (reduction, "nan" + reduction):
        for axis in (None, 0, 1):
            with pytest.raises(TypeError, match=f"{method} of complex values.*complex128"):
                getattr(cplx, method)(axis=axis)


@pytest.mark.parametrize("fmt", FORMATS)
def test_torch_bool_values_are_kept_as_numpy_bool(fmt):
    # bool carries no gradient and torch's bool arithmetic is not NumPy's (a torch bool sum
    # stays bool, ``-`` is refused): sparse matrices keep such values as NumPy bool, so SciPy's
    # counting sums and bool subtraction hold; from the constructors, from astype(bool) of
    # torch values, and from products of bool operands
    mask = torch.from_numpy(np.isin(np.arange(len(ROW)), [0, 2, 3, 5]))
    dense = np.zeros(SHAPE, dtype=bool)
    dense[ROW, COL] = mask.numpy()
    S = ssp.coo_array(dense).asformat(fmt)
    made = [sp.coo_array((mask, (ROW, COL)), shape=SHAPE).asformat(fmt),
            sp.csr_array(torch.from_numpy(dense)).asformat(fmt),
            sp.csr_array(torch.from_numpy(dense.astype(np.float64))).asformat(fmt).astype(bool),
            sp.csr_array(dense).asformat(fmt) * torch.tensor(True),
            sp.csr_array(dense).multiply(torch.ones(SHAPE, dtype=torch.bool))]
    for A in made:
        assert isinstance(A.data, np.ndarray) and A.dtype == np.bool_
        np.testing.assert_array_equal(A.toarray(), dense)
        for axis in (None, 0, 1):
            np.testing.assert_array_equal(A.sum(axis=axis), S.sum(axis=axis))
        np.testing.assert_array_equal((A - A).toarray(), (S - S).toarray())


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["max", "min", "nanmax", "nanmin"])
def test_max_min_all(fmt, name):
    a = _values(len(ROW), 11, -1.0, 1.0)
    dense_op = torch.amax if "max" in name else torch.amin
    _check(lambda a: getattr(_sparse(fmt, a), name)(), lambda a: dense_op(_dense(a)), (a,),
           gradgrad=False)
    # explicit: only the stored entries
    _check(lambda a: getattr(_sparse(fmt, a), name)(explicit=True), lambda a: dense_op(a),
           (a,), gradgrad=False)
    # all-positive values: the implicit zero wins min, constant result
    p = _values(len(ROW), 12)
    r = getattr(_sparse(fmt, p), name)()
    if "min" in name:
        assert float(r.detach()) == 0.0


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["max", "min", "nanmax", "nanmin"])
@pytest.mark.parametrize("axis", [0, 1])
def test_max_min_axis_matrix(fmt, name, axis):
    a = _values(len(ROW), 13, -1.0, 1.0)
    dense_op = torch.amax if "max" in name else torch.amin

    def fn(a):
        r = getattr(_sparse(fmt, a, family="matrix"), name)(axis=axis)
        assert isinstance(r, sp.coo_matrix)
        return r.toarray()

    _check(fn, lambda a: dense_op(_dense(a), dim=axis, keepdim=True), (a,), gradgrad=False)


def test_nanmax_ignores_nan():
    v = torch.tensor([np.nan, 0.5, -0.25], dtype=F64, requires_grad=True)
    A = sp.csr_matrix((v, np.array([0, 0, 1]), np.array([0, 1, 3])), shape=(2, 2))
    assert float(A.nanmax().detach()) == 0.5 and np.isnan(float(A.max().detach()))
    r = A.nanmin(axis=1)
    assert torch.equal(r.toarray().detach(), torch.tensor([[0.0], [-0.25]], dtype=F64))
    assert float(A.nanmax(explicit=True).detach()) == 0.5
    (g,) = torch.autograd.grad(A.nanmax(), v)
    assert g.tolist() == [0.0, 1.0, 0.0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_comparisons_and_arg_are_detached(fmt):
    a = _values(len(ROW), 14, -1.0, 1.0)
    A = _sparse(fmt, a)
    B = _sparse(fmt, a.detach().numpy().copy())
    with pytest.warns(sp.SparseEfficiencyWarning):
        assert (A <= 0.5).dtype == np.bool_
    for r in (A > 0, A != B, A > 0.5, A < -0.5, A.maximum(B) != B):
        assert r.dtype == np.bool_ and isinstance(r.data, np.ndarray)
    assert (A != B).nnz == 0
    D = _dense(a.detach()).numpy()
    assert A.argmax() == int(np.argmax(D)) and A.argmin() == int(np.argmin(D))
    assert np.array_equal(A.argmax(axis=0), np.argmax(D, axis=0))
    col_max = A.max(axis=0)  # a 1-D coo_array, its values in the graph
    assert col_max.shape == (A.shape[1],) and col_max.requires_grad
    assert np.array_equal(col_max.detach().toarray(), np.max(D, axis=0))
