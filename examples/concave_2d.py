"""Example 1 of Ramirez et al.: a concave problem the Lagrangian approach solves.

    min_{x, y}  (1 + y^2) cos(x)   subject to   (1 + y^2) sin(x) <= eps,
    x in [0, pi/2],

whose solution is x* = arcsin(eps), y* = 0, with multiplier
lambda* = eps / sqrt(1 - eps^2) (their Prop. 2). Both functions are concave in
x, so every fixed penalty lands in a corner (x = 0 or pi/2, their Prop. 3).

Each method runs through :func:`sklearn_constrained.optim.minimize` from
(x, y) = (0.05, 0.5) with primal SGD (step 0.01) for 10,000 steps and a
projection onto the bounds after every step (App. B.1):

- GDA with the nuPI dual optimizer (dual step 0.3, kp = 40, nu = 0), the
  setting of their Table 1;
- GDA on the augmented Lagrangian (penalty c = 10, dual step 10: the method
  of multipliers), which convexifies the problem (App. D);
- plain GDA (dual step 0.3), which oscillates without converging.

The eight levels are solved side by side as one problem: one row of the
variable per level and a vector constraint with one multiplier per level.
Every update is per coordinate, so this is exactly eight separate runs.

Prints Table 1 of the paper (x and y at convergence for nuPI) and, per method,
the error in x and in the multiplier; writes a figure of the trajectories.

Run: ``python examples/concave_2d.py [--out concave_2d.png] [--steps 10000]``.
"""

import argparse
import math
import os
import time

import numpy as np
import torch

from sklearn_constrained.methods import GDA
from sklearn_constrained.optim import Inequality, minimize

EPS = np.round(np.arange(1, 9) / 10, 1)
X_STAR = np.arcsin(EPS)
LAMBDA_STAR = EPS / np.sqrt(1 - EPS**2)

METHODS = {
    "GDA + nuPI": GDA(dual_lr=0.3, dual_optimizer="nupi", kp=40.0),
    "augmented GDA": GDA(dual_lr=10.0, augmented=True, penalty=10.0),
    "plain GDA": GDA(dual_lr=0.3),
}


def objective(v):
    return ((1 + v[:, 1] ** 2) * torch.cos(v[:, 0])).sum()


def constraint(v):
    return (1 + v[:, 1] ** 2) * torch.sin(v[:, 0])


def solve(method, steps, record_every):
    path = []
    res = minimize(
        objective,
        np.tile([0.05, 0.5], (len(EPS), 1)),
        [Inequality(constraint, upper=EPS)],
        method=method,
        optimizer="sgd",
        lr=0.01,
        max_iter=steps,
        bounds=[(0.0, math.pi / 2), (None, None)] * len(EPS),
        inner_steps=record_every,
        callback=lambda xk: path.append(xk),
    )
    lam = np.array([h["multipliers"]["c0"] for h in res.history])
    return res, np.array(path), lam


def main(out="concave_2d.png", steps=10_000, record_every=20):
    torch.set_num_threads(1)
    results = {}
    for name, method in METHODS.items():
        t0 = time.perf_counter()
        results[name] = solve(method, steps, record_every)
        print(f"{name}: {steps} steps in {time.perf_counter() - t0:.1f} s")

    res = results["GDA + nuPI"][0]
    print(f"\nTable 1 of Ramirez et al. (GDA + nuPI, after {steps} steps)")
    print(f"{'eps':>5} {'x* = arcsin(eps)':>17} {'x at convergence':>17} {'y at convergence':>17}")
    for e, xs, (x, y) in zip(EPS, X_STAR, res.x, strict=True):
        print(f"{e:5.1f} {xs:17.3e} {x:17.3e} {y:17.3e}")

    print("\nErrors at the last step: |x - arcsin(eps)| and |lambda - eps/sqrt(1-eps^2)|")
    header = f"{'eps':>5}" + "".join(f" {name + ' x':>17} {name + ' lam':>17}" for name in METHODS)
    print(header)
    for i, e in enumerate(EPS):
        row = f"{e:5.1f}"
        for name in METHODS:
            r = results[name][0]
            row += (
                f" {abs(r.x[i, 0] - X_STAR[i]):17.2e}"
                f" {abs(r.multipliers[0][i] - LAMBDA_STAR[i]):17.2e}"
            )
        print(row)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(METHODS), figsize=(4.2 * len(METHODS), 6.5), sharex=True)
    it = np.arange(1, len(results["plain GDA"][1]) + 1) * record_every
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(EPS)))
    for col, name in enumerate(METHODS):
        _, path, lam = results[name]
        for i, c in enumerate(colors):
            axes[0, col].plot(
                it[: len(path)], path[:, i, 0], color=c, lw=1, label=f"eps={EPS[i]:.1f}"
            )
            axes[0, col].axhline(X_STAR[i], color=c, ls=":", lw=0.8)
            axes[1, col].plot(it[: len(lam)], lam[:, i], color=c, lw=1)
            axes[1, col].axhline(LAMBDA_STAR[i], color=c, ls=":", lw=0.8)
        axes[0, col].set_title(name)
        axes[0, col].set_ylim(-0.05, math.pi / 2 + 0.05)
        axes[1, col].set_ylim(-0.1, 3.0)
        axes[1, col].set_xlabel("step")
    axes[0, 0].set_ylabel("x (dotted: arcsin(eps))")
    axes[1, 0].set_ylabel("multiplier (dotted: lambda*)")
    axes[0, -1].legend(fontsize=7, loc="lower right")
    fig.suptitle("Example 1 (concave 2D problem) through sklearn_constrained.optim.minimize")
    fig.tight_layout()
    if os.path.dirname(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
    fig.savefig(out, dpi=120)
    print(f"\nfigure written to {out}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="Example 1 of Ramirez et al. through optim.minimize."
    )
    parser.add_argument("--out", default="concave_2d.png", help="where to write the figure (PNG)")
    parser.add_argument("--steps", type=int, default=10_000)
    args = parser.parse_args()
    main(args.out, args.steps)
