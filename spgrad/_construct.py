"""Functions that build sparse arrays and matrices: identities, diagonals, random patterns,
Kronecker products and sums, block assembly and triangular parts.

Every function behaves as its namesake in ``scipy.sparse`` (SciPy 1.17): same default formats,
return families (the ``*_array`` functions, and any function given a sparse *array* operand,
return sparse arrays; the others return sparse matrices), value and index dtypes, and error
types. Heavy lifting is done by the CPU kernels (``csr_hstack``, ``csr_kron``,
``csr_band_filter``, ``coo_tocsr_pattern``, ``expand_indptr``); Python only allocates and does
per-block (never per-entry) NumPy work.

Differentiable mode: ``diags``/``diags_array``/``spdiags`` from torch vectors, ``kron``,
``kronsum``, the block functions and ``tril``/``triu`` with operands whose values are torch
tensors compute their pattern exactly as in plain mode and their values with torch gathers and
concatenations (:mod:`spgrad._autograd._construct_ops`), so the result's data is in the
autograd graph; NumPy operands are constants. ``eye``, ``identity`` and ``random`` take no
value inputs and stay plain.

BSR results (``kron`` of a fairly dense second factor, as SciPy gives them) are the assembly
class :class:`spgrad.bsr_array` in plain mode; with torch values or on the GPU, where BSR does
not exist, they are CSR.
"""

import functools
import inspect
import math
import numbers
import operator
import sys
import warnings

import numpy as np

from . import _backend
from ._base import issparse, sparray
from ._coo import coo_array, coo_matrix
from ._csc import csc_array, csc_matrix
from ._csr import csr_array, csr_matrix
from ._dia import dia_array, dia_matrix
from ._oned import from_twin, twin
from ._sputils import (
    canonical_axes,
    from_kernel,
    get_index_dtype,
    has_kernel_dtype,
    isintlike,
    isscalarlike,
    kernel_dtype,
    upcast,
)

__all__ = [
    "spdiags",
    "eye",
    "identity",
    "kron",
    "kronsum",
    "hstack",
    "vstack",
    "bmat",
    "rand",
    "random",
    "diags",
    "block_diag",
    "diags_array",
    "block_array",
    "eye_array",
    "random_array",
    "tril",
    "triu",
    "expand_dims",
    "permute_dims",
    "swapaxes",
]


class _NoValueType:
    """Sentinel for "argument not given" where ``None`` has a meaning of its own."""

    def __repr__(self):
        return "<no value>"


_NoValue = _NoValueType()

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------

def _is_sparray(x):
    """True for sparse *arrays*, spgrad's or SciPy's (which spgrad accepts as inputs)."""
    if isinstance(x, sparray):
        return True
    if issparse(x):
        import scipy.sparse

        return isinstance(x, scipy.sparse.sparray)
    return False


def _family(as_array):
    """The (csr, csc, coo, dia) classes of the array or the matrix family."""
    if as_array:
        return csr_array, csc_array, coo_array, dia_array
    return csr_matrix, csc_matrix, coo_matrix, dia_matrix


def _index_arrays(dtype, *arrays):
    """``arrays`` as contiguous arrays of index dtype ``dtype`` (no copy when they are)."""
    xp = _backend.array_module(*arrays)
    return tuple(xp.ascontiguousarray(a, dtype=dtype) for a in arrays)


def _compressed_parts(A):
    """``(indptr, indices, data)`` of a CSR/CSC operand, trimmed to its ``nnz`` entries."""
    indptr = A.indptr
    start = int(indptr[0]) if indptr.size else 0
    stop = int(indptr[-1]) if indptr.size else 0
    if start != 0:
        indptr = indptr - start
    return indptr, A.indices[start:stop], A.data[start:stop]


def _csr_of_coo(n_row, row, col, data):
    """CSR arrays holding the COO entries in their stable row order (duplicates kept).

    The pattern comes from the ``coo_tocsr_pattern`` kernel and the values are gathered
    through its permutation, which works for every value dtype.
    """
    idx_dtype = np.promote_types(row.dtype, col.dtype)
    row, col = _index_arrays(idx_dtype, row, col)
    xp = _backend.array_module(row, col)
    indptr = xp.empty(n_row + 1, dtype=idx_dtype)
    indices = xp.empty(row.size, dtype=idx_dtype)
    perm = xp.empty(row.size, dtype=idx_dtype)
    _backend.kernels(row, col).coo_tocsr_pattern(n_row, row, col, indptr, indices, perm)
    return indptr, indices, _ops().gather(data, perm) if _backend.is_tensor(data) else data[perm]


def _ops():
    """The differentiable numeric phases (imports torch; called only with tensor values)."""
    from ._autograd import _construct_ops

    return _construct_ops


def _has_tensor(items):
    """True if ``items`` is a tensor or a sequence holding one (differentiable mode)."""
    if _backend.is_tensor(items):
        return True
    if isinstance(items, (str, bytes)) or isscalarlike(items):
        return False
    try:
        return any(_backend.is_tensor(x) for x in items)
    except TypeError:
        return False


def _value_dtype(x):
    """NumPy dtype of a value array or tensor."""
    return _backend.numpy_dtype(x.dtype)


def _expand_rows(indptr):
    """Row index of every entry of a CSR pattern."""
    K = _backend.kernels(indptr)
    rows = _backend.array_module(indptr).empty(int(indptr[-1]), dtype=indptr.dtype)
    K.expand_indptr(indptr, rows)
    return rows


# ---------------------------------------------------------------------------------------------
# diagonals and identities
# ---------------------------------------------------------------------------------------------

def spdiags(data, diags, m=None, n=None, format=None):
    """Return a sparse matrix from diagonals stored row-wise, with DIA padding.

    .. warning::

        This function returns a sparse matrix, not a sparse array. Prefer `dia_array`
        (``dia_array((data, diags), shape=(m, n))``) for new code.

    Differentiable mode: `data` may be a torch tensor (or a list of tensors, stacked); the
    result's values are then that tensor, in the autograd graph.

    Parameters
    ----------
    data : array_like
        Matrix diagonals stored row-wise: ``data[i, j]`` is the entry in column ``j`` of
        diagonal ``diags[i]`` (so entries that fall outside the matrix are ignored padding).
    diags : sequence of int or int
        Diagonals to set: 0 the main diagonal, ``k > 0`` the k-th upper diagonal, ``k < 0``
        the k-th lower diagonal.
    m, n : int or tuple, optional
        Shape of the result. If `n` is None and `m` is a tuple, the shape is `m`. If both are
        omitted, the matrix is square with side ``len(data[0])``.
    format : str, optional
        Format of the result; None gives DIA.

    Returns
    -------
    new_matrix : sparse matrix
        A `dia_matrix` (or the requested format).

    See Also
    --------
    diags_array : the same without padding, returning a sparse array
    dia_array : the sparse DIAgonal format

    Examples
    --------
    >>> import numpy as np
    >>> import spgrad as sp
    >>> data = np.array([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]])
    >>> sp.spdiags(data, np.array([0, -1, 2]), 4, 4).toarray()
    array([[1, 0, 3, 0],
           [1, 2, 0, 4],
           [0, 2, 3, 0],
           [0, 0, 3, 4]])
    """
    if not _backend.is_tensor(data) and _has_tensor(data):
        dtype = np.result_type(*(_value_dtype(d) if _backend.is_tensor(d)
                                 else np.asarray(d).dtype for d in data))
        data = _ops().stack(data, dtype)
    if m is None and n is None:
        m = n = len(data[0])
    elif n is None:
        m, n = m
    return dia_matrix((data, diags), shape=(m, n)).asformat(format)


def _atleast_1d_values(d):
    """``np.atleast_1d`` that keeps a tensor a tensor (in the graph)."""
    if _backend.is_tensor(d) or _backend.is_device_array(d):
        return d.reshape(-1) if d.ndim == 0 else d
    return np.atleast_1d(d)


