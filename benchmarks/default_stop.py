"""A default fit on Adult, with and without scikit-learn's stopping rule (issue 16).

``ConstrainedClassifier(constraints={"dp": DemographicParity(0.05)})`` at
its defaults otherwise (``max_epochs=100``, Adam, ``method="auto"``) on the
standardised Adult training split (sex as the sensitive feature), for every
stopping setting and every seed:

- ``none``: ``early_stopping=False``, every epoch runs;
- ``10``: ``early_stopping=False, n_iter_no_change=10`` (``MLPClassifier``'s
  rule on the training objective);
- ``default``: the estimator's default ``early_stopping="auto"``, on for
  Adult's 32,561 rows (more than 10,000): a validation part of 0.1 and
  ``n_iter_no_change=10`` (``MLPClassifier``'s ``early_stopping``: the rule
  reads the validation part's objective and levels, and the returned epoch
  is chosen on it).

Reported per run: the epochs run, the fit time (one thread), and the
accuracy and demographic-parity gap on Adult's test split; per setting, the
means over the seeds against ``none``'s. The figures of the summary are the
mean epochs, test accuracy and test gap of the default setting against
``none``'s.

Run: ``python -m benchmarks.default_stop [--seeds 0 1 2] [--settings none 10 10v]
[--quick]`` (about 3 minutes a seed on one thread); writes
``benchmarks/results/default_stop.md``.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    Figure,
    machine_description,
    md_table,
    quiet,
    resolve_out_dir,
    write_result,
)

NAME = "default_stop"
SETTINGS = {
    "none": dict(early_stopping=False),
    "10": dict(early_stopping=False, n_iter_no_change=10),
    "default": dict(),
}
SEEDS = (0, 1, 2)
QUICK_ROWS, QUICK_EPOCHS = 2000, 5


def _data(quick):
    from sklearn.preprocessing import StandardScaler

    import sklearn_constrained as sc

    Xtr, ytr, s_tr = sc.datasets.load_adult(subset="train", return_X_y=True)
    Xte, yte, s_te = sc.datasets.load_adult(subset="test", return_X_y=True)
    if quick:
        Xtr, ytr, s_tr = Xtr[:QUICK_ROWS], ytr[:QUICK_ROWS], s_tr[:QUICK_ROWS]
        Xte, yte, s_te = Xte[:QUICK_ROWS], yte[:QUICK_ROWS], s_te[:QUICK_ROWS]
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), ytr, s_tr, scaler.transform(Xte), np.asarray(yte), s_te


def fit_one(data, setting, seed, quick=False):
    """One fit; returns its row as a dict."""
    import sklearn_constrained as sc
    from sklearn_constrained.constraints import DemographicParity

    Xtr, ytr, s_tr, Xte, yte, s_te = data
    extra = {"max_epochs": QUICK_EPOCHS} if quick else {}
    clf = sc.ConstrainedClassifier(
        constraints={"dp": DemographicParity(bound=0.05)},
        random_state=seed,
        **SETTINGS[setting],
        **extra,
    )
    start = time.perf_counter()
    with quiet():
        clf.fit(Xtr, ytr, sensitive_features=s_tr)
    seconds = time.perf_counter() - start
    pred = clf.predict(Xte)
    groups = np.asarray(s_te).ravel()
    rates = [pred[groups == k].mean() for k in np.unique(groups)]
    return dict(
        setting=setting,
        seed=seed,
        epochs=int(clf.n_iter_),
        seconds=seconds,
        accuracy=float(np.mean(pred == yte)),
        gap=float(max(rates) - min(rates)),
        feasible=bool(clf.feasible_),
        stopped=str(clf.history_[-1].get("stopped", "")),
    )


def _mean(rows, key):
    return statistics.fmean(r[key] for r in rows)


def report(rows, settings, seeds, seconds, command):
    by = {s: [r for r in rows if r["setting"] == s] for s in settings}
    summary = []
    for s in settings:
        rs = by[s]
        summary.append([
            s, len(rs), f"{_mean(rs, 'epochs'):.1f}", f"{_mean(rs, 'seconds'):.0f}",
            f"{_mean(rs, 'accuracy'):.4f}", f"{_mean(rs, 'gap'):.4f}",
            f"{max(r['gap'] for r in rs):.4f}", f"{sum(r['feasible'] for r in rs)}/{len(rs)}",
        ])
    every = [[r["setting"], r["seed"], r["epochs"], f"{r['seconds']:.0f}", f"{r['accuracy']:.4f}",
              f"{r['gap']:.4f}", "yes" if r["feasible"] else "NO", r["stopped"] or "max_epochs"]
             for r in rows]
    return "\n".join([
        "# A default fit on Adult: stopping when it is done",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        f"Machine: {machine_description(threads=1)}. Seeds: {', '.join(map(str, seeds))}. "
        f"{seconds / 60:.1f} minutes in all.",
        f"Command: `{command}`",
        "",
        "## Means over the seeds",
        "",
        md_table(["setting", "runs", "epochs run", "fit s", "test accuracy", "test DP gap",
                  "largest test DP gap", "feasible (train)"], summary),
        "",
        "## Every run",
        "",
        md_table(["setting", "seed", "epochs", "fit s", "test accuracy", "test DP gap",
                  "feasible (train)", "why it stopped"], every),
    ])


def figures(rows, settings, command, default="default"):
    """The summary's rows: the default setting's means against ``none``'s."""
    if "none" not in settings or default not in settings:
        return []
    base = [r for r in rows if r["setting"] == "none"]
    new = [r for r in rows if r["setting"] == default]
    label = "the default early_stopping='auto'" if default == "default" else default
    return [
        Figure(NAME, f"Adult DP<=0.05, {label}: epochs run / 100 (mean of seeds)",
               _mean(new, "epochs") / _mean(base, "epochs"), "< 1.0", command),
        Figure(NAME, f"Adult DP<=0.05, {label}: test accuracy minus every epoch's (mean)",
               _mean(new, "accuracy") - _mean(base, "accuracy"), ">= 0.0", command, fmt="{:+.4f}"),
        Figure(NAME, f"Adult DP<=0.05, {label}: test DP gap minus every epoch's (mean)",
               _mean(new, "gap") - _mean(base, "gap"), "<= 0.0", command, fmt="{:+.4f}"),
    ]


