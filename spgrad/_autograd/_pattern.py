"""Sparsity patterns: the symbolic half of every differentiable op.

A :class:`CSRPattern` holds the index arrays of a CSR matrix (never differentiated; NumPy arrays,
or CuPy arrays on a GPU) and caches what backward passes need repeatedly: the transposed pattern
with its permutation map, the row index of every entry, and how far its columns stray from the
diagonal (which decides between fused and separate backward kernels).
"""

import numpy as np

from .. import _backend


class CSRPattern:
    """Index arrays (``indptr``, ``indices``) of an ``n_row × n_col`` CSR matrix."""

    __slots__ = ("indptr", "indices", "shape", "_transpose", "_perm", "_rows", "_transpose_of",
                 "_spread", "_stencil", "_canonical")

    def __init__(self, indptr, indices, shape):
        self.indptr = indptr
        self.indices = indices
        self.shape = tuple(shape)
        self._transpose = None
        self._perm = None  # the transposition map as a kernel array of the index dtype
        self._rows = None
        self._transpose_of = None  # (pattern, perm) when this one is that pattern's transpose
        self._spread = None
        self._stencil = None
        self._canonical = None

    @property
    def nnz(self):
        return int(self.indptr[-1])

    def rows(self):
        """Row index of every stored entry (cached)."""
        if self._rows is None:
            rows = _backend.array_module(self.indptr).empty(len(self.indices),
                                                            dtype=self.indices.dtype)
            _backend.kernels(self.indptr).expand_indptr(self.indptr, rows)
            self._rows = rows
        return self._rows

    def canonical(self):
        """Whether the indices increase strictly within every row (cached; on a GPU one check
        and one scalar read)."""
        if self._canonical is None:
            self._canonical = bool(_backend.kernels(self.indptr).csr_has_canonical_format(
                self.indptr, self.indices))
        return self._canonical

    def _sampled_offsets(self):
        """``j - i n_col / n_row`` over the entries of up to 64 evenly spaced rows."""
        n_row, n_col = self.shape
        rows = np.unique(np.linspace(0, n_row - 1, min(n_row, 64)).astype(np.int64))
        dist = [self.indices[self.indptr[i]:self.indptr[i + 1]] - i * (n_col / n_row)
                for i in rows]
        return np.concatenate(dist) if dist else np.empty(0)

    def column_spread(self):
        """How far the columns of the entries lie from the (scaled) diagonal: the 90th
        percentile of ``|j - i n_col / n_row|`` over the entries of up to 64 evenly spaced rows
        (cached; for a pattern of NumPy arrays). A row sweep that reads and updates dense
        vectors at the columns keeps about ``2 * spread`` of their entries in the cache."""
        if self._spread is None:
            dist = np.abs(self._sampled_offsets())
            self._spread = float(np.percentile(dist, 90)) if len(dist) else 0.0
        return self._spread

    def is_stencil(self):
        """Whether the entries lie on few diagonals (a stencil's pattern: the sampled entries
        of :meth:`column_spread` on at most 4 times as many distinct diagonals as a row has
        entries), so that a row sweep reads the dense rows at the columns as a few streams
        the hardware prefetchers follow (cached; for a pattern of NumPy arrays)."""
        if self._stencil is None:
            offsets = self._sampled_offsets()
            per_row = max(self.nnz / max(self.shape[0], 1), 1.0)
            self._stencil = bool(len(np.unique(np.round(offsets))) <= 4 * per_row)
        return self._stencil

    def transpose(self):
        """``(pattern of the transpose, perm)`` with ``values_T = values[perm]`` (cached)."""
        if self._transpose is None:
            if self._transpose_of is not None:
                # the transpose of a transpose: the original, with the inverse permutation
                # (computed only now: most transposes are never transposed back)
                original, perm = self._transpose_of
                xp = _backend.array_module(perm)
                inverse = xp.empty_like(perm)
                inverse[perm] = xp.arange(len(perm), dtype=perm.dtype)
                self._transpose = (original, _backend.index_tensor(inverse))
                self._perm = inverse
                self._transpose_of = None
                return self._transpose
            n_row, n_col = self.shape
            xp = _backend.array_module(self.indptr)
            indptr = xp.empty(n_col + 1, dtype=self.indptr.dtype)
            indices = xp.empty(self.nnz, dtype=self.indices.dtype)
            perm = xp.empty(self.nnz, dtype=self.indices.dtype)
            _backend.kernels(self.indptr).csr_transpose_pattern(
                n_col, self.indptr, self.indices, indptr, indices, perm
            )
            t = CSRPattern(indptr, indices, (n_col, n_row))
            t._transpose_of = (self, perm)
            self._transpose = (t, _backend.index_tensor(perm))
            self._perm = perm
        return self._transpose

    def transpose_perm(self):
        """The map of :meth:`transpose` as an array of the index dtype (for kernels)."""
        self.transpose()
        return self._perm
