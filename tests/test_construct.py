"""Parity of the constructors in ``spgrad._construct`` with ``scipy.sparse`` (SciPy 1.17).

Every test builds the same inputs for both libraries from the same raw arrays, calls the same
function in both, and checks that the results agree: class (format and array/matrix family),
shape, value dtype, index dtype, number of stored entries and values, or the same exception
type when SciPy raises.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as ssp

import spgrad as sp

FORMATS = ("csr", "csc", "coo", "dia")
OUT_FORMATS = (None, "csr", "csc", "coo", "dia")
DTYPES = (np.bool_, np.int8, np.int32, np.int64, np.uint8, np.float32, np.float64,
          np.complex64, np.complex128)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

def _index_arrays(A):
    if A.format in ("csr", "csc"):
        return (A.indices, A.indptr)
    if A.format == "coo":
        return (A.row, A.col)
    if A.format == "dia":
        return (A.offsets,)
    if A.format == "bsr":
        return (A.indices, A.indptr)
    return ()


def assert_same(got, expected, *, order=False, check_format=True):
    """``got`` (spgrad) agrees with ``expected`` (SciPy)."""
    assert ssp.issparse(expected)
    assert sp.issparse(got), f"expected a sparse result, got {type(got)}"
    exp_array = isinstance(expected, ssp.sparray)
    got_array = isinstance(got, sp.sparray)
    assert got_array == exp_array, (
        f"family: got {type(got).__name__}, SciPy gave {type(expected).__name__}")
    if check_format:
        assert type(got).__name__ == type(expected).__name__
        assert got.format == expected.format
        for g, e in zip(_index_arrays(got), _index_arrays(expected)):
            assert g.dtype == e.dtype, (
                f"index dtype: got {g.dtype}, SciPy gave {e.dtype} ({expected.format})")
        assert got.nnz == expected.nnz, f"nnz: got {got.nnz}, SciPy gave {expected.nnz}"
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype, f"dtype: got {got.dtype}, SciPy gave {expected.dtype}"
    np.testing.assert_array_equal(got.toarray(), expected.toarray())
    if order and expected.format == "coo":
        np.testing.assert_array_equal(got.row, expected.row)
        np.testing.assert_array_equal(got.col, expected.col)
        np.testing.assert_array_equal(got.data, expected.data)


def run_both(fn, *args, **kwargs):
    """Call ``fn(mod, ...)`` with SciPy then spgrad; return both results (or exceptions)."""
    out = []
    for mod in (ssp, sp):
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = fn(mod, *args, **kwargs)
            out.append((res, [w.category for w in caught]))
        except Exception as e:  # noqa: BLE001 - compared below
            out.append((e, None))
    return out


def compare(fn, *args, order=False, check_format=True, **kwargs):
    (exp, exp_warn), (got, got_warn) = run_both(fn, *args, **kwargs)
    if isinstance(exp, Exception):
        assert isinstance(got, type(exp)), (
            f"SciPy raised {type(exp).__name__}({exp}); spgrad gave {got!r}")
        return None
    if isinstance(got, Exception):
        raise got
    assert got_warn == exp_warn, f"warnings: got {got_warn}, SciPy gave {exp_warn}"
    assert_same(got, exp, order=order, check_format=check_format)
    return got


def _values(rng, n, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(n) < 0.7
    v = rng.integers(-4, 5, size=n)
    if dtype.kind == "u":
        v = np.abs(v)
    if dtype.kind == "c":
        v = v + 1j * rng.integers(-3, 4, size=n)
    return v.astype(dtype)


class Raw:
    """Raw COO triplets (duplicates, explicit zeros and unsorted order allowed)."""

    def __init__(self, rng, shape, density=0.3, dtype=np.float64, idx_dtype=np.int32,
                 duplicates=False):
        m, n = shape
        nnz = int(round(density * m * n))
        if m * n == 0:
            nnz = 0
        self.row = rng.integers(0, max(m, 1), size=nnz).astype(idx_dtype)
        self.col = rng.integers(0, max(n, 1), size=nnz).astype(idx_dtype)
        if not duplicates and nnz:
            keys = np.unique(self.row.astype(np.int64) * n + self.col)
            rng.shuffle(keys)
            self.row = (keys // n).astype(idx_dtype)
            self.col = (keys % n).astype(idx_dtype)
        self.data = _values(rng, self.row.size, dtype)
        self.shape = shape

    def make(self, mod, fmt, family="array"):
        """The same matrix as ``mod``'s ``fmt`` class (built by its own constructor)."""
        cls = getattr(mod, f"{fmt}_{family}")
        coo = ssp.coo_array((self.data, (self.row, self.col)), shape=self.shape)
        if fmt == "coo":
            return cls((self.data.copy(), (self.row.copy(), self.col.copy())), shape=self.shape)
        if fmt in ("csr", "csc"):
            # keep duplicates and the drawn order within rows (no canonicalisation)
            major = self.row if fmt == "csr" else self.col
            minor = self.col if fmt == "csr" else self.row
            n_major = self.shape[0] if fmt == "csr" else self.shape[1]
            order = np.argsort(major, kind="stable")
            indptr = np.zeros(n_major + 1, dtype=self.row.dtype)
            np.cumsum(np.bincount(major, minlength=n_major), out=indptr[1:])
            return cls((self.data[order], minor[order], indptr), shape=self.shape)
        if fmt == "dia":
            D = coo.todia()
            return cls((D.data.copy(), D.offsets.astype(self.row.dtype)), shape=self.shape)
        raise ValueError(fmt)

    def dense(self):
        out = np.zeros(self.shape, dtype=self.data.dtype)
        np.add.at(out, (self.row, self.col), self.data)
        return out