def _diags_data(diagonals, offsets, shape, dtype, stacklevel):
    """Padded DIA data array and offsets for ``diags_array`` / ``diags``.

    In differentiable mode (a diagonal is a tensor) the data array is a tensor built from the
    diagonals in the autograd graph; NumPy diagonals are constants.
    """
    torch_mode = _has_tensor(diagonals)
    # A scalar offset means one diagonal, given as a flat sequence (or a scalar).
    if isscalarlike(offsets):
        first = diagonals[0] if len(diagonals) != 0 else None
        if first is not None and not (isscalarlike(first) or (
                (_backend.is_tensor(first) or _backend.is_device_array(first))
                and first.ndim == 0)):
            raise ValueError("Different number of diagonals and offsets.")
        if torch_mode and not _backend.is_tensor(diagonals):
            # a sequence of scalars, some of them 0-d tensors: one diagonal
            diagonals = [_ops().cat(diagonals, np.result_type(
                *(_value_dtype(d) if _backend.is_tensor(d) else np.asarray(d).dtype
                  for d in diagonals)))]
        else:
            diagonals = [_atleast_1d_values(diagonals)]
    else:
        diagonals = [_atleast_1d_values(d) for d in diagonals]
    offsets = np.atleast_1d(offsets)
    if len(diagonals) != len(offsets):
        raise ValueError("Different number of diagonals and offsets.")

    if shape is None:
        side = len(diagonals[0]) + abs(int(offsets[0]))
        shape = (side, side)

    # dtypes are decided on empty stand-ins, which also covers tensor diagonals
    like = [np.empty(0, _value_dtype(d)) for d in diagonals]
    if dtype is None:
        dtype = np.result_type(*like)
    elif dtype is _NoValue:
        # Deprecated default (until SciPy 1.19): the inexact common type of the inputs.
        dtype = np.dtype(np.common_type(*like))
        future = np.result_type(*like)
        if dtype != future:
            note = ""
            if sys.version_info < (3, 12):
                note = ("\nNote: In Python 3.11, this warning can be generated by a call of "
                        "spgrad.diags(), but the code indicated in the warning message will "
                        "refer to an internal call of spgrad.diags_array(). If that happens, "
                        "check your code for the use of diags().")
            warnings.warn(
                f"Input has data type {future}, but the output has been cast to {dtype}.  "
                "In the future, the output data type will match the input. To avoid this "
                "warning, set the `dtype` parameter to `None` to have the output dtype match "
                "the input, or set it to the desired output data type." + note,
                FutureWarning,
                stacklevel=stacklevel + 1,
            )

    m, n = shape
    # DIA data columns are matrix columns: diagonal k occupies columns
    # [max(0, k), max(0, k) + length) where length = min(m + k, n - k, min(m, n)).
    width = max([min(m + k, n - k) + max(0, k) for k in offsets])
    if torch_mode:
        data = _diags_tensor(diagonals, offsets, (m, n), max(0, width), dtype)
        return data, offsets, (m, n)
    on_gpu = [d for d in diagonals if _backend.is_device_array(d)]
    xp = _backend.array_module(*on_gpu) if on_gpu else np  # CuPy diagonals: built there
    data = xp.zeros((len(offsets), max(0, width)), dtype=dtype)
    side = min(m, n)
    for i, (k, diagonal) in enumerate(zip(offsets, diagonals)):
        first = max(0, k)
        length = min(m + k, n - k, side)
        if length < 0:
            raise ValueError(f"Offset {k} (index {i}) out of bounds")
        try:
            data[i, first:first + length] = diagonal[..., :length]
        except ValueError as e:
            if len(diagonal) not in (length, 1):
                raise ValueError(
                    f"Diagonal length (index {i}: {len(diagonal)} at offset {k}) does not "
                    f"agree with array size ({m}, {n})."
                ) from e
            raise
    return data, offsets, (m, n)


def _diags_tensor(diagonals, offsets, shape, width, dtype):
    """The DIA data tensor of ``_diags_data`` in differentiable mode: each diagonal padded
    to its columns (a length-1 diagonal broadcast along its offset), rows stacked."""
    m, n = shape
    side = min(m, n)
    rows, firsts = [], []
    for i, (k, diagonal) in enumerate(zip(offsets, diagonals)):
        k = int(k)
        length = min(m + k, n - k, side)
        if length < 0:
            raise ValueError(f"Offset {k} (index {i}) out of bounds")
        piece = _ops().values(diagonal, dtype)
        if piece.ndim != 1 or (len(piece) != 1 and len(piece) < length):
            raise ValueError(
                f"Diagonal length (index {i}: {len(piece)} at offset {k}) does not "
                f"agree with array size ({m}, {n})."
            )
        piece = piece[:length] if len(piece) != 1 else piece.expand(length)
        rows.append(piece)
        firsts.append(max(0, k))
    return _ops().padded_rows(rows, firsts, width, dtype)


def diags_array(diagonals, /, *, offsets=0, shape=None, format=None, dtype=_NoValue):
    """Construct a sparse array from diagonals (given without padding).

    Differentiable mode: any diagonal may be a torch tensor (NumPy diagonals are then
    constants); the result's data is a tensor built from them in the autograd graph, so
    gradients flow back to the diagonals.

    Parameters
    ----------
    diagonals : sequence of array_like
        The diagonals, one per offset. A diagonal of length 1 is broadcast along its offset.
    offsets : sequence of int or int, optional
        Diagonals to set (no repeats): 0 the main diagonal (default), ``k > 0`` the k-th
        upper diagonal, ``k < 0`` the k-th lower diagonal.
    shape : tuple of int, optional
        Shape of the result. If omitted, the smallest square array holding the first
        diagonal at its offset.
    format : {"dia", "csr", "csc", "coo"}, optional
        Format of the result; None gives DIA.
    dtype : dtype, optional
        Value dtype. None gives the NumPy result type of the diagonals. Not giving it keeps
        SciPy's deprecated default (until SciPy 1.19): an inexact type (integers become
        float64), with a ``FutureWarning`` when that differs from the result type.

    Returns
    -------
    new_array : dia_array
        The diagonals placed at their offsets (or the requested format).

    Raises
    ------
    ValueError
        If the numbers of diagonals and offsets differ, an offset lies outside the shape,
        or a diagonal has the wrong length.

    See Also
    --------
    diags : the same, returning a sparse matrix
    dia_array : constructor of the DIA format (which takes padded data)

    Examples
    --------
    >>> import spgrad as sp
    >>> diagonals = [[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0], [1.0, 2.0]]
    >>> sp.diags_array(diagonals, offsets=[0, -1, 2]).toarray()
    array([[1., 0., 1., 0.],
           [1., 2., 0., 2.],
           [0., 2., 3., 0.],
           [0., 0., 3., 4.]])

    Scalars are broadcast when the shape is given:

    >>> sp.diags_array([1.0, -2.0, 1.0], offsets=[-1, 0, 1], shape=(4, 4)).toarray()
    array([[-2.,  1.,  0.,  0.],
           [ 1., -2.,  1.,  0.],
           [ 0.,  1., -2.,  1.],
           [ 0.,  0.,  1., -2.]])

    Differentiable mode: gradients flow back to tensor diagonals.

    >>> import torch
    >>> d = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> A = sp.diags_array([d, [5.0, 6.0]], offsets=[0, 1], dtype=None)
    >>> (A @ torch.ones(3)).sum().backward()
    >>> d.grad
    tensor([1., 1., 1.])
    """
    data, offsets, shape = _diags_data(diagonals, offsets, shape, dtype, stacklevel=2)
    return dia_array((data, offsets), shape=shape).asformat(format)


def diags(diagonals, offsets=0, shape=None, format=None, dtype=_NoValue):
    """Construct a sparse matrix from diagonals (given without padding).

    .. warning::

        This function returns a sparse matrix, not a sparse array. Prefer `diags_array`.

    Differentiable mode: as in `diags_array`, tensor diagonals give tensor values in the
    autograd graph.

    Parameters
    ----------
    diagonals : sequence of array_like
        The diagonals, one per offset. A diagonal of length 1 is broadcast along its offset.
    offsets : sequence of int or int, optional
        Diagonals to set (no repeats): 0 the main diagonal (default), ``k > 0`` the k-th
        upper diagonal, ``k < 0`` the k-th lower diagonal.
    shape : tuple of int, optional
        Shape of the result. If omitted, the smallest square matrix holding the first
        diagonal at its offset.
    format : {"dia", "csr", "csc", "coo"}, optional
        Format of the result; None gives DIA.
    dtype : dtype, optional
        Value dtype, as in `diags_array` (including its deprecated default).

    Returns
    -------
    new_matrix : dia_matrix
        The diagonals placed at their offsets (or the requested format).

    See Also
    --------
    diags_array : the same, returning a sparse array
    spdiags : diagonals given with DIA padding

    Examples
    --------
    >>> import spgrad as sp
    >>> sp.diags([1.0, 2.0, 3.0], 1).toarray()
    array([[0., 1., 0., 0.],
           [0., 0., 2., 0.],
           [0., 0., 0., 3.],
           [0., 0., 0., 0.]])
    """
    data, offsets, shape = _diags_data(diagonals, offsets, shape, dtype, stacklevel=2)
    return dia_matrix((data, offsets), shape=shape).asformat(format)


