"""n-D sparse arrays: ``coo_array`` with three or more dimensions, as in SciPy 1.17.

An n-D COO array stores one coordinate array per axis. Elementwise operations, products
along the last axis, conversions to dense and in-place canonicalisation run on its *flat
twin*: the 2-D COO array of shape ``(prod(shape[:-1]), shape[-1])`` whose row index is the
row-major position over the leading axes. Reductions along axes run on the 2-D array that
puts the kept axes on its rows and the reduced ones on its columns. Results are mapped back
to the shape NumPy gives the same operation on a dense array. Torch values are shared by the
twins, so these operations stay differentiable.

:func:`support_nd` installs this on ``coo_array``: it wraps the methods listed in
``_METHODS`` so that an n-D receiver goes through here and a 1-D or 2-D one runs the code it
ran before.
"""

import functools
import math

import numpy as np

from . import _backend
from ._base import _CONTAINERS, _spbase, issparse
from ._oned import ELEMENTWISE_METHODS, REDUCTION_METHODS, routed
from ._sputils import canonical_axes, isdense, isscalarlike

__all__ = ["support_nd", "tensordot", "transpose_coords"]

_MAX_NDIM = 64


def _coo_array():
    return _CONTAINERS["coo"][0]


def _coords64(coords):
    return [c.astype(np.int64, copy=False) for c in coords]


def grouped_twin(A, rows_axes, cols_axes):
    """The 2-D COO array whose row index runs over ``rows_axes`` and column index over
    ``cols_axes`` of ``A`` (each row-major), sharing ``A``'s values."""
    coords = _coords64(A.coords)
    shape = A.shape

    def flat(axes):
        if not axes:
            return np.zeros(A.nnz, dtype=np.int64), 1
        dims = tuple(shape[a] for a in axes)
        idx = np.ravel_multi_index([coords[a] for a in axes], dims) if A.nnz else \
            np.zeros(0, dtype=np.int64)
        return idx, math.prod(dims)

    row, m = flat(rows_axes)
    col, n = flat(cols_axes)
    return _coo_array()._from_coords(A.data, (row, col), (m, n), maxprint=A.maxprint)


def flat_twin(A):
    nd = len(A.shape)
    T = grouped_twin(A, tuple(range(nd - 1)), (nd - 1,))
    T.has_canonical_format = A.has_canonical_format
    return T


def unflatten(T, shape):
    """The n-D COO array of ``shape`` holding the entries of the 2-D (or 1-D) COO ``T``
    whose flat positions follow ``shape`` row-major."""
    C = T.tocoo()
    if C.ndim == 2:
        flat = C.row.astype(np.int64) * C.shape[1] + C.col.astype(np.int64)
    else:
        flat = C.coords[0].astype(np.int64)
    coords = np.unravel_index(flat, shape) if len(shape) else ()
    A = _coo_array()._from_coords(C.data, tuple(c.astype(np.int64) for c in coords), shape,
                                  maxprint=C.maxprint)
    A.has_canonical_format = C.has_canonical_format
    return A


def _adopt(A, T):
    B = unflatten(T, A.shape)
    A.coords, A.data, A.has_canonical_format = B.coords, B.data, T.has_canonical_format


def _flat_operand(self, other):
    """``other`` as an operand of the flat twin: an n-D sparse array of the same shape as its
    own flat twin, a dense array broadcast to ``self.shape`` as a 2-D array."""
    if issparse(other):
        if not isinstance(other, _spbase):
            from ._interop import from_scipy

            other = from_scipy(other)
        if other.shape != self.shape:
            raise ValueError(f"inconsistent shapes: {self.shape} and {other.shape}")
        return flat_twin(other.tocoo())
    if isscalarlike(other):
        return other
    if _backend.is_tensor(other):
        if tuple(other.shape) != self.shape:
            other = other.broadcast_to(self.shape)
        return other.reshape(-1, self.shape[-1])
    arr = np.asarray(other)
    try:
        arr = np.broadcast_to(arr, self.shape)
    except ValueError as e:
        raise ValueError(f"inconsistent shapes: {self.shape} and {arr.shape}") from e
    return arr.reshape(-1, self.shape[-1])


def _back(res, shape):
    if res is NotImplemented:
        return res
    if issparse(res):
        return unflatten(res, shape)
    if _backend.is_tensor(res) or isinstance(res, np.ndarray):
        return res.reshape(shape)
    return res


