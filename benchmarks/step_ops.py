"""Tensor operations per training step, with and without a constraint (issue 16).

On a CPU with a small network a step costs a few microseconds per tensor
operation, so the number of operations a constraint adds is the figure
that timing on a shared machine blurs. This counts the ``aten::`` operations
recorded by ``torch.profiler`` during a whole ``fit`` (2 epochs) and divides
by the number of training steps, for each case:

- ``digits-l2``: an MLP on scikit-learn's digits (batch 128), no constraint
  and ``L2Norm(bound=100)`` with ``method`` gda and auto;
- ``adult-dp``: an MLP on 20,000 rows of Adult (batch 256), no constraint
  and ``DemographicParity(bound=0.05)`` (sex) with gda and auto.

Per-epoch work (the epoch's check, snapshots) is included, spread over the
steps. Deterministic: the same code gives the same counts on any machine.

Run: ``python -m benchmarks.step_ops`` (about 30 s).
"""

import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler
from torch.profiler import ProfilerActivity, profile

import sklearn_constrained as sc
from sklearn_constrained.constraints import DemographicParity, L2Norm

EPOCHS = 2


def _ops_per_step(make, X, y, groups, batch):
    clf = make()
    with warnings.catch_warnings(), profile(activities=[ProfilerActivity.CPU]) as prof:
        warnings.simplefilter("ignore")
        clf.fit(X, y, **({} if groups is None else {"sensitive_features": groups}))
    ops = sum(e.count for e in prof.key_averages() if e.key.startswith("aten::"))
    steps = EPOCHS * int(np.ceil(len(X) / batch))
    return ops / steps


def main():
    torch.set_num_threads(1)
    X, y = load_digits(return_X_y=True)
    Xa, ya, sa = sc.datasets.load_adult(subset="train", return_X_y=True)
    rows = np.random.default_rng(0).permutation(len(Xa))[:20000]
    Xa, ya, sa = StandardScaler().fit_transform(Xa[rows]), ya[rows], np.asarray(sa)[rows]
    cases = [
        ("digits-l2", X / 16.0, y, None, 128, lambda: {"l2": L2Norm(bound=100.0)}),
        ("adult-dp", Xa, ya, sa, 256, lambda: {"dp": DemographicParity(bound=0.05)}),
    ]
    print("| case | method | aten ops per step | added by the constraint |")
    print("| --- | --- | --- | --- |")
    for name, Xc, yc, groups, batch, cons in cases:
        def make(constraints=None, method="auto", batch=batch):
            return sc.ConstrainedClassifier(constraints=constraints, method=method,
                                            max_epochs=EPOCHS, batch_size=batch,
                                            random_state=0, device="cpu")
        base = _ops_per_step(make, Xc, yc, groups, batch)
        print(f"| {name} | none | {base:.0f} | |")
        for method in ("gda", "auto"):
            n = _ops_per_step(lambda m=method, c=cons: make(c(), m), Xc, yc, groups, batch)
            print(f"| {name} | {method} | {n:.0f} | {n - base:+.0f} |")


if __name__ == "__main__":
    main()
