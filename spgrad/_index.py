"""Indexing (``A[key]``), assignment (``A[key] = x``), ``setdiag``, ``resize`` and ``reshape``.

The mixins here are bases of the container classes:

- :class:`_CompressedIndexMixin` for CSR and CSC (both families). It works on the CSR arrays of
  the (major x minor) matrix, swapping the key with ``self._swap``, and selects with the kernels
  of ``spgrad._cpu._index``. Every kernel returns the *source position* of each output entry, so
  the values are ``data[map]`` in plain mode and a differentiable gather in torch mode: indexing
  a differentiable array is differentiable (the gradient scatter-adds back onto the source
  pattern; an entry picked twice accumulates both gradients).
- :class:`_COOIndexMixin` for ``coo_array`` (SciPy 1.17's ``coo_matrix`` is not subscriptable):
  the same selections on a row-grouped view of the coordinates, duplicates kept.
- :class:`_COOShapeMixin` adds ``setdiag``/``resize``/``reshape`` to both COO families.

Keys follow NumPy's rules for 2-D arrays as SciPy implements them: integers (negative counted
from the end), slices with any step, integer arrays (broadcast together when both axes get one;
an ``np.ix_`` pair selects the outer product), boolean masks (per axis, or one full 2-D mask,
dense or sparse), ``Ellipsis`` and, for vector results, ``None``. Results whose SciPy type is a
1-D sparse array (``csr_array[i]``, ``coo_array[i, :]`` …) are 1-D ``coo_array`` vectors (see
``spgrad._oned``), on the CPU and on the GPU.
"""

import math
import operator
from warnings import warn

import numpy as np

from . import _backend
from ._base import SparseEfficiencyWarning, _spbase, issparse
from ._oned import vector_from_2d
from ._sputils import (
    asmatrix,
    check_shape,
    from_kernel,
    get_index_dtype,
    has_kernel_dtype,
    kernel_dtype,
    to_kernel,
    values_beside,
)

__all__ = []

_ONE_D = "1-D sparse arrays are not supported yet (issue 3)"


def _ops():
    from ._autograd import _ops

    return _ops


# ------------------------------------------------------------------------------------------------
# key parsing


def _is_int_scalar(x):
    return isinstance(x, (int, np.integer)) or (
        isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "iub")


def _check_int(i, n):
    i = operator.index(i)
    if i < -n or i >= n:
        raise IndexError(f"index ({i}) out of range")
    return i + n if i < 0 else i


def _host_key(x):
    """A CuPy index array read back to the host (keys are validated there), else ``x``."""
    return x.get() if _backend.is_device_array(x) else x


def _as_index_array(x, n, axis):
    """``x`` (a list or array) as a validated, non-negative intp array for an axis of ``n``."""
    arr = np.asarray(_host_key(x))
    if arr.dtype.kind == "b":
        if arr.ndim != 1 or arr.shape[0] != n:
            raise IndexError(f"boolean index did not match indexed array along axis {axis}; "
                             f"size of axis is {n} but boolean index has shape {arr.shape}")
        return np.flatnonzero(arr)
    if arr.dtype.kind not in "iuf":
        if arr.size == 0:
            arr = arr.astype(np.intp)
        else:
            raise IndexError(f"arrays used as indices must be of integer (or boolean) type, "
                             f"got {arr.dtype}")
    # Float arrays are accepted like SciPy does: bounds checked on the float values, negative
    # ones wrapped, then truncated toward zero by the cast below.
    if arr.size:
        lo, hi = arr.min(), arr.max()
        if hi >= n:
            raise IndexError(f"index ({hi}) out of range")
        if lo < -n:
            raise IndexError(f"index ({lo}) out of range")
    arr = arr.copy()
    if arr.size and lo < 0:
        arr[arr < 0] += n
    return arr.astype(np.intp, copy=False)


def _parse_item(x, n, axis):
    """One per-axis index: an int, a slice or an intp array (validated)."""
    if isinstance(x, slice):
        x.indices(n)  # raises ValueError for a zero step, TypeError for bad bounds
        return x
    if isinstance(x, (float, np.floating)):
        raise ValueError("Inexact indices into sparse matrices are not allowed")
    if _is_int_scalar(x):
        return _check_int(x, n)
    if isinstance(x, (str, bytes)) or x is None:
        raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and integer "
                         f"or boolean arrays are valid indices, got {x!r}")
    return _as_index_array(x, n, axis)


def _parse_key(key, shape):
    """``key`` as ``(row, col, nones)``: row/col each an int, a slice or an intp array
    (arrays of both axes already broadcast together) and ``nones`` the positions of ``None``
    in the key, or ``('mask', i, j)`` for a full 2-D boolean mask."""
    M, N = shape
    if issparse(key):
        key = key.toarray()
    if isinstance(key, (float, np.floating)) and float(key).is_integer():
        raise ValueError("Inexact indices into sparse matrices are not allowed")  # as SciPy
    if isinstance(key, (float, np.floating, str, bytes)):
        raise IndexError(f"Index dimension must be 1 or 2; got a scalar index {key!r} that "
                         f"is not an integer")
    items = [_host_key(x) for x in (key if isinstance(key, tuple) else [key])]
    # one full 2-D boolean mask
    if len(items) == 1 and not isinstance(items[0], (slice, type(None), type(Ellipsis))):
        arr = items[0]
        if issparse(arr):
            arr = arr.toarray()
        if not _is_int_scalar(arr) and not isinstance(arr, (int, float, str)):
            a = np.asarray(arr)
            if a.dtype.kind == "b" and a.ndim == 2:
                if a.shape != (M, N):
                    raise IndexError(f"boolean index has shape {a.shape}, expected the "
                                     f"array's shape {(M, N)}")
                i, j = np.nonzero(np.asarray(a))
                return i, j, ["mask"]
    items = [x.toarray() if issparse(x) else x for x in items]
    n_ell = sum(1 for x in items if x is Ellipsis)
    if n_ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    nones = [k for k, x in enumerate(items) if x is None]
    real = [x for x in items if x is not None]
    if n_ell:
        at = next(k for k, x in enumerate(real) if x is Ellipsis)
        fill = max(0, 2 - (len(real) - 1))
        real = real[:at] + [slice(None)] * fill + real[at + 1:]
    if len(real) > 2:
        raise IndexError(f"Too many indices for array: array is 2-dimensional, but "
                         f"{len(real)} were indexed")
    real += [slice(None)] * (2 - len(real))
    row = _parse_item(real[0], M, 0)
    col = _parse_item(real[1], N, 1)
    if isinstance(row, np.ndarray) and isinstance(col, np.ndarray):
        try:
            row, col = np.broadcast_arrays(row, col)
        except ValueError as e:
            raise IndexError(f"shape mismatch: indexing arrays could not be broadcast "
                             f"together with shapes {row.shape} {col.shape}") from e
    return row, col, nones


