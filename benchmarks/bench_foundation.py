"""Foundation benchmark: spgrad vs SciPy (and torch.sparse) on the core sparse kernels.

One process, the same inputs for every library, median of repeats. Two matrices:

* 2-D Poisson (5-point Laplacian) on an m x m grid: n = m**2, ~5 nonzeros per row
  (default m = 1000: n = 10**6, nnz ~ 5*10**6);
* a random n x n matrix with 10 nonzeros per row at uniformly random columns (default n = 10**5).

Operations (CSR, float64, int32 indices): SpMV ``A @ x``, SpMM ``A @ X`` (16 columns), SpGEMM
``A @ A``, ``A + B`` and ``A.multiply(B)`` where ``B`` is ``A`` with its rows shifted cyclically by
one (so its pattern differs from A's), ``A.T.tocsr()``, COO -> CSR (``coo.tocsr()`` of
A's entries in random order), and the reductions along an axis ``A.max(axis=1)`` and
``A.argmax(axis=0)``. spgrad runs with 1 and 2 threads
(``spgrad._cpu.set_num_threads``); SciPy is single-threaded; torch.sparse (CSR tensor @ dense)
is timed for SpMV and SpMM at the same thread counts when torch is installed.

SpMV bandwidth counts the bytes a CSR SpMV must move at least once:
data + indices + indptr + x + y.
It is shown next to two plain NumPy streams over arrays the size of ``data``, measured in the
same run (before the SpMV timings, not between them: the Python threads of a stream and
OpenMP's spinning workers disturb each other on few cores) on as many threads as each SpMV (one
slice per Python thread), so that a two-thread SpMV is not measured against a one-thread copy:
a copy (``np.copyto``, bytes read + written; the foundation issue's reference) and a read-only
sum (``np.sum``; nearly all of SpMV's traffic is reads). At the ``--quick`` sizes the thread
pool's overhead dominates the multi-thread streams. The streams run back to back over the same
arrays, so the SpMV they are compared with (the targets' figure) does too: each library's SpMV
repeated on its own right after the streams. The table's interleaved medians, where every SpMV
follows other libraries' work on other arrays, are shown beside it.

Usage::

    python benchmarks/bench_foundation.py            # full sizes, a few minutes
    python benchmarks/bench_foundation.py --quick    # small sizes, seconds

The Markdown report goes to stdout and to ``benchmarks/results/foundation.md``
(``foundation-quick.md`` with ``--quick``; ``--output`` picks another path).
"""

import argparse
import contextlib
import datetime
import importlib
import os
import platform
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse

RESULTS_DIR = Path(__file__).resolve().parent / "results"


# --------------------------------------------------------------------------------------------
# Inputs (built once with NumPy/SciPy; every library gets the same raw arrays)
# --------------------------------------------------------------------------------------------
def poisson_2d(m):
    """5-point Laplacian on an m x m grid, CSR with sorted indices."""
    T = scipy.sparse.diags_array([-1.0, 2.0, -1.0], offsets=[-1, 0, 1], shape=(m, m))
    Im = scipy.sparse.eye_array(m)
    A = (scipy.sparse.kron(T, Im, format="csr") + scipy.sparse.kron(Im, T, format="csr")).tocsr()
    A.sort_indices()
    return int32_indices(A)


def random_rows(n, per_row, rng):
    """n x n, `per_row` entries per row at uniform random columns (rare duplicates summed)."""
    rows = np.repeat(np.arange(n), per_row)
    cols = rng.integers(0, n, n * per_row)
    vals = rng.standard_normal(n * per_row)
    A = scipy.sparse.coo_array((vals, (rows, cols)), shape=(n, n)).tocsr()
    A.sort_indices()
    return int32_indices(A)


def int32_indices(A):
    """The same CSR with int32 indices and indptr (SciPy's choice for matrices this size)."""
    return scipy.sparse.csr_array(
        (A.data, A.indices.astype(np.int32), A.indptr.astype(np.int32)), shape=A.shape
    )


def case_inputs(A, rng, spmm_cols=16):
    """Raw arrays for one matrix: A, B (rows of A shifted by one), x, X, shuffled COO triplets."""
    n = A.shape[0]
    B = int32_indices(A[np.roll(np.arange(n), 1)].tocsr())  # B[i] = A[i-1]: another pattern
    B.sort_indices()
    coo = A.tocoo()
    perm = rng.permutation(coo.nnz)
    return {
        "shape": A.shape,
        "A": (A.data, A.indices, A.indptr),
        "B": (B.data, B.indices, B.indptr),
        "coo": (coo.data[perm], coo.row[perm], coo.col[perm]),
        "x": rng.standard_normal(n),
        "X": rng.standard_normal((n, spmm_cols)),
    }


