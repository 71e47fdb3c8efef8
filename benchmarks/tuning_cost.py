"""Tuning cost: training runs to a feasible, non-collapsed model, penalty vs constraint.

For a target constraint level, the number of training runs (and their total
time) needed to get an acceptable model:

- **penalty**: a log-scale bisection on the penalty coefficient, as in
  Fig. 1 / Table 2 of Ramirez et al.: both ends of the bracket are trained
  first, then the geometric mean of the current bracket, until a run is
  acceptable or ``--max-runs`` (6) runs are spent;
- **constraint**: one run of ``GDA()`` with its default settings at the level.

The same acceptance test judges both; each case states it.

Cases:

- ``sparsity``: an L0-gated MLP 784-300-100-10 (``sc.models.L0MLP``,
  hard-concrete gates, droprate_init 0.2) on MNIST-5k, 20 epochs, batch
  128, Adam lr 0.01. Target: expected density 50% (App. B.2). Penalty:
  ``loss + c * density`` (eq. 22 of the paper, the L0 penalty, with
  ``FixedPenalty(c)`` on ``Density(upper=0)``), bracket ``c in [0.01, 10]``.
  Constraint: ``Density(upper=0.5)``. Acceptable: density within 2 points
  of 50%.
- ``rate``: the linear classifier on two separable 2-D Gaussian blobs (100
  points each) that must predict class 0 for at least 70% of the points
  (App. B.3), 10,000 full-batch gradient steps of lr 0.02 through
  ``sc.optim.minimize``. Penalty: ``loss - c * surrogate share of class 0``
  (eq. 25), bracket ``c in [0.01, 100]``. Constraint: ``Inequality`` on the
  true share with the sigmoid surrogate as its proxy. Acceptable: share of
  class 0 in [70%, 80%] (feasible, and not collapsing towards one class: at
  the constrained optimum 70% with 80% accuracy).
- ``dp``: an MLP 106-64-2 on Adult (the 32,561 training rows, standardised),
  10 epochs, batch 256, Adam lr 0.01, demographic parity between the sexes.
  Penalty: ``FixedPenalty(c)`` on ``DemographicParity(bound=0.05)`` (the
  penalty ``c * max(0, gap - 0.05)`` with the sigmoid surrogate), bracket
  ``c in [0.01, 10]``. Constraint: ``DemographicParity(bound=0.05)``.
  Acceptable: the gap on the training data (what the constraint states) at
  most 0.05, and training accuracy at least 4 points above the majority
  class rate (not collapsed to one class). The held-out gap and accuracy
  (the original test split) are reported beside.

Run: ``python -m benchmarks.tuning_cost [--cases sparsity rate dp] [--max-runs 6] [--quick]``;
writes ``benchmarks/results/tuning_cost_<case>.md``.
"""

import argparse
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ._common import (
    Figure,
    machine_description,
    md_table,
    quiet,
    resolve_out_dir,
    write_result,
)

NAME = "tuning_cost"


@dataclass
class Trial:
    """One training run: its coefficient, constraint value, accuracy, time and verdict.

    The coefficient is ``None`` for the constrained run; the time is in
    wall-clock seconds; the verdict is ``"ok"``, ``"weak"`` (the constraint is
    not met: raise ``c``) or ``"strong"`` (over-satisfied or collapsed: lower ``c``).
    """

    coef: object
    value: float
    accuracy: float
    seconds: float
    verdict: str = ""
    extra: dict = field(default_factory=dict)
    #: the fitted estimator, for callers that measure more (e.g. held-out scores)
    model: object = field(default=None, repr=False, compare=False)


