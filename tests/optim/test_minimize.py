"""``optim.minimize`` against exact solutions.

Random convex QPs against an exact KKT solve, the result object, bounds,
proxy constraints, the L-BFGS path and validation.

``success`` is being turned into a KKT test (feasible, complementary,
stationary); the assertions on it here hold under both that and the interim
meaning (feasible within ``tol``): ``success`` is asserted only at points that
are KKT points to high accuracy, ``not success`` only at infeasible ones.
"""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.optimize import Bounds, OptimizeResult
from scipy.optimize import minimize as sp_minimize

from sklearn_constrained.methods import GDA, SAL, FixedPenalty
from sklearn_constrained.optim import Equality, Inequality, minimize


def make_qp(n, m, seed):
    """Min 1/2 x'Px + q'x  s.t.  Gx <= h, Ax = b, with some inequalities active."""
    rng = np.random.RandomState(seed)
    M = rng.randn(n, n)
    P = M.T @ M / n + np.eye(n)
    q = rng.randn(n)
    G = rng.randn(m, n)
    G /= np.linalg.norm(G, axis=1, keepdims=True)
    x_unc = np.linalg.solve(P, -q)
    # alternately violated and slack at the unconstrained minimiser
    h = G @ x_unc + np.where(np.arange(m) % 2 == 0, -0.5, 0.5) * (1 + rng.rand(m))
    A = rng.randn(1, n)
    A /= np.linalg.norm(A)
    b = A @ x_unc + 0.3
    return P, q, G, h, A, b


def kkt_solution(P, q, G, h, A, b):
    """The exact solution by enumerating active sets: x, lambda (G), mu (A)."""
    n, m = len(q), len(h)
    for r in range(m + 1):
        for S in map(list, itertools.combinations(range(m), r)):
            C = np.vstack([A, G[S]])
            K = np.block([[P, C.T], [C, np.zeros((len(C), len(C)))]])
            sol = np.linalg.solve(K, np.concatenate([-q, b, h[S]]))
            x, mu, lam_s = sol[:n], sol[n : n + 1], sol[n + 1 :]
            if np.all(lam_s >= -1e-12) and np.all(G @ x <= h + 1e-10):
                lam = np.zeros(m)
                lam[S] = lam_s
                return x, lam, mu
    raise AssertionError("no KKT point found")  # pragma: no cover


def solve_qp(qp, method, **kwargs):
    P, q, G, _, A, _ = (torch.tensor(a) for a in qp)
    cons = [Inequality(lambda x: G @ x, upper=qp[3]), Equality(lambda x: A @ x, target=qp[5])]
    return minimize(
        lambda x: 0.5 * x @ P @ x + q @ x, np.zeros(len(qp[1])), cons, method=method, **kwargs
    )


LBFGS_EXACT = dict(max_iter=100, tolerance_grad=1e-12, tolerance_change=1e-15)

QP_SOLVERS = {
    # one dual update per gradient step on the augmented Lagrangian
    "augmented-gda": (GDA(dual_lr=1.0, augmented=True, penalty=1.0), dict(lr=0.1, max_iter=1000)),
    # Algorithm 2's penalty logic with one L-BFGS solve per outer iteration (Algorithm 1):
    # the corrected default and the paper's rule as printed
    "sal-lbfgs": (SAL(), dict(optimizer="lbfgs", max_iter=30, optimizer_params=LBFGS_EXACT)),
    "sal-paper-lbfgs": (
        SAL(variant="paper"),
        dict(optimizer="lbfgs", max_iter=30, optimizer_params=LBFGS_EXACT),
    ),
}


@pytest.mark.parametrize("solver", list(QP_SOLVERS))
@pytest.mark.parametrize("n", [5, 10])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_convex_qp_matches_the_kkt_solution(solver, n, seed):
    qp = make_qp(n, 3, seed)
    x_ref, lam_ref, mu_ref = kkt_solution(*qp)
    assert (lam_ref > 1e-3).sum() >= 1  # an active inequality
    method, kwargs = QP_SOLVERS[solver]
    res = solve_qp(qp, method, **kwargs)
    np.testing.assert_allclose(res.x, x_ref, atol=1e-4)
    np.testing.assert_allclose(res.multipliers[0], lam_ref, atol=1e-3)
    np.testing.assert_allclose(res.multipliers[1], mu_ref, atol=1e-3)
    assert res.success and res.constr_violation <= 1e-4 and res.maxcv == res.constr_violation