def _eye(m, n, k, dtype, format, as_array):
    csr_cls, csc_cls, coo_cls, dia_cls = _family(as_array)
    if n is None:
        n = m
    m, n = int(m), int(n)
    if m == n and k == 0 and format in ("csr", "csc", "coo"):
        # square identity in a compressed or COO format: build the arrays directly
        idx_dtype = get_index_dtype(maxval=n)
        ones = np.ones(n, dtype=dtype)
        if format == "coo":
            diag = np.arange(n, dtype=idx_dtype)
            return coo_cls((ones, (diag, diag.copy())), (n, n))
        cls = csr_cls if format == "csr" else csc_cls
        return cls((ones, np.arange(n, dtype=idx_dtype), np.arange(n + 1, dtype=idx_dtype)),
                   (n, n))
    ones = np.ones((1, max(0, min(m + k, n))), dtype=dtype)
    data, offsets, shape = _diags_data(ones, [k], (m, n), dtype, stacklevel=3)
    return dia_cls((data, offsets), shape=shape).asformat(format)


def eye_array(m, n=None, *, k=0, dtype=float, format=None):
    """Sparse array of shape ``(m, n)`` with ones on the k-th diagonal.

    Parameters
    ----------
    m : int
        Number of rows.
    n : int, optional
        Number of columns (default: `m`).
    k : int, optional
        Diagonal holding the ones: 0 the main diagonal (default), ``k > 0`` above it,
        ``k < 0`` below it.
    dtype : dtype, optional
        Value dtype (default float64).
    format : str, optional
        Format of the result; None gives DIA.

    Returns
    -------
    new_array : sparse array

    Raises
    ------
    ValueError
        If the diagonal `k` lies entirely outside the shape.

    See Also
    --------
    eye : the same, returning a sparse matrix
    identity : square sparse identity matrix

    Examples
    --------
    >>> import numpy as np
    >>> import spgrad as sp
    >>> sp.eye_array(3).toarray()
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    >>> A = sp.eye_array(2, 3, k=1, dtype=np.int8)
    >>> A.format, A.dtype
    ('dia', dtype('int8'))
    >>> A.toarray()
    array([[0, 1, 0],
           [0, 0, 1]], dtype=int8)
    """
    return _eye(m, n, k, dtype, format, as_array=True)


def eye(m, n=None, k=0, dtype=float, format=None):
    """Sparse matrix of shape ``(m, n)`` with ones on the k-th diagonal.

    .. warning::

        This function returns a sparse matrix, not a sparse array. Prefer `eye_array`.

    Parameters
    ----------
    m : int
        Number of rows.
    n : int, optional
        Number of columns (default: `m`).
    k : int, optional
        Diagonal holding the ones: 0 the main diagonal (default), ``k > 0`` above it,
        ``k < 0`` below it.
    dtype : dtype, optional
        Value dtype (default float64).
    format : str, optional
        Format of the result; None gives DIA.

    Returns
    -------
    new_matrix : sparse matrix

    See Also
    --------
    eye_array : the same, returning a sparse array

    Examples
    --------
    >>> import spgrad as sp
    >>> sp.eye(3, k=-1, format="csr").toarray()
    array([[0., 0., 0.],
           [1., 0., 0.],
           [0., 1., 0.]])
    """
    return _eye(m, n, k, dtype, format, as_array=False)


def identity(n, dtype="d", format=None):
    """Square sparse identity matrix of side `n`.

    .. warning::

        This function returns a sparse matrix, not a sparse array. Prefer `eye_array`.

    Parameters
    ----------
    n : int
        Number of rows and columns.
    dtype : dtype, optional
        Value dtype (default float64).
    format : str, optional
        Format of the result; None gives DIA.

    Returns
    -------
    new_matrix : sparse matrix

    See Also
    --------
    eye_array, eye

    Examples
    --------
    >>> import spgrad as sp
    >>> I = sp.identity(3, dtype="int8", format="csr")
    >>> I.format, I.dtype, I.nnz
    ('csr', dtype('int8'), 3)
    """
    return eye(n, n, dtype=dtype, format=format)


# ---------------------------------------------------------------------------------------------
# Kronecker product and sum
# ---------------------------------------------------------------------------------------------

def _kron_operand(X, coo_cls):
    """CSR arrays of a kron factor holding exactly the entries of SciPy's ``coo(X)``.

    Returns ``(indptr, indices, data, shape, coo_idx_dtype)`` where ``coo_idx_dtype`` is the
    index dtype of that COO form (which decides the index dtype of the product).
    """
    if issparse(X) and X.format == "csr":
        indptr, indices, data = _compressed_parts(X)
        # X.tocoo() keeps the index dtype; a matrix's COO constructor downcasts if it can
        coo_idx = get_index_dtype((indices,), maxval=max(X.shape),
                                  check_contents=not _is_sparray(X))
        return indptr, indices, data, X.shape, np.dtype(coo_idx)
    C = coo_cls(X)
    indptr, indices, data = _csr_of_coo(C.shape[0], C.row, C.col, C.data)
    return indptr, indices, data, C.shape, np.dtype(C.row.dtype)


def _ndim(X):
    return X.ndim if hasattr(X, "ndim") else np.ndim(X)


def _kron_row(X):
    """A 1-D kron factor (sparse, or dense alongside a sparse array) as a (1, n) row."""
    if issparse(X) or _ndim(X) != 1:
        return _as_row(X)
    return X.reshape(1, -1) if _backend.is_tensor(X) else np.asarray(X).reshape(1, -1)


