"""GPU benchmark: spgrad on CuPy arrays vs cupyx.scipy.sparse and torch.sparse on CUDA.

One process, the same matrices for every library (built with SciPy, then moved), median of
repeats, each timing bracketed by a device synchronisation. Two matrices, as in
``bench_foundation.py``: the 2-D Poisson matrix on an m x m grid (default m = 1000:
n = 10**6, nnz ~ 5*10**6) and a random n x n matrix with 10 entries per row (default
n = 10**5); CSR, float64, int32 indices.

Operations: SpMV ``A @ x``, SpMM ``A @ X`` (16 columns), SpGEMM ``A @ A``, ``A + B`` (B is A
with its rows shifted by one), ``A.T.tocsr()``, and 50 iterations of ``cg`` (Poisson only;
``rtol=0`` so that every library runs the same number). spgrad's column is what spgrad runs
by default: cuSPARSE's SpMV/SpMM (through CuPy's bindings, ``SPGRAD_CUDA_PRODUCTS=auto``) and
its own CUDA kernels (``spgrad/_cuda``) for the rest; the next column times SpMV, SpMM and
``cg`` with spgrad's own kernels only (``SPGRAD_CUDA_PRODUCTS=spgrad``); cupyx's is cuSPARSE
for the products; torch's is ``torch.sparse_csr_tensor`` on the GPU (products only). A
library that is not installed, or cannot run an operation, shows "—". With torch installed, a second table per matrix times
differentiable mode (values a CUDA tensor): forward, forward + backward and their ratio for
the same operations, and torch's sparse CSR tensor with ``values.requires_grad`` for SpMV and
SpMM.

SpMV bandwidth counts data + indices + indptr + x + y once, next to the bandwidth of a
device-to-device copy of an array the size of ``data`` (read + write) measured in the same
run. Every spgrad result is checked against SciPy's on the CPU (to 1e-10 relative).

Usage (on a machine with CuPy and an NVIDIA GPU)::

    python benchmarks/bench_gpu.py            # full sizes, about a minute
    python benchmarks/bench_gpu.py --quick    # small sizes, seconds

The Markdown report goes to stdout and to ``benchmarks/results/gpu.md`` (``gpu-quick.md``
with ``--quick``; ``--output`` picks another path).
"""

import argparse
import contextlib
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse
import scipy.sparse.linalg

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def poisson_2d(m):
    T = scipy.sparse.diags_array([-1.0, 2.0, -1.0], offsets=[-1, 0, 1], shape=(m, m))
    Im = scipy.sparse.eye_array(m)
    return (scipy.sparse.kron(T, Im, format="csr")
            + scipy.sparse.kron(Im, T, format="csr")).tocsr()


def random_rows(n, per_row, rng):
    rows = np.repeat(np.arange(n), per_row)
    cols = rng.integers(0, n, n * per_row)
    return scipy.sparse.coo_array((rng.standard_normal(n * per_row), (rows, cols)),
                                  shape=(n, n)).tocsr()


def int32_csr(A):
    A.sort_indices()
    return scipy.sparse.csr_array((A.data, A.indices.astype(np.int32),
                                   A.indptr.astype(np.int32)), shape=A.shape)


def timed(fn, sync, repeats):
    """Median seconds of ``fn()`` over ``repeats`` runs after one warm-up, each run ended by a
    device synchronisation; returns (seconds, last result)."""
    out = fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


@contextlib.contextmanager
def products(policy):
    """Run with ``SPGRAD_CUDA_PRODUCTS=policy`` (who computes SpMV and SpMM on the GPU)."""
    saved = os.environ.get("SPGRAD_CUDA_PRODUCTS")
    os.environ["SPGRAD_CUDA_PRODUCTS"] = policy
    try:
        yield
    finally:
        if saved is None:
            del os.environ["SPGRAD_CUDA_PRODUCTS"]
        else:
            os.environ["SPGRAD_CUDA_PRODUCTS"] = saved


