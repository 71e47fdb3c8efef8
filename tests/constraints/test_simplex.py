"""Simplex: value, strict violation, gradients, projection and errors.

The layout of its vector strict violation, gradients (finite differences),
the projection (against brute force) and the parameter errors.
"""

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_constrained.constraints import Simplex
from sklearn_constrained.optim import project_simplex


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _simplex_brute_force(v):
    """Closest point of the simplex by enumerating every support."""
    best, best_d = None, np.inf
    k = len(v)
    for size in range(1, k + 1):
        for support in itertools.combinations(range(k), size):
            w = np.zeros(k)
            s = list(support)
            w[s] = v[s] - (v[s].sum() - 1.0) / size
            if (w >= -1e-15).all():
                d = ((w - v) ** 2).sum()
                if d < best_d:
                    best, best_d = w, d
    return best


def test_simplex_value_and_strict_violation_layout():
    a = torch.tensor([[-0.5, 1.0], [0.5, 0.25]], dtype=torch.float64)
    b = torch.tensor([0.2, 0.8], dtype=torch.float64)
    c = Simplex(params="*")
    assert float(c.value([a, b])) == pytest.approx(0.5 + 0.5 + 0.25)
    net = nn.Module()
    net.a, net.b = nn.Parameter(a.clone()), nn.Parameter(b.clone())
    bound = c.bind(net, "mix")
    with torch.no_grad():
        e = bound.evaluate()
    assert bound.kind == "equality" and bound.has_projection
    # negative parts (4 + 2 entries), then the row sums minus one (2 rows + 1 vector)
    np.testing.assert_allclose(
        e.strict_violation.detach().numpy(), [0.5, 0, 0, 0, 0, 0, -0.5, -0.25, 0.0], atol=1e-15
    )
    assert e.violation is e.strict_violation
    assert float(e.value) == pytest.approx(1.25)
    # the axis is honoured: columns of `a` sum to 0 and 1.25
    col = Simplex(params="a", axis=0).bind(net, "mix").evaluate()
    np.testing.assert_allclose(col.strict_violation.detach().numpy()[-2:], [-1.0, 0.25], atol=1e-15)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_simplex_gradient_matches_finite_differences(axis):
    t = _randn(3, 4, 2, seed=axis + 5)
    with torch.no_grad():
        t.add_(torch.sign(t) * 0.05)  # away from the kinks of max(0, -w)
    t.requires_grad_()
    c = Simplex(params="*", axis=axis)
    assert torch.autograd.gradcheck(
        lambda x: c.state([x]).strict_violation, (t,), eps=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("axis", [-1, 0, 2])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_simplex_projection_matches_brute_force(axis, seed):
    t = _randn(3, 4, 5, seed=seed) * 1.5
    out = project_simplex(t, axis).numpy()
    moved = np.moveaxis(t.numpy(), axis, -1).reshape(-1, t.shape[axis])
    expected = np.stack([_simplex_brute_force(v) for v in moved])
    np.testing.assert_allclose(
        np.moveaxis(out, axis, -1).reshape(expected.shape), expected, atol=1e-12
    )
    # in place through the constraint, feasible and idempotent
    ts = [t.clone()]
    Simplex(params="*", axis=axis).project_(ts)
    assert float(Simplex(params="*", axis=axis).value(ts)) < 1e-12
    np.testing.assert_allclose(project_simplex(ts[0], axis).numpy(), ts[0].numpy(), atol=1e-14)


def test_simplex_projection_is_robust_to_huge_entries():
    out = project_simplex(torch.tensor([[1e9, 0.5, -3.0], [1e30, 1e30, 0.0]]))
    assert torch.isfinite(out).all()
    np.testing.assert_allclose(out.sum(-1).numpy(), [1.0, 1.0], atol=1e-6)
    assert out[0, 0] == 1.0 and out[1, 0] == out[1, 1] == 0.5


def test_simplex_parameter_errors():
    net = nn.Linear(3, 2)
    # `params` is required: scikit-learn's declarative validation names it and
    # the accepted values (the old hint "None would constrain every weight
    # matrix; select by name, e.g. 'mixing'" is gone: reported)
    with pytest.raises(
        ValueError,
        match=r"The 'params' parameter of Simplex must be an instance of 'str', an instance of "
        r"'list', an instance of 'tuple' or a callable\. Got None instead",
    ):
        Simplex(params=None).check_params()
    with pytest.raises(ValueError, match=r"Simplex\(axis=2\) does not fit.*choose an axis in"):
        Simplex(params="weight", axis=2).bind(net, "mix")
    with pytest.raises(
        TypeError, match=r"The 'axis' parameter of Simplex must be an int.*Got 1.5 instead"
    ):
        Simplex(params="weight", axis=1.5).check_params()
