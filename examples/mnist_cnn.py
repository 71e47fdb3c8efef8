"""A CNN on MNIST-5k with near-orthogonal convolution kernels, at the defaults.

The convolutional network of :class:`sklearn_constrained.models.CNN` is
trained on the 5,000 bundled MNIST digits (80/20 stratified split) with the
kernels of both convolutions near-orthogonal: the sum over the selected
kernels of ``||W W^T - I||_F^2`` (each kernel read as out x in*k*k, the
smaller Gram) at most 1. Only the level is stated: ``method="auto"`` (the
default) learns the multiplier. ``verbose=1`` prints one line per epoch with
each constraint's value against its level; the figure is
:func:`~sklearn_constrained.plotting.plot_history`: the objective, the
constraint against its level, the multiplier and the returned epoch.

Run: ``python examples/mnist_cnn.py`` (about a minute on one core; figure:
``docs/gallery/mnist_cnn.png``, ``--out PATH`` to write it elsewhere,
``--quick`` for a 1-epoch smoke run on 1,000 images).
"""

import argparse
import os
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import sklearn_constrained as sc  # noqa: E402
from sklearn_constrained.constraints import Orthogonality  # noqa: E402
from sklearn_constrained.plotting import plot_history  # noqa: E402


def main(out, epochs=6, n=None, seed=0):
    start = time.perf_counter()
    torch.set_num_threads(1)
    X, y = sc.datasets.load_mnist_5k(return_X_y=True, flatten=False)
    X = X.astype(np.float32) / 255.0 if X.max() > 1 else X.astype(np.float32)
    if n is not None:
        X, _, y, _ = train_test_split(X, y, train_size=n, random_state=seed, stratify=y)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)

    clf = sc.ConstrainedClassifier(
        module=sc.models.CNN,
        constraints={"orth": Orthogonality(bound=1.0, params="features.*.weight")},
        lr=1e-3,
        max_epochs=epochs,
        random_state=seed,
        verbose=1,
    )
    clf.fit(Xtr, ytr)

    value = clf.evaluate_constraints(Xte)["orth"]
    print(f"\nMNIST-5k: {len(Xtr)} train / {len(Xte)} test images, {clf.n_iter_} epochs")
    print(f"held-out accuracy: {clf.score(Xte, yte):.3f}")
    print(f"orthogonality: {value:.4f} (level 1), feasible: {clf.feasible_}, "
          f"returned epoch {clf.best_epoch_}, multiplier {clf.multipliers_['orth'][0]:.4g}")

    axes = plot_history(clf)
    fig = axes[0].figure
    fig.suptitle("MNIST-5k CNN with sum ||W W^T - I||_F^2 <= 1 on the kernels (method='auto')")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"figure written to {out} ({time.perf_counter() - start:.1f} s)")
    return clf


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("docs", "gallery", "mnist_cnn.png"))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="1 epoch on 1,000 images (CI)")
    args = parser.parse_args()
    if args.quick:
        main(args.out, epochs=1, n=1000, seed=args.seed)
    else:
        main(args.out, epochs=args.epochs, seed=args.seed)
