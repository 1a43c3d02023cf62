"""1-D sparse arrays: ``csr_array`` and ``coo_array`` of shape ``(n,)``, as in SciPy 1.17.

A 1-D array of length ``n`` stores exactly the arrays of a ``(1, n)`` array of its format: CSR
an ``indptr`` of length 2 with ``indices`` and ``data``, COO one coordinate array
(``coords == (col,)``). Every operation of a 1-D array runs on its *twin*, the ``(1, n)`` array
that shares those arrays — and therefore shares the autograd graph of torch values, so 1-D
arrays are differentiable wherever 2-D ones are — and the twin's result is mapped back to the
shape NumPy gives the same operation on dense operands: sparse ``(1, k)`` results become 1-D
sparse arrays, dense ``(1, k)`` results 1-D arrays, vector products scalars.

:func:`support_1d` installs this on a public array class: it wraps the methods listed in
``_METHODS`` so that a 1-D receiver (or a 1-D sparse operand of a 2-D receiver) goes through
the twin, and a 2-D one runs the format's code unchanged.
"""

import functools

import numpy as np

from . import _backend
from ._base import _CONTAINERS, _spbase, issparse
from ._sputils import get_index_dtype, isscalarlike, validateaxis

__all__ = ["ELEMENTWISE_METHODS", "REDUCTION_METHODS", "accept_1d_operands", "from_twin",
           "routed", "support_1d", "twin", "vector_from_2d"]


# ------------------------------------------------------------------------------------------------
# twins


def twin(A):
    """The ``(1, n)`` array of ``A``'s format that shares the arrays of the 1-D ``A``."""
    n = A.shape[0]
    if A.format == "csr":
        T = A.__class__._from_arrays(A.data, A.indices, A.indptr, (1, n), maxprint=A.maxprint)
        T._copy_flags(A)
        return T
    (col,) = A.coords
    row = A._xp().zeros(len(col), dtype=col.dtype)
    return A.__class__._from_arrays(A.data, row, col, (1, n),
                                    canonical=A.has_canonical_format, maxprint=A.maxprint)


def from_twin(T):
    """The 1-D array that shares the arrays of the ``(1, k)`` sparse array ``T``: CSR stays
    CSR, COO stays COO, other formats become CSR."""
    k = T.shape[1]
    if T.format not in ("csr", "coo"):
        T = T.tocsr()
    cls = _CONTAINERS[T.format][0]
    if T.format == "csr":
        A = cls._from_arrays(T.data, T.indices, T.indptr, (k,), maxprint=T.maxprint)
        A._copy_flags(T)
        return A
    return cls._from_coords(T.data, (T.col,), (k,), canonical=T.has_canonical_format,
                            maxprint=T.maxprint)


def vector_from_2d(T):
    """A ``(1, k)`` or ``(k, 1)`` sparse result as the 1-D ``coo_array`` SciPy returns for a
    single row or column of a 2-D array (coordinates keep their order and dtype)."""
    C = T.tocoo()
    is_row = C.shape[0] == 1
    along, n = (C.col, C.shape[1]) if is_row else (C.row, C.shape[0])
    return _CONTAINERS["coo"][0]._from_coords(C.data, (along,), (n,),
                                              canonical=C.has_canonical_format and is_row,
                                              maxprint=T.maxprint)


def _adopt(A, T):
    """Take over the arrays of the twin ``T`` after an in-place operation changed them."""
    A.data = T.data
    if A.format == "csr":
        A.indices, A.indptr = T.indices, T.indptr
        for flag in ("_has_sorted_indices", "_has_canonical_format"):
            A.__dict__.pop(flag, None)
        A._copy_flags(T)
    else:
        A.coords = (T.col,)
        A.has_canonical_format = T.has_canonical_format
    A._shape = (T.shape[1],)


def _is_1d_sparse(x):
    return issparse(x) and getattr(x, "ndim", 2) == 1 and x.format in ("csr", "coo")


def _as_twin(x):
    if not _is_1d_sparse(x):
        return x
    if not isinstance(x, _spbase):  # a SciPy vector
        from ._interop import from_scipy

        x = from_scipy(x)
    return twin(x)


def _shape_of(x):
    if isscalarlike(x):
        return ()
    if (_backend.is_tensor(x) or issparse(x) or isinstance(x, np.ndarray)
            or _backend.is_device_array(x)):
        return tuple(x.shape)
    return np.shape(x)


def _back(res, shape):
    """The twin's result ``res`` in the ``shape`` the 1-D operation has."""
    if shape is None or len(shape) != 1 or res is NotImplemented:
        return res
    if issparse(res):
        if res.ndim == 2 and res.shape[0] == 1:
            return from_twin(res)
        return res
    if _backend.is_tensor(res) or isinstance(res, np.ndarray) or _backend.is_device_array(res):
        return res.reshape(shape)
    return res


