"""Run every benchmark and write ``benchmarks/results/*.md`` and ``SUMMARY.md``.

Usage::

    python -m benchmarks            # everything (about an hour on a 2-core CPU)
    python -m benchmarks --quick    # a smoke pass: tiny sizes, written to build/bench-quick/
    python -m benchmarks --only overhead minimize_overhead
    python -m benchmarks --reproductions  # everything, plus the paper reproductions (REPRODUCTIONS)
    python -m benchmarks --only paper_table1

The paper reproductions (``REPRODUCTIONS``, e.g. Table 1 of the SAL paper)
take longer and are not part of the default run: ``--reproductions`` adds
them, and ``--only`` runs any benchmark or reproduction by name.

Each benchmark writes its own results file(s) with the command that
reproduces them; ``SUMMARY.md`` has one row per measured ratio or figure
with its goal, pass/miss and command. GPU figures are skipped cleanly without
CUDA. The exit status is 1 when a benchmark raised (its row says so), 0
otherwise (a missed goal is a result, not an error).
"""

import argparse
import importlib
import shlex
import subprocess
import sys
import time
import traceback

from ._common import (
    ROOT,
    Figure,
    machine_description,
    md_table,
    resolve_out_dir,
    write_result,
)

#: (module name, what it measures), in the order they run
BENCHMARKS = [
    ("overhead", "fit-time overhead of constraints per method (issue #6, item 1)"),
    ("minimize_overhead", "sc.optim.minimize against a hand-written GDA loop and Cooper (item 2)"),
    (
        "tuning_cost",
        "training runs to an acceptable model: penalty bisection vs one constrained run (item 3)",
    ),
    ("fairness_adult", "fairness on Adult against fairlearn (item 4)"),
    (
        "heldout",
        "levels on unseen data: held-out shares against fairlearn, interval coverage, the "
        "returned model (issue #14, ~11 min)",
    ),
    ("gpu_throughput", "ResNet13 samples/s on a GPU, per method, against plain PyTorch (item 5)"),
    (
        "robustness",
        "every method at its defaults on problems with known optima (issue 13, part a)",
    ),
    (
        "estimator_tasks",
        "method='auto' in one run against a 7-point GDA dual_lr sweep on five estimator tasks "
        "(issue 13, part b, ~4 min)",
    ),
    (
        "default_stop",
        "a default fit on Adult with and without scikit-learn's stopping rule, 3 seeds "
        "(issue 16, ~10 min)",
    ),
    ("step_ops", "tensor operations and Python calls per training step (issue 16, ~1 min)"),
    ("group_loss_level", "a group-loss level in the units of y, Adam and SGD (issue 17, ~20 s)"),
    (
        "rate_oscillation",
        "a rate level on breast cancer: auto and GDA(dual_lr=1) over 10 seeds (issue 13, ~1 min)",
    ),
]

#: paper reproductions, (module name, what it reproduces): longer, so run only
#: with ``--reproductions`` (after BENCHMARKS) or by name with ``--only``
REPRODUCTIONS = [
    (
        "paper_table1",
        "Table 1 of the SAL paper: FP, SAL, S-ADMM on MNIST-5k, CNN and GENEONet (~13 min)",
    ),
    (
        "sparsity",
        "Table 2 of Ramirez et al.: L0 density 50% on MNIST-5k, penalty bisection vs one run "
        "(~5 min)",
    ),
]


def _run_external(name, quick, out_dir):
    """Run a benchmark module that has no ``run()`` in a subprocess.

    It runs its own command line, with ``--quick`` when its source mentions it.
    """
    path = ROOT / "benchmarks" / f"{name}.py"
    cmd = [sys.executable, "-m", f"benchmarks.{name}"]
    source = path.read_text()
    if quick and "--quick" in source:
        cmd.append("--quick")
    if quick and "--out" in source:
        cmd += ["--out", str(out_dir)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, check=False)
    shown = " ".join(["python"] + [shlex.quote(c) for c in cmd[1:]])
    if proc.returncode:
        raise RuntimeError(f"`{shown}` exited with status {proc.returncode}")
    return [
        Figure(
            name,
            f"{name} (see its results file)",
            f"ran in {time.perf_counter() - t0:.0f} s",
            "",
            shown,
        )
    ]


