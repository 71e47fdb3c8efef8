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

The reference row counts the plain PyTorch loop of ``benchmarks/overhead.py``
(Adam on the cross-entropy of shuffled slices) on the same MLP, so the
estimator's own operations show too.

Per-epoch work (the epoch's check, snapshots) is included, spread over the
steps. A second table counts the Python function calls per step (cProfile),
where a small network's CPU step spends much of its time. Deterministic: the
same code gives the same counts on any machine.

Run: ``python -m benchmarks.step_ops [--quick]`` (about a minute); writes
``benchmarks/results/step_ops.md``.
"""

import argparse
import cProfile
import pstats
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


def _plain_setup(X, y):
    """``(X as float32, the MLP)`` for the plain loop of ``benchmarks/overhead.py``."""
    X = np.asarray(X, dtype=np.float32)
    torch.manual_seed(0)
    return X, sc.models.MLP(X.shape[1], len(np.unique(y)))


def _plain_ops_per_step(X, y, batch):
    """The aten count of :func:`_ops_per_step` for the plain loop (Adam, shuffled slices)."""
    from benchmarks.overhead import plain_torch_loop

    X, module = _plain_setup(X, y)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        plain_torch_loop(module, X, y, EPOCHS, batch)
    ops = sum(e.count for e in prof.key_averages() if e.key.startswith("aten::"))
    return ops / (EPOCHS * int(np.ceil(len(X) / batch)))


def _calls_per_step(fit, steps_per_epoch):
    """Python function calls per step: a 2x-epoch fit minus an x-epoch one (setup cancels)."""
    counts = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epochs in (EPOCHS, 2 * EPOCHS):  # warm-up: first-call imports and caches
            fit(epochs)
    for epochs in (EPOCHS, 2 * EPOCHS):
        pr = cProfile.Profile()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pr.enable()
            fit(epochs)
            pr.disable()
        counts.append(pstats.Stats(pr).total_calls)
    return (counts[1] - counts[0]) / (EPOCHS * steps_per_epoch)


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
    table, figures, calls = [], [], {}
    for name, Xc, yc, groups, batch, cons in cases:
        def make(constraints=None, method="auto", batch=batch, epochs=EPOCHS):
            return sc.ConstrainedClassifier(constraints=constraints, method=method,
                                            max_epochs=epochs, batch_size=batch,
                                            random_state=0, device="cpu",
                                            early_stopping=False)

        def fit_calls(epochs, constraints=None, method="auto", Xc=Xc, yc=yc, groups=groups,
                      batch=batch):
            clf = make(constraints, method, batch, epochs)
            kw = {} if groups is None or constraints is None else {"sensitive_features": groups}
            clf.fit(Xc, yc, **kw)

        def plain_calls(epochs, Xc=Xc, yc=yc, batch=batch):
            from benchmarks.overhead import plain_torch_loop

            X32, module = _plain_setup(Xc, yc)
            plain_torch_loop(module, X32, yc, epochs, batch)

        per_epoch = int(np.ceil(len(Xc) / batch))
        calls[name] = {"plain PyTorch loop (reference)": _calls_per_step(plain_calls, per_epoch),
                       "none": _calls_per_step(fit_calls, per_epoch)}
        for method in ("gda", "auto"):
            calls[name][method] = _calls_per_step(
                lambda e, m=method, c=cons: fit_calls(e, c(), m), per_epoch)
        mine, ref = calls[name]["none"], calls[name]["plain PyTorch loop (reference)"]
        figures.append(Figure(NAME, f"{name}: Python calls per step, estimator (none) / "
                              "plain PyTorch loop", mine / ref, "", command,
                              note=f"{mine:.0f} against {ref:.0f}"))
        base = _ops_per_step(make, Xc, yc, groups, batch)
        plain = _plain_ops_per_step(Xc, yc, batch)
        table.append([name, "plain PyTorch loop (reference)", f"{plain:.0f}", ""])
        table.append([name, "none", f"{base:.0f}", f"{base - plain:+.0f} over the plain loop"])
        figures.append(Figure(NAME, f"{name}: aten operations per step, estimator (none) / "
                              "plain PyTorch loop", base / plain, "", command,
                              note=f"{base:.0f} against {plain:.0f}"))
        for method in ("gda", "auto"):
            n = _ops_per_step(lambda m=method, c=cons: make(c(), m), Xc, yc, groups, batch)
            table.append([name, method, f"{n:.0f}", f"{n - base:+.0f} over none"])
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
        md_table(["case", "method", "aten ops per step", "added"], table),
        "",
        "Python function calls per training step (cProfile's count for a fit of "
        f"{2 * EPOCHS} epochs minus one of {EPOCHS}, over the steps between them: the setup "
        "cancels):",
        "",
        md_table(["case", "configuration", "Python calls per step"],
                 [[n, k, f"{v:.0f}"] for n, d in calls.items() for k, v in d.items()]),
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
