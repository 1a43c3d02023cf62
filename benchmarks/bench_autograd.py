"""Differentiable-mode benchmark: the cost of a backward pass, and spgrad vs torch.sparse.

Part 1 — backward overhead. For each operation, the median time of the forward pass (values
requiring grad, graph recorded) and of forward + backward (``out.backward(g)`` with a fixed
random ``g`` of the output's shape), the two alternating, on the foundation benchmark's
matrices and one more:

* 2-D Poisson (5-point) on an m x m grid, default m = 1000: n = 10**6, nnz ~ 5*10**6;
* random n x n with 10 nonzeros per row, default n = 10**5;
* beyond the issue's sizes, a banded random n x n with 10 nonzeros per row at random columns
  within 2000 of the diagonal, default n = 3*10**5 (the pattern of a mesh after a bandwidth-
  reducing ordering: near the diagonal, yet no stencil, so the one-thread SpMM backward is
  the prefetching one-sweep kernel, which neither matrix above reaches).

Operations: SpMV ``A @ x`` and SpMM ``A @ X`` (16 columns; gradients for A's values and the dense
operand), ``A + B`` (B = A with rows shifted by one: another pattern), ``A.T.tocsr()`` and
SpGEMM ``A @ A``. The differentiable-mode issue targets (fwd+bwd) / fwd ≤ 3 for SpMV, SpMM, add
and transpose, ≤ 4 for SpGEMM; the verdict takes the ratio of the medians. "ratio of minima"
divides the fastest forward + backward by the fastest forward instead: the estimator that
``timeit`` recommends where other processes slow some rounds down (on a shared virtual machine
the forward of the random matrix alone moves 1.5-2x from run to run). "page faults" counts
the new memory pages the operating system provided during one forward + backward
(``ru_minflt``; 0 where unavailable): a gradient array too large for the C allocator to reuse
freed memory (glibc maps every block above 32 MB afresh) is zeroed page by page by the kernel
on first write, at every backward.

Part 2 — spgrad vs torch's own sparse CSR tensors with ``values.requires_grad`` (same ops where
torch has them), n = 30 000, nnz = 150 000 (5 random entries per row): forward + backward time and
the peak memory growth of one forward + backward, each measured in a fresh subprocess
(``ru_maxrss``), so one library's allocations never count against the other.

Both parts run single-threaded (``torch.set_num_threads(1)``, ``spgrad._cpu.set_num_threads(1)``)
unless ``--threads`` says otherwise.

Usage::

    python benchmarks/bench_autograd.py            # full sizes, several minutes
    python benchmarks/bench_autograd.py --quick    # small sizes, under a minute
    python benchmarks/bench_autograd.py --part 1   # part 1 only (part 2 spends minutes in torch)

The Markdown report goes to stdout and to ``benchmarks/results/autograd.md``
(``autograd-quick.md`` with ``--quick``; ``--output`` picks another path).
"""

import argparse
import datetime
import json
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_foundation import int32_indices, poisson_2d, random_rows  # noqa: E402

import spgrad  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
F64 = torch.float64


def banded_rows(n, per_row, half_width, rng):
    """n x n, ``per_row`` entries per row at uniform random columns within ``half_width`` of
    the diagonal (clipped to the matrix; rare duplicates summed)."""
    rows = np.repeat(np.arange(n), per_row)
    cols = np.clip(rows + rng.integers(-half_width, half_width + 1, rows.size), 0, n - 1)
    vals = rng.standard_normal(rows.size)
    A = scipy.sparse.coo_array((vals, (rows, cols)), shape=(n, n)).tocsr()
    A.sort_indices()
    return int32_indices(A)


# --------------------------------------------------------------------------------------------
# Operations: each builds its inputs once (outside the timer) and returns forward / backward
# --------------------------------------------------------------------------------------------
def spgrad_inputs(A_scipy, rng, spmm_cols=16):
    n = A_scipy.shape[0]
    B_scipy = A_scipy[np.roll(np.arange(n), 1)].tocsr()
    B_scipy.sort_indices()
    A = spgrad.csr_array(A_scipy).requires_grad_()
    B = spgrad.csr_array(B_scipy).requires_grad_()
    x = torch.from_numpy(rng.standard_normal(n)).requires_grad_()
    X = torch.from_numpy(rng.standard_normal((n, spmm_cols))).requires_grad_()
    return {"A": A, "B": B, "x": x, "X": X}


def _out_tensor(out):
    """The tensor that carries the graph: a dense result itself, a sparse result's values."""
    return out.data if spgrad.issparse(out) else out


SPGRAD_OPS = {
    "SpMV `A @ x`": lambda o: o["A"] @ o["x"],
    "SpMM `A @ X` (16 cols)": lambda o: o["A"] @ o["X"],
    "`A + B`": lambda o: o["A"] + o["B"],
    "`A.T.tocsr()`": lambda o: o["A"].T.tocsr(),
    "SpGEMM `A @ A`": lambda o: o["A"] @ o["A"],
}
TARGET = {"SpGEMM `A @ A`": 4.0}  # others: 3.0


