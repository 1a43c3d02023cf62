"""Parity with scipy.sparse: max/min/nanmax/nanmin/argmax/argmin, maximum/minimum,
comparisons, the zero-preserving ufunc methods, abs/round/real/imag/conj, iteration,
printing, counting and the sparse-matrix extras (see conftest.py)."""

import operator
import warnings

import numpy as np
import pytest

from conftest import (
    EDGE,
    NATIVE_FORMATS,
    SCIPY,
    SPGRAD,
    ParityBase,
    Sp,
    cases,
    compare,
    format_classes,
    make_raw,
    need_spgrad,
    operand_pairs,
    pair_edges,
    raws,
    single_edges,
)

AXES = [None, 0, 1, -1, -2]
BAD_AXES = [2, -3, (0, 1), (0, 0), 1.5, "x"]
UFUNCS = ["sin", "tan", "arcsin", "arctan", "sinh", "tanh", "arcsinh", "arctanh", "rint",
          "sign", "expm1", "log1p", "deg2rad", "rad2deg", "floor", "ceil", "trunc", "sqrt"]
CMP_OPS = [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]
SCALARS = [0, 0.0, 1, -1, 2.5, -0.5, np.nan, 1j, np.float32(2), np.int64(-3), True, False]
MINMAX_SCALARS = [0, 0.0, -1, 1, -2.5, 0.5, np.int8(-2), np.float32(-1.5), 1j, -1j]


def nan_raw(label="nan"):
    """NaNs in a full row, a partial row and a column: NaN rules of max vs nanmax."""
    nan = np.nan
    entries = [(0, 0, nan), (0, 1, 1.0), (0, 2, -2.0), (1, 1, nan), (2, 0, -1.0),
               (2, 1, nan), (2, 2, 3.0), (3, 2, 0.0)]
    return make_raw((4, 3), entries, np.float64, label=label)


def all_nan_raw():
    return make_raw((2, 2), [(0, 0, np.nan), (0, 1, np.nan), (1, 0, np.nan)], np.float32,
                    label="all-nan")


def ties_raw():
    """Ties between stored extremes and with implicit zeros, negative-only and full rows."""
    entries = [(0, 1, 3), (0, 3, 3), (1, 0, -1), (1, 1, -2), (1, 2, -2), (1, 3, -1),
               (2, 2, 0), (2, 3, -4), (3, 0, 5), (3, 2, 5)]
    return make_raw((4, 4), entries, np.int64, label="ties")


EXTRA = [nan_raw(), all_nan_raw(), ties_raw()]


def _float16(name, dtype):
    """Whether NumPy's ``name`` ufunc maps ``dtype`` to float16."""
    try:
        return getattr(np, name)(np.zeros(1, dtype=dtype)).dtype == np.float16
    except TypeError:
        return False


class _MinMaxMixin(ParityBase):
    @cases(raw=raws(), axis=AXES, explicit=[False, True], edge=single_edges(pool=EDGE + EXTRA))
    def test_max_min(self, raw, axis, explicit):
        A = self.S(raw)
        for name in ("max", "min", "nanmax", "nanmin"):
            compare(lambda m, A: getattr(A, name)(axis=axis, explicit=explicit), A)
        compare(lambda m, A: A.max(axis), A)

    @cases(raw=raws(), axis=AXES, explicit=[False, True], edge=single_edges(pool=EDGE + EXTRA))
    def test_argmax_argmin(self, raw, axis, explicit):
        A = self.S(raw)
        for name in ("argmax", "argmin"):
            compare(lambda m, A: getattr(A, name)(axis=axis, explicit=explicit), A)
            compare(lambda m, A: getattr(A, name)(axis), A)

    @cases(raw=raws(), bad=BAD_AXES, edge=single_edges())
    def test_minmax_errors(self, raw, bad):
        A = self.S(raw)
        for name in ("max", "min", "nanmax", "nanmin", "argmax", "argmin"):
            compare(lambda m, A: getattr(A, name)(axis=bad), A)
            compare(lambda m, A: getattr(A, name)(out=np.zeros(3)), A)
            compare(lambda m, A: getattr(A, name)(axis=0, out=np.zeros(3)), A)


