"""The behaviour shared by every sparse format: operators, dispatch, reductions, conversions.

Public classes are thin: ``csr_array(_csr_base, sparray)`` and ``csr_matrix(spmatrix,
_csr_base)``. Everything here works through a handful of per-format hooks (``tocsr``,
``tocoo``, ``_add_sparse``, ``_matmul_vector`` …) that the format modules override where they
have something faster than going through CSR.
"""

import math
import operator

import numpy as np

from . import _backend
from ._sputils import (
    asmatrix,
    check_device_dtype,
    get_sum_dtype,
    isdense,
    isscalarlike,
    validateaxis,
)

__all__ = ["issparse", "isspmatrix", "sparray", "SparseWarning", "SparseEfficiencyWarning"]

MAXPRINT = 50


class SparseWarning(Warning):
    """General warning for spgrad (and SciPy-compatible) sparse code."""


class SparseFormatWarning(SparseWarning):
    """Warning about an unusual sparse format."""


class SparseEfficiencyWarning(SparseWarning):
    """Warning that an operation is inefficient for the sparse format used."""


_FORMAT_NAMES = {
    "csr": "Compressed Sparse Row",
    "csc": "Compressed Sparse Column",
    "coo": "COOrdinate",
    "dia": "DIAgonal",
    "bsr": "Block Sparse Row",
    "lil": "List of Lists",
    "dok": "Dictionary Of Keys",
}

# format -> (array class, matrix class); filled by the format modules as they are imported.
_CONTAINERS = {}


def _register(fmt, array_cls, matrix_cls):
    _CONTAINERS[fmt] = (array_cls, matrix_cls)


def _dense_operand_tensor(other, dense):
    """A dense NumPy (CuPy) or torch operand of ``+``/``-`` beside the tensor ``dense`` (the
    differentiable mode's dense form of a sparse operand): as a tensor on its device (torch
    subtracts no read-only broadcast view, NumPy no tensor that requires grad), bool as
    ``dense``'s dtype (torch refuses ``-`` with bool, NumPy counts it as 0 and 1)."""
    t = _backend.as_tensor(other, like=dense)
    return t.to(dense.dtype) if t.dtype == _backend.torch_module().bool else t


