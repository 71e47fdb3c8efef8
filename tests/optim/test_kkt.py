"""The first-order KKT test (``sklearn_constrained.optim._kkt.check_kkt``).

Known answers on small problems: solutions with their multipliers pass,
feasible non-stationary points, wrong-sign and non-complementary multipliers
fail with the test named in the message, bounds remove only the outward
gradient, and multiplying a problem by a constant changes no verdict.
"""

import math

import numpy as np
import pytest
import torch

from benchmarks import _problems as P
from sklearn_constrained.optim import Equality, Inequality
from sklearn_constrained.optim._kkt import check_kkt


def sq(x):
    return (x**2).sum()


# min x1^2 + x2^2  s.t.  x1 + x2 >= 1: x* = (0.5, 0.5), lambda* = 1
HALF = [("inequality", lambda x: -x.sum(), -1.0)]


def test_solution_with_its_multiplier_passes_either_way():
    for judge in ("given", "least_squares"):
        res = check_kkt(sq, [0.5, 0.5], HALF, [np.array([1.0])], judge_with=judge)
        assert res.success, res.message
        assert res.optimality < 1e-12 and res.constr_violation == 0
        assert res.tests == dict.fromkeys(res.tests, True)
        np.testing.assert_allclose(res.multipliers[0], [1.0], atol=1e-10)
    assert res.message.startswith("KKT point within tolerance")


def test_feasible_non_stationary_point_is_not_a_success():
    # (1, 0) is feasible (on the boundary) but the gradient has a tangent part
    res = check_kkt(sq, [1.0, 0.0], HALF)
    assert not res.success and res.tests["feasible"] and not res.tests["stationary"]
    assert res.message.startswith("not stationary: optimality 1 ")
    # the SAL answer: min (x - 3)^2 s.t. x <= 1 returned x = 0.535
    res = check_kkt(
        lambda x: ((x - 3) ** 2).sum(), [0.535], [("inequality", lambda x: x.sum(), 1.0)]
    )
    assert not res.success and res.tests["feasible"]
    assert "not stationary" in res.message
    # ... whose solution is x = 1 with multiplier 4
    res = check_kkt(lambda x: ((x - 3) ** 2).sum(), [1.0], [("inequality", lambda x: x.sum(), 1.0)])
    assert res.success
    np.testing.assert_allclose(res.least_squares_multipliers[0], [4.0], atol=1e-10)


def test_infeasible_point_names_the_violation():
    res = check_kkt(sq, [0.35, 0.35], HALF)
    assert not res.success and not res.tests["feasible"]
    assert res.message.startswith("not feasible: largest violation 0.3 on c0 > tol = 0.0001")
    assert res.constr_violation == pytest.approx(0.3)


@pytest.mark.parametrize("scale", [1.0, 0.01, 1e-6])
def test_feasibility_is_judged_in_x_whatever_the_constraints_units(scale):
    # min (x - 3)^2  s.t.  scale * x <= scale: x* = 1. x = 1.005 is 5e-3 from the
    # level in x: with scale 0.01 its violation, 5e-5, is within tol = 1e-4 of the
    # level's units, and it used to pass (the robustness suite's false successes)
    cons = [("inequality", lambda x: scale * x.sum(), scale)]

    def f(x):
        return ((x - 3) ** 2).sum()

    res = check_kkt(f, [1.005], cons, gradient_scale=6.0)
    assert not res.success and not res.tests["feasible"]
    assert "from its level in x" in res.message or "largest violation" in res.message
    # the solution passes at every scale, and so does a point 1e-5 away
    for x in (1.0, 1.0 + 1e-5):
        ok = check_kkt(f, [x], cons, gradient_scale=6.0)
        assert ok.success, ok.message


