"""
Compressed sparse graph routines (``spgrad.csgraph``)
=====================================================

``spgrad.csgraph`` is ``scipy.sparse.csgraph`` for spgrad's containers: every public name of
SciPy's module, with SciPy's signature and documentation, computed by SciPy. Graphs given as
spgrad sparse arrays or matrices are handed to SciPy as SciPy objects (torch values are
detached: graph algorithms are not differentiable); sparse results come back as spgrad
containers of the family SciPy chose, dense results and scalars exactly as SciPy returns them.

Shortest paths
--------------
shortest_path, dijkstra, floyd_warshall, bellman_ford, johnson, yen

Traversal
---------
breadth_first_order, depth_first_order, breadth_first_tree, depth_first_tree

Components and structure
------------------------
connected_components, laplacian, minimum_spanning_tree, reconstruct_path,
construct_dist_matrix

Flow and matching
-----------------
maximum_flow, maximum_bipartite_matching, min_weight_full_bipartite_matching

Reordering
----------
reverse_cuthill_mckee, structural_rank

Conversion
----------
csgraph_from_dense, csgraph_from_masked, csgraph_masked_from_dense, csgraph_to_dense,
csgraph_to_masked

Exceptions
----------
NegativeCycleError

Examples
--------
>>> import spgrad as sp
>>> from spgrad.csgraph import minimum_spanning_tree, connected_components
>>> G = sp.csr_array([[0, 8, 0, 3], [0, 0, 2, 5], [0, 0, 0, 6], [0, 0, 0, 0]])
>>> T = minimum_spanning_tree(G)
>>> type(T).__name__, T.toarray().astype(int).tolist()
('csr_array', [[0, 0, 0, 3], [0, 0, 2, 5], [0, 0, 0, 0], [0, 0, 0, 0]])
>>> connected_components(G)
(1, array([0, 0, 0, 0], dtype=int32))
"""

import functools

import scipy.sparse as _sps
import scipy.sparse.csgraph as _csgraph

from .._assembly import _native, _plain

NegativeCycleError = _csgraph.NegativeCycleError

__all__ = [name for name in _csgraph.__all__ if name != "NegativeCycleError"]
__all__ += ["NegativeCycleError"]


def _result(x):
    """SciPy's result with every sparse part converted to spgrad (see the module docstring)."""
    if _sps.issparse(x):
        return _native(x)
    if type(x) is tuple:
        return tuple(_result(v) for v in x)
    flow = getattr(x, "flow", None)
    if flow is not None and _sps.issparse(flow):
        # maximum_flow's MaximumFlowResult: the flow network is the sparse part
        x.flow = _native(flow)
    return x


def _wrap(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        args = tuple(_plain(a) for a in args)
        kwargs = {k: _plain(v) for k, v in kwargs.items()}
        return _result(function(*args, **kwargs))

    wrapper.__module__ = __name__
    return wrapper


for _name in __all__:
    if _name != "NegativeCycleError":
        globals()[_name] = _wrap(getattr(_csgraph, _name))
del _name
