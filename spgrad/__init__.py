"""
spgrad: SciPy-compatible sparse arrays, on our own kernels
==========================================================

``import spgrad as sp`` is a drop-in replacement for ``import scipy.sparse as sp``: the same
classes, functions, semantics, dtypes and errors, computed by spgrad's own Cython kernels.

Sparse array classes
--------------------
csr_array, csc_array, coo_array, dia_array, bsr_array, lil_array, dok_array

Sparse matrix classes
---------------------
csr_matrix, csc_matrix, coo_matrix, dia_matrix, bsr_matrix, lil_matrix, dok_matrix

The BSR, LIL and DOK classes are SciPy's assembly formats with spgrad's conversions (results
come back as spgrad containers); they are not differentiable.

Building sparse arrays
----------------------
eye, eye_array, identity, diags, diags_array, spdiags, random, random_array, rand,
kron, kronsum, hstack, vstack, bmat, block_array, block_diag, tril, triu

Functions and predicates
------------------------
issparse, isspmatrix, isspmatrix_csr, isspmatrix_csc, isspmatrix_coo, isspmatrix_dia,
isspmatrix_bsr, isspmatrix_lil, isspmatrix_dok,
find, get_index_dtype, safely_cast_index_arrays, from_scipy, from_torch

Memory of the differentiable mode
---------------------------------
set_cache_limit, empty_cache, cache_info (the reused CPU memory of large gradients)

Saving and loading
------------------
save_npz, load_npz (files interchangeable with ``scipy.sparse.save_npz``/``load_npz``)

Submodules
----------
linalg : ``scipy.sparse.linalg`` for spgrad containers (solvers, operators, eigenproblems,
    matrix functions), differentiable where the docstrings say so
csgraph : ``scipy.sparse.csgraph`` routines accepting and returning spgrad containers

SciPy's deprecated submodule namespaces (``csr``, ``construct``, ``base`` …) exist too and
warn ``DeprecationWarning`` like SciPy's.

The documentation site (``doc/``, built with Sphinx) organises these names like SciPy's
reference and adds a user guide.

Warnings
--------
SparseWarning, SparseEfficiencyWarning
"""

from ._autograd._buffers import cache_info, empty_cache, set_cache_limit
from ._assembly import bsr_array, bsr_matrix, dok_array, dok_matrix, lil_array, lil_matrix
from ._base import SparseEfficiencyWarning, SparseWarning, issparse, isspmatrix, sparray
from ._construct import *  # noqa: F403
from ._construct import __all__ as _construct_all
from ._coo import coo_array, coo_matrix, isspmatrix_coo
from ._csc import csc_array, csc_matrix, isspmatrix_csc
from ._csr import csr_array, csr_matrix, isspmatrix_csr
from ._dia import dia_array, dia_matrix, isspmatrix_dia
from ._extract import find, isspmatrix_bsr, isspmatrix_dok, isspmatrix_lil
from ._interop import from_scipy, from_torch
from ._matrix import spmatrix
from ._matrix_io import load_npz, save_npz
from ._sputils import get_index_dtype, safely_cast_index_arrays

__version__ = "0.1.0.dev0"

__all__ = [
    "SparseEfficiencyWarning",
    "SparseWarning",
    "bsr_array",
    "cache_info",
    "empty_cache",
    "bsr_matrix",
    "dok_array",
    "dok_matrix",
    "lil_array",
    "lil_matrix",
    "coo_array",
    "coo_matrix",
    "csc_array",
    "csc_matrix",
    "csr_array",
    "csr_matrix",
    "dia_array",
    "dia_matrix",
    "find",
    "from_scipy",
    "from_torch",
    "get_index_dtype",
    "issparse",
    "isspmatrix",
    "isspmatrix_bsr",
    "isspmatrix_dok",
    "isspmatrix_lil",
    "isspmatrix_coo",
    "isspmatrix_csc",
    "isspmatrix_csr",
    "isspmatrix_dia",
    "load_npz",
    "save_npz",
    "safely_cast_index_arrays",
    "set_cache_limit",
    "sparray",
    "spmatrix",
    *_construct_all,
]

from . import csgraph  # noqa: E402
from . import linalg  # noqa: E402
from ._deprecated import install as _install_deprecated  # noqa: E402

_install_deprecated(__name__)  # spgrad.csr, spgrad.construct … (deprecated, as in SciPy)
del _install_deprecated
