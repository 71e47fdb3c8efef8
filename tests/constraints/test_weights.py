"""L2Norm, L1Norm and NonNegativity.

Values, gradients (finite differences), strict violations, projections
(against independent solutions), the default parameter selection and the
parameter errors.
"""

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_constrained.constraints import L1Norm, L2Norm, NonNegativity, select_parameters
from sklearn_constrained.models import L0MLP


def _tensors(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(3, 4, generator=g, dtype=torch.float64),
        torch.randn(2, 3, generator=g, dtype=torch.float64),
    ]


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize(
    "constraint, reference",
    [
        (L2Norm(bound=2.0), lambda ts: sum((t**2).sum() for t in ts)),
        (L1Norm(bound=2.0), lambda ts: sum(t.abs().sum() for t in ts)),
        (NonNegativity(), lambda ts: sum(torch.clamp(-t, min=0).sum() for t in ts)),
    ],
)
def test_value_matches_definition(constraint, reference):
    ts = _tensors()
    assert float(constraint.value(ts)) == pytest.approx(float(reference(ts)), rel=1e-12)


@pytest.mark.parametrize("constraint", [L2Norm(bound=2.0), L1Norm(bound=2.0), NonNegativity()])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_matches_finite_differences(constraint, seed):
    ts = [t.requires_grad_() for t in _tensors(seed)]
    # keep entries away from the kinks of |w| and max(0, -w)
    with torch.no_grad():
        for t in ts:
            t.add_(torch.sign(t) * 0.05)
    assert torch.autograd.gradcheck(
        lambda *a: constraint.value(list(a)), tuple(ts), eps=1e-6, atol=1e-6
    )


def test_strict_violation_sign_is_violation():
    ts = [torch.ones(2, 2)]  # sum of squares 4, L1 4
    assert float(L2Norm(bound=3.0).state(ts).strict_violation) == pytest.approx(1.0)
    assert float(L2Norm(bound=5.0).state(ts).strict_violation) == pytest.approx(-1.0)
    assert float(L1Norm(bound=3.5).state(ts).strict_violation) == pytest.approx(0.5)
    assert float(NonNegativity().state(ts).strict_violation) == 0.0
    assert float(NonNegativity().value([-ts[0]])) == pytest.approx(4.0)
    assert float(NonNegativity().state([-ts[0]]).strict_violation) == pytest.approx(4.0)
    # differentiable constraints: the violation that supplies the gradients is the strict one
    for c in (L2Norm(bound=3.0), L1Norm(bound=3.0), NonNegativity()):
        state = c.state(ts)
        assert state.violation is state.strict_violation
        assert float(state.value) == pytest.approx(float(c.value(ts)))


def test_bound_evaluator_reads_the_selected_parameters():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    ev = L2Norm(bound=1.5).bind(net, "l2")
    assert ev.param_names == ["0.weight", "2.weight"]
    assert [id(p) for p in ev.parameters] == [id(net[0].weight), id(net[2].weight)]
    assert ev.kind == "inequality" and ev.has_projection and not ev.requires_data
    state = ev.evaluate()
    expected = sum(float(p.detach().pow(2).sum()) for p in (net[0].weight, net[2].weight))
    assert float(state.value.detach()) == pytest.approx(expected, rel=1e-12)
    assert float(state.strict_violation.detach()) == pytest.approx(expected - 1.5, rel=1e-12)
    # the evaluation is differentiable in the module's parameters
    state.value.backward()
    torch.testing.assert_close(net[0].weight.grad, 2 * net[0].weight.detach())
    assert net[0].bias.grad is None


