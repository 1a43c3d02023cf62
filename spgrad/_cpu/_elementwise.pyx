"""Element-wise and structural CSR kernels: binary operations, row/column sums, band filters
(tril/triu), Kronecker products, horizontal stacking and DIA matrix-vector products.

Every function follows the package rule "Python allocates, kernels fill": it receives
preallocated output arrays and sizes only, checks nothing that costs O(nnz), and documents
its preconditions. Index arrays are int32 or int64 (``index_t``); values are int32, int64,
float32, float64, complex64 or complex128 (``value_t``). All arrays of one fused type in a
call must share one dtype; the caller casts.
"""

from cython.parallel cimport prange

from libc.stdint cimport int32_t, int64_t

from ._fused cimport index_t, value_t
from ._parallel cimport get_num_threads

__all__ = [
    "BINOP_ADD",
    "BINOP_SUB",
    "BINOP_MUL",
    "BINOP_MAX",
    "BINOP_MIN",
    "csr_binop",
    "csr_union_map",
    "csr_row_sums",
    "csr_col_sums",
    "REDUCE_MAX",
    "REDUCE_MIN",
    "REDUCE_FMAX",
    "REDUCE_FMIN",
    "csr_line_reduce",
    "csr_line_argreduce",
    "csr_band_filter",
    "csr_kron",
    "csr_hstack",
    "dia_matvec",
]

# Operation codes of csr_binop (plain ints so that the CUDA module can share them).
BINOP_ADD = 0
BINOP_SUB = 1
BINOP_MUL = 2
BINOP_MAX = 3
BINOP_MIN = 4

cdef enum:
    _ADD = 0
    _SUB = 1
    _MUL = 2
    _MAX = 3
    _MIN = 4

# Operation codes of csr_line_reduce / csr_line_argreduce: NumPy's maximum, minimum, fmax and
# fmin (csr_line_argreduce takes the first two).
REDUCE_MAX = 0
REDUCE_MIN = 1
REDUCE_FMAX = 2
REDUCE_FMIN = 3

cdef enum:
    _RMAX = 0
    _RMIN = 1
    _RFMAX = 2
    _RFMIN = 3

# Rows per parallel work item of dia_matvec: each chunk visits every diagonal, so a chunk of
# y stays in cache while the diagonals stream through.
cdef Py_ssize_t _DIA_CHUNK = 4096


#: Kernels whose work (entries touched) is below this run on one thread (starting an OpenMP
#: team costs a few microseconds). Tests set it to 0 to force the parallel code paths.
MIN_PARALLEL_WORK = 50_000


cdef int _threads(Py_ssize_t work) except -1:
    """Threads for a kernel of ``work`` elements: one for small problems, else the policy."""
    if work < MIN_PARALLEL_WORK:
        return 1
    return max(1, get_num_threads())


# ---------------------------------------------------------------------------------------------
# csr_binop
# ---------------------------------------------------------------------------------------------

cdef inline bint _less(value_t a, value_t b) noexcept nogil:
    # Complex values are ordered lexicographically (real part, then imaginary part), as NumPy
    # orders them and as SciPy's maximum/minimum do.
    if value_t is int32_t or value_t is int64_t or value_t is float or value_t is double:
        return a < b
    else:
        return a.real < b.real or (a.real == b.real and a.imag < b.imag)


cdef inline value_t _apply(int op, value_t a, value_t b) noexcept nogil:
    if op == _ADD:
        return a + b
    elif op == _SUB:
        return a - b
    elif op == _MUL:
        return a * b
    elif op == _MAX:
        # std::max semantics: (a < b) ? b : a, so a NaN in `a` wins and a NaN in `b` loses.
        return b if _less(a, b) else a
    else:
        # std::min semantics: (b < a) ? b : a.
        return b if _less(b, a) else a


