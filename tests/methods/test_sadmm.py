"""S-ADMM: the closed-form proximal steps and the split/dual updates.

The projections are checked against brute-force solutions of the projection
problem (scipy's SLSQP on small vectors), S-ADMM against scipy's NNLS and an
analytic multiplier, and the estimator against the feasibility of its split
copy.
"""

import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import minimize as sp_minimize
from scipy.optimize import nnls

from sklearn_constrained import ConstrainedClassifier
from sklearn_constrained.constraints import L1Norm, L2Norm, NonNegativity
from sklearn_constrained.methods import SADMM
from sklearn_constrained.models import Linear
from sklearn_constrained.optim import (
    Inequality,
    minimize,
    project_box,
    project_l1_ball,
    project_l2_ball,
    project_nonnegative,
    project_orthogonal,
    project_simplex,
)


def _brute_projection(v, cons, bounds=None):
    """Argmin ||z - v||^2 under scipy-style constraints, at tight tolerance."""
    res = sp_minimize(
        lambda z: 0.5 * np.sum((z - v) ** 2),
        np.zeros_like(v),
        jac=lambda z: z - v,
        constraints=cons,
        bounds=bounds,
        method="SLSQP",
        options={"ftol": 1e-12, "maxiter": 1000},
    )
    # status 8 ("positive directional derivative") is SLSQP stalling at the
    # optimum to machine precision; the comparisons below check the point.
    assert res.success or res.status == 8, res.message
    return res.x


VECTORS = [np.random.RandomState(s).randn(7) * (1 + s) for s in range(4)]


@pytest.mark.parametrize("v", VECTORS)
def test_nonnegative_and_box_are_clips(v):
    ref = _brute_projection(v, [], bounds=[(0, None)] * len(v))
    np.testing.assert_allclose(project_nonnegative(torch.tensor(v)).numpy(), ref, atol=1e-7)
    ref = _brute_projection(v, [], bounds=[(-0.5, 0.7)] * len(v))
    np.testing.assert_allclose(project_box(torch.tensor(v), -0.5, 0.7).numpy(), ref, atol=1e-7)


@pytest.mark.parametrize("v", VECTORS)
@pytest.mark.parametrize("bound", [0.3, 2.0, 50.0])
def test_l2_ball_projection_is_the_nearest_point(v, bound):
    cons = [{"type": "ineq", "fun": lambda z: bound - z @ z, "jac": lambda z: -2 * z}]
    ref = _brute_projection(v, cons)
    out = project_l2_ball(torch.tensor(v), bound).numpy()
    np.testing.assert_allclose(out, ref, atol=1e-6)
    assert out @ out <= bound * (1 + 1e-12)


@pytest.mark.parametrize("v", VECTORS)
@pytest.mark.parametrize("bound", [0.0, 0.5, 3.0, 100.0])
def test_l1_ball_projection_is_the_nearest_point(v, bound):
    # |z| <= b as a smooth problem: z = p - q with p, q >= 0 and sum(p + q) <= b
    n = len(v)

    def obj(w):
        return 0.5 * np.sum((w[:n] - w[n:] - v) ** 2)

    def jac(w):
        r = w[:n] - w[n:] - v
        return np.concatenate([r, -r])

    res = sp_minimize(
        obj,
        np.zeros(2 * n),
        jac=jac,
        method="SLSQP",
        bounds=[(0, None)] * (2 * n),
        constraints=[
            {"type": "ineq", "fun": lambda w: bound - w.sum(), "jac": lambda w: -np.ones(2 * n)}
        ],
        options={"ftol": 1e-12, "maxiter": 1000},
    )
    ref = res.x[:n] - res.x[n:]
    out = project_l1_ball(torch.tensor(v), bound).numpy()
    np.testing.assert_allclose(out, ref, atol=1e-6)
    assert np.abs(out).sum() <= bound + 1e-9
    # the joint projection of an L1Norm constraint over several tensors agrees
    parts = [torch.tensor(v[:3]).clone(), torch.tensor(v[3:]).reshape(2, 2).clone()]
    L1Norm(bound=bound).project_(parts)
    np.testing.assert_allclose(torch.cat([p.reshape(-1) for p in parts]).numpy(), out, atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_simplex_projection_is_the_nearest_point_per_row(seed):
    x = np.random.RandomState(seed).randn(3, 5) * 2
    out = project_simplex(torch.tensor(x), axis=-1).numpy()
    for row, got in zip(x, out, strict=True):
        ref = _brute_projection(
            row,
            [{"type": "eq", "fun": lambda z: z.sum() - 1, "jac": lambda z: np.ones_like(z)}],
            bounds=[(0, None)] * 5,
        )
        np.testing.assert_allclose(got, ref, atol=1e-6)
    # along another axis: the columns are projected
    out0 = project_simplex(torch.tensor(x), axis=0).numpy()
    np.testing.assert_allclose(out0, project_simplex(torch.tensor(x.T)).numpy().T, atol=1e-12)
    np.testing.assert_allclose(out0.sum(0), 1.0, atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 2, 2, 2)])
def test_orthogonal_projection_is_the_polar_factor(shape):
    rng = np.random.RandomState(0)
    w = torch.tensor(rng.randn(*shape))
    q = project_orthogonal(w)
    m = q.reshape(shape[0], -1)
    small = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(small.numpy(), np.eye(small.shape[0]), atol=1e-10)
    # brute force: no random matrix with orthonormal rows/columns is closer
    best = float(torch.linalg.norm(w - q))
    wm = w.reshape(shape[0], -1)
    for _ in range(2000):
        a = torch.tensor(rng.randn(*wm.shape))
        u, _, vh = torch.linalg.svd(a, full_matrices=False)
        assert float(torch.linalg.norm(wm - u @ vh)) >= best - 1e-12


