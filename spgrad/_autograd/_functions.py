"""``torch.autograd.Function``s for the heavy numeric phases.

Each forward calls a kernel on views of the inputs (NumPy views of CPU tensors, CuPy views of
CUDA tensors through DLPack, on torch's current stream); each backward is written with these
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
SpGEMM      ``C = A B`` on its structural pattern    ``∂A = (Ȳ B̄ᵀ)`` on P, ``∂B = (Āᵀ Ȳ)`` on B's
==========  =======================================  ============================================

(bars are complex conjugates; torch's convention for complex gradients.) A first-order backward
of SpMV (a vector ``X``) or SpGEMM that wants both gradients runs as one fused kernel pass over
``A``, and SpMM's ``Āᵀ Ȳ`` runs as a gather over the cached transposed pattern (on one CPU
thread, for a pattern whose columns stray far from the diagonal, as a scatter over ``A``); with
``create_graph=True`` (or inside a ``torch.func`` transform) it runs as the differentiable
Functions of the table instead.

Each Function has a ``vmap`` rule, so ``torch.func.vmap`` and the transforms built on it
(``jacrev``, ``jacfwd``, ``hessian``, batched gradients) work through them: a batch of dense
operands against fixed values becomes one product with more columns; any other batching runs
the kernel once per batch element.
"""

import numpy as np
import torch

from .. import _backend
from . import _buffers
from ._function import Function
from ._pattern import CSRPattern


def _xp(pattern):
    """NumPy, or CuPy for a pattern on a GPU: the array module of the kernels' arrays."""
    return _backend.array_module(pattern.indptr)


def _empty(pattern, shape, dtype):
    """An uninitialised output array beside ``pattern``'s arrays: on the CPU from the cache of
    large buffers (:mod:`._buffers`, which spares a training loop fresh pages at every pass),
    on the GPU from CuPy's memory pool."""
    xp = _xp(pattern)
    if xp is np:
        return _buffers.empty(shape, dtype)
    return xp.empty(shape, dtype=dtype)


def _arr(t, pattern):
    """Tensor ``t``'s values as a contiguous kernel array beside ``pattern`` (a NumPy view of
    a CPU tensor, a CuPy view of a CUDA tensor)."""
    return _xp(pattern).ascontiguousarray(_backend.kernel_array(t, pattern.indptr))


def _kernels(pattern):
    return _backend.kernels(pattern.indptr)


def _plain_backward(*tensors):
    """Whether a backward may run kernels on plain arrays outside autograd (fused kernels,
    transposed gathers): no graph is being built of the backward itself (``create_graph=True``
    runs the differentiable Functions instead) and no tensor is wrapped by a ``torch.func``
    transform."""
    return not torch.is_grad_enabled() and not _wrapped(*tensors)


def _wrapped(*tensors):
    """Whether any tensor is wrapped by a ``torch.func`` transform (no NumPy view exists)."""
    return any(torch._C._functorch.is_functorch_wrapped_tensor(t) for t in tensors)


def _conj(t, pattern):
    """Kernel-array copy of ``conj(t)`` for complex ``t``; a view of a real one."""
    a = _arr(t, pattern)
    return _xp(pattern).conj(a) if a.dtype.kind == "c" else a


def _bilinear_jvp(cls, ctx, d_a, d_b, *rest):
    """Forward-mode derivative ``f(da, b) + f(a, db)`` of a Function ``cls`` bilinear in its
    first two inputs (saved for forward), the remaining inputs ``rest`` fixed."""
    a, b = ctx.saved_tensors
    out = None
    if d_a is not None:
        out = cls.apply(d_a, b, *rest)
    if d_b is not None:
        t = cls.apply(a, d_b, *rest)
        out = t if out is None else out + t
    return out


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


def _reused(like, n):
    """An uninitialised vector of ``n`` values of ``like``'s dtype and device: on the CPU in
    the memory of the large-buffer cache (:mod:`._buffers`), which a training loop reuses
    instead of having the operating system zero fresh pages at every pass."""
    if like.device.type != "cpu":
        return like.new_empty(n)
    return torch.from_numpy(_buffers.empty((n,), _backend.numpy_dtype(like.dtype)))


