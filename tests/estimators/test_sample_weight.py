"""Sample weights (issue 17, item 3): a weighted objective and weighted constraints."""

import warnings

import numpy as np
import pytest

from sklearn_constrained import ConstrainedClassifier, ConstrainedRegressor
from sklearn_constrained.constraints import BoundedGroupLoss, DemographicParity, PredictionRate


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = (X[:, 0] + 0.5 * rng.randn(60) > 0).astype(int)
    groups = np.where(X[:, 1] > 0, "a", "b")
    weights = rng.randint(0, 4, size=60)
    return X, y, groups, weights


def _fit(est, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args, **kw)


@pytest.mark.parametrize(
    "constraints",
    [None, {"dp": DemographicParity(0.1)}, {"rate": PredictionRate(1, upper=0.4)}],
    ids=["none", "dp", "rate"],
)
def test_item_3_integer_weights_equal_repeated_rows(data, constraints):
    """Full batch: weight k trains like k copies of the row, to float32 rounding."""
    X, y, groups, w = data
    kw = dict(constraints=constraints, method="gda", batch_size=-1, max_epochs=40,
              random_state=0, module__hidden_layer_sizes=(8,))
    weighted = _fit(ConstrainedClassifier(**kw), X, y, sensitive_features=groups,
                    sample_weight=w)
    rep = np.repeat(np.arange(len(X)), w)
    repeated = _fit(ConstrainedClassifier(**kw), X[rep], y[rep], sensitive_features=groups[rep])
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-4,
                               atol=1e-5)
    if constraints:
        name = next(iter(constraints))
        np.testing.assert_allclose(weighted.multipliers_[name], repeated.multipliers_[name],
                                   rtol=1e-3, atol=1e-5)


def test_item_3_weighted_constraint_values_are_weighted_rates(data):
    X, y, groups, w = data
    clf = _fit(ConstrainedClassifier(constraints={"rate": PredictionRate(1, upper=1.0)},
                                     method="gda", max_epochs=3, random_state=0), X, y,
               sample_weight=w)
    pred = clf.predict(X)
    # the fitted values are weighted rates on the training data
    assert clf.constraint_values_["rate"] == pytest.approx(np.average(pred == 1, weights=w),
                                                           abs=1e-6)


def test_item_3_zero_weights_drop_rows(data):
    X, y, groups, w = data
    w = (w > 0).astype(float)
    kw = dict(method="fp", batch_size=-1, max_epochs=20, random_state=0)
    dropped = _fit(ConstrainedRegressor(**kw, standardize_target=False), X[w > 0],
                   X[w > 0, 0])
    weighted = _fit(ConstrainedRegressor(**kw, standardize_target=False), X, X[:, 0],
                    sample_weight=w)
    # the same optimisation problem, from the same initial weights
    np.testing.assert_allclose(weighted.predict(X), dropped.predict(X), rtol=1e-4, atol=1e-5)


def test_item_3_bounded_group_loss_is_weighted(data):
    X, _, groups, w = data
    y = X @ [1.0, -1.0, 0.5]
    reg = _fit(ConstrainedRegressor(constraints={"bgl": BoundedGroupLoss(100.0)}, method="gda",
                                    max_epochs=3, random_state=0),
               X, y, sensitive_features=groups, sample_weight=w)
    err = (reg.predict(X) - y) ** 2
    expected = max(np.average(err[groups == g], weights=w[groups == g]) for g in ("a", "b"))
    assert reg.constraint_values_["bgl"] == pytest.approx(expected, rel=1e-5)


def test_item_3_sample_weight_is_validated(data):
    X, y, _, _ = data
    with pytest.raises(ValueError, match="sample_weight"):
        ConstrainedClassifier(max_epochs=1).fit(X, y, sample_weight=np.ones(3))
