"""The per-step mathematics of FixedPenalty and GDA on hand-computed examples."""

import pytest
import torch

from sklearn_constrained.constraints import ConstraintEval
from sklearn_constrained.methods import GDA, FixedPenalty, resolve_method


class _Stub:
    def __init__(self, kind):
        self.kind = kind


def _evals(**defects):
    return {n: ConstraintEval(d, d, d) for n, d in defects.items()}


def _setup(method, kinds):
    return method._setup({n: _Stub(k) for n, k in kinds.items()})


def test_gda_alternating_dual_step_first_and_projection():
    m = _setup(GDA(dual_lr=0.5), {"g": "inequality", "h": "equality"})
    f = torch.tensor(1.0)
    g = torch.tensor([2.0], requires_grad=True)
    h = torch.tensor([-4.0], requires_grad=True)
    loss = m._compute_loss(f, _evals(g=g, h=h), update_duals=True)
    # lambda = [0 + 0.5 * 2]_+ = 1 ; mu = 0 + 0.5 * (-4) = -2 ; L = 1 + 1*2 + (-2)(-4)
    assert m.multipliers_["g"].tolist() == [1.0] and m.multipliers_["h"].tolist() == [-2.0]
    assert float(loss.detach()) == pytest.approx(1 + 2 + 8)
    loss.backward()
    assert g.grad.tolist() == [1.0] and h.grad.tolist() == [-2.0]
    # a satisfied inequality drives its multiplier down, never below zero
    m._compute_loss(f, _evals(g=torch.tensor([-10.0]), h=torch.tensor([0.0])), update_duals=True)
    assert m.multipliers_["g"].tolist() == [0.0]
    assert m.multipliers_["h"].tolist() == [-2.0]


def test_gda_simultaneous_uses_old_multiplier():
    m = _setup(GDA(dual_lr=0.5, order="simultaneous"), {"g": "inequality"})
    g = torch.tensor([2.0], requires_grad=True)
    ev = _evals(g=g)
    loss = m._compute_loss(torch.tensor(0.0), ev, update_duals=True)
    assert float(loss.detach()) == 0.0  # lambda_t = 0 in the primal step
    loss.backward()
    m._after_backward(ev, update_duals=True)
    assert m.multipliers_["g"].tolist() == [1.0]


def test_gda_does_not_update_duals_on_repeated_closure_calls():
    m = _setup(GDA(dual_lr=1.0), {"g": "inequality"})
    for first in (True, False, False):
        m._compute_loss(torch.tensor(0.0), _evals(g=torch.tensor([1.0])), update_duals=first)
    assert m.multipliers_["g"].tolist() == [1.0]


def test_pi_first_step_equals_sgd_then_adds_proportional_term():
    m = _setup(GDA(dual_lr=0.1, dual_optimizer="pi", kp=2.0), {"g": "inequality"})
    m._dual_update({"g": torch.tensor([1.0])})
    assert m.multipliers_["g"].tolist() == pytest.approx([0.1])
    m._dual_update({"g": torch.tensor([3.0])})
    # 0.1 + 0.1 * (3 + 2 * (3 - 1))
    assert m.multipliers_["g"].tolist() == pytest.approx([0.1 + 0.1 * 7.0])


def test_augmented_lagrangian_terms_and_zero_penalty_is_finite():
    m = _setup(GDA(dual_lr=1.0, augmented=True, penalty=2.0), {"g": "inequality"})
    m.multipliers_ = {"g": torch.tensor([1.0])}
    # lambda + c g >= 0: lambda g + c/2 g^2
    val = m._lagrangian_terms(_evals(g=torch.tensor([0.5])))
    assert float(val) == pytest.approx(1.0 * 0.5 + 0.5 * 2.0 * 0.25)
    # lambda + c g < 0: -lambda^2 / 2c
    val = m._lagrangian_terms(_evals(g=torch.tensor([-1.0])))
    assert float(val) == pytest.approx(-1.0 / 4.0)
    # dual ascent on the augmented Lagrangian: lambda + max(g, -lambda/c)
    m._dual_update({"g": torch.tensor([-5.0])})
    assert m.multipliers_["g"].tolist() == [0.5]
    m0 = _setup(GDA(dual_lr=1.0, augmented=True, penalty=0.0), {"g": "inequality"})
    loss = m0._compute_loss(torch.tensor(0.0), _evals(g=torch.tensor([0.0])), update_duals=True)
    assert torch.isfinite(loss) and m0.multipliers_["g"].tolist() == [0.0]


def test_fixed_penalty_is_hinge_times_coefficient():
    m = _setup(FixedPenalty(penalty={"g": 3.0}), {"g": "inequality", "h": "equality"})
    loss = m._compute_loss(
        torch.tensor(1.0),
        _evals(g=torch.tensor([2.0, -1.0]), h=torch.tensor([-0.5])),
        update_duals=True,
    )
    assert float(loss) == pytest.approx(1.0 + 3.0 * 2.0 + 1.0 * 0.5)
    assert m._multipliers_numpy()["g"].tolist() == [3.0, 3.0]
    with pytest.raises(ValueError, match="unknown constraints"):
        _setup(FixedPenalty(penalty={"nope": 1.0}), {"g": "inequality"})


def test_resolve_method_returns_fresh_objects():
    m = GDA(dual_lr=0.2)
    r = resolve_method(m)
    assert r is not m and r.dual_lr == 0.2
    assert isinstance(resolve_method("FP"), FixedPenalty)
