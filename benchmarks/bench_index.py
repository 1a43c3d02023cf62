"""Indexing benchmark: spgrad vs SciPy on slicing and fancy indexing of CSR arrays.

The matrices are the foundation benchmark's (``bench_foundation.py``): 2-D Poisson on an
m x m grid (default m = 1000: n = 10**6, nnz ~ 5*10**6) and a random n x n matrix with 10
nonzeros per row (default n = 10**5); CSR, float64, int32 indices, sorted.

Operations (``k`` = n // 10 selected rows or columns; index arrays drawn once per matrix):

* ``A[a:b]`` a contiguous block of k rows, ``A[::10]`` every tenth row;
* ``A[:, a:b]`` a block of k columns, ``A[:, ::10]`` every tenth column;
* ``A[rows]`` k random rows (unsorted, with repeats), ``A[:, cols]`` k random columns;
* ``A[rows_mask]`` a boolean row mask; ``A[np.ix_(r, c)]`` a k/10 x k/10 submatrix;
* ``A[i, j]`` with two arrays of 10**5 random positions (element gather, 1-D result);
* ``A[i]`` one row and ``A[:, j]`` one column (1-D ``coo_array`` results).

Usage::

    python benchmarks/bench_index.py            # full sizes
    python benchmarks/bench_index.py --quick    # small sizes, seconds

The Markdown report goes to stdout and to ``benchmarks/results/index.md`` (``index-quick.md``
with ``--quick``; ``--output`` picks another path). The exit status is 1 if any result differs
from SciPy's.
"""

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_foundation import (
    NOISE,
    RESULTS_DIR,
    fmt_ms,
    poisson_2d,
    random_rows,
    same,
    time_interleaved,
)


def operations(n, rng):
    """``(label, key)`` pairs; each key is applied as ``A[key]`` to both libraries."""
    k = max(n // 10, 1)
    a = n // 3
    rows = rng.integers(0, n, k)
    cols = rng.integers(0, n, k)
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, k, replace=False)] = True
    r_small = np.sort(rng.choice(n, max(k // 10, 1), replace=False))
    c_small = np.sort(rng.choice(n, max(k // 10, 1), replace=False))
    m = 10**5
    i, j = rng.integers(0, n, m), rng.integers(0, n, m)
    return [
        (f"row block `A[a:a+{k}]`", np.s_[a:a + k]),
        ("row step `A[::10]`", np.s_[::10]),
        (f"column block `A[:, a:a+{k}]`", np.s_[:, a:a + k]),
        ("column step `A[:, ::10]`", np.s_[:, ::10]),
        (f"{k} random rows `A[rows]`", rows),
        (f"{k} random columns `A[:, cols]`", np.s_[:, cols]),
        (f"row mask ({k} true) `A[mask]`", mask),
        (f"submatrix `A[np.ix_(r, c)]` ({len(r_small)}²)", np.ix_(r_small, c_small)),
        (f"{m} elements `A[i, j]`", (i, j)),
        ("one row `A[i]` (1-D)", a),
        ("one column `A[:, j]` (1-D)", np.s_[:, a]),
    ]


def run_case(title, S, rng, sp, out):
    A = sp.csr_array(S)
    n = S.shape[0]
    out(f"\n### {title}: n = {n:,}, nnz = {S.nnz:,}\n")
    out("| operation | SciPy ms | spgrad ms | vs SciPy | same result |")
    out("|---|---:|---:|---:|:---:|")
    ratios, checks = {}, {}
    for label, key in operations(n, rng):
        times, firsts = time_interleaved([(lambda _, k=key: S[k], None),
                                          (lambda _, k=key: A[k], None)])
        ref, got = firsts
        ok = same(ref, got)
        t_ref, t_got = np.median(times[0]), np.median(times[1])
        ratio = float(np.median(np.array(times[0]) / np.array(times[1])))
        ratios[label], checks[label] = ratio, ok
        out(f"| {label} | {fmt_ms(t_ref)} | {fmt_ms(t_got)} | {ratio:.2f}× | "
            f"{'yes' if ok else '**no**'} |")
    return {"title": title, "ratios": ratios, "checks": checks}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (grid 200, n = 10**4)")
    p.add_argument("--grid", type=int, help="Poisson grid side m (default 1000, quick 200)")
    p.add_argument("--n", type=int, help="random matrix size (default 10**5, quick 10**4)")
    p.add_argument("--output", type=Path, help="Markdown file to write")
    args = p.parse_args(argv)
    grid = args.grid or (200 if args.quick else 1000)
    n_rand = args.n or (10**4 if args.quick else 10**5)
    output = args.output or RESULTS_DIR / ("index-quick.md" if args.quick else "index.md")

    import spgrad as sp
    from spgrad import _cpu

    _cpu.set_num_threads(1)  # SciPy's indexing is single-threaded
    lines = []

    def out(s=""):
        print(s, flush=True)
        lines.append(s)

    out(f"## spgrad indexing benchmark{' (quick)' if args.quick else ''}\n")
    out(f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}; machine: "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average at start "
        f"{os.getloadavg()[0]:.1f}")
    out(f"- python {platform.python_version()}, numpy {np.__version__}, scipy "
        f"{scipy.__version__}, spgrad {sp.__version__} (1 thread)")
    out("- csr_array, float64, int32 indices; one warm-up call each, then alternating rounds; "
        'ms = median; "vs SciPy" = median of SciPy time / spgrad time (> 1: spgrad faster)')

    rng = np.random.default_rng(2024)
    summaries = [
        run_case(f"2-D Poisson {grid}×{grid}", poisson_2d(grid), rng, sp, out),
        run_case("random, 10 per row", random_rows(n_rand, 10, rng), rng, sp, out),
    ]
    out("\n### Target (SciPy-surface issue)\n")
    for s in summaries:
        slow = [f"{op} {r:.2f}×" for op, r in s["ratios"].items() if r < NOISE]
        out(f"- [{' ' if slow else 'x'}] {s['title']}: at least as fast as SciPy on every "
            f"indexing operation (≥ {NOISE}×: timing noise)"
            + (" — slower on: " + ", ".join(slow) if slow else ""))
        bad = [op for op, ok in s["checks"].items() if not ok]
        out(f"- [{' ' if bad else 'x'}] {s['title']}: results equal SciPy's"
            + (" — differ on: " + ", ".join(bad) if bad else ""))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines) + "\n")
    print(f"\nwritten to {output}", file=sys.stderr)
    return 0 if all(ok for s in summaries for ok in s["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
