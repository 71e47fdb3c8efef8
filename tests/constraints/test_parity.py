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


# ----------------------------------------------------------------------------
# the parity evaluator's direct state against the generic per-group path
# ----------------------------------------------------------------------------
def _reference(constraint, **setup):
    """The generic evaluator: surrogate means, then ``GapConstraint.finish``."""
    from sklearn_constrained.constraints import GroupMeanEvaluator

    constraint.check_params()
    ev = GroupMeanEvaluator("c", constraint)
    return ev.setup(classes=np.array([0, 1]), **setup)


_GAPS = {
    "dp": lambda s: DemographicParity(bound=0.07, surrogate=s),
    "eo": lambda s: EqualizedOdds(bound=0.07, surrogate=s),
    "tpr": lambda s: TruePositiveRateParity(bound=0.07, surrogate=s),
}


@pytest.mark.parametrize("name", sorted(_GAPS))
@pytest.mark.parametrize("surrogate", ["sigmoid", "hinge"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_direct_state_equals_the_generic_path_over_running_batches(
    name, surrogate, dtype, weighted
):
    # several batches with a memory: groups missing from some batches (and
    # group 3 from the first ones), a margin from the third batch on; the
    # strict violations and values are bitwise those of the generic path,
    # the violations and their gradients equal up to rounding
    gen = torch.Generator().manual_seed(1)
    n_groups, n = 4, 24
    fast = _bound(_GAPS[name](surrogate), n_samples=60)
    ref = _reference(_GAPS[name](surrogate), n_samples=60)
    assert type(fast).__name__ == "GapEvaluator"
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-13)
    for step in range(6):
        z = (2 * torch.randn(n, 2, generator=gen)).to(dtype)
        y = torch.randint(0, 2, (n,), generator=gen)
        high = 3 if step < 2 else n_groups
        groups = torch.randint(0, high, (n,), generator=gen)
        if step == 3:
            groups[groups == 1] = 0  # group 1 missing from this batch
        w = torch.rand(n, generator=gen, dtype=dtype) * 2 if weighted else None
        if step == 2:
            fast.set_margin(0.01)
            ref.set_margin(0.01)
        z_f, z_r = z.clone().requires_grad_(True), z.clone().requires_grad_(True)
        a = fast.evaluate(BatchContext(z_f, y, groups, n_groups, sample_weight=w))
        b = ref.evaluate(BatchContext(z_r, y, groups, n_groups, sample_weight=w))
        assert torch.equal(a.strict_violation, b.strict_violation)
        assert torch.equal(a.value, b.value)
        assert a.violation.shape == b.violation.shape and a.violation.dtype == dtype
        torch.testing.assert_close(a.violation, b.violation, **tol)
        lam = torch.rand(a.violation.shape, generator=gen, dtype=dtype)
        (lam * a.violation).sum().backward()
        (lam * b.violation).sum().backward()
        torch.testing.assert_close(z_f.grad, z_r.grad, **tol)
        torch.testing.assert_close(fast.counts()[0], ref.counts()[0], rtol=0, atol=0)


def test_direct_state_with_held_out_estimates_and_fewer_than_two_groups():
    # external estimates (observe) and the one-group case take the same paths
    gen = torch.Generator().manual_seed(2)
    fast = _bound(DemographicParity(bound=0.1), external=True)
    ref = _reference(DemographicParity(bound=0.1), external=True)
    shift = torch.stack([torch.zeros(30), 1.5 * (torch.arange(30) % 3)], 1)  # rates differ
    held_out = BatchContext(torch.randn(30, 2, generator=gen) + shift, None,
                            torch.arange(30) % 3, 3)
    for ev in (fast, ref):
        ev.observe(held_out)
    z = torch.randn(10, 2, generator=gen)
    groups = torch.tensor([0, 1] * 5)
    a = fast.evaluate(BatchContext(z.clone().requires_grad_(True), None, groups, 3))
    b = ref.evaluate(BatchContext(z.clone().requires_grad_(True), None, groups, 3))
    assert torch.equal(a.strict_violation, b.strict_violation) and float(a.value) > 0.1
    torch.testing.assert_close(a.violation, b.violation)
    one = _bound(DemographicParity(bound=0.1)).evaluate(
        BatchContext(z, None, torch.zeros(10), 1)
    )
    assert float(one.value) == 0.0 and one.violation.numel() == 0
