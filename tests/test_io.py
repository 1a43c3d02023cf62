"""save_npz/load_npz: files interchangeable with SciPy's in both directions, every format that
has array storage, both families, every dtype, int32/int64 indices, compressed or not."""

import io

import numpy as np
import pytest
import scipy.sparse as scipy_sparse

from conftest import (
    EDGE,
    FAMILIES,
    NATIVE_FORMATS,
    SPGRAD,
    Sp,
    cases,
    compare,
    need_spgrad,
    raws,
    scipy_object,
    single_edges,
    values_problem,
)

SAVABLE = ("csr", "csc", "coo", "dia", "bsr")


def _save(mod, A, compressed):
    buf = io.BytesIO()
    mod.save_npz(buf, A, compressed=compressed)
    buf.seek(0)
    return buf


def _storage(S):
    f = S.format
    keys = {"csr": ("indices", "indptr"), "csc": ("indices", "indptr"),
            "bsr": ("indices", "indptr"), "dia": ("offsets",), "coo": ("row", "col")}[f]
    return {k: getattr(S, k) for k in ("data", *keys)}


def assert_same_scipy(exp, got):
    """Two SciPy objects loaded from files: same class, shape, dtypes and stored arrays."""
    assert type(got) is type(exp), (type(got), type(exp))
    assert got.shape == exp.shape and got.dtype == exp.dtype
    se, sg = _storage(exp), _storage(got)
    for k in se:
        assert sg[k].dtype == se[k].dtype, (k, sg[k].dtype, se[k].dtype)
        assert sg[k].shape == se[k].shape, k
        assert values_problem(se[k], sg[k]) is None, k


@cases(raw=raws(), fmt=list(NATIVE_FORMATS), family=list(FAMILIES), compressed=[True, False],
       edge=single_edges())
def test_roundtrip_spgrad(raw, fmt, family, compressed):
    """spgrad -> file -> spgrad matches SciPy -> file -> SciPy."""
    compare(lambda mod, A: mod.load_npz(_save(mod, A, compressed)), Sp(raw, fmt, family))


@cases(raw=raws(), fmt=list(NATIVE_FORMATS), family=list(FAMILIES), compressed=[True, False],
       edge=single_edges())
def test_spgrad_file_read_by_scipy(raw, fmt, family, compressed):
    """A file written by spgrad loads in SciPy exactly as SciPy's own file."""
    need_spgrad()
    S = scipy_object(raw, fmt, family)
    A = SPGRAD.from_scipy(S)
    exp = scipy_sparse.load_npz(_save(scipy_sparse, S, compressed))
    got = scipy_sparse.load_npz(_save(SPGRAD, A, compressed))
    assert_same_scipy(exp, got)


@cases(raw=raws(), fmt=list(SAVABLE), family=list(FAMILIES), compressed=[True, False],
       edge=single_edges())
def test_scipy_file_read_by_spgrad(raw, fmt, family, compressed):
    """A file written by SciPy loads in spgrad as the same format, family and arrays."""
    S = scipy_object(raw, fmt, family)
    data = _save(scipy_sparse, S, compressed).getvalue()
    compare(lambda mod: mod.load_npz(io.BytesIO(data)))


@cases(raw=raws(), family=list(FAMILIES), compressed=[True, False], edge=single_edges())
def test_bsr_roundtrip(raw, family, compressed):
    def body(mod, A):
        return mod.load_npz(_save(mod, mod.bsr_array(A) if family == "array"
                                  else mod.bsr_matrix(A), compressed))

    compare(body, Sp(raw, "csr", family))


@pytest.mark.parametrize("fmt", ["lil", "dok"])
@pytest.mark.parametrize("family", FAMILIES)
def test_save_unsupported_format(fmt, family):
    compare(lambda mod: mod.save_npz(io.BytesIO(),
                                     getattr(mod, f"{fmt}_{family}")((2, 2))))
    need_spgrad()
    with pytest.raises(NotImplementedError, match="convert first"):
        SPGRAD.save_npz(io.BytesIO(), getattr(SPGRAD, f"{fmt}_{family}")((2, 2)))


def _npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


BAD_FILES = {
    "empty": b"",
    "not-npz": b"this is not a zip archive",
    "no-format": _npz(data=np.ones(2), shape=np.array([1, 2])),
    "unknown-format": _npz(format=b"xyz", data=np.ones(2), shape=np.array([1, 2])),
    "lil-format": _npz(format=b"lil", data=np.ones(2), shape=np.array([1, 2])),
    "pickled": _npz(format=b"csr", data=np.array([object()], dtype=object),
                    indices=np.zeros(1, np.int32), indptr=np.array([0, 1], np.int32),
                    shape=np.array([1, 1])),
    "bad-indptr": _npz(format=b"csr", data=np.ones(2), indices=np.array([0, 1], np.int32),
                       indptr=np.array([0, 5], np.int32), shape=np.array([1, 2])),
    "unknown-array-format": _npz(format=b"abc", _is_array=True, data=np.ones(1),
                                 shape=np.array([1, 1])),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_raise_like_scipy(name):
    data = BAD_FILES[name]
    exp, got = compare(lambda mod: mod.load_npz(io.BytesIO(data)))
    assert type(exp).__name__ == "Raised"


def test_missing_file(tmp_path):
    compare(lambda mod: mod.load_npz(str(tmp_path / "missing.npz")))
    need_spgrad()
    with pytest.raises(OSError):
        SPGRAD.load_npz(tmp_path / "missing.npz")


def test_filename_gets_npz_suffix(tmp_path):
    need_spgrad()
    A = SPGRAD.csr_matrix(np.array([[0, 1.5], [2.0, 0]]))
    SPGRAD.save_npz(str(tmp_path / "matrix"), A)
    assert (tmp_path / "matrix.npz").exists()
    B = scipy_sparse.load_npz(tmp_path / "matrix.npz")
    assert type(B) is scipy_sparse.csr_matrix
    np.testing.assert_array_equal(B.toarray(), A.toarray())
    C = SPGRAD.load_npz(tmp_path / "matrix.npz")
    assert type(C) is SPGRAD.csr_matrix


def test_torch_values_saved_detached():
    need_spgrad()
    torch = pytest.importorskip("torch")
    A = SPGRAD.csr_array(EDGE[6].dense().astype(np.float64)).requires_grad_()
    B = A * 2.0  # a non-leaf with a grad_fn
    assert torch.is_tensor(B.data) and B.data.requires_grad
    C = SPGRAD.load_npz(_save(SPGRAD, B, True))
    assert type(C) is SPGRAD.csr_array and isinstance(C.data, np.ndarray)
    np.testing.assert_array_equal(C.toarray(), 2.0 * A.detach().toarray())
    assert C.indices.dtype == A.indices.dtype


def test_save_rejects_non_sparse():
    need_spgrad()
    with pytest.raises(TypeError, match="sparse"):
        SPGRAD.save_npz(io.BytesIO(), np.eye(2))
