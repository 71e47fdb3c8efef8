"""Quick start: a first constrained classifier on handwritten digits.

A small MLP (64 inputs, 64 hidden units, 10 classes) is trained on
scikit-learn's digits under two constraints stated as levels:

- ``l2``: the sum of squared weights is at most 100 (an unconstrained fit
  ends near 450), a capacity limit;
- ``nonneg``: the output layer's weights are non-negative, so every hidden
  unit can only add evidence for a class, never subtract it.

No penalty weight and no dual step size are tuned: the default
``method="auto"`` learns one Lagrange multiplier per constraint during the
single training run, sets and adapts its own dual step, and ends with a
projection of these two weight constraints onto their levels when Adam's
last steps leave them a fraction of a percent over (see the methods
guide). The script prints the held-out accuracy, the constraint values
against their levels and the multipliers, and writes the training history
drawn by :func:`sklearn_constrained.plotting.plot_history`.

Run: ``python examples/quickstart.py`` (figure: ``docs/gallery/quickstart.png``;
``--out PATH`` to write it elsewhere, ``--quick`` for a 5-epoch smoke run).
"""

import argparse
import os
import time

import matplotlib

matplotlib.use("Agg")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from sklearn_constrained import ConstrainedClassifier  # noqa: E402
from sklearn_constrained.constraints import L2Norm, NonNegativity  # noqa: E402
from sklearn_constrained.plotting import plot_history  # noqa: E402


def main(out, epochs=40, seed=0):
    start = time.perf_counter()
    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixel intensities 0..16 -> 0..1
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)

    clf = ConstrainedClassifier(
        constraints={
            "l2": L2Norm(bound=100.0),
            # The MLP's output layer is named "layers.2"; patterns such as
            # "layers.2.*" work too (see constraints.select_parameters).
            "nonneg": NonNegativity(params="layers.2.weight"),
        },
        max_epochs=epochs,
        random_state=seed,
    )
    clf.fit(Xtr, ytr)

    print(f"digits: {len(Xtr)} train / {len(Xte)} test samples, {epochs} epochs")
    print(f"held-out accuracy: {clf.score(Xte, yte):.3f}")
    print(f"every constraint met on the training data: {clf.feasible_}")
    values = clf.evaluate_constraints(Xte)  # weight constraints ignore the data
    for name, c in clf.constraints_.items():
        level = getattr(c, "bound", 0.0)
        print(
            f"  {name:<7} value {values[name]:9.4f}   level {level:g}   "
            f"multiplier {clf.multipliers_[name][0]:.4f}"
        )

    axes = plot_history(clf)
    fig = axes[0].figure
    fig.suptitle("Quick start: digits MLP with ||W||^2 <= 100 and a non-negative output layer")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"figure written to {out} ({time.perf_counter() - start:.1f} s)")
    return clf


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("docs", "gallery", "quickstart.png"))
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="5 epochs: a smoke run for CI")
    args = parser.parse_args()
    main(args.out, epochs=5 if args.quick else args.epochs, seed=args.seed)
