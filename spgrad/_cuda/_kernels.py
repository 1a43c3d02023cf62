"""Launchers of the CUDA kernels, with the names and signatures of ``spgrad._cpu``'s.

Each receives the preallocated output and fills it, exactly like the CPU kernel of the same
name (see its docstring for the semantics); preconditions are the same (validated CSR arrays,
matching dtypes, C-contiguous dense operands). They take CuPy arrays in production; the test
suite runs them unchanged on NumPy arrays through an emulated launch backend.

Differences from the CPU kernels: the transposed products add into each output entry with
atomic operations, so the order of those additions (and the last bits of a floating-point
result) may vary between runs on a GPU.
"""

import sys

import numpy as np

from ._launch import launch

__all__ = [
    "BINOP_ADD",
    "BINOP_MAX",
    "BINOP_MIN",
    "BINOP_MUL",
    "BINOP_SUB",
    "REDUCE_FMAX",
    "REDUCE_FMIN",
    "REDUCE_MAX",
    "REDUCE_MIN",
    "column_map",
    "coo_tocsr",
    "coo_tocsr_pattern",
    "coo_todense",
    "csr_band_filter",
    "csr_binop",
    "csr_col_sums",
    "csr_column_select",
    "csr_column_select_count",
    "csr_diagonal",
    "csr_eliminate_zeros",
    "csr_has_canonical_format",
    "csr_has_sorted_indices",
    "csr_hstack",
    "csr_kron",
    "csr_lookup_count",
    "csr_lookup_fill",
    "csr_lookup_offsets",
    "csr_line_argreduce",
    "csr_line_reduce",
    "csr_lookup_values",
    "csr_masked_dot",
    "csr_matmat",
    "csr_matmat_row_nnz",
    "csr_matvec",
    "csr_matvec_transpose",
    "csr_matvecs",
    "csr_matvecs_permuted",
    "csr_matvecs_transpose",
    "csr_row_gather",
    "csr_row_gather_count",
    "csr_row_sums",
    "csr_sddmm",
    "csr_sort_indices",
    "csr_sort_indices_pattern",
    "csr_spgemm_backward",
    "csr_spmm_backward",
    "csr_spmv_backward",
    "csr_submatrix",
    "csr_submatrix_count",
    "csr_sum_duplicates",
    "csr_sum_duplicates_pattern",
    "csr_todense",
    "csr_transpose",
    "csr_transpose_pattern",
    "csr_union_map",
    "dia_matvec",
    "expand_indptr",
]


def _xp(a):
    """The array module of ``a``: CuPy for CuPy arrays, NumPy otherwise (the emulation)."""
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(a, cupy.ndarray):
        return cupy
    return np


def _stable_argsort(xp, a):
    # CuPy's argsort is always stable (and accepts no kind); NumPy's needs asking
    return xp.argsort(a) if xp is not np else np.argsort(a, kind="stable")


#: operation codes of csr_binop (the CPU kernels' values)
BINOP_ADD, BINOP_SUB, BINOP_MUL, BINOP_MAX, BINOP_MIN = range(5)
#: operation codes of csr_line_reduce / csr_line_argreduce
REDUCE_MAX, REDUCE_MIN, REDUCE_FMAX, REDUCE_FMIN = range(4)


def _n_row(indptr):
    return max(len(indptr) - 1, 0)


def csr_matvec(indptr, indices, data, x, y):
    """Fill ``y = A @ x`` (see ``spgrad._cpu.csr_matvec``)."""
    n = _n_row(indptr)
    launch("csr_matvec", indptr.dtype, data.dtype, n, (n, indptr, indices, data, x, y))


def csr_matvecs(indptr, indices, data, X, Y):
    """Fill ``Y = A @ X`` for a C-ordered ``X`` (see ``spgrad._cpu.csr_matvecs``)."""
    n, k = _n_row(indptr), Y.shape[1]
    launch("csr_matvecs", indptr.dtype, data.dtype, n * k, (n, k, indptr, indices, data, X, Y))


def csr_matvec_transpose(indptr, indices, data, x, y):
    """Fill ``y = A.T @ x`` (see ``spgrad._cpu.csr_matvec_transpose``)."""
    n = _n_row(indptr)
    y.fill(0)
    launch("csr_matvec_transpose", indptr.dtype, data.dtype, n,
           (n, indptr, indices, data, x, y))


