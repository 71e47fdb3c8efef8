"""method="auto": known solutions at the defaults, scale invariance, estimators at the defaults."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_constrained import ConstrainedClassifier
from sklearn_constrained.constraints import L2Norm, NonNegativity, PredictionRate
from sklearn_constrained.methods import Auto, resolve_method
from sklearn_constrained.optim import Equality, Inequality, minimize
from sklearn_constrained.optim._step_size import curvature_step

from ..conftest import squared_weight_norm


def _feasible_start_problem(scale=1.0, x0=0.0):
    # min (x - 3)^2 s.t. x <= 1: x* = 1, lambda* = 4 (scaled: the same x*, lambda*)
    return minimize(
        lambda x: scale * ((x - 3) ** 2).sum(),
        [x0],
        constraints=[Inequality(lambda x: scale * x.sum(), upper=scale * 1.0)],
    )


@pytest.mark.parametrize("x0", [0.0, 5.0], ids=["feasible-start", "infeasible-start"])
def test_default_solves_the_problem_sal_missed_from_a_feasible_start(x0):
    res = _feasible_start_problem(x0=x0)
    assert isinstance(res.method, Auto)
    assert res.x[0] == pytest.approx(1.0, abs=1e-4)
    assert res.multipliers[0][0] == pytest.approx(4.0, abs=1e-3)
    assert res.success, res.message


@pytest.mark.parametrize("scale", [1e-2, 1e2])
def test_default_is_invariant_to_the_problem_scale(scale):
    base, scaled = _feasible_start_problem(), _feasible_start_problem(scale=scale)
    assert scaled.x[0] == pytest.approx(base.x[0], abs=1e-6)
    # multiplying f and g by the same factor leaves the multiplier as it is
    assert scaled.multipliers[0][0] == pytest.approx(base.multipliers[0][0], rel=1e-4)
    assert scaled.success, scaled.message


def test_default_on_an_equality():
    # min x^2 + y^2 s.t. x + y = 1: (0.5, 0.5), multiplier -1 (grad f + lambda grad h = 0)
    res = minimize(lambda x: (x**2).sum(), [3.0, -1.0], [Equality(lambda x: x.sum(), target=1.0)])
    np.testing.assert_allclose(res.x, [0.5, 0.5], atol=1e-4)
    assert res.multipliers[0][0] == pytest.approx(-1.0, abs=1e-3)
    assert res.success, res.message


def test_a_solution_with_an_equality_is_kept_once_reached():
    # HS71 (Hock-Schittkowski 71): reached within 200 steps; the equality's violation then
    # flips sign at rounding level, which once halved its step every window until the
    # augmented term vanished and the iterate left x* (at 1300 of 2000 steps)
    x_star = [1.0, 4.742999637264417, 3.821149984184874, 1.3794082931726723]
    res = minimize(
        lambda x: x[0] * x[3] * (x[0] + x[1] + x[2]) + x[2],
        [2.0, 3.0, 3.0, 18.0**0.5],
        [
            Inequality(lambda x: -x.prod(), upper=-25.0),
            Equality(lambda x: (x**2).sum(), target=40.0),
        ],
        bounds=[(1.0, 5.0)] * 4,
        max_iter=2000,
    )
    np.testing.assert_allclose(res.x, x_star, atol=1e-4)
    assert res.multipliers[0][0] == pytest.approx(0.5522936601, abs=1e-4)
    assert res.success, res.message
    # the equality's step stayed where the solve put it: no halving on rounding noise
    steps = [h["penalty"]["c1"] for h in res.history]
    assert min(steps[2:]) == steps[2]


def _hs28(scale):
    # HS28: min (x1 + x2)^2 + (x2 + x3)^2 s.t. x1 + 2 x2 + 3 x3 = 1, from the HS start
    # (-4, 1, 1), which lies on the level: x* = (0.5, -0.5, 0.5)
    return minimize(
        lambda x: scale * ((x[0] + x[1]) ** 2 + (x[1] + x[2]) ** 2),
        [-4.0, 1.0, 1.0],
        [Equality(lambda x: scale * (x[0] + 2 * x[1] + 3 * x[2]), target=scale)],
        max_iter=2000,
    )


def test_a_start_on_the_level_is_scale_free():
    # g(x0) = 0 says nothing of g's units: the scale is the change of g a move of x's
    # own size makes (|grad g| max(1, |x0|)), so it scales with the problem; the level's
    # max(1, |level|) did not, and the problem times 0.01 ended 1e-3 off its level
    results = {scale: _hs28(scale) for scale in (1e-2, 1.0, 1e2)}
    for scale, res in results.items():
        np.testing.assert_allclose(res.x, [0.5, -0.5, 0.5], atol=1e-3, err_msg=str(scale))
        assert res.success, (scale, res.message)
        expected = scale * np.sqrt(1 + 4 + 9) * 4.0  # |grad g| times max(1, |x0|_inf)
        assert res.method.scales_["c0"] == pytest.approx(expected, rel=1e-9)


def test_default_on_a_vector_constraint():
    # min sum (x_i - 2 i)^2 s.t. x_i <= 1 entrywise: x* = 1, lambda*_i = 2 (2 i - 1)
    target = torch.tensor([2.0, 4.0, 6.0], dtype=torch.float64)
    res = minimize(lambda x: ((x - target) ** 2).sum(), [0.0, 0.0, 0.0], [Inequality(lambda x: x)])
    np.testing.assert_allclose(res.x, [0.0, 0.0, 0.0], atol=1e-4)
    np.testing.assert_allclose(res.multipliers[0], [4.0, 8.0, 12.0], atol=1e-3)
    assert res.success, res.message


def test_success_is_false_at_a_feasible_point_that_is_not_stationary():
    # one step of 0.5 / curvature from x0 = -5 ends at x = -1: feasible, not stationary
    res = minimize(
        lambda x: ((x - 3) ** 2).sum(), [-5.0], [Inequality(lambda x: x.sum(), upper=1.0)],
        max_iter=1,
    )
    assert res.x[0] == pytest.approx(-1.0)
    assert not res.success
    assert "not stationary" in res.message and res.constr_violation == 0
    assert res.optimality > 1e-2


def test_curvature_step_is_half_the_inverse_curvature():
    x = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    h = torch.tensor([1.0, 10.0, 100.0], dtype=torch.float64)
    assert curvature_step(lambda v: 0.5 * (h * v**2).sum(), x, {}) == pytest.approx(0.005)
    # a linear objective has no curvature: a step of 1% of |x| per unit gradient
    x = torch.nn.Parameter(torch.full((2,), 4.0, dtype=torch.float64))
    assert curvature_step(lambda v: 2 * v.sum(), x, {}) == pytest.approx(0.01 * 4 / 2)


def test_an_explicit_lr_is_used_as_given():
    slow = minimize(
        lambda x: ((x - 3) ** 2).sum(), [0.0], [Inequality(lambda x: x.sum(), upper=1.0)],
        lr=1e-4, max_iter=100,
    )
    # 100 steps of 1e-4 along a gradient of at most 6 move x by at most 0.06
    assert 0 < slow.x[0] <= 0.06 + 1e-12


def test_a_diverging_problem_stops_with_a_clear_status():
    # beyond x = 5 the objective is not finite: the self-set step backs off, then gives up
    def fun(x):
        return torch.where(x < 5, (x - 10) ** 2, torch.full_like(x, float("nan"))).sum()

    res = minimize(fun, [0.0], max_iter=3000)
    assert res.status == 2 and "diverged" in res.message
    assert np.isfinite(res.x).all() and res.x[0] < 5  # the last finite point


def test_a_runaway_is_undone_at_a_smaller_step():
    # HS28 times 0.01 from x = 0: the self-set step made the iterates run away to
    # |x| ~ 1e145 (finite, so it was returned with status 1); a violation past
    # RUNAWAY times its start's and its level's size is now undone like a divergence
    def fun(x):
        return 0.01 * ((x[0] + x[1]) ** 2 + (x[1] + x[2]) ** 2)

    level = Equality(lambda x: 0.01 * (x[0] + 2 * x[1] + 3 * x[2]), target=0.01)
    res = minimize(fun, [0.0, 0.0, 0.0], [level], max_iter=600)
    assert np.abs(res.x).max() < 10.0
    # every kept outer iteration stays below the runaway size: 1e4 times the larger of
    # the start's violation (0.01) and max(1, |level|) = 1 (it reached 1e99 by step 200)
    worst = max(h["largest_violations"]["c0"] for h in res.history)
    assert worst < 1e4
    assert res.fun < 0.01  # f at the start is 0, f* = 0: nowhere near 1e288


def _first_dual_step(optimizer):
    # grad f(0) = (-4, 0, 0, 0), grad g = (1, 1, 1, 1): the 1-norm ratio is 1, the 2-norm's 2
    res = minimize(lambda x: (torch.tensor([2.0, 1, 1, 1], dtype=x.dtype) * (x - torch.tensor(
                       [1.0, 0, 0, 0], dtype=x.dtype)) ** 2).sum(),
                   [0.0] * 4, [Inequality(lambda x: x.sum(), upper=-1.0)],
                   optimizer=optimizer, max_iter=1)
    return res.method.dual_steps_["c0"]


def test_first_dual_step_is_measured_in_the_primal_optimizers_dual_norm():
    # SGD follows the gradient (2-norm); Adam's step is sign-like, steepest descent in
    # the max-norm, whose dual is the 1-norm
    assert _first_dual_step("sgd") == pytest.approx(0.1 * 4.0 / 2.0)
    assert _first_dual_step("adam") == pytest.approx(0.1 * 4.0 / 4.0)
    assert _first_dual_step(torch.optim.RMSprop) == pytest.approx(0.1)


def test_auto_is_the_default_everywhere_and_has_no_step_size():
    assert isinstance(resolve_method("auto"), Auto)
    assert ConstrainedClassifier().method == "auto"
    assert "dual_lr" not in Auto().get_params()
    assert clone(Auto(kp=3.0)).kp == 3.0


def test_state_dict_round_trip_continues_identically():
    kw = dict(constraints=[Inequality(lambda x: x.sum(), upper=1.0)], max_iter=300)
    res = minimize(lambda x: ((x - 3) ** 2).sum(), [0.0], **kw)
    state = res.method.state_dict()
    other = Auto().bind(res.method.evaluators_ or {}, dtype=torch.float64)
    other.load_state_dict(state)
    assert other.dual_steps_ == res.method.dual_steps_
    assert other.scales_ == res.method.scales_
    np.testing.assert_array_equal(other.multipliers()["c0"], res.multipliers[0])


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xte), ytr, yte


def test_estimator_default_meets_a_rate_level_without_tuning(cancer):
    """63% of the training rows are positive; at most 50% may be predicted positive.

    GDA's default dual step (0.01, in units of the multiplier per unit of rate)
    ends infeasible here and returned the untrained model (test accuracy
    0.43); its 7-point sweep peaks at 0.854 (dual_lr=1).
    """
    Xtr, Xte, ytr, yte = cancer
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no infeasibility warning
        clf = ConstrainedClassifier(
            constraints={"rate": PredictionRate(label=1, upper=0.5)}, random_state=0
        ).fit(Xtr, ytr)
    assert clf.feasible_
    assert clf.constraint_values_["rate"] <= 0.5 + 1e-6
    assert clf.score(Xte, yte) >= 0.78
    assert clf.best_epoch_ > 1


def test_estimator_default_meets_a_norm_level(digits):
    Xtr, Xte, ytr, yte = digits
    clf = ConstrainedClassifier(constraints={"l2": L2Norm(bound=50.0)}, random_state=0)
    clf.fit(Xtr, ytr)
    assert clf.feasible_
    assert squared_weight_norm(clf.module_) <= 50.0 * (1 + 1e-4)
    assert clf.score(Xte, yte) >= 0.92


def _bound_auto(module, constraints, **params):
    evaluators = {name: c.bind(module, name) for name, c in constraints.items()}
    return Auto(**params).bind(evaluators), evaluators


def _value(evaluator):
    return float(evaluator.evaluate(None).value.detach())


def test_final_projection_removes_a_small_violation_only():
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    norm = squared_weight_norm(module)
    # 5% over the level: projected onto it
    method, ev = _bound_auto(module, {"l2": L2Norm(bound=norm / 1.05)})
    method.finalize()
    assert _value(ev["l2"]) == pytest.approx(norm / 1.05, rel=1e-5)
    assert method.final_projection_["l2"] == pytest.approx(norm - norm / 1.05, rel=1e-4)
    # 50% over: left alone (a projection would change the model too much), and so
    # is everything with final_projection=False
    for level, params in ((norm / 1.5, {}), (norm / 1.05, {"final_projection": False})):
        before = [p.detach().clone() for p in module.parameters()]
        method, _ = _bound_auto(module, {"l2": L2Norm(bound=level)}, **params)
        method.finalize()
        assert method.final_projection_ == {}
        assert all(torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))


def test_final_projection_meets_constraints_that_share_parameters():
    torch.manual_seed(1)
    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    with torch.no_grad():
        module[2].weight.sub_(0.05 * module[2].weight.abs().max()).clamp_(min=-0.02)
    norm = squared_weight_norm(module)
    method, ev = _bound_auto(module, {"l2": L2Norm(bound=norm / 1.02),
                                      "nonneg": NonNegativity(params="2.weight")})
    assert _value(ev["nonneg"]) > 0  # both violated, slightly
    method.finalize()
    assert set(method.final_projection_) == {"l2", "nonneg"}
    assert float(ev["l2"].evaluate(None).strict_violation.detach().max()) <= 1e-5 * norm
    assert _value(ev["nonneg"]) == 0.0
