"""Autograd for the spectral functions of ``spgrad.linalg`` (eigenvalues, singular values).

An eigenvalue of a Hermitian ``A`` with unit eigenvector ``v`` is ``λ = vᴴ A v``; a singular
value with unit singular vectors ``u``, ``v`` is ``σ = Re(uᴴ A v)``. Where the value is simple,
its derivative is that bilinear form with the vectors held fixed (first-order perturbation
theory), so the gradient with respect to the stored values is ``Σ_k ḡ_k u_k v_kᴴ`` on the
pattern: one SDDMM, O(nnz · k) work and no dense intermediate.

Both Functions have a ``jvp`` (forward mode); their backward passes are once differentiable
(a second derivative needs the derivatives of the vectors, which are not in the graph).
``vmap`` is not supported: the backward calls compiled kernels.
"""

import torch
from torch.autograd.function import once_differentiable

from ._function import Function
from ._functions import SDDMM, SpMM, SpMMT

__all__ = ["SingularTriplets", "SpectralValues", "SymmetricEigenpairs"]


class SpectralValues(Function):
    """Values ``w_k = U[:, k]ᴴ A V[:, k]`` computed elsewhere (ARPACK, LOBPCG, PROPACK),
    attached to the autograd graph of ``A``.

    Inputs: ``(data, w, U, V, pattern)`` with ``data`` the stored values of ``A`` on
    ``pattern`` (a :class:`CSRPattern`), or a dense ``A`` with ``pattern=None``; ``w`` the
    computed values (a constant), ``U``/``V`` the vectors as columns (constants): for a
    Hermitian eigenvalue ``U = V`` (unit eigenvectors), for a singular value the left and right
    singular vectors (``w`` real: the real part is taken), for an eigenvalue of a general
    matrix the left eigenvectors scaled so that ``U[:, k]ᴴ V[:, k] = 1`` and the right ones
    (``w`` complex).

    The backward is once differentiable: a second derivative would need the derivatives of
    the vectors, which are not part of the graph.
    """

    @staticmethod
    def forward(data, w, U, V, pattern):
        return w.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        data, _w, U, V, pattern = inputs
        ctx.save_for_backward(U, V)
        ctx.save_for_forward(U, V)
        ctx.pattern = pattern
        ctx.data_dtype = data.dtype
        ctx.complex_output = _w.is_complex()

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        U, V = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None, None
        G = U * g.to(U.dtype)
        if ctx.pattern is None:
            grad = G @ V.conj().T
        else:
            grad = SDDMM.apply(G.contiguous(), V.conj().contiguous(), ctx.pattern)
        if not ctx.data_dtype.is_complex and grad.is_complex():
            grad = grad.real
        return grad.to(ctx.data_dtype), None, None, None, None

    @staticmethod
    def jvp(ctx, d_data, *_):
        U, V = ctx.saved_tensors
        if d_data is None:
            return None
        d_data = d_data.to(torch.promote_types(d_data.dtype, V.dtype))
        if ctx.pattern is None:
            dAV = d_data @ V
        else:
            dAV = SpMM.apply(d_data, V.to(d_data.dtype).contiguous(), ctx.pattern)
        dw = (U.conj() * dAV).sum(0)
        return dw.real if dw.is_complex() and not ctx.complex_output else dw


class SymmetricEigenpairs(Function):
    """Eigenpairs ``(w, V)`` of a real symmetric ``A`` computed elsewhere (ARPACK), attached
    to the autograd graph of ``A``'s values, eigenvectors included.

    Inputs: ``(data, w, V, pattern, solve)`` with ``data``/``pattern`` as in
    :class:`SpectralValues` and ``solve(k, r)`` returning ``x = (A - w_k I)⁺ r`` for ``r ⊥ v_k``
    (the pseudo-inverse on the complement of ``v_k``, which exists when ``w_k`` is simple).

    With ``dv_k = -(A - w_k I)⁺ dA v_k``, the gradient of the stored values is
    ``Σ_k (ḡw_k v_k - x_k) v_kᵀ`` on the pattern with ``x_k = (A - w_k I)⁺ (I - v_k v_kᵀ) V̄_k``:
    one SDDMM plus one sparse solve per eigenvector that receives a gradient. Once
    differentiable.
    """

    @staticmethod
    def forward(data, w, V, pattern, solve):
        return w.clone(), V.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        _data, _w, V, pattern, solve = inputs
        ctx.save_for_backward(V)
        ctx.save_for_forward(V)
        ctx.pattern = pattern
        ctx.solve = solve

    @staticmethod
    @once_differentiable
    def backward(ctx, g_w, g_V):
        (V,) = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None, None
        G = torch.zeros_like(V)
        if g_w is not None:
            G = G + V * g_w
        if g_V is not None:
            for k in range(V.shape[1]):
                gk = g_V[:, k]
                if not bool(gk.any()):
                    continue
                vk = V[:, k]
                r = gk - vk * (vk @ gk)
                G[:, k] -= ctx.solve(k, r)
        if ctx.pattern is None:
            grad = G @ V.T
        else:
            grad = SDDMM.apply(G.contiguous(), V.contiguous(), ctx.pattern)
        return grad, None, None, None, None

    @staticmethod
    def jvp(ctx, d_data, *_):
        (V,) = ctx.saved_tensors
        if d_data is None:
            return None, None
        d_data = d_data.to(V.dtype)
        if ctx.pattern is None:
            dAV = d_data @ V
        else:
            dAV = SpMM.apply(d_data, V.contiguous(), ctx.pattern)
        d_w = (V * dAV).sum(0)
        d_V = torch.stack(
            [-ctx.solve(k, dAV[:, k] - V[:, k] * d_w[k]) for k in range(V.shape[1])], 1
        ) if V.shape[1] else torch.zeros_like(V)
        return d_w, d_V