def host(x):
    """A GPU result on the host: sparse as SciPy CSR, dense as NumPy."""
    if hasattr(x, "cpu") and hasattr(x, "format"):  # spgrad
        return x.cpu().to_scipy().tocsr()
    if hasattr(x, "get") and hasattr(x, "format"):  # cupyx
        return x.get().tocsr()
    if hasattr(x, "get"):
        return x.get()
    return np.asarray(x)


def check(name, got, expected):
    if scipy.sparse.issparse(expected):
        diff = abs(got - expected).max() if got.nnz or expected.nnz else 0.0
        scale = abs(expected).max() if expected.nnz else 1.0
    else:
        diff = np.abs(got - expected).max() if got.size else 0.0
        scale = np.abs(expected).max() if expected.size else 1.0
    if diff > 1e-10 * max(scale, 1.0):
        raise SystemExit(f"{name}: spgrad's GPU result differs from SciPy's by {diff:.3e}")


def libraries(cp):
    """The optional comparison libraries: (cupyx.scipy.sparse module or None, torch or None)."""
    try:
        import cupyx.scipy.sparse as cxs
        import cupyx.scipy.sparse.linalg  # noqa: F401
    except ImportError:
        cxs = None
    if cxs is not None and getattr(cxs, "__file__", None) is None:
        cxs = None  # the test suite's stand-in cupyx (only the solvers spgrad calls)
    try:
        import torch

        if not torch.cuda.is_available():
            torch = None
    except ImportError:
        torch = None
    return cxs, torch


def run_case(label, S, cp, repeats, rng):
    import spgrad as sp
    import spgrad.linalg as spla

    cxs, torch = libraries(cp)
    sync = cp.cuda.runtime.deviceSynchronize
    n = S.shape[0]
    B = int32_csr(S[np.roll(np.arange(n), 1)].tocsr())
    x, X = rng.standard_normal(n), rng.standard_normal((n, 16))
    G, H = sp.csr_array(S).to("cuda"), sp.csr_array(B).to("cuda")
    xg, Xg = cp.asarray(x), cp.asarray(X)
    C = D = None
    if cxs is not None:
        C = cxs.csr_matrix((cp.asarray(S.data), cp.asarray(S.indices), cp.asarray(S.indptr)),
                           shape=S.shape)
        D = cxs.csr_matrix((cp.asarray(B.data), cp.asarray(B.indices), cp.asarray(B.indptr)),
                           shape=B.shape)
    T = None
    if torch is not None:
        T = torch.sparse_csr_tensor(torch.as_tensor(S.indptr.astype(np.int64)),
                                    torch.as_tensor(S.indices.astype(np.int64)),
                                    torch.as_tensor(S.data), size=S.shape, device="cuda")
        xt, Xt = torch.as_tensor(x, device="cuda"), torch.as_tensor(X, device="cuda")

    ops = [
        ("SpMV `A @ x`", lambda: G @ xg, (lambda: C @ xg) if C is not None else None,
         (lambda: T @ xt) if T is not None else None, lambda: S @ x),
        ("SpMM `A @ X` (16 cols)", lambda: G @ Xg, (lambda: C @ Xg) if C is not None else None,
         (lambda: T @ Xt) if T is not None else None, lambda: S @ X),
        ("SpGEMM `A @ A`", lambda: G @ G, (lambda: C @ C) if C is not None else None,
         None, lambda: S @ S),
        ("`A + B`", lambda: G + H, (lambda: C + D) if C is not None else None, None,
         lambda: S + B),
        ("`A.T.tocsr()`", lambda: G.T.tocsr(), (lambda: C.T.tocsr()) if C is not None else None,
         None, lambda: S.T.tocsr()),
    ]
    if label.startswith("Poisson"):
        ops.append(("`cg`, 50 iterations",
                    lambda: spla.cg(G, xg, rtol=0.0, maxiter=50)[0],
                    (lambda: cupyx_cg(C, xg)) if C is not None else None, None,
                    lambda: scipy.sparse.linalg.cg(S, x, rtol=0.0, maxiter=50)[0]))
    rows = []
    for name, ours, theirs, torch_op, reference in ops:
        t_ours, out = timed(ours, sync, repeats)
        check(f"{label} {name}", host(out), reference())
        t_own = None
        if name.startswith(("SpMV", "SpMM", "`cg`")):
            with products("spgrad"):
                t_own, out = timed(ours, sync, repeats)
            check(f"{label} {name} (spgrad's kernels)", host(out), reference())
        t_cx = timed(theirs, sync, repeats)[0] if theirs is not None else None
        t_torch = None
        if torch_op is not None:
            t_torch = timed(torch_op, torch.cuda.synchronize, repeats)[0]
        rows.append((name, t_ours, t_own, t_cx, t_torch))
    nbytes = S.data.nbytes + S.indices.nbytes + S.indptr.nbytes + 2 * 8 * n
    data = cp.asarray(S.data)
    copy_target = cp.empty_like(data)
    t_copy = timed(lambda: cp.copyto(copy_target, data), sync, repeats)[0]
    spmv_gbs = nbytes / rows[0][1] / 1e9
    copy_gbs = 2 * S.data.nbytes / t_copy / 1e9
    return rows, spmv_gbs, copy_gbs