def _fresh_when_empty(fmt, row, col, shape):
    """Whether SciPy's indexing path for ``A[row, col]`` (each an int, a slice or a 1-D array)
    builds an empty result as a fresh container (the default index dtype) rather than keeping
    the source's index dtype.

    SciPy's compressed indexing chains a few steps per key type (``_major_slice``,
    ``_minor_slice``, ``_major_index_fancy``, ``_minor_index_fancy``, ``_get_submatrix``); the
    slicing and fancy steps return ``cls(shape)`` when their axis comes out empty (a slice only
    when it is not the literal ``slice(None)``), the submatrix step never does.
    """
    major, minor = (row, col) if fmt == "csr" else (col, row)
    n_major, n_minor = shape if fmt == "csr" else shape[::-1]

    def empty_slice(x, n):
        return x != slice(None) and len(range(*x.indices(n))) == 0

    def unit(x):
        return isinstance(x, slice) and x.step in (1, None)

    if isinstance(row, np.ndarray) and isinstance(col, np.ndarray):
        return len(row) == 0 or len(col) == 0  # outer: both fancy steps
    if isinstance(major, int) or isinstance(minor, int):
        # one int: fancy or (unit-step) submatrix on the other axis; CSR's int x stepped
        # slice builds its row directly, CSC's goes through _major_slice / _minor_slice
        other, n_other, other_is_major = ((minor, n_minor, False) if isinstance(major, int)
                                          else (major, n_major, True))
        if isinstance(other, np.ndarray):
            return len(other) == 0
        if unit(other) or (fmt == "csr" and not other_is_major):
            return False
        return empty_slice(other, n_other)
    if isinstance(major, slice) and isinstance(minor, slice):
        if unit(major) and unit(minor):
            return False
        return empty_slice(major, n_major) or empty_slice(minor, n_minor)
    if (fmt == "csr" and isinstance(major, np.ndarray) and isinstance(minor, slice)
            and not unit(minor)):
        return len(major) == 0  # SciPy turns the slice into an array: inner indexing
    fancy, sliced, n_sliced = ((major, minor, n_minor) if isinstance(major, np.ndarray)
                               else (minor, major, n_major))
    if len(fancy) == 0:
        return True
    if fmt == "csr" and fancy is major and unit(sliced):
        return False  # _major_index_fancy, then _get_submatrix (CSC: then _minor_slice)
    return empty_slice(sliced, n_sliced)


def _slice_positions(s, n, xp=np):
    """The positions a slice selects, as an intp array (allocated by ``xp``)."""
    return xp.arange(*s.indices(n), dtype=np.intp)


# ------------------------------------------------------------------------------------------------
# values from a map


def _take(data, pos):
    """``data[pos]``: a NumPy take in plain mode, a differentiable gather in torch mode."""
    if _backend.is_tensor(data):
        return _ops().gather(data, pos)
    if _backend.is_device_array(data):
        return data[pos]
    return np.take(data, pos)


def _check_leaf_inplace(A):
    """Assignment into a leaf tensor that requires grad is refused, like torch does."""
    if A._is_torch and A.data.requires_grad and A.data.is_leaf:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation: "
            "assigning into a sparse array whose values require grad would modify a leaf of "
            "the autograd graph. Assign into A.detach() (or a copy: B = A.copy()) instead")


