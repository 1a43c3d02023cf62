"""Validation and dtype rules, in one place.

Every container validates its input here: dtypes (:func:`getdtype`), shapes
(:func:`check_shape`), axes (:func:`validateaxis`), index dtypes (:func:`get_index_dtype`) and the
compressed-format invariants (:func:`check_compressed_arrays`). Kernels never see unvalidated
arrays.
"""

import math
import operator

import numpy as np

from . import _backend

__all__ = [
    "upcast",
    "getdtype",
    "get_index_dtype",
    "get_sum_dtype",
    "isscalarlike",
    "isintlike",
    "isshape",
    "isdense",
    "issequence",
    "ismatrix",
    "check_shape",
    "validateaxis",
    "broadcast_shapes",
    "safely_cast_index_arrays",
]

# The value dtypes SciPy accepts, in its upcasting order.
supported_dtypes = [
    np.bool_, np.byte, np.ubyte, np.short, np.ushort, np.intc, np.uintc,
    np.int_, np.uint, np.longlong, np.ulonglong,
    np.float32, np.float64, np.longdouble,
    np.complex64, np.complex128, np.clongdouble,
]
_supported = {np.dtype(t) for t in supported_dtypes}

# Kernel value types (see spgrad/_cpu/_fused.pxd). Other integer and bool dtypes are widened to
# int64 for arithmetic kernels; long double types have no kernels.
_kernel_dtypes = {np.dtype(t) for t in
                  (np.int32, np.int64, np.float32, np.float64, np.complex64, np.complex128)}

_upcast_memo = {}


def upcast(*args):
    """Return the smallest supported dtype that every dtype in ``args`` casts to safely.

    Examples
    --------
    >>> import numpy as np
    >>> from spgrad._sputils import upcast
    >>> upcast(np.int32, np.float32)
    dtype('float64')
    """
    key = tuple(np.dtype(a) for a in args)
    t = _upcast_memo.get(key)
    if t is not None:
        return t
    common = np.result_type(*key)
    for candidate in supported_dtypes:
        if np.can_cast(common, candidate):
            t = np.dtype(candidate)
            _upcast_memo[key] = t
            return t
    raise TypeError(f"no supported conversion for types: {args!r}")


def upcast_scalar(dtype, scalar):
    """Dtype of ``array(dtype) * scalar`` under NumPy's value-based rules for Python scalars."""
    return (np.array([0], dtype=dtype) * scalar).dtype


def getdtype(dtype, a=None, default=None):
    """Return a supported value dtype from ``dtype``, else ``a.dtype``, else ``default``.

    Raises
    ------
    ValueError
        If the dtype is not one that SciPy sparse supports.
    TypeError
        If no dtype can be determined.
    """
    if dtype is None:
        try:
            newdtype = a.dtype
        except AttributeError as e:
            if default is None:
                raise TypeError("could not interpret data type") from e
            newdtype = np.dtype(default)
    else:
        newdtype = np.dtype(dtype)
    if newdtype not in _supported:
        names = ", ".join(np.dtype(t).name for t in supported_dtypes)
        raise ValueError(
            f"spgrad does not support dtype {newdtype}. The only supported types are: {names}."
        )
    return newdtype


def getdata(obj, dtype=None, copy=False):
    """``np.array(obj, dtype, copy)`` checked to have a supported value dtype."""
    data = np.array(obj, dtype=dtype, copy=copy if copy else None)
    getdtype(data.dtype)
    return data


def kernel_dtype(dtype):
    """The dtype an arithmetic kernel computes in for values of ``dtype``.

    Raises
    ------
    TypeError
        For long double types, which have no kernels.
    """
    dtype = np.dtype(dtype)
    if dtype in _kernel_dtypes:
        return dtype
    if dtype.kind in "biu":
        return np.dtype(np.int64)
    raise TypeError(
        f"spgrad has no kernels for dtype {dtype}; use float64 or complex128 instead"
    )


def has_kernel_dtype(dtype):
    """True when ``dtype`` has its own kernel instantiation (no widening needed)."""
    return np.dtype(dtype) in _kernel_dtypes


#: value dtypes of spgrad's GPU kernels (those of ``cupyx.scipy.sparse``)
DEVICE_DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.complex64,
                                            np.complex128))


def check_device_dtype(dtype, what):
    """Raise ``TypeError`` naming ``what`` unless GPU kernels exist for values of ``dtype``."""
    dtype = np.dtype(dtype)
    if dtype not in DEVICE_DTYPES:
        raise TypeError(
            f"{what}: spgrad's GPU arrays hold float32, float64, complex64 or complex128 "
            f"values, got {dtype}; convert first, e.g. A.astype(np.float64)"
        )


