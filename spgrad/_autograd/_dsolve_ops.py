"""Differentiable direct solves ``X = op(A)⁻¹ B`` on one SuperLU factorisation (on the GPU: its
triangular solves there through cupyx, or for ``spsolve`` cuSOLVER's sparse QR solves,
:class:`DeviceFactor`).

``op`` is ``"N"`` (``A``), ``"T"`` (``Aᵀ``) or ``"H"`` (``Aᴴ``). The factorisation is computed
once, on the detached values (:func:`factorize`), and every derivative reuses it:

- backward (``Ḡ`` the output's gradient, ``λ`` the adjoint solution)::

      op = N:  λ = A⁻ᴴ Ḡ           ∂B = λ   ∂A = −λ X̄ᵀ      on the pattern
      op = T:  λ = conj(A)⁻¹ Ḡ      ∂B = λ   ∂A = −X̄ λᵀ      on the pattern
      op = H:  λ = A⁻¹ Ḡ           ∂B = λ   ∂A = −X λ̄ᵀ      on the pattern

  where ``λ`` is :class:`LUSolve` itself applied to the adjoint system (so double backward
  and Hessian-vector products work) and the pattern restriction is the SDDMM Function, never
  a dense ``n × n`` matrix;
- forward mode: ``dX = op(A)⁻¹ (dB − op(dA) X)``, again with the same factorisation.

``vmap`` over right-hand sides turns the batch into extra columns of one solve with the same
factorisation; over the values of ``A`` it raises (the factorisation is of one matrix).
"""

import numpy as np
import scipy.sparse as _sps
import scipy.sparse.linalg as _spla
import torch

from .. import _backend
from ._function import Function
from ._functions import SDDMM, SpMM, SpMMT
from ._pattern import CSRPattern

# The solves of the adjoint system: op -> (op of the solve, whether to conjugate around it).
# conj(A)⁻¹ G = conj(A⁻¹ conj(G)), so "T" needs the conjugation trick for complex values.
_ADJOINT = {"N": ("H", False), "T": ("N", True), "H": ("N", False)}


class Factor:
    """One SuperLU factorisation of ``A`` (or of ``Aᵀ``) and the pattern of its values.

    Parameters
    ----------
    lu : scipy.sparse.linalg.SuperLU or None
        The factorisation, or None when ``A`` is exactly singular (every solve is then NaN).
    transposed : bool
        True when ``lu`` factors ``Aᵀ`` (``A`` came as CSR: its arrays are the CSC arrays of
        ``Aᵀ``), so solves with ``A`` are solves with ``trans="T"``.
    pattern : CSRPattern
        The CSR pattern of the container's (major × minor) layout: of ``A`` for CSR values,
        of ``Aᵀ`` for CSC values; ``values`` passed to :class:`LUSolve` follow it.
    dtype : numpy.dtype
        The dtype of the factorisation (and of every solution).
    exact : bool
        False for an incomplete factorisation (``spilu``): then ``op(A)⁻¹`` is only
        approximated and no derivative with respect to ``A`` exists.
    device_lu : object, optional
        For a matrix on the GPU (``pattern`` holds CuPy arrays): the solver of ``lu`` there
        (:func:`spgrad._cuda._vendor.superlu`), which :meth:`solve` then uses, on CuPy
        arrays. ``lu`` itself was computed on the host.
    """

    __slots__ = ("device_lu", "dtype", "exact", "lu", "pattern", "transposed")

    def __init__(self, lu, transposed, pattern, dtype, exact=True, device_lu=None):
        self.lu = lu
        self.transposed = transposed
        self.pattern = pattern
        self.dtype = np.dtype(dtype)
        self.exact = exact
        self.device_lu = device_lu

    @property
    def on_gpu(self):
        """True when the solves take and return CuPy arrays."""
        return self.pattern is not None and _backend.is_device_array(self.pattern.indptr)

    @property
    def pattern_is_transpose(self):
        """True when :attr:`pattern` is the CSR pattern of ``Aᵀ`` (CSC values)."""
        return not self.transposed

    def solve(self, B, op):
        """``op(A)⁻¹ B`` for a ``B`` of the factor's dtype (1-D or 2-D): a NumPy array, or a
        CuPy array for a factor on the GPU."""
        if self.lu is None:
            return _backend.array_module(B).full(B.shape, np.nan, dtype=self.dtype)
        lu = self.lu if self.device_lu is None else self.device_lu
        complex_ = self.dtype.kind == "c"
        if not complex_ and op == "H":
            op = "T"
        if not self.transposed:
            return lu.solve(B, trans=op)
        # lu factors F = Aᵀ: A = Fᵀ, Aᵀ = F, Aᴴ = conj(F)
        if op == "N":
            return lu.solve(B, trans="T")
        if op == "T" or not complex_:
            return lu.solve(B)
        return lu.solve(B.conj()).conj()


