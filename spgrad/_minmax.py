"""Order-based operations: ``max``/``min``/``nanmax``/``nanmin`` and ``argmax``/``argmin``
reductions (the mixin of CSR, CSC and COO, as in SciPy: DIA has none), elementwise
``maximum``/``minimum`` and the comparison operators (called by every format through
``_spbase``).

SciPy's implicit-zero rules are kept exactly: without ``explicit=True`` the zeros that are not
stored take part in a reduction whenever a row/column (or the array) is not full, and
``argmax``/``argmin`` return SciPy's index choice for ties between a stored extreme and an
implicit zero.

Differentiable mode (values are a torch tensor): reductions follow ``torch.amax``/``torch.amin``
(a gradient is split evenly between tied stored entries; an implicit zero that wins takes it
all, as a constant); ``maximum``/``minimum`` of two sparse operands work on the union of the
patterns like ``torch.maximum``/``torch.minimum``; comparisons and ``argmax``/``argmin`` are not
differentiable and work on the detached values.
"""

import math
import operator
from warnings import warn

import numpy as np

from . import _backend, _cpu
from ._base import SparseEfficiencyWarning, issparse
from ._oned import vector_from_2d
from ._sputils import (get_index_dtype, has_kernel_dtype, isdense, isscalarlike, upcast,
                       validateaxis)

_OP_SYM = {operator.eq: "==", operator.ne: "!=", operator.lt: "<", operator.gt: ">",
           operator.le: "<=", operator.ge: ">="}
_OP_NEG = {operator.eq: operator.ne, operator.ne: operator.eq, operator.lt: operator.ge,
           operator.ge: operator.lt, operator.gt: operator.le, operator.le: operator.gt}

_REDUCE_UFUNCS = {"max": np.maximum, "min": np.minimum, "nanmax": np.fmax, "nanmin": np.fmin}
# the operation codes of the line-reduction kernels (the same in spgrad._cpu and spgrad._cuda)
_REDUCE_CODES = {"max": _cpu.REDUCE_MAX, "min": _cpu.REDUCE_MIN, "nanmax": _cpu.REDUCE_FMAX,
                 "nanmin": _cpu.REDUCE_FMIN, "argmax": _cpu.REDUCE_MAX,
                 "argmin": _cpu.REDUCE_MIN}


def _autograd_ops():
    from ._autograd import _ops

    return _ops


def _detached(x):
    """``x`` with NumPy values: a sparse operand's tensor values or a dense tensor detached."""
    if issparse(x) and getattr(x, "_is_torch", False):
        return x._with_data(x._kernel_view().data.copy(), copy=False)
    if _backend.is_tensor(x):
        return _backend.to_numpy(x)
    return x


def _as_operand(other):
    """SciPy's normalisation of the second operand: anything that is not sparse, dense or a
    scalar becomes an ndarray (unless it has a ``shape``); None for unusable objects."""
    if (issparse(other) or isdense(other) or isscalarlike(other)
            or _backend.is_device_array(other)):
        return other
    other_a = np.asanyarray(other)
    if other_a.ndim == 0 and other_a.dtype == np.object_:
        return None
    if not hasattr(other, "shape"):
        return other_a
    return other


def _compressed(A):
    return A if A.format in ("csr", "csc") else A.tocsr()


def _rebuild(A, data, indices, indptr):
    """A container of ``A``'s class from compressed arrays, through the validating constructor
    (which also picks the index dtype by SciPy's family rules)."""
    return A.__class__((data, indices, indptr), shape=A.shape)


def _scalar_binopt(A, other, op):
    """``op(A.data, other)`` on the stored values of a compressed ``A`` (no new entries),
    results equal to zero dropped."""
    B = A._deduped()
    res = _rebuild(A, op(B.data, other), B.indices.copy(), B.indptr.copy())
    res.eliminate_zeros()
    return res


def _union(A, B):
    """Union of the patterns of two canonical compressed containers of the same format:
    ``(indptr, indices, a_pos, b_pos)``, a position equal to the operand's nnz meaning
    "not stored" (see the ``csr_union_map`` kernel)."""
    M, _ = A._major_minor()
    cap = A.nnz + B.nnz
    idx_dtype = get_index_dtype((A.indptr, A.indices, B.indptr, B.indices), maxval=cap)
    xp = A._xp()
    indptr = xp.empty(M + 1, dtype=idx_dtype)
    indices = xp.empty(cap, dtype=idx_dtype)
    a_pos = xp.empty(cap, dtype=np.int64)
    b_pos = xp.empty(cap, dtype=np.int64)
    nnz = A._kernels().csr_union_map(
        A.indptr.astype(idx_dtype, copy=False), A.indices.astype(idx_dtype, copy=False),
        B.indptr.astype(idx_dtype, copy=False), B.indices.astype(idx_dtype, copy=False),
        indptr, indices, a_pos, b_pos,
    )
    return indptr, indices[:nnz], a_pos[:nnz], b_pos[:nnz]