# --------------------------------------------------------------------------------------------
# Libraries: each turns raw arrays into its own objects and exposes the same operations.
# --------------------------------------------------------------------------------------------
# name -> (key of a per-call setup in the prepared objects or None, fn(objects, setup result))
SPARSE_OPS = {
    "SpMV `A @ x`": (None, lambda o, _: o["A"] @ o["x"]),
    "SpMM `A @ X` (16 cols)": (None, lambda o, _: o["A"] @ o["X"]),
    "SpGEMM `A @ A`": (None, lambda o, _: o["A"] @ o["A"]),
    "`A + B`": (None, lambda o, _: o["A"] + o["B"]),
    "`A.T.tocsr()`": (None, lambda o, _: o["A"].T.tocsr()),
    "`A.multiply(B)`": (None, lambda o, _: o["A"].multiply(o["B"])),
    "COO→CSR `coo.tocsr()`": ("make_coo", lambda o, coo: coo.tocsr()),
    "`A.max(axis=1)`": (None, lambda o, _: o["A"].max(axis=1)),
    "`A.argmax(axis=0)`": (None, lambda o, _: o["A"].argmax(axis=0)),
}
TORCH_OPS = {op: SPARSE_OPS[op] for op in ("SpMV `A @ x`", "SpMM `A @ X` (16 cols)")}


class SparseModule:
    """A scipy.sparse-compatible module (SciPy itself, or spgrad)."""

    def __init__(self, module, label, set_threads=None):
        self.sp = module
        self.label = label
        self.set_threads = set_threads

    def prepare(self, inp):
        sp, shape = self.sp, inp["shape"]
        A = sp.csr_array(tuple(a.copy() for a in inp["A"]), shape=shape)
        B = sp.csr_array(tuple(a.copy() for a in inp["B"]), shape=shape)
        d, r, c = inp["coo"]
        return {
            "A": A,
            "B": B,
            "x": inp["x"],
            "X": inp["X"],
            # A fresh COO for every timed call, built outside the timer, so nothing the
            # library might cache on the object carries over from one repeat to the next.
            "make_coo": lambda: sp.coo_array((d, (r, c)), shape=shape),
        }

    ops = SPARSE_OPS


