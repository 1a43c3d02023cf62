"""Differentiable mode of the constructors (``diags*``, ``spdiags``, ``kron``, ``kronsum``,
block assembly, ``tril``/``triu``) and of the DIA format.

Every op is checked against dense torch autograd (``torch.kron``, ``torch.cat``,
``torch.block_diag``, ``torch.tril``/``torch.triu``, ``torch.diag_embed``): same values, same
gradient with respect to the stored values; then ``gradcheck`` and ``gradgradcheck`` in
float64 (all these ops are linear in the values). Inputs are nonsymmetric and rectangular, with
an empty row, so a transposed or dropped entry cannot pass.
"""

import numpy as np
import pytest
import scipy.sparse as sps

torch = pytest.importorskip("torch")

import spgrad as sp  # noqa: E402

F64 = torch.float64
C128 = torch.complex128


def _matrix(shape, density, seed, empty_row, dtype=np.float64):
    S = sps.random_array(shape, density=density, format="csr", rng=seed, dtype=dtype)
    S = S.toarray()
    S[empty_row] = 0
    return S


SA = _matrix((4, 3), 0.6, seed=1, empty_row=2)
SB = _matrix((3, 5), 0.5, seed=2, empty_row=0)
SQ = _matrix((3, 3), 0.7, seed=3, empty_row=1)
# Dense tensor operands: their nonzeros become the pattern, so finite differences (which
# perturb zeros too) need operands without zeros.
FULL = np.arange(1.0, 16.0).reshape(3, 5) * np.array([1, -1, 0.5, 2, -0.25])


def _values(dense, dtype=F64):
    row, col = np.nonzero(dense)
    return torch.tensor(dense[row, col], dtype=dtype, requires_grad=True)


def _sparse(fmt, dense, v):
    """spgrad array of format ``fmt`` with the pattern of ``dense`` and values ``v``."""
    row, col = np.nonzero(dense)
    return sp.coo_array((v, (row, col)), shape=dense.shape).asformat(fmt)


def _dense(dense, v):
    """Dense torch reference with the pattern of ``dense`` and values ``v``."""
    row, col = np.nonzero(dense)
    out = torch.zeros(dense.shape, dtype=v.dtype)
    return out.index_put((torch.from_numpy(row), torch.from_numpy(col)), v)


def _out(x):
    """An spgrad result as a dense tensor (sparse results densified)."""
    return x.toarray() if sp.issparse(x) else x


def _check(f, ref, inputs, *, gradgrad=True):
    """``f`` (spgrad) and ``ref`` (dense torch) agree in value and in the gradient of a random
    weighting with respect to every input; then gradcheck (and gradgradcheck)."""
    gen = torch.Generator().manual_seed(0)
    out, expected = _out(f(*inputs)), ref(*inputs)
    assert isinstance(out, torch.Tensor) and out.grad_fn is not None
    torch.testing.assert_close(out, expected)
    w = torch.randn(out.shape, dtype=F64, generator=gen).to(out.dtype)
    g = torch.autograd.grad((out * w.conj()).real.sum(), inputs)
    g_ref = torch.autograd.grad((expected * w.conj()).real.sum(), inputs)
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b)
    assert torch.autograd.gradcheck(lambda *x: _out(f(*x)), inputs)
    if gradgrad:
        assert torch.autograd.gradgradcheck(lambda *x: _out(f(*x)), inputs)


# ---------------------------------------------------------------------------------------------
# diagonals
# ---------------------------------------------------------------------------------------------

def _diag_dense(d, k, shape):
    """Dense (m, n) tensor holding the 1-D ``d`` on diagonal ``k`` (torch.diag_embed)."""
    D = torch.diag_embed(d, offset=k)
    m, n = shape
    r, c = min(m, D.shape[0]), min(n, D.shape[1])
    return torch.nn.functional.pad(D[:r, :c], (0, n - c, 0, m - r))


def _diagonals():
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(5, dtype=F64, generator=gen, requires_grad=True)  # main diagonal
    b = torch.randn(4, dtype=F64, generator=gen, requires_grad=True)  # offset 2
    return a, b


