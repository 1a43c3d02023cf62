"""Shared machinery for the SciPy-parity and bad-input suites.

Every parity test is written once, as a function ``fn(mod, *operands)``, and run twice: with
``mod = scipy.sparse`` on SciPy objects and with ``mod = spgrad`` on spgrad objects built from
the same raw arrays.  :func:`compare` then checks that both runs agree (:func:`assert_same`):
same class name and family, shape, dtype, index dtype, ``nnz`` and values for sparse results;
same container type (``ndarray`` vs ``np.matrix``), dtype and values for dense results; the same
exception type when SciPy raises.  It also checks that no operand was mutated (unless the
operation is documented as in-place) — model: CuPy's ``numpy_cupy_allclose``.

Format- and family-specific behaviour comes from behaviour mixins (model: SciPy's
``test_base.py``): a mixin subclasses :class:`ParityBase` and :func:`format_classes` stamps out
one ``Test*`` class per native format and family.

Inputs are :class:`Raw` COO triplets drawn by hypothesis (:func:`raws`), kept exactly as drawn
(duplicates, explicit zeros, unsorted indices, int32 or int64 indices) and turned into each
format's native constructor arguments, plus fixed edge cases (:data:`EDGE`) that every
hypothesis test runs as explicit examples.

Environment knobs:

``SPGRAD_PARITY_SELFTEST=1``
    compare SciPy with itself (dry run of the harness; spgrad-only tests are skipped).
``SPGRAD_HYPOTHESIS_PROFILE=parity-thorough``
    ten times more random examples.
"""

import contextlib
import dataclasses
import os
import traceback
import warnings

import numpy as np
import pytest
import scipy.sparse as scipy_sparse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

# --------------------------------------------------------------------------------------------
# hypothesis profiles
# --------------------------------------------------------------------------------------------

settings.register_profile(
    "parity",
    max_examples=25,
    deadline=None,
    # CI must give the same verdict on every run: a fixed example sequence. The thorough
    # profile below explores randomly.
    derandomize=True,
    print_blob=True,
    suppress_health_check=[
        # the same @given method runs on every format/family subclass of a mixin
        HealthCheck.differing_executors,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
settings.register_profile("parity-thorough", parent=settings.get_profile("parity"),
                          max_examples=250, derandomize=False)
settings.load_profile(os.environ.get("SPGRAD_HYPOTHESIS_PROFILE", "parity"))



# Known differences from SciPy 1.17.1 that spgrad has not closed yet, by test-id fragment.
# They run as non-strict expected failures (hypothesis does not draw a failing case on every
# run); each entry names its cause, and the entry goes when the cause is fixed.
KNOWN_DIFFERENCES = {}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fragment, reason in KNOWN_DIFFERENCES.items():
            if fragment in item.nodeid:
                item.add_marker(pytest.mark.xfail(reason=f"known difference: {reason}",
                                                  strict=False))
                break


def pytest_configure(config):
    # the matrix family is built on np.matrix, which warns on every construction
    config.addinivalue_line(
        "filterwarnings", "ignore:the matrix subclass:PendingDeprecationWarning")


# --------------------------------------------------------------------------------------------
# the two implementations
# --------------------------------------------------------------------------------------------

SELFTEST = os.environ.get("SPGRAD_PARITY_SELFTEST", "") not in ("", "0")

class _Unimportable:
    """Stands in for spgrad when it cannot be imported, so that the other test modules still
    collect and every parity test fails with the import error."""

    def __init__(self, exc):
        self._exc = exc

    def __getattr__(self, name):
        raise ImportError(f"spgrad could not be imported: {self._exc!r}")


SCIPY = scipy_sparse
if SELFTEST:
    SPGRAD = scipy_sparse
else:
    try:
        import spgrad as SPGRAD
    except Exception as exc:  # noqa: BLE001 - reported by every test that uses it
        SPGRAD = _Unimportable(exc)

MODULES = (SCIPY, SPGRAD)

NATIVE_FORMATS = ("csr", "csc", "coo", "dia")
SCIPY_FORMATS = ("csr", "csc", "coo", "dia", "bsr", "lil", "dok")
FAMILIES = ("array", "matrix")
FORMAT_FAMILIES = [(f, fam) for f in NATIVE_FORMATS for fam in FAMILIES]

DTYPES = tuple(np.dtype(t) for t in (np.bool_, np.int8, np.int32, np.int64, np.uint8,
                                     np.float32, np.float64, np.complex64, np.complex128))
NUMERIC_DTYPES = DTYPES[1:]
IDX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))

# Values drawn for each dtype kind.  Index 0 is what hypothesis shrinks towards (a plain 1);
# the last entry is the explicit zero.  All values are exact binary fractions so that sums and
# products are exact in float32 as well.
VALUES = {
    "b": [True, False],
    "i": [1, -1, 2, -3, 4, 0],
    "u": [1, 2, 3, 4, 0],
    "f": [1.0, -1.0, 0.5, -2.0, 3.0, 0.25, 0.0],
    "c": [1.0, -1j, 0.5 + 2j, -2.0, 3j, 1 - 1j, 0.0],
}