def kron(A, B, format=None):
    """Kronecker product of sparse (or dense) `A` and `B`, in a sparse format.

    Block ``(i, j)`` of the result is ``A[i, j] * B``.

    Differentiable mode: when either factor has torch values (or is a dense tensor), the
    pattern is computed by the kernel as in plain mode and the values are the outer
    product of the two value vectors, a torch expression in the autograd graph (a NumPy
    factor is a constant).

    Parameters
    ----------
    A, B : sparse or dense array_like
        The factors, 2-D.
    format : str, optional
        Format of the result. None gives COO, except when `B` is fairly dense (at least half
        of its entries stored): then BSR with `B`'s shape as the block size (every block
        stored whole, zeros of `B` included), as in SciPy, and also for ``format="bsr"``. BSR
        is an assembly format, not differentiable, and has no GPU version: with torch values
        or on the GPU that case gives CSR.

    Returns
    -------
    sparse array or matrix
        A sparse array if `A` or `B` is a sparse array, else a sparse matrix. Every product
        is stored (explicit zeros included), as in SciPy; when either factor stores nothing,
        the result is an empty float64 array.

    Examples
    --------
    >>> import numpy as np
    >>> import spgrad as sp
    >>> A = sp.csr_array(np.array([[0, 2], [5, 0]]))
    >>> B = sp.csr_array(np.array([[1, 2], [3, 4]]))
    >>> sp.kron(A, B).toarray()
    array([[ 0,  0,  2,  4],
           [ 0,  0,  6,  8],
           [ 5, 10,  0,  0],
           [15, 20,  0,  0]])
    >>> sp.kron(sp.eye_array(2), [[1, 2]], format="csr").toarray()
    array([[1., 2., 0., 0.],
           [0., 0., 1., 2.]])

    Differentiable mode:

    >>> import torch
    >>> A = sp.csr_array(np.array([[0.0, 2.0], [5.0, 0.0]])).requires_grad_()
    >>> sp.kron(A, np.array([[1.0, 3.0]])).sum().backward()
    >>> A.grad.toarray()
    array([[0., 4.],
           [4., 0.]])
    """
    as_array = _is_sparray(A) or _is_sparray(B)
    csr_cls, csc_cls, coo_cls, _ = _family(as_array)
    if as_array and _ndim(A) == 1 and _ndim(B) == 1:
        # two vectors: the 1-D product, computed as the product of their (1, n) rows
        return from_twin(kron(_kron_row(A), _kron_row(B), format=format or "coo"))
    A, B = _kron_row(A), _kron_row(B)

    B = coo_cls(B)
    dense_B = format in (None, "bsr") and 2 * B.nnz >= math.prod(B.shape)
    Ap, Aj, Ax, A_shape, A_idx = _kron_operand(A, coo_cls)
    Bp, Bj, Bx = _csr_of_coo(B.shape[0], B.row, B.col, B.data)
    out_shape = (A_shape[0] * B.shape[0], A_shape[1] * B.shape[1])

    nnz_a, nnz_b = Aj.size, Bj.size
    xp = _backend.array_module(Ap, Bp)  # both factors on one device, or an error
    if nnz_a == 0 or nnz_b == 0:
        if xp is not np:  # SciPy's empty result: coo_cls(out_shape), on the GPU
            idx = get_index_dtype(maxval=max(out_shape))
            empty = coo_cls._from_arrays(xp.zeros(0), xp.zeros(0, dtype=idx),
                                         xp.zeros(0, dtype=idx), out_shape, canonical=True)
            return empty.asformat(format)
        return coo_cls(out_shape).asformat(format)

    differentiable = _backend.is_tensor(Ax) or _backend.is_tensor(Bx)
    if dense_B and xp is np and not differentiable:
        # SciPy's BSR product: one dense block A[i, j] * B per entry of A's CSR form (zeros of B
        # stored), in the assembly class (SciPy's BSR with spgrad's family marker)
        from ._assembly import bsr_array, bsr_matrix

        A_csr = csr_cls(A, copy=True)
        dense = B.toarray()
        data = A_csr.data.repeat(dense.size).reshape(-1, *dense.shape) * dense
        bsr_cls = bsr_array if as_array else bsr_matrix
        return bsr_cls((data, A_csr.indices, A_csr.indptr), shape=out_shape)

    out_dtype = np.result_type(_value_dtype(Ax), _value_dtype(Bx))
    nnz = nnz_a * nnz_b
    # index dtype of the result as SciPy computes it, and one the kernel can work in
    coo_idx = get_index_dtype((np.empty(0, A_idx),), maxval=max(out_shape))
    work_idx = get_index_dtype((np.empty(0, coo_idx),), maxval=max(max(out_shape), nnz))
    Ap, Aj, Bp, Bj = _index_arrays(work_idx, Ap, Aj, Bp, Bj)
    Cp = xp.empty(out_shape[0] + 1, dtype=work_idx)
    Cj = xp.empty(nnz, dtype=work_idx)
    K = _backend.kernels(Ap, Bp)
    if differentiable:
        # Differentiable mode. Symbolic phase: the kernel run on entry positions (exact in
        # float64) gives, for every product entry, the A and the B entry it multiplies.
        pos_a, ones_a = xp.arange(nnz_a, dtype=np.float64), xp.ones(nnz_a)
        pos_b, ones_b = xp.arange(nnz_b, dtype=np.float64), xp.ones(nnz_b)
        which_a = xp.empty(nnz)
        which_b = xp.empty(nnz)
        K.csr_kron(B.shape[1], Ap, Aj, pos_a, Bp, Bj, ones_b, Cp, Cj, which_a)
        K.csr_kron(B.shape[1], Ap, Aj, ones_a, Bp, Bj, pos_b, Cp, Cj, which_b)
        # Numeric phase: the outer product of the two value vectors, in the graph.
        Cx = _ops().outer_gather(Ax, which_a.astype(np.int64), Bx, which_b.astype(np.int64),
                                 out_dtype)
    else:
        # values go straight from their own dtype to the kernel dtype of the product's dtype
        kdt = kernel_dtype(out_dtype)
        Ax = xp.ascontiguousarray(Ax, dtype=kdt)
        Bx = xp.ascontiguousarray(Bx, dtype=kdt)
        Cx = xp.empty(nnz, dtype=kdt)
        K.csr_kron(B.shape[1], Ap, Aj, Ax, Bp, Bj, Bx, Cp, Cj, Cx)
        Cx = from_kernel(Cx, out_dtype)

    if format in ("csr", "csc") or (format is None and dense_B):
        C = csr_cls((Cx, Cj, Cp), shape=out_shape)
        # SciPy goes through COO -> CSR, which sums duplicates and sorts
        C.sum_duplicates()
        return C.asformat(format)
    rows = _expand_rows(Cp)
    return coo_cls((Cx, (rows.astype(coo_idx, copy=False), Cj.astype(coo_idx, copy=False))),
                   shape=out_shape).asformat(format)


def kronsum(A, B, format=None):
    """Kronecker sum of square sparse matrices: ``kron(I_n, A) + kron(B, I_m)``.

    `A` has shape ``(m, m)`` and `B` shape ``(n, n)``; ``I_m`` and ``I_n`` are identities.

    Differentiable mode: torch values in `A` or `B` give a result whose values are in the
    autograd graph (through `kron` and the differentiable sum).

    Parameters
    ----------
    A, B : sparse or dense array_like
        Square factors.
    format : str, optional
        Format of the result; None gives CSR.

    Returns
    -------
    sparse array or matrix
        A sparse array if `A` or `B` is a sparse array, else a sparse matrix.

    Raises
    ------
    ValueError
        If `A` or `B` is not square.

    Examples
    --------
    The 2-D Laplacian from the 1-D second difference:

    >>> import spgrad as sp
    >>> D = sp.diags_array([-1.0, 2.0, -1.0], offsets=[-1, 0, 1], shape=(3, 3))
    >>> L = sp.kronsum(D, D)
    >>> L.shape, L.format
    ((9, 9), 'csr')
    >>> L.toarray()[4]
    array([ 0., -1.,  0., -1.,  4., -1.,  0., -1.,  0.])
    """
    as_array = _is_sparray(A) or _is_sparray(B)
    coo_cls = coo_array if as_array else coo_matrix
    A = coo_cls(A)
    B = coo_cls(B)
    if A.ndim != 2:
        raise ValueError(f"kronsum requires 2D inputs. `A` is {A.ndim}D.")
    if B.ndim != 2:
        raise ValueError(f"kronsum requires 2D inputs. `B` is {B.ndim}D.")
    if A.shape[0] != A.shape[1]:
        raise ValueError("A is not square")
    if B.shape[0] != B.shape[1]:
        raise ValueError("B is not square")
    dtype = upcast(A.dtype, B.dtype)
    make_eye = eye_array if as_array else identity
    I_a = make_eye(A.shape[0], dtype=dtype)
    I_b = make_eye(B.shape[0], dtype=dtype)
    left = kron(I_b, A, format="csr")
    right = kron(B, I_a, format="csr")
    return (left + right).asformat(format)


# ---------------------------------------------------------------------------------------------
# block assembly
# ---------------------------------------------------------------------------------------------

def _concatenate_values(parts, dtype=None):
    """``np.concatenate(parts)`` (dtype by NumPy's rule unless given); with any tensor part,
    ``torch.cat`` in the graph, NumPy parts becoming constants."""
    if not any(_backend.is_tensor(p) for p in parts):
        if any(_backend.is_device_array(p) for p in parts):
            out = _backend.array_module(*parts).concatenate(parts)
            return out if dtype is None else out.astype(dtype, copy=False)
        return np.concatenate(parts, dtype=dtype)
    if dtype is None:
        dtype = np.result_type(*(np.empty(0, _value_dtype(p)) for p in parts))
    return _ops().cat(parts, dtype)


class _Compressed:
    """The arrays of a CSR (or CSC) operand, trimmed to its ``nnz`` entries."""

    __slots__ = ("indptr", "indices", "data", "shape", "is_array")

    def __init__(self, indptr, indices, data, shape, is_array):
        self.indptr, self.indices, self.data = indptr, indices, data
        self.shape, self.is_array = tuple(shape), is_array

    @classmethod
    def of(cls, A):
        return cls(*_compressed_parts(A), A.shape, _is_sparray(A))


def _minor_stack(blocks, axis):
    """Stack compressed blocks along their minor axis (CSR side by side, CSC one above the
    other) with the ``csr_hstack`` kernel; the blocks share their major dimension."""
    if len(blocks) == 0:
        raise ValueError("Missing block matrices")
    if len(blocks) == 1:
        return blocks[0]
    other = 1 - axis
    dims = {b.shape[other] for b in blocks}
    if len(dims) > 1:
        raise ValueError(f"Mismatching dimensions along axis {other}: {dims}")
    (n_major,) = dims
    sizes = [b.shape[axis] for b in blocks]
    nnz = sum(b.indices.size for b in blocks)
    idx_dtype = get_index_dtype([b.indptr for b in blocks], maxval=max(sum(sizes) - 1, nnz))
    data_cat = _concatenate_values([b.data for b in blocks])
    shape = (n_major, sum(sizes)) if axis == 1 else (sum(sizes), n_major)
    xp = _backend.array_module(*(b.indptr for b in blocks))
    if nnz == 0:
        indptr = xp.zeros(n_major + 1, dtype=idx_dtype)
        indices = xp.empty(0, dtype=idx_dtype)
        data = data_cat
    else:
        offsets = np.zeros(len(blocks), dtype=idx_dtype)
        np.cumsum(sizes[:-1], out=offsets[1:])
        offsets = xp.asarray(offsets)  # (on a GPU: the blocks' offsets, a few integers, sent)
        indptr_cat = xp.concatenate([b.indptr for b in blocks]).astype(idx_dtype, copy=False)
        indices_cat = xp.concatenate([b.indices for b in blocks]).astype(idx_dtype,
                                                                         copy=False)
        indptr = xp.empty(n_major + 1, dtype=idx_dtype)
        indices = xp.empty(nnz, dtype=idx_dtype)
        K = _backend.kernels(indptr_cat)
        if not _backend.is_tensor(data_cat) and has_kernel_dtype(data_cat.dtype):
            data = xp.empty(nnz, dtype=data_cat.dtype)
            K.csr_hstack(n_major, offsets, indptr_cat, indices_cat, data_cat,
                         indptr, indices, data)
        else:
            # other dtypes and tensors: move positions through the kernel, then gather the
            # values (in the graph for tensors)
            pos = xp.empty(nnz, dtype=np.int64)
            K.csr_hstack(n_major, offsets, indptr_cat, indices_cat,
                         xp.arange(nnz, dtype=np.int64), indptr, indices, pos)
            data = _ops().gather(data_cat, pos) if _backend.is_tensor(data_cat) \
                else data_cat[pos]
    # SciPy wraps this intermediate in the first block's class, whose constructor may
    # change the index dtype (a matrix downcasts indices that fit in int32).
    first_is_array = blocks[0].is_array
    final_idx = get_index_dtype((indices, indptr), maxval=max(shape) if 0 not in shape else None,
                                check_contents=not first_is_array)
    indptr, indices = _index_arrays(final_idx, indptr, indices)
    return _Compressed(indptr, indices, data, shape, first_is_array)


