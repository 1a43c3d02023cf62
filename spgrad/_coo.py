"""COOrdinate format: ``coo_array`` and ``coo_matrix``."""

from warnings import warn

import numpy as np

from . import _backend
from ._base import SparseEfficiencyWarning, _register, _spbase, issparse, sparray
from ._data import _data_base
from ._index import _COOIndexMixin, _COOShapeMixin
from ._matrix import spmatrix
from ._minmax import _minmax_mixin
from ._ndim import support_nd
from ._oned import support_1d
from ._sputils import (
    check_shape,
    device_values,
    from_kernel,
    get_index_dtype,
    getdata,
    getdtype,
    has_kernel_dtype,
    isshape,
    kernel_dtype,
    to_kernel,
    to_native,
    upcast,
)

__all__ = ["coo_array", "coo_matrix", "isspmatrix_coo"]


def _astype(data, dtype, copy):
    """``data.astype(dtype)``; torch values are cast with ``Tensor.to`` (in the graph)."""
    if _backend.is_tensor(data):
        return data.to(_backend.torch_dtype(dtype), copy=copy)
    return data.astype(dtype, copy=copy)


def _nd_index_dtype(shape):
    """Index dtype of a COO array built from a shape or a dense array: the smallest that fits
    for 1-D and 2-D, ``intp`` for n-D (SciPy's choices)."""
    if len(shape) > 2:
        return np.dtype(np.intp)
    return get_index_dtype(maxval=max(shape, default=0))


