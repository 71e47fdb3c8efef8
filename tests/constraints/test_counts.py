"""The running per-group counts behind every rate and group loss (GroupMeanEvaluator).

Exact counts on a full-data batch, the memory that keeps a group missing from
a batch, fresh copies and checkpoints.
"""

import numpy as np
import pytest
import torch

import sklearn_constrained.constraints as C
from sklearn_constrained.constraints import (
    BatchContext,
    DemographicParity,
    GroupMeanEvaluator,
    PredictionRate,
)


def _bound(constraint, **setup):
    return constraint.bind(None, "c").setup(**setup)


def test_running_counts_keep_a_group_missing_from_the_batch():
    # window of 4 batches of 2: beta = 1 - 2/8 = 0.75
    b = _bound(DemographicParity(bound=0.1), classes=np.array([0, 1]), n_samples=1000)
    pos, neg = [-2.0, 2.0], [2.0, -2.0]
    # batch 1: group 0 all positive, group 1 all negative -> gap 1
    e1 = b.evaluate(
        BatchContext(torch.tensor([pos, pos, neg, neg]), None, torch.tensor([0, 0, 1, 1]), 2)
    )
    assert float(e1.value) == pytest.approx(1.0)
    assert e1.strict_violation.tolist() == pytest.approx([0.9, -1.1])
    # batch 2 holds only group 1, now all positive; group 0 keeps its counts
    # (rate 1); group 1: (0.75 * 0 + 2) / (0.75 * 2 + 2) = 4/7
    z2 = torch.tensor([pos, pos], requires_grad=True)
    e2 = b.evaluate(BatchContext(z2, None, torch.tensor([1, 1]), 2))
    r1 = 2 / 3.5
    assert float(e2.value) == pytest.approx(1 - r1, abs=1e-6)
    assert e2.strict_violation.tolist() == pytest.approx([1 - r1 - 0.1, r1 - 1 - 0.1], abs=1e-6)
    # the same through the public counts: (true sums, populations) per group
    sums, pops = b.counts()
    assert sums[:, 0].tolist() == pytest.approx([2.0, 2.0])
    assert pops[:, 0].tolist() == pytest.approx([2.0, 3.5])
    # the gradient flows only through the group present in the batch
    e2.violation[1].backward()
    assert torch.all(z2.grad[:, 1] > 0) and torch.all(z2.grad[:, 0] < 0)
    # before any sample of a group, the pairs involving it are not judged
    fresh = _bound(DemographicParity(bound=0.1), classes=np.array([0, 1]), n_samples=1000)
    e = fresh.evaluate(BatchContext(torch.tensor([pos, neg]), None, torch.tensor([0, 0]), 2))
    assert float(e.value) == 0.0 and e.strict_violation.tolist() == pytest.approx([-0.1, -0.1])


def test_running_counts_are_exact_for_full_batches():
    b = _bound(PredictionRate(label=1, upper=0.5), classes=np.array([0, 1]), n_samples=4)
    b.evaluate(BatchContext(torch.tensor([[0.0, 1.0]] * 4)))
    e = b.evaluate(BatchContext(torch.tensor([[1.0, 0.0]] * 3 + [[0.0, 1.0]])))
    assert float(e.value) == pytest.approx(0.25)
    # a batch of a whole epoch replaces the memory: the counts are the last batch's
    sums, pops = b.counts()
    assert sums.tolist() == [[1.0]] and pops.tolist() == [[4.0]]


def test_user_constraint_is_not_mutated_and_stats_stay_on_the_evaluator():
    c = DemographicParity(bound=0.05)
    before = dict(c.get_params())
    attributes = dict(vars(c))
    b = _bound(c, classes=np.array([0, 1]), n_samples=10)
    assert b.counts() is None  # nothing seen yet
    b.evaluate(BatchContext(torch.randn(6, 2), None, torch.tensor([0, 1, 0, 1, 0, 1]), 2))
    assert c.get_params() == before and vars(c) == attributes
    sums, pops = b.counts()
    assert isinstance(sums, torch.Tensor) and isinstance(pops, torch.Tensor)
    assert sums.shape == pops.shape == (2, 1) and pops[:, 0].tolist() == [3.0, 3.0]


# ---------------------------------------------------------------------------
# counts() on a full-data batch: the exact per-group counts, for every class
# ---------------------------------------------------------------------------
def _case(seed=0, n=40, n_groups=3):
    rng = np.random.RandomState(seed)
    logits = rng.randn(n, 2)
    y = rng.randint(0, 2, n)
    groups = rng.randint(0, n_groups, n)
    groups[:n_groups] = np.arange(n_groups)  # every group occurs
    return logits, y, groups, n_groups


def _expected_counts(name, logits, y, groups, n_groups):
    """(sums, populations), shape (G, R), from the definitions."""
    pred = logits.argmax(1)
    one = np.ones(len(y), bool)
    columns = {
        "PredictionRate": [(pred == 1, one)],
        "TruePositiveRate": [(pred == 1, y == 1)],
        "FalsePositiveRate": [(pred == 1, y == 0)],
        "DemographicParity": [(pred == 1, one)],
        "EqualizedOdds": [(pred == 1, y == 1), (pred == 1, y == 0)],
        "TruePositiveRateParity": [(pred == 1, y == 1)],
        "FalsePositiveRateParity": [(pred == 1, y == 0)],
        "ErrorRateParity": [(pred != y, one)],
    }[name]
    grouped = name not in ("PredictionRate", "TruePositiveRate", "FalsePositiveRate")
    member = [groups == g for g in range(n_groups)] if grouped else [one]
    sums = np.array([[(ind & pop & m).sum() for ind, pop in columns] for m in member], float)
    pops = np.array([[(pop & m).sum() for _, pop in columns] for m in member], float)
    return sums, pops