def test_wrong_sign_multiplier_fails():
    # min (x - 2)^2 s.t. x >= 1: x = 1 is stationary with lambda = -2, but x = 2 is better
    f = lambda x: ((x - 2) ** 2).sum()  # noqa: E731
    cons = [("inequality", lambda x: -x.sum(), -1.0)]
    res = check_kkt(f, [1.0], cons, [np.array([-2.0])], judge_with="given")
    assert not res.success and res.tests["stationary"] and not res.tests["dual_feasible"]
    assert res.message.startswith("negative multiplier -2 on c0")
    assert res.dual_infeasibility == pytest.approx(2.0)
    # the least-squares multiplier is held at 0, so stationarity fails instead
    res = check_kkt(f, [1.0], cons, [np.array([-2.0])])
    assert not res.success and res.least_squares_multipliers[0][0] == pytest.approx(0.0)
    assert "not stationary" in res.message
    assert res.given["dual_feasible"] is False and "negative multiplier" in res.given["message"]


def test_wrong_method_multipliers_do_not_hide_a_true_solution():
    # a fixed penalty's coefficient or a poor estimate: the least-squares verdict judges x
    res = check_kkt(sq, [0.5, 0.5], HALF, [np.array([10.0])])
    assert res.success
    assert "the method's own multipliers fail: not stationary" in res.message
    np.testing.assert_allclose(res.multipliers[0], [1.0], atol=1e-10)
    assert not check_kkt(sq, [0.5, 0.5], HALF, [np.array([10.0])], judge_with="given").success


def test_multipliers_on_inactive_constraints_are_not_complementary():
    # min (x - 3)^2 s.t. -5 <= x <= 5 at x = 3: stationary with (1, 1), but both inactive
    f = lambda x: ((x - 3) ** 2).sum()  # noqa: E731
    cons = [("inequality", lambda x: x, np.array([5.0])), ("inequality", lambda x: -x, 5.0)]
    res = check_kkt(f, [3.0], cons, [np.array([1.0]), np.array([1.0])], judge_with="given")
    assert res.tests["stationary"] and not res.tests["complementary"] and not res.success
    assert res.message.startswith("not complementary: c")
    assert res.complementarity == pytest.approx(8.0)  # |1 * (-8)|
    assert check_kkt(f, [3.0], cons).success  # the least-squares multipliers are 0
    assert [a.tolist() for a in check_kkt(f, [3.0], cons).active] == [[False], [False]]


def test_bound_with_outward_gradient_is_stationary():
    f = lambda x: ((x - 2) ** 2).sum()  # noqa: E731
    res = check_kkt(f, [1.0], bounds=[(0.0, 1.0)])  # at the upper bound, descent points out
    assert res.success and res.optimality == 0
    assert res.bound_multipliers.tolist() == [-2.0]
    res = check_kkt(lambda x: ((x + 1) ** 2).sum(), [0.0], bounds=[(0.0, 1.0)])  # lower bound
    assert res.success and res.bound_multipliers.tolist() == [2.0]
    # inward gradient at the bound: not stationary
    res = check_kkt(lambda x: ((x - 0.5) ** 2).sum(), [1.0], bounds=[(0.0, 1.0)])
    assert not res.success and res.optimality == pytest.approx(1.0)
    # only the bounded coordinate's outward part is removed, the free one counts
    g = lambda x: ((x - 2) ** 2).sum()  # noqa: E731
    res = check_kkt(g, [1.0, 1.9], bounds=[(0.0, 1.0), (None, None)])
    assert not res.success and res.optimality == pytest.approx(0.2)
    # scipy.optimize.Bounds, and a point outside the box
    from scipy.optimize import Bounds

    assert check_kkt(f, [1.0], bounds=Bounds([0.0], [1.0])).success
    res = check_kkt(f, [1.5], bounds=[(0.0, 1.0)])
    assert not res.tests["feasible"] and "the bound of x[0]" in res.message