def bisect(fit, lo, hi, classify, max_runs=6):
    """Log-scale bisection on the penalty coefficient.

    Both ends of ``[lo, hi]`` are trained first (two runs), then the
    geometric mean of the current bracket, which replaces the end on the
    same side (``"weak"`` replaces ``lo``, ``"strong"`` ``hi``). Stops at the
    first acceptable run or after ``max_runs`` runs.

    Returns
    -------
    list of Trial
    """
    trials = []

    def trial(c):
        t = fit(c)
        t.verdict = classify(t)
        trials.append(t)
        return t

    for c in (lo, hi):
        if len(trials) < max_runs and trial(c).verdict == "ok":
            return trials
    while len(trials) < max_runs:
        c = math.sqrt(lo * hi)
        t = trial(c)
        if t.verdict == "ok":
            break
        if t.verdict == "weak":
            lo = c
        else:
            hi = c
    return trials


# ----------------------------------------------------------------------------
# case: sparsity (L0 gates, MNIST-5k)
# ----------------------------------------------------------------------------
class SparsityCase:
    key = "sparsity"
    title = "Sparsity: 50% expected density of an L0-gated MLP on MNIST-5k"
    level_text = "expected density <= 0.50 (acceptable: within 2 points of 0.50)"
    value_name = "expected density"
    bracket = (0.01, 10.0)
    target, window = 0.5, 0.02

    def __init__(self, quick=False):
        from sklearn_constrained.datasets import load_mnist_5k

        X, y = load_mnist_5k(return_X_y=True)
        if quick:
            X, y = X[::10], y[::10]  # the rows are sorted by digit
        self.X, self.y = X, y
        self.epochs = 1 if quick else 20
        self.hidden = (32,) if quick else (300, 100)

    def warmup(self):
        """One short fit, so that no timed run pays the process's one-off costs."""
        from sklearn_constrained.methods import GDA

        self._fit(GDA(), 0.5, rows=slice(None, None, 20), epochs=1)

    def _fit(self, method, upper, rows=slice(None), epochs=None, seed=0):
        import sklearn_constrained as sc
        from sklearn_constrained.constraints import Density

        clf = sc.ConstrainedClassifier(
            module=sc.models.L0MLP,
            module__hidden_layer_sizes=self.hidden, module__droprate_init=0.2,
            constraints={"density": Density(upper=upper)},
            method=method,
            lr=0.01,
            max_epochs=epochs or self.epochs,
            n_iter_no_change=None,  # the protocol's budget: every epoch
            early_stopping=False,
            batch_size=128,
            random_state=seed,
            device="cpu",
        )
        t0 = time.perf_counter()
        with quiet():
            clf.fit(self.X[rows], self.y[rows])
        seconds = time.perf_counter() - t0
        gated = [m for m in clf.module_.modules() if isinstance(m, sc.models.HardConcreteGates)]
        kept = sum(m.density() * m.n_gates for m in gated) / sum(m.n_gates for m in gated)
        return Trial(
            None,
            clf.evaluate_constraints(self.X[rows])["density"],
            clf.score(self.X[rows], self.y[rows]),
            seconds,
            extra={"test-time density": f"{kept:.3f}"},
            model=clf,
        )

    def penalty(self, c, seed=0):
        from sklearn_constrained.methods import FixedPenalty

        t = self._fit(FixedPenalty(penalty=c), 0.0, seed=seed)  # loss + c * density
        t.coef = c
        return t

    def constrained(self, method=None, seed=0):
        from sklearn_constrained.methods import GDA

        return self._fit(GDA() if method is None else method, 0.5, seed=seed)

    def classify(self, t):
        if t.value > self.target + self.window:
            return "weak"
        if t.value < self.target - self.window:
            return "strong"
        return "ok"

    def describe(self):
        return (
            f"sc.models.L0MLP {self.hidden}, droprate_init 0.2, {len(self.X)} samples, "
            f"{self.epochs} epochs, "
            "batch 128, Adam lr 0.01, seed 0. Penalty: FixedPenalty(c) on Density(upper=0), i.e. "
            "loss + c * expected density (eq. 22). Constraint: GDA() on Density(upper=0.5). "
            "Accuracy: on the training data (as in Table 2 of the paper)."
        )


