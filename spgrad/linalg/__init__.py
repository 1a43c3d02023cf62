"""
Sparse linear algebra (``spgrad.linalg``)
=========================================

``spgrad.linalg`` is ``scipy.sparse.linalg`` for spgrad's containers: replace
``from scipy.sparse.linalg import spsolve`` by ``from spgrad.linalg import spsolve``.

**Plain mode** (NumPy values and right-hand sides): every function gives SciPy's results —
values, dtypes, ``info`` codes, callbacks, warnings (``MatrixRankWarning`` and NaN for a singular
``spsolve``) and errors. Factorisations, Krylov iterations and eigensolvers are SciPy's own
(SuperLU, ARPACK, PROPACK, LOBPCG); ``spsolve_triangular`` runs on spgrad's own kernel.

**Differentiable mode** (a sparse operand with torch values, or a torch right-hand side): the
solvers are nodes in torch autograd, with gradients on the stored pattern of the matrix and on
the dense operands:

- ``spsolve``, ``splu(A).solve``, ``factorized``: one SuperLU factorisation; the backward
  solves the adjoint system with the same factors (``trans='T'``/``'H'``); double backward and
  forward mode.
- ``spsolve_triangular``: the backward is a transposed triangular solve on the same arrays;
  the gradient lives on the triangle actually used.
- Iterative solvers: ``grad="implicit"`` (default) differentiates the solution of the linear
  system (the backward solves ``Aᴴ λ = ḡ`` with the same method); ``grad="unroll"`` (cg,
  bicg, bicgstab, cgs, tfqmr, qmr, gmres, minres, lsqr, lsmr) differentiates the iterations
  actually run, so a preconditioner ``M`` (qmr: ``M1``, ``M2``) with torch values is learned
  too.
- ``norm``, ``matrix_power``, ``expm_multiply``, ``expm`` (dense); eigenvalues of ``eigsh``,
  ``eigs``, ``lobpcg`` and singular values of ``svds`` (``∂λ = v vᴴ`` on the pattern), and
  their vectors where the docstrings say so.

Direct solvers
--------------
spsolve, splu, spilu, factorized, SuperLU, inv, use_solver, MatrixRankWarning

Triangular systems
------------------
spsolve_triangular, is_sptriangular, spbandwidth

Iterative solvers
-----------------
cg, bicg, bicgstab, cgs, gmres, lgmres, minres, qmr, gcrotmk, tfqmr, lsqr, lsmr

Linear operators
----------------
LinearOperator, aslinearoperator, LaplacianNd

Matrix norms and functions
--------------------------
norm, onenormest, matrix_power, expm, expm_multiply, funm_multiply_krylov

Eigenvalue problems and singular values
---------------------------------------
eigsh, eigs, svds, lobpcg, ArpackError, ArpackNoConvergence

Examples
--------
>>> import numpy as np
>>> import spgrad as sp
>>> from spgrad.linalg import spsolve
>>> A = sp.csc_array([[4.0, 1.0], [1.0, 3.0]])
>>> x = spsolve(A, np.array([1.0, 2.0]))
>>> np.allclose(A @ x, [1.0, 2.0])
True
"""

from ._dsolve import (
    MatrixRankWarning,
    SuperLU,
    factorized,
    inv,
    spilu,
    splu,
    spsolve,
    use_solver,
)
from ._eigen import ArpackError, ArpackNoConvergence, eigs, eigsh, lobpcg, svds
from ._interface import LinearOperator, aslinearoperator
from ._isolve import (
    bicg,
    bicgstab,
    cg,
    cgs,
    gcrotmk,
    gmres,
    lgmres,
    lsmr,
    lsqr,
    minres,
    qmr,
    tfqmr,
)
from ._matfuncs import (
    LaplacianNd,
    expm,
    expm_multiply,
    funm_multiply_krylov,
    matrix_power,
    norm,
    onenormest,
)
from ._triangular import is_sptriangular, spbandwidth, spsolve_triangular

__all__ = [
    "ArpackError",
    "ArpackNoConvergence",
    "LaplacianNd",
    "LinearOperator",
    "MatrixRankWarning",
    "SuperLU",
    "aslinearoperator",
    "bicg",
    "bicgstab",
    "cg",
    "cgs",
    "eigs",
    "eigsh",
    "expm",
    "expm_multiply",
    "factorized",
    "funm_multiply_krylov",
    "gcrotmk",
    "gmres",
    "inv",
    "is_sptriangular",
    "lgmres",
    "lobpcg",
    "lsmr",
    "lsqr",
    "matrix_power",
    "minres",
    "norm",
    "onenormest",
    "qmr",
    "spbandwidth",
    "spilu",
    "splu",
    "spsolve",
    "spsolve_triangular",
    "svds",
    "tfqmr",
    "use_solver",
]
