"""GDA's dual optimizers (SGD, PI, nuPI), the augmented Lagrangian, and
Example 1 of Ramirez et al. (the concave 2D problem) solved through
``optim.minimize``: nuPI and the augmented Lagrangian recover the known
solution, plain GDA oscillates.
"""

import math

import numpy as np
import pytest
import torch

from sklearn_constrained.constraints import ConstraintEval
from sklearn_constrained.methods import GDA
from sklearn_constrained.optim import Inequality, minimize


class _Stub:
    def __init__(self, kind):
        self.kind = kind


def _gda(kind="inequality", **params):
    return GDA(**params)._setup({"g": _Stub(kind)})


def _steps(m, errors):
    out = []
    for e in errors:
        m._dual_update({"g": torch.tensor([e], dtype=torch.float64)})
        out.append(float(m.multipliers_["g"]))
    return out


def _nupi_reference(errors, lr, kp, nu, lam0=0.0, project=True):
    """NuPI of Sohrabi et al. (2024) with xi_{-1} = e_0 (first step = SGD)."""
    lam, xi_prev, out = lam0, errors[0], []
    for e in errors:
        xi = nu * xi_prev + (1 - nu) * e
        lam = lam + lr * (e + kp * (xi - xi_prev))
        lam = max(lam, 0.0) if project else lam
        xi_prev = xi
        out.append(lam)
    return out


@pytest.mark.parametrize("nu", [0.0, 0.5, 0.9])
def test_nupi_matches_the_recurrence_with_sgd_initialisation(nu):
    errors = [1.0, 3.0, -0.5, 2.0, -4.0, 0.25]
    m = _gda(dual_lr=0.1, dual_optimizer="nupi", kp=2.0, nu=nu)
    got = _steps(m, errors)
    assert got[0] == pytest.approx(0.1)  # first step = projected gradient ascent
    assert got == pytest.approx(_nupi_reference(errors, 0.1, 2.0, nu))
    # the stored error after the first step is e_0 itself: a stored zero (the
    # slip) would add kp * (1 - nu) * e_1 to the second step
    m = _gda(dual_lr=0.1, dual_optimizer="nupi", kp=2.0, nu=nu)
    _steps(m, errors[:1])
    assert float(m.xi_["g"]) == errors[0]
    second = _steps(m, errors[1:2])[0]
    assert second == pytest.approx(0.1 + 0.1 * (3.0 + 2.0 * (1 - nu) * (3.0 - 1.0)))


def test_pi_ignores_nu_and_kp_zero_is_sgd():
    errors = [1.0, 3.0, -0.5, 2.0]
    pi = _steps(_gda(dual_lr=0.1, dual_optimizer="pi", kp=2.0, nu=0.9), errors)
    assert pi == pytest.approx(_nupi_reference(errors, 0.1, 2.0, 0.0))
    sgd = _steps(_gda(dual_lr=0.1), errors)
    assert _steps(
        _gda(dual_lr=0.1, dual_optimizer="nupi", kp=0.0, nu=0.5), errors
    ) == pytest.approx(sgd)
    # equality multipliers are not projected
    eq = _steps(_gda(kind="equality", dual_lr=0.1, dual_optimizer="pi", kp=2.0), [-1.0, -3.0])
    assert eq == pytest.approx(_nupi_reference([-1.0, -3.0], 0.1, 2.0, 0.0, project=False))


def test_augmented_dual_step_is_the_method_of_multipliers():
    c = 3.0
    m = _gda(dual_lr=c, augmented=True, penalty=c)
    lam = 0.0
    for g in [0.5, -0.1, 0.2, -2.0]:
        m._dual_update({"g": torch.tensor([g], dtype=torch.float64)})
        lam = max(lam + c * g, 0.0)  # lambda <- [lambda + c g]_+
        assert float(m.multipliers_["g"]) == pytest.approx(lam)
    # a smaller dual step ascends along max(g, -lambda/c)
    m = _gda(dual_lr=1.0, augmented=True, penalty=c)
    m.multipliers_ = {"g": torch.tensor([0.6], dtype=torch.float64)}
    m._dual_update({"g": torch.tensor([-1.0], dtype=torch.float64)})
    assert float(m.multipliers_["g"]) == pytest.approx(0.6 + max(-1.0, -0.6 / c))


