"""Differentiable mode through 1-D sparse arrays: rows and columns taken from a matrix whose
values require grad, vector products, elementwise operations and reductions — gradcheck in
float64 and the gradient compared with dense torch autograd gathered on the pattern."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sp = pytest.importorskip("spgrad")

ROW = np.array([0, 0, 1, 3, 3, 3, 4])  # row 2 empty, nonsymmetric
COL = np.array([1, 4, 0, 0, 2, 3, 1])
SHAPE = (5, 5)


def _values(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(len(ROW), dtype=torch.float64, generator=g, requires_grad=True)


def _matrix(fmt, values):
    return sp.coo_array((values, (ROW, COL)), shape=SHAPE).asformat(fmt)


def _dense(values):
    D = torch.zeros(SHAPE, dtype=torch.float64)
    return D.index_put((torch.as_tensor(ROW), torch.as_tensor(COL)), values)


x = torch.linspace(-1.0, 2.0, 5, dtype=torch.float64)
X = torch.arange(15, dtype=torch.float64).reshape(5, 3) / 7
w = sp.coo_array((np.array([2.0, -1.0, 0.5]), (np.array([0, 1, 4]),)), shape=(5,))

# (name, f(sparse matrix) -> tensor, the same on the dense matrix)
CASES = [
    ("row @ x", lambda A: A[3] @ x, lambda D: D[3] @ x),
    ("col @ X", lambda A: (A[:, 1] @ X).sum(), lambda D: (D[:, 1] @ X).sum()),
    ("row * w", lambda A: (A[0] * w).sum(), lambda D: (D[0] * torch.as_tensor(
        w.toarray())).sum()),
    ("row + w", lambda A: ((A[3] + w).toarray() ** 2).sum(),
     lambda D: ((D[3] + torch.as_tensor(w.toarray())) ** 2).sum()),
    ("sum of rows", lambda A: sum((r.power(2)).sum() for r in A),
     lambda D: (D[torch.as_tensor(ROW), torch.as_tensor(COL)] ** 2).sum()),
    ("A @ w", lambda A: (A @ w).toarray().sum(), lambda D: (D @ torch.as_tensor(
        w.toarray())).sum()),
    ("max(axis=0)", lambda A: (A.max(axis=0).toarray() * x).sum(),
     lambda D: (D.amax(dim=0).clamp(min=0) * x).sum()),
    ("row[1:]", lambda A: A[3][1:].sum(), lambda D: D[3, 1:].sum()),
    ("reshape(-1)", lambda A: (A.reshape(-1).toarray() * torch.arange(25.0)).sum(),
     lambda D: (D.reshape(-1) * torch.arange(25.0)).sum()),
]


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("name,f,f_dense", CASES, ids=[c[0] for c in CASES])
def test_gradients_through_vectors(fmt, name, f, f_dense):
    values = _values()
    out = f(_matrix(fmt, values))
    assert out.requires_grad
    (g,) = torch.autograd.grad(out, values)
    ref_values = values.detach().clone().requires_grad_()
    (g_ref,) = torch.autograd.grad(f_dense(_dense(ref_values)), ref_values)
    torch.testing.assert_close(g, g_ref)
    torch.autograd.gradcheck(lambda v: f(_matrix(fmt, v)), (values,))


def test_vector_leaf_requires_grad():
    v = sp.csr_array((np.array([1.0, -2.0, 3.0]), np.array([0, 2, 4]), np.array([0, 3])),
                     shape=(6,)).requires_grad_()
    y = torch.arange(6, dtype=torch.float64)
    ((v @ y) + (v * v).sum()).backward()
    assert v.grad.shape == (6,) and v.grad.format == "csr"
    np.testing.assert_allclose(np.asarray(v.grad.toarray())[[0, 2, 4]], [0 + 2, 2 - 4, 4 + 6])
    with pytest.raises(TypeError):
        sp.csr_array(np.array([1, 0, 2])).requires_grad_()
