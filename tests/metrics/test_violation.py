"""The constraint-violation metrics (eqs. 17-18 of the SAL paper)."""

import warnings

import numpy as np
import pytest

import sklearn_constrained as sc
from sklearn_constrained.constraints import PredictionRate
from sklearn_constrained.methods import GDA
from sklearn_constrained.metrics import constraint_violation, constraint_violation_ratio


def blobs(seed=0, n=100, sep=1.0, scale=0.3):
    rng = np.random.RandomState(seed)
    X = np.vstack(
        [rng.normal((-sep, 0.0), scale, size=(n, 2)), rng.normal((sep, 0.0), scale, size=(n, 2))]
    )
    return X, np.repeat([0, 1], n)


def fit_quietly(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args, **kwargs)


def test_constraint_violation_norms():
    v = {"a": 3.0, "b": [0.0, 4.0], "c": np.array([[0.0]])}
    assert constraint_violation(v) == pytest.approx(5.0)
    assert constraint_violation(v, p=1) == pytest.approx(7.0)
    assert constraint_violation(v, p=np.inf) == pytest.approx(4.0)
    assert constraint_violation({"a": -2.0}, p=3) == pytest.approx(2.0)
    assert constraint_violation({}) == 0.0
    with pytest.raises(ValueError, match="`p`"):
        constraint_violation(v, p=0.5)


def test_constraint_violation_ratio_from_history():
    X, y = blobs()
    clf = sc.ConstrainedClassifier(
        module=sc.models.Linear,
        constraints={"rate": PredictionRate(label=0, lower=0.7)},
        method=GDA(dual_lr=0.5),
        optimizer="sgd",
        lr=0.5,
        batch_size=-1,
        max_epochs=300,
        random_state=0,
    )
    fit_quietly(clf, X, y)
    first = clf.history_[0]
    cv0 = constraint_violation(first["initial_violations"])
    assert 0.0 <= cv0 <= 0.7
    last = clf.history_[-1]["violations"]["rate"]
    assert constraint_violation_ratio(clf) == pytest.approx(
        (0.0 if cv0 == 0 else constraint_violation({"rate": last}) / cv0) if cv0 else 0.0
    )
    assert constraint_violation_ratio(clf, epoch=0) == pytest.approx(
        constraint_violation(first["violations"]) / cv0
    )
    with pytest.raises(ValueError, match="out of range"):
        constraint_violation_ratio(clf, epoch=10_000)
    with pytest.raises(ValueError, match="fit"):
        constraint_violation_ratio(sc.ConstrainedClassifier())


def test_constraint_violation_ratio_is_exact_for_long_violation_vectors():
    # Orthogonality has one violation per Gram entry (more than the 16 that
    # history_ lists): the history keeps their exact 1- and 2-norms beside
    # the largest entry, and the ratio uses them for p = 1, 2
    from sklearn.datasets import load_digits

    from sklearn_constrained.constraints import L2Norm, Orthogonality

    X, y = load_digits(return_X_y=True)
    X = (X[:400] / 16.0).astype(np.float32)
    constraints = {
        "o": Orthogonality(params="features.*"),
        "l2": L2Norm(bound=5.0, params="classifier.*"),
    }
    clf = sc.ConstrainedClassifier(
        module=sc.models.CNN,
        constraints=constraints,
        method=GDA(dual_lr=0.05),
        max_epochs=2,
        random_state=0,
        tol=1e9,
    )
    fit_quietly(clf, X, y[:400])
    # the returned model is the last iterate (tol=1e9): its full violation vectors
    full = {
        n: c.bind(clf.module_, n).evaluate().strict_violation.detach().double()
        for n, c in constraints.items()
    }
    full = {"o": full["o"].abs().numpy(), "l2": np.maximum(full["l2"].numpy(), 0.0)}
    last = clf.history_[-1]
    assert full["o"].size > 16 and set(last["violation_norms"]) == {"o"}
    assert last["violations"]["o"] == pytest.approx(full["o"].max(), rel=1e-5)
    assert last["violation_norms"]["o"]["2"] == pytest.approx(
        np.sqrt((full["o"] ** 2).sum()), rel=1e-5
    )
    assert last["violation_norms"]["o"]["1"] == pytest.approx(full["o"].sum(), rel=1e-5)
    init = clf.history_[0]["initial_violation_norms"]["o"]
    cv0 = np.hypot(init["2"], clf.history_[0]["initial_violations"]["l2"])
    expected = np.hypot(np.sqrt((full["o"] ** 2).sum()), float(np.ravel(full["l2"]).max())) / cv0
    assert constraint_violation_ratio(clf, p=2) == pytest.approx(expected, rel=1e-4)
    assert constraint_violation_ratio(clf, p=np.inf) == pytest.approx(
        max(full["o"].max(), float(np.ravel(full["l2"]).max()))
        / max(
            clf.history_[0]["initial_violations"]["o"], clf.history_[0]["initial_violations"]["l2"]
        ),
        rel=1e-4,
    )