# ----------------------------------------------------------------------------
# case: rate (2-D Gaussian blobs, linear model, sc.optim.minimize)
# ----------------------------------------------------------------------------
class RateCase:
    key = "rate"
    title = "Rate: at least 70% predicted class 0, linear model on 2-D Gaussian blobs"
    level_text = "share of class-0 predictions >= 0.70 (acceptable: in [0.70, 0.80])"
    value_name = "share of class 0"
    bracket = (0.01, 100.0)
    level, ceiling = 0.7, 0.8

    def __init__(self, quick=False):
        rng = np.random.RandomState(0)
        X = np.vstack(
            [
                rng.normal((-1.0, 0.0), 0.3, size=(100, 2)),
                rng.normal((1.0, 0.0), 0.3, size=(100, 2)),
            ]
        )
        self.X = torch.tensor(X, dtype=torch.float64)
        self.y = torch.tensor(np.repeat([0.0, 1.0], 100), dtype=torch.float64)
        self.steps = 300 if quick else 10_000

    def warmup(self):
        from sklearn_constrained.optim import minimize

        minimize(
            self._loss,
            np.zeros(3),
            method="gda",
            optimizer="sgd",
            lr=0.02,
            max_iter=20,
            inner_steps=20,
        )

    def _logit(self, v):
        return self.X @ v[:2] + v[2]

    def _loss(self, v):
        return torch.nn.functional.binary_cross_entropy_with_logits(self._logit(v), self.y)

    def _soft0(self, v):
        return torch.sigmoid(-self._logit(v)).mean()

    def _hard0(self, v):
        return (self._logit(v) <= 0).to(v.dtype).mean()

    def _trial(self, res, seconds):
        v = torch.as_tensor(res.x, dtype=torch.float64)
        with torch.no_grad():
            pred = (self._logit(v) > 0).double()
        share0 = float((pred == 0).double().mean())
        acc = float((pred == self.y).double().mean())
        return Trial(None, share0, acc, seconds)

    def penalty(self, c):
        from sklearn_constrained.optim import minimize

        t0 = time.perf_counter()
        res = minimize(
            lambda v: self._loss(v) - c * self._soft0(v),
            np.zeros(3),
            method="gda",
            optimizer="sgd",
            lr=0.02,
            max_iter=self.steps,
            inner_steps=self.steps,
        )
        t = self._trial(res, time.perf_counter() - t0)
        t.coef = c
        return t

    def constrained(self):
        from sklearn_constrained.methods import GDA
        from sklearn_constrained.optim import Inequality, minimize

        t0 = time.perf_counter()
        rate = Inequality(self._hard0, upper=None, lower=self.level, proxy=self._soft0)
        res = minimize(
            self._loss,
            np.zeros(3),
            [rate],
            method=GDA(),
            optimizer="sgd",
            lr=0.02,
            max_iter=self.steps,
            inner_steps=self.steps,
        )
        t = self._trial(res, time.perf_counter() - t0)
        t.extra["multiplier"] = f"{float(np.ravel(res.multipliers[0])[0]):.3f}"
        return t

    def classify(self, t):
        if t.value < self.level:
            return "weak"
        if t.value > self.ceiling:
            return "strong"
        return "ok"

    def describe(self):
        return (
            "200 points (two blobs of 100, sd 0.3, centres (-1, 0) and (1, 0), seed 0), linear "
            f"model, {self.steps} full-batch SGD steps of lr 0.02 from 0 through "
            "sc.optim.minimize, float64. Penalty: loss - c * mean sigmoid surrogate of "
            "'predicted 0' (eq. 25). Constraint: GDA() on Inequality(true share, lower=0.7, "
            "proxy=the surrogate). Accuracy: on the 200 points."
        )