def _major_stack(blocks, axis, as_array):
    """Stack compressed blocks along their major axis (CSR one above the other, CSC side by
    side): concatenate and shift the row pointers."""
    other = 1 - axis
    data = _concatenate_values([b.data for b in blocks])
    constant = blocks[0].shape[other]
    idx_dtype = get_index_dtype(arrays=[b.indptr for b in blocks],
                                maxval=max(len(data), constant))
    xp = _backend.array_module(*(b.indptr for b in blocks))
    indices = xp.empty(len(data), dtype=idx_dtype)
    n_major = sum(b.shape[axis] for b in blocks)
    indptr = xp.empty(n_major + 1, dtype=idx_dtype)
    pos = 0
    start = 0
    for b in blocks:
        if b.shape[other] != constant:
            raise ValueError(f"incompatible dimensions for axis {other}")
        stop = start + b.shape[axis]
        indices[pos:pos + b.indices.size] = b.indices
        indptr[start:stop] = b.indptr[:-1].astype(idx_dtype) + pos
        start = stop
        pos += b.indices.size
    indptr[-1] = pos
    csr_cls, csc_cls, _, _ = _family(as_array)
    if axis == 0:
        return csr_cls((data, indices, indptr), shape=(n_major, constant))
    return csc_cls((data, indices, indptr), shape=(constant, n_major))


def _as_row(X):
    """A 1-D sparse array as the (1, n) row it stands for in a block or Kronecker product."""
    return twin(X) if issparse(X) and X.ndim == 1 else X


def _block(blocks, format, dtype, as_array):
    blocks = np.asarray(blocks, dtype="object")
    if blocks.ndim != 2:
        raise ValueError("blocks must be 2-D")
    blocks = np.vectorize(_as_row, otypes=[object])(blocks) if blocks.size else blocks
    M, N = blocks.shape

    # Fast paths: every block CSR (or every block CSC) and that format wanted (or None).
    for fmt in ("csr", "csc"):
        if format in (None, fmt) and all(issparse(b) and b.format == fmt for b in blocks.flat):
            grid = np.empty(blocks.shape, dtype=object)
            for ij, b in np.ndenumerate(blocks):
                grid[ij] = _Compressed.of(b)
            if fmt == "csr":
                rows = [_minor_stack(list(grid[i, :]), 1) for i in range(M)] if N > 1 \
                    else list(grid[:, 0])
                A = _major_stack(rows, 0, as_array)
            else:
                cols = [_minor_stack(list(grid[:, j]), 0) for j in range(N)] if M > 1 \
                    else list(grid[0, :])
                A = _major_stack(cols, 1, as_array)
            if dtype is not None:
                A = A.astype(dtype, copy=False)
            return A

    # General path: every block through COO, placed at its offsets.
    blocks = blocks.copy()  # the caller's object array is not modified
    present = np.zeros(blocks.shape, dtype=bool)
    row_sizes = np.zeros(M, dtype=np.int64)
    col_sizes = np.zeros(N, dtype=np.int64)
    for i in range(M):
        for j in range(N):
            if blocks[i, j] is None:
                continue
            A = coo_array(blocks[i, j])
            blocks[i, j] = A
            present[i, j] = True
            rows, cols = A.shape
            if row_sizes[i] == 0:
                row_sizes[i] = rows
            elif row_sizes[i] != rows:
                raise ValueError(
                    f"blocks[{i},:] has incompatible row dimensions. Got "
                    f"blocks[{i},{j}].shape[0] == {rows}, expected {row_sizes[i]}."
                )
            if col_sizes[j] == 0:
                col_sizes[j] = cols
            elif col_sizes[j] != cols:
                raise ValueError(
                    f"blocks[:,{j}] has incompatible column dimensions. Got "
                    f"blocks[{i},{j}].shape[1] == {cols}, expected {col_sizes[j]}."
                )

    chosen = list(blocks[present])
    nnz = sum(b.nnz for b in chosen)
    if dtype is None:
        dtypes = [b.dtype for b in chosen]
        dtype = upcast(*dtypes) if dtypes else None
    row_offsets = np.append(0, np.cumsum(row_sizes))
    col_offsets = np.append(0, np.cumsum(col_sizes))
    shape = (int(row_offsets[-1]), int(col_offsets[-1]))

    torch_mode = any(_backend.is_tensor(b.data) for b in chosen)
    xp = _backend.array_module(*(b.row for b in chosen))  # one device, or an error
    data = [] if torch_mode else xp.empty(nnz, dtype=dtype)
    idx_dtype = get_index_dtype([b.row for b in chosen], maxval=max(shape))
    row = xp.empty(nnz, dtype=idx_dtype)
    col = xp.empty(nnz, dtype=idx_dtype)
    pos = 0
    for i, j in zip(*np.nonzero(present)):
        b = blocks[i, j]
        stop = pos + b.nnz
        if torch_mode:
            data.append(b.data)
        else:
            data[pos:stop] = b.data
        row[pos:stop] = b.row.astype(idx_dtype) + int(row_offsets[i])
        col[pos:stop] = b.col.astype(idx_dtype) + int(col_offsets[j])
        pos = stop
    if torch_mode:
        # the values of the blocks in block order, concatenated in the graph
        data = _ops().cat(data, dtype)
    coo_cls = coo_array if as_array else coo_matrix
    return coo_cls((data, (row, col)), shape=shape).asformat(format)


def _any_sparray(blocks):
    return any(_is_sparray(b) for b in blocks.flat)


def hstack(blocks, format=None, dtype=None):
    """Stack sparse arrays or matrices horizontally (column wise).

    Differentiable mode: if any block has torch values, the result's values are the
    blocks' values concatenated (``torch.cat``) in the result's order, in the autograd
    graph; NumPy blocks are constants and the dtype follows SciPy's upcast rule.

    Parameters
    ----------
    blocks : sequence
        Sparse arrays or matrices with the same number of rows (None entries stand for
        zero blocks whose width comes from no other block, i.e. zero width).
    format : str, optional
        Format of the result. None gives CSR when every block is CSR, CSC when every block
        is CSC, and COO otherwise.
    dtype : dtype, optional
        Value dtype of the result (default: common dtype of the blocks).

    Returns
    -------
    new_array : sparse array or matrix
        A sparse array if any block is a sparse array, else a sparse matrix.

    See Also
    --------
    vstack : stack vertically (row wise)

    Examples
    --------
    >>> import spgrad as sp
    >>> A = sp.coo_matrix([[1, 2], [3, 4]])
    >>> B = sp.coo_matrix([[5], [6]])
    >>> sp.hstack([A, B]).toarray()
    array([[1, 2, 5],
           [3, 4, 6]])

    Differentiable mode:

    >>> C = sp.coo_array([[1.0, 0.0], [0.0, 2.0]]).requires_grad_()
    >>> H = sp.hstack([C, sp.coo_array([[3.0], [4.0]])])
    >>> type(H.data).__name__, H.data.requires_grad
    ('Tensor', True)
    """
    blocks = np.asarray(blocks, dtype="object")
    return _block([blocks], format, dtype, _any_sparray(blocks))


