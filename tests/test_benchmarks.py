"""Smoke tests of the benchmark suite: each module imports and runs its smallest configuration.

The figures of these tiny runs mean nothing; the tests check that every
benchmark runs end to end, writes its results file with the command that
reproduces it, and returns summary figures with the documented goals. The
full suite is ``python -m benchmarks`` (``make bench``).
"""

import dataclasses
import math

import numpy as np
import pytest
import torch

from benchmarks import __main__ as entry
from benchmarks import (
    default_stop,
    estimator_tasks,
    gpu_throughput,
    group_loss_level,
    heldout,
    minimize_overhead,
    overhead,
    rate_oscillation,
    robustness,
    step_ops,
    tuning_cost,
)
from benchmarks._common import Figure, alternate


def _finite_ratios(figures):
    return [f.value for f in figures if isinstance(f.value, float)]


def test_figure_status():
    assert Figure("b", "r", 1.05, "<= 1.10").status == "pass"
    assert Figure("b", "r", 1.2, "<= 1.10").status == "miss"
    assert Figure("b", "r", 0.95, ">= 0.9").status == "pass"
    assert Figure("b", "r", 0.5, ">= 0.9").status == "miss"
    assert Figure("b", "r", None, ">= 0.9").status == "skipped"
    assert Figure("b", "r", 2.0, "").status == "info"


def test_alternate_rotates_and_counts():
    order = []
    runners = {k: (lambda k=k: order.append(k)) for k in "abc"}
    wall, cpu = alternate(runners, repeats=3, warmup={k: (lambda: None) for k in "abc"})
    assert order == list("abcbcacab")
    assert all(len(v) == 3 for v in wall.values()) and all(len(v) == 3 for v in cpu.values())


def test_bisection_follows_the_log_midpoints():
    # value = 1 / (1 + c): acceptable in [0.45, 0.55] i.e. c in [0.818, 1.222]
    def fit(c):
        return tuning_cost.Trial(c, 1.0 / (1.0 + c), 1.0, 0.0)

    def classify(t):
        return "weak" if t.value > 0.55 else ("strong" if t.value < 0.45 else "ok")

    trials = tuning_cost.bisect(fit, 0.01, 100.0, classify, max_runs=6)
    coefs = [t.coef for t in trials]
    assert coefs[:3] == [0.01, 100.0, pytest.approx(1.0)]
    assert [t.verdict for t in trials] == ["weak", "strong", "ok"]
    # a window it cannot reach within the budget: 6 runs, none acceptable
    trials = tuning_cost.bisect(
        fit, 0.01, 100.0, lambda t: "weak" if t.value > 0.011 else "strong", max_runs=6
    )
    assert len(trials) == 6 and all(t.verdict != "ok" for t in trials)
    assert trials[3].coef == pytest.approx(10.0) and trials[4].coef == pytest.approx(
        math.sqrt(1000.0)
    )


def test_overhead_smallest(tmp_path):
    figures = overhead.run(quick=True, out_dir=tmp_path, cases=["l2", "orth", "dp"], repeats=1)
    text = (tmp_path / "overhead_l2.md").read_text()
    assert "Command: `python -m benchmarks.overhead --cases l2 --repeats 1 --quick`" in text
    assert "plain torch loop (reference)" in text and "skorch NeuralNetClassifier" in text
    dp = (tmp_path / "overhead_dp.md").read_text()
    assert "No row for sadmm" in dp
    assert "Orthogonality" in (tmp_path / "overhead_orth.md").read_text()
    goals = {f.name.split(": ")[-1]: f.goal for f in figures if f.goal}
    assert len([f for f in figures if f.goal]) == 5 + 5 + 4
    assert goals == {
        "fp / unconstrained": "<= 1.10",
        "gda / unconstrained": "<= 1.10",
        "sal / unconstrained": "<= 1.10",
        "sadmm / unconstrained": "<= 1.25",
        "auto / unconstrained": "<= 1.10",
    }
    assert all(0 < r < 100 for r in _finite_ratios(figures))