def test_augmented_primal_gradients_and_zero_penalty():
    c = 2.0
    m = _gda(dual_lr=1.0, augmented=True, penalty=c)
    for lam, g in [(1.0, 0.5), (1.0, -0.4), (1.0, -1.0)]:
        m.multipliers_ = {"g": torch.tensor([lam], dtype=torch.float64)}
        p = torch.tensor([g], dtype=torch.float64, requires_grad=True)
        m._lagrangian_terms({"g": ConstraintEval(p, p, p)}).backward()
        assert float(p.grad) == pytest.approx(max(0.0, lam + c * g))  # eq. 26-27
    me = GDA(augmented=True, penalty=c)._setup({"h": _Stub("equality")})
    me.multipliers_ = {"h": torch.tensor([0.5], dtype=torch.float64)}
    p = torch.tensor([-0.3], dtype=torch.float64, requires_grad=True)
    me._lagrangian_terms({"h": ConstraintEval(p, p, p)}).backward()
    assert float(p.grad) == pytest.approx(0.5 + c * -0.3)
    # penalty 0: the plain Lagrangian, finite everywhere
    plain, zero = _gda(dual_lr=0.1), _gda(dual_lr=0.1, augmented=True, penalty=0.0)
    for g in [1.0, -5.0, 0.0, -1.0]:
        for m in (plain, zero):
            p = torch.tensor([g], dtype=torch.float64, requires_grad=True)
            loss = m._compute_loss(
                torch.tensor(0.0, dtype=torch.float64),
                {"g": ConstraintEval(p, p, p)},
                update_duals=True,
            )
            loss.backward()
            assert torch.isfinite(loss) and torch.isfinite(p.grad).all()
        assert float(zero.multipliers_["g"]) == float(plain.multipliers_["g"])


def test_lbfgs_updates_the_duals_once_per_step():
    # many closure evaluations in the line search, one dual update at x0
    res = minimize(
        lambda x: ((x - 2.0) ** 2).sum(),
        [0.0, 0.0],
        [Inequality(lambda x: x.sum(), upper=1.0)],
        method=GDA(dual_lr=0.25),
        optimizer="lbfgs",
        max_iter=1,
    )
    assert res.multipliers[0].tolist() == [0.0]  # defect at x0 is -1: [0 - 0.25]_+ = 0
    res = minimize(
        lambda x: ((x - 2.0) ** 2).sum(),
        [1.0, 2.0],
        [Inequality(lambda x: x.sum(), upper=1.0)],
        method=GDA(dual_lr=0.25),
        optimizer="lbfgs",
        max_iter=1,
    )
    assert res.multipliers[0].tolist() == [0.5]  # 0.25 * (3 - 1)


# ---------------------------------------------------------------------------
# Example 1 (concave 2D problem): min (1+y^2) cos x  s.t.  (1+y^2) sin x <= eps,
# x in [0, pi/2]. Solution x* = arcsin(eps), y* = 0, lambda* = eps/sqrt(1-eps^2).
# The eight levels are independent problems solved side by side: one row of
# x per level, a vector constraint with one multiplier per level (every update
# is per coordinate, so this is exactly eight separate runs).
# ---------------------------------------------------------------------------
EPS = np.round(np.arange(1, 9) / 10, 1)
X_STAR = np.arcsin(EPS)
LAMBDA_STAR = EPS / np.sqrt(1 - EPS**2)
STEPS = 10_000


def _example_1(method, steps=STEPS, **kwargs):
    def f(v):
        return ((1 + v[:, 1] ** 2) * torch.cos(v[:, 0])).sum()

    def g(v):
        return (1 + v[:, 1] ** 2) * torch.sin(v[:, 0])

    x0 = np.tile([0.05, 0.5], (len(EPS), 1))
    bounds = [(0.0, math.pi / 2), (None, None)] * len(EPS)
    return minimize(
        f,
        x0,
        [Inequality(g, upper=EPS)],
        method=method,
        optimizer="sgd",
        lr=0.01,
        max_iter=steps,
        bounds=bounds,
        **kwargs,
    )


@pytest.mark.parametrize(
    "method",
    [
        GDA(dual_lr=0.3, dual_optimizer="nupi", kp=40.0),  # App. B.1 of Ramirez et al.
        GDA(dual_lr=10.0, augmented=True, penalty=10.0),  # App. D: the augmented Lagrangian
    ],
    ids=["nupi", "augmented"],
)
def test_example_1_is_solved_by_nupi_and_the_augmented_lagrangian(method):
    res = _example_1(method)
    x, y = res.x[:, 0], res.x[:, 1]
    np.testing.assert_allclose(x, X_STAR, atol=1e-3)
    np.testing.assert_allclose(res.multipliers[0], LAMBDA_STAR, atol=1e-2)
    np.testing.assert_allclose(y, 0.0, atol=1e-6)
    assert res.success and res.nit == STEPS


def test_example_1_plain_gda_oscillates():
    xs = []
    # 4,000 steps: the oscillation is established after a few hundred
    res = _example_1(
        GDA(dual_lr=0.3), steps=4000, inner_steps=50, callback=lambda xk: xs.append(xk[:, 0])
    )
    window = np.array(xs[-40:])  # x over the last 2,000 steps
    # it never settles at the solution ...
    assert np.all(np.abs(window - X_STAR).max(axis=0) > 1e-2)
    # ... it keeps oscillating around it (the last level is stuck at the corner x = pi/2)
    swing = window.max(axis=0) - window.min(axis=0)
    assert np.all(swing[:-1] > 1e-2)
    assert res.x[-1, 0] == pytest.approx(math.pi / 2) and res.constraint_values[0][-1] > 0.8
    assert not res.success
