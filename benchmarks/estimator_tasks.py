"""Robustness at the defaults, part (b): ``method="auto"`` against a GDA dual-step sweep.

Issue 13, part (b): on estimator tasks with data that ship with scikit-learn
or the package, ONE run of the self-tuning default ``method="auto"`` is
compared with a 7-point log sweep of gradient descent-ascent's dual step,
``GDA(dual_lr=d)`` for ``d`` in 1e-3, 1e-2, ..., 1e3 (:data:`DUAL_LRS`). The
estimator's other settings are its defaults (Adam, lr 0.01, batch 128)
unless a task says otherwise; every run uses ``random_state=0`` and the CPU.
Each task has a fixed stratified train/test split (``random_state=0``) and
standardised features where the data are tabular (the scaler fitted on the
training part):

1. ``norm``: digits (X / 16, 70/30 split), the default MLP (64 hidden
   units), ``L2Norm(bound=B)`` with ``B`` a quarter of the sum of squared
   weights an unconstrained fit with the same settings reaches (as
   ``examples/demo.py``), 60 epochs.
2. ``rate``: breast cancer (70/30 split), ``PredictionRate(label=1,
   upper=0.5)`` (63% of the rows are positive), 100 epochs (the default).
3. ``dp``: Adult (8,000 training and 4,000 test rows drawn from its
   ``"train"`` subset, stratified by label and sex; sensitive feature sex),
   ``DemographicParity(bound=0.05)``, 20 epochs, batch 256.
4. ``orth``: MNIST-5k (80/20 split), ``sc.models.CNN``,
   ``Orthogonality(bound=1.0, params="features.*.weight")`` on its two
   convolution kernels (about 18 at initialisation), 5 epochs.
5. ``density``: the L0-gated MLP 300-100 of ``benchmarks/sparsity.py``
   (hard-concrete gates, droprate_init 0.2) on MNIST-5k (80/20 split),
   ``Density(upper=0.5)`` (the expected density), 20 epochs as there.

Reported per run: ``feasible_`` (every level met on the training data, within
the estimator's tolerance ``tol * max(1, |level|)``), the constraint's value
on the training data against its level, training and test accuracy, the
value on the test data (the same as on the training data for the weight
constraints and the density), the final multiplier, the epochs run
(``n_iter_``), the returned epoch (``best_epoch_``) and the fit seconds.

Per task: auto's test accuracy minus that of the best feasible GDA run (the
feasible run with the highest test accuracy; when no GDA setting ends
feasible, the best GDA run of all, said so), how many GDA settings end
feasible, and the goal of the issue, **feasible on the training data and
test accuracy within 2 points of the best run of the GDA sweep, in one run**
(pass only when the numbers say so).

Run: ``python -m benchmarks.estimator_tasks [--tasks ...] [--dual-lrs ...]
[--out DIR] [--quick]`` (about 4 minutes on one core for all five tasks, an estimate;
``--quick``: the ``norm`` and ``rate`` tasks on fewer rows and epochs and 3
dual steps, well under a minute). Writes
``benchmarks/results/estimator_tasks.md``.
"""

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

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

NAME = "estimator_tasks"
TASKS = ("norm", "rate", "dp", "orth", "density")
#: the 7-point log sweep of GDA's dual step
DUAL_LRS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
QUICK_TASKS = ("norm", "rate")
QUICK_DUAL_LRS = (1e-2, 1.0, 100.0)
SEED = 0
#: the goal: auto's test accuracy at most this far below the best GDA run's
WITHIN = 0.02


@dataclass
class Setup:
    """One task: its data, its constraint and the estimator's settings."""

    key: str
    title: str
    cname: str
    level: float
    level_text: str
    make_constraint: object  # () -> Constraint
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    params: dict
    description: str
    s_train: np.ndarray = None
    s_test: np.ndarray = None
    prep_seconds: float = 0.0
    notes: list = field(default_factory=list)

    @property
    def epochs(self):
        return self.params.get("max_epochs", 100)

    @property
    def steps_per_epoch(self):
        return math.ceil(len(self.X_train) / self.params.get("batch_size", 128))


