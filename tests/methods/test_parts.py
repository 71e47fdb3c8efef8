"""The parts the methods are built from (issue 15), against hand-computed values.

- :class:`Multiplier` / :class:`Multipliers`: projection (inequalities
  ``>= 0``, equalities free), lazy creation from the first strict violation,
  ``state_dict`` / ``load_state_dict``;
- the formulations :class:`Lagrangian`, :class:`AugmentedLagrangian` and
  :class:`ExactPenalty`: primal terms, their gradients and the dual gradients,
  for equalities and inequalities, vector-valued;
- the dual optimizers: :class:`NuPI` (``nu=0`` is PI, ``kp=0`` gradient
  ascent) and ``make_dual_optimizer("sgd")``, projected gradient ascent once
  the multipliers project themselves;
- the extension point: a new dual update written as one small
  ``torch.optim.Optimizer`` and used by GDA-like code built from the public
  parts, without touching the library.
"""

import copy

import numpy as np
import pytest
import torch

from sklearn_constrained.constraints import ConstraintState
from sklearn_constrained.methods import (
    GDA,
    AugmentedLagrangian,
    ConstrainedMethod,
    ExactPenalty,
    FixedPenalty,
    Lagrangian,
    Multiplier,
    Multipliers,
    NuPI,
    make_dual_optimizer,
    resolve_method,
    set_dual_gradients,
)
from sklearn_constrained.optim import Inequality, minimize


def _t(*values):
    return torch.tensor(values, dtype=torch.float64)


def _state(strict):
    return ConstraintState(strict, strict, strict)


# -- multipliers -----------------------------------------------------------------------------------
def test_multiplier_projection_keeps_inequalities_nonnegative_and_equalities_free():
    ineq = Multiplier(_t(0.3, -2.0, 1.0), "inequality")
    eq = Multiplier(_t(0.3, -2.0, 1.0), "equality")
    # created at zero, shaped and typed like the strict violation
    assert ineq.value.tolist() == [0.0, 0.0, 0.0] and ineq.value.dtype == torch.float64
    for m in (ineq, eq):
        m.value.copy_(_t(0.5, -1.0, 0.0))
    tensor = ineq.value
    assert ineq.project_() is ineq and ineq.value is tensor  # in place
    assert ineq.value.tolist() == [0.5, 0.0, 0.0]
    assert eq.project_().value.tolist() == [0.5, -1.0, 0.0]
    # the report is a float64 copy, detached from later in-place updates
    report = ineq.numpy()
    ineq.value.add_(1.0)
    assert report.dtype == np.float64 and report.tolist() == [0.5, 0.0, 0.0]
    assert Multiplier(torch.tensor(2.0), "inequality").numpy().shape == (1,)


def test_multipliers_are_created_on_first_use_and_round_trip():
    ms = Multipliers({"g": "inequality", "h": "equality"})
    assert len(ms) == 0
    assert ms.ensure({"g": _state(_t(1.0, -1.0)), "h": _state(_t(0.5))}) is True
    assert ms.ensure({"g": _state(_t(7.0, 7.0))}) is False  # nothing new
    assert ms["g"].value.shape == (2,) and ms["h"].value.shape == (1,)
    assert ms["g"].kind == "inequality" and ms["h"].kind == "equality"
    assert [t.shape for t in ms.tensors()] == [(2,), (1,)]
    ms["g"].value.copy_(_t(0.25, 2.0))
    ms["h"].value.copy_(_t(-3.0))
    state = ms.state_dict()
    ms["g"].value.zero_()  # the state is a copy
    assert state["g"].tolist() == [0.25, 2.0] and state["h"].tolist() == [-3.0]
    assert {k: v.tolist() for k, v in ms.numpy().items()} == {"g": [0.0, 0.0], "h": [-3.0]}
    # loading restores the values in place (a dual optimizer keeps its tensors) ...
    tensor = ms["g"].value
    ms.load_state_dict(state)
    assert ms["g"].value is tensor and ms["g"].value.tolist() == [0.25, 2.0]
    # ... and creates the multipliers a fresh fit has not seen yet
    fresh = Multipliers({"g": "inequality", "h": "equality"})
    fresh.load_state_dict(state)
    assert fresh["g"].value.tolist() == [0.25, 2.0] and fresh["h"].kind == "equality"
    assert fresh["g"].value is not state["g"]


# -- formulations ----------------------------------------------------------------------------------
def _term_and_grads(formulation, lam, violation, kind):
    lam = lam.clone().requires_grad_(True)
    v = violation.clone().requires_grad_(True)
    term = formulation.term(lam, v, kind)
    term.backward()
    return float(term.detach()), v.grad.tolist(), lam.grad.tolist()


