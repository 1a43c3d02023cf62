"""``torch.autograd.Function``s for the heavy numeric phases.

Each forward calls a kernel on NumPy views of the inputs; each backward is written with these
same Functions, so backward passes are differentiable again (double backward, Hessian-vector
products) and every Function has a ``jvp`` for forward-mode AD.

With ``A`` the CSR matrix whose values are ``data`` on pattern ``P``:

==========  =======================================  ============================================
Function    forward                                  backward (``Ȳ`` the output's gradient)
==========  =======================================  ============================================
SpMM        ``Y = A X``                              ``∂data = sddmm_P(Ȳ, X̄)``, ``∂X = Āᵀ Ȳ``
SpMMT       ``Y = Aᵀ X``                             ``∂data = sddmm_P(X̄, Ȳ)``, ``∂X = Ā Ȳ``
SDDMM       ``v_p = Σ_k G[i,k] X[j,k]`` on ``P``     ``∂G = V̄ X̄``, ``∂X = V̄ᵀ Ḡ``
MaskedDot   ``v_p = Σ_l L[i,l] R[j,l]`` on ``P``     masked dots on the patterns of L and R
==========  =======================================  ============================================

(bars are complex conjugates; torch's convention for complex gradients.)

Each Function has a ``vmap`` rule, so ``torch.func.vmap`` and the transforms built on it
(``jacrev``, ``jacfwd``, ``hessian``, batched gradients) work through them: a batch of dense
operands against fixed values becomes one product with more columns; any other batching runs
the kernel once per batch element.
"""

import numpy as np
import torch

from .. import _backend
from ._pattern import CSRPattern


def _np(t):
    return np.ascontiguousarray(_backend.to_numpy(t))


def _kernels(pattern):
    return _backend.kernels(pattern.indptr)


def _vmap_by_loop(cls, info, in_dims, *args):
    """Batching rule of last resort: apply ``cls`` to each batch element and stack."""
    outs = []
    for b in range(info.batch_size):
        outs.append(cls.apply(*(a if d is None else a.select(d, b)
                                for a, d in zip(args, in_dims))))
    return torch.stack(outs), 0


def _vmap_dense_operand(cls, info, in_dims, data, X, pattern):
    """Batching rule of ``Y = op(A) X``: with fixed values and a batch of ``X``, the batch
    becomes extra columns of one product (``X`` of shape ``(n, *cols, batch)`` flattened to
    ``(n, cols * batch)``); a batch of values runs the product per element."""
    d_data, d_X = in_dims[0], in_dims[1]
    if d_data is not None or d_X is None:
        return _vmap_by_loop(cls, info, in_dims, data, X, pattern)
    Xb = X.movedim(d_X, -1)
    tail = Xb.shape[1:]
    Y = cls.apply(data, Xb.reshape(Xb.shape[0], -1), pattern)
    Y = Y.reshape(Y.shape[0], *tail)
    return Y, Y.ndim - 1


class _Bilinear(torch.autograd.Function):
    """A Function bilinear in its two tensor inputs ``(a, b, pattern)``: the context saves
    both, and the forward-mode derivative is ``f(da, b) + f(a, db)``."""

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b, pattern = inputs
        ctx.save_for_backward(a, b)
        ctx.save_for_forward(a, b)
        ctx.pattern = pattern

    @classmethod
    def jvp(cls, ctx, d_a, d_b, _):
        a, b = ctx.saved_tensors
        out = None
        if d_a is not None:
            out = cls.apply(d_a, b, ctx.pattern)
        if d_b is not None:
            t = cls.apply(a, d_b, ctx.pattern)
            out = t if out is None else out + t
        return out


class SpMM(_Bilinear):
    """``Y = A @ X`` for CSR values ``data`` on ``pattern`` and a dense ``X``, a vector
    (SpMV) or a 2-D matrix."""

    @staticmethod
    def forward(data, X, pattern):
        Y = np.empty((pattern.shape[0], *X.shape[1:]), dtype=_backend.numpy_dtype(data.dtype))
        k = _kernels(pattern)
        product = k.csr_matvec if X.ndim == 1 else k.csr_matvecs
        product(pattern.indptr, pattern.indices, _np(data), _np(X), Y)
        return torch.from_numpy(Y)

    @staticmethod
    def backward(ctx, G):
        data, X = ctx.saved_tensors
        p = ctx.pattern
        g_data = SDDMM.apply(G, X.conj(), p) if ctx.needs_input_grad[0] else None
        g_X = SpMMT.apply(data.conj(), G, p) if ctx.needs_input_grad[1] else None
        return g_data, g_X, None

    @staticmethod
    def vmap(info, in_dims, data, X, pattern):
        return _vmap_dense_operand(SpMM, info, in_dims, data, X, pattern)


class SpMMT(_Bilinear):
    """``Y = Aᵀ @ X`` for CSR values ``data`` on ``pattern`` and a dense ``X``, a vector or
    a 2-D matrix."""

    @staticmethod
    def forward(data, X, pattern):
        Y = np.empty((pattern.shape[1], *X.shape[1:]), dtype=_backend.numpy_dtype(data.dtype))
        k = _kernels(pattern)
        product = k.csr_matvec_transpose if X.ndim == 1 else k.csr_matvecs_transpose
        product(pattern.indptr, pattern.indices, _np(data), _np(X), Y)
        return torch.from_numpy(Y)

    @staticmethod
    def backward(ctx, G):
        data, X = ctx.saved_tensors
        p = ctx.pattern
        g_data = SDDMM.apply(X.conj(), G, p) if ctx.needs_input_grad[0] else None
        g_X = SpMM.apply(data.conj(), G, p) if ctx.needs_input_grad[1] else None
        return g_data, g_X, None

    @staticmethod
    def vmap(info, in_dims, data, X, pattern):
        return _vmap_dense_operand(SpMMT, info, in_dims, data, X, pattern)


