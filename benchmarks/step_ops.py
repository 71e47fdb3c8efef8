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

Run: ``python -m benchmarks.step_ops [--quick]`` (about 30 s); writes
``benchmarks/results/step_ops.md``.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler
from torch.profiler import ProfilerActivity, profile

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sklearn_constrained as sc
from benchmarks._common import Figure, machine_description, md_table, resolve_out_dir, write_result
from sklearn_constrained.constraints import DemographicParity, L2Norm

NAME = "step_ops"
EPOCHS = 2
QUICK_ROWS = 1000


def _ops_per_step(make, X, y, groups, batch):
    clf = make()
    with warnings.catch_warnings(), profile(activities=[ProfilerActivity.CPU]) as prof:
        warnings.simplefilter("ignore")
        clf.fit(X, y, **({} if groups is None else {"sensitive_features": groups}))
    ops = sum(e.count for e in prof.key_averages() if e.key.startswith("aten::"))
    steps = EPOCHS * int(np.ceil(len(X) / batch))
    return ops / steps


def run(quick=False, out_dir=None):
    torch.set_num_threads(1)
    X, y = load_digits(return_X_y=True)
    Xa, ya, sa = sc.datasets.load_adult(subset="train", return_X_y=True)
    rows = np.random.default_rng(0).permutation(len(Xa))[: QUICK_ROWS if quick else 20000]
    Xa, ya, sa = StandardScaler().fit_transform(Xa[rows]), ya[rows], np.asarray(sa)[rows]
    if quick:
        X, y = X[:QUICK_ROWS], y[:QUICK_ROWS]
    cases = [
        ("digits-l2", X / 16.0, y, None, 128, lambda: {"l2": L2Norm(bound=100.0)}),
        ("adult-dp", Xa, ya, sa, 256, lambda: {"dp": DemographicParity(bound=0.05)}),
    ]
    command = "python -m benchmarks.step_ops" + (" --quick" if quick else "")
    table, figures = [], []
    for name, Xc, yc, groups, batch, cons in cases:
        def make(constraints=None, method="auto", batch=batch):
            return sc.ConstrainedClassifier(constraints=constraints, method=method,
                                            max_epochs=EPOCHS, batch_size=batch,
                                            random_state=0, device="cpu")
        base = _ops_per_step(make, Xc, yc, groups, batch)
        table.append([name, "none", f"{base:.0f}", ""])
        for method in ("gda", "auto"):
            n = _ops_per_step(lambda m=method, c=cons: make(c(), m), Xc, yc, groups, batch)
            table.append([name, method, f"{n:.0f}", f"{n - base:+.0f}"])
            figures.append(Figure(NAME, f"{name}: aten operations per step, {method} / none",
                                  n / base, "", command, note=f"{n:.0f} against {base:.0f}"))
    text = "\n".join([
        "# Tensor operations per training step",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        f"Machine: {machine_description(threads=1)} (the counts do not depend on it).",
        f"Command: `{command}`",
        "",
        md_table(["case", "method", "aten ops per step", "added by the constraint"], table),
    ])
    path = write_result(resolve_out_dir(out_dir, quick), NAME, text)
    print(text)
    print(f"\nWrote {path}")
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS} rows (smoke test)")
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    run(args.quick, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
