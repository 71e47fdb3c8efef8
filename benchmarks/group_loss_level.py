"""A group-loss level in the units of ``y`` (issue 17, item 7): training as it is, no divergence.

``BoundedGroupLoss(2500.)`` on scikit-learn's diabetes (standardised ``X``,
groups by the sex column, the target in its own units), 100 epochs,
``random_state=0``, for ``method`` in auto and gda and the Adam and SGD
primal optimizers, each beside the same fit without the constraint. Prints
the training MSE overall and per group, ``feasible_`` and the epochs run.

Run: ``python -m benchmarks.group_loss_level [--epochs N] [--quick]`` (about 20 s);
writes ``benchmarks/results/group_loss_level.md``.
"""

import argparse
import sys
import time
from pathlib import Path

from sklearn.datasets import load_diabetes
from sklearn.preprocessing import StandardScaler

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sklearn_constrained as sc
from benchmarks._common import (
    Figure,
    machine_description,
    md_table,
    quiet,
    resolve_out_dir,
    write_result,
)

NAME = "group_loss_level"
EPOCHS, QUICK_EPOCHS = 100, 5


def run(quick=False, out_dir=None, epochs=None):
    epochs = epochs or (QUICK_EPOCHS if quick else EPOCHS)
    X, y = load_diabetes(return_X_y=True)
    groups = (X[:, 1] > 0).astype(int)
    X = StandardScaler().fit_transform(X)
    table, mse = [], {}
    t0 = time.perf_counter()
    for method in ("auto", "gda"):
        for optimizer in ("adam", "sgd"):
            for cons in (None, {"bgl": sc.constraints.BoundedGroupLoss(2500.0)}):
                reg = sc.ConstrainedRegressor(constraints=cons, method=method, optimizer=optimizer,
                                              max_epochs=epochs, random_state=0)
                with quiet():
                    reg.fit(X, y, sensitive_features=groups)
                err = (reg.predict(X) - y) ** 2
                g0, g1 = (float(err[groups == k].mean()) for k in (0, 1))
                name = "BoundedGroupLoss(2500)" if cons else "none"
                mse[(method, optimizer, bool(cons))] = float(err.mean())
                table.append([method, optimizer, name, f"{err.mean():.1f}", f"{g0:.1f}",
                              f"{g1:.1f}", "yes" if reg.feasible_ else "NO", reg.n_iter_])
    command = "python -m benchmarks.group_loss_level" + (" --quick" if quick else "")
    if epochs not in (EPOCHS, QUICK_EPOCHS):
        command += f" --epochs {epochs}"
    text = "\n".join([
        "# A group-loss level in the units of y",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        f"Machine: {machine_description()}. {time.perf_counter() - t0:.0f} s in all.",
        f"Command: `{command}`",
        "",
        md_table(["method", "optimizer", "constraint", "training MSE", "group 0", "group 1",
                  "feasible", "epochs"], table),
    ])
    path = write_result(resolve_out_dir(out_dir, quick), NAME, text)
    print(text)
    print(f"\nWrote {path}")
    return [
        Figure(NAME, f"diabetes, BoundedGroupLoss(2500), {m} with Adam: training MSE / "
               "unconstrained", mse[(m, "adam", True)] / mse[(m, "adam", False)], "", command)
        for m in ("auto", "gda")
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EPOCHS} epochs (smoke test)")
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args()
    run(args.quick, args.out, args.epochs)