C_CONST = np.array([1.5, -2.0, 0.0, 3.0])  # offset -1, a NumPy constant


@pytest.mark.parametrize("format", [None, "dia", "csr", "csc", "coo"])
@pytest.mark.parametrize("func", ["diags_array", "diags"])
def test_diags_from_tensors(func, format):
    shape = (5, 6)

    def f(a, b):
        return getattr(sp, func)([a, b, C_CONST], offsets=[0, 2, -1], shape=shape,
                                 format=format, dtype=None)

    def ref(a, b):
        return (_diag_dense(a, 0, shape) + _diag_dense(b, 2, shape)
                + _diag_dense(torch.tensor(C_CONST), -1, shape))

    A = f(*_diagonals())
    assert A.format == (format or "dia")
    assert isinstance(A, sp.sparray) == (func == "diags_array")
    assert isinstance(A.data, torch.Tensor) and A.data.grad_fn is not None
    assert A.dtype == np.float64
    _check(f, ref, _diagonals())


def test_diags_single_tensor_scalar_offset_and_broadcast():
    a, _ = _diagonals()
    _check(lambda a: sp.diags_array(a, offsets=-1, dtype=None),
           lambda a: _diag_dense(a, -1, (6, 6)), (a,))
    # a length-1 diagonal is broadcast along its offset
    s = torch.tensor([2.0], dtype=F64, requires_grad=True)
    _check(lambda s, a: sp.diags_array([s, a[:3]], offsets=[0, 1], shape=(4, 4), dtype=None),
           lambda s, a: _diag_dense(s.expand(4), 0, (4, 4)) + _diag_dense(a[:3], 1, (4, 4)),
           (s, a))
    # a longer diagonal is cut to its length, as in SciPy
    _check(lambda a: sp.diags_array([a], offsets=[1], shape=(3, 3), dtype=None),
           lambda a: _diag_dense(a[:2], 1, (3, 3)), (a,))


def test_diags_deprecated_default_dtype_with_tensors():
    # SciPy's deprecated default: an integer tensor diagonal gives float64 and a warning
    with pytest.warns(FutureWarning, match="data type int64"):
        A = sp.diags_array(torch.tensor([1, 2, 3]))
    assert A.dtype == np.float64 and isinstance(A.data, torch.Tensor)
    np.testing.assert_array_equal(A.toarray().numpy(), np.diag([1.0, 2.0, 3.0]))


def test_diags_errors_with_tensors():
    a, b = _diagonals()
    with pytest.raises(ValueError, match="Different number of diagonals and offsets"):
        sp.diags_array([a, b], offsets=[0])
    with pytest.raises(ValueError, match="Diagonal length"):
        sp.diags_array([a, b[:2]], offsets=[0, 1], shape=(4, 4))
    with pytest.raises(ValueError, match="out of bounds"):
        sp.diags_array([a], offsets=[9], shape=(4, 4))


def test_spdiags_from_tensor_and_list_of_tensors():
    gen = torch.Generator().manual_seed(2)
    data = torch.randn(3, 5, dtype=F64, generator=gen, requires_grad=True)
    offsets = np.array([0, -1, 2])

    def ref(data):
        out = torch.zeros((4, 5), dtype=F64)
        for row, k in zip(data, offsets):
            j = torch.arange(5)
            keep = ((j - k) >= 0) & ((j - k) < 4)
            out = out.index_put((j[keep] - k, j[keep]), row[keep], accumulate=True)
        return out

    A = sp.spdiags(data, offsets, 4, 5)
    assert isinstance(A, sp.dia_matrix) and A.data.requires_grad
    _check(lambda d: sp.spdiags(d, offsets, 4, 5), ref, (data,))
    _check(lambda d: sp.spdiags([d[0], d[1], d[2]], offsets, (4, 5), format="csr"), ref,
           (data,))


# ---------------------------------------------------------------------------------------------
# DIA in differentiable mode
# ---------------------------------------------------------------------------------------------

DIA_SHAPE = (4, 6)
DIA_OFFSETS = np.array([1, -2, 0, 4])  # unsorted; row 3 has only out-of-range slots below