def clear_grads(o):
    for k in ("A", "B"):
        o[k].data.grad = None
    for k in ("x", "X"):
        o[k].grad = None


def _minor_faults():
    """Page faults of this process so far (new pages the kernel had to provide), or 0 where
    the ``resource`` module does not exist."""
    try:
        import resource
    except ImportError:
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_op(fn, o, rng, rounds):
    """Seconds of forward and of forward + backward over ``rounds`` alternating rounds (two
    arrays), and the median page faults of one forward + backward."""
    out = _out_tensor(fn(o))
    g = torch.from_numpy(rng.standard_normal(tuple(out.shape)))
    fwd, both, faults = [], [], []
    for _ in range(rounds):
        clear_grads(o)
        t0 = time.perf_counter()
        fn(o)
        fwd.append(time.perf_counter() - t0)
        f0 = _minor_faults()
        t0 = time.perf_counter()
        _out_tensor(fn(o)).backward(g)
        both.append(time.perf_counter() - t0)
        faults.append(_minor_faults() - f0)
    return np.array(fwd), np.array(both), int(np.median(faults))


def part1(cases, rounds, out):
    out("## Backward overhead: (forward + backward) / forward\n")
    verdicts = []
    for title, A_scipy in cases:
        rng = np.random.default_rng(0)
        o = spgrad_inputs(A_scipy, rng)
        out(f"\n### {title}: n = {A_scipy.shape[0]:,}, nnz = {A_scipy.nnz:,}, float64\n")
        out("| operation | forward ms | forward + backward ms | ratio | target | "
            "ratio of minima | page faults |")
        out("|---|---:|---:|---:|:---:|---:|---:|")
        for op, fn in SPGRAD_OPS.items():
            fwd, both, faults = time_op(fn, o, rng, rounds)
            f, fb = np.median(fwd), np.median(both)
            limit = TARGET.get(op, 3.0)
            ok = fb / f <= limit
            verdicts.append((f"{title}: {op} ratio ≤ {limit:g}", ok, f"{fb / f:.2f}"))
            out(f"| {op} | {f * 1e3:.1f} | {fb * 1e3:.1f} | {fb / f:.2f} | "
                f"{'met' if ok else '**missed**'} (≤ {limit:g}) | "
                f"{both.min() / fwd.min():.2f} | {faults} |")
        del o
    return verdicts


