"""Tuning a constraint level with GridSearchCV: accuracy against the level.

A level is a hyperparameter like any other. Here a ``Pipeline`` (min-max
scaling, then a constrained MLP) is cross-validated on scikit-learn's digits
over the level of an L2 constraint, ``clf__constraints__l2__bound``, from 1
to 300 (an unconstrained fit ends near 450).

Each candidate is scored twice on its held-out folds: by accuracy, and by
:func:`sklearn_constrained.metrics.make_constraint_scorer`, which reports the
violation of the ``l2`` constraint (0 when it holds). The search refits with
:func:`sklearn_constrained.model_selection.best_feasible`: the most accurate
candidate whose held-out constraint holds.

The figure shows the trade-off (held-out accuracy against the level, with the
Pareto front, the candidates whose constraint held and the refit one) and,
on the right, the value each trained model reached against the level it was
given: the points sit on or below the diagonal, in the feasible region.

Run: ``python examples/grid_search_level.py`` (figure:
``docs/gallery/grid_search_level.png``; ``--out PATH`` to write it
elsewhere, ``--quick`` for a 3-level, 5-epoch smoke run).
"""

import argparse
import os
import time
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402

from sklearn_constrained import ConstrainedClassifier  # noqa: E402
from sklearn_constrained.constraints import L2Norm  # noqa: E402
from sklearn_constrained.methods import GDA  # noqa: E402
from sklearn_constrained.metrics import make_constraint_scorer  # noqa: E402
from sklearn_constrained.model_selection import best_feasible  # noqa: E402
from sklearn_constrained.plotting import plot_level_sweep  # noqa: E402

PARAM = "clf__constraints__l2__bound"
#: a held-out violation up to this (in units of the sum of squared weights)
#: counts as met
TOL = 0.05


def main(out, levels=(1, 3, 10, 30, 100, 300), epochs=30, seed=0):
    start = time.perf_counter()
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)

    def pipeline(constraints):
        # dual_lr=0.1: a larger dual step than the default 0.01, so that the
        # tight levels are reached within the short training budget.
        clf = ConstrainedClassifier(
            constraints=constraints, method=GDA(dual_lr=0.1), max_epochs=epochs, random_state=seed
        )
        return Pipeline([("scale", MinMaxScaler()), ("clf", clf)])

    search = GridSearchCV(
        pipeline({"l2": L2Norm(bound=1.0)}),
        {PARAM: list(levels)},
        cv=3,
        scoring={
            "accuracy": "accuracy",
            "l2": make_constraint_scorer("l2"),  # -violation: 0 when the level holds
            "l2_value": make_constraint_scorer("l2", response="value"),
        },
        refit=best_feasible("accuracy", ["l2"], tol=TOL),
    )
    with warnings.catch_warnings():
        # A candidate that misses its level warns; the search records it.
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(Xtr, ytr)
        free = cross_val_score(pipeline(None), Xtr, ytr, cv=3).mean()

    res = search.cv_results_
    print(f"digits: {len(Xtr)} train / {len(Xte)} test samples, 3-fold CV, {epochs} epochs per fit")
    print(f"{'level':>7} {'accuracy':>9} {'||W||^2':>9} {'violation':>10}  met")
    for i, level in enumerate(res[f"param_{PARAM}"]):
        viol = max(-res["mean_test_l2"][i], 0.0) + 0.0  # + 0.0: no "-0.000"
        print(
            f"{level:>7g} {res['mean_test_accuracy'][i]:>9.3f} "
            f"{res['mean_test_l2_value'][i]:>9.2f} "
            f"{viol:>10.3f}  {'yes' if viol <= TOL else 'NO'}"
        )
    best = search.best_index_
    print(f"unconstrained (3-fold CV): accuracy {free:.3f}")
    print(
        f"best_feasible refit the level {res[f'param_{PARAM}'][best]:g}: held-out test accuracy "
        f"{search.best_estimator_.score(Xte, yte):.3f}"
    )

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.4))
    plot_level_sweep(search, PARAM, scoring="accuracy", violation="l2", tol=TOL, ax=ax1)
    ax1.axhline(free, color="0.4", ls=":", label="unconstrained")
    ax1.set_xlabel("level: sum of squared weights <= bound")
    ax1.set_ylabel("held-out accuracy (3-fold mean)")
    ax1.set_title("Accuracy against the level")
    ax1.legend(fontsize=8, loc="lower right")

    x = np.asarray(res[f"param_{PARAM}"], dtype=float)
    v = np.asarray(res["mean_test_l2_value"], dtype=float)
    met = -np.asarray(res["mean_test_l2"], dtype=float) <= TOL
    grid = np.geomspace(x.min() / 2, x.max() * 2, 50)
    ax2.fill_between(grid, 0, grid, color="C2", alpha=0.12, lw=0, label="feasible: value <= level")
    ax2.plot(grid, grid, color="r", ls="--", lw=1.2, label="value = level")
    ax2.plot(x[met], v[met], "o", color="C0", label="trained models")
    if np.any(~met):
        ax2.plot(x[~met], v[~met], "x", color="C3", ms=9, label="level missed")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlim(grid[0], grid[-1])
    ax2.set_ylim(min(v.min(), x.min()) / 3, grid[-1])
    ax2.set_xlabel("level (bound)")
    ax2.set_ylabel("sum of squared weights reached (3-fold mean)")
    ax2.set_title("Each model meets the level it was given")
    ax2.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"figure written to {out} ({time.perf_counter() - start:.1f} s)")
    return search


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("docs", "gallery", "grid_search_level.png"))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick", action="store_true", help="3 levels, 5 epochs: a smoke run for CI"
    )
    args = parser.parse_args()
    if args.quick:
        main(args.out, levels=(3, 30, 300), epochs=5, seed=args.seed)
    else:
        main(args.out, epochs=args.epochs, seed=args.seed)
