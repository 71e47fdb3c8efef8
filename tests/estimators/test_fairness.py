"""Fairness constraints on German credit, and what surrounds them.

Metadata routing, scorers and best_feasible, errors, held-out dual
estimates and batches missing a group.
"""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sklearn_constrained as sc
from sklearn_constrained.constraints import (
    BoundedGroupLoss,
    DemographicParity,
    EqualizedOdds,
    ErrorRateParity,
    FalsePositiveRateParity,
    L2Norm,
    TruePositiveRateParity,
)
from sklearn_constrained.datasets import load_german_credit
from sklearn_constrained.methods import GDA
from sklearn_constrained.metrics import make_constraint_scorer
from sklearn_constrained.model_selection import (
    NoFeasibleCandidateWarning,
    best_feasible,
)

#: feasibility tolerance on the training data: the estimator's `tol` (1e-3)
#: plus float32 rounding of the counts
TOL = 2e-3


@pytest.fixture(scope="module")
def german():
    X, y, s = load_german_credit(sensitive="age", return_X_y=True)
    return StandardScaler().fit_transform(X), y, s


# The true group rates, computed independently in numpy from `predict`.
def _gap(values):
    return max(values) - min(values)


def np_rates(pred, y, s):
    groups = np.unique(s)
    sel = [np.mean(pred[s == g] == 1) for g in groups]
    tpr = [np.mean(pred[(s == g) & (y == 1)] == 1) for g in groups]
    fpr = [np.mean(pred[(s == g) & (y == 0)] == 1) for g in groups]
    err = [np.mean(pred[s == g] != y[s == g]) for g in groups]
    return {
        "dp": _gap(sel),
        "tpr": _gap(tpr),
        "fpr": _gap(fpr),
        "eo": max(_gap(tpr), _gap(fpr)),
        "err": _gap(err),
    }


def np_group_losses(proba, y, s):
    ce = -np.log(proba[np.arange(len(y)), y])
    return {g: ce[s == g].mean() for g in np.unique(s)}


def logreg(**kwargs):
    params = {
        "module": sc.models.Linear,
        "method": GDA(dual_lr=0.1),
        "optimizer": "adam",
        "lr": 0.05,
        "batch_size": -1,
        "max_epochs": 300,
        "random_state": 0,
    }
    params.update(kwargs)
    return sc.ConstrainedClassifier(**params)


def fit_quietly(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args, **kwargs)


# unconstrained logistic regression on German credit (age): DP gap 0.147,
# TPR gap 0.095, FPR gap 0.132, error-rate gap 0.071; the bounds below bind.
@pytest.mark.parametrize(
    "key, constraint",
    [
        ("dp", DemographicParity(bound=0.05)),
        ("eo", EqualizedOdds(bound=0.05)),
        ("tpr", TruePositiveRateParity(bound=0.03)),
        ("fpr", FalsePositiveRateParity(bound=0.05)),
        ("err", ErrorRateParity(bound=0.02)),
    ],
)
def test_fairness_constraint_reaches_its_bound_on_german_credit(german, key, constraint):
    X, y, s = german
    unconstrained = np_rates(fit_quietly(logreg(), X, y).predict(X), y, s)
    assert unconstrained[key] > constraint.bound + 0.02  # the bound binds
    clf = fit_quietly(logreg(constraints={key: constraint}), X, y, sensitive_features=s)
    gaps = np_rates(clf.predict(X), y, s)
    assert gaps[key] <= constraint.bound + TOL
    assert clf.feasible_
    assert clf.evaluate_constraints(X, y, s)[key] == pytest.approx(gaps[key], abs=1e-6)
    # feasible_ and constraint_values_ come from the selection check of the
    # returned iterate: they agree with a fresh evaluation on the same data
    assert clf.constraint_values_[key] == pytest.approx(gaps[key], abs=1e-6)
    assert clf.score(X, y) >= 0.72  # not a trivial classifier (70% positives)
    assert np.all(clf.multipliers_[key] >= 0)


def test_bounded_group_loss_classifier(german):
    X, y, s = german
    base = np_group_losses(fit_quietly(logreg(), X, y).predict_proba(X), y, s)
    assert max(base.values()) > 0.57
    clf = fit_quietly(
        logreg(constraints={"bgl": BoundedGroupLoss(bound=0.55)}, method=GDA(dual_lr=1.0)),
        X,
        y,
        sensitive_features=s,
    )
    losses = np_group_losses(clf.predict_proba(X), y, s)
    assert max(losses.values()) <= 0.55 * (1 + TOL)
    assert clf.evaluate_constraints(X, y, s)["bgl"] == pytest.approx(max(losses.values()), rel=1e-4)
    assert clf.multipliers_["bgl"].shape == (2,)