class _CompressedIndexMixin:
    """``__getitem__``/``__setitem__``/``setdiag``/``resize``/``reshape`` for CSR and CSC.

    Indexing returns what SciPy 1.17 returns: a NumPy scalar for ``A[i, j]``, a sparse array
    of the same format for 2-D selections, a dense ``ndarray`` (``np.matrix`` for the matrix
    family) for paired integer arrays and boolean masks, and, for the matrix family, 1×n / n×1
    matrices for a single row or column. A single row or column of a sparse *array* is a 1-D
    ``coo_array``, as in SciPy.

    With torch values (differentiable mode) the selected values stay in the autograd graph.
    Assignment with torch values: updating stored entries of a non-leaf records the update in
    the graph; changing the pattern, or writing into a leaf that requires grad, raises (the
    pattern of a differentiable array is fixed; use ``A.detach()`` or rebuild the array).

    Examples
    --------
    >>> import numpy as np
    >>> import spgrad as sp
    >>> A = sp.csr_array([[1, 0, 2], [0, 3, 0], [4, 0, 5]])
    >>> A[1:, ::2].toarray()
    array([[0, 0],
           [4, 5]])
    >>> int(A[2, -1])
    5
    >>> A[[0, 2], [2, 0]]
    array([2, 4])
    """

    # ------------------------------------------------------------------------ getitem
    def __getitem__(self, key):
        row, col, nones = _parse_key(key, self.shape)
        if nones == ["mask"]:
            return self._pairs_result(row, col)
        is_arr = [isinstance(x, np.ndarray) for x in (row, col)]
        is_int = [isinstance(x, int) for x in (row, col)]
        if nones:
            return self._with_none(row, col, nones, key)
        if all(is_int):
            return self._scalar(row, col)
        if all(is_arr):
            # (m, 1) and (1, n) index arrays broadcast to an outer product: a submatrix
            if row.ndim == 2 and row.shape[1] and col.shape[0] and _outer_from_key(key):
                return self._outer(row[:, 0], col[0, :], fresh_when_empty=True)
            if row.ndim > 2:
                raise IndexError(f"Indexing that leads to >2D is not supported by "
                                 f"{self.format} format. Try converting to COO format")
            return self._pairs_result(row, col)
        for x in (row, col):
            if isinstance(x, np.ndarray) and x.ndim != 1:
                if any(is_int):
                    raise NotImplementedError(
                        "indexing with an integer and a multi-dimensional array is not "
                        "supported yet (SciPy returns a COO array)")
                raise IndexError(f"Indexing that leads to >2D is not supported by "
                                 f"{self.format} format. Try converting to COO format")
        fresh = _fresh_when_empty(self.format, row, col, self.shape)
        if any(is_int):
            row = np.array([row]) if is_int[0] else row
            col = np.array([col]) if is_int[1] else col
            if self._is_array:  # a single row or column: a 1-D coo_array, as in SciPy
                vec = vector_from_2d(self._outer(row, col, fresh))
                if vec.shape[0] == 0:  # SciPy's empty vectors keep the source's index dtype
                    vec.coords = (vec.coords[0].astype(self.indices.dtype),)
                return vec
        return self._outer(row, col, fresh)

    def _with_none(self, row, col, nones, key):
        """Keys with ``None``: only the vector cases SciPy supports in 2-D."""
        is_int = [isinstance(x, int) for x in (row, col)]
        n_items = len(key) if isinstance(key, tuple) else 1
        if sum(is_int) != 1 or len(nones) != 1 or any(
                isinstance(x, np.ndarray) and x.ndim != 1 for x in (row, col)):
            raise IndexError(f"Indexing that leads to >2D is not supported by "
                             f"{self.format} format. Try converting to COO format")
        # NumPy: the int axis disappears, None adds a length-1 axis where it stands
        vec = self._outer(np.array([row]) if is_int[0] else row,
                          np.array([col]) if is_int[1] else col)
        # position of the None relative to the remaining (non-int) axis in the key
        items = list(key) if isinstance(key, tuple) else [key]
        none_at = nones[0]
        other_at = next(k for k, x in enumerate(items)
                        if x is not None and not _is_int_scalar(x))  \
            if any(x is not None and not _is_int_scalar(x) for x in items) else n_items
        want_row = none_at < other_at  # result (1, k)
        is_row = is_int[0]  # vec is (1, k) when the row was an int
        if want_row != is_row:
            vec = vec.transpose()
            vec = vec.asformat(self.format)
        if n_items == 3:
            return vec.tocoo()
        return vec

    def _scalar(self, i, j):
        v = self._pairs(np.array([i]), np.array([j]))
        if _backend.is_tensor(v):
            return v[0]
        return v[0]

    def _pairs_result(self, row, col):
        shape = row.shape
        if self._on_gpu:
            # dense values (a 2-D key gives a sparse array of them, as below); CuPy has no
            # np.matrix, so the matrix family's (1, n) rows are 2-D arrays
            if row.size == 0 and len(shape) == 1:
                if self._is_array:  # an empty sparse vector, as on the CPU
                    return self._coo_container((0,), dtype=self.dtype).to(self.device)
                return self._empty((1, 0), self.dtype, self._xp())
            v = self._pairs(row.ravel(), col.ravel()).reshape(shape)
            if len(shape) == 2:
                return self.__class__(v)
            return v if self._is_array else v.reshape(1, -1)
        if row.size == 0 and len(shape) == 1:
            # nothing selected: SciPy returns an empty sparse vector, not a dense one
            if self._is_array:
                return self._coo_container((0,), dtype=self.dtype)
            return self.__class__((1, 0), dtype=self.dtype)
        v = self._pairs(row.ravel(), col.ravel())
        v = v.reshape(shape)
        if len(shape) == 2:
            # SciPy builds a sparse array of the same format from the dense values
            return self.__class__(v)
        if _backend.is_tensor(v):
            return v if self._is_array or v.ndim == 2 else v.reshape(1, -1)
        return v if self._is_array else asmatrix(v)

    def _pairs(self, row, col):
        """Values (duplicates summed) at the pairs ``(row[k], col[k])``, as a 1-D array."""
        major, minor = self._swap((row, col))
        idt = self.indptr.dtype
        major, minor = (_key_on_device(self, np.ascontiguousarray(a, dtype=idt))
                        for a in (major, minor))
        k, xp = self._kernels(), self._xp()
        srt = bool(self.has_sorted_indices)
        n = len(major)
        if self._is_torch:
            counts = xp.empty(n, dtype=np.int64)
            total = k.csr_lookup_count(self.indptr, self.indices, srt, major, minor, counts)
            offsets = xp.zeros(n + 1, dtype=np.int64)
            offsets[1:] = xp.cumsum(counts)
            pos = xp.empty(total, dtype=idt)
            k.csr_lookup_fill(self.indptr, self.indices, srt, major, minor, offsets, pos)
            seg = _backend.repeat(xp.arange(n), counts)
            ops = _ops()
            return ops.axis_sums(ops.gather(self.data, pos), seg, n)
        kdt = kernel_dtype(self.dtype)
        out = xp.empty(n, dtype=kdt)
        k.csr_lookup_values(self.indptr, self.indices, to_kernel(self.data, kdt), srt,
                            major, minor, out)
        return from_kernel(out, self.dtype)

    def _outer(self, row, col, fresh_when_empty=True):
        """The submatrix ``A[row][:, col]`` (each a slice or a 1-D intp array), same format.
        An empty result has the default index dtype when ``fresh_when_empty`` (as SciPy's
        fresh containers), else the source's (see :func:`_fresh_when_empty`)."""
        M, N = self.shape
        nrow = len(range(*row.indices(M))) if isinstance(row, slice) else len(row)
        ncol = len(range(*col.indices(N))) if isinstance(col, slice) else len(col)
        if (isinstance(row, slice) and isinstance(col, slice)
                and row.indices(M) == (0, M, 1) and col.indices(N) == (0, N, 1)):
            return self.copy()
        if nrow == 0 or ncol == 0:
            M2 = self._swap((nrow, ncol))[0]
            idt = get_index_dtype(maxval=max(nrow, ncol))
            if not fresh_when_empty and self._is_array:
                idt = np.promote_types(idt, self.indices.dtype)
            xp = self._xp()
            return self.__class__._from_arrays(
                self.data[:0], xp.zeros(0, dtype=idt), xp.zeros(M2 + 1, dtype=idt),
                (nrow, ncol), canonical=True, maxprint=self.maxprint)
        major, minor = self._swap((row, col))
        data, indices, indptr, srt = _select_compressed(self, major, minor)
        if not self._is_array:
            # the matrix family keeps int32 indices whenever the contents fit
            idt = get_index_dtype((indices, indptr), maxval=max(nrow, ncol),
                                  check_contents=True)
            indices = indices.astype(idt, copy=False)
            indptr = indptr.astype(idt, copy=False)
        out = self.__class__._from_arrays(data, indices, indptr, (nrow, ncol),
                                          sorted_indices=srt, maxprint=self.maxprint)
        return out

    # ------------------------------------------------------------------------ setitem
    def __setitem__(self, key, x):
        row, col, nones = _parse_key(key, self.shape)
        if nones and nones != ["mask"]:
            raise IndexError(f"Indexing that leads to >2D is not supported by {self.format} "
                             f"format. Try converting to COO format")
        xp = self._xp()
        if self._on_gpu and issparse(x):
            x = _sparse_value_on_gpu(x, self)
        elif self._on_gpu and not (_backend.is_tensor(x) or _backend.is_device_array(x)):
            x = _backend.to_device(np.asarray(x, dtype=self.dtype), self.device)  # host values
        _backend.check_same_device(self, x)
        if isinstance(row, int) and isinstance(col, int):
            if issparse(x):
                x = x.toarray()
            elif _backend.is_device_array(x):
                x = x.astype(self.dtype, copy=False)
            elif not _backend.is_tensor(x):
                x = np.asarray(x, dtype=self.dtype)
            if math.prod(x.shape) != 1:
                raise ValueError("Trying to assign a sequence to an item")
            self._set_many(np.array([row]), np.array([col]), x.reshape(-1))
            return
        M, N = self.shape
        if isinstance(row, slice):
            row = _slice_positions(row, M)[:, None]
        else:
            row = np.atleast_1d(row)
        if isinstance(col, slice):
            col = _slice_positions(col, N)[None, :]
            if row.ndim == 1:
                row = row[:, None]
        else:
            col = np.atleast_1d(col)
        try:
            i, j = np.broadcast_arrays(row, col)
        except ValueError as e:
            raise IndexError(f"shape mismatch: indexing arrays could not be broadcast "
                             f"together with shapes {row.shape} {col.shape}") from e
        if issparse(x):
            if 0 in x.shape:
                return
            if i.ndim == 1:
                i, j = i[None], j[None]
            xc = x.tocoo()
            if len(xc.shape) != 2:
                raise ValueError("shape mismatch in assignment")
            bro = xc.shape[0] == 1 and i.shape[0] != 1
            bco = xc.shape[1] == 1 and i.shape[1] != 1
            if not ((bro or xc.shape[0] == i.shape[0]) and (bco or xc.shape[1] == i.shape[1])):
                raise ValueError(f"shape mismatch in assignment: index shape {i.shape}, "
                                 f"value shape {xc.shape}")
            self._set_sparse(i, j, xc, bro, bco)
            return
        if _backend.is_tensor(x):
            x = x.to(_backend.torch_dtype(self.dtype))
            xs = tuple(d for d in x.shape if d != 1)
        else:
            x = x.astype(self.dtype, copy=False) if _backend.is_device_array(x) else \
                np.asarray(x, dtype=self.dtype)
            xs = x.squeeze().shape
        if xs != tuple(d for d in i.shape if d != 1):
            try:
                x = x.broadcast_to(i.shape) if _backend.is_tensor(x) else xp.broadcast_to(
                    x, i.shape)
            except (ValueError, RuntimeError) as e:
                raise ValueError(f"shape mismatch in assignment: cannot broadcast values of "
                                 f"shape {tuple(x.shape)} to the index shape {i.shape}") from e
        if math.prod(x.shape) == 0:
            return
        x = x.reshape(i.shape)
        self._set_many(i.ravel(), j.ravel(), x.reshape(-1))

    def _set_sparse(self, i, j, xc, bro, bco):
        """``A[i, j] = xc`` for a sparse value (on ``A``'s device) and broadcast index arrays
        ``i``, ``j`` (host): the region's stored entries are zeroed, then ``xc``'s stored
        entries (broadcast along ``bro``/``bco``) are set, as in SciPy."""
        xp = self._xp()
        xc = xc.copy()
        xc.sum_duplicates()
        self._zero_many(i.ravel(), j.ravel())
        M, N = i.shape
        r, c = xc.row.astype(np.intp), xc.col.astype(np.intp)
        if _backend.is_tensor(xc.data):
            v = xc.data.to(_backend.torch_dtype(self.dtype))
        else:
            v = xc.data.astype(self.dtype) if _backend.is_device_array(xc.data) else \
                np.asarray(xc.data, dtype=self.dtype)
        if len(r) == 0:
            return
        if bro:
            r = xp.repeat(xp.arange(M), len(r))
            c = xp.tile(c, M)
            v = v.tile((M,)) if _backend.is_tensor(v) else xp.tile(v, M)
        if bco:
            r = xp.repeat(r, N)
            c = xp.tile(xp.arange(N), len(c))
            v = v.repeat_interleave(N) if _backend.is_tensor(v) else xp.repeat(v, N)
        i, j = (_key_on_device(self, a) for a in (i, j))  # the value's positions are there
        self._set_many(i[r, c], j[r, c], v)

    def _lookup_offsets(self, major, minor):
        idt = self.indptr.dtype
        xp = self._xp()
        major = xp.ascontiguousarray(_key_on_device(self, major), dtype=idt)
        minor = xp.ascontiguousarray(_key_on_device(self, minor), dtype=idt)
        offsets = xp.empty(len(major), dtype=np.int64)
        k = self._kernels()
        dup = k.csr_lookup_offsets(self.indptr, self.indices, bool(self.has_sorted_indices),
                                   major, minor, offsets)
        return offsets, dup

    def _offsets_summed(self, major, minor):
        """Positions of the entries at (major, minor) (-1 where none), after summing
        duplicates in place when a requested position holds several (as SciPy does)."""
        offsets, dup = self._lookup_offsets(major, minor)
        if dup:
            self.sum_duplicates()
            offsets, _ = self._lookup_offsets(major, minor)
        return offsets

    def _zero_many(self, row, col):
        major, minor = self._swap((row, col))
        offsets = self._offsets_summed(major, minor)
        found = offsets[offsets >= 0]
        if len(found):
            if self._is_torch:
                _check_leaf_inplace(self)
                self.data = self.data.index_fill(0, _backend.index_tensor(found), 0)
            else:
                self.data[found] = 0

    def _set_many(self, row, col, x):
        """``A[row[k], col[k]] = x[k]`` (1-D arrays; a later pair wins over an earlier one)."""
        if self._is_torch or _backend.is_tensor(x):
            return self._set_many_torch(row, col, x)
        major, minor = self._swap((row, col))
        if self._on_gpu:
            # a GPU scatter with repeated targets writes in no defined order: keep the last
            # pair of each position first (NumPy's assignment is last-wins itself)
            major, minor = ((a if _backend.is_device_array(a) else
                             _key_on_device(self, np.asarray(a))).astype(np.int64)
                            for a in (major, minor))
            x = x.astype(self.dtype, copy=False).reshape(-1)
            keep = _last_of_each(self._xp(), major * max(self._major_minor()[1], 1) + minor)
            major, minor, x = major[keep], minor[keep], x[keep]
        else:
            x = np.asarray(x, dtype=self.dtype).reshape(-1)
        offsets = self._offsets_summed(major, minor)
        found = offsets >= 0
        if bool(found.all()):
            self.data[offsets] = x
            return
        warn(f"Changing the sparsity structure of a {self.__class__.__name__} is expensive. "
             f"lil and dok are more efficient.", SparseEfficiencyWarning, stacklevel=3)
        self.data[offsets[found]] = x[found]
        new = ~found
        if not self._on_gpu:
            major, minor = np.asarray(major), np.asarray(minor)
        self._insert_many(major[new], minor[new], x[new])

    def _set_many_torch(self, row, col, x):
        major, minor = self._swap((row, col))
        offsets = self._offsets_summed(major, minor)
        if not (offsets >= 0).all():
            raise ValueError(
                "this assignment would change the sparsity pattern of an array whose values "
                "are a torch tensor; in differentiable mode the pattern is fixed. Store the "
                "new positions first (e.g. as explicit zeros) or rebuild the array, or assign "
                "into A.detach() to leave the autograd graph")
        if not self._is_torch:
            self.data = _backend.as_tensor(self.data)
        _check_leaf_inplace(self)
        xv = _backend.as_tensor(x, dtype=self.dtype).reshape(-1)
        # a later pair wins: keep the last occurrence of every offset
        rev = offsets[::-1]
        _, last = self._xp().unique(rev, return_index=True)
        keep = len(offsets) - 1 - last
        self.data = self.data.index_put((_backend.index_tensor(offsets[keep]),),
                                        xv[_backend.index_tensor(keep)])

    def _insert_many(self, major, minor, x):
        """Add entries at new (major, minor) positions (duplicates: the last one wins)."""
        M, N = self._major_minor()
        xp = self._xp()
        keys = major.astype(np.int64) * max(N, 1) + minor.astype(np.int64)
        keep = _last_of_each(xp, keys)
        major, minor, x = major[keep], minor[keep], x[keep]
        sorted_before = bool(self.has_sorted_indices)
        nnz = self.nnz
        idx_dtype = get_index_dtype((self.indices, self.indptr), maxval=nnz + len(x))
        old_major = _backend.repeat(xp.arange(M, dtype=np.int64), xp.diff(self.indptr))
        all_major = xp.concatenate((old_major, major.astype(np.int64)))
        all_minor = xp.concatenate((self.indices[:nnz].astype(np.int64),
                                    minor.astype(np.int64)))
        if sorted_before:  # by (major, minor): one stable sort of the linear keys
            order = _backend.stable_argsort(all_major * max(N, 1) + all_minor)
        else:
            order = _backend.stable_argsort(all_major)
        counts = xp.bincount(all_major, minlength=M)
        indptr = xp.zeros(M + 1, dtype=idx_dtype)
        indptr[1:] = xp.cumsum(counts)
        self.indptr = indptr
        self.indices = all_minor[order].astype(idx_dtype)
        self.data = xp.concatenate((self.data[:nnz], x))[order]
        for flag in ("_has_sorted_indices", "_has_canonical_format"):
            self.__dict__.pop(flag, None)
        if sorted_before:
            self.has_sorted_indices = True
        self.__dict__.pop("_pattern_cache", None)

    # ------------------------------------------------------------------- setdiag
    def setdiag(self, values, k=0):
        """Set the ``k``-th diagonal (entries ``a[i, i + k]``) in place.

        Parameters
        ----------
        values : scalar or array_like
            New values; a scalar sets the whole diagonal. A shorter sequence sets the first
            entries, a longer one is truncated.
        k : int, optional
            Diagonal offset (0: main diagonal, > 0: above, < 0: below).

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.csr_array((3, 3))
        >>> A.setdiag([1.0, 2.0, 3.0])
        >>> A.toarray()
        array([[1., 0., 0.],
               [0., 2., 0.],
               [0., 0., 3.]])
        """
        M, N = self.shape
        if (k > 0 and k >= N) or (k < 0 and -k >= M):
            raise ValueError("k exceeds array dimensions")
        xp = self._xp()
        values = values_beside(self, values, "setdiag on the GPU")
        if 0 in self.shape:
            return
        broadcast = values.ndim == 0
        if k < 0:
            n = min(M + k, N) if broadcast else min(M + k, N, len(values))
            i = xp.arange(-k, n - k)
            j = xp.arange(n)
        else:
            n = min(M, N - k) if broadcast else min(M, N - k, len(values))
            i = xp.arange(n)
            j = xp.arange(k, k + n)
        if n <= 0:
            return
        if self._is_torch or _backend.is_tensor(values):
            x = _backend.as_tensor(values, dtype=self.dtype).reshape(-1)
            x = x.expand(n) if broadcast else x[:n]
            self._set_many_torch(i, j, x)
            return
        if broadcast:
            x = xp.empty(n, dtype=self.dtype)
            x[...] = values
        else:
            x = xp.asarray(values[:n], dtype=self.dtype).reshape(-1)
        major, minor = self._swap((i, j))
        offsets = self._offsets_summed(major, minor)
        if bool((offsets >= 0).all()):
            self.data[offsets] = x
            return
        # SciPy rebuilds through COO here: the entries on the set part of the diagonal are
        # replaced (duplicates included), the rest of the pattern is kept as it is
        sorted_before = bool(self.has_sorted_indices)
        nnz = self.nnz
        old_major = _backend.repeat(xp.arange(len(self.indptr) - 1, dtype=np.int64),
                                    xp.diff(self.indptr))
        old_row, old_col = self._swap((old_major, self.indices[:nnz].astype(np.int64)))
        keep = (old_col - old_row != k) | ((old_row if k >= 0 else old_col) >= n)
        all_row = xp.concatenate((old_row[keep], i))
        all_col = xp.concatenate((old_col[keep], j))
        # like SciPy, values given as an array keep their dtype here (NumPy promotion)
        data = xp.concatenate((self.data[:nnz][keep], x if broadcast else values[:n]))
        all_major, all_minor = self._swap((all_row, all_col))
        n_major = len(self.indptr) - 1
        if sorted_before:  # by (major, minor): one stable sort of the linear keys
            order = _backend.stable_argsort(all_major * max(self._swap((N, M))[0], 1)
                                            + all_minor)
        else:
            order = _backend.stable_argsort(all_major)
        idx_dtype = get_index_dtype((self.indices, self.indptr), maxval=max(len(data), N, M))
        indptr = xp.zeros(n_major + 1, dtype=idx_dtype)
        indptr[1:] = xp.cumsum(xp.bincount(all_major, minlength=n_major))
        self.indptr = indptr
        self.indices = all_minor[order].astype(idx_dtype)
        self.data = data[order]
        for flag in ("_has_sorted_indices", "_has_canonical_format", "_pattern_cache"):
            self.__dict__.pop(flag, None)
        if sorted_before:
            self.has_sorted_indices = True

    # ------------------------------------------------------------------- resize/reshape
    def resize(self, *shape):
        """Resize in place to ``shape``; entries outside the new shape are dropped.

        Parameters
        ----------
        *shape : int or tuple of int
            The new shape, as ``resize(m, n)`` or ``resize((m, n))``.

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.csr_array([[1, 2], [3, 4]])
        >>> A.resize((3, 1))
        >>> A.toarray()
        array([[1],
               [3],
               [0]])
        """
        shape = check_shape(shape, allow_nd=self._allow_nd)
        new_M, new_N = self._swap(shape)
        M, N = self._major_minor()
        xp = self._xp()
        nnz = self.nnz
        indptr, indices, data = self.indptr, self.indices[:nnz], self.data[:nnz]
        if new_M < M:
            end = int(indptr[new_M])
            indices, data, indptr = indices[:end], data[:end], indptr[:new_M + 1].copy()
        elif new_M > M:
            indptr = xp.concatenate((indptr, xp.repeat(indptr[-1:], new_M - M)))
        if new_N < N:
            mask = indices < new_N
            if not bool(mask.all()):
                keep = xp.flatnonzero(mask)
                major = _backend.repeat(xp.arange(len(indptr) - 1), xp.diff(indptr))[keep]
                indices = indices[keep]
                data = data[_backend.index_tensor(keep)] if _backend.is_tensor(data) \
                    else data[keep]
                indptr = xp.zeros_like(indptr)
                indptr[1:] = xp.cumsum(xp.bincount(major, minlength=len(indptr) - 1))
        self.indptr, self.indices, self.data = indptr, indices, data
        self._shape = shape
        self.__dict__.pop("_pattern_cache", None)

    def reshape(self, *args, **kwargs):
        """The same entries in a sparse array/matrix of a new shape (COO, as in SciPy).

        The entries keep their row-major (``order='C'``) or column-major (``'F'``) positions;
        the result is COO unless the shape is unchanged.

        Parameters
        ----------
        shape : tuple of int
            Passed as ``reshape((m, n))`` or ``reshape(m, n)``; one dimension may be -1
            (inferred).
        order : {'C', 'F'}, optional
            Read and write the entries in row-major ('C', default) or column-major order.
        copy : bool, optional
            Copy the stored arrays even when they could be shared.

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.csr_array([[1, 0, 2], [0, 3, 0]])
        >>> B = A.reshape((3, 2))
        >>> B.format, B.toarray().tolist()
        ('coo', [[1, 0], [2, 0], [3, 0]])
        """
        return _reshape(self, args, kwargs)