cdef inline Py_ssize_t _merge_rows(
    int op, Py_ssize_t n_row,
    const index_t* Ap, const index_t* Aj, const value_t* Ax,
    const index_t* Bp, const index_t* Bj, const value_t* Bx,
    index_t* Cp, index_t* Cj, value_t* Cx, Py_ssize_t cap,
) noexcept nogil:
    # Returns the nnz written, or -1 when the output capacity ``cap`` would be exceeded
    # (only possible when the caller under-allocated, e.g. MUL with inf/NaN values).
    cdef Py_ssize_t i, a, a_end, b, b_end, nnz = 0
    cdef index_t ja, jb, j
    cdef value_t r
    cdef value_t zero = 0
    Cp[0] = 0
    for i in range(n_row):
        a = Ap[i]
        a_end = Ap[i + 1]
        b = Bp[i]
        b_end = Bp[i + 1]
        while a < a_end and b < b_end:
            ja = Aj[a]
            jb = Bj[b]
            if ja == jb:
                r = _apply(op, Ax[a], Bx[b])
                j = ja
                a += 1
                b += 1
            elif ja < jb:
                r = _apply(op, Ax[a], zero)
                j = ja
                a += 1
            else:
                r = _apply(op, zero, Bx[b])
                j = jb
                b += 1
            if r != zero:
                if nnz == cap:
                    return -1
                Cj[nnz] = j
                Cx[nnz] = r
                nnz += 1
        while a < a_end:
            r = _apply(op, Ax[a], zero)
            if r != zero:
                if nnz == cap:
                    return -1
                Cj[nnz] = Aj[a]
                Cx[nnz] = r
                nnz += 1
            a += 1
        while b < b_end:
            r = _apply(op, zero, Bx[b])
            if r != zero:
                if nnz == cap:
                    return -1
                Cj[nnz] = Bj[b]
                Cx[nnz] = r
                nnz += 1
            b += 1
        Cp[i + 1] = <index_t>nnz
    return nnz


def csr_binop(int op, Py_ssize_t n_col,
              const index_t[::1] Ap, const index_t[::1] Aj, const value_t[::1] Ax,
              const index_t[::1] Bp, const index_t[::1] Bj, const value_t[::1] Bx,
              index_t[::1] Cp, index_t[::1] Cj, value_t[::1] Cx):
    """Element-wise binary operation of two canonical CSR matrices of the same shape.

    Walks both sparsity patterns of each row in one merge pass and applies ``op`` to every
    position stored in either operand, a position missing from one operand counting as 0.
    A result that compares equal to 0 is not stored (SciPy's semantics: explicit zeros and
    cancellations disappear; ``-0.0`` is not stored either).

    Parameters
    ----------
    op : int
        One of ``BINOP_ADD`` (a + b), ``BINOP_SUB`` (a - b), ``BINOP_MUL`` (a * b),
        ``BINOP_MAX`` and ``BINOP_MIN``. MAX/MIN follow ``std::max``/``std::min``:
        ``max(a, b) = b if a < b else a`` and ``min(a, b) = b if b < a else a``, so a NaN
        survives only when it is the first comparison operand that is kept. Complex values
        are compared lexicographically (real part first, then imaginary part), like NumPy's
        ordering of complex numbers.
    n_col : int
        Number of columns (documentation of the shape; the merge does not need it).
    Ap, Aj, Ax : ndarray
        CSR arrays of A (``len(Ap) = n_row + 1``), canonical: column indices strictly
        increasing within each row (sorted, no duplicates).
    Bp, Bj, Bx : ndarray
        CSR arrays of B, canonical, same number of rows as A.
    Cp : ndarray
        Output row pointer, length ``n_row + 1``; overwritten.
    Cj, Cx : ndarray
        Output column indices and values. Capacity needed: ``nnz(A) + nnz(B)`` for ADD, SUB,
        MAX and MIN. For MUL, a product involving an absent entry is ``a * 0``, which is 0
        unless ``a`` is inf or NaN; so ``min(nnz(A), nnz(B))`` suffices when both value arrays
        are finite (always for integers), else allocate ``nnz(A) + nnz(B)``. Writes never
        go past ``min(len(Cj), len(Cx))``: a result that does not fit raises ``ValueError``
        (the contents of Cp/Cj/Cx are then unspecified).

    Returns
    -------
    nnz : int
        Number of entries written to ``Cj``/``Cx``; the output is canonical.

    Notes
    -----
    Sequential single pass (the output positions are only known after the pass). Integer
    overflow wraps around.
    """
    cdef Py_ssize_t n_row = Ap.shape[0] - 1
    cdef Py_ssize_t nnz = 0
    if Bp.shape[0] != Ap.shape[0] or Cp.shape[0] != Ap.shape[0]:
        raise ValueError(
            f"csr_binop: row pointers must all have length n_row + 1 = {Ap.shape[0]}, "
            f"got {Bp.shape[0]} (B) and {Cp.shape[0]} (C)"
        )
    if op < _ADD or op > _MIN:
        raise ValueError(f"csr_binop: unknown operation code {op}")
    if n_row < 0:
        raise ValueError("csr_binop: Ap must have at least one element")
    cdef Py_ssize_t cap = min(Cj.shape[0], Cx.shape[0])
    # Each branch passes a literal op so the compiler specialises the inlined merge loop.
    with nogil:
        if op == _ADD:
            nnz = _merge_rows(_ADD, n_row, &Ap[0], &Aj[0] if Aj.shape[0] else NULL,
                              &Ax[0] if Ax.shape[0] else NULL, &Bp[0],
                              &Bj[0] if Bj.shape[0] else NULL, &Bx[0] if Bx.shape[0] else NULL,
                              &Cp[0], &Cj[0] if Cj.shape[0] else NULL,
                              &Cx[0] if Cx.shape[0] else NULL, cap)
        elif op == _SUB:
            nnz = _merge_rows(_SUB, n_row, &Ap[0], &Aj[0] if Aj.shape[0] else NULL,
                              &Ax[0] if Ax.shape[0] else NULL, &Bp[0],
                              &Bj[0] if Bj.shape[0] else NULL, &Bx[0] if Bx.shape[0] else NULL,
                              &Cp[0], &Cj[0] if Cj.shape[0] else NULL,
                              &Cx[0] if Cx.shape[0] else NULL, cap)
        elif op == _MUL:
            nnz = _merge_rows(_MUL, n_row, &Ap[0], &Aj[0] if Aj.shape[0] else NULL,
                              &Ax[0] if Ax.shape[0] else NULL, &Bp[0],
                              &Bj[0] if Bj.shape[0] else NULL, &Bx[0] if Bx.shape[0] else NULL,
                              &Cp[0], &Cj[0] if Cj.shape[0] else NULL,
                              &Cx[0] if Cx.shape[0] else NULL, cap)
        elif op == _MAX:
            nnz = _merge_rows(_MAX, n_row, &Ap[0], &Aj[0] if Aj.shape[0] else NULL,
                              &Ax[0] if Ax.shape[0] else NULL, &Bp[0],
                              &Bj[0] if Bj.shape[0] else NULL, &Bx[0] if Bx.shape[0] else NULL,
                              &Cp[0], &Cj[0] if Cj.shape[0] else NULL,
                              &Cx[0] if Cx.shape[0] else NULL, cap)
        else:
            nnz = _merge_rows(_MIN, n_row, &Ap[0], &Aj[0] if Aj.shape[0] else NULL,
                              &Ax[0] if Ax.shape[0] else NULL, &Bp[0],
                              &Bj[0] if Bj.shape[0] else NULL, &Bx[0] if Bx.shape[0] else NULL,
                              &Cp[0], &Cj[0] if Cj.shape[0] else NULL,
                              &Cx[0] if Cx.shape[0] else NULL, cap)
    if nnz < 0:
        raise ValueError(
            f"csr_binop: the result has more than {cap} entries, the capacity of Cj/Cx "
            f"(MUL needs nnz(A) + nnz(B) when a value is inf or NaN)"
        )
    return nnz


