"""Robustness at the defaults, part (a): every method on constrained problems with known optima.

Every method of ``sc.optim.minimize`` runs at its defaults (``method=<name>``,
the default optimizer: SGD with ``lr=None``, the step set from the problem's
curvature, 100 steps per outer iteration) for a
fixed budget of ``--max-iter`` primal steps (default :data:`MAX_ITER`) on every
problem of ``benchmarks/_problems.py`` (Hock-Schittkowski, Nocedal-Wright,
SciPy's and Cooper's examples, Example 1 of Ramirez et al.), each unscaled and
with objective and constraints multiplied by 1e-2 and by 1e2, from a feasible
and from an infeasible start. S-ADMM needs a closed-form projection for every
constraint and runs only on the problems that have them (the others are
listed as not applicable). A method name the library does not know yet (e.g.
``"auto"`` before it lands) is reported as skipped.

Each run is classified:

- **solved**: ``|x_j - x*_j| <= 1e-3 max(1, |x*_j|)`` for every coordinate
  (to the nearest listed global minimiser) and every constraint's violation
  ``<= 1e-4 max(1, |level|)`` (bounds likewise);
- **wrong**: finite but not solved; **false success** counts the wrong runs
  that report ``res.success=True`` (the current ``minimize``'s criterion);
- **diverged**: a non-finite ``x`` or objective, or ``minimize``'s status 2;
- **error**: ``minimize`` raised (the message is listed).

Beside ``res.success``, the KKT test of ``sklearn_constrained.optim._kkt``
(``check_kkt`` with least-squares multipliers, tol 1e-4, the gradient scale
``max(1, |grad f(x0)|_inf)``) judges every returned point: its false successes and
the solved runs it rejects preview ``minimize`` once it uses that test.

Run: ``python -m benchmarks.robustness [--max-iter N] [--methods ...]
[--problems ...] [--jobs N] [--json runs.json] [--quick]``; writes
``benchmarks/results/robustness.md`` (``--json`` also saves every run, and
``--from-json runs.json`` re-judges and reports saved runs without running).
"""

import argparse
import math
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _problems as P
from benchmarks._common import (
    Figure,
    machine_description,
    md_table,
    quiet,
    resolve_out_dir,
    write_result,
)

NAME = "robustness"
#: the methods, by the short names ``minimize`` accepts; a name the library
#: does not know yet is reported as skipped
METHODS = ("fp", "gda", "sal", "sadmm", "auto")
#: primal steps per run (the fixed budget). A full run is 666 runs for the four
#: methods of today (~12 CPU-minutes at ~0.5 ms a step on one core; 864 runs
#: with "auto"): more than the 5 minutes aimed at, but a smaller budget puts the
#: unscaled problems out of SGD's reach (plain gradient descent at lr 0.01 with
#: the exact multipliers needs an estimated 180-700 steps on most of them, up to
#: 1700 on HS6 and HS28; see ``sgd_reach``). ``--jobs N`` runs N processes.
MAX_ITER = 2000
SCALES = (1.0, 1e-2, 1e2)
STARTS = ("feasible", "infeasible")
X_TOL, VIOLATION_TOL = 1e-3, 1e-4
#: the issue's goals: share solved per method (the others are reported without one)
SOLVED_GOALS = {"auto": ">= 0.95", "gda": ">= 0.8", "sal": ">= 0.8"}
QUICK_PROBLEMS = ("hs028", "ramirez-ex1-eps0.3")
QUICK_MAX_ITER = 100
QUICK_SCALES = (1.0, 1e2)
OUTCOMES = ("solved", "wrong", "diverged", "error")
VARIANTS = (
    ("unscaled", "feasible"),
    ("unscaled", "infeasible"),
    ("scaled", "feasible"),
    ("scaled", "infeasible"),
)
_CODES = {"solved": "S", "wrong": "w", "false success": "F", "diverged": "D", "error": "E"}


@dataclass
class Run:
    problem: str
    scale: float
    start: str
    method: str
    outcome: str  # solved / wrong / diverged / error / n/a
    success: bool = False
    distance: float = math.nan
    violation: float = math.nan
    fun: float = math.nan
    f_star: float = math.nan
    seconds: float = 0.0
    message: str = ""
    kkt_success: bool = False
    kkt_message: str = ""
    status: int = 0
    x: list = None  # the returned point (flattened), for re-judging a saved run
    multipliers: list = None

    @property
    def false_success(self):
        return self.outcome == "wrong" and self.success

    @property
    def variant(self):
        return ("unscaled" if self.scale == 1 else "scaled", self.start)