# --------------------------------------------------------------------------------------------
# Part 2: one (library, op) per fresh process, reporting time and peak memory growth
# --------------------------------------------------------------------------------------------
def _torch_csr(A_scipy, values):
    """A torch sparse CSR tensor built from ``values`` (construction is part of the graph)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Sparse CSR tensor support is in beta state"
        return torch.sparse_csr_tensor(torch.from_numpy(A_scipy.indptr.astype(np.int64)),
                                       torch.from_numpy(A_scipy.indices.astype(np.int64)),
                                       values, size=A_scipy.shape)


def _torch_case(op, A_scipy, rng):
    """A function running ``op`` on torch.sparse CSR tensors whose values require grad."""
    n = A_scipy.shape[0]
    Bs = A_scipy[np.roll(np.arange(n), 1)].tocsr()
    Bs.sort_indices()
    a = torch.from_numpy(A_scipy.data.copy()).requires_grad_()
    b = torch.from_numpy(Bs.data.copy()).requires_grad_()
    x = torch.from_numpy(rng.standard_normal(n)).requires_grad_()
    X = torch.from_numpy(rng.standard_normal((n, 16))).requires_grad_()
    fns = {
        "SpMV `A @ x`": lambda A, B: A @ x,
        "SpMM `A @ X` (16 cols)": lambda A, B: A @ X,
        "`A + B`": lambda A, B: A + B,
        "`A.T.tocsr()`": lambda A, B: A.t().to_sparse_csr(),
        "SpGEMM `A @ A`": lambda A, B: A @ A,
    }
    return lambda: fns[op](_torch_csr(A_scipy, a), _torch_csr(Bs, b))


def _spgrad_case(op, A_scipy, rng):
    o = spgrad_inputs(A_scipy, rng)
    return lambda: SPGRAD_OPS[op](o)


def _backward(out, rng):
    t = _out_tensor(out)
    if t.layout != torch.strided:  # a torch sparse result: backward through its values
        t = t.values()
    t.backward(torch.from_numpy(rng.standard_normal(tuple(t.shape))))


def peak_rss():
    """Peak resident memory of this process in bytes (Linux ``VmHWM``, else ``ru_maxrss``)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss():
    """Reset the peak to the current RSS where Linux allows it (so building the inputs does
    not hide the operation's own peak); returns the baseline to subtract."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return peak_rss()


def child(lib, op, n, per_row):
    """Runs in a subprocess: one forward + backward, then timed repeats; prints JSON."""
    torch.set_num_threads(1)
    spgrad._cpu.set_num_threads(1)
    rng = np.random.default_rng(0)
    A_scipy = random_rows(n, per_row, rng)
    case = _torch_case if lib == "torch" else _spgrad_case
    fn = case(op, A_scipy, rng)
    # warm up on a tiny matrix: one-time library initialisation is not the operation's memory
    _backward(case(op, random_rows(16, 2, rng), rng)(), rng)
    base = reset_peak_rss()
    try:
        _backward(fn(), rng)  # first run: peak memory
        growth = peak_rss() - base
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            _backward(fn(), rng)
            times.append(time.perf_counter() - t0)
        res = {"seconds": float(np.median(times)), "growth": growth}
    except Exception as e:  # noqa: BLE001 - the report says what torch cannot do
        res = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"}
    print(json.dumps(res))


def part2(n, per_row, out):
    out(f"\n## spgrad vs torch.sparse CSR with `values.requires_grad`: n = {n:,}, "
        f"nnz ≈ {n * per_row:,}, float64, 1 thread\n")
    out("Forward + backward time (median of 5, after one untimed run) and peak RSS growth of "
        "that first forward + backward over the RSS after building the inputs, each library "
        "in a fresh process.\n")
    out("| operation | spgrad ms | spgrad MiB | torch ms | torch MiB | torch / spgrad time |")
    out("|---|---:|---:|---:|---:|---:|")
    for op in SPGRAD_OPS:
        res = {}
        for lib in ("spgrad", "torch"):
            p = subprocess.run([sys.executable, __file__, "--child", lib, op, str(n),
                                str(per_row)], capture_output=True, text=True, timeout=1800)
            lines = p.stdout.strip().splitlines()
            res[lib] = json.loads(lines[-1]) if p.returncode == 0 and lines else {
                "error": f"process failed (exit {p.returncode}): "
                         f"{(p.stderr.strip().splitlines() or [''])[-1][:120]}"}
        cells = [op]
        for lib in ("spgrad", "torch"):
            r = res[lib]
            cells += ([f"{r['seconds'] * 1e3:.1f}", f"{r['growth'] / 2**20:.0f}"]
                      if "error" not in r else [f"fails: {r['error']}", "—"])
        both = all("error" not in r for r in res.values())
        cells.append(f"{res['torch']['seconds'] / res['spgrad']['seconds']:.2f}×"
                     if both else "—")
        out("| " + " | ".join(cells) + " |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes")
    p.add_argument("--grid", type=int, help="Poisson grid side m (default 1000, quick 200)")
    p.add_argument("--n", type=int, help="random matrix size (default 10**5, quick 10**4)")
    p.add_argument("--band-n", type=int,
                   help="banded matrix size (default 3*10**5, quick 3*10**4; 0 leaves it out)")
    p.add_argument("--torch-n", type=int, help="part 2 size (default 30000, quick 3000)")
    p.add_argument("--rounds", type=int, default=7, help="timed repeats per op (default 7)")
    p.add_argument("--threads", type=int, default=1, help="threads for part 1 (default 1)")
    p.add_argument("--part", type=int, choices=(1, 2), help="run only part 1 or part 2")
    p.add_argument("--output", type=Path, help="Markdown file to write")
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        lib, op, n, per_row = args.child
        return child(lib, op, int(n), int(per_row))

    grid = args.grid or (200 if args.quick else 1000)
    n_rand = args.n or (10**4 if args.quick else 10**5)
    n_band = args.band_n if args.band_n is not None else (3 * 10**4 if args.quick else 3 * 10**5)
    torch_n = args.torch_n or (3000 if args.quick else 30000)
    output = args.output or RESULTS_DIR / ("autograd-quick.md" if args.quick else "autograd.md")
    torch.set_num_threads(args.threads)
    spgrad._cpu.set_num_threads(args.threads)

    lines = []

    def out(s=""):
        print(s, flush=True)
        lines.append(s)

    out(f"# spgrad differentiable-mode benchmark — {datetime.date.today()}\n")
    out(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, SciPy {scipy.__version__}, torch {torch.__version__}, "
        f"spgrad {spgrad.__version__}; part 1 with {args.threads} thread(s).\n")
    rng = np.random.default_rng(0)
    cases = [(f"Poisson 2-D, grid {grid}", poisson_2d(grid)),
             ("random, 10 per row", random_rows(n_rand, 10, rng))]
    if n_band:
        cases.append(("banded random, 10 per row, |i - j| ≤ 2000 (extra)",
                      banded_rows(n_band, 10, 2000, rng)))
    verdicts = part1(cases, args.rounds, out) if args.part != 2 else []
    if args.part != 1:
        part2(torch_n, 5, out)
    out("\n## Targets (differentiable-mode issue)\n")
    for text, ok, detail in verdicts:
        out(f"- [{'x' if ok else ' '}] {text} — {detail}")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines) + "\n")
    print(f"\nwritten to {output}")


if __name__ == "__main__":
    main()