class DeviceFactor:
    """What :class:`LUSolve` needs of a :class:`Factor`, on the GPU: solves with ``A``,
    ``Aᵀ`` or ``Aᴴ`` by cuSOLVER's sparse QR (through cupyx; it keeps no factorisation, so
    every solve factorises anew), for canonical values on the container's pattern (same
    conventions as :class:`Factor`). A singular ``A`` gives NaN solutions and sets
    :attr:`singular` (the caller warns, as SciPy does).
    """

    __slots__ = ("dtype", "pattern", "singular", "transposed", "values")

    exact = True
    on_gpu = True

    def __init__(self, values, pattern, fmt):
        """``values``: a tensor, or a CuPy array (constant values), on ``pattern``."""
        if _batched(values):
            raise NotImplementedError(
                "vmap over the values of A in spsolve on the GPU: the sparse QR solves one "
                "matrix; loop over the matrices instead")
        self.values = _backend.kernel_array(values, pattern.indptr)
        self.pattern = pattern
        self.transposed = fmt == "csr"
        self.dtype = np.dtype(self.values.dtype)
        self.singular = False

    pattern_is_transpose = Factor.pattern_is_transpose

    def solve(self, B, op):
        """``op(A)⁻¹ B`` for a CuPy ``B`` of the factor's dtype (1-D or 2-D)."""
        from .._cuda import _vendor

        p = self.pattern
        values = self.values
        # the pattern holds A (CSR values) or Aᵀ (CSC values); op(A) is it or its transpose
        if (op == "N") != self.transposed:
            values = values[p.transpose_perm()]
            p, _ = p.transpose()
        if op == "H" and self.dtype.kind == "c":
            values = values.conj()
        if p.shape[0] == 0:
            return B.copy()
        X, singular = _vendor.spsolve(values, p.indices, p.indptr, p.shape, B)
        X = X.astype(self.dtype, copy=False).reshape(B.shape)  # (n, 1) may come back 1-D
        if singular:
            self.singular = True
            X = X.copy()
            X.fill(np.nan)
        return X


def factorize(values, indices, indptr, n, fmt, ilu=False, singular="raise", **options):
    """A :class:`Factor` of the ``n × n`` CSR/CSC matrix with these arrays (values detached).

    CSC arrays are factorised as they are; CSR arrays are the CSC arrays of ``Aᵀ``, which is
    factorised instead (no transpose is built). An exactly singular matrix raises SciPy's
    ``RuntimeError``, or with ``singular="nan"`` gives a factor whose solves are NaN (what
    SciPy's spsolve returns; the caller warns).
    ``options`` go to :func:`scipy.sparse.linalg.splu` (``spilu`` when ``ilu``).

    Arrays on the GPU (CuPy index arrays; values a CUDA tensor or a CuPy array) are copied to
    the host for SuperLU, as cupyx's ``splu`` does; the factor then solves on the GPU
    (``device_lu``), and its pattern keeps the GPU arrays.
    """
    if _batched(values):
        raise NotImplementedError(
            "vmap over the values of A in a factorised solve (spsolve, splu): the SuperLU "
            "factorisation is of one matrix; loop over the matrices instead")
    on_gpu = _backend.is_device_array(indptr)
    if on_gpu:
        data = _backend.to_device(_backend.kernel_array(values, indptr), "cpu")
        host_indices, host_indptr = _backend.to_device((indices, indptr), "cpu")
    else:
        data = _backend.to_numpy(values)
        host_indices, host_indptr = indices, indptr
    S = _sps.csc_array((data, host_indices, host_indptr), shape=(n, n), copy=False)
    S.has_canonical_format = True  # the caller canonicalised; SciPy must not sort in place
    try:
        lu = (_spla.spilu if ilu else _spla.splu)(S, **options)
    except RuntimeError as e:
        if singular != "nan" or "singular" not in str(e):
            raise
        lu = None
    device_lu = None
    if on_gpu and lu is not None:
        from .._cuda import _vendor

        device_lu = _vendor.superlu(lu, "spilu" if ilu else "splu")
    return Factor(lu, fmt == "csr", CSRPattern(indptr, indices, (n, n)), data.dtype,
                  exact=not ilu, device_lu=device_lu)


