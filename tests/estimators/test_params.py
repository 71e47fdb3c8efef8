"""Nested parameters, clone, GridSearchCV in a Pipeline, pickle, reproducibility."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_constrained import ConstrainedClassifier, ConstrainedRegressor
from sklearn_constrained.constraints import L1Norm, L2Norm
from sklearn_constrained.methods import GDA, FixedPenalty


def test_constraint_levels_are_nested_params():
    l2 = L2Norm(bound=4.0)
    clf = ConstrainedClassifier(constraints={"l2": l2, "l1": L1Norm(bound=9.0)}, method="gda")
    params = clf.get_params()
    assert params["constraints__l2__bound"] == 4.0
    assert params["constraints__l1__bound"] == 9.0
    assert params["constraints__l2"] is l2
    assert params["method__dual_lr"] == GDA().dual_lr
    clf.set_params(constraints__l2__bound=2.0, method__dual_lr=0.5)
    assert clf.get_params()["constraints__l2__bound"] == 2.0
    assert clf.get_params()["method__dual_lr"] == 0.5
    assert isinstance(clf.method, GDA)
    # the user's objects are not mutated
    assert l2.bound == 4.0


def test_clone_copies_constraints_and_method():
    m = FixedPenalty(penalty=0.1)
    clf = ConstrainedClassifier(constraints={"l2": L2Norm(bound=4.0)}, method=m)
    c2 = clone(clf)
    assert c2.constraints["l2"] is not clf.constraints["l2"]
    assert c2.get_params()["constraints__l2__bound"] == 4.0
    assert c2.method is not m and c2.method.penalty == 0.1
    c2.set_params(constraints__l2__bound=1.0, method__penalty=3.0)
    assert clf.constraints["l2"].bound == 4.0 and m.penalty == 0.1


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"constraints__nope__bound": 1.0}, "no constraint named 'nope'"),
        ({"constraints__l2__bond": 1.0}, "constraints__l2__bond"),
        ({"method__dual_learning_rate": 1.0}, "method__dual_learning_rate"),
    ],
)
def test_set_params_rejects_unknown_nested_keys(bad, match):
    clf = ConstrainedClassifier(constraints={"l2": L2Norm(bound=4.0)})
    with pytest.raises(ValueError, match=match):
        clf.set_params(**bad)


def test_grid_search_over_level_in_pipeline(digits):
    Xtr, Xte, ytr, yte = digits
    pipe = make_pipeline(
        StandardScaler(),
        # GDA (the former default): the tolerances below were measured with it
        ConstrainedClassifier(
            constraints={"l2": L2Norm(bound=1.0)}, method="gda", max_epochs=8, random_state=0
        ),
    )
    bounds = [5.0, 40.0]
    search = GridSearchCV(pipe, {"constrainedclassifier__constraints__l2__bound": bounds}, cv=2)
    search.fit(Xtr, ytr)
    assert search.best_params_["constrainedclassifier__constraints__l2__bound"] in bounds
    # each level was really applied: the refit model respects the chosen level
    best = search.best_estimator_[-1]
    chosen = search.best_params_["constrainedclassifier__constraints__l2__bound"]
    assert best.constraints["l2"].bound == chosen
    assert best.evaluate_constraints(Xte)["l2"] <= 1.01 * chosen
    # a looser level fits the data at least as well
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] >= scores[0] - 0.02
    assert search.score(Xte, yte) > 0.85


def test_pickle_round_trip_identical_predictions(digits):
    Xtr, Xte, ytr, yte = digits
    clf = ConstrainedClassifier(
        constraints={"l2": L2Norm(bound=30.0)}, max_epochs=3, random_state=0
    ).fit(Xtr, ytr)
    clone_ = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf.predict_proba(Xte), clone_.predict_proba(Xte))
    assert clone_.evaluate_constraints(Xte) == clf.evaluate_constraints(Xte)
    assert clone_.multipliers_["l2"] == pytest.approx(clf.multipliers_["l2"])


def test_string_labels_and_float64_input(digits):
    Xtr, Xte, ytr, yte = digits
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
    clf = ConstrainedClassifier(max_epochs=10, random_state=0).fit(
        Xtr.astype(np.float64), names[ytr]
    )
    assert set(clf.classes_) == set(names)
    pred = clf.predict(Xte)
    assert pred.dtype == names.dtype and set(pred) <= set(names)
    assert np.mean(pred == names[yte]) > 0.9
    assert next(clf.module_.parameters()).dtype.is_floating_point


def test_regressor_learns_linear_function_in_original_units(rng):
    X = rng.randn(300, 4)
    y = 100 + X @ np.array([10.0, -20.0, 5.0, 0.0])
    reg = ConstrainedRegressor(module=None, max_epochs=60, random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.98
    assert abs(reg.predict(X).mean() - y.mean()) < 2.0


def test_history_and_verbose_output(digits, capsys):
    Xtr, Xte, ytr, yte = digits
    clf = ConstrainedClassifier(
        constraints={"l2": L2Norm(bound=20.0)}, max_epochs=2, verbose=1, random_state=0
    ).fit(Xtr, ytr)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "epoch    2" in text and "l2" in text and "mult" in text
    rec = clf.history_[-1]
    assert rec["epoch"] == 2 and rec["constraints"]["l2"] > 0 and rec["multipliers"]["l2"] >= 0
