"""GDA: hand-computed steps, dual optimizers, the augmented Lagrangian, Example 1.

The per-step mathematics is driven through ``bind``, ``observe``, ``loss``,
``after_step`` and ``dual_step``; then the dual optimizers (SGD, PI, nuPI),
the augmented Lagrangian, and Example 1 of Ramirez et al. (the concave 2D
problem) solved through ``optim.minimize``: nuPI and the augmented Lagrangian
recover the known solution, plain GDA oscillates.
"""

import math

import numpy as np
import pytest
import torch

from sklearn_constrained.methods import GDA
from sklearn_constrained.optim import Inequality, minimize

from .conftest import bind, multiplier, set_multipliers, states

ZERO = torch.tensor(0.0, dtype=torch.float64)


def _gda(kind="inequality", **params):
    return bind(GDA(**params), g=kind)


def _steps(m, errors):
    out = []
    for e in errors:
        m.dual_step(states(g=e))
        out.append(multiplier(m, "g")[0])
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


# -- one step by hand --------------------------------------------------------------------------
def test_alternating_dual_step_comes_first_and_projects():
    m = bind(GDA(dual_lr=0.5), g="inequality", h="equality")
    f = torch.tensor(1.0, dtype=torch.float64)
    g = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    h = torch.tensor([-4.0], dtype=torch.float64, requires_grad=True)
    s = states(g=g, h=h)
    m.observe(s)
    loss = m.loss(f, s)
    # lambda = [0 + 0.5 * 2]_+ = 1 ; mu = 0 + 0.5 * (-4) = -2 ; L = 1 + 1*2 + (-2)(-4)
    assert multiplier(m, "g") == [1.0] and multiplier(m, "h") == [-2.0]
    assert float(loss.detach()) == pytest.approx(1 + 2 + 8)
    loss.backward()
    assert g.grad.tolist() == [1.0] and h.grad.tolist() == [-2.0]
    # a satisfied inequality drives its multiplier down, never below zero
    m.observe(states(g=-10.0, h=0.0))
    assert multiplier(m, "g") == [0.0]
    assert multiplier(m, "h") == [-2.0]


def test_simultaneous_order_uses_the_old_multiplier():
    m = _gda(dual_lr=0.5, order="simultaneous")
    g = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    s = states(g=g)
    m.observe(s)
    loss = m.loss(ZERO, s)
    assert float(loss.detach()) == 0.0  # lambda_t = 0 in the primal step
    loss.backward()
    m.after_backward()
    assert multiplier(m, "g") == [0.0]  # not before the primal step is taken
    m.after_step()
    assert multiplier(m, "g") == [1.0]
    m.after_step()  # the pending states are consumed once
    assert multiplier(m, "g") == [1.0]


def test_loss_is_pure_so_repeated_closure_calls_do_not_update_the_duals():
    # the training loop calls observe once per step, loss at every closure call
    m = _gda(dual_lr=1.0)
    s = states(g=1.0)
    m.observe(s)
    for _ in range(3):
        m.loss(ZERO, s)
    assert multiplier(m, "g") == [1.0]


def test_pi_first_step_equals_sgd_then_adds_the_proportional_term():
    m = _gda(dual_lr=0.1, dual_optimizer="pi", kp=2.0)
    m.dual_step(states(g=1.0))
    assert multiplier(m, "g") == pytest.approx([0.1])
    m.dual_step(states(g=3.0))
    # 0.1 + 0.1 * (3 + 2 * (3 - 1))
    assert multiplier(m, "g") == pytest.approx([0.1 + 0.1 * 7.0])