@dataclass
class Result:
    task: str
    label: str
    dual_lr: float = None  # None for auto
    feasible: bool = False
    train_value: float = math.nan
    test_value: float = math.nan
    train_acc: float = math.nan
    test_acc: float = math.nan
    multiplier: float = math.nan
    epochs: int = 0
    best_epoch: int = 0
    seconds: float = 0.0
    error: str = ""


# ----------------------------------------------------------------------------
# tasks
# ----------------------------------------------------------------------------
def _scaled(X_train, X_test):
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def _norm(quick):
    from sklearn.datasets import load_digits

    import sklearn_constrained as sc
    from sklearn_constrained.constraints import L2Norm

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    if quick:
        X, y = X[::3], y[::3]
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=SEED)
    epochs = 5 if quick else 60
    params = {"max_epochs": epochs}
    t0 = time.perf_counter()
    with quiet():
        base = sc.ConstrainedClassifier(random_state=SEED, device="cpu", **params).fit(Xtr, ytr)
    seconds = time.perf_counter() - t0
    squared = float(
        base.constraint_details(Xtr, constraints={"l2": L2Norm(bound=1.0)}).values["l2"]
    )
    bound = squared / 4
    acc = base.score(Xte, yte)
    return Setup(
        "norm",
        "norm: digits, MLP 64, sum of squared weights <= a quarter of the unconstrained fit's",
        "l2",
        bound,
        f"<= {bound:.3g}",
        lambda: L2Norm(bound=bound),
        Xtr,
        ytr,
        Xte,
        yte,
        params,
        f"digits (X / 16{', every 3rd row' if quick else ''}), {len(Xtr)} training / "
        f"{len(Xte)} test rows (70/30), the default MLP (64 hidden units), {epochs} epochs, "
        f"`L2Norm(bound={bound:.4g})`: a quarter of the unconstrained fit's sum of squared "
        f"weights {squared:.4g}",
        prep_seconds=seconds,
        notes=[
            f"norm: the unconstrained fit ({epochs} epochs, {seconds:.2f} s, not in the runs "
            f"below) reaches a sum of squared weights of {squared:.4g} and test accuracy "
            f"{acc:.4f}; the level is a quarter of it, {bound:.4g}."
        ],
    )


def _rate(quick):
    from sklearn.datasets import load_breast_cancer

    from sklearn_constrained.constraints import PredictionRate

    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=SEED)
    Xtr, Xte = _scaled(Xtr, Xte)
    epochs = 10 if quick else 100
    return Setup(
        "rate",
        "rate: breast cancer, share of predicted class 1 <= 0.5",
        "rate",
        0.5,
        "<= 0.5",
        lambda: PredictionRate(label=1, upper=0.5),
        Xtr,
        ytr,
        Xte,
        yte,
        {"max_epochs": epochs},
        f"breast cancer (standardised; {ytr.mean():.0%} of the training rows positive), "
        f"{len(Xtr)} training / {len(Xte)} test rows (70/30), the default MLP, {epochs} epochs, "
        "`PredictionRate(label=1, upper=0.5)`",
    )


def _dp(quick):
    from sklearn_constrained.constraints import DemographicParity
    from sklearn_constrained.datasets import load_adult

    X, y, s = load_adult(return_X_y=True)
    n_train, n_test = (1000, 500) if quick else (8000, 4000)
    strata = np.char.add(y.astype(str), s.astype(str))
    Xtr, Xte, ytr, yte, str_, ste = train_test_split(
        X, y, s, train_size=n_train, test_size=n_test, stratify=strata, random_state=SEED
    )
    Xtr, Xte = _scaled(Xtr, Xte)
    epochs = 2 if quick else 20
    return Setup(
        "dp",
        "dp: Adult, demographic parity (sex) <= 0.05",
        "dp",
        0.05,
        "<= 0.05",
        lambda: DemographicParity(bound=0.05),
        Xtr,
        ytr,
        Xte,
        yte,
        {"max_epochs": epochs, "batch_size": 256},
        f"Adult (standardised, sex left out of the features and passed as "
        f"`sensitive_features`), {len(Xtr)} training / {len(Xte)} test rows drawn from the "
        f'`"train"` subset (stratified by label and sex), the default MLP, {epochs} epochs, '
        "batch 256, `DemographicParity(bound=0.05)`",
        s_train=str_,
        s_test=ste,
    )