def _dia_data(width=6, seed=3, dtype=F64):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(len(DIA_OFFSETS), width, dtype=F64, generator=gen).to(dtype) \
        .requires_grad_()


def _dia(data, shape=DIA_SHAPE, offsets=DIA_OFFSETS):
    return sp.dia_array((data, offsets), shape=shape)


def _dia_ref(data, shape=DIA_SHAPE, offsets=DIA_OFFSETS):
    """Dense torch reference of a DIA array: each data row on its diagonal, padding ignored."""
    m, n = shape
    out = torch.zeros(shape, dtype=data.dtype)
    for row, k in zip(data, offsets):
        first = max(0, int(k))
        length = max(0, min(m + k, n - k, min(m, n), row.shape[0] - first))
        out = out + _diag_dense(row[first:first + length], int(k), shape)
    return out


W_DENSE = np.arange(24, dtype=np.float64).reshape(4, 6) / 7 - 1
X_VEC = np.linspace(-1.0, 2.0, 6)

DIA_CASES = [
    ("toarray", lambda A: A.toarray(), lambda D: D),
    ("todense", lambda A: A.todense(), lambda D: D),
    ("tocsr", lambda A: A.tocsr(), lambda D: D),
    ("tocsc", lambda A: A.tocsc(), lambda D: D),
    ("tocoo", lambda A: A.tocoo(), lambda D: D),
    ("transpose", lambda A: A.T, lambda D: D.T),
    ("transpose_twice", lambda A: A.transpose().transpose(), lambda D: D),
    ("matvec", lambda A: A @ X_VEC, lambda D: D @ torch.tensor(X_VEC)),
    ("matmat", lambda A: A @ W_DENSE.T, lambda D: D @ torch.tensor(W_DENSE.T)),
    ("rmatmul", lambda A: torch.tensor(W_DENSE[:, :4]) @ A,
     lambda D: torch.tensor(W_DENSE[:, :4]) @ D),
    ("diagonal", lambda A: A.diagonal(), lambda D: torch.diagonal(D)),
    ("diagonal_k", lambda A: A.diagonal(k=-2), lambda D: torch.diagonal(D, -2)),
    ("diagonal_missing", lambda A: A.diagonal(k=2) + A.diagonal(k=1),
     lambda D: torch.diagonal(D, 2) + torch.diagonal(D, 1)),
    ("sum", lambda A: A.sum(), lambda D: D.sum()),
    ("sum_axis0", lambda A: A.sum(axis=0), lambda D: D.sum(0)),
    ("sum_axis1", lambda A: A.sum(axis=1), lambda D: D.sum(1)),
    ("scalar", lambda A: 2.5 * A - A * 0.5, lambda D: 2.0 * D),
    ("neg", lambda A: -A, lambda D: -D),
    ("add_self_T", lambda A: A + (A.T @ sp.eye_array(4)).T, lambda D: 2 * D),
    ("add_dia_const", lambda A: A + sp.dia_array(W_DENSE), lambda D: D + torch.tensor(W_DENSE)),
    ("sub_dia_const", lambda A: sp.dia_array(W_DENSE) - A, lambda D: torch.tensor(W_DENSE) - D),
    ("add_csr_const", lambda A: A + sp.csr_array(W_DENSE), lambda D: D + torch.tensor(W_DENSE)),
    ("sub_csr_const", lambda A: A - sp.csr_array(W_DENSE), lambda D: D - torch.tensor(W_DENSE)),
    ("add_dense", lambda A: A + torch.tensor(W_DENSE), lambda D: D + torch.tensor(W_DENSE)),
    ("multiply_dense", lambda A: A.multiply(W_DENSE), lambda D: D * torch.tensor(W_DENSE)),
    ("multiply_row", lambda A: A.multiply(X_VEC), lambda D: D * torch.tensor(X_VEC)),
    ("multiply_col", lambda A: A.multiply(W_DENSE[:, :1]),
     lambda D: D * torch.tensor(W_DENSE[:, :1])),
    ("multiply_dia", lambda A: A.multiply(sp.dia_array(W_DENSE)),
     lambda D: D * torch.tensor(W_DENSE)),
    ("multiply_self", lambda A: A.multiply(A), lambda D: D * D),
    ("multiply_csr", lambda A: A.multiply(sp.csr_array(W_DENSE)),
     lambda D: D * torch.tensor(W_DENSE)),
    ("matmul_dia", lambda A: A @ sp.dia_array(W_DENSE.T), lambda D: D @ torch.tensor(W_DENSE.T)),
    ("todia_roundtrip", lambda A: A.tocsr().todia(), lambda D: D),
    ("astype", lambda A: A.astype(np.complex128).real, lambda D: D),
]