# ---------------------------------------------------------------------------------------------
# csr_union_map
# ---------------------------------------------------------------------------------------------

def csr_union_map(const index_t[::1] Ap, const index_t[::1] Aj,
                  const index_t[::1] Bp, const index_t[::1] Bj,
                  index_t[::1] Cp, index_t[::1] Cj, int64_t[::1] a_pos, int64_t[::1] b_pos):
    """Union of two canonical CSR patterns, with the position of every union entry in A and B.

    The symbolic phase of element-wise operations whose numeric phase is done elsewhere
    (comparisons with a bool result, differentiable maximum/minimum): entry ``k`` of the
    union takes ``A.data[a_pos[k]]`` and ``B.data[b_pos[k]]``, where a position equal to
    ``nnz(A)`` (resp. ``nnz(B)``) means "absent", so that appending one zero to each value
    array turns the numeric phase into two gathers.

    Parameters
    ----------
    Ap, Aj : ndarray
        CSR pattern of A (``len(Ap) = n_row + 1``), canonical: indices strictly increasing
        within each row.
    Bp, Bj : ndarray
        CSR pattern of B, canonical, same number of rows.
    Cp : ndarray
        Output row pointer, length ``n_row + 1``; overwritten.
    Cj, a_pos, b_pos : ndarray
        Output column indices and positions, capacity ``nnz(A) + nnz(B)`` at least.

    Returns
    -------
    nnz : int
        Number of union entries written; the output pattern is canonical.
    """
    cdef Py_ssize_t n_row = Ap.shape[0] - 1
    cdef Py_ssize_t i, a, a_end, b, b_end, nnz = 0
    cdef int64_t a_absent, b_absent
    if n_row < 0:
        raise ValueError("csr_union_map: Ap must have at least one element")
    if Bp.shape[0] != Ap.shape[0] or Cp.shape[0] != Ap.shape[0]:
        raise ValueError(
            f"csr_union_map: row pointers must all have length n_row + 1 = {Ap.shape[0]}, "
            f"got {Bp.shape[0]} (B) and {Cp.shape[0]} (C)"
        )
    a_absent = Ap[n_row]
    b_absent = Bp[n_row]
    cdef Py_ssize_t cap = min(Cj.shape[0], min(a_pos.shape[0], b_pos.shape[0]))
    if cap < a_absent + b_absent:
        raise ValueError(
            f"csr_union_map: output capacity {cap} is below nnz(A) + nnz(B) = "
            f"{a_absent + b_absent}"
        )
    with nogil:
        Cp[0] = 0
        for i in range(n_row):
            a = Ap[i]
            a_end = Ap[i + 1]
            b = Bp[i]
            b_end = Bp[i + 1]
            while a < a_end or b < b_end:
                if b == b_end or (a < a_end and Aj[a] < Bj[b]):
                    Cj[nnz] = Aj[a]
                    a_pos[nnz] = a
                    b_pos[nnz] = b_absent
                    a += 1
                elif a == a_end or Bj[b] < Aj[a]:
                    Cj[nnz] = Bj[b]
                    a_pos[nnz] = a_absent
                    b_pos[nnz] = b
                    b += 1
                else:
                    Cj[nnz] = Aj[a]
                    a_pos[nnz] = a
                    b_pos[nnz] = b
                    a += 1
                    b += 1
                nnz += 1
            Cp[i + 1] = <index_t>nnz
    return nnz


