"""spgrad's CUDA kernels on a real GPU (skipped without CuPy or without a device): the same
comparisons as the emulated tests, through the production launch on CuPy arrays."""

import numpy as np
import pytest
import scipy.sparse

cupy = pytest.importorskip("cupy")

from spgrad import _cpu, _cuda


def _has_device():
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except cupy.cuda.runtime.CUDARuntimeError:  # no driver
        return False


pytestmark = pytest.mark.skipif(not _has_device(), reason="no CUDA device")


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("idx", [np.int32, np.int64])
def test_products_on_the_gpu(dtype, idx):
    rng = np.random.default_rng(0)
    A = scipy.sparse.random_array((500, 300), density=0.05, format="csr", rng=rng)
    indptr, indices = A.indptr.astype(idx), A.indices.astype(idx)
    data = A.data.astype(dtype)
    tol = 1e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-11
    for name, n_in, n_out in (("csr_matvec", 300, 500), ("csr_matvec_transpose", 500, 300)):
        x = rng.standard_normal(n_in).astype(dtype)
        expected = np.empty(n_out, dtype)
        getattr(_cpu, name)(indptr, indices, data, x, expected)
        got = cupy.empty(n_out, dtype)
        getattr(_cuda, name)(cupy.asarray(indptr), cupy.asarray(indices), cupy.asarray(data),
                             cupy.asarray(x), got)
        np.testing.assert_allclose(cupy.asnumpy(got), expected, rtol=tol, atol=tol)
    G, X = rng.standard_normal((500, 4)).astype(dtype), rng.standard_normal((300, 4)).astype(dtype)
    expected = np.empty(A.nnz, dtype)
    _cpu.csr_sddmm(indptr, indices, G, X, expected)
    got = cupy.empty(A.nnz, dtype)
    _cuda.csr_sddmm(cupy.asarray(indptr), cupy.asarray(indices), cupy.asarray(G),
                    cupy.asarray(X), got)
    np.testing.assert_allclose(cupy.asnumpy(got), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("idx", [np.int32, np.int64])
def test_structural_kernels_on_the_gpu(idx):
    rng = np.random.default_rng(1)
    A = scipy.sparse.random_array((400, 300), density=0.05, format="csr", rng=rng)
    indptr, indices, data = A.indptr.astype(idx), A.indices.astype(idx), A.data
    d_indptr, d_indices, d_data = (cupy.asarray(a) for a in (indptr, indices, data))
    outs = (np.empty(301, idx), np.empty(A.nnz, idx), np.empty(A.nnz))
    _cpu.csr_transpose(300, indptr, indices, data, *outs)
    d_outs = (cupy.empty(301, idx), cupy.empty(A.nnz, idx), cupy.empty(A.nnz))
    _cuda.csr_transpose(300, d_indptr, d_indices, d_data, *d_outs)
    for a, b in zip(d_outs, outs):
        np.testing.assert_array_equal(cupy.asnumpy(a), b)
    outs = (np.empty(401, idx), np.empty(A.nnz, idx), np.empty(A.nnz))
    nnz = _cpu.csr_band_filter(-5, 7, indptr, indices, data, *outs)
    d_outs = (cupy.empty(401, idx), cupy.empty(A.nnz, idx), cupy.empty(A.nnz))
    assert _cuda.csr_band_filter(-5, 7, d_indptr, d_indices, d_data, *d_outs) == nnz
    np.testing.assert_array_equal(cupy.asnumpy(d_outs[1][:nnz]), outs[1][:nnz])
    expected = np.zeros((400, 300))
    _cpu.csr_todense(indptr, indices, data, expected)
    got = cupy.zeros((400, 300))
    _cuda.csr_todense(d_indptr, d_indices, d_data, got)
    np.testing.assert_array_equal(cupy.asnumpy(got), expected)
