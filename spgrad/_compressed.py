"""CSR and CSC, written once.

A compressed array stores ``indptr`` over its *major* axis (rows for CSR, columns for CSC) and
``indices`` along its *minor* axis. ``_swap`` maps (row, col) quantities to (major, minor), so
every method below sees the arrays as the CSR of a (n_major × n_minor) matrix: the CSR of ``A``
for CSR, the CSR of ``Aᵀ`` for CSC. Kernels therefore only need CSR forms (and their transposed
variants).
"""

import numpy as np

from . import _backend
from ._base import _spbase, issparse
from ._data import _data_base
from ._index import _CompressedIndexMixin
from ._minmax import _minmax_mixin
from ._sputils import (
    check_compressed_arrays,
    check_device_dtype,
    check_shape,
    device_values,
    from_kernel,
    get_index_dtype,
    getdtype,
    has_kernel_dtype,
    isshape,
    kernel_dtype,
    to_kernel,
    to_native,
    upcast,
)

#: value dtypes the CPU product kernels take as they are
_PLAIN_DTYPES = frozenset(np.dtype(t) for t in ("f4", "f8", "c8", "c16"))


def _autograd_ops():
    """The differentiable-mode operations (imports torch; called only with tensors)."""
    from ._autograd import _ops

    return _ops


# Operation codes of the csr_binop kernel.
_BINOPS = {"add": "BINOP_ADD", "sub": "BINOP_SUB", "mul": "BINOP_MUL",
           "max": "BINOP_MAX", "min": "BINOP_MIN"}


