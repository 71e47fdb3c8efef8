"""Rate constraints (proxy constraints): surrogates, running estimates, the
estimator reaching a prediction-rate / TPR / FPR level, and the CV metrics.
"""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import sklearn_constrained as sc
from sklearn_constrained.constraints import (
    BatchContext,
    DemographicParity,
    FalsePositiveRate,
    L2Norm,
    PredictionRate,
    TruePositiveRate,
    surrogate_indicator,
)
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


# ---------------------------------------------------------------------------
# surrogates
# ---------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_classes=st.integers(2, 5),
    surrogate=st.sampled_from(["sigmoid", "hinge"]),
)
def test_surrogate_close_to_indicator_for_confident_logits(seed, n_classes, surrogate):
    # Confident logits: the winning class leads every other by >= 12, so the
    # softmax probability is within 1e-4 of the indicator and the ramp exact.
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(64, n_classes, generator=g, dtype=torch.float64)
    winner = torch.randint(0, n_classes, (64,), generator=g)
    z[torch.arange(64), winner] = z.max(dim=1).values + 12.0
    for k in range(n_classes):
        hard, soft = surrogate_indicator(z, k, surrogate)
        assert torch.equal(hard, (winner == k).double())
        assert torch.allclose(soft, hard, atol=1e-4 if surrogate == "sigmoid" else 0.0)


@pytest.mark.parametrize("surrogate", ["sigmoid", "hinge"])
def test_surrogate_gradient_matches_finite_differences(surrogate):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(20, 3, generator=g, dtype=torch.float64) * 0.4
    if surrogate == "hinge":
        # stay away from the ramp's kinks at margin -1 and 1 (and ties)
        m = z[:, 1] - torch.cat([z[:, :1], z[:, 2:]], 1).max(1).values
        z = z[(m.abs() - 1).abs() > 0.05]
    z.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: surrogate_indicator(t, 1, surrogate)[1].sum(), (z,))
    # per-sample classes (the error-rate form)
    k = torch.randint(0, 3, (len(z),), generator=g)
    assert torch.autograd.gradcheck(lambda t: surrogate_indicator(t, k, surrogate)[1], (z,))


def test_sigmoid_surrogate_is_the_softmax_probability():
    z = torch.tensor([[0.3, -1.2, 2.0], [1.0, 1.0, -3.0]])
    probs = torch.softmax(z, 1)
    for k in range(3):
        assert torch.allclose(surrogate_indicator(z, k)[1], probs[:, k])
    with pytest.raises(ValueError, match="surrogate"):
        surrogate_indicator(z, 0, "probit")


@pytest.mark.parametrize("surrogate", ["sigmoid", "hinge"])
def test_two_class_fast_path_matches_the_general_form(surrogate):
    # two classes go through the margin z_k - z_{1-k}; compare with the
    # per-sample-index (general) form, ties included (argmax picks class 0)
    g = torch.Generator().manual_seed(1)
    z = torch.randn(50, 2, generator=g, dtype=torch.float64)
    z[:5, 1] = z[:5, 0]  # exact ties
    z.requires_grad_(True)
    for k in (0, 1):
        hard, soft = surrogate_indicator(z, k, surrogate)
        hard_ref, soft_ref = surrogate_indicator(z, torch.full((50,), k), surrogate)
        assert torch.equal(hard, hard_ref)
        assert torch.equal(hard[:5], torch.full((5,), float(k == 0), dtype=torch.float64))
        torch.testing.assert_close(soft, soft_ref, rtol=1e-12, atol=1e-12)
        w = torch.randn(50, generator=g, dtype=torch.float64)
        torch.testing.assert_close(
            torch.autograd.grad(soft @ w, z)[0],
            torch.autograd.grad(soft_ref @ w, z)[0],
            rtol=1e-12,
            atol=1e-12,
        )


# ---------------------------------------------------------------------------
# the bound constraint: true rates, proxies and running estimates
# ---------------------------------------------------------------------------
def _bound(constraint, **configure):
    b = constraint._bind(None, "c")
    b.configure(**configure)
    return b


def test_prediction_rate_value_defect_proxy():
    z = torch.tensor([[2.0, -1.0], [0.5, 0.0], [-1.0, 3.0], [0.0, 0.2]], requires_grad=True)
    e = _bound(PredictionRate(label=0, lower=0.7, upper=0.9)).evaluate(BatchContext(z))
    # predicted 0 for rows 0 and 1: share 0.5
    assert float(e.value) == pytest.approx(0.5)
    assert e.defect.tolist() == pytest.approx([0.2, -0.4])
    soft = float(torch.softmax(z.detach(), 1)[:, 0].mean())
    assert e.proxy.tolist() == pytest.approx([0.7 - soft, soft - 0.9])
    e.proxy[0].backward()  # raising the share of class 0 lowers this side's proxy
    assert torch.all(z.grad[:, 0] < 0) and torch.all(z.grad[:, 1] > 0)