def _outer_from_key(key):
    """Whether a (rows, cols) array pair in ``key`` has the ``np.ix_`` shapes (m, 1), (1, n)."""
    items = list(key) if isinstance(key, tuple) else [key]
    if len(items) != 2:
        return False
    shapes = [np.shape(x) for x in items]
    return (len(shapes[0]) == 2 and len(shapes[1]) == 2 and shapes[0][1] == 1
            and shapes[1][0] == 1)


def _last_of_each(xp, keys):
    """Positions of the last occurrence of every distinct value of ``keys``, in increasing
    order (a later assignment to a position wins)."""
    _, last = xp.unique(keys[::-1], return_index=True)
    return xp.sort(len(keys) - 1 - last)


def _key_on_device(A, key):
    """A host index array where ``A``'s arrays are (copied to its GPU when they are there)."""
    return _backend.to_device(key, A.device) if A._on_gpu else key


def _select_compressed(A, major, minor):
    """(data, indices, indptr, sorted) of ``A``'s (major x minor) CSR form restricted to
    ``major`` rows and ``minor`` columns (slices or 1-D intp arrays).

    Plain values of a kernel dtype are copied by the selection kernels themselves; other
    values (torch tensors: a differentiable gather; dtypes without kernels) are taken from
    the source positions the kernels return."""
    M, N = A._major_minor()
    nnz = A.nnz
    indptr, indices = A.indptr, A.indices[:nnz]
    idt = indptr.dtype
    k, xp = A._kernels(), A._xp()
    srt = bool(A.has_sorted_indices)
    by_kernel = not _backend.is_tensor(A.data) and has_kernel_dtype(A.data.dtype)
    # the values of the current selection (map mode: an empty placeholder for the kernels)
    cur_data = A.data if by_kernel else xp.empty(0)
    pos = None  # source positions (map mode); None means "the range [s, e)"

    def outputs(tot, src):
        """Empty outputs ``(out_indices, out_data, out_map)`` for ``tot`` entries."""
        out_data = xp.empty(tot if by_kernel else 0, dtype=src.dtype)
        return (xp.empty(tot, dtype=idt), out_data,
                xp.empty(0 if by_kernel else tot, dtype=idt))

    # ---- major axis
    if isinstance(major, slice) and major.indices(M)[2] == 1:
        start, stop, _ = major.indices(M)
        stop = max(start, stop)
        cur_indptr = indptr[start:stop + 1]
        cur_indices = indices
        s, e = int(cur_indptr[0]), int(cur_indptr[-1])
        ranged = True
    else:
        if isinstance(major, slice):
            rows = _slice_positions(major, M, xp).astype(idt)
        else:
            rows = _key_on_device(A, np.ascontiguousarray(major, dtype=idt))
        counts = xp.empty(len(rows) + 1, dtype=np.int64)
        tot = k.csr_row_gather_count(indptr, rows, counts)
        if tot > np.iinfo(idt).max:
            idt = np.dtype(np.int64)
            indptr, indices = indptr.astype(idt), indices.astype(idt)
            rows = rows.astype(idt)
        cur_indptr = counts.astype(idt)
        cur_indices, out_data, pos = outputs(tot, cur_data)
        k.csr_row_gather(indptr, indices, rows, cur_indptr, cur_indices, cur_data, out_data,
                         pos)
        cur_data = out_data
        if by_kernel:
            pos = None
        ranged = False
    # ---- minor axis
    if (isinstance(minor, np.ndarray) and len(minor)
            and minor[-1] - minor[0] == len(minor) - 1 and (np.diff(minor) == 1).all()):
        # a run of consecutive columns (one column, say): the range kernel needs no map
        minor = slice(int(minor[0]), int(minor[-1]) + 1)
    if isinstance(minor, slice) and minor.indices(N) == (0, N, 1):
        if ranged:
            out_indptr = (cur_indptr - cur_indptr[0]).astype(idt)
            out_indices = cur_indices[s:e].copy()
            if by_kernel:
                cur_data = cur_data[s:e].copy()
            else:
                pos = xp.arange(s, e, dtype=idt)
        else:
            out_indptr, out_indices = cur_indptr, cur_indices
    else:
        n_out = len(cur_indptr) - 1
        counts = xp.empty(n_out + 1, dtype=np.int64)
        if isinstance(minor, slice) and minor.indices(N)[2] == 1:
            c0, c1, _ = minor.indices(N)
            c1 = max(c0, c1)
            tot = k.csr_submatrix_count(cur_indptr, cur_indices, 0, n_out, c0, c1, counts)
            out_indptr = counts.astype(idt)
            out_indices, out_data, sub = outputs(tot, cur_data)
            k.csr_submatrix(cur_indptr, cur_indices, 0, n_out, c0, c1, out_indptr,
                            out_indices, cur_data, out_data, sub)
        else:
            if isinstance(minor, slice):
                cols = _slice_positions(minor, N, xp).astype(idt)
                if len(cols) > 1 and minor.indices(N)[2] < 0:
                    srt = False
            else:
                if len(minor) and not (np.diff(minor) > 0).all():  # (a host key)
                    srt = False
                cols = _key_on_device(A, np.ascontiguousarray(minor, dtype=idt))
            col_offsets = xp.empty(N + 1, dtype=idt)
            col_order = xp.empty(len(cols), dtype=idt)
            k.column_map(cols, col_offsets, col_order)
            tot = k.csr_column_select_count(cur_indptr, cur_indices, col_offsets, counts)
            if tot > np.iinfo(idt).max:  # repeated columns can outgrow int32: upcast
                idt = np.dtype(np.int64)
                cur_indptr, cur_indices, col_offsets, col_order = (
                    a.astype(idt) for a in (cur_indptr, cur_indices, col_offsets, col_order))
            out_indptr = counts.astype(idt)
            out_indices, out_data, sub = outputs(tot, cur_data)
            k.csr_column_select(cur_indptr, cur_indices, col_offsets, col_order, out_indptr,
                                out_indices, cur_data, out_data, sub)
        cur_data = out_data
        if not by_kernel:
            pos = sub if pos is None else pos[sub]
    data = cur_data if by_kernel else _take(A.data, pos)
    return data, out_indices, out_indptr, srt


