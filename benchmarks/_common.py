"""Shared helpers of the benchmarks: timing, machine description, results files.

Every benchmark module exposes ``run(quick=False, out_dir=None) -> list[Figure]``
(used by ``python -m benchmarks``) and a ``main(argv=None)`` command line. A
:class:`Figure` is one row of ``benchmarks/results/SUMMARY.md``: a measured
ratio or figure, its goal, whether it met it, and the command that
reproduces it.
"""

import os
import platform
import statistics
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

__all__ = [
    "QUICK_DIR",
    "RESULTS_DIR",
    "Figure",
    "alternate",
    "machine_description",
    "md_table",
    "median",
    "paired_ratio",
    "quiet",
    "resolve_out_dir",
    "write_result",
]

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
#: where ``--quick`` runs write, so that a smoke pass never overwrites the committed results
QUICK_DIR = ROOT / "build" / "bench-quick"


@dataclass
class Figure:
    """One measured figure, as a row of the summary table.

    ``goal`` is a comparison such as ``"<= 1.10"`` or ``">= 0.9"`` (or ``""``
    for a figure reported without a goal); ``value=None`` means the figure
    could not be measured here (``note`` says why).
    """

    benchmark: str
    name: str
    value: object
    goal: str = ""
    command: str = ""
    unit: str = ""
    note: str = ""
    fmt: str = "{:.3f}"
    extra: dict = field(default_factory=dict)

    @property
    def status(self):
        """``"pass"``, ``"miss"``, ``"skipped"`` or ``"info"``."""
        if self.value is None:
            return "skipped"
        if not self.goal:
            return "info"
        op, _, bound = self.goal.partition(" ")
        bound = float(bound)
        ok = {
            "<=": self.value <= bound,
            ">=": self.value >= bound,
            "<": self.value < bound,
            ">": self.value > bound,
        }[op]
        return "pass" if ok else "miss"

    def formatted(self):
        if self.value is None:
            return "-"
        if isinstance(self.value, str):
            return self.value
        text = self.fmt.format(self.value)
        return f"{text} {self.unit}".strip()


def machine_description(threads=None):
    """A one-line description of the machine and the software, for results files."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    parts = [cpu, f"{os.cpu_count()} logical CPUs"]
    if threads is not None:
        parts.append(f"torch threads={threads}")
    parts.append(f"Python {platform.python_version()}")
    parts.append(f"torch {torch.__version__}")
    try:
        load = os.getloadavg()
        parts.append(f"load average at start {load[0]:.1f}")
    except OSError:
        pass
    return ", ".join(parts)


def median(values):
    return statistics.median(values)


def paired_ratio(times, reference):
    """The median over repeats of ``times[i] / reference[i]``.

    With :func:`alternate`, run ``i`` of every runner happened within the
    same repeat, close in time: the per-repeat ratio cancels slow changes of
    the machine's load, which a ratio of medians does not.
    """
    return statistics.median(t / r for t, r in zip(times, reference, strict=True))


def alternate(runners, repeats, warmup=None):
    """Time each runner ``repeats`` times, alternating between them.

    Parameters
    ----------
    runners : dict of str to callable
        ``name -> fn()``; each call is one timed run.
    repeats : int
        Timed runs per runner.
    warmup : dict of str to callable, default=None
        Called once each before the timed runs (lazy imports, first-call
        allocations); defaults to ``runners``.

    Returns
    -------
    wall, cpu : dict of str to list of float
        Wall-clock and process CPU seconds of every run. Each repeat visits
        the runners in a rotated order, so that no runner always follows the
        same one.
    """
    for fn in (warmup or runners).values():
        fn()
    names = list(runners)
    wall = {n: [] for n in names}
    cpu = {n: [] for n in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            c0, t0 = time.process_time(), time.perf_counter()
            runners[name]()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return wall, cpu


def md_table(headers, rows):
    """A markdown table."""
    out = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    for row in rows:
        out.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(out)


def resolve_out_dir(out_dir, quick):
    """The folder a benchmark writes to.

    ``out_dir``, else the committed results folder (full runs) or
    ``build/bench-quick`` (``--quick``).
    """
    if out_dir is None:
        out_dir = QUICK_DIR if quick else RESULTS_DIR
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def write_result(out_dir, name, text):
    """Write ``<out_dir>/<name>.md`` and return its path."""
    path = Path(out_dir) / f"{name}.md"
    path.write_text(text.rstrip() + "\n")
    return path


class quiet(warnings.catch_warnings):
    """Silence warnings (convergence warnings of deliberately short fits)."""

    def __enter__(self):
        out = super().__enter__()
        warnings.simplefilter("ignore")
        return out