def _with_zero(values, dtype):
    out = np.zeros(len(values) + 1, dtype=dtype)
    out[:-1] = values
    return out


def _sparse_compare(A, other, op):
    """``op`` elementwise on two sparse operands of ``A``'s shape: a sparse bool result of
    ``A``'s class holding the True entries (``op(0, 0)`` must be False)."""
    other = A.__class__(other)
    A, B = A._canonical(), other._canonical()
    indptr, indices, a_pos, b_pos = _union(A, B)
    dtype = upcast(A.dtype, B.dtype)
    keep = np.asarray(op(_with_zero(A.data, dtype)[a_pos], _with_zero(B.data, dtype)[b_pos]),
                      dtype=bool)
    M = len(indptr) - 1
    rows = np.repeat(np.arange(M), np.diff(indptr))
    counts = np.bincount(rows[keep], minlength=M)
    new_indptr = np.zeros(M + 1, dtype=indptr.dtype)
    np.cumsum(counts, out=new_indptr[1:])
    return _rebuild(A, np.ones(int(keep.sum()), dtype=bool), indices[keep], new_indptr)


def _all_true(A):
    return A.__class__(np.ones(A.shape, dtype=np.bool_))


def comparison(A, other, op):
    """``A op other`` (``op`` from :mod:`operator`) with SciPy's result types and warnings.

    A scalar or sparse operand gives a sparse bool result (CSR for COO/DIA operands); when the
    implicit zeros compare True (``A == 0``, ``A <= 1`` …) the result is computed as the
    complement of the negated comparison, with a ``SparseEfficiencyWarning``. A dense operand
    gives a dense bool result. Sparse operands of different shapes compare unequal (``==``
    gives False, ``!=`` True); the ordering operators raise ``ValueError``.
    """
    A, other = _detached(A), _detached(other)
    other = _as_operand(other)
    if other is None:
        return NotImplemented
    if isscalarlike(other):
        if not op(0, other):
            if np.isnan(other):
                return A.__class__(A.shape, dtype=np.bool_)
            return _scalar_binopt(_compressed(A), other, op)
        warn(f"Comparing a sparse matrix with {other} using {_OP_SYM[op]} is inefficient. "
             f"Try using {_OP_SYM[_OP_NEG[op]]} instead.", SparseEfficiencyWarning,
             stacklevel=3)
        if np.isnan(other):
            return A.__class__(np.ones(A.shape, dtype=np.bool_))
        cs = _compressed(A)
        return _all_true(cs) - _scalar_binopt(cs, other, _OP_NEG[op])
    if isdense(other):
        return op(A.todense(), other)
    if issparse(other):
        if A.shape != other.shape:
            if op in (operator.eq, operator.ne):
                return op is operator.ne
            raise ValueError(f"inconsistent shape: {A.shape} and {other.shape}")
        cs = _compressed(A)
        if not op(0, 0):
            return _sparse_compare(cs, other, op)
        warn(f"Comparing two sparse matrices using {_OP_SYM[op]} is inefficient. Try using "
             f"{_OP_SYM[_OP_NEG[op]]} instead.", SparseEfficiencyWarning, stacklevel=3)
        return _all_true(cs) - _sparse_compare(cs, other, _OP_NEG[op])
    return NotImplemented