def test_lagrangian_term_and_dual_gradient():
    f = Lagrangian()
    # equality, vector: lambda' h = 2 * 0.5 + (-1) * 3
    term, dv, dlam = _term_and_grads(f, _t(2.0, -1.0), _t(0.5, 3.0), "equality")
    assert term == pytest.approx(-2.0) and dv == [2.0, -1.0] and dlam == [0.5, 3.0]
    # inequality: the same bilinear term; the dual gradient is the strict violation
    term, dv, _ = _term_and_grads(f, _t(1.0, 0.0), _t(-0.5, 2.0), "inequality")
    assert term == pytest.approx(-0.5) and dv == [1.0, 0.0]
    strict = _t(-0.5, 2.0)
    assert f.dual_gradient(_t(1.0, 0.0), strict, "inequality").tolist() == [-0.5, 2.0]
    assert f.term(_t(3.0), _t(2.0), "inequality").dim() == 0


def test_augmented_lagrangian_inequality_vector():
    c = 2.0
    f = AugmentedLagrangian(penalty=c)
    lam, g = _t(1.0, 0.0, 0.5), _t(0.5, -1.0, -1.0)
    # relu(lambda + c g) = relu(2, -2, -1.5) = (2, 0, 0)
    # term = (||(2, 0, 0)||^2 - ||lambda||^2) / (2c) = (4 - 1.25) / 4
    term, dv, dlam = _term_and_grads(f, lam, g, "inequality")
    assert term == pytest.approx(2.75 / 4)
    assert dv == pytest.approx([2.0, 0.0, 0.0])  # max(0, lambda + c g)
    # the dual gradient max(g, -lambda/c) = (0.5, 0, -0.25) is the term's gradient in lambda
    dual = f.dual_gradient(lam, g, "inequality")
    assert dual.tolist() == pytest.approx([0.5, 0.0, -0.25])
    assert dlam == pytest.approx(dual.tolist())


def test_augmented_lagrangian_equality_vector_and_zero_penalty():
    c = 2.0
    f = AugmentedLagrangian(penalty=c)
    lam, h = _t(1.0, -2.0), _t(0.5, -1.0)
    # lambda' h + c/2 ||h||^2 = (0.5 + 2) + (0.25 + 1)
    term, dv, dlam = _term_and_grads(f, lam, h, "equality")
    assert term == pytest.approx(3.75)
    assert dv == pytest.approx([2.0, -4.0])  # lambda + c h
    assert dlam == pytest.approx([0.5, -1.0])
    assert f.dual_gradient(lam, h, "equality").tolist() == [0.5, -1.0]
    # penalty 0 is the plain Lagrangian, for both kinds
    zero = AugmentedLagrangian(penalty=0.0)
    for kind in ("equality", "inequality"):
        assert _term_and_grads(zero, lam, h, kind) == _term_and_grads(Lagrangian(), lam, h, kind)
        assert zero.dual_gradient(lam, h, kind).tolist() == h.tolist()


def test_exact_penalty_terms():
    f = ExactPenalty()
    g = _t(-1.0, 0.5, 2.0).requires_grad_(True)
    term = f.term(3.0, g, "inequality")  # 3 * (0 + 0.5 + 2)
    term.backward()
    assert float(term.detach()) == pytest.approx(7.5) and g.grad.tolist() == [0.0, 3.0, 3.0]
    h = _t(-0.5, 0.25).requires_grad_(True)
    term = f.term(3.0, h, "equality")  # 3 * (0.5 + 0.25)
    term.backward()
    assert float(term.detach()) == pytest.approx(2.25) and h.grad.tolist() == [-3.0, 3.0]


# -- dual optimizers -------------------------------------------------------------------------------
ERRORS = [1.0, 0.0, -2.0, 1.0]


def _run(opt_factory, errors, project=None):
    lam = torch.zeros(1, dtype=torch.float64)
    opt = opt_factory([lam])
    out = []
    for e in errors:
        lam.grad = _t(e)
        opt.step()
        if project is not None:
            lam.clamp_(min=0)
        out.append(float(lam))
    return out