def method_available(name):
    """``(True, "")`` when ``minimize`` accepts ``method=name``, else ``(False, why)``."""
    from sklearn_constrained.methods import resolve_method

    try:
        resolve_method(name)
    except (ValueError, TypeError) as exc:
        return False, str(exc)
    return True, ""


def relative_violation(problem, x):
    """The largest violation at ``x`` relative to ``max(1, |level|)``, bounds included."""
    pairs = zip(P.violations(problem, x), P.level_scales(problem), strict=True)
    viol = [v / s for v, s in pairs]
    lo, hi = P.bounds_arrays(problem)
    bv = np.maximum(np.maximum(lo - x, x - hi), 0.0)
    bs = np.maximum(1.0, np.where(np.isfinite(lo), np.abs(lo), 0.0))
    bs = np.maximum(bs, np.where(np.isfinite(hi), np.abs(hi), 0.0))
    return max(viol + [float(np.max(bv / bs, initial=0.0))])


def _gradient_norm(problem, x):
    """``|grad f(x)|_inf``."""
    xt = torch.as_tensor(np.asarray(x, dtype=np.float64)).requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(problem.fun(xt), xt, allow_unused=True)
    return 0.0 if g is None else float(g.abs().max())


def sgd_reach(problem, lr=0.01):
    """How hard the problem is for plain SGD at ``lr`` near ``x*``, with exact multipliers.

    Returns ``(steps, stable_scale)``: ``steps = ln(1e3) / (lr * mu)``, with
    ``mu`` the smallest eigenvalue of the Lagrangian's Hessian on the
    tangent space of the active constraints and bounds (the steps gradient
    descent needs to shrink an error by 1e3 along the slowest direction;
    0 at a vertex, where no direction is free), and
    ``stable_scale = 2 / (lr * |H|)``, the largest factor the problem can be
    multiplied by before a step of ``lr`` on the Lagrangian is unstable. An
    estimate: a method's own dynamics (the dual update, a penalty) can only
    add to both.
    """
    import scipy.linalg

    from sklearn_constrained.optim._kkt import check_kkt

    xs = torch.as_tensor(np.asarray(problem.x_star, dtype=np.float64))
    kkt = check_kkt(problem.fun, xs, problem.constraints, bounds=problem.bounds, tol=1e-8)
    lams = [torch.as_tensor(m) for m in kkt.multipliers]

    def lagrangian(x):
        v = problem.fun(x)
        for (_, g, level), lam in zip(problem.constraints, lams, strict=True):
            d = torch.atleast_1d(g(x)).reshape(-1) - torch.as_tensor(np.ravel(level))
            v = v + (lam * d).sum()
        return v

    H = torch.autograd.functional.hessian(lagrangian, xs).numpy().reshape(problem.n, -1)
    rows = []
    for (_, g, _), act in zip(problem.constraints, kkt.active, strict=True):
        fn = lambda z, g=g: torch.atleast_1d(g(z)).reshape(-1)  # noqa: E731
        J = torch.autograd.functional.jacobian(fn, xs).numpy().reshape(-1, problem.n)
        rows += [J[i] for i in np.flatnonzero(act)]
    lo, hi = P.bounds_arrays(problem)
    x = xs.numpy()
    rows += [np.eye(problem.n)[j] for j in np.flatnonzero((x - lo < 1e-9) | (hi - x < 1e-9))]
    Z = scipy.linalg.null_space(np.array(rows)) if rows else np.eye(problem.n)
    h_norm = float(np.max(np.abs(np.linalg.eigvalsh((H + H.T) / 2))))
    stable = 2 / (lr * h_norm) if h_norm > 0 else math.inf
    if Z.shape[1] == 0:
        return 0, stable
    mu = float(np.min(np.linalg.eigvalsh(Z.T @ ((H + H.T) / 2) @ Z)))
    return (math.ceil(math.log(1e3) / (lr * mu)) if mu > 0 else math.inf), stable