# ----------------------------------------------------------------------------
# case: demographic parity (Adult)
# ----------------------------------------------------------------------------
class DPCase:
    key = "dp"
    title = "Demographic parity: gap <= 0.05 between the sexes, MLP on Adult"
    level_text = "between-group gap of selection rates <= 0.05 on the training data, not collapsed"
    value_name = "DP gap (train)"
    bracket = (0.01, 10.0)
    bound = 0.05

    def __init__(self, quick=False):
        from sklearn.preprocessing import StandardScaler

        from sklearn_constrained.datasets import load_adult

        X, y, s = load_adult(return_X_y=True)
        Xt, yt, st = load_adult(subset="test", return_X_y=True)
        if quick:
            X, y, s = X[:2000], y[:2000], s[:2000]
            Xt, yt, st = Xt[:2000], yt[:2000], st[:2000]
        scaler = StandardScaler().fit(X)
        self.X, self.y, self.s = scaler.transform(X).astype(np.float32), y, s
        self.Xt, self.yt, self.st = scaler.transform(Xt).astype(np.float32), yt, st
        self.epochs = 1 if quick else 10
        self.floor = max(np.mean(y), 1 - np.mean(y)) + 0.04

    def warmup(self):
        from sklearn_constrained.methods import GDA

        self._fit(GDA(), rows=slice(None, 2000), epochs=1)

    def _fit(self, method, rows=slice(None), epochs=None):
        import sklearn_constrained as sc
        from sklearn_constrained.constraints import DemographicParity

        clf = sc.ConstrainedClassifier(
            constraints={"dp": DemographicParity(bound=self.bound)},
            method=method,
            max_epochs=epochs or self.epochs,
            n_iter_no_change=None,  # the protocol's budget: every epoch
            early_stopping=False,
            batch_size=256,
            random_state=0,
            device="cpu",
        )
        t0 = time.perf_counter()
        with quiet():
            clf.fit(self.X[rows], self.y[rows], sensitive_features=self.s[rows])
        seconds = time.perf_counter() - t0
        gap = clf.evaluate_constraints(self.X, sensitive_features=self.s)["dp"]
        gap_test = clf.evaluate_constraints(self.Xt, sensitive_features=self.st)["dp"]
        return Trial(
            None,
            gap,
            clf.score(self.X, self.y),
            seconds,
            extra={
                "held-out gap": f"{gap_test:.3f}",
                "held-out accuracy": f"{clf.score(self.Xt, self.yt):.3f}",
            },
        )

    def penalty(self, c):
        from sklearn_constrained.methods import FixedPenalty

        t = self._fit(FixedPenalty(penalty=c))
        t.coef = c
        return t

    def constrained(self):
        from sklearn_constrained.methods import GDA

        return self._fit(GDA())

    def classify(self, t):
        if t.value > self.bound + 1e-9:
            return "weak"
        if t.accuracy < self.floor:
            return "strong"
        return "ok"

    def describe(self):
        return (
            f"MLP 106-64-2, {len(self.X)} training rows (standardised), {self.epochs} epochs, "
            "batch 256, Adam lr 0.01, seed 0; sensitive attribute sex. Penalty: FixedPenalty(c) "
            "on DemographicParity(bound=0.05) (hinge on the surrogate gap above the level). "
            "Constraint: GDA() on the same. Collapse floor: training accuracy >= "
            f"{self.floor:.3f} (majority rate + 0.04). Held-out: the original Adult test split."
        )


CASES = {c.key: c for c in (SparsityCase, RateCase, DPCase)}


# ----------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------
def _fmt_coef(c):
    return "-" if c is None else f"{c:.3g}"


def _summary(trials, accepted_idx):
    seconds = sum(t.seconds for t in trials)
    if accepted_idx is None:
        return f"not reached in {len(trials)} runs", seconds
    return f"{accepted_idx + 1} run{'s' if accepted_idx else ''}", seconds


def run_case(key, quick=False, max_runs=6):
    case = CASES[key](quick=quick)
    case.warmup()
    trials = bisect(case.penalty, *case.bracket, case.classify, max_runs=2 if quick else max_runs)
    one = case.constrained()
    one.verdict = case.classify(one)
    return case, trials, one