def test_kkt_reference_agrees_with_slsqp():
    qp = make_qp(5, 3, 0)
    P, q, G, h, A, b = qp
    x_ref, _, _ = kkt_solution(*qp)
    res = sp_minimize(
        lambda x: 0.5 * x @ P @ x + q @ x,
        np.zeros(5),
        jac=lambda x: P @ x + q,
        method="SLSQP",
        constraints=[
            {"type": "ineq", "fun": lambda x: h - G @ x, "jac": lambda x: -G},
            {"type": "eq", "fun": lambda x: A @ x - b, "jac": lambda x: A},
        ],
        options={"ftol": 1e-14, "maxiter": 500},
    )
    np.testing.assert_allclose(res.x, x_ref, atol=1e-7)


def test_simultaneous_augmented_gda_reaches_the_same_solution():
    qp = make_qp(10, 3, 0)
    x_ref, lam_ref, mu_ref = kkt_solution(*qp)
    res = solve_qp(
        qp,
        GDA(dual_lr=1.0, augmented=True, penalty=1.0, order="simultaneous"),
        lr=0.1,
        max_iter=1000,
    )
    np.testing.assert_allclose(res.x, x_ref, atol=1e-4)
    np.testing.assert_allclose(res.multipliers[0], lam_ref, atol=1e-3)
    np.testing.assert_allclose(res.multipliers[1], mu_ref, atol=1e-3)


def test_augmented_gda_with_lbfgs_is_the_method_of_multipliers():
    qp = make_qp(5, 3, 1)
    x_ref, lam_ref, _ = kkt_solution(*qp)
    res = solve_qp(
        qp,
        GDA(dual_lr=5.0, augmented=True, penalty=5.0),
        optimizer="lbfgs",
        max_iter=25,
        optimizer_params=LBFGS_EXACT,
    )
    np.testing.assert_allclose(res.x, x_ref, atol=1e-6)
    np.testing.assert_allclose(res.multipliers[0], lam_ref, atol=1e-5)
    assert res.nit == 25 and res.n_outer == 25


def test_result_object():
    method = GDA(dual_lr=0.5, augmented=True, penalty=1.0)
    res = minimize(
        lambda x: (x**2).sum(),
        [0.0, 0.0],
        [Inequality(lambda x: 1 - x.sum(), upper=0.0)],
        method=method,
        lr=0.1,
        max_iter=1050,
        inner_steps=100,
    )
    assert isinstance(res, OptimizeResult)
    assert isinstance(res.x, np.ndarray) and res.x.shape == (2,) and res.x.dtype == np.float64
    np.testing.assert_allclose(res.x, [0.5, 0.5], atol=1e-8)
    assert isinstance(res.fun, float) and res.fun == pytest.approx(0.5)
    assert isinstance(res.multipliers, list) and len(res.multipliers) == 1
    np.testing.assert_allclose(res.multipliers[0], [1.0], atol=1e-8)
    np.testing.assert_allclose(res.constraint_values[0], [0.0], atol=1e-8)
    assert res.success is True and res.status == 0 and res.nit == 1050
    assert isinstance(res.message, str)
    # one record per outer iteration of 100 steps, plus the last partial one
    assert res.n_outer == len(res.history) == 11
    assert [h["iteration"] for h in res.history][-2:] == [1000, 1050]
    # the records of the estimators' history_ (the same epoch-end code), plus the iteration
    assert set(res.history[0]) == {
        "iteration",
        "objective",
        "loss",
        "constraints",
        "violations",
        "largest_violations",
        "violation_norms",
        "multipliers",
        "penalty",
        "method_stop",
    }
    assert res.history[-1]["penalty"] == 1.0
    assert res.history[-1]["multipliers"]["c0"] == pytest.approx(1.0, abs=1e-8)
    assert res.history[-1]["largest_violations"]["c0"] <= 1e-8
    assert res.constr_violation <= 1e-8 and res.maxcv == res.constr_violation
    assert isinstance(res.optimality, float)
    # the method passed in is left untouched; the fitted one is returned
    assert not hasattr(method, "multipliers_") and res.method is not method
    # no constraint at all: plain gradient descent
    res = minimize(
        lambda x: ((x - 3.0) ** 2).sum(), np.zeros((2, 2)), method="gda", max_iter=500, lr=0.1
    )
    assert (
        res.x.shape == (2, 2) and np.allclose(res.x, 3.0) and res.multipliers == [] and res.success
    )