def _mnist(quick):
    from sklearn_constrained.datasets import load_mnist_5k

    X, y = load_mnist_5k(return_X_y=True)
    if quick:
        X, y = X[::10], y[::10]
    return train_test_split(X, y, test_size=0.2, stratify=y, random_state=SEED)


def _orth(quick):
    import sklearn_constrained as sc
    from sklearn_constrained.constraints import Orthogonality

    Xtr, Xte, ytr, yte = _mnist(quick)
    epochs = 1 if quick else 5
    return Setup(
        "orth",
        "orth: MNIST-5k, CNN, orthogonality of the conv kernels <= 1",
        "orth",
        1.0,
        "<= 1",
        lambda: Orthogonality(bound=1.0, params="features.*.weight"),
        Xtr,
        ytr,
        Xte,
        yte,
        {"module": sc.models.CNN, "max_epochs": epochs},
        f"MNIST-5k{' every 10th row' if quick else ''}, {len(Xtr)} training / {len(Xte)} test "
        f"rows (80/20), `sc.models.CNN` (105,866 parameters), {epochs} epochs, "
        '`Orthogonality(bound=1.0, params="features.*.weight")` (the two convolution kernels; '
        "about 18 at initialisation)",
    )


def _density(quick):
    import sklearn_constrained as sc
    from sklearn_constrained.constraints import Density

    Xtr, Xte, ytr, yte = _mnist(quick)
    epochs = 1 if quick else 20
    hidden = (32,) if quick else (300, 100)
    return Setup(
        "density",
        "density: MNIST-5k, L0-gated MLP, expected density <= 0.5",
        "density",
        0.5,
        "<= 0.5",
        lambda: Density(upper=0.5),
        Xtr,
        ytr,
        Xte,
        yte,
        {
            "module": sc.models.L0MLP,
            "module__hidden_layer_sizes": hidden,
            "module__droprate_init": 0.2,
            "lr": 0.01,
            "batch_size": 128,
            "max_epochs": epochs,
        },
        f"MNIST-5k{' every 10th row' if quick else ''}, {len(Xtr)} training / {len(Xte)} test "
        f"rows (80/20), `sc.models.L0MLP` {hidden} (hard-concrete gates, droprate_init 0.2, as "
        f"`benchmarks/sparsity.py`), {epochs} epochs, `Density(upper=0.5)` (the expected "
        "density: the same on any data)",
    )


BUILDERS = {"norm": _norm, "rate": _rate, "dp": _dp, "orth": _orth, "density": _density}


# ----------------------------------------------------------------------------
# runs
# ----------------------------------------------------------------------------
def _methods(dual_lrs):
    from sklearn_constrained.methods import GDA

    return [("auto", "auto", None)] + [
        (f"GDA(dual_lr={d:g})", GDA(dual_lr=d), float(d)) for d in dual_lrs
    ]


def fit_one(setup, label, method, dual_lr=None):
    """One constrained fit of ``setup`` with ``method``; a raising fit is a result."""
    import sklearn_constrained as sc

    res = Result(setup.key, label, dual_lr)
    clf = sc.ConstrainedClassifier(
        constraints={setup.cname: setup.make_constraint()},
        method=method,
        random_state=SEED,
        device="cpu",
        **setup.params,
    )
    fit_kw = {} if setup.s_train is None else {"sensitive_features": setup.s_train}
    t0 = time.perf_counter()
    try:
        with quiet():
            clf.fit(setup.X_train, setup.y_train, **fit_kw)
    except Exception as exc:  # noqa: BLE001 -- a raising fit is a result to report
        res.seconds = time.perf_counter() - t0
        res.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return res
    res.seconds = time.perf_counter() - t0
    res.feasible = bool(clf.feasible_)
    res.train_value = float(clf.constraint_values_[setup.cname])
    test_kw = {} if setup.s_test is None else {"sensitive_features": setup.s_test}
    with quiet():
        res.test_value = float(
            clf.evaluate_constraints(setup.X_test, setup.y_test, **test_kw)[setup.cname]
        )
        res.train_acc = float(clf.score(setup.X_train, setup.y_train))
        res.test_acc = float(clf.score(setup.X_test, setup.y_test))
    mult = (getattr(clf, "multipliers_", None) or {}).get(setup.cname)
    if mult is not None:
        res.multiplier = float(np.max(np.ravel(mult)))
    res.epochs, res.best_epoch = int(clf.n_iter_), int(clf.best_epoch_)
    return res


