"""Issue 17, item 7: a ``BoundedGroupLoss`` level in the units of ``y``.

A group's loss is the objective itself on that group, so its multiplier
scales a gradient the objective already has. Before the fix, with SGD the
multiplier multiplied the step until training diverged; with Adam it
inflated the second-moment estimates and a level that is slack for the
trained model still cost 24% of training MSE (1306 against 1053).
"""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes
from sklearn.preprocessing import StandardScaler

from sklearn_constrained import ConstrainedRegressor
from sklearn_constrained.constraints import (
    BatchContext,
    BoundedGroupLoss,
    ConstraintState,
    L2Norm,
)
from sklearn_constrained.methods import (
    AugmentedLagrangian,
    ExactPenalty,
    Lagrangian,
    convex_combination,
    objective_share,
)


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    groups = (X[:, 1] > 0).astype(int)  # the sex column
    return StandardScaler().fit_transform(X), y, groups


def _fit(data, constraints, method="auto", optimizer="adam", max_epochs=100):
    X, y, groups = data
    reg = ConstrainedRegressor(constraints=constraints, method=method, optimizer=optimizer,
                               max_epochs=max_epochs, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.fit(X, y, sensitive_features=groups)
    return reg, [str(w.message) for w in caught]


def _group_mse(reg, data):
    X, y, groups = data
    err = (reg.predict(X) - y) ** 2
    return float(err.mean()), [float(err[groups == g].mean()) for g in (0, 1)]


@pytest.mark.parametrize("method", ["auto", "gda"])
def test_item_7_a_slack_group_loss_level_leaves_adam_training_as_it_is(diabetes, method):
    # unconstrained: training MSE 1054, groups 1159 and 935; the level 2500 is
    # violated by the untrained model (about 6,000) and slack for the trained one
    free, _ = _fit(diabetes, None, method=method)
    reg, _ = _fit(diabetes, {"bgl": BoundedGroupLoss(2500.0)}, method=method)
    mse_free, _ = _group_mse(free, diabetes)
    mse, groups = _group_mse(reg, diabetes)
    assert reg.feasible_ and max(groups) <= 2500.0
    # measured: auto 1048, gda 1070 against 1054 (before the fix: 1306 and 2076)
    assert mse <= 1.05 * mse_free


@pytest.mark.parametrize("method", ["auto", "gda"])
def test_item_7_sgd_with_a_group_loss_multiplier_does_not_diverge(diabetes, method):
    # with SGD the level is not slack after 100 epochs (the unconstrained model's
    # group 0 ends at 2958): the multiplier grows for the whole fit
    free, _ = _fit(diabetes, None, optimizer="sgd")
    reg, messages = _fit(diabetes, {"bgl": BoundedGroupLoss(2500.0)}, method=method,
                         optimizer="sgd")
    assert reg.n_iter_ == 100 and not any("diverged" in m for m in messages)
    assert all(np.isfinite(row["objective"]) for row in reg.history_)
    _, groups_free = _group_mse(free, diabetes)
    _, groups = _group_mse(reg, diabetes)
    # the violated group got more weight: its loss is below the unconstrained one
    # (measured: auto 2894, gda 2922 against 2958), and the shortfall is reported
    assert groups[0] < groups_free[0]
    if not reg.feasible_:
        assert any("does not satisfy" in m and "2500" in m for m in messages)


def test_group_loss_state_carries_the_squared_target_scale():
    evaluator = BoundedGroupLoss(bound=1.0).bind(None, "bgl").setup(classifier=False)
    batch = BatchContext(torch.zeros(4, 1), y=torch.ones(4, 1), groups=torch.tensor([0, 0, 1, 1]),
                         n_groups=2, target_scale=3.0)
    state = evaluator.evaluate(batch)
    assert state.objective_weight == 9.0
    assert torch.allclose(state.strict_violation, torch.tensor([8.0, 8.0]))
    # a constraint on the weights does not reweight the objective
    module = torch.nn.Linear(2, 1)
    assert L2Norm(bound=1.0).bind(module, "l2").evaluate().objective_weight is None


@pytest.mark.parametrize(
    "formulation",
    [Lagrangian(), AugmentedLagrangian(0.0), AugmentedLagrangian(2.0), ExactPenalty()],
    ids=["lagrangian", "augmented-0", "augmented-2", "exact"],
)
@pytest.mark.parametrize("kind", ["inequality", "equality"])
def test_violation_weight_is_the_terms_derivative_in_the_violation(formulation, kind):
    torch.manual_seed(0)
    lam = torch.rand(6) if kind == "inequality" else 2.0 * torch.rand(6) - 1.0
    if isinstance(formulation, ExactPenalty):
        lam = 1.5
    g = torch.tensor([-2.0, -0.3, -0.05, 0.1, 0.7, 3.0], requires_grad=True)
    (grad,) = torch.autograd.grad(formulation.term(lam, g, kind), g)
    assert torch.allclose(formulation.violation_weight(lam, g.detach(), kind), grad, atol=1e-6)


def test_convex_combination_keeps_the_direction_and_bounds_each_groups_weight():
    # f = p0 L0 + p1 L1 (the objective), terms lam_g * (w L_g - b): after the
    # normalisation every group's coefficient is at most its share, and they sum to 1
    p = torch.tensor([0.3, 0.7])
    losses = torch.tensor([2.0, 1.0], requires_grad=True)
    w = 4.0
    lam = torch.tensor([5.0, 0.0])
    violation = w * losses - 1.0
    state = ConstraintState(violation.detach().max(), violation, violation.detach(), w)
    f = Lagrangian()
    loss = (p * losses).sum() + f.term(lam, violation, "inequality")
    share = objective_share(f, lam, state, "inequality")
    assert float(share) == pytest.approx(20.0)
    (grad,) = torch.autograd.grad(convex_combination(loss, [share]), losses)
    assert float(grad.sum()) == pytest.approx(1.0)
    assert torch.allclose(grad, (p + w * lam) / 21.0)
    assert objective_share(f, lam, state._replace(objective_weight=None), "inequality") is None
