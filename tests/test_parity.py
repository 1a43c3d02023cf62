"""Parity with scipy.sparse for module-level names (predicates, class hierarchy,
``get_index_dtype``, ``tril``/``triu``/``find`` on dense input) and the SciPy interop of
spgrad (``to_scipy``/``from_scipy``).  The per-format behaviour suites live in
``test_parity_construct.py``, ``test_parity_ops.py`` and ``test_parity_reduce.py``; the
harness in ``conftest.py``."""

import numpy as np
import pytest

from conftest import (
    FAMILIES,
    FORMAT_FAMILIES,
    SCIPY,
    SCIPY_FORMATS,
    SPGRAD,
    ParityBase,
    _problems,
    build,
    cases,
    compare,
    format_classes,
    need_spgrad,
    raws,
    single_edges,
    sparse_class,
    storage,
)

FOUNDATION_NAMES = [
    *(f"{f}_{fam}" for f in ("csr", "csc", "coo", "dia") for fam in FAMILIES),
    "sparray", "spmatrix", "issparse", "isspmatrix", *(f"isspmatrix_{f}" for f in
                                                      SCIPY_FORMATS),
    "find", "get_index_dtype", "SparseWarning", "SparseEfficiencyWarning", "tril", "triu",
]


@pytest.mark.parametrize("name", FOUNDATION_NAMES)
def test_public_name(name):
    compare(lambda m: hasattr(m, name))
    compare(lambda m: getattr(m, name).__name__)


def test_from_scipy_exists():
    need_spgrad()
    assert callable(SPGRAD.from_scipy)


# -- predicates and class relationships ---------------------------------------------------------

NOT_SPARSE = [np.eye(2), np.matrix(np.eye(2)), [[1, 0]], 3, 2.5, None, "csr", np.float64(1),
              np.array(1.0), (2, 2)]


@pytest.mark.parametrize("x", NOT_SPARSE, ids=[type(x).__name__ + str(i)
                                               for i, x in enumerate(NOT_SPARSE)])
def test_predicates_on_non_sparse(x):
    compare(lambda m: m.issparse(x))
    compare(lambda m: m.isspmatrix(x))
    for f in SCIPY_FORMATS:
        compare(lambda m: getattr(m, f"isspmatrix_{f}")(x))


@pytest.mark.parametrize("fmt,family", FORMAT_FAMILIES)
def test_class_hierarchy(fmt, family):
    def body(m):
        cls = sparse_class(m, fmt, family)
        return (issubclass(cls, m.sparray), issubclass(cls, m.spmatrix),
                cls.__name__, cls.format if isinstance(cls.format, str) else None,
                *(issubclass(cls, sparse_class(m, f, fam))
                  for f, fam in FORMAT_FAMILIES))

    compare(body)


def test_base_classes():
    compare(lambda m: (issubclass(m.spmatrix, m.sparray), issubclass(m.sparray, m.spmatrix)))
    compare(lambda m: (issubclass(m.SparseEfficiencyWarning, m.SparseWarning),
                       issubclass(m.SparseWarning, Warning),
                       issubclass(m.SparseEfficiencyWarning, Warning)))


# -- get_index_dtype ----------------------------------------------------------------------------

I32MAX = np.iinfo(np.int32).max
GET_INDEX_DTYPE_CASES = [
    ((), {}),
    ((), {"maxval": I32MAX}),
    ((), {"maxval": I32MAX + 1}),
    ((), {"maxval": 0}),
    ((), {"maxval": np.int64(5)}),
    (((np.array([1], np.int32),),), {}),
    (((np.array([1], np.int64),),), {}),
    (((np.array([1], np.int64),),), {"check_contents": True}),
    (((np.array([I32MAX + 1], np.int64),),), {"check_contents": True}),
    (((np.array([-I32MAX - 2], np.int64),),), {"check_contents": True}),
    (((np.array([], np.int64),),), {"check_contents": True}),
    (((np.array([1], np.int16),),), {}),
    (((np.array([1], np.uint32),),), {}),
    (((np.array([1], np.uint64),),), {"check_contents": True}),
    (((np.array([1], np.int32), np.array([1], np.int64)),), {}),
    (((np.array([1], np.int32), np.array([1], np.int64)),), {"check_contents": True}),
    (((np.array([1], np.int32),),), {"maxval": I32MAX + 1}),
    ((np.array([1], np.int64),), {}),
    (((np.array([1.5]),),), {}),
]


@pytest.mark.parametrize("args,kw", GET_INDEX_DTYPE_CASES,
                         ids=[str(i) for i in range(len(GET_INDEX_DTYPE_CASES))])
