"""A stand-in for CuPy's low-level cuSPARSE bindings (``cupy_backends.cuda.libs.cusparse``)
on the emulated CuPy of ``emulated_cupy``: the generic SpMV/SpMM API that
``spgrad._cuda._vendor.dense_product`` calls, computed by SciPy on the memory behind the
device pointers.

Descriptors hold what cuSPARSE's would (sizes, pointers, index and value types, layout); the
products check them as cuSPARSE does (sizes that agree with ``op(A)``, one value type
throughout, a leading dimension that fits, a work buffer when one was asked for) and raise
``CuSparseError`` otherwise, so a wrong pointer, size, type or layout in spgrad's call fails
here. ``calls`` counts the products; ``unsupported`` lists ``(routine, op)`` pairs to report
as ``CUSPARSE_STATUS_NOT_SUPPORTED``.
"""

import ctypes
import sys
import types
from collections import Counter

import numpy as np
import scipy.sparse

import emulated_cupy

#: products run since the last install: "spmv" / "spmm"
calls = Counter()
#: (routine, op) pairs reported as not supported (tests add some)
unsupported = set()

runtime = types.ModuleType("cupy_backends.cuda.api.runtime")
runtime.CUDA_R_32F, runtime.CUDA_R_64F, runtime.CUDA_C_32F, runtime.CUDA_C_64F = 0, 1, 4, 5
_VALUE_TYPES = {0: np.float32, 1: np.float64, 4: np.complex64, 5: np.complex128}

cusparse = types.ModuleType("cupy_backends.cuda.libs.cusparse")
cusparse.CUSPARSE_INDEX_BASE_ZERO = 0
cusparse.CUSPARSE_OPERATION_NON_TRANSPOSE = 0
cusparse.CUSPARSE_OPERATION_TRANSPOSE = 1
cusparse.CUSPARSE_OPERATION_CONJUGATE_TRANSPOSE = 2
cusparse.CUSPARSE_ORDER_COL, cusparse.CUSPARSE_ORDER_ROW = 1, 2
cusparse.CUSPARSE_MV_ALG_DEFAULT = cusparse.CUSPARSE_MM_ALG_DEFAULT = 0
cusparse.CUSPARSE_INDEX_32I, cusparse.CUSPARSE_INDEX_64I = 2, 3
_INDEX_TYPES = {2: np.int32, 3: np.int64}
_BUFFER = 64  # the work buffer size reported (bytes)


class CuSparseError(RuntimeError):
    pass


cusparse.CuSparseError = CuSparseError
_descriptors = {}


def _fail(status):
    raise CuSparseError(status)


def _view(ptr, count, dtype):
    """The ``count`` elements of ``dtype`` at the device pointer (host memory here)."""
    dtype = np.dtype(dtype)
    if count == 0:
        return np.empty(0, dtype=dtype)
    if not ptr:
        _fail("CUSPARSE_STATUS_INVALID_VALUE (null pointer)")
    raw = (ctypes.c_char * (count * dtype.itemsize)).from_address(ptr)
    return np.frombuffer(raw, dtype=dtype)


def _new(kind, **fields):
    handle = len(_descriptors) + 1000
    while handle in _descriptors:
        handle += 1
    _descriptors[handle] = dict(fields, kind=kind)
    return handle


def _get(handle, kind):
    d = _descriptors.get(handle)
    if d is None or d["kind"] != kind:
        _fail(f"CUSPARSE_STATUS_INVALID_VALUE (not a {kind} descriptor)")
    return d


def _create_csr(rows, cols, nnz, indptr, indices, values, indptr_type, indices_type, base,
                value_type):
    if base != 0 or indptr_type not in _INDEX_TYPES or indices_type not in _INDEX_TYPES:
        _fail("CUSPARSE_STATUS_INVALID_VALUE (index types or base)")
    return _new("csr", rows=rows, cols=cols, nnz=nnz, indptr=indptr, indices=indices,
                values=values, indptr_type=_INDEX_TYPES[indptr_type],
                indices_type=_INDEX_TYPES[indices_type], value_type=value_type)


def _destroy(kind):
    def destroy(handle):
        _get(handle, kind)
        del _descriptors[handle]

    return destroy


cusparse.createCsr = _create_csr
cusparse.createDnVec = lambda size, values, value_type: _new(
    "vec", size=size, values=values, value_type=value_type)
cusparse.createDnMat = lambda rows, cols, ld, values, value_type, order: _new(
    "mat", rows=rows, cols=cols, ld=ld, values=values, value_type=value_type, order=order)
cusparse.destroySpMat = _destroy("csr")
cusparse.destroyDnVec = _destroy("vec")
cusparse.destroyDnMat = _destroy("mat")


def _matrix(handle, compute_type):
    d = _get(handle, "csr")
    if d["value_type"] != compute_type:
        _fail("CUSPARSE_STATUS_NOT_SUPPORTED (mixed value types)")
    dtype = _VALUE_TYPES[compute_type]
    indptr = _view(d["indptr"], d["rows"] + 1, d["indptr_type"])
    if int(indptr[-1]) != d["nnz"]:
        _fail("CUSPARSE_STATUS_INVALID_VALUE (nnz does not match the row offsets)")
    indices = _view(d["indices"], d["nnz"], d["indices_type"])
    values = _view(d["values"], d["nnz"], dtype)
    row_sorted = all(np.all(np.diff(indices[indptr[i]:indptr[i + 1]]) > 0)
                     for i in range(d["rows"]))
    if not row_sorted:  # cuSPARSE assumes canonical CSR; the emulation insists on it
        _fail("CUSPARSE_STATUS_INVALID_VALUE (indices not sorted and unique within rows)")
    return scipy.sparse.csr_array((values, indices, indptr), shape=(d["rows"], d["cols"]))


