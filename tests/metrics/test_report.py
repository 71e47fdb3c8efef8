"""The constraint report (issue 14, item 2; issue 17, item 6: one call on a Pipeline and raw X)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_constrained import ConstrainedClassifier, ConstrainedRegressor
from sklearn_constrained.constraints import (
    BoundedGroupLoss,
    DemographicParity,
    EqualizedOdds,
    L2Norm,
    PredictionRate,
)
from sklearn_constrained.metrics import constraint_report


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.RandomState(0)
    X = rng.randn(600, 4) * [1, 1, 5, 0.1] + [0, 0, 10, 0]
    y = (X[:, 0] + 0.5 * rng.randn(600) > 0).astype(int)
    s = np.where(X[:, 1] > 0.3, "a", np.where(X[:, 1] < -0.8, "c", "b"))
    pipe = make_pipeline(StandardScaler(), ConstrainedClassifier(
        constraints={"dp": DemographicParity(0.15), "eo": EqualizedOdds(0.2),
                     "rate": PredictionRate(1, lower=0.3, upper=0.7), "l2": L2Norm(40.0)},
        method="gda", max_epochs=10, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(X, y, constrainedclassifier__sensitive_features=s)
    return pipe, X, y, s


def test_report_on_a_pipeline_and_raw_X_item_6(fitted):
    pipe, X, y, s = fitted
    report = constraint_report(pipe, X, y, s)
    assert isinstance(report, pd.DataFrame)
    assert list(report.index) == ["dp", "eo", "rate", "l2"]
    clf = pipe[-1]
    values = clf.evaluate_constraints(pipe[:-1].transform(X), y, s)
    np.testing.assert_allclose(report["value"].to_numpy(dtype=float),
                               [values[n] for n in report.index])
    assert report.loc["dp", "level"] == "bound=0.15"
    assert report.loc["l2", "ci_low"] == report.loc["l2", "ci_high"] == report.loc["l2", "value"]


def test_report_rates_and_gaps_match_hand_computed_counts(fitted):
    pipe, X, y, s = fitted
    report = constraint_report(pipe, X, y, s)
    pred = pipe.predict(X)
    rates = {g: float(np.mean(pred[s == g] == 1)) for g in ("a", "b", "c")}
    assert report.loc["dp", "group_rates"] == pytest.approx(rates)
    assert report.loc["dp", "value"] == pytest.approx(max(rates.values()) - min(rates.values()))
    tpr = {g: float(np.mean(pred[(s == g) & (y == 1)] == 1)) for g in ("a", "b", "c")}
    assert {g: r["tpr"] for g, r in report.loc["eo", "group_rates"].items()} == pytest.approx(tpr)
    share = float(np.mean(pred == 1))
    assert report.loc["rate", "value"] == pytest.approx(share)
    assert report.loc["rate", "slack"] == pytest.approx(min(share - 0.3, 0.7 - share))
    for name in ("dp", "eo", "rate"):
        low, value, high = (report.loc[name, k] for k in ("ci_low", "value", "ci_high"))
        assert low <= value <= high
    assert report.loc["rate", "feasible"] == (0.3 <= share <= 0.7)


def test_report_interval_shrinks_with_confidence(fitted):
    pipe, X, y, s = fitted
    wide = constraint_report(pipe, X, y, s, confidence=0.99)
    narrow = constraint_report(pipe, X, y, s, confidence=0.8)
    for name in ("dp", "rate"):
        assert wide.loc[name, "ci_high"] - wide.loc[name, "ci_low"] > (
            narrow.loc[name, "ci_high"] - narrow.loc[name, "ci_low"])


def test_report_group_loss_of_a_regressor():
    rng = np.random.RandomState(1)
    X = rng.randn(300, 2)
    y = X @ [2.0, -1.0] + rng.randn(300)
    s = np.where(X[:, 0] > 0, "p", "q")
    reg = ConstrainedRegressor(constraints={"bgl": BoundedGroupLoss(5.0)}, method="gda",
                               max_epochs=5, random_state=0).fit(X, y, sensitive_features=s)
    report = constraint_report(reg, X, y, s)
    err = (reg.predict(X) - y) ** 2
    means = {g: float(err[s == g].mean()) for g in ("p", "q")}
    assert report.loc["bgl", "group_rates"] == pytest.approx(means, rel=1e-5)
    assert report.loc["bgl", "ci_low"] <= max(means.values()) <= report.loc["bgl", "ci_high"]