# ---------------------------------------------------------------------------------------------
# Row and column sums
# ---------------------------------------------------------------------------------------------

def csr_row_sums(const index_t[::1] indptr, const value_t[::1] data, value_t[::1] out):
    """Sum of the stored values of each row: ``out[i] = sum(data[indptr[i]:indptr[i+1]])``.

    Parameters
    ----------
    indptr : ndarray
        CSR row pointer, length ``n_row + 1``, non-decreasing, ``indptr[-1] <= len(data)``.
    data : ndarray
        Stored values, already cast by the caller to the accumulation dtype of ``out``.
    out : ndarray
        Length ``n_row``; overwritten.

    Notes
    -----
    Parallel over rows (OpenMP, thread count from :func:`spgrad._cpu.get_num_threads`). Each
    row is summed sequentially left to right, so results are deterministic.
    """
    cdef Py_ssize_t n_row = indptr.shape[0] - 1
    cdef Py_ssize_t i, k
    cdef value_t s
    if out.shape[0] != n_row:
        raise ValueError(f"csr_row_sums: out has length {out.shape[0]}, expected {n_row}")
    cdef int nt = _threads(data.shape[0] + n_row)
    with nogil:
        for i in prange(n_row, schedule='static', num_threads=nt):
            s = 0
            for k in range(indptr[i], indptr[i + 1]):
                s = s + data[k]
            out[i] = s


def csr_col_sums(const index_t[::1] indices, const value_t[::1] data, value_t[::1] out):
    """Sum of the stored values of each column: ``out[j] = sum(data[indices == j])``.

    Parameters
    ----------
    indices : ndarray
        Column indices of the stored entries (any order, duplicates allowed), each in
        ``[0, len(out))``; ``len(indices) == len(data)``.
    data : ndarray
        Stored values, already cast by the caller to the accumulation dtype of ``out``.
    out : ndarray
        Length ``n_col``; zeroed by the kernel, then accumulated into.
    """
    cdef Py_ssize_t nnz = indices.shape[0]
    cdef Py_ssize_t n_col = out.shape[0]
    cdef Py_ssize_t j, k
    if data.shape[0] != nnz:
        raise ValueError(
            f"csr_col_sums: indices and data must have the same length, got {nnz} and "
            f"{data.shape[0]}"
        )
    with nogil:
        for j in range(n_col):
            out[j] = 0
        for k in range(nnz):
            out[indices[k]] += data[k]


# ---------------------------------------------------------------------------------------------
# Line reductions: max / min / argmax / argmin along an axis
# ---------------------------------------------------------------------------------------------

