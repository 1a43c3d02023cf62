"""DIAgonal format: ``dia_array`` and ``dia_matrix``.

``data[d, j]`` holds the entry at column ``j`` of diagonal ``offsets[d]`` (row ``j -
offsets[d]``); positions outside the matrix, or at ``j >= data.shape[1]``, are not stored.
"""

import numpy as np

from . import _backend
from ._base import _register, _spbase, issparse, sparray
from ._data import _data_base
from ._matrix import spmatrix
from ._oned import accept_1d_operands
from ._sputils import (
    check_shape,
    device_values,
    from_kernel,
    get_index_dtype,
    get_sum_dtype,
    getdtype,
    isdense,
    isscalarlike,
    isshape,
    kernel_dtype,
    to_kernel,
    upcast,
    values_beside,
)

__all__ = ["dia_array", "dia_matrix", "isspmatrix_dia"]


def _construct_ops():
    """The differentiable numeric phases (imports torch; called only with tensors)."""
    from ._autograd import _construct_ops

    return _construct_ops


def _intersect_offsets(a, b):
    """``np.intersect1d(a, b, assume_unique=True, return_indices=True)`` for NumPy or CuPy
    offsets (NumPy's algorithm: one stable sort of both)."""
    xp = _backend.array_module(a, b)
    both = xp.concatenate((a, b))
    order = _backend.stable_argsort(both)
    both = both[order]
    pair = both[1:] == both[:-1]
    return both[:-1][pair], order[:-1][pair], order[1:][pair] - len(a)


def _inverse_permutation(order):
    """``inv`` with ``inv[order] = arange(len(order))`` (NumPy or CuPy)."""
    xp = _backend.array_module(order)
    inv = xp.zeros_like(order)
    inv[order] = xp.arange(len(order))
    return inv


