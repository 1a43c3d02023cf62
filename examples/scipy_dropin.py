"""A SciPy sparse script that runs unchanged on spgrad.

The function :func:`workload` below is an ordinary ``scipy.sparse`` script -- assemble a 2-D
Poisson matrix, assemble a random matrix from (row, col, value) triplets, multiply, add,
transpose, reduce, take triangles -- written once against a module ``sp``. This demo runs it
with ``sp = scipy.sparse`` and with ``sp = spgrad``, checks that every result agrees (values,
dtypes, index dtypes, classes, shapes) and prints how long each step took with each library.

Run::

    python examples/scipy_dropin.py            # m x m grid, default m = 400 (n = 160 000)
    python examples/scipy_dropin.py --grid 200 --repeat 3

The exit status is 1 if any result differs, so the demo doubles as an end-to-end check.
"""

import argparse
import contextlib
import importlib
import sys
import time
from collections import defaultdict

import numpy as np


# --------------------------------------------------------------------------------------------
# The user's script. Nothing below this line and above `main` knows which library `sp` is.
# --------------------------------------------------------------------------------------------
def workload(sp, m, rng_seed=0, timed=None):
    """Run a typical sparse workload with module ``sp``; return its results by name.

    ``timed(name)`` is a context manager that times one step (a no-op when omitted).
    """
    timed = timed or (lambda name: contextlib.nullcontext())
    n = m * m
    rng = np.random.default_rng(rng_seed)
    out = {}

    with timed("assemble 2-D Poisson: kron/eye/diags"):
        T = sp.diags_array([-1.0, 2.0, -1.0], offsets=[-1, 0, 1], shape=(m, m))
        Im = sp.eye_array(m)
        A = (sp.kron(T, Im, format="csr") + sp.kron(Im, T, format="csr")).tocsr()
    out["A (Poisson)"] = A

    with timed("assemble random: COO triplets -> CSR"):
        # 8 entries per row on average, with duplicate (i, j) pairs that COO -> CSR must sum.
        nnz = 8 * n
        rows = rng.integers(0, n, nnz)
        cols = rng.integers(0, n, nnz)
        vals = rng.standard_normal(nnz)
        R = sp.coo_array((vals, (rows, cols)), shape=(n, n)).tocsr()
    out["R (random)"] = R

    x = rng.standard_normal(n)
    X = rng.standard_normal((n, 8))

    with timed("SpMV  A @ x"):
        out["A @ x"] = A @ x
    with timed("SpMM  R @ X (8 columns)"):
        out["R @ X"] = R @ X
    with timed("SpMV transpose  R.T @ x"):
        out["R.T @ x"] = R.T @ x
    with timed("Jacobi, 20 sweeps (SpMV + diagonal)"):
        b = np.ones(n)
        d = A.diagonal()
        u = np.zeros(n)
        for _ in range(20):
            u = u + (b - A @ u) / d
        out["Jacobi u"] = u
    with timed("SpGEMM  A @ A"):
        out["A @ A"] = A @ A
    with timed("SpGEMM  R @ A"):
        out["R @ A"] = R @ A
    with timed("add  R + R.T"):
        out["R + R.T"] = R + R.T
    with timed("add  A - 2.5 * R"):
        out["A - 2.5*R"] = A - 2.5 * R
    with timed("transpose  R.T.tocsr()"):
        out["R.T.tocsr()"] = R.T.tocsr()
    with timed("convert  R.tocsc()"):
        out["R.tocsc()"] = R.tocsc()
    with timed("elementwise  A.multiply(R)"):
        out["A.multiply(R)"] = A.multiply(R)
    with timed("reductions  sum(axis=0/1), sum()"):
        out["R.sum(axis=0)"] = R.sum(axis=0)
        out["R.sum(axis=1)"] = R.sum(axis=1)
        out["R.sum()"] = R.sum()
    with timed("diagonal, trace"):
        out["R.diagonal()"] = R.diagonal()
        out["A.trace()"] = A.trace()
    with timed("tril(R, k=-1), triu(A)"):
        out["tril(R, -1)"] = sp.tril(R, k=-1, format="csr")
        out["triu(A)"] = sp.triu(A, format="csr")
    with timed("legacy csr_matrix: M * x, M.sum(axis=1)"):
        M = sp.csr_matrix(R)
        out["M * x"] = M * x  # matrix family: '*' is the matrix product
        out["M.sum(axis=1)"] = M.sum(axis=1)  # ... and reductions return np.matrix
    return out


# --------------------------------------------------------------------------------------------
# Comparison and timing harness.
# --------------------------------------------------------------------------------------------
def _is_sparse(obj):
    return hasattr(obj, "format") and hasattr(obj, "nnz") and hasattr(obj, "tocoo")


def _canonical_csr(S):
    """A result's entries as a canonical SciPy CSR (sorted indices, duplicates summed).

    Only the candidate's raw COO arrays are used, so the comparison itself runs on SciPy.
    """
    import scipy.sparse

    C = S.tocoo()
    row, col, data = (np.asarray(a) for a in (C.row, C.col, C.data))
    canon = scipy.sparse.coo_array((data, (row, col)), shape=S.shape).tocsr()
    canon.sort_indices()
    return canon


