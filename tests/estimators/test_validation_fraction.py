"""validation_fraction and margin (issue 14, items 1, 3 and 4)."""

import warnings

import numpy as np
import pytest

from sklearn_constrained import ConstrainedClassifier
from sklearn_constrained.constraints import (
    DemographicParity,
    EqualizedOdds,
    FalsePositiveRate,
    L2Norm,
    PredictionRate,
    TruePositiveRate,
)


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


def _labelled(n=2000, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 4)
    y = (X[:, 0] + 0.5 * rng.randn(n) > 0).astype(int)
    return X, y, np.where(X[:, 1] > 0, "a", "b")


@pytest.mark.parametrize(
    ("constraint", "margin", "dual_split", "expected"),
    [
        # a rate of the negatives is optimistic on the rows the weights fit
        (FalsePositiveRate(upper=0.2), "auto", "auto", 0.3),
        (TruePositiveRate(lower=0.8), "auto", "auto", 0.3),
        # ... but a dual part of fewer than 2,000 rows costs more than it removes
        ((FalsePositiveRate(upper=0.2), 1999), "auto", "auto", None),
        # no margin asked for: no dual part
        (FalsePositiveRate(upper=0.2), None, "auto", None),
        (FalsePositiveRate(upper=0.2), 0.01, "auto", None),
        # a gap between groups and a rate of the predictions alone: none
        (DemographicParity(0.1), "auto", "auto", None),
        (EqualizedOdds(0.2), "auto", "auto", None),
        (PredictionRate(1, upper=0.4), "auto", "auto", None),
        # explicit settings as given
        (FalsePositiveRate(upper=0.2), "auto", None, None),
        (DemographicParity(0.1), None, 0.2, 0.2),
        # no data-dependent constraint: nothing to hold out for
        (L2Norm(30), "auto", 0.2, None),
    ],
)
def test_item_5_dual_split_auto_holds_out_rows_where_the_training_value_is_biased(
    constraint, margin, dual_split, expected
):
    constraint, n = constraint if isinstance(constraint, tuple) else (constraint, 2000)
    X, y, s = _labelled(n)
    clf = ConstrainedClassifier(constraints={"c": constraint}, method="gda", max_epochs=1,
                                batch_size=256, random_state=0, margin=margin,
                                dual_split=dual_split)
    _fit(clf, X, y, sensitive_features=s)
    assert clf.dual_split_ == expected
    assert clf.get_params()["dual_split"] == dual_split  # the parameter is not changed
    # the returned epoch is judged on the dual part when there is one
    selection = clf.history_[-1].get("selection")
    if constraint.requires_data:
        assert selection["data"] == ("training" if expected is None else "dual")
    else:
        assert selection is None


def test_item_5_dual_split_auto_warns_and_holds_out_nothing_for_a_tiny_group():
    X, y, s = _labelled()
    s = s.astype(object)
    s[:1] = "tiny"
    clf = ConstrainedClassifier(constraints={"fpr": FalsePositiveRate(upper=0.2)}, method="gda",
                                max_epochs=1, random_state=0, margin="auto")
    with pytest.warns(UserWarning, match=r"dual_split='auto' holds out no dual part: the "
                                         r"sensitive group 'tiny' has 1 sample"):
        clf.fit(X, y, sensitive_features=s)
    assert clf.dual_split_ is None
    # an explicit fraction still raises, naming the parameter
    with pytest.raises(ValueError, match=r"`dual_split`=0.3: the sensitive group 'tiny'"):
        _fit(clf.set_params(dual_split=0.3), X, y, sensitive_features=s)