# ------------------------------------------------------------------------------------------------
# reshape (shared by every format: through COO, like SciPy)


def _reshape(A, args, kwargs):
    order = kwargs.pop("order", "C")
    copy = kwargs.pop("copy", False)
    if kwargs:
        raise TypeError(f"reshape() got unexpected keywords arguments: "
                        f"{', '.join(kwargs.keys())}")
    shape = check_shape(args, A.shape, allow_nd=range(1, 65))
    if shape == A.shape:
        return A.copy() if copy else A
    if len(shape) != 2 and not A._is_array:
        raise ValueError(f"matrices must be 2-D, got the shape {shape}")
    if order not in ("C", "F"):
        raise ValueError(f"order must be 'C' or 'F', got {order!r}")
    coo = A.tocoo(copy=copy)
    idx_dtype = get_index_dtype(coo.coords, maxval=max(shape))
    new = _unravel(_ravel(coo.coords, A.shape, order), shape, order)
    return coo._coo_container._from_coords(
        coo.data, tuple(c.astype(idx_dtype, copy=False) for c in new), shape,
        maxprint=A.maxprint)


def _ravel(coords, shape, order):
    """Flat int64 positions of valid coordinates (row-major 'C' or column-major 'F')."""
    axes = range(len(shape)) if order == "C" else range(len(shape) - 1, -1, -1)
    flat = None
    for ax in axes:
        c = coords[ax].astype(np.int64)
        flat = c if flat is None else flat * shape[ax] + c
    return flat


