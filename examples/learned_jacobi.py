"""Learned Jacobi weights: gradients with respect to the nonzeros of a sparse matrix.

Weighted Jacobi smooths the error of ``A x = b`` with the iteration matrix ``M = I - Ω D⁻¹ A``.
Here ``A`` is the 1-D Poisson matrix ``2I - E₋₁ - E₁`` (n = 16), ``D = diag(A)``, and ``Ω`` a
diagonal *sparse* matrix whose nonzeros are learned by minimising ``‖I - Ω D⁻¹ A‖²_F`` with
``torch.optim.Adam`` on ``Omega.data``. Every step runs sparse products, a sparse difference and
a reduction, all recorded by torch autograd, and the gradient lands on the pattern of ``Ω``.

The analytic optimum: an interior row of ``M`` is ``(…, ω/2, 1 - ω, ω/2, …)``, minimised at
ω = 2/3; a boundary row has one off-diagonal, minimised at ω = 4/5. The script prints the learned
weights and exits non-zero if they miss those values.

Run: ``python examples/learned_jacobi.py``
"""

import sys

import numpy as np
import torch

import spgrad as sp


def poisson_1d(n):
    """The 1-D Poisson matrix ``2I - E₋₁ - E₁`` as CSR."""
    return sp.csr_array(sp.diags_array([-1.0, 2.0, -1.0], offsets=[-1, 0, 1], shape=(n, n)))


def learn_weights(n=16, steps=400, lr=0.05, log=print):
    """Minimise ``‖I - Ω D⁻¹ A‖²_F`` over the n stored values of the diagonal ``Ω``; returns them."""
    A = poisson_1d(n)
    Dinv_A = sp.diags_array(1.0 / A.diagonal()) @ A          # plain SciPy-style sparse algebra
    I = sp.eye_array(n, format="csr")

    # Ω: a diagonal sparse matrix whose n stored values are a torch parameter.
    Omega = sp.csr_array((torch.full((n,), 0.5, dtype=torch.float64), np.arange(n),
                          np.arange(n + 1)), shape=(n, n)).requires_grad_()
    opt = torch.optim.Adam([Omega.data], lr=lr)

    for step in range(steps):
        opt.zero_grad()
        M = I - Omega @ Dinv_A                                # sparse @ sparse, sparse - sparse
        loss = M.power(2).sum()                               # ‖M‖²_F over the stored entries
        loss.backward()                                       # Omega.data.grad: pattern of Ω
        opt.step()
        if step % 100 == 0:
            log(f"step {step:3d}  loss {loss.item():.6f}")
    return Omega.data.detach().numpy()


def main():
    w = learn_weights()
    print(f"learned weights: {np.array2string(w, precision=4, max_line_width=100)}")
    print(f"interior mean {w[1:-1].mean():.6f} (optimum 2/3 = {2 / 3:.6f}); "
          f"boundary {w[0]:.6f}, {w[-1]:.6f} (optimum 4/5)")
    ok = np.allclose(w[1:-1], 2 / 3, atol=1e-4) and np.allclose(w[[0, -1]], 0.8, atol=1e-4)
    print("converged to the analytic optimum" if ok else "did NOT converge to the analytic optimum")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
