"""Sparse triangular solves (``spsolve_triangular``) and triangle/bandwidth queries.

``spsolve_triangular`` runs on spgrad's own substitution kernel
(:func:`spgrad._cpu.csr_spsolve_triangular`): a CSR matrix is solved row by row, and a CSC
matrix, whose arrays are the CSR arrays of its transpose, by the same kernel's transposed
(column-oriented) solve, so no format conversion or copy of ``A`` is made. What SciPy does
around the numerics (accepted formats, warnings, errors, result dtype and shape) is reproduced
exactly. Three corner cases where SciPy's result is not the solution of a triangular system are
handed to SciPy itself, so that plain mode still returns SciPy's values:

- ``A`` stores entries outside the chosen triangle (SciPy's SuperLU-based solve then mixes
  them in, in an order-dependent way; the kernel detects such entries while solving);
- ``b`` is an ``np.matrix`` and ``unit_diagonal`` is False (SciPy's final scaling is then a
  matrix product);
- a result dtype the kernel does not serve (``longdouble``, non-numeric ``b``), for SciPy's
  error.

In differentiable mode (torch values in ``A`` or a torch ``b``) the solve is a node in torch
autograd, see :mod:`spgrad._autograd._triangular_ops`. On the GPU (CuPy arrays) it is
cuSPARSE's triangular solve through ``cupyx`` (:mod:`spgrad._cuda._vendor`).
"""

import warnings

import numpy as np
import scipy.sparse as _sps
import scipy.sparse.linalg as _spla

from .. import _backend
from .._base import SparseEfficiencyWarning, _spbase
from ._common import is_differentiable, scipy_wrapper, to_scipy

__all__ = ["is_sptriangular", "spbandwidth", "spsolve_triangular"]

_KERNEL_DTYPES = frozenset(np.dtype(t) for t in ("f4", "f8", "c8", "c16"))
_SINGULAR = "A is singular: zero entry on diagonal."


