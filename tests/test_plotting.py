"""sklearn_constrained.plotting: the drawn data match the history and the search results."""

import ast
import inspect
import sys
import warnings

import matplotlib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_constrained import ConstrainedClassifier, plotting  # noqa: E402
from sklearn_constrained.constraints import L2Norm, PredictionRate  # noqa: E402
from sklearn_constrained.methods import SAL, FixedPenalty  # noqa: E402
from sklearn_constrained.plotting import (  # noqa: E402
    pareto_front,
    plot_history,
    plot_level_sweep,
    plot_pareto,
)


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
    l2_lines = axes[1].lines
    np.testing.assert_allclose(_line_data(l2_lines[0])[1], [r["constraints"]["l2"] for r in hist])
    assert [ln.get_label() for ln in l2_lines[1:]] == ["bound = 0.5"]
    np.testing.assert_allclose(_line_data(l2_lines[1])[1], [0.5, 0.5])
    rate_lines = axes[2].lines
    np.testing.assert_allclose(
        _line_data(rate_lines[0])[1], [r["constraints"]["rate"] for r in hist]
    )
    assert [ln.get_label() for ln in rate_lines[1:]] == ["lower = 0.3", "upper = 0.6"]
    np.testing.assert_allclose([_line_data(ln)[1][0] for ln in rate_lines[1:]], [0.3, 0.6])


def test_plot_history_draws_every_entry_of_a_vector_multiplier(gda_fit):
    clf = gda_fit
    hist = clf.history_
    rate_mult = np.array([np.atleast_1d(r["multipliers"]["rate"]) for r in hist], float)
    assert rate_mult.shape[1] == 2  # one multiplier per side of [lower, upper]
    lines = plot_history(clf)[3].lines
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
    (line,) = axes[3].lines
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
    assert all(a is b for a, b in zip(axes, given))
    assert len(given[0].lines) == 2
    with pytest.raises(ValueError, match="at least 4 matplotlib Axes"):
        plot_history(gda_fit, ax=plt.subplots(1, 2)[1])
    with pytest.raises(ValueError, match="Call fit"):
        plot_history(ConstrainedClassifier())


def test_level_of_a_constraint_without_a_level_is_zero():
    from sklearn_constrained.constraints import NonNegativity

    assert plotting._levels(NonNegativity()) == [("level", 0.0)]
    assert plotting._levels(L2Norm(bound=3)) == [("bound", 3.0)]
    assert plotting._levels(PredictionRate(label=1, upper=0.2)) == [("upper", 0.2)]


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
    by_label = dict(zip(labels, handles))
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
    by_label = dict(zip(*reversed(ax.get_legend_handles_labels())))
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
    tree = ast.parse(inspect.getsource(plotting))
    top_level = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = [a.name for n in top_level for a in n.names] + [
        n.module for n in top_level if isinstance(n, ast.ImportFrom)
    ]
    assert not any(str(name).startswith("matplotlib") for name in names)
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