def _warmup():
    """One tiny fit, so that no timed run pays the process's one-off costs."""
    from sklearn.datasets import load_digits

    import sklearn_constrained as sc

    X, y = load_digits(return_X_y=True)
    with quiet():
        sc.ConstrainedClassifier(max_epochs=1, random_state=SEED, device="cpu").fit(
            X[:50] / 16.0, y[:50]
        )


def run_task(setup, dual_lrs):
    results = []
    for label, method, d in _methods(dual_lrs):
        r = fit_one(setup, label, method, d)
        results.append(r)
        state = r.error or (
            f"feasible={r.feasible}, value {r.train_value:.4g} ({setup.level_text}), "
            f"test acc {r.test_acc:.4f}"
        )
        print(f"[{NAME}] {setup.key} {label}: {state}, {r.seconds:.1f} s", flush=True)
    return results


# ----------------------------------------------------------------------------
# verdicts and report
# ----------------------------------------------------------------------------
def verdict(results):
    """Auto against the sweep: a dict with the comparison, the goal and whether it is met."""
    auto = results[0]
    gda = [r for r in results[1:] if not r.error and math.isfinite(r.test_acc)]
    feasible = [r for r in gda if r.feasible]
    best_feasible = max(feasible, key=lambda r: r.test_acc) if feasible else None
    best_any = max(gda, key=lambda r: r.test_acc) if gda else None
    reference = best_feasible or best_any
    diff = (
        auto.test_acc - reference.test_acc
        if reference is not None and math.isfinite(auto.test_acc)
        else math.nan
    )
    met = bool(auto.feasible and math.isfinite(diff) and diff >= -WITHIN - 1e-12)
    return {
        "auto": auto,
        "n_gda": len(results) - 1,
        "n_feasible": len(feasible),
        "best_feasible": best_feasible,
        "best_any": best_any,
        "reference": reference,
        "diff": diff,
        "met": met,
    }


def _f(x, digits=4):
    return (
        "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"
    )


def _g(x):
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.4g}"


def _run_name(r):
    return "-" if r is None else f"{r.label}: {r.test_acc:.4f}"


def _why(v):
    auto = v["auto"]
    if auto.error:
        return f"auto raised ({auto.error})"
    parts = []
    if not auto.feasible:
        parts.append("auto infeasible on the training data")
    if math.isfinite(v["diff"]) and v["diff"] < -WITHIN - 1e-12:
        parts.append(f"{-v['diff'] * 100:.1f} points below the best GDA run")
    if v["best_feasible"] is None:
        parts.append("no GDA setting feasible: compared with the best GDA run of all")
    return "; ".join(parts)


class _GoalFigure(Figure):
    """A figure whose goal has two parts (feasible, and an accuracy within 2 points)."""

    @property
    def status(self):
        if self.value is None:
            return "skipped"
        return "pass" if self.extra.get("met") else "miss"


def _command(quick, tasks, dual_lrs):
    cmd = f"python -m benchmarks.{NAME}"
    if tuple(tasks) != (QUICK_TASKS if quick else TASKS):
        cmd += " --tasks " + " ".join(tasks)
    if tuple(dual_lrs) != (QUICK_DUAL_LRS if quick else DUAL_LRS):
        cmd += " --dual-lrs " + " ".join(f"{d:g}" for d in dual_lrs)
    return cmd + (" --quick" if quick else "")