def test_get_index_dtype(args, kw):
    compare(lambda m: m.get_index_dtype(*args, **kw))
    compare(lambda m: m.get_index_dtype(arrays=args[0] if args else (), **kw))


# -- tril / triu / find on dense and other input -------------------------------------------------

DENSE_INPUTS = {
    "ndarray": np.arange(1.0, 13.0).reshape(3, 4) * (np.arange(12).reshape(3, 4) % 3 > 0),
    "matrix": np.matrix(np.arange(-6, 6).reshape(4, 3)),
    "list": [[0, 1, 2], [3, 0, 5]],
    "complex": np.array([[1j, 0], [2, 3 - 1j]]),
    "empty": np.zeros((0, 3)),
    "bool": np.array([[True, False], [True, True]]),
}


@pytest.mark.parametrize("k", [-2, -1, 0, 1, 3])
@pytest.mark.parametrize("name", sorted(DENSE_INPUTS))
def test_tril_triu_dense(name, k):
    X = DENSE_INPUTS[name]
    for fn in ("tril", "triu"):
        compare(lambda m, X: getattr(m, fn)(X, k), X)
        compare(lambda m, X: getattr(m, fn)(X, k=k, format="csr"), X)


@pytest.mark.parametrize("name", sorted(DENSE_INPUTS))
def test_find_dense(name):
    compare(lambda m, X: m.find(X), DENSE_INPUTS[name])


@pytest.mark.parametrize("fmt", SCIPY_FORMATS)
def test_tril_find_on_scipy_objects(fmt):
    """Module functions given SciPy's own objects behave like SciPy's."""
    S = SCIPY.csr_array(DENSE_INPUTS["ndarray"]).asformat(fmt)
    compare(lambda m, S: m.find(S), S)
    compare(lambda m, S: m.issparse(S), S)


# -- to_scipy / from_scipy -----------------------------------------------------------------------


def _shares(a, b):
    """Which storage arrays are shared (zero-size arrays cannot be told apart: count them as
    shared when both are empty)."""
    return {k: bool(v.size == 0 and b[k].size == 0 or np.shares_memory(v, b[k]))
            for k, v in a.items() if k in b}


class _InteropMixin(ParityBase):
    @cases(raw=raws(), edge=single_edges())
    def test_to_scipy(self, raw):
        need_spgrad()
        A, _ = build(SPGRAD, self.fmt, self.family, raw)
        ref, _ = build(SCIPY, self.fmt, self.family, raw)
        S = A.to_scipy()
        assert type(S) is sparse_class(SCIPY, self.fmt, self.family), type(S)
        probs = _problems(ref, S, "to_scipy()", impl="scipy")
        assert not probs, "\n".join(probs)
        shared = _shares(storage(A), storage(S))
        assert all(shared.values()), f"to_scipy() copied {shared}"
        if S.format in ("csr", "csc"):
            S.check_format(full_check=True)

    @cases(raw=raws(), edge=single_edges())
    def test_from_scipy(self, raw):
        need_spgrad()
        S, _ = build(SCIPY, self.fmt, self.family, raw)
        before = {k: v.copy() for k, v in storage(S).items()}
        A = SPGRAD.from_scipy(S)
        probs = _problems(S, A, "from_scipy()")
        assert not probs, "\n".join(probs)
        shared = _shares(storage(S), storage(A))
        assert all(shared.values()), f"from_scipy() copied {shared}"
        after = storage(S)
        assert all(np.array_equal(before[k], after[k]) for k in before), "input mutated"

    @cases(raw=raws(), edge=single_edges())
    def test_round_trip(self, raw):
        need_spgrad()
        A, _ = build(SPGRAD, self.fmt, self.family, raw)
        B = SPGRAD.from_scipy(A.to_scipy())
        ref, _ = build(SCIPY, self.fmt, self.family, raw)
        probs = _problems(ref, B, "from_scipy(to_scipy())")
        assert not probs, "\n".join(probs)
        assert type(B) is type(A)

    @cases(raw=raws(), edge=single_edges())
    def test_to_scipy_after_ops(self, raw):
        """Results of spgrad operations convert to the SciPy object SciPy itself computes."""
        need_spgrad()
        A, _ = build(SPGRAD, self.fmt, self.family, raw)
        ref, _ = build(SCIPY, self.fmt, self.family, raw)
        for op in (lambda X: X.T, lambda X: X.tocsr(), lambda X: X * 2, lambda X: -X):
            try:
                expected = op(ref)
            except Exception:
                continue
            probs = _problems(expected, op(A).to_scipy(), "to_scipy()", impl="scipy")
            assert not probs, "\n".join(probs)


format_classes(_InteropMixin, globals())