def vstack(blocks, format=None, dtype=None):
    """Stack sparse arrays or matrices vertically (row wise).

    Differentiable mode: as in `hstack`, torch values in any block give values gathered
    in the autograd graph.

    Parameters
    ----------
    blocks : sequence
        Sparse arrays or matrices with the same number of columns.
    format : str, optional
        Format of the result. None gives CSR when every block is CSR, CSC when every block
        is CSC, and COO otherwise.
    dtype : dtype, optional
        Value dtype of the result (default: common dtype of the blocks).

    Returns
    -------
    new_array : sparse array or matrix
        A sparse array if any block is a sparse array, else a sparse matrix.

    See Also
    --------
    hstack : stack horizontally (column wise)

    Examples
    --------
    >>> import spgrad as sp
    >>> A = sp.coo_array([[1, 2], [3, 4]])
    >>> B = sp.coo_array([[5, 6]])
    >>> sp.vstack([A, B]).toarray()
    array([[1, 2],
           [3, 4],
           [5, 6]])
    """
    blocks = np.asarray(blocks, dtype="object")
    return _block([[b] for b in blocks], format, dtype, _any_sparray(blocks))


def bmat(blocks, format=None, dtype=None):
    """Build a sparse array or matrix from a 2-D grid of sparse blocks.

    `block_array` is preferred; ``bmat`` differs only in returning a sparse matrix when no
    block is a sparse array.

    Differentiable mode: as in `hstack`, torch values in any block give values gathered
    in the autograd graph.

    Parameters
    ----------
    blocks : array_like
        2-D grid of sparse arrays or matrices with compatible shapes; None is a zero block.
    format : {"csr", "csc", "coo", "dia"}, optional
        Format of the result. None gives CSR (all blocks CSR), CSC (all blocks CSC) or COO.
    dtype : dtype, optional
        Value dtype of the result (default: common dtype of the blocks).

    Returns
    -------
    bmat : sparse array or matrix
        A sparse array if any block is a sparse array, else a sparse matrix.

    Raises
    ------
    ValueError
        If `blocks` is not 2-D or block shapes do not line up.

    See Also
    --------
    block_array

    Examples
    --------
    >>> import spgrad as sp
    >>> A = sp.coo_matrix([[1, 2], [3, 4]])
    >>> B = sp.coo_matrix([[5], [6]])
    >>> C = sp.coo_matrix([[7]])
    >>> sp.bmat([[A, B], [None, C]]).toarray()
    array([[1, 2, 5],
           [3, 4, 6],
           [0, 0, 7]])
    """
    blocks = np.asarray(blocks, dtype="object")
    return _block(blocks, format, dtype, _any_sparray(blocks))


def block_array(blocks, *, format=None, dtype=None):
    """Build a sparse array from a 2-D grid of sparse blocks.

    Differentiable mode: as in `hstack`, torch values in any block give values gathered
    in the autograd graph.

    Parameters
    ----------
    blocks : array_like
        2-D grid of sparse arrays or matrices with compatible shapes; None is a zero block.
    format : {"csr", "csc", "coo", "dia"}, optional
        Format of the result. None gives CSR (all blocks CSR), CSC (all blocks CSC) or COO.
    dtype : dtype, optional
        Value dtype of the result (default: common dtype of the blocks).

    Returns
    -------
    block : sparse array

    See Also
    --------
    block_diag : blocks along the main diagonal
    bmat : the same, returning a matrix for matrix inputs

    Examples
    --------
    >>> import spgrad as sp
    >>> A = sp.coo_array([[1, 2], [3, 4]])
    >>> C = sp.coo_array([[7]])
    >>> sp.block_array([[A, None], [None, C]]).toarray()
    array([[1, 2, 0],
           [3, 4, 0],
           [0, 0, 7]])
    """
    return _block(blocks, format, dtype, True)


def block_diag(mats, format=None, dtype=None):
    """Build a block diagonal sparse array or matrix from the given blocks.

    Differentiable mode: blocks with torch values (sparse, or dense tensors stored in
    full) give values concatenated with ``torch.cat`` in the autograd graph.

    Parameters
    ----------
    mats : sequence of sparse or dense arrays, lists or scalars
        The diagonal blocks. Dense blocks are stored in full (zeros included); lists and
        scalars are first made sparse (zeros dropped).
    format : str, optional
        Format of the result (default COO).
    dtype : dtype, optional
        Value dtype of the result (default: common dtype of the blocks).

    Returns
    -------
    res : sparse array or matrix
        A sparse array if any block is a sparse array, else a sparse matrix.

    See Also
    --------
    block_array, diags_array

    Examples
    --------
    >>> import spgrad as sp
    >>> A = sp.coo_array([[1, 2], [3, 4]])
    >>> B = sp.coo_array([[5], [6]])
    >>> sp.block_diag((A, B, 7)).toarray()
    array([[1, 2, 0, 0],
           [3, 4, 0, 0],
           [0, 0, 5, 0],
           [0, 0, 6, 0],
           [0, 0, 0, 7]])
    """
    container = coo_array if any(_is_sparray(a) for a in mats) else coo_matrix
    rows, cols, datas = [], [], []
    int64_coords = []  # the first int64 index array met decides the index dtype
    r0 = c0 = 0
    for a in map(_as_row, mats):
        if isinstance(a, (list, numbers.Number)):
            a = coo_array(np.atleast_2d(a))
        if issparse(a):
            a = a.tocoo()
            if not int64_coords and a.row.dtype == np.int64:
                int64_coords.append(a.row)
            n_rows, n_cols = a.shape
            rows.append(a.row + r0)
            cols.append(a.col + c0)
            datas.append(a.data)
        else:
            n_rows, n_cols = a.shape
            xa = _backend.array_module(a) if _backend.is_device_array(a) else np
            r, c = xa.divmod(xa.arange(n_rows * n_cols), n_cols)
            rows.append(r + r0)
            cols.append(c + c0)
            datas.append(a.ravel())
        r0 += n_rows
        c0 += n_cols
    idx_dtype = get_index_dtype(int64_coords, maxval=max(r0, c0))
    row = _concatenate_values(rows, dtype=idx_dtype)
    col = _concatenate_values(cols, dtype=idx_dtype)
    data = _concatenate_values(datas)
    return container((data, (row, col)), shape=(r0, c0), dtype=dtype).asformat(format)


# ---------------------------------------------------------------------------------------------
# random sparse arrays
# ---------------------------------------------------------------------------------------------

def _check_random_state(seed):
    """SciPy's legacy seed rule: None -> NumPy's global RandomState, int -> a new
    RandomState, Generator/RandomState -> itself."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, (numbers.Integral, np.integer)):
        return np.random.RandomState(seed)
    if isinstance(seed, (np.random.RandomState, np.random.Generator)):
        return seed
    raise ValueError(f"'{seed}' cannot be used to seed a numpy.random.RandomState instance")


def _integers(gen, low, high, size, dtype):
    """``[low, high)`` integers from a Generator or a RandomState."""
    if isinstance(gen, np.random.Generator):
        return gen.integers(low, high=high, size=size, dtype=dtype)
    return gen.randint(low, high=high, size=size, dtype=dtype)


def _rng_argument(old_name, position=None):
    """Accept the random source as ``rng=`` (normalised by ``np.random.default_rng``), as the
    legacy keyword `old_name`, or by position (both passed on unchanged, so legacy seeds
    keep giving the legacy ``RandomState`` streams), exactly as SciPy does."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            as_old = old_name in kwargs
            as_new = "rng" in kwargs
            as_pos = position is not None and len(args) > position
            if as_old + as_new + as_pos > 1:
                raise TypeError(
                    f"{func.__name__}() got multiple values for argument now known as "
                    f"`rng`. Specify one of `rng` or `{old_name}`."
                )
            if as_old:
                kwargs["rng"] = kwargs.pop(old_name)
            elif as_new:
                kwargs["rng"] = np.random.default_rng(kwargs["rng"])
            return func(*args, **kwargs)

        sig = inspect.signature(func)
        wrapper.__signature__ = sig.replace(parameters=[
            *sig.parameters.values(),
            inspect.Parameter(old_name, inspect.Parameter.KEYWORD_ONLY, default=None),
        ])
        return wrapper

    return decorate


