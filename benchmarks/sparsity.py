"""Sparsity (Table 2 of Ramirez et al.): penalty bisection vs one constrained run, over seeds.

The sparsity experiment of Ramirez et al. (Fig. 1, App. B.2, Table 2 in
App. C.2), on MNIST-5k (``sc.datasets.load_mnist_5k``) with a stratified
80/20 held-out split (``random_state=0``: 4,000 training rows, 1,000
held-out rows; the split is the same for every seed). The model is the
case ``sparsity`` of :mod:`benchmarks.tuning_cost`, whose functions this
module reuses: an L0-gated MLP 784-300-100-10 (``sc.models.L0MLP``,
hard-concrete gates, temperature 2/3, stretch [-0.1, 1.1], droprate_init
0.2), 20 epochs, batch 128, Adam lr 0.01. The target is an expected density
of 50% (the quantity the L0 penalty and the ``Density`` constraint act on).

- **penalty**: ``loss + c * expected density`` (eq. 22, ``FixedPenalty(c)``
  on ``Density(upper=0)``), ``c`` chosen by the log-scale bisection of
  :func:`benchmarks.tuning_cost.bisect` on the bracket ``[0.01, 10]``: both
  ends first (iteration 0, as in Table 2), then the geometric mean of the
  bracket, until a run's expected density is within 2 points of 50% or 6
  runs are spent. The bisection is run **for every seed** (each seed pays
  its own search; the runs and seconds are counted per seed). Its "final
  model" is the accepted run (or the last run when none was accepted).
- **constraint**: ONE run per seed with ``Density(upper=0.5)``: ``GDA()``
  with its defaults (the headline), and, untuned, ``GDA(dual_optimizer=
  "nupi", kp=10)``, ``SAL()`` and ``Auto()`` (``method="auto"``, the
  estimators' default) with their defaults.

Reported per run and aggregated as mean (sd) over the seeds (3 in full
mode): expected density (what the constraint bounds), test-time density
(the share of weights the deterministic gates keep, used by ``predict``),
training accuracy (as Table 2 of the paper), held-out accuracy, training
runs and total fit seconds. Goals, for every constrained method: the
expected density of its one run within 0.02 of 0.50 (worst seed), and its
accuracy no worse than the bisection's final model (mean over seeds of the
per-seed difference, held-out; the training-accuracy difference is shown
too).

Run: ``python -m benchmarks.sparsity`` (about 7 minutes on 2 cores;
``--quick``: 500 rows, a 32-unit model, 1 epoch, 1 seed, 2 penalty runs,
a few seconds). Writes ``benchmarks/results/sparsity.md``.
"""

import argparse
import sys
import time

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from ._common import (
    Figure,
    machine_description,
    md_table,
    resolve_out_dir,
    write_result,
)
from .tuning_cost import SparsityCase, bisect

NAME = "sparsity"
SEEDS = (0, 1, 2)
MAX_RUNS = 6
SPLIT_SEED = 0


def _methods():
    from sklearn_constrained.methods import GDA, SAL, Auto

    # (label, method); the first is the headline
    return [
        ("GDA()", GDA()),
        ("GDA(nupi, kp=10)", GDA(dual_optimizer="nupi", kp=10.0)),
        ("SAL()", SAL()),
        ("Auto()", Auto()),
    ]


class HeldOutSparsityCase(SparsityCase):
    """:class:`benchmarks.tuning_cost.SparsityCase` with 20% of its rows held out.

    It is trained on a stratified 80% of its rows, the other 20% held out.
    """

    def __init__(self, quick=False):
        super().__init__(quick=quick)
        self.X, self.X_test, self.y, self.y_test = train_test_split(
            self.X, self.y, test_size=0.2, stratify=self.y, random_state=SPLIT_SEED
        )

    def measure(self, trial):
        """Add the test-time density and the held-out accuracy of a trial's model."""
        import sklearn_constrained as sc

        gated = [
            m for m in trial.model.module_.modules() if isinstance(m, sc.models.HardConcreteGates)
        ]
        trial.test_density = sum(m.density() * m.n_gates for m in gated) / sum(
            m.n_gates for m in gated
        )
        trial.held_out = trial.model.score(self.X_test, self.y_test)
        mult = getattr(trial.model, "multipliers_", None) or {}
        trial.multiplier = (
            float(np.ravel(mult["density"])[0]) if "density" in mult else float("nan")
        )
        trial.model = None  # the numbers are taken: free the network
        return trial