class _dia_base(_data_base):
    _array_names = ("data", "offsets")
    _format = "dia"

    def __init__(self, arg1, shape=None, dtype=None, copy=False, *, maxprint=None):
        _data_base.__init__(self, arg1, maxprint=maxprint)
        if issparse(arg1):
            if not isinstance(arg1, _spbase):
                from ._interop import from_scipy

                arg1 = from_scipy(arg1, array=self._is_array)
            if arg1.format == "dia":
                A = arg1.copy() if copy else arg1
            else:
                A = arg1.todia()
            self.data, self.offsets, self._shape = A.data, A.offsets, A.shape
        elif isinstance(arg1, tuple):
            if isshape(arg1):
                self._shape = check_shape(arg1)
                self.data = np.zeros((0, 0), getdtype(dtype, default=float))
                self.offsets = np.zeros(0, dtype=get_index_dtype(maxval=max(self._shape)))
            else:
                try:
                    data, offsets = arg1
                except Exception as e:
                    raise ValueError("unrecognized form for dia_array constructor: expected "
                                     "(data, offsets)") from e
                if shape is None:
                    raise ValueError("expected a shape argument")
                cp = True if copy else None
                on_gpu = _backend.is_device_array(data)
                if on_gpu:
                    self._init_device_arrays(data, offsets, shape, dtype, copy)
                elif _backend.is_tensor(data):
                    # differentiable mode: the values stay a tensor, in the autograd graph
                    data = data.clone() if copy else data
                    if data.ndim < 2:
                        data = data.reshape((1,) * (2 - data.ndim) + tuple(data.shape))
                    self.data = data
                else:
                    self.data = np.atleast_2d(np.array(data, dtype=dtype, copy=cp))
                if not on_gpu and _backend.is_device_array(offsets):
                    # tensor values on a GPU with offsets there (a copy, a transpose, ...)
                    _backend.check_same_device(self.data, offsets)
                    self._set_device_offsets(offsets, shape, copy)
                elif not on_gpu:
                    offsets = np.asarray(offsets)
                    if offsets.dtype.kind not in "iu":
                        raise ValueError(
                            f"offsets must have an integer dtype, got {offsets.dtype}")
                    (self.offsets,) = _backend.beside_values(self.data, (np.atleast_1d(
                        np.array(offsets, dtype=get_index_dtype(maxval=max(shape)), copy=cp)
                    ),))
                self._shape = check_shape(shape)
        else:
            if not (_backend.is_tensor(arg1) or _backend.is_device_array(arg1)):
                # a torch tensor (its values gathered in the autograd graph) or a CuPy array
                # goes to COO as it is
                try:
                    arg1 = np.asarray(arg1)
                except Exception as e:
                    raise ValueError(
                        f"unrecognized form for {self.format}_matrix constructor") from e
            if self._is_array and arg1.ndim != 2:
                raise ValueError(f"DIA arrays don't support {arg1.ndim}D input. Use 2D")
            A = self._coo_container(arg1, dtype=dtype, shape=shape).todia()
            self.data, self.offsets, self._shape = A.data, A.offsets, A.shape

        self._check_value_dtype()
        if dtype is not None and getdtype(dtype) != self.dtype:
            self.data = self._cast_values(getdtype(dtype))
        if self.offsets.ndim != 1:
            raise ValueError("offsets array must have rank 1")
        if self.data.ndim != 2:
            raise ValueError("data array must have rank 2")
        if self.data.shape[0] != len(self.offsets):
            raise ValueError(
                f"number of diagonals ({self.data.shape[0]}) does not match the number of "
                f"offsets ({len(self.offsets)})"
            )
        if len(self._xp().unique(self.offsets)) != len(self.offsets):
            raise ValueError("offset array contains duplicate values")

    def _init_device_arrays(self, data, offsets, shape, dtype, copy):
        """``(data, offsets)`` with CuPy ``data``: both kept on its GPU (host offsets are
        copied there)."""
        xp = _backend.array_module(data)
        data = device_values(data, dtype, f"{self.__class__.__name__} from CuPy arrays", copy)
        self.data = data.reshape((1,) * (2 - data.ndim) + data.shape) if data.ndim < 2 else data
        if not _backend.is_device_array(offsets):
            offsets = xp.asarray(np.asarray(offsets))
        self._set_device_offsets(offsets, shape, copy)

    def _set_device_offsets(self, offsets, shape, copy):
        """``self.offsets`` from CuPy ``offsets``: checked, in the index dtype, 1-D."""
        if offsets.dtype.kind not in "iu":
            raise ValueError(f"offsets must have an integer dtype, got {offsets.dtype}")
        offsets = offsets.astype(get_index_dtype(maxval=max(shape)), copy=bool(copy))
        self.offsets = offsets.reshape(1) if offsets.ndim == 0 else offsets

    def __repr__(self):
        kind = "array" if self._is_array else "matrix"
        return (
            f"<DIAgonal sparse {kind} of dtype '{self.dtype}'\n"
            f"\twith {self.nnz} stored elements ({self.data.shape[0]} diagonals) and shape "
            f"{self.shape}>"
        )

    def _data_mask(self):
        """Boolean mask over ``data``: True where the slot is inside the matrix."""
        M, N = self.shape
        j = self._xp().arange(self.data.shape[1])
        row = j - self.offsets[:, None]
        return (row >= 0) & (row < M) & (j < N)

    def _summable_data(self):
        # SciPy sums a DIA matrix as the sum of its row sums (each taken in the sum dtype), so
        # a narrow ``dtype=`` truncates row sums, not single entries
        return self._axis_sums(1, get_sum_dtype(self.dtype))

    def _getnnz(self, axis=None):
        if axis is not None:
            raise NotImplementedError("_getnnz over an axis is not implemented for DIA format")
        M, N = self.shape
        L = min(self.data.shape[1], N)
        return int(np.maximum(np.minimum(M + self.offsets, L) - np.maximum(self.offsets, 0),
                              0).sum())

    def count_nonzero(self, axis=None):
        if axis is not None:
            raise NotImplementedError(
                "count_nonzero over an axis is not implemented for DIA format"
            )
        data = _backend.kernel_array(self.data, self.offsets)[self._data_mask()]
        # an int on the GPU (as CSR's there), NumPy's integer on the CPU (as SciPy's)
        return int(self._xp().count_nonzero(data)) if self._on_gpu else np.count_nonzero(data)

    def _with_data(self, data, copy=True):
        offsets = self.offsets.copy() if copy else self.offsets
        return self._dia_container((data, offsets), shape=self.shape)

    # --------------------------------------------------------------- shape and diagonals
    def reshape(self, *args, **kwargs):
        """The same entries in a sparse array/matrix of a new shape (COO unless the shape is
        unchanged), as ``csr_array.reshape``.

        Examples
        --------
        >>> import spgrad as sp
        >>> B = sp.eye_array(2, format="dia").reshape((1, 4))
        >>> B.format, B.toarray().tolist()
        ('coo', [[1.0, 0.0, 0.0, 1.0]])
        """
        from ._index import _reshape

        return _reshape(self, args, kwargs)

    def resize(self, *shape):
        """Resize in place to ``shape``; entries outside the new shape are dropped, and entries
        that the old shape hid from a longer data array are cleared, as in SciPy.

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.dia_array(([[1, 2, 3]], [0]), shape=(3, 3))
        >>> A.resize(2, 4)
        >>> A.toarray()
        array([[1, 0, 0, 0],
               [0, 2, 0, 0]])
        """
        shape = check_shape(shape)
        M, N = shape
        self._check_pattern_mutable("resize")
        xp = self._xp()
        data = self.data[:, :N]
        if M > self.shape[0] and bool((self.offsets + self.shape[0] < data.shape[1]).any()):
            hidden = (self.offsets[:, None] + self.shape[0] <= xp.arange(data.shape[1]))
            if _backend.is_tensor(data):
                # (through uint8: DLPack carries no bool on every CuPy/torch pair)
                mask = _backend.as_tensor(hidden.astype(np.uint8)).to(data.device).bool()
                data = data.masked_fill(mask, 0)
            else:
                data = data.copy()  # a view of self.data, which others may share
                data[hidden] = 0
        self.data = data
        self._shape = shape

    def setdiag(self, values, k=0):
        """Set the ``k``-th diagonal (entries ``a[i, i + k]``) to ``values``, in place.

        Values may be shorter than the diagonal (the rest is kept) or longer (the rest is
        ignored); a scalar fills the whole diagonal. A new diagonal becomes a new row of
        ``data``. With torch values the update is recorded in the graph (a leaf that requires
        grad is refused, like an in-place update of a leaf tensor).

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.dia_array(([[1.0, 2.0, 3.0]], [0]), shape=(3, 3))
        >>> A.setdiag([7.0, 8.0], k=1)
        >>> A.offsets.tolist(), A.toarray()[0].tolist()
        ([0, 1], [1.0, 7.0, 0.0])
        """
        M, N = self.shape
        if (k > 0 and k >= N) or (k < 0 and -k >= M):
            raise ValueError("k exceeds array dimensions")
        if self._is_torch and self.data.requires_grad and self.data.is_leaf:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation: "
                "setdiag on a sparse array whose values require grad would modify a leaf of "
                "the autograd graph. Use A.detach() (or a copy: B = A.copy()) instead")
        values = values_beside(self, values, "setdiag on the GPU")
        xp = self._xp()
        n_values = np.inf if values.ndim == 0 else len(values)
        if k < 0:
            n = min(M + k, N, n_values)
            lo, hi = 0, n
        else:
            n = min(M, N - k, n_values)
            lo, hi = k, k + n
        if values.ndim != 0:
            values = values[:n]
        rows, cols = self.data.shape
        present = self.offsets == k
        is_new = not bool(present.any())
        row = rows if is_new else int(xp.flatnonzero(present)[0])
        width = max(hi, cols)
        if _backend.is_tensor(self.data) or _backend.is_tensor(values):
            # a new tensor (wider, one more row for a new diagonal), updated in the graph
            torch = _backend.torch_module()
            old = _backend.as_tensor(self.data)
            data = torch.cat([old, old.new_zeros((rows, width - cols))], dim=1)
            if is_new:
                data = torch.cat([data, old.new_zeros((1, width))])
            data[row, lo:hi] = _backend.as_tensor(values).to(data.dtype)
        else:
            data = xp.zeros((rows + is_new, width), dtype=self.data.dtype)
            data[:rows, :cols] = self.data
            data[row, lo:hi] = values
        if is_new:
            new = xp.full(1, k, dtype=self.offsets.dtype)
            self.offsets = xp.concatenate((self.offsets, new))
        self.data = data

    # --------------------------------------------------------------- conversions
    def todia(self, copy=False):
        return self.copy() if copy else self

    todia.__doc__ = _spbase.todia.__doc__

    def tocoo(self, copy=False):
        """Convert to COO (entries equal to zero are dropped, as in SciPy).

        In differentiable mode every slot inside the matrix is kept, zeros included (the
        pattern is structural), and the values are gathered in the autograd graph.
        """
        # Visit diagonals by increasing offset so that, within a row, columns increase:
        # the stable row sort of the CSR conversion then yields canonical CSR directly.
        xp = self._xp()
        order = _backend.stable_argsort(self.offsets)
        offsets = self.offsets[order]
        mask = self._data_mask()[order]
        if not self._is_torch:
            data = self.data[order]
            mask &= data != 0
        d, j = xp.nonzero(mask)
        idx_dtype = get_index_dtype(maxval=max(self.shape))
        col = j.astype(idx_dtype)
        row = (j - offsets[d]).astype(idx_dtype)
        # nonzero walks diagonal by diagonal; reorder row-major for a canonical COO.
        perm = xp.lexsort(xp.stack((col, row)))
        if self._is_torch:
            values = _construct_ops().take_2d(self.data, order[d[perm]], j[perm])
        else:
            values = data[mask][perm]
        return self._coo_container._from_arrays(
            values, row[perm], col[perm], self.shape, canonical=True
        )

    @classmethod
    def _from_summed_coo(cls, A, offsets, diagonal_of_entry):
        """DIA of a canonical COO ``A`` whose values are a tensor (``A.todia()`` in
        differentiable mode): the values are scattered into the data array in the graph."""
        width = int(A.col.max()) + 1 if A.nnz else 0
        data = _construct_ops().scatter_2d((len(offsets), width), diagonal_of_entry, A.col,
                                           A.data, A.dtype)
        return cls((data, offsets), shape=A.shape)

    def tocsr(self, copy=False):
        return self.tocoo().tocsr()

    tocsr.__doc__ = _spbase.tocsr.__doc__

    def toarray(self, order=None, out=None):
        return self.tocoo().toarray(order=order, out=out)

    toarray.__doc__ = _spbase.toarray.__doc__

    def transpose(self, axes=None, copy=False):
        if axes is not None and tuple(axes) != (1, 0):
            raise ValueError("Sparse arrays/matrices do not support an 'axes' parameter "
                             "because swapping dimensions is the only logical permutation.")
        M, N = self.shape
        max_dim = max(self.shape)
        offsets = -self.offsets
        xp = self._xp()
        # Transposed diagonal -k stores the entry of row i at column i (its new column), read
        # from column i + k: SciPy's gather, whose negative columns wrap around by max_dim.
        # (SciPy wraps them by the width of its padded data, which is wrong when the data is
        # wider than max_dim; the two agree otherwise.)
        r = xp.arange(len(offsets), dtype=np.intp)[:, None]
        c = (xp.arange(M, dtype=np.intp) - (offsets % max_dim)[:, None]) % max(max_dim, 1)
        pad = max(0, max_dim - self.data.shape[1])
        if self._is_torch:
            # the same gather in the graph
            ops = _construct_ops()
            data = ops.pad_columns(self.data, self.data.shape[1] + pad)
            data = ops.take_2d(data, r, c)
            return self._dia_container((data, offsets), shape=(N, M))
        data = xp.hstack((self.data, xp.zeros((self.data.shape[0], pad), dtype=self.dtype)))
        data = data[r, c]
        return self._dia_container((data, offsets), shape=(N, M), copy=copy)

    transpose.__doc__ = _spbase.transpose.__doc__

    def diagonal(self, k=0):
        if self._on_gpu:
            return self.tocsr().diagonal(k)
        M, N = self.shape
        if k <= -M or k >= N:
            if self._is_torch:
                return self.data.new_zeros(0)
            return np.empty(0, dtype=self.data.dtype)
        (idx,) = np.nonzero(self.offsets == k)
        first, last = max(0, k), min(M + k, N)
        size = last - first
        if self._is_torch:
            if idx.size == 0:
                return self.data.new_zeros(size)
            row = self.data[int(idx[0]):int(idx[0]) + 1, first:last]
            return _construct_ops().pad_columns(row, size)[0]
        if idx.size == 0:
            return np.zeros(size, dtype=self.data.dtype)
        result = self.data[idx[0], first:last]
        if size > len(result):
            result = np.pad(result, (0, size - len(result)))
        return result

    diagonal.__doc__ = _spbase.diagonal.__doc__

    # ---------------------------------------------------------------- arithmetic
    def _add_sparse(self, other, sub=False):
        if not isinstance(other, _dia_base):
            # SciPy lets the other operand (and its family) decide.
            return self.tocsr()._sub_sparse(other) if sub else other._add_sparse(self)
        _backend.check_same_device(self, other)
        xp = self._xp()
        new_offsets = xp.unique(xp.concatenate((self.offsets, other.offsets)))  # union1d
        M, N = self.shape
        width = min(M + int(new_offsets[-1]), N) if len(new_offsets) else 0
        if self._is_torch or other._is_torch:
            # the same sums of diagonals, scattered in the graph
            parts = [(xp.searchsorted(new_offsets, src.offsets), src.data, sign)
                     for src, sign in ((self, 1), (other, -1 if sub else 1))]
            dtype = np.result_type(self.dtype, other.dtype)
            new_data = _construct_ops().add_rows((len(new_offsets), max(width, 0)), parts,
                                                 dtype)
            return self._dia_container((new_data, new_offsets), shape=self.shape)
        # SciPy's three paths, for its result dtypes and index dtypes (and its casting
        # errors: the permutation paths add in place into one operand's dtype)
        if self.offsets.shape == other.offsets.shape and bool(
                (self.offsets == other.offsets).all()):
            return self._with_data(self.data - other.data if sub else self.data + other.data)
        self_rows = xp.searchsorted(new_offsets, self.offsets)
        other_rows = xp.searchsorted(new_offsets, other.offsets)
        self_w, other_w = self.data.shape[1], other.data.shape[1]
        if self_w == other_w and len(new_offsets) == len(self.offsets):
            new_data = self.data[_inverse_permutation(self_rows)]
            if sub:
                new_data[other_rows, :] -= other.data
            else:
                new_data[other_rows, :] += other.data
        elif self_w == other_w and len(new_offsets) == len(other.offsets):
            new_data = other.data[_inverse_permutation(other_rows)]
            if sub:
                new_data = -new_data
            new_data[self_rows, :] += self.data
        else:
            new_data = xp.zeros((len(new_offsets), width),
                                dtype=np.result_type(self.dtype, other.dtype))
            new_data[self_rows, :self_w] += self.data[:, :width]
            if sub:
                new_data[other_rows, :other_w] -= other.data[:, :width]
            else:
                new_data[other_rows, :other_w] += other.data[:, :width]
        return self._dia_container((new_data, new_offsets), shape=self.shape)

    def _sub_sparse(self, other):
        return self._add_sparse(other, sub=True)

    def multiply(self, other):
        if isscalarlike(other) or _backend.is_scalar_tensor(other):
            return self._mul_scalar(other)
        if self._is_torch or _backend.is_tensor(other) or getattr(other, "_is_torch", False):
            return self._multiply_differentiable(other)
        if isdense(other) or _backend.is_device_array(other):
            if other.ndim > 2:
                return self.toarray() * other
            if 0 in self.shape or 1 in self.shape or 0 in other.shape:
                return super().multiply(other)
            xp = self._xp()
            _backend.check_same_device(self, other)
            other = xp.atleast_2d(other)
            o_rows, o_cols = other.shape
            M, N = self.shape
            L = min(self.data.shape[1], N)
            data = self.data[:, :L].astype(np.result_type(self.dtype, other.dtype))
            if o_rows == 1:
                data *= other[0, :L]
            elif o_rows != M:
                raise ValueError(f"inconsistent shapes {self.shape} and {other.shape}")
            else:
                j = xp.arange(L)
                # Slots outside the matrix are not stored; any in-range row index will do.
                i = (j - self.offsets[:, None]) % M
                if o_cols == 1:
                    j = 0
                elif o_cols != N:
                    raise ValueError(f"inconsistent shapes {self.shape} and {other.shape}")
                data *= other[i, j]
            return self._with_data(data)
        if not isinstance(other, _dia_base) or other.shape != self.shape:
            return super().multiply(other)
        offsets, self_idx, other_idx = _intersect_offsets(self.offsets, other.offsets)
        L = min(self.data.shape[1], other.data.shape[1])
        data = self.data[self_idx, :L] * other.data[other_idx, :L]
        return self._dia_container((data, offsets), shape=self.shape)

    multiply.__doc__ = _spbase.multiply.__doc__

    def _multiply_differentiable(self, other):
        """``multiply`` when either operand's values are a torch tensor. A DIA operand of the
        same shape, or a dense one that broadcasts to ``self``'s shape, keeps the DIA layout
        (gathers in the graph); anything else goes through CSR's differentiable multiply."""
        ops = _construct_ops()
        M, N = self.shape
        if issparse(other):
            if not isinstance(other, _dia_base) or other.shape != self.shape:
                return self.tocsr().multiply(other)
            offsets, self_idx, other_idx = _intersect_offsets(self.offsets, other.offsets)
            L = min(self.data.shape[1], other.data.shape[1])
            dtype = np.result_type(self.dtype, other.dtype)
            data = (ops.values(self.data, dtype)[ops.index(self_idx), :L]
                    * ops.values(other.data, dtype)[ops.index(other_idx), :L])
            return self._dia_container((data, offsets), shape=self.shape)
        other = ops.values(other)
        try:
            bshape = np.broadcast_shapes(self.shape, tuple(other.shape))
        except ValueError:
            bshape = None
        if bshape != self.shape or 0 in self.shape:
            return self.tocsr().multiply(other)  # raises the shape errors
        L = min(self.data.shape[1], N)
        j = self._xp().arange(L)
        # Slots outside the matrix are not stored; any in-range row index will do.
        i = (j - self.offsets[:, None]) % M
        dtype = np.result_type(self.dtype, _backend.numpy_dtype(other.dtype))
        data = (ops.values(self.data, dtype)[:, :L]
                * ops.take_2d(other.broadcast_to(self.shape), i, j, dtype))
        return self._with_data(data)

    def _matmul_sparse(self, other):
        if not isinstance(other, _dia_base):
            return super()._matmul_sparse(other)
        M, N = self.shape[0], other.shape[1]
        if 0 in self.shape or 0 in other.shape:
            return self._dia_container((M, N)).to(self.device)
        # The product of diagonals k1 and k2 lies on diagonal k1 + k2: those are the result's
        # diagonals; the values come from the CSR product.
        xp = self._xp()
        sums = xp.unique(self.offsets[:, None] + other.offsets[None, :])
        offsets = sums[(sums > -M) & (sums < N)]
        C = self.tocsr()._matmul_sparse(other.tocsr()).tocoo()
        if C._is_torch:
            data = _construct_ops().scatter_2d((len(offsets), N),
                                               xp.searchsorted(offsets, C.col - C.row), C.col,
                                               C.data, C.dtype)
            return self._dia_container((data, offsets), shape=(M, N))
        data = xp.zeros((len(offsets), N), dtype=C.dtype)
        data[xp.searchsorted(offsets, C.col - C.row), C.col] = C.data
        return self._dia_container((data, offsets), shape=(M, N))

    def _matmul_vector(self, other):
        if self._is_torch or _backend.is_tensor(other):
            # differentiable mode: CSR's SpMV Function (O(nnz), no dense intermediate)
            return self.tocsr()._matmul_vector(other)
        M, N = self.shape
        dtype = upcast(self.dtype, other.dtype)
        kdt = kernel_dtype(dtype)
        y = self._xp().zeros(M, dtype=kdt)

        offsets = self.offsets.astype(np.int64, copy=False)
        _backend.kernels(offsets).dia_matvec(
            offsets, to_kernel(self.data, kdt), M, N,
            to_kernel(other, kdt), y,
        )
        return from_kernel(y, dtype)

    def _matmul_multivector(self, other):
        return self.tocsr()._matmul_multivector(other)