class _ElementwiseMixin(ParityBase):
    @cases(pair=operand_pairs("same"), edge=pair_edges("same"))
    def test_maximum_minimum_sparse(self, pair):
        a, B = pair
        A = self.S(a)
        compare(lambda m, A, B: A.maximum(B), A, B)
        compare(lambda m, A, B: A.minimum(B), A, B)
        compare(lambda m, A: A.maximum(A), A)

    @cases(raw=raws(), scalar=MINMAX_SCALARS, edge=single_edges(pool=EDGE + EXTRA))
    def test_maximum_minimum_scalar(self, raw, scalar):
        A = self.S(raw)
        compare(lambda m, A: A.maximum(scalar), A)
        compare(lambda m, A: A.minimum(scalar), A)

    @cases(raw=raws(), kind=["same", "row", "col", "list", "matrix", "bad"],
           edge=single_edges(pool=EDGE + EXTRA))
    def test_maximum_minimum_dense(self, raw, kind):
        m_, n_ = raw.shape
        shape = {"same": (m_, n_), "row": (1, n_), "col": (m_, 1), "list": (m_, n_),
                 "matrix": (m_, n_), "bad": (m_ + 1, n_ + 2)}[kind]
        X = (np.arange(int(np.prod(shape))) % 5 - 2.0).reshape(shape)
        if kind == "list":
            X = X.tolist()
        elif kind == "matrix":
            X = np.matrix(X)
        A = self.S(raw)
        compare(lambda m, A: A.maximum(X), A)
        compare(lambda m, A: A.minimum(X), A)

    @cases(pair=operand_pairs("same"), edge=pair_edges("same"))
    def test_maximum_shape_mismatch(self, pair):
        a, B = pair
        other = make_raw((a.shape[0] + 1, a.shape[1]), [], np.float64)
        compare(lambda m, A, B: A.maximum(B), self.S(a), Sp(other, B.fmt, B.family))
        compare(lambda m, A: A.minimum(object()), self.S(a))

    @cases(raw=raws(), op=CMP_OPS, scalar=SCALARS, edge=single_edges(pool=EDGE + EXTRA))
    def test_compare_scalar(self, raw, op, scalar):
        compare(lambda m, A: op(A, scalar), self.S(raw))

    @cases(pair=operand_pairs("same"), op=CMP_OPS, edge=pair_edges("same"))
    def test_compare_sparse(self, pair, op):
        a, B = pair
        compare(lambda m, A, B: op(A, B), self.S(a), B)
        compare(lambda m, A: op(A, A), self.S(a))

    @cases(raw=raws(), op=CMP_OPS, kind=["same", "row", "col", "bad"],
           edge=single_edges(pool=EDGE + EXTRA))
    def test_compare_dense(self, raw, op, kind):
        m_, n_ = raw.shape
        shape = {"same": (m_, n_), "row": (1, n_), "col": (m_, 1),
                 "bad": (m_ + 1, n_ + 2)}[kind]
        X = (np.arange(int(np.prod(shape))) % 3 - 1.0).reshape(shape)
        compare(lambda m, A: op(A, X), self.S(raw))
        compare(lambda m, A: op(X, A), self.S(raw))

    @cases(raw=raws(), op=CMP_OPS, edge=single_edges())
    def test_compare_shape_mismatch(self, raw, op):
        other = make_raw((raw.shape[0] + 1, raw.shape[1]), [], np.float64)
        compare(lambda m, A, B: op(A, B), self.S(raw), Sp(other, "csr", "array"))
        compare(lambda m, A: A == object(), self.S(raw))
        compare(lambda m, A: A != "text", self.S(raw))

    def test_comparison_warnings(self):
        need_spgrad()
        A = SPGRAD.csr_array(np.array([[1.0, 0.0], [0.0, -2.0]]))
        B = SPGRAD.csr_array(np.array([[1.0, 0.0], [3.0, -2.0]]))
        warn = SPGRAD.SparseEfficiencyWarning
        with pytest.warns(warn, match="Try using != instead"):
            r = A == 0
        assert r.toarray().tolist() == [[False, True], [True, False]]
        with pytest.warns(warn, match="Try using != instead"):
            r = A == B
        assert r.toarray().tolist() == [[True, True], [False, True]]
        with pytest.warns(warn, match="results in a dense matrix"):
            A.maximum(1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert (A != 0).nnz == 2 and (A < B).nnz == 1 and A.maximum(-1).nnz == 2


class _UfuncMixin(ParityBase):
    @cases(raw=raws(), edge=single_edges(pool=EDGE + EXTRA))
    def test_ufuncs(self, raw):
        A = self.S(raw)
        for name in UFUNCS:
            if self.fmt == "dia" and _float16(name, raw.dtype):
                continue  # see test_dia_float16_results
            compare(lambda m, A: getattr(A, name)(), A)

    @cases(raw=raws(dtypes=[np.dtype(t) for t in (np.bool_, np.int8, np.uint8)]),
           edge=single_edges())
    def test_dia_float16_results(self, raw):
        # SciPy's DIA keeps a float16 ufunc result that its other formats reject; spgrad's
        # containers reject float16 everywhere (ValueError naming the supported dtypes).
        need_spgrad()
        if self.fmt != "dia":
            return
        A = SPGRAD.dia_array(raw.dia_args(), shape=raw.shape)
        for name in UFUNCS:
            if _float16(name, raw.dtype):
                with pytest.raises(ValueError, match="float16"), np.errstate(all="ignore"):
                    getattr(A, name)()

    @cases(raw=raws(), ndigits=[0, 1, -1, 2], edge=single_edges(pool=EDGE + EXTRA))
    def test_abs_round_real_imag_conj(self, raw, ndigits):
        A = self.S(raw)
        compare(lambda m, A: abs(A), A)
        if not (self.fmt == "dia" and _float16("around", raw.dtype)):
            compare(lambda m, A: round(A), A)
            compare(lambda m, A: round(A, ndigits), A)
        compare(lambda m, A: A.real, A)
        compare(lambda m, A: A.imag, A)
        compare(lambda m, A: A.conj(), A)
        compare(lambda m, A: A.conjugate(copy=False), A)

    @cases(raw=raws(), edge=single_edges())
    def test_ufunc_names_and_docs(self, raw):
        need_spgrad()
        for name in UFUNCS:
            assert hasattr(SCIPY.csr_array, name)
            assert getattr(SPGRAD.csr_array, name).__name__ == name
            assert getattr(SPGRAD.dia_matrix, name).__doc__


class _MiscMixin(ParityBase):
    @cases(raw=raws(), edge=single_edges())
    def test_iter(self, raw):
        compare(lambda m, A: list(A), self.S(raw))

    @cases(raw=raws(max_side=12), maxprint=[None, 3, 4], edge=single_edges())
    def test_repr_str(self, raw, maxprint):
        def body(m, A):
            if maxprint is not None:
                A.maxprint = maxprint
            return repr(A), str(A)

        compare(body, self.S(raw))

    @cases(raw=raws(), edge=single_edges())
    def test_len_bool(self, raw):
        A = self.S(raw)
        compare(lambda m, A: len(A), A)
        compare(lambda m, A: bool(A), A)

    @cases(raw=raws(), axis=[None, 0, 1, -1, -2, 2], edge=single_edges())
    def test_count_nonzero_nonzero(self, raw, axis):
        A = self.S(raw)
        compare(lambda m, A: A.count_nonzero(axis=axis), A)
        compare(lambda m, A: A.nonzero(), A)

    @cases(raw=raws(), axis=[None, 0, 1, -1, -2, 2], edge=single_edges())
    def test_matrix_extras(self, raw, axis):
        A = self.S(raw)
        for name in ("getnnz", "getH", "asfptype", "getformat", "getmaxprint", "get_shape"):
            compare(lambda m, A: hasattr(A, name), A)
        if self.is_array:
            return
        compare(lambda m, A: A.getnnz(axis=axis), A)
        compare(lambda m, A: A.getnnz(), A)
        compare(lambda m, A: A.getH(), A)
        compare(lambda m, A: A.asfptype(), A)
        compare(lambda m, A: A.getformat(), A)
        compare(lambda m, A: A.getmaxprint(), A)
        compare(lambda m, A: A.get_shape(), A)


format_classes(_MinMaxMixin, globals(), prefix="MinMax",
               formats=[(f, fam) for f in ("csr", "csc", "coo") for fam in ("array", "matrix")])
format_classes(_ElementwiseMixin, globals(), prefix="Elementwise")
format_classes(_UfuncMixin, globals(), prefix="Ufunc")
format_classes(_MiscMixin, globals(), prefix="Misc")


@pytest.mark.parametrize("fmt", ["dia"])
@pytest.mark.parametrize("family", ["array", "matrix"])
def test_dia_has_no_minmax(fmt, family):
    need_spgrad()
    for name in ("max", "min", "nanmax", "nanmin", "argmax", "argmin"):
        assert hasattr(getattr(SCIPY, f"{fmt}_{family}"), name) is False
        assert hasattr(getattr(SPGRAD, f"{fmt}_{family}"), name) is False


@pytest.mark.parametrize("fmt", NATIVE_FORMATS)
def test_public_methods_like_scipy(fmt):
    """Every public method of SciPy's class that this work covers exists on spgrad's."""
    need_spgrad()
    covered = set(UFUNCS) | {"maximum", "minimum", "max", "min", "nanmax", "nanmin", "argmax",
                             "argmin", "getnnz", "getH", "asfptype", "getformat",
                             "getmaxprint", "count_nonzero", "nonzero", "conj", "conjugate",
                             "__iter__", "__abs__", "__round__", "__eq__", "__ne__", "__lt__",
                             "__le__", "__gt__", "__ge__"}
    for family in ("array", "matrix"):
        sc = getattr(SCIPY, f"{fmt}_{family}")
        sg = getattr(SPGRAD, f"{fmt}_{family}")
        missing = [n for n in sorted(covered) if hasattr(sc, n) and not hasattr(sg, n)]
        assert not missing, f"{fmt}_{family} lacks {missing}"


def test_union_map_kernel():
    need_spgrad()
    from spgrad import _cpu

    Ap, Aj = np.array([0, 2, 2, 3], np.int32), np.array([0, 3, 1], np.int32)
    Bp, Bj = np.array([0, 1, 3, 3], np.int32), np.array([3, 0, 2], np.int32)
    Cp = np.empty(4, np.int32)
    Cj = np.empty(6, np.int32)
    a_pos = np.empty(6, np.int64)
    b_pos = np.empty(6, np.int64)
    nnz = _cpu.csr_union_map(Ap, Aj, Bp, Bj, Cp, Cj, a_pos, b_pos)
    assert nnz == 5
    assert Cp.tolist() == [0, 2, 4, 5]
    assert Cj[:nnz].tolist() == [0, 3, 0, 2, 1]
    assert a_pos[:nnz].tolist() == [0, 1, 3, 3, 2]
    assert b_pos[:nnz].tolist() == [3, 0, 1, 2, 3]
    with pytest.raises(ValueError, match="capacity"):
        _cpu.csr_union_map(Ap, Aj, Bp, Bj, Cp, Cj[:3], a_pos, b_pos)
    with pytest.raises(ValueError, match="row pointers"):
        _cpu.csr_union_map(Ap, Aj, Bp[:3], Bj, Cp, Cj, a_pos, b_pos)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("raw", [r for r in EDGE + EXTRA if 0 not in r.shape], ids=repr)
def test_max_min_axis_1d_array(fmt, raw):
    A = Sp(raw, fmt, "array")
    for name in ("max", "min", "nanmax", "nanmin"):
        for axis in (0, 1, -1):
            compare(lambda m, A: getattr(A, name)(axis=axis), A)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("raw", [r for r in EDGE if 0 not in r.shape], ids=repr)
def test_iter_1d_array(fmt, raw):
    compare(lambda m, A: list(A), Sp(raw, fmt, "array"))