# ------------------------------------------------------------------------------------------------
# the methods of an n-D array


def _elementwise(orig, self, other, *args, **kwargs):
    if isdense(other) or _backend.is_tensor(other):
        if orig.__name__ in ("multiply", "__mul__", "__rmul__"):
            if tuple(other.shape) != self.shape:
                raise ValueError("inconsistent shapes: >2D multiply() does not yet support "
                                 "broadcasting")
            # every stored entry (duplicates, zeros) times the dense value at its position,
            # as SciPy does for n-D arrays
            if self._is_torch or _backend.is_tensor(other):
                picked = _backend.as_tensor(other)[tuple(_backend.index_tensor(c)
                                                         for c in self.coords)]
                return self._with_data(_backend.as_tensor(self.data) * picked)
            return self._with_data(self.data * np.asarray(other)[self.coords])
        shape = np.broadcast_shapes(self.shape, tuple(other.shape))
        if shape != self.shape:
            raise ValueError(f"inconsistent shapes: {self.shape} and {tuple(other.shape)}")
    return _back(orig(flat_twin(self), _flat_operand(self, other), *args, **kwargs),
                 self.shape)


def _add(orig, self, other, *, sign=1, reflected=False):
    """``A ± B`` of two n-D sparse arrays: SciPy concatenates the entries (duplicates are kept
    until ``sum_duplicates``); a dense or scalar operand goes through the flat twin."""
    if not issparse(other):
        return _elementwise(orig, self, other)
    if other.shape != self.shape:
        raise ValueError(f"inconsistent shapes: {self.shape} and {other.shape}")
    if not isinstance(other, _spbase):
        from ._interop import from_scipy

        other = from_scipy(other)
    other = other.tocoo()
    a, b = (other, self) if reflected else (self, other)
    if a._is_torch or b._is_torch:
        torch = _backend.torch_module()
        data = torch.cat([_backend.as_tensor(a.data), sign * _backend.as_tensor(b.data)])
    else:
        data = np.concatenate([a.data, b.data if sign > 0 else -b.data])
    idx = np.result_type(*(c.dtype for c in a.coords + b.coords))
    coords = tuple(np.concatenate([ca, cb]).astype(idx, copy=False)
                   for ca, cb in zip(a.coords, b.coords))
    return self.__class__._from_coords(data, coords, self.shape, maxprint=self.maxprint)


def _in_place(orig, self, *args, **kwargs):
    T = flat_twin(self)
    res = orig(T, *args, **kwargs)
    _adopt(self, T)
    return res


def _reduce(orig, self, axis=None, *args, **kwargs):
    nd = self.ndim
    if axis is None:
        return orig(flat_twin(self), None, *args, **kwargs)
    axes = canonical_axes(axis if isinstance(axis, tuple) else (axis,), nd)
    if len(axes) == nd:
        return orig(flat_twin(self), None, *args, **kwargs)
    kept = tuple(a for a in range(nd) if a not in axes)
    kept_shape = tuple(self.shape[a] for a in kept)
    res = orig(grouped_twin(self, kept, tuple(axes)), 1, *args, **kwargs)
    if issparse(res):  # max/min: a 1-D coo_array over the kept positions
        return unflatten(res, kept_shape)
    return res.reshape(kept_shape)


def _toarray(orig, self, order=None, out=None):
    res = orig(flat_twin(self), order,
               None if out is None else out.reshape(-1, self.shape[-1]))
    return out if out is not None else res.reshape(self.shape)


def _to_coo(orig, self, copy=False):
    return self.copy() if copy else self


def _not_convertible(message):
    def impl(orig, self, *args, **kwargs):
        raise ValueError(message.format(nd=self.ndim))
    return impl


def _no_nd(message):
    def impl(orig, self, *args, **kwargs):
        raise ValueError(message)
    return impl


def _transpose(orig, self, axes=None, copy=False):
    return transpose_coords(self, axes, copy)


def transpose_coords(self, axes=None, copy=False):
    """The COO array with its axes permuted to ``axes`` (reversed by default)."""
    nd = self.ndim
    axes = tuple(range(nd))[::-1] if axes is None else tuple(axes)
    if len(axes) != nd:
        raise ValueError(f"axes don't match array: got {axes} for a {nd}-D array")
    canon = canonical_axes(axes, nd)
    if len(set(canon)) != nd:
        raise ValueError(f"repeated axis in transpose: {axes}")
    data = self._copy_values() if copy else self.data
    coords = tuple(self.coords[a].copy() if copy else self.coords[a] for a in canon)
    return self.__class__._from_coords(data, coords, tuple(self.shape[a] for a in canon),
                                       maxprint=self.maxprint)