# ----------------------------------------------------------------------------
# runs
# ----------------------------------------------------------------------------
def run_seed(case, seed, max_runs):
    """The bisection and every constrained method's one run, for one seed."""
    trials = bisect(
        lambda c: case.measure(case.penalty(c, seed=seed)),
        *case.bracket,
        case.classify,
        max_runs=max_runs,
    )
    ones = {}
    for label, method in _methods():
        t = case.measure(case.constrained(method, seed=seed))
        t.verdict = case.classify(t)
        ones[label] = t
    return trials, ones


def _final(trials):
    return next((t for t in trials if t.verdict == "ok"), trials[-1])


def _iterations(trials):
    """Table 2's numbering: the two bracket ends are iteration 0."""
    return [0 if i < 2 else i - 1 for i in range(len(trials))]


# ----------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------
def _ms(values, digits=3, scale=1.0):
    vals = np.asarray(values, dtype=float) * scale
    if len(vals) < 2:
        return f"{vals[0]:.{digits}f}"
    return f"{vals.mean():.{digits}f} ({vals.std(ddof=1):.{digits}f})"


def _command(quick, seeds, max_runs):
    cmd = f"python -m benchmarks.{NAME}"
    if not quick and tuple(seeds) != SEEDS:
        cmd += " --seeds " + " ".join(str(s) for s in seeds)
    if max_runs != MAX_RUNS:
        cmd += f" --max-runs {max_runs}"
    return cmd + (" --quick" if quick else "")


