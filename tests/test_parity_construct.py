"""Parity with scipy.sparse: every constructor form and every conversion, for each native
format and both families (see conftest.py for the harness)."""

import numpy as np
import pytest

from conftest import (
    DTYPES,
    FAMILIES,
    NATIVE_FORMATS,
    SCIPY_FORMATS,
    ParityBase,
    Sp,
    cases,
    compare,
    compare_raises,
    format_classes,
    make_raw,
    raws,
    scipy_object,
    single_edges,
    spgrad_raises,
)

EMPTY_SHAPES = [(0, 0), (0, 3), (3, 0), (2, 5), (5, 2)]


class _ConstructMixin(ParityBase):
    # -- native arrays ----------------------------------------------------------------------

    @cases(raw=raws(), edge=single_edges())
    def test_native_arrays(self, raw):
        """(data, (row, col)) / (data, indices, indptr) / (data, offsets) with shape=."""
        compare(lambda m, A: A, self.S(raw))

    @cases(raw=raws(), copy=[False, True], edge=single_edges())
    def test_native_arrays_copy(self, raw, copy):
        def body(m, *arrs):
            pack = (arrs[0], (arrs[1], arrs[2])) if self.fmt == "coo" else tuple(arrs)
            A = self.cls(m)(pack, shape=raw.shape, copy=copy)
            return A, np.shares_memory(A.data, arrs[0])

        args = raw.native_args(self.fmt)
        flat = [args[0], *args[1]] if self.fmt == "coo" else list(args)
        compare(body, *flat)

    @cases(raw=raws(), with_shape=[True, False], edge=single_edges())
    def test_coo_triplet(self, raw, with_shape):
        data, (row, col) = raw.coo_args()
        kw = {"shape": raw.shape} if with_shape else {}
        compare(lambda m, d, r, c: self.cls(m)((d, (r, c)), **kw), data, row, col)

    @cases(raw=raws(), with_shape=[True, False], edge=single_edges())
    def test_compressed_triplet(self, raw, with_shape):
        which = self.fmt if self.fmt in ("csr", "csc") else "csr"
        kw = {"shape": raw.shape} if with_shape else {}
        compare(lambda m, d, i, p: self.cls(m)((d, i, p), **kw), *raw.compressed_args(which))

    @cases(raw=raws(), dtype=[None, *DTYPES], edge=single_edges())
    def test_coo_triplet_dtype(self, raw, dtype):
        data, (row, col) = raw.coo_args()
        compare(lambda m, d, r, c: self.cls(m)((d, (r, c)), shape=raw.shape, dtype=dtype),
                data, row, col)

    @cases(raw=raws(), edge=single_edges())
    def test_shape_argument(self, raw):
        m_, n_ = raw.shape
        data, (row, col) = raw.coo_args()
        D = raw.dense()
        compare(lambda m, X: self.cls(m)(X, shape=raw.shape), D)
        compare(lambda m, X: self.cls(m)(X, shape=(m_ + 1, n_)), D)
        compare(lambda m, d, r, c: self.cls(m)((d, (r, c)), shape=(m_ + 2, n_ + 1)),
                data, row, col)
        compare(lambda m, d, r, c: self.cls(m)((d, (r, c)), shape=(max(m_ - 1, 0), n_)),
                data, row, col)
        compare(lambda m, d, r, c: self.cls(m)((d, (r, c)), shape=[m_, n_]), data, row, col)

    # -- dense ------------------------------------------------------------------------------

    @cases(raw=raws(), how=["ndarray", "list", "matrix", "fortran", "noncontig"],
           edge=single_edges())
    def test_from_dense(self, raw, how):
        D = raw.dense()
        if how == "list":
            D = D.tolist()
        elif how == "matrix":
            D = np.matrix(D)
        elif how == "fortran":
            D = np.asfortranarray(D)
        elif how == "noncontig":
            D = np.repeat(np.repeat(D, 2, axis=0), 2, axis=1)[::2, ::2]
        compare(lambda m, X: self.cls(m)(X), D)

    @cases(raw=raws(), dtype=[None, *DTYPES, "float32", float, complex, int, bool],
           edge=single_edges())
    def test_from_dense_dtype(self, raw, dtype):
        compare(lambda m, X: self.cls(m)(X, dtype=dtype), raw.dense())

    @pytest.mark.parametrize("X", [
        np.array([0.0, 1.5, 0.0, -2.0]), np.zeros(0), [1, 0, 3], np.array([True, False]),
        np.array([1j, 0, 2], dtype=np.complex64), np.array(3.0), np.zeros((2, 2, 2)),
    ], ids=["f8", "empty", "list", "bool", "c8", "0d", "3d"])
    def test_from_1d_dense(self, X):
        """csr_array/coo_array accept 1-D input; the matrix family makes a row; csc/dia
        arrays refuse it."""
        compare(lambda m, X: self.cls(m)(X), X)
        for op in (lambda A: A.shape, lambda A: A.nnz, lambda A: A.toarray(),
                   lambda A: A.todense(), lambda A: A.sum(), lambda A: A.T,
                   lambda A: A.ndim, lambda A: A * 2, lambda A: -A):
            compare(lambda m, X: op(self.cls(m)(X)), X)

    def test_from_1d_coo(self):
        data = np.array([1.0, 2.0, 3.0])
        idx = np.array([4, 0, 4], dtype=np.int64)
        if (self.fmt, self.family) == ("csc", "array"):
            # SciPy 1.17.1 segfaults here; spgrad must refuse it like 1-D dense input
            spgrad_raises(lambda m, d, i: self.cls(m)((d, (i,)), shape=(6,)), data, idx)
            return
        compare(lambda m, d, i: self.cls(m)((d, (i,)), shape=(6,)), data, idx)

    # -- empty ------------------------------------------------------------------------------

    @pytest.mark.parametrize("shape", EMPTY_SHAPES)
    @pytest.mark.parametrize("dtype", [None, *DTYPES])
    def test_empty(self, shape, dtype):
        compare(lambda m: self.cls(m)(shape, dtype=dtype))
        compare(lambda m: self.cls(m)(shape, dtype=dtype).toarray())
        compare(lambda m: self.cls(m)(shape=shape, arg1=shape))

    @pytest.mark.parametrize("shape", [(2, np.int64(3)), [2, 3], (np.int32(0), 4)])
    def test_empty_shape_types(self, shape):
        compare(lambda m: self.cls(m)(shape))
        compare(lambda m: self.cls(m)(shape).shape)
        compare(lambda m: tuple(type(s) for s in self.cls(m)(shape).shape))

    # -- other sparse -----------------------------------------------------------------------

    @cases(raw=raws(), src_fmt=list(NATIVE_FORMATS), src_family=list(FAMILIES),
           dtype=[None, np.float64, np.complex64, np.int8], copy=[False, True],
           edge=single_edges())
    def test_from_spgrad_sparse(self, raw, src_fmt, src_family, dtype, copy):
        def body(m, B):
            A = self.cls(m)(B, dtype=dtype, copy=copy)
            return A, A is B, np.shares_memory(A.data, B.data)

        compare(body, Sp(raw, src_fmt, src_family))

    @cases(raw=raws(), src_fmt=list(SCIPY_FORMATS), src_family=list(FAMILIES),
           dtype=[None, np.float32, np.complex128], edge=single_edges())
    def test_from_scipy_object(self, raw, src_fmt, src_family, dtype):
        """SciPy's own objects of every format (bsr, lil, dok included) are accepted."""
        S = scipy_object(raw, src_fmt, src_family)
        compare(lambda m, B: self.cls(m)(B, dtype=dtype), S)
        compare(lambda m, B: self.cls(m)(B, shape=S.shape, copy=True), S)


