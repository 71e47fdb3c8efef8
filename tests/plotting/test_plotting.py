"""sklearn_constrained.plotting: the drawn data match the history and the search results.

The tests named ``item8`` / ``item10`` are issue 17's items 8 (a readable ``plot_history``) and
10 (``plot_level_sweep`` of a two-metric search).
"""

import ast
import importlib
import inspect
import pkgutil
import sys
import warnings

import matplotlib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_constrained import ConstrainedClassifier, plotting  # noqa: E402
from sklearn_constrained.constraints import (  # noqa: E402
    EqualizedOdds,
    L2Norm,
    NonNegativity,
    PredictionRate,
)
from sklearn_constrained.methods import SAL, FixedPenalty  # noqa: E402
from sklearn_constrained.plotting import (  # noqa: E402
    pareto_front,
    plot_history,
    plot_level_sweep,
    plot_pareto,
)
from sklearn_constrained.plotting._history import _levels  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _data(n=200, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 4)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return X, y


def _fit(method="gda", constraints=None, epochs=4):
    X, y = _data()
    constraints = constraints or {
        "l2": L2Norm(bound=0.5),
        "rate": PredictionRate(label=1, lower=0.3, upper=0.6),
    }
    clf = ConstrainedClassifier(
        constraints=constraints, method=method, max_epochs=epochs, batch_size=50, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


@pytest.fixture(scope="module")
def gda_fit():
    return _fit()


def _line_data(line):
    return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


def _data_lines(ax):
    """The lines of recorded values (not the levels, the epoch markers or the off-scale marks)."""
    return [ln for ln in ax.lines if ln.get_gid() is None]


def _by_gid(ax, gid):
    return [ln for ln in ax.lines if ln.get_gid() == gid]


def test_plot_history_draws_the_recorded_values(gda_fit):
    clf = gda_fit
    hist = clf.history_
    epochs = np.arange(1, len(hist) + 1, dtype=float)
    axes = plot_history(clf)
    assert [a.get_title() for a in axes] == [
        "objective",
        "l2: L2Norm",
        "rate: PredictionRate",
        "multipliers",
    ]

    x, obj = _line_data(axes[0].lines[0])
    np.testing.assert_array_equal(x, epochs)
    np.testing.assert_allclose(obj, [r["objective"] for r in hist])
    np.testing.assert_allclose(_line_data(axes[0].lines[1])[1], [r["loss"] for r in hist])

    # each constraint: its value per epoch, then one horizontal line per level
    (l2_line,) = _data_lines(axes[1])
    np.testing.assert_allclose(_line_data(l2_line)[1], [r["constraints"]["l2"] for r in hist])
    l2_levels = _by_gid(axes[1], "level")
    assert [ln.get_label() for ln in l2_levels] == ["bound = 0.5"]
    np.testing.assert_allclose(_line_data(l2_levels[0])[1], [0.5, 0.5])
    (rate_line,) = _data_lines(axes[2])
    np.testing.assert_allclose(_line_data(rate_line)[1], [r["constraints"]["rate"] for r in hist])
    rate_levels = _by_gid(axes[2], "level")
    assert [ln.get_label() for ln in rate_levels] == ["lower = 0.3", "upper = 0.6"]
    np.testing.assert_allclose([_line_data(ln)[1][0] for ln in rate_levels], [0.3, 0.6])


def test_plot_history_draws_every_entry_of_a_vector_multiplier(gda_fit):
    clf = gda_fit
    hist = clf.history_
    rate_mult = np.array([np.atleast_1d(r["multipliers"]["rate"]) for r in hist], float)
    assert rate_mult.shape[1] == 2  # one multiplier per side of [lower, upper]
    lines = _data_lines(plot_history(clf)[3])
    assert len(lines) == 1 + 2
    np.testing.assert_allclose(_line_data(lines[0])[1], [r["multipliers"]["l2"] for r in hist])
    for k in range(2):
        np.testing.assert_allclose(_line_data(lines[1 + k])[1], rate_mult[:, k])
    # the two entries share the constraint's colour and one legend entry
    assert lines[1].get_color() == lines[2].get_color()
    assert [ln.get_label() for ln in lines if not ln.get_label().startswith("_")] == ["l2", "rate"]


def test_plot_history_penalty_panel_fixed_penalty_dict():
    clf = _fit(
        method=FixedPenalty(penalty={"l2": 0.25}), constraints={"l2": L2Norm(bound=0.5)}, epochs=3
    )
    axes = plot_history(clf)
    assert [a.get_title() for a in axes] == ["objective", "l2: L2Norm", "multipliers", "penalty"]
    (line,) = _data_lines(axes[3])
    assert line.get_label() == "l2"
    np.testing.assert_allclose(_line_data(line)[1], [0.25] * 3)


def test_plot_history_penalty_panel_float_penalty():
    clf = _fit(method=SAL(mu_init=2.0), constraints={"l2": L2Norm(bound=0.5)}, epochs=3)
    axes = plot_history(clf)
    assert axes[-1].get_title() == "penalty"
    np.testing.assert_allclose(
        _line_data(axes[-1].lines[0])[1], [r["penalty"] for r in clf.history_]
    )


def test_plot_history_no_penalty_panel_for_plain_gda(gda_fit):
    assert "penalty" not in [a.get_title() for a in plot_history(gda_fit)]


def test_plot_history_on_given_axes_and_errors(gda_fit):
    fig, given = plt.subplots(1, 4)
    axes = plot_history(gda_fit, ax=given)
    assert all(a is b for a, b in zip(axes, given, strict=True))
    assert len(_data_lines(given[0])) == 2
    with pytest.raises(ValueError, match="at least 4 matplotlib Axes"):
        plot_history(gda_fit, ax=plt.subplots(1, 2)[1])
    with pytest.raises(ValueError, match="Call fit"):
        plot_history(ConstrainedClassifier())


def test_level_of_a_constraint_without_a_level_is_zero():
    assert _levels(NonNegativity()) == [("level", 0.0)]
    assert _levels(L2Norm(bound=3)) == [("bound", 3.0)]
    assert _levels(PredictionRate(label=1, upper=0.2)) == [("upper", 0.2)]


def test_pareto_front_known_cases():
    # tighter = lower level: a point is beaten by one with a level <= and a score >=
    assert pareto_front([1, 2, 4, 8], [0.8, 0.9, 0.88, 0.95]).tolist() == [True, True, False, True]
    # ties: an identical point does not dominate its twin
    assert pareto_front([1, 1], [0.5, 0.5]).tolist() == [True, True]
    # tighter = higher level (a lower bound such as a TPR floor)
    assert pareto_front([0.5, 0.7, 0.9], [0.9, 0.92, 0.8], tighter="higher").tolist() == [
        False,
        True,
        True,
    ]
    assert pareto_front([1, 2], [np.nan, 0.5]).tolist() == [False, True]
    with pytest.raises(ValueError, match="tighter"):
        pareto_front([1], [1], tighter="up")
    with pytest.raises(ValueError, match="same length"):
        pareto_front([1, 2], [1])


def test_plot_pareto_splits_feasible_points_and_draws_the_front():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    y = np.array([0.8, 0.9, 0.88, 0.95])
    ax = plot_pareto(x, y, feasible=[True, True, True, False], selected=1)
    handles, labels = ax.get_legend_handles_labels()
    by_label = dict(zip(labels, handles, strict=True))
    assert set(by_label) == {"candidates", "constraint not met", "Pareto front", "selected"}
    np.testing.assert_allclose(by_label["candidates"].lines[0].get_xdata(), [1, 2, 4])
    np.testing.assert_allclose(by_label["constraint not met"].lines[0].get_xdata(), [8])
    # the infeasible best score is left off the front
    np.testing.assert_allclose(by_label["Pareto front"].get_xdata(), [1, 2])
    np.testing.assert_allclose(by_label["selected"].get_ydata(), [0.9])


class _FakeSearch:
    """What plot_level_sweep reads from a fitted GridSearchCV."""

    def __init__(self, levels, acc, viol, best_index, other=None):
        n = len(levels)
        self.cv_results_ = {
            "param_clf__constraints__l2__bound": np.ma.MaskedArray(levels, dtype=object),
            "mean_test_accuracy": np.asarray(acc, float),
            "std_test_accuracy": np.full(n, 0.01),
            "mean_test_l2": np.asarray(viol, float),
            "std_test_l2": np.zeros(n),
            "params": [{"clf__constraints__l2__bound": v} for v in levels],
        }
        if other is not None:
            self.cv_results_["param_clf__lr"] = np.ma.MaskedArray(other, dtype=object)
        self.refit = "accuracy"
        self.best_index_ = best_index


def test_plot_level_sweep_reads_the_search_results():
    levels = [1.0, 3.0, 10.0, 30.0, 100.0]
    search = _FakeSearch(levels, [0.2, 0.5, 0.7, 0.9, 0.96], [0.0, -0.4, 0.0, 0.0, -0.01], 3)
    ax = plot_level_sweep(search, scoring="accuracy", violation="l2", tol=0.05)
    assert ax.get_xlabel() == "clf__constraints__l2__bound"
    assert ax.get_xscale() == "log"  # positive levels spanning a factor >= 20
    by_label = dict(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    np.testing.assert_allclose(by_label["candidates"].lines[0].get_xdata(), [1, 10, 30, 100])
    np.testing.assert_allclose(by_label["constraint not met"].lines[0].get_xdata(), [3])
    np.testing.assert_allclose(by_label["selected"].get_xdata(), [30])
    # one shaded span per level whose constraint held: all but the level 3
    assert len(ax.patches) == 4
    assert [p.get_label() for p in ax.patches].count("held-out constraint met") == 1
    # the span of the level 10 lies between the midpoints with 3 and 30 (in log space)
    lefts = sorted(p.get_x() for p in ax.patches)
    np.testing.assert_allclose(lefts[1], np.sqrt(3 * 10))


def test_plot_level_sweep_picks_the_only_varying_parameter_and_checks_names():
    search = _FakeSearch([1.0, 2.0], [0.5, 0.6], [0.0, 0.0], 1)
    assert plot_level_sweep(search, scoring="accuracy").get_xscale() == "linear"
    with pytest.raises(ValueError, match="not a metric"):
        plot_level_sweep(search, scoring="f1")
    with pytest.raises(ValueError, match="not a parameter"):
        plot_level_sweep(search, "clf__constraints__l1__bound", scoring="accuracy")
    with pytest.raises(ValueError, match="not a metric"):
        plot_level_sweep(search, scoring="accuracy", violation="dp")
    two = _FakeSearch([1.0, 2.0], [0.5, 0.6], [0.0, 0.0], 1, other=[0.1, 0.01])
    with pytest.raises(ValueError, match="Pass `param=`"):
        plot_level_sweep(two, scoring="accuracy")
    with pytest.raises(ValueError, match="Call search.fit"):
        plot_level_sweep(object())


def test_matplotlib_is_imported_lazily_with_a_clear_message(monkeypatch):
    # No module-level matplotlib import: the package imports without it.
    modules = [plotting] + [
        importlib.import_module(f"{plotting.__name__}.{info.name}")
        for info in pkgutil.iter_modules(plotting.__path__)
    ]
    assert {m.__name__.rsplit(".", 1)[-1] for m in modules} >= {"_history", "_sweep"}
    for module in modules:
        tree = ast.parse(inspect.getsource(module))
        top_level = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = [a.name for n in top_level for a in n.names] + [
            n.module for n in top_level if isinstance(n, ast.ImportFrom)
        ]
        assert not any(str(name).startswith("matplotlib") for name in names), module.__name__
    # Without matplotlib, drawing names the extra to install.
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install sklearn-constrained\[plot\]"):
        plot_pareto([1.0], [1.0])


def test_plot_history_without_constraints_draws_the_objective_only():
    X, y = _data()
    clf = ConstrainedClassifier(max_epochs=2, batch_size=50, random_state=0).fit(X, y)
    axes = plot_history(clf)
    assert [a.get_title() for a in axes] == ["objective"]
    np.testing.assert_allclose(
        _line_data(axes[0].lines[0])[1], [r["objective"] for r in clf.history_]
    )


class _Fitted:
    """An estimator-like object carrying a hand-made history (what plot_history reads)."""

    def __init__(self, history, constraints, best_epoch):
        self.history_ = history
        self.constraints_ = constraints
        self.best_epoch_ = best_epoch


def _history(n=12, *, objective=None, loss=None, valid=False, dp_entries=2, seed=0):
    rng = np.random.RandomState(seed)
    objective = 2.303 + 0.004 * rng.randn(n) if objective is None else np.asarray(objective)
    loss = objective + 0.01 if loss is None else np.asarray(loss)
    records = []
    for e in range(1, n + 1):
        rec = {
            "epoch": e,
            "objective": float(objective[e - 1]),
            "loss": float(loss[e - 1]),
            "constraints": {"l2": 30 * (1 - np.exp(-e / 4)), "dp": 0.1 * np.exp(-e / 5)},
            "multipliers": {
                "l2": 0.5 / e,
                "dp": list(np.abs(rng.randn(dp_entries)) / e),
            },
            "penalty": None,
        }
        if valid:
            rec["valid_objective"] = rec["objective"] + 0.05
            rec["valid_constraints"] = {"l2": rec["constraints"]["l2"], "dp": 0.12 / e}
        records.append(rec)
    return records


def _synthetic(records, best_epoch):
    return _Fitted(records, {"l2": L2Norm(bound=25.0), "dp": EqualizedOdds(bound=0.05)}, best_epoch)


def test_item8_the_returned_epoch_is_marked_in_every_panel(gda_fit):
    est = _synthetic(_history(), best_epoch=7)
    axes = plot_history(est)
    for a in axes:
        (marker,) = _by_gid(a, "returned_epoch")
        np.testing.assert_allclose(_line_data(marker)[0], [7, 7])
        assert "returned epoch" in marker.get_label()
        assert "returned epoch (7)" in [t.get_text() for t in a.get_legend().get_texts()]
    # a real fit: the marker sits at its best_epoch_
    (marker,) = _by_gid(plot_history(gda_fit)[0], "returned_epoch")
    assert _line_data(marker)[0][0] == gda_fit.best_epoch_


def test_item8_validation_values_are_drawn_beside_the_training_ones():
    records = _history(valid=True)
    axes = plot_history(_synthetic(records, best_epoch=12))
    by_label = {ln.get_label(): ln for ln in _data_lines(axes[0])}
    np.testing.assert_allclose(
        _line_data(by_label["objective (validation)"])[1], [r["valid_objective"] for r in records]
    )
    dp = {ln.get_label(): ln for ln in _data_lines(axes[2])}
    assert set(dp) == {"value (training)", "validation"}
    np.testing.assert_allclose(
        _line_data(dp["validation"])[1], [r["valid_constraints"]["dp"] for r in records]
    )
    np.testing.assert_allclose(
        _line_data(dp["value (training)"])[1], [r["constraints"]["dp"] for r in records]
    )
    # without validation records there is no validation line
    plain = plot_history(_synthetic(_history(), best_epoch=12))
    labels = [ln.get_label() for a in plain for ln in a.lines]
    assert not any("validation" in label for label in labels)


def test_item8_robust_limits_leave_an_early_spike_off_the_scale():
    # a CNN stuck at chance (objective flat at ln 10) with a Lagrangian spike in epoch 1
    loss = np.full(12, 2.31)
    loss[0] = 60.0
    est = _synthetic(_history(loss=loss), best_epoch=12)
    a = plot_history(est)[0]
    lo, hi = a.get_ylim()
    objective = [r["objective"] for r in est.history_]
    assert hi < 3.0 and lo > 1.5  # the spike does not flatten the curve
    assert lo < min(objective) and max(objective) < hi and 2.31 < hi  # the rest is on the scale
    assert hi - lo >= 0.1 * 2.3  # a flat curve is not magnified into its noise
    (off,) = _by_gid(a, "off_scale")
    np.testing.assert_allclose(_line_data(off)[0], [1])
    assert [t.get_text() for t in a.texts] == ["60"]
    # the drawn line still holds the recorded value
    np.testing.assert_allclose(_line_data(_data_lines(a)[1])[1], loss)
    # robust=False: every point on the scale
    lo, hi = plot_history(est, robust=False)[0].get_ylim()
    assert hi >= 60.0


def test_item8_robust_limits_keep_a_fast_descent_and_a_late_plateau():
    # a normal first epoch well above the rest is not a spike: nothing is clipped
    fast = [1.29, 0.285, 0.148, 0.123, 0.061, 0.042]
    a = plot_history(_synthetic(_history(6, objective=fast), best_epoch=6))[0]
    assert not _by_gid(a, "off_scale")
    assert a.get_ylim()[1] > 1.29
    # an early spike of the objective itself (diverging then recovering) is clipped
    spiky = np.r_[2.3, 5e3, np.linspace(2.2, 0.3, 28)]
    a = plot_history(_synthetic(_history(30, objective=spiky), best_epoch=30))[0]
    assert a.get_ylim()[1] < 10
    assert {x for ln in _by_gid(a, "off_scale") for x in _line_data(ln)[0]} == {2.0}


def _overlaps(box, others):
    return [o for o in others if box.overlaps(o)]


def test_item8_titles_never_overlap_axis_labels_or_tick_labels(gda_fit):
    axes = plot_history(gda_fit)  # 2 x 2 panels
    fig = axes[0].figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for a in axes:
        title = a.title.get_window_extent(renderer)
        for other in axes:
            texts = [other.xaxis.label, other.yaxis.label]
            texts += other.get_xticklabels() + other.get_yticklabels()
            boxes = [t.get_window_extent(renderer) for t in texts if t.get_text()]
            assert boxes, "no tick labels were drawn"
            assert not _overlaps(title, boxes), (a.get_title(), other.get_title())
        # and a title stays inside the figure
        assert fig.bbox.contains(title.x0, title.y0) and fig.bbox.contains(title.x1, title.y1)


def test_item8_a_diverged_history_is_plotted_as_far_as_it_got():
    records = _history(8)
    records[-1]["objective"] = float("nan")
    records[-1]["loss"] = float("inf")
    records[-1]["multipliers"]["l2"] = float("nan")
    axes = plot_history(_synthetic(records, best_epoch=6))
    obj = _line_data(_data_lines(axes[0])[0])[1]
    np.testing.assert_allclose(obj[:-1], [r["objective"] for r in records[:-1]])
    assert np.isnan(obj[-1])
    for a in axes:
        (shade,) = _by_gid(a, "diverged")
        assert _line_data(shade)[0][0] == 8
        assert _line_data(_by_gid(a, "returned_epoch")[0])[0][0] == 6


def test_item8_a_real_fit_diverged_in_its_first_epoch_still_plots():
    from sklearn.datasets import load_diabetes

    from sklearn_constrained import ConstrainedRegressor

    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    reg = ConstrainedRegressor(
        constraints={"l2": L2Norm(bound=1.0)}, optimizer="sgd", lr=10.0, max_epochs=3
    )
    with pytest.warns(RuntimeWarning, match="diverged at epoch 1"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            reg.fit(X, 100 * y)
    assert reg.history_ == [] and reg.best_epoch_ == 0  # the state fit keeps after a divergence
    axes = plot_history(reg)
    assert [a.get_title() for a in axes] == ["objective", "l2: L2Norm", "multipliers"]
    for a in axes:
        assert "no epoch completed" in a.texts[0].get_text()
        assert "returned epoch (0, initial state)" == _by_gid(a, "returned_epoch")[0].get_label()
    # only an estimator that was never fitted gets the message
    with pytest.raises(ValueError, match=r"Call fit\(X, y\) first"):
        plot_history(ConstrainedRegressor())


def test_item8_a_long_vector_multiplier_is_a_band_and_its_largest_entry():
    records = _history(dp_entries=12)
    a = plot_history(_synthetic(records, best_epoch=12))[3]
    labels = [ln.get_label() for ln in _data_lines(a)]
    assert labels == ["l2", "dp: largest |entry|"]  # not 12 lines
    largest = [np.max(np.abs(r["multipliers"]["dp"])) for r in records]
    np.testing.assert_allclose(_line_data(_data_lines(a)[1])[1], largest)
    (band,) = a.collections
    assert band.get_label() == "dp: 12 entries"


def test_item8_a_growing_penalty_is_drawn_on_a_log_scale():
    records = _history(6)
    for k, r in enumerate(records):
        r["penalty"] = 10.0**k
    axes = plot_history(_synthetic(records, best_epoch=6))
    assert axes[-1].get_title() == "penalty" and axes[-1].get_yscale() == "log"


def test_item10_level_sweep_of_a_two_metric_search_needs_scoring():
    levels = [1.0, 3.0, 10.0]
    search = _FakeSearch(levels, [0.5, 0.7, 0.9], [0.0, 0.0, -0.2], 1)
    search.refit = lambda results: 1  # a callable refit such as best_feasible
    with pytest.raises(ValueError, match=r"several metrics \['accuracy', 'l2'\].*`scoring=`"):
        plot_level_sweep(search)
    ax = plot_level_sweep(search, scoring="accuracy", violation="l2")
    assert ax.get_ylabel() == "held-out accuracy (mean over folds)"


def test_item10_level_sweep_of_a_real_search_with_a_constraint_scorer():
    from sklearn.model_selection import GridSearchCV

    from sklearn_constrained.metrics import make_constraint_scorer
    from sklearn_constrained.model_selection import best_feasible

    X, y = _data(120)
    clf = ConstrainedClassifier(
        constraints={"l2": L2Norm(bound=1.0)}, max_epochs=2, batch_size=60, random_state=0
    )
    search = GridSearchCV(
        clf,
        {"constraints__l2__bound": [0.01, 10.0]},
        cv=2,
        scoring={"accuracy": "accuracy", "l2": make_constraint_scorer("l2")},
        refit=best_feasible("accuracy", ["l2"], tol=0.05),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    with pytest.raises(ValueError, match=r"\['accuracy', 'l2'\] and a callable `refit`"):
        plot_level_sweep(search)
    ax = plot_level_sweep(search, scoring="accuracy", violation="l2", tol=0.05)
    handles, labels = ax.get_legend_handles_labels()
    points = np.concatenate(
        [
            h.lines[0].get_ydata()
            for h, lab in zip(handles, labels, strict=True)
            if lab in ("candidates", "constraint not met")
        ]
    )
    np.testing.assert_allclose(np.sort(points), np.sort(search.cv_results_["mean_test_accuracy"]))
