"""A rate level on a model that can fit every row (issue 13): every method swings across it.

``PredictionRate(label=1, upper=0.5)`` on scikit-learn's breast cancer (63%
of the rows positive), a ``StandardScaler`` pipeline with the default
``ConstrainedClassifier`` (100 epochs), 75/25 stratified splits with seeds
0 to ``--seeds`` - 1, for ``method="auto"`` and ``GDA(dual_lr=1)`` (the best
run of the 7-point sweep of ``benchmarks/estimator_tasks.py``). Reported per
method: the mean test accuracy and training rate of the returned model, the
range of the epochs' training rates over the last 50 epochs (the
``selection`` check on the whole training data), and the multiplier then.

Why they swing (the methods guide, "Auto"): with the cross-entropy and the
sigmoid surrogate, a positive row's margin settles where
``sigma(z) = 1 / lambda``, the same for every positive row, so below
``lambda = 2`` all positives are predicted positive and above it none.
A model that meets the level loses at least 13 points of accuracy (the
positives it must reject), so about 0.87 is the best a deterministic
classifier can reach.

Run: ``python -m benchmarks.rate_oscillation [--seeds N] [--quick]`` (about a
minute); writes ``benchmarks/results/rate_oscillation.md``.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
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
from sklearn_constrained.constraints import PredictionRate
from sklearn_constrained.methods import GDA

NAME = "rate_oscillation"
SEEDS, QUICK_SEEDS = 10, 2
LAST = 50  # the epochs whose rates and multipliers are summarised


def _fit(method, seed, X, y, epochs):
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
    clf = make_pipeline(StandardScaler(), sc.ConstrainedClassifier(
        constraints={"rate": PredictionRate(label=1, upper=0.5)}, method=method,
        random_state=seed, **({} if epochs is None else {"max_epochs": epochs})))
    with quiet():
        clf.fit(Xtr, ytr)
    est = clf[-1]
    tail = est.history_[-LAST:]
    rates = [float(r["selection"]["constraints"]["rate"]) for r in tail if "selection" in r]
    lams = [float(np.max(r["multipliers"]["rate"])) for r in tail]
    return {"acc": clf.score(Xte, yte), "rate": float(est.constraint_values_["rate"]),
            "feasible": est.feasible_, "rates": (min(rates), max(rates)),
            "lams": (min(lams), max(lams)), "positive": float(np.mean(ytr))}


def run(quick=False, out_dir=None, seeds=None):
    n_seeds = seeds or (QUICK_SEEDS if quick else SEEDS)
    epochs = 10 if quick else None
    X, y = load_breast_cancer(return_X_y=True)
    t0 = time.perf_counter()
    methods = {"auto": "auto", "GDA(dual_lr=1)": lambda: GDA(dual_lr=1.0)}
    results = {
        name: [_fit(m() if callable(m) else m, s, X, y, epochs) for s in range(n_seeds)]
        for name, m in methods.items()
    }
    rows = []
    for name, res in results.items():
        rows.append([
            name,
            f"{np.mean([r['acc'] for r in res]):.3f} "
            f"({min(r['acc'] for r in res):.3f}-{max(r['acc'] for r in res):.3f})",
            f"{np.mean([r['rate'] for r in res]):.3f}",
            f"{sum(r['feasible'] for r in res)}/{len(res)}",
            f"{min(r['rates'][0] for r in res):.2f}-{max(r['rates'][1] for r in res):.2f}",
            f"{min(r['lams'][0] for r in res):.2f}-{max(r['lams'][1] for r in res):.2f}",
        ])
    command = "python -m benchmarks.rate_oscillation" + (" --quick" if quick else "")
    if seeds is not None:
        command += f" --seeds {seeds}"
    positive = np.mean([r["positive"] for r in results["auto"]])
    text = "\n".join([
        "# A rate level on a model that can fit every row",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        __doc__.split("\n\n")[2].replace("\n", " "),
        "",
        f"Machine: {machine_description()}. {time.perf_counter() - t0:.0f} s in all. "
        f"{positive:.0%} of the training rows positive.",
        f"Command: `{command}`",
        "",
        md_table(["method", "test accuracy, mean (min-max)", "training rate, mean",
                  "level met (train)", f"training rate over the last {LAST} epochs (min-max)",
                  f"multiplier over the last {LAST} epochs (min-max)"], rows),
    ])
    path = write_result(resolve_out_dir(out_dir, quick), NAME, text)
    print(text)
    print(f"\nWrote {path}")
    acc = {name: float(np.mean([r["acc"] for r in res])) for name, res in results.items()}
    return [
        Figure(NAME, f"breast cancer, rate <= 0.5: mean test accuracy over {n_seeds} seeds, {name}",
               value, "", command, fmt="{:.3f}")
        for name, value in acc.items()
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=None, help=f"seeds (default {SEEDS})")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 10 epochs (a smoke pass)")
    parser.add_argument("--out", "--out-dir", dest="out", default=None,
                        help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    run(quick=args.quick, out_dir=args.out, seeds=args.seeds)


if __name__ == "__main__":
    main()