def _random_entries(shape, density, dtype, rng, data_sampler):
    """Values and coordinates of a random sparse array, drawn with the same NumPy calls in
    the same order as SciPy, so that a given seed gives the same array."""
    if density < 0 or density > 1:
        raise ValueError("density expected to be 0 <= density <= 1")
    total = math.prod(shape)
    size = int(round(density * total))
    rng = _check_random_state(rng)

    if data_sampler is None:
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)

            def data_sampler(size):
                return _integers(rng, info.min, info.max, size, dtype)
        elif np.issubdtype(dtype, np.complexfloating):
            def data_sampler(size):
                return rng.uniform(size=size) + rng.uniform(size=size) * 1j
        else:
            data_sampler = rng.uniform

    # SciPy's n-D arrays take int64 coordinates
    idx_dtype = get_index_dtype(maxval=max(shape)) if len(shape) <= 2 else np.dtype(np.int64)
    if total <= _INT64_MAX:
        flat = rng.choice(total, size=size, replace=False)
        coords = np.unravel_index(flat, shape=shape, order="F")
        coords = tuple(np.asarray(c, idx_dtype) for c in coords)
    else:
        # linear positions overflow int64: draw coordinate tuples until enough are distinct
        seen = set()
        while len(seen) < size:
            missing = size - len(seen)
            seen.update(map(tuple, _integers(rng, shape, None, (missing, len(shape)),
                                             "int64")))
        coords = tuple(np.array(list(seen), dtype=idx_dtype).T)
    values = data_sampler(size=size).astype(dtype, copy=False)
    return values, coords


@_rng_argument("random_state")
def random_array(shape, *, density=0.01, format="coo", dtype=None, rng=None,
                 data_sampler=None):
    """Sparse array of the given shape and density with uniformly random values.

    Positions are drawn without replacement; values are uniform in [0, 1) by default.
    The same `rng` gives the same array as ``scipy.sparse.random_array``.

    Parameters
    ----------
    shape : tuple of int
        Shape of the array.
    density : float, optional
        Fraction of stored entries, in [0, 1] (default 0.01).
    format : str, optional
        Format of the result (default ``"coo"``).
    dtype : dtype, optional
        Value dtype (default float64). Integer dtypes draw uniform integers over the whole
        range of the dtype; complex dtypes draw uniformly over the unit square.
    rng : {None, int, numpy.random.Generator}, optional
        Source of randomness, normalised by ``numpy.random.default_rng``. The legacy keyword
        ``random_state`` is also accepted (None: NumPy's global ``RandomState``; int: a new
        ``RandomState``), as in SciPy.
    data_sampler : callable, optional
        ``data_sampler(size=k)`` returns the ``k`` stored values.

    Returns
    -------
    res : sparse array

    Raises
    ------
    ValueError
        If `density` is outside [0, 1].

    See Also
    --------
    random : the same, returning a sparse matrix

    Examples
    --------
    >>> import numpy as np
    >>> import spgrad as sp
    >>> S = sp.random_array((3, 4), density=0.25, rng=np.random.default_rng(42))
    >>> S.format, S.shape, S.nnz
    ('coo', (3, 4), 3)
    >>> T = sp.random_array((3, 4), density=0.5, rng=1, dtype=np.int8, format="csr")
    >>> T.dtype, T.nnz
    (dtype('int8'), 6)
    """
    values, coords = _random_entries(shape, density, dtype, rng, data_sampler)
    idx_dtype = get_index_dtype(maxval=max(shape))
    coords = tuple(np.asarray(c, dtype=idx_dtype) for c in coords)
    return coo_array((values, coords), shape=shape).asformat(format)


@_rng_argument("random_state", position=5)
def random(m, n, density=0.01, format="coo", dtype=None, rng=None, data_rvs=None):
    """Sparse matrix of the given shape and density with random values.

    .. warning::

        This function returns a sparse matrix, not a sparse array. Prefer `random_array`.

    Parameters
    ----------
    m, n : int
        Shape of the matrix.
    density : float, optional
        Fraction of stored entries, in [0, 1] (default 0.01).
    format : str, optional
        Format of the result (default ``"coo"``).
    dtype : dtype, optional
        Value dtype (default float64).
    rng : {None, int, numpy.random.Generator}, optional
        Source of randomness, as in `random_array`. Passed by position (or as the legacy
        keyword ``random_state``) it is used as SciPy's legacy seed.
    data_rvs : callable, optional
        ``data_rvs(k)`` returns the ``k`` stored values; default uniform in [0, 1) from the
        same random source.

    Returns
    -------
    res : sparse matrix

    See Also
    --------
    random_array : the same, returning a sparse array

    Examples
    --------
    >>> import numpy as np
    >>> import spgrad as sp
    >>> S = sp.random(3, 4, density=0.25, rng=np.random.default_rng(0))
    >>> S.format, S.nnz
    ('coo', 3)
    """
    if n is None:
        n = m
    m, n = int(m), int(n)
    sampler = None
    if data_rvs is not None:
        def sampler(size):
            return data_rvs(size)
    values, coords = _random_entries((m, n), density, dtype, rng, sampler)
    return coo_matrix((values, coords), shape=(m, n)).asformat(format)


@_rng_argument("random_state", position=5)
def rand(m, n, density=0.01, format="coo", dtype=None, rng=None):
    """Sparse matrix of the given shape and density with uniform [0, 1) values.

    .. warning::

        This function returns a sparse matrix, not a sparse array. Prefer `random_array`.

    Parameters
    ----------
    m, n : int
        Shape of the matrix.
    density : float, optional
        Fraction of stored entries, in [0, 1] (default 0.01).
    format : str, optional
        Format of the result (default ``"coo"``).
    dtype : dtype, optional
        Value dtype (default float64).
    rng : {None, int, numpy.random.Generator}, optional
        Source of randomness, as in `random`.

    Returns
    -------
    res : sparse matrix

    See Also
    --------
    random, random_array

    Examples
    --------
    >>> import spgrad as sp
    >>> S = sp.rand(3, 4, density=0.25, format="csr", rng=42)
    >>> S.format, S.shape, S.nnz
    ('csr', (3, 4), 3)
    """
    return random(m, n, density, format, dtype, rng)


# ---------------------------------------------------------------------------------------------
# triangular parts
# ---------------------------------------------------------------------------------------------

def _band_bounds(k, lower):
    """Inclusive bounds ``(lo, hi)`` on ``col - row`` selecting ``row + k >= col`` (tril) or
    ``row + k <= col`` (triu); a non-integral `k` is rounded as that comparison rounds."""
    if isinstance(k, str):
        raise TypeError(f"k must be a number, got {k!r}")
    try:
        k = operator.index(k)
    except TypeError:
        k = float(k)  # TypeError for non-numbers, as SciPy's ``row + k``
        if math.isnan(k):
            return 1, 0  # every comparison with NaN is False: keep nothing
        if math.isinf(k):
            k = _INT64_MAX if k > 0 else _INT64_MIN
        else:
            k = math.floor(k) if lower else math.ceil(k)
    k = min(max(k, _INT64_MIN), _INT64_MAX)
    return (_INT64_MIN, k) if lower else (k, _INT64_MAX)


def _mirror_band(lo, hi):
    """The band of the transpose: ``row - col`` in ``[-hi, -lo]`` (open ends stay open)."""
    return (_INT64_MIN if hi == _INT64_MAX else -hi, _INT64_MAX if lo == _INT64_MIN else -lo)


def _triangle(A, k, format, lower):
    as_array = _is_sparray(A)
    csr_cls, csc_cls, coo_cls, _ = _family(as_array)
    lo, hi = _band_bounds(k, lower)

    if issparse(A) and A.format in ("csr", "csc"):
        major = A.format
        indptr, indices, data = _compressed_parts(A)
        if major == "csc":
            # the CSC arrays are the CSR arrays of A.T, whose band is the mirrored one
            lo, hi = _mirror_band(lo, hi)
        idx_dtype = np.promote_types(indptr.dtype, indices.dtype)
        indptr, indices = _index_arrays(idx_dtype, indptr, indices)
        K, xp = _backend.kernels(indptr, indices), _backend.array_module(indptr, indices)
        out_indptr = xp.empty(indptr.size, dtype=idx_dtype)
        out_indices = xp.empty(indices.size, dtype=idx_dtype)
        torch_mode = _backend.is_tensor(data)
        if not torch_mode and has_kernel_dtype(data.dtype):
            out_data = xp.empty(data.size, dtype=data.dtype)
            nnz = K.csr_band_filter(lo, hi, indptr, indices, data,
                                    out_indptr, out_indices, out_data)
            out_data = out_data[:nnz]
        else:
            # other dtypes and tensors: filter positions, then gather the values (a mask
            # gather in the graph for tensors)
            pos = xp.empty(len(data), dtype=np.int64)
            nnz = K.csr_band_filter(lo, hi, indptr, indices, xp.arange(len(data), dtype=np.int64),
                                    out_indptr, out_indices, pos)
            out_data = _ops().gather(data, pos[:nnz]) if torch_mode else data[pos[:nnz]]
        out_indices = out_indices[:nnz]
        if format == major:
            cls = csr_cls if major == "csr" else csc_cls
            if nnz == 0:
                C = cls._empty(A.shape, A.dtype, xp)  # as SciPy's COO conversion of nothing
                if torch_mode:
                    C.data = _ops().values(C.data)
                return C
            C = cls((out_data, out_indices, out_indptr), shape=A.shape, dtype=A.dtype)
            C.sum_duplicates()  # SciPy goes through COO, whose conversion canonicalises
            return C
        majors = _expand_rows(out_indptr)
        coords = (majors, out_indices) if major == "csr" else (out_indices, majors)
        return coo_cls((out_data, coords), shape=A.shape, dtype=A.dtype).asformat(format)

    # COO keeps its storage order (and duplicates): a vectorised mask is the natural tool
    A = coo_cls(A, copy=False)
    diag = A.col.astype(np.int64) - A.row
    keep = (diag >= lo) & (diag <= hi)
    data = _ops().gather(A.data, np.flatnonzero(keep)) if A._is_torch else A.data[keep]
    return coo_cls((data, (A.row[keep], A.col[keep])), shape=A.shape,
                   dtype=A.dtype).asformat(format)