def test_augmented_lagrangian_terms_and_zero_penalty_is_finite():
    m = _gda(dual_lr=1.0, augmented=True, penalty=2.0)
    set_multipliers(m, g=[1.0])
    # lambda + c g >= 0: lambda g + c/2 g^2
    val = m.loss(ZERO, states(g=0.5)) - ZERO
    assert float(val) == pytest.approx(1.0 * 0.5 + 0.5 * 2.0 * 0.25)
    # lambda + c g < 0: -lambda^2 / 2c
    val = m.loss(ZERO, states(g=-1.0)) - ZERO
    assert float(val) == pytest.approx(-1.0 / 4.0)
    # dual ascent on the augmented Lagrangian: lambda + max(g, -lambda/c)
    m.dual_step(states(g=-5.0))
    assert multiplier(m, "g") == [0.5]
    assert m.current_penalty() == 2.0
    m0 = _gda(dual_lr=1.0, augmented=True, penalty=0.0)
    s = states(g=0.0)
    m0.observe(s)
    loss = m0.loss(ZERO, s)
    assert torch.isfinite(loss) and multiplier(m0, "g") == [0.0]


def test_state_dict_round_trip_continues_the_pi_controller():
    errors = [1.0, 3.0, -0.5, 2.0]
    ref = _gda(dual_lr=0.1, dual_optimizer="pi", kp=2.0)
    _steps(ref, errors[:2])
    snapshot = ref.state_dict()
    resumed = _gda(dual_lr=0.1, dual_optimizer="pi", kp=2.0)
    resumed.load_state_dict(snapshot)
    # the stored error travels with the state: the next steps agree exactly
    got = _steps(resumed, errors[2:])
    assert got == _steps(ref, errors[2:])
    assert got == pytest.approx(_nupi_reference(errors, 0.1, 2.0, 0.0)[2:])
    # the snapshot is a copy: the steps taken since left it as it was
    assert snapshot["multipliers"]["g"].tolist() == pytest.approx([0.8])
    assert snapshot["dual_optimizer"]["state"][0]["xi"].tolist() == [3.0]


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
    xi = m.dual_optimizer_.state_dict()["state"][0]["xi"]
    assert xi.tolist() == [errors[0]]
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
        m.dual_step(states(g=g))
        lam = max(lam + c * g, 0.0)  # lambda <- [lambda + c g]_+
        assert multiplier(m, "g") == pytest.approx([lam])
    # a smaller dual step ascends along max(g, -lambda/c)
    m = _gda(dual_lr=1.0, augmented=True, penalty=c)
    set_multipliers(m, g=[0.6])
    m.dual_step(states(g=-1.0))
    assert multiplier(m, "g") == pytest.approx([0.6 + max(-1.0, -0.6 / c)])


def test_augmented_primal_gradients_and_zero_penalty():
    c = 2.0
    m = _gda(dual_lr=1.0, augmented=True, penalty=c)
    for lam, g in [(1.0, 0.5), (1.0, -0.4), (1.0, -1.0)]:
        set_multipliers(m, g=[lam])
        p = torch.tensor([g], dtype=torch.float64, requires_grad=True)
        (m.loss(ZERO, states(g=p)) - ZERO).backward()
        assert float(p.grad) == pytest.approx(max(0.0, lam + c * g))  # eq. 26-27
    me = _gda("equality", augmented=True, penalty=c)
    set_multipliers(me, g=[0.5])
    p = torch.tensor([-0.3], dtype=torch.float64, requires_grad=True)
    (me.loss(ZERO, states(g=p)) - ZERO).backward()
    assert float(p.grad) == pytest.approx(0.5 + c * -0.3)
    # penalty 0: the plain Lagrangian, finite everywhere
    plain, zero = _gda(dual_lr=0.1), _gda(dual_lr=0.1, augmented=True, penalty=0.0)
    for g in [1.0, -5.0, 0.0, -1.0]:
        for m in (plain, zero):
            p = torch.tensor([g], dtype=torch.float64, requires_grad=True)
            s = states(g=p)
            m.observe(s)
            loss = m.loss(ZERO, s)
            loss.backward()
            assert torch.isfinite(loss) and torch.isfinite(p.grad).all()
        assert multiplier(zero, "g") == multiplier(plain, "g")


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