def run_differentiable(S, cp, repeats, rng):
    """Differentiable mode on the GPU: forward and forward + backward (``loss = f(A).sum()``,
    gradients of A's values and of the dense operand) with spgrad's values a CUDA tensor, and
    SpMV/SpMM with torch's own sparse CSR tensor (``values.requires_grad``) for comparison.
    Rows ``(name, forward, forward + backward, torch forward + backward or None)``."""
    import spgrad as sp

    _, torch = libraries(cp)
    import torch as torch_module  # spgrad's tensors (CPU ones under the emulated CuPy)

    sync = cp.cuda.runtime.deviceSynchronize
    n = S.shape[0]
    B = int32_csr(S[np.roll(np.arange(n), 1)].tocsr())
    A = sp.csr_array(S).to("cuda").requires_grad_()
    Bg = sp.csr_array(B).to("cuda")
    x = torch_module.from_dlpack(cp.asarray(rng.standard_normal(n))).requires_grad_()
    X = torch_module.from_dlpack(cp.asarray(rng.standard_normal((n, 16)))).requires_grad_()

    def both(f):
        def run():
            A.data.grad = x.grad = X.grad = None
            f().sum().backward()
        return run

    ops = [("SpMV `A @ x`", lambda: A @ x), ("SpMM `A @ X` (16 cols)", lambda: A @ X),
           ("SpGEMM `A @ A`", lambda: A @ A), ("`A + B`", lambda: A + Bg),
           ("`A.T.tocsr()`", lambda: A.T.tocsr())]
    torch_ops = {}
    if torch is not None:
        values = torch.as_tensor(S.data, device="cuda").requires_grad_()
        T = torch.sparse_csr_tensor(torch.as_tensor(S.indptr.astype(np.int64), device="cuda"),
                                    torch.as_tensor(S.indices.astype(np.int64), device="cuda"),
                                    values, size=S.shape)
        xt = torch.as_tensor(x.detach(), device="cuda").requires_grad_()
        Xt = torch.as_tensor(X.detach(), device="cuda").requires_grad_()
        torch_ops = {"SpMV `A @ x`": lambda: (T @ xt).sum().backward(),
                     "SpMM `A @ X` (16 cols)": lambda: (T @ Xt).sum().backward()}
    rows = []
    for name, f in ops:
        t_fwd = timed(lambda: f().sum(), sync, repeats)[0]
        t_both = timed(both(f), sync, repeats)[0]
        t_torch = timed(torch_ops[name], torch.cuda.synchronize, repeats)[0] \
            if name in torch_ops else None
        rows.append((name, t_fwd, t_both, t_torch))
    # check one gradient: d sum(A x) / d A_ij = x_j
    both(lambda: A @ x)()
    expected = x.detach().cpu().numpy()[S.indices]
    check("differentiable SpMV gradient", host(A.grad.data), expected)
    return rows