cdef inline bint _is_nan(value_t a) noexcept nogil:
    if value_t is int32_t or value_t is int64_t:
        return False
    elif value_t is float or value_t is double:
        return a != a
    else:
        return a.real != a.real or a.imag != a.imag


cdef inline bint _ordered(value_t a, value_t b, bint greater, bint strict) noexcept nogil:
    # NumPy's a >= b, a <= b, a > b, a < b; complex values compare lexicographically, and a NaN
    # imaginary part makes the comparison of unequal real parts false (NumPy's CGE/CLE/CGT/CLT)
    if value_t is int32_t or value_t is int64_t or value_t is float or value_t is double:
        if greater:
            return a > b if strict else a >= b
        return a < b if strict else a <= b
    else:
        if a.real == b.real:
            if greater:
                return a.imag > b.imag if strict else a.imag >= b.imag
            return a.imag < b.imag if strict else a.imag <= b.imag
        if a.imag != a.imag or b.imag != b.imag:
            return False
        return a.real > b.real if greater else a.real < b.real


cdef inline bint _keeps(int op, value_t acc, value_t x) noexcept nogil:
    # Whether NumPy's maximum/minimum/fmax/fmin of (acc, x) is acc: ties keep the first
    # operand; maximum and minimum keep a NaN, fmax and fmin drop one.
    cdef bint greater = op == _RMAX or op == _RFMAX
    if op == _RMAX or op == _RMIN:
        return _is_nan(acc) or _ordered(acc, x, greater, False)
    return _is_nan(x) or _ordered(acc, x, greater, False)


cdef inline Py_ssize_t _line_extreme(int op, const value_t* data, Py_ssize_t lo,
                                     Py_ssize_t hi) noexcept nogil:
    # Position of the fold of NumPy's op over data[lo:hi] (lo < hi): where the accumulator
    # last changed, i.e. the first stored value equal to the reduction (a NaN first).
    cdef Py_ssize_t k, best = lo
    for k in range(lo + 1, hi):
        if not _keeps(op, data[best], data[k]):
            best = k
    return best


def csr_line_reduce(int op, Py_ssize_t n_full, bint with_zero, const index_t[::1] indptr,
                    const value_t[::1] data, value_t[::1] out):
    """NumPy's ``maximum``/``minimum``/``fmax``/``fmin`` reduction of each line (row of a CSR,
    column of a CSC): ``out[i] = op.reduce(data[indptr[i]:indptr[i+1]])``, then, when
    ``with_zero`` and the line stores fewer than ``n_full`` entries, ``op(out[i], 0)`` for its
    implicit zeros; 0 for an empty line.

    Parameters
    ----------
    op : int
        ``REDUCE_MAX``, ``REDUCE_MIN``, ``REDUCE_FMAX`` or ``REDUCE_FMIN``.
    n_full : int
        Length of a line (the other dimension).
    with_zero : bool
        Whether the implicit zeros take part (``explicit=False``).
    indptr : ndarray
        Pointer of a canonical compressed array (no duplicates), length ``n_line + 1``.
    data : ndarray
        Its stored values.
    out : ndarray
        Length ``n_line``; overwritten.

    Notes
    -----
    Each line folds left to right like ``ufunc.reduceat``, so NaNs propagate (``maximum``,
    ``minimum``) or are skipped (``fmax``, ``fmin``) exactly as in NumPy. Parallel over lines.
    """
    cdef Py_ssize_t n_line = indptr.shape[0] - 1
    cdef Py_ssize_t i, lo, hi
    cdef value_t acc
    cdef value_t zero = 0
    if out.shape[0] != n_line:
        raise ValueError(f"csr_line_reduce: out has length {out.shape[0]}, expected {n_line}")
    if op < REDUCE_MAX or op > REDUCE_FMIN:
        raise ValueError(f"csr_line_reduce: op must be one of the REDUCE_* codes, got {op}")
    cdef int nt = _threads(data.shape[0] + n_line)
    with nogil:
        for i in prange(n_line, schedule='static', num_threads=nt):
            lo = indptr[i]
            hi = indptr[i + 1]
            if lo == hi:
                out[i] = zero
                continue
            acc = data[_line_extreme(op, &data[0], lo, hi)]
            if with_zero and hi - lo < n_full and not _keeps(op, acc, zero):
                acc = zero
            out[i] = acc


