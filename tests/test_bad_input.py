"""Bad input: every constructor form and operation must refuse malformed input with
``ValueError``/``TypeError`` — the type SciPy raises where SciPy raises; ``ValueError`` at
construction where SciPy only fails later, silently misbehaves or crashes — never crash and
never mutate its inputs (see conftest.py for the harness)."""

import numpy as np
import pytest

from conftest import (
    FAMILIES,
    FORMAT_FAMILIES,
    NATIVE_FORMATS,
    SCIPY,
    SPGRAD,
    Sp,
    compare,
    compare_raises,
    dense_raw,
    nasty,
    sparse_class,
    spgrad_raises,
    spgrad_raises_or_matches,
)

COMPRESSED = [(f, fam) for f in ("csr", "csc") for fam in FAMILIES]
IDX = [np.int32, np.int64]


def _base(fmt, idx):
    """A valid (data, indices, indptr, shape): 2 major × 3 minor, 3 entries; the shape is
    given csr-like (major, minor) and swapped for csc by :func:`_compressed_case`."""
    shape = (2, 3)
    return (np.array([1.0, 2.0, 3.0]), np.array([0, 2, 1], dtype=idx),
            np.array([0, 2, 3], dtype=idx), shape)


def _swap(fmt, shape):
    return shape if fmt == "csr" else shape[::-1]


# (data, indices, indptr, shape) -> same; shapes are given csr-like (major, minor)
COMPRESSED_SCIPY_RAISES = {
    "indptr-too-short": lambda d, i, p, s: (d, i, p[:-1], s),
    "indptr-too-long": lambda d, i, p, s: (d, i, np.append(p, p[-1]), s),
    "indptr-first-not-0": lambda d, i, p, s: (d, i, p + 1, s),
    "indptr-last-gt-nnz": lambda d, i, p, s: (d, i, np.array([0, 2, 4], p.dtype), s),
    "data-shorter": lambda d, i, p, s: (d[:2], i, p, s),
    "data-longer": lambda d, i, p, s: (np.append(d, 4.0), i, p, s),
    "indices-2d": lambda d, i, p, s: (d, i.reshape(3, 1), p, s),
    "indptr-2d": lambda d, i, p, s: (d, i, p.reshape(3, 1), s),
    "data-2d": lambda d, i, p, s: (d.reshape(3, 1), i, p, s),
    "shape-fewer-major": lambda d, i, p, s: (d, i, p, (1, 3)),
    "shape-negative": lambda d, i, p, s: (d, i, p, (-2, 3)),
}

# SciPy accepts these at construction and then computes garbage or corrupts memory
COMPRESSED_SCIPY_SILENT = {
    "indptr-decreasing": lambda d, i, p, s: (d, i, np.array([0, 3, 2], p.dtype), s),
    "indptr-decreasing-middle": lambda d, i, p, s: (d, i, np.array([0, 2, 1, 3], p.dtype),
                                                    (3, 3)),
    "indptr-negative": lambda d, i, p, s: (d, i, np.array([0, -1, 3], p.dtype), s),
    "indices-out-of-range": lambda d, i, p, s: (d, np.array([0, 5, 1], i.dtype), p, s),
    "indices-equal-ncols": lambda d, i, p, s: (d, np.array([0, 3, 1], i.dtype), p, s),
    "indices-negative": lambda d, i, p, s: (d, np.array([0, -1, 1], i.dtype), p, s),
    "shape-fewer-minor": lambda d, i, p, s: (d, i, p, (2, 2)),
    "no-shape-negative-index": lambda d, i, p, s: (d, np.array([0, -1, 1], i.dtype), p,
                                                    None),
}
# SciPy builds these and fails only later (toarray, arithmetic)
COMPRESSED_BAD_DTYPE = {
    "data-object": lambda d, i, p, s: (d.astype(object), i, p, s),
    "data-str": lambda d, i, p, s: (np.array(["a", "b", "c"]), i, p, s),
    "data-float16": lambda d, i, p, s: (d.astype(np.float16), i, p, s),
    "data-datetime": lambda d, i, p, s: (np.array([1, 2, 3], "datetime64[s]"), i, p, s),
}