def test_labels_are_resolved_from_classes():
    z = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [5.0, 0.0, 0.0]])
    b = _bound(PredictionRate(label="c", upper=0.5), classes=np.array(["a", "b", "c"]))
    assert float(b.evaluate(BatchContext(z)).value) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="`label`='z' is not a class"):
        _bound(PredictionRate(label="z", upper=0.5), classes=np.array(["a", "b"]))
    with pytest.raises(ValueError, match="pos_label"):
        _bound(TruePositiveRate(lower=0.5), classes=np.array([0, 1, 2]))
    b = _bound(TruePositiveRate(lower=0.5, pos_label=2), classes=np.array([0, 1, 2]))
    y = torch.tensor([1, 2, 2])
    assert float(b.evaluate(BatchContext(z, y)).value) == pytest.approx(0.5)


def test_running_counts_keep_a_group_missing_from_the_batch():
    # window of 4 batches of 2: beta = 1 - 2/8 = 0.75
    b = _bound(DemographicParity(bound=0.1), classes=np.array([0, 1]), n_samples=1000)
    pos, neg = [-2.0, 2.0], [2.0, -2.0]
    # batch 1: group 0 all positive, group 1 all negative -> gap 1
    e1 = b.evaluate(
        BatchContext(torch.tensor([pos, pos, neg, neg]), None, torch.tensor([0, 0, 1, 1]), 2)
    )
    assert float(e1.value) == pytest.approx(1.0)
    assert e1.defect.tolist() == pytest.approx([0.9, -1.1])
    # batch 2 holds only group 1, now all positive; group 0 keeps its counts
    # (rate 1); group 1: (0.75 * 0 + 2) / (0.75 * 2 + 2) = 4/7
    z2 = torch.tensor([pos, pos], requires_grad=True)
    e2 = b.evaluate(BatchContext(z2, None, torch.tensor([1, 1]), 2))
    r1 = 2 / 3.5
    assert float(e2.value) == pytest.approx(1 - r1, abs=1e-6)
    assert e2.defect.tolist() == pytest.approx([1 - r1 - 0.1, r1 - 1 - 0.1], abs=1e-6)
    # the gradient flows only through the group present in the batch
    e2.proxy[1].backward()
    assert torch.all(z2.grad[:, 1] > 0) and torch.all(z2.grad[:, 0] < 0)
    # before any sample of a group, the pairs involving it are not judged
    fresh = _bound(DemographicParity(bound=0.1), classes=np.array([0, 1]), n_samples=1000)
    e = fresh.evaluate(BatchContext(torch.tensor([pos, neg]), None, torch.tensor([0, 0]), 2))
    assert float(e.value) == 0.0 and e.defect.tolist() == pytest.approx([-0.1, -0.1])


def test_running_counts_are_exact_for_full_batches():
    b = _bound(PredictionRate(label=1, upper=0.5), classes=np.array([0, 1]), n_samples=4)
    b.evaluate(BatchContext(torch.tensor([[0.0, 1.0]] * 4)))
    e = b.evaluate(BatchContext(torch.tensor([[1.0, 0.0]] * 3 + [[0.0, 1.0]])))
    assert float(e.value) == pytest.approx(0.25)


def test_user_constraint_is_not_mutated_and_stats_stay_on_bound_object():
    c = DemographicParity(bound=0.05)
    before = dict(c.get_params())
    b = _bound(c, classes=np.array([0, 1]), n_samples=10)
    b.evaluate(BatchContext(torch.randn(6, 2), None, torch.tensor([0, 1, 0, 1, 0, 1]), 2))
    assert c.get_params() == before and not any(k.startswith("_num") for k in vars(c))
    assert isinstance(b._num, torch.Tensor)


@pytest.mark.parametrize(
    "make",
    [
        lambda: PredictionRate(label=0),
        lambda: PredictionRate(label=0, lower=0.8, upper=0.2),
        lambda: PredictionRate(label=0, lower=1.5),
        lambda: PredictionRate(label=0, lower=0.5, surrogate="probit"),
        lambda: DemographicParity(bound=-0.1),
        lambda: TruePositiveRate(lower="high"),
    ],
)
def test_invalid_levels_are_rejected(make):
    with pytest.raises((ValueError, TypeError)):
        make()._check_params()