def csr_line_argreduce(int op, Py_ssize_t n_full, bint explicit, const index_t[::1] indptr,
                       const index_t[::1] indices, const value_t[::1] data, int64_t[::1] out):
    """The minor index of each line's maximum (``REDUCE_MAX``) or minimum (``REDUCE_MIN``):
    ``argmax``/``argmin`` along an axis with SciPy's rules.

    The stored extreme is the first stored entry equal to the line's ``maximum``/``minimum``
    reduction (the first NaN when there is one). Unless ``explicit``, a line with fewer than
    ``n_full`` entries gives instead its first implicit zero when zero is larger (smaller)
    than the stored extreme, or equal to it and before it. An empty line gives 0.

    Parameters
    ----------
    op : int
        ``REDUCE_MAX`` (argmax) or ``REDUCE_MIN`` (argmin).
    n_full : int
        Length of a line.
    explicit : bool
        Only the stored entries count.
    indptr, indices : ndarray
        A canonical compressed pattern (sorted, no duplicates), ``n_line`` lines.
    data : ndarray
        Its stored values.
    out : ndarray
        Length ``n_line``; overwritten.
    """
    cdef Py_ssize_t n_line = indptr.shape[0] - 1
    cdef Py_ssize_t i, k, lo, hi, best, first_zero
    cdef value_t acc
    cdef value_t zero = 0
    cdef bint greater = op == REDUCE_MAX
    if out.shape[0] != n_line:
        raise ValueError(
            f"csr_line_argreduce: out has length {out.shape[0]}, expected {n_line}")
    if op != REDUCE_MAX and op != REDUCE_MIN:
        raise ValueError(f"csr_line_argreduce: op must be REDUCE_MAX or REDUCE_MIN, got {op}")
    cdef int nt = _threads(data.shape[0] + n_line)
    with nogil:
        for i in prange(n_line, schedule='static', num_threads=nt):
            lo = indptr[i]
            hi = indptr[i + 1]
            if lo == hi:
                out[i] = 0
                continue
            best = _line_extreme(op, &data[0], lo, hi)
            acc = data[best]
            if explicit or hi - lo == n_full or _ordered(acc, zero, greater, True):
                out[i] = indices[best]
                continue
            # the first implicit zero: the first position whose index is not its offset
            first_zero = hi - lo
            for k in range(lo, hi):
                if indices[k] != k - lo:
                    first_zero = k - lo
                    break
            if acc == zero and best - lo < first_zero:
                out[i] = best - lo
            else:
                out[i] = first_zero


# ---------------------------------------------------------------------------------------------
# Band filter (tril / triu)
# ---------------------------------------------------------------------------------------------

def csr_band_filter(int64_t k_lo, int64_t k_hi,
                    const index_t[::1] indptr, const index_t[::1] indices,
                    const value_t[::1] data,
                    index_t[::1] out_indptr, index_t[::1] out_indices, value_t[::1] out_data):
    """Keep the entries whose diagonal index ``col - row`` lies in ``[k_lo, k_hi]``.

    ``tril(A, k)`` is ``k_lo = -2**63, k_hi = k``; ``triu(A, k)`` is ``k_lo = k,
    k_hi = 2**63 - 1``. Applied to the arrays of a CSC matrix (a CSR of the transpose) the
    kernel filters ``row - col`` instead, i.e. the band ``[-k_hi, -k_lo]`` of the CSC matrix.

    Parameters
    ----------
    k_lo, k_hi : int
        Inclusive bounds on ``col - row``.
    indptr, indices, data : ndarray
        CSR arrays (any order within rows, duplicates and explicit zeros allowed and kept).
    out_indptr : ndarray
        Length ``len(indptr)``; overwritten.
    out_indices, out_data : ndarray
        Capacity ``indptr[-1]`` (the input nnz) at least.

    Returns
    -------
    nnz : int
        Number of entries kept; they keep their input order.
    """
    cdef Py_ssize_t n_row = indptr.shape[0] - 1
    cdef Py_ssize_t i, k, nnz = 0
    cdef int64_t d
    if out_indptr.shape[0] != indptr.shape[0]:
        raise ValueError(
            f"csr_band_filter: out_indptr has length {out_indptr.shape[0]}, expected "
            f"{indptr.shape[0]}"
        )
    if n_row < 0:
        raise ValueError("csr_band_filter: indptr must have at least one element")
    with nogil:
        out_indptr[0] = 0
        for i in range(n_row):
            for k in range(indptr[i], indptr[i + 1]):
                d = <int64_t>indices[k] - <int64_t>i
                if k_lo <= d <= k_hi:
                    out_indices[nnz] = indices[k]
                    out_data[nnz] = data[k]
                    nnz += 1
            out_indptr[i + 1] = <index_t>nnz
    return nnz