# SciPy silently prunes or truncates: spgrad may refuse (ValueError) or do the same
COMPRESSED_QUESTIONABLE = {
    "indptr-last-lt-nnz": lambda d, i, p, s: (d, i, np.array([0, 1, 2], p.dtype), s),
    "indices-float-fractional": lambda d, i, p, s: (d, i.astype(float) + 0.5, p, s),
    "indices-float-integral": lambda d, i, p, s: (d, i.astype(float), p, s),
    "indptr-float": lambda d, i, p, s: (d, i, p.astype(float), s),
}


def _compressed_case(table, name, fmt, idx):
    d, i, p, s = table[name](*_base(fmt, idx))
    shape = None if s is None else _swap(fmt, s)
    kw = {} if shape is None else {"shape": shape}
    return (d, i, p), kw


@pytest.mark.parametrize("idx", IDX)
@pytest.mark.parametrize("name", sorted(COMPRESSED_SCIPY_RAISES))
@pytest.mark.parametrize("fmt,family", COMPRESSED)
def test_compressed_scipy_raises(fmt, family, name, idx):
    arrays, kw = _compressed_case(COMPRESSED_SCIPY_RAISES, name, fmt, idx)
    compare_raises(lambda m, d, i, p: sparse_class(m, fmt, family)((d, i, p), **kw), *arrays)
    compare_raises(lambda m, d, i, p: sparse_class(m, fmt, family)((d, i, p), copy=True, **kw),
                   *arrays)


@pytest.mark.parametrize("idx", IDX)
@pytest.mark.parametrize("name", sorted(COMPRESSED_SCIPY_SILENT))
@pytest.mark.parametrize("fmt,family", COMPRESSED)
def test_compressed_invalid_structure(fmt, family, name, idx):
    """SciPy only checks these in ``check_format(full_check=True)``; spgrad checks on
    construction."""
    arrays, kw = _compressed_case(COMPRESSED_SCIPY_SILENT, name, fmt, idx)
    spgrad_raises(lambda m, d, i, p: sparse_class(m, fmt, family)((d, i, p), **kw), *arrays)


@pytest.mark.parametrize("name", sorted(COMPRESSED_BAD_DTYPE))
@pytest.mark.parametrize("fmt,family", COMPRESSED)
def test_compressed_bad_dtype(fmt, family, name):
    arrays, kw = _compressed_case(COMPRESSED_BAD_DTYPE, name, fmt, np.int32)
    spgrad_raises(lambda m, d, i, p: sparse_class(m, fmt, family)((d, i, p), **kw), *arrays,
                  exc=(ValueError, TypeError))


@pytest.mark.parametrize("name", sorted(COMPRESSED_SCIPY_SILENT))
@pytest.mark.parametrize("fmt,family", COMPRESSED)
def test_compressed_invalid_structure_scipy_full_check(fmt, family, name):
    """Sanity of the table above: SciPy's full check does refuse every one of them."""
    arrays, kw = _compressed_case(COMPRESSED_SCIPY_SILENT, name, fmt, np.int32)
    cls = sparse_class(SCIPY, fmt, family)
    with pytest.raises(ValueError):
        cls(arrays, **kw).check_format(full_check=True)


@pytest.mark.parametrize("name", sorted(COMPRESSED_QUESTIONABLE))
@pytest.mark.parametrize("fmt,family", COMPRESSED)
def test_compressed_questionable(fmt, family, name):
    arrays, kw = _compressed_case(COMPRESSED_QUESTIONABLE, name, fmt, np.int64)
    spgrad_raises_or_matches(
        lambda m, d, i, p: sparse_class(m, fmt, family)((d, i, p), **kw), *arrays)


# -- COO triplets (every native format accepts them) ----------------------------------------