def _batched(t):
    """Whether ``t`` is a tensor batched by ``torch.func.vmap`` (at any level of wrapping)."""
    functorch = getattr(torch._C, "_functorch", None)
    if functorch is None or not _backend.is_tensor(t):
        return False
    while functorch.is_functorch_wrapped_tensor(t):
        if functorch.is_batchedtensor(t):
            return True
        t = functorch.get_unwrapped(t)
    return False


def _op_matmul(d, X, factor, op):
    """``op(dA) X`` for values ``d`` on the factor's pattern (a differentiable product)."""
    if op == "H":
        d, op = d.conj(), "T"
    # on the pattern of A, A X is SpMM and Aᵀ X is SpMMT; on the pattern of Aᵀ the reverse
    direct = (op == "N") != factor.pattern_is_transpose
    return (SpMM if direct else SpMMT).apply(d, X, factor.pattern)


class LUSolve(Function):
    """``X = op(A)⁻¹ B`` for values ``data`` of ``A`` (on ``factor.pattern``) and a dense
    2-D ``B``, solved with the SuperLU factorisation ``factor`` of those same values."""

    @staticmethod
    def forward(data, B, factor, op):
        if not factor.on_gpu:
            X = factor.solve(np.ascontiguousarray(_backend.to_numpy(B)), op)
            return torch.from_numpy(np.ascontiguousarray(X))
        like = factor.pattern.indptr
        xp = _backend.array_module(like)
        with _backend.torch_stream(B):
            X = factor.solve(xp.ascontiguousarray(_backend.kernel_array(B, like)), op)
        return _backend.tensor_of(xp.ascontiguousarray(X))

    @staticmethod
    def setup_context(ctx, inputs, output):
        data, _, factor, op = inputs
        ctx.save_for_backward(data, output)
        ctx.save_for_forward(data, output)
        ctx.factor, ctx.op = factor, op

    @staticmethod
    def backward(ctx, G):
        data, X = ctx.saved_tensors
        factor, op = ctx.factor, ctx.op
        adj_op, conj = _ADJOINT[op]
        lam = LUSolve.apply(data, G.conj() if conj else G, factor, adj_op)
        if conj:
            lam = lam.conj()
        g_data = None
        if ctx.needs_input_grad[0] and factor.exact:
            # ∂A = −L Rᵀ on the pattern, with (L, R) depending on op (module docstring)
            L, R = {"N": (lam, X.conj()), "T": (X.conj(), lam), "H": (X, lam.conj())}[op]
            if factor.pattern_is_transpose:
                L, R = R, L
            g_data = -SDDMM.apply(L, R, factor.pattern)
        g_B = lam if ctx.needs_input_grad[1] else None
        return g_data, g_B, None, None

    @staticmethod
    def jvp(ctx, d_data, d_B, *_):
        data, X = ctx.saved_tensors
        factor, op = ctx.factor, ctx.op
        rhs = d_B
        if d_data is not None and factor.exact:
            t = _op_matmul(d_data, X, factor, op)
            rhs = -t if rhs is None else rhs - t
        if rhs is None:
            return torch.zeros_like(X)
        return LUSolve.apply(data, rhs, factor, op)

    @staticmethod
    def vmap(info, in_dims, data, B, factor, op):
        """A batch of right-hand sides is one solve with more columns."""
        if in_dims[0] is not None:
            raise NotImplementedError(
                "vmap over the values of A in a factorised solve (spsolve, splu): the SuperLU "
                "factorisation is of one matrix; loop over the matrices instead")
        if in_dims[1] is None:
            return LUSolve.apply(data, B, factor, op), None
        Bb = B.movedim(in_dims[1], -1)
        X = LUSolve.apply(data, Bb.reshape(Bb.shape[0], -1), factor, op)
        return X.reshape(Bb.shape), Bb.ndim - 1


def lu_solve(data, B, factor, op="N"):
    """``op(A)⁻¹ B`` for a 1-D or 2-D tensor ``B`` (same dtype as the factor), differentiable
    in ``B`` and, for an exact factorisation, in ``data``."""
    vector = B.ndim == 1
    B2 = B[:, None] if vector else B
    if not factor.exact:
        data = data.detach()
    X = LUSolve.apply(data, B2.contiguous(), factor, op)
    return X[:, 0] if vector else X