# ---------------------------------------------------------------------------------------------
# Kronecker product
# ---------------------------------------------------------------------------------------------

def csr_kron(Py_ssize_t n_col_B,
             const index_t[::1] Ap, const index_t[::1] Aj, const value_t[::1] Ax,
             const index_t[::1] Bp, const index_t[::1] Bj, const value_t[::1] Bx,
             index_t[::1] Cp, index_t[::1] Cj, value_t[::1] Cx):
    """Kronecker product ``C = kron(A, B)`` of two CSR matrices, in CSR.

    Row ``iA * n_row_B + iB`` of C holds, for each entry ``(iA, jA, a)`` of A (in A's row
    order) and each entry ``(iB, jB, b)`` of B's row ``iB`` (in B's order), the entry
    ``(jA * n_col_B + jB, a * b)``. Every product is stored, zeros included (as SciPy's
    ``kron``), so C is canonical when A and B are.

    Parameters
    ----------
    n_col_B : int
        Number of columns of B.
    Ap, Aj, Ax : ndarray
        CSR arrays of A, ``Ap[0] == 0``.
    Bp, Bj, Bx : ndarray
        CSR arrays of B, ``Bp[0] == 0``.
    Cp : ndarray
        Length ``n_row_A * n_row_B + 1``; overwritten.
    Cj, Cx : ndarray
        Length ``nnz(A) * nnz(B)``; the index dtype must hold ``n_col_A * n_col_B - 1`` and
        ``nnz(A) * nnz(B)``.

    Notes
    -----
    The row pointer is a sequential prefix sum; the entries are filled in parallel over
    rows of A.
    """
    cdef Py_ssize_t n_row_A = Ap.shape[0] - 1
    cdef Py_ssize_t n_row_B = Bp.shape[0] - 1
    cdef Py_ssize_t iA, iB, ka, kb, pos, lenA, lenB
    cdef index_t off
    cdef value_t a
    if n_row_A < 0 or n_row_B < 0:
        raise ValueError("csr_kron: row pointers must have at least one element")
    if Cp.shape[0] != n_row_A * n_row_B + 1:
        raise ValueError(
            f"csr_kron: Cp has length {Cp.shape[0]}, expected {n_row_A * n_row_B + 1}"
        )
    cdef int nt = _threads(Cj.shape[0])
    with nogil:
        pos = 0
        Cp[0] = 0
        for iA in range(n_row_A):
            lenA = Ap[iA + 1] - Ap[iA]
            for iB in range(n_row_B):
                pos = pos + lenA * (Bp[iB + 1] - Bp[iB])
                Cp[iA * n_row_B + iB + 1] = <index_t>pos
        for iA in prange(n_row_A, schedule='dynamic', num_threads=nt):
            for iB in range(n_row_B):
                pos = Cp[iA * n_row_B + iB]
                for ka in range(Ap[iA], Ap[iA + 1]):
                    off = <index_t>(Aj[ka] * n_col_B)
                    a = Ax[ka]
                    for kb in range(Bp[iB], Bp[iB + 1]):
                        Cj[pos] = off + Bj[kb]
                        Cx[pos] = a * Bx[kb]
                        pos = pos + 1


# ---------------------------------------------------------------------------------------------
# Horizontal stacking
# ---------------------------------------------------------------------------------------------