def report(case, results, quick, max_runs, seconds_all, cmd):
    seeds = list(results)
    labels = [label for label, _ in _methods()]
    target, window = case.target, case.window

    # every run
    rows = []
    for seed, (trials, ones) in results.items():
        for it, t in zip(_iterations(trials), trials, strict=True):
            rows.append(
                [
                    seed,
                    f"penalty, bisection iteration {it}",
                    f"{t.coef:.3g}",
                    "-",
                    f"{t.value:.3f}",
                    f"{t.test_density:.3f}",
                    f"{t.accuracy:.4f}",
                    f"{t.held_out:.4f}",
                    f"{t.seconds:.1f}",
                    t.verdict,
                ]
            )
        for label, t in ones.items():
            rows.append(
                [
                    seed,
                    f"constraint, one {label} run",
                    "-",
                    f"{t.multiplier:.3g}",
                    f"{t.value:.3f}",
                    f"{t.test_density:.3f}",
                    f"{t.accuracy:.4f}",
                    f"{t.held_out:.4f}",
                    f"{t.seconds:.1f}",
                    t.verdict,
                ]
            )
    every = md_table(
        [
            "seed",
            "run",
            "penalty c",
            "final multiplier",
            "expected density",
            "test-time density",
            "train acc.",
            "held-out acc.",
            "fit s",
            "verdict",
        ],
        rows,
    )

    # aggregated (mean (sd) over the seeds)
    n = len(seeds)
    finals = [_final(results[s][0]) for s in seeds]
    runs = [len(results[s][0]) for s in seeds]
    reached = sum(any(t.verdict == "ok" for t in results[s][0]) for s in seeds)
    pen_s = [sum(t.seconds for t in results[s][0]) for s in seeds]
    agg = [
        [
            "penalty, log-scale bisection (final model)",
            _ms(runs, 1),
            f"{reached}/{n}",
            _ms(pen_s, 1),
            _ms([t.value for t in finals]),
            _ms([t.test_density for t in finals]),
            _ms([t.accuracy for t in finals], 4),
            _ms([t.held_out for t in finals], 4),
            ", ".join(f"{t.coef:.3g}" for t in finals),
        ]
    ]
    for label in labels:
        ts = [results[s][1][label] for s in seeds]
        agg.append(
            [
                f"constraint, one {label} run",
                "1",
                f"{sum(t.verdict == 'ok' for t in ts)}/{n}",
                _ms([t.seconds for t in ts], 1),
                _ms([t.value for t in ts]),
                _ms([t.test_density for t in ts]),
                _ms([t.accuracy for t in ts], 4),
                _ms([t.held_out for t in ts], 4),
                "-",
            ]
        )
    aggregated = md_table(
        [
            "approach",
            "runs per seed",
            "seeds within 0.02 of 0.50",
            "total fit s per seed",
            "expected density",
            "test-time density",
            "train acc.",
            "held-out acc.",
            "final c per seed",
        ],
        agg,
    )

    # goals
    goal_rows, figures = [], []
    of_seeds = f"{n} seed{'s' if n > 1 else ''}"
    pen_note = (
        f"runs per seed {', '.join(map(str, runs))}; {sum(pen_s):.0f} s in all; final expected "
        f"density {_ms([t.value for t in finals])}, held-out acc. "
        f"{_ms([t.held_out for t in finals], 4)}"
    )
    figures.append(
        Figure(
            NAME,
            f"penalty bisection to 50% expected density: training runs per seed "
            f"(mean of {of_seeds})",
            float(np.mean(runs)),
            "",
            cmd,
            unit="runs",
            fmt="{:.1f}",
            note=pen_note,
        )
    )
    for label in labels:
        ts = [results[s][1][label] for s in seeds]
        worst = max(abs(t.value - target) for t in ts)
        d_held = float(np.mean([t.held_out - f.held_out for t, f in zip(ts, finals, strict=True)]))
        d_train = float(np.mean([t.accuracy - f.accuracy for t, f in zip(ts, finals, strict=True)]))
        ok_d, ok_a = worst <= window, d_held >= 0.0
        goal_rows.append(
            [
                label,
                f"{worst:.3f}",
                "pass" if ok_d else "MISS",
                f"{d_held:+.4f}",
                "pass" if ok_a else "MISS",
                f"{d_train:+.4f}",
            ]
        )
        figures.append(
            Figure(
                NAME,
                f"one {label} run: distance of expected density from 0.50, worst of {of_seeds} "
                "(goal: within 0.02 of 0.50)",
                worst,
                f"<= {window:g}",
                cmd,
                fmt="{:.3f}",
                note=f"expected density {_ms([t.value for t in ts])}, test-time "
                f"{_ms([t.test_density for t in ts])}, {_ms([t.seconds for t in ts], 1)} s per run",
            )
        )
        figures.append(
            Figure(
                NAME,
                f"one {label} run: held-out accuracy minus the bisection's final model, mean of "
                f"{of_seeds} (goal: accuracy >= bisection's)",
                d_held,
                ">= 0.0",
                cmd,
                fmt="{:+.4f}",
                note=f"held-out acc. {_ms([t.held_out for t in ts], 4)} vs "
                f"{_ms([f.held_out for f in finals], 4)}; train acc. difference {d_train:+.4f}",
            )
        )
    goals = md_table(
        [
            "constrained method (one run per seed)",
            "worst distance of expected density from 0.50",
            "within 0.02 of 0.50",
            "held-out acc. minus bisection's final (mean)",
            "accuracy >= bisection's",
            "train acc. minus bisection's final (mean)",
        ],
        goal_rows,
    )

    notes = []
    sd_final = float(np.std([f.held_out for f in finals], ddof=1)) if n > 1 else float("nan")
    d_head = float(
        np.mean(
            [
                results[s][1][labels[0]].held_out - f.held_out
                for s, f in zip(seeds, finals, strict=True)
            ]
        )
    )
    if n > 1:
        notes.append(
            "- The headline's held-out accuracy margin over the bisection's final model "
            f"({d_head:+.4f}) is {'within' if abs(d_head) <= sd_final else 'larger than'} the "
            f"seed-to-seed sd of the final models' held-out accuracy ({sd_final:.4f}): the two "
            "reach models of about the same quality; the difference is the number of training "
            "runs."
        )
    hi_end = [results[s][0][1] for s in seeds if len(results[s][0]) > 1]
    if hi_end:
        kept = np.mean([t.held_out for t in hi_end]) >= np.mean([f.held_out for f in finals])
        notes.append(
            f"- {'Unlike' if kept else 'As in'} Table 2 of the paper, over-shooting the level "
            f"{'did not cost' if kept else 'cost'} held-out accuracy here: the sparse end of the "
            f"bracket (c = {case.bracket[1]:g}, expected density {_ms([t.value for t in hi_end])}) "
            f"has held-out accuracy {_ms([t.held_out for t in hi_end], 4)} and training accuracy "
            f"{_ms([t.accuracy for t in hi_end], 4)}, against "
            f"{_ms([f.held_out for f in finals], 4)} and {_ms([f.accuracy for f in finals], 4)} "
            "for the bisection's final models"
            + (
                f" (an MLP {case.hidden} on {len(case.X)} rows has capacity to spare)."
                if kept
                else "."
            )
        )
    for label in labels:
        ts = [results[s][1][label] for s in seeds]
        if label.startswith("SAL") and all(t.value < target - window for t in ts):
            notes.append(
                f"- {label} with its defaults (mu_init 0.01, sigma 10, mu_max 1e3, chosen on other "
                "constraint scales) over-satisfies the level: final multiplier "
                f"{_ms([t.multiplier for t in ts], 1)} against "
                f"{_ms([results[s][1][labels[0]].multiplier for s in seeds])} for {labels[0]}. The "
                "expected density falls slowly (a few points per epoch), so no early epoch is a "
                "sufficient decrease, the penalty grows tenfold per epoch to mu_max, and the "
                "accepted update lambda += mu * C lifts the multiplier to the hundreds; once the "
                "level is over-satisfied the violation never again decreases enough, so the "
                "multiplier is never lowered and the density keeps falling. This is the documented "
                "behaviour of SAL's update rule (its docstring), not a library bug; it would need "
                "a smaller mu_max or mu_init, i.e. tuning, which this benchmark does not do."
            )
        if label.startswith("Auto") and all(t.value < target - window for t in ts):
            notes.append(
                f"- {label} over-satisfies the level: final multiplier "
                f"{_ms([t.multiplier for t in ts], 1)} against "
                f"{_ms([results[s][1][labels[0]].multiplier for s in seeds])} for {labels[0]}, "
                "after a peak far above the latter (`history_`). Its dual step starts at a "
                "tenth of the multiplier that balances the two gradients (in the 1-norm, "
                "Adam's geometry) and the multiplier keeps integrating the violation while "
                "Adam moves the gates at their full speed; by the time the level is met it is "
                "far above the multiplier the level needs, and the gates it closed do not "
                "reopen once it has fallen back to zero (see the methods guide, 'Where it "
                "still falls short')."
            )
    head = goal_rows[0]
    verdict = (
        f"Headline (GDA() with its defaults, one run per seed): density goal **{head[2].lower()}** "
        f"(worst seed {head[1]} from 0.50), accuracy goal **{head[4].lower()}** (held-out "
        f"{head[3]} against the bisection's final model, which took {_ms(runs, 1)} runs per seed)."
    )
    settings = (
        f"sc.models.L0MLP {case.hidden} (hard-concrete gates: temperature 2/3, stretch [-0.1, "
        f"1.1], droprate_init 0.2), {len(case.X)} training rows and {len(case.X_test)} held-out "
        f"rows (stratified 80/20 split of MNIST-5k{' every 10th row' if quick else ''}, "
        f"random_state={SPLIT_SEED}), {case.epochs} epoch{'s' if case.epochs > 1 else ''}, batch "
        f"128, Adam lr 0.01, seeds {', '.join(map(str, seeds))} (model initialisation and batch "
        "order; the split is fixed). Penalty: FixedPenalty(c) on Density(upper=0), i.e. loss + c * "
        f"expected density (eq. 22); log-scale bisection on [{case.bracket[0]:g}, "
        f"{case.bracket[1]:g}] run for every seed, at most {max_runs} runs, accepted when the "
        "expected density is within 0.02 of 0.50 ('weak': denser, raise c; 'strong': sparser, "
        "lower c). Constraint: Density(upper=0.5), one run per seed and method; GDA() is the "
        "headline, GDA(dual_optimizer='nupi', kp=10), SAL() and Auto() are untuned (one setting "
        "tried). "
        "Accuracies use the deterministic test-time gates (predict); expected density is the mean "
        "of P(gate != 0), test-time density the share of weights the test-time gates keep."
    )
    text = "\n".join(
        [
            "# Sparsity: penalty bisection vs one constrained run (Table 2 of Ramirez et al.), "
            "MNIST-5k",
            "",
            (
                "Target: expected density 0.50 (within 0.02) of an L0-gated MLP 300-100, with "
                "accuracy no worse than the bisection's final model."
            ),
            "",
            settings,
            "",
            f"Machine: {machine_description(threads=torch.get_num_threads())}.",
            f"Command: `{cmd}` ({seconds_all / 60:.1f} minutes in all).",
            "",
            verdict,
            "",
            "## Goals",
            "",
            goals,
            "",
            *(["Observations:", "", *notes, ""] if notes else []),
            f"## Aggregated: mean (sd) over {n} seed{'s' if n > 1 else ''}",
            "",
            (
                "Penalty row: the bisection's final model per seed (the accepted run, else the "
                "last one); its runs and seconds are the whole search's."
            ),
            "",
            aggregated,
            "",
            "## Every run",
            "",
            "Bisection iterations numbered as in Table 2 (the two bracket ends are iteration 0).",
            "",
            every,
            "",
            (
                "For reference, Table 2 of the paper (150 epochs, full MNIST, bracket [1e-3, 1], "
                "training accuracy): after the two ends (iteration 0) the bisection needs 5 steps, "
                "7 runs in all, to reach 50.5% density at c = 0.221 (99.99% training accuracy)."
            ),
        ]
    )
    return text, figures