def test_minimize_overhead_same_point_and_file(tmp_path):
    # every implementation takes exactly the same steps: same point, same multiplier
    torch.set_num_threads(1)
    _, _, results = minimize_overhead.measure(steps=300, repeats=1)
    xh, lh = results["hand-written"]
    for name, (x, lam) in results.items():
        np.testing.assert_allclose(x, xh, atol=1e-9, err_msg=name)
        assert lam == pytest.approx(lh, abs=1e-8), name
    if minimize_overhead.cooper_available()[0]:
        assert "Cooper" in results
    figures = minimize_overhead.run(out_dir=tmp_path, steps=200, repeats=1)
    text = (tmp_path / "minimize_overhead.md").read_text()
    assert "Command: `python -m benchmarks.minimize_overhead --steps 200 --repeats 1`" in text
    goal = [f for f in figures if f.goal]
    assert len(goal) == 1 and goal[0].goal == "<= 1.2" and goal[0].value > 0


def test_minimize_overhead_skips_cooper_cleanly(tmp_path, monkeypatch):
    monkeypatch.setattr(
        minimize_overhead, "cooper_available", lambda: (False, "ImportError: no cooper")
    )
    figures = minimize_overhead.run(out_dir=tmp_path, steps=100, repeats=1)
    skipped = [f for f in figures if f.status == "skipped"]
    assert len(skipped) == 1 and "Cooper not importable" in skipped[0].note
    assert "not importable" in (tmp_path / "minimize_overhead.md").read_text()


def test_tuning_cost_smallest(tmp_path):
    figures = tuning_cost.run(quick=True, out_dir=tmp_path, cases=["rate", "dp"])
    for key in ("rate", "dp"):
        text = (tmp_path / f"tuning_cost_{key}.md").read_text()
        assert f"Command: `python -m benchmarks.tuning_cost --cases {key} --quick`" in text
        assert "penalty run 1" in text and "constraint, one GDA() run" in text
    assert len(figures) == 4


def test_heldout_smallest(tmp_path):
    figures = heldout.run(quick=True, out_dir=tmp_path)
    text = (tmp_path / "heldout.md").read_text()
    assert "Command: `python -m benchmarks.heldout --quick`" in text
    assert "| adult-sex: demographic parity <= 0.05 |" in text
    assert "| interval covers the population value |" in text
    assert "| method='gda' (the issue's default), max_epochs=3 |" in text
    assert "| adult-sex: demographic parity <= 0.05 | dual_split=0.3 + margin='auto' |" in text
    goals = {f.name: f.goal for f in figures}
    assert goals[next(n for n in goals if n.startswith("all cells"))] == ">= 0.9"
    assert goals["coverage: interval covers the population value"] == ">= 0.94"
    assert {"<= 0.05", ">= 1.0"} <= set(goals.values())  # the level is not met in 3 epochs
    assert all(f.command.startswith("python -m benchmarks.heldout") for f in figures)
    assert all(0.0 <= f.value <= 1.0 for f in figures if "share" in f.name)


def test_heldout_values_are_the_packages():
    # the benchmark's numpy values of predictions (used for fairlearn's models
    # too) agree with the estimator's own evaluation on the same rows
    cfg = dataclasses.replace(heldout.QUICK, epochs=5, hidden=16)
    data = heldout.load_tasks()["german-sex"]
    pair = heldout.make_pair(data, "german-sex", 0, cfg)
    assert len(pair.train) == len(pair.test) == 500 and pair.rest is None
    model = heldout.fit_ours(None, pair, 0, cfg, "gda")["model"]
    pred = model.predict(pair.test.X)
    assert 0.0 < pred.mean() < 1.0  # not a constant prediction: the gaps can differ
    for kind in ("dp", "eo", "fpr"):
        c = heldout.Cell("german-sex", kind, 0.1).constraint()
        value = model.constraint_details(
            pair.test.X, pair.test.y, pair.test.s, constraints={kind: c}
        ).values[kind]
        assert heldout.held_value(kind, pred, pair.test) == pytest.approx(float(value), abs=1e-6)