def maximum_minimum(A, other, name):
    """``A.maximum(other)`` / ``A.minimum(other)`` (``name`` is 'maximum' or 'minimum')."""
    np_op = getattr(np, name)
    _backend.check_same_device(A, other)
    if (A._is_torch or _backend.is_tensor(other)
            or (issparse(other) and getattr(other, "_is_torch", False))):
        return _maximum_minimum_differentiable(A, other, name)
    other = _as_operand(other)
    if other is None:
        raise NotImplementedError("maximum or minimum with an unrecognized array type is not "
                                  "supported")
    if isscalarlike(other):
        if np_op(0, other):
            sign = "positive" if name == "maximum" else "negative"
            warn(f"Taking {name} with a {sign} number results in a dense matrix.",
                 SparseEfficiencyWarning, stacklevel=3)
            return A.__class__(np_op(A.toarray(), other))
        return _scalar_binopt(_compressed(A), other, np_op)
    if isdense(other) or _backend.is_device_array(other):
        return np_op(A.todense(), other)
    if issparse(other):
        if A.shape != other.shape:
            raise ValueError(f"inconsistent shapes self.shape={A.shape} "
                             f"other.shape={other.shape}")
        cs = _compressed(A)
        r = cs._binopt(other, name[:3])
        return _rebuild(cs, r.data, r.indices, r.indptr)
    raise ValueError("Operands not compatible.")


def _is_complex_operand(x):
    # a sparse operand's dtype is NumPy's also for torch values
    if _backend.is_tensor(x):
        return x.is_complex()
    return (x.dtype if issparse(x) else np.asarray(x).dtype).kind == "c"


def _refuse_complex_order(what, got):
    raise TypeError(
        f"{what} is not supported with torch values: torch orders no complex numbers "
        f"(NumPy's lexicographic order has no gradient); got {got}; matrices of NumPy values "
        f"(A.data.detach().numpy()) give SciPy's result"
    )


def _maximum_minimum_differentiable(A, other, name):
    torch = _backend.torch_module()
    t_op = getattr(torch, name)
    ops = _autograd_ops()
    if _is_complex_operand(A) or _is_complex_operand(other):
        _refuse_complex_order(f"{name} with complex values", f"values {A.dtype} and an operand "
                              f"{getattr(other, 'dtype', type(other).__name__)}")
    if issparse(other):
        if A.shape != other.shape:
            raise ValueError(f"inconsistent shapes self.shape={A.shape} "
                             f"other.shape={other.shape}")
        cs = _compressed(A)
        B = cs.__class__(other)
        return ops.union_maximum_minimum(cs._canonical(), B._canonical(), name)
    scalar_tensor = _backend.is_scalar_tensor(other)
    if scalar_tensor or (isscalarlike(other) and not _backend.is_tensor(other)):
        # A 0-d tensor is a scalar (a learned threshold gets its gradient); a Python or NumPy
        # number joins the values by torch's rule for a number, as with ``*``: float32 values
        # stay float32, integer values with a float become torch's default float dtype.
        if scalar_tensor:
            value = other.detach().item()
        else:
            value = other.item() if isinstance(other, (np.generic, np.ndarray)) else other

        def apply(values):
            if scalar_tensor:
                return t_op(values, other)
            dtype = torch.result_type(values, value)
            return t_op(values.to(dtype),
                        torch.as_tensor(value, dtype=dtype, device=values.device))

        if getattr(np, name)(0, value):
            sign = "positive" if name == "maximum" else "negative"
            warn(f"Taking {name} with a {sign} number results in a dense matrix.",
                 SparseEfficiencyWarning, stacklevel=4)
            return A.__class__(apply(ops.values(A.toarray())))
        cs = _compressed(A)._deduped()
        # Structural pattern: entries that become 0 stay stored (they keep their gradient).
        return cs._with_data(apply(ops.values(cs.data)))
    other_t = ops.values(other if _backend.is_tensor(other) else np.asarray(other))
    dense = ops.values(A.toarray())  # plain values (a tensor ``other``) as a tensor too
    dtype = torch.promote_types(dense.dtype, other_t.dtype)
    return t_op(dense.to(dtype), other_t.to(dtype))


def _find_missing_index(ind, n):
    """First ``k`` with ``ind[k] != k`` in sorted unique ``ind``; else ``len(ind)`` if it is
    below ``n``; else -1 (SciPy's helper, vectorised)."""
    xp = _backend.array_module(ind)
    k = xp.flatnonzero(ind != xp.arange(len(ind)))
    if k.size:
        return int(k[0])
    k = len(ind)
    return k if k < n else -1