def spsolve_triangular(
    A, b, lower=True, overwrite_A=False, overwrite_b=False, unit_diagonal=False
):
    """Solve ``A x = b`` for ``x``, assuming ``A`` is a triangular matrix.

    Parameters
    ----------
    A : (M, M) sparse array or matrix
        A square triangular matrix, preferably CSR or CSC (any other format, or a dense
        array, is converted to CSC with a ``SparseEfficiencyWarning``, as SciPy does).
        Only the triangle named by `lower` is read (see Notes for other entries).
    b : (M,) or (M, N) array_like or torch.Tensor
        Right-hand side(s).
    lower : bool, optional
        Whether `A` is lower (default) or upper triangular.
    overwrite_A, overwrite_b : bool, optional
        Accepted for SciPy compatibility. spgrad never modifies `A` or `b` (SciPy does not
        modify `b` either; the flags only allow it).
    unit_diagonal : bool, optional
        If True, the diagonal of `A` is taken to be 1 and its stored diagonal is ignored.

    Returns
    -------
    x : (M,) or (M, N) ndarray or torch.Tensor
        Solution, with the shape of `b`, of SciPy's dtype:
        ``promote_types(promote_types(A.dtype, float32), b.dtype)``, where an integer `A`
        counts as float64 unless `unit_diagonal`. A torch tensor in differentiable mode.

    Raises
    ------
    LinAlgError
        If a diagonal entry (the sum of its stored duplicates) is zero and `unit_diagonal`
        is False.
    ValueError
        If `A` is not square, or `b` is not 1-D or 2-D with ``M`` rows.

    Notes
    -----
    Plain mode (NumPy in, NumPy out) matches ``scipy.sparse.linalg.spsolve_triangular``,
    including its results for a matrix that stores entries outside the triangle (computed by
    SciPy; they are not the solution of any triangular system).

    Differentiable mode: when ``A.data`` or `b` is a ``torch.Tensor`` the result is a
    tensor with a ``grad_fn``. ``b`` receives ``A⁻ᴴ ḡ``; ``A.data`` receives
    ``-(A⁻ᴴ ḡ) xᴴ`` on the stored entries of the triangle that the solve uses; entries
    outside it (which this mode ignores instead of mimicking SciPy) and, with
    `unit_diagonal`, the diagonal receive zero. The backward is made of differentiable ops
    (double backward works) and forward-mode AD is supported. CPU tensors only;
    ``torch.func.vmap`` batches right-hand sides as extra columns of one solve (a batch of
    values: one solve per element).

    On the GPU (``A`` an spgrad array there, ``b`` a CuPy array) the solve is cuSPARSE's,
    through ``cupyx``, with the same checks, errors and result dtype; a matrix that stores
    entries outside the solved triangle raises ``NotImplementedError`` there.

    Examples
    --------
    >>> import numpy as np
    >>> import spgrad as sp
    >>> from spgrad.linalg import spsolve_triangular
    >>> A = sp.csr_array([[3.0, 0.0, 0.0], [1.0, -1.0, 0.0], [2.0, 0.0, 1.0]])
    >>> x = spsolve_triangular(A, np.array([3.0, 0.0, 4.0]))
    >>> x
    array([1., 1., 2.])
    >>> np.allclose(A @ x, [3.0, 0.0, 4.0])
    True

    Differentiable in the stored values and in ``b``:

    >>> import torch
    >>> _ = A.requires_grad_()
    >>> x = spsolve_triangular(A, torch.tensor([3.0, 0.0, 4.0], dtype=torch.float64))
    >>> x.sum().backward()
    >>> A.grad.toarray()
    array([[ 0.,  0.,  0.],
           [ 1.,  1.,  0.],
           [-1.,  0., -2.]])
    """
    differentiable = is_differentiable(A, b, gpu=True)
    if _backend.is_tensor(A):
        raise NotImplementedError(
            "spsolve_triangular needs a sparse A; got a dense torch.Tensor. Use "
            "torch.linalg.solve_triangular for dense matrices, or pass an spgrad sparse array"
        )
    if not (isinstance(A, _spbase) or _sps.issparse(A)) or A.format not in ("csr", "csc"):
        warnings.warn(
            "CSC or CSR matrix format is required. Converting to CSC matrix.",
            SparseEfficiencyWarning,
            stacklevel=2,
        )
        if isinstance(A, _spbase):
            A = A.tocsc()
        else:
            A = _sps.csc_array(to_scipy(A))
    if differentiable:
        from .._autograd import _triangular_ops

        return _triangular_ops.spsolve_triangular(A, b, lower, unit_diagonal)
    if (isinstance(A, _spbase) and A._on_gpu) or _backend.is_device_array(b):
        return _solve_device(A, b, lower, unit_diagonal)
    return _solve_plain(to_scipy(A), to_scipy(b), lower, unit_diagonal)


def _scipy_shape(S):
    """``A.shape`` as SciPy's messages show it: SciPy transposes a CSR input first."""
    return S.shape[::-1] if S.format == "csr" else S.shape


def check_operands(S, b, unit_diagonal):
    """SciPy's checks on ``A`` (CSR/CSC, SciPy or spgrad) and ``b`` (array or tensor), in
    SciPy's order. Returns ``n``."""
    if S.shape[0] != S.shape[1]:
        raise ValueError(f"A must be a square matrix but its shape is {_scipy_shape(S)}.")
    n = S.shape[0]
    bad = None
    if b.ndim not in (1, 2):
        bad = f"b must have 1 or 2 dims but its shape is {tuple(b.shape)}."
    elif b.shape[0] != n:
        bad = (
            "The size of the dimensions of A must be equal to the size of the first "
            f"dimension of b but the shape of A is {_scipy_shape(S)} and the shape of b "
            f"is {tuple(b.shape)}."
        )
    if bad is not None:
        # SciPy looks at the diagonal before it looks at b; only this error path pays for
        # a separate pass over the diagonal (otherwise the kernel finds a zero on its way).
        if not unit_diagonal and _zero_on_diagonal(S):
            raise np.linalg.LinAlgError(_SINGULAR)
        raise ValueError(bad)
    return n