def run_one(name, quick, out_dir):
    path = ROOT / "benchmarks" / f"{name}.py"
    if not path.exists():
        print(f"[{name}: not present, skipped]")
        return [
            Figure(
                name,
                name,
                None,
                "",
                f"python -m benchmarks.{name}",
                note="skipped: benchmark not present",
            )
        ]
    module = importlib.import_module(f"benchmarks.{name}")
    if hasattr(module, "run"):
        return module.run(quick=quick, out_dir=out_dir)
    return _run_external(name, quick, out_dir)


def summary_text(figures, seconds, quick, argv):
    rows = []
    for f in figures:
        rows.append(
            [
                f.benchmark,
                f.name,
                f.formatted(),
                f.goal or "-",
                f.status,
                f"`{f.command}`" if f.command else "",
                f.note,
            ]
        )
    mode = "quick smoke pass (tiny sizes: the figures mean nothing)" if quick else "full run"
    cmd = "python -m benchmarks" + ("".join(" " + a for a in argv) if argv else "")
    counts = {
        s: sum(f.status == s for f in figures) for s in ("pass", "miss", "skipped", "info", "error")
    }
    return "\n".join(
        [
            "# Benchmark summary",
            "",
            f"{mode.capitalize()}; `{cmd}` took {seconds / 60:.1f} minutes.",
            f"Machine: {machine_description()}.",
            f"Goals met: {counts['pass']}, missed: {counts['miss']}, "
            f"skipped: {counts['skipped']}, "
            f"reported without a goal: {counts['info']}"
            + (f", errors: {counts['error']}" if counts["error"] else "")
            + ".",
            "",
            "Ratios are medians over alternating repeats of each run's time over the same "
            "repeat's reference (see each results file for the runs and the CPU-time ratios). "
            "Every row's command reproduces it.",
            "",
            md_table(["benchmark", "figure", "value", "goal", "status", "command", "note"], rows),
        ]
    )


class _ErrorFigure(Figure):
    @property
    def status(self):
        return "error"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    names = [n for n, _ in BENCHMARKS + REPRODUCTIONS]
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, a smoke pass (writes to build/bench-quick)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=names,
        default=None,
        help="run only these benchmarks or reproductions",
    )
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    parser.add_argument(
        "--reproductions",
        action="store_true",
        help="also run the paper reproductions (REPRODUCTIONS), after the benchmarks",
    )
    args = parser.parse_args(argv)
    selected = BENCHMARKS + (REPRODUCTIONS if (args.reproductions or args.only) else [])
    out_dir = resolve_out_dir(args.out, args.quick)
    t0 = time.perf_counter()
    figures, failed = [], []
    for name, what in selected:
        if args.only and name not in args.only:
            continue
        print(f"=== {name}: {what}", flush=True)
        t1 = time.perf_counter()
        try:
            figures += run_one(name, args.quick, out_dir)
        except Exception as exc:  # noqa: BLE001 -- one broken benchmark must not hide the others
            traceback.print_exc()
            failed.append(name)
            figures.append(
                _ErrorFigure(
                    name,
                    name,
                    None,
                    "",
                    f"python -m benchmarks.{name}",
                    note=f"error: {type(exc).__name__}: {exc}",
                )
            )
        print(f"=== {name}: {time.perf_counter() - t1:.0f} s\n", flush=True)
    seconds = time.perf_counter() - t0
    text = summary_text(figures, seconds, args.quick, argv)
    print(text)
    if args.only:
        # a partial run never overwrites the summary of a full one
        print(f"\n--only: SUMMARY.md not written ({seconds / 60:.1f} minutes in all).")
    else:
        path = write_result(out_dir, "SUMMARY", text)
        print(f"\nWrote {path} ({seconds / 60:.1f} minutes in all).")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