class _spbase:
    """Base of every spgrad sparse array and matrix. Not instantiated directly."""

    __array_priority__ = 10.1
    _format = "und"
    _allow_nd = (2,)

    def __init__(self, arg1, *, maxprint=None):
        self._shape = None
        if self.__class__.__name__ == "_spbase":
            raise ValueError("This class is not intended to be instantiated directly.")
        self.maxprint = MAXPRINT if maxprint is None else maxprint

    # ----------------------------------------------------------- family and containers
    @property
    def _is_array(self):
        return isinstance(self, sparray)

    def _container(self, fmt):
        return _CONTAINERS[fmt][0 if self._is_array else 1]

    @property
    def _csr_container(self):
        return self._container("csr")

    @property
    def _csc_container(self):
        return self._container("csc")

    @property
    def _coo_container(self):
        return self._container("coo")

    @property
    def _dia_container(self):
        return self._container("dia")

    def _ascontainer(self, X, **kwargs):
        if _backend.is_device_array(X):
            # CuPy has no np.matrix: the matrix family returns 2-D arrays, as cupyx.scipy.sparse
            return X.astype(kwargs["dtype"], copy=False) if kwargs.get("dtype") else X
        if self._is_array:
            return np.asarray(X, **kwargs)
        return asmatrix(X, **kwargs)

    # ------------------------------------------------------------------------ devices
    #: names of the attributes holding the format's arrays (a tuple attribute holds several)
    _array_names = ()

    @property
    def device(self):
        """Where the arrays live: ``"cpu"``, or ``"cuda:N"`` when they are CuPy arrays on GPU
        ``N`` (see :meth:`to`).

        Examples
        --------
        >>> import spgrad as sp
        >>> sp.csr_array([[1.0, 0.0]]).device
        'cpu'
        """
        return _backend.device_of(self)

    def _index_array(self):
        """One of the index arrays: where it lives, all arrays live (the values too, as a
        CuPy array or, in differentiable mode, a tensor on the same GPU)."""
        a = getattr(self, self._array_names[1])
        return a[0] if isinstance(a, tuple) else a

    @property
    def _on_gpu(self):
        return _backend.is_device_array(self._index_array())

    def _xp(self):
        """The array module of this array's index arrays (and plain values): NumPy, or CuPy on
        a GPU."""
        return _backend.array_module(self._index_array()) if self._on_gpu else np

    def _require_cpu(self, what):
        """Raise ``NotImplementedError`` naming ``what`` when the arrays are on a GPU."""
        if self._on_gpu:
            raise NotImplementedError(
                f"{what} is not supported for sparse arrays on the GPU ({self.device}); move "
                f"the array to the CPU first (A.cpu())"
            )

    def to(self, device, copy=False):
        """The same sparse array with its arrays on ``device``.

        Moving to a GPU (``"cuda"``, ``"cuda:N"``, an integer, a ``torch.device`` or a
        ``cupy.cuda.Device``) makes the arrays CuPy arrays (this needs CuPy and a GPU); the
        operations then run there and take and return CuPy arrays (see the user guide's GPU
        section for which). ``"cpu"`` brings them back as NumPy arrays.

        Parameters
        ----------
        device : str, int, torch.device or cupy.cuda.Device
        copy : bool, optional
            Copy even when the arrays are already on ``device`` (otherwise ``self`` is
            returned unchanged then).

        Raises
        ------
        TypeError
            Moving values other than float32, float64, complex64 or complex128 to a GPU (the
            dtypes of spgrad's GPU kernels, as of ``cupyx.scipy.sparse``).
        NotImplementedError
            Moving an n-D array (more than two dimensions) to a GPU: those run on the CPU only
            so far.

        Notes
        -----
        Values that are a torch tensor move as ``tensor.to(device)``: the move is recorded in
        autograd, so gradients flow back to the original tensor (e.g. a CPU leaf), and the
        index arrays become CuPy arrays (see the user guide's GPU section for the operations
        differentiable there).

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.csr_array([[1.0, 0.0], [2.0, 3.0]])
        >>> A.to("cpu") is A
        True
        """
        target = _backend.parse_device(device)
        if target == self.device:
            return self.copy() if copy else self
        if target != "cpu":
            if self.ndim > 2:
                raise NotImplementedError(f"moving a {self.ndim}-D sparse array to the GPU: "
                                          f"only 1-D and 2-D arrays run there so far")
            check_device_dtype(self.dtype, "moving a sparse array to the GPU")
        A = self.__class__.__new__(self.__class__)
        A.__dict__.update({k: v for k, v in self.__dict__.items()
                           if k in ("_shape", "maxprint", "_has_sorted_indices",
                                    "_has_canonical_format", "has_canonical_format")})
        # the index arrays first: their move checks CuPy and the GPU (with clear errors);
        # tensor values then move in the graph; a failure leaves ``self`` as it is
        for name in sorted(self._array_names, key=lambda n: _backend.is_tensor(getattr(self, n))):
            a = getattr(self, name)
            a = _backend.move_tensor(a, target) if _backend.is_tensor(a) else \
                _backend.to_device(a, target)
            setattr(A, name, a)
        return A

    def cuda(self, device=None):
        """``self.to("cuda")``, or ``self.to(device)`` for a GPU number or name."""
        return self.to("cuda" if device is None else device)

    def cpu(self):
        """``self.to("cpu")``: NumPy arrays (``self`` itself if they already are).

        Examples
        --------
        >>> import spgrad as sp
        >>> type(sp.csr_array([[1.0]]).cpu().data).__name__
        'ndarray'
        """
        return self.to("cpu")

    # ----------------------------------------------------------------- basic attributes
    @property
    def shape(self):
        """Shape of the array, a tuple of ints."""
        return self._shape

    @property
    def _shape_as_2d(self):
        s = self._shape
        return (1, s[-1]) if len(s) == 1 else s

    @property
    def ndim(self):
        """Number of dimensions (2 for every spgrad format today)."""
        return len(self._shape)

    @property
    def nnz(self):
        """Number of stored values, including explicit zeros.

        Examples
        --------
        >>> import spgrad as sp
        >>> sp.csr_array([[1, 0], [0, 0]]).nnz
        1
        """
        return self._getnnz()

    @property
    def size(self):
        """Number of stored values (same as ``nnz``, as in SciPy)."""
        return self._getnnz()

    @property
    def format(self):
        """Storage format: ``'csr'``, ``'csc'``, ``'coo'`` or ``'dia'``."""
        return self._format

    @property
    def T(self):
        """Transpose (see :meth:`transpose`)."""
        return self.transpose()

    @property
    def real(self):
        """Real part of the stored values."""
        return self._real()

    @property
    def imag(self):
        """Imaginary part of the stored values."""
        return self._imag()

    def _getmaxprint(self):
        return self.maxprint

    # ------------------------------------------------------------------- printing
    def __repr__(self):
        kind = "array" if self._is_array else "matrix"
        return (
            f"<{_FORMAT_NAMES[self.format]} sparse {kind} of dtype '{self.dtype}'\n"
            f"\twith {self.nnz} stored elements and shape {self.shape}>"
        )

    def __str__(self):
        out = repr(self)
        if self.nnz == 0:
            return out
        A = self.tocoo()
        coords = [c.tolist() for c in A.coords]
        data = A.data

        def lines(sl):
            pairs = zip(zip(*(c[sl] for c in coords)), data[sl])
            return "\n".join(f"  {idx}\t{val}" for idx, val in pairs)

        out += "\n  Coords\tValues\n"
        maxprint = self._getmaxprint()
        if self.nnz > maxprint:
            half = maxprint // 2
            out += lines(slice(None, half))
            out += "\n  :\t:\n"
            out += lines(slice(-(maxprint - half), None))
        else:
            out += lines(slice(None))
        return out

    def __bool__(self):
        if self.shape == (1, 1):
            return self.nnz != 0
        raise ValueError(
            "The truth value of an array with more than one element is ambiguous. "
            "Use a.any() or a.all()."
        )

    def __len__(self):
        raise TypeError("sparse array length is ambiguous; use getnnz() or shape[0]")

    # --------------------------------------------------------------- conversions
    def asformat(self, format, copy=False):
        """Return this array in ``format`` (None keeps the format).

        Parameters
        ----------
        format : str or None
            ``'csr'``, ``'csc'``, ``'coo'``, ``'dia'``, or None.
        copy : bool, optional
            If True, the result never shares data with ``self``.

        Examples
        --------
        >>> import spgrad as sp
        >>> sp.eye_array(2).asformat("csr").format
        'csr'
        """
        if format is None or format == self.format:
            return self.copy() if copy else self
        try:
            convert = getattr(self, "to" + format)
        except AttributeError as e:
            raise ValueError(f"Format {format} is unknown.") from e
        return convert(copy=copy)

    def tocsr(self, copy=False):
        """Convert to Compressed Sparse Row format (arrays may be shared when ``copy=False``)."""
        return self.tocoo(copy=copy).tocsr(copy=False)

    def tocsc(self, copy=False):
        """Convert to Compressed Sparse Column format."""
        return self.tocsr(copy=copy).tocsc(copy=False)

    def tocoo(self, copy=False):
        """Convert to COOrdinate format."""
        return self.tocsr(copy=False).tocoo(copy=copy)

    def todia(self, copy=False):
        """Convert to DIAgonal format."""
        return self.tocoo(copy=copy).todia(copy=False)

    def tobsr(self, blocksize=None, copy=False):
        """Convert to Block Sparse Row format (``spgrad.bsr_array``/``bsr_matrix``).

        BSR is an assembly format, computed by SciPy and not differentiable: torch values
        are detached.

        Parameters
        ----------
        blocksize : (int, int), optional
            Block shape; by default SciPy's choice for this pattern.
        copy : bool, optional
            If True, the result never shares data with ``self``.

        Examples
        --------
        >>> import numpy as np
        >>> import spgrad as sp
        >>> B = sp.csr_array(np.eye(4)).tobsr(blocksize=(2, 2))
        >>> type(B).__name__, B.blocksize
        ('bsr_array', (2, 2))
        """
        from ._assembly import convert_native

        self._require_cpu("tobsr")
        return convert_native(self, "tobsr", blocksize=blocksize, copy=copy)

    def tolil(self, copy=False):
        """Convert to List of Lists format (``spgrad.lil_array``/``lil_matrix``).

        LIL is an assembly format, computed by SciPy and not differentiable: torch values
        are detached.

        Examples
        --------
        >>> import spgrad as sp
        >>> L = sp.csr_array([[1, 0], [0, 2]]).tolil()
        >>> type(L).__name__, L.rows.tolist()
        ('lil_array', [[0], [1]])
        """
        from ._assembly import convert_native

        self._require_cpu("tolil")
        return convert_native(self, "tolil", copy=copy)

    def todok(self, copy=False):
        """Convert to Dictionary Of Keys format (``spgrad.dok_array``/``dok_matrix``).

        DOK is an assembly format, computed by SciPy and not differentiable: torch values
        are detached.

        Examples
        --------
        >>> import spgrad as sp
        >>> D = sp.csr_matrix([[0, 3], [0, 0]]).todok()
        >>> type(D).__name__, D[0, 1]
        ('dok_matrix', np.int64(3))
        """
        from ._assembly import convert_native

        self._require_cpu("todok")
        return convert_native(self, "todok", copy=copy)

    def toarray(self, order=None, out=None):
        """Return a dense ``numpy.ndarray`` with the same values.

        Parameters
        ----------
        order : {'C', 'F'}, optional
            Memory order of the result; cannot be combined with ``out``.
        out : ndarray, optional
            Output buffer of the same shape and dtype.

        Examples
        --------
        >>> import spgrad as sp
        >>> sp.csr_array([[1, 0], [0, 2]]).toarray()
        array([[1, 0],
               [0, 2]])
        """
        return self.tocoo(copy=False).toarray(order=order, out=out)

    def todense(self, order=None, out=None):
        """Dense result: ``ndarray`` for sparse arrays, ``np.matrix`` for sparse matrices.

        Examples
        --------
        >>> import spgrad as sp
        >>> type(sp.csr_matrix([[1, 0]]).todense()).__name__
        'matrix'
        """
        dense = self.toarray(order=order, out=out)
        if _backend.is_tensor(dense):
            return dense  # differentiable mode: a tensor (np.matrix cannot hold one)
        return self._ascontainer(dense)

    def _process_toarray_args(self, order, out):
        if out is not None:
            if order is not None:
                raise ValueError("order cannot be specified if out is not None")
            if out.shape != self.shape or out.dtype != self.dtype:
                raise ValueError(
                    f"out array must be same dtype and shape as sparse array: expected "
                    f"{self.dtype} {self.shape}, got {out.dtype} {out.shape}"
                )
            out[...] = 0
            return out
        return self._xp().zeros(self.shape, dtype=self.dtype, order=order)

    def copy(self):
        """Return a copy sharing no data with ``self``."""
        return self.__class__(self, copy=True)

    def to_scipy(self):
        """The SciPy sparse object of the same format and family, sharing this one's arrays.

        Examples
        --------
        >>> import spgrad as sp
        >>> type(sp.csr_array([[1, 0]]).to_scipy()).__module__
        'scipy.sparse._csr'
        """
        from ._interop import to_scipy

        self._require_cpu("to_scipy()")
        return to_scipy(self)

    def to_torch(self):
        """A torch sparse tensor (CSR, CSC or COO layout) with these values; when the values
        are a tensor, the result stays in their autograd graph. An array on a GPU gives a CUDA
        tensor sharing its arrays (through DLPack; the index arrays as int64). torch's CSR
        and CSC tensors refuse complex values that require grad (a ``TypeError`` here):
        ``A.tocoo().to_torch()`` gives a COO tensor, which takes them.

        Examples
        --------
        >>> import spgrad as sp
        >>> sp.csr_array([[1.0, 0.0], [2.0, 3.0]]).to_torch().layout
        torch.sparse_csr
        """
        from ._interop import to_torch

        return to_torch(self)

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other):
        _backend.check_same_device(self, other)
        if isscalarlike(other):
            if other == 0:
                return self.copy()
            raise NotImplementedError("adding a nonzero scalar to a sparse array is not supported")
        if issparse(other):
            if other.shape != self.shape:
                raise ValueError(f"inconsistent shapes: {self.shape} and {other.shape}")
            return self._add_sparse(other)
        if isdense(other) or _backend.is_device_array(other):
            other = _backend.array_module(other).broadcast_to(other, self.shape)
            return self._add_dense(other)
        if _backend.is_tensor(other):
            return self._add_dense(other.broadcast_to(self.shape))
        return NotImplemented

    def __radd__(self, other):
        return self.__add__(other)

    def __sub__(self, other):
        _backend.check_same_device(self, other)
        if isscalarlike(other):
            if other == 0:
                return self.copy()
            raise NotImplementedError(
                "subtracting a nonzero scalar from a sparse array is not supported"
            )
        if issparse(other):
            if other.shape != self.shape:
                raise ValueError(f"inconsistent shapes: {self.shape} and {other.shape}")
            return self._sub_sparse(other)
        if isdense(other) or _backend.is_device_array(other):
            other = _backend.array_module(other).broadcast_to(other, self.shape)
            return self._sub_dense(other)
        if _backend.is_tensor(other):
            return self._dense_tensor(other) - other
        return NotImplemented

    def __rsub__(self, other):
        _backend.check_same_device(self, other)
        if isscalarlike(other):
            if other == 0:
                return -self.copy()
            raise NotImplementedError(
                "subtracting a sparse array from a nonzero scalar is not supported"
            )
        if isdense(other) or _backend.is_device_array(other):
            other = _backend.array_module(other).broadcast_to(other, self.shape)
            return self._rsub_dense(other)
        if _backend.is_tensor(other):
            return other - self._dense_tensor(other)
        return NotImplemented

    def _dense_tensor(self, other):
        """``self.toarray()`` as a torch tensor on ``other``'s device, to combine with the
        tensor ``other`` (the NumPy or CuPy array of plain values is wrapped without a copy)."""
        dense = self.toarray()
        return dense if _backend.is_tensor(dense) else _backend.as_tensor(dense, like=other)

    def _add_sparse(self, other):
        return self.tocsr()._add_sparse(other)

    def _sub_sparse(self, other):
        return self.tocsr()._sub_sparse(other)

    def _add_dense(self, other):
        return self.tocoo()._add_dense(other)

    def _sub_dense(self, other):
        dense = self.todense()
        if _backend.is_tensor(dense):
            return dense - _dense_operand_tensor(other, dense)
        return dense - other

    def _rsub_dense(self, other):
        dense = self.todense()
        if _backend.is_tensor(dense):
            return _dense_operand_tensor(other, dense) - dense
        return other - dense

    def __neg__(self):
        return -self.tocsr()

    def __mul__(self, other):
        return self.multiply(other)

    def __rmul__(self, other):
        return self.multiply(other)

    def __pow__(self, *args, **kwargs):
        return self.power(*args, **kwargs)

    def __matmul__(self, other):
        if isscalarlike(other) or _backend.is_scalar_tensor(other):
            raise ValueError("Scalar operands are not allowed, use '*' instead")
        return self._matmul_dispatch(other)

    def __rmatmul__(self, other):
        if isscalarlike(other) or _backend.is_scalar_tensor(other):
            raise ValueError("Scalar operands are not allowed, use '*' instead")
        return self._rmatmul_dispatch(other)

    def __truediv__(self, other):
        return self._divide(other)

    def __rtruediv__(self, other):
        return NotImplemented

    def __iadd__(self, other):
        return NotImplemented

    def __isub__(self, other):
        return NotImplemented

    def __imul__(self, other):
        return NotImplemented

    def __itruediv__(self, other):
        return NotImplemented

    # ------------------------------------------------- comparisons, maximum, minimum
    # Implemented in ._minmax (this class only dispatches), so that the operator
    # protocol is visible here.
    def _comparison(self, other, op):
        from ._minmax import comparison

        self._require_cpu("comparison (its result is boolean, a dtype GPU arrays do not hold)")
        return comparison(self, other, op)

    def __eq__(self, other):
        return self._comparison(other, operator.eq)

    def __ne__(self, other):
        return self._comparison(other, operator.ne)

    def __lt__(self, other):
        return self._comparison(other, operator.lt)

    def __gt__(self, other):
        return self._comparison(other, operator.gt)

    def __le__(self, other):
        return self._comparison(other, operator.le)

    def __ge__(self, other):
        return self._comparison(other, operator.ge)

    __hash__ = None

    def maximum(self, other):
        """Elementwise maximum with a scalar, a dense array or a sparse array.

        Returns SciPy's types: a sparse CSR/CSC result for sparse operands and for scalars
        ``<= 0`` (a positive scalar makes every entry nonzero: ``self``'s format, with a
        ``SparseEfficiencyWarning``), a dense result (``ndarray``/``np.matrix``) for a dense
        operand. In differentiable mode two sparse operands combine on the union of their
        patterns (a missing entry takes part as 0; ties split the gradient like
        ``torch.maximum``) and a dense operand gives a dense tensor.

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.csr_array([[1, -2], [0, 3]])
        >>> B = sp.csr_array([[0, 5], [-1, 2]])
        >>> A.maximum(B).toarray()
        array([[1, 5],
               [0, 3]])
        """
        from ._minmax import maximum_minimum

        return maximum_minimum(self, other, "maximum")

    def minimum(self, other):
        """Elementwise minimum (see :meth:`maximum` for operands and result types).

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.csr_array([[1, -2], [0, 3]])
        >>> A.minimum(0).toarray()
        array([[ 0, -2],
               [ 0,  0]])
        """
        from ._minmax import maximum_minimum

        return maximum_minimum(self, other, "minimum")

    def __iter__(self):
        # SciPy's generic row iteration: formats without indexing are not iterable.
        for r in range(self.shape[0]):
            yield self[r]

    def dot(self, other):
        """Matrix product with ``other`` (a scalar multiplies elementwise).

        Examples
        --------
        >>> import numpy as np
        >>> import spgrad as sp
        >>> A = sp.csr_array([[1, 2, 0], [0, 0, 3], [4, 0, 5]])
        >>> A.dot(np.array([1, 0, -1]))
        array([ 1, -3, -1])
        """
        if np.isscalar(other):
            return self * other
        return self @ other

    def multiply(self, other):
        """Elementwise product with a scalar, a dense array or a sparse array (broadcasting).

        Examples
        --------
        >>> import numpy as np
        >>> import spgrad as sp
        >>> A = sp.csr_array([[1, 0], [2, 3]])
        >>> A.multiply(np.array([10, 100])).toarray()
        array([[ 10,   0],
               [ 20, 300]])
        """
        _backend.check_same_device(self, other)
        if isscalarlike(other) or _backend.is_scalar_tensor(other):
            return self._mul_scalar(other)
        return self._multiply_2d_with_broadcasting(other)

    def _multiply_2d_with_broadcasting(self, other):
        return self.tocsr()._multiply_2d_with_broadcasting(other)

    def power(self, n, dtype=None):
        """Elementwise power of the stored values (``n`` must be a nonzero scalar)."""
        return self.tocsr().power(n, dtype=dtype)

    def _mul_scalar(self, other):
        return self.tocsr()._mul_scalar(other)

    def _matmul_vector(self, other):
        return self.tocsr()._matmul_vector(other)

    def _matmul_multivector(self, other):
        return self.tocsr()._matmul_multivector(other)

    def _matmul_sparse(self, other):
        return self.tocsr()._matmul_sparse(other)

    def _matmul_dispatch(self, other):
        """``self @ other`` for a dense vector/matrix, a scalar, or a sparse operand."""
        M, N = self._shape_as_2d
        if (other.__class__ is np.ndarray and other.ndim and
                getattr(self, "data", None).__class__ is np.ndarray and
                self._index_array().__class__ is np.ndarray):
            # plain NumPy operands (the common case): no device or tensor checks needed
            if other.shape == (N,):
                return self._matmul_vector(other)
            if other.ndim == 2 and other.shape[0] == N and other.shape[1] != 1:
                return self._matmul_multivector(other)
        _backend.check_same_device(self, other)
        if getattr(self, "_is_torch", False) or _backend.is_tensor(other):
            return self._matmul_differentiable(other)
        if self._on_gpu and not issparse(other):
            return self._matmul_device(other)
        if other.__class__ is np.ndarray:
            if other.shape == (N,):
                return self._matmul_vector(other)
            if other.shape == (N, 1):
                return self._matmul_vector(other.ravel()).reshape(M, 1)
            if other.ndim == 2 and other.shape[0] == N:
                return self._matmul_multivector(other)
        if isscalarlike(other):
            return self._mul_scalar(other)
        prefix = "matmul: dimension mismatch with signature"
        if issparse(other):
            if N != other.shape[0]:
                raise ValueError(f"{prefix} (n,k={N}),(k={other.shape[0]},m)->(n,m)")
            return self._matmul_sparse(other)
        other_a = np.asanyarray(other)
        if other_a.ndim == 0 and other_a.dtype == np.object_:
            return NotImplemented
        if not hasattr(other, "shape"):
            other = other_a
        if other.ndim == 1 or (other.ndim == 2 and other.shape[1] == 1):
            if other.shape[0] != N:
                raise ValueError(f"{prefix} (n,k={N}),(k={other.shape[0]},1?)->(n,1?)")
            result = self._matmul_vector(np.ravel(other))
            if isinstance(other, np.matrix):
                result = self._ascontainer(result)
            if other.ndim == 2:
                result = result.reshape(-1, 1)
            return result
        if other.ndim == 2:
            if other.shape[0] != N:
                raise ValueError(f"{prefix} (n,k={N}),(k={other.shape[0]},m)->(n,m)")
            result = self._matmul_multivector(np.asarray(other))
            if isinstance(other, np.matrix):
                result = self._ascontainer(result)
            return result
        if other.ndim > 2 and self.format == "coo" and self._is_array:  # SciPy's n-D COO
            return self._matmul_stacked(np.asarray(other))
        raise ValueError(f"could not interpret dimensions: operand has shape {other.shape}")

    def _matmul_device(self, other):
        """``self @ other`` on a GPU for a dense CuPy vector or matrix (the device check has
        passed, so ``other`` is one, or a scalar)."""
        M, N = self._shape_as_2d
        if isscalarlike(other):
            return self._mul_scalar(other)
        if other.ndim not in (1, 2) or other.shape[0] != N:
            raise ValueError(f"matmul: dimension mismatch: sparse operand has shape "
                             f"{self.shape}, dense operand {other.shape}")
        if other.ndim == 1:
            return self._matmul_vector(other)
        if other.shape[1] == 1:
            return self._matmul_vector(other.ravel()).reshape(M, 1)
        return self._matmul_multivector(other)

    def _matmul_stacked(self, X):
        """``A @ X`` for an n-D dense ``X``: NumPy's broadcast matmul over the leading axes of
        ``X`` (one product with all the stacked columns)."""
        M, N = self._shape_as_2d
        if X.shape[-2] != N:
            raise ValueError(f"matmul: dimension mismatch with signature "
                             f"(n,..,k={N}),(k={X.shape[-2]},..,m)->(n,..,m)")
        cols = np.moveaxis(X, -2, 0).reshape(N, -1)
        res = self._matmul_multivector(np.ascontiguousarray(cols))
        return np.moveaxis(res.reshape((M,) + X.shape[:-2] + X.shape[-1:]), 0, -2)

    def _matmul_differentiable(self, other):
        """``self @ other`` when the values of either operand are a torch tensor."""
        M, N = self.shape
        if issparse(other):
            if N != other.shape[0]:
                raise ValueError(f"matmul: dimension mismatch with signature "
                                 f"(n,k={N}),(k={other.shape[0]},m)->(n,m)")
            return self._matmul_sparse(other)
        if isscalarlike(other) or _backend.is_scalar_tensor(other):
            # spmatrix * a number or a 0-d tensor: the scalar product, as multiply() takes it
            return self._mul_scalar(other)
        other = _backend.as_tensor(other)
        if other.ndim not in (1, 2) or other.shape[0] != N:
            raise ValueError(f"matmul: dimension mismatch: sparse operand has shape "
                             f"{self.shape}, dense operand {tuple(other.shape)}")
        if other.ndim == 1:
            return self._matmul_vector(other)
        return self._matmul_multivector(other)

    def _rmatmul_dispatch(self, other):
        _backend.check_same_device(self, other)
        if isscalarlike(other) or _backend.is_scalar_tensor(other):
            return self._mul_scalar(other)
        if _backend.is_tensor(other):
            tr = other.mT if other.ndim >= 2 else other
        else:
            try:
                tr = other.transpose()
            except AttributeError:
                tr = np.asarray(other).transpose()
        ret = self.transpose()._matmul_dispatch(tr)
        if ret is NotImplemented:
            return NotImplemented
        if _backend.is_tensor(ret):
            return ret.mT if ret.ndim >= 2 else ret
        return ret.transpose()

    def _divide(self, other, *, rdivide=False):
        _backend.check_same_device(self, other)
        if _backend.is_tensor(other):
            return self._divide_tensor(other, rdivide)
        if not (issparse(other) or isdense(other) or isscalarlike(other)):
            other_a = np.asanyarray(other)
            if other_a.ndim == 0 and other_a.dtype == np.object_:
                return NotImplemented
            if not hasattr(other, "shape"):
                other = other_a
        if isscalarlike(other):
            if rdivide:
                return np.divide(other, self.todense())
            if np.can_cast(self.dtype, np.float64):
                return self.astype(np.float64, copy=False)._mul_scalar(1 / other)
            r = self._mul_scalar(1 / other)
            scalar_dtype = np.asarray(other).dtype
            if np.issubdtype(self.dtype, np.integer) and np.issubdtype(scalar_dtype, np.integer):
                return r.astype(self.dtype, copy=False)
            return r
        if isdense(other):
            if rdivide:
                return np.divide(other, self.todense())
            return self.multiply(np.divide(1, other))
        if issparse(other):
            if rdivide:
                return other._divide(self, rdivide=False)
            csr_self = self.tocsr()
            if np.can_cast(self.dtype, np.float64):
                csr_self = csr_self.astype(np.float64, copy=False)
            return csr_self._divide_sparse(other.tocsr())
        return NotImplemented

    def _divide_tensor(self, other, rdivide):
        """``self / other`` for a torch ``other`` (SciPy's rules for a NumPy one: a 0-d
        divisor scales the values, in float64 where they cast to it; a dense one multiplies
        by its reciprocal on the pattern, in the dtype the two promote to)."""
        if rdivide:
            return other / self._dense_tensor(other)
        if other.ndim == 0:
            A = self
            if np.can_cast(self.dtype, np.float64):
                A = self.astype(np.float64, copy=False)
            return A._mul_scalar(1 / other)
        return self.multiply(1 / other)

    # -------------------------------------------------------------- shape operations
    def transpose(self, axes=None, copy=False):
        """Reverse the dimensions; a CSR array becomes a CSC array and vice versa.

        Parameters
        ----------
        axes : None
            Present for NumPy compatibility; only None is accepted.
        copy : bool, optional
            Copy the stored arrays instead of sharing them.

        Examples
        --------
        >>> import spgrad as sp
        >>> sp.csr_array([[1, 2], [0, 3]]).T.toarray()
        array([[1, 0],
               [2, 3]])
        """
        return self.tocsr(copy=copy).transpose(axes=axes, copy=False)

    def conjugate(self, copy=True):
        """Elementwise complex conjugate (a no-op copy for real dtypes)."""
        if np.issubdtype(self.dtype, np.complexfloating):
            return self.tocsr(copy=copy).conjugate(copy=False)
        return self.copy() if copy else self

    def conj(self, copy=True):
        """Elementwise complex conjugate (see :meth:`conjugate`)."""
        return self.conjugate(copy=copy)

    def _real(self):
        return self.tocsr()._real()

    def _imag(self):
        return self.tocsr()._imag()

    # ------------------------------------------------------------------ reductions
    def sum(self, axis=None, dtype=None, out=None):
        """Sum over ``axis`` (None: all entries, returning a scalar).

        Parameters
        ----------
        axis : {None, 0, 1, -1, -2}, optional
        dtype : dtype, optional
            Accumulator and result dtype (default: NumPy's rule for ``sum``).
        out : ndarray, optional
            Output of the expected shape.

        Returns
        -------
        scalar, 1-D ndarray (sparse arrays) or np.matrix (sparse matrices)

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.csr_array([[1, 2], [0, 3]])
        >>> A.sum(axis=0)
        array([1, 5])
        >>> int(A.sum())
        6
        """
        axis = validateaxis(axis, ndim=self.ndim)
        res_dtype = get_sum_dtype(self.dtype)
        if getattr(self, "_is_torch", False):
            return self._sum_differentiable(axis, dtype)
        if self._on_gpu:
            return self._sum_device(axis, dtype, out)
        if axis is None:
            data = self._summable_data()
            if data.size == 0:
                return np.sum(self._ascontainer([0]), dtype=dtype or res_dtype, out=out)
            return np.sum(self._ascontainer(data), dtype=dtype, out=out)
        if self._is_array:
            new_shape = tuple(self.shape[i] for i in range(self.ndim) if i not in axis)
        else:
            new_shape = (1, self.shape[1]) if axis == (0,) else (self.shape[0], 1)
        if out is not None and out.shape != new_shape:
            raise ValueError(f"out dimensions do not match shape: expected {new_shape}, "
                             f"got {out.shape}")
        sums = self._axis_sums(axis[0], res_dtype)
        result = self._ascontainer(sums.reshape(new_shape))
        return result.sum(axis=(), dtype=dtype, out=out)

    def _sum_differentiable(self, axis, dtype):
        """``sum`` when the values are a torch tensor: a tensor result, in the graph."""
        if axis is None:
            total = self._summable_data().sum()
        else:
            total = self._axis_sums(axis[0], None)
            if not self._is_array:
                total = total.reshape((1, -1) if axis == (0,) else (-1, 1))
        return total if dtype is None else total.to(_backend.torch_dtype(dtype))

    def _sum_device(self, axis, dtype, out):
        """``sum`` on a GPU: a 0-d CuPy array for the whole sum (as ``cupyx.scipy.sparse``),
        else a 1-D (sparse arrays) or 2-D (sparse matrices) CuPy array."""
        if out is not None and not _backend.is_device_array(out):
            raise ValueError(f"sum(out=...) of an array on the GPU ({self.device}) takes a CuPy "
                             f"array there, got {type(out).__module__}.{type(out).__name__}")
        if axis is None:
            total = self._summable_data().sum()
        else:
            total = self._axis_sums(axis[0], self.dtype)
            if not self._is_array:
                total = total.reshape((1, -1) if axis == (0,) else (-1, 1))
        total = total if dtype is None else total.astype(dtype)
        if out is None:
            return total
        _backend.check_same_device(self, out)
        if tuple(out.shape) != tuple(total.shape):
            raise ValueError(f"out dimensions do not match shape: expected "
                             f"{tuple(total.shape)}, got {tuple(out.shape)}")
        out[...] = total
        return out

    def _summable_data(self):
        return self.tocsr()._summable_data()

    def _axis_sums(self, axis, res_dtype):
        """1-D sums along ``axis`` in ``res_dtype`` (the format's fastest way)."""
        return self.tocsr()._axis_sums(axis, res_dtype)

    def mean(self, axis=None, dtype=None, out=None):
        """Arithmetic mean over ``axis`` (float64 for integer inputs).

        Examples
        --------
        >>> import spgrad as sp
        >>> sp.csr_array([[1, 2], [0, 3]]).mean(axis=1)
        array([1.5, 1.5])
        """
        axis = validateaxis(axis, ndim=self.ndim)
        integral = np.issubdtype(self.dtype, np.integer) or np.issubdtype(self.dtype, np.bool_)
        inter_dtype = np.float64 if integral else self.dtype
        inter_self = self.astype(inter_dtype, copy=False)
        if axis is None:
            denom = math.prod(self.shape)
        else:
            denom = math.prod(self.shape[ax] for ax in axis)
        res = (inter_self._mul_scalar(1.0 / denom)).sum(axis=axis, dtype=inter_dtype, out=out)
        if dtype is not None and out is None:
            if _backend.is_tensor(res):  # differentiable mode: the cast stays in the graph
                return res.to(_backend.torch_dtype(np.dtype(dtype)))
            return res.astype(dtype, copy=False)
        return res

    def diagonal(self, k=0):
        """The ``k``-th diagonal (entries ``a[i, i + k]``) as a 1-D ndarray.

        Examples
        --------
        >>> import spgrad as sp
        >>> A = sp.csr_array([[1, 2, 0], [0, 0, 3], [4, 0, 5]])
        >>> A.diagonal()
        array([1, 0, 5])
        >>> A.diagonal(k=1)
        array([2, 3])
        """
        return self.tocsr().diagonal(k=k)

    def trace(self, offset=0):
        """Sum along the ``offset``-th diagonal."""
        return self.diagonal(k=offset).sum()

    def count_nonzero(self, axis=None):
        """Number of stored values that are not zero (duplicates summed first)."""
        return self.tocsr().count_nonzero(axis=axis)

    def nonzero(self):
        """``(row, col)`` of the entries whose value is not zero."""
        A = self.tocoo()
        mask = A.data != 0
        return A.row[mask], A.col[mask]


class sparray:
    """Marker base of the sparse *array* family (``csr_array`` …): ``*`` is elementwise,
    reductions return 1-D arrays, ``todense`` returns ``ndarray``."""

    @classmethod
    def __class_getitem__(cls, arg, /):
        from types import GenericAlias

        return GenericAlias(cls, arg)



def issparse(x):
    """True if ``x`` is a sparse array or matrix (spgrad's or SciPy's).

    Examples
    --------
    >>> import numpy as np
    >>> import spgrad as sp
    >>> sp.issparse(sp.csr_array([[1]])), sp.issparse(np.eye(2))
    (True, False)
    """
    if isinstance(x, _spbase):
        return True
    from scipy.sparse import issparse as scipy_issparse

    return scipy_issparse(x)


def isspmatrix(x):
    """True if ``x`` is a sparse *matrix* (not a sparse array).

    Examples
    --------
    >>> import spgrad as sp
    >>> sp.isspmatrix(sp.csr_matrix([[1]])), sp.isspmatrix(sp.csr_array([[1]]))
    (True, False)
    """
    from ._matrix import spmatrix

    return isinstance(x, spmatrix)