@pytest.mark.parametrize("name, f, ref", DIA_CASES, ids=[c[0] for c in DIA_CASES])
def test_dia_ops(name, f, ref):
    data = _dia_data()
    A = f(_dia(data))
    if sp.issparse(A):
        assert isinstance(A.data, torch.Tensor) and A.data.grad_fn is not None
    gradgrad = name not in ("multiply_self",)  # quadratic: gradgradcheck still applies
    _check(lambda d: f(_dia(d)), lambda d: ref(_dia_ref(d)), (data,), gradgrad=gradgrad)


def test_dia_keeps_format_and_family():
    data = _dia_data()
    A = _dia(data)
    assert (A + A).format == "dia" and A.T.format == "dia"
    assert A.multiply(W_DENSE).format == "dia" and (3 * A).format == "dia"
    M = sp.dia_matrix((data, DIA_OFFSETS), shape=DIA_SHAPE)
    assert isinstance(M.T, sp.dia_matrix) and isinstance(M.tocsr(), sp.csr_matrix)
    assert isinstance(M.todense(), torch.Tensor)
    # the structural pattern: every slot inside the matrix is stored, zeros included
    assert A.tocoo().nnz == A.nnz


def test_dia_constructor_forms():
    data = _dia_data()
    A = sp.dia_array((data[0], [1]), shape=(3, 4))  # 1-D data: one diagonal
    assert A.data.shape == (1, 6) and A.data.requires_grad
    B = sp.dia_array((data, DIA_OFFSETS), shape=DIA_SHAPE, copy=True)
    assert B.data is not data and B.data.grad_fn is not None
    C = sp.dia_array((data, DIA_OFFSETS), shape=DIA_SHAPE, dtype=np.complex128)
    assert C.dtype == np.complex128 and C.data.dtype == C128
    D = sp.dia_array(sp.csr_array(W_DENSE).requires_grad_())
    assert D.format == "dia" and D.data.grad_fn is not None
    np.testing.assert_allclose(D.toarray().detach().numpy(), W_DENSE)
    with pytest.raises(ValueError, match="number of diagonals"):
        sp.dia_array((data, [0, 1]), shape=DIA_SHAPE)


def test_dia_from_dense_tensor_and_maximum_with_positive_scalar():
    D = torch.tensor(W_DENSE, requires_grad=True)
    A = sp.dia_array(D)
    assert A.format == "dia" and A.data.grad_fn is not None
    torch.testing.assert_close(A.toarray(), D)
    B = sp.dia_array(W_DENSE).requires_grad_()
    with pytest.warns(sp.SparseEfficiencyWarning):
        M = B.maximum(0.5)
    assert M.format == "dia"
    torch.testing.assert_close(M.toarray(), torch.clamp(torch.tensor(W_DENSE), min=0.5))
    M.toarray().sum().backward()
    np.testing.assert_array_equal(B.grad.toarray(), (W_DENSE > 0.5).astype(float))


def test_dia_grad_and_requires_grad():
    A = sp.dia_array((np.arange(12.0).reshape(2, 6), [0, 1]), shape=(4, 6)).requires_grad_()
    (A @ torch.ones(6, dtype=F64)).sum().backward()
    G = A.grad
    assert G.format == "dia"
    # slots outside the matrix get no gradient
    expected = np.zeros((2, 6))
    expected[0, :4] = 1
    expected[1, 1:5] = 1
    np.testing.assert_array_equal(G.data, expected)