def operand(raw, mod, kind, family):
    """An operand of kind ``'csr'``/``'csc'``/``'coo'``/``'dia'``, ``'dense'``,
    ``'scipy-csr'``/``'scipy-bsr'`` (a SciPy object given to spgrad), or ``'list'``."""
    if kind == "dense":
        return raw.dense()
    if kind == "list":
        return raw.dense().tolist()
    if kind.startswith("scipy-"):
        fmt = kind[6:]
        base = raw.make(ssp, "csr", family)
        return base.asformat(fmt)
    return raw.make(mod, kind, family)


@pytest.fixture
def rng(request):
    return np.random.default_rng(abs(hash(request.node.name)) % 2**32)


# ---------------------------------------------------------------------------------------------
# eye, eye_array, identity
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("format", OUT_FORMATS)
@pytest.mark.parametrize("dtype", [float, np.int8, np.complex64, bool])
@pytest.mark.parametrize("m,n,k", [(3, None, 0), (4, 4, 0), (0, None, 0), (3, 5, 1),
                                   (5, 3, -2), (4, 4, 3), (4, 4, -4), (3, 3, 4), (2, 6, 5),
                                   (1, 1, 0)])
def test_eye(m, n, k, dtype, format):
    compare(lambda mod: mod.eye_array(m, n, k=k, dtype=dtype, format=format))
    compare(lambda mod: mod.eye(m, n, k, dtype, format))
    compare(lambda mod: mod.eye(m, n=n, k=k, dtype=dtype, format=format))


@pytest.mark.parametrize("format", OUT_FORMATS)
@pytest.mark.parametrize("n", [0, 1, 5])
def test_identity(n, format):
    compare(lambda mod: mod.identity(n, format=format))
    compare(lambda mod: mod.identity(n, dtype="int8", format=format))
    compare(lambda mod: mod.identity(n, np.complex128, format))


def test_eye_defaults():
    compare(lambda mod: mod.eye(3))
    compare(lambda mod: mod.eye_array(3, 2))
    compare(lambda mod: mod.eye_array(np.int64(3), k=np.int32(1)))


# ---------------------------------------------------------------------------------------------
# diags, diags_array, spdiags
# ---------------------------------------------------------------------------------------------

