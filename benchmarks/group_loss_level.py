"""A group-loss level in the units of ``y`` (issue 17, item 7): training as it is, no divergence.

``BoundedGroupLoss(2500.)`` on scikit-learn's diabetes (standardised ``X``,
groups by the sex column, the target in its own units), 100 epochs,
``random_state=0``, for ``method`` in auto and gda and the Adam and SGD
primal optimizers, each beside the same fit without the constraint. Prints
the training MSE overall and per group, ``feasible_`` and the epochs run.

Run: ``python -m benchmarks.group_loss_level [--epochs N]`` (about 20 s).
"""

import argparse
import warnings

from sklearn.datasets import load_diabetes
from sklearn.preprocessing import StandardScaler

import sklearn_constrained as sc


def main(epochs=100):
    X, y = load_diabetes(return_X_y=True)
    groups = (X[:, 1] > 0).astype(int)
    X = StandardScaler().fit_transform(X)
    head = ("method", "optimizer", "constraint", "training MSE", "group 0", "group 1", "feasible",
            "epochs")
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for method in ("auto", "gda"):
        for optimizer in ("adam", "sgd"):
            for cons in (None, {"bgl": sc.constraints.BoundedGroupLoss(2500.0)}):
                reg = sc.ConstrainedRegressor(constraints=cons, method=method, optimizer=optimizer,
                                              max_epochs=epochs, random_state=0)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    reg.fit(X, y, sensitive_features=groups)
                err = (reg.predict(X) - y) ** 2
                g0, g1 = (float(err[groups == k].mean()) for k in (0, 1))
                name = "BoundedGroupLoss(2500)" if cons else "none"
                print(f"| {method} | {optimizer} | {name} | {err.mean():.1f} | {g0:.1f} | {g1:.1f} "
                      f"| {reg.feasible_} | {reg.n_iter_} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    main(parser.parse_args().epochs)