def test_bound_and_constraint_together():
    # seed 004 Example 1: the solution (asin eps, 0) with x in [0, pi/2]
    eps = 0.3
    p = P.by_name("ramirez-ex1-eps0.3")
    res = check_kkt(p.fun, p.x_star, p.constraints, bounds=p.bounds)
    assert res.success
    np.testing.assert_allclose(res.multipliers[0], [eps / math.sqrt(1 - eps**2)], rtol=1e-9)
    # feasible, inside the box, constraint inactive: not stationary
    res = check_kkt(p.fun, [0.1, 0.0], p.constraints, bounds=p.bounds)
    assert not res.success and res.tests["feasible"] and "not stationary" in res.message
    # the penalty's corner (0, 0) has grad f = (-sin 0, 0) = 0: a first-order point,
    # but a maximum along x into the box, which the second-order test rejects
    res = check_kkt(p.fun, [0.0, 0.0], p.constraints, bounds=p.bounds)
    assert res.tests["stationary"] and res.tests["feasible"] and not res.success
    assert not res.tests["second_order"] and "a saddle point or a maximum" in res.message
    # the other corner (pi/2, 0) is infeasible
    res = check_kkt(p.fun, [math.pi / 2, 0.0], p.constraints, bounds=p.bounds)
    assert not res.success and "not feasible: largest violation 0.7 on c0" in res.message


def test_tolerance_rules():
    # feasibility relative to max(1, |level|)
    c100 = [("inequality", lambda x: x.sum(), 100.0)]
    assert check_kkt(lambda x: -x.sum(), [100.005], c100).tests["feasible"]  # 5e-3 / 100
    c05 = [("inequality", lambda x: x.sum(), 0.5)]
    assert not check_kkt(lambda x: -x.sum(), [0.505], c05).tests["feasible"]  # 5e-3 / 1
    # stationarity relative to G = max(gradient_scale, |grad f|_inf): f = 10 (x - a)^2 + x2
    f = lambda x: 10 * ((x[0] - 1.0) ** 2) + 0 * x[1]  # noqa: E731
    assert check_kkt(f, [1 + 2.5e-6, 0.0], gradient_scale=1.0).success  # 5e-5 <= 1e-4
    assert not check_kkt(f, [1 + 2e-5, 0.0], gradient_scale=1.0).success  # 4e-4 > 1e-4
    assert check_kkt(f, [1 + 2e-5, 0.0], gradient_scale=10.0).success  # 4e-4 <= 1e-3
    assert check_kkt(f, [1 + 2e-5, 0.0], optimality_tol=1e-3).success
    # the largest gradient counts: a steep objective is judged relative to its gradient
    # (f = 1e4 (x1 + x2^2 / 2) s.t. x1 >= 1; the residual is the x2 component 1e4 x2)
    g = lambda x: 1e4 * (x[0] + 0.5 * x[1] ** 2)  # noqa: E731
    ge1 = [("inequality", lambda x: -x[0], -1.0)]
    res = check_kkt(g, [1.0, 1e-5], ge1)
    assert res.success and res.gradient_scale == pytest.approx(1e4)
    assert res.optimality == pytest.approx(0.1) and res.multipliers[0][0] == pytest.approx(1e4)
    assert not check_kkt(g, [1.0, 2e-4], ge1).success  # residual 2 > 1e-4 x 1e4


@pytest.mark.parametrize("scale", [1e-2, 1.0, 1e2])
def test_scaled_problems_give_the_same_verdicts(scale):
    # min x1^2 + x2^2 s.t. x1 + x2 >= 100 (x* = (50, 50), lambda* = 100), times `scale`;
    # the level stays >= 1 after scaling, so the feasibility rule is scale-free here too
    def f(x):
        return scale * (x**2).sum()

    cons = [("inequality", lambda x: -scale * x.sum(), -scale * 100.0)]
    x0 = np.array([80.0, 0.0])
    g0 = 2 * scale * 80.0  # |grad f(x0)|_inf
    points = {
        "solution": ([50.0, 50.0], True),
        "solution within 1e-8": ([50.0 + 5e-7, 50.0 - 4e-7], True),
        "feasible, not stationary": ([100.0, 0.0], False),
        "on the boundary, off the optimum": ([50.5, 49.5], False),
        "infeasible": ([40.0, 40.0], False),
        "start": (x0, False),
    }
    for name, (x, expected) in points.items():
        res = check_kkt(f, x, cons, gradient_scale=g0)
        assert res.success is expected, (name, res.message)
        if expected:
            np.testing.assert_allclose(res.multipliers[0], [100.0], rtol=1e-4)