def test_dia_complex_gradcheck():
    data = _dia_data(dtype=C128)
    x = torch.tensor(X_VEC, dtype=C128)
    _check(lambda d: (_dia(d).T @ x[:4]) + _dia(d).diagonal(1)[0],
           lambda d: _dia_ref(d).T @ x[:4] + torch.diagonal(_dia_ref(d), 1)[0], (data,))


# ---------------------------------------------------------------------------------------------
# Kronecker product and sum
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("format", [None, "csr", "csc", "coo", "dia"])
@pytest.mark.parametrize("fa, fb", [("csr", "csr"), ("csc", "coo"), ("coo", "csc")])
def test_kron(fa, fb, format):
    def f(va, vb):
        return sp.kron(_sparse(fa, SA, va), _sparse(fb, SB, vb), format=format)

    C = f(_values(SA), _values(SB))
    expected = sps.kron(sps.csr_array(SA), sps.csr_array(SB), format=format)
    plain_format = {"bsr": "csr"}.get(expected.format, expected.format)
    assert C.format == plain_format and isinstance(C, sp.sparray)
    assert C.data.grad_fn is not None
    _check(f, lambda va, vb: torch.kron(_dense(SA, va), _dense(SB, vb)),
           (_values(SA), _values(SB)))


def test_kron_mixed_operands_and_dense_factor():
    va = _values(SA)
    # a NumPy factor is a constant: only the tensor values receive gradients
    _check(lambda va: sp.kron(_sparse("csr", SA, va), sps.csr_matrix(SB)),
           lambda va: torch.kron(_dense(SA, va), torch.tensor(SB)), (va,))
    _check(lambda va: sp.kron(SB, _sparse("coo", SA, va), format="csr"),
           lambda va: torch.kron(torch.tensor(SB), _dense(SA, va)), (va,))
    # a dense tensor factor: its nonzeros are the pattern, values in the graph
    T = torch.tensor(FULL, requires_grad=True)
    _check(lambda T: sp.kron(sp.csr_matrix(SA), T), lambda T: torch.kron(torch.tensor(SA), T),
           (T,))
    # the family follows SciPy's rule (a matrix when no operand is a sparse array); a fully
    # stored second factor gives SciPy's BSR, which is CSR in spgrad
    assert isinstance(sp.kron(sp.csr_matrix(SA), T), sp.csr_matrix)


def test_kron_complex_and_dtype_promotion():
    SAc = SA + 1j * _matrix((4, 3), 0.6, seed=1, empty_row=2)
    va = _values(SAc, C128)
    vb = _values(SB)
    C = sp.kron(_sparse("csr", SAc, va), _sparse("csr", SB, vb))
    assert C.dtype == np.complex128
    _check(lambda va, vb: sp.kron(_sparse("csr", SAc, va), _sparse("csr", SB, vb)),
           lambda va, vb: torch.kron(_dense(SAc, va), _dense(SB, vb).to(C128)), (va, vb))
    f32 = sp.kron(sp.csr_array(SA.astype(np.float32)).requires_grad_(), sp.csr_array(SB))
    assert f32.dtype == np.float64 and f32.data.dtype == F64


def test_kron_empty_factor():
    C = sp.kron(_sparse("csr", SA, _values(SA)), sp.csr_array((2, 2)))
    assert C.shape == (8, 6) and C.nnz == 0


@pytest.mark.parametrize("format", [None, "csr", "coo"])
def test_kronsum(format):
    def f(va, vb):
        return sp.kronsum(_sparse("csr", SQ, va), _sparse("coo", SA[:2, :2], vb),
                          format=format)

    def ref(va, vb):
        A, B = _dense(SQ, va), _dense(SA[:2, :2], vb)
        return (torch.kron(torch.eye(2, dtype=F64), A) + torch.kron(B, torch.eye(3, dtype=F64)))

    C = f(_values(SQ), _values(SA[:2, :2]))
    assert C.format == (format or "csr") and C.data.grad_fn is not None
    _check(f, ref, (_values(SQ), _values(SA[:2, :2])))


# ---------------------------------------------------------------------------------------------
# block assembly
# ---------------------------------------------------------------------------------------------

