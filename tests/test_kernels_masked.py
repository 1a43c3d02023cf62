"""Tests of the masked-product kernels (``spgrad._cpu._masked``) called directly, against NumPy:
SDDMM for 0, 1 (the rank-1 path of the SpMV backward) and several columns, every value and
index dtype, serial and forced parallel, empty masks and empty rows."""

import numpy as np
import pytest
import scipy.sparse as ssp

from spgrad._cpu import _masked as K

VALUE_DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


@pytest.fixture(params=["serial-threshold", "force-parallel"])
def parallel(request, monkeypatch):
    if request.param == "force-parallel":
        monkeypatch.setattr(K, "MIN_PARALLEL_WORK", 0)
    return request.param


@pytest.mark.parametrize("idt", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", VALUE_DTYPES)
@pytest.mark.parametrize("k", [0, 1, 3, 4, 9])  # 4 and 9: the four partial sums (+ remainder)
@pytest.mark.parametrize("shape", [(0, 4), (6, 0), (7, 5)])
def test_sddmm_matches_numpy(idt, dtype, k, shape, parallel):
    rng = np.random.default_rng(k + shape[0])
    mask = ssp.random_array(shape, density=0.5, format="csr", rng=rng)
    if shape[0] > 2:
        mask = ssp.csr_array(mask.toarray() * (np.arange(shape[0]) != 2)[:, None])  # empty row
    indptr, indices = mask.indptr.astype(idt), mask.indices.astype(idt)
    A = rng.standard_normal((shape[0], k)).astype(dtype)
    B = rng.standard_normal((shape[1], k)).astype(dtype)
    if np.dtype(dtype).kind == "c":
        A = A + 1j * rng.standard_normal(A.shape).astype(dtype)
    out = np.full(len(indices), 99, dtype=dtype)
    K.csr_sddmm(indptr, indices, A, B, out)
    rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
    expected = (A[rows] * B[indices]).sum(axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_sddmm_checks_shapes():
    indptr = np.array([0, 1, 1], np.int32)
    indices = np.array([0], np.int32)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        K.csr_sddmm(indptr, indices, np.ones((3, 2)), np.ones((2, 2)), np.empty(1))
    with pytest.raises(ValueError, match="inconsistent shapes"):
        K.csr_sddmm(indptr, indices, np.ones((2, 2)), np.ones((2, 3)), np.empty(1))