def _unravel(flat, shape, order):
    """Coordinates of int64 flat positions in ``shape`` (the inverse of :func:`_ravel`)."""
    axes = range(len(shape) - 1, -1, -1) if order == "C" else range(len(shape))
    coords = [None] * len(shape)
    for ax in axes:
        if ax == (axes[-1]):
            coords[ax] = flat
        else:
            flat, coords[ax] = np.divmod(flat, shape[ax])
    return coords


# ------------------------------------------------------------------------------------------------
# COO


def _coo_grouped(A):
    """A CSR container holding ``A``'s entries grouped by row, duplicates and order within a
    row kept, and the source position of each of its entries."""
    M, N = A.shape
    row, col = A.row, A.col
    idt = row.dtype
    k, xp = _backend.kernels(row, col), A._xp()
    indptr = xp.empty(M + 1, dtype=idt)
    indices = xp.empty(A.nnz, dtype=idt)
    perm = xp.empty(A.nnz, dtype=idt)
    k.coo_tocsr_pattern(M, row, col, indptr, indices, perm)
    csr = A._csr_container._from_arrays(_take(A.data, perm), indices, indptr, (M, N),
                                        sorted_indices=False)
    return csr


class _COOIndexMixin:
    """``__getitem__``/``__setitem__`` of ``coo_array`` (SciPy 1.17 semantics): results are
    COO arrays that keep duplicate entries; ``A[i, j]`` sums them. Assignment removes the
    entries stored in the indexed region and appends the nonzero values assigned.

    Examples
    --------
    >>> import spgrad as sp
    >>> A = sp.coo_array([[1, 0, 2], [0, 3, 0]])
    >>> A[:, 1:].toarray()
    array([[0, 2],
           [3, 0]])
    >>> A[0, 0] = 7
    >>> A.toarray()
    array([[7, 0, 2],
           [0, 3, 0]])
    """

    def __getitem__(self, key):
        row, col, nones = _parse_key(key, self.shape)
        if nones == ["mask"]:
            return self._paired(row, col)
        is_arr = [isinstance(x, np.ndarray) for x in (row, col)]
        is_int = [isinstance(x, int) for x in (row, col)]
        if nones:
            try:
                res = _coo_grouped(self)._with_none(row, col, nones, key)
            except IndexError as e:
                raise NotImplementedError("indexing a COO array with None that gives an n-D "
                                          "result is not supported yet (issue 3)") from e
            out = res.tocoo(copy=False)
            idt = np.dtype(np.intp) if any(is_arr) else self.row.dtype
            out.coords = tuple(c.astype(idt, copy=False) for c in out.coords)
            out.has_canonical_format = False
            return out
        if all(is_int):
            return _coo_grouped(self)._scalar(row, col)
        if all(is_arr):
            # (m, 1) and (1, n) index arrays broadcast to an outer product: a submatrix
            if row.ndim == 2 and row.shape[1] and col.shape[0] and _outer_from_key(key):
                row, col = row[:, 0], col[0, :]
            elif row.ndim <= 2:
                return self._paired(row, col)
            else:
                raise NotImplementedError("n-D sparse arrays are not supported yet (issue 3)")
        for x in (row, col):
            if isinstance(x, np.ndarray) and x.ndim != 1:
                raise NotImplementedError("n-D sparse arrays are not supported yet (issue 3)")
        csr = _coo_grouped(self)
        if any(is_int):
            row = np.array([row]) if is_int[0] else row
            col = np.array([col]) if is_int[1] else col
        res = csr._outer(row, col)
        out = res.tocoo(copy=False)
        if any(is_int):  # a single row or column: 1-D
            out = vector_from_2d(out)
        # SciPy builds the coordinates from NumPy intp arrays when an index is an array
        idt = np.dtype(np.intp) if any(is_arr) else self.row.dtype
        out.coords = tuple(c.astype(idt, copy=False) for c in out.coords)
        out.has_canonical_format = False
        return out

    def _paired(self, row, col):
        """``A[row, col]`` for two broadcast 1-D or 2-D index arrays (or the positions of a
        boolean mask): a COO array of their shape in which every stored entry of ``A`` at a
        requested position appears once per request (duplicates and explicit zeros kept),
        ordered by source entry, then by request."""
        N = self.shape[1]
        xp = self._xp()
        wanted = row.astype(np.int64).ravel() * N + col.astype(np.int64).ravel()
        wanted = _key_on_device(self, wanted)
        order = _backend.stable_argsort(wanted)
        sorted_keys = wanted[order]
        keys = self.row.astype(np.int64) * N + self.col.astype(np.int64)
        lo = xp.searchsorted(sorted_keys, keys, side="left")
        counts = xp.searchsorted(sorted_keys, keys, side="right") - lo
        src = _backend.repeat(xp.arange(len(keys)), counts)
        # position q of each output entry among the sorted requests: lo + rank within its run
        run_start = _backend.repeat(xp.cumsum(counts) - counts, counts)
        q = order[_backend.repeat(lo, counts) + xp.arange(len(src)) - run_start]
        coords = xp.unravel_index(q, row.shape)
        return self._coo_container._from_coords(
            _take(self.data, src), tuple(c.astype(np.intp) for c in coords), row.shape,
            maxprint=self.maxprint)

    def __setitem__(self, key, x):
        row, col, nones = _parse_key(key, self.shape)
        if nones:
            raise NotImplementedError("assigning into a COO array with a boolean mask or None "
                                      "is not supported yet (issue 3)")
        if self._is_torch:
            raise ValueError("assignment into a COO array whose values are a torch tensor "
                             "would change its pattern; in differentiable mode the pattern "
                             "is fixed (assign into A.detach() or rebuild the array)")
        M, N = self.shape
        # the indexed region as broadcast (row, col) arrays of the NumPy result shape
        R = row if not isinstance(row, slice) else _slice_positions(row, M)
        C = col if not isinstance(col, slice) else _slice_positions(col, N)
        if isinstance(row, np.ndarray) and isinstance(col, np.ndarray):
            I, J = row, col
        elif isinstance(row, int) and isinstance(col, int):
            I, J = np.array(row), np.array(col)
        elif isinstance(row, int):
            I, J = np.broadcast_arrays(np.array(row), C)
        elif isinstance(col, int):
            I, J = np.broadcast_arrays(R, np.array(col))
        else:
            I, J = np.broadcast_arrays(R[:, None], C[None, :])
        shape = I.shape
        # on the GPU: the values there (host values copied), the region's positions too
        xp = self._xp()
        if issparse(x):
            if 0 in x.shape:
                return
            if self._on_gpu:
                x = _sparse_value_on_gpu(x, self)
            _backend.check_same_device(self, x)
            xc = x.tocoo()
            xc.sum_duplicates()
            xd = xc.toarray().astype(self.dtype, copy=False)
            stored = xp.zeros(xc.shape, dtype=bool)
            stored[xc.row, xc.col] = True
            if xd.shape != shape:
                xd = xp.broadcast_to(xd.squeeze(), shape)
                stored = xp.broadcast_to(stored.squeeze(), shape)
        else:
            if self._on_gpu:
                xd = (x if _backend.is_device_array(x) else
                      _backend.to_device(np.asarray(x, dtype=self.dtype), self.device))
                _backend.check_same_device(self, xd)
                xd = xd.astype(self.dtype, copy=False)
            else:
                _backend.check_same_device(self, x)
                xd = np.asarray(x, dtype=self.dtype)
            if xd.size == 0:
                return
            if xd.shape != shape:
                try:
                    xd = xp.broadcast_to(xd.squeeze(), shape)
                except ValueError as e:
                    raise ValueError(f"shape mismatch in assignment: cannot broadcast values "
                                     f"of shape {np.shape(x)} to {shape}") from e
            stored = xp.ones(shape, dtype=bool) if shape == () else xd != 0
        I, J = (_key_on_device(self, np.asarray(a)) for a in (I, J))
        # drop the stored entries inside the region
        keys_region = xp.unique(I.astype(np.int64).ravel() * N + J.astype(np.int64).ravel())
        old_keys = self.row.astype(np.int64) * N + self.col.astype(np.int64)
        keep = ~_is_in_sorted(xp, old_keys, keys_region)
        new_i = I[stored].ravel() if shape != () else xp.atleast_1d(I)
        new_j = J[stored].ravel() if shape != () else xp.atleast_1d(J)
        new_v = xd[stored].ravel() if shape != () else xp.atleast_1d(xd)
        if len(new_v) == 0 and len(shape) == 1:
            self.data = self.data[keep]
            self.coords = tuple(c[keep] for c in self.coords)
            return
        # one value per position: the first one, like SciPy
        _, first = xp.unique(new_i.astype(np.int64) * N + new_j, return_index=True)
        first = xp.sort(first)
        # SciPy's new coordinates take the dtype of each key part: int64 for an integer, the
        # array's for an array, and for a slice the value's coordinates (a sparse value's own,
        # unless it is broadcast; a dense value's from nonzero(), int64); appending them
        # promotes the stored ones
        x_dt = np.int64
        if issparse(x) and math.prod(xc.shape) == math.prod(shape):
            x_dt = xc.row.dtype
        raw = key if isinstance(key, tuple) and len(key) == 2 else (None, None)
        parts = [x_dt if isinstance(k, slice) else
                 _index_array_dtype(r, k.dtype) if isinstance(k, np.ndarray) else np.int64
                 for k, r in zip((row, col), raw)]
        idt = np.result_type(self.row.dtype, *parts)
        self.data = xp.concatenate((self.data[keep], new_v[first]))
        self.coords = (xp.concatenate((self.row[keep], new_i[first])).astype(idt, copy=False),
                       xp.concatenate((self.col[keep], new_j[first])).astype(idt, copy=False))
        self.has_canonical_format = False