class _cs_base(_CompressedIndexMixin, _data_base, _minmax_mixin):
    """Shared behaviour of CSR and CSC arrays/matrices."""

    _array_names = ("data", "indices", "indptr")

    def __init__(self, arg1, shape=None, dtype=None, copy=False, *, maxprint=None):
        _data_base.__init__(self, arg1, maxprint=maxprint)
        full_check = False
        if issparse(arg1):
            if not isinstance(arg1, _spbase):
                from ._interop import from_scipy

                arg1 = from_scipy(arg1, array=self._is_array)
            if arg1.format == self.format:
                if copy:
                    arg1 = arg1.copy()
            else:
                arg1 = arg1.asformat(self.format)
            self._set_arrays(arg1.data, arg1.indices, arg1.indptr, arg1._shape)
            self._copy_flags(arg1)
        elif isinstance(arg1, tuple):
            if isshape(arg1, allow_nd=self._allow_nd):
                self._shape = check_shape(arg1, allow_nd=self._allow_nd)
                M, _ = self._major_minor()
                idx_dtype = get_index_dtype(maxval=max(self._shape, default=0))
                self.data = np.zeros(0, getdtype(dtype, default=float))
                self.indices = np.zeros(0, idx_dtype)
                self.indptr = np.zeros(M + 1, dtype=idx_dtype)
            elif len(arg1) == 2:
                coo = self._coo_container(arg1, shape=shape, dtype=dtype)
                other = coo.tocsr() if coo.ndim == 1 else coo._to_compressed(self.format)
                self._set_arrays(other.data, other.indices, other.indptr, other._shape)
                self._copy_flags(other)
            elif len(arg1) == 3 and any(_backend.is_device_array(a) for a in arg1):
                self._init_device_arrays(*arg1, shape=shape, dtype=dtype, copy=copy)
                full_check = True
            elif len(arg1) == 3:
                data, indices, indptr = arg1
                maxval = None
                if shape is not None and 0 not in shape:
                    maxval = max(shape)
                indices = _backend.to_numpy(indices)
                indptr = _backend.to_numpy(indptr)
                for name, arr in (("indices", indices), ("indptr", indptr)):
                    if arr.dtype.kind not in "iu":
                        raise ValueError(
                            f"{name} array must have an integer dtype, got {arr.dtype}"
                        )
                idx_dtype = get_index_dtype(
                    (indices, indptr), maxval=maxval, check_contents=not self._is_array
                )
                cp = True if copy else None
                self.indices = np.array(indices, copy=cp, dtype=idx_dtype)
                self.indptr = np.array(indptr, copy=cp, dtype=idx_dtype)
                if _backend.is_tensor(data):
                    self.data = data.clone() if copy else data
                    self.indices, self.indptr = _backend.beside_values(
                        data, (self.indices, self.indptr))
                else:
                    self.data = to_native(np.array(data, copy=cp, dtype=dtype))
                if self.data.ndim == 0:
                    raise ValueError("data, indices, and indptr should be 1-D; data is a "
                                     "scalar")
                full_check = True
            else:
                raise ValueError(
                    f"unrecognized {self.__class__.__name__} constructor input: {arg1}"
                )
        else:
            if _backend.is_tensor(arg1) or _backend.is_device_array(arg1):
                # Pattern from the nonzeros (found on the GPU for a CuPy array; for a tensor,
                # the values gathered in the autograd graph).
                other = self._coo_container(arg1, dtype=dtype).asformat(self.format)
            else:
                if self._is_array and np.isscalar(arg1):
                    raise ValueError("sparse array classes do not support instantiation from "
                                     f"a scalar, got {arg1!r}")
                try:
                    arg1 = np.asarray(arg1)
                except Exception as e:
                    raise ValueError(
                        f"unrecognized {self.__class__.__name__} constructor input: {arg1}"
                    ) from e
                if not self._is_array:
                    arg1 = np.atleast_2d(arg1)
                if arg1.ndim == 0:
                    # SciPy: TypeError where 1-D input is accepted (csr_array), else ValueError
                    exc = TypeError if 1 in self._allow_nd else ValueError
                    raise exc("sparse array classes do not support instantiation from a "
                              "scalar: pass an array (1-D or 2-D) or a shape tuple")
                if arg1.ndim not in self._allow_nd:
                    if arg1.ndim == 1:  # SciPy's message
                        raise ValueError(f"{self.format.upper()} arrays don't support 1D "
                                         f"input. Use 2D")
                    raise ValueError(
                        f"{self.format.upper()} {'arrays' if self._is_array else 'matrices'} "
                        f"expect {' or '.join(f'{d}-D' for d in self._allow_nd)} input here, "
                        f"got a {arg1.ndim}-D array of shape {arg1.shape}"
                    )
                other = self._coo_container(arg1, dtype=dtype).asformat(self.format)
            self._set_arrays(other.data, other.indices, other.indptr, other._shape)
            self._copy_flags(other)

        if shape is not None:
            self._shape = check_shape(shape, allow_nd=self._allow_nd)
        elif self._shape is None:
            try:
                M = len(self.indptr) - 1
                N = int(self.indices.max()) + 1
            except Exception as e:
                raise ValueError("unable to infer matrix dimensions") from e
            self._shape = check_shape(self._swap((M, N)), allow_nd=self._allow_nd)

        self._check_value_dtype()
        if dtype is not None and getdtype(dtype) != self.dtype:
            self.data = self._cast_values(dtype)
        self.check_format(full_check=full_check)

    # ------------------------------------------------------------------- internals
    def _init_device_arrays(self, data, indices, indptr, *, shape, dtype, copy):
        """``(data, indices, indptr)`` given as CuPy arrays (``data`` may be a tensor on their
        GPU: differentiable mode): kept on their GPU (cast, or copied with ``copy``);
        ``__init__`` then checks them in full, on the device."""
        _backend.array_module(indices, indptr)  # both on one device, or an error
        if _backend.is_tensor(data):
            _backend.check_same_device(indices, data)
        else:
            _backend.array_module(data, indices)
        for name, arr in (("indices", indices), ("indptr", indptr)):
            if arr.dtype.kind not in "iu":
                raise ValueError(f"{name} array must have an integer dtype, got {arr.dtype}")
        maxval = max(shape) if shape is not None and 0 not in shape else None
        idx_dtype = get_index_dtype((indices, indptr), maxval=maxval,
                                    check_contents=not self._is_array)
        self.indices = indices.astype(idx_dtype, copy=bool(copy))
        self.indptr = indptr.astype(idx_dtype, copy=bool(copy))
        what = f"{self.__class__.__name__} from CuPy arrays"
        if _backend.is_tensor(data):  # cast by __init__, in the graph
            check_device_dtype(_backend.numpy_dtype(data.dtype), what)
            self.data = data.clone() if copy else data
        else:
            self.data = device_values(data, dtype, what, copy)
        if self.data.ndim == 0:
            raise ValueError("data, indices, and indptr should be 1-D; data is a scalar")

    @classmethod
    def _empty(cls, shape, dtype, xp=np):
        """An array of ``shape`` with no stored entries, as ``cls(shape, dtype=dtype)``, its
        arrays allocated by ``xp`` (NumPy, or CuPy for one on the GPU)."""
        if xp is np:
            return cls(shape, dtype=dtype)
        idx_dtype = get_index_dtype(maxval=max(shape, default=0))
        n_major = cls._swap(shape)[0]
        return cls._from_arrays(xp.zeros(0, dtype=dtype), xp.zeros(0, dtype=idx_dtype),
                                xp.zeros(n_major + 1, dtype=idx_dtype), shape, canonical=True)

    def _set_arrays(self, data, indices, indptr, shape):
        self.data, self.indices, self.indptr, self._shape = (_backend.plain_bool(data), indices,
                                                             indptr, shape)

    def _copy_flags(self, other):
        for flag in ("_has_sorted_indices", "_has_canonical_format"):
            if flag in other.__dict__:
                self.__dict__[flag] = other.__dict__[flag]

    @classmethod
    def _from_arrays(cls, data, indices, indptr, shape, *, sorted_indices=None,
                     canonical=None, maxprint=None):
        """Wrap kernel outputs without validation (they are valid by construction)."""
        self = cls.__new__(cls)
        _spbase.__init__(self, None, maxprint=maxprint)
        self._set_arrays(data, indices, indptr, tuple(shape))
        if canonical:
            self.has_canonical_format = True
        elif sorted_indices is not None:
            self.has_sorted_indices = sorted_indices
            if not sorted_indices:
                self._has_canonical_format = False
        return self

    def _result_index_arrays(self, indices, indptr, shape):
        """Index arrays of an operation's result as SciPy's constructor leaves them: the matrix
        family downcasts int64 indices whose values fit int32; arrays keep their dtype."""
        if self._is_array:
            return indices, indptr
        maxval = max(shape) if 0 not in shape else None
        small = get_index_dtype((indices, indptr), maxval=maxval, check_contents=True)
        return indices.astype(small, copy=False), indptr.astype(small, copy=False)

    def _major_minor(self):
        return self._swap(self._shape_as_2d)

    def _kernels(self):
        return _backend.kernels(self.indptr, self.indices)

    # -------------------------------------------------------------------- format
    def check_format(self, full_check=True):
        """Check that the arrays form a valid CSR/CSC structure.

        Parameters
        ----------
        full_check : bool, optional
            Also scan the arrays (O(nnz)): ``indptr`` non-decreasing and every index in range.
            The cheap O(1) checks always run. Arrays are trimmed to ``nnz`` afterwards.

        Raises
        ------
        ValueError
            Naming the violated invariant.

        Examples
        --------
        >>> import numpy as np
        >>> import spgrad as sp
        >>> A = sp.csr_array([[1, 0], [0, 2]])
        >>> A.indices[0] = 5
        >>> A.check_format()
        Traceback (most recent call last):
        ...
        ValueError: indices must be < 2, got 5
        """
        M, N = self._major_minor()
        check_compressed_arrays(self.indptr, self.indices, self.data, M, N, full_check)
        self.prune()
        if full_check:
            # Kernels read contiguous, native-endian arrays of one index dtype.
            idx_dtype = get_index_dtype((self.indptr, self.indices))
            xp = _backend.array_module(self.indptr, self.indices)
            self.indptr = xp.ascontiguousarray(self.indptr, dtype=idx_dtype)
            self.indices = xp.ascontiguousarray(self.indices, dtype=idx_dtype)
            if not self._is_torch:
                _backend.array_module(self.data, self.indptr)  # values on the same device
                self.data = xp.ascontiguousarray(to_native(self.data))

    def _getnnz(self, axis=None):
        if axis is None:
            return int(self.indptr[-1])
        if axis < 0:
            axis += 2
        # SciPy's rule: reducing over axis 0 counts per column, over axis 1 per row; in
        # (major, minor) terms axis 0 of a CSR / axis 1 of a CSC counts per minor index.
        axis, _ = self._swap((axis, 1 - axis))
        _, N = self._major_minor()
        xp = self._xp()
        if axis == 0:
            return xp.bincount(self.indices.astype(np.intp, copy=False), minlength=N)
        if axis == 1:
            return xp.diff(self.indptr)
        raise ValueError("axis out of bounds")

    def count_nonzero(self, axis=None):
        """Number of stored values that are not zero, overall or along ``axis``
        (duplicates are summed first).

        Parameters
        ----------
        axis : {None, 0, 1, -1, -2}, optional
            None counts the whole array; 0 counts per column, 1 per row.

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.csr_array(([1, 0, 2], [0, 1, 1], [0, 2, 3]), shape=(2, 2))
        >>> A.nnz, int(A.count_nonzero())
        (3, 2)
        >>> A.count_nonzero(axis=0)
        array([1, 1])
        """
        A = self._deduped()
        data = _backend.kernel_array(A.data, like=A._index_array())
        xp = A._xp()
        if axis is None:
            return int(xp.count_nonzero(data)) if A._on_gpu else np.count_nonzero(data)
        if axis < 0:
            axis += 2
        axis, _ = self._swap((axis, 1 - axis))
        M, N = self._major_minor()
        mask = data != 0
        if axis == 0:
            idx = A.indices if bool(mask.all()) else A.indices[mask]
            return xp.bincount(idx.astype(np.intp, copy=False), minlength=N)
        if axis == 1:
            if bool(data.all()):
                return xp.diff(A.indptr)
            # SciPy counts line by line into a list: int64, or float64 when there are none
            if M == 0:
                return xp.zeros(0)
            rows = xp.empty(A.nnz, dtype=A.indptr.dtype)
            A._kernels().expand_indptr(A.indptr, rows)
            return xp.bincount(rows[mask], minlength=M).astype(np.int64)
        raise ValueError("axis out of bounds")

    @property
    def has_sorted_indices(self):
        """Whether the indices are sorted within every row (CSR) / column (CSC)."""
        if "_has_sorted_indices" not in self.__dict__:
            self._has_sorted_indices = bool(
                self._kernels().csr_has_sorted_indices(self.indptr, self.indices)
            )
        return self._has_sorted_indices

    @has_sorted_indices.setter
    def has_sorted_indices(self, val):
        self._has_sorted_indices = bool(val)

    @property
    def has_canonical_format(self):
        """Whether indices are sorted and free of duplicates."""
        if not self.__dict__.get("_has_sorted_indices", True):
            self._has_canonical_format = False
        elif "_has_canonical_format" not in self.__dict__:
            self.has_canonical_format = bool(
                self._kernels().csr_has_canonical_format(self.indptr, self.indices)
            )
        return self._has_canonical_format

    @has_canonical_format.setter
    def has_canonical_format(self, val):
        self._has_canonical_format = bool(val)
        if val:
            self.has_sorted_indices = True

    def sort_indices(self):
        """Sort the indices of every row (CSR) / column (CSC) *in place*.

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.csr_array(([1, 2], [1, 0], [0, 2]), shape=(1, 2))
        >>> A.has_sorted_indices
        False
        >>> A.sort_indices()
        >>> A.indices, A.data
        (array([0, 1]), array([2, 1]))
        """
        if self.has_sorted_indices:
            return
        self._check_pattern_mutable("sort_indices")
        k = self._kernels()
        if has_kernel_dtype(self.dtype) and not self._is_torch:
            k.csr_sort_indices(self.indptr, self.indices, self.data)
        else:
            perm = self._xp().empty(len(self.indices), dtype=self.indices.dtype)
            k.csr_sort_indices_pattern(self.indptr, self.indices, perm)
            if self._is_torch:
                self.data = _autograd_ops().gather(self.data, perm)
            else:
                self.data[:] = self.data[perm]
        self.has_sorted_indices = True

    def sorted_indices(self):
        """A copy with sorted indices."""
        A = self.copy()
        A.sort_indices()
        return A

    def sum_duplicates(self):
        """Sum duplicate entries *in place* (sorting the indices first).

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.csr_array(([1, 2], [0, 0], [0, 2]), shape=(1, 2))
        >>> A.sum_duplicates()
        >>> A.data, A.nnz
        (array([3]), 1)
        """
        if self.has_canonical_format:
            return
        self._check_pattern_mutable("sum_duplicates")
        self.sort_indices()
        k = self._kernels()
        if has_kernel_dtype(self.dtype) and not self._is_torch:
            k.csr_sum_duplicates(self.indptr, self.indices, self.data)
        else:
            nnz, xp = self.nnz, self._xp()
            out_indptr = xp.empty_like(self.indptr)
            out_indices = xp.empty(nnz, dtype=self.indices.dtype)
            segment = xp.empty(nnz, dtype=self.indices.dtype)
            new_nnz = k.csr_sum_duplicates_pattern(
                self.indptr, self.indices, out_indptr, out_indices, segment
            )
            data = self.data[:nnz]
            if self._is_torch:
                data = _autograd_ops().axis_sums(data, segment, new_nnz)
            elif nnz:
                starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
                data = np.add.reduceat(data, starts).astype(self.dtype, copy=False)
            self.indptr, self.indices, self.data = out_indptr, out_indices[:new_nnz], data
        self.prune()
        self.has_canonical_format = True

    def eliminate_zeros(self):
        """Remove stored entries equal to zero, *in place*.

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.csr_array(([1, 0], [0, 1], [0, 2]), shape=(1, 2))
        >>> A.eliminate_zeros()
        >>> A.nnz
        1
        """
        k = self._kernels()
        if has_kernel_dtype(self.dtype) and not self._is_torch:
            k.csr_eliminate_zeros(self.indptr, self.indices, self.data)
        else:
            nnz, xp = self.nnz, self._xp()
            keep = _backend.kernel_array(self.data[:nnz], like=self.indptr) != 0
            if bool(keep.all()):
                self.prune()
                return
            self._check_pattern_mutable("eliminate_zeros")
            M, _ = self._major_minor()
            rows = _backend.repeat(xp.arange(M), xp.diff(self.indptr))
            counts = xp.bincount(rows[keep], minlength=M)
            self.indptr = xp.concatenate((xp.zeros(1, dtype=counts.dtype),
                                          xp.cumsum(counts))).astype(self.indptr.dtype)
            self.indices = self.indices[:nnz][keep]
            self.data = self.data[:nnz][_backend.index_tensor(xp.flatnonzero(keep))
                                        if self._is_torch else keep]
        self.prune()

    def prune(self):
        """Trim ``indices`` and ``data`` to ``nnz`` entries."""
        M, _ = self._major_minor()
        if len(self.indptr) != M + 1:
            raise ValueError(f"index pointer has invalid length {len(self.indptr)}, "
                             f"expected {M + 1}")
        nnz = self.nnz
        if len(self.indices) < nnz:
            raise ValueError("indices array has fewer than nnz elements")
        if len(self.data) < nnz:
            raise ValueError("data array has fewer than nnz elements")
        if len(self.indices) > nnz:
            self.indices = self.indices[:nnz]
        if len(self.data) > nnz:
            self.data = self.data[:nnz]

    def _canonical(self):
        """``self`` if canonical, else a canonical copy (``self`` untouched)."""
        if self.has_canonical_format:
            return self
        A = self.copy()
        A.sum_duplicates()
        return A

    def _with_data(self, data, copy=True):
        if copy:
            indices, indptr = self.indices.copy(), self.indptr.copy()
        else:
            indices, indptr = self.indices, self.indptr
        A = self.__class__._from_arrays(data, indices, indptr, self._shape,
                                        maxprint=self.maxprint)
        A._copy_flags(self)
        return A

    # --------------------------------------------------------------- conversions
    def tocoo(self, copy=True):
        major = self._xp().empty(len(self.indices), dtype=self.indices.dtype)
        self._kernels().expand_indptr(self.indptr, major)
        row, col = self._swap((major, self.indices))
        return self._coo_container._from_arrays(
            self._copy_values() if copy else self.data,
            row,
            col.copy() if (copy and col is self.indices) else col,
            self._shape,
            canonical=self.format == "csr" and self.__dict__.get("_has_canonical_format", False),
        )

    def toarray(self, order=None, out=None):
        if self._is_torch:
            ops = _autograd_ops()
            return ops.to_dense(self, *ops.coords(self))
        if out is None and order is None:
            order = self._swap("CF")[0]
        out = self._process_toarray_args(order, out)
        if not (out.flags.c_contiguous or out.flags.f_contiguous):
            raise ValueError("Output array must be C or F contiguous")
        # The kernel fills the CSR layout of the (major x minor) matrix; for CSC that is the
        # transpose of ``out``. Any strides work.
        target = self._swap((out, out.T))[0]
        k = self._kernels()
        if has_kernel_dtype(self.dtype):
            k.csr_todense(self.indptr, self.indices, self.data, target)
        else:
            tmp = np.zeros(target.shape, dtype=kernel_dtype(self.dtype))
            k.csr_todense(self.indptr, self.indices, to_kernel(self.data), tmp)
            target[...] = from_kernel(tmp, self.dtype)
        return out

    def _transposed_arrays(self):
        """CSR arrays of the transpose of the (major x minor) matrix: sorted, duplicates kept."""
        M, N = self._major_minor()
        k, xp = self._kernels(), self._xp()
        out_indptr = xp.empty(N + 1, dtype=self.indptr.dtype)
        out_indices = xp.empty(self.nnz, dtype=self.indices.dtype)
        if has_kernel_dtype(self.dtype) and not self._is_torch:
            out_data = xp.empty(self.nnz, dtype=self.dtype)
            k.csr_transpose(N, self.indptr, self.indices, self.data,
                            out_indptr, out_indices, out_data)
        else:
            perm = xp.empty(self.nnz, dtype=self.indices.dtype)
            k.csr_transpose_pattern(N, self.indptr, self.indices, out_indptr, out_indices, perm)
            out_data = (_autograd_ops().gather(self.data, perm) if self._is_torch
                        else self.data[perm])
        return out_data, out_indices, out_indptr

    def _as_compressed(self, fmt, copy):
        """The same matrix in ``fmt`` ('csr' or 'csc'): ``self`` (or a copy) if it already is,
        else one linear-time transpose of the arrays."""
        if fmt == self.format:
            return self.copy() if copy else self
        data, indices, indptr = self._transposed_arrays()
        return self._container(fmt)._from_arrays(
            data, indices, indptr, self._shape,
            sorted_indices=True,
            canonical=self.__dict__.get("_has_canonical_format", False),
        )

    def tocsr(self, copy=False):
        return self._as_compressed("csr", copy)

    tocsr.__doc__ = _spbase.tocsr.__doc__

    def tocsc(self, copy=False):
        return self._as_compressed("csc", copy)

    tocsc.__doc__ = _spbase.tocsc.__doc__

    def transpose(self, axes=None, copy=False):
        if axes is not None and tuple(axes) != (1, 0):
            raise ValueError("Sparse arrays/matrices do not support an 'axes' parameter "
                             "because swapping dimensions is the only logical permutation.")
        # The arrays of a CSR matrix are the CSC arrays of its transpose, and vice versa.
        M, N = self.shape
        A = self._container("csc" if self.format == "csr" else "csr")._from_arrays(
            self._copy_values() if copy else self.data,
            self.indices.copy() if copy else self.indices,
            self.indptr.copy() if copy else self.indptr,
            (N, M),
            maxprint=self.maxprint,
        )
        A._copy_flags(self)
        return A

    transpose.__doc__ = _spbase.transpose.__doc__

    def nonzero(self):
        """``(row, col)`` of the stored entries whose value is not zero, in row-major order
        for CSC as well (duplicates are not summed, as in SciPy).

        Examples
        --------
        >>> import spgrad as sp
        >>> sp.csc_array([[0, 1], [2, 3]]).nonzero()
        (array([0, 1, 1], dtype=int32), array([1, 0, 1], dtype=int32))
        """
        A = self.tocoo(copy=False)
        mask = _backend.kernel_array(A.data, like=A._index_array()) != 0
        row, col = A.row[mask], A.col[mask]
        if self.format == "csc":
            order = _backend.stable_argsort(row)
            row, col = row[order], col[order]
        return row, col

    def __iter__(self):
        """Iterate over rows, as SciPy does for CSC too: 1-D ``csr_array`` rows for sparse
        arrays, (1 × n) ``csr_matrix`` rows for the matrix family. On the GPU the row bounds
        are read back once (``indptr``), and the rows are device arrays."""
        A = self.tocsr()
        data = A.data
        bounds = A.indptr.get() if A._on_gpu else A.indptr
        for i in range(A.shape[0]):  # lazily: a partial iteration reads only its rows
            i0, i1 = int(bounds[i]), int(bounds[i + 1])
            # a row sharing nothing with A, valid by construction: 1-D for arrays, (1 × n)
            # with the matrix constructor's index downcast for matrices
            shape = (A.shape[1],) if self._is_array else (1, A.shape[1])
            indices, row_indptr = A._result_index_arrays(A.indices[i0:i1].copy(),
                                                         A.indptr[i:i + 2] - A.indptr[i],
                                                         shape)
            row = A.__class__._from_arrays(
                data[i0:i1].clone() if A._is_torch else data[i0:i1].copy(), indices,
                row_indptr, shape, maxprint=self.maxprint)
            row._copy_flags(A)
            yield row

    # ---------------------------------------------------------------- arithmetic
    def _binopt(self, other, op):
        """Elementwise ``op`` on the union (add/sub/max/min) or intersection (mul) of two
        patterns, dropping results equal to zero as SciPy does."""
        other = self.__class__(other)
        A, B = self._canonical(), other._canonical()
        if A._is_torch or B._is_torch:
            return _autograd_ops().union_binop(A, B, op)
        dtype = upcast(self.dtype, other.dtype)
        kdt = kernel_dtype(dtype)
        M, N = self._major_minor()
        k, xp = self._kernels(), self._xp()

        def run(maxnnz):
            idx_dtype = get_index_dtype((A.indptr, A.indices, B.indptr, B.indices),
                                        maxval=maxnnz)
            indptr = xp.empty(M + 1, dtype=idx_dtype)
            indices = xp.empty(maxnnz, dtype=idx_dtype)
            data = xp.empty(maxnnz, dtype=kdt)
            nnz = k.csr_binop(
                getattr(k, _BINOPS[op]), N,
                A.indptr.astype(idx_dtype, copy=False), A.indices.astype(idx_dtype, copy=False),
                to_kernel(A.data, kdt),
                B.indptr.astype(idx_dtype, copy=False), B.indices.astype(idx_dtype, copy=False),
                to_kernel(B.data, kdt),
                indptr, indices, data,
            )
            indices, indptr = self._result_index_arrays(indices[:nnz], indptr, self._shape)
            return self.__class__._from_arrays(
                from_kernel(data[:nnz], dtype), indices, indptr, self._shape, canonical=True,
            )

        if op != "mul":
            return run(A.nnz + B.nnz)
        # A product stores the intersection, except that inf * (missing 0) is a NaN SciPy
        # keeps. The kernel never writes past its capacity and says when the result would not
        # fit, which only non-finite values can cause: then the union bounds the output. (No
        # pass over the values to look for them first.)
        try:
            return run(min(A.nnz, B.nnz))
        except ValueError as e:
            if "capacity" not in str(e):
                raise
            return run(A.nnz + B.nnz)

    def _add_sparse(self, other):
        return self._binopt(other, "add")

    def _sub_sparse(self, other):
        return self._binopt(other, "sub")

    def _add_dense(self, other):
        if other.shape != self.shape:
            raise ValueError(f"Incompatible shapes ({self.shape} and {other.shape})")
        if self._is_torch or _backend.is_tensor(other):
            other = _backend.as_tensor(other)
            return self._dense_tensor(other) + other
        dtype = upcast(self.dtype, other.dtype)
        result = self._xp().array(other, dtype=dtype, order=self._swap("CF")[0], copy=True)
        if has_kernel_dtype(dtype):
            target = self._swap((result, result.T))[0]
            self._kernels().csr_todense(self.indptr, self.indices,
                                        self.data.astype(dtype, copy=False), target)
        else:
            result = (result.astype(kernel_dtype(dtype))
                      + self.toarray().astype(kernel_dtype(dtype)))
            result = from_kernel(result, dtype)
        return self._ascontainer(result)

    def _divide_sparse(self, other):
        if other.shape != self.shape:
            raise ValueError(f"inconsistent shapes {self.shape} and {other.shape}")
        # SciPy's dtype: float64 for values that cast to it, else the values' own (a complex64
        # quotient stays complex64). Real values over a complex divisor are complex here,
        # where SciPy writes the quotient into float64 and drops its imaginary parts.
        dtype = np.float64 if np.can_cast(self.dtype, np.float64) else self.dtype
        if other.dtype.kind == "c" and np.dtype(dtype).kind != "c":
            dtype = upcast(dtype, other.dtype)
        numerator, divisor = self.toarray(), other.toarray()
        if _backend.is_tensor(numerator) or _backend.is_tensor(divisor):
            # differentiable mode: the dense quotient of the two tensors, in the graph
            like = numerator if _backend.is_tensor(numerator) else divisor
            numerator = _backend.as_tensor(numerator, like=like, dtype=dtype)
            divisor = _backend.as_tensor(divisor, like=like)
            out = numerator / divisor
            if out.is_complex():  # NaN in both parts where the divisor is 0, as below
                nan = out.new_full((), complex(np.nan, np.nan))
                out = _backend.torch_module().where(divisor == 0, nan, out)
            return out
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.true_divide(numerator, divisor)
        if out.dtype.kind == "c":
            # SciPy divides complex values by |b|^2: a zero divisor gives NaN in both parts,
            # where NumPy gives infinities
            out[divisor == 0] = complex(np.nan, np.nan)
        return self._ascontainer(out.astype(dtype, copy=False))

    def _multiply_2d_with_broadcasting(self, other):
        """Elementwise product with a sparse or dense operand, with NumPy broadcasting."""
        if (self._is_torch or _backend.is_tensor(other)
                or (issparse(other) and getattr(other, "_is_torch", False))):
            return self._multiply_differentiable(other)
        if self._on_gpu or _backend.is_device_array(other):
            return self._multiply_device(other)
        if issparse(other):
            return self._multiply_sparse_broadcast(other)
        other = np.asanyarray(other)
        if other.ndim > 2:
            return np.multiply(self.toarray(), other)
        if other.size == 1:
            if other.dtype == np.object_:
                return NotImplemented
            bshape = np.broadcast_shapes(self.shape, other.shape)
            if bshape != self.shape:
                raise NotImplementedError(
                    f"multiply broadcasting {self.shape} to {bshape} needs reshape, which "
                    f"spgrad does not have yet"
                )
            return self._mul_scalar(other.flat[0])
        return self._multiply_dense_broadcast(other)

    def _multiply_dense_broadcast(self, other):
        """Elementwise product with a dense 1-D or 2-D ``other`` (NumPy, or CuPy on the GPU)
        that broadcasts with ``self``, SciPy's way: a COO result, larger than ``self`` when a
        row or column of ``self`` meets a matrix of them."""
        xp = self._xp()
        if xp is np:
            other = np.asarray(other)  # (an np.matrix indexes as a matrix)
        if self.shape == (1, 1):
            bshape = np.broadcast_shapes(self.shape, other.shape)
            return xp.multiply(self.data.sum(), other).reshape(bshape)
        ret = self.tocoo()
        if self.shape == other.shape:
            ret.data = xp.multiply(ret.data, other[ret.row, ret.col]).ravel()
            return ret
        other2d = xp.atleast_2d(other)
        M, N = self.shape
        if M == 1:
            # A row of self times every row of a dense operand: the result has its rows.
            if other2d.shape[1] == 1:
                data = xp.multiply(ret.data, other2d)
            elif other2d.shape[1] == N:
                data = xp.multiply(ret.data, other2d[:, ret.col])
            else:
                raise ValueError(f"inconsistent shapes {self.shape} and {other.shape}")
            reps = other2d.shape[0]
            idx_dtype = get_index_dtype(ret.col, maxval=ret.nnz * reps)
            row = xp.repeat(xp.arange(reps, dtype=idx_dtype), ret.nnz)
            col = xp.tile(ret.col.astype(idx_dtype, copy=False), reps)
            return self._coo_container((data.ravel(), (row, col)), shape=(reps, N))
        if N == 1:
            if other2d.shape[0] == 1:
                data = xp.multiply(ret.data[:, None], other2d)
            elif other2d.shape[0] == M:
                data = xp.multiply(ret.data[:, None], other2d[ret.row])
            else:
                raise ValueError(f"inconsistent shapes {self.shape} and {other.shape}")
            reps = other2d.shape[1]
            idx_dtype = get_index_dtype(ret.row, maxval=ret.nnz * reps)
            row = xp.repeat(ret.row.astype(idx_dtype, copy=False), reps)
            col = xp.tile(xp.arange(reps, dtype=idx_dtype), ret.nnz)
            return self._coo_container((data.ravel(), (row, col)), shape=(M, reps))
        if other2d.shape[0] == 1 and N == other2d.shape[1]:
            data = xp.multiply(ret.data, other2d[:, ret.col].ravel())
        elif other2d.shape[1] == 1 and M == other2d.shape[0]:
            data = xp.multiply(ret.data, other2d[ret.row].ravel())
        else:
            raise ValueError(f"inconsistent shapes {self.shape} and {other.shape}")
        ret.data = data.ravel()
        return ret

    def _multiply_device(self, other):
        """Elementwise product on a GPU, broadcasting as on the CPU: with a sparse operand
        (the intersection of the patterns, or a product with a diagonal when one broadcasts),
        or a dense one (``self``'s pattern in COO as SciPy's result when it broadcasts to
        ``self``'s shape, e.g. a row or column scaling; else the larger broadcast result)."""
        if not issparse(other) and other.size == 1 and other.ndim <= 2:
            return self._mul_scalar(other.reshape(()))  # as SciPy: a scalar, same format
        if issparse(other):
            _backend.check_same_device(self, other)
            return self._multiply_sparse_broadcast(other)
        if other.ndim > 2:
            return self._xp().multiply(self.toarray(), other)
        if np.broadcast_shapes(self.shape, other.shape) != self.shape:
            return self._multiply_dense_broadcast(other)
        ret = self.tocoo()
        dense = other.reshape((1,) * (2 - other.ndim) + other.shape)
        rows = ret.row if dense.shape[0] != 1 else 0
        cols = ret.col if dense.shape[1] != 1 else 0
        dtype = upcast(self.dtype, other.dtype)
        ret.data = ret.data.astype(dtype) * dense[rows, cols].astype(dtype, copy=False)
        return ret

    def _multiply_differentiable(self, other):
        """Elementwise product when either operand's values are a torch tensor.

        The result keeps ``self``'s pattern (COO for a dense operand, like SciPy); broadcasting
        that would make the result larger than ``self`` is not supported in this mode.
        """
        if issparse(other):
            if other.shape != self.shape:
                raise NotImplementedError(
                    f"differentiable multiply of sparse operands needs equal shapes, got "
                    f"{self.shape} and {other.shape}"
                )
            return self._binopt(self.__class__(other), "mul")
        ops = _autograd_ops()
        other = _backend.as_tensor(other)
        try:
            bshape = np.broadcast_shapes(self.shape, tuple(other.shape))
        except ValueError as e:
            raise ValueError(f"inconsistent shapes {self.shape} and {tuple(other.shape)}") from e
        if bshape != self.shape:
            raise NotImplementedError(
                f"differentiable multiply broadcasting {self.shape} to {bshape} is not supported; "
                f"only dense operands that broadcast to the sparse operand's shape are"
            )
        ret = self.tocoo()
        dense = other.broadcast_to(self.shape)
        picked = dense[_backend.index_tensor(ret.row), _backend.index_tensor(ret.col)]
        ret.data = _backend.plain_bool(ops.values(ret.data) * picked)
        return ret

    def _multiply_sparse_broadcast(self, other):
        if self.shape == other.shape:
            return self._binopt(self.__class__(other), "mul")
        if other.shape == (1, 1):
            return self._mul_scalar(other.toarray()[0, 0])
        if self.shape == (1, 1):
            return other._mul_scalar(self.data.sum())
        sM, sN = self.shape
        oM, oN = other.shape
        if sM == 1 and oN == 1:
            return other._matmul_sparse(self.tocsc())
        if sN == 1 and oM == 1:
            return self._matmul_sparse(other.tocsc())
        if oM == 1 and sN == oN:
            return self._matmul_sparse(self._diagonal_csr(other.toarray().ravel()))
        if sM == 1 and sN == oN:
            return other._matmul_sparse(self._diagonal_csr(self.toarray().ravel()))
        if oN == 1 and sM == oM:
            return self._diagonal_csr(other.toarray().ravel())._matmul_sparse(self)
        if sN == 1 and sM == oM:
            return self._diagonal_csr(self.toarray().ravel())._matmul_sparse(other)
        raise ValueError(f"inconsistent shapes {self.shape} and {other.shape}")

    def _diagonal_csr(self, values):
        n = len(values)
        idx_dtype = get_index_dtype(maxval=n)
        xp = self._xp()
        return self._csr_container._from_arrays(
            values, xp.arange(n, dtype=idx_dtype), xp.arange(n + 1, dtype=idx_dtype), (n, n),
            canonical=True,
        )

    def _plain_product(self, other, shape):
        """``self @ other`` straight to the CPU kernel when nothing needs converting (NumPy
        values and operand of one floating dtype, contiguous), else None."""
        data = self.data
        if not (data.__class__ is np.ndarray and other.__class__ is np.ndarray
                and data.dtype == other.dtype and data.dtype in _PLAIN_DTYPES
                and data.flags.c_contiguous and other.flags.c_contiguous
                and self.indptr.__class__ is np.ndarray):
            return None
        from . import _cpu

        out = np.empty(shape, dtype=data.dtype)
        kernel = ("csr_matvec" if other.ndim == 1 else "csr_matvecs") + \
            ("" if self.format == "csr" else "_transpose")
        getattr(_cpu, kernel)(self.indptr, self.indices, data, other, out)
        return out

    def _matmul_vector(self, other):
        plain = self._plain_product(other, (self.shape[0],))
        if plain is not None:
            return plain
        if self._is_torch or _backend.is_tensor(other):
            return _autograd_ops().matmul_dense(self, other)
        M, N = self.shape
        dtype = upcast(self.dtype, other.dtype)
        kdt = kernel_dtype(dtype)
        y = self._xp().empty(M, dtype=kdt)
        x = to_kernel(other, kdt)
        data = to_kernel(self.data, kdt)
        kernel = "csr_matvec" if self.format == "csr" else "csr_matvec_transpose"
        _backend.dense_product(kernel, self.indptr, self.indices, data, x, y,
                               lambda: self.has_canonical_format)
        return from_kernel(y, dtype)

    def _matmul_multivector(self, other):
        plain = self._plain_product(other, (self.shape[0], other.shape[1]))
        if plain is not None:
            return plain
        if self._is_torch or _backend.is_tensor(other):
            return _autograd_ops().matmul_dense(self, other)
        M, N = self.shape
        dtype = upcast(self.dtype, other.dtype)
        kdt = kernel_dtype(dtype)
        xp = self._xp()
        Y = xp.empty((M, other.shape[1]), dtype=kdt)
        X = xp.ascontiguousarray(other, dtype=kdt)
        data = to_kernel(self.data, kdt)
        kernel = "csr_matvecs" if self.format == "csr" else "csr_matvecs_transpose"
        _backend.dense_product(kernel, self.indptr, self.indices, data, X, Y,
                               lambda: self.has_canonical_format)
        return from_kernel(Y, dtype)

    def _matmul_sparse(self, other):
        M, _ = self.shape
        N = other.shape[1]
        other = self.__class__(other)
        if self._is_torch or other._is_torch:
            return _autograd_ops().matmul_sparse(self, other)
        dtype = upcast(self.dtype, other.dtype)
        kdt = kernel_dtype(dtype)
        n_major, n_minor = self._swap((M, N))
        s, o = self._swap((self, other))
        arrays = (s.indptr, s.indices, o.indptr, o.indices)
        idx_dtype = get_index_dtype(arrays)
        k, xp = self._kernels(), self._xp()
        counts = xp.empty(n_major + 1, dtype=np.int64)
        nnz = k.csr_matmat_row_nnz(
            n_minor,
            s.indptr.astype(idx_dtype, copy=False), s.indices.astype(idx_dtype, copy=False),
            o.indptr.astype(idx_dtype, copy=False), o.indices.astype(idx_dtype, copy=False),
            counts,
        )
        if nnz == 0:
            return self._empty((M, N), dtype, xp)
        idx_dtype = get_index_dtype(arrays, maxval=nnz)
        indptr = counts.astype(idx_dtype)
        indices = xp.empty(nnz, dtype=idx_dtype)
        data = xp.empty(nnz, dtype=kdt)
        zeros = k.csr_matmat(
            n_minor,
            s.indptr.astype(idx_dtype, copy=False), s.indices.astype(idx_dtype, copy=False),
            to_kernel(s.data, kdt),
            o.indptr.astype(idx_dtype, copy=False), o.indices.astype(idx_dtype, copy=False),
            to_kernel(o.data, kdt),
            indptr, indices, data,
        )
        if zeros:
            nnz = k.csr_eliminate_zeros(indptr, indices, data)
            indices, data = indices[:nnz], data[:nnz]
        indices, indptr = self._result_index_arrays(indices, indptr, (M, N))
        return self.__class__._from_arrays(
            from_kernel(data, dtype), indices, indptr, (M, N), sorted_indices=False
        )

    # ------------------------------------------------------------------ reductions
    def diagonal(self, k=0):
        M, N = self._major_minor()
        k = self._swap((k, -k))[0]
        if k <= -M or k >= N:
            return self._xp().empty(0, dtype=self.dtype) if not self._is_torch else \
                self.data[:0].clone()
        length = min(M + min(k, 0), N - max(k, 0))
        if self._is_torch:
            p = _autograd_ops().pattern(self)
            rows = p.rows()
            xp = self._xp()
            on_diag = xp.flatnonzero(p.indices.astype(np.int64) - rows == k)
            return _autograd_ops().axis_sums(
                self.data[_backend.index_tensor(on_diag)],
                xp.minimum(rows[on_diag], p.indices[on_diag]), length)
        kdt = kernel_dtype(self.dtype)
        y = self._xp().zeros(length, dtype=kdt)
        self._kernels().csr_diagonal(k, M, N, self.indptr, self.indices,
                                     to_kernel(self.data), y)
        return from_kernel(y, self.dtype)

    def sum(self, axis=None, dtype=None, out=None):
        if (self.ndim == 2 and axis is not None and not isinstance(axis, tuple)
                and axis in self._swap(((1, -1), (0, -2)))[0]):
            # SciPy's compressed sum takes its fast path for anything equal to the minor axis
            # (1.0, True, ...) before validating it
            axis = int(axis)
        return super().sum(axis=axis, dtype=dtype, out=out)

    sum.__doc__ = _spbase.sum.__doc__

    def _summable_data(self):
        # SciPy sums duplicates before a whole-array sum (visible with dtype= casts).
        return self._deduped().data

    def _axis_sums(self, axis, res_dtype):
        if self._is_torch:
            ops = _autograd_ops()
            index = ops.coords(self)[1 - axis]
            return ops.axis_sums(self.data, index, self.shape[1 - axis])
        kdt = kernel_dtype(res_dtype)
        data = to_kernel(self.data, kdt)
        major_axis = self._swap((0, 1))[0]
        k, xp = self._kernels(), self._xp()
        if axis == major_axis:
            # Reducing over the major axis leaves one sum per minor index.
            out = xp.empty(self._major_minor()[1], dtype=kdt)
            k.csr_col_sums(self.indices, data, out)
        else:
            out = xp.empty(len(self.indptr) - 1, dtype=kdt)
            k.csr_row_sums(self.indptr, data, out)
        return from_kernel(out, res_dtype)