def test_infeasible_result_reports_failure():
    # FP with a small penalty stops short of the level: success is False
    res = minimize(
        lambda x: -x.sum(),
        [0.0],
        [Inequality(lambda x: x.sum(), upper=1.0)],
        method=FixedPenalty(penalty=0.5),
        lr=0.05,
        max_iter=200,
    )
    # x climbs by 0.05 a step to the level, then by 0.05 * (1 - 0.5): 1 + 180 * 0.025
    assert res.x[0] == pytest.approx(5.5)
    assert not res.success and res.status == 1 and res.constr_violation == pytest.approx(4.5)
    assert res.maxcv == res.constr_violation and res.multipliers[0].tolist() == [0.5]


def test_bounds_are_enforced_by_projection_after_every_step():
    seen = []
    res = minimize(
        lambda x: -(x * torch.tensor([1.0, 2.0, -1.0], dtype=x.dtype)).sum(),
        [0.5, 0.5, 0.5],
        method="gda",
        bounds=[(0.0, 1.0), (None, 2.0), (-0.25, None)],
        lr=0.3,
        max_iter=20,
        inner_steps=1,
        callback=lambda xk: seen.append(xk),
    )
    seen = np.array(seen)
    assert np.all(seen[:, 0] <= 1.0) and np.all(seen[:, 1] <= 2.0) and np.all(seen[:, 2] >= -0.25)
    np.testing.assert_allclose(res.x, [1.0, 2.0, -0.25])
    # a starting point outside the box is projected first; scipy Bounds work too
    res = minimize(
        lambda x: (x**2).sum(),
        [5.0, -5.0],
        method="gda",
        bounds=Bounds([1.0, -np.inf], [2.0, -1.0]),
        lr=0.1,
        max_iter=300,
    )
    np.testing.assert_allclose(res.x, [1.0, -1.0])


def test_proxy_constraint_drives_the_multiplier_with_the_true_rate():
    # maximise a threshold x while at most 30% of 101 points lie below it. The
    # count is piecewise constant; a smooth surrogate supplies the gradient. The
    # surrogate here is deliberately biased (it lags the true rate by 0.1), so
    # a solver whose multiplier followed it would stop near x = 0.4.
    pts = torch.linspace(0.0, 1.0, 101, dtype=torch.float64)

    def rate(x):
        return (pts < x).double().mean()

    def lagging(x):
        return torch.sigmoid((x - 0.1 - pts) / 0.02).mean()

    method = GDA(dual_lr=0.5, dual_optimizer="pi", kp=20.0)
    res = minimize(
        lambda x: -x.sum(),
        [0.0],
        [Inequality(rate, upper=0.3, proxy=lagging)],
        method=method,
        lr=0.01,
        max_iter=800,
    )
    assert 0.29 <= res.x[0] <= 0.31
    assert res.constraint_values[0][0] <= 0.3 + 1 / 101  # within one point of the level
    # stationarity: lambda * d(surrogate)/dx = 1, with a slope of about 1 per unit
    assert res.multipliers[0][0] == pytest.approx(1.0, abs=0.1)
    # the same surrogate as the constraint itself ends where the surrogate says
    res = minimize(
        lambda x: -x.sum(),
        [0.0],
        [Inequality(lagging, upper=0.3)],
        method=method,
        lr=0.01,
        max_iter=800,
    )
    assert res.x[0] == pytest.approx(0.4, abs=0.01) and float(rate(torch.tensor(res.x[0]))) > 0.35


