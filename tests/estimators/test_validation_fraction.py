"""validation_fraction and margin (issue 14, items 1, 3 and 4)."""

import warnings

import numpy as np
import pytest

from sklearn_constrained import ConstrainedClassifier
from sklearn_constrained.constraints import DemographicParity, L2Norm, PredictionRate


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(500, 4)
    y = (X[:, 0] + 0.5 * rng.randn(500) > 0).astype(int)
    s = np.where(X[:, 1] > 0, "a", "b")
    return X, y, s


def _fit(est, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args, **kw)


def test_item_1_validation_values_are_recorded_every_epoch(data):
    X, y, s = data
    clf = _fit(ConstrainedClassifier(constraints={"dp": DemographicParity(0.1), "l2": L2Norm(30)},
                                     method="gda", max_epochs=4, random_state=0,
                                     validation_fraction=0.2), X, y, sensitive_features=s)
    assert len(clf.history_) == 4
    for record in clf.history_:
        assert set(record["valid_constraints"]) == {"dp", "l2"}
        assert np.isfinite(record["valid_objective"])
        assert record["selection"]["data"] == "validation"
    assert set(clf.validation_constraint_values_) == {"dp", "l2"}
    # the training values are on the training part only, the validation ones on the rest
    assert clf.constraint_values_["l2"] == pytest.approx(clf.validation_constraint_values_["l2"])
    assert clf.history_[clf.best_epoch_ - 1].get("selected") is True


def test_item_1_split_is_stratified_by_group_and_class(data):
    X, y, s = data
    clf = _fit(ConstrainedClassifier(constraints={"dp": DemographicParity(0.1)}, method="gda",
                                     max_epochs=1, random_state=0, validation_fraction=0.2),
               X, y, sensitive_features=s)
    # validation values differ from training ones: the parts are disjoint
    assert clf.validation_constraint_values_["dp"] != clf.constraint_values_["dp"]


def test_item_1_a_group_too_small_for_the_split_is_named(data):
    X, y, s = data
    s = s.astype(object)
    s[0] = "tiny"
    clf = ConstrainedClassifier(constraints={"dp": DemographicParity(0.1)}, max_epochs=1,
                                validation_fraction=0.2)
    with pytest.raises(ValueError, match=r"group 'tiny' has 1 sample\(s\)"):
        clf.fit(X, y, sensitive_features=s)


def test_item_3_margin_tightens_the_training_level_and_is_recorded(data):
    X, y, s = data
    kw = dict(constraints={"rate": PredictionRate(1, upper=0.4)}, method="gda", max_epochs=3,
              random_state=0)
    plain = _fit(ConstrainedClassifier(**kw), X, y)
    auto = _fit(ConstrainedClassifier(**kw, margin="auto"), X, y)
    fixed = _fit(ConstrainedClassifier(**kw, margin=0.05), X, y)
    assert "margins" not in plain.history_[-1]
    assert fixed.history_[-1]["margins"]["rate"] == pytest.approx([0.05])
    m = auto.history_[-1]["margins"]["rate"][0]
    assert 0.0 < m < 0.2
    # the user's level is kept everywhere
    assert auto.constraints_["rate"].upper == 0.4


def test_item_3_auto_margin_shrinks_with_the_data_size():
    rng = np.random.RandomState(0)
    margins = []
    for n in (200, 800, 3200):
        X = rng.randn(n, 2)
        y = (X[:, 0] > 0).astype(int)
        clf = _fit(ConstrainedClassifier(constraints={"rate": PredictionRate(1, upper=0.4)},
                                         method="gda", max_epochs=1, random_state=0,
                                         margin="auto"), X, y)
        margins.append(clf.history_[-1]["margins"]["rate"][0])
    assert margins[0] > margins[1] > margins[2] > 0


def test_item_4_an_unreachable_level_does_not_return_the_untrained_model():
    """The infeasible-budget case of the issue: breast cancer, a prediction rate <= 0.5."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    # a dual step far too small to reach the level in the budget: never feasible
    from sklearn_constrained.methods import GDA

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = ConstrainedClassifier(constraints={"rate": PredictionRate(1, upper=0.3)},
                                    method=GDA(dual_lr=1e-5), max_epochs=15,
                                    random_state=0).fit(Xtr, ytr)
    free = ConstrainedClassifier(max_epochs=15, random_state=0, method="gda").fit(Xtr, ytr)
    assert not clf.feasible_ and clf.best_epoch_ >= 1
    assert clf.score(Xte, yte) >= free.score(Xte, yte) - 0.05
    text = " ".join(str(w.message) for w in caught)
    assert f"epoch {clf.best_epoch_}" in text and "upper=0.3" in text


def test_item_3_a_margin_that_leaves_no_room_warns():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = (X[:, 0] > 0).astype(int)
    s = np.where(np.arange(60) < 6, "small", "large")  # a group of 6: a large sampling error
    clf = ConstrainedClassifier(constraints={"dp": DemographicParity(0.05)}, method="gda",
                                max_epochs=2, random_state=0, margin="auto")
    with pytest.warns(UserWarning, match=r"margin: the sampling-error margin of 'dp'"):
        clf.fit(X, y, sensitive_features=s)


def test_item_3_with_dual_split_the_margin_is_sized_by_the_dual_part(data):
    X, y, s = data
    kw = dict(constraints={"rate": PredictionRate(1, upper=0.4)}, method="gda", max_epochs=1,
              random_state=0, margin="auto")
    plain = _fit(ConstrainedClassifier(**kw), X, y)
    split = _fit(ConstrainedClassifier(**kw, dual_split=0.3), X, y)
    # the estimates come from 30% of the rows: a larger sampling error, a larger margin
    assert split.history_[0]["margins"]["rate"][0] > plain.history_[0]["margins"]["rate"][0]