def device_values(values, dtype, what, copy=False):
    """CuPy ``values`` as the values of a GPU array: cast to ``dtype`` (default: their own),
    which must be a GPU dtype (:func:`check_device_dtype`), copied with ``copy``."""
    dtype = getdtype(dtype, values)
    check_device_dtype(dtype, what)
    return values.astype(dtype, copy=bool(copy))


def values_beside(A, values, what):
    """``values`` given to an in-place update of ``A`` (``setdiag``), on ``A``'s device: a
    tensor or a device array as it is (``ValueError`` when it is on another device), host
    values as a NumPy array, copied to ``A``'s GPU when ``A`` is there (whose dtypes they
    must fit, with ``A``'s: :func:`check_device_dtype` names ``what``)."""
    if not (_backend.is_tensor(values) or _backend.is_device_array(values)):
        values = np.asarray(values)
        if A._on_gpu:
            check_device_dtype(np.promote_types(values.dtype, A.dtype), what)
            values = _backend.to_device(values, A.device)
    _backend.check_same_device(A, values)
    return values


def to_kernel(values, dtype=None):
    """``values`` as a contiguous native-endian array of the kernel dtype for ``dtype``."""
    kdt = kernel_dtype(values.dtype if dtype is None else dtype)
    if _backend.is_device_array(values):
        return values.astype(kdt, order="C", copy=False)
    return np.ascontiguousarray(values, dtype=kdt)


def from_kernel(values, dtype):
    """Cast a kernel result back to ``dtype`` (bool: nonzero; integers: wrap around)."""
    dtype = np.dtype(dtype)
    if values.dtype == dtype:
        return values
    if dtype == np.bool_:
        return values != 0
    return values.astype(dtype)


def to_native(a):
    """``a`` in native byte order (copied only when it is not)."""
    if a.dtype.isnative:
        return a
    return np.asarray(a, dtype=a.dtype.newbyteorder("="))


def get_index_dtype(arrays=(), maxval=None, check_contents=False):
    """Choose the index dtype (int32 or int64) able to hold ``arrays`` and ``maxval``.

    Parameters
    ----------
    arrays : tuple of array_like
        Integer arrays whose dtypes (and, with ``check_contents``, values) must fit.
    maxval : int, optional
        Largest value the indices must be able to hold.
    check_contents : bool, optional
        Inspect the values of arrays whose dtype is wider than int32.

    Returns
    -------
    numpy.int32 or numpy.int64

    Examples
    --------
    >>> import spgrad as sp
    >>> sp.get_index_dtype(maxval=10)
    <class 'numpy.int32'>
    >>> sp.get_index_dtype(maxval=2**31)
    <class 'numpy.int64'>
    """
    int32 = np.iinfo(np.int32)
    if maxval is not None and int(maxval) > int32.max:
        return np.int64
    if isinstance(arrays, np.ndarray):
        arrays = (arrays,)
    for arr in arrays:
        if not hasattr(arr, "dtype"):  # (CuPy arrays keep their own type)
            arr = np.asarray(arr)
        if np.can_cast(arr.dtype, np.int32):
            continue
        if check_contents and np.issubdtype(arr.dtype, np.integer):
            if arr.size == 0:
                continue
            if int(arr.min()) >= int32.min and int(arr.max()) <= int32.max:
                continue
        return np.int64
    return np.int32


def get_sum_dtype(dtype):
    """The accumulator dtype NumPy's ``sum`` uses for ``dtype``."""
    dtype = np.dtype(dtype)
    if dtype.kind == "u" and np.can_cast(dtype, np.uint):
        return np.dtype(np.uint)
    if np.can_cast(dtype, np.int_):
        return np.dtype(np.int_)
    return dtype


def isscalarlike(x):
    """True for Python/NumPy scalars and 0-d arrays."""
    return np.isscalar(x) or (isdense(x) and x.ndim == 0)


def isintlike(x):
    """True if ``x`` can be used as an integer index (raises for inexact floats like 1.5)."""
    if np.ndim(x) != 0:
        return False
    try:
        operator.index(x)
    except (TypeError, ValueError):
        try:
            loose = bool(int(x) == x)
        except (TypeError, ValueError):
            return False
        if loose:
            raise ValueError("Inexact indices into sparse matrices are not allowed")
        return loose
    return True


def isshape(x, nonneg=False, *, allow_nd=(2,)):
    """True if ``x`` is a tuple of ``len in allow_nd`` integers (non-negative if asked)."""
    try:
        ndim = len(x)
    except TypeError:
        return False
    if ndim not in allow_nd:
        return False
    for d in x:
        if not isintlike(d):
            return False
        if nonneg and d < 0:
            return False
    return True