def _matmul(orig, self, other):
    """``A @ x`` contracts the last axis of ``A`` with the first of a dense vector or matrix or
    of a 2-D sparse array."""
    n = self.shape[-1]
    lead = self.shape[:-1]
    if issparse(other):
        if len(other.shape) > 2:
            return _batched_matmul(self, other)
        if other.ndim != 2 or other.shape[0] != n:
            raise ValueError(f"matmul: dimension mismatch: {self.shape} @ {other.shape} "
                             f"(an n-D sparse array multiplies a 2-D array along its last "
                             f"axis)")
        return unflatten(orig(flat_twin(self), other), lead + (other.shape[1],))
    if isscalarlike(other):
        return orig(flat_twin(self), other)
    if not (_backend.is_tensor(other) or isinstance(other, np.ndarray)):
        other = np.asarray(other)
    if other.ndim not in (1, 2) or other.shape[0] != n:
        raise ValueError(f"matmul: dimension mismatch: sparse operand has shape {self.shape}, "
                         f"dense operand {tuple(other.shape)}")
    res = orig(flat_twin(self), other)
    return res.reshape(lead + tuple(other.shape[1:]))


def _swap_last(A):
    axes = tuple(range(A.ndim - 2)) + (A.ndim - 1, A.ndim - 2)
    return transpose_coords(A, axes)


def _block_diagonal(A, batch):
    """The stack of matrices ``A[b]`` (b over the leading axes) as one block-diagonal 2-D
    COO array of shape ``(batch * m, batch * n)``."""
    m, n = A.shape[-2:]
    coords = _coords64(A.coords)
    b = np.ravel_multi_index(coords[:-2], A.shape[:-2]) if A.nnz else np.zeros(0, np.int64)
    return _coo_array()._from_coords(A.data, (b * m + coords[-2], b * n + coords[-1]),
                                     (batch * m, batch * n), maxprint=A.maxprint)


def _batched_matmul(A, B):
    """``A @ B`` of two n-D sparse arrays with the same leading (batch) axes: one sparse
    product of their block-diagonal forms."""
    if not isinstance(B, _spbase):
        from ._interop import from_scipy

        B = from_scipy(B)
    B = B.tocoo()
    if A.shape[:-2] != B.shape[:-2] or A.shape[-1] != B.shape[-2]:
        raise ValueError(f"matmul: dimension mismatch: {A.shape} @ {B.shape} (stacked "
                         f"products need equal leading axes; broadcasting them is not "
                         f"supported)")
    batch = math.prod(A.shape[:-2])
    m, n = A.shape[-2], B.shape[-1]
    C = (_block_diagonal(A, batch) @ _block_diagonal(B, batch)).tocoo()
    row, col = C.row.astype(np.int64), C.col.astype(np.int64)
    b = row // m
    lead = np.unravel_index(b, A.shape[:-2]) if C.nnz else \
        tuple(np.zeros(0, np.int64) for _ in A.shape[:-2])
    coords = tuple(c.astype(np.int64) for c in lead) + (row - b * m, col - b * n)
    return _coo_array()._from_coords(C.data, coords, A.shape[:-2] + (m, n),
                                     maxprint=A.maxprint)


def _rmatmul(orig, self, other):
    """``x @ A`` (NumPy's stacked matmul over the leading axes of ``A``) through
    ``(swap(A) @ xᵀ)`` with the last two axes of ``A`` swapped."""
    if isscalarlike(other):
        return orig(self, other)
    if not (_backend.is_tensor(other) or isinstance(other, np.ndarray)):
        other = np.asarray(other)
    if other.ndim not in (1, 2):
        raise ValueError(f"matmul: x @ A takes a 1-D or 2-D dense x, got shape "
                         f"{tuple(other.shape)}")
    if other.shape[-1] != self.shape[-2]:
        raise ValueError(f"matmul: dimension mismatch: dense operand {tuple(other.shape)} @ "
                         f"sparse operand {self.shape}")
    res = _swap_last(self)._matmul_dispatch(other.mT if other.ndim == 2 and
                                            _backend.is_tensor(other) else other.T)
    return res if other.ndim == 1 else res.swapaxes(-1, -2) if not _backend.is_tensor(res) \
        else res.transpose(-1, -2)