DIAGS_CASES = [
    # (diagonals, offsets, shape)
    ([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0], [1.0, 2.0]], [0, -1, 2], None),
    ([1.0, -2.0, 1.0], [-1, 0, 1], (4, 4)),
    ([1.0, 2.0, 3.0], 1, None),
    ([1, 2, 3], 0, None),
    ([[1, 2, 3]], [0], (3, 5)),
    ([[1, 2], [3, 4, 5]], [2, 0], (4, 5)),
    ([[1, 2, 3], [4, 5]], np.array([-1, -3]), (5, 3)),
    ([np.array([1 + 1j, 2]), np.array([3.0])], [0, 1], (2, 2)),
    ([[True, False, True]], [0], None),
    ([np.arange(4, dtype=np.int8)], [0], None),
    ([np.arange(4, dtype=np.float32)], -1, None),
    (np.array([[1, 2, 3], [4, 5, 6]]), [0, 1], (3, 4)),
    ([[]], [0], (0, 0)),
    ([[1.0]], [0], (0, 3)),
    ([[1.0, 2.0]], [3], (2, 5)),
    # errors
    ([[1.0, 2.0]], [0, 1], None),  # different numbers of diagonals and offsets
    ([[1.0, 2.0], [3.0]], 0, None),  # a scalar offset with several diagonals
    ([[1.0, 2.0]], [5], (3, 3)),  # offset out of bounds
    ([[1.0, 2.0]], [-4], (3, 3)),
    ([[1.0, 2.0]], [0], (3, 3)),  # wrong length
    ([[1.0, 2.0, 3.0, 4.0]], [0], (3, 3)),
]


@pytest.mark.parametrize("format", [None, "csr", "coo"])
@pytest.mark.parametrize("case", range(len(DIAGS_CASES)))
def test_diags(case, format):
    diagonals, offsets, shape = DIAGS_CASES[case]
    for dtype in ("default", None, np.float32, np.complex128):
        kw = {} if dtype == "default" else {"dtype": dtype}
        compare(lambda mod: mod.diags_array(diagonals, offsets=offsets, shape=shape,
                                            format=format, **kw))
        compare(lambda mod: mod.diags(diagonals, offsets, shape, format, **kw))


