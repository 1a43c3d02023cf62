"""Parity with scipy.sparse: arithmetic, ``*``/``**`` in both families, ``multiply`` with
broadcasting, ``@``/``dot`` with vectors, dense and sparse operands (see conftest.py)."""

import numpy as np
from hypothesis import strategies as st

import spgrad as sp

from conftest import (
    DTYPES,
    EDGE,
    EDGE_SQUARE,
    FAMILIES,
    NATIVE_FORMATS,
    ParityBase,
    Sp,
    cases,
    compare,
    dense_raw,
    format_classes,
    make_raw,
    operand_pairs,
    pair_edges,
    raws,
    single_edges,
)
from conftest import scipy_coo_vector_fix as fix

SCALARS = [0, 0.0, 1, 2, -1, 0.5, -2.5, 1j, np.float32(2), np.int64(3), np.int8(-2),
           np.complex64(1 - 1j), np.float64(0.25), True, False]


def dense_operand(raw, kind, dtype=None):
    """Dense operands shaped against ``raw`` (m×n)."""
    m, n = raw.shape
    dtype = np.dtype(dtype or np.float64)
    base = {
        "same": (m, n), "matrix": (m, n), "row": (1, n), "col": (m, 1), "1d": (n,),
        "1d-m": (m,), "1x1": (1, 1), "0d": (), "fortran": (m, n), "matmul-2d": (n, 3),
        "matmul-col": (n, 1), "matmul-matrix": (n, 2), "rmatmul-2d": (3, m),
        "rmatmul-1d": (m,), "rmatmul-row": (1, m), "rmatmul-matrix": (2, m),
        "matmul-1d": (n,), "matmul-F": (n, 3), "matmul-noncontig": (n, 3),
    }[kind]
    size = int(np.prod(base, dtype=np.int64))
    vals = (np.arange(size) % 7 - 3).astype(np.float64) * 0.5
    if dtype.kind == "c":
        vals = vals + 1j * (np.arange(size) % 3 - 1)
    X = vals.astype(dtype).reshape(base)
    if kind in ("matrix", "matmul-matrix", "rmatmul-matrix"):
        X = np.matrix(X)
    elif kind in ("fortran", "matmul-F"):
        X = np.asfortranarray(X)
    elif kind == "matmul-noncontig":
        X = np.repeat(X, 2, axis=1)[:, ::2]
    return X


DENSE_DTYPES = [np.float64, np.float32, np.int64, np.complex128, np.bool_, np.int8]