def run(quick=False, out_dir=None, seeds=None, max_runs=MAX_RUNS):
    torch.set_num_threads(1)
    out_dir = resolve_out_dir(out_dir, quick)
    seeds = (0,) if quick else tuple(seeds or SEEDS)
    cmd = _command(quick, seeds, max_runs)
    max_runs = min(max_runs, 2) if quick else max_runs
    t0 = time.perf_counter()
    case = HeldOutSparsityCase(quick=quick)
    case.warmup()
    results = {}
    for seed in seeds:
        results[seed] = run_seed(case, seed, max_runs)
        trials, ones = results[seed]
        print(
            f"[{NAME}] seed {seed}: penalty "
            + ", ".join(f"c={t.coef:.3g} -> {t.value:.3f} ({t.verdict})" for t in trials)
            + "; "
            + ", ".join(f"{k} -> {t.value:.3f} ({t.verdict})" for k, t in ones.items()),
            flush=True,
        )
    text, figures = report(case, results, quick, max_runs, time.perf_counter() - t0, cmd)
    path = write_result(out_dir, NAME, text)
    print(text)
    print(f"[{NAME}: {time.perf_counter() - t0:.0f} s, wrote {path}]", flush=True)
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="seeds (default 0 1 2)")
    parser.add_argument(
        "--max-runs",
        type=int,
        default=MAX_RUNS,
        help=f"penalty runs at most per seed (default {MAX_RUNS})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="500 rows, 1 epoch, 1 seed, 2 penalty runs (smoke test, writes to build/bench-quick)",
    )
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    return run(quick=args.quick, out_dir=args.out, seeds=args.seeds, max_runs=args.max_runs)


if __name__ == "__main__":
    main(sys.argv[1:])