def cupyx_cg(C, b):
    import cupyx.scipy.sparse.linalg as cxla

    try:
        return cxla.cg(C, b, tol=0.0, maxiter=50)[0]
    except TypeError:  # newer CuPy: rtol, as SciPy
        return cxla.cg(C, b, rtol=0.0, maxiter=50)[0]


def ms(t):
    return "—" if t is None else f"{t * 1e3:.3f}"


def ratio(t, ours):
    return "—" if t is None else f"{t / ours:.2f} ×"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--grid", type=int, help="Poisson grid side m (n = m**2)")
    parser.add_argument("--n", type=int, help="size of the random matrix")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    import cupy as cp

    import spgrad

    m = args.grid or (60 if args.quick else 1000)
    n = args.n or (3000 if args.quick else 100_000)
    repeats = args.repeats or (3 if args.quick else 20)
    rng = np.random.default_rng(0)
    cases = [(f"Poisson n = {m * m}", int32_csr(poisson_2d(m))),
             (f"random n = {n}", int32_csr(random_rows(n, 10, rng)))]
    device = "unknown GPU"
    try:
        props = cp.cuda.runtime.getDeviceProperties(0)
        device = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    except Exception:  # noqa: BLE001 - the emulated CuPy of the tests has no properties
        pass
    lines = ["# spgrad on the GPU", "",
             f"{datetime.date.today()}, {device}; Python {platform.python_version()}, "
             f"NumPy {np.__version__}, SciPy {scipy.__version__}, CuPy "
             f"{getattr(cp, '__version__', '?')}, spgrad {spgrad.__version__}; medians of "
             f"{repeats} runs, each ended by a device synchronisation; milliseconds.", ""]
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False
    for label, S in cases:
        rows, spmv_gbs, copy_gbs = run_case(label, S, cp, repeats, rng)
        lines += [f"## {label}, nnz = {S.nnz}", "",
                  "| operation | spgrad | spgrad's kernels only | cupyx | cupyx / spgrad | "
                  "torch | torch / spgrad |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for name, t_ours, t_own, t_cx, t_torch in rows:
            lines.append(f"| {name} | {ms(t_ours)} | {ms(t_own)} | {ms(t_cx)} | "
                         f"{ratio(t_cx, t_ours)} | {ms(t_torch)} | {ratio(t_torch, t_ours)} |")
        lines += ["", f"SpMV moves {spmv_gbs:.1f} GB/s; a device copy of `data` "
                      f"{copy_gbs:.1f} GB/s ({100 * spmv_gbs / copy_gbs:.0f} %).", ""]
        if have_torch:
            lines += [f"Differentiable mode ({label}): values a CUDA tensor, `loss = "
                      f"f(A).sum()`; torch is `torch.sparse_csr_tensor` with "
                      f"`values.requires_grad`.", "",
                      "| operation | forward | forward + backward | ratio | torch fwd + bwd |"
                      " torch / spgrad |", "|---|---:|---:|---:|---:|---:|"]
            for name, t_fwd, t_both, t_torch in run_differentiable(S, cp, repeats, rng):
                lines.append(f"| {name} | {ms(t_fwd)} | {ms(t_both)} | {t_both / t_fwd:.2f} |"
                             f" {ms(t_torch)} | {ratio(t_torch, t_both)} |")
            lines.append("")
    report = "\n".join(lines)
    print(report)
    out = args.output or RESULTS_DIR / ("gpu-quick.md" if args.quick else "gpu.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