class _coo_base(_COOShapeMixin, _data_base, _minmax_mixin):
    _format = "coo"
    _array_names = ("data", "coords")

    def __init__(self, arg1, shape=None, dtype=None, copy=False, *, maxprint=None):
        _data_base.__init__(self, arg1, maxprint=maxprint)
        cp = True if copy else None
        if isinstance(arg1, tuple):
            if isshape(arg1, allow_nd=self._allow_nd):
                self._shape = check_shape(arg1, allow_nd=self._allow_nd)
                idx_dtype = _nd_index_dtype(self._shape)
                self.coords = tuple(np.array([], dtype=idx_dtype) for _ in self._shape)
                self.data = np.array([], dtype=getdtype(dtype, default=float))
                self.has_canonical_format = True
            else:
                try:
                    obj, coords = arg1
                except (TypeError, ValueError) as e:
                    raise TypeError(
                        f"invalid input format: expected (data, (row, col)), got a tuple of "
                        f"length {len(arg1)}"
                    ) from e
                on_gpu = _backend.is_device_array(obj) or any(
                    _backend.is_device_array(c) for c in coords)
                try:
                    if on_gpu:  # all on one GPU, or an error naming the devices
                        _backend.array_module(*coords)
                        if _backend.is_tensor(obj):  # differentiable mode on the GPU
                            _backend.check_same_device(coords[0], obj)
                        else:
                            _backend.array_module(obj, *coords)
                    else:
                        coords = tuple(_backend.to_numpy(c) for c in coords)
                except TypeError as e:
                    raise TypeError("invalid input format: coordinates must be a tuple of "
                                    "index arrays") from e
                for i, c in enumerate(coords):
                    if c.dtype.kind not in "iu" and c.size:
                        raise ValueError(
                            f"index array {i} must have an integer dtype, got {c.dtype}"
                        )
                if shape is None:
                    if any(len(c) == 0 for c in coords):
                        raise ValueError("cannot infer dimensions from zero sized index arrays")
                    shape = tuple(int(c.max()) + 1 for c in coords)
                self._shape = check_shape(shape, allow_nd=self._allow_nd)
                idx_dtype = get_index_dtype(coords, maxval=max(self._shape, default=0),
                                            check_contents=not self._is_array)
                if on_gpu:
                    self.coords = tuple(c.astype(idx_dtype, copy=bool(copy)) for c in coords)
                if on_gpu and not _backend.is_tensor(obj):
                    self.data = device_values(obj, dtype,
                                              f"{self.__class__.__name__} from CuPy arrays", copy)
                else:
                    if not on_gpu:
                        self.coords = _backend.beside_values(
                            obj, (np.array(c, copy=cp, dtype=idx_dtype) for c in coords))
                    if _backend.is_tensor(obj):
                        self.data = obj.clone() if copy else obj
                        if dtype is not None:
                            self.data = self.data.to(_backend.torch_dtype(getdtype(dtype)))
                    else:
                        self.data = getdata(obj, copy=cp, dtype=dtype)
                self.has_canonical_format = False
        elif issparse(arg1):
            if not isinstance(arg1, _spbase):
                from ._interop import from_scipy

                arg1 = from_scipy(arg1, array=self._is_array)
            if arg1.format == self.format and copy:
                self.coords = tuple(c.copy() for c in arg1.coords)
                self.data = _astype(arg1.data, getdtype(dtype, arg1), copy=True)
                self._shape = arg1.shape
                self.has_canonical_format = arg1.has_canonical_format
            else:
                coo = arg1.tocoo(copy=copy)
                self.coords = tuple(coo.coords)
                self.data = _astype(coo.data, getdtype(dtype, coo), copy=False)
                self._shape = coo.shape
                self.has_canonical_format = coo.has_canonical_format
        elif _backend.is_tensor(arg1):
            self._init_from_dense_tensor(arg1, shape, dtype)
        elif _backend.is_device_array(arg1):
            self._init_from_dense_device(arg1, shape, dtype)
        else:
            if self._is_array and arg1 is None:
                raise TypeError("coo_array needs an array, a sparse array, a shape or "
                                "(data, coords); got None")
            if self._is_array and np.isscalar(arg1):
                raise ValueError("sparse array classes do not support instantiation from a "
                                 f"scalar, got {arg1!r}")
            M = np.asarray(arg1)
            getdtype(M.dtype)
            if not self._is_array:
                M = np.atleast_2d(M)
                if M.ndim != 2:
                    raise TypeError(f"expected 2D array or matrix, not {M.ndim}D")
            if M.ndim == 0:  # SciPy reads a scalar as a missing shape: TypeError
                raise TypeError("sparse array classes do not support instantiation from a "
                                "scalar: pass an array or a shape tuple")
            if M.ndim not in self._allow_nd:
                raise ValueError(
                    f"{'COO arrays' if self._is_array else 'COO matrices'} expect "
                    f"{' or '.join(f'{d}-D' for d in self._allow_nd)} input here, got a "
                    f"{M.ndim}-D array of shape {M.shape}"
                )
            self._shape = check_shape(M.shape, allow_nd=self._allow_nd)
            if shape is not None and check_shape(shape, allow_nd=self._allow_nd) != self._shape:
                raise ValueError(f"inconsistent shapes: {shape} != {self._shape}")
            idx_dtype = _nd_index_dtype(self._shape)
            coords = M.nonzero()
            self.coords = tuple(c.astype(idx_dtype, copy=False) for c in coords)
            self.data = getdata(M[coords], copy=cp, dtype=dtype)
            self.has_canonical_format = True
        if len(self._shape) > 2:  # SciPy's n-D arrays have int64 coordinates, however built
            self.coords = tuple(c.astype(np.int64, copy=False) for c in self.coords)
        self._check()

    def _init_from_dense_tensor(self, T, shape, dtype):
        """Pattern = the nonzeros of a dense tensor; values gathered from it (in the graph)."""
        if T.ndim not in self._allow_nd:
            raise ValueError(f"expected a tensor with {' or '.join(map(str, self._allow_nd))} "
                             f"dimensions, got shape {tuple(T.shape)}")
        self._shape = check_shape(tuple(T.shape), allow_nd=self._allow_nd)
        if shape is not None and check_shape(shape, allow_nd=self._allow_nd) != self._shape:
            raise ValueError(f"inconsistent shapes: {shape} != {self._shape}")
        idx_dtype = _nd_index_dtype(self._shape)
        coords = np.nonzero(_backend.to_numpy(T))
        self.coords = tuple(c.astype(idx_dtype) for c in coords)
        self.data = T[tuple(_backend.index_tensor(c) for c in coords)]
        if dtype is not None:
            self.data = self.data.to(_backend.torch_dtype(getdtype(dtype)))
        self.has_canonical_format = True

    def _init_from_dense_device(self, D, shape, dtype):
        """Pattern = the nonzeros of a 1-D or 2-D CuPy array, found on its GPU."""
        if D.ndim > 2:
            raise ValueError(f"COO arrays on the GPU are built from 1-D and 2-D dense arrays, "
                             f"got a {D.ndim}-D array of shape {D.shape}")
        self._shape = check_shape(D.shape, allow_nd=self._allow_nd)
        if shape is not None and check_shape(shape) != self._shape:
            raise ValueError(f"inconsistent shapes: {shape} != {self._shape}")
        idx_dtype = _nd_index_dtype(self._shape)
        coords = D.nonzero()
        self.coords = tuple(c.astype(idx_dtype) for c in coords)
        self.data = device_values(D[coords], dtype,
                                  f"{self.__class__.__name__} from a CuPy array")
        self.has_canonical_format = True

    def _check(self):
        """Validate coordinates and data (always in full: COO has no cheap invariant)."""
        if self.ndim != len(self.coords):
            raise ValueError(f"mismatching number of index arrays for shape; got "
                             f"{len(self.coords)}, expected {self.ndim}")
        if self.data.ndim != 1:
            raise ValueError(f"data must be 1-D, got shape {self.data.shape}")
        for i, c in enumerate(self.coords):
            if c.ndim != 1:
                raise ValueError(f"index array {i} must be 1-D, got shape {c.shape}")
            if len(c) != len(self.data):
                raise ValueError(f"row, column, and data array must all be the same length; "
                                 f"index array {i} has length {len(c)}, data has "
                                 f"{len(self.data)}")
        idx_dtype = get_index_dtype(self.coords, maxval=max(self._shape, default=0))
        xp = self._xp()
        self.coords = tuple(xp.ascontiguousarray(c, dtype=idx_dtype) for c in self.coords)
        if not _backend.is_tensor(self.data):
            self.data = xp.ascontiguousarray(to_native(self.data))
        self._check_value_dtype()
        if self.nnz > 0:
            for i, c in enumerate(self.coords):
                hi, lo = int(c.max()), int(c.min())
                if hi >= self._shape[i]:
                    raise ValueError(f"axis {i} index {hi} exceeds matrix dimension "
                                     f"{self._shape[i]}")
                if lo < 0:
                    raise ValueError(f"negative axis {i} index: {lo}")

    @classmethod
    def _from_arrays(cls, data, row, col, shape, *, canonical=False, maxprint=None):
        """Wrap 2-D arrays known to be valid (kernel outputs) without checking them."""
        return cls._from_coords(data, (row, col), shape, canonical=canonical, maxprint=maxprint)

    @classmethod
    def _from_coords(cls, data, coords, shape, *, canonical=False, maxprint=None):
        """Wrap valid coordinates (one array per axis) and values without checking them."""
        self = cls.__new__(cls)
        _spbase.__init__(self, None, maxprint=maxprint)
        if len(shape) > 2:  # n-D: int64 coordinates, as the constructor gives them
            coords = (c.astype(np.int64, copy=False) for c in coords)
        self.coords = tuple(coords)
        self.data = _backend.plain_bool(data)
        self._shape = tuple(shape)
        self.has_canonical_format = bool(canonical)
        return self

    # ---------------------------------------------------------------- attributes
    @property
    def row(self):
        """Row index of every stored entry (zeros for a 1-D array, as in SciPy)."""
        if len(self.coords) == 1:
            return np.zeros_like(self.coords[0])
        return self.coords[-2]

    @row.setter
    def row(self, new_row):
        new_row = np.asarray(new_row, dtype=self.coords[-2].dtype)
        self.coords = self.coords[:-2] + (new_row,) + self.coords[-1:]

    @property
    def col(self):
        """Column index of every stored entry."""
        return self.coords[-1]

    @col.setter
    def col(self, new_col):
        new_col = np.asarray(new_col, dtype=self.coords[-1].dtype)
        self.coords = self.coords[:-1] + (new_col,)

    def _getnnz(self, axis=None):
        if axis is None:
            return len(self.data)
        if axis < 0:
            axis += self.ndim
        if axis not in (0, 1):
            raise ValueError("axis out of bounds")
        other = self.coords[1 - axis]
        return np.bincount(other.astype(np.intp, copy=False), minlength=self.shape[1 - axis])

    def count_nonzero(self, axis=None):
        """Number of stored values that are not zero (duplicates summed first), overall or
        per column (``axis=0``) / row (``axis=1``).

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.coo_array(([1, 0, 2], ([0, 1, 1], [0, 0, 1])), shape=(2, 2))
        >>> int(A.count_nonzero()), A.count_nonzero(axis=1)
        (2, array([1, 1]))
        """
        A = self._summed()
        data = _backend.kernel_array(A.data, like=A._index_array())
        if axis is None:
            return int(A._xp().count_nonzero(data)) if A._on_gpu else np.count_nonzero(data)
        if axis < 0:
            axis += self.ndim
        if axis < 0 or axis >= self.ndim:
            raise ValueError("axis out of bounds")
        coord = A.coords[1 - axis][data != 0]
        return A._xp().bincount(coord.astype(np.intp, copy=False),
                                minlength=self.shape[1 - axis])

    def _with_data(self, data, copy=True):
        coords = tuple(c.copy() for c in self.coords) if copy else self.coords
        A = self.__class__._from_coords(data, coords, self._shape, maxprint=self.maxprint)
        A.has_canonical_format = self.has_canonical_format
        return A

    # --------------------------------------------------------------- conversions
    def tocoo(self, copy=False):
        return self.copy() if copy else self

    tocoo.__doc__ = _spbase.tocoo.__doc__

    def _to_compressed(self, fmt, fresh_if_empty=False):
        """CSR (or CSC) arrays by a stable counting sort, then duplicates summed.

        The index dtype follows the coordinates, except that ``tocsr``/``tocsc`` of an empty
        array return a fresh empty container (``fresh_if_empty``), as SciPy does."""
        cls = self._container(fmt)
        if self.nnz == 0 and fresh_if_empty:
            return cls._empty(self.shape, self.dtype, self._xp())
        n_major, n_minor = cls._swap(self.shape)
        major, minor = cls._swap(self.coords)
        idx_dtype = get_index_dtype(self.coords, maxval=max(self.nnz, n_minor))
        major = major.astype(idx_dtype, copy=False)
        minor = minor.astype(idx_dtype, copy=False)
        k, xp = _backend.kernels(major, minor), self._xp()
        indptr = xp.empty(n_major + 1, dtype=idx_dtype)
        indices = xp.empty(self.nnz, dtype=idx_dtype)
        if has_kernel_dtype(self.dtype) and not self._is_torch:
            data = xp.empty(self.nnz, dtype=self.dtype)
            k.coo_tocsr(n_major, major, minor, self.data, indptr, indices, data)
        else:
            perm = xp.empty(self.nnz, dtype=idx_dtype)
            k.coo_tocsr_pattern(n_major, major, minor, indptr, indices, perm)
            data = (self.data[_backend.index_tensor(perm)] if self._is_torch
                    else self.data[perm])
        A = cls._from_arrays(data, indices, indptr, self.shape, maxprint=self.maxprint)
        if self.has_canonical_format and fmt == "csr":
            A.has_canonical_format = True
        else:
            A.sum_duplicates()
        return A

    def tocsr(self, copy=False):
        """Convert to CSR; duplicate entries are summed.

        Examples
        --------
        >>> import numpy as np
        >>> import spgrad as sp
        >>> row = np.array([0, 0, 1, 1])
        >>> col = np.array([0, 2, 1, 1])
        >>> sp.coo_array((np.ones(4), (row, col)), shape=(2, 3)).tocsr().toarray()
        array([[1., 0., 1.],
               [0., 2., 0.]])
        """
        return self._to_compressed("csr", fresh_if_empty=True)

    def tocsc(self, copy=False):
        """Convert to CSC; duplicate entries are summed."""
        return self._to_compressed("csc", fresh_if_empty=True)

    def toarray(self, order=None, out=None):
        if self._is_torch:
            from ._autograd import _ops

            return _ops.to_dense(self, self.row, self.col)
        B = self._process_toarray_args(order, out)
        if not (B.flags.c_contiguous or B.flags.f_contiguous):
            raise ValueError("Output array must be C or F contiguous")
        if self.nnz:
            k = _backend.kernels(self.row, self.col)
            if has_kernel_dtype(self.dtype):
                k.coo_todense(self.row, self.col, self.data, B)
            else:
                tmp = np.zeros(B.shape, dtype=kernel_dtype(self.dtype))
                k.coo_todense(self.row, self.col, to_kernel(self.data), tmp)
                B[...] = from_kernel(tmp, self.dtype)
        return B

    toarray.__doc__ = _spbase.toarray.__doc__

    def todia(self, copy=False):
        A = self._summed()
        xp = A._xp()
        ks = A.col - A.row
        diags, diag_idx = xp.unique(ks, return_inverse=True)
        if len(diags) > 100:
            warn(f"Constructing a DIA matrix with {len(diags)} diagonals is inefficient",
                 SparseEfficiencyWarning, stacklevel=2)
        if A._is_torch:
            return self._dia_container._from_summed_coo(A, diags, diag_idx)
        if A.data.size == 0:
            data = xp.zeros((0, 0), dtype=A.dtype)
        else:
            data = xp.zeros((len(diags), int(A.col.max()) + 1), dtype=A.dtype)
            data[diag_idx, A.col] = A.data
        return self._dia_container((data, diags), shape=self.shape)

    todia.__doc__ = _spbase.todia.__doc__

    def transpose(self, axes=None, copy=False):
        if axes is not None and self._is_array:  # any permutation, as for n-D arrays
            from ._ndim import transpose_coords

            return transpose_coords(self, axes, copy)
        if axes is not None and tuple(axes) != (1, 0):
            raise ValueError("Sparse arrays/matrices do not support an 'axes' parameter "
                             "because swapping dimensions is the only logical permutation.")
        M, N = self.shape
        row, col = self.coords
        A = self.__class__._from_arrays(
            self._copy_values() if copy else self.data,
            col.copy() if copy else col,
            row.copy() if copy else row,
            (N, M),
            maxprint=self.maxprint,
        )
        return A

    transpose.__doc__ = _spbase.transpose.__doc__

    def tensordot(self, other, axes=2):
        """Tensor contraction of this array with ``other`` over ``axes``, as ``np.tensordot``.

        Parameters
        ----------
        other : array_like or sparse array
            Dense (NumPy array, torch tensor) or sparse.
        axes : int or (sequence of int, sequence of int), optional
            ``k`` contracts the last ``k`` axes of this array with the first ``k`` of
            ``other``; a pair gives the axes of each.

        Returns
        -------
        ndarray, scalar or coo_array
            Dense for a dense ``other`` (a scalar when every axis is contracted); a COO array
            for a sparse ``other`` (a 0-d ndarray when every axis is contracted).

        Examples
        --------
        >>> import numpy as np
        >>> import spgrad as sp
        >>> A = sp.coo_array(np.arange(24.0).reshape(2, 3, 4))
        >>> A.tensordot(np.ones((3, 4)), axes=2)
        array([ 66., 210.])
        >>> A.tensordot(sp.coo_array(np.eye(4)), axes=1).shape
        (2, 3, 4)
        """
        from ._ndim import tensordot

        return tensordot(self, other, axes)

    # --------------------------------------------------------------- canonical form
    def _summed(self):
        """A canonical (row-major sorted, duplicates summed) COO; ``self`` if it is one."""
        if self.has_canonical_format:
            return self
        csr = self._to_compressed("csr")
        A = csr.tocoo(copy=False)
        A.has_canonical_format = True
        return A

    def sum_duplicates(self):
        """Sum duplicate entries and sort entries row-major, *in place*.

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.coo_array(([1, 2], ([0, 0], [1, 1])), shape=(1, 2))
        >>> A.sum_duplicates()
        >>> A.data, A.nnz
        (array([3]), 1)
        """
        if self.has_canonical_format:
            return
        self._check_pattern_mutable("sum_duplicates")
        A = self._summed()
        self.coords, self.data = A.coords, A.data
        self.has_canonical_format = True

    def eliminate_zeros(self):
        """Remove stored entries equal to zero, *in place*."""
        mask = (self.data if self._on_gpu else _backend.to_numpy(self.data)) != 0
        if bool(mask.all()):
            return
        self._check_pattern_mutable("eliminate_zeros")
        keep = self._xp().flatnonzero(mask)
        self.data = self.data[_backend.index_tensor(keep) if self._is_torch else keep]
        self.coords = tuple(c[keep] for c in self.coords)

    # ---------------------------------------------------------------- arithmetic
    def _add_dense(self, other):
        if other.shape != self.shape:
            raise ValueError(f"Incompatible shapes ({self.shape} and {other.shape})")
        if self._is_torch or _backend.is_tensor(other):
            other = _backend.as_tensor(other)
            return self._dense_tensor(other) + other
        dtype = upcast(self.dtype, other.dtype)
        result = self._xp().array(other, dtype=dtype, copy=True)
        if self.nnz:
            k = _backend.kernels(self.row, self.col)
            if has_kernel_dtype(dtype):
                k.coo_todense(self.row, self.col, self.data.astype(dtype, copy=False), result)
            else:
                tmp = result.astype(kernel_dtype(dtype))
                k.coo_todense(self.row, self.col, to_kernel(self.data, dtype), tmp)
                result = from_kernel(tmp, dtype)
        return self._ascontainer(result)

    def _csr_for_product(self, other):
        """The CSR form for a product with a dense operand. Bool entries stored twice widen to
        the result dtype first, so that they add up as in SciPy's COO products (converting
        them as they are would OR them)."""
        A = self
        if self.dtype == np.bool_ and not self.has_canonical_format:
            A = self.astype(upcast(self.dtype, other.dtype))
        return A.tocsr()

    def _matmul_vector(self, other):
        return self._csr_for_product(other)._matmul_vector(other)

    def _matmul_multivector(self, other):
        return self._csr_for_product(other)._matmul_multivector(other)

    def diagonal(self, k=0):
        return self.tocsr().diagonal(k)

    diagonal.__doc__ = _spbase.diagonal.__doc__

    def _summable_data(self):
        # SciPy sums duplicates before a whole-array sum (bool duplicates OR together); it does
        # so in place, spgrad on a copy
        return self._deduped().data

    def _axis_sums(self, axis, res_dtype):
        idx = self.coords[1 - axis]
        n = self.shape[1 - axis]
        if self._is_torch:
            from ._autograd import _ops

            return _ops.axis_sums(self.data, idx, n)
        if self.dtype.kind == "c" or res_dtype.kind not in "fc":
            # entries widen to the sum dtype before duplicates meet (bool duplicates count
            # twice, as in SciPy's product with a vector of ones)
            A = self if self.dtype == res_dtype else self.astype(res_dtype)
            return A.tocsr()._axis_sums(axis, res_dtype)
        return self._xp().bincount(idx.astype(np.intp, copy=False), weights=self.data,
                                   minlength=n).astype(res_dtype, copy=False)