def test_bounded_group_loss_regressor():
    rng = np.random.RandomState(0)
    X = rng.randn(400, 3)
    s = np.where(rng.rand(400) < 0.25, "minority", "majority")
    noise = np.where(s == "minority", 2.0, 0.5)
    y = 3 * X[:, 0] + 10 + noise * rng.randn(400) + 4.0 * (s == "minority") * X[:, 1] ** 2
    reg = sc.ConstrainedRegressor(
        module=sc.models.Linear, max_epochs=300, batch_size=-1, lr=0.05, random_state=0,
        n_iter_no_change=None,  # full batch: 300 steps, every one of them
    )
    fit_quietly(reg, X, y)
    mse = {g: np.mean((reg.predict(X)[s == g] - y[s == g]) ** 2) for g in ("majority", "minority")}
    bound = 0.8 * mse["minority"]
    assert mse["majority"] < bound
    con = sc.ConstrainedRegressor(
        module=sc.models.Linear,
        max_epochs=300,
        batch_size=-1,
        lr=0.05,
        random_state=0,
        n_iter_no_change=None,
        method=GDA(dual_lr=0.05),
        constraints={"bgl": BoundedGroupLoss(bound=bound)},
    )
    fit_quietly(con, X, y, sensitive_features=s)
    mse_c = {
        g: np.mean((con.predict(X)[s == g] - y[s == g]) ** 2) for g in ("majority", "minority")
    }
    assert max(mse_c.values()) <= bound * (1 + TOL)
    assert con.evaluate_constraints(X, y, s)["bgl"] == pytest.approx(max(mse_c.values()), rel=1e-3)


def test_three_groups_and_multiclass_error_parity():
    rng = np.random.RandomState(1)
    n = 600
    s = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    X = rng.randn(n, 4)
    y = np.argmax(X[:, :3] + 0.5 * rng.randn(n, 3), axis=1)
    noisy = (s == "c") & (rng.rand(n) < 0.45)  # group c has noisy labels
    y[noisy] = rng.randint(0, 3, noisy.sum())
    base = fit_quietly(logreg(), X, y)

    def err_gap(pred):
        return _gap([np.mean(pred[s == g] != y[s == g]) for g in ("a", "b", "c")])

    assert err_gap(base.predict(X)) > 0.15
    clf = fit_quietly(
        logreg(
            constraints={"err": ErrorRateParity(bound=0.05)},
            max_epochs=400,
            method=GDA(dual_lr=1.0),
        ),
        X,
        y,
        sensitive_features=s,
    )
    assert err_gap(clf.predict(X)) <= 0.05 + TOL
    assert clf.multipliers_["err"].shape == (6,)  # one per ordered pair of 3 groups
    with pytest.raises(ValueError, match="pos_label"):
        fit_quietly(
            logreg(constraints={"dp": DemographicParity(bound=0.1)}), X, y, sensitive_features=s
        )
    dp = fit_quietly(
        logreg(constraints={"dp": DemographicParity(bound=0.05, pos_label=2)}),
        X,
        y,
        sensitive_features=s,
    )
    pred = dp.predict(X)
    assert _gap([np.mean(pred[s == g] == 2) for g in ("a", "b", "c")]) <= 0.05 + TOL


def test_batches_missing_a_group():
    # a 4% minority and batches of 16: about half of the batches miss it
    rng = np.random.RandomState(0)
    n = 1000
    s = np.where(rng.rand(n) < 0.04, "rare", "common")
    X = rng.randn(n, 3) + 1.5 * (s == "rare")[:, None]
    y = (X[:, 0] + 0.5 * rng.randn(n) > 0.5).astype(int)
    base = fit_quietly(logreg(batch_size=16, max_epochs=5, lr=0.01), X, y)

    def gap(pred):
        return _gap([np.mean(pred[s == g]) for g in ("common", "rare")])

    assert gap(base.predict(X)) > 0.4
    clf = fit_quietly(
        logreg(
            constraints={"dp": DemographicParity(bound=0.1)},
            batch_size=16,
            max_epochs=15,
            lr=0.01,
            method=GDA(dual_lr=0.05),
        ),
        X,
        y,
        sensitive_features=s,
    )
    assert np.isfinite(clf.multipliers_["dp"]).all()
    assert gap(clf.predict(X)) <= 0.1 + TOL
    assert all(np.isfinite(h["constraints"]["dp"]) for h in clf.history_)