def need_spgrad():
    """Skip a test that exercises spgrad-only API when the harness runs SciPy against itself."""
    if SELFTEST:
        pytest.skip("spgrad-only API (SPGRAD_PARITY_SELFTEST)")


@contextlib.contextmanager
def warnings_ignored():
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


# --------------------------------------------------------------------------------------------
# raw inputs
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class Raw:
    """A sparse matrix as raw COO triplets in storage order.

    ``row``/``col`` have the index dtype, ``data`` the value dtype; duplicates and explicit
    zeros are kept, order is arbitrary.  ``junk`` puts nonzero values in the padding of the DIA
    data array (positions outside the matrix, which must be ignored).
    """

    shape: tuple
    row: np.ndarray
    col: np.ndarray
    data: np.ndarray
    junk: bool = False
    label: str = ""

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def idx(self):
        return self.row.dtype

    def __repr__(self):
        lab = f"{self.label} " if self.label else ""
        return (f"Raw({lab}shape={self.shape}, dtype={self.dtype}, idx={self.idx}, "
                f"row={self.row.tolist()}, col={self.col.tolist()}, "
                f"data={self.data.tolist()}{', junk' if self.junk else ''})")

    def dense(self, dtype=None):
        out = np.zeros(self.shape, dtype=self.dtype)
        np.add.at(out, (self.row, self.col), self.data)
        return out if dtype is None else out.astype(dtype)

    # native constructor arguments; fresh arrays on every call --------------------------

    def coo_args(self):
        return (self.data.copy(), (self.row.copy(), self.col.copy()))

    def compressed_args(self, fmt):
        major, minor = (self.row, self.col) if fmt == "csr" else (self.col, self.row)
        nmajor = self.shape[0] if fmt == "csr" else self.shape[1]
        order = np.argsort(major, kind="stable")
        counts = np.bincount(major.astype(np.intp), minlength=nmajor)
        indptr = np.zeros(nmajor + 1, dtype=self.idx)
        np.cumsum(counts, out=indptr[1:])
        return (self.data[order].copy(), minor[order].astype(self.idx), indptr)

    def dia_offsets(self):
        diffs = self.col.astype(np.int64) - self.row.astype(np.int64)
        # order of first appearance: unsorted offsets whenever the triplets are unsorted
        _, first = np.unique(diffs, return_index=True)
        return diffs[np.sort(first)].astype(self.idx)

    def dia_args(self):
        m, n = self.shape
        offsets = self.dia_offsets()
        data = np.zeros((len(offsets), n), dtype=self.dtype)
        pos = {int(k): i for i, k in enumerate(offsets)}
        with warnings_ignored():
            for r, c, v in zip(self.row.tolist(), self.col.tolist(), self.data.tolist()):
                data[pos[c - r], c] += v
        if self.junk and data.size:
            filler = VALUES[self.dtype.kind][0]
            for i, k in enumerate(offsets.tolist()):
                for c in range(n):
                    if not 0 <= c - k < m:
                        data[i, c] = filler
        return (data, offsets)

    def native_args(self, fmt):
        if fmt == "coo":
            return self.coo_args()
        if fmt in ("csr", "csc"):
            return self.compressed_args(fmt)
        if fmt == "dia":
            return self.dia_args()
        raise ValueError(fmt)


def make_raw(shape, entries, dtype, idx=np.int32, *, canonical=False, junk=False, label=""):
    """``entries``: list of (row, col, value)."""
    with warnings_ignored():
        return _make_raw(shape, entries, dtype, idx, canonical, junk, label)


def _make_raw(shape, entries, dtype, idx, canonical, junk, label):
    dtype, idx = np.dtype(dtype), np.dtype(idx)
    if canonical and entries:
        acc = {}
        for r, c, v in entries:
            acc[(r, c)] = (acc[(r, c)] + v) if (r, c) in acc else v
        entries = [(r, c, np.asarray(v).astype(dtype)[()]) for (r, c), v in sorted(acc.items())]
    row = np.array([e[0] for e in entries], dtype=idx)
    col = np.array([e[1] for e in entries], dtype=idx)
    data = np.array([e[2] for e in entries], dtype=dtype)
    return Raw(tuple(shape), row, col, data, junk=junk, label=label)


def cast_value(v, dtype):
    with warnings_ignored():
        return np.asarray(v).astype(dtype)[()]