COO_SCIPY_RAISES = {
    "row-shorter": lambda d, r, c: (d, r[:2], c, (2, 3)),
    "col-shorter": lambda d, r, c: (d, r, c[:2], (2, 3)),
    "data-shorter": lambda d, r, c: (d[:2], r, c, (2, 3)),
    "data-longer": lambda d, r, c: (np.append(d, 1.0), r, c, (2, 3)),
    "row-out-of-range": lambda d, r, c: (d, r + 5, c, (2, 3)),
    "row-equal-nrows": lambda d, r, c: (d, r + 1, c, (2, 3)),
    "col-out-of-range": lambda d, r, c: (d, r, c + 5, (2, 3)),
    "row-negative": lambda d, r, c: (d, r - 1, c, (2, 3)),
    "col-negative": lambda d, r, c: (d, r, c - 3, (2, 3)),
    "row-negative-no-shape": lambda d, r, c: (d, r - 1, c, None),
    "row-2d": lambda d, r, c: (d, r.reshape(3, 1), c, (2, 3)),
    "data-2d": lambda d, r, c: (d.reshape(3, 1), r, c, (2, 3)),
    "data-object": lambda d, r, c: (d.astype(object), r, c, (2, 3)),
    "data-float16": lambda d, r, c: (d.astype(np.float16), r, c, (2, 3)),
    "data-str": lambda d, r, c: (np.array(["a", "b", "c"]), r, c, (2, 3)),
    "empty-no-shape": lambda d, r, c: (d[:0], r[:0], c[:0], None),
    "shape-negative": lambda d, r, c: (d, r, c, (2, -3)),
}

COO_QUESTIONABLE = {
    "row-float-fractional": lambda d, r, c: (d, r + 0.5, c, (2, 3)),
    "row-float-integral": lambda d, r, c: (d, r.astype(float), c, (2, 3)),
}


def _coo_case(table, name, idx):
    d, r, c, s = table[name](np.array([1.0, 2.0, 3.0]), np.array([0, 1, 1], dtype=idx),
                             np.array([2, 0, 1], dtype=idx))
    return (d, r, c), ({} if s is None else {"shape": s})


@pytest.mark.parametrize("idx", IDX)
@pytest.mark.parametrize("name", sorted(COO_SCIPY_RAISES))
@pytest.mark.parametrize("fmt,family", [(f, fam) for f, fam in FORMAT_FAMILIES
                                        if f != "dia"])
def test_coo_triplet_scipy_raises(fmt, family, name, idx):
    arrays, kw = _coo_case(COO_SCIPY_RAISES, name, idx)
    compare_raises(lambda m, d, r, c: sparse_class(m, fmt, family)((d, (r, c)), **kw),
                   *arrays)


@pytest.mark.parametrize("name", sorted(COO_QUESTIONABLE))
@pytest.mark.parametrize("fmt,family", [(f, fam) for f, fam in FORMAT_FAMILIES
                                        if f != "dia"])
def test_coo_triplet_questionable(fmt, family, name):
    arrays, kw = _coo_case(COO_QUESTIONABLE, name, np.int64)
    spgrad_raises_or_matches(
        lambda m, d, r, c: sparse_class(m, fmt, family)((d, (r, c)), **kw), *arrays)


# -- DIA (data, offsets) ---------------------------------------------------------------------

DIA_SCIPY_RAISES = {
    "offsets-fewer": lambda D, o: (D, o[:1]),
    "offsets-more": lambda D, o: (D, np.append(o, 2).astype(o.dtype)),
    "offsets-duplicate": lambda D, o: (D, np.array([1, 1], o.dtype)),
    "data-1d-two-offsets": lambda D, o: (D[0], o),
    "data-3d": lambda D, o: (D[..., None], o),
    "offsets-2d": lambda D, o: (D, o.reshape(2, 1)),
}