def _scalar(ptr, compute_type):
    return _view(ptr, 1, _VALUE_TYPES[compute_type])[0]


def _op(A, op):
    if op not in (0, 1, 2):
        _fail("CUSPARSE_STATUS_INVALID_VALUE (operation)")
    return A if op == 0 else A.T if op == 1 else A.conj().T


def _check_buffer(buffer):
    if not buffer:
        _fail("CUSPARSE_STATUS_INVALID_VALUE (no work buffer)")


def _vector(handle, compute_type):
    d = _get(handle, "vec")
    if d["value_type"] != compute_type:
        _fail("CUSPARSE_STATUS_NOT_SUPPORTED (mixed value types)")
    return _view(d["values"], d["size"], _VALUE_TYPES[compute_type])


def _spmv_operands(handle, op, alpha, A, x, beta, y, compute_type, alg):
    """``(op(A), x, y, alpha, beta)`` of an SpMV call, checked."""
    if ("spmv", op) in unsupported:
        _fail("CUSPARSE_STATUS_NOT_SUPPORTED")
    M = _op(_matrix(A, compute_type), op)
    xv, yv = _vector(x, compute_type), _vector(y, compute_type)
    if M.shape != (len(yv), len(xv)):
        _fail(f"CUSPARSE_STATUS_INVALID_VALUE (op(A) is {M.shape}, x has {len(xv)} and y "
              f"{len(yv)} entries)")
    return M, xv, yv, _scalar(alpha, compute_type), _scalar(beta, compute_type)


def _dense(handle, compute_type):
    """The values of a dense matrix descriptor as a (strided) view of its memory."""
    d = _get(handle, "mat")
    if d["value_type"] != compute_type:
        _fail("CUSPARSE_STATUS_NOT_SUPPORTED (mixed value types)")
    if d["order"] != cusparse.CUSPARSE_ORDER_ROW:  # (what spgrad passes; all it emulates)
        _fail("emulated cuSPARSE: row-major dense matrices only")
    rows, cols, ld = d["rows"], d["cols"], d["ld"]
    if ld < cols:
        _fail("CUSPARSE_STATUS_INVALID_VALUE (leading dimension)")
    flat = _view(d["values"], (rows - 1) * ld + cols if rows else 0, _VALUE_TYPES[compute_type])
    return np.lib.stride_tricks.as_strided(flat, (rows, cols), (ld * flat.itemsize,
                                                                flat.itemsize), writeable=True)


def _spmm_operands(handle, op_a, op_b, alpha, A, B, beta, C, compute_type, alg):
    """``(op(A), op(B), C, alpha, beta)`` of an SpMM call, checked."""
    if ("spmm", op_a) in unsupported:
        _fail("CUSPARSE_STATUS_NOT_SUPPORTED")
    M = _op(_matrix(A, compute_type), op_a)
    Bv, Cv = _dense(B, compute_type), _dense(C, compute_type)
    Bv = Bv if op_b == 0 else Bv.T if op_b == 1 else Bv.conj().T
    if M.shape[1] != Bv.shape[0] or Cv.shape != (M.shape[0], Bv.shape[1]):
        _fail(f"CUSPARSE_STATUS_INVALID_VALUE (op(A) is {M.shape}, op(B) {Bv.shape}, C "
              f"{Cv.shape})")
    return M, Bv, Cv, _scalar(alpha, compute_type), _scalar(beta, compute_type)


def _routine(name, operands):
    """``(bufferSize, compute)`` of a generic product: ``out = alpha op(A) B + beta out``."""
    def buffer_size(*args):
        operands(*args)
        return _BUFFER

    def compute(*args):
        *call, buffer = args
        M, B, out, a, b = operands(*call)
        _check_buffer(buffer)
        out[...] = a * (M @ B) + (b * out if b != 0 else 0)
        calls[name] += 1

    return buffer_size, compute


cusparse.spMV_bufferSize, cusparse.spMV = _routine("spmv", _spmv_operands)
cusparse.spMM_bufferSize, cusparse.spMM = _routine("spmm", _spmm_operands)


def install(monkeypatch):
    """Give the emulated CuPy these bindings and a cuSPARSE handle, and have its ``cupyx``
    report ``spmv`` and ``spmm`` available, until ``monkeypatch`` is undone."""
    packages = {"cupy_backends": None, "cupy_backends.cuda": None,
                "cupy_backends.cuda.libs": None, "cupy_backends.cuda.api": None}
    for name in packages:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "cupy_backends.cuda.libs.cusparse", cusparse)
    monkeypatch.setitem(sys.modules, "cupy_backends.cuda.api.runtime", runtime)
    monkeypatch.setattr(sys.modules["cupy_backends.cuda.libs"], "cusparse", cusparse,
                        raising=False)
    monkeypatch.setattr(sys.modules["cupy_backends.cuda.api"], "runtime", runtime,
                        raising=False)
    monkeypatch.setattr(emulated_cupy, "available", emulated_cupy.available | {"spmv", "spmm"})
    monkeypatch.setattr(emulated_cupy.module.cuda, "device",
                        types.SimpleNamespace(get_cusparse_handle=lambda: 1), raising=False)
    calls.clear()
    unsupported.clear()
    _descriptors.clear()
    return calls
