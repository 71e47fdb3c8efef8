"""Density (L0 hard-concrete gates): the expected share of open gates.

Its gradient, the gates themselves, the errors and its enforcement by GDA.
"""

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sklearn_constrained import ConstrainedClassifier
from sklearn_constrained.constraints import Density
from sklearn_constrained.methods import GDA, SADMM
from sklearn_constrained.models import L0MLP, MLP, L0Conv2d, L0Linear


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_density_value_is_the_expected_share_of_open_gates():
    torch.manual_seed(0)
    net = L0MLP(5, 3, hidden_layer_sizes=(4,))
    with torch.no_grad():
        for m in (net.layers[0], net.layers[2]):
            m.log_alpha.copy_(torch.randn(m.n_gates) * 2)
    b = Density(upper=0.4).bind(net, "density")
    with torch.no_grad():
        e = b.evaluate()
    la = torch.cat([net.layers[0].log_alpha, net.layers[2].log_alpha]).detach().double()
    expected = torch.sigmoid(la - (2 / 3) * math.log(0.1 / 1.1)).mean()
    assert float(e.value) == pytest.approx(float(expected), rel=1e-6)
    assert float(e.strict_violation) == pytest.approx(float(expected) - 0.4, rel=1e-5)
    assert e.violation is e.strict_violation
    assert {id(p) for p in b.parameters} == {
        id(net.layers[0].log_alpha),
        id(net.layers[2].log_alpha),
    }
    # Monte Carlo: the share of non-zero sampled gates averages to the value
    net.train()
    with torch.no_grad():
        draws = [
            torch.cat([(m.gates() > 0).double() for m in (net.layers[0], net.layers[2])]).mean()
            for _ in range(2000)
        ]
    mc = float(torch.stack(draws).mean())
    se = float(torch.stack(draws).std()) / math.sqrt(len(draws))
    assert abs(mc - float(expected)) < 4 * se + 1e-3


def test_density_gradient_matches_finite_differences():
    layer = L0Linear(3, 2).double()
    with torch.no_grad():
        layer.log_alpha.copy_(_randn(6, seed=3))
    b = Density(upper=0.5).bind(layer, "density")
    value = b.evaluate().value
    (grad,) = torch.autograd.grad(value, layer.log_alpha)
    eps = 1e-6
    fd = []
    for j in range(6):
        with torch.no_grad():
            layer.log_alpha[j] += eps
            up = float(b.evaluate().value)
            layer.log_alpha[j] -= 2 * eps
            down = float(b.evaluate().value)
            layer.log_alpha[j] += eps
        fd.append((up - down) / (2 * eps))
    np.testing.assert_allclose(grad.numpy(), fd, atol=1e-8)


def test_gates_are_deterministic_in_eval_mode_and_stochastic_in_training():
    torch.manual_seed(0)
    layer = L0Linear(6, 4, droprate_init=0.5)
    x = torch.randn(3, 6)
    layer.eval()
    assert torch.equal(layer(x), layer(x))
    expected = torch.clamp(torch.sigmoid(layer.log_alpha) * 1.2 - 0.1, 0, 1)
    assert torch.equal(layer.deterministic_gates(), expected)
    layer.train()
    assert not torch.equal(layer(x), layer(x))
    conv = L0Conv2d(2, 3, 3, padding=1).eval()
    assert conv(torch.zeros(1, 2, 5, 5)).shape == (1, 3, 5, 5)
    assert conv.n_gates == 3 * 2 * 3 * 3 and conv.density() == 1.0


def test_density_needs_gated_layers_and_a_level_in_0_1():
    with pytest.raises(ValueError, match="L0MLP"):
        Density(upper=0.5).bind(MLP(4, 2), "density")
    with pytest.raises(
        ValueError,
        match=r"The 'upper' parameter of Density must be a float in the range \[0.0, 1.0\]\. "
        r"Got 1.5 instead\. Set it to the level",
    ):
        Density(upper=1.5).check_params()
    b = Density(upper=0.5).bind(L0MLP(4, 2), "density")
    assert not b.has_projection
    with pytest.raises(ValueError, match="closed-form projection"):
        SADMM().bind({"density": b})


def test_density_constraint_is_met_by_gda(digits):
    X_train, X_test, y_train, y_test = digits
    clf = ConstrainedClassifier(
        L0MLP,
        module__hidden_layer_sizes=(32,),
        module__droprate_init=0.5,
        constraints={"density": Density(upper=0.3)},
        method=GDA(dual_lr=0.3),
        max_epochs=20,
        lr=0.02,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X_train, y_train)
    value = clf.evaluate_constraints(X_train)["density"]
    assert clf.feasible_ and value <= 0.3 * (1 + 1e-3)
    assert value > 0.15  # the level is reached, not overshot to an empty model
    assert clf.score(X_test, y_test) > 0.85
    # predictions are deterministic (test-time gates)
    np.testing.assert_array_equal(clf.predict_proba(X_test), clf.predict_proba(X_test))