class UnionScatter(Function):
    """The values of ``A ± B`` on the union of the two patterns: ``out[a_at] += a`` and
    ``out[b_at] += sign b`` (every entry of A, of B, lands on one union entry), in a union
    zeroed in place. The backward gathers ``g`` at those positions, into reused memory for a
    first-order backward on the CPU: the gathers of a 2-D Poisson sum (n = 10⁶) otherwise
    take 80 MB of fresh pages, 21 000 page faults, at every backward. Not for ``torch.func``
    transforms (which batch out-of-place operations: the caller scatters with ``index_add``
    there)."""

    @staticmethod
    def forward(a, b, a_at, b_at, n, sign):
        out = _reused(a, n).zero_()
        out.index_add_(0, a_at, a)
        out.index_add_(0, b_at, b, alpha=sign)
        return out

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, _, a_at, b_at, n, sign = inputs
        ctx.at, ctx.n, ctx.sign = (a_at, b_at), n, sign

    @staticmethod
    def backward(ctx, g):
        plain = _plain_backward(g)
        grads = []
        for k, at in enumerate(ctx.at):
            if not ctx.needs_input_grad[k]:
                grads.append(None)
            elif plain:
                grads.append(torch.index_select(g, 0, at, out=_reused(g, len(at))))
            else:  # create_graph: differentiable gathers
                grads.append(g[at])
        if grads[1] is not None and ctx.sign != 1:
            grads[1] = grads[1].neg_() if plain else -grads[1]
        return grads[0], grads[1], None, None, None, None

    @staticmethod
    def jvp(ctx, d_a, d_b, *_):
        a_at, b_at = ctx.at
        like = d_a if d_a is not None else d_b
        d_a = d_a if d_a is not None else like.new_zeros(len(a_at))
        d_b = d_b if d_b is not None else like.new_zeros(len(b_at))
        return UnionScatter.apply(d_a, d_b, a_at, b_at, ctx.n, ctx.sign)


class _Bilinear(Function):
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
        return _bilinear_jvp(cls, ctx, d_a, d_b, ctx.pattern)


def _dense_product(data, X, pattern, n_out, vector_kernel, matrix_kernel):
    """``n_out`` rows of a product of the values on ``pattern`` with a vector or matrix
    ``X``, by the named kernel (one for vectors, one for matrices)."""
    with _backend.torch_stream(data):
        Y = _empty(pattern, (n_out, *X.shape[1:]), _backend.numpy_dtype(data.dtype))
        _backend.dense_product(vector_kernel if X.ndim == 1 else matrix_kernel, pattern.indptr,
                               pattern.indices, _arr(data, pattern), _arr(X, pattern), Y,
                               pattern.canonical)
    return _backend.tensor_of(Y)


class SpMM(_Bilinear):
    """``Y = A @ X`` for CSR values ``data`` on ``pattern`` and a dense ``X``, a vector
    (SpMV) or a 2-D matrix."""

    @staticmethod
    def forward(data, X, pattern):
        return _dense_product(data, X, pattern, pattern.shape[0], "csr_matvec", "csr_matvecs")

    @staticmethod
    def backward(ctx, G):
        data, X = ctx.saved_tensors
        p = ctx.pattern
        plain = _plain_backward(data, X, G)
        if plain and all(ctx.needs_input_grad[:2]):
            if X.ndim == 1:
                return (*_spmv_backward(data, X, G, p), None)
            if (_xp(p) is np and data.dtype == X.dtype == G.dtype
                    and p.column_spread() <= _FUSED_SPREAD):
                return (*_spmm_backward(data, X, G, p), None)
        g_data = SDDMM.apply(G, X.conj(), p) if ctx.needs_input_grad[0] else None
        if not ctx.needs_input_grad[1]:
            g_X = None
        elif plain and X.ndim == 2:
            g_X = _transposed_product(data, G, p)
        else:
            g_X = SpMMT.apply(data.conj(), G, p)
        return g_data, g_X, None

    @staticmethod
    def vmap(info, in_dims, data, X, pattern):
        return _vmap_dense_operand(SpMM, info, in_dims, data, X, pattern)