class _ArithMixin(ParityBase):
    @cases(raw=raws(), edge=single_edges())
    def test_neg(self, raw):
        compare(lambda m, A: -A, self.S(raw))

    @cases(pair=operand_pairs("same"), edge=pair_edges("same"))
    def test_add_sub_sparse(self, pair):
        a, B = pair
        A = self.S(a)
        compare(lambda m, A, B: A + B, A, B)
        compare(lambda m, A, B: A - B, A, B)
        compare(lambda m, A, B: B + A, A, B)
        compare(lambda m, A, B: B - A, A, B)
        compare(lambda m, A: A + A, A)
        compare(lambda m, A: A - A, A)

    @cases(raw=raws(), scalar=SCALARS, edge=single_edges())
    def test_add_sub_scalar(self, raw, scalar):
        A = self.S(raw)
        compare(lambda m, A: A + scalar, A)
        compare(lambda m, A: scalar + A, A)
        compare(lambda m, A: A - scalar, A)
        compare(lambda m, A: scalar - A, A)

    @cases(raw=raws(), kind=["same", "matrix", "row", "col", "1d", "1x1", "0d", "fortran"],
           dtype=DENSE_DTYPES, edge=single_edges())
    def test_add_sub_dense(self, raw, kind, dtype):
        A, D = self.S(raw), dense_operand(raw, kind, dtype)
        compare(lambda m, A, D: A + D, A, D)
        compare(lambda m, A, D: D + A, A, D)
        compare(lambda m, A, D: A - D, A, D)
        compare(lambda m, A, D: D - A, A, D)

    @cases(pair=operand_pairs("same"), edge=pair_edges("same"))
    def test_div_sparse(self, pair):
        """Sparse / sparse: the dense quotient (NaN where both store nothing); a complex
        divisor under real values is spgrad's own case (test_div_sparse_complex_divisor)."""
        a, B = pair
        if B.raw.data.dtype.kind == "c" and a.data.dtype.kind != "c":
            return
        compare(lambda m, A, B: A / B, self.S(a), B)

    @cases(raw=raws(), scalar=SCALARS, edge=single_edges())
    def test_mul_div_scalar(self, raw, scalar):
        A = self.S(raw)
        compare(lambda m, A: A * scalar, A)
        compare(lambda m, A: scalar * A, A)
        compare(lambda m, A: A / scalar, A)
        compare(lambda m, A: scalar / A, A)
        compare(lambda m, A: A.multiply(scalar), A)

    @cases(pair=operand_pairs("same"), edge=pair_edges("same"))
    def test_star_same_shape(self, pair):
        """array: elementwise; matrix: matrix product (shape mismatch unless square)."""
        a, B = pair
        compare(lambda m, A, B: A * B, self.S(a), B)

    @cases(pair=operand_pairs("matmul"), edge=pair_edges("matmul"))
    def test_star_matmul_shape(self, pair):
        a, B = pair
        compare(lambda m, A, B: A * B, self.S(a), B)

    @cases(raw=raws(), kind=["same", "matrix", "row", "col", "1d", "1d-m", "1x1", "0d",
                             "matmul-2d", "matmul-col", "matmul-matrix", "matmul-1d"],
           dtype=DENSE_DTYPES, edge=single_edges())
    def test_star_dense(self, raw, kind, dtype):
        A, D = self.S(raw), dense_operand(raw, kind, dtype)
        compare(lambda m, A, D: A * D, A, D)
        compare(lambda m, A, D: D * A, A, D)

    @cases(raw=raws(square=True), exponent=[0, 1, 2, 3, -1, 0.5, 2.0, np.int64(2), True],
           edge=single_edges(pool=EDGE_SQUARE))
    def test_pow_square(self, raw, exponent):
        """array: elementwise power; matrix: matrix power."""
        compare(lambda m, A: A ** exponent, self.S(raw))

    @cases(raw=raws(), exponent=[1, 2, 0], edge=single_edges())
    def test_pow_any_shape(self, raw, exponent):
        compare(lambda m, A: A ** exponent, self.S(raw))

    @cases(raw=raws(), exponent=[1, 2, 3, 0, 0.5, -1, 2.0, -0.5, np.float32(2)],
           dtype=[None, np.float64, np.complex128, np.int32], edge=single_edges())
    def test_power(self, raw, exponent, dtype):
        A = self.S(raw)
        compare(lambda m, A: A.power(exponent), A)
        compare(lambda m, A: A.power(exponent, dtype=dtype), A)

    # -- multiply -----------------------------------------------------------------------

    @cases(pair=operand_pairs("same"), edge=pair_edges("same"))
    def test_multiply_sparse(self, pair):
        a, B = pair
        compare(lambda m, A, B: A.multiply(B), self.S(a), B)
        compare(lambda m, A, B: B.multiply(A), self.S(a), B)

    @cases(raw=raws(), kind=["row", "col", "1x1"], other=raws(max_side=3),
           fmt=list(NATIVE_FORMATS), family=list(FAMILIES),
           edge=[{"raw": r, "other": dense_raw(1, 1, np.int32)} for r in EDGE])
    def test_multiply_sparse_broadcast(self, raw, kind, other, fmt, family):
        """Sparse (1, n), (m, 1) and (1, 1) operands broadcast like dense ones."""
        m_, n_ = raw.shape
        shape = {"row": (1, n_), "col": (m_, 1), "1x1": (1, 1)}[kind]
        b = other
        if b.shape != shape:
            b = dense_raw(*shape, dtype=other.dtype, idx=other.idx)
        B = Sp(b, fmt, family)
        compare(lambda m, A, B: A.multiply(B), self.S(raw), B)
        compare(lambda m, A, B: B.multiply(A), self.S(raw), B)

    @cases(raw=raws(), kind=["same", "matrix", "row", "col", "1d", "1x1", "0d", "fortran",
                             "1d-m"],
           dtype=DENSE_DTYPES, edge=single_edges())
    def test_multiply_dense(self, raw, kind, dtype):
        A, D = self.S(raw), dense_operand(raw, kind, dtype)
        compare(lambda m, A, D: A.multiply(D), A, D)

    @cases(raw=raws(), edge=single_edges())
    def test_multiply_list(self, raw):
        compare(lambda m, A: A.multiply(raw.dense().tolist()), self.S(raw))

    # -- matmul -------------------------------------------------------------------------

    @cases(raw=raws(), kind=["matmul-1d", "matmul-col", "matmul-2d", "matmul-matrix",
                             "matmul-F", "matmul-noncontig"],
           dtype=DENSE_DTYPES, edge=single_edges())
    def test_matmul_dense(self, raw, kind, dtype):
        A, X = self.S(raw), dense_operand(raw, kind, dtype)
        compare(lambda m, A, X: fix(m, A, X, A @ X), A, X)
        compare(lambda m, A, X: fix(m, A, X, A.dot(X)), A, X)

    @cases(raw=raws(), edge=single_edges())
    def test_matmul_list(self, raw):
        x = list(range(raw.shape[1]))
        compare(lambda m, A: fix(m, A, x, A @ x), self.S(raw))
        compare(lambda m, A: fix(m, A, x, A.dot(x)), self.S(raw))

    @cases(pair=operand_pairs("matmul"), edge=pair_edges("matmul"))
    def test_matmul_sparse(self, pair):
        a, B = pair
        compare(lambda m, A, B: A @ B, self.S(a), B)
        compare(lambda m, A, B: A.dot(B), self.S(a), B)

    @cases(raw=raws(), fmt=list(NATIVE_FORMATS), family=list(FAMILIES),
           edge=single_edges())
    def test_matmul_transpose_self(self, raw, fmt, family):
        """A @ A.T and A.T @ A with the second operand in any format."""
        compare(lambda m, A, B: A @ B.T, self.S(raw), Sp(raw, fmt, family))
        compare(lambda m, A, B: A.T @ B, self.S(raw), Sp(raw, fmt, family))

    @cases(raw=raws(), kind=["rmatmul-1d", "rmatmul-2d", "rmatmul-row", "rmatmul-matrix"],
           dtype=DENSE_DTYPES, edge=single_edges())
    def test_rmatmul(self, raw, kind, dtype):
        A, X = self.S(raw), dense_operand(raw, kind, dtype)
        compare(lambda m, A, X: fix(m, A, X, X @ A), A, X)
        compare(lambda m, A, X: fix(m, A, X, A.__rmatmul__(X)), A, X)

    @cases(raw=raws(), scalar=[2, 0.5, np.float64(1)], edge=single_edges())
    def test_matmul_scalar(self, raw, scalar):
        compare(lambda m, A: A @ scalar, self.S(raw))
        compare(lambda m, A: scalar @ A, self.S(raw))

    @cases(raw=raws(), dtype=st.sampled_from(DTYPES), edge=[
        {"raw": r, "dtype": DTYPES[i % len(DTYPES)]} for i, r in enumerate(EDGE)])
    def test_matvec_every_dtype(self, raw, dtype):
        """Mixed value dtypes in A @ x follow NumPy's promotion."""
        x = (np.arange(raw.shape[1]) % 3 + 1).astype(dtype)
        compare(lambda m, A, x: fix(m, A, x, A @ x), self.S(raw), x)


    def test_bool_duplicates(self):
        """Stored boolean duplicates: SciPy keeps them as separate values, so they add up
        numerically once cast (True + True -> 2), while toarray() ORs them."""
        raw = make_raw((2, 3), [(0, 0, True), (0, 0, True), (1, 2, True), (1, 2, False)],
                       np.bool_, np.int32)
        x = np.array([1.0, 2.0, 3.0])
        y = np.array([1.0, -1.0])
        for op in (lambda A: A.toarray(), lambda A: A * 1, lambda A: A.astype(np.int8),
                   lambda A: A.sum(), lambda A: A.sum(axis=0), lambda A: A.mean(),
                   lambda A: A.multiply(2), lambda A: A @ x, lambda A: y @ A,
                   lambda A: A.tocsr(), lambda A: A.T.toarray(), lambda A: A.diagonal(),
                   lambda A: A + A):
            # a fresh matrix per operation: SciPy's sum() sums COO duplicates in place, which
            # changes what later operations see (spgrad never modifies its input)
            compare(lambda m, A: op(A), self.S(raw))


format_classes(_ArithMixin, globals())


def test_div_sparse_complex_divisor():
    """Real values over a complex sparse divisor: the complex quotient (SciPy 1.17 writes it
    into float64 and drops the imaginary parts), NaN in both parts where the divisor is 0."""
    num = np.array([[1, 0, 2], [0, 0, 3]])
    den = np.array([[1j, 0, 2 - 1j], [4, 0, 0]], dtype=np.complex64)
    for dtype in (np.int32, np.float32, np.float64, np.bool_):
        for fmt in ("csr", "coo"):
            for family in ("array", "matrix"):
                cls = getattr(sp, f"{fmt}_{family}")
                out = cls(num.astype(dtype)) / cls(den)
                assert isinstance(out, np.matrix if family == "matrix" else np.ndarray)
                assert out.dtype == np.complex128
                with np.errstate(divide="ignore", invalid="ignore"):
                    expected = num.astype(dtype) / den.astype(np.complex128)
                expected[den == 0] = complex(np.nan, np.nan)
                np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-6)
                assert np.isnan(np.asarray(out).imag[den == 0]).all()