format_classes(_ConstructMixin, globals())


class _ConvertMixin(ParityBase):
    @cases(raw=raws(), target=list(NATIVE_FORMATS), edge=single_edges())
    def test_to_format(self, raw, target):
        A = self.S(raw)
        compare(lambda m, A: getattr(A, f"to{target}")(), A)

        def same(m, A):
            r = getattr(A, f"to{target}")(copy=False)
            return r, r is A

        compare(same, A)

        def copied(m, A):
            r = getattr(A, f"to{target}")(copy=True)
            return r, r is A, np.shares_memory(r.data, A.data)

        compare(copied, A)

    @cases(raw=raws(), target=[*NATIVE_FORMATS, None], edge=single_edges())
    def test_asformat(self, raw, target):
        def body(m, A):
            r = A.asformat(target)
            return r, r is A

        compare(body, self.S(raw))

        def copied(m, A):
            r = A.asformat(target, copy=True)
            return r, r is A, np.shares_memory(r.data, A.data)

        compare(copied, self.S(raw))

    def test_asformat_unknown(self):
        compare(lambda m: self.cls(m)(np.eye(3)).asformat("bogus"))

    @cases(raw=raws(), order=[None, "C", "F"], edge=single_edges())
    def test_toarray(self, raw, order):
        def body(m, A):
            r = A.toarray(order=order)
            return r, r.flags.c_contiguous, r.flags.f_contiguous, r.flags.writeable

        compare(body, self.S(raw))

    @cases(raw=raws(), order=[None, "C", "F"], edge=single_edges())
    def test_todense(self, raw, order):
        def body(m, A):
            r = A.todense(order=order)
            return r, r.flags.c_contiguous, r.flags.f_contiguous

        compare(body, self.S(raw))
        compare(lambda m, A: A.todense(order), self.S(raw))

    @cases(raw=raws(), fill=[0, 7], layout=["C", "F"], edge=single_edges())
    def test_toarray_out(self, raw, fill, layout):
        def body(m, A):
            out = np.full(raw.shape, fill, dtype=raw.dtype, order=layout)
            r = A.toarray(out=out)
            # SciPy's coo/dia return a view of ``out`` rather than ``out`` itself
            return r, np.shares_memory(r, out), out

        compare(body, self.S(raw))

        def todense(m, A):
            out = np.full(raw.shape, fill, dtype=raw.dtype, order=layout)
            r = A.todense(out=out)
            return r, np.shares_memory(r, out), out

        compare(todense, self.S(raw))

    @cases(raw=raws(), edge=single_edges())
    def test_toarray_out_invalid(self, raw):
        m_, n_ = raw.shape
        other = np.complex128 if raw.dtype != np.complex128 else np.float64
        for out in (np.zeros((m_ + 1, n_), raw.dtype), np.zeros(raw.shape, other)):
            compare(lambda m, A, out: A.toarray(out=out), self.S(raw), out)
        compare(lambda m, A: A.toarray(order="C", out=np.zeros(raw.shape, raw.dtype)),
                self.S(raw))

    @cases(raw=raws(), edge=single_edges())
    def test_transpose(self, raw):
        A = self.S(raw)
        compare(lambda m, A: A.T, A)
        compare(lambda m, A: A.transpose(), A)
        compare(lambda m, A: A.T.T, A)
        compare(lambda m, A: A.transpose(axes=(1, 0)), A)
        compare(lambda m, A: A.transpose(axes=(0, 1)), A)
        compare(lambda m, A: A.transpose(axes=None, copy=False), A)

        def copied(m, A):
            r = A.transpose(copy=True)
            return r, np.shares_memory(r.data, A.data)

        compare(copied, A)

    @cases(raw=raws(), edge=single_edges())
    def test_conj(self, raw):
        A = self.S(raw)
        for name in ("conj", "conjugate"):
            for copy in (True, False):
                def body(m, A):
                    r = getattr(A, name)(copy=copy)
                    return r, r is A

                compare(body, A)
            compare(lambda m, A: getattr(A, name)(), A)

    @cases(raw=raws(), edge=single_edges())
    def test_copy(self, raw):
        def body(m, A):
            r = A.copy()
            return r, r is A, np.shares_memory(r.data, A.data)

        compare(body, self.S(raw))

    @cases(raw=raws(),
           dtype=[*DTYPES, "float32", "c16", float, complex, int, bool, np.float64],
           copy=[True, False], casting=["unsafe", "safe", "same_kind", "no", "equiv"],
           edge=single_edges())
    def test_astype(self, raw, dtype, copy, casting):
        def body(m, A):
            r = A.astype(dtype, casting=casting, copy=copy)
            return r, r is A

        compare(body, self.S(raw))

    @cases(raw=raws(), edge=single_edges())
    def test_astype_defaults(self, raw):
        A = self.S(raw)
        for dtype in DTYPES:
            compare(lambda m, A: A.astype(dtype), A)

        def same(m, A):
            r = A.astype(A.dtype, copy=False)
            return r, r is A

        compare(same, A)

    @cases(raw=raws(), edge=single_edges())
    def test_permute_swap_axes(self, raw):
        A = self.S(raw)
        for axes in [None, (1, 0), (0, 1), [-1, 0], (-2, -1)]:
            for copy in (False, True):
                def body(m, A, axes=axes, copy=copy):
                    r = m.permute_dims(A, axes=axes, copy=copy)
                    return r, r is A, np.shares_memory(r.data, A.data)

                # permuting a COO array without copy changes it in place, in SciPy too
                compare(body, A, mutates=self.fmt == "coo" and not copy)
        for a1, a2 in [(0, 1), (1, 1), (-1, 0), (1, -2)]:
            compare(lambda m, A, a1=a1, a2=a2: m.swapaxes(A, a1, a2), A)
        for bad in [(0,), (0, 0), (0, 2), (1.5, 0), 1]:
            compare_raises(lambda m, A, bad=bad: m.permute_dims(A, axes=bad), A)
        for a1, a2 in [(0, 2), (-3, 0)]:
            compare_raises(lambda m, A, a1=a1, a2=a2: m.swapaxes(A, a1, a2), A)
        for axis in [3, -4, 1.5]:
            compare_raises(lambda m, A, axis=axis: m.expand_dims(A, axis=axis), A)

    def test_expand_dims(self):
        if not self.is_array:
            return  # SciPy's expand_dims takes sparse arrays
        A = self.S(make_raw((2, 3), [(0, 2, 1.5), (1, 0, -2.0), (0, 2, 1.0)], np.float64))
        for axis in (0, 1, 2, -1, -3):
            compare(lambda m, A, axis=axis: m.expand_dims(A, axis=axis), A)


format_classes(_ConvertMixin, globals())