SC = _matrix((4, 2), 0.5, seed=4, empty_row=3)
SD = _matrix((2, 3), 0.6, seed=5, empty_row=1)


@pytest.mark.parametrize("format", [None, "csr", "csc", "coo", "dia"])
@pytest.mark.parametrize("fa, fc", [("csr", "csr"), ("csc", "csc"), ("coo", "csr")])
def test_hstack(fa, fc, format):
    def f(va, vc):
        return sp.hstack([_sparse(fa, SA, va), _sparse(fc, SC, vc)], format=format)

    C = f(_values(SA), _values(SC))
    plain = sp.hstack([sp.csr_array(SA).asformat(fa), sp.csr_array(SC).asformat(fc)],
                      format=format)
    assert C.format == plain.format and C.dtype == plain.dtype
    assert C.data.grad_fn is not None
    _check(f, lambda va, vc: torch.cat([_dense(SA, va), _dense(SC, vc)], dim=1),
           (_values(SA), _values(SC)))


@pytest.mark.parametrize("format", [None, "csr", "csc", "coo"])
@pytest.mark.parametrize("fa, fd", [("csr", "csr"), ("csc", "csc"), ("csc", "coo")])
def test_vstack(fa, fd, format):
    SD3 = SD[:, :3]

    def f(va, vd):
        return sp.vstack([_sparse(fa, SA, va), _sparse(fd, SD3, vd)], format=format)

    _check(f, lambda va, vd: torch.cat([_dense(SA, va), _dense(SD3, vd)], dim=0),
           (_values(SA), _values(SD3)))


@pytest.mark.parametrize("func", ["bmat", "block_array"])
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_bmat_block_array(func, fmt):
    def f(va, vc, vd):
        blocks = [[_sparse(fmt, SA, va), _sparse(fmt, SC, vc)],
                  [None, _sparse(fmt, SD[:, :2], vd)]]
        return getattr(sp, func)(blocks)

    def ref(va, vc, vd):
        top = torch.cat([_dense(SA, va), _dense(SC, vc)], dim=1)
        bottom = torch.cat([torch.zeros((2, 3), dtype=F64), _dense(SD[:, :2], vd)], dim=1)
        return torch.cat([top, bottom], dim=0)

    C = f(_values(SA), _values(SC), _values(SD[:, :2]))
    plain = getattr(sp, func)([[sp.csr_array(SA).asformat(fmt), sp.csr_array(SC).asformat(fmt)],
                               [None, sp.csr_array(SD[:, :2]).asformat(fmt)]])
    assert C.format == plain.format == "coo"  # a None block: SciPy's general path
    _check(f, ref, (_values(SA), _values(SC), _values(SD[:, :2])))


def test_block_assembly_mixed_numpy_blocks_are_constants_and_dtype_upcasts():
    va = _values(SA)
    A32 = _sparse("csr", SA, va).astype(np.float32)
    blocks = [[A32, sp.csr_array(SC)], [None, sp.coo_matrix(SD[:, :2])]]
    C = sp.bmat(blocks)
    plain = sps.bmat([[sps.csr_array(SA.astype(np.float32)), sps.csr_array(SC)],
                      [None, sps.coo_matrix(SD[:, :2])]])
    assert C.dtype == plain.dtype == np.float64 and C.format == plain.format
    assert C.data.dtype == F64 and C.data.grad_fn is not None
    # gradients reach only the tensor block
    (g,) = torch.autograd.grad(C.toarray()[:4, :3].sum(), va)
    torch.testing.assert_close(g, torch.ones_like(va))
    # a fast path (all CSR) and float32 blocks only: float32 result
    H = sp.hstack([A32, sp.csr_array(SC.astype(np.float32))])
    assert H.dtype == np.float32 and H.data.dtype == torch.float32
    # an explicit dtype casts in the graph
    V = sp.vstack([_sparse("csr", SA, va), sp.csr_array(SD)], dtype=np.complex128)
    assert V.dtype == np.complex128 and V.data.grad_fn is not None


