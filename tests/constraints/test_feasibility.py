"""The one feasibility rule of the library (``constraints/_feasibility.py``).

The violation of an inequality or an equality, the largest violation of a
vector, the tolerance scale max(1, |level|) and the verdict of ``judge``,
also as the estimators use it.
"""

import warnings

import numpy as np
import pytest
import torch

import sklearn_constrained as sc
from sklearn_constrained.constraints import (
    DemographicParity,
    Density,
    L1Norm,
    L2Norm,
    NonNegativity,
    Orthogonality,
    PredictionRate,
    Simplex,
    TruePositiveRate,
    judge,
    largest_violation,
    tolerance_scale,
    violation_magnitude,
)
from sklearn_constrained.methods import GDA
from sklearn_constrained.optim import Equality, Inequality


# ---------------------------------------------------------------------------
# violation_magnitude and largest_violation
# ---------------------------------------------------------------------------
def test_violation_magnitude_of_an_inequality_is_its_positive_part():
    s = torch.tensor([-2.0, 0.0, 0.5, 3.0])
    assert violation_magnitude("inequality", s).tolist() == [0.0, 0.0, 0.5, 3.0]
    np.testing.assert_array_equal(
        violation_magnitude("inequality", [-2.0, 0.0, 0.5, 3.0]), [0.0, 0.0, 0.5, 3.0]
    )


def test_violation_magnitude_of_an_equality_is_its_magnitude():
    s = torch.tensor([-2.0, 0.0, 0.5, 3.0])
    assert violation_magnitude("equality", s).tolist() == [2.0, 0.0, 0.5, 3.0]
    out = violation_magnitude("equality", np.array([[-2.0, 0.5]]))
    assert isinstance(out, np.ndarray) and out.tolist() == [[2.0, 0.5]]


def test_violation_magnitude_keeps_the_type_and_the_gradient():
    s = torch.tensor([-1.0, 2.0], dtype=torch.float64, requires_grad=True)
    v = violation_magnitude("inequality", s)
    assert isinstance(v, torch.Tensor) and v.dtype == torch.float64
    v.sum().backward()
    assert s.grad.tolist() == [0.0, 1.0]
    s.grad = None
    violation_magnitude("equality", s).sum().backward()
    assert s.grad.tolist() == [-1.0, 1.0]
    # a scalar (a list or float) becomes a float64 array
    assert violation_magnitude("inequality", 0.25).dtype == np.float64


@pytest.mark.parametrize(
    "kind, strict, expected",
    [
        ("inequality", [-3.0, 0.2, 0.1], 0.2),
        ("equality", [-3.0, 0.2, 0.1], 3.0),
        ("inequality", [-3.0, -0.1], 0.0),  # holds with slack: 0, never negative
        ("equality", [0.0], 0.0),
        ("inequality", -0.5, 0.0),
        ("equality", -0.5, 0.5),
    ],
)
def test_largest_violation_of_vectors_and_scalars(kind, strict, expected):
    t = largest_violation(kind, torch.tensor(strict, requires_grad=True))
    # a tensor stays a detached 0-d tensor (no host synchronisation)
    assert isinstance(t, torch.Tensor) and t.shape == () and not t.requires_grad
    assert float(t) == pytest.approx(expected)
    f = largest_violation(kind, np.array(strict))
    assert isinstance(f, float) and f == pytest.approx(expected)


def test_largest_violation_of_an_empty_vector_is_zero():
    t = largest_violation("inequality", torch.zeros(0))
    assert isinstance(t, torch.Tensor) and t.shape == () and float(t) == 0.0
    assert largest_violation("equality", np.zeros(0)) == 0.0


# ---------------------------------------------------------------------------
# tolerance_scale: max(1, |level|)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "constraint, scale",
    [
        (L2Norm(bound=30.0), 30.0),
        (L2Norm(bound=0.5), 1.0),  # never below 1: a small level keeps an absolute tolerance
        (L1Norm(bound=4), 4.0),
        (NonNegativity(), 1.0),  # no level
        (Simplex(params="w"), 1.0),
        (Orthogonality(), 1.0),  # bound 0
        (Orthogonality(bound=7.0), 7.0),
        (Density(upper=0.3), 1.0),
        (PredictionRate(label=0, lower=0.2, upper=0.8), 1.0),
        (TruePositiveRate(lower=0.9), 1.0),
        (DemographicParity(bound=0.05), 1.0),
        (sc.constraints.BoundedGroupLoss(bound=2.5), 2.5),
        (Inequality(lambda x: x.sum(), upper=-12.0), 12.0),  # |level|
        (Inequality(lambda x: x.sum(), upper=3.0, lower=-5.0), 5.0),  # the largest |level|
        (Inequality(lambda x: x, upper=np.array([0.5, -8.0, 2.0])), 8.0),  # vector level
        (Equality(lambda x: x.sum(), target=-4.0), 4.0),  # the equality's target is a level
        (Equality(lambda x: x.sum()), 1.0),
    ],
)
def test_tolerance_scale_is_max_of_one_and_the_levels(constraint, scale):
    assert tolerance_scale(constraint) == pytest.approx(scale)