DIA_SCIPY_SILENT = {
    # SciPy builds an object/float16 DIA array and fails only later
    "data-object": lambda D, o: (D.astype(object), o),
    "data-float16": lambda D, o: (D.astype(np.float16), o),
}

DIA_VALID = {  # accepted by SciPy and meaningful: spgrad must agree
    "data-1d-one-offset": lambda D, o: (D[0], o[:1]),
    "scalar-offset": lambda D, o: (D[:1], 0),
    "data-wider-than-n": lambda D, o: (np.ones((2, 5)), o),
    "data-narrower-than-n": lambda D, o: (np.ones((2, 2)), o),
    "offset-beyond-matrix": lambda D, o: (D, np.array([0, 10], o.dtype)),
    "offset-below-matrix": lambda D, o: (D, np.array([-7, 1], o.dtype)),
}

DIA_QUESTIONABLE = {
    "offsets-float-fractional": lambda D, o: (D, np.array([0.0, 1.5])),
}


def _dia_case(table, name, idx):
    D = np.arange(1.0, 7.0).reshape(2, 3)
    return table[name](D, np.array([0, 1], dtype=idx))


@pytest.mark.parametrize("idx", IDX)
@pytest.mark.parametrize("name", sorted(DIA_SCIPY_RAISES))
@pytest.mark.parametrize("family", FAMILIES)
def test_dia_scipy_raises(family, name, idx):
    D, o = _dia_case(DIA_SCIPY_RAISES, name, idx)
    compare_raises(lambda m, D, o: sparse_class(m, "dia", family)((D, o), shape=(3, 3)), D, o)


@pytest.mark.parametrize("name", sorted(DIA_SCIPY_SILENT))
@pytest.mark.parametrize("family", FAMILIES)
def test_dia_invalid(family, name):
    D, o = _dia_case(DIA_SCIPY_SILENT, name, np.int32)
    spgrad_raises(lambda m, D, o: sparse_class(m, "dia", family)((D, o), shape=(3, 3)), D, o,
                  exc=(ValueError, TypeError))


@pytest.mark.parametrize("name", sorted(DIA_VALID))
@pytest.mark.parametrize("family", FAMILIES)
def test_dia_unusual_but_valid(family, name):
    D, o = _dia_case(DIA_VALID, name, np.int32)
    ops = (D, o) if isinstance(o, np.ndarray) else (D,)

    def make(m, D, o=o):
        return sparse_class(m, "dia", family)((D, o), shape=(3, 3))

    compare(make, *ops)
    for op in (lambda A: A.tocsr(), lambda A: A @ np.arange(3.0), lambda A: A.T,
               lambda A: A.diagonal(1), lambda A: A.toarray(), lambda A: A.nnz,
               lambda A: A.tocoo(), lambda A: A.sum(axis=1)):
        compare(lambda m, *a: op(make(m, *a)), *ops)
    # SciPy's dia sum(axis=0) fails on data wider than the matrix (a SciPy bug): the
    # reference for that one is the CSR sum
    compare(lambda m, *a: (make(m, *a).tocsr() if m is SCIPY and name == "data-wider-than-n"
                           else make(m, *a)).sum(axis=0), *ops)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("shape,width", [((3, 3), 5), ((6, 7), 8), ((7, 4), 9), ((4, 6), 6)])
def test_dia_transpose_of_wide_data(family, shape, width):
    """The transpose of a DIA array whose data is wider than max(shape) is the transpose (SciPy
    1.17 reads some diagonals shifted then: a SciPy bug); for narrower data it is SciPy's,
    stored data included."""
    rng = np.random.default_rng(3)
    data, offsets = rng.standard_normal((4, width)), np.array([-2, 0, 1, 3])
    A = sparse_class(SPGRAD, "dia", family)((data, offsets), shape=shape)
    S = sparse_class(SCIPY, "dia", family)((data, offsets), shape=shape)
    np.testing.assert_array_equal(A.T.toarray(), S.toarray().T)
    np.testing.assert_array_equal(A.transpose(copy=True).T.toarray(), S.toarray())
    if width <= max(shape):
        np.testing.assert_array_equal(A.T.data, S.T.data)
        np.testing.assert_array_equal(A.T.offsets, S.T.offsets)
    torch = pytest.importorskip("torch")
    T = sparse_class(SPGRAD, "dia", family)((torch.tensor(data), offsets), shape=shape)
    np.testing.assert_array_equal(T.T.toarray().numpy(), S.toarray().T)