def run_one(case, method, max_iter):
    """Run ``minimize`` with ``method`` at its defaults on one case; classify it."""
    from sklearn_constrained.optim import minimize

    p = case.problem
    run = Run(p.name, case.scale, case.start, method, "n/a", f_star=p.f_star)
    if method == "sadmm" and p.prox is None:
        return run
    cons = P.to_library_constraints(p, with_prox=method == "sadmm")
    t0 = time.perf_counter()
    try:
        with quiet():
            res = minimize(p.fun, case.x0, cons, method=method, max_iter=max_iter, bounds=p.bounds)
    except Exception as exc:  # noqa: BLE001 -- a raising method is a result to report
        run.outcome, run.seconds = "error", time.perf_counter() - t0
        run.message = f"{type(exc).__name__}: {exc}"
        return run
    run.seconds = time.perf_counter() - t0
    run.x = np.asarray(res.x, dtype=np.float64).reshape(-1).tolist()
    run.success, run.message, run.fun = bool(res.success), str(res.message), float(res.fun)
    run.status = int(res.status)
    run.outcome = "pending"  # classify() decides
    try:
        run.multipliers = [
            np.asarray(m, dtype=np.float64).reshape(-1).tolist() for m in res.multipliers
        ]
    except (TypeError, ValueError):
        run.multipliers = None
    return classify(run, case)


def kkt_gradient_scale(problem, x0):
    """The gradient scale of the KKT preview: ``max(1, |grad f(x0)|_inf)`` at the clipped start."""
    lo, hi = P.bounds_arrays(problem)
    return max(1.0, _gradient_norm(problem, np.clip(x0, lo, hi)))


def classify(run, case):
    """Fill ``run``'s outcome, distance, violation and KKT verdict from its returned point."""
    from sklearn_constrained.optim._kkt import check_kkt

    if run.outcome in ("n/a", "error"):
        return run
    p, x = case.problem, np.asarray(run.x, dtype=np.float64)
    if not (np.all(np.isfinite(x)) and math.isfinite(run.fun)) or run.status == 2:
        run.outcome = "diverged"
        return run
    run.distance = P.distance_to_solution(case.base, x)
    run.violation = relative_violation(p, x)
    solved = run.distance <= X_TOL and run.violation <= VIOLATION_TOL
    run.outcome = "solved" if solved else "wrong"
    kw = dict(bounds=p.bounds, tol=1e-4, gradient_scale=kkt_gradient_scale(p, case.x0))
    try:
        kkt = check_kkt(p.fun, x, p.constraints, run.multipliers, **kw)
    except (TypeError, ValueError):  # multipliers shaped otherwise (a penalty): not needed
        kkt = check_kkt(p.fun, x, p.constraints, **kw)
    run.kkt_success, run.kkt_message = bool(kkt.success), kkt.message
    return run


def rejudge(runs):
    """Re-classify saved runs (``--from-json``) with the current rules."""
    cases = {}
    for r in runs:
        key = (r.problem, r.scale, r.start)
        if key not in cases:
            base = P.by_name(r.problem)
            (cases[key],) = P.variants([base], scales=(r.scale,), starts=(r.start,))
        classify(r, cases[key])
    return runs


def _cases(problems, scales):
    return list(P.variants(problems, scales=scales, starts=STARTS))


def _worker(args):
    name, scale, start, method, max_iter = args
    torch.set_num_threads(1)
    (case,) = [c for c in P.variants([P.by_name(name)], scales=(scale,), starts=(start,))]
    return run_one(case, method, max_iter)


def measure(problems=None, methods=METHODS, max_iter=MAX_ITER, scales=SCALES, jobs=1):
    """Every run: ``(runs, skipped)`` with ``skipped = {method: why}``."""
    problems = list(P.PROBLEMS if problems is None else problems)
    skipped, active = {}, []
    for m in methods:
        ok, why = method_available(m)
        (active.append(m) if ok else skipped.__setitem__(m, why))
    tasks = [
        (c.base.name, c.scale, c.start, m, max_iter)
        for c in _cases(problems, scales)
        for m in active
    ]
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            runs = list(pool.map(_worker, tasks, chunksize=4))
    else:
        torch.set_num_threads(1)
        runs = []
        by_key = {(c.base.name, c.scale, c.start): c for c in _cases(problems, scales)}
        for name, scale, start, m, it in tasks:
            runs.append(run_one(by_key[(name, scale, start)], m, it))
    return runs, skipped


def _share(k, n):
    return f"{k}/{n} ({k / n:.0%})" if n else "-"


