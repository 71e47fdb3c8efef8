"""best_feasible: refit from a search only what the levels allow (issue 17, items 1 and 5)."""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.model_selection import GridSearchCV

from sklearn_constrained import ConstrainedClassifier
from sklearn_constrained.constraints import DemographicParity, L2Norm
from sklearn_constrained.metrics import make_constraint_scorer
from sklearn_constrained.model_selection import best_feasible


def test_item_1_a_scorer_that_failed_on_every_fold_is_an_error():
    refit = best_feasible("accuracy", ["dpp"])
    results = {"mean_test_accuracy": [0.8, 0.9], "mean_test_dpp": [np.nan, np.nan]}
    with pytest.raises(ValueError, match=r"\['dpp'\] returned NaN for every candidate") as err:
        refit(results)
    message = str(err.value)
    assert "enable_metadata_routing" in message and "error_score='raise'" in message


def test_item_1_a_search_without_routing_raises_instead_of_refitting():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 3)
    y = (X[:, 0] > 0).astype(int)
    s = np.where(X[:, 1] > 0, "a", "b")
    clf = ConstrainedClassifier(constraints={"dp": DemographicParity(0.1)}, method="gda",
                                max_epochs=1, random_state=0)
    search = GridSearchCV(
        clf, {"constraints__dp__bound": [0.05, 0.2]}, cv=2,
        scoring={"accuracy": "accuracy", "dp": make_constraint_scorer("dp")},
        refit=best_feasible("accuracy", "dp"))
    with sklearn.config_context(enable_metadata_routing=False), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="returned NaN for every candidate"):
            # the scorer gets no sensitive_features without routing: it fails on every fold
            search.fit(X, y, sensitive_features=s)


def test_item_5_tolerance_is_relative_to_the_level_as_in_the_estimators():
    rng = np.random.RandomState(0)
    X = rng.randn(100, 3)
    y = (X[:, 0] > 0).astype(int)
    scorer = make_constraint_scorer("l2")
    values = {}
    for bound in (1.0, 15.0):
        clf = ConstrainedClassifier(constraints={"l2": L2Norm(bound)}, method="fp", max_epochs=1,
                                    random_state=0).fit(X, y)
        value = clf.evaluate_constraints(X)["l2"]
        assert value > bound  # the weights start far above both levels with a fixed penalty
        values[bound] = (scorer(clf, X, y), value)
    for bound, (score, value) in values.items():
        # the scorer reports the violation relative to max(1, |level|), the estimators' rule
        assert score == pytest.approx(-(value - bound) / max(1.0, bound))
    # so the same relative excess counts the same at any level
    refit = best_feasible("accuracy", ["l2"], tol=0.01, fallback="raise")
    ok = {"mean_test_accuracy": [0.5, 0.6], "mean_test_l2": [-0.009, -0.009]}
    assert refit(ok) == 1