@pytest.mark.parametrize("name", sorted(DIA_QUESTIONABLE))
@pytest.mark.parametrize("family", FAMILIES)
def test_dia_questionable(family, name):
    D, o = _dia_case(DIA_QUESTIONABLE, name, np.int32)
    spgrad_raises_or_matches(
        lambda m, D, o: sparse_class(m, "dia", family)((D, o), shape=(3, 3)), D, o)


@pytest.mark.parametrize("family", FAMILIES)
def test_dia_no_shape(family):
    D, o = _dia_case(DIA_VALID, "offset-beyond-matrix", np.int32)
    compare_raises(lambda m, D, o: sparse_class(m, "dia", family)((D, o)), D, o)


# -- shapes, dtypes and unrecognised input, every class ---------------------------------------

GENERIC_INPUTS = {
    "shape-negative": ((-1, 3), {}),
    "shape-negative-col": ((2, -3), {}),
    "shape-float": ((2.5, 3), {}),
    "shape-float-second": ((2, 3.0), {}),
    "shape-3d": ((2, 3, 4), {}),
    "shape-1d": ((3,), {}),
    "shape-empty-tuple": ((), {}),
    "none": (None, {}),
    "str": ("abc", {}),
    "scalar": (3.0, {}),
    "ragged-list": ([[1, 2], [3]], {}),
    "dense-object": (np.array([[1, None]], dtype=object), {}),
    "dense-str": (np.array([["1", "a"]]), {}),
    "dense-float16": (np.ones((2, 2), np.float16), {}),
    "dense-datetime": (np.array([[1, 2]], dtype="datetime64[s]"), {}),
    "dtype-kw-object": (np.eye(2), {"dtype": object}),
    "dtype-kw-float16": (np.eye(2), {"dtype": np.float16}),
    "dtype-kw-str": (np.eye(2), {"dtype": str}),
    "dtype-kw-bogus": (np.eye(2), {"dtype": "bogus"}),
    "dense-3d": (np.ones((2, 2, 2)), {}),
    "dense-shape-mismatch": (np.ones((2, 3)), {"shape": (3, 4)}),
    "dense-shape-kw-negative": (np.ones((2, 3)), {"shape": (-2, 3)}),
    "four-tuple": ((np.ones(3), np.zeros(3, int), np.array([0, 3]), np.zeros(3)), {}),
    "shape-tuple-with-dtype-object": ((2, 3), {"dtype": object}),
}

# SciPy's own behaviour for these is a crash or an accidental success (e.g. csc_matrix pads a
# dense input to a larger shape=): spgrad may refuse them or must agree with SciPy
GENERIC_QUESTIONABLE = {"dense-shape-mismatch"}


@pytest.mark.parametrize("name", sorted(GENERIC_INPUTS))
@pytest.mark.parametrize("fmt,family", FORMAT_FAMILIES)
def test_generic_constructor_input(fmt, family, name):
    arg, kw = GENERIC_INPUTS[name]

    def body(m, *_):
        return sparse_class(m, fmt, family)(arg, **kw)

    ops = (arg,) if isinstance(arg, np.ndarray) else ()
    if name in GENERIC_QUESTIONABLE:
        spgrad_raises_or_matches(body, *ops)
    else:
        # most raise in SciPy; where SciPy accepts (n-D coo_array, 1-D csr_array...) the
        # result must simply agree
        compare(body, *ops)