def summarize(runs, methods):
    """Per method: counts of every outcome (``n/a`` runs excluded)."""
    out = {}
    for m in methods:
        rs = [r for r in runs if r.method == m and r.outcome != "n/a"]
        c = Counter(r.outcome for r in rs)
        out[m] = {
            "runs": len(rs),
            **{o: c.get(o, 0) for o in OUTCOMES},
            "false success": sum(r.false_success for r in rs),
            "solved, success=False": sum(r.outcome == "solved" and not r.success for r in rs),
            "kkt false success": sum(r.outcome == "wrong" and r.kkt_success for r in rs),
            "kkt rejects solved": sum(r.outcome == "solved" and not r.kkt_success for r in rs),
            "median s": statistics.median([r.seconds for r in rs]) if rs else math.nan,
            "total s": sum(r.seconds for r in rs),
        }
    return out


def _cell(runs):
    """One character per variant: S solved, w wrong, F false success, D diverged, E error."""
    text = ""
    for r in runs:
        if r.outcome == "n/a":
            return "n/a"
        text += _CODES["false success" if r.false_success else r.outcome]
    return f"`{text}`"


def _reachable(reach, run, max_iter):
    """Whether SGD could solve the run's problem-scale within the budget (the estimate)."""
    steps, stable = reach[run.problem]  # at scale 1: the curvature scales with the problem
    return steps / run.scale <= max_iter and run.scale < stable