def test_gpu_throughput_smallest(tmp_path):
    figures = gpu_throughput.run(quick=True, out_dir=tmp_path)
    text = (tmp_path / "gpu_throughput.md").read_text()
    # one figure per method: fp, gda, sal, sadmm and auto (the new default)
    assert [f.goal for f in figures] == [">= 0.95"] * 5
    assert [f.name.split(", ")[-1].split(" / ")[0] for f in figures] == [
        "fp",
        "gda",
        "sal",
        "sadmm",
        "auto",
    ]
    if torch.cuda.is_available():
        assert "samples/s" in text and all(f.value > 0 for f in figures)
    else:
        assert "skipped: no CUDA device" in text
        assert all(f.status == "skipped" and f.note == "skipped: no CUDA device" for f in figures)


def test_robustness_smallest(tmp_path):
    figures = robustness.run(quick=True, out_dir=tmp_path)
    text = (tmp_path / "robustness.md").read_text()
    assert "Command: `python -m benchmarks.robustness --quick`" in text
    assert "| stable up to scale (est.) | fp | gda | sal | sadmm" in text
    assert "S-ADMM is not applicable to 1 of 2 problems" in text and "ramirez-ex1-eps0.3" in text
    # every method has a share-solved and a false-success figure; the goals
    assert len(figures) == 2 * len(robustness.METHODS)
    goals = {f.name: f.goal for f in figures}
    assert goals["gda: share solved"] == ">= 0.8" and goals["auto: share solved"] == ">= 0.95"
    assert all(goals[f"{m}: false successes"] == "<= 0" for m in robustness.METHODS)
    for f in figures:  # a method the library lacks (auto, before it lands) is skipped
        assert f.status == "skipped" or (f.value is not None and f.value >= 0), f
    # classification: 2 problems x 2 scales x 2 starts per method, S-ADMM on one problem
    runs, skipped = robustness.measure(
        [robustness.P.by_name("hs028")], methods=("gda", "sadmm", "nope"), max_iter=20
    )
    assert list(skipped) == ["nope"] and len(runs) == 2 * 6
    summary = robustness.summarize(runs, ("gda", "sadmm"))
    for m in ("gda", "sadmm"):
        s = summary[m]
        assert s["runs"] == 6 and s["solved"] + s["wrong"] + s["diverged"] + s["error"] == 6
        assert s["false success"] <= s["wrong"]


def test_estimator_tasks_smallest(tmp_path):
    figures = estimator_tasks.run(quick=True, out_dir=tmp_path)
    text = (tmp_path / "estimator_tasks.md").read_text()
    assert "Command: `python -m benchmarks.estimator_tasks --quick`" in text
    assert "| norm | auto |" in text and "| rate | GDA(dual_lr=100) |" in text
    assert "estimator_tasks" in [n for n, _ in entry.BENCHMARKS]
    # per task: the goal (feasible and within 2 points) and the count of feasible GDA settings
    goals = [f for f in figures if f.goal]
    assert len(figures) == 4 and [f.goal for f in goals] == ["feasible, >= -0.02"] * 2
    assert all(f.status in ("pass", "miss") for f in goals)
    assert all(f.status == "info" and 0 <= f.value <= 3 for f in figures if not f.goal)
    # the verdict: the best *feasible* GDA run is the reference; auto must be feasible
    R = estimator_tasks.Result
    gda = [
        R("t", "GDA(dual_lr=1)", 1.0, feasible=False, test_acc=0.95),
        R("t", "GDA(dual_lr=10)", 10.0, feasible=True, test_acc=0.91),
        R("t", "GDA(dual_lr=100)", 100.0, feasible=True, test_acc=0.80),
    ]
    v = estimator_tasks.verdict([R("t", "auto", feasible=True, test_acc=0.90)] + gda)
    assert v["n_feasible"] == 2 and v["best_feasible"] is gda[1] and v["met"]
    assert v["diff"] == pytest.approx(-0.01)
    assert not estimator_tasks.verdict([R("t", "auto", feasible=False, test_acc=0.99)] + gda)["met"]
    assert not estimator_tasks.verdict([R("t", "auto", feasible=True, test_acc=0.88)] + gda)["met"]


