"""Rate constraints (proxy constraints).

True rates for the strict violation, surrogate rates for the violation, label
resolution, validation, sample weights, and the estimator reaching a
prediction-rate / TPR / FPR level.
"""

import warnings

import numpy as np
import pytest
import torch

import sklearn_constrained as sc
from sklearn_constrained.constraints import (
    BatchContext,
    FalsePositiveRate,
    L2Norm,
    PredictionRate,
    TruePositiveRate,
)
from sklearn_constrained.methods import GDA


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


def _bound(constraint, **setup):
    """The constraint's evaluator, set up for one fit (data constraints ignore the module)."""
    return constraint.bind(None, "c").setup(**setup)


# ---------------------------------------------------------------------------
# the evaluator: true rates, surrogates, labels
# ---------------------------------------------------------------------------
def test_prediction_rate_value_strict_violation_and_violation():
    z = torch.tensor([[2.0, -1.0], [0.5, 0.0], [-1.0, 3.0], [0.0, 0.2]], requires_grad=True)
    e = _bound(PredictionRate(label=0, lower=0.7, upper=0.9)).evaluate(BatchContext(z))
    # predicted 0 for rows 0 and 1: share 0.5
    assert float(e.value) == pytest.approx(0.5)
    assert e.strict_violation.tolist() == pytest.approx([0.2, -0.4])
    soft = float(torch.softmax(z.detach(), 1)[:, 0].mean())
    assert e.violation.tolist() == pytest.approx([0.7 - soft, soft - 0.9])
    e.violation[0].backward()  # raising the share of class 0 lowers this side's violation
    assert torch.all(z.grad[:, 0] < 0) and torch.all(z.grad[:, 1] > 0)
    # the true rate has no gradient: only the surrogate does
    assert not e.strict_violation.requires_grad


def test_one_sided_rates_have_one_entry():
    z = torch.tensor([[2.0, -1.0], [0.5, 0.0], [-1.0, 3.0], [0.0, 0.2]])
    y = torch.tensor([0, 1, 1, 0])
    lower = _bound(PredictionRate(label=1, lower=0.6)).evaluate(BatchContext(z))
    assert lower.strict_violation.tolist() == pytest.approx([0.6 - 0.5])
    upper = _bound(PredictionRate(label=1, upper=0.25)).evaluate(BatchContext(z))
    assert upper.strict_violation.tolist() == pytest.approx([0.5 - 0.25])
    # TPR: predicted 1 among y == 1 (rows 1, 2): row 2 only -> 0.5; FPR among y == 0: row 3 -> 0.5
    tpr = _bound(TruePositiveRate(lower=0.8), classes=np.array([0, 1])).evaluate(BatchContext(z, y))
    assert float(tpr.value) == pytest.approx(0.5)
    assert tpr.strict_violation.tolist() == pytest.approx([0.3])
    fpr = _bound(FalsePositiveRate(upper=0.2), classes=np.array([0, 1])).evaluate(
        BatchContext(z, y)
    )
    assert float(fpr.value) == pytest.approx(0.5)
    assert fpr.strict_violation.tolist() == pytest.approx([0.3])


def test_labels_are_resolved_from_classes():
    z = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [5.0, 0.0, 0.0]])
    b = _bound(PredictionRate(label="c", upper=0.5), classes=np.array(["a", "b", "c"]))
    assert float(b.evaluate(BatchContext(z)).value) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="`label`='z' is not a class"):
        _bound(PredictionRate(label="z", upper=0.5), classes=np.array(["a", "b"]))
    with pytest.raises(ValueError, match="with 3 classes, set `pos_label`"):
        _bound(TruePositiveRate(lower=0.5), classes=np.array([0, 1, 2]))
    b = _bound(TruePositiveRate(lower=0.5, pos_label=2), classes=np.array([0, 1, 2]))
    y = torch.tensor([1, 2, 2])
    assert float(b.evaluate(BatchContext(z, y)).value) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="pass `y`"):
        _bound(TruePositiveRate(lower=0.5), classes=np.array([0, 1])).evaluate(BatchContext(z))
    with pytest.raises(ValueError, match="depends on the data: pass a batch"):
        _bound(PredictionRate(label=0, upper=0.5)).evaluate()


def test_rates_need_a_classifier_evaluator():
    with pytest.raises(ValueError, match="use it with ConstrainedClassifier"):
        _bound(PredictionRate(label=0, upper=0.5), classifier=False)