def report(
    runs, skipped, methods, problems, max_iter, scales, cmd, seconds, machine=None, label=None
):
    present = [m for m in methods if m not in skipped]
    summ = summarize(runs, present)
    reach = {p.name: sgd_reach(p) for p in problems}
    scale_text = ", ".join(f"x{s:g}" for s in scales)
    rows = []
    for m in present:
        s = summ[m]
        rs = [r for r in runs if r.method == m and r.outcome != "n/a"]
        within = [r for r in rs if _reachable(reach, r, max_iter)]
        rows.append(
            [
                m,
                s["runs"],
                _share(s["solved"], s["runs"]),
                s["wrong"],
                s["false success"],
                s["diverged"],
                s["error"],
                _share(sum(r.outcome == "solved" for r in within), len(within)),
                f"{s['median s']:.2f}",
                f"{s['total s']:.0f}",
            ]
        )
    for m in skipped:
        rows.append([m, 0, "skipped", "", "", "", "", "", "", ""])
    main_table = md_table(
        [
            "method",
            "runs",
            "solved",
            "wrong",
            "of which false success",
            "diverged",
            "error",
            "solved, of the runs within SGD's reach",
            "median s/run",
            "total s",
        ],
        rows,
    )
    var_rows = []
    for m in present:
        row = [m]
        for v in VARIANTS:
            rs = [r for r in runs if r.method == m and r.outcome != "n/a" and r.variant == v]
            k = sum(r.outcome == "solved" for r in rs)
            fs = sum(r.false_success for r in rs)
            row.append(_share(k, len(rs)) + (f", {fs} false" if fs else ""))
        var_rows.append(row)
    var_table = md_table(["method"] + [f"{a}, {b} start" for a, b in VARIANTS], var_rows)
    kkt_rows = [
        [
            m,
            summ[m]["false success"],
            summ[m]["solved, success=False"],
            summ[m]["kkt false success"],
            summ[m]["kkt rejects solved"],
            summ[m]["solved"],
        ]
        for m in present
    ]
    kkt_table = md_table(
        [
            "method",
            "false successes, res.success",
            "solved but res.success=False",
            "false successes, check_kkt",
            "solved but check_kkt rejects",
            "solved",
        ],
        kkt_rows,
    )
    order = [(s, st) for s in scales for st in STARTS]
    detail_rows = []
    by = defaultdict(list)
    for r in runs:
        by[(r.problem, r.method)].append(r)
    for p in problems:
        steps, stable = reach[p.name]
        row = [p.name, p.source, "vertex" if steps == 0 else steps, f"{stable:.3g}"]
        for m in present:
            rs = sorted(by[(p.name, m)], key=lambda r: order.index((r.scale, r.start)))
            row.append(_cell(rs))
        detail_rows.append(row)
    detail = md_table(
        ["problem", "source", "SGD steps at lambda* (est.)", "stable up to scale (est.)"] + present,
        detail_rows,
    )
    out_of_reach = sorted(
        {
            f"{c.base.name} x{c.scale:g}"
            for c in _cases(problems, scales)
            if not _reachable(reach, Run(c.base.name, c.scale, c.start, "", ""), max_iter)
        },
        key=lambda t: (t.split(" ")[0], float(t.split(" x")[1])),
    )
    na = [p.name for p in problems if p.prox is None]
    bad = [r for r in runs if r.false_success]
    bad_rows = [
        [
            r.problem,
            f"x{r.scale:g}",
            r.start,
            r.method,
            f"{r.distance:.2g}",
            f"{r.violation:.2g}",
            f"{r.fun:.6g}",
            f"{r.f_star:.6g}",
        ]
        for r in bad
    ]
    errors = sorted({(r.method, r.message) for r in runs if r.outcome == "error"})
    sources = ", ".join(sorted({p.source.split("]")[0] + "]" for p in problems}))
    lines = [
        "# Robustness at the defaults, part (a): problems with known optima",
        "",
        f"Every method of `sc.optim.minimize` at its defaults (`method=<name>`, optimizer SGD, "
        "`lr=None`: the step set from the problem's curvature at the start and after every "
        f"outer iteration; 100 steps per outer iteration), **{max_iter} primal steps**, on "
        f"{len(problems)} problems ({sources}; "
        f"see `benchmarks/_problems.py`), each at scale {scale_text} (objective and constraints "
        "multiplied by the factor) from a feasible and an infeasible start. "
        f"Solved: every coordinate within {X_TOL:g} x max(1, |x*_j|) of a global minimiser and "
        f"every violation <= {VIOLATION_TOL:g} x max(1, |level|). Wrong: finite, not solved; "
        "false success: wrong and `res.success=True`. The success criterion is the one of the "
        "`minimize` under test.",
        "",
        f"Machine: {machine or machine_description(threads=1)}. "
        f"The runs took {seconds:.0f} s in all." + (f" Code measured: {label}." if label else ""),
        "",
        main_table,
        "",
        "Within SGD's reach (an estimate, `sgd_reach` in `benchmarks/robustness.py`): the "
        "budget covers the steps plain gradient descent with lr 0.01 needs near x* with the "
        "exact multipliers (ln(1e3) / (lr x scale x the smallest eigenvalue of the "
        "Lagrangian's Hessian on the tangent space), and at that scale such a step is stable "
        "(scale < 2 / (lr |H|)). A method's own dynamics only add to both, so the cases out "
        f"of reach ({len(out_of_reach)} of {len(problems) * len(scales)} problem-scales) "
        "cannot be solved at the defaults unless the method rescales the primal step: "
        + ", ".join(out_of_reach)
        + ".",
        "",
        "Share solved per variant (scaled = x1e-2 and x1e2 together):",
        "",
        var_table,
        "",
        "`success` against the KKT test: the false successes of `res.success`, and what "
        "`check_kkt` (`sklearn_constrained/optim/_kkt.py`: least-squares multipliers at the "
        "returned x, tol 1e-4, gradient scale max(1, |grad f(x0)|)) says of the same points:",
        "",
        kkt_table,
        "",
        "Every run (one character per variant, in the order "
        + ", ".join(f"x{s:g} {st}" for s, st in order)
        + "; S solved, w wrong, F false success, D diverged, E error, n/a not applicable):",
        "",
        detail,
        "",
    ]
    if "sadmm" in present:
        lines += [
            f"S-ADMM is not applicable to {len(na)} of {len(problems)} problems (no closed-form "
            f"projection for some constraint): {', '.join(na)}.",
            "",
        ]
    for m, why in skipped.items():
        lines += [f"`{m}`: skipped, `minimize` does not accept it here ({why.splitlines()[0]})", ""]
    if bad_rows:
        lines += [
            "<details><summary>The false successes (distance: the largest relative "
            "distance of a coordinate to the nearest minimiser; violation relative to "
            "max(1, |level|))</summary>",
            "",
            md_table(
                ["problem", "scale", "start", "method", "distance to x*", "violation", "f", "f*"],
                bad_rows,
            ),
            "",
            "</details>",
            "",
        ]
    if errors:
        lines += ["Errors:", ""] + [f"- {m}: {msg}" for m, msg in errors] + [""]
    lines += [f"Command: `{cmd}`"]
    return "\n".join(lines), summ