def issequence(t):
    """True for a flat list/tuple of scalars or a 1-D ndarray."""
    return (isinstance(t, (list, tuple)) and (len(t) == 0 or np.isscalar(t[0]))) or (
        isinstance(t, np.ndarray) and t.ndim == 1
    )


def ismatrix(t):
    """True for a nested sequence or a 2-D ndarray."""
    return (isinstance(t, (list, tuple)) and len(t) > 0 and issequence(t[0])) or (
        isinstance(t, np.ndarray) and t.ndim == 2
    )


def isdense(x):
    """True for NumPy arrays (including ``np.matrix``)."""
    return isinstance(x, np.ndarray)


def check_shape(args, current_shape=None, *, allow_nd=(2,)):
    """Validate a shape given as ``(M, N)`` or ``M, N``; with ``current_shape``, a reshape target.

    Raises
    ------
    ValueError
        For negative dimensions, wrong length, or a size that does not match.
    TypeError
        If no shape is given or a dimension is not an integer.
    """
    if len(args) == 0:
        raise TypeError("function missing 1 required positional argument: 'shape'")
    if len(args) == 1:
        try:
            it = iter(args[0])
        except TypeError:
            new_shape = (operator.index(args[0]),)
        else:
            new_shape = tuple(operator.index(a) for a in it)
    else:
        new_shape = tuple(operator.index(a) for a in args)

    if current_shape is None:
        if len(new_shape) not in allow_nd:
            raise ValueError(f"shape must have length in {allow_nd}. Got new_shape={new_shape}")
        if any(d < 0 for d in new_shape):
            raise ValueError("'shape' elements cannot be negative")
        return new_shape

    size = math.prod(current_shape)
    negative = [i for i, d in enumerate(new_shape) if d < 0]
    if not negative:
        if math.prod(new_shape) != size:
            raise ValueError(f"cannot reshape array of size {size} into shape {new_shape}")
    elif len(negative) == 1:
        i = negative[0]
        known = math.prod(new_shape[:i] + new_shape[i + 1:])
        unknown, rem = divmod(size, known) if known else (0, size)
        if rem != 0 or known == 0:
            shown = tuple("newshape" if d < 0 else d for d in new_shape)
            raise ValueError(f"cannot reshape array of size {size} into shape {shown}")
        new_shape = new_shape[:i] + (unknown,) + new_shape[i + 1:]
    else:
        raise ValueError("can only specify one unknown dimension")
    if len(new_shape) not in allow_nd:
        raise ValueError(f"shape must have length in {allow_nd}. Got new_shape={new_shape}")
    return new_shape


def canonical_axes(axes, ndim):
    """``axes`` (a sequence of integers, negative ones counted from the end) as a list of
    distinct non-negative axes below ``ndim``, with SciPy's errors."""
    canon = []
    for ax in axes:
        if not isintlike(ax):
            raise TypeError(f"axis must be an integer. (given {ax})")
        ax = int(ax)
        if ax < 0:
            ax += ndim
        if ax < 0 or ax >= ndim:
            raise ValueError("axis out of range for ndim")
        canon.append(ax)
    if len(canon) != len(set(canon)):
        raise ValueError("duplicate value in axis")
    return canon


def validateaxis(axis, *, ndim=2):
    """Normalise ``axis`` to a tuple of non-negative axes, or None for all axes."""
    if axis is None:
        return None
    if axis == ():
        raise ValueError(
            "sparse does not accept 0D axis (). Either use toarray (for dense) "
            "or copy (for sparse)."
        )
    if not isinstance(axis, tuple):
        if not np.issubdtype(np.dtype(type(axis)), np.integer):
            raise TypeError(f"axis must be an integer/tuple of ints, not {type(axis)}")
        axis = (axis,)
    canon = canonical_axes(axis, ndim)
    if len(canon) > ndim:
        raise ValueError("axis tuple has too many elements")
    if len(canon) == ndim:
        return None
    return tuple(canon)