def _sparse_value_on_gpu(x, A):
    """A sparse value assigned into ``A`` on the GPU as an spgrad container there: SciPy's
    objects (and the assembly formats) converted to COO, host values copied to ``A``'s GPU
    (tensor values stay where they are: the device check then names both devices)."""
    if not isinstance(x, _spbase):
        from ._interop import from_scipy

        x = from_scipy(x).tocoo()
    if not x._on_gpu and not x._is_torch:
        x = x.to(A.device)
    return x


def _is_in_sorted(xp, a, sorted_unique):
    """``np.isin(a, sorted_unique)`` for sorted unique ``sorted_unique`` (NumPy or CuPy)."""
    if len(sorted_unique) == 0:
        return xp.zeros(a.shape, dtype=bool)
    pos = xp.minimum(xp.searchsorted(sorted_unique, a), len(sorted_unique) - 1)
    return sorted_unique[pos] == a


def _index_array_dtype(raw, parsed):
    """The dtype SciPy's COO assignment gives coordinates taken from an index array: the
    user's integer array's own, else (lists, masks) that of the parsed indices."""
    if isinstance(raw, np.ndarray) and raw.dtype.kind in "iu":
        return raw.dtype
    return parsed


class _COOShapeMixin:
    """``setdiag``/``resize``/``reshape`` for both COO families."""

    def setdiag(self, values, k=0):
        """Set the ``k``-th diagonal in place (see ``csr_array.setdiag``).

        Parameters
        ----------
        values : scalar or array_like
            A scalar fills the diagonal; a sequence sets its first ``len(values)`` entries.
        k : int, optional
            Diagonal: 0 the main one, ``k > 0`` above it, ``k < 0`` below it.

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.coo_array((2, 3))
        >>> A.setdiag(5, k=1)
        >>> A.toarray()
        array([[0., 5., 0.],
               [0., 0., 5.]])
        """
        M, N = self.shape
        if (k > 0 and k >= N) or (k < 0 and -k >= M):
            raise ValueError("k exceeds array dimensions")
        if self._is_torch:
            raise ValueError("setdiag on a COO array whose values are a torch tensor would "
                             "change its pattern; in differentiable mode the pattern is fixed "
                             "(use A.detach() or rebuild the array)")
        if _backend.is_tensor(values):  # plain values: the tensor's, on the CPU
            if self._on_gpu:
                raise TypeError("setdiag of a COO array on the GPU with plain values takes "
                                "CuPy or host values, got a torch tensor")
            values = np.asarray(values)
        values = values_beside(self, values, "setdiag on the GPU")
        if values.ndim and not len(values):
            return
        xp = self._xp()
        idx_dtype = self.row.dtype
        full_keep = self.col - self.row != k
        if k < 0:
            n = min(M + k, N)
            if values.ndim:
                n = min(n, len(values))
            keep = full_keep | (self.col >= n)
            new_row = xp.arange(-k, -k + n, dtype=idx_dtype)
            new_col = xp.arange(n, dtype=idx_dtype)
        else:
            n = min(M, N - k)
            if values.ndim:
                n = min(n, len(values))
            keep = full_keep | (self.row >= n)
            new_row = xp.arange(n, dtype=idx_dtype)
            new_col = xp.arange(k, k + n, dtype=idx_dtype)
        if values.ndim:
            new_data = values[:n]
        else:
            new_data = xp.empty(n, dtype=self.dtype)
            new_data[:] = values
        self.coords = (xp.concatenate((self.row[keep], new_row)),
                       xp.concatenate((self.col[keep], new_col)))
        self.data = xp.concatenate((self.data[keep], new_data))
        self.has_canonical_format = False

    def resize(self, *shape):
        """Resize in place to ``shape``; entries outside the new shape are dropped.

        Parameters
        ----------
        *shape : int or tuple of int
            The new shape, as ``resize(m, n)`` or ``resize((m, n))``.

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.coo_array([[1, 2], [3, 4]])
        >>> A.resize(1, 3)
        >>> A.toarray()
        array([[1, 2, 0]])
        """
        shape = check_shape(shape, allow_nd=self._allow_nd)
        mask = (self.row < shape[0]) & (self.col < shape[1])
        if not bool(mask.all()):
            keep = self._xp().flatnonzero(mask)
            self.coords = tuple(c[keep] for c in self.coords)
            self.data = _take(self.data, keep)
        self._shape = shape

    def reshape(self, *args, **kwargs):
        """A COO array/matrix of a new shape with the same entries (as ``csr_array.reshape``).

        Parameters
        ----------
        shape : tuple of int
            Passed as ``reshape((m, n))`` or ``reshape(m, n)``; one dimension may be -1.
        order : {'C', 'F'}, optional
            Row-major (default) or column-major order of the entries.
        copy : bool, optional
            Copy the stored arrays even when they could be shared.

        Examples
        --------
        >>> import spgrad as sp
        >>> sp.coo_array([[1, 0, 2, 0]]).reshape((2, 2)).toarray()
        array([[1, 0],
               [2, 0]])
        """
        return _reshape(self, args, kwargs)