# ---------------------------------------------------------------------------
# judge: one rule, relative to max(1, |level|)
# ---------------------------------------------------------------------------
def test_judge_is_relative_to_the_level_above_one():
    c = {"l2": L2Norm(bound=30.0)}
    tol = 1e-3
    # 30 * 1e-3 = 0.03 is allowed, whatever the absolute size
    assert judge(c, {"l2": 30.03}, {"l2": 0.03}, tol).feasible
    assert not judge(c, {"l2": 30.031}, {"l2": 0.031}, tol).feasible
    # the same violation at a level of 0.5 (scale 1): the tolerance is 1e-3
    small = {"l2": L2Norm(bound=0.5)}
    assert judge(small, {"l2": 0.501}, {"l2": 0.001}, tol).feasible
    assert not judge(small, {"l2": 0.5011}, {"l2": 0.0011}, tol).feasible


def test_judge_applies_the_same_rule_to_equalities_and_inequalities():
    # the violations are what largest_violation gives: relu for an
    # inequality, |.| for an equality; judge compares them to tol * scale
    constraints = {
        "orth": Orthogonality(),  # equality, scale 1
        "eq": Equality(lambda x: x.sum(), target=-200.0),  # equality, scale 200
        "nonneg": NonNegativity(),  # inequality, scale 1
    }
    strict = {
        "orth": torch.tensor([0.0, -0.009, 0.004]),  # |.| 0.009
        "eq": torch.tensor(-0.19),  # |.| 0.19 <= 0.01 * 200
        "nonneg": torch.tensor(-5.0),  # holds with slack
    }
    kinds = {n: c.kind for n, c in constraints.items()}
    assert kinds == {"orth": "equality", "eq": "equality", "nonneg": "inequality"}
    worst = {n: float(largest_violation(kinds[n], s)) for n, s in strict.items()}
    assert worst == pytest.approx({"orth": 0.009, "eq": 0.19, "nonneg": 0.0})
    values = {"orth": 1e-4, "eq": -200.19, "nonneg": 0.0}
    j = judge(constraints, values, worst, tol=0.01)
    assert j.feasible and j.violated == []
    # the score: the largest violation relative to its scale, max(0.009 / 1, 0.19 / 200)
    assert j.score == pytest.approx(0.009)
    # a negative strict violation of an equality is a violation: flip the sign of orth
    strict["orth"] = torch.tensor([0.0, -0.011])
    worst["orth"] = float(largest_violation("equality", strict["orth"]))
    j = judge(constraints, values, worst, tol=0.01)
    assert not j.feasible and j.violated == ["orth"]
    assert j.score == pytest.approx(0.011)
    # while an inequality's negative strict violation is slack
    assert float(largest_violation("inequality", strict["orth"])) == 0.0


def test_judge_lists_every_violated_constraint_in_order_and_keeps_the_inputs():
    constraints = {
        "a": L2Norm(bound=2.0),
        "b": PredictionRate(label=0, lower=0.5),
        "c": L1Norm(bound=100.0),
    }
    values = {"a": 2.5, "b": 0.45, "c": 99.0}
    violations = {"a": 0.5, "b": 0.05, "c": 0.0}
    j = judge(constraints, values, violations, tol=1e-3, entries={"b": 1})
    assert j.violated == ["a", "b"] and not j.feasible
    assert j.score == pytest.approx(0.25)  # 0.5 / 2
    assert j.values == values and j.violations == violations and j.entries == {"b": 1}
    assert j.values is not values  # copies: nothing a caller passes is kept
    # an empty set of constraints is feasible
    empty = judge({}, {}, {}, tol=1e-3)
    assert empty.feasible and empty.score == 0.0


def test_judge_uses_the_vector_s_largest_entry():
    # a vector violation (one entry per pair of groups) is judged by its largest entry
    c = {"dp": DemographicParity(bound=0.1)}
    strict = torch.tensor([-0.2, 0.0005, -0.1, 0.002])
    worst = float(largest_violation("inequality", strict))
    assert worst == pytest.approx(0.002)
    assert not judge(c, {"dp": 0.102}, {"dp": worst}, tol=1e-3).feasible
    assert judge(c, {"dp": 0.102}, {"dp": worst}, tol=3e-3).feasible


def test_the_estimator_judges_with_the_same_rule():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 3)
    y = (X[:, 0] + 0.3 * rng.randn(120) > 0).astype(int)
    groups = rng.randint(0, 2, 120)
    clf = sc.ConstrainedClassifier(
        module=sc.models.Linear,
        constraints={"l2": L2Norm(bound=0.5), "dp": DemographicParity(bound=0.1)},
        method=GDA(dual_lr=0.5),
        max_epochs=5,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y, sensitive_features=groups)
    details = clf.constraint_details(X, y, sensitive_features=groups)
    # the largest violations are largest_violation of the evaluators' strict violations
    strict = clf.constraints_["l2"].bind(clf.module_, "l2").evaluate().strict_violation
    assert details.violations["l2"] == pytest.approx(
        float(largest_violation("inequality", strict)), rel=1e-6, abs=1e-12
    )
    assert details.entries == {"l2": 1, "dp": 2}
    for tol in (1e-6, 1e-3, 0.1, 10.0):
        verdict = judge(clf.constraints_, details.values, details.violations, tol)
        expected = all(
            details.violations[n] <= tol * tolerance_scale(c) for n, c in clf.constraints_.items()
        )
        assert verdict.feasible == expected
    # feasible_ is this rule at the estimator's tol on the training data
    assert (
        clf.feasible_
        == judge(clf.constraints_, details.values, details.violations, clf.tol).feasible
    )