def _l1_reference(point):
    """Projection onto the unit L1 ball as a smooth program in (v, t): |v| <= t, sum(t) <= 1."""
    from scipy.optimize import minimize

    n = point.size
    cons = [
        {"type": "ineq", "fun": lambda z: z[n:] - z[:n]},
        {"type": "ineq", "fun": lambda z: z[n:] + z[:n]},
        {"type": "ineq", "fun": lambda z: 1.0 - z[n:].sum()},
    ]
    res = minimize(
        lambda z: ((z[:n] - point) ** 2).sum(),
        np.zeros(2 * n),
        constraints=cons,
        method="SLSQP",
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    return res.x[:n]


def _reference_projection(point, cons):
    """The closest point under the constraint by a generic solver (SLSQP, tight tolerance)."""
    from scipy.optimize import minimize

    if cons == "l1":
        return _l1_reference(point)

    best = None
    for x0 in (np.zeros_like(point), point * 0.1, np.abs(point) * 0.1):
        res = minimize(
            lambda v: ((v - point) ** 2).sum(),
            x0,
            jac=lambda v: 2 * (v - point),
            constraints=cons,
            method="SLSQP",
            options={"ftol": 1e-14, "maxiter": 500},
        )
        if best is None or res.fun < best.fun:
            best = res
    return best.x


@pytest.mark.parametrize(
    "constraint, cons, feasible",
    [
        (
            L2Norm(bound=1.0),
            [{"type": "ineq", "fun": lambda v: 1.0 - (v**2).sum()}],
            lambda v: (v**2).sum() <= 1.0 + 1e-9,
        ),
        (L1Norm(bound=1.0), "l1", lambda v: np.abs(v).sum() <= 1.0 + 1e-9),
        (NonNegativity(), [{"type": "ineq", "fun": lambda v: v}], lambda v: (v >= 0).all()),
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_projection_is_feasible_idempotent_and_closest(constraint, cons, feasible, seed):
    point = np.random.RandomState(seed).randn(6) * 1.5
    t = [torch.tensor(point[:4].reshape(2, 2)), torch.tensor(point[4:])]
    constraint.project_(t)
    proj = np.concatenate([x.numpy().ravel() for x in t])
    assert feasible(proj)
    again = [x.clone() for x in t]
    constraint.project_(again)
    np.testing.assert_allclose(np.concatenate([x.numpy().ravel() for x in again]), proj, atol=1e-12)
    np.testing.assert_allclose(proj, _reference_projection(point, cons), atol=1e-5)


def _l1_ball_by_bisection(v, bound):
    if np.abs(v).sum() <= bound:
        return v
    lo, hi = 0.0, np.abs(v).max()
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if np.clip(np.abs(v) - mid, 0, None).sum() > bound:
            lo = mid
        else:
            hi = mid
    return np.sign(v) * np.clip(np.abs(v) - 0.5 * (lo + hi), 0, None)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("bound", [0.0, 0.5, 3.0, 1e3])
def test_norm_ball_projections_on_several_tensors(seed, bound):
    ts = [_randn(3, 4, seed=seed), _randn(2, 2, 2, seed=seed + 7), _randn(5, seed=seed + 9)]
    flat = np.concatenate([t.numpy().ravel() for t in ts])
    l1 = [t.clone() for t in ts]
    L1Norm(bound=bound).project_(l1)
    np.testing.assert_allclose(
        np.concatenate([t.numpy().ravel() for t in l1]),
        _l1_ball_by_bisection(flat, bound),
        atol=1e-10,
    )
    l2 = [t.clone() for t in ts]
    L2Norm(bound=bound).project_(l2)
    norm = np.sqrt((flat**2).sum())
    expected = flat * min(1.0, np.sqrt(bound) / norm)
    np.testing.assert_allclose(
        np.concatenate([t.numpy().ravel() for t in l2]), expected, atol=1e-12
    )
    nn_ = [t.clone() for t in ts]
    NonNegativity().project_(nn_)
    np.testing.assert_array_equal(
        np.concatenate([t.numpy().ravel() for t in nn_]), np.clip(flat, 0, None)
    )


def test_default_selection_is_weight_matrices_only():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.BatchNorm1d(2))
    names = [n for n, _ in select_parameters(net, None)]
    assert names == ["0.weight", "2.weight"]
    assert [n for n, _ in select_parameters(net, "*.bias")] == ["0.bias", "2.bias", "3.bias"]
    assert [n for n, _ in select_parameters(net, ["0.*"])] == ["0.weight", "0.bias"]
    assert [n for n, _ in select_parameters(net, lambda n, p: p.numel() == 2)] == [
        "2.bias",
        "3.weight",
        "3.bias",
    ]
    with pytest.raises(ValueError, match="matches no trainable parameter.*Available names"):
        select_parameters(net, "head.*")


def test_gate_parameters_are_left_out_of_the_default_weight_selection():
    net = L0MLP(4, 2, hidden_layer_sizes=(3,))
    b = L2Norm(bound=1.0).bind(net, "l2")
    assert b.param_names == ["layers.0.weight", "layers.2.weight"]


@pytest.mark.parametrize(
    "make, param",
    [
        (lambda: L2Norm(bound=-1), "bound"),
        (lambda: L1Norm(bound="big"), "bound"),
        (lambda: L2Norm(bound=1.0, params=3), "params"),
        (lambda: NonNegativity(params=2.5), "params"),
    ],
)
def test_invalid_parameters_name_the_parameter_and_the_fix(make, param):
    # scikit-learn's declarative validation: an InvalidParameterError, both a
    # ValueError and a TypeError, naming the parameter, the accepted values
    # and (for a level) the class's hint
    c = make()
    with pytest.raises(ValueError, match=f"The '{param}' parameter of {type(c).__name__} must be"):
        c.check_params()
    with pytest.raises(TypeError, match="Got .* instead"):
        c.check_params()
    if param == "bound":
        with pytest.raises(ValueError, match=r"in the range \[0.0, inf\).*Set it to the level"):
            c.check_params()
    else:
        with pytest.raises(ValueError, match="None, an instance of 'str'.*or a callable"):
            c.check_params()


@pytest.mark.parametrize(
    "constraint, reference",
    [
        (L2Norm(bound=2.0), lambda ts: sum((t**2).sum() for t in ts)),
        (L1Norm(bound=2.0), lambda ts: sum(t.abs().sum() for t in ts)),
    ],
)
def test_many_tensors_take_the_fused_path_with_the_same_value_and_gradient(constraint, reference):
    # from four tensors on, the norms come from one fused call
    g = torch.Generator().manual_seed(3)
    ts = [
        torch.randn(k + 2, 3, generator=g, dtype=torch.float64, requires_grad=True)
        for k in range(6)
    ]
    value = constraint.value(ts)
    expected = reference(ts)
    assert float(value.detach()) == pytest.approx(float(expected.detach()), rel=1e-12)
    grads = torch.autograd.grad(value, ts)
    ref_grads = torch.autograd.grad(expected, ts)
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