UNUSUAL_DTYPES = [np.int16, np.uint16, np.uint32, np.uint64, np.longdouble, np.clongdouble]


@pytest.mark.parametrize("dtype", UNUSUAL_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("fmt,family", FORMAT_FAMILIES)
def test_dtypes_scipy_supports(fmt, family, dtype):
    """Dtypes SciPy supports beyond spgrad's list: a clear ValueError/TypeError, or the same
    result as SciPy — never a silent wrong answer or a crash."""
    X = (np.arange(12).reshape(3, 4) % 3).astype(dtype)

    def body(m, X):
        A = sparse_class(m, fmt, family)(X)
        return A, A @ np.ones(4), A.T, A.sum(axis=0)

    spgrad_raises_or_matches(body, X)


# -- operations with mismatched operands ----------------------------------------------------

A_RAW = nasty(np.float64, np.int32, shape=(3, 4))
T_RAW = nasty(np.float64, np.int64, shape=(4, 3))

OP_CASES = {
    "add-sparse-shape": (lambda m, A, B: A + B, "sparse-T"),
    "sub-sparse-shape": (lambda m, A, B: A - B, "sparse-T"),
    "radd-sparse-shape": (lambda m, A, B: B + A, "sparse-T"),
    "add-dense-shape": (lambda m, A, B: A + B, np.ones((4, 3))),
    "sub-dense-shape": (lambda m, A, B: A - B, np.ones((4, 3))),
    "rsub-dense-shape": (lambda m, A, B: B - A, np.ones((4, 3))),
    "add-dense-1d-shape": (lambda m, A, B: A + B, np.ones(3)),
    "matmul-sparse-shape": (lambda m, A, B: A @ B, "sparse-same"),
    "dot-sparse-shape": (lambda m, A, B: A.dot(B), "sparse-same"),
    "matmul-vector-shape": (lambda m, A, B: A @ B, np.ones(3)),
    "matmul-vector-longer": (lambda m, A, B: A @ B, np.ones(5)),
    "matmul-column-shape": (lambda m, A, B: A @ B, np.ones((3, 1))),
    "matmul-dense-shape": (lambda m, A, B: A @ B, np.ones((3, 2))),
    "matmul-matrix-shape": (lambda m, A, B: A @ B, np.matrix(np.ones((3, 2)))),
    "matmul-3d": (lambda m, A, B: A @ B, np.ones((2, 4, 2))),
    "dot-vector-shape": (lambda m, A, B: A.dot(B), np.ones(3)),
    "rmatmul-vector-shape": (lambda m, A, B: B @ A, np.ones(4)),
    "rmatmul-dense-shape": (lambda m, A, B: B @ A, np.ones((2, 4))),
    "multiply-sparse-shape": (lambda m, A, B: A.multiply(B), "sparse-T"),
    "multiply-dense-shape": (lambda m, A, B: A.multiply(B), np.ones((4, 3))),
    "multiply-dense-nonbroadcast": (lambda m, A, B: A.multiply(B), np.ones((2, 4))),
    "multiply-1d-shape": (lambda m, A, B: A.multiply(B), np.ones(3)),
    "multiply-sparse-row-shape": (lambda m, A, B: A.multiply(B), "sparse-row-bad"),
    "star-sparse-shape": (lambda m, A, B: A * B, "sparse-T-other"),
    "star-dense-shape": (lambda m, A, B: A * B, np.ones((2, 3))),
    "add-str": (lambda m, A, B: A + "x", None),
    "mul-str": (lambda m, A, B: A * "x", None),
    "matmul-str": (lambda m, A, B: A @ "x", None),
    "multiply-str": (lambda m, A, B: A.multiply("x"), None),
    "add-object-dense": (lambda m, A, B: A + B, np.ones((3, 4), dtype=object)),
    "matmul-object-vector": (lambda m, A, B: A @ B, np.ones(4, dtype=object)),
    "astype-bogus": (lambda m, A, B: A.astype("bogus"), None),
    "astype-safe-downcast": (lambda m, A, B: A.astype(np.int8, casting="safe"), None),
    "sum-axis-2": (lambda m, A, B: A.sum(axis=2), None),
    "sum-axis-float": (lambda m, A, B: A.sum(axis=1.0), None),
    # CSR (resp. CSC) accepts anything equal to its minor axis, the other formats raise
    "sum-axis-float-0": (lambda m, A, B: A.sum(axis=0.0), None),
    "sum-axis-float-minus-1": (lambda m, A, B: A.sum(axis=-1.0), None),
    "sum-axis-bool": (lambda m, A, B: A.sum(axis=True), None),
    "mean-axis-minus-3": (lambda m, A, B: A.mean(axis=-3), None),
    "sum-axis-str": (lambda m, A, B: A.sum(axis="x"), None),
    "diagonal-float": (lambda m, A, B: A.diagonal(1.5), None),
    "toarray-order-bogus": (lambda m, A, B: A.toarray(order="X"), None),
    "toarray-out-wrong-shape": (lambda m, A, B: A.toarray(out=B), np.zeros((4, 3))),
    "toarray-out-wrong-dtype": (lambda m, A, B: A.toarray(out=B), np.zeros((3, 4), np.int8)),
    "pow-matrix-nonsquare": (lambda m, A, B: A ** 2, None),
    "pow-negative": (lambda m, A, B: A ** -1, None),
    "pow-sparse": (lambda m, A, B: A ** B, "sparse-same-shape"),
    "power-zero": (lambda m, A, B: A.power(0), None),
    "truediv-sparse-shape": (lambda m, A, B: A / B, "sparse-T"),
    "transpose-axes-bogus": (lambda m, A, B: A.transpose(axes=(0, 0)), None),
    "asformat-bogus": (lambda m, A, B: A.asformat("xyz"), None),
    "tril-k-float": (lambda m, A, B: m.tril(A, k=0.5), None),
    "tril-format-bogus": (lambda m, A, B: m.tril(A, format="xyz"), None),
}


def _other(spec, fmt, family):
    if isinstance(spec, str):
        raw = {"sparse-T": T_RAW, "sparse-T-other": T_RAW,
               "sparse-same": A_RAW, "sparse-same-shape": A_RAW,
               "sparse-row-bad": dense_raw(1, 3)}[spec]
        fmts = list(NATIVE_FORMATS)
        return Sp(raw, fmts[(fmts.index(fmt) + 1) % 4], family)
    return spec


@pytest.mark.parametrize("name", sorted(OP_CASES))
@pytest.mark.parametrize("fmt,family", FORMAT_FAMILIES)
def test_operation_bad_operand(fmt, family, name):
    fn, spec = OP_CASES[name]
    A = Sp(A_RAW, fmt, family)
    B = _other(spec, fmt, family)
    ops = (A,) if B is None else (A, B)
    if B is None:
        compare(lambda m, A: fn(m, A, None), *ops)
    else:
        compare(fn, *ops)


@pytest.mark.parametrize("dtype", [object, np.float16, str, "datetime64[s]"])
@pytest.mark.parametrize("fmt,family", FORMAT_FAMILIES)
def test_astype_unsupported(fmt, family, dtype):
    A = Sp(A_RAW, fmt, family)
    if fmt == "dia":
        # SciPy's dia_array.astype(object) succeeds and fails only later
        spgrad_raises(lambda m, A: A.astype(dtype), A, exc=(ValueError, TypeError))
    else:
        compare_raises(lambda m, A: A.astype(dtype), A)


@pytest.mark.parametrize("fmt,family", FORMAT_FAMILIES)
def test_matrix_family_vector_orientation(fmt, family):
    """(1, n) and (n,) vectors that do not match must raise rather than broadcast."""
    A = Sp(A_RAW, fmt, family)
    for x in (np.ones((1, 4)), np.ones((4, 4))):
        compare(lambda m, A, x: A @ x, A, x)