class _minmax_mixin:
    """``max``/``min``/``nanmax``/``nanmin``/``argmax``/``argmin`` of CSR, CSC and COO."""

    # ------------------------------------------------------------------- max / min
    def _min_or_max(self, axis, out, name, explicit):
        ufunc = _REDUCE_UFUNCS[name]
        if out is not None:
            raise ValueError("Sparse min/max does not support an 'out' parameter.")
        if self._is_torch and self.dtype.kind == "c":
            _refuse_complex_order(f"{name} of complex values", f"values {self.dtype}")
        axis = validateaxis(axis, ndim=self.ndim)
        if axis is None:
            if 0 in self.shape:
                raise ValueError("zero-size array to reduction operation")
            if self._is_torch:
                return self._min_or_max_torch(name, explicit)
            if self._on_gpu:
                return self._min_or_max_device(name, explicit)
            zero = self.dtype.type(0)
            if self.nnz == 0:
                return zero
            A = self._deduped()
            m = ufunc.reduce(A.data.ravel())
            if A.nnz != math.prod(self.shape) and not explicit:
                m = ufunc(zero, m)
            return m
        if any(self.shape[d] == 0 for d in axis):
            raise ValueError("zero-size array to reduction operation")
        res = self._min_or_max_axis(axis[0], name, explicit)
        return vector_from_2d(res) if self._is_array else res

    def _min_or_max_device(self, name, explicit):
        """The whole-array reduction on a GPU: a 0-d CuPy array (no host read)."""
        xp = self._xp()
        A = self._deduped()
        data = A.data
        if A.nnz != math.prod(self.shape) and not explicit:
            data = xp.concatenate([data, xp.zeros(1, dtype=data.dtype)])  # an implicit zero
        if data.size == 0:
            return xp.zeros((), dtype=self.dtype)
        return getattr(xp, name)(data)  # max, min, nanmax, nanmin

    def _min_or_max_torch(self, name, explicit):
        torch = _backend.torch_module()
        A = self._deduped()
        data = _autograd_ops().values(A.data)
        if A.nnz == 0:
            return data.new_zeros(())
        m = _torch_reduce(torch, data, name)
        if A.nnz != math.prod(self.shape) and not explicit:
            m = _torch_pair(torch, name)(m, data.new_zeros(()))
        return m

    def _min_or_max_axis(self, axis, name, explicit):
        N = self.shape[axis]
        M = self.shape[1 - axis]
        idx_dtype = get_index_dtype(maxval=M)
        mat = (self.tocsc() if axis == 0 else self.tocsr())._canonical()
        xp = mat._xp()
        if mat._is_torch:
            value = _torch_line_reduce(mat, name)
            if not explicit:
                torch = _backend.torch_module()
                not_full = _backend.index_tensor(xp.diff(mat.indptr)) < N
                value = torch.where(not_full, _torch_pair(torch, name)(value, value.new_zeros(())),
                                    value)
            keep = (value.detach() != 0).nonzero().flatten()
            value = value[keep]
            major_index = _backend.kernel_array(keep, mat.indptr)
        elif has_kernel_dtype(mat.dtype):
            line = xp.empty(M, dtype=mat.dtype)
            mat._kernels().csr_line_reduce(_REDUCE_CODES[name], N, not explicit, mat.indptr,
                                           mat.data, line)
            major_index = xp.flatnonzero(line != 0)
            value = line[major_index]
        else:  # bool, the other small integers, uint64, long double: NumPy's reduceat
            ufunc = _REDUCE_UFUNCS[name]
            lengths = np.diff(mat.indptr)
            major_index = np.flatnonzero(lengths)
            value = ufunc.reduceat(mat.data, mat.indptr[major_index].astype(np.intp))
            if not explicit:
                not_full = lengths[major_index] < N
                value[not_full] = ufunc(value[not_full], 0)
            mask = value != 0
            value, major_index = value[mask], major_index[mask]
        major_index = major_index.astype(idx_dtype)
        zeros = xp.zeros(len(major_index), dtype=idx_dtype)
        row, col, shape = ((zeros, major_index, (1, M)) if axis == 0
                           else (major_index, zeros, (M, 1)))
        if mat._is_torch:
            return self._coo_container._from_arrays(value, row, col, shape, canonical=True)
        return self._coo_container((value, (row, col)), dtype=self.dtype, shape=shape)

    def max(self, axis=None, out=None, *, explicit=False):
        """Maximum over all entries (``axis=None``) or along an axis.

        Parameters
        ----------
        axis : {None, 0, 1, -1, -2}, optional
        out : None
            Only for NumPy compatibility; anything else raises ``ValueError``.
        explicit : bool, optional
            Only consider the stored entries (an empty row/column then has no stored result).

        Returns
        -------
        scalar or sparse matrix
            A NumPy scalar for ``axis=None`` (a 0-d tensor in differentiable mode, whose
            gradient follows ``torch.amax``: split evenly between tied stored entries). Along an
            axis, a ``coo_matrix`` of shape (1, n) or (m, 1) for the matrix family, a 1-D
            ``coo_array`` for sparse arrays (as in SciPy).

        Raises
        ------
        ValueError
            For a reduction over a zero-size dimension, or ``out`` given.

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.csr_matrix([[-1, 0], [-3, -2]])
        >>> int(A.max()), int(A.max(explicit=True))
        (0, -1)
        >>> A.max(axis=1).toarray()
        array([[ 0],
               [-2]])
        """
        return self._min_or_max(axis, out, "max", explicit)

    def min(self, axis=None, out=None, *, explicit=False):
        """Minimum over all entries or along an axis (see :meth:`max`).

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.csr_matrix([[1, 0], [3, 2]])
        >>> int(A.min()), int(A.min(explicit=True))
        (0, 1)
        """
        return self._min_or_max(axis, out, "min", explicit)

    def nanmax(self, axis=None, out=None, *, explicit=False):
        """Maximum ignoring NaNs (``numpy.fmax`` rules; see :meth:`max`).

        Examples
        --------
        >>> import numpy as np
        >>> import spgrad as sp
        >>> float(sp.csr_matrix([[np.nan, 2.0], [0.0, 1.0]]).nanmax())
        2.0
        """
        return self._min_or_max(axis, out, "nanmax", explicit)

    def nanmin(self, axis=None, out=None, *, explicit=False):
        """Minimum ignoring NaNs (``numpy.fmin`` rules; see :meth:`max`).

        Examples
        --------
        >>> import numpy as np
        >>> import spgrad as sp
        >>> float(sp.csr_matrix([[np.nan, -2.0], [0.0, 1.0]]).nanmin())
        -2.0
        """
        return self._min_or_max(axis, out, "nanmin", explicit)

    # --------------------------------------------------------------- argmax / argmin
    def _argminmax(self, axis, out, name, explicit):
        if out is not None:
            raise ValueError(f"Sparse {name} does not support an 'out' parameter.")
        axis = validateaxis(axis, ndim=self.ndim)
        A = _detached(self)
        if axis is not None:
            if any(self.shape[i] == 0 for i in axis):
                raise ValueError(f"Cannot apply {name} along a zero-sized dimension.")
            return A._argminmax_axis(axis[0], name, explicit)
        if 0 in self.shape:
            raise ValueError(f"Cannot apply {name} to an empty matrix.")
        if A.nnz == 0:
            if explicit:
                raise ValueError(f"Cannot apply {name} to zero matrix when explicit=True.")
            return 0
        argfn, compare = (np.argmax, np.greater) if name == "argmax" else (np.argmin, np.less)
        zero = A.dtype.type(0)
        mat = A.tocoo()._summed()
        extreme_index = argfn(mat.data)
        if explicit:
            return extreme_index
        extreme_value = mat.data[extreme_index]
        num_col = self.shape[-1]
        maxnnz = math.prod(self.shape)
        if compare(extreme_value, zero) or mat.nnz == maxnnz:
            return int(mat.row[extreme_index]) * num_col + int(mat.col[extreme_index])
        linear = mat.row.astype(np.int64) * num_col + mat.col
        first_zero = _find_missing_index(linear, maxnnz)
        if extreme_value == zero:
            return min(first_zero, extreme_index)
        return first_zero

    def _argminmax_axis(self, axis, name, explicit):
        reduce_fn, compare = ((np.maximum, np.greater) if name == "argmax"
                              else (np.minimum, np.less))
        mat = (self.tocsc() if axis == 0 else self.tocsr())._canonical()
        ret_size, line_size = mat._swap(mat.shape)
        if has_kernel_dtype(mat.dtype):
            ret = mat._xp().empty(ret_size, dtype=np.int64)
            mat._kernels().csr_line_argreduce(_REDUCE_CODES[name], line_size, explicit,
                                              mat.indptr, mat.indices, mat.data, ret)
            return self._argminmax_result(ret, axis)
        # bool, the other small integers, uint64, long double: NumPy's array operations
        ret = np.zeros(ret_size, dtype=np.int64)
        lengths = np.diff(mat.indptr).astype(np.intp)
        lines = np.flatnonzero(lengths)
        if lines.size:
            data = mat.data
            starts = mat.indptr[lines].astype(np.intp)
            line_of = np.repeat(np.arange(len(lines)), lengths[lines])
            # The first entry equal to the line's extreme (NaN propagates through the
            # reduction and is the first NaN) is where np.argmax/np.argmin stop.
            rep = reduce_fn.reduceat(data, starts)[line_of]
            hit = data == rep
            if data.dtype.kind in "fc":
                hit |= np.isnan(data) & np.isnan(rep)
            hit_pos = np.flatnonzero(hit)
            hit_line = line_of[hit_pos]
            first = hit_pos[np.r_[True, hit_line[1:] != hit_line[:-1]]]
            col = mat.indices[first].astype(int)
            if explicit:
                ret[lines] = col
            else:
                extreme_pos = first - starts
                extreme_value = data[first]
                zero = self.dtype.type(0)
                full = lengths[lines] == line_size
                # first missing minor index of each line: the first position p (within the
                # line) whose index is not p, else the line length
                rel = np.arange(len(data)) - np.repeat(starts, lengths[lines])
                cand = np.where(mat.indices != rel, rel, np.repeat(lengths[lines], lengths[lines]))
                zero_ind = np.minimum.reduceat(cand, starts)
                picked = np.where(extreme_value == zero, np.minimum(extreme_pos, zero_ind),
                                  zero_ind)
                ret[lines] = np.where(compare(extreme_value, zero) | full, col, picked)
        return self._argminmax_result(ret, axis)

    def _argminmax_result(self, ret, axis):
        """The line indices ``ret`` as SciPy returns them: a 1-D array for sparse arrays, a
        (1, n) or (m, 1) matrix for sparse matrices (a 2-D CuPy array on the GPU)."""
        if self._is_array:
            return ret
        return self._ascontainer(ret.reshape((1, -1) if axis == 0 else (-1, 1)))

    def argmax(self, axis=None, out=None, *, explicit=False):
        """Index of the maximum (flat index for ``axis=None``), SciPy's rules for ties with
        implicit zeros; with ``explicit=True`` and ``axis=None`` the position in the
        canonical stored values, as SciPy returns it.

        Returns
        -------
        int, 1-D ndarray (sparse arrays) or np.matrix (sparse matrices)
            An empty row/column gives 0. Not differentiable (works on detached values).

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.csr_array([[0, 5], [7, 0]])
        >>> A.argmax(), A.argmax(axis=1)
        (2, array([1, 0]))
        """
        return self._argminmax(axis, out, "argmax", explicit)

    def argmin(self, axis=None, out=None, *, explicit=False):
        """Index of the minimum (see :meth:`argmax`).

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.csr_array([[1, 5], [-7, 2]])
        >>> A.argmin(), A.argmin(axis=0)
        (2, array([1, 1]))
        """
        return self._argminmax(axis, out, "argmin", explicit)