def test_dual_split_holds_out_data_for_the_multipliers(german):
    X, y, s = german
    clf = logreg(
        constraints={"dp": DemographicParity(bound=0.05)},
        dual_split=0.3,
        batch_size=64,
        max_epochs=40,
        lr=0.01,
    )
    fit_quietly(clf, X, y, sensitive_features=s)
    assert clf.get_params()["dual_split"] == 0.3
    # the selection and the multipliers saw the held-out part: the chosen
    # iterate is feasible there, and the model is a real classifier
    assert any(h.get("selected") for h in clf.history_)
    selected = next(h for h in clf.history_ if h.get("selected"))
    assert (
        selected["selection"]["feasible"]
        or selected["selection"]["constraints"]["dp"] <= 0.05 + TOL
    )
    assert clf.score(X, y) > 0.7
    for bad in (0.0, 1.0, -0.2, "half", True):
        with pytest.raises(ValueError, match="dual_split"):
            logreg(constraints={"dp": DemographicParity(bound=0.05)}, dual_split=bad).fit(
                X, y, sensitive_features=s
            )


def test_best_feasible_iterate_is_recorded(german):
    X, y, s = german
    clf = fit_quietly(
        logreg(constraints={"dp": DemographicParity(bound=0.05)}), X, y, sensitive_features=s
    )
    selected = [h for h in clf.history_ if h.get("selected")]
    assert len(selected) == 1 and selected[0]["selection"]["feasible"]
    assert all("selection" in h and "violations" in h for h in clf.history_)
    # weight constraints alone keep the last iterate (no selection)
    plain = fit_quietly(logreg(constraints={"l2": L2Norm(bound=1.0)}, max_epochs=20), X, y)
    assert not any("selection" in h for h in plain.history_)


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------
def test_group_errors(german):
    X, y, s = german
    clf = logreg(constraints={"dp": DemographicParity(bound=0.05)}, max_epochs=2)
    with pytest.raises(ValueError, match="sensitive_features"):
        clf.fit(X, y)
    with pytest.raises(ValueError, match="one entry .* per sample"):
        clf.fit(X, y, sensitive_features=s[:-5])
    with pytest.raises(ValueError, match="single group"):
        clf.fit(X, y, sensitive_features=np.full(len(y), "all"))
    fit_quietly(clf, X, y, sensitive_features=s)
    with pytest.raises(ValueError, match="sensitive_features"):
        clf.evaluate_constraints(X)
    with pytest.raises(ValueError, match="unseen"):
        clf.evaluate_constraints(X, sensitive_features=np.full(len(y), "elderly"))
    with pytest.raises(ValueError, match="sensitive_features"):
        make_constraint_scorer("dp")(clf, X, y)
    with pytest.raises(ValueError, match="no constraint named 'eo'"):
        make_constraint_scorer("eo")(clf, X, y, sensitive_features=s)


# ---------------------------------------------------------------------------
# scorers, routing and best_feasible
# ---------------------------------------------------------------------------
def test_constraint_scorer_values(german):
    X, y, s = german
    clf = fit_quietly(
        logreg(constraints={"dp": DemographicParity(bound=0.05)}), X, y, sensitive_features=s
    )
    gap = np_rates(clf.predict(X), y, s)["dp"]
    value = make_constraint_scorer("dp", response="value")(clf, X, y, sensitive_features=s)
    assert value == pytest.approx(gap, abs=1e-6)
    assert make_constraint_scorer("dp")(clf, X, y, sensitive_features=s) == pytest.approx(
        -max(0.0, gap - 0.05), abs=1e-6
    )
    # on a subset where the gap exceeds the bound the violation shows
    rng = np.random.RandomState(0)
    worst = None
    for _ in range(30):
        idx = rng.choice(len(y), 200, replace=False)
        g = np_rates(clf.predict(X[idx]), y[idx], s[idx])["dp"]
        if g > 0.06:
            worst = (idx, g)
            break
    assert worst is not None
    idx, g = worst
    assert make_constraint_scorer("dp")(
        clf, X[idx], y[idx], sensitive_features=s[idx]
    ) == pytest.approx(-(g - 0.05), abs=1e-6)
    # judged against a target level instead of the estimator's own
    assert make_constraint_scorer("dp", level=0.01)(
        clf, X, y, sensitive_features=s
    ) == pytest.approx(-max(0.0, gap - 0.01), abs=1e-6)
    assert (
        make_constraint_scorer("dp", level={"bound": 0.2})(clf, X, y, sensitive_features=s) == 0.0
    )
    with pytest.raises(ValueError, match="unknown parameters"):
        make_constraint_scorer("dp", level={"upper": 0.1})(clf, X, y, sensitive_features=s)
    with pytest.raises(ValueError, match="response"):
        make_constraint_scorer("dp", response="gap")