@support_nd
@support_1d
class coo_array(_COOIndexMixin, _coo_base, sparray):
    """COOrdinate-format sparse array: one coordinate array per axis (``coords``; ``row`` and
    ``col`` in 2-D) and a parallel ``data`` array.

    Constructed like SciPy's ``coo_array``: from a dense array, another sparse array (any
    format, spgrad's or SciPy's), a shape for an empty one, or ``(data, (row, col))``
    triplets (duplicates are kept until :meth:`sum_duplicates` or a conversion sums them).
    Coordinates are checked against the shape on construction. Like SciPy 1.17's, a
    ``coo_array`` can be 1-D (``(data, (col,))``, or a single row of a 2-D array) or n-D
    (``(data, (i, j, k))``): see :doc:`/user_guide/differences` for what n-D arrays support.

    Examples
    --------
    >>> import numpy as np
    >>> import spgrad as sp
    >>> A = sp.coo_array(([1, 2, 3], ([0, 1, 1], [2, 0, 0])), shape=(2, 3))
    >>> A.toarray()
    array([[0, 0, 1],
           [5, 0, 0]])
    >>> A[1].shape, A[1].toarray()          # a row of a sparse array is a 1-D array
    ((3,), array([5, 0, 0]))
    >>> T = sp.coo_array(np.arange(24).reshape(2, 3, 4))
    >>> T.sum(axis=(0, 2)), T[1, :, 0].toarray()
    (array([ 60,  92, 124]), array([12, 16, 20]))
    """


class coo_matrix(spmatrix, _coo_base):
    """COOrdinate-format sparse matrix (``np.matrix`` semantics for ``*``, ``**`` and
    reductions); see :class:`coo_array` for the construction forms.

    Examples
    --------
    >>> import spgrad as sp
    >>> A = sp.coo_matrix(([1, 2], ([0, 1], [1, 0])), shape=(2, 2))
    >>> (A * A).toarray()
    array([[2, 0],
           [0, 2]])
    """


_register("coo", coo_array, coo_matrix)


def isspmatrix_coo(x):
    """True if ``x`` is a ``coo_matrix`` (not a ``coo_array``).

    Examples
    --------
    >>> import spgrad as sp
    >>> sp.isspmatrix_coo(sp.coo_matrix([[1]]))
    True
    """
    return isinstance(x, coo_matrix)