# ------------------------------------------------------------------------------------------------
# the methods of a 1-D array


def _elementwise(orig, self, other, *args, **kwargs):
    """Binary elementwise operations (arithmetic, comparisons, multiply, maximum/minimum):
    a (n,) operand broadcasts exactly like the (1, n) twin."""
    if (orig.__name__ in ("__add__", "__radd__", "__sub__", "__rsub__") and issparse(other)
            and other.shape != self.shape):
        raise ValueError(f"inconsistent shapes: {self.shape} and {other.shape}")
    try:
        shape = np.broadcast_shapes(self.shape, _shape_of(other))
    except (ValueError, TypeError):
        shape = None  # the 2-D operation raises its own error
    return _back(orig(_as_twin(self), _as_twin(other), *args, **kwargs), shape)


def _in_place(orig, self, *args, **kwargs):
    T = twin(self)
    res = orig(T, *args, **kwargs)
    _adopt(self, T)
    return res


def _vector_axis(axis):
    """``axis`` of a reduction of a 1-D array: every valid axis reduces the whole vector."""
    validateaxis(axis, ndim=1)
    return None


def _reduce(orig, self, axis=None, *args, **kwargs):
    return orig(twin(self), _vector_axis(axis), *args, **kwargs)


def _count_nonzero(orig, self, axis=None):
    if axis is not None and axis not in (0, -1):
        raise ValueError("axis out of bounds")
    return orig(twin(self))


def _scalar_of(r):
    """The single entry of a length-1 product: a NumPy scalar, or a 0-d tensor."""
    return r.reshape(()) if _backend.is_tensor(r) else r[0]


def _no_products(A, B):
    """Whether the sparse product ``A @ B`` has no pair of stored entries to multiply (SciPy's
    ``csr_matmat_maxnnz == 0``, for which it returns a fresh empty CSR vector)."""
    if A.nnz == 0 or B.nnz == 0:
        return True
    indptr = B.tocsr().indptr
    row_counts = indptr[1:] - indptr[:-1]
    return not bool(row_counts[A.tocoo().col].any())


def _empty_vector(r):
    """The empty 1-D ``csr_array`` SciPy returns when a product has nothing to multiply."""
    if _backend.is_tensor(r.data):
        return vector_from_2d(r)
    n = max(r.shape) if r.shape[0] != 1 else r.shape[1]
    return _CONTAINERS["csr"][0]((n,), dtype=r.dtype).to(r.device)


def _matmul(orig, self, other):
    """``v @ other``: a scalar with a dense vector, a 1-D dense array with a dense matrix, a
    0-d array with a sparse vector and a 1-D ``coo_array`` with a sparse matrix."""
    if self.ndim != 1:
        if _is_1d_sparse(other):  # matrix @ sparse vector -> 1-D COO
            if self.shape[-1] != other.shape[0]:
                raise ValueError(f"matmul: dimension mismatch with signature "
                                 f"(n,k={self.shape[-1]}),(k={other.shape[0]},)->(n,)")
            r = orig(self, twin(other).T)
            if _no_products(self, twin(other).T):
                return _empty_vector(r)
            return vector_from_2d(r)
        return orig(self, other)
    T = twin(self)
    n = self.shape[0]
    if (other.__class__ is np.ndarray and other.shape == (n,) and not self._is_torch
            and self.format == "csr"):
        return T._matmul_vector(other)[0]  # the common dot product, without the dispatch
    if issparse(other):
        if other.ndim == 1:
            if other.shape[0] != n:
                raise ValueError(f"matmul: dimension mismatch with signature "
                                 f"(k={n},),(k={other.shape[0]},)->()")
            r = orig(T, twin(other).T).toarray()
            return r.reshape(())
        r = orig(T, other)
        if _no_products(T, other):
            return _empty_vector(r)
        return vector_from_2d(r)
    if isscalarlike(other):
        return orig(T, other)
    if not (_backend.is_tensor(other) or isinstance(other, np.ndarray)
            or _backend.is_device_array(other)):
        other = np.asarray(other)
    if other.ndim == 0:
        return orig(T, other)
    if other.ndim == 1:
        if other.shape[0] != n:
            raise ValueError(f"matmul: dimension mismatch with signature "
                             f"(k={n},),(k={other.shape[0]},)->()")
        return _scalar_of(orig(T, other))
    if other.ndim == 2:
        return orig(T, other).reshape(-1)
    raise ValueError(f"matmul of a 1-D sparse array with a {other.ndim}-D operand is not "
                     f"supported; got an operand of shape {tuple(other.shape)}")