def tril(A, k=0, format=None):
    """Lower triangular part of a sparse (or dense) array or matrix.

    Keeps the entries on or below the k-th diagonal (``col - row <= k``), explicit zeros
    and duplicates included.

    Differentiable mode: torch values are filtered by a gather on the pattern, in the
    autograd graph.

    Parameters
    ----------
    A : sparse or dense array_like
        Input, 2-D.
    k : int, optional
        Top-most diagonal kept: 0 the main diagonal (default), ``k > 0`` above it, ``k < 0``
        below it.
    format : str, optional
        Format of the result; None gives COO.

    Returns
    -------
    L : sparse array or matrix
        A sparse array if `A` is one, else a sparse matrix.

    See Also
    --------
    triu : upper triangular part

    Examples
    --------
    >>> import spgrad as sp
    >>> A = sp.csr_array([[1, 2, 0, 0, 3], [4, 5, 0, 6, 7], [0, 0, 8, 9, 0]])
    >>> sp.tril(A).toarray()
    array([[1, 0, 0, 0, 0],
           [4, 5, 0, 0, 0],
           [0, 0, 8, 0, 0]])
    >>> sp.tril(A, k=-1, format="csr").nnz
    1

    Differentiable mode:

    >>> B = sp.csr_array([[1.0, 2.0], [3.0, 4.0]]).requires_grad_()
    >>> sp.tril(B).sum().backward()
    >>> B.grad.toarray()
    array([[1., 0.],
           [1., 1.]])
    """
    return _triangle(A, k, format, lower=True)


def triu(A, k=0, format=None):
    """Upper triangular part of a sparse (or dense) array or matrix.

    Keeps the entries on or above the k-th diagonal (``col - row >= k``), explicit zeros
    and duplicates included.

    Differentiable mode: torch values are filtered by a gather on the pattern, in the
    autograd graph.

    Parameters
    ----------
    A : sparse or dense array_like
        Input, 2-D.
    k : int, optional
        Bottom-most diagonal kept: 0 the main diagonal (default), ``k > 0`` above it,
        ``k < 0`` below it.
    format : str, optional
        Format of the result; None gives COO.

    Returns
    -------
    U : sparse array or matrix
        A sparse array if `A` is one, else a sparse matrix.

    See Also
    --------
    tril : lower triangular part

    Examples
    --------
    >>> import spgrad as sp
    >>> A = sp.csr_array([[1, 2, 0, 0, 3], [4, 5, 0, 6, 7], [0, 0, 8, 9, 0]])
    >>> sp.triu(A, k=1).toarray()
    array([[0, 2, 0, 0, 3],
           [0, 0, 0, 6, 7],
           [0, 0, 0, 9, 0]])
    >>> sp.triu(A, format="csc").format
    'csc'
    """
    return _triangle(A, k, format, lower=False)


# ------------------------------------------------------------------------------------------------
# axes


def permute_dims(A, axes=None, copy=False):
    """Permute the axes of the sparse array ``A`` to the order ``axes``.

    SciPy's function for spgrad's (2-D) containers: the identity permutation returns ``A``
    (a copy with ``copy=True``) in its own format; any other gives a COO array whose
    coordinates are permuted. Like SciPy, with ``copy=False`` the COO result shares ``A``'s
    arrays, and a COO ``A`` is permuted in place and returned.

    Parameters
    ----------
    A : sparse array or matrix
    axes : tuple or list of int, optional
        A permutation of ``range(A.ndim)``; by default the axes are reversed.
    copy : bool, optional
        Copy the arrays rather than share them.

    Returns
    -------
    sparse array or matrix, COO unless the permutation is the identity

    Examples
    --------
    >>> import spgrad as sp
    >>> A = sp.csr_array([[1, 0, 2], [0, 3, 0]])
    >>> B = sp.permute_dims(A)
    >>> B.format, B.shape, B.toarray().tolist()
    ('coo', (3, 2), [[1, 0], [0, 3], [2, 0]])
    """
    ndim = len(A.shape)
    if axes is None:
        axes = tuple(range(ndim)[::-1])
    elif len(axes) != ndim:  # (SciPy's message names ndim twice)
        raise ValueError(f"Incorrect number of axes: {ndim} instead of {ndim}")
    if not isinstance(axes, (tuple, list)):
        if not np.issubdtype(np.dtype(type(axes)), np.integer):
            raise TypeError(f"axis must be an integer/tuple of ints, not {type(axes)}")
        axes = (axes,)
    canon = canonical_axes(axes, ndim)
    if canon == list(range(ndim)):
        return A.copy() if copy else A
    C = A.tocoo(copy=copy)
    C._shape = tuple(C.shape[ax] for ax in canon)
    C.coords = tuple(C.coords[ax] for ax in canon)
    C.has_canonical_format = False
    return C


def swapaxes(A, axis1, axis2):
    """Interchange two axes of the sparse array ``A`` (a copy, COO unless nothing moves).

    Parameters
    ----------
    A : sparse array or matrix
    axis1, axis2 : int
        The axes to swap, in ``[-A.ndim, A.ndim - 1]``.

    Returns
    -------
    sparse array or matrix

    Examples
    --------
    >>> import spgrad as sp
    >>> A = sp.csr_array([[1, 0, 2], [0, 3, 0]])
    >>> sp.swapaxes(A, 0, 1).shape
    (3, 2)
    """
    axes = np.arange(len(A.shape))
    try:
        axes[[axis1, axis2]] = axes[[axis2, axis1]]
    except IndexError as e:
        detail = str(e).removeprefix("index ").split(" axis ", 1)[0]
        raise ValueError(f"Invalid axis: {detail} ndim={len(A.shape)}") from e
    return permute_dims(A, axes=tuple(int(a) for a in axes), copy=True)


def expand_dims(A, /, *, axis=0):
    """Add a length-1 axis to the sparse array ``A`` at position ``axis``.

    Parameters
    ----------
    A : sparse array
    axis : int, optional
        Position of the new axis, in ``[-A.ndim - 1, A.ndim]``.

    Returns
    -------
    coo_array
        An (n+1)-D COO array with a copy of ``A``'s entries (values in the autograd graph in
        differentiable mode); the new coordinate is zero for every entry.

    Raises
    ------
    ValueError
        For an axis that is not an integer or out of range (as SciPy).

    Examples
    --------
    >>> import spgrad as sp
    >>> B = sp.expand_dims(sp.eye_array(2), axis=1)
    >>> B.shape, B.format
    ((2, 1, 2), 'coo')
    >>> sp.expand_dims(sp.eye_array(2), axis=5)
    Traceback (most recent call last):
    ...
    ValueError: Invalid axis 5 for N=2. Must be in [-N-1, N].
    """
    if not isintlike(axis):
        raise ValueError(f"Invalid axis {axis}. Must be an integer.")
    ndim = len(A.shape)
    idx = axis if axis >= 0 else axis + ndim + 1
    if idx < 0 or idx > ndim:
        raise ValueError(f"Invalid axis {axis} for N={ndim}. Must be in [-N-1, N].")
    C = coo_array(A.tocoo(copy=True))
    coords = list(C.coords)
    coords.insert(idx, np.zeros(C.nnz, dtype=coords[0].dtype if coords else np.intp))
    shape = C.shape[:idx] + (1,) + C.shape[idx:]
    out = coo_array._from_coords(C.data, tuple(coords), shape)
    # SciPy assigns the coordinates as they are: a 2-D array expanded to 3-D keeps its int32
    # coordinates (every other way to an n-D array gives int64)
    out.coords = tuple(coords)
    out.has_canonical_format = C.has_canonical_format
    return out