def test_nupi_against_a_hand_computed_sequence():
    # lr 0.5, kp 2, nu 0.5; xi_0 = e_0 and the first step is gradient ascent:
    #   1. lambda = 0.5 * 1                                      = 0.5
    #   2. xi = 0.5;   lambda = 0.5 + 0.5 * (0 + 2 (0.5 - 1))    = 0.0
    #   3. xi = -0.75; lambda = 0 + 0.5 * (-2 + 2 (-0.75 - 0.5)) = -2.25
    #   4. xi = 0.125; lambda = -2.25 + 0.5 * (1 + 2 (0.875))    = -0.875
    got = _run(lambda p: NuPI(p, lr=0.5, kp=2.0, nu=0.5), ERRORS)
    assert got == pytest.approx([0.5, 0.0, -2.25, -0.875])
    # nu = 0 is PI: lambda += lr (e_t + kp (e_t - e_{t-1}))
    pi = _run(lambda p: NuPI(p, lr=0.5, kp=2.0, nu=0.0), ERRORS)
    assert pi == pytest.approx([0.5, -0.5, -3.5, 0.0])
    assert _run(lambda p: make_dual_optimizer("pi", p, 0.5, kp=2.0, nu=0.9), ERRORS) == pi
    nupi = _run(lambda p: make_dual_optimizer("nupi", p, 0.5, kp=2.0, nu=0.5), ERRORS)
    assert nupi == got
    # kp = 0 is gradient ascent: the running sum of lr * e
    ascent = [0.5, 0.5, -0.5, 0.0]
    assert _run(lambda p: NuPI(p, lr=0.5, kp=0.0, nu=0.5), ERRORS) == pytest.approx(ascent)
    sgd = _run(lambda p: torch.optim.SGD(p, lr=0.5, maximize=True), ERRORS)
    assert sgd == pytest.approx(ascent)


