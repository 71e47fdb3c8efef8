"""Values, gradients (finite differences) and projections of L2Norm, L1Norm, NonNegativity."""

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_constrained.constraints import L1Norm, L2Norm, NonNegativity, select_parameters


def _tensors(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(3, 4, generator=g, dtype=torch.float64),
        torch.randn(2, 3, generator=g, dtype=torch.float64),
    ]


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
    assert float(constraint.value_of(ts)) == pytest.approx(float(reference(ts)), rel=1e-12)


@pytest.mark.parametrize("constraint", [L2Norm(bound=2.0), L1Norm(bound=2.0), NonNegativity()])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_matches_finite_differences(constraint, seed):
    ts = [t.requires_grad_() for t in _tensors(seed)]
    # keep entries away from the kinks of |w| and max(0, -w)
    with torch.no_grad():
        for t in ts:
            t.add_(torch.sign(t) * 0.05)
    assert torch.autograd.gradcheck(
        lambda *a: constraint.value_of(a), tuple(ts), eps=1e-6, atol=1e-6
    )


def test_defect_sign_is_violation():
    ts = [torch.ones(2, 2)]  # sum of squares 4, L1 4
    assert float(L2Norm(bound=3.0)._defect(L2Norm(bound=3.0).value_of(ts))) == pytest.approx(1.0)
    assert float(L2Norm(bound=5.0)._defect(L2Norm(bound=5.0).value_of(ts))) == pytest.approx(-1.0)
    assert float(NonNegativity()._defect(NonNegativity().value_of(ts))) == 0.0
    assert float(NonNegativity().value_of([-ts[0]])) == pytest.approx(4.0)


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
    constraint._project_(t)
    proj = np.concatenate([x.numpy().ravel() for x in t])
    assert feasible(proj)
    again = [x.clone() for x in t]
    constraint._project_(again)
    np.testing.assert_allclose(np.concatenate([x.numpy().ravel() for x in again]), proj, atol=1e-12)
    np.testing.assert_allclose(proj, _reference_projection(point, cons), atol=1e-5)


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


@pytest.mark.parametrize(
    "constraint, reference",
    [
        (L2Norm(bound=2.0), lambda ts: sum((t**2).sum() for t in ts)),
        (L1Norm(bound=2.0), lambda ts: sum(t.abs().sum() for t in ts)),
    ],
)
def test_many_tensors_take_the_fused_path_with_the_same_value_and_gradient(constraint, reference):
    # from four tensors on, the norms come from one `_foreach_norm` call
    g = torch.Generator().manual_seed(3)
    ts = [
        torch.randn(k + 2, 3, generator=g, dtype=torch.float64, requires_grad=True)
        for k in range(6)
    ]
    value = constraint.value_of(ts)
    expected = reference(ts)
    assert float(value) == pytest.approx(float(expected), rel=1e-12)
    grads = torch.autograd.grad(value, ts)
    ref_grads = torch.autograd.grad(expected, ts)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