def csr_matvecs_permuted(indptr, indices, perm, data, X, Y):
    """Fill ``Y = A @ X`` for values ``data[perm]`` (see ``spgrad._cpu.csr_matvecs_permuted``):
    one gather of the values, then the SpMM launch."""
    csr_matvecs(indptr, indices, data[perm], X, Y)


def csr_matvecs_transpose(indptr, indices, data, X, Y):
    """Fill ``Y = A.T @ X`` for a C-ordered ``X`` (see ``spgrad._cpu.csr_matvecs_transpose``)."""
    n, k = _n_row(indptr), Y.shape[1]
    Y.fill(0)
    launch("csr_matvecs_transpose", indptr.dtype, data.dtype, n * k,
           (n, k, indptr, indices, data, X, Y))


def csr_sddmm(indptr, indices, A, B, out):
    """Fill ``out[p] = sum_c A[i, c] B[j, c]`` on the mask (see ``spgrad._cpu.csr_sddmm``)."""
    n, k = _n_row(indptr), A.shape[1]
    launch("csr_sddmm", indptr.dtype, out.dtype, n, (n, k, indptr, indices, A, B, out))


def expand_indptr(indptr, rows):
    """Fill the row of every stored entry (see ``spgrad._cpu.expand_indptr``)."""
    n = _n_row(indptr)
    launch("expand_indptr", indptr.dtype, None, n, (n, indptr, rows))


def csr_diagonal(k, n_row, n_col, indptr, indices, data, out):
    """Add the ``k``-th diagonal into ``out`` (see ``spgrad._cpu.csr_diagonal``)."""
    first = max(0, -k)
    count = max(0, min(n_row + min(k, 0), n_col - max(k, 0)))
    launch("csr_diagonal", indptr.dtype, data.dtype, count,
           (count, k, first, indptr, indices, data, out))


def csr_row_sums(indptr, data, out):
    """Fill the sum of each row's stored values (see ``spgrad._cpu.csr_row_sums``)."""
    n = _n_row(indptr)
    launch("csr_row_sums", indptr.dtype, data.dtype, n, (n, indptr, data, out))


def _check_line_output(name, op, codes, out, n):
    if op not in codes:
        raise ValueError(f"{name}: op must be one of the codes {codes}, got {op}")
    if len(out) != n:
        raise ValueError(f"{name}: out has length {len(out)}, expected {n}")


def csr_line_reduce(op, n_full, with_zero, indptr, data, out):
    """Fill the reduction ``op`` of each line (see ``spgrad._cpu.csr_line_reduce``)."""
    n = _n_row(indptr)
    _check_line_output("csr_line_reduce", op, (REDUCE_MAX, REDUCE_MIN, REDUCE_FMAX, REDUCE_FMIN),
                       out, n)
    launch("csr_line_reduce", indptr.dtype, data.dtype, n,
           (n, op, n_full, int(bool(with_zero)), indptr, data, out))


def csr_line_argreduce(op, n_full, explicit, indptr, indices, data, out):
    """Fill the minor index of each line's extreme (see ``spgrad._cpu.csr_line_argreduce``)."""
    n = _n_row(indptr)
    _check_line_output("csr_line_argreduce", op, (REDUCE_MAX, REDUCE_MIN), out, n)
    launch("csr_line_argreduce", indptr.dtype, data.dtype, n,
           (n, op, n_full, int(bool(explicit)), indptr, indices, data, out))


def csr_col_sums(indices, data, out):
    """Fill the sum of each column's stored values (see ``spgrad._cpu.csr_col_sums``); the
    additions into one column are atomic, in an order that may vary between runs."""
    nnz = len(indices)
    out.fill(0)
    launch("csr_col_sums", indices.dtype, data.dtype, nnz, (nnz, indices, data, out))