def csr_hstack(Py_ssize_t n_row, const index_t[::1] col_offset,
               const index_t[::1] indptr_cat, const index_t[::1] indices_cat,
               const value_t[::1] data_cat,
               index_t[::1] out_indptr, index_t[::1] out_indices, value_t[::1] out_data):
    """Stack CSR blocks with the same number of rows side by side.

    Row ``i`` of the result is row ``i`` of block 0, then row ``i`` of block 1 with its
    column indices shifted by ``col_offset[1]``, and so on.

    Parameters
    ----------
    n_row : int
        Number of rows of every block.
    col_offset : ndarray
        Length ``n_blocks``: column offset of each block in the result (usually the
        exclusive cumulative sum of the blocks' column counts).
    indptr_cat : ndarray
        Concatenation of the blocks' row pointers, length ``n_blocks * (n_row + 1)``. Each
        block's pointer need not start at 0: block ``b``'s entries are taken as lying at
        ``indptr_cat[b*(n_row+1)] - indptr_cat[b*(n_row+1)] + base_b`` in the concatenated
        arrays, ``base_b`` being the total nnz of the previous blocks.
    indices_cat, data_cat : ndarray
        Concatenation of the blocks' column indices and values.
    out_indptr : ndarray
        Length ``n_row + 1``; overwritten.
    out_indices, out_data : ndarray
        Capacity ``len(indices_cat)`` at least; the index dtype must hold the shifted column
        indices and the total nnz. Order within each block's row segment is kept.

    Notes
    -----
    The row pointer is a sequential sum; entries are copied in parallel over rows.
    """
    cdef Py_ssize_t n_blocks = col_offset.shape[0]
    cdef Py_ssize_t stride = n_row + 1
    cdef Py_ssize_t i, b, k, pos, base, start, src
    cdef index_t off
    if indptr_cat.shape[0] != n_blocks * stride:
        raise ValueError(
            f"csr_hstack: indptr_cat has length {indptr_cat.shape[0]}, expected "
            f"n_blocks * (n_row + 1) = {n_blocks * stride}"
        )
    if out_indptr.shape[0] != stride:
        raise ValueError(
            f"csr_hstack: out_indptr has length {out_indptr.shape[0]}, expected {stride}"
        )
    cdef int nt = _threads(indices_cat.shape[0])
    with nogil:
        pos = 0
        out_indptr[0] = 0
        for i in range(n_row):
            for b in range(n_blocks):
                pos = pos + indptr_cat[b * stride + i + 1] - indptr_cat[b * stride + i]
            out_indptr[i + 1] = <index_t>pos
        for i in prange(n_row, schedule='static', num_threads=nt):
            pos = out_indptr[i]
            base = 0
            for b in range(n_blocks):
                start = indptr_cat[b * stride]
                off = col_offset[b]
                for k in range(indptr_cat[b * stride + i], indptr_cat[b * stride + i + 1]):
                    src = base + k - start
                    out_indices[pos] = indices_cat[src] + off
                    out_data[pos] = data_cat[src]
                    pos = pos + 1
                base = base + indptr_cat[b * stride + n_row] - start


# ---------------------------------------------------------------------------------------------
# DIA matrix-vector product
# ---------------------------------------------------------------------------------------------

def dia_matvec(const index_t[::1] offsets, const value_t[:, ::1] data,
               Py_ssize_t n_row, Py_ssize_t n_col,
               const value_t[::1] x, value_t[::1] y):
    """Accumulate ``y += A @ x`` for a DIA matrix A stored as SciPy stores it.

    ``data[d, j]`` is the entry in column ``j`` (row ``j - offsets[d]``) of diagonal
    ``offsets[d]``; columns ``j >= data.shape[1]`` and positions outside the matrix are absent.

    Parameters
    ----------
    offsets : ndarray
        Diagonal offsets, length ``n_diags`` (repeats are summed).
    data : ndarray
        C-contiguous, shape ``(n_diags, L)``; ``L`` may differ from ``n_col``.
    n_row, n_col : int
        Shape of A.
    x : ndarray
        Length ``n_col``.
    y : ndarray
        Length ``n_row``; accumulated into (not zeroed).

    Notes
    -----
    Parallel over chunks of rows; each chunk applies all diagonals in order, so results do
    not depend on the thread count.
    """
    cdef Py_ssize_t n_diags = offsets.shape[0]
    cdef Py_ssize_t L = data.shape[1]
    cdef Py_ssize_t n_chunks, c, d, r0, r1, j0, j1, j, k
    if data.shape[0] != n_diags:
        raise ValueError(
            f"dia_matvec: data has {data.shape[0]} rows, expected one per offset ({n_diags})"
        )
    if x.shape[0] != n_col or y.shape[0] != n_row:
        raise ValueError(
            f"dia_matvec: expected x of length {n_col} and y of length {n_row}, got "
            f"{x.shape[0]} and {y.shape[0]}"
        )
    n_chunks = (n_row + _DIA_CHUNK - 1) // _DIA_CHUNK
    cdef int nt = _threads(n_diags * min(n_row, n_col))
    with nogil:
        for c in prange(n_chunks, schedule='static', num_threads=nt):
            r0 = c * _DIA_CHUNK
            r1 = min(r0 + _DIA_CHUNK, n_row)
            for d in range(n_diags):
                k = offsets[d]
                # columns j with row j - k in [r0, r1), j in [0, min(n_col, L))
                j0 = max(r0 + k, 0)
                j1 = min(r1 + k, min(n_col, L))
                for j in range(j0, j1):
                    y[j - k] += data[d, j] * x[j]