def test_block_diag():
    SD2 = SD[:, :2]

    def f(va, vd):
        return sp.block_diag([_sparse("csr", SA, va), _sparse("coo", SD2, vd),
                              np.array([[2.0, 0.0]])])

    def ref(va, vd):
        return torch.block_diag(_dense(SA, va), _dense(SD2, vd),
                                torch.tensor([[2.0, 0.0]], dtype=F64))

    C = f(_values(SA), _values(SD2))
    assert isinstance(C, sp.coo_array) and C.data.grad_fn is not None
    _check(f, ref, (_values(SA), _values(SD2)))
    # a dense tensor block is stored in full (as a dense NumPy block is)
    T = torch.tensor(SD2, requires_grad=True)
    _check(lambda T: sp.block_diag([sp.csr_matrix(SA), T], format="csr"),
           lambda T: torch.block_diag(torch.tensor(SA), T), (T,))


def test_block_complex():
    SAc = SA * (1 - 2j)
    va = _values(SAc, C128)
    _check(lambda va: sp.hstack([_sparse("csr", SAc, va), sp.csr_array(SC)]),
           lambda va: torch.cat([_dense(SAc, va), torch.tensor(SC, dtype=C128)], dim=1), (va,))


# ---------------------------------------------------------------------------------------------
# tril / triu
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("format", [None, "csr", "csc", "coo"])
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("k", [0, 1, -1])
def test_tril_triu(fmt, format, k):
    S = SB  # 3 x 5, empty first row
    for func, ref in (("tril", torch.tril), ("triu", torch.triu)):
        def f(v, func=func):
            return getattr(sp, func)(_sparse(fmt, S, v), k=k, format=format)

        C = f(_values(S))
        assert C.format == (format or "coo") and C.data.grad_fn is not None
        _check(f, lambda v, ref=ref: ref(_dense(S, v), k), (_values(S),))


def test_tril_nothing_kept_and_dense_tensor_input():
    v = _values(SB)
    C = sp.tril(_sparse("csr", SB, v), k=-5, format="csr")
    assert C.nnz == 0 and isinstance(C.data, torch.Tensor)
    T = torch.tensor(FULL, requires_grad=True)
    _check(lambda T: sp.triu(T, k=1), lambda T: torch.triu(T, 1), (T,))


# ---------------------------------------------------------------------------------------------
# dtype rules and errors
# ---------------------------------------------------------------------------------------------

def test_integer_values_cannot_require_grad():
    A = sp.diags_array([torch.tensor([1, 2, 3])], offsets=[0], dtype=None)
    assert A.dtype == np.int64 and not A.requires_grad
    with pytest.raises(TypeError, match="floating-point and complex"):
        A.requires_grad_()
    K = sp.kron(sp.csr_array(np.array([[1, 0], [2, 3]])), A)
    assert K.dtype == np.int64
    with pytest.raises(TypeError, match="floating-point and complex"):
        K.requires_grad_()
    with pytest.raises(TypeError, match="floating-point and complex"):
        sp.dia_array(np.eye(3, dtype=np.int32)).requires_grad_()


def test_results_follow_scipy_dtype_rules():
    f32 = torch.ones(3, dtype=torch.float32, requires_grad=True)
    A = sp.diags_array([f32, np.ones(2)], offsets=[0, 1], dtype=None)
    assert A.dtype == np.float64 and A.data.dtype == F64
    B = sp.diags_array([f32], offsets=[0])  # deprecated default keeps float32 (inexact)
    assert B.dtype == np.float32
    C = sp.block_diag([sp.csr_array(np.eye(2, dtype=np.float32)).requires_grad_(),
                       np.eye(2, dtype=np.int8)])
    assert C.dtype == np.result_type(np.float32, np.int8) == np.float32


def test_plain_inputs_stay_plain():
    A = sp.diags_array([np.ones(3), np.ones(2)], offsets=[0, 1])
    for X in (A, sp.kron(A, A), sp.hstack([A, A]), sp.block_diag([A, A]), sp.tril(A),
              A.T, A + A, A.multiply(np.ones((3, 3)))):
        assert isinstance(X.data, np.ndarray)