def broadcast_shapes(*shapes):
    """The broadcast of ``shapes`` (NumPy's rules, no memory checks)."""
    if not shapes:
        return ()
    ndim = max(len(s) for s in shapes)
    out = []
    for i in range(-ndim, 0):
        dims = {s[i] for s in shapes if len(s) >= -i and s[i] != 1}
        if len(dims) > 1:
            raise ValueError(f"shape mismatch: objects cannot be broadcast to a single shape: "
                             f"{shapes}")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def check_compressed_arrays(indptr, indices, data, n_major, n_minor, full_check):
    """Check the CSR/CSC invariants before any kernel reads the arrays.

    The cheap checks (O(1)) always run; ``full_check`` adds the O(nnz) ones: indptr
    non-decreasing and every index in ``[0, n_minor)``.

    Raises
    ------
    ValueError
        Naming the violated invariant, what was expected and what came.
    """
    for name, arr in (("data", data), ("indices", indices), ("indptr", indptr)):
        if arr.ndim != 1:
            raise ValueError(f"data, indices, and indptr should be 1-D; {name} has "
                             f"ndim={arr.ndim}")
    for name, arr in (("indices", indices), ("indptr", indptr)):
        if arr.dtype.kind not in "iu":
            raise ValueError(f"{name} array must have an integer dtype, got {arr.dtype}")
    if len(indptr) != n_major + 1:
        raise ValueError(f"index pointer size {len(indptr)} should be {n_major + 1}")
    if indptr[0] != 0:
        raise ValueError(f"index pointer should start with 0, got {int(indptr[0])}")
    if len(indices) != len(data):
        raise ValueError(f"indices and data should have the same size, got {len(indices)} "
                         f"and {len(data)}")
    if indptr[-1] > len(indices):
        raise ValueError(f"Last value of index pointer should be less than the size of index "
                         f"and data arrays, got {int(indptr[-1])} > {len(indices)}")
    if indptr[-1] < 0:
        raise ValueError(f"Last value of index pointer must be >= 0, got {int(indptr[-1])}")
    if not full_check:
        return
    nnz = int(indptr[-1])
    xp = _backend.array_module(indptr, indices)
    if n_major > 0 and bool((xp.diff(indptr) < 0).any()):
        raise ValueError("indptr must be a non-decreasing sequence")
    if nnz > 0:
        used = indices[:nnz]
        lo, hi = int(used.min()), int(used.max())
        if hi >= n_minor:
            raise ValueError(f"indices must be < {n_minor}, got {hi}")
        if lo < 0:
            raise ValueError(f"indices must be >= 0, got {lo}")


def safely_cast_index_arrays(A, idx_dtype=np.int32, msg=""):
    """Return the index arrays of ``A`` cast to ``idx_dtype``, if the values allow it.

    The arrays are returned unchanged (the same objects) when no cast is needed; ``A`` is
    never modified.

    Parameters
    ----------
    A : sparse array or matrix
    idx_dtype : dtype, optional
        Target integer dtype (default int32).
    msg : str, optional
        End of the error message (default ``"dtype <idx_dtype>"``).

    Returns
    -------
    ``(indices, indptr)`` for CSR, CSC and BSR; ``coords`` for COO; ``offsets`` for DIA.

    Raises
    ------
    ValueError
        If a stored index does not fit in ``idx_dtype``.
    TypeError
        For LIL and DOK, which have no index arrays.

    Examples
    --------
    >>> import numpy as np
    >>> import spgrad as sp
    >>> A = sp.coo_array(([3], (np.array([3]), np.array([1]))))
    >>> [c.dtype.name for c in sp.safely_cast_index_arrays(A, np.int32)]
    ['int32', 'int32']
    """
    if not msg:
        msg = f"dtype {idx_dtype}"
    max_value = np.iinfo(idx_dtype).max
    too_big = max(A.shape) > max_value
    if A.format in ("csr", "csc", "bsr"):
        R, C = A.blocksize if A.format == "bsr" else (1, 1)
        if int(A.indptr[-1]) * R > max_value:
            raise ValueError(f"indptr values too large for {msg}")
        if too_big and A.nnz and int(A.indices.max()) * C > max_value:
            raise ValueError(f"indices values too large for {msg}")
        return (A.indices.astype(idx_dtype, copy=False), A.indptr.astype(idx_dtype, copy=False))
    if A.format == "coo":
        if too_big and any(c.size and int(c.max()) > max_value for c in A.coords):
            raise ValueError(f"coords values too large for {msg}")
        return tuple(c.astype(idx_dtype, copy=False) for c in A.coords)
    if A.format == "dia":
        if too_big and A.offsets.size and int(A.offsets.max()) > max_value:
            raise ValueError(f"offsets values too large for {msg}")
        return A.offsets.astype(idx_dtype, copy=False)
    raise TypeError(f"Format {A.format} is not associated with index arrays. "
                    f"DOK and LIL have dict and list, not array.")


def asmatrix(data, dtype=None):
    """View ``data`` as ``np.matrix`` without copying when possible."""
    if isinstance(data, np.matrix) and (dtype is None or data.dtype == dtype):
        return data
    return np.asarray(data, dtype=dtype).view(np.matrix)