RATE_CLASSES = {
    "PredictionRate": lambda: C.PredictionRate(1, upper=0.5),
    "TruePositiveRate": lambda: C.TruePositiveRate(lower=0.5),
    "FalsePositiveRate": lambda: C.FalsePositiveRate(upper=0.5),
    "DemographicParity": lambda: C.DemographicParity(bound=0.1),
    "EqualizedOdds": lambda: C.EqualizedOdds(bound=0.1),
    "TruePositiveRateParity": lambda: C.TruePositiveRateParity(bound=0.1),
    "FalsePositiveRateParity": lambda: C.FalsePositiveRateParity(bound=0.1),
    "ErrorRateParity": lambda: C.ErrorRateParity(bound=0.1),
}


@pytest.mark.parametrize("name", list(RATE_CLASSES))
@pytest.mark.parametrize("seed", [0, 1])
def test_counts_are_exact_on_a_full_data_batch(name, seed):
    logits, y, groups, n_groups = _case(seed)
    batch = BatchContext(
        torch.as_tensor(logits), torch.as_tensor(y), torch.as_tensor(groups), n_groups
    )
    ev = RATE_CLASSES[name]().bind(None, name)
    assert isinstance(ev, GroupMeanEvaluator)
    # an evaluator that has already seen other batches: its fresh copy starts empty
    ev.setup(classes=np.array([0, 1]), n_samples=10)
    ev.evaluate(
        BatchContext(
            torch.randn(5, 2, dtype=torch.float64),
            torch.ones(5, dtype=torch.long),
            torch.zeros(5, dtype=torch.long),
            n_groups,
        )
    )
    fresh = ev.fresh()
    assert fresh.counts() is None and ev.counts() is not None
    state = fresh.evaluate(batch)
    sums, pops = fresh.counts()
    expected_sums, expected_pops = _expected_counts(name, logits, y, groups, n_groups)
    np.testing.assert_array_equal(sums.numpy(), expected_sums)
    np.testing.assert_array_equal(pops.numpy(), expected_pops)
    # the value is built from exactly these counts
    rates = expected_sums / expected_pops
    if name in ("PredictionRate", "TruePositiveRate", "FalsePositiveRate"):
        assert float(state.value) == pytest.approx(rates[0, 0], rel=1e-12)
    else:
        gap = max(float(col.max() - col.min()) for col in rates.T)
        assert float(state.value) == pytest.approx(gap, rel=1e-12)


def test_bounded_group_loss_counts_are_the_per_group_loss_sums():
    logits, y, groups, n_groups = _case(2)
    ev = C.BoundedGroupLoss(bound=0.7).bind(None, "bgl").setup(classes=np.array([0, 1]))
    z = torch.as_tensor(logits)
    ev.evaluate(BatchContext(z, torch.as_tensor(y), torch.as_tensor(groups), n_groups))
    sums, pops = ev.counts()
    losses = torch.nn.functional.cross_entropy(z, torch.as_tensor(y), reduction="none").numpy()
    np.testing.assert_allclose(
        sums[:, 0].numpy(), [losses[groups == g].sum() for g in range(n_groups)], rtol=1e-12
    )
    np.testing.assert_array_equal(pops[:, 0].numpy(), np.bincount(groups, minlength=n_groups))


def test_weighted_counts_are_weight_sums():
    logits, y, groups, n_groups = _case(3, n=12)
    w = np.random.RandomState(0).randint(0, 4, len(y)).astype(float)
    ev = C.DemographicParity(bound=0.1).bind(None, "dp").setup(classes=np.array([0, 1]))
    ev.evaluate(
        BatchContext(
            torch.as_tensor(logits),
            None,
            torch.as_tensor(groups),
            n_groups,
            sample_weight=torch.as_tensor(w),
        )
    )
    sums, pops = ev.counts()
    pred = logits.argmax(1) == 1
    np.testing.assert_array_equal(
        sums[:, 0].numpy(), [w[(groups == g) & pred].sum() for g in range(n_groups)]
    )
    np.testing.assert_array_equal(
        pops[:, 0].numpy(), [w[groups == g].sum() for g in range(n_groups)]
    )


def test_state_dict_round_trip_resumes_the_running_estimates():
    g = torch.Generator().manual_seed(0)

    def batch():
        return BatchContext(
            torch.randn(8, 2, generator=g), None, torch.randint(0, 3, (8,), generator=g), 3
        )

    a = _bound(DemographicParity(bound=0.1), classes=np.array([0, 1]), n_samples=32)
    for _ in range(3):
        a.evaluate(batch())
    saved = a.state_dict()
    b = a.fresh()
    b.setup(classes=np.array([0, 1]), n_samples=32)
    b.load_state_dict(saved)
    torch.testing.assert_close(b.counts(), a.counts())
    before = tuple(t.clone() for t in a.counts())
    nxt = batch()
    sa, sb = a.evaluate(nxt), b.evaluate(nxt)
    torch.testing.assert_close(sa.strict_violation, sb.strict_violation)
    torch.testing.assert_close(sa.violation, sb.violation)
    # the saved state is a copy: later batches do not change it
    assert not torch.equal(a.counts()[1], before[1])
    c = a.fresh()
    c.load_state_dict(saved)
    torch.testing.assert_close(c.counts(), before)
    # an empty state restores an empty evaluator
    b.load_state_dict(a.fresh().state_dict())
    assert b.counts() is None