def compare(name, ref, got, rtol=1e-12):
    """Return a list of human-readable differences between two results (empty if equal)."""
    problems = []
    if type(ref).__name__ != type(got).__name__:
        problems.append(f"class {type(got).__name__}, SciPy gives {type(ref).__name__}")
        return problems
    if _is_sparse(ref):
        for attr in ("format", "shape", "dtype", "nnz"):
            if getattr(ref, attr) != getattr(got, attr):
                problems.append(f"{attr} {getattr(got, attr)!r}, SciPy: {getattr(ref, attr)!r}")
        for attr in ("indices", "row"):
            if hasattr(ref, attr) and getattr(ref, attr).dtype != getattr(got, attr).dtype:
                problems.append(
                    f"index dtype {getattr(got, attr).dtype}, SciPy: {getattr(ref, attr).dtype}"
                )
        if problems:
            return problems
        r, g = _canonical_csr(ref), _canonical_csr(got)
        if not (np.array_equal(r.indptr, g.indptr) and np.array_equal(r.indices, g.indices)):
            problems.append("sparsity pattern differs")
        elif not np.allclose(g.data, r.data, rtol=rtol, atol=rtol * np.abs(r.data).max(initial=0)):
            problems.append(f"values differ, max abs err {np.max(np.abs(g.data - r.data)):.3g}")
        return problems
    ref_a, got_a = np.asarray(ref), np.asarray(got)
    if ref_a.dtype != got_a.dtype:
        problems.append(f"dtype {got_a.dtype}, SciPy: {ref_a.dtype}")
    if ref_a.shape != got_a.shape:
        problems.append(f"shape {got_a.shape}, SciPy: {ref_a.shape}")
    elif not np.allclose(got_a, ref_a, rtol=rtol, atol=rtol * np.abs(ref_a).max(initial=0)):
        problems.append(f"values differ, max abs err {np.max(np.abs(got_a - ref_a)):.3g}")
    return problems


class StepTimer:
    """Collects wall-clock times of named steps over repeated runs."""

    def __init__(self):
        self.times = defaultdict(list)
        self.current = None  # the step being run, to say where an exception came from

    @contextlib.contextmanager
    def __call__(self, name):
        self.current = name
        t0 = time.perf_counter()
        yield
        self.times[name].append(time.perf_counter() - t0)

    def median(self, name):
        return float(np.median(self.times[name]))


def run_both(ref_sp, cand_sp, m, repeat):
    """Time both libraries, alternating runs so that neither gets a warmer machine."""
    ref_t, got_t = StepTimer(), StepTimer()
    workload(ref_sp, m)  # warm-up: lazy imports, first-touch page faults
    workload(cand_sp, m, timed=StepTimer())
    for _ in range(repeat):
        ref = workload(ref_sp, m, timed=ref_t)
        got = workload(cand_sp, m, timed=got_t)
    return ref, ref_t, got, got_t


def describe_threads(module):
    cpu = getattr(module, "_cpu", None)
    if cpu is not None and hasattr(cpu, "get_num_threads"):
        omp = "on" if cpu.openmp_enabled() else "off"
        return f"{cpu.get_num_threads()} thread(s), OpenMP {omp}"
    return "single-threaded"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", type=int, default=400, help="Poisson grid side m (n = m*m)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per library (median)")
    parser.add_argument(
        "--module", default="spgrad", help="module to compare with scipy.sparse (default spgrad)"
    )
    args = parser.parse_args(argv)

    import scipy
    import scipy.sparse

    candidate = importlib.import_module(args.module)
    name = args.module.split(".")[0]
    version = getattr(importlib.import_module(name), "__version__", "?")
    n = args.grid**2
    print(f"2-D Poisson on a {args.grid}x{args.grid} grid (n = {n:,}) and a random {n:,}x{n:,}")
    print(f"matrix with ~8 entries per row; median of {args.repeat} runs per library.")
    print(
        f"scipy {scipy.__version__} (single-threaded) vs {name} {version} "
        f"({describe_threads(candidate)})\n"
    )

    try:
        ref, ref_t, got, got_t = run_both(scipy.sparse, candidate, args.grid, args.repeat)
    except Exception as exc:  # noqa: BLE001 -- any exception from either library is reported
        tb = exc.__traceback__
        while tb.tb_next is not None and tb.tb_frame.f_code is not workload.__code__:
            tb = tb.tb_next
        lib = "scipy" if tb.tb_frame.f_locals.get("sp") is scipy.sparse else name
        print(
            f"MISMATCH: {lib} raised at line {tb.tb_lineno} of workload():\n"
            f"  {type(exc).__name__}: {exc}"
        )
        return 1

    failures = {}
    for key in ref:
        problems = compare(key, ref[key], got.get(key)) if key in got else ["missing"]
        if problems:
            failures[key] = problems

    w = max(len(s) for s in ref_t.times)
    print(f"| {'step':{w}s} | scipy ms | {name} ms | speed-up |")
    print(f"|{'-' * (w + 2)}|---------:|{'-' * (len(name) + 4)}:|---------:|")
    total_ref = total_got = 0.0
    for step in ref_t.times:
        a, b = ref_t.median(step), got_t.median(step)
        total_ref, total_got = total_ref + a, total_got + b
        print(f"| {step:{w}s} | {a * 1e3:8.1f} | {b * 1e3:{len(name) + 3}.1f} | {a / b:7.2f}x |")
    print(
        f"| {'total':{w}s} | {total_ref * 1e3:8.1f} | "
        f"{total_got * 1e3:{len(name) + 3}.1f} | {total_ref / total_got:7.2f}x |"
    )

    print(f"\nspeed-up = scipy time / {name} time (> 1: {name} is faster); per-step medians.")
    if failures:
        print(f"MISMATCH: {len(failures)} of {len(ref)} results differ from SciPy:")
        for key, problems in failures.items():
            print(f"  {key}: " + "; ".join(problems))
        return 1
    print(f"OK: all {len(ref)} results agree with SciPy (values, dtypes, index dtypes, classes).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
