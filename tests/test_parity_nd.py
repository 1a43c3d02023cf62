"""Parity of n-D ``coo_array`` (three or more dimensions) with SciPy 1.17: construction,
conversions, elementwise operations, products along the last axis, reductions along any axes,
indexing, transposes, reshapes and the axis functions.

Arrays are drawn as random coordinates (duplicates, unsorted entries and explicit zeros
included) of shapes with 3 or 4 axes, some of length 0 or 1, in every dtype, and built by
each implementation from ``(data, coords)``.
"""

import warnings

import numpy as np
import pytest
from conftest import (
    DTYPES,
    NUMERIC_DTYPES,
    SPGRAD,
    VALUES,
    cases,
    cast_value,
    compare,
    need_spgrad,
)
from hypothesis import strategies as st


@st.composite
def nd_raws(draw, shape=None, dtypes=DTYPES):
    """(shape, data, coords): a random n-D COO array as triplet-like arrays."""
    if shape is None:
        ndim = draw(st.integers(3, 4))
        shape = tuple(draw(st.integers(0, 4)) for _ in range(ndim))
    dtype = draw(st.sampled_from(dtypes))
    size = int(np.prod(shape))
    count = draw(st.integers(0, (3 * size) // 2)) if size else 0
    vals = VALUES[dtype.kind]
    flat = draw(st.lists(st.integers(0, size - 1), min_size=count, max_size=count)) if count \
        else []
    picks = draw(st.lists(st.integers(0, len(vals) - 1), min_size=count, max_size=count))
    coords = np.unravel_index(np.array(flat, dtype=np.int64), shape) if count else \
        tuple(np.zeros(0, np.int64) for _ in shape)
    data = np.array([cast_value(vals[p], dtype) for p in picks], dtype=dtype)
    if dtype.kind == "b":  # bool duplicates: see test_parity_ops::test_bool_duplicates
        _, first = np.unique(np.array(flat, dtype=np.int64), return_index=True)
        data, coords = data[first], tuple(c[first] for c in coords)
    return shape, data, tuple(np.asarray(c, dtype=np.int64) for c in coords)


def build(m, raw):
    shape, data, coords = raw
    return m.coo_array((data.copy(), tuple(c.copy() for c in coords)), shape=shape)


FIXED = (2, 3, 4)
EDGE = [
    ((2, 3, 4), np.array([1.5, -2.0, 0.5, 0.0]),
     (np.array([1, 0, 1, 0]), np.array([2, 1, 2, 0]), np.array([3, 0, 3, 1]))),
    ((0, 2, 3), np.zeros(0), tuple(np.zeros(0, np.int64) for _ in range(3))),
    ((1, 2, 1, 2), np.array([1 + 1j, 2j]),
     (np.array([0, 0]), np.array([1, 0]), np.array([0, 0]), np.array([1, 1]))),
]
EDGES = [{"raw": r} for r in EDGE]


def quiet(f):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f()


@cases(raw=nd_raws(), edge=EDGES)
def test_construct_convert(raw):
    shape, data, coords = raw
    compare(lambda m: build(m, raw))
    for op in (lambda A: A.toarray(), lambda A: A.todense(), lambda A: A.shape,
               lambda A: A.ndim, lambda A: A.nnz, lambda A: A.coords, lambda A: A.tocoo(),
               lambda A: A.copy(), lambda A: A.astype(np.complex128), lambda A: A.conj(),
               lambda A: A.real, lambda A: A.imag, lambda A: -A, lambda A: abs(A),
               lambda A: A.T, lambda A: A.transpose(), lambda A: A.nonzero(),
               lambda A: A.count_nonzero(), lambda A: repr(A), lambda A: str(A),
               lambda A: A.tocsr(), lambda A: A.tocsc(), lambda A: A.todok(),
               lambda A: A.todia(), lambda A: A.diagonal(), lambda A: A.resize((1, 1, 1)),
               lambda A: A.reshape(-1), lambda A: A.reshape((shape[0], int(np.prod(shape[1:])))),
               lambda A: A.reshape(tuple(reversed(shape))),
               lambda A: A.reshape(shape[::-1], order="F"), lambda A: A.row, lambda A: A.col,
               lambda A: A.has_canonical_format):
        compare(lambda m: op(build(m, raw)))
    dense = np.zeros(shape, dtype=data.dtype)
    np.add.at(dense, coords, data)
    compare(lambda m: m.coo_array(dense))
    compare(lambda m: m.coo_array(shape))
    compare(lambda m: m.csr_array(dense))
    compare(lambda m: m.coo_array((data.copy(), tuple(c.copy() for c in coords))))
    # int32 coordinates become int64, as every n-D array's are in SciPy
    compare(lambda m: m.coo_array((data.copy(), tuple(c.astype(np.int32) for c in coords)),
                                  shape=shape))


def test_random_array_and_reshape_to_nd_have_int64_coordinates():
    for shape in [(3, 4, 5), (2, 1, 3, 2)]:
        compare(lambda m: m.random_array(shape, density=0.3, rng=7))
    flat = np.arange(24.0).reshape(6, 4) % 5
    compare(lambda m: m.coo_array(flat).reshape((2, 3, 4)))
    compare(lambda m: m.csr_array(flat).reshape((2, 3, 4)))


@cases(raw=nd_raws(), edge=EDGES)
def test_in_place(raw):
    def body(m, name):
        A = build(m, raw)
        return getattr(A, name)(), A

    for name in ("sum_duplicates", "eliminate_zeros"):
        compare(body, name)


@cases(raw=nd_raws(), edge=EDGES)
def test_reductions(raw):
    nd = len(raw[0])
    axes = [None, 0, -1, 1, (0, 2), tuple(range(nd)), (1, -1)]
    for name in ("sum", "mean", "max", "min", "nanmax", "nanmin"):
        for axis in axes:
            compare(lambda m: quiet(lambda: getattr(build(m, raw), name)(axis=axis)))
    for name in ("argmax", "argmin"):
        for axis in (None, 0, 1, -1):
            compare(lambda m: getattr(build(m, raw), name)(axis=axis))
    compare(lambda m: build(m, raw).sum(dtype=np.complex64))
    compare(lambda m: build(m, raw).max(explicit=True))


@cases(raw=nd_raws(dtypes=NUMERIC_DTYPES), edge=EDGES)
def test_unary(raw):
    for name in ("sqrt", "sin", "expm1", "rint", "deg2rad"):
        compare(lambda m: quiet(lambda: getattr(build(m, raw), name)()))
    compare(lambda m: build(m, raw).power(2))
    compare(lambda m: build(m, raw) ** 3)
    compare(lambda m: round(build(m, raw)))


# (8-bit integers wrap around when many duplicates are summed; which implementation drops an
# entry that wrapped to zero differs, as for 2-D arrays)
WIDE = tuple(d for d in DTYPES if d.itemsize > 1 or d.kind == "b")


@cases(a=nd_raws(shape=FIXED, dtypes=WIDE), b=nd_raws(shape=FIXED, dtypes=WIDE),
       edge=[{"a": EDGE[0], "b": EDGE[0]}])
def test_binary(a, b):
    dense = np.zeros(FIXED, dtype=b[1].dtype)
    np.add.at(dense, b[2], b[1])
    ops = [lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y,
           lambda x, y: x.multiply(y), lambda x, y: x.maximum(y), lambda x, y: x.minimum(y),
           lambda x, y: x != y, lambda x, y: x < y, lambda x, y: x >= y]
    for op in ops:
        compare(lambda m: quiet(lambda: op(build(m, a), build(m, b))))
        compare(lambda m: quiet(lambda: op(build(m, a), dense.copy())))
    for scalar in (2, 0.5, 0):
        compare(lambda m: build(m, a) * scalar)
        compare(lambda m: scalar * build(m, a))
        compare(lambda m: quiet(lambda: build(m, a) / scalar))
        compare(lambda m: quiet(lambda: build(m, a) > scalar))
    # (A + a broadcast dense row: SciPy 1.17.1 returns zeros; spgrad NumPy's broadcast sum)
    compare(lambda m: build(m, a).multiply(dense[0, 0].copy()))
    compare(lambda m: build(m, a) + build(m, (FIXED[::-1], *b[1:2], b[2][::-1])))


@cases(a=nd_raws(shape=FIXED), edge=[{"a": EDGE[0]}])
def test_products(a):
    x = np.arange(4.0) - 1.5
    X = np.arange(8.0).reshape(4, 2) / 3
    compare(lambda m: build(m, a) @ x)
    compare(lambda m: build(m, a) @ X)
    compare(lambda m: build(m, a) @ m.coo_array(X))
    # (SciPy fails for a CSR right operand; spgrad multiplies it like the COO one)
    compare(lambda m: build(m, a) @ np.ones(3))


@cases(raw=nd_raws(), edge=EDGES)
def test_getitem(raw):
    shape = raw[0]
    keys = [0, -1, (0, 1), (slice(None), 0), (Ellipsis, 0), (slice(1, None), slice(None, None,
            2)), (0, 0, 0), ([0, 0],), (slice(None), [1, 0]), (0, slice(None), [0, 0]),
            (np.array([True] + [False] * (shape[0] - 1)),), shape[0], (0, 0, 0, 0, 0)]
    for key in keys:
        if np.zeros(shape).ndim and 0 in shape:
            continue
        compare(lambda m: build(m, raw)[key])


@cases(a=nd_raws(shape=FIXED), edge=[{"a": EDGE[0]}])
def test_tensordot_and_stacked_products(a):
    dense = np.arange(12.0).reshape(3, 4) - 5
    for other, axes in [(dense, 2), (dense.T.copy(), ([1, 2], [1, 0])), (np.ones((4, 2)), 1),
                        (np.ones((2, 4)), ([0, 2], [0, 1]))]:
        compare(lambda m: build(m, a).tensordot(other.copy(), axes=axes))
        compare(lambda m: build(m, a).tensordot(m.coo_array(other), axes=axes))
    compare(lambda m: build(m, a).tensordot(np.ones(5), axes=1))
    compare(lambda m: build(m, a).tensordot(np.ones((3, 4)), axes=0))
    full = np.arange(24.0).reshape(FIXED)
    compare(lambda m: build(m, a).tensordot(full.copy(), axes=3))
    compare(lambda m: np.arange(3.0) @ build(m, a))
    compare(lambda m: (np.arange(6.0).reshape(2, 3) - 2) @ build(m, a))
    E = np.zeros((2, 4, 2))
    E[0, 1, 1], E[1, 3, 0], E[1, 0, 1] = 2.0, -1.0, 0.5
    compare(lambda m: build(m, a) @ m.coo_array(E))
    compare(lambda m: m.coo_array(np.arange(6.0).reshape(2, 3)) @ np.ones((5, 3, 2)))


@cases(raw=nd_raws(), edge=EDGES)
def test_setitem(raw):
    shape = raw[0]
    if 0 in shape:
        return
    for key, x in [(0, 0), ((0, 0, 0), 5), ((0, 0, 0), 0), ((Ellipsis, 0), 7),
                   ((0, slice(None), -1), np.arange(shape[1])), ((slice(None), [0, 0]), 1),
                   (-1, 2.5)]:
        def body(m):
            A = build(m, raw)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                A[key] = x
            return A

        compare(body)


@cases(raw=nd_raws(), edge=EDGES)
def test_axes(raw):
    nd = len(raw[0])
    perm = tuple(range(nd))[1:] + (0,)
    compare(lambda m: build(m, raw).transpose(perm))
    compare(lambda m: m.permute_dims(build(m, raw), perm, copy=True))
    compare(lambda m: m.swapaxes(build(m, raw), 0, -1))
    for axis in (0, 2, -1, nd):
        compare(lambda m: m.expand_dims(build(m, raw), axis=axis))
    compare(lambda m: list(build(m, raw)))


def test_differentiable_nd():
    need_spgrad()
    torch = pytest.importorskip("torch")
    shape, data, coords = EDGE[0]
    values = torch.tensor(data, requires_grad=True)

    def f(v):
        A = SPGRAD.coo_array((v, coords), shape=shape)
        return ((A * 2 + A).sum(axis=(0, 2)) ** 2).sum() + (A @ torch.arange(4.0,
                                                              dtype=torch.float64)).sum()

    torch.autograd.gradcheck(f, (values,))
    dense = torch.zeros(shape, dtype=torch.float64)
    ref_v = values.detach().clone().requires_grad_()
    D = dense.index_put(tuple(torch.as_tensor(c) for c in coords), ref_v, accumulate=True)
    ref = ((3 * D).sum(dim=(0, 2)) ** 2).sum() + (D @ torch.arange(4.0,
                                                                   dtype=torch.float64)).sum()
    (g,) = torch.autograd.grad(f(values), values)
    (g_ref,) = torch.autograd.grad(ref, ref_v)
    torch.testing.assert_close(g, g_ref)