class TorchSparse:
    """torch.sparse CSR tensors; SpMV and SpMM only."""

    def __init__(self, torch):
        self.torch = torch
        self.label = "torch"
        self.default_threads = torch.get_num_threads()

    def set_threads(self, n):
        """Like spgrad's: ``n <= 0`` restores the default."""
        self.torch.set_num_threads(n if n > 0 else self.default_threads)

    def prepare(self, inp):
        torch = self.torch
        data, indices, indptr = (torch.from_numpy(a.copy()) for a in inp["A"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "CSR support is in beta state"
            A = torch.sparse_csr_tensor(
                indptr, indices, data, size=inp["shape"], check_invariants=False
            )
        return {"A": A, "x": torch.from_numpy(inp["x"]), "X": torch.from_numpy(inp["X"])}

    ops = TORCH_OPS


# --------------------------------------------------------------------------------------------
# Timing and checking
# --------------------------------------------------------------------------------------------
def time_interleaved(calls, min_rounds=3, max_rounds=15, budget=2.0):
    """Time several calls in alternation, so that a change of machine load hits all alike.

    ``calls`` is a list of ``(fn, setup)``; each round calls ``fn(setup())`` once per entry,
    timing ``fn`` only. One untimed warm-up call each comes first; its result is returned
    for checking. Rounds go on until ``min_rounds`` are done and ``budget`` seconds have been
    timed, or ``max_rounds`` are done. Returns (list of per-call time lists, warm-up results).
    """
    firsts = [fn(setup() if setup else None) for fn, setup in calls]
    times = [[] for _ in calls]
    while len(times[0]) < max_rounds and (
        len(times[0]) < min_rounds or sum(map(sum, times)) < budget
    ):
        for (fn, setup), ts in zip(calls, times, strict=True):
            arg = setup() if setup else None
            t0 = time.perf_counter()
            fn(arg)
            ts.append(time.perf_counter() - t0)
    return times, firsts


def to_numpy(result):
    """A result as a canonical SciPy CSR (sparse) or ndarray (dense), for comparison."""
    if type(result).__module__.startswith("torch"):  # a torch.Tensor
        return result.detach().numpy()
    if hasattr(result, "nnz") and hasattr(result, "tocoo"):
        C = result.tocoo()
        coords = tuple(np.asarray(c) for c in C.coords)  # 1-D results have one
        S = scipy.sparse.coo_array((np.asarray(C.data), coords), shape=result.shape).tocsr()
        S.sort_indices()
        return S
    return np.asarray(result)


def same(ref, got, rtol=1e-10):
    ref, got = to_numpy(ref), to_numpy(got)
    if scipy.sparse.issparse(ref) != scipy.sparse.issparse(got) or ref.shape != got.shape:
        return False
    if scipy.sparse.issparse(ref):
        if not np.array_equal(ref.indptr, got.indptr):
            return False
        if not np.array_equal(ref.indices, got.indices):
            return False
        ref, got = ref.data, got.data
    scale = np.abs(ref).max(initial=0)
    return bool(np.allclose(got, ref, rtol=rtol, atol=rtol * scale))


def stream_bandwidth(nbytes_each, threads=1, kind="copy", repeat=15):
    """GB/s of a plain NumPy stream over float64 arrays of ``nbytes_each``: ``"copy"``
    (``np.copyto``, counting read + write) or ``"read"`` (``np.sum``, a read-only stream, as
    most of SpMV's traffic is). With ``threads`` > 1 each of that many Python threads takes
    one slice (NumPy releases the GIL in both)."""
    src = np.random.default_rng(0).standard_normal(nbytes_each // 8)
    dst = np.empty_like(src)
    bounds = np.linspace(0, len(src), threads + 1).astype(int)
    parts = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]

    def one(part):
        if kind == "copy":
            np.copyto(dst[part], src[part])
        else:
            src[part].sum()

    with ThreadPoolExecutor(threads) as pool:
        def run():
            if threads == 1:
                one(slice(None))
            else:
                list(pool.map(one, parts))

        seconds = back_to_back(run, repeat)
    return (2 if kind == "copy" else 1) * src.nbytes / seconds / 1e9


def back_to_back(fn, repeat=15):
    """Median seconds of ``fn()`` called ``repeat`` times in a row after one warm-up call (how
    :func:`stream_bandwidth` runs its streams)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def spmv_bytes(inp):
    data, indices, indptr = inp["A"]
    x = inp["x"]
    return data.nbytes + indices.nbytes + indptr.nbytes + 2 * x.nbytes  # + y, same size as x


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------
def fmt_ms(t):
    return "—" if t is None else (f"{t * 1e3:.2f}" if t < 0.1 else f"{t * 1e3:.1f}")


def run_case(title, A, rng, cand, torch_lib, threads, out):
    inp = case_inputs(A, rng)
    # the reference streams first (see the module docstring)
    size = inp["A"][0].nbytes
    counts = sorted({1, *threads})
    copy_gbs = {nt: stream_bandwidth(size, nt, "copy") for nt in counts}
    read_gbs = {nt: stream_bandwidth(size, nt, "read") for nt in counts}
    n, nnz = A.shape[0], A.nnz
    out(
        f"\n### {title}: n = {n:,}, nnz = {nnz:,} "
        f"({nnz / n:.1f} per row), float64, {A.indices.dtype} indices\n"
    )

    ref_lib = SparseModule(scipy.sparse, "SciPy")
    libs = [ref_lib, cand] + ([torch_lib] if torch_lib else [])
    objs = {lib.label: lib.prepare(inp) for lib in libs}
    spmv = "SpMV `A @ x`"
    # SpMV back to back, as the streams ran: (label, seconds, threads) per library and count
    repeated = []
    for lib in libs:
        for nt in ([1] if lib is ref_lib else threads):
            if lib.set_threads:
                lib.set_threads(nt)
            fn, obj = lib.ops[spmv][1], objs[lib.label]
            label = "SciPy" if lib is ref_lib else f"{lib.label} {nt}T"
            repeated.append((label, back_to_back(lambda: fn(obj, None)), nt))

    # Each op and thread count: SciPy, the candidate and torch (where it has the op) timed in
    # alternation. ref_samples[op]: all SciPy times; results[label][nt][op]: median seconds;
    # ratios[nt][op]: median over rounds of SciPy time / candidate time of the same round.
    ref_samples = {op: [] for op in ref_lib.ops}
    results = {lib.label: {nt: {} for nt in threads} for lib in libs[1:]}
    ratios = {nt: {} for nt in threads}
    checks = {}
    for nt in threads:
        for lib in libs[1:]:
            if lib.set_threads:
                lib.set_threads(nt)
        for op in ref_lib.ops:
            timed = [lib for lib in libs if op in lib.ops]
            calls = []
            for lib in timed:
                setup_key, fn = lib.ops[op]
                obj = objs[lib.label]
                calls.append(
                    (lambda a, fn=fn, obj=obj: fn(obj, a), obj[setup_key] if setup_key else None)
                )
            times, firsts = time_interleaved(calls)
            ref_samples[op] += times[0]
            for lib, ts, res in zip(timed[1:], times[1:], firsts[1:], strict=True):
                results[lib.label][nt][op] = float(np.median(ts))
                ok = same(firsts[0], res)
                checks[(lib.label, op)] = checks.get((lib.label, op), True) and ok
            ratios[nt][op] = float(np.median(np.array(times[0]) / np.array(times[1])))
            del firsts, calls
    for lib in libs[1:]:
        if lib.set_threads:
            lib.set_threads(0)  # back to the default thread count
    ref_t = {op: float(np.median(ts)) for op, ts in ref_samples.items()}

    cols = ["operation", "SciPy ms"]
    for nt in threads:
        cols += [f"{cand.label} {nt}T ms", "vs SciPy"]
    if torch_lib:
        cols += [f"torch {nt}T ms" for nt in threads]
    cols += ["same result"]
    out("| " + " | ".join(cols) + " |")
    out("|" + "|".join(["---"] + ["---:"] * (len(cols) - 2) + [":---:"]) + "|")
    for op in ref_lib.ops:
        row = [op, fmt_ms(ref_t[op])]
        for nt in threads:
            row += [fmt_ms(results[cand.label][nt][op]), f"{ratios[nt][op]:.2f}×"]
        if torch_lib:
            row += [fmt_ms(results["torch"][nt].get(op)) for nt in threads]
        ok = [checks[(lab, op)] for lab in results if (lab, op) in checks]
        row.append("yes" if all(ok) else "**NO**")
        out("| " + " | ".join(row) + " |")

    nbytes = spmv_bytes(inp)
    out(
        f"\nSpMV traffic {nbytes / 1e6:.1f} MB (data + indices + indptr + x + y). Streams over "
        f"{size / 1e6:.1f} MB arrays: `np.copyto` (read + write) "
        + ", ".join(f"**{copy_gbs[nt]:.1f} GB/s** on {nt}T" for nt in counts)
        + "; `np.sum` (read only) "
        + ", ".join(f"{read_gbs[nt]:.1f} GB/s on {nt}T" for nt in counts)
        + ". Each SpMV is compared with the streams on as many threads (SciPy: one), "
        "repeated back to back over the same arrays as the streams are; the interleaved row "
        "uses the table's medians.\n"
    )
    bw = [("SciPy", ref_t[spmv], 1)]
    bw += [(f"{cand.label} {nt}T", results[cand.label][nt][spmv], nt) for nt in threads]
    if torch_lib:
        bw += [(f"torch {nt}T", results["torch"][nt][spmv], nt) for nt in threads]
    out("| SpMV | " + " | ".join(label for label, _, _ in repeated) + " |")
    out("|---|" + "---:|" * len(repeated))
    out("| ms, back to back | " + " | ".join(fmt_ms(t) for _, t, _ in repeated) + " |")
    out("| GB/s | " + " | ".join(f"{nbytes / t / 1e9:.1f}" for _, t, _ in repeated) + " |")
    for name, ref in (("copy", copy_gbs), ("read stream", read_gbs)):
        out(f"| % of {name} | "
            + " | ".join(f"{100 * nbytes / t / 1e9 / ref[nt]:.0f} %" for _, t, nt in repeated)
            + " |")
    out("| GB/s, interleaved | " + " | ".join(f"{nbytes / t / 1e9:.1f}" for _, t, _ in bw)
        + " |")

    return {
        "ref": ref_t,
        "cand": results[cand.label],
        "ratios": ratios,
        "copy_gbs": copy_gbs,
        "spmv_bytes": nbytes,
        "spmv_repeated": {nt: t for label, t, nt in repeated if label.startswith(cand.label)},
        "checks": checks,
        "title": title,
    }


NOISE = 0.95  # "at least as fast" allows 5 % timing noise


def targets(summaries, cand_label, threads, out):
    """The foundation issue's speed targets, met or not."""
    out("\n### Targets (foundation issue)\n")
    lines = []
    for s in summaries:
        ref, ratios = s["ref"], s["ratios"]
        if 1 in threads:
            slow = [f"{op} {ratios[1][op]:.2f}×" for op in ref if ratios[1][op] < NOISE]
            text = (
                f"{s['title']}: 1 thread at least as fast as SciPy on every op "
                f"(≥ {NOISE}×: timing noise)"
            )
            lines.append((text, not slow, "slower on: " + ", ".join(slow) if slow else ""))
        if 2 in threads:
            for op in ("SpMV `A @ x`", "SpMM `A @ X` (16 cols)"):
                r = ratios[2][op]
                lines.append(
                    (f"{s['title']}: {op} with 2 threads ≥ 1.6× SciPy", r >= 1.6, f"{r:.2f}×")
                )
        fracs = {nt: s["spmv_bytes"] / s["spmv_repeated"][nt] / 1e9 / s["copy_gbs"][nt]
                 for nt in threads}
        lines.append(
            (f"{s['title']}: SpMV ≥ 80 % of the copy bandwidth (same thread count, both "
             "back to back)",
             max(fracs.values()) >= 0.8,
             ", ".join(f"{100 * f:.0f} % on {nt}T" for nt, f in fracs.items()))
        )
        bad = sorted({op for (lab, op), ok in s["checks"].items() if not ok})
        lines.append(
            (f"{s['title']}: {cand_label} results equal SciPy's", not bad, ", ".join(bad))
        )
    for text, ok, detail in lines:
        out(f"- [{'x' if ok else ' '}] {text}" + (f" — {detail}" if detail else ""))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (grid 200, n = 10**4)")
    p.add_argument("--grid", type=int, help="Poisson grid side m (default 1000, quick 200)")
    p.add_argument("--n", type=int, help="random matrix size (default 10**5, quick 10**4)")
    p.add_argument("--threads", default="1,2", help="spgrad/torch thread counts (default 1,2)")
    p.add_argument(
        "--module",
        default="spgrad",
        help="scipy.sparse-compatible module to compare with SciPy (default spgrad)",
    )
    p.add_argument("--no-torch", action="store_true", help="skip torch.sparse even if installed")
    p.add_argument("--output", type=Path, help="Markdown file to write")
    args = p.parse_args(argv)

    grid = args.grid or (200 if args.quick else 1000)
    n_rand = args.n or (10**4 if args.quick else 10**5)
    threads = [int(t) for t in args.threads.split(",")]
    output = args.output or RESULTS_DIR / (
        "foundation-quick.md" if args.quick else "foundation.md"
    )

    module = importlib.import_module(args.module)
    top = importlib.import_module(args.module.split(".")[0])
    label = args.module.split(".")[0]
    set_threads, thread_info = None, "no thread control"
    with contextlib.suppress(ImportError):
        cpu = importlib.import_module(f"{label}._cpu")
        set_threads = cpu.set_num_threads
        thread_info = (
            f"OpenMP {'on' if cpu.openmp_enabled() else 'off'}, "
            f"default {cpu.get_num_threads()} threads"
        )
    if set_threads is None:
        threads = threads[:1]  # a module without thread control: one column is enough
    cand = SparseModule(module, label, set_threads)

    torch_lib, torch_info = None, "not installed"
    if not args.no_torch:
        with contextlib.suppress(ImportError):
            import torch

            torch_lib, torch_info = TorchSparse(torch), torch.__version__

    lines = []

    def out(s=""):
        print(s, flush=True)
        lines.append(s)

    out(f"## spgrad foundation benchmark{' (quick)' if args.quick else ''}\n")
    out(
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}; "
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, "
        f"load average at start {os.getloadavg()[0]:.1f} "
        "(other load distorts timings, 2-thread ones most)"
    )
    out(
        f"- python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__} (single-threaded), "
        f"{label} {getattr(top, '__version__', '?')} ({thread_info}), torch {torch_info}"
    )
    out(
        f"- {label} and torch timed with {', '.join(map(str, threads))} thread(s); "
        "one warm-up call, then 3–15 rounds in which "
        f'SciPy, {label} and torch run in turn; ms = median; "vs SciPy" = median over rounds '
        f"of SciPy time / {label} time (> 1 means {label} is faster)"
    )
    out(
        "- B = A with rows shifted cyclically by one (different pattern); COO→CSR from A's "
        "entries in random order, a fresh COO object per call"
    )

    rng = np.random.default_rng(12345)
    summaries = [
        run_case(
            f"2-D Poisson {grid}×{grid}", poisson_2d(grid), rng, cand, torch_lib, threads, out
        ),
        run_case(
            "random, 10 per row", random_rows(n_rand, 10, rng), rng, cand, torch_lib, threads, out
        ),
    ]
    targets(summaries, label, threads, out)

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines) + "\n")
    print(f"\nwritten to {output}", file=sys.stderr)
    all_same = all(ok for s in summaries for ok in s["checks"].values())
    return 0 if all_same else 1


if __name__ == "__main__":
    sys.exit(main())