def test_pipeline_routing(german):
    _, y, s = german
    X_raw, _, _ = load_german_credit(sensitive="age", return_X_y=True)
    with sklearn.config_context(enable_metadata_routing=True):
        clf = logreg(constraints={"dp": DemographicParity(bound=0.05)})
        clf.set_fit_request(sensitive_features=True)
        pipe = make_pipeline(StandardScaler(), clf)
        fit_quietly(pipe, X_raw, y, sensitive_features=s)
        gap = np_rates(pipe.predict(X_raw), y, s)["dp"]
        assert gap <= 0.05 + TOL
        scorer = make_constraint_scorer("dp", response="value")
        assert scorer(pipe, X_raw, y, sensitive_features=s) == pytest.approx(gap, abs=1e-6)


def test_grid_search_with_best_feasible(german):
    X, y, s = german
    with sklearn.config_context(enable_metadata_routing=True):
        clf = logreg(constraints={"dp": DemographicParity(bound=0.05)}, max_epochs=150)
        clf.set_fit_request(sensitive_features=True)
        search = GridSearchCV(
            clf,
            {"constraints__dp__bound": [0.02, 0.3]},
            scoring={
                "accuracy": "accuracy",
                "dp": make_constraint_scorer("dp"),
                "gap": make_constraint_scorer("dp", response="value"),
            },
            refit=best_feasible("accuracy", ["dp"], tol=0.03),
            cv=KFold(3, shuffle=True, random_state=0),
        )
        fit_quietly(search, X, y, sensitive_features=s)
    res = search.cv_results_
    assert set(res["param_constraints__dp__bound"]) == {0.02, 0.3}
    assert np.all(res["mean_test_dp"] <= 0)
    assert np.all(res["mean_test_gap"] >= 0)
    best = search.best_index_
    assert -res["mean_test_dp"][best] <= 0.03
    feasible = -res["mean_test_dp"] <= 0.03
    assert res["mean_test_accuracy"][best] == res["mean_test_accuracy"][feasible].max()
    assert (
        search.best_estimator_.constraints_["dp"].bound
        == res["params"][best]["constraints__dp__bound"]
    )


def test_best_feasible_rules():
    cv = {
        "mean_test_acc": np.array([0.9, 0.8, 0.85, 0.7]),
        "mean_test_dp": np.array([-0.2, 0.0, -0.01, 0.0]),
        "mean_test_l2": np.array([0.0, -0.5, 0.0, 0.0]),
    }
    assert best_feasible("acc")(cv) == 3  # both constraints (None: all others)
    assert best_feasible("acc", "dp")(cv) == 1
    assert best_feasible("acc", ["dp"], tol=0.02)(cv) == 2
    infeasible = {
        "mean_test_acc": np.array([0.9, 0.8, 0.7]),
        "mean_test_dp": np.array([-0.2, -0.05, -0.05]),
    }
    with pytest.warns(NoFeasibleCandidateWarning):
        assert best_feasible("acc")(infeasible) == 1
    with pytest.warns(NoFeasibleCandidateWarning):
        assert best_feasible("acc", fallback="best_score")(infeasible) == 0
    with pytest.raises(ValueError, match="no candidate"):
        best_feasible("acc", fallback="raise")(infeasible)
    with pytest.raises(ValueError, match="no metric 'f1'"):
        best_feasible("f1")(infeasible)
    with pytest.raises(ValueError, match="fallback"):
        best_feasible("acc", fallback="random")


def test_fitted_estimator_pickles_without_the_training_data(german):
    import pickle

    from sklearn.base import clone

    X, y, s = german
    clf = fit_quietly(
        logreg(constraints={"dp": DemographicParity(bound=0.05)}, max_epochs=20),
        X,
        y,
        sensitive_features=s,
    )
    blob = pickle.dumps(clf)
    assert len(blob) < X.astype(np.float32).nbytes  # the selection data are not kept
    again = pickle.loads(blob)
    assert np.array_equal(again.predict(X), clf.predict(X))
    assert again.evaluate_constraints(X, sensitive_features=s) == clf.evaluate_constraints(
        X, sensitive_features=s
    )
    assert clone(clf).get_params()["constraints__dp__bound"] == 0.05
