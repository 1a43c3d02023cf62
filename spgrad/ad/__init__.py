"""
Automatic sparse differentiation (:mod:`spgrad.ad`)
===================================================

.. currentmodule:: spgrad.ad

Sparse Jacobians and Hessians of functions written with torch (and spgrad) operations, as spgrad
sparse arrays, in four steps: detect the sparsity pattern by tracing the function once, colour
it, evaluate one Jacobian-vector, vector-Jacobian or Hessian-vector product per colour, and
gather the compressed products into the values of a ``csr_array``. The number of colours, not
the number of variables, sets the cost: a banded Jacobian takes three products at any size.
Jacobians of functions made of movement, indexing, elementwise operations, ``sum``, ``mean``,
matrix products, spgrad's sparse ``A @ x`` and in-place assignments are evaluated faster still
by propagation (``method="propagation"``, the default where it applies): the trace is recorded
and replayed, and one kernel per operation computes the stored entries of each intermediate
Jacobian, with no product per colour.

One-shot and prepared evaluation
--------------------------------

.. autosummary::
   :toctree: generated/

   jacobian
   hessian
   sparse_jacobian
   sparse_hessian
   SparseJacobian
   SparseHessian
   load

Pattern detection
-----------------

.. autosummary::
   :toctree: generated/

   jacobian_pattern
   hessian_pattern
   UnsupportedOperationError

Colourings
----------

.. autosummary::
   :toctree: generated/

   column_coloring
   row_coloring
   star_coloring
   is_column_coloring
   is_row_coloring
   is_star_coloring
"""

from ._coloring import (
    column_coloring,
    is_column_coloring,
    is_row_coloring,
    is_star_coloring,
    row_coloring,
    star_coloring,
)
from ._evaluate import (
    SparseHessian,
    SparseJacobian,
    hessian,
    jacobian,
    load,
    sparse_hessian,
    sparse_jacobian,
)
from ._tracer import UnsupportedOperationError, hessian_pattern, jacobian_pattern

__all__ = [
    "SparseHessian",
    "SparseJacobian",
    "UnsupportedOperationError",
    "column_coloring",
    "hessian",
    "hessian_pattern",
    "is_column_coloring",
    "is_row_coloring",
    "is_star_coloring",
    "jacobian",
    "jacobian_pattern",
    "load",
    "row_coloring",
    "sparse_hessian",
    "sparse_jacobian",
    "star_coloring",
]