def test_sadmm_solves_nonnegative_least_squares_like_scipy():
    rng = np.random.RandomState(0)
    A, b = rng.randn(20, 8), rng.randn(20)
    ref, _ = nnls(A, b)
    assert (ref == 0).sum() >= 2  # some bounds are active
    At, bt = torch.tensor(A), torch.tensor(b)
    method = SADMM(rho=1.0)
    res = minimize(
        lambda x: 0.5 * ((At @ x - bt) ** 2).sum(),
        np.zeros(8),
        [Inequality(lambda x: torch.relu(-x).sum(), upper=0.0, prox=project_nonnegative)],
        method=method,
        lr=0.02,
        max_iter=800,
    )
    np.testing.assert_allclose(res.x, ref, atol=1e-6)
    # the split copy is exactly feasible. (Not `success`: sum(relu(-x)) has a zero
    # gradient on the boundary, so the KKT test cannot certify this formulation.)
    assert res.constr_violation == 0.0 and (res.x >= 0).all()
    # both copies are exposed; the returned one is the (feasible) split copy
    np.testing.assert_array_equal(res.method.split_["c0"][0].numpy(), res.x)
    np.testing.assert_allclose(res.method.primal_["c0"][0].numpy(), ref, atol=1e-6)
    assert method.get_params() == {"rho": 1.0, "predict_with": "split"}  # not mutated
    assert not hasattr(method, "split_")


def test_sadmm_multiplier_estimate_on_the_l2_ball():
    # min ||x - a||^2 s.t. ||x||^2 <= 1: x* = a/||a||, lambda* = ||a|| - 1
    a = torch.tensor([3.0, -4.0, 0.0], dtype=torch.float64)
    res = minimize(
        lambda x: ((x - a) ** 2).sum(),
        np.zeros(3),
        [Inequality(lambda x: (x**2).sum(), upper=1.0, prox=lambda v: project_l2_ball(v, 1.0))],
        method=SADMM(rho=2.0),
        lr=0.05,
        max_iter=600,
    )
    np.testing.assert_allclose(res.x, (a / a.norm()).numpy(), atol=1e-6)
    np.testing.assert_allclose(res.multipliers[0], [4.0], atol=1e-4)


def test_sadmm_update_order_on_one_step():
    # z = prox(theta + u), then u += theta - z, with theta after the step
    x0 = np.array([-1.0, 2.0])
    res = minimize(
        lambda x: (x * 0).sum(),
        x0,
        [Inequality(lambda x: torch.relu(-x).sum(), prox=project_nonnegative)],
        method=SADMM(rho=1.0),
        lr=0.5,
        max_iter=1,
        inner_steps=1,
    )
    # z0 = [0, 2], u0 = 0; step: theta = x0 - 0.5 * (x0 - z0) = [-0.5, 2]
    # z1 = clamp(theta + u0) = [0, 2]; u1 = theta - z1 = [-0.5, 0]
    m = res.method
    np.testing.assert_allclose(m.primal_["c0"][0].numpy(), [-0.5, 2.0])
    np.testing.assert_allclose(m.split_["c0"][0].numpy(), [0.0, 2.0])
    np.testing.assert_allclose(m.duals_["c0"][0].numpy(), [-0.5, 0.0])


def test_sadmm_refuses_constraints_without_a_projection():
    with pytest.raises(ValueError, match="closed-form projection"):
        minimize(
            lambda x: (x**2).sum(),
            [1.0],
            [Inequality(lambda x: x.sum(), upper=0.0)],
            method="sadmm",
            max_iter=2,
        )
    with pytest.raises(ValueError, match="predict_with"):
        SADMM(predict_with="z").check_params()
    with pytest.raises(ValueError, match="rho"):
        SADMM(rho=0.0).check_params()


def test_estimator_predicts_with_the_feasible_split_copy(digits):
    Xtr, _, ytr, _ = digits
    kw = dict(
        module=Linear,
        constraints={"nn": NonNegativity(), "l2": L2Norm(bound=4.0)},
        max_epochs=4,
        random_state=0,
    )
    clf = ConstrainedClassifier(method=SADMM(), **kw).fit(Xtr, ytr)
    w = clf.module_.linear.weight.detach()
    # two constraints share the weights: Dykstra's projection onto both
    assert float(w.min()) >= 0.0
    assert float(w.pow(2).sum()) <= 4.0 * (1 + 1e-5)
    assert clf.feasible_
    m = clf.method_
    assert set(m.split_) == set(m.primal_) == {"nn", "l2"}
    assert float(m.primal_["nn"][0].min()) < 0  # the primal copy is not feasible
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # (a huge tol: the infeasible primal copy counts as met, so the last
        # iterate is returned rather than a less violated earlier epoch)
        prim = ConstrainedClassifier(method=SADMM(predict_with="primal"), tol=1e9, **kw).fit(
            Xtr, ytr
        )
    np.testing.assert_array_equal(
        prim.module_.linear.weight.detach().numpy(), prim.method_.primal_["nn"][0].numpy()
    )
    assert len(clf.history_) == 4 and clf.history_[-1]["penalty"] == pytest.approx(0.1)
