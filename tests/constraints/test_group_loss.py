"""BoundedGroupLoss: per-group mean losses (cross-entropy or squared error).

Also groups not yet seen, and sample-weighted means.
"""

import numpy as np
import pytest
import torch

from sklearn_constrained.constraints import BatchContext, BoundedGroupLoss


def _bound(bound=0.5):
    return BoundedGroupLoss(bound=bound).bind(None, "bgl").setup(classes=np.array([0, 1, 2]))


def test_classifier_group_losses_are_mean_cross_entropies():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(9, 3, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2])
    groups = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    e = _bound(0.8).evaluate(BatchContext(z, y, groups, 3))
    ce = torch.nn.functional.cross_entropy(z, y, reduction="none")
    means = torch.stack([ce[groups == k].mean() for k in range(3)])
    torch.testing.assert_close(e.strict_violation, means - 0.8, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(e.violation, means - 0.8, rtol=1e-12, atol=1e-12)
    assert float(e.value) == pytest.approx(float(means.max()), rel=1e-12)


def test_regressor_group_losses_are_squared_errors_in_the_units_of_y():
    y_pred = torch.tensor([[0.0], [1.0], [2.0], [3.0]], dtype=torch.float64)
    y = torch.tensor([0.5, 1.0, 0.0, 4.0], dtype=torch.float64)
    groups = torch.tensor([0, 0, 1, 1])
    # standardised targets: the losses are scaled back by target_scale**2
    e = (
        BoundedGroupLoss(bound=1.0)
        .bind(None, "bgl")
        .setup(classifier=False)
        .evaluate(BatchContext(y_pred, y, groups, 2, target_scale=2.0))
    )
    # group 0: (0.25 + 0) / 2 * 4 = 0.5; group 1: (4 + 1) / 2 * 4 = 10
    assert e.strict_violation.tolist() == pytest.approx([0.5 - 1.0, 10.0 - 1.0])
    assert float(e.value) == pytest.approx(10.0)
    # several targets: their mean per sample
    y2 = torch.tensor([[0.0, 2.0], [1.0, 1.0]], dtype=torch.float64)
    e2 = (
        BoundedGroupLoss(bound=1.0)
        .bind(None, "bgl")
        .setup(classifier=False)
        .evaluate(BatchContext(torch.zeros(2, 2, dtype=torch.float64), y2, torch.tensor([0, 1]), 2))
    )
    assert e2.strict_violation.tolist() == pytest.approx([2.0 - 1.0, 1.0 - 1.0])


def test_an_unseen_group_is_not_judged_and_labels_are_required():
    z = torch.zeros(2, 3, dtype=torch.float64)
    e = _bound(0.5).evaluate(BatchContext(z, torch.tensor([0, 1]), torch.tensor([0, 0]), 2))
    assert e.strict_violation.tolist() == pytest.approx([np.log(3) - 0.5, -0.5])
    assert float(e.value) == pytest.approx(np.log(3))
    with pytest.raises(ValueError, match="involves the labels: pass `y`"):
        _bound().evaluate(BatchContext(z, None, torch.tensor([0, 0]), 2))


def test_weighted_group_losses_equal_those_of_repeated_rows():
    weights = [2, 1, 0, 3, 1, 1, 4, 0, 2]
    reps = torch.tensor(weights)
    g = torch.Generator().manual_seed(1)
    z = torch.randn(len(weights), 3, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2])
    groups = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    z_w = z.clone().requires_grad_(True)
    z_r = z.clone().requires_grad_(True)
    weighted = _bound(0.9).evaluate(
        BatchContext(z_w, y, groups, 3, sample_weight=reps.to(torch.float64))
    )
    repeated = _bound(0.9).evaluate(
        BatchContext(
            z_r.repeat_interleave(reps, 0),
            y.repeat_interleave(reps),
            groups.repeat_interleave(reps),
            3,
        )
    )
    for a, b in zip(weighted, repeated, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    # the weighted mean from its definition
    ce = torch.nn.functional.cross_entropy(z, y, reduction="none")
    w = reps.to(torch.float64)
    means = [float((w * ce)[groups == k].sum() / w[groups == k].sum()) for k in range(3)]
    assert (weighted.strict_violation + 0.9).tolist() == pytest.approx(means, rel=1e-12)
    weighted.violation.sum().backward()
    repeated.violation.sum().backward()
    torch.testing.assert_close(z_w.grad, z_r.grad, rtol=1e-10, atol=1e-12)


def test_invalid_bound_names_the_parameter_and_the_fix():
    with pytest.raises(
        ValueError,
        match=r"The 'bound' parameter of BoundedGroupLoss must be a float in the range "
        r"\[0.0, inf\)\. Got -1 instead\. Set it to the level",
    ):
        BoundedGroupLoss(bound=-1).check_params()
