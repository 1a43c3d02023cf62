"""Parity with scipy.sparse: reductions (sum/mean with axis, dtype, out), diagonal, trace,
attributes, tril/triu, find, predicates and the in-place canonicalisation methods
(see conftest.py)."""

import numpy as np

from conftest import (
    DTYPES,
    EDGE_SQUARE,
    NATIVE_FORMATS,
    SCIPY_FORMATS,
    ParityBase,
    cases,
    compare,
    format_classes,
    raws,
    single_edges,
    tolerance,
)

AXES = [None, 0, 1, -1, -2, (0, 1), (1, 0), (0,), (-1,), 2, -3, (0, 0)]
SUM_DTYPES = [None, np.float64, np.int64, np.complex128, np.float32, np.int8, np.bool_]


def _out_for(raw, axis, family, dtype):
    """An ``out`` buffer of the shape the reduction returns (np.matrix for the matrix
    family), filled with garbage so that a result that ignores it is noticed."""
    D = raw.dense()
    ref = np.matrix(D).sum(axis=axis) if family == "matrix" else D.sum(axis=axis)
    out = np.full(np.shape(ref), 7, dtype=dtype)
    return np.matrix(out) if isinstance(ref, np.matrix) else out


class _ReduceMixin(ParityBase):
    @cases(raw=raws(), axis=AXES, dtype=SUM_DTYPES, edge=single_edges())
    def test_sum(self, raw, axis, dtype):
        # float32 data may be accumulated in float32 by either side even for dtype=float64
        rtol = tolerance(raw.dtype) if raw.dtype.kind in "fc" else None
        compare(lambda m, A: A.sum(axis=axis, dtype=dtype), self.S(raw), rtol=rtol)
        compare(lambda m, A: A.sum(axis), self.S(raw))

    @cases(raw=raws(), axis=AXES, dtype=SUM_DTYPES, edge=single_edges())
    def test_mean(self, raw, axis, dtype):
        rtol = tolerance(raw.dtype) if raw.dtype.kind in "fc" else None
        compare(lambda m, A: A.mean(axis=axis, dtype=dtype), self.S(raw), rtol=rtol)
        compare(lambda m, A: A.mean(axis), self.S(raw), rtol=rtol)

    @cases(raw=raws(), axis=[None, 0, 1, -1], out_dtype=[np.float64, np.complex128],
           edge=single_edges())
    def test_sum_mean_out(self, raw, axis, out_dtype):
        for name in ("sum", "mean"):
            def body(m, A):
                out = _out_for(raw, axis, self.family, out_dtype)
                r = getattr(A, name)(axis=axis, out=out)
                return r, r is out, out

            # SciPy accumulates float32 data in float32 before writing to ``out``
            compare(body, self.S(raw), rtol=tolerance(raw.dtype))

    @cases(raw=raws(), axis=[0, 1], edge=single_edges())
    def test_sum_out_wrong_shape(self, raw, axis):
        def body(m, A):
            out = np.zeros((raw.shape[0] + 1, raw.shape[1] + 1))
            return A.sum(axis=axis, out=out)

        compare(body, self.S(raw))

    @cases(raw=raws(), edge=single_edges())
    def test_diagonal(self, raw):
        m_, n_ = raw.shape
        A = self.S(raw)
        compare(lambda m, A: A.diagonal(), A)
        for k in range(-m_ - 2, n_ + 3):
            compare(lambda m, A: A.diagonal(k), A)
        compare(lambda m, A: A.diagonal(k=np.int64(1)), A)

    @cases(raw=raws(), edge=single_edges())
    def test_trace(self, raw):
        m_, n_ = raw.shape
        A = self.S(raw)
        compare(lambda m, A: A.trace(), A)
        for k in range(-m_ - 2, n_ + 3):
            compare(lambda m, A: A.trace(offset=k), A)

    @cases(raw=raws(), edge=single_edges())
    def test_attributes(self, raw):
        A = self.S(raw)
        for name in ("nnz", "size", "ndim", "format", "shape", "dtype"):
            compare(lambda m, A: getattr(A, name), A)
        compare(lambda m, A: tuple(type(s) for s in A.shape), A)
        compare(lambda m, A: len(A), A)
        compare(lambda m, A: bool(A), A)
        compare(lambda m, A: type(A).__name__, A)

    @cases(raw=raws(), k=[0, 1, -1, 2, -2, 7, -7], out_fmt=[None, *SCIPY_FORMATS],
           edge=single_edges())
    def test_tril_triu(self, raw, k, out_fmt):
        A = self.S(raw)
        if out_fmt not in (None, *NATIVE_FORMATS):
            out_fmt = None
        compare(lambda m, A: m.tril(A), A)
        compare(lambda m, A: m.triu(A), A)
        compare(lambda m, A: m.tril(A, k, out_fmt), A)
        compare(lambda m, A: m.triu(A, k=k, format=out_fmt), A)

    @cases(raw=raws(), edge=single_edges())
    def test_find(self, raw):
        compare(lambda m, A: m.find(A), self.S(raw))

    @cases(raw=raws(), edge=single_edges())
    def test_predicates(self, raw):
        A = self.S(raw)
        compare(lambda m, A: m.issparse(A), A)
        compare(lambda m, A: m.isspmatrix(A), A)
        for f in SCIPY_FORMATS:
            compare(lambda m, A: getattr(m, f"isspmatrix_{f}")(A), A)
        compare(lambda m, A: isinstance(A, m.sparray), A)
        compare(lambda m, A: isinstance(A, m.spmatrix), A)
        compare(lambda m, A: isinstance(A, np.ndarray), A)

    # -- canonical format -----------------------------------------------------------------

    @cases(raw=raws(), edge=single_edges())
    def test_flags(self, raw):
        compare(lambda m, A: A.has_canonical_format, self.S(raw))
        compare(lambda m, A: A.has_sorted_indices, self.S(raw))

    @cases(raw=raws(), edge=single_edges())
    def test_sum_duplicates(self, raw):
        def body(m, A):
            ret = A.sum_duplicates()
            if A.format == "coo":
                idx = (A.row, A.col)
            else:
                idx = (A.indptr, A.indices, A.has_sorted_indices)
            return ret, A, A.has_canonical_format, idx

        compare(body, self.S(raw), mutates=True)

    @cases(raw=raws(), edge=single_edges())
    def test_sort_indices(self, raw):
        def body(m, A):
            ret = A.sort_indices()
            return ret, A, A.indptr, A.indices, A.has_sorted_indices

        compare(body, self.S(raw), mutates=True)

    @cases(raw=raws(), edge=single_edges())
    def test_sorted_indices(self, raw):
        def body(m, A):
            r = A.sorted_indices()
            return r, r is A, r.indices, r.has_sorted_indices

        compare(body, self.S(raw))

    @cases(raw=raws(), edge=single_edges())
    def test_eliminate_zeros(self, raw):
        def body(m, A):
            ret = A.eliminate_zeros()
            return ret, A, A.nnz

        compare(body, self.S(raw), mutates=True)

    @cases(raw=raws(), edge=single_edges())
    def test_prune(self, raw):
        def body(m, A):
            ret = A.prune()
            return ret, A, len(A.data), len(A.indices)

        compare(body, self.S(raw), mutates=True)

    @cases(raw=raws(), full_check=[False, True], edge=single_edges())
    def test_check_format(self, raw, full_check):
        def body(m, A):
            return A.check_format(full_check=full_check), A

        compare(body, self.S(raw), mutates=True)

    @cases(raw=raws(), edge=single_edges())
    def test_canonical_then_ops(self, raw):
        """Operations after in-place canonicalisation see the updated storage."""
        def body(m, A):
            if hasattr(A, "sum_duplicates"):
                A.sum_duplicates()
            if hasattr(A, "eliminate_zeros"):
                A.eliminate_zeros()
            return A, A.T, A.sum(axis=0), A.tocsr(), A.tocoo()

        compare(body, self.S(raw), mutates=True)


format_classes(_ReduceMixin, globals())


class _SquareMixin(ParityBase):
    """Square-only behaviour, with square edge cases."""

    @cases(raw=raws(square=True), edge=single_edges(pool=EDGE_SQUARE))
    def test_square_reductions(self, raw):
        A = self.S(raw)
        compare(lambda m, A: A.trace(), A)
        compare(lambda m, A: A.diagonal(), A)
        compare(lambda m, A: (A @ A).trace(), A)
        compare(lambda m, A: A.sum(axis=0) - A.sum(axis=1), A)

    @cases(raw=raws(square=True), dtype=list(DTYPES), edge=single_edges(pool=EDGE_SQUARE))
    def test_square_astype_trace(self, raw, dtype):
        compare(lambda m, A: A.astype(dtype).trace(), self.S(raw))


format_classes(_SquareMixin, globals())