@st.composite
def raws(draw, *, shape=None, square=False, dtypes=DTYPES, max_side=8, min_side=0,
         idx_dtypes=IDX_DTYPES):
    """Hypothesis strategy for :class:`Raw`: shapes 0..8 (0×n and n×0 included), densities 0
    to 1.5 (duplicates), every dtype, int32/int64 indices, canonical or not."""
    if shape is None:
        m = draw(st.integers(min_side, max_side))
        n = m if square else draw(st.integers(min_side, max_side))
    else:
        m, n = shape
    dtype = draw(st.sampled_from(dtypes))
    idx = draw(st.sampled_from(idx_dtypes))
    vals = VALUES[dtype.kind]
    count = draw(st.integers(0, (3 * m * n) // 2)) if m * n else 0
    entries = draw(st.lists(
        st.tuples(st.integers(0, m - 1), st.integers(0, n - 1),
                  st.integers(0, len(vals) - 1)),
        min_size=count, max_size=count)) if count else []
    # Boolean duplicates (True + True) are covered by a dedicated test
    # (test_parity_ops::test_bool_duplicates); here they would make every failing test shrink
    # to that one difference and hide the others.
    canonical = draw(st.booleans()) or dtype.kind == "b"
    junk = draw(st.booleans())
    entries = [(r, c, cast_value(vals[v], dtype)) for r, c, v in entries]
    return make_raw((m, n), entries, dtype, idx, canonical=canonical, junk=junk)


def nasty(dtype, idx=np.int32, shape=(5, 4), label="nasty"):
    """Duplicates (one pair summing to zero where the dtype is signed), explicit zeros,
    unsorted indices, an empty row (2) and an empty column (3)."""
    dtype = np.dtype(dtype)
    vals = VALUES[dtype.kind]
    zero = vals[-1]
    a, b, c = vals[0], vals[2 % len(vals)], vals[3 % len(vals)]
    entries = [(0, 2, a), (0, 0, b), (0, 2, c), (1, 1, zero), (3, 0, c), (3, 1, b),
               (3, 0, a), (4, 2, b), (4, 0, a), (1, 0, c)]
    if dtype.kind in "ifc":
        entries += [(4, 1, 1), (4, 1, -1)]
    entries = [(r, col, v) for r, col, v in entries if r < shape[0] and col < shape[1]]
    entries = [(r, col, cast_value(v, dtype)) for r, col, v in entries]
    return make_raw(shape, entries, dtype, idx, junk=True, label=label)


def dense_raw(m, n, dtype=np.float64, idx=np.int32, label="full"):
    """Every entry stored and nonzero, non-symmetric."""
    vals = VALUES[np.dtype(dtype).kind][:-1]
    entries = [(i, j, cast_value(vals[(3 * i + j) % len(vals)], dtype))
               for i in range(m) for j in range(n)]
    return make_raw((m, n), entries[::-1], dtype, idx, label=label)


def empty_raw(m, n, dtype=np.float64, idx=np.int32, label="empty"):
    return make_raw((m, n), [], dtype, idx, label=label)


def zeros_raw(m, n, dtype=np.float64, idx=np.int32):
    """Only explicit zeros (nnz > 0, value 0)."""
    entries = [(i % m, (2 * i) % n, cast_value(0, dtype)) for i in range(min(m, n) + 1)]
    return make_raw((m, n), entries, dtype, idx, label="explicit-zeros")


def _edge_single():
    out = [nasty(d, IDX_DTYPES[i % 2]) for i, d in enumerate(DTYPES)]
    out += [
        nasty(np.float64, np.int64, label="nasty-i64"),
        empty_raw(0, 3), empty_raw(3, 0), empty_raw(0, 0, np.int64, np.int64),
        empty_raw(3, 4, np.complex128, np.int64, label="no-nonzeros"),
        zeros_raw(3, 4),
        make_raw((1, 1), [(0, 0, 2.5)], np.float64, label="1x1"),
        dense_raw(6, 5, np.complex128, np.int64),
        dense_raw(1, 6, np.int32, label="row"),
        dense_raw(6, 1, np.float32, label="col"),
    ]
    return out


def _edge_square():
    out = [nasty(d, IDX_DTYPES[i % 2], shape=(4, 4), label="nasty-sq")
           for i, d in enumerate(DTYPES)]
    out += [empty_raw(0, 0), empty_raw(3, 3, np.int64, np.int64),
            make_raw((1, 1), [(0, 0, -2.0)], np.float64, label="1x1"),
            dense_raw(5, 5, np.complex128, np.int64), zeros_raw(3, 3)]
    return out


EDGE = _edge_single()
EDGE_SQUARE = _edge_square()


# --------------------------------------------------------------------------------------------
# building objects
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class Sp:
    """Placeholder operand: the sparse matrix ``raw`` in format ``fmt`` and ``family``, built
    separately in each implementation from its native constructor arguments."""

    raw: Raw
    fmt: str
    family: str

    def __repr__(self):
        return f"{self.fmt}_{self.family}({self.raw!r})"


def sparse_class(mod, fmt, family):
    return getattr(mod, f"{fmt}_{family}")


def build(mod, fmt, family, raw):
    """Return (object, list of the arrays handed to the constructor)."""
    args = raw.native_args(fmt)
    if fmt == "coo":
        arrays = [args[0], *args[1]]
    else:
        arrays = list(args)
    with warnings_ignored():
        obj = sparse_class(mod, fmt, family)(args, shape=raw.shape)
    return obj, arrays


def scipy_object(raw, fmt, family):
    """A SciPy object of any SciPy format (bsr/lil/dok included) holding ``raw``'s values."""
    with warnings_ignored():
        if fmt in NATIVE_FORMATS:
            return build(SCIPY, fmt, family, raw)[0]
        coo = build(SCIPY, "coo", family, raw)[0]
        return coo.asformat(fmt)


def storage(A):
    """The public storage arrays of a sparse object, by name."""
    f = A.format
    if f in ("csr", "csc", "bsr"):
        return {"data": A.data, "indices": A.indices, "indptr": A.indptr}
    if f == "coo":
        d = {"data": A.data}
        d.update({f"coords[{i}]": c for i, c in enumerate(A.coords)})
        return d
    if f == "dia":
        return {"data": A.data, "offsets": A.offsets}
    return {}


def index_arrays(A):
    return {k: v for k, v in storage(A).items() if k != "data"}


# --------------------------------------------------------------------------------------------
# comparing
# --------------------------------------------------------------------------------------------


class Raised:
    """An exception captured from one implementation."""

    def __init__(self, exc):
        self.exc = exc
        self.tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

    def __repr__(self):
        return f"raised {type(self.exc).__name__}: {self.exc}"


def family_of(obj, mod):
    if isinstance(obj, mod.sparray):
        return "array"
    if isinstance(obj, mod.spmatrix):
        return "matrix"
    return None


def describe(x):
    if isinstance(x, Raised):
        return repr(x)
    if SCIPY.issparse(x) or (not SELFTEST and _is_spgrad_sparse(x)):
        return f"{type(x).__module__}.{type(x).__name__} shape={x.shape} dtype={x.dtype}"
    if isinstance(x, np.ndarray):
        return f"{type(x).__name__} shape={x.shape} dtype={x.dtype}"
    return f"{type(x).__name__} {x!r}"[:200]


def _is_spgrad_sparse(x):
    try:
        return bool(SPGRAD.issparse(x)) and type(x).__module__.split(".")[0] == "spgrad"
    except Exception:
        return False


def tolerance(dtype):
    dtype = np.dtype(dtype)
    if dtype in (np.float32, np.complex64):
        return 1e-5
    if dtype == np.float16:
        return 1e-3
    return 1e-12


def values_problem(exp, got, rtol=None):
    """None if the dense arrays ``exp`` and ``got`` hold the same values, else a message.
    Integers and booleans must match exactly; floating values to a relative tolerance set by
    the lower precision of the two dtypes, or ``rtol`` when given."""
    exp = np.asarray(exp)
    got = np.asarray(got)
    if exp.shape != got.shape:
        return f"value shape {got.shape} != {exp.shape}"
    if exp.size == 0:
        return None
    if exp.dtype.kind in "biu" and got.dtype.kind in "biu":
        if not np.array_equal(exp, got):
            return f"values differ:\n  scipy:  {exp.tolist()}\n  spgrad: {got.tolist()}"
        return None
    if exp.dtype.kind not in "biufc" or got.dtype.kind not in "biufc":
        if not np.array_equal(exp, got):
            return f"values differ: {exp!r} vs {got!r}"
        return None
    if rtol is None:
        rtol = max(tolerance(exp.dtype) if exp.dtype.kind in "fc" else 0,
                   tolerance(got.dtype) if got.dtype.kind in "fc" else 0, 1e-12)
    with warnings_ignored():
        e = exp.astype(np.complex128)
        g = got.astype(np.complex128)
        finite = np.abs(e[np.isfinite(e)])
        scale = max(1.0, float(finite.max())) if finite.size else 1.0
        ok = np.isclose(g, e, rtol=rtol, atol=rtol * scale, equal_nan=True)
    if not ok.all():
        return (f"values differ (rtol={rtol:g}) at {np.argwhere(~ok).tolist()[:8]}:\n"
                f"  scipy:  {exp.tolist()}\n  spgrad: {got.tolist()}")
    return None


def _matrix_downcast_noise(family, exp_dtype, got_dtype):
    """SciPy's matrix family downcasts index arrays whose *contents* fit in int32, but its
    ``_binopt`` checks ``np.empty`` buffers that still hold garbage past ``nnz``, so SciPy
    sometimes keeps int64 by accident (nondeterministic).  Accept spgrad's int32 then."""
    pair = {np.dtype(exp_dtype), np.dtype(got_dtype)}
    if family != "matrix" or pair != {np.dtype(np.int32), np.dtype(np.int64)}:
        return False
    return SELFTEST or np.dtype(got_dtype) == np.int32


def _sparse_problems(exp, got, where, impl="spgrad", rtol=None):
    probs = []
    if SELFTEST or impl == "scipy":
        ok_type = SCIPY.issparse(got)
    else:
        ok_type = _is_spgrad_sparse(got)
    if not ok_type:
        return [f"{where}: SciPy gives sparse {describe(exp)}, {impl} gives {describe(got)}"]
    if type(got).__name__ != type(exp).__name__:
        probs.append(f"{where}: class {type(got).__name__} != {type(exp).__name__}")
    fe, fg = family_of(exp, SCIPY), family_of(got, SCIPY if impl == "scipy" else SPGRAD)
    if fe != fg:
        probs.append(f"{where}: family {fg} != {fe}")
    if got.shape != exp.shape:
        probs.append(f"{where}: shape {got.shape} != {exp.shape}")
        return probs
    if got.dtype != exp.dtype:
        probs.append(f"{where}: dtype {got.dtype} != {exp.dtype}")
    if got.format != exp.format:
        probs.append(f"{where}: format {got.format!r} != {exp.format!r}")
        return probs
    try:
        ie, ig = index_arrays(exp), index_arrays(got)
        for name, arr in ie.items():
            if name not in ig:
                probs.append(f"{where}: missing index array {name}")
            elif ig[name].dtype != arr.dtype and not _matrix_downcast_noise(
                    fe, arr.dtype, ig[name].dtype):
                probs.append(f"{where}: {name}.dtype {ig[name].dtype} != {arr.dtype}")
    except Exception as e:  # missing attribute on spgrad
        probs.append(f"{where}: storage attributes: {type(e).__name__}: {e}")
    try:
        if got.nnz != exp.nnz:
            probs.append(f"{where}: nnz {got.nnz} != {exp.nnz}")
    except Exception as e:
        probs.append(f"{where}: nnz: {type(e).__name__}: {e}")
    try:
        with warnings_ignored():
            gd = got.toarray()
        p = values_problem(exp.toarray(), gd, rtol)
        if p:
            probs.append(f"{where}: {p}")
    except Exception as e:
        probs.append(f"{where}: toarray: {type(e).__name__}: {e}")
    return probs


def _problems(exp, got, where, impl="spgrad", rtol=None):
    if isinstance(exp, Raised):
        if not isinstance(got, Raised):
            return [f"{where}: SciPy raised {type(exp.exc).__name__}({exp.exc}) but spgrad "
                    f"returned {describe(got)}"]
        if not isinstance(got.exc, type(exp.exc)):
            return [f"{where}: SciPy raised {type(exp.exc).__name__}({exp.exc}) but spgrad "
                    f"raised {type(got.exc).__name__}({got.exc})\n{got.tb}"]
        return []
    if isinstance(got, Raised):
        return [f"{where}: SciPy returned {describe(exp)} but spgrad raised "
                f"{type(got.exc).__name__}: {got.exc}\n{got.tb}"]
    if SCIPY.issparse(exp):
        return _sparse_problems(exp, got, where, impl, rtol)
    if isinstance(exp, np.ndarray):
        if not isinstance(got, np.ndarray) or isinstance(got, np.matrix) != isinstance(
                exp, np.matrix):
            return [f"{where}: SciPy gives {describe(exp)}, spgrad gives {describe(got)}"]
        probs = []
        if got.shape != exp.shape:
            return [f"{where}: shape {got.shape} != {exp.shape}"]
        if got.dtype != exp.dtype:
            probs.append(f"{where}: dtype {got.dtype} != {exp.dtype}")
        p = values_problem(exp, got, rtol)
        if p:
            probs.append(f"{where}: {p}")
        return probs
    if isinstance(exp, np.generic):
        if type(got) is not type(exp):
            return [f"{where}: SciPy gives {describe(exp)}, spgrad gives {describe(got)}"]
        p = values_problem(exp, got, rtol)
        return [f"{where}: {p}"] if p else []
    if isinstance(exp, (tuple, list)):
        if type(got) is not type(exp) or len(got) != len(exp):
            return [f"{where}: SciPy gives {describe(exp)}, spgrad gives {describe(got)}"]
        probs = []
        for i, (e, g) in enumerate(zip(exp, got)):
            probs += _problems(e, g, f"{where}[{i}]", impl, rtol)
        return probs
    if isinstance(exp, (bool, int, float, complex, str, type(None), np.dtype, type)):
        if type(got) is not type(exp):
            return [f"{where}: SciPy gives {describe(exp)}, spgrad gives {describe(got)}"]
        if isinstance(exp, (float, complex)):
            p = values_problem(exp, got, rtol)
            return [f"{where}: {p}"] if p else []
        if got != exp:
            return [f"{where}: {got!r} != {exp!r}"]
        return []
    if got != exp:
        return [f"{where}: {got!r} != {exp!r}"]
    return []


class ParityError(AssertionError):
    """spgrad disagrees with SciPy (an AssertionError, so hypothesis shrinks it)."""


def _fail(probs):
    __tracebackhide__ = True
    raise ParityError("\n".join(probs))


def assert_same(exp, got, where="result"):
    """Assert that spgrad's ``got`` matches SciPy's ``exp`` (see module docstring)."""
    probs = _problems(exp, got, where)
    if probs:
        _fail(probs)


# --------------------------------------------------------------------------------------------
# running a body on both implementations
# --------------------------------------------------------------------------------------------


def _copy_operand(x):
    if isinstance(x, np.ndarray):
        return x.copy()
    if SCIPY.issparse(x):
        return x.copy()
    return x


class _Guard:
    """Snapshot of one operand, to detect mutation."""

    def __init__(self, obj, arrays=()):
        self.obj = obj
        self.arrays = list(arrays)
        self.before = [a.copy() for a in self.arrays]
        self.sparse = not isinstance(obj, np.ndarray)
        if self.sparse:
            self.state = {k: v.copy() for k, v in storage(obj).items()}
            self.shape = obj.shape
            self.dtype = obj.dtype
            self.value = obj.toarray()
        else:
            self.before.append(obj.copy())
            self.arrays.append(obj)

    def arrays_changed(self):
        return any(a.shape != b.shape or a.dtype != b.dtype or not np.array_equal(
            a, b, equal_nan=a.dtype.kind in "fc") for a, b in zip(self.arrays, self.before))

    def state_changed(self):
        if not self.sparse:
            return False
        now = storage(self.obj)
        if now.keys() != self.state.keys():
            return True
        return any(a.shape != b.shape or a.dtype != b.dtype or not np.array_equal(
            a, b, equal_nan=a.dtype.kind in "fc") for a, b in zip(now.values(),
                                                                  self.state.values()))

    def value_problem(self):
        if not self.sparse:
            return None
        if self.obj.shape != self.shape or self.obj.dtype != self.dtype:
            return "shape/dtype changed"
        with warnings_ignored():
            return values_problem(self.value, self.obj.toarray())


def _materialize(mod, operands):
    ops, guards = [], []
    for x in operands:
        if isinstance(x, Sp):
            obj, arrays = build(mod, x.fmt, x.family, x.raw)
            guards.append(_Guard(obj, arrays))
            ops.append(obj)
        elif isinstance(x, np.ndarray) or SCIPY.issparse(x):
            c = x.copy()
            guards.append(_Guard(c))
            ops.append(c)
        else:
            ops.append(_copy_operand(x))
    return ops, guards


def run_on(mod, fn, operands):
    """Run ``fn(mod, *operands)``; returns (result or Raised, guards); guards is None when
    the operands could not be built."""
    try:
        ops, guards = _materialize(mod, operands)
    except Exception as e:
        return Raised(e), None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            try:
                res = fn(mod, *ops)
            except Exception as e:
                res = Raised(e)
    return res, guards


# SciPy 1.17.1 bugs in DIA @ DIA (dia_matmat): a bare C++ RuntimeError when an operand has no
# stored diagonal, a reshape error when the product has none.  Not a specification: for these
# the reference is recomputed with the DIA operands given as CSR.
KNOWN_SCIPY_DIA_BUGS = (
    (RuntimeError, "vector::_M_default_append"),
    (ValueError, "cannot reshape array of size 0 into shape (0,newaxis)"),
)


def _scipy_internal_error(res, operands):
    if not isinstance(res, Raised) or not any(
            isinstance(x, Sp) and x.fmt == "dia" for x in operands):
        return False
    return any(type(res.exc) is t and msg in str(res.exc) for t, msg in KNOWN_SCIPY_DIA_BUGS)


def _values_only_problems(exp, got, where, rtol=None):
    if isinstance(got, Raised):
        return [f"{where}: SciPy (via CSR) returned {describe(exp)} but spgrad raised "
                f"{got!r}\n{got.tb}"]
    if isinstance(exp, (tuple, list)) and isinstance(got, (tuple, list)) and len(exp) == len(
            got):
        out = []
        for i, (e, g) in enumerate(zip(exp, got)):
            out += _values_only_problems(e, g, f"{where}[{i}]", rtol)
        return out
    e = exp.toarray() if SCIPY.issparse(exp) else exp
    try:
        g = got.toarray() if hasattr(got, "toarray") else got
    except Exception as err:
        return [f"{where}: toarray: {err!r}"]
    if np.shape(e) != np.shape(g):
        return [f"{where}: shape {np.shape(g)} != {np.shape(e)}"]
    p = values_problem(e, g, rtol)
    return [f"{where}: {p}"] if p else []


def compare(fn, *operands, mutates=False, rtol=None):
    """Run ``fn(mod, *operands)`` with SciPy and with spgrad and assert the outcomes agree.

    ``operands`` are :class:`Sp` placeholders (built per implementation), dense arrays (copied
    per implementation) or anything else (passed as is).  Unless ``mutates`` is true, spgrad
    must leave every operand's value unchanged, dense operands bit for bit, and must not touch
    the arrays a sparse operand was built from or its storage where SciPy leaves them alone.
    Returns the (scipy, spgrad) results.
    """
    __tracebackhide__ = True
    exp, gexp = run_on(SCIPY, fn, operands)
    if gexp is None:
        raise AssertionError(f"the test could not build its SciPy operands:\n{exp.tb}")
    got, ggot = run_on(SPGRAD, fn, operands)
    if ggot is None:
        _fail([f"spgrad could not build the operands {operands!r}:\n{got.tb}"])
    exp2 = None
    if _scipy_internal_error(exp, operands):
        # no SciPy reference: recompute it with DIA operands given as CSR and compare values
        alt = tuple(Sp(x.raw, "csr", x.family) if isinstance(x, Sp) and x.fmt == "dia" else x
                    for x in operands)
        exp2, _ = run_on(SCIPY, fn, alt)
    if exp2 is not None and not isinstance(exp2, Raised):
        probs = [] if SELFTEST else _values_only_problems(
            exp2, got, f"result (SciPy bug {exp!r}; reference computed via CSR)", rtol)
    else:
        probs = _problems(exp, got, "result", rtol=rtol)
    for i, (ge, gg) in enumerate(zip(gexp, ggot)):
        if not gg.sparse:
            if gg.arrays_changed():
                also = " (SciPy does too)" if ge.arrays_changed() else ""
                probs.append(f"operand {i}: spgrad mutated a dense operand{also}")
            continue
        if mutates:
            continue
        p = gg.value_problem()
        if p:
            probs.append(f"operand {i}: spgrad changed the operand's value: {p}")
        if not (ge.arrays_changed() or ge.state_changed()):
            if gg.arrays_changed():
                probs.append(f"operand {i}: spgrad mutated the arrays the operand was "
                             f"built from (SciPy does not)")
            elif gg.state_changed():
                probs.append(f"operand {i}: spgrad modified the operand's storage in place "
                             f"(SciPy does not)")
    if probs:
        _fail(probs)
    return exp, got


def compare_raises(fn, *operands):
    """:func:`compare` for bad input: SciPy must raise (else the test is wrong), spgrad must
    raise the same type, with a message, leaving the operands alone."""
    __tracebackhide__ = True
    exp, got = compare(fn, *operands)
    assert isinstance(exp, Raised), f"test bug: SciPy accepts this input and returns {exp!r}"
    if not SELFTEST and not str(got.exc).strip():
        _fail([f"spgrad raised {type(got.exc).__name__} without a message"])
    return exp, got


def scipy_coo_vector_fix(mod, A, x, r):
    """SciPy 1.17.1's ``coo_array`` returns a NumPy scalar instead of a shape-(1,) array from
    ``A @ x``/``x @ A`` with a 1-D ``x`` when the result has length 1 (csr_array and coo_matrix
    return the array).  Normalise SciPy's answer to the array so spgrad may be consistent."""
    if (mod is SCIPY and isinstance(r, np.generic) and A.format == "coo"
            and isinstance(A, SCIPY.sparray) and np.ndim(x) == 1):
        return np.atleast_1d(r)
    return r


def spgrad_raises_or_matches(fn, *operands, exc=(ValueError, TypeError)):
    """For inputs SciPy handles questionably (silently pruned, truncated or padded): spgrad
    may refuse them with ``exc`` or must otherwise give SciPy's result."""
    __tracebackhide__ = True
    got, guards = run_on(SPGRAD, fn, operands)
    if isinstance(got, Raised) and isinstance(got.exc, exc) and str(got.exc).strip():
        bad = [i for i, g in enumerate(guards or ()) if g.arrays_changed()]
        if bad:
            _fail([f"operand {i}: spgrad mutated an input array" for i in bad])
        return got
    return compare(fn, *operands)


def spgrad_raises(fn, *operands, exc=ValueError):
    """For inputs SciPy crashes on or silently accepts: spgrad alone must raise ``exc`` (and
    leave the operands alone).  Skipped in self-test mode."""
    __tracebackhide__ = True
    need_spgrad()
    got, guards = run_on(SPGRAD, fn, operands)
    probs = []
    names = "/".join(e.__name__ for e in (exc if isinstance(exc, tuple) else (exc,)))
    if not isinstance(got, Raised):
        probs.append(f"spgrad returned {describe(got)}; expected {names}")
    elif not isinstance(got.exc, exc):
        probs.append(f"spgrad raised {type(got.exc).__name__}({got.exc}); expected "
                     f"{names}\n{got.tb}")
    else:
        if not str(got.exc).strip():
            probs.append(f"spgrad raised {type(got.exc).__name__} without a message")
    for i, g in enumerate(guards or ()):
        if g.arrays_changed():
            probs.append(f"operand {i}: spgrad mutated an input array")
    if probs:
        _fail(probs)
    return got


# --------------------------------------------------------------------------------------------
# mixin machinery
# --------------------------------------------------------------------------------------------


class ParityBase:
    """Base of the behaviour mixins; subclasses set ``fmt`` and ``family``."""

    fmt = "csr"
    family = "array"

    def S(self, raw, fmt=None, family=None):
        return Sp(raw, fmt or self.fmt, family or self.family)

    def cls(self, mod):
        return sparse_class(mod, self.fmt, self.family)

    @property
    def is_array(self):
        return self.family == "array"


def format_classes(mixin, namespace, prefix=None, formats=FORMAT_FAMILIES):
    """Define ``Test<Prefix><Fmt><Family>`` in ``namespace`` for every native format and
    family, each a subclass of ``mixin`` with ``fmt``/``family`` set."""
    prefix = prefix or mixin.__name__.strip("_").replace("Mixin", "")
    for fmt, fam in formats:
        name = f"Test{prefix}_{fmt}_{fam}"
        namespace[name] = type(name, (mixin,), {"fmt": fmt, "family": fam,
                                                "__module__": namespace["__name__"]})


def cases(*, edge=(), **params):
    """``@given`` over ``params`` plus explicit examples.

    ``params`` maps argument names to hypothesis strategies or to lists (sampled).  ``edge`` is
    a list of dicts giving explicit examples; list-valued params that an example leaves out are
    cycled through deterministically, strategy-valued ones must be given.
    """
    strategies = {k: st.sampled_from(v) if isinstance(v, (list, tuple)) else v
                  for k, v in params.items()}

    def deco(f):
        g = given(**strategies)(f)
        for i, ex in enumerate(edge):
            kw = {}
            for k, v in params.items():
                if k in ex:
                    kw[k] = ex[k]
                elif isinstance(v, (list, tuple)):
                    kw[k] = v[i % len(v)]
                else:
                    raise TypeError(f"explicit example {i} lacks {k!r}")
            g = example(**kw)(g)
        return g

    return deco


def single_edges(name="raw", pool=None):
    return [{name: r} for r in (EDGE if pool is None else pool)]


@st.composite
def sparse_operands(draw, shape, dtypes=DTYPES, formats=NATIVE_FORMATS, families=FAMILIES):
    """An :class:`Sp` of the given shape in any native format and family."""
    raw = draw(raws(shape=shape, dtypes=dtypes))
    return Sp(raw, draw(st.sampled_from(formats)), draw(st.sampled_from(families)))


@st.composite
def raw_pairs(draw, kind="same", dtypes=DTYPES):
    """(A, B) raws: ``same`` shape, or ``matmul``-compatible (B.shape[0] == A.shape[1])."""
    a = draw(raws(dtypes=dtypes))
    m, n = a.shape
    if kind == "same":
        shape = (m, n)
    else:
        shape = (n, draw(st.integers(0, 8)))
    same_dtype = draw(st.booleans())
    b = draw(raws(shape=shape, dtypes=(a.dtype,) if same_dtype else dtypes))
    return a, b


def _pair_edges(kind):
    out = []
    fmts = list(NATIVE_FORMATS)
    for i, a in enumerate(EDGE):
        m, n = a.shape
        shape = (m, n) if kind == "same" else (n, 3)
        dt = DTYPES[(i * 4 + 3) % len(DTYPES)]
        if i % 3 == 0:
            b = empty_raw(*shape, dtype=a.dtype)
        elif i % 3 == 1 and shape[0] == 5 and shape[1] == 4:
            b = nasty(dt, IDX_DTYPES[(i + 1) % 2], shape=shape, label="nasty-b")
        else:
            b = dense_raw(*shape, dtype=dt, label="full-b")
        out.append((a, Sp(b, fmts[i % 4], FAMILIES[(i // 4) % 2])))
    return out


PAIR_EDGES_SAME = _pair_edges("same")
PAIR_EDGES_MATMUL = _pair_edges("matmul")


@st.composite
def operand_pairs(draw, kind="same"):
    """(raw for self, Sp for the other operand in any native format/family)."""
    a, b = draw(raw_pairs(kind))
    return a, Sp(b, draw(st.sampled_from(NATIVE_FORMATS)), draw(st.sampled_from(FAMILIES)))


def pair_edges(kind="same"):
    return [{"pair": p} for p in (PAIR_EDGES_SAME if kind == "same" else PAIR_EDGES_MATMUL)]