def report(setups, all_results, dual_lrs, quick, seconds, cmd):
    n = len(dual_lrs)
    summary_rows, run_rows, figures, goal_lines = [], [], [], []
    for setup in setups:
        results = all_results[setup.key]
        v = verdict(results)
        auto = v["auto"]
        summary_rows.append(
            [
                setup.key,
                f"{setup.cname} {setup.level_text}",
                "error" if auto.error else ("yes" if auto.feasible else "NO"),
                _g(auto.train_value),
                _f(auto.test_acc),
                _run_name(v["best_feasible"]),
                "-"
                if not math.isfinite(v["diff"])
                else f"{v['diff'] * 100:+.1f}"
                + ("" if v["best_feasible"] is not None else " (vs the best of all)"),
                _run_name(v["best_any"])
                + ("" if v["best_any"] is None or v["best_any"].feasible else " (infeasible)"),
                f"{v['n_feasible']}/{v['n_gda']}",
                f"{auto.seconds:.2f} / {sum(r.seconds for r in results[1:]):.2f}",
                "**PASS**" if v["met"] else "**MISS**",
            ]
        )
        goal_lines.append(
            f"- {setup.key}: **{'PASS' if v['met'] else 'MISS'}**"
            + (f" ({_why(v)})" if _why(v) else "")
            + f"; auto {'feasible' if auto.feasible else 'infeasible'}, test accuracy "
            f"{_f(auto.test_acc)} against {_run_name(v['reference'])}"
            + ("" if v["best_feasible"] is not None else " (infeasible)")
            + f"; {v['n_feasible']} of {v['n_gda']} GDA settings end feasible."
        )
        for r in results:
            run_rows.append(
                [
                    setup.key,
                    r.label,
                    "error" if r.error else ("yes" if r.feasible else "NO"),
                    _g(r.train_value),
                    setup.level_text,
                    _f(r.train_acc),
                    _f(r.test_acc),
                    _g(r.test_value),
                    _g(r.multiplier),
                    r.epochs,
                    r.best_epoch,
                    f"{r.seconds:.2f}",
                    r.error,
                ]
            )
        ref_note = "best feasible GDA run" if v["best_feasible"] else "best GDA run (none feasible)"
        figures.append(
            _GoalFigure(
                NAME,
                f"{setup.key}: auto, one run: test acc. minus the {ref_note} of a {n}-point "
                "dual_lr sweep (goal: feasible on the training data and within 2 points)",
                None if auto.error or not math.isfinite(v["diff"]) else v["diff"],
                f"feasible, >= -{WITHIN:g}",
                cmd,
                fmt="{:+.4f}",
                note=(
                    f"auto {'feasible' if auto.feasible else 'INFEASIBLE'}, "
                    f"{setup.cname} {_g(auto.train_value)} ({setup.level_text}), test acc. "
                    f"{_f(auto.test_acc)} vs {_run_name(v['reference'])}"
                    + (f"; {auto.error}" if auto.error else "")
                ),
                extra={"met": v["met"]},
            )
        )
        figures.append(
            Figure(
                NAME,
                f"{setup.key}: GDA settings of the {n}-point dual_lr sweep that end feasible",
                v["n_feasible"],
                "",
                cmd,
                unit=f"of {n}",
                fmt="{:d}",
                note="feasible: "
                + (", ".join(f"{r.dual_lr:g}" for r in results[1:] if r.feasible) or "none"),
            )
        )
    met = sum(f.extra.get("met", False) for f in figures if isinstance(f, _GoalFigure))
    summary = md_table(
        [
            "task",
            "constraint (level)",
            "auto feasible (train)",
            "auto train value",
            "auto test acc.",
            "best feasible GDA: test acc.",
            "auto minus best feasible GDA (points)",
            "best GDA of all: test acc.",
            "GDA settings feasible",
            "fit s: auto / whole sweep",
            "goal",
        ],
        summary_rows,
    )
    runs = md_table(
        [
            "task",
            "method",
            "feasible (train)",
            "train value",
            "level",
            "train acc.",
            "test acc.",
            "test value",
            "final multiplier",
            "epochs run",
            "returned epoch",
            "fit s",
            "error",
        ],
        run_rows,
    )
    settings = [f"- {s.description}." for s in setups]
    notes = [f"- {line}" for s in setups for line in s.notes]
    text = "\n".join(
        [
            '# Robustness at the defaults, part (b): `method="auto"` against a GDA dual-step '
            "sweep on estimator tasks",
            "",
            'One run of the self-tuning default `method="auto"` against '
            f"`GDA(dual_lr=d)` for d in {', '.join(f'{d:g}' for d in dual_lrs)} ({n} runs), "
            "with every other setting the same (the estimator's defaults: Adam, lr 0.01, batch "
            "128, unless a task says otherwise; `random_state=0`, CPU). Goal of the issue, per "
            "task: auto **feasible on the training data** (`feasible_`) **and its test accuracy "
            f"within {WITHIN * 100:g} points of the best run of the GDA sweep, in one run** "
            "(the best *feasible* GDA run; the best run of all when none is feasible)."
            + (" Quick smoke pass: tiny sizes, the figures mean nothing." if quick else ""),
            "",
            f"Machine: {machine_description(threads=torch.get_num_threads())}.",
            f"Command: `{cmd}` ({seconds / 60:.1f} minutes in all).",
            "",
            f"Goal met on {met} of {len(setups)} tasks.",
            "",
            "## Summary",
            "",
            summary,
            "",
            *goal_lines,
            "",
            "Tasks (fixed stratified splits, `random_state=0`; tabular features standardised "
            "with the training part's statistics):",
            "",
            *settings,
            "",
            *(["Notes:", "", *notes, ""] if notes else []),
            "## Every run",
            "",
            "Feasible: `feasible_`, every level met on the training data within the estimator's "
            "tolerance (1e-3 x max(1, |level|)) for the returned model. Train value: "
            "`constraint_values_` (the true value on the training data: counts of predictions "
            "for the rate and the parity gap); test value: `evaluate_constraints` on the test "
            "rows. Final multiplier: the largest entry of `multipliers_`. Returned epoch: "
            "`best_epoch_`.",
            "",
            runs,
        ]
    )
    return text, figures