def test_diags_default_dtype_warns_for_integers():
    with pytest.warns(FutureWarning, match="data type"):
        A = sp.diags_array([1, 2, 3])
    assert A.dtype == np.float64
    with pytest.warns(FutureWarning):
        sp.diags([[1, 2], [3]], [0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sp.diags_array([1.0, 2.0])
        assert sp.diags_array([1, 2], dtype=None).dtype == np.int64


SPDIAGS_CASES = [
    (np.array([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]), np.array([0, -1, 2]), 4, 4),
    (np.array([[1.0, 2, 3, 4]]), 0, None, None),
    (np.array([[1.0, 2, 3, 4], [5, 6, 7, 8]]), [1, -1], (3, 5), None),
    (np.arange(12.0).reshape(3, 4), [0, 1, -3], 5, 3),
    (np.array([[1.0, 2]]), [0, 1], 2, 2),  # mismatch: one row, two offsets
]


@pytest.mark.parametrize("format", [None, "csr", "csc"])
@pytest.mark.parametrize("case", range(len(SPDIAGS_CASES)))
def test_spdiags(case, format):
    data, diag, m, n = SPDIAGS_CASES[case]
    compare(lambda mod: mod.spdiags(data, diag, m, n, format=format))


# ---------------------------------------------------------------------------------------------
# random, random_array, rand
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("format", ["coo", "csr", "csc", "dia"])
@pytest.mark.parametrize("dtype", [None, np.float32, np.int8, np.uint16, np.int64,
                                   np.complex128, np.complex64, bool])
@pytest.mark.parametrize("shape,density", [((5, 7), 0.3), ((30, 4), 0.1), ((0, 5), 0.5),
                                           ((4, 4), 1.0), ((10, 10), 0.0), ((1, 1), 0.6)])
def test_random_array_same_as_scipy(shape, density, dtype, format):
    for seed in (0, 12345):
        compare(lambda mod: mod.random_array(shape, density=density, format=format,
                                             dtype=dtype, rng=np.random.default_rng(seed)),
                order=True)
        compare(lambda mod: mod.random_array(shape, density=density, format=format,
                                             dtype=dtype, rng=seed), order=True)
        compare(lambda mod: mod.random_array(shape, density=density, format=format,
                                             dtype=dtype,
                                             random_state=np.random.RandomState(seed)),
                order=True)


@pytest.mark.parametrize("format", ["coo", "csr"])
def test_random_and_rand_same_as_scipy(format):
    for seed in (1, 7):
        compare(lambda mod: mod.random(6, 9, 0.3, format, rng=seed), order=True)
        compare(lambda mod: mod.random(6, 9, 0.3, format, None, seed), order=True)  # legacy
        compare(lambda mod: mod.random(6, 9, density=0.3, format=format, random_state=seed),
                order=True)
        compare(lambda mod: mod.random(6, 9, 0.3, format, np.float32,
                                       np.random.default_rng(seed)), order=True)
        compare(lambda mod: mod.random(6, 9, 0.5, format, np.int16, rng=seed), order=True)
        compare(lambda mod: mod.rand(6, 9, 0.3, format, rng=seed), order=True)
        compare(lambda mod: mod.rand(6, 9, 0.3, format, None, seed), order=True)
        compare(lambda mod: mod.rand(5, 4, density=0.4, format=format, random_state=seed),
                order=True)
        compare(lambda mod: mod.random(6, None, 0.3, format, rng=seed), order=True)


def test_random_uses_numpy_global_state_by_default():
    def draw(mod):
        np.random.seed(123)
        return mod.random(8, 6, density=0.4)

    compare(draw, order=True)

    def draw_array(mod):
        np.random.seed(5)
        return mod.random_array((4, 9), density=0.4, format="csr")

    compare(draw_array, order=True)


def test_random_samplers():
    def with_sampler(mod):
        g = np.random.default_rng(3)
        return mod.random_array((5, 6), density=0.4, rng=g,
                                data_sampler=lambda size: g.standard_normal(size) ** 2)

    compare(with_sampler, order=True)

    def with_rvs(mod):
        g = np.random.default_rng(4)
        return mod.random(5, 6, density=0.4, rng=g, data_rvs=lambda k: np.arange(k) + 1.0)

    compare(with_rvs, order=True)

    def poisson(mod):
        g = np.random.default_rng(5)
        return mod.random_array((3, 8), density=0.5, rng=g, dtype=np.int64,
                                data_sampler=lambda size: g.poisson(3, size=size))

    compare(poisson, order=True)


@pytest.mark.parametrize("density", [-0.1, 1.5])
def test_random_bad_density(density):
    compare(lambda mod: mod.random_array((3, 3), density=density, rng=0))
    compare(lambda mod: mod.random(3, 3, density, rng=0))
    compare(lambda mod: mod.rand(3, 3, density, rng=0))


def test_random_rng_given_twice():
    compare(lambda mod: mod.random_array((3, 3), rng=0, random_state=0))
    compare(lambda mod: mod.random(3, 3, 0.1, "coo", None, 0, rng=0))
    compare(lambda mod: mod.random(3, 3, random_state="bad"))


# ---------------------------------------------------------------------------------------------
# kron, kronsum
# ---------------------------------------------------------------------------------------------

KRON_KINDS = ["csr", "csc", "coo", "dia", "dense", "scipy-csr", "scipy-bsr"]


@pytest.mark.parametrize("format", [None, "csr", "csc", "coo", "dia", "bsr"])
@pytest.mark.parametrize("kind_a", KRON_KINDS)
@pytest.mark.parametrize("family", ["array", "matrix", "mixed"])
def test_kron(kind_a, family, format, rng):
    fam_a = "matrix" if family == "matrix" else "array"
    fam_b = "array" if family == "array" else "matrix"
    for shapes, dens_b in [(((3, 4), (2, 5)), 0.2), (((4, 2), (3, 3)), 0.8),
                           (((0, 3), (2, 2)), 0.5), (((3, 3), (2, 0)), 0.5),
                           (((5, 1), (1, 4)), 0.3)]:
        for dt_a, dt_b in [(np.float64, np.float64), (np.int8, np.uint8),
                           (np.int32, np.complex64), (np.bool_, np.bool_),
                           (np.float32, np.int64)]:
            ra = Raw(rng, shapes[0], 0.4, dt_a, duplicates=kind_a == "coo")
            rb = Raw(rng, shapes[1], dens_b, dt_b)
            for kind_b in ("csr", "coo"):
                def fn(mod):
                    A = operand(ra, mod, kind_a, fam_a)
                    B = operand(rb, mod, kind_b, fam_b)
                    return mod.kron(A, B, format=format)

                (exp, _), (got, _) = run_both(fn)
                if isinstance(exp, Exception):
                    assert isinstance(got, type(exp))
                else:
                    assert_same(got, exp)
                    if exp.format == "bsr":  # B fairly dense: SciPy's blocks, zeros included
                        assert got.blocksize == exp.blocksize
                        np.testing.assert_array_equal(got.data, exp.data)


def test_kron_int64_indices_and_explicit_zeros(rng):
    ra = Raw(rng, (4, 3), 0.5, np.float64, idx_dtype=np.int64)
    ra.data[:2] = 0
    rb = Raw(rng, (3, 5), 0.3, np.float64, idx_dtype=np.int64)
    for fam in ("array", "matrix"):
        for fa, fb in [("csr", "csr"), ("coo", "csc"), ("csr", "dia")]:
            for format in (None, "csr", "coo"):
                compare(lambda mod: mod.kron(ra.make(mod, fa, fam), rb.make(mod, fb, fam),
                                             format=format))


def test_kron_dense_and_lists():
    A = [[0, 2], [5, 0]]
    B = [[1, 0, 0], [0, 0, 3]]
    compare(lambda mod: mod.kron(A, B))
    compare(lambda mod: mod.kron(A, B, format="csr"))
    compare(lambda mod: mod.kron(mod.csr_array(np.array(A)), B))
    compare(lambda mod: mod.kron(np.zeros((2, 2)), B))
    compare(lambda mod: mod.kron(np.array(A), mod.csr_matrix(np.array(B)), format="coo"))


@pytest.mark.parametrize("format", [None, "csr", "coo", "csc"])
@pytest.mark.parametrize("kinds", [("csr", "csr"), ("coo", "dia"), ("dense", "csc"),
                                   ("scipy-csr", "csr")])
@pytest.mark.parametrize("family", ["array", "matrix", "mixed"])
def test_kronsum(kinds, family, format, rng):
    fam_a = "matrix" if family == "matrix" else "array"
    fam_b = "array" if family == "array" else "matrix"
    for na, nb, dt_a, dt_b in [(3, 4, np.float64, np.float64), (2, 2, np.int8, np.float32),
                               (4, 1, np.complex128, np.int64), (0, 3, np.float64, np.int32)]:
        ra = Raw(rng, (na, na), 0.5, dt_a)
        rb = Raw(rng, (nb, nb), 0.5, dt_b)
        compare(lambda mod: mod.kronsum(operand(ra, mod, kinds[0], fam_a),
                                        operand(rb, mod, kinds[1], fam_b), format=format))


def test_kronsum_not_square(rng):
    ra = Raw(rng, (3, 4), 0.5)
    rb = Raw(rng, (2, 2), 0.5)
    compare(lambda mod: mod.kronsum(ra.make(mod, "csr"), rb.make(mod, "csr")))
    compare(lambda mod: mod.kronsum(rb.make(mod, "csr"), ra.make(mod, "csr")))


# ---------------------------------------------------------------------------------------------
# hstack, vstack, bmat, block_array
# ---------------------------------------------------------------------------------------------

def _grid(rng, row_sizes, col_sizes, kinds, families, dtypes, none_at=(), idx_dtype=np.int32):
    """Raw blocks for a grid; ``kinds``/``families``/``dtypes`` cycle over the cells."""
    cells = []
    t = 0
    for i, m in enumerate(row_sizes):
        row = []
        for j, n in enumerate(col_sizes):
            if (i, j) in none_at:
                row.append(None)
            else:
                raw = Raw(rng, (m, n), 0.4, dtypes[t % len(dtypes)], idx_dtype=idx_dtype,
                          duplicates=kinds[t % len(kinds)] == "coo")
                row.append((raw, kinds[t % len(kinds)], families[t % len(families)]))
            t += 1
        cells.append(row)
    return cells


def _build(cells, mod):
    return [[None if c is None else operand(c[0], mod, c[1], c[2]) for c in row]
            for row in cells]


BLOCK_SETUPS = {
    "all-csr": (["csr"], ["array"], [np.float64]),
    "all-csr-matrix": (["csr"], ["matrix"], [np.float64]),
    "all-csc": (["csc"], ["array"], [np.float32]),
    "all-csc-matrix": (["csc"], ["matrix"], [np.int32]),
    "csr-mixed-dtypes": (["csr"], ["array", "matrix"], [np.int8, np.uint8, np.float32]),
    "csr-bool": (["csr"], ["matrix"], [np.bool_]),
    "csc-matrix-first": (["csc"], ["matrix", "array"], [np.float64]),
    "csr-matrix-first": (["csr"], ["matrix", "array"], [np.complex128]),
    "mixed-formats": (["csr", "coo", "csc", "dia"], ["array", "matrix"],
                      [np.float64, np.complex64]),
    "coo": (["coo"], ["matrix"], [np.int64]),
    "with-dense": (["csr", "dense"], ["matrix"], [np.float64]),
    "with-scipy": (["csr", "scipy-csr", "scipy-bsr"], ["array"], [np.float64]),
    "scipy-csr-only": (["scipy-csr"], ["matrix"], [np.float64]),
}


@pytest.mark.parametrize("format", [None, "csr", "csc", "coo"])
@pytest.mark.parametrize("dtype", [None, np.complex128, np.int64])
@pytest.mark.parametrize("setup", list(BLOCK_SETUPS))
def test_hstack_vstack(setup, dtype, format, rng):
    kinds, fams, dtypes = BLOCK_SETUPS[setup]
    for n_row, widths in [(4, [3, 2, 5]), (3, [0, 4]), (0, [2, 3]), (5, [1]), (2, [3, 0, 0])]:
        cells = _grid(rng, [n_row], widths, kinds, fams, dtypes)
        compare(lambda mod: mod.hstack(_build(cells, mod)[0], format=format, dtype=dtype))
        cells = _grid(rng, widths, [n_row], kinds, fams, dtypes)
        compare(lambda mod: mod.vstack([r[0] for r in _build(cells, mod)], format=format,
                                       dtype=dtype))


@pytest.mark.parametrize("format", [None, "csr", "csc", "coo", "dia"])
@pytest.mark.parametrize("setup", list(BLOCK_SETUPS))
def test_bmat_and_block_array(setup, format, rng):
    kinds, fams, dtypes = BLOCK_SETUPS[setup]
    for rows, cols, none_at in [([2, 3], [4, 1, 2], ()), ([3, 2], [2, 2], ((0, 1),)),
                                ([1, 4, 2], [3], ((1, 0),)), ([2, 2], [3, 1], ((0, 0), (1, 1))),
                                ([0, 3], [2, 0], ())]:
        cells = _grid(rng, rows, cols, kinds, fams, dtypes, none_at)
        compare(lambda mod: mod.bmat(_build(cells, mod), format=format))
        compare(lambda mod: mod.block_array(_build(cells, mod), format=format))
        compare(lambda mod: mod.bmat(_build(cells, mod), format=format, dtype=np.float32))


def test_stack_int64_indices(rng):
    for setup in ("all-csr", "all-csr-matrix", "all-csc", "mixed-formats", "csr-matrix-first",
                  "csc-matrix-first"):
        kinds, fams, dtypes = BLOCK_SETUPS[setup]
        cells = _grid(rng, [3, 2], [2, 4], kinds, fams, dtypes, idx_dtype=np.int64)
        compare(lambda mod: mod.bmat(_build(cells, mod)))
        compare(lambda mod: mod.hstack(_build(cells, mod)[0]))
        compare(lambda mod: mod.vstack([r[0] for r in _build(cells, mod)]))


def test_stack_unsorted_and_duplicate_csr(rng):
    raws = [Raw(rng, (6, 4), 0.6, duplicates=True) for _ in range(3)]
    for family in ("array", "matrix"):
        compare(lambda mod: mod.hstack([r.make(mod, "csr", family) for r in raws]))
        compare(lambda mod: mod.vstack([r.make(mod, "csr", family) for r in raws]))
        compare(lambda mod: mod.vstack([r.make(mod, "csc", family) for r in raws]))


def test_block_errors(rng):
    a = Raw(rng, (2, 3), 0.5)
    b = Raw(rng, (3, 3), 0.5)
    c = Raw(rng, (2, 2), 0.5)
    for fmt in ("csr", "csc", "coo"):
        compare(lambda mod: mod.hstack([a.make(mod, fmt), b.make(mod, fmt)]))
        compare(lambda mod: mod.vstack([a.make(mod, fmt), c.make(mod, fmt)]))
        compare(lambda mod: mod.bmat([[a.make(mod, fmt), None], [None, b.make(mod, fmt)],
                                      [c.make(mod, fmt), None]]))
    compare(lambda mod: mod.bmat([a.make(mod, "csr"), b.make(mod, "csr")]))  # 1-D grid
    compare(lambda mod: mod.hstack([]))
    compare(lambda mod: mod.vstack([]))
    compare(lambda mod: mod.bmat([[None, None], [None, None]]))
    compare(lambda mod: mod.block_array([[None]], dtype=np.int8))


def test_stack_large_parallel_path():
    rng = np.random.default_rng(0)
    raws = [Raw(rng, (40000, w), 0.05) for w in (3, 5, 2)]
    compare(lambda mod: mod.hstack([r.make(mod, "csr") for r in raws]))
    compare(lambda mod: mod.vstack([r.make(mod, "csc") for r in raws[:1]] * 2))


# ---------------------------------------------------------------------------------------------
# block_diag
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("format", [None, "csr", "csc", "dia"])
@pytest.mark.parametrize("dtype", [None, np.float32, np.complex128])
def test_block_diag(dtype, format, rng):
    ra = Raw(rng, (2, 3), 0.5, np.int32)
    rb = Raw(rng, (3, 1), 0.7, np.float64, idx_dtype=np.int64)
    rc = Raw(rng, (0, 2), 0.5)
    cases = [
        lambda mod: [ra.make(mod, "coo", "matrix"), rb.make(mod, "csr", "matrix")],
        lambda mod: [ra.make(mod, "csr", "array"), rb.make(mod, "csc", "matrix"), 7],
        lambda mod: [np.array([[1, 0], [0, 2]]), [[3, 0, 4]], ra.make(mod, "dia", "matrix")],
        lambda mod: [rc.make(mod, "coo", "array"), 2.5, ra.dense()],
        lambda mod: [ra.make(mod, "coo", "matrix"), operand(rb, mod, "scipy-csr", "array")],
        lambda mod: [rb.make(mod, "coo", "array")],
        lambda mod: [rb.make(mod, "coo", "matrix"), rb.make(mod, "coo", "matrix")],
    ]
    for build in cases:
        compare(lambda mod: mod.block_diag(build(mod), format=format, dtype=dtype))


def test_block_diag_errors():
    compare(lambda mod: mod.block_diag([]))


# ---------------------------------------------------------------------------------------------
# tril, triu
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("format", [None, "csr", "csc", "coo", "dia"])
@pytest.mark.parametrize("kind", ["csr", "csc", "coo", "dia", "dense", "scipy-csr",
                                  "scipy-bsr"])
@pytest.mark.parametrize("family", ["array", "matrix"])
@pytest.mark.parametrize("idx_dtype", [np.int32, np.int64])
def test_tril_triu(kind, family, format, idx_dtype, rng):
    for t, shape in enumerate([(6, 6), (4, 7), (7, 3), (0, 3), (1, 1)]):
        for dtype in ((np.float64, np.int8), (np.bool_, np.complex64))[t % 2]:
            raw = Raw(rng, shape, 0.5, dtype, idx_dtype=idx_dtype,
                      duplicates=kind in ("coo", "csr"))
            for k in (0, 1, -1, 3, -100, np.int64(2), 0.5, -1.5, True):
                for func in ("tril", "triu"):
                    compare(lambda mod: getattr(mod, func)(operand(raw, mod, kind, family),
                                                           k=k, format=format), order=True)


def test_scipy_bsr_int64_to_coo_index_dtype(rng):
    raw = Raw(rng, (4, 4), 0.5, idx_dtype=np.int64)
    compare(lambda mod: mod.tril(operand(raw, mod, "scipy-bsr", "array")))


def test_tril_triu_defaults_and_errors(rng):
    raw = Raw(rng, (5, 5), 0.6)
    compare(lambda mod: mod.tril(raw.make(mod, "csr")), order=True)
    compare(lambda mod: mod.triu(raw.make(mod, "csc", "matrix")), order=True)
    compare(lambda mod: mod.tril(raw.make(mod, "csr"), None))
    compare(lambda mod: mod.triu(raw.make(mod, "coo"), None))


def test_tril_keeps_explicit_zeros_and_order(rng):
    raw = Raw(rng, (6, 6), 0.7, duplicates=True)
    raw.data[::3] = 0
    for kind in ("csr", "csc", "coo"):
        got = compare(lambda mod: mod.tril(raw.make(mod, kind), 1), order=True)
        assert got.nnz == np.count_nonzero(raw.col.astype(int) - raw.row <= 1)


def test_inputs_not_mutated(rng):
    raw = Raw(rng, (5, 4), 0.5, duplicates=True)
    A = raw.make(sp, "csr")
    before = (A.data.copy(), A.indices.copy(), A.indptr.copy())
    sp.tril(A, format="csr")
    sp.kron(A, A, format="csr")
    sp.hstack([A, A])
    sp.vstack([A, A], format="coo")
    for x, y in zip(before, (A.data, A.indices, A.indptr)):
        np.testing.assert_array_equal(x, y)
