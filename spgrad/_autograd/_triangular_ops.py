"""Differentiable sparse triangular solve.

With ``M`` the CSR matrix of values ``v`` on pattern ``P`` and ``T`` its lower or upper
triangle (diagonal included, or replaced by ones with ``unit_diagonal``), the Function
:class:`TriangularSolve` computes ``X = T⁻¹ B`` or, with ``transpose``, ``X = T⁻ᵀ B``, on
spgrad's substitution kernel (on the GPU: cuSPARSE's solve of a copy of the triangle). A CSC
matrix is the CSR matrix of its transpose, so its solve is the transposed solve on the same
arrays.

Backward (``Ḡ`` the gradient of ``X``; bars are complex conjugates, torch's convention):

- ``∂B = Λ`` with ``Λ = T⁻ᴴ Ḡ`` (resp. ``T⁻¯ Ḡ``): the same Function with the other
  ``transpose`` and conjugated values, so the backward is differentiable again;
- ``∂v = -Λ X̄ᵀ`` on ``P`` (resp. ``-X̄ Λᵀ``), an SDDMM, multiplied by the mask of the entries
  that belong to ``T`` (entries outside the triangle, and the diagonal with
  ``unit_diagonal``, do not take part in the solve and get zero).

Forward mode: ``dX = T⁻¹ (dB - dT X)`` with ``dT X`` an SpMM on the masked tangent values.
``vmap`` batches right-hand sides into the columns of one solve (values of ``T``: one solve per
batch element).
"""

import numpy as np
import torch

from .. import _backend
from ..linalg._triangular import _SINGULAR, check_operands, kernel_arrays, result_dtype
from ._function import Function
from ._functions import SDDMM, SpMM, SpMMT, _vmap_dense_operand
from ._ops import pattern as _pattern_of
from ._pattern import CSRPattern

__all__ = []


class TriangularSystem:
    """What a solve needs besides the numbers: the pattern, which triangle, unit diagonal or
    not, and whether the kernel solves with the transpose. Shared by a solve and its
    backward (which flips ``transpose``); caches the mask of the entries in the triangle."""

    __slots__ = (
        "_flipped",
        "_mask",
        "lower",
        "n_outside",
        "pattern",
        "transpose",
        "unit_diagonal",
    )

    def __init__(self, pattern, lower, unit_diagonal, transpose):
        self.pattern = pattern
        self.lower = bool(lower)
        self.unit_diagonal = bool(unit_diagonal)
        self.transpose = bool(transpose)
        self._mask = None
        self._flipped = None
        self.n_outside = None  # entries outside the triangle, counted by the first solve

    def flipped(self):
        """The same triangle solved with the other ``transpose`` (the adjoint solve)."""
        if self._flipped is None:
            f = TriangularSystem(self.pattern, self.lower, self.unit_diagonal, not self.transpose)
            f._mask, f._flipped, f.n_outside = self._mask, self, self.n_outside
            self._flipped = f
        return self._flipped

    def mask(self):
        """Boolean array over the stored entries: True where the entry is part of the
        triangle the solve uses; ``None`` when every entry is (the common case)."""
        if self._mask is None and self.n_outside == 0 and not self.unit_diagonal:
            self._mask = (None,)  # the kernel saw no entry outside the triangle: skip a pass
        if self._mask is None:
            p = self.pattern
            rows, cols = p.rows()[: p.nnz], p.indices[: p.nnz]
            used = cols < rows if self.lower else cols > rows
            if not self.unit_diagonal:
                used |= cols == rows
            self._mask = (used,) if not used.all() else (None,)
            if self._flipped is not None:
                self._flipped._mask = self._mask
        return self._mask[0]

    def masked(self, values):
        """``values`` with the entries outside the triangle set to zero (differentiably)."""
        m = self.mask()
        if m is None:
            return values
        # (as uint8 through DLPack, which not every CuPy version exports for bool)
        return values * _backend.tensor_of(m.astype(np.uint8)).to(torch.bool)


def _solve_on_cpu(values, B, system):
    """``(X, n_outside)``: the solve by spgrad's substitution kernel, which also counts the
    stored entries outside the triangle (they take no part)."""
    p = system.pattern
    X = np.array(_backend.to_numpy(B), dtype=_backend.numpy_dtype(B.dtype), order="C", copy=True)
    data = np.ascontiguousarray(_backend.to_numpy(values))
    singular_row, n_outside = _backend.kernels(p.indptr).csr_spsolve_triangular(
        p.indptr, p.indices, data, X, system.lower, system.unit_diagonal, system.transpose
    )
    if singular_row >= 0:
        raise np.linalg.LinAlgError(_SINGULAR)
    return torch.from_numpy(X), n_outside


