"""The fused per-step dual updates against the generic paths they replace.

GDA's ``dual_optimizer="sgd"`` updates the multipliers with two in-place ops
per constraint instead of ``torch.optim.SGD(maximize=True)`` and a
projection; Auto's PI update and augmented term are fused the same way. The
fused paths must give the same multipliers (bit for bit for the dual steps)
and the same primal terms (up to rounding).
"""

import copy

import pytest
import torch

from sklearn_constrained.methods import GDA, Auto
from sklearn_constrained.methods._formulations import augmented_term

from .conftest import bind, states

# vector-valued violations, both signs, over a few steps
G = [[0.5, -1.0, 2.0], [-0.25, 3.0, -2.0], [1.5, -0.5, 0.125], [-3.0, 0.75, 1.0]]
H = [[-1.0, 0.5], [2.0, -0.25], [0.3, 0.7], [-0.6, 1.1]]


class AscentSGD(torch.optim.SGD):
    """``torch.optim.SGD(maximize=True)`` passed as a class: the generic torch.optim path."""

    def __init__(self, params, lr):
        super().__init__(params, lr=lr, maximize=True, foreach=False)


def _multipliers(m):
    return {n: mult.value.clone() for n, mult in m.multipliers_.items()}


def _run(method, steps=G, eq=H):
    m = bind(method, g="inequality", h="equality")
    out = []
    for g, h in zip(steps, eq, strict=True):
        m.dual_step(states(g=g, h=h))
        out.append(_multipliers(m))
    return m, out


@pytest.mark.parametrize("augmented", [False, True])
def test_fused_sgd_step_equals_the_torch_optim_path(augmented):
    params = dict(dual_lr=0.3, augmented=augmented, penalty=0.7)
    fused, got = _run(GDA(**params))
    generic, want = _run(GDA(dual_optimizer=AscentSGD, **params))
    assert fused._fused and not generic._fused
    for a, b in zip(got, want, strict=True):
        for name in ("g", "h"):
            assert torch.equal(a[name], b[name]), (name, a[name], b[name])
    assert all((o["g"] >= 0).all() for o in got)  # projected
    assert any((o["h"] < 0).any() for o in got)  # free


def test_fused_sgd_keeps_the_state_dict_format_and_its_step_size():
    m, _ = _run(GDA(dual_lr=0.3), G[:2], H[:2])
    snapshot = m.state_dict()
    # the torch.optim.SGD state_dict, as before the fused path
    assert snapshot["dual_optimizer"]["param_groups"][0]["lr"] == 0.3
    assert snapshot["dual_optimizer"]["param_groups"][0]["maximize"] is True
    resumed = bind(GDA(dual_lr=0.3), g="inequality", h="equality")
    resumed.load_state_dict(copy.deepcopy(snapshot))
    for g, h in zip(G[2:], H[2:], strict=True):
        m.dual_step(states(g=g, h=h))
        resumed.dual_step(states(g=g, h=h))
    for name in ("g", "h"):
        assert torch.equal(m.multipliers_[name].value, resumed.multipliers_[name].value)
    # the step is the optimizer's (a loaded state's or a scheduler's), as in torch.optim
    resumed.dual_optimizer_.param_groups[0]["lr"] = 1.0
    before = resumed.multipliers_["h"].value.clone()
    resumed.dual_step(states(g=[0.0, 0.0, 0.0], h=[1.0, -2.0]))
    assert torch.equal(resumed.multipliers_["h"].value, before + torch.tensor([1.0, -2.0]).double())


def _auto_reference(m, steps, name, kind):
    """The PI recurrence of ``method="auto"`` written out (the unfused update)."""
    s, eta, kp = m.scales_[name], m.dual_steps_[name], float(m.kp)
    lam, prev, out = torch.zeros(len(steps[0]), dtype=torch.float64), None, []
    for g in steps:
        e = torch.tensor(g, dtype=torch.float64) / s
        if prev is None:
            lam = lam + eta * e
        else:
            lam = lam + e * (eta * (1.0 + kp)) - prev * (eta * kp)
        prev = e.clone()
        if kind == "inequality":
            lam = lam.clamp(min=0)
        out.append(lam)
    return out


def test_auto_dual_step_follows_the_pi_recurrence():
    m = bind(Auto(), g="inequality", h="equality")
    first = states(g=G[0], h=H[0])
    m.observe(first)  # the first step fixes the scales
    m.loss(torch.tensor(2.0, dtype=torch.float64), first)
    got = []
    for g, h in zip(G, H, strict=True):
        m.observe(states(g=g, h=h))
        got.append(_multipliers(m))
    for name, kind, steps in (("g", "inequality", G), ("h", "equality", H)):
        want = _auto_reference(m, steps, name, kind)
        for a, b in zip(got, want, strict=True):
            assert torch.allclose(a[name], b, rtol=1e-12, atol=1e-12), (name, a[name], b)
    # the stored error is a copy, not the state's tensor
    snapshot = m.state_dict()
    assert snapshot["prev_error"]["h"].tolist() == pytest.approx(
        (torch.tensor(H[-1]) / m.scales_["h"]).tolist()
    )


@pytest.mark.parametrize("kind", ["inequality", "equality"])
@pytest.mark.parametrize("c", [0.0, 0.5, 3.0])
def test_fused_augmented_term_equals_the_formula(kind, c):
    lam = torch.tensor([0.0, 1.5, 0.2, 2.0], dtype=torch.float64)
    g0 = torch.tensor([-2.0, 0.5, -0.01, -1.0], dtype=torch.float64)
    g = g0.clone().requires_grad_(True)
    term = augmented_term(lam, g, kind, c)
    term.backward()
    if c == 0:
        want, grad = (lam * g0).sum(), lam
    elif kind == "inequality":
        shifted = torch.relu(lam + c * g0)
        want, grad = (shifted.square() - lam.square()).sum() * (0.5 / c), shifted
    else:
        want, grad = (lam * g0 + 0.5 * c * g0.square()).sum(), lam + c * g0
    assert float(term.detach()) == pytest.approx(float(want), rel=1e-12, abs=1e-12)
    assert torch.allclose(g.grad, grad, rtol=1e-12, atol=1e-12)