_CLASS_DOC = """
{name} {kind}.

Constructed like SciPy's ``{fmt}_{kind}``:

- ``{fmt}_{kind}(D)`` from a dense array (or a torch tensor: its nonzeros become the pattern)
  or another sparse array/matrix (spgrad's or SciPy's, any format);
- ``{fmt}_{kind}((M, N), dtype=...)`` an empty one;
- ``{fmt}_{kind}((data, (row, col)), shape=(M, N))`` from COO triplets (duplicates summed);
- ``{fmt}_{kind}((data, indices, indptr), shape=(M, N))`` from the {FMT} arrays, which are
  checked in full (``indptr`` monotone, indices in range) before any kernel reads them.

``data`` may be a torch tensor: the array is then differentiable (see ``requires_grad_``).

Attributes
----------
data, indices, indptr : ndarray
    Values, {minor} indices and {major} pointers.
shape : tuple of int
nnz : int
    Number of stored values (explicit zeros included).

Notes
-----
{semantics}

Examples
--------
>>> import numpy as np
>>> import spgrad as sp
>>> A = sp.{fmt}_{kind}(([1.0, 2.0, 3.0], [0, 2, 1], [0, 2, 2, 3]), shape=(3, 3))
>>> A.toarray()
{example}
"""

_SEMANTICS = {
    "array": "Array semantics: ``*`` and ``**`` are elementwise, reductions along an axis "
             "return 1-D arrays, ``todense`` returns an ``ndarray``.",
    "matrix": "Matrix semantics: ``*`` is the matrix product, ``**`` the matrix power, "
              "reductions and ``todense`` return ``np.matrix``.",
}

_EXAMPLES = {
    "csr": "array([[1., 0., 2.],\n       [0., 0., 0.],\n       [0., 3., 0.]])",
    "csc": "array([[1., 0., 0.],\n       [0., 0., 3.],\n       [2., 0., 0.]])",
}


def compressed_doc(fmt, kind):
    """The class docstring of ``{fmt}_{kind}`` for ``fmt`` in ('csr', 'csc')."""
    csr = fmt == "csr"
    return _CLASS_DOC.format(
        name="Compressed Sparse Row" if csr else "Compressed Sparse Column",
        fmt=fmt, FMT=fmt.upper(), kind=kind, semantics=_SEMANTICS[kind],
        minor="column" if csr else "row", major="row" if csr else "column",
        example=_EXAMPLES[fmt],
    )