def report(case, trials, one, quick=False, max_runs=6):
    cmd = f"python -m benchmarks.tuning_cost --cases {case.key}"
    if max_runs != 6:
        cmd += f" --max-runs {max_runs}"
    cmd += " --quick" if quick else ""
    extra_keys = sorted({k for t in trials + [one] for k in t.extra})
    rows = []
    for i, t in enumerate(trials):
        rows.append(
            [
                f"penalty run {i + 1}",
                _fmt_coef(t.coef),
                f"{t.value:.3f}",
                f"{t.accuracy:.3f}",
                *[t.extra.get(k, "") for k in extra_keys],
                f"{t.seconds:.1f}",
                t.verdict,
            ]
        )
    rows.append(
        [
            "constraint, one GDA() run",
            "-",
            f"{one.value:.3f}",
            f"{one.accuracy:.3f}",
            *[one.extra.get(k, "") for k in extra_keys],
            f"{one.seconds:.1f}",
            one.verdict,
        ]
    )
    ok = next((i for i, t in enumerate(trials) if t.verdict == "ok"), None)
    pen_runs, pen_s = _summary(trials, ok)
    final = trials[ok] if ok is not None else trials[-1]
    one_runs = "1 run" if one.verdict == "ok" else "not reached in 1 run"
    table = md_table(
        ["approach", "penalty c", case.value_name, "accuracy", *extra_keys, "fit s", "verdict"],
        rows,
    )
    summary = md_table(
        [
            "approach",
            "runs to an acceptable model",
            "total fit s",
            f"final {case.value_name}",
            "final accuracy",
        ],
        [
            [
                "penalty, log-scale bisection",
                pen_runs,
                f"{pen_s:.1f}",
                f"{final.value:.3f}",
                f"{final.accuracy:.3f}",
            ],
            [
                "constraint, GDA()",
                one_runs,
                f"{one.seconds:.1f}",
                f"{one.value:.3f}",
                f"{one.accuracy:.3f}",
            ],
        ],
    )
    text = "\n".join(
        [
            f"# Tuning cost. {case.title}",
            "",
            f"Target: {case.level_text}.",
            "",
            case.describe(),
            f"Penalty bracket [{case.bracket[0]:g}, {case.bracket[1]:g}], log-scale bisection, "
            f"at most {max_runs} runs; verdict 'weak' = the constraint is not met (raise c), "
            "'strong' = over-satisfied or collapsed (lower c).",
            f"Machine: {machine_description(threads=torch.get_num_threads())}.",
            "",
            summary,
            "",
            "Every run:",
            "",
            table,
            "",
            f"Command: `{cmd}`",
        ]
    )
    name = case.key
    figures = [
        Figure(
            NAME,
            f"{name}: penalty bisection, runs (total s) to an acceptable model",
            f"{pen_runs} ({pen_s:.0f} s)",
            "",
            cmd,
            note=f"final {case.value_name} {final.value:.3f}, accuracy {final.accuracy:.3f}",
        ),
        Figure(
            NAME,
            f"{name}: one constrained GDA() run",
            f"{one_runs} ({one.seconds:.0f} s)",
            "",
            cmd,
            note=f"{case.value_name} {one.value:.3f}, accuracy {one.accuracy:.3f}",
        ),
    ]
    return text, figures


def run(quick=False, out_dir=None, cases=None, max_runs=6):
    torch.set_num_threads(1)
    out_dir = resolve_out_dir(out_dir, quick)
    figures = []
    for key in cases or list(CASES):
        t0 = time.perf_counter()
        case, trials, one = run_case(key, quick=quick, max_runs=max_runs)
        text, figs = report(case, trials, one, quick=quick, max_runs=max_runs)
        write_result(out_dir, f"{NAME}_{key}", text)
        print(text)
        print(f"[{NAME} {key}: {time.perf_counter() - t0:.0f} s]\n", flush=True)
        figures += figs
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=None)
    parser.add_argument("--max-runs", type=int, default=6, help="penalty runs at most (default 6)")
    parser.add_argument(
        "--quick", action="store_true", help="tiny data, one epoch, two penalty runs (smoke test)"
    )
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    return run(quick=args.quick, out_dir=args.out, cases=args.cases, max_runs=args.max_runs)


if __name__ == "__main__":
    main(sys.argv[1:])