def _zero_on_diagonal(S):
    """Whether a diagonal entry (the sum of its stored duplicates) is zero; on the GPU this
    reads one boolean back."""
    return bool((S.diagonal() == 0).any())


def result_dtype(a_dtype, b_dtype, unit_diagonal):
    """SciPy's result dtype: ``A``'s dtype after its diagonal scaling (``A @ diag(1/d)``, which
    makes an integer ``A`` float64), promoted with float32 and ``b``'s dtype."""
    a_dtype = np.dtype(a_dtype)
    if not unit_diagonal:
        a_dtype = np.promote_types(a_dtype, np.true_divide(np.ones(1, a_dtype), 1).dtype)
    return np.promote_types(np.promote_types(a_dtype, np.float32), b_dtype)


def kernel_arrays(S):
    """``(indptr, indices, transpose)`` of a CSR/CSC object for the kernel: both index arrays
    in one dtype, and whether the kernel must solve with the transpose of the CSR matrix those
    arrays describe (True for CSC, whose arrays are the CSR arrays of ``Aᵀ``)."""
    indptr, indices = S.indptr, S.indices
    if indptr.dtype != indices.dtype:
        indptr, indices = indptr.astype(np.int64), indices.astype(np.int64)
    return indptr, indices, S.format == "csc"


def _solve_plain(S, b, lower, unit_diagonal):
    def scipy_result():
        # S is CSR or CSC here, so SciPy neither warns again nor (overwrite_A=False) touches
        # the caller's arrays.
        return _spla.spsolve_triangular(S, b, lower=lower, unit_diagonal=unit_diagonal)

    b = np.asanyarray(b)
    n = check_operands(S, b, unit_diagonal)
    dtype = result_dtype(S.dtype, b.dtype, unit_diagonal)
    if dtype not in _KERNEL_DTYPES or (isinstance(b, np.matrix) and not unit_diagonal):
        return scipy_result()
    indptr, indices, transpose = kernel_arrays(S)
    data = np.ascontiguousarray(S.data, dtype=dtype)
    X = np.array(b, dtype=dtype, order="C", copy=True)
    if X.ndim == 1:
        X = X.reshape(n, 1)
    singular_row, n_outside = _backend.kernels(indptr).csr_spsolve_triangular(
        indptr, indices, data, X, lower != transpose, unit_diagonal, transpose
    )
    if singular_row >= 0:
        raise np.linalg.LinAlgError(_SINGULAR)
    if n_outside:
        return scipy_result()
    if isinstance(b, np.matrix):
        return X.view(np.matrix)  # like SciPy; np.asmatrix would warn
    return X.reshape(b.shape)


def _solve_device(A, b, lower, unit_diagonal):
    """The solve on the GPU, by cuSPARSE (``spgrad._cuda._vendor``), with SciPy's checks,
    errors, result dtype and shape. A matrix storing entries outside the solved triangle
    raises ``NotImplementedError``: SciPy's result for it mixes those entries in, and
    cuSPARSE ignores them."""
    from .._construct import tril, triu
    from .._cuda import _vendor
    from .._sputils import DEVICE_DTYPES

    if not isinstance(A, _spbase):
        raise ValueError(f"operands on different devices: cpu and {_backend.device_of(b)}")
    _backend.check_same_device(A, b)
    n = check_operands(A, b, unit_diagonal)
    dtype = result_dtype(A.dtype, b.dtype, unit_diagonal)
    if dtype not in DEVICE_DTYPES:
        raise TypeError(f"spsolve_triangular on the GPU solves in float32, float64, complex64 "
                        f"or complex128; A ({A.dtype}) and b ({b.dtype}) give {dtype}")
    if not unit_diagonal and _zero_on_diagonal(A):
        raise np.linalg.LinAlgError(_SINGULAR)
    S = A.tocsr()
    S = S.copy() if S is A else S
    S.sum_duplicates()
    if (tril if lower else triu)(S).nnz != S.nnz:
        raise NotImplementedError(
            f"spsolve_triangular on the GPU: A stores entries outside its "
            f"{'lower' if lower else 'upper'} triangle (SciPy's result then mixes them in; "
            f"cuSPARSE would ignore them): pass {'tril' if lower else 'triu'}(A), or solve "
            f"on the CPU")
    if n == 0:
        return b.astype(dtype, copy=True)
    return _vendor.spsolve_triangular(S.data.astype(dtype), S.indices, S.indptr, S.shape,
                                      b.astype(dtype), lower, unit_diagonal)