def _solve_on_device(values, B, system):
    """``(X, n_outside)`` on the GPU: cuSPARSE (through ``spgrad.linalg``'s device solve,
    with its checks) on a copy of the triangle that the solve reads; the entries outside it
    take no part, as in the CPU kernel. A transposed solve is the solve with the triangle of
    the transposed pattern."""
    from .._construct import tril, triu
    from .._csr import csr_array
    from ..linalg._triangular import _solve_device

    p = system.pattern
    data = _backend.kernel_array(values, p.indptr)
    indptr, indices, shape, lower = p.indptr, p.indices, p.shape, system.lower
    if system.transpose:
        pt, _ = p.transpose()
        data = data[p.transpose_perm()]
        indptr, indices, shape, lower = pt.indptr, pt.indices, pt.shape, not lower
    S = csr_array._from_arrays(data, indices, indptr, shape, sorted_indices=False)
    T = (tril if lower else triu)(S, format="csr")
    X = _solve_device(T, _backend.kernel_array(B, p.indptr), lower, system.unit_diagonal)
    return _backend.array_module(X).ascontiguousarray(X), S.nnz - T.nnz


class TriangularSolve(Function):
    """``X = T⁻¹ B`` (``T⁻ᵀ B`` when ``system.transpose``) for a dense 2-D ``B``; ``values``
    and ``B`` have the same inexact dtype."""

    @staticmethod
    def forward(values, B, system):
        p = system.pattern
        if _backend.is_device_array(p.indptr):
            with _backend.torch_stream(values):
                X, n_outside = _solve_on_device(values, B, system)
            X = _backend.tensor_of(X)
        else:
            X, n_outside = _solve_on_cpu(values, B, system)
        # A fact about the pattern, not the values: recorded so that the backward can skip
        # building the mask of used entries when there is nothing to mask.
        system.n_outside = n_outside
        if system._flipped is not None:
            system._flipped.n_outside = n_outside
        return X

    @staticmethod
    def setup_context(ctx, inputs, output):
        values, _, system = inputs
        ctx.save_for_backward(values, output)
        ctx.save_for_forward(values, output)
        ctx.system = system

    @staticmethod
    def backward(ctx, G):
        values, X = ctx.saved_tensors
        s = ctx.system
        lam = TriangularSolve.apply(values.conj(), G, s.flipped())
        g_values = None
        if ctx.needs_input_grad[0]:
            # T X = B: ∂T = -Λ X̄ᵀ.  Tᵀ X = B: ∂(Tᵀ) = -Λ X̄ᵀ, so ∂T = -X̄ Λᵀ.
            if s.transpose:
                g_values = -SDDMM.apply(X.conj(), lam, s.pattern)
            else:
                g_values = -SDDMM.apply(lam, X.conj(), s.pattern)
            g_values = s.masked(g_values)
        g_B = lam if ctx.needs_input_grad[1] else None
        return g_values, g_B, None

    @staticmethod
    def jvp(ctx, d_values, d_B, _):
        values, X = ctx.saved_tensors
        s = ctx.system
        rhs = d_B
        if d_values is not None:
            dv = s.masked(d_values)
            product = SpMMT if s.transpose else SpMM
            dTX = product.apply(dv, X, s.pattern)
            rhs = -dTX if rhs is None else rhs - dTX
        return TriangularSolve.apply(values, rhs, s)

    @staticmethod
    def vmap(info, in_dims, values, B, system):
        """A batch of right-hand sides is one solve with more columns; a batch of values,
        one solve per element."""
        return _vmap_dense_operand(TriangularSolve, info, in_dims, values, B, system)


def spsolve_triangular(A, b, lower, unit_diagonal):
    """Differentiable ``spsolve_triangular`` for a CSR/CSC container ``A`` (spgrad or SciPy)
    and a dense ``b``; ``A.data`` or ``b`` is a torch tensor."""
    values = _backend.as_tensor(A.data)
    on_device = _backend.is_tensor(b) or _backend.is_device_array(b)
    B = _backend.as_tensor(b if on_device else np.asanyarray(b))
    _backend.check_same_device(A, B)
    n = check_operands(A, B, unit_diagonal)
    dtype = _backend.torch_dtype(
        result_dtype(
            _backend.numpy_dtype(values.dtype), _backend.numpy_dtype(B.dtype), unit_diagonal
        )
    )
    if dtype not in (torch.float32, torch.float64, torch.complex64, torch.complex128):
        raise TypeError(
            "spsolve_triangular's differentiable mode needs float32, float64, complex64 or "
            f"complex128 values; A and b promote to {dtype}"
        )
    values, B = values.to(dtype), B.to(dtype)
    indptr, indices, transpose = kernel_arrays(A)
    if hasattr(A, "_swap") and indptr is A.indptr:
        pattern = _pattern_of(A)  # cached on the container (its transpose map too)
    else:
        pattern = CSRPattern(indptr, indices, A.shape[::-1] if transpose else A.shape)
    system = TriangularSystem(pattern, lower != transpose, unit_diagonal, transpose)
    B2 = B.reshape(n, 1) if B.ndim == 1 else B
    X = TriangularSolve.apply(values, B2, system)
    return X.reshape(B.shape)