# ---------------------------------------------------------------------------
# the estimator reaches the level
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("surrogate", ["sigmoid", "hinge"])
def test_prediction_rate_reaches_its_level(surrogate):
    # Example B.3 of Ramirez et al.: balanced separable blobs, at least 70%
    # predicted 0. The constrained optimum: 70% class 0 at 80% accuracy.
    X, y = blobs()
    clf = sc.ConstrainedClassifier(
        module=sc.models.Linear,
        constraints={"rate": PredictionRate(label=0, lower=0.7, surrogate=surrogate)},
        method=GDA(dual_lr=0.5),
        optimizer="sgd",
        lr=0.5,
        batch_size=-1,
        max_epochs=300,
        random_state=0,
    )
    fit_quietly(clf, X, y)
    pred = clf.predict(X)
    assert np.mean(pred == 0) == pytest.approx(0.7, abs=0.01)
    assert np.mean(pred == y) == pytest.approx(0.8, abs=0.01)
    assert clf.feasible_
    assert clf.evaluate_constraints(X)["rate"] == pytest.approx(np.mean(pred == 0))
    assert clf.multipliers_["rate"][0] > 0


def test_prediction_rate_with_minibatches_and_an_upper_bound():
    X, y = blobs(seed=1)
    clf = sc.ConstrainedClassifier(
        module=sc.models.Linear,
        constraints={"rate": PredictionRate(label=1, upper=0.3)},
        method=GDA(dual_lr=0.5),
        optimizer="adam",
        lr=0.05,
        batch_size=32,
        max_epochs=60,
        random_state=0,
    )
    fit_quietly(clf, X, y)
    share = np.mean(clf.predict(X) == 1)
    assert 0.27 <= share <= 0.301
    assert clf.feasible_


def test_prediction_rate_multiclass():
    rng = np.random.RandomState(0)
    centers = np.array([[0.0, 2.0], [-2.0, -1.0], [2.0, -1.0]])
    X = np.vstack([rng.normal(c, 0.4, size=(60, 2)) for c in centers])
    y = np.repeat(["a", "b", "c"], 60)
    clf = sc.ConstrainedClassifier(
        module=sc.models.Linear,
        constraints={"rate": PredictionRate(label="c", lower=0.5)},
        method=GDA(dual_lr=0.5),
        optimizer="sgd",
        lr=0.5,
        batch_size=-1,
        max_epochs=300,
        random_state=0,
    )
    fit_quietly(clf, X, y)
    share = np.mean(clf.predict(X) == "c")
    assert 0.5 - 1e-9 <= share <= 0.52
    assert clf.score(X, y) >= 0.80


def test_neyman_pearson_rate_bounds():
    # overlapping blobs: the unconstrained classifier has TPR and FPR ~0.8 / 0.2
    X, y = blobs(seed=2, sep=0.5, scale=0.6)
    common = {
        "module": sc.models.Linear,
        "method": GDA(dual_lr=2.0),
        "optimizer": "sgd",
        "lr": 0.5,
        "batch_size": -1,
        "max_epochs": 300,
        "random_state": 0,
    }
    fpr = fit_quietly(
        sc.ConstrainedClassifier(constraints={"fpr": FalsePositiveRate(upper=0.05)}, **common), X, y
    )
    p = fpr.predict(X)
    assert np.mean(p[y == 0] == 1) <= 0.05 + 1e-9
    assert np.mean(p[y == 1] == 1) > 0.3  # not the trivial all-negative classifier
    tpr = fit_quietly(
        sc.ConstrainedClassifier(constraints={"tpr": TruePositiveRate(lower=0.95)}, **common), X, y
    )
    p = tpr.predict(X)
    assert np.mean(p[y == 1] == 1) >= 0.95 - 1e-9
    assert np.mean(p[y == 0] == 1) < 0.7
    assert tpr.evaluate_constraints(X, y)["tpr"] == pytest.approx(np.mean(p[y == 1] == 1))
    with pytest.raises(ValueError, match="pass `y`"):
        tpr.evaluate_constraints(X)


def test_rate_constraints_need_a_classifier():
    X, y = blobs()
    reg = sc.ConstrainedRegressor(
        constraints={"rate": PredictionRate(label=0, lower=0.5)}, max_epochs=1
    )
    with pytest.raises(ValueError, match="ConstrainedClassifier"):
        reg.fit(X, y.astype(float))


def test_mixed_weight_and_rate_constraints():
    X, y = blobs()
    clf = sc.ConstrainedClassifier(
        module=sc.models.Linear,
        constraints={"rate": PredictionRate(label=0, lower=0.7), "l2": L2Norm(bound=4.0)},
        method=GDA(dual_lr=0.5),
        optimizer="sgd",
        lr=0.5,
        batch_size=-1,
        max_epochs=300,
        random_state=0,
    )
    fit_quietly(clf, X, y)
    values = clf.evaluate_constraints(X)
    assert values["rate"] >= 0.7 - 1e-6
    assert values["l2"] <= 4.0 * (1 + 1e-3)


# ---------------------------------------------------------------------------
# CV metrics (eqs. 17-18 of the SAL paper)
# ---------------------------------------------------------------------------
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
        n: c._bind(clf.module_, n).evaluate().defect.detach().double()
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
