"""Differentiable versions of the container operations.

The containers call these when a sparse operand's ``data`` or a dense operand is a
``torch.Tensor``. Every function splits into a symbolic phase (index arrays, computed with the
kernels on plain NumPy arrays) and a numeric phase on the values: a torch gather/scatter where
that is all the op needs (then double backward and forward mode come for free), or one of the
Functions in :mod:`._functions`.

Semantics (see DESIGN.md): gradients live on the stored pattern; the pattern of a result is
*structural* (an entry that happens to compute to zero stays stored, so it keeps receiving
gradients), which is the one deliberate difference from plain mode, where SciPy drops zeros.
"""

import numpy as np
import torch

from .. import _backend
from .._minmax import _union
from ._functions import SpMM, SpMMT, UnionScatter, _wrapped, spgemm
from ._pattern import CSRPattern


def values(x, dtype=None):
    """``x`` (tensor or array) as a tensor, optionally cast to a numpy/torch ``dtype``."""
    return _backend.as_tensor(x, dtype=dtype)


def pattern(A):
    """The :class:`CSRPattern` of a compressed container's (major × minor) CSR form, cached
    on the container for as long as its index arrays are the same objects."""
    cached = A.__dict__.get("_pattern_cache")
    if cached is not None and cached.indptr is A.indptr and cached.indices is A.indices:
        return cached
    p = CSRPattern(A.indptr, A.indices, A._swap(A.shape))
    A.__dict__["_pattern_cache"] = p
    return p


def _promote(a, b):
    da, db = _backend.tensor_device(a), _backend.tensor_device(b)
    if da != db:
        raise ValueError(f"operands on different devices: {da} and {db}")
    dtype = torch.promote_types(a.dtype, b.dtype)
    return a.to(dtype), b.to(dtype)


def matmul_dense(A, X):
    """``A @ X`` for a CSR/CSC container and a dense vector or matrix (tensor or array)."""
    data, X = _promote(values(A.data), values(X))
    fn = SpMM if A.format == "csr" else SpMMT
    return fn.apply(data, X.contiguous(), pattern(A))  # X a vector (SpMV) or a matrix


def matmul_sparse(A, B):
    """``A @ B`` for two sparse containers, in ``A``'s format (structural pattern)."""
    A_csr, B_csr = A.tocsr(), B.tocsr()
    a, b = _promote(values(A_csr.data), values(B_csr.data))
    c, pc = spgemm(a, pattern(A_csr), b, pattern(B_csr))
    C = A_csr._csr_container._from_arrays(c, pc.indices, pc.indptr, pc.shape,
                                          sorted_indices=False)
    return C.asformat(A.format)


def union_binop(A, B, op):
    """Elementwise ``add``/``sub`` on the union of the patterns (one linear merge kernel, then
    two gathers), or ``mul`` on their intersection; ``A`` and ``B`` are canonical and of the
    same compressed format."""
    a, b = _promote(values(A.data), values(B.data))
    indptr, indices, a_pos, b_pos = _union(A, B)
    if op != "mul":
        # every entry of A (of B) lands on one union entry: two scatters into the union's
        # values (index_add: differentiable, its backward a gather)
        xp = A._xp()
        a_at = _backend.index_tensor(xp.flatnonzero(a_pos < A.nnz))
        b_at = _backend.index_tensor(xp.flatnonzero(b_pos < B.nnz))
        sign = -1 if op == "sub" else 1
        if _wrapped(a, b):  # torch.func batches out-of-place operations only
            out = a.new_zeros(len(indices)).index_add(0, a_at, a)
            out = out.index_add(0, b_at, b, alpha=sign)
        else:
            out = UnionScatter.apply(a, b, a_at, b_at, len(indices), sign)
        return A.__class__._from_arrays(out, indices, indptr, A.shape, canonical=True)
    # the intersection: the union's entries stored in both (a compaction of the union, whose
    # row pointers are the running count of kept entries at the union's row starts)
    xp = A._xp()
    keep = (a_pos < A.nnz) & (b_pos < B.nnz)
    kept = xp.concatenate((xp.zeros(1, dtype=np.int64), xp.cumsum(keep, dtype=np.int64)))
    indptr = kept[indptr].astype(indptr.dtype)
    where = xp.flatnonzero(keep)
    out = a[_backend.index_tensor(a_pos[where])] * b[_backend.index_tensor(b_pos[where])]
    return A.__class__._from_arrays(out, indices[where], indptr, A.shape, canonical=True)


def coords(A):
    """``(row, col)`` index arrays of every stored entry of a compressed container."""
    p = pattern(A)
    return A._swap((p.rows(), p.indices))


def to_dense(A, row, col):
    """Dense tensor with the stored values of ``A`` at ``(row, col)`` (duplicates add up)."""
    data = values(A.data)
    out = torch.zeros(A.shape, dtype=data.dtype, device=data.device)
    return out.index_put((_backend.index_tensor(row), _backend.index_tensor(col)), data,
                         accumulate=True)


def axis_sums(data, index, length):
    """``out[index[p]] += data[p]``: sums of the stored values grouped by ``index``."""
    data = values(data)
    return torch.zeros(length, dtype=data.dtype, device=data.device).index_add(
        0, _backend.index_tensor(index), data)


def gather(data, perm):
    """``data[perm]`` (a differentiable gather with a NumPy index array)."""
    return values(data)[_backend.index_tensor(perm)]


def _gather_or_zero(x, pos):
    """``x[pos]`` where ``pos == len(x)`` reads a constant 0 (an entry absent from x)."""
    return torch.cat((x, x.new_zeros(1)))[_backend.index_tensor(pos)]


def union_maximum_minimum(A, B, name):
    """Elementwise ``torch.maximum``/``torch.minimum`` (``name``) of two canonical compressed
    containers of the same format on the union of their patterns; an entry missing from one
    operand takes part as a constant 0. Ties split the gradient as torch does. The pattern is
    structural: a result equal to 0 stays stored."""
    a, b = _promote(values(A.data), values(B.data))
    indptr, indices, a_pos, b_pos = _union(A, B)
    out = getattr(torch, name)(_gather_or_zero(a, a_pos), _gather_or_zero(b, b_pos))
    return A.__class__._from_arrays(out, indices, indptr, A.shape, canonical=True)