def test_sal_through_minimize_with_sgd_inner_steps():
    qp = make_qp(5, 3, 1)
    x_ref, lam_ref, _ = kkt_solution(*qp)
    # with plain SGD, mu_max must keep lr * mu_max * ||grad c||^2 below 2
    res = solve_qp(qp, SAL(mu_init=1.0, mu_max=10.0), lr=0.1, inner_steps=50, max_iter=1000)
    np.testing.assert_allclose(res.x, x_ref, atol=1e-4)
    np.testing.assert_allclose(res.multipliers[0], lam_ref, atol=1e-3)
    assert res.n_outer == 20 and all(h["penalty"] <= 10.0 for h in res.history)
    # stopping tolerances end the solve early
    res = solve_qp(
        qp, SAL(mu_init=1.0, mu_max=10.0, tol_violation=1e-8), lr=0.1, inner_steps=50, max_iter=1000
    )
    assert res.n_outer < 20 and "stopping tolerances" in res.message and res.success


def test_random_state_seeds_and_restores_the_rng():
    def noisy(x):
        return ((x - 1.0 - 0.1 * torch.randn_like(x)) ** 2).sum()

    state = torch.random.get_rng_state()
    r1 = minimize(noisy, [0.0, 0.0], method="gda", random_state=3, max_iter=50)
    r2 = minimize(noisy, [0.0, 0.0], method="gda", random_state=3, max_iter=50)
    r3 = minimize(noisy, [0.0, 0.0], method="gda", random_state=4, max_iter=50)
    assert torch.equal(torch.random.get_rng_state(), state)
    np.testing.assert_array_equal(r1.x, r2.x)
    assert r1.fun == r2.fun  # the final evaluation of `fun` is seeded too
    assert not np.array_equal(r1.x, r3.x)


def test_validation_errors_name_the_parameter():
    def f(x):
        return (x**2).sum()

    with pytest.raises(TypeError, match="Inequality or Equality"):
        minimize(f, [0.0], [lambda x: x])
    with pytest.raises(ValueError, match="bounds"):
        minimize(f, [0.0, 1.0], bounds=[(0, 1)])
    with pytest.raises(ValueError, match="low <= high"):
        minimize(f, [0.0], bounds=[(1, 0)])
    with pytest.raises(ValueError, match="max_iter"):
        minimize(f, [0.0], max_iter=0)
    with pytest.raises(ValueError, match="Unknown `method`"):
        minimize(f, [0.0], method="newton")
    with pytest.raises(ValueError, match="upper"):
        minimize(f, [0.0], [Inequality(lambda x: x, upper=None)])
    with pytest.raises(TypeError, match="callable"):
        minimize(f, [0.0], [Equality("x", target=1.0)])
    with pytest.raises(ValueError, match="finite"):
        minimize(f, [math.nan])
    with pytest.raises(ValueError, match="scalar"):
        minimize(lambda x: x * 2, [0.0, 1.0])


def test_two_sided_and_vector_constraints():
    # 0.2 <= x_i <= 0.4 for a vector x pulled towards 1 and -1
    target = torch.tensor([1.0, -1.0], dtype=torch.float64)
    res = minimize(
        lambda x: ((x - target) ** 2).sum(),
        [0.0, 0.0],
        [Inequality(lambda x: x, upper=0.4, lower=0.2)],
        method=GDA(dual_lr=1.0, augmented=True, penalty=1.0),
        lr=0.1,
        max_iter=1500,
    )
    np.testing.assert_allclose(res.x, [0.4, 0.2], atol=1e-6)
    # one multiplier per entry and side: upper side first, then lower
    np.testing.assert_allclose(res.multipliers[0], [1.2, 0.0, 0.0, 2.4], atol=1e-5)