def test_equalities_have_free_sign_and_vector_constraints():
    # Nocedal-Wright 12.1: min x1 + x2 on |x|^2 = 2; (-1, -1) with mu = 1/2 ...
    f = lambda x: x.sum()  # noqa: E731
    circle = [("equality", lambda x: (x**2).sum(), 2.0)]
    res = check_kkt(f, [-1.0, -1.0], circle)
    assert res.success and res.multipliers[0][0] == pytest.approx(0.5)
    # ... the maximum (1, 1) is a first-order KKT point too (mu = -1/2), which the
    # second-order test rejects: the Lagrangian curves down along the circle's tangent
    res = check_kkt(f, [1.0, 1.0], circle)
    assert res.multipliers[0][0] == pytest.approx(-0.5)
    assert res.tests["stationary"] and not res.tests["second_order"] and not res.success
    assert "not a minimum: the Lagrangian's curvature is -1" in res.message
    # a feasible point on the circle that is not stationary
    assert not check_kkt(f, [math.sqrt(2), 0.0], circle).success
    # vector inequality (the l1 ball of NW 12.6) and its multipliers
    p = P.by_name("nw12.6")
    res = check_kkt(p.fun, p.x_star, p.constraints)
    assert res.success
    np.testing.assert_allclose(res.multipliers[0], [0.75, 0.25, 0.0, 0.0], atol=1e-10)
    assert res.active[0].tolist() == [True, True, False, False]


def test_library_constraint_objects():
    # -1 <= x1 - x2 <= 1 (upper entries first) and x1 + x2 == 2: min (x1 - 3)^2 + x2^2
    f = lambda x: (x[0] - 3) ** 2 + x[1] ** 2  # noqa: E731
    cons = [
        Inequality(lambda x: x[0] - x[1], upper=1.0, lower=-1.0),
        Equality(lambda x: x[0] + x[1], target=2.0),
    ]
    # x* = (1.5, 0.5), the upper side active: -3 + lambda + mu = 0, 1 - lambda + mu = 0
    res = check_kkt(f, [1.5, 0.5], cons)
    assert res.success, res.message
    np.testing.assert_allclose(res.multipliers[0], [2.0, 0.0], atol=1e-10)
    np.testing.assert_allclose(res.multipliers[1], [1.0], atol=1e-10)
    res = check_kkt(
        f, [1.0, 1.0], cons, [np.array([0.0, 0.0]), np.array([4.0])], judge_with="given"
    )
    assert not res.success and "not stationary" in res.message
    # a non-differentiable value with a differentiable proxy: the proxy gives the gradient
    h = lambda x: ((x - 3) ** 2).sum()  # noqa: E731
    hard = Inequality(lambda x: x.detach().sum(), upper=1.0, proxy=lambda x: x.sum())
    res = check_kkt(h, [1.0], [hard])
    assert res.success and res.multipliers[0][0] == pytest.approx(4.0)
    assert not check_kkt(h, [1.0], [("inequality", lambda x: x.detach().sum(), 1.0)]).success


def test_every_suite_problem_solution_passes_with_its_multipliers():
    for p in P.PROBLEMS:
        res = check_kkt(p.fun, p.x_star, p.constraints, p.lambda_star, p.bounds, tol=1e-8)
        assert res.success, (p.name, res.message)
        if p.lambda_star is not None:
            given = check_kkt(
                p.fun,
                p.x_star,
                p.constraints,
                p.lambda_star,
                p.bounds,
                tol=1e-8,
                optimality_tol=1e-7,
                judge_with="given",
            )
            assert given.success, (p.name, given.message)
            for ls, ref in zip(res.least_squares_multipliers, p.lambda_star, strict=True):
                np.testing.assert_allclose(ls, np.ravel(ref), atol=1e-6, err_msg=p.name)
        # the labelled starts are what they say (after clipping to the bounds)
        lo, hi = P.bounds_arrays(p)
        for which, feasible in (("feasible", True), ("infeasible", False)):
            x0 = np.clip(p.start(which), lo, hi)
            assert check_kkt(p.fun, x0, p.constraints, bounds=p.bounds).tests["feasible"] is (
                feasible
            ), (p.name, which)


