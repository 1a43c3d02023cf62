"""spgrad.csgraph: every routine of scipy.sparse.csgraph on random graphs given as spgrad
containers, compared with SciPy on the same graph (see conftest.py for ``compare``)."""

import inspect

import numpy as np
import pytest
import scipy.sparse as scipy_sparse
import scipy.sparse.csgraph as scipy_csgraph

from conftest import FAMILIES, SPGRAD, Sp, compare, make_raw, need_spgrad

SEEDS = [0, 1, 2, 3]


def graph(seed, n=7, density=0.35, idx=np.int32, integer=False, dtype=np.float64):
    """A random directed graph with positive weights (nonsymmetric, some isolated nodes)."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n, n)) < density
    np.fill_diagonal(mask, False)
    mask[n - 1, :] = False  # a sink
    weights = rng.integers(1, 10, size=(n, n))
    entries = [(i, j, weights[i, j] if integer else float(weights[i, j]))
               for i, j in zip(*np.nonzero(mask))]
    entries = entries[::-1]  # unsorted input
    return make_raw((n, n), entries, np.int32 if integer else dtype,
                    np.int64 if seed % 2 else idx, canonical=False,
                    label=f"graph{seed}")


def G(seed, fmt="csr", family="array", **kw):
    return Sp(graph(seed, **kw), fmt, family)


def cg(mod):
    return mod.csgraph


PARAMS = [(seed, family) for seed in SEEDS for family in FAMILIES]


@pytest.mark.parametrize("seed,family", PARAMS)
@pytest.mark.parametrize("directed", [True, False])
@pytest.mark.parametrize("connection", ["weak", "strong"])
def test_connected_components(seed, family, directed, connection):
    compare(lambda mod, A: cg(mod).connected_components(A, directed=directed,
                                                          connection=connection),
            G(seed, family=family))


@pytest.mark.parametrize("seed,family", PARAMS)
@pytest.mark.parametrize("normed", [False, True])
@pytest.mark.parametrize("return_diag", [False, True])
def test_laplacian(seed, family, normed, return_diag):
    compare(lambda mod, A: cg(mod).laplacian(A, normed=normed, return_diag=return_diag),
            G(seed, family=family))


@pytest.mark.parametrize("seed,family", PARAMS)
@pytest.mark.parametrize("method", ["auto", "FW", "D", "BF", "J"])
@pytest.mark.parametrize("directed", [True, False])
def test_shortest_path(seed, family, method, directed):
    compare(lambda mod, A: cg(mod).shortest_path(A, method=method, directed=directed,
                                                   return_predecessors=True),
            G(seed, family=family))


@pytest.mark.parametrize("seed,family", PARAMS)
@pytest.mark.parametrize("name", ["floyd_warshall", "dijkstra", "bellman_ford", "johnson"])
def test_single_algorithms(seed, family, name):
    kwargs = {} if name == "floyd_warshall" else {"indices": [0, 2]}
    compare(lambda mod, A: getattr(cg(mod), name)(A, return_predecessors=True, **kwargs),
            G(seed, family=family))
    compare(lambda mod, A: getattr(cg(mod), name)(A, unweighted=True),
            G(seed, family=family))


@pytest.mark.parametrize("seed,family", PARAMS)
def test_dijkstra_limit_min_only(seed, family):
    compare(lambda mod, A: cg(mod).dijkstra(A, indices=[0, 1], limit=6.0, min_only=True,
                                            return_predecessors=True),
            G(seed, family=family))


@pytest.mark.parametrize("seed,family", PARAMS)
def test_yen(seed, family):
    compare(lambda mod, A: cg(mod).yen(A, 0, 5, 3, return_predecessors=True),
            G(seed, family=family, density=0.6))


@pytest.mark.parametrize("seed,family", PARAMS)
@pytest.mark.parametrize("name", ["breadth_first_order", "depth_first_order",
                                  "breadth_first_tree", "depth_first_tree"])
@pytest.mark.parametrize("directed", [True, False])
def test_traversal(seed, family, name, directed):
    compare(lambda mod, A: getattr(cg(mod), name)(A, 0, directed=directed),
            G(seed, family=family))


@pytest.mark.parametrize("seed,family", PARAMS)
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "dia"])
def test_minimum_spanning_tree(seed, family, fmt):
    compare(lambda mod, A: cg(mod).minimum_spanning_tree(A), G(seed, fmt, family))


@pytest.mark.parametrize("seed,family", PARAMS)
@pytest.mark.parametrize("symmetric_mode", [False, True])
def test_reverse_cuthill_mckee(seed, family, symmetric_mode):
    compare(lambda mod, A: cg(mod).reverse_cuthill_mckee(A, symmetric_mode=symmetric_mode),
            G(seed, family=family))


@pytest.mark.parametrize("seed,family", PARAMS)
@pytest.mark.parametrize("method", ["dinic", "edmonds_karp"])
def test_maximum_flow(seed, family, method):
    def body(mod, A):
        res = cg(mod).maximum_flow(A, 0, 6, method=method)
        return res.flow_value, res.flow

    compare(body, G(seed, family=family, integer=True, density=0.5))


@pytest.mark.parametrize("seed,family", PARAMS)
@pytest.mark.parametrize("perm_type", ["row", "column"])
def test_maximum_bipartite_matching(seed, family, perm_type):
    compare(lambda mod, A: cg(mod).maximum_bipartite_matching(A, perm_type=perm_type),
            G(seed, family=family))


@pytest.mark.parametrize("seed,family", PARAMS)
@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("density", [0.35, 1.0])
def test_min_weight_full_bipartite_matching(seed, family, maximize, density):
    # density 1.0 has a full matching; 0.35 (with a sink row) does not: SciPy raises
    def body(mod, A):
        if density == 1.0:
            A = A + mod.eye_array(A.shape[0]) if family == "array" else \
                A + mod.eye(A.shape[0])
            A = A.tocsr()
        return cg(mod).min_weight_full_bipartite_matching(A, maximize=maximize)

    compare(body, G(seed, family=family, density=density))


@pytest.mark.parametrize("seed,family", PARAMS)
def test_structural_rank(seed, family):
    compare(lambda mod, A: cg(mod).structural_rank(A), G(seed, family=family))


@pytest.mark.parametrize("seed,family", PARAMS)
def test_construct_dist_matrix_and_reconstruct_path(seed, family):
    S = scipy_sparse.csr_array(graph(seed).dense())
    _, pred = scipy_csgraph.shortest_path(S, return_predecessors=True, indices=[0, 3])
    compare(lambda mod, A, P: cg(mod).construct_dist_matrix(A, P), G(seed, family=family),
            pred)
    compare(lambda mod, A, P: cg(mod).reconstruct_path(A, P[0]), G(seed, family=family),
            pred)


@pytest.mark.parametrize("seed,family", PARAMS)
def test_conversions(seed, family):
    D = graph(seed).dense()
    compare(lambda mod, X: cg(mod).csgraph_from_dense(X, null_value=0), D)
    compare(lambda mod, X: cg(mod).csgraph_masked_from_dense(X), D)
    masked = np.ma.masked_equal(D, 0)
    compare(lambda mod: cg(mod).csgraph_from_masked(masked.copy()))
    compare(lambda mod, A: cg(mod).csgraph_to_dense(A, null_value=np.inf),
            G(seed, family=family))
    compare(lambda mod, A: cg(mod).csgraph_to_masked(A), G(seed, family=family))


def test_negative_cycle_error():
    raw = make_raw((3, 3), [(0, 1, 1.0), (1, 2, -3.0), (2, 0, 1.0)], np.float64)
    exp, got = compare(lambda mod, A: cg(mod).bellman_ford(A), Sp(raw, "csr", "array"))
    need_spgrad()
    assert isinstance(got.exc, SPGRAD.csgraph.NegativeCycleError)


def test_sparse_results_are_spgrad_containers():
    need_spgrad()
    A = SPGRAD.csr_matrix(graph(0).dense())
    assert type(SPGRAD.csgraph.minimum_spanning_tree(A)) is SPGRAD.csr_matrix
    assert type(SPGRAD.csgraph.laplacian(SPGRAD.csr_array(A))) is SPGRAD.coo_array
    res = SPGRAD.csgraph.maximum_flow(SPGRAD.csr_array(graph(0, integer=True).dense()), 0, 6)
    assert type(res.flow) is SPGRAD.csr_array


def test_torch_graph_is_detached():
    need_spgrad()
    pytest.importorskip("torch")
    A = SPGRAD.csr_array(graph(1).dense()).requires_grad_()
    got = SPGRAD.csgraph.shortest_path(A)
    exp = scipy_csgraph.shortest_path(scipy_sparse.csr_array(graph(1).dense()))
    np.testing.assert_array_equal(got, exp)


def test_public_names_signatures_and_docs():
    need_spgrad()
    names = [n for n in dir(scipy_csgraph) if not n.startswith("_") and n != "test"]
    names = [n for n in names if not inspect.ismodule(getattr(scipy_csgraph, n))]
    assert set(scipy_csgraph.__all__) <= set(names)
    module_doc = SPGRAD.csgraph.__doc__
    for name in scipy_csgraph.__all__:
        ours, theirs = getattr(SPGRAD.csgraph, name), getattr(scipy_csgraph, name)
        assert name in SPGRAD.csgraph.__all__
        assert name in module_doc, name
        assert ours.__doc__ == theirs.__doc__, name
        if callable(theirs) and not isinstance(theirs, type):
            assert ours is not theirs, name
            assert str(inspect.signature(ours)) == str(inspect.signature(theirs)), name