def _command(quick, seeds, settings):
    cmd = "python -m benchmarks.default_stop"
    if tuple(seeds) != ((0,) if quick else SEEDS):
        cmd += " --seeds " + " ".join(map(str, seeds))
    if tuple(settings) != tuple(SETTINGS):
        cmd += " --settings " + " ".join(settings)
    return cmd + (" --quick" if quick else "")


def run(quick=False, out_dir=None, seeds=None, settings=None):
    seeds = tuple(seeds or ((0,) if quick else SEEDS))
    settings = tuple(settings or SETTINGS)
    torch.set_num_threads(1)
    data = _data(quick)
    t0 = time.perf_counter()
    rows = []
    for seed in seeds:
        for s in settings:
            rows.append(fit_one(data, s, seed, quick))
            print(rows[-1], flush=True)
    command = _command(quick, seeds, settings)
    text = report(rows, settings, seeds, time.perf_counter() - t0, command)
    path = write_result(resolve_out_dir(out_dir, quick), NAME, text)
    print(text)
    print(f"\nWrote {path}")
    return figures(rows, settings, command)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=None)
    parser.add_argument("--settings", nargs="+", choices=tuple(SETTINGS), default=None)
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_ROWS} rows, {QUICK_EPOCHS} epochs, one seed (smoke test)")
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    run(args.quick, args.out, args.seeds, args.settings)


if __name__ == "__main__":
    main(sys.argv[1:])