def _transposed_product(data, G, pattern):
    """``Āᵀ G`` for a matrix ``G``: as a gather over the cached transposed pattern (each output
    row summed in registers and written once), or, on one CPU thread for a pattern whose
    columns stray far from the diagonal (:func:`_scatters_transposed`), as a scatter over
    ``A``'s rows (``csr_matvecs_transpose``)."""
    dtype = _backend.numpy_dtype(data.dtype)
    with _backend.torch_stream(data):
        G = _arr(G, pattern).astype(dtype, copy=False)
        out = _empty(pattern, (pattern.shape[1], G.shape[1]), dtype)
        if _scatters_transposed(pattern):
            _kernels(pattern).csr_matvecs_transpose(pattern.indptr, pattern.indices,
                                                    _conj(data, pattern), G, out)
        else:
            pt, _ = pattern.transpose()
            _kernels(pattern).csr_matvecs_permuted(pt.indptr, pt.indices,
                                                   pattern.transpose_perm(),
                                                   _conj(data, pattern), G, out)
    return _backend.tensor_of(out)


def _scatters_transposed(pattern):
    """Whether :func:`_transposed_product` scatters: on one CPU thread, for a pattern whose
    column spread exceeds ``_FUSED_SPREAD``. The gather reads every value through the
    transpose map, at random; the scatter reads values and indices in order and updates
    output rows at random, prefetched. Kernel times, 16 columns, 10 entries per row at random
    columns, one thread: n = 10⁵ gather 26 ms, scatter 11 ms (SpMM forward 7 ms); n = 10⁶
    390 against 398 ms; 3 columns at n = 10⁵ 5.9 against 2.8 ms. On two threads the gather
    wins (the scatter splits the columns between the threads, each sweeping every entry):
    n = 10⁶ 242 against 509 ms."""
    return (_xp(pattern) is np and _kernels(pattern).get_num_threads() == 1
            and pattern.column_spread() > _FUSED_SPREAD)


# A CPU SpMV or SpMM backward whose columns stray further than this from the diagonal runs as
# two sweeps (the SDDMM, then Āᵀ G) instead of the fused kernel: a fused sweep then keeps two
# sets of scattered rows in the cache where each sweep keeps one. Kernel times on 10 entries
# per row at random columns, one thread: SpMV n = 10⁵ 1.95 → 1.79 ms, n = 10⁶ 72 → 63 ms; SpMM
# (16 columns) n = 10⁵ 17.3 → 15.3 ms. The 2-D Poisson matrix (n = 10⁶, spread 1000) is
# faster fused: SpMV 5.6 against 7.1 ms, SpMM 42 against 48 ms.
_FUSED_SPREAD = 16384


def _spmv_backward(data, x, g, pattern):
    """``(sddmm_P(g, x̄), Āᵀ g)``: by the fused kernel (one pass over the entries of ``A``)
    on a GPU and for patterns near the diagonal, else by two sweeps."""
    dtype = _backend.numpy_dtype(data.dtype)
    k, ip, ix = _kernels(pattern), pattern.indptr, pattern.indices
    with _backend.torch_stream(data):
        g_data = _empty(pattern, (pattern.nnz,), dtype)
        g_x = _empty(pattern, x.shape, dtype)
        a = _conj(data, pattern)
        x = _conj(x, pattern).astype(dtype, copy=False)
        g = _arr(g, pattern).astype(dtype, copy=False)
        if _xp(pattern) is not np or pattern.column_spread() <= _FUSED_SPREAD:
            k.csr_spmv_backward(ip, ix, a, x, g, g_data, g_x)
        else:
            k.csr_sddmm(ip, ix, g[:, None], x[:, None], g_data)
            k.csr_matvec_transpose(ip, ix, a, g, g_x)
    return _backend.tensor_of(g_data), _backend.tensor_of(g_x)


