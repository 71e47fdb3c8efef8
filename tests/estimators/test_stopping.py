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