@pytest.mark.parametrize(
    "make, match",
    [
        # cross-parameter rules: the class's own message
        (lambda: PredictionRate(label=0), "set `lower` and/or `upper`"),
        (lambda: PredictionRate(label=0, lower=0.8, upper=0.2), "`lower`=0.8 exceeds `upper`=0.2"),
        # scikit-learn's declarative validation, with the class's hint for a level
        (
            lambda: PredictionRate(label=0, lower=1.5),
            r"The 'lower' parameter of PredictionRate must be None or a float in the range "
            r"\[0.0, 1.0\]\. Got 1.5 instead\. Set it to the level",
        ),
        (
            lambda: PredictionRate(label=0, lower=0.5, surrogate="probit"),
            # (the set of choices prints in hash order)
            r"The 'surrogate' parameter of PredictionRate must be a str among "
            r"\{'(hinge', 'sigmoid|sigmoid', 'hinge)'\}\. Got 'probit' instead",
        ),
        (
            lambda: sc.constraints.DemographicParity(bound=-0.1),
            r"The 'bound' parameter of DemographicParity must be a float in the range "
            r"\[0.0, 1.0\]\. Got -0.1 instead\. Set it to the level",
        ),
        (
            lambda: TruePositiveRate(lower="high"),
            r"The 'lower' parameter of TruePositiveRate must be a float in the range "
            r"\[0.0, 1.0\]\. Got 'high' instead\. Set it to the level",
        ),
        (
            lambda: FalsePositiveRate(upper=2.0),
            r"The 'upper' parameter of FalsePositiveRate must be a float in the range "
            r"\[0.0, 1.0\]\. Got 2.0 instead\. Set it to the level",
        ),
    ],
)
def test_invalid_levels_are_rejected(make, match):
    c = make()
    with pytest.raises(ValueError, match=match):
        c.check_params()
    # binding validates too (the estimators bind at fit)
    with pytest.raises(ValueError, match=match):
        c.bind(None, "c")


def test_declarative_errors_are_both_value_and_type_errors():
    with pytest.raises(TypeError, match="'lower' parameter of TruePositiveRate"):
        TruePositiveRate(lower="high").check_params()


# ---------------------------------------------------------------------------
# sample weights: a weighted rate is the rate of the data with rows repeated
# ---------------------------------------------------------------------------
WEIGHTS = [1, 3, 0, 2, 1, 4, 0, 1, 2, 1]


def _weighted_and_repeated(constraint, z, y=None, classes=(0, 1)):
    """Evaluate on the batch with integer weights and on its rows repeated by them."""
    w = torch.tensor(WEIGHTS, dtype=torch.float64)
    reps = torch.tensor(WEIGHTS)
    z_w = z.detach().clone().requires_grad_(True)
    z_r = z.detach().clone().requires_grad_(True)
    weighted = _bound(constraint, classes=np.array(classes)).evaluate(
        BatchContext(z_w, y, sample_weight=w)
    )
    repeated = _bound(constraint, classes=np.array(classes)).evaluate(
        BatchContext(
            z_r.repeat_interleave(reps, 0), None if y is None else y.repeat_interleave(reps)
        )
    )
    return (z_w, weighted), (z_r, repeated)


@pytest.mark.parametrize(
    "make",
    [
        lambda: PredictionRate(label=1, lower=0.4, upper=0.7),
        lambda: PredictionRate(label=0, upper=0.3, surrogate="hinge"),
        lambda: TruePositiveRate(lower=0.9),
        lambda: FalsePositiveRate(upper=0.1),
    ],
)
def test_weighted_rate_equals_the_rate_of_repeated_rows(make):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(len(WEIGHTS), 2, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 1, 1, 0, 1, 0, 1, 1, 0, 0])
    (z_w, weighted), (z_r, repeated) = _weighted_and_repeated(make(), z, y)
    torch.testing.assert_close(weighted.value, repeated.value, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        weighted.strict_violation, repeated.strict_violation, rtol=1e-12, atol=1e-12
    )
    torch.testing.assert_close(weighted.violation, repeated.violation, rtol=1e-12, atol=1e-12)
    # the weights differ from the unweighted rate here (the test can fail)
    unweighted = _bound(make(), classes=np.array([0, 1])).evaluate(BatchContext(z, y))
    assert not torch.allclose(unweighted.violation, weighted.violation)
    # and so do the gradients: a row's weight multiplies its share of the gradient
    (weighted.violation.sum()).backward()
    (repeated.violation.sum()).backward()
    torch.testing.assert_close(z_w.grad, z_r.grad, rtol=1e-10, atol=1e-12)


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
        n_iter_no_change=None,  # the known optimum in a stated budget: every epoch
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
        n_iter_no_change=None,  # the level reached in a stated budget: every epoch
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