def _spmm_backward(data, X, G, pattern):
    """``(sddmm_P(G, X̄), Āᵀ G)`` for a matrix ``X`` by a fused CPU kernel: on one thread one
    sweep over the entries of ``A`` scattering into ``Āᵀ G`` (rows of ``X`` and of its gradient
    prefetched unless the pattern is a stencil's, which the hardware prefetchers follow), on
    more threads blocks of rows of the SDDMM and of the gather over the cached transposed
    pattern, alternating."""
    dtype = _backend.numpy_dtype(data.dtype)
    kernels = _kernels(pattern)
    g_data = _empty(pattern, (pattern.nnz,), dtype)
    g_X = _empty(pattern, (pattern.shape[1], G.shape[1]), dtype)
    if kernels.get_num_threads() == 1:
        kernels.csr_spmm_backward_scatter(
            pattern.indptr, pattern.indices, _conj(data, pattern), _conj(X, pattern),
            _arr(G, pattern), g_data, g_X, not pattern.is_stencil())
    else:
        pt, _ = pattern.transpose()
        kernels.csr_spmm_backward(
            pattern.indptr, pattern.indices, pt.indptr, pt.indices, pattern.transpose_perm(),
            _conj(data, pattern), _conj(X, pattern), _arr(G, pattern), g_data, g_X)
    return _backend.tensor_of(g_data), _backend.tensor_of(g_X)


class SpMMT(_Bilinear):
    """``Y = Aᵀ @ X`` for CSR values ``data`` on ``pattern`` and a dense ``X``, a vector or
    a 2-D matrix."""

    @staticmethod
    def forward(data, X, pattern):
        return _dense_product(data, X, pattern, pattern.shape[1], "csr_matvec_transpose",
                              "csr_matvecs_transpose")

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
        with _backend.torch_stream(G):
            out = _empty(pattern, (pattern.nnz,), dtype)
            G, X = (_arr(t, pattern).astype(dtype, copy=False) for t in (G, X))
            if G.ndim == 1:  # a rank-1 sample: the kernel's one-column case, no copy
                G, X = G[:, None], X[:, None]
            _kernels(pattern).csr_sddmm(pattern.indptr, pattern.indices, G, X, out)
        return _backend.tensor_of(out)

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


class MaskedDot(Function):
    """``v_p = Σ_l L[i,l] R[j,l]`` on ``mask`` for CSR ``L`` (values ``l``, pattern
    ``pl``) and CSR ``R`` (values ``r``, pattern ``pr``); the sparse analogue of SDDMM."""

    @staticmethod
    def forward(l, r, mask, pl, pr):
        dtype = _backend.numpy_dtype(torch.promote_types(l.dtype, r.dtype))
        with _backend.torch_stream(l):
            out = _xp(mask).empty(mask.nnz, dtype=dtype)
            _kernels(mask).csr_masked_dot(
                pl.shape[1], mask.indptr, mask.indices,
                pl.indptr, pl.indices, _arr(l, mask).astype(dtype, copy=False),
                pr.indptr, pr.indices, _arr(r, mask).astype(dtype, copy=False),
                out,
            )
        return _backend.tensor_of(out)

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
        return _bilinear_jvp(MaskedDot, ctx, d_l, d_r, *ctx.patterns)

    @staticmethod
    def vmap(info, in_dims, l, r, mask, pl, pr):
        return _vmap_by_loop(MaskedDot, info, in_dims, l, r, mask, pl, pr)