def test_default_stop_smallest(tmp_path):
    figures = default_stop.run(quick=True, out_dir=tmp_path, settings=("none", "default"))
    text = (tmp_path / "default_stop.md").read_text()
    assert "Command: `python -m benchmarks.default_stop --settings none default --quick`" in text
    assert "| none | 0 | 5 |" in text and "| default | 0 | 5 |" in text
    assert [f.goal for f in figures] == ["< 1.0", ">= 0.0", "<= 0.0"]
    # 2,000 rows: early_stopping="auto" stays off, both settings are the same fit
    assert figures[0].value == pytest.approx(1.0) and figures[1].value == pytest.approx(0.0)
    assert {"default_stop", "step_ops", "group_loss_level"} <= {n for n, _ in entry.BENCHMARKS}


def test_step_ops_and_group_loss_level_smallest(tmp_path):
    ops = step_ops.run(quick=True, out_dir=tmp_path)
    text = (tmp_path / "step_ops.md").read_text()
    assert "Command: `python -m benchmarks.step_ops --quick`" in text
    # a constraint adds operations to a step, never removes them, and the estimator
    # does more per step than a plain loop (operations and Python calls)
    assert len(ops) == 8 and all(f.value > 1.0 for f in ops)
    assert "Python calls per step" in text
    bgl = group_loss_level.run(quick=True, out_dir=tmp_path)
    text = (tmp_path / "group_loss_level.md").read_text()
    assert "Command: `python -m benchmarks.group_loss_level --quick`" in text
    assert "| auto | sgd | BoundedGroupLoss(2500) |" in text
    assert len(bgl) == 2 and all(math.isfinite(f.value) and f.value > 0 for f in bgl)


def test_rate_oscillation_smallest(tmp_path):
    figures = rate_oscillation.run(quick=True, out_dir=tmp_path)
    text = (tmp_path / "rate_oscillation.md").read_text()
    assert "Command: `python -m benchmarks.rate_oscillation --quick`" in text
    assert "| auto |" in text and "| GDA(dual_lr=1) |" in text
    assert [f.name.rsplit(", ", 1)[1] for f in figures] == ["auto", "GDA(dual_lr=1)"]
    assert all(0.0 < f.value <= 1.0 for f in figures)
    assert "rate_oscillation" in {n for n, _ in entry.BENCHMARKS}


def test_entry_point_writes_the_summary(tmp_path, capsys):
    status = entry.main(["--quick", "--out", str(tmp_path), "--only", "gpu_throughput"])
    assert status == 0
    out = capsys.readouterr().out
    assert "| benchmark | figure | value | goal | status | command | note |" in out
    assert not (tmp_path / "SUMMARY.md").exists()  # --only never overwrites the summary
    rows = entry.summary_text(
        [
            Figure("overhead", "gda / unconstrained", 1.05, "<= 1.10", "python -m x", unit="x"),
            Figure("gpu", "resnet", None, ">= 0.9", "python -m y", note="skipped: no CUDA device"),
        ],
        60.0,
        False,
        [],
    )
    assert "| overhead | gda / unconstrained | 1.050 x | <= 1.10 | pass | `python -m x` |" in rows
    assert (
        "| gpu | resnet | - | >= 0.9 | skipped | `python -m y` | skipped: no CUDA device |" in rows
    )
    assert "Goals met: 1, missed: 0, skipped: 1" in rows


def test_reproductions_run_their_smallest_configuration(tmp_path):
    # the paper reproductions are not in the default `python -m benchmarks`
    # run, but `--reproductions` / `--only` reach them; their quick modes
    # take seconds
    from benchmarks import paper_table1, sparsity

    assert [n for n, _ in entry.REPRODUCTIONS] == ["paper_table1", "sparsity"]
    assert not {n for n, _ in entry.REPRODUCTIONS} & {n for n, _ in entry.BENCHMARKS}
    figures = paper_table1.run(quick=True, out_dir=tmp_path)
    text = (tmp_path / "paper_table1.md").read_text()
    assert "Command: `python -m benchmarks.paper_table1 --quick`" in text
    assert "| CNN | sadmm |" in text and "| GENEONet | sal |" in text
    assert figures and all(f.command for f in figures)
    figures = sparsity.run(quick=True, out_dir=tmp_path)
    text = (tmp_path / "sparsity.md").read_text()
    assert "Command: `python -m benchmarks.sparsity --quick`" in text
    assert any("GDA()" in f.name and f.goal == "<= 0.02" for f in figures)
