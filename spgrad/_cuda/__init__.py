"""CUDA kernels (CUDA C++ in ``*.cu``, compiled by NVRTC through CuPy's ``RawModule``).

The launchers have the names and signatures of ``spgrad._cpu``'s kernels and fill
preallocated CuPy arrays. Importing this module needs neither CuPy nor a GPU: CuPy is imported,
and the sources compiled (once per device), at the first launch; without CuPy or without a
device that launch raises an error naming the cause.

Status: the sparse-dense products (SpMV, SpMM and their transposes), SDDMM and the masked
sparse-sparse product of the SpGEMM backward, pattern union with position maps, transposes (a
stable sort by column), COO to CSR, index sorting, summing duplicates (bitwise as on the CPU),
removal of stored zeros, element-wise binary operations (merge of two canonical patterns),
Kronecker products, horizontal stacking, row gathers, DIA products, diagonals, row and column sums,
densification of CSR and COO, band filters (``tril``/``triu``) and ``expand_indptr``; the
containers do not dispatch to this module yet.
"""

from ._kernels import *  # noqa: F403
from ._kernels import __all__ as __all__