def csr_todense(indptr, indices, data, out):
    """Add the entries into the dense ``out`` of any strides (see ``spgrad._cpu.csr_todense``;
    Python zeroes ``out`` first)."""
    n = _n_row(indptr)
    rs, cs = (st // out.itemsize for st in out.strides)
    launch("csr_todense", indptr.dtype, data.dtype, n, (n, rs, cs, indptr, indices, data, out))


def csr_band_filter(k_lo, k_hi, indptr, indices, data, out_indptr, out_indices, out_data):
    """Keep the entries with ``k_lo <= col - row <= k_hi`` (see
    ``spgrad._cpu.csr_band_filter``): count per row, scan, fill. Returns the number kept (read
    back from the device)."""
    xp = _xp(indptr)
    n = _n_row(indptr)
    counts = xp.empty(n, dtype=indptr.dtype)
    launch("csr_band_count", indptr.dtype, None, n, (n, k_lo, k_hi, indptr, indices, counts))
    out_indptr[0] = 0
    out_indptr[1:] = xp.cumsum(counts, dtype=np.int64)
    launch("csr_band_fill", indptr.dtype, data.dtype, n,
           (n, k_lo, k_hi, indptr, indices, data, out_indptr, out_indices, out_data))
    return int(out_indptr[-1])


def csr_transpose_pattern(n_col, indptr, indices, out_indptr, out_indices, perm):
    """Fill the pattern of ``A.T`` and the map ``perm`` (see
    ``spgrad._cpu.csr_transpose_pattern``): a stable sort of the entries by column keeps their
    row-major storage order within each column, so the result equals the CPU kernel's."""
    xp = _xp(indptr)
    nnz = int(indptr[-1]) if len(indptr) else 0
    rows = xp.empty(nnz, dtype=indptr.dtype)
    expand_indptr(indptr, rows)
    cols = indices[:nnz]
    order = _stable_argsort(xp, cols)
    perm[...] = order
    out_indices[...] = rows[order]
    out_indptr[0] = 0
    out_indptr[1:] = xp.cumsum(xp.bincount(cols, minlength=n_col)[:n_col], dtype=np.int64)


def csr_transpose(n_col, indptr, indices, data, out_indptr, out_indices, out_data):
    """Fill the CSR arrays of ``A.T`` (see ``spgrad._cpu.csr_transpose``)."""
    xp = _xp(indptr)
    perm = xp.empty(len(out_indices), dtype=indptr.dtype)
    csr_transpose_pattern(n_col, indptr, indices, out_indptr, out_indices, perm)
    out_data[...] = data[perm]


def _counts_to_indptr(xp, keys, n, out_indptr):
    """``out_indptr`` of a CSR whose entries have row ``keys`` (n rows)."""
    out_indptr[0] = 0
    out_indptr[1:] = xp.cumsum(xp.bincount(keys, minlength=n)[:n], dtype=np.int64)


def coo_tocsr_pattern(n_row, row, col, out_indptr, out_indices, perm):
    """Fill a CSR pattern and the map from COO coordinates (see
    ``spgrad._cpu.coo_tocsr_pattern``): a stable sort by row keeps the input order within
    rows, as the CPU's counting sort does."""
    xp = _xp(row)
    order = _stable_argsort(xp, row)
    perm[...] = order
    out_indices[...] = col[order]
    _counts_to_indptr(xp, row, n_row, out_indptr)


def coo_tocsr(n_row, row, col, data, out_indptr, out_indices, out_data):
    """Fill CSR arrays from COO triplets (see ``spgrad._cpu.coo_tocsr``)."""
    xp = _xp(row)
    perm = xp.empty(len(row), dtype=row.dtype)
    coo_tocsr_pattern(n_row, row, col, out_indptr, out_indices, perm)
    out_data[...] = data[perm]


def _row_major_order(xp, indptr, indices):
    """Stable order of the entries by (row, column): two stable sorts (no key overflow)."""
    nnz = len(indices)
    rows = xp.empty(nnz, dtype=indptr.dtype)
    expand_indptr(indptr, rows)
    by_col = _stable_argsort(xp, indices)
    return by_col[_stable_argsort(xp, rows[by_col])]


def csr_sort_indices_pattern(indptr, indices, perm):
    """Sort each row's indices in place and record the permutation (see
    ``spgrad._cpu.csr_sort_indices_pattern``); duplicates keep their order here."""
    xp = _xp(indptr)
    nnz = int(indptr[-1]) if len(indptr) else 0
    order = _row_major_order(xp, indptr, indices[:nnz])
    perm[:nnz] = order
    indices[:nnz] = indices[:nnz][order]


def csr_sort_indices(indptr, indices, data):
    """Sort each row's indices in place, moving ``data`` along (see
    ``spgrad._cpu.csr_sort_indices``)."""
    xp = _xp(indptr)
    nnz = int(indptr[-1]) if len(indptr) else 0
    perm = xp.empty(nnz, dtype=indptr.dtype)
    csr_sort_indices_pattern(indptr, indices, perm)
    data[:nnz] = data[:nnz][perm]


def csr_eliminate_zeros(indptr, indices, data):
    """Remove stored zeros, compacting in place (see ``spgrad._cpu.csr_eliminate_zeros``).
    Returns the new number of entries (read back from the device)."""
    xp = _xp(indptr)
    n = _n_row(indptr)
    nnz = int(indptr[-1]) if len(indptr) else 0
    rows = xp.empty(nnz, dtype=indptr.dtype)
    expand_indptr(indptr, rows)
    keep = data[:nnz] != 0
    kept = int(keep.sum())
    indices[:kept] = indices[:nnz][keep]
    data[:kept] = data[:nnz][keep]
    if n:
        _counts_to_indptr(xp, rows[keep], n, indptr)
    return kept


def csr_masked_dot(n_inner, mask_indptr, mask_indices, Ap, Aj, Ax, Bp, Bj, Bx, out):
    """Fill ``out[p] = sum_l A[i, l] B[j, l]`` on the mask (see
    ``spgrad._cpu.csr_masked_dot``): one thread per mask entry."""
    xp = _xp(mask_indptr)
    n = _n_row(mask_indptr)
    nnz = int(mask_indptr[-1]) if len(mask_indptr) else 0
    rows = xp.empty(nnz, dtype=mask_indptr.dtype)
    expand_indptr(mask_indptr, rows)
    launch("csr_masked_dot", mask_indptr.dtype, out.dtype, nnz,
           (n, mask_indptr, mask_indices, Ap, Aj, Ax, Bp, Bj, Bx, rows, out))


def csr_spmv_backward(indptr, indices, data, x, g, g_data, g_x):
    """Both gradients of ``y = A @ x`` (see ``spgrad._cpu.csr_spmv_backward``): the SDDMM and
    the transposed product as two launches (on a GPU the fusion would only save a launch)."""
    csr_sddmm(indptr, indices, g[:, None], x[:, None], g_data)
    csr_matvec_transpose(indptr, indices, data, g, g_x)


def csr_spmm_backward(indptr, indices, t_indptr, t_indices, t_perm, data, X, G, g_data, g_X):
    """Both gradients of ``Y = A @ X`` (see ``spgrad._cpu.csr_spmm_backward``): the SDDMM and
    the gather over the transposed pattern as two launches (the CPU kernel interleaves them
    to read ``G`` from memory once; a GPU gains nothing from that)."""
    csr_sddmm(indptr, indices, G, X, g_data)
    csr_matvecs_permuted(t_indptr, t_indices, t_perm, data, G, g_X)


def csr_spgemm_backward(n_col, Ap, Aj, Ax, Bp, Bj, Bx, Cp, Cj, Gc, g_A, g_B):
    """Both gradients of ``C = A @ B`` (see ``spgrad._cpu.csr_spgemm_backward``) as two masked
    dots: rows of G against rows of B on A's pattern, rows of Aᵀ against rows of Gᵀ on B's
    (the transposes by the stable sorts of :func:`csr_transpose`)."""
    xp = _xp(Ap)
    n_row, n_inner = _n_row(Ap), _n_row(Bp)
    csr_masked_dot(n_col, Ap, Aj, Cp, Cj, Gc, Bp, Bj, Bx, g_A)
    At = (xp.empty(n_inner + 1, dtype=Ap.dtype), xp.empty(len(Aj), dtype=Ap.dtype),
          xp.empty(len(Ax), dtype=Ax.dtype))
    Ct = (xp.empty(n_col + 1, dtype=Cp.dtype), xp.empty(len(Cj), dtype=Cp.dtype),
          xp.empty(len(Gc), dtype=Gc.dtype))
    csr_transpose(n_inner, Ap, Aj, Ax, *At)
    csr_transpose(n_col, Cp, Cj, Gc, *Ct)
    csr_masked_dot(n_row, Bp, Bj, *At, *Ct, g_B)


def csr_union_map(Ap, Aj, Bp, Bj, Cp, Cj, a_pos, b_pos):
    """Union of two canonical patterns with each entry's positions (see
    ``spgrad._cpu.csr_union_map``): count per row, scan, fill. Returns the number of union
    entries (read back from the device)."""
    xp = _xp(Ap)
    n = _n_row(Ap)
    counts = xp.empty(n, dtype=Ap.dtype)
    launch("csr_union_count", Ap.dtype, None, n, (n, Ap, Aj, Bp, Bj, counts))
    Cp[0] = 0
    Cp[1:] = xp.cumsum(counts, dtype=np.int64)
    a_absent = int(Ap[-1]) if len(Ap) else 0
    b_absent = int(Bp[-1]) if len(Bp) else 0
    launch("csr_union_fill", Ap.dtype, None, n,
           (n, a_absent, b_absent, Ap, Aj, Bp, Bj, Cp, Cj, a_pos, b_pos))
    return int(Cp[-1])


def _runs(xp, indptr, indices):
    """For a CSR with sorted rows: whether each entry starts a run of equal indices, the entry
    rows, and the number of entries."""
    nnz = int(indptr[-1]) if len(indptr) else 0
    rows = xp.empty(nnz, dtype=indptr.dtype)
    expand_indptr(indptr, rows)
    cols = indices[:nnz]
    first = xp.ones(nnz, dtype=bool)
    if nnz > 1:
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return first, rows, nnz


def csr_sum_duplicates_pattern(indptr, indices, out_indptr, out_indices, segment):
    """Pattern of the duplicate sums and the entry-to-output map (see
    ``spgrad._cpu.csr_sum_duplicates_pattern``). Returns the new number of entries."""
    xp = _xp(indptr)
    first, rows, nnz = _runs(xp, indptr, indices)
    segment[:nnz] = xp.cumsum(first, dtype=np.int64) - 1
    kept = int(first.sum())
    out_indices[:kept] = indices[:nnz][first]
    if len(indptr):
        _counts_to_indptr(xp, rows[first], _n_row(indptr), out_indptr)
    return kept


def csr_sum_duplicates(indptr, indices, data):
    """Sum runs of equal indices within rows, compacting in place (see
    ``spgrad._cpu.csr_sum_duplicates``): one thread per run adds it in storage order, so the
    sums equal the CPU kernel's bitwise. Returns the new number of entries."""
    xp = _xp(indptr)
    first, rows, nnz = _runs(xp, indptr, indices)
    starts = xp.concatenate([xp.flatnonzero(first), xp.full(1, nnz)]).astype(np.int64)
    kept = len(starts) - 1
    sums = xp.empty(kept, dtype=data.dtype)
    launch("segment_sum", indptr.dtype, data.dtype, kept, (kept, starts, data, sums))
    data[:kept] = sums
    indices[:kept] = indices[:nnz][first]
    if len(indptr) > 1:
        _counts_to_indptr(xp, rows[first], _n_row(indptr), indptr)
    return kept


def coo_todense(row, col, data, out):
    """Add COO triplets into the dense ``out`` of any strides (see
    ``spgrad._cpu.coo_todense``; Python zeroes ``out``); duplicates add atomically."""
    nnz = len(row)
    rs, cs = (st // out.itemsize for st in out.strides)
    launch("coo_todense", row.dtype, data.dtype, nnz, (nnz, rs, cs, row, col, data, out))


def dia_matvec(offsets, data, n_row, n_col, x, y):
    """Accumulate ``y += A @ x`` for DIA storage (see ``spgrad._cpu.dia_matvec``)."""
    n_diags, width = data.shape
    launch("dia_matvec", offsets.dtype, data.dtype, n_row,
           (n_row, n_col, n_diags, width, offsets, data, x, y))


def csr_row_gather_count(indptr, rows, out_indptr):
    """Fill ``out_indptr`` for gathering ``rows`` and return the number of entries (see
    ``spgrad._cpu.csr_row_gather_count``)."""
    xp = _xp(indptr)
    lengths = (indptr[rows + 1] - indptr[rows]).astype(np.int64)
    out_indptr[0] = 0
    out_indptr[1:] = xp.cumsum(lengths)
    return int(out_indptr[-1])


def csr_row_gather(indptr, indices, rows, out_indptr, out_indices, data, out_data, out_map):
    """Copy the entries of source rows ``rows`` (see ``spgrad._cpu.csr_row_gather``; empty
    ``out_data`` / ``out_map`` are not filled)."""
    n = len(rows)
    launch("csr_row_gather", indptr.dtype, data.dtype, n,
           (n, int(len(out_data) != 0), int(len(out_map) != 0), indptr, indices, rows,
            out_indptr, out_indices, data, out_data, out_map))


def csr_binop(op, n_col, Ap, Aj, Ax, Bp, Bj, Bx, Cp, Cj, Cx):
    """Element-wise ``op`` of two canonical CSR matrices, zeros not stored (see
    ``spgrad._cpu.csr_binop``): count per row, scan, fill. Returns the number of entries."""
    if not BINOP_ADD <= op <= BINOP_MIN:
        raise ValueError(f"csr_binop: unknown operation code {op}")
    if len(Bp) != len(Ap) or len(Cp) != len(Ap):
        raise ValueError(f"csr_binop: row pointers must all have length n_row + 1 = {len(Ap)}, "
                         f"got {len(Bp)} (B) and {len(Cp)} (C)")
    xp = _xp(Ap)
    n = _n_row(Ap)
    counts = xp.empty(n, dtype=Ap.dtype)
    args = (Ap, Aj, Ax, Bp, Bj, Bx)
    launch("csr_binop_rows", Ap.dtype, Ax.dtype, n, (n, op, 1, *args, Cp, counts, Cj, Cx))
    Cp[0] = 0
    Cp[1:] = xp.cumsum(counts, dtype=np.int64)
    nnz = int(Cp[-1])
    cap = min(len(Cj), len(Cx))
    if nnz > cap:
        raise ValueError(f"csr_binop: the result has more than {cap} entries, the capacity of "
                         f"Cj/Cx (MUL needs nnz(A) + nnz(B) when a value is inf or NaN)")
    launch("csr_binop_rows", Ap.dtype, Ax.dtype, n, (n, op, 0, *args, Cp, counts, Cj, Cx))
    return nnz


def csr_kron(n_col_B, Ap, Aj, Ax, Bp, Bj, Bx, Cp, Cj, Cx):
    """``C = kron(A, B)`` in CSR, every product stored (see ``spgrad._cpu.csr_kron``)."""
    xp = _xp(Ap)
    n_a, n_b = _n_row(Ap), _n_row(Bp)
    if len(Cp) != n_a * n_b + 1:
        raise ValueError(f"csr_kron: Cp has length {len(Cp)}, expected {n_a * n_b + 1}")
    lengths = xp.outer(Ap[1:] - Ap[:-1], Bp[1:] - Bp[:-1]).astype(np.int64).reshape(-1)
    Cp[0] = 0
    Cp[1:] = xp.cumsum(lengths)
    launch("csr_kron", Ap.dtype, Ax.dtype, n_a * n_b,
           (n_a, n_b, n_col_B, Ap, Aj, Ax, Bp, Bj, Bx, Cp, Cj, Cx))


def csr_hstack(n_row, col_offset, indptr_cat, indices_cat, data_cat, out_indptr, out_indices,
               out_data):
    """Stack CSR blocks side by side (see ``spgrad._cpu.csr_hstack``)."""
    xp = _xp(indptr_cat)
    n_blocks, stride = len(col_offset), n_row + 1
    if len(indptr_cat) != n_blocks * stride:
        raise ValueError(f"csr_hstack: indptr_cat has length {len(indptr_cat)}, expected "
                         f"n_blocks * (n_row + 1) = {n_blocks * stride}")
    if len(out_indptr) != stride:
        raise ValueError(f"csr_hstack: out_indptr has length {len(out_indptr)}, expected "
                         f"{stride}")
    ptrs = indptr_cat.reshape(n_blocks, stride).astype(np.int64)
    block_nnz = ptrs[:, -1] - ptrs[:, 0]
    base = xp.concatenate([xp.zeros(1, dtype=np.int64), xp.cumsum(block_nnz)[:-1]])
    base = xp.ascontiguousarray(base[:n_blocks], dtype=np.int64)
    out_indptr[0] = 0
    out_indptr[1:] = xp.cumsum((ptrs[:, 1:] - ptrs[:, :-1]).sum(axis=0))
    launch("csr_hstack", indptr_cat.dtype, data_cat.dtype, n_row,
           (n_row, n_blocks, col_offset, indptr_cat, indices_cat, data_cat, base, out_indptr,
            out_indices, out_data))


def _prefix_at(xp, weights, points):
    """``out[k] = weights[:points[k]].sum()`` exactly (integers): a cumulative sum read at the
    given positions."""
    cum = xp.concatenate([xp.zeros(1, dtype=np.int64), xp.cumsum(weights, dtype=np.int64)])
    return cum[points]


def column_map(cols, col_offsets, col_order):
    """Invert a column request (see ``spgrad._cpu.column_map``): a stable sort of the request
    by source column."""
    xp = _xp(cols)
    n_col = len(col_offsets) - 1
    col_order[...] = _stable_argsort(xp, cols)
    _counts_to_indptr(xp, cols, n_col, col_offsets)


def csr_column_select_count(indptr, indices, col_offsets, out_indptr):
    """Fill ``out_indptr`` (int64) of a column selection and return its nnz (see
    ``spgrad._cpu.csr_column_select_count``)."""
    xp = _xp(indptr)
    nnz = int(indptr[-1]) if len(indptr) else 0
    cols = indices[:nnz]
    weights = (col_offsets[cols + 1] - col_offsets[cols]).astype(np.int64)
    out_indptr[...] = _prefix_at(xp, weights, indptr)
    return int(out_indptr[-1])


def csr_column_select(indptr, indices, col_offsets, col_order, out_indptr, out_indices, data,
                      out_data, out_map):
    """Fill a column selection (see ``spgrad._cpu.csr_column_select``)."""
    n = _n_row(indptr)
    launch("csr_column_select", indptr.dtype, data.dtype, n,
           (n, int(len(out_data) != 0), int(len(out_map) != 0), indptr, indices, col_offsets,
            col_order, out_indptr, out_indices, data, out_data, out_map))


def csr_submatrix_count(indptr, indices, r0, r1, c0, c1, out_indptr):
    """Fill ``out_indptr`` (int64) of the submatrix and return its nnz (see
    ``spgrad._cpu.csr_submatrix_count``)."""
    xp = _xp(indptr)
    lo, hi = int(indptr[r0]), int(indptr[r1])
    cols = indices[lo:hi]
    inside = ((cols >= c0) & (cols < c1)).astype(np.int64)
    out_indptr[...] = _prefix_at(xp, inside, indptr[r0:r1 + 1] - lo)
    return int(out_indptr[-1])


def csr_submatrix(indptr, indices, r0, r1, c0, c1, out_indptr, out_indices, data, out_data,
                  out_map):
    """Fill the submatrix (see ``spgrad._cpu.csr_submatrix``)."""
    launch("csr_submatrix", indptr.dtype, data.dtype, r1 - r0,
           (r0, r1, c0, c1, int(len(out_data) != 0), int(len(out_map) != 0), indptr, indices,
            out_indptr, out_indices, data, out_data, out_map))


def _lookup(mode, indptr, indices, sorted_rows, rows, cols, counts=None, offsets=None,
            out_pos=None, first=None, dup=None):
    xp = _xp(indptr)
    n = len(rows)
    spare = xp.empty(0, dtype=np.int64)
    launch("csr_lookup", indptr.dtype, None, n,
           (n, mode, int(bool(sorted_rows)), indptr, indices, rows, cols,
            spare if counts is None else counts, spare if offsets is None else offsets,
            xp.empty(0, dtype=indptr.dtype) if out_pos is None else out_pos,
            spare if first is None else first, spare if dup is None else dup))


def csr_lookup_count(indptr, indices, sorted_rows, rows, cols, counts):
    """``counts[k]`` = entries stored at ``(rows[k], cols[k])``; returns the total (see
    ``spgrad._cpu.csr_lookup_count``)."""
    _lookup(0, indptr, indices, sorted_rows, rows, cols, counts=counts)
    return int(counts.sum())


def csr_lookup_fill(indptr, indices, sorted_rows, rows, cols, offsets, out_pos):
    """Positions of the entries at each ``(rows[k], cols[k])`` (see
    ``spgrad._cpu.csr_lookup_fill``)."""
    _lookup(1, indptr, indices, sorted_rows, rows, cols, offsets=offsets, out_pos=out_pos)


def csr_lookup_offsets(indptr, indices, sorted_rows, rows, cols, offsets):
    """``offsets[k]`` = first position at ``(rows[k], cols[k])`` or -1; returns whether some
    position holds duplicates (see ``spgrad._cpu.csr_lookup_offsets``)."""
    xp = _xp(indptr)
    dup = xp.empty(len(rows), dtype=np.int64)
    _lookup(2, indptr, indices, sorted_rows, rows, cols, first=offsets, dup=dup)
    return bool(dup.any())


def csr_lookup_values(indptr, indices, data, sorted_rows, rows, cols, out):
    """``out[k]`` = sum of the values at ``(rows[k], cols[k])`` (see
    ``spgrad._cpu.csr_lookup_values``)."""
    n = len(rows)
    launch("csr_lookup_values", indptr.dtype, data.dtype, n,
           (n, int(bool(sorted_rows)), indptr, indices, data, rows, cols, out))


def _rows_ordered(indptr, indices, strict):
    xp = _xp(indptr)
    nnz = int(indptr[-1]) if len(indptr) else 0
    if nnz < 2:
        return True
    rows = xp.empty(nnz, dtype=indptr.dtype)
    expand_indptr(indptr, rows)
    cols = indices[:nnz]
    same_row = rows[1:] == rows[:-1]
    bad = (cols[1:] <= cols[:-1]) if strict else (cols[1:] < cols[:-1])
    return not bool((same_row & bad).any())


def csr_has_sorted_indices(indptr, indices):
    """Whether the indices are non-decreasing within every row (see
    ``spgrad._cpu.csr_has_sorted_indices``)."""
    return _rows_ordered(indptr, indices, strict=False)


def csr_has_canonical_format(indptr, indices):
    """Whether the indices are strictly increasing within every row (see
    ``spgrad._cpu.csr_has_canonical_format``)."""
    return _rows_ordered(indptr, indices, strict=True)


def _spgemm_groups(Ap, Aj, Ax, Bp, Bj, Bx, with_values):
    """Expansion-sort-compression SpGEMM, in the CPU kernel's order: every product in
    occurrence order (A's row in storage order, then B's rows), grouped by (row, column) with a
    stable sort (so each group keeps occurrence order), groups ordered within rows by their
    first occurrence. Returns the group of every sorted product, the sorted products' order,
    group starts, the group order and the group rows and columns."""
    xp = _xp(Ap)
    idx = Ap.dtype
    nnz_a = int(Ap[-1]) if len(Ap) else 0
    a_rows = xp.empty(nnz_a, dtype=idx)
    expand_indptr(Ap, a_rows)
    k = Aj[:nnz_a]
    per_entry = (Bp[k + 1] - Bp[k]).astype(np.int64)
    offsets = xp.concatenate([xp.zeros(1, dtype=np.int64), xp.cumsum(per_entry)])
    total = int(offsets[-1])
    rows, cols = xp.empty(total, dtype=idx), xp.empty(total, dtype=idx)
    vtype = Ax.dtype if with_values else np.float64
    vals = xp.empty(total if with_values else 0, dtype=vtype)
    spare = xp.empty(0, dtype=vtype)
    launch("spgemm_expand", idx, vtype, nnz_a,
           (nnz_a, int(with_values), a_rows, Aj, Ax if with_values else spare, Bp, Bj,
            Bx if with_values else spare, offsets[:-1], rows, cols, vals))
    by_col = _stable_argsort(xp, cols)
    order = by_col[_stable_argsort(xp, rows[by_col])]  # by (row, column), occurrence kept
    r, c = rows[order], cols[order]
    first = xp.ones(total, dtype=bool)
    if total > 1:
        first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    starts = xp.flatnonzero(first)
    # order[starts] is each group's first occurrence; sorting by it orders the groups by row
    # (occurrences are row-major) and, within a row, by first appearance
    group_order = _stable_argsort(xp, order[starts])
    return vals, order, starts, group_order, r[starts], c[starts], total


def csr_matmat_row_nnz(n_col, Ap, Aj, Bp, Bj, Cp):
    """Symbolic SpGEMM (see ``spgrad._cpu.csr_matmat_row_nnz``): ``Cp`` (int64) and the
    structural number of entries of ``C = A @ B``."""
    xp = _xp(Ap)
    spare = xp.empty(0, dtype=np.float64)
    _, _, _, _, g_rows, _, _ = _spgemm_groups(Ap, Aj, spare, Bp, Bj, spare, False)
    _counts_to_indptr(xp, g_rows, _n_row(Ap), Cp)
    return int(Cp[-1])


def csr_matmat(n_col, Ap, Aj, Ax, Bp, Bj, Bx, Cp, Cj, Cx):
    """Numeric SpGEMM (see ``spgrad._cpu.csr_matmat``): columns in order of first appearance,
    each value the sum of its products in occurrence order (one thread per entry, so bitwise
    the CPU kernel's). Returns the number of stored values equal to zero."""
    xp = _xp(Ap)
    vals, order, starts, group_order, _, g_cols, total = _spgemm_groups(Ap, Aj, Ax, Bp, Bj, Bx,
                                                                        True)
    n_groups = len(starts)
    bounds = xp.concatenate([starts, xp.full(1, total)]).astype(np.int64)
    sums = xp.empty(n_groups, dtype=Cx.dtype)
    launch("segment_sum", Ap.dtype, Cx.dtype, n_groups,
           (n_groups, bounds, xp.ascontiguousarray(vals[order]), sums))
    Cj[:n_groups] = g_cols[group_order]
    Cx[:n_groups] = sums[group_order]
    return int((Cx[:n_groups] == 0).sum())
