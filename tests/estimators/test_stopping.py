"""Fits that stop when they are done: ``n_iter_no_change`` (scikit-learn's rule)."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import sklearn_constrained as sc
from sklearn_constrained.constraints import L2Norm
from sklearn_constrained.methods import GDA


def _fit(clf, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clf.fit(X, y)


@pytest.fixture(scope="module")
def data():
    X, y = make_blobs(n_samples=300, centers=[[-1.5, 0.0], [1.5, 0.0]], cluster_std=0.8,
                      random_state=0)
    return X, y


def _objective(row):
    sel = row.get("selection")
    return sel["objective"] if sel is not None else row["objective"]


def _feasible(row, bound=None):
    sel = row.get("selection")
    if sel is not None:
        return bool(sel["feasible"])
    # a weight constraint: its value against the level, within the estimator's tol
    return bound is None or row["constraints"]["l2"] - bound <= 1e-3 * max(1.0, bound)


def _assert_the_rule_held(clf, n=10, tol=1e-4, bound=None):
    """The last ``n`` epochs did not improve the best feasible objective; the one before did."""
    hist = clf.history_
    objs = [_objective(r) for r in hist]
    feas = [_feasible(r, bound) for r in hist]
    best, stale, improved_at = np.inf, 0, []
    for i, (f, ok) in enumerate(zip(objs, feas, strict=True)):
        scale = max(1.0, abs(best)) if np.isfinite(best) else 1.0
        if ok and f < best - tol * scale:
            best, stale = f, 0
            improved_at.append(i)
        else:
            stale += 1
    assert stale == n and feas[-1]
    assert improved_at and improved_at[-1] == len(hist) - 1 - n


def test_the_default_stops_when_the_objective_stalls(data):
    X, y = data
    clf = _fit(sc.ConstrainedClassifier(module=sc.models.Linear, max_epochs=300, lr=0.05,
                                        random_state=0, n_iter_no_change=10), X, y)
    assert clf.n_iter_ < 300 and clf.n_iter_ == len(clf.history_)
    assert "objective_tol=0.0001" in clf.history_[-1]["stopped"]
    _assert_the_rule_held(clf)
    # None (the default) runs every epoch, and nothing says the fit stopped
    every = _fit(sc.ConstrainedClassifier(module=sc.models.Linear, max_epochs=40, lr=0.05,
                                          random_state=0), X, y)
    assert every.get_params()["n_iter_no_change"] is None
    assert every.n_iter_ == 40 and "stopped" not in every.history_[-1]


def test_only_feasible_epochs_improve_and_the_stop_is_feasible(data):
    X, y = data
    # the unconstrained weights grow past the level: the objective of the first, infeasible
    # epochs is the lowest of the fit, and must not make every later epoch look stale
    clf = _fit(sc.ConstrainedClassifier(module=sc.models.Linear, max_epochs=300, lr=0.05,
                                        constraints={"l2": L2Norm(bound=0.5)},
                                        method=GDA(dual_lr=0.05), random_state=0,
                                        n_iter_no_change=10), X, y)
    objs = [_objective(r) for r in clf.history_]
    feas = [_feasible(r, 0.5) for r in clf.history_]
    assert not all(feas) and min(objs) < min(o for o, ok in zip(objs, feas, strict=True) if ok)
    assert clf.n_iter_ < 300 and clf.feasible_
    _assert_the_rule_held(clf, bound=0.5)
    # the returned epoch is among those the rule judged: the best feasible one or a later tie
    assert clf.n_iter_ - 10 <= clf.best_epoch_ <= clf.n_iter_


def test_a_warm_start_counts_afresh(data):
    X, y = data
    clf = _fit(sc.ConstrainedClassifier(module=sc.models.Linear, max_epochs=300, lr=0.05,
                                        random_state=0, n_iter_no_change=10), X, y)
    first = clf.n_iter_
    clf.set_params(warm_start=True, max_epochs=300)
    _fit(clf, X, y)
    # the resumed fit runs at least n_iter_no_change + 1 epochs of its own
    assert clf.n_iter_ >= first + 11
    assert "stopped" in clf.history_[-1]


# -- early_stopping: HistGradientBoosting's "auto" ------------------------------------
def _big(n, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 3)
    return X, (X[:, 0] + 0.3 * rng.randn(n) > 0).astype(int), rng.randint(0, 2, n)


def test_early_stopping_auto_turns_on_above_10000_rows():
    X, y, s = _big(10_001)
    kw = dict(module=sc.models.Linear, max_epochs=200, batch_size=-1, lr=0.1, random_state=0)
    clf = _fit(sc.ConstrainedClassifier(**kw), X, y)
    # a validation part of 0.1 (stratified), the rule on it with patience 10
    assert clf.early_stopping_ is True
    assert clf.n_iter_ < 200 and "stopped" in clf.history_[-1]
    assert all("valid_objective" in r for r in clf.history_)
    _assert_the_rule_held(clf)
    assert "on the validation part" in clf.selection_reason_
    assert clf.get_params()["validation_fraction"] is None  # the parameters stay as given
    assert clf.get_params()["n_iter_no_change"] is None
    # 10,000 rows or fewer: every epoch on all the rows, as before
    small = _fit(sc.ConstrainedClassifier(**{**kw, "max_epochs": 30}), X[:10_000], y[:10_000])
    assert small.early_stopping_ is False and small.n_iter_ == 30
    assert "valid_objective" not in small.history_[-1]
    # False: exactly the parameters given, even on big data
    off = _fit(sc.ConstrainedClassifier(**{**kw, "max_epochs": 30}, early_stopping=False), X, y)
    assert off.early_stopping_ is False and off.n_iter_ == 30


def test_early_stopping_true_uses_the_given_fraction_and_patience(data):
    X, y = data
    clf = _fit(sc.ConstrainedClassifier(module=sc.models.Linear, max_epochs=300, lr=0.05,
                                        random_state=0, early_stopping=True,
                                        validation_fraction=0.2, n_iter_no_change=5), X, y)
    assert clf.early_stopping_ is True and clf.n_iter_ < 300
    assert all("valid_objective" in r for r in clf.history_)
    _assert_the_rule_held(clf, n=5)


def test_early_stopping_auto_leaves_groups_too_small_to_split_alone():
    # a group of 4 rows cannot give one to a validation part of 0.1: "auto" stays
    # off rather than raise (True raises, naming the group)
    X, y, s = _big(10_004)
    s = s.astype(object)
    s[:4] = "tiny"
    from sklearn_constrained.constraints import DemographicParity

    kw = dict(module=sc.models.Linear, constraints={"dp": DemographicParity(0.2)},
              max_epochs=2, batch_size=1024, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = sc.ConstrainedClassifier(**kw).fit(X, y, sensitive_features=s)
    assert clf.early_stopping_ is False
    with pytest.raises(ValueError, match="sensitive group 'tiny' has 4 sample"):
        sc.ConstrainedClassifier(**kw, early_stopping=True).fit(X, y, sensitive_features=s)


def test_early_stopping_is_validated(data):
    X, y = data
    with pytest.raises(ValueError, match="early_stopping"):
        sc.ConstrainedClassifier(early_stopping="yes").fit(X, y)