class SingularTriplets(Function):
    """Singular triplets ``(s, U, V)`` of a real ``A`` (``m × n``) computed elsewhere (ARPACK,
    LOBPCG, PROPACK), singular vectors included in the graph (``V`` holds the right vectors
    as columns).

    ``(σ_k, z_k = [u_k; v_k] / √2)`` is an eigenpair of the symmetric ``H = [[0, A], [Aᵀ, 0]]``,
    so the eigenvector rule of :class:`SymmetricEigenpairs` applies to ``H`` (``solve(k, r)``
    returns ``(H - σ_k I)⁺ r`` for ``r ⊥ z_k``), and the gradient of an entry ``A_ij`` collects
    those of ``H_{i, m+j}`` and ``H_{m+j, i}``: two SDDMMs on ``A``'s pattern. Valid for
    simple, nonzero singular values. Once differentiable.
    """

    @staticmethod
    def forward(data, s, U, V, pattern, solve):
        return s.clone(), U.clone(), V.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        _data, _s, U, V, pattern, solve = inputs
        ctx.save_for_backward(U, V)
        ctx.save_for_forward(U, V)
        ctx.pattern = pattern
        ctx.solve = solve

    @staticmethod
    def _halves(U, V):
        scale = 2.0 ** -0.5
        return U * scale, V * scale

    @staticmethod
    @once_differentiable
    def backward(ctx, g_s, g_U, g_V):
        U, V = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return (None,) * 6
        Zt, Zb = SingularTriplets._halves(U, V)
        Gt, Gb = torch.zeros_like(Zt), torch.zeros_like(Zb)
        if g_s is not None:
            Gt, Gb = Gt + Zt * g_s, Gb + Zb * g_s
        m = U.shape[0]
        if g_U is not None or g_V is not None:
            g_U = torch.zeros_like(U) if g_U is None else g_U
            g_V = torch.zeros_like(V) if g_V is None else g_V
            for k in range(U.shape[1]):
                r = torch.cat((g_U[:, k], g_V[:, k])) * 2.0 ** 0.5  # gradient of z_k
                if not bool(r.any()):
                    continue
                z = torch.cat((Zt[:, k], Zb[:, k]))
                x = ctx.solve(k, r - z * (z @ r))
                Gt[:, k] -= x[:m]
                Gb[:, k] -= x[m:]
        if ctx.pattern is None:
            grad = Gt @ Zb.T + Zt @ Gb.T
        else:
            p = ctx.pattern
            grad = SDDMM.apply(Gt.contiguous(), Zb.contiguous(), p) + SDDMM.apply(
                Zt.contiguous(), Gb.contiguous(), p)
        return grad, None, None, None, None, None

    @staticmethod
    def jvp(ctx, d_data, *_):
        U, V = ctx.saved_tensors
        if d_data is None:
            return None, None, None
        d_data = d_data.to(U.dtype)
        Zt, Zb = SingularTriplets._halves(U, V)
        if ctx.pattern is None:
            top, bottom = d_data @ Zb, d_data.T @ Zt
        else:
            top = SpMM.apply(d_data, Zb.contiguous(), ctx.pattern)
            bottom = SpMMT.apply(d_data, Zt.contiguous(), ctx.pattern)
        d_s = 2 * (Zt * top).sum(0)
        m = U.shape[0]
        d_Z = []
        for k in range(U.shape[1]):
            dHz = torch.cat((top[:, k], bottom[:, k]))
            z = torch.cat((Zt[:, k], Zb[:, k]))
            d_Z.append(-ctx.solve(k, dHz - z * d_s[k]))
        if not d_Z:
            return d_s, torch.zeros_like(U), torch.zeros_like(V)
        d_Z = torch.stack(d_Z, 1) * 2.0 ** 0.5
        return d_s, d_Z[:m], d_Z[m:]