class SDDMM(_Bilinear):
    """``v_p = Σ_k G[i,k] X[j,k]`` for every entry ``p = (i, j)`` of ``pattern`` (``G`` and
    ``X`` both vectors, ``v_p = G[i] X[j]``, or both 2-D)."""

    @staticmethod
    def forward(G, X, pattern):
        dtype = _backend.numpy_dtype(torch.promote_types(G.dtype, X.dtype))
        out = np.empty(pattern.nnz, dtype=dtype)
        G, X = (_np(t).astype(dtype, copy=False) for t in (G, X))
        if G.ndim == 1:  # a rank-1 sample: the kernel's one-column case, no copy
            G, X = G[:, None], X[:, None]
        _kernels(pattern).csr_sddmm(pattern.indptr, pattern.indices, G, X, out)
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx, V):
        G, X = ctx.saved_tensors
        p = ctx.pattern
        g_G = SpMM.apply(V, X.conj(), p) if ctx.needs_input_grad[0] else None
        g_X = SpMMT.apply(V, G.conj(), p) if ctx.needs_input_grad[1] else None
        return g_G, g_X, None

    @staticmethod
    def vmap(info, in_dims, G, X, pattern):
        return _vmap_by_loop(SDDMM, info, in_dims, G, X, pattern)


class MaskedDot(torch.autograd.Function):
    """``v_p = Σ_l L[i,l] R[j,l]`` on ``mask`` for CSR ``L`` (values ``l``, pattern
    ``pl``) and CSR ``R`` (values ``r``, pattern ``pr``); the sparse analogue of SDDMM."""

    @staticmethod
    def forward(l, r, mask, pl, pr):
        dtype = _backend.numpy_dtype(torch.promote_types(l.dtype, r.dtype))
        out = np.empty(mask.nnz, dtype=dtype)
        _kernels(mask).csr_masked_dot(
            pl.shape[1], mask.indptr, mask.indices,
            pl.indptr, pl.indices, _np(l).astype(dtype, copy=False),
            pr.indptr, pr.indices, _np(r).astype(dtype, copy=False),
            out,
        )
        return torch.from_numpy(out)

    @staticmethod
    def setup_context(ctx, inputs, output):
        l, r, mask, pl, pr = inputs
        ctx.save_for_backward(l, r)
        ctx.save_for_forward(l, r)
        ctx.patterns = (mask, pl, pr)

    @staticmethod
    def backward(ctx, V):
        l, r = ctx.saved_tensors
        mask, pl, pr = ctx.patterns
        g_l = g_r = None
        # v = (L Rᵀ) on the mask, so  ∂L = (V̄ R̄) on pattern(L)  and  ∂R = (V̄ᵀ L̄) on pattern(R),
        # each again a masked dot: rows of V (resp. Vᵀ) against rows of Rᵀ (resp. Lᵀ).
        if ctx.needs_input_grad[0]:
            prt, perm_r = pr.transpose()
            g_l = MaskedDot.apply(V, r.conj()[perm_r], pl, mask, prt)
        if ctx.needs_input_grad[1]:
            mt, perm_m = mask.transpose()
            plt, perm_l = pl.transpose()
            g_r = MaskedDot.apply(V[perm_m], l.conj()[perm_l], pr, mt, plt)
        return g_l, g_r, None, None, None

    @staticmethod
    def jvp(ctx, d_l, d_r, *_):
        l, r = ctx.saved_tensors
        mask, pl, pr = ctx.patterns
        out = None
        if d_l is not None:
            out = MaskedDot.apply(d_l, r, mask, pl, pr)
        if d_r is not None:
            t = MaskedDot.apply(l, d_r, mask, pl, pr)
            out = t if out is None else out + t
        return out

    @staticmethod
    def vmap(info, in_dims, l, r, mask, pl, pr):
        return _vmap_by_loop(MaskedDot, info, in_dims, l, r, mask, pl, pr)


def spgemm(a, pa, b, pb):
    """Values and pattern of ``C = A @ B`` (structural pattern: no zero is dropped).

    The pattern comes from the SpGEMM kernels run on unit values; the values are the masked
    dot of the rows of ``A`` with the rows of ``Bᵀ`` on that pattern, which makes every
    derivative of ``C`` (of any order) another masked dot.
    """
    if pa.indices.dtype != pb.indices.dtype:
        pa, pb = (CSRPattern(p.indptr.astype(np.int64), p.indices.astype(np.int64), p.shape)
                  for p in (pa, pb))
    k = _kernels(pa)
    n_row, n_col = pa.shape[0], pb.shape[1]
    counts = np.empty(n_row + 1, dtype=np.int64)
    nnz = k.csr_matmat_row_nnz(n_col, pa.indptr, pa.indices, pb.indptr, pb.indices, counts)
    if nnz > np.iinfo(pa.indices.dtype).max:
        pa, pb = (CSRPattern(p.indptr.astype(np.int64), p.indices.astype(np.int64), p.shape)
                  for p in (pa, pb))
    idx_dtype = pa.indices.dtype
    ap, aj, bp, bj = pa.indptr, pa.indices, pb.indptr, pb.indices
    indptr = counts.astype(idx_dtype)
    indices = np.empty(nnz, dtype=idx_dtype)
    k.csr_matmat(n_col, ap, aj, np.ones(pa.nnz), bp, bj, np.ones(pb.nnz),
                 indptr, indices, np.empty(nnz))
    pc = CSRPattern(indptr, indices, (n_row, n_col))
    pbt, perm_b = pb.transpose()
    return MaskedDot.apply(a, b[perm_b], pc, pa, pbt), pc