class SpGEMM(Function):
    """Values of ``C = A @ B`` on ``C``'s structural pattern ``pc`` for CSR ``A`` (values
    ``a``, pattern ``pa``) and ``B`` (``b``, ``pb``); ``pc`` comes from :func:`spgemm`.

    The first-order backward is one fused kernel pass (both masked products ``(Ḡ B̄ᵀ)`` on
    ``pa`` and ``(Āᵀ G)`` on ``pb``); with ``create_graph=True`` it is two :class:`MaskedDot`s,
    so derivatives of every order are masked dots again.
    """

    @staticmethod
    def forward(a, b, pc, pa, pb, c=None):
        if c is None:  # values for a pattern built earlier (jvp, double backward)
            xp = _xp(pa)
            with _backend.torch_stream(a):
                c = _empty(pa, (pc.nnz,), _backend.numpy_dtype(a.dtype))
                _kernels(pa).csr_matmat(pb.shape[1], pa.indptr, pa.indices, _arr(a, pa),
                                        pb.indptr, pb.indices, _arr(b, pa), pc.indptr,
                                        xp.empty_like(pc.indices), c)
        return _backend.tensor_of(c)

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b, pc, pa, pb, _ = inputs
        ctx.save_for_backward(a, b)
        ctx.save_for_forward(a, b)
        ctx.patterns = (pc, pa, pb)

    @staticmethod
    def backward(ctx, V):
        a, b = ctx.saved_tensors
        pc, pa, pb = ctx.patterns
        if _plain_backward(a, b, V) and all(ctx.needs_input_grad[:2]):
            with _backend.torch_stream(a):
                g_a = _empty(pa, (pa.nnz,), _backend.numpy_dtype(a.dtype))
                g_b = _empty(pa, (pb.nnz,), g_a.dtype)
                _kernels(pa).csr_spgemm_backward(
                    pb.shape[1], pa.indptr, pa.indices, _conj(a, pa), pb.indptr, pb.indices,
                    _conj(b, pa), pc.indptr, pc.indices,
                    _arr(V, pa).astype(g_a.dtype, copy=False), g_a, g_b)
            return (_backend.tensor_of(g_a), _backend.tensor_of(g_b), None, None, None, None)
        g_a = g_b = None
        # ∂A = (V B̄ᵀ) on pa: rows of V against rows of B;  ∂B = (Āᵀ V) on pb: rows of Āᵀ
        # against rows of Vᵀ.
        if ctx.needs_input_grad[0]:
            g_a = MaskedDot.apply(V, b.conj(), pa, pc, pb)
        if ctx.needs_input_grad[1]:
            pat, perm_a = pa.transpose()
            pct, perm_c = pc.transpose()
            g_b = MaskedDot.apply(a.conj()[perm_a], V[perm_c], pb, pat, pct)
        return g_a, g_b, None, None, None, None

    @staticmethod
    def jvp(ctx, d_a, d_b, *_):
        return _bilinear_jvp(SpGEMM, ctx, d_a, d_b, *ctx.patterns)

    @staticmethod
    def vmap(info, in_dims, a, b, pc, pa, pb, c=None):
        return _vmap_by_loop(SpGEMM, info, in_dims[:5], a, b, pc, pa, pb)


def spgemm(a, pa, b, pb):
    """Values and pattern of ``C = A @ B`` (structural pattern: no zero is dropped).

    One symbolic pass counts each row; one numeric SpGEMM pass then fills the pattern and the
    values together (the kernel keeps products that cancel). ``a`` and ``b`` share a dtype.
    """
    if pa.indices.dtype != pb.indices.dtype:
        pa, pb = (CSRPattern(p.indptr.astype(np.int64), p.indices.astype(np.int64), p.shape)
                  for p in (pa, pb))
    k, xp = _kernels(pa), _xp(pa)
    n_row, n_col = pa.shape[0], pb.shape[1]
    counts = xp.empty(n_row + 1, dtype=np.int64)
    with _backend.torch_stream(a):
        nnz = k.csr_matmat_row_nnz(n_col, pa.indptr, pa.indices, pb.indptr, pb.indices, counts)
        if nnz > np.iinfo(pa.indices.dtype).max:
            pa, pb = (CSRPattern(p.indptr.astype(np.int64), p.indices.astype(np.int64), p.shape)
                      for p in (pa, pb))
        idx_dtype = pa.indices.dtype
        indptr = counts.astype(idx_dtype)
        indices = xp.empty(nnz, dtype=idx_dtype)
        batched = _wrapped(a, b)
        if batched:  # values wrapped by a torch.func transform: the pattern alone here
            c, a_k, b_k = xp.empty(nnz), xp.ones(pa.nnz), xp.ones(pb.nnz)
        else:
            c = _empty(pa, (nnz,), _backend.numpy_dtype(a.dtype))
            a_k, b_k = _arr(a, pa), _arr(b, pa)
        k.csr_matmat(n_col, pa.indptr, pa.indices, a_k, pb.indptr, pb.indices, b_k,
                     indptr, indices, c)
    pc = CSRPattern(indptr, indices, (n_row, n_col))
    return SpGEMM.apply(a, b, pc, pa, pb, None if batched else c), pc