def test_scaled_suite_keeps_the_solution_and_rescales_multipliers():
    p = P.by_name("hs014")
    for fs, cs in ((1e-2, 1e-2), (1e2, 1e2), (1e2, 1.0)):
        q = P.scaled(p, fs, cs)
        assert q.f_star == pytest.approx(fs * p.f_star)
        res = check_kkt(
            q.fun,
            q.x_star,
            q.constraints,
            q.lambda_star,
            q.bounds,
            tol=1e-8,
            optimality_tol=1e-7,
            judge_with="given",
        )
        assert res.success, res.message
        for a, b in zip(q.lambda_star, p.lambda_star, strict=True):
            np.testing.assert_allclose(a, b * fs / cs)
    assert len(list(P.variants())) == 6 * len(P.PROBLEMS)


def test_input_validation():
    with pytest.raises(ValueError, match="judge_with='given' needs `multipliers`"):
        check_kkt(sq, [0.5, 0.5], HALF, judge_with="given")
    with pytest.raises(ValueError, match="one array per constraint"):
        check_kkt(sq, [0.5, 0.5], HALF, [np.ones(1), np.ones(1)])
    with pytest.raises(ValueError, match="needs 1 entries; got 2"):
        check_kkt(sq, [0.5, 0.5], HALF, [np.ones(2)])
    with pytest.raises(ValueError, match="`tol` must be a finite number"):
        check_kkt(sq, [0.5, 0.5], HALF, tol=-1)
    with pytest.raises(ValueError, match="`judge_with` must be one of"):
        check_kkt(sq, [0.5, 0.5], HALF, judge_with="mine")
    with pytest.raises(ValueError, match="kind must be 'inequality' or 'equality'"):
        check_kkt(sq, [0.5, 0.5], [("le", lambda x: x.sum(), 1.0)])
    with pytest.raises(ValueError, match="one \\(low, high\\) pair per coordinate"):
        check_kkt(sq, [0.5, 0.5], bounds=[(0, 1)])
    with pytest.raises(TypeError, match="`fun` must be a callable"):
        check_kkt(None, [0.5, 0.5])


def test_non_finite_point_and_tensor_input_untouched():
    res = check_kkt(lambda x: (x**2).sum() * float("nan"), [1.0, 0.0])
    assert not res.success and res.message.startswith("not finite")
    x = torch.tensor([[0.5, 0.5]], dtype=torch.float32, requires_grad=True)
    res = check_kkt(sq, x, HALF)
    assert res.success and res.bound_multipliers.shape == (1, 2)
    assert x.grad is None and x.dtype == torch.float32  # nothing the user passed is changed


class _Bound:
    """A stand-in for a bound constraint: ``kkt_verdict`` reads only ``.constraint``."""

    def __init__(self, constraint):
        self.constraint = constraint


def test_kkt_verdict_for_minimize():
    from types import SimpleNamespace

    from sklearn_constrained.optim._kkt import kkt_verdict

    # seed 004 Example 1 through Inequality objects and a box of tensors
    p = P.by_name("ramirez-ex1-eps0.3")
    ev = {"c0": _Bound(Inequality(p.constraints[0][1], upper=0.3))}
    box = (torch.tensor([0.0, -math.inf]), torch.tensor([math.pi / 2, math.inf]))
    x = torch.tensor(p.x_star, dtype=torch.float64)
    v = kkt_verdict(p.fun, x, ev, {"c0": np.array([0.0])}, box, 1e-4)
    assert v["success"] and v["optimality"] < 1e-10 and v["constr_violation"] == 0
    assert "the method's own multipliers fail" in v["message"]  # 0 is not lambda*
    np.testing.assert_allclose(v["multipliers"]["c0"], p.lambda_star[0].reshape(-1))
    v = kkt_verdict(p.fun, torch.tensor([0.1, 0.0]), ev, {}, box, 1e-4)
    assert not v["success"] and v["message"].startswith("not stationary")
    # the library's feasibility judgement is required too; a penalty-shaped "multiplier"
    v = kkt_verdict(p.fun, x, ev, {"c0": np.ones(3)}, box, 1e-4, SimpleNamespace(feasible=False))
    assert not v["success"] and v["message"].startswith("not feasible by the library's rule")