def _rmatmul(orig, self, other):
    """``other @ v`` = ``v @ otherᵀ`` for dense ``other`` (1-D or 2-D)."""
    if self.ndim != 1 or isscalarlike(other):
        return orig(self, other)
    if _backend.is_tensor(other):
        tr = other.mT if other.ndim >= 2 else other
    else:
        if not _backend.is_device_array(other):
            other = np.asarray(other)
        tr = other.T
    return self._matmul_dispatch(tr)


def _getitem(orig, self, key):
    items = list(key) if isinstance(key, tuple) else [key]
    if any(x is None for x in items):
        return _getitem_new_axis(self, items)
    key = _vector_key(key)
    if self.format == "csr" and isinstance(key, np.ndarray):
        # SciPy selects arrays and masks from the dense vector: duplicates summed, zeros gone
        self = self.copy()
        self.sum_duplicates()
        self.eliminate_zeros()
    T = twin(self)
    if isinstance(key, (int, np.integer)) or (isinstance(key, np.ndarray) and key.ndim == 0):
        if self.format == "csr":
            return _csr_entry(self, key)
        return orig(T, (0, key))
    out = from_twin(orig(T, (slice(0, 1), key)))
    if (self.format == "csr" and isinstance(key, slice) and key.step not in (None, 1)
            and out.shape[0] == 0):
        # SciPy's strided selections of a CSR vector that select nothing are fresh empty COO
        return _CONTAINERS["coo"][0]((0,), dtype=self.dtype)
    if isinstance(key, slice) and out.format == "csr":  # slices keep the source's dtype
        out.indices = out.indices.astype(self.indices.dtype, copy=False)
        out.indptr = out.indptr.astype(self.indices.dtype, copy=False)
    if isinstance(key, np.ndarray) and out.format == "csr":
        # SciPy builds the result of an array index with the smallest index dtype that fits
        idx = get_index_dtype(maxval=max(out.shape[0], out.nnz))
        out.indices = out.indices.astype(idx, copy=False)
        out.indptr = out.indptr.astype(idx, copy=False)
    return out


def _csr_entry(self, key):
    """``v[i]`` of a CSR vector: the first stored entry at ``i`` (SciPy does not sum
    duplicates here), or zero."""
    n = self.shape[0]
    i = int(key)
    if not -n <= i < n:
        raise IndexError(f"index ({i}) out of range")
    xp = self._xp()
    spot = xp.flatnonzero(self.indices == (i % n))
    if spot.size:
        return self.data[int(spot[0])]
    if self._is_torch:
        return self.data.new_zeros(())
    if self._on_gpu:
        return xp.zeros((), dtype=self.dtype)  # as A[i, j] on the GPU: a 0-d CuPy array
    return self.dtype.type(0)


def _getitem_new_axis(self, items):
    """``v[None]``, ``v[None, k]``, ``v[k, None]``: the selection as a (1, m) or (m, 1)
    ``coo_array``, as in SciPy."""
    rest = [x for x in items if x is not None]
    if len(items) - len(rest) != 1 or any(_backend.is_tensor(x) or np.ndim(x) != 0
                                          or isinstance(x, (int, np.integer))
                                          for x in rest if not isinstance(x, slice)
                                          and x is not Ellipsis):
        raise IndexError(f"Indexing that leads to >2D is not supported for 1-D sparse "
                         f"arrays; got the index {tuple(items)}")
    sel = self[tuple(rest)] if rest else self
    row = twin(sel).tocoo()
    first = next(i for i, x in enumerate(items) if x is None) == 0 or (
        bool(rest) and rest[0] is Ellipsis and items[-1] is not None)
    return row if first else row.transpose()


def _setitem(orig, self, key, x):
    T = twin(self)
    orig(T, (0, _vector_key(key)), _as_twin(x))
    _adopt(self, T)


def _vector_key(key):
    """A 1-D index: an int, a slice, an integer array or a boolean mask."""
    if isinstance(key, tuple):
        items = [x for x in key if x is not Ellipsis]
        if len(items) > 1:
            raise IndexError(f"Too many indices for array: array is 1-dimensional, but "
                             f"{len(items)} were indexed")
        key = items[0] if items else slice(None)
    if key is Ellipsis:
        return slice(None)
    if key is None:
        raise IndexError("indexing a 1-D sparse array with None (a new axis) is not "
                         "supported; use reshape((1, n)) or reshape((n, 1))")
    if issparse(key):
        key = key.toarray()
    if _backend.is_device_array(key):
        key = key.get()  # keys are validated on the host, as for 2-D arrays
    if isinstance(key, (list, np.ndarray)) or _backend.is_tensor(key):
        arr = np.asarray(key.detach().cpu().numpy() if _backend.is_tensor(key) else key)
        if arr.ndim > 1:
            raise IndexError(f"Indexing that leads to >1-D results is not supported for 1-D "
                             f"sparse arrays; got an index of shape {arr.shape}")
        return arr
    return key


def _iter(orig, self):
    for i in range(self.shape[0]):
        yield self[i]