def run(
    quick=False,
    out_dir=None,
    methods=METHODS,
    problems=None,
    max_iter=None,
    jobs=1,
    json_path=None,
    from_json=None,
    label=None,
):
    out_dir = resolve_out_dir(out_dir, quick)
    if problems is None:
        problems = QUICK_PROBLEMS if quick else [p.name for p in P.PROBLEMS]
    plist = [P.by_name(n) for n in problems]
    max_iter = (QUICK_MAX_ITER if quick else MAX_ITER) if max_iter is None else max_iter
    scales = QUICK_SCALES if quick else SCALES
    cmd = "python -m benchmarks.robustness"
    if quick:
        cmd += " --quick"
    if max_iter != (QUICK_MAX_ITER if quick else MAX_ITER):
        cmd += f" --max-iter {max_iter}"
    if tuple(methods) != METHODS:
        cmd += " --methods " + " ".join(methods)
    if list(problems) != ([p.name for p in P.PROBLEMS] if not quick else list(QUICK_PROBLEMS)):
        cmd += " --problems " + " ".join(problems)
    if jobs > 1:
        cmd += f" --jobs {jobs}"
    t0 = time.perf_counter()
    machine = machine_description(threads=1)
    if from_json is None:
        runs, skipped = measure(plist, methods, max_iter, scales, jobs)
        seconds = time.perf_counter() - t0
    else:  # re-judge saved runs: the same runs, the current classification and KKT rule
        import json

        saved = json.loads(Path(from_json).read_text())
        runs = rejudge([Run(**r) for r in saved["runs"]])
        skipped, seconds, machine = saved["skipped"], saved["seconds"], saved["machine"]
        names = set(problems)
        runs = [r for r in runs if r.problem in names and r.method in methods]
    if from_json is not None and label is None:
        label = saved.get("label")
    text, summ = report(
        runs, skipped, methods, plist, max_iter, scales, cmd, seconds, machine, label
    )
    if json_path is not None:
        import dataclasses
        import json

        payload = {
            "runs": [dataclasses.asdict(r) for r in runs],
            "skipped": skipped,
            "seconds": seconds,
            "machine": machine,
            "label": label,
            "command": cmd,
        }
        Path(json_path).write_text(json.dumps(payload))
    write_result(out_dir, NAME, text)
    print(text)
    figures = []
    for m in methods:
        if m in skipped:
            note = f"skipped: method {m!r} not available"
            figures.append(
                Figure(NAME, f"{m}: share solved", None, SOLVED_GOALS.get(m, ""), cmd, note=note)
            )
            figures.append(Figure(NAME, f"{m}: false successes", None, "<= 0", cmd, note=note))
            continue
        s = summ[m]
        share = s["solved"] / s["runs"] if s["runs"] else None
        figures.append(
            Figure(
                NAME,
                f"{m}: share solved",
                share,
                SOLVED_GOALS.get(m, ""),
                cmd,
                fmt="{:.2f}",
                note=f"{s['solved']}/{s['runs']} runs, {max_iter} steps; {s['diverged']} diverged",
            )
        )
        figures.append(
            Figure(
                NAME,
                f"{m}: false successes",
                s["false success"],
                "<= 0",
                cmd,
                fmt="{:d}",
                note=f"check_kkt would give {s['kkt false success']}",
            )
        )
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--methods", nargs="+", default=list(METHODS), help=f"default: {' '.join(METHODS)}"
    )
    parser.add_argument(
        "--problems",
        nargs="+",
        default=None,
        choices=[p.name for p in P.PROBLEMS],
        help="default: all",
    )
    parser.add_argument(
        "--max-iter", type=int, default=None, help=f"primal steps per run (default {MAX_ITER})"
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="worker processes, one thread each (default 1)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{len(QUICK_PROBLEMS)} problems, scales 1 and 1e2, {QUICK_MAX_ITER} steps (smoke)",
    )
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    parser.add_argument("--json", default=None, help="also write every run to this JSON file")
    parser.add_argument(
        "--label", default=None, help="a note on the code measured, printed in the results"
    )
    parser.add_argument(
        "--from-json",
        default=None,
        help="re-judge and report the runs saved by --json instead of running (same options)",
    )
    args = parser.parse_args(argv)
    return run(
        quick=args.quick,
        out_dir=args.out,
        methods=tuple(args.methods),
        problems=args.problems,
        max_iter=args.max_iter,
        jobs=max(1, min(args.jobs, os.cpu_count() or 1)),
        json_path=args.json,
        from_json=args.from_json,
        label=args.label,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