@accept_1d_operands
class dia_array(_dia_base, sparray):
    """Sparse array in DIAgonal format.

    Constructed like SciPy's ``dia_array``: from a dense array or another sparse array,
    ``(M, N)`` for an empty one, or ``(data, offsets)`` with ``shape=(M, N)``, where
    ``data[d, j]`` is the entry at column ``j`` of diagonal ``offsets[d]``.

    ``data`` may be a torch tensor (or ``requires_grad_()`` makes it one): conversions,
    ``transpose``, ``diagonal``, ``sum``, scalar ``*``, ``+``/``-``, ``multiply`` and ``@``
    then record in torch autograd. Gradients live on the ``data`` array; its slots that fall
    outside the matrix get zero gradient, and every slot inside is a stored entry (the
    pattern is structural, zeros included).

    Examples
    --------
    >>> import numpy as np
    >>> import spgrad as sp
    >>> data = np.array([[1, 2, 3], [4, 5, 6]])
    >>> sp.dia_array((data, [0, 1]), shape=(3, 3)).toarray()
    array([[1, 5, 0],
           [0, 2, 6],
           [0, 0, 3]])

    Differentiable mode:

    >>> import torch
    >>> d = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    >>> A = sp.dia_array((d, [0, 1]), shape=(3, 3))
    >>> A.T.sum(axis=0).sum().backward()
    >>> d.grad
    tensor([[1., 1., 1.],
            [0., 1., 1.]])
    """


class dia_matrix(spmatrix, _dia_base):
    """Sparse matrix in DIAgonal format (``np.matrix`` semantics); see :class:`dia_array`.

    Examples
    --------
    >>> import spgrad as sp
    >>> sp.dia_matrix(([[1, 2]], [0]), shape=(2, 2)).todense()
    matrix([[1, 0],
            [0, 2]])
    """


_register("dia", dia_array, dia_matrix)


def isspmatrix_dia(x):
    """True if ``x`` is a ``dia_matrix`` (not a ``dia_array``).

    Examples
    --------
    >>> import spgrad as sp
    >>> sp.isspmatrix_dia(sp.dia_matrix((2, 2)))
    True
    """
    return isinstance(x, dia_matrix)