_scipy_is_sptriangular = scipy_wrapper(_spla.is_sptriangular)
_scipy_spbandwidth = scipy_wrapper(_spla.spbandwidth)


def _device_entries(A):
    """``(rows, cols)`` of the stored entries of a CSR/CSC/COO array on the GPU (explicit zeros
    and duplicates included, as SciPy counts them), or ``(None, offsets)`` for a DIA array,
    its offsets as a host array (read back if they are on the GPU)."""
    if A.format == "dia":
        offsets = A.offsets
        offsets = offsets.get() if _backend.is_device_array(offsets) else offsets
        return None, np.asarray(offsets, dtype=np.int64)
    return A.tocoo().coords


def is_sptriangular(A):
    """``(lower, upper)``: whether the stored pattern of ``A`` is lower triangular, and
    whether it is upper triangular.

    Same results, warnings and errors as :func:`scipy.sparse.linalg.is_sptriangular`: only
    the pattern counts (an explicit zero above the diagonal makes ``A`` not lower
    triangular); a diagonal pattern is both. On the GPU the test runs there and reads two
    flags back (for DIA, its offsets).

    Examples
    --------
    >>> import numpy as np, spgrad as sp
    >>> from spgrad.linalg import is_sptriangular
    >>> A = sp.csr_array(np.array([[1.0, 0.0], [2.0, 3.0]]))
    >>> [bool(t) for t in is_sptriangular(A)]
    [True, False]
    """
    if not (isinstance(A, _spbase) and A._on_gpu):
        return _scipy_is_sptriangular(A)
    rows, cols = _device_entries(A)
    if rows is None:
        return cols.max() <= 0, cols.min() >= 0
    return np.bool_(bool((cols <= rows).all())), np.bool_(bool((cols >= rows).all()))


def spbandwidth(A):
    """``(below, above)``: how many diagonals below and above the main one hold stored
    entries.

    Same results, warnings and errors as :func:`scipy.sparse.linalg.spbandwidth` (explicit
    zeros count; ``A`` without stored entries raises NumPy's error for an empty reduction, as
    in SciPy). On the GPU the bounds are found there and read back (for DIA, its offsets).

    Examples
    --------
    >>> import numpy as np, spgrad as sp
    >>> from spgrad.linalg import spbandwidth
    >>> spbandwidth(sp.csr_array(np.array([[1.0, 0.0, 4.0], [2.0, 3.0, 0.0], [0, 0, 5.0]])))
    (1, 2)
    """
    if not (isinstance(A, _spbase) and A._on_gpu):
        return _scipy_spbandwidth(A)
    rows, cols = _device_entries(A)
    if rows is None:
        return max(0, -int(cols.min())), max(0, int(cols.max()))
    if len(cols) == 0:
        raise ValueError("zero-size array to reduction operation minimum which has no "
                         "identity")
    gap = cols.astype(np.int64) - rows.astype(np.int64)
    return max(-int(gap.min()), 0), max(int(gap.max()), 0)
