"""
Sparse Jacobians and Hessians for SciPy's solvers
=================================================

``spgrad.ad`` turns a function written with torch operations into its sparse Jacobian or
Hessian, as a sparse matrix. It traces the function once to find the sparsity pattern; a
Jacobian is then evaluated by replaying the recorded operations while one kernel per operation
computes the nonzeros of each intermediate Jacobian (propagation), and a Hessian (or a
function the recorder cannot replay) by colouring the pattern and evaluating one
Hessian-vector (or Jacobian-vector) product per colour. Three uses, each a SciPy solver that
takes a sparse derivative:

1. a stiff ODE — the 2-D Brusselator reaction–diffusion system — with
   ``scipy.integrate.solve_ivp(method="BDF", jac=...)``;
2. a nonlinear PDE — the 2-D Bratu problem — with ``scipy.optimize.least_squares(jac=...)``;
3. the chained Rosenbrock function with ``scipy.optimize.minimize(method="trust-constr",
   hess=...)``.

The Brusselator's Jacobian has 5 + 1 nonzeros per row on a periodic grid, and however large the
grid, its colouring needs the same handful of colours: the figure shows the pattern and the
colours of the first columns. The script prints the colour counts and how each solve went.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
import scipy.integrate
import scipy.optimize
import torch

import spgrad.ad

torch.set_default_dtype(torch.float64)

# %%
# A stiff ODE: the 2-D Brusselator
# --------------------------------
# Two species ``u`` and ``v`` on a periodic N × N grid, ``u' = 1 + u²v − 4.4u + αΔu`` and
# ``v' = 3.4u − u²v + αΔv``; the state vector stacks ``u`` then ``v`` (n = 2N²).

N, alpha = 32, 0.002


def brusselator(y):
    u, v = y[: N * N].reshape(N, N), y[N * N:].reshape(N, N)

    def laplacian(w):
        return (torch.roll(w, 1, 0) + torch.roll(w, -1, 0) + torch.roll(w, 1, 1)
                + torch.roll(w, -1, 1) - 4 * w) * N ** 2

    uuv = u * u * v
    return torch.cat([(1 + uuv - 4.4 * u + alpha * laplacian(u)).reshape(-1),
                      (3.4 * u - uuv + alpha * laplacian(v)).reshape(-1)])


grid = np.linspace(0, 1, N, endpoint=False)
X, Y = np.meshgrid(grid, grid, indexing="ij")
y0 = np.concatenate([(22 * Y * (1 - Y) ** 1.5).ravel(), (27 * X * (1 - X) ** 1.5).ravel()])

start = time.perf_counter()
J = spgrad.ad.sparse_jacobian(brusselator, y0, mode="forward", order="best")
prepare = time.perf_counter() - start
start = time.perf_counter()
J(y0)
evaluate = time.perf_counter() - start
print(f"Brusselator n = {2 * N * N}: {J.nnz} nonzeros, {J.ncolors} colours "
      f"({J.mode} mode), prepared in {prepare:.3f} s; evaluated by {J.method} in "
      f"{evaluate * 1e3:.2f} ms")


def rhs(t, y):
    return brusselator(torch.from_numpy(y)).numpy()


sol = scipy.integrate.solve_ivp(rhs, (0, 2.0), y0, method="BDF", jac=lambda t, y: J.scipy(y),
                                rtol=1e-6, atol=1e-8)
print(f"solve_ivp BDF with the sparse Jacobian: {sol.t.size} steps, {sol.njev} Jacobians, "
      f"status {sol.status}")

# %%
# A nonlinear PDE: the Bratu problem
# ----------------------------------
# ``−Δu = λ eᵘ`` on the unit square with ``u = 0`` on the boundary, discretised with five-point
# differences on an M × M interior grid; ``least_squares`` drives the residual to zero with the
# sparse Jacobian (a trust-region method with LSMR, which needs only products with it).

M, lam = 40, 5.0
h2 = 1.0 / (M + 1) ** 2


def bratu(u):
    U = torch.nn.functional.pad(u.reshape(M, M), (1, 1, 1, 1))
    lap = U[:-2, 1:-1] + U[2:, 1:-1] + U[1:-1, :-2] + U[1:-1, 2:] - 4 * U[1:-1, 1:-1]
    return (lap / h2 + lam * torch.exp(U[1:-1, 1:-1])).reshape(-1)


JB = spgrad.ad.sparse_jacobian(bratu, np.zeros(M * M))
fit = scipy.optimize.least_squares(lambda u: bratu(torch.from_numpy(u)).numpy(),
                                   np.zeros(M * M), jac=JB.scipy, tr_solver="lsmr")
print(f"Bratu n = {M * M}: {JB.ncolors} colours, least_squares residual "
      f"{np.abs(fit.fun).max():.1e} after {fit.njev} Jacobians")

# %%
# Newton's method with a sparse Hessian: chained Rosenbrock
# ---------------------------------------------------------
# The Hessian of ``Σ 100 (x_{i+1} − x_i²)² + (1 − x_i)²`` is tridiagonal; a star colouring,
# which uses its symmetry, needs three colours at any size.

n = 5000


def rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


H = spgrad.ad.sparse_hessian(rosenbrock, np.zeros(n))
grad = torch.func.grad(rosenbrock)
opt = scipy.optimize.minimize(lambda x: float(rosenbrock(torch.from_numpy(x))), np.full(n, 1.2),
                              jac=lambda x: grad(torch.from_numpy(x)).numpy(), hess=H.scipy,
                              method="trust-constr", options={"gtol": 1e-10})
print(f"Rosenbrock n = {n}: Hessian with {H.nnz} nonzeros from {H.ncolors} colours, "
      f"trust-constr error {np.abs(opt.x - 1).max():.1e} after {opt.nit} iterations")

# %%
# The Brusselator's Jacobian pattern and colours
# ----------------------------------------------

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 4.2))
P = J.pattern.to_scipy().tocoo()
ax0.plot(P.col, P.row, ",k")
ax0.set(xlim=(0, J.shape[1]), ylim=(J.shape[0], 0), title="Jacobian pattern (n = 2048)")
ax1.scatter(np.arange(64), J.colors[:64], c=J.colors[:64], cmap="tab20", s=18)
ax1.set(xlabel="column", ylabel="colour", title=f"colours of the first 64 columns "
                                                f"({J.ncolors} in all)")
fig.tight_layout()
plt.show()