# ----------------------------------------------------------------------------
# entry points
# ----------------------------------------------------------------------------
def run(quick=False, out_dir=None, tasks=None, dual_lrs=None):
    torch.set_num_threads(1)
    out_dir = resolve_out_dir(out_dir, quick)
    tasks = tuple(tasks or (QUICK_TASKS if quick else TASKS))
    dual_lrs = tuple(dual_lrs or (QUICK_DUAL_LRS if quick else DUAL_LRS))
    cmd = _command(quick, tasks, dual_lrs)
    t0 = time.perf_counter()
    _warmup()
    setups, results = [], {}
    for key in tasks:
        t1 = time.perf_counter()
        setup = BUILDERS[key](quick)
        setups.append(setup)
        results[key] = run_task(setup, dual_lrs)
        fits = results[key]
        per_step = sum(r.seconds for r in fits) / (len(fits) * setup.epochs * setup.steps_per_epoch)
        print(
            f"[{NAME}] {key}: {time.perf_counter() - t1:.1f} s ({len(fits)} fits of "
            f"{setup.epochs} epochs x {setup.steps_per_epoch} steps, {per_step * 1e3:.1f} ms "
            f"a step; {setup.prep_seconds:.1f} s of preparation)",
            flush=True,
        )
    text, figures = report(setups, results, dual_lrs, quick, time.perf_counter() - t0, cmd)
    path = write_result(out_dir, NAME, text)
    print(text)
    print(f"[{NAME}: {time.perf_counter() - t0:.0f} s, wrote {path}]", flush=True)
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tasks",
        nargs="+",
        choices=TASKS,
        default=None,
        help=f"default: {' '.join(TASKS)} ({' '.join(QUICK_TASKS)} with --quick)",
    )
    parser.add_argument(
        "--dual-lrs",
        nargs="+",
        type=float,
        default=None,
        help="GDA's dual steps (default: "
        + " ".join(f"{d:g}" for d in DUAL_LRS)
        + "; "
        + " ".join(f"{d:g}" for d in QUICK_DUAL_LRS)
        + " with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, few epochs, 3 dual steps (smoke test, writes to build/bench-quick)",
    )
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    return run(quick=args.quick, out_dir=args.out, tasks=args.tasks, dual_lrs=args.dual_lrs)


if __name__ == "__main__":
    main(sys.argv[1:])