# --------------------------------------------------------------- differentiable helpers
def _torch_pair(torch, name):
    return {"max": torch.maximum, "min": torch.minimum,
            "nanmax": torch.fmax, "nanmin": torch.fmin}[name]


def _torch_reduce(torch, data, name):
    """amax/amin of a non-empty 1-D tensor; the nan variants ignore NaNs (NaN if all are)."""
    if name in ("max", "min"):
        return torch.amax(data) if name == "max" else torch.amin(data)
    keep = ~torch.isnan(data.detach())
    if not bool(keep.any()):
        return data.sum() * np.nan
    data = data[keep]
    return torch.amax(data) if name == "nanmax" else torch.amin(data)


def _torch_line_reduce(mat, name):
    """Per-line amax/amin of a canonical compressed container's tensor values (0 for an
    empty line), on the values' device."""
    torch = _backend.torch_module()
    ops = _autograd_ops()
    data = ops.values(mat.data)
    n_line = len(mat.indptr) - 1
    index = _backend.index_tensor(ops.pattern(mat).rows())
    reduce = "amax" if name in ("max", "nanmax") else "amin"
    if name.startswith("nan"):
        nan = torch.isnan(data.detach())
        fill = -np.inf if reduce == "amax" else np.inf
        data = torch.where(nan, torch.full_like(data, fill), data)
        counts = torch.zeros(n_line, dtype=torch.int64, device=data.device)
        n_ok = counts.index_add(0, index, (~nan).long())
        n_all = counts.index_add(0, index, torch.ones_like(index))
    out = data.new_zeros(n_line).scatter_reduce(0, index, data, reduce=reduce,
                                                include_self=False)
    if name.startswith("nan"):
        out = torch.where((n_ok == 0) & (n_all > 0), torch.full_like(out, np.nan), out)
    return out