def _getitem(orig, self, key):
    """Integers, slices and an ellipsis, one per axis (index arrays are not supported)."""
    items = _expand_key(key, self.ndim)
    arrays = [ax for ax, x in enumerate(items) if not isinstance(x, (slice, int, np.integer))]
    if len(arrays) > 1:
        raise NotImplementedError("indexing an n-D sparse array with more than one index "
                                  "array is not supported; index one axis at a time")
    keep = np.ones(self.nnz, dtype=bool)
    coords, shape = [], []
    repeat = None  # (source entry of every output entry, its position in the index array)
    for ax, (x, c) in enumerate(zip(items, self.coords)):
        n = self.shape[ax]
        if ax in arrays:
            idx = _index_array(x, n, ax)
            order = np.argsort(idx, kind="stable")
            lo = np.searchsorted(idx[order], c, side="left")
            counts = np.searchsorted(idx[order], c, side="right") - lo
            counts[~keep] = 0
            src = np.repeat(np.arange(len(c)), counts)
            start = np.repeat(np.cumsum(counts) - counts, counts)
            pos = order[np.repeat(lo, counts) + np.arange(len(src)) - start]
            repeat = (src, pos)
            coords.append(None)
            shape.append(len(idx))
        elif isinstance(x, slice):
            start, stop, step = x.indices(n)
            length = len(range(start, stop, step))
            pos = (c.astype(np.int64) - start)
            sel = (pos % step == 0) & (pos // step >= 0) & (pos // step < length)
            keep &= sel
            coords.append(pos // step)
            shape.append(length)
        elif isinstance(x, (int, np.integer)) and not isinstance(x, bool):
            i = int(x)
            if not -n <= i < n:
                raise IndexError(f"index ({i}) out of range for axis {ax} of size {n}")
            keep &= c == (i % n)
        else:
            raise IndexError(f"only integers, slices, '...' and one integer or boolean array "
                             f"index an n-D sparse array; got {x!r}")
    if repeat is not None:
        src, pos = repeat
        kept = keep[src]  # the axes after the array one may drop entries too
        src, pos = src[kept], pos[kept]
        data = self.data[_backend.index_tensor(src)] if self._is_torch else self.data[src]
        out = [np.asarray(c[src], dtype=np.int64) if c is not None else pos.astype(np.int64)
               for c in coords]
        advanced = [ax for ax, x in enumerate(items) if not isinstance(x, slice)]
        if advanced != list(range(advanced[0], advanced[-1] + 1)):
            # NumPy: advanced indices split by a slice put their dimension first
            at = next(k for k, c in enumerate(coords) if c is None)
            out.insert(0, out.pop(at))
            shape.insert(0, shape.pop(at))
        return self.__class__._from_coords(data, tuple(out), tuple(shape),
                                           maxprint=self.maxprint)
    sel = np.flatnonzero(keep)
    data = self.data[_backend.index_tensor(sel)] if self._is_torch else self.data[sel]
    if not shape:
        return data.sum() if self._is_torch else data.sum(dtype=self.dtype)[()]
    coords = tuple(np.asarray(c[sel], dtype=np.int64) for c in coords)
    return self.__class__._from_coords(data, coords, tuple(shape), maxprint=self.maxprint)


def _index_array(x, n, axis):
    """A 1-D integer (or boolean) index along ``axis`` as non-negative positions."""
    arr = np.asarray(_backend.to_numpy(x) if _backend.is_tensor(x) else x)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise IndexError(f"boolean index along axis {axis} has shape {arr.shape}, "
                             f"expected ({n},)")
        return np.flatnonzero(arr)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise IndexError(f"index arrays into an n-D sparse array must be 1-D integer or "
                         f"boolean arrays; got shape {arr.shape}, dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.max() >= n or arr.min() < -n):
        raise IndexError(f"index out of range for axis {axis} of size {n}")
    return np.where(arr < 0, arr + n, arr)


def tensordot(A, other, axes=2):
    """``A.tensordot(other, axes)`` for a COO array ``A`` (see ``coo_array.tensordot``)."""
    if not A._is_array:
        raise ValueError("Sparse matrices do not support an 'axes' parameter because swapping "
                         "dimensions is the only logical permutation.")
    dense = not issparse(other)
    if dense and not _backend.is_tensor(other):
        other = np.asarray(other)
    elif not dense:
        if not isinstance(other, _spbase):
            from ._interop import from_scipy

            other = from_scipy(other)
        other = _coo_array()(other)
    nd_a, nd_b = A.ndim, len(other.shape)
    if isinstance(axes, (int, np.integer)):
        if axes < 1 or axes > min(nd_a, nd_b):
            raise ValueError("axes integer is out of bounds for input arrays")
        a_axes, b_axes = list(range(nd_a - axes, nd_a)), list(range(axes))
    else:
        try:
            a_axes, b_axes = (list(np.atleast_1d(x)) for x in axes)
        except (TypeError, ValueError) as e:
            raise ValueError(f"axes must be an integer or a pair of axis sequences, got "
                             f"{axes!r}") from e
        if len(a_axes) != len(b_axes):
            raise ValueError("axes lists for A and B must have the same length")
        a_axes, b_axes = canonical_axes(a_axes, nd_a), canonical_axes(b_axes, nd_b)
    if [A.shape[a] for a in a_axes] != [other.shape[b] for b in b_axes]:
        raise ValueError("sizes of the corresponding axes must match")
    kept_a = tuple(a for a in range(nd_a) if a not in a_axes)
    kept_b = tuple(b for b in range(nd_b) if b not in b_axes)
    shape = tuple(A.shape[a] for a in kept_a) + tuple(other.shape[b] for b in kept_b)
    left = grouped_twin(A, kept_a, tuple(a_axes))
    if dense:
        order = tuple(b_axes) + kept_b
        right = other.permute(order) if _backend.is_tensor(other) else other.transpose(order)
        right = right.reshape(left.shape[1], -1)
        res = (left @ right).reshape(shape)
        return res if shape or _backend.is_tensor(res) else res[()]
    right = grouped_twin(other, tuple(b_axes), kept_b)
    res = left @ right
    if not shape:
        return res.toarray().reshape(())
    return unflatten(res, shape)


def _setitem(orig, self, key, x):
    """``A[key] = x`` with integers, slices, ``...`` and at most one index array: the stored
    entries in the region are removed and the assigned values appended (nonzero ones only,
    except for a single position), as SciPy's COO assignment does."""
    if self._is_torch:
        raise ValueError("assignment into a COO array whose values are a torch tensor would "
                         "change its pattern; in differentiable mode the pattern is fixed "
                         "(assign into A.detach() or rebuild the array)")
    items = _expand_key(key, self.ndim)
    positions, region = [], []
    arrays = 0
    for ax, x_ax in enumerate(items):
        n = self.shape[ax]
        if isinstance(x_ax, slice):
            pos = np.arange(*x_ax.indices(n), dtype=np.int64)
            region.append(len(pos))
        elif isinstance(x_ax, (int, np.integer)) and not isinstance(x_ax, bool):
            if not -n <= int(x_ax) < n:
                raise IndexError(f"index ({int(x_ax)}) out of range for axis {ax} of size {n}")
            pos = np.array([int(x_ax) % n], dtype=np.int64)
        else:
            pos = _index_array(x_ax, n, ax)
            arrays += 1
            region.append(len(pos))
        positions.append(pos)
    advanced = [ax for ax, x_ax in enumerate(items) if not isinstance(x_ax, slice)]
    if arrays > 1 or (arrays and advanced != list(range(advanced[0], advanced[-1] + 1))):
        raise NotImplementedError("assignment into an n-D sparse array takes integers, slices "
                                  "and at most one index array next to the integers")
    region = tuple(region)
    grids = [g.reshape(region) for g in np.meshgrid(*positions, indexing="ij")]
    if issparse(x):
        xs = x.tocoo()
        xs.sum_duplicates()
        values = np.asarray(xs.toarray(), dtype=self.dtype)
        stored = np.zeros(xs.shape, dtype=bool)
        stored[tuple(xs.coords)] = True
    else:
        values = np.asarray(x, dtype=self.dtype)
        stored = None
    if values.size == 0:
        return
    try:
        values = np.broadcast_to(values, region)
        if stored is not None:
            stored = np.broadcast_to(stored, region)
    except ValueError as e:
        raise ValueError(f"shape mismatch in assignment: cannot broadcast values of shape "
                         f"{np.shape(x)} to {region}") from e
    if stored is None:
        stored = np.ones(region, dtype=bool) if region == () else values != 0
    old_keys = np.ravel_multi_index(_coords64(self.coords), self.shape)
    region_keys = np.ravel_multi_index([g.ravel() for g in grids], self.shape)
    keep = ~np.isin(old_keys, region_keys)
    new = [g[stored].ravel() for g in grids]
    new_values = values[stored].ravel()
    _, first = np.unique(np.ravel_multi_index(new, self.shape), return_index=True)
    first = np.sort(first)
    idx = np.result_type(*(c.dtype for c in self.coords), np.int64)
    self.data = np.concatenate((self.data[keep], new_values[first]))
    self.coords = tuple(np.concatenate((c[keep], nc[first])).astype(idx, copy=False)
                        for c, nc in zip(self.coords, new))
    self.has_canonical_format = False


def _expand_key(key, nd):
    """A key as one item per axis (``...`` expanded, missing trailing axes as ``:``)."""
    items = list(key) if isinstance(key, tuple) else [key]
    if sum(x is Ellipsis for x in items) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if any(x is Ellipsis for x in items):
        at = next(k for k, x in enumerate(items) if x is Ellipsis)
        items = items[:at] + [slice(None)] * (nd - len(items) + 1) + items[at + 1:]
    if len(items) > nd:
        raise IndexError(f"Too many indices for array: array is {nd}-dimensional, but "
                         f"{len(items)} were indexed")
    return items + [slice(None)] * (nd - len(items))


def _iter(orig, self):
    for i in range(self.shape[0]):
        yield self[i]


def _nonzero(orig, self):
    mask = _backend.to_numpy(self.data) != 0
    return tuple(c[mask] for c in self.coords)


def _count_nonzero(orig, self, axis=None):
    if axis is None:
        return orig(flat_twin(self))
    S = self.copy()
    S.sum_duplicates()
    S.data = (_backend.to_numpy(S.data) != 0).astype(np.int64)
    return S.sum(axis=axis)


_METHODS = {
    **dict.fromkeys(ELEMENTWISE_METHODS, _elementwise),
    # sparse ± sparse concatenates the entries (replacing the entries above)
    "__add__": _add,
    "__radd__": functools.partial(_add, reflected=True),
    "__sub__": functools.partial(_add, sign=-1),
    "__rsub__": functools.partial(_add, sign=-1, reflected=True),
    **dict.fromkeys(REDUCTION_METHODS, _reduce),
    **{name: _in_place for name in ("sum_duplicates", "eliminate_zeros")},
    "count_nonzero": _count_nonzero,
    "_matmul_dispatch": _matmul,
    "_rmatmul_dispatch": _rmatmul,
    "__getitem__": _getitem,
    "__setitem__": _setitem,
    "__iter__": _iter,
    "transpose": _transpose,
    "nonzero": _nonzero,
    "toarray": _toarray,
    "todense": _toarray,
    "tocoo": _to_coo,
    "tocsr": _not_convertible("Cannot convert. CSR must be 1D or 2D. Got {nd}D"),
    "tocsc": _not_convertible("Cannot convert. CSC format must be 2D. Got {nd}D"),
    "todok": _not_convertible("Cannot convert. DOK must be 1D or 2D. Got {nd}D"),
    "todia": _not_convertible("Cannot convert. DIA format must be 2D. Got {nd}D"),
    "tolil": _not_convertible("Cannot convert. CSR must be 1D or 2D. Got {nd}D"),
    "tobsr": _not_convertible("Cannot convert. CSR must be 1D or 2D. Got {nd}D"),
    "diagonal": _no_nd("diagonal requires two dimensions"),
    "trace": _no_nd("diagonal requires two dimensions"),
    "setdiag": _no_nd("setdiag requires two dimensions"),
    "resize": _no_nd("only 1-D or 2-D input accepted"),
}


def _is_nd(self, args):
    return len(self._shape) > 2


def support_nd(cls):
    """Class decorator: give ``coo_array`` n-D arrays (applied after :func:`support_1d`)."""
    for name, impl in _METHODS.items():
        orig = getattr(cls, name, None)
        if orig is not None:
            setattr(cls, name, routed(orig, impl, _is_nd))
    cls._allow_nd = tuple(range(1, _MAX_NDIM + 1))
    return cls