def _transpose(orig, self, axes=None, copy=False):
    if axes is not None and tuple(axes) not in ((0,), (-1,)):
        raise ValueError(f"axes don't match array: a 1-D array takes axes (0,), got {axes}")
    return self.copy() if copy else self


def _nonzero(orig, self):
    return (orig(twin(self))[1],)


def _no_1d(what, message=None):
    def impl(orig, self, *args, **kwargs):
        raise ValueError(message or f"{what} requires a 2-D sparse array, got a 1-D array of "
                                    f"shape {self.shape}")
    return impl


def _not_convertible(fmt):
    return _no_1d(None, f"Cannot convert a 1d sparse array to {fmt} format")


def _toarray(orig, self, order=None, out=None):
    res = orig(twin(self), order, None if out is None else out.reshape(1, -1))
    return out if out is not None else res.reshape(self.shape)


def _convert(orig, self, copy=False):
    return from_twin(orig(twin(self), copy=copy))


def _to_coo(orig, self, copy=False):
    if self.format == "coo":
        return self.copy() if copy else self
    return from_twin(twin(self).tocoo(copy=copy))


def _resize(orig, self, *shape):
    if len(shape) == 1 and isinstance(shape[0], tuple):
        shape = shape[0]
    if len(shape) != 1:
        raise ValueError(f"resize of a 1-D sparse array takes one length, got shape {shape}")
    T = twin(self)
    orig(T, 1, shape[0])
    _adopt(self, T)


# the method names that the 1-D and the n-D arrays (spgrad._ndim) both route
ELEMENTWISE_METHODS = (
    "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
    "__rtruediv__", "multiply", "maximum", "minimum",
    "__eq__", "__ne__", "__lt__", "__gt__", "__le__", "__ge__")
REDUCTION_METHODS = ("sum", "mean", "max", "min", "nanmax", "nanmin", "argmax", "argmin")

# name -> implementation(orig, self, ...); the wrapper calls it only for a 1-D receiver, or,
# for the names in _OPERAND_NAMES, when an operand is a 1-D sparse array.
_METHODS = {
    **dict.fromkeys(ELEMENTWISE_METHODS, _elementwise),
    **dict.fromkeys(REDUCTION_METHODS, _reduce),
    "count_nonzero": _count_nonzero,
    **{name: _in_place for name in ("sum_duplicates", "sort_indices", "eliminate_zeros")},
    "_matmul_dispatch": _matmul,
    "_rmatmul_dispatch": _rmatmul,
    "__getitem__": _getitem,
    "__setitem__": _setitem,
    "__iter__": _iter,
    "transpose": _transpose,
    "nonzero": _nonzero,
    "toarray": _toarray,
    "todense": _toarray,
    "tocsr": _convert,
    "tocoo": _to_coo,
    "tocsc": _not_convertible("csc"),
    "tolil": _not_convertible("lil"),
    "tobsr": _not_convertible("bsr"),
    "todia": _no_1d(None, "Cannot convert. DIA format must be 2D. Got 1D"),
    "diagonal": _no_1d("diagonal"),
    "trace": _no_1d("trace"),
    "setdiag": _no_1d("setdiag"),
    "resize": _resize,
}

_OPERAND_NAMES = {name for name, impl in _METHODS.items() if impl is _elementwise}
_OPERAND_NAMES.add("_matmul_dispatch")


def routed(orig, impl, applies):
    """``orig`` wrapped so that a call for which ``applies(self, args)`` holds goes to
    ``impl(orig, self, ...)`` instead (the mechanism of the 1-D and n-D arrays)."""
    @functools.wraps(orig)
    def method(self, *args, **kwargs):
        if applies(self, args):
            return impl(orig, self, *args, **kwargs)
        return orig(self, *args, **kwargs)
    return method


def _is_vector(self, args):
    return len(self._shape) == 1


def _has_vector(self, args):
    return len(self._shape) == 1 or (args and _is_1d_sparse(args[0]))


def _wrap(name, orig, impl):
    return routed(orig, impl, _has_vector if name in _OPERAND_NAMES else _is_vector)


def accept_1d_operands(cls):
    """Class decorator for the 2-D-only array classes (``csc_array``, ``dia_array``): their
    elementwise operations and products accept 1-D sparse operands."""
    for name in _OPERAND_NAMES:
        orig = getattr(cls, name, None)
        if orig is not None:
            setattr(cls, name, _wrap(name, orig, _METHODS[name]))
    return cls


def support_1d(cls):
    """Class decorator: give a public array class (``csr_array``, ``coo_array``) 1-D arrays."""
    for name, impl in _METHODS.items():
        orig = getattr(cls, name, None)
        if orig is not None:
            setattr(cls, name, _wrap(name, orig, impl))
    cls._allow_nd = (1, 2)
    return cls