def test_nupi_is_per_entry_and_skips_tensors_without_a_gradient():
    lam, other = torch.zeros(2, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    opt = NuPI([lam, other], lr=0.5, kp=2.0)
    for e in ([1.0, 0.0], [0.0, -2.0]):
        lam.grad = _t(*e)
        opt.step()
    # entry 0: 0.5 then 0.5 + 0.5 (0 + 2 (0 - 1)); entry 1: 0 then 0.5 (-2 + 2 (-2))
    assert lam.tolist() == pytest.approx([-0.5, -3.0]) and other.tolist() == [1.0]


def test_nupi_state_dict_round_trip():
    lam = torch.zeros(1, dtype=torch.float64)
    opt = NuPI([lam], lr=0.5, kp=2.0, nu=0.5)
    for e in ERRORS[:2]:
        lam.grad = _t(e)
        opt.step()
    state = copy.deepcopy(opt.state_dict())  # what a checkpoint stores
    assert state["state"][0]["xi"].tolist() == [0.5]
    assert state["param_groups"][0]["lr"] == 0.5 and state["param_groups"][0]["nu"] == 0.5
    # a new optimizer over a copy of the multiplier continues the same sequence
    lam2 = lam.clone()
    opt2 = NuPI([lam2], lr=0.1, kp=0.0, nu=0.0)  # hyperparameters come from the state
    opt2.load_state_dict(state)
    for e in ERRORS[2:]:
        for t, o in ((lam, opt), (lam2, opt2)):
            t.grad = _t(e)
            o.step()
        assert lam2.tolist() == lam.tolist()
    assert lam.tolist() == pytest.approx([-0.875])


@pytest.mark.parametrize(
    "kwargs, match", [({"lr": 0.0}, "lr"), ({"kp": -1.0}, "kp"), ({"nu": 1.0}, "nu")]
)
def test_nupi_validates_its_hyperparameters(kwargs, match):
    params = {"lr": 0.1, **kwargs}
    with pytest.raises(ValueError, match=match):
        NuPI([torch.zeros(1)], **params)


def test_sgd_dual_optimizer_is_projected_gradient_ascent():
    ms = Multipliers({"g": "inequality", "h": "equality"})
    ms.ensure({"g": _state(_t(0.0, 0.0)), "h": _state(_t(0.0))})
    opt = make_dual_optimizer("sgd", ms.tensors(), 0.5)
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["maximize"]
    lam_g, lam_h = [0.0, 0.0], [0.0]
    for g, h in [([2.0, -1.0], [-4.0]), ([-3.0, 1.0], [1.0]), ([0.5, -0.5], [2.0])]:
        set_dual_gradients(ms, {"g": _t(*g), "h": _t(*h)})
        opt.step()
        for m in ms.values():
            m.project_()
        # lambda_g <- [lambda_g + lr g]_+ ; lambda_h <- lambda_h + lr h
        lam_g = [max(a + 0.5 * b, 0.0) for a, b in zip(lam_g, g, strict=True)]
        lam_h = [a + 0.5 * b for a, b in zip(lam_h, h, strict=True)]
        assert ms["g"].value.tolist() == pytest.approx(lam_g)
        assert ms["h"].value.tolist() == pytest.approx(lam_h)
    # the projection mattered: unprojected ascent would end at 0.5 * (-0.5, -0.5)
    assert lam_g == pytest.approx([0.25, 0.25]) and lam_h == pytest.approx([-0.5])


# -- the extension point: a new dual update in one small class -------------------------------
class OptimisticAscent(torch.optim.Optimizer):
    """Optimistic gradient ascent: ``lambda += lr * (2 e_t - e_{t-1})`` (first step: ``lr e_0``).

    All a new dual update needs: a ``torch.optim.Optimizer`` that ascends the
    multipliers along their ``.grad``; ``state_dict()`` comes for free.
    """

    def __init__(self, params, lr):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                previous = state.get("previous", p.grad)
                p.add_(2 * p.grad - previous, alpha=group["lr"])
                state["previous"] = p.grad.clone()


class OptimisticGDA(ConstrainedMethod):
    """GDA with :class:`OptimisticAscent`, from the library's public parts only."""

    def __init__(self, dual_lr=0.5):
        self.dual_lr = dual_lr

    def bind(self, evaluators, *, device=None, dtype=None):
        super().bind(evaluators, device=device, dtype=dtype)
        self.formulation_, self.dual_optimizer_ = Lagrangian(), None
        return self

    def observe(self, states):  # the dual step, before the primal loss (alternating)
        if self.multipliers_.ensure(states):
            self.dual_optimizer_ = OptimisticAscent(self.multipliers_.tensors(), self.dual_lr)
        f = self.formulation_
        grads = {
            n: f.dual_gradient(self.multipliers_[n].value, s.strict_violation, self.kinds_[n])
            for n, s in states.items()
        }
        set_dual_gradients(self.multipliers_, grads)
        self.dual_optimizer_.step()
        for m in self.multipliers_.values():
            m.project_()

    def loss(self, objective, states):
        f = self.formulation_
        terms = [
            f.term(self.multipliers_[n].value, s.violation, self.kinds_[n])
            for n, s in states.items()
        ]
        return objective + sum(terms)

    def state_dict(self):
        return {**super().state_dict(), "dual": copy.deepcopy(self.dual_optimizer_.state_dict())}


def test_optimistic_ascent_matches_its_hand_computed_sequence():
    # lambda: 0.5 * 1; + 0.5 (0 - 1); + 0.5 (-4 - 0); + 0.5 (2 + 2)
    got = _run(lambda p: OptimisticAscent(p, lr=0.5), ERRORS)
    assert got == pytest.approx([0.5, 0.0, -2.0, 0.0])
    # it is PI with kp = 1 (Ramirez & Lacoste-Julien): a cross-check with NuPI
    assert got == pytest.approx(_run(lambda p: NuPI(p, lr=0.5, kp=1.0), ERRORS))


def test_a_new_dual_update_plugs_into_minimize_without_touching_the_library():
    # min x1^2 + x2^2  s.t.  x1 + x2 >= 1: x* = (0.5, 0.5), lambda* = 1
    problem = dict(
        fun=lambda x: (x**2).sum(),
        x0=[0.0, 0.0],
        constraints=[Inequality(lambda x: 1 - x.sum(), upper=0.0)],
        lr=0.1,
        max_iter=2000,
    )
    method = OptimisticGDA(dual_lr=0.5)
    res = minimize(**problem, method=method)
    np.testing.assert_allclose(res.x, [0.5, 0.5], atol=1e-8)
    np.testing.assert_allclose(res.multipliers[0], [1.0], atol=1e-8)
    assert res.constr_violation <= 1e-8
    assert not hasattr(method, "multipliers_")  # minimize fitted a clone
    # the optimizer's state (the last dual gradient, 1 - x1 - x2 = 0) checkpoints for free
    previous = res.method.state_dict()["dual"]["state"][0]["previous"]
    assert float(previous) == pytest.approx(0.0, abs=1e-8)
    # step for step the library's GDA with PI at kp = 1
    ref = minimize(**problem, method=GDA(dual_lr=0.5, dual_optimizer="pi", kp=1.0))
    np.testing.assert_allclose(res.x, ref.x, rtol=0, atol=1e-12)
    hist = [h["multipliers"]["c0"] for h in res.history]
    assert hist == pytest.approx([h["multipliers"]["c0"] for h in ref.history], abs=1e-12)


# -- the names -------------------------------------------------------------------------------------
def test_resolve_method_returns_fresh_objects():
    m = GDA(dual_lr=0.2)
    r = resolve_method(m)
    assert r is not m and r.dual_lr == 0.2
    assert isinstance(resolve_method("FP"), FixedPenalty)
    assert isinstance(resolve_method(OptimisticGDA), OptimisticGDA)
    with pytest.raises(ValueError, match="Unknown `method`"):
        resolve_method("newton")
