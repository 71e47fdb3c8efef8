"""Parity constraints: one inequality per ordered pair of groups.

The value as the largest gap, groups not yet seen, and sample weights.
"""

import numpy as np
import pytest
import torch

from sklearn_constrained.constraints import (
    BatchContext,
    DemographicParity,
    EqualizedOdds,
    ErrorRateParity,
    TruePositiveRateParity,
)

POS, NEG = [-2.0, 2.0], [2.0, -2.0]


def _bound(constraint, **setup):
    return constraint.bind(None, "c").setup(classes=np.array([0, 1]), **setup)


def test_one_entry_per_ordered_pair_and_the_largest_gap():
    # group rates: 0.5, 1.0, 0.0
    z = torch.tensor([POS, NEG, POS, NEG, NEG])
    groups = torch.tensor([0, 0, 1, 2, 2])
    e = _bound(DemographicParity(bound=0.1)).evaluate(BatchContext(z, None, groups, 3))
    # pairs (0,1), (0,2), (1,0), (1,2), (2,0), (2,1): r_g - r_h - bound
    assert e.strict_violation.tolist() == pytest.approx([-0.6, 0.4, 0.4, 0.9, -0.6, -1.1])
    assert float(e.value) == pytest.approx(1.0)
    assert e.violation.shape == e.strict_violation.shape == (6,)


def test_equalized_odds_lists_the_tpr_pairs_then_the_fpr_pairs():
    z = torch.tensor([POS, NEG, POS, NEG, NEG, POS, POS, POS])
    y = torch.tensor([1, 1, 0, 0, 1, 1, 0, 0])
    groups = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    # group 0: TPR 1/2, FPR 1/2; group 1: TPR 1/2, FPR 1
    e = _bound(EqualizedOdds(bound=0.2)).evaluate(BatchContext(z, y, groups, 2))
    assert e.strict_violation.tolist() == pytest.approx([-0.2, -0.2, -0.7, 0.3])
    assert float(e.value) == pytest.approx(0.5)
    tpr = _bound(TruePositiveRateParity(bound=0.2)).evaluate(BatchContext(z, y, groups, 2))
    assert tpr.strict_violation.tolist() == pytest.approx([-0.2, -0.2])


def test_error_rate_parity_counts_misclassified_samples_of_any_class():
    z = torch.tensor([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0], [3.0, 0.0, 0.0]])
    y = torch.tensor([0, 2, 2, 1])
    groups = torch.tensor([0, 0, 1, 1])
    ev = ErrorRateParity(bound=0.1).bind(None, "err").setup(classes=np.array([0, 1, 2]))
    e = ev.evaluate(BatchContext(z, y, groups, 2))
    # group 0: one error of two; group 1: one of two
    assert float(e.value) == pytest.approx(0.0)
    assert e.strict_violation.tolist() == pytest.approx([-0.1, -0.1])


def test_fewer_than_two_groups_has_no_pair():
    z = torch.tensor([POS, NEG])
    e = _bound(DemographicParity(bound=0.1)).evaluate(BatchContext(z, None, torch.zeros(2), 1))
    assert float(e.value) == 0.0 and e.strict_violation.numel() == 0


def test_groups_are_required():
    with pytest.raises(ValueError, match="compares groups: pass `sensitive_features`"):
        _bound(DemographicParity(bound=0.1)).evaluate(BatchContext(torch.tensor([POS, NEG])))


@pytest.mark.parametrize("surrogate", ["sigmoid", "hinge"])
def test_weighted_parity_equals_the_parity_of_repeated_rows(surrogate):
    weights = [1, 3, 0, 2, 1, 4, 2, 1, 0, 1, 0, 0]
    groups = torch.tensor([0, 1, 0, 1, 0, 1, 2, 0, 1, 0, 3, 3])  # group 3: weight 0 only
    g = torch.Generator().manual_seed(0)
    z = torch.randn(len(weights), 2, generator=g, dtype=torch.float64)
    reps = torch.tensor(weights)
    z_w = z.clone().requires_grad_(True)
    z_r = z.clone().requires_grad_(True)
    c = DemographicParity(bound=0.05, surrogate=surrogate)
    weighted = _bound(c).evaluate(
        BatchContext(z_w, None, groups, 4, sample_weight=reps.to(torch.float64))
    )
    repeated = _bound(c).evaluate(
        BatchContext(z_r.repeat_interleave(reps, 0), None, groups.repeat_interleave(reps), 4)
    )
    for a, b in zip(weighted, repeated, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    # the pairs with group 3 (no weight) are not judged: -bound
    pairs_with_3 = [2, 5, 8, 9, 10, 11]
    assert weighted.strict_violation[pairs_with_3].tolist() == pytest.approx([-0.05] * 6)
    weighted.violation.sum().backward()
    repeated.violation.sum().backward()
    torch.testing.assert_close(z_w.grad, z_r.grad, rtol=1e-10, atol=1e-12)
    # weights matter here: the unweighted gap differs
    unweighted = _bound(c).evaluate(BatchContext(z, None, groups, 4))
    assert float(unweighted.value) != pytest.approx(float(weighted.value))
