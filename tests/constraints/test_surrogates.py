"""The smooth surrogates of "predicted as class k" that supply the rate constraints' gradients."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_constrained.constraints import surrogate_indicator


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_classes=st.integers(2, 5),
    surrogate=st.sampled_from(["sigmoid", "hinge"]),
)
def test_surrogate_close_to_indicator_for_confident_logits(seed, n_classes, surrogate):
    # Confident logits: the winning class leads every other by >= 12, so the
    # softmax probability is within 1e-4 of the indicator and the ramp exact.
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(64, n_classes, generator=g, dtype=torch.float64)
    winner = torch.randint(0, n_classes, (64,), generator=g)
    z[torch.arange(64), winner] = z.max(dim=1).values + 12.0
    for k in range(n_classes):
        hard, soft = surrogate_indicator(z, k, surrogate)
        assert torch.equal(hard, (winner == k).double())
        assert torch.allclose(soft, hard, atol=1e-4 if surrogate == "sigmoid" else 0.0)


@pytest.mark.parametrize("surrogate", ["sigmoid", "hinge"])
def test_surrogate_gradient_matches_finite_differences(surrogate):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(20, 3, generator=g, dtype=torch.float64) * 0.4
    if surrogate == "hinge":
        # stay away from the ramp's kinks at margin -1 and 1 (and ties)
        m = z[:, 1] - torch.cat([z[:, :1], z[:, 2:]], 1).max(1).values
        z = z[(m.abs() - 1).abs() > 0.05]
    z.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: surrogate_indicator(t, 1, surrogate)[1].sum(), (z,))
    # per-sample classes (the error-rate form)
    k = torch.randint(0, 3, (len(z),), generator=g)
    assert torch.autograd.gradcheck(lambda t: surrogate_indicator(t, k, surrogate)[1], (z,))


def test_sigmoid_surrogate_is_the_softmax_probability():
    z = torch.tensor([[0.3, -1.2, 2.0], [1.0, 1.0, -3.0]])
    probs = torch.softmax(z, 1)
    for k in range(3):
        assert torch.allclose(surrogate_indicator(z, k)[1], probs[:, k])
    with pytest.raises(ValueError, match="`surrogate`='probit'.*choose 'sigmoid' or 'hinge'"):
        surrogate_indicator(z, 0, "probit")


@pytest.mark.parametrize("surrogate", ["sigmoid", "hinge"])
def test_two_class_fast_path_matches_the_general_form(surrogate):
    # two classes go through the margin z_k - z_{1-k}; compare with the
    # per-sample-index (general) form, ties included (argmax picks class 0)
    g = torch.Generator().manual_seed(1)
    z = torch.randn(50, 2, generator=g, dtype=torch.float64)
    z[:5, 1] = z[:5, 0]  # exact ties
    z.requires_grad_(True)
    for k in (0, 1):
        hard, soft = surrogate_indicator(z, k, surrogate)
        hard_ref, soft_ref = surrogate_indicator(z, torch.full((50,), k), surrogate)
        assert torch.equal(hard, hard_ref)
        assert torch.equal(hard[:5], torch.full((5,), float(k == 0), dtype=torch.float64))
        torch.testing.assert_close(soft, soft_ref, rtol=1e-12, atol=1e-12)
        w = torch.randn(50, generator=g, dtype=torch.float64)
        torch.testing.assert_close(
            torch.autograd.grad(soft @ w, z)[0],
            torch.autograd.grad(soft_ref @ w, z)[0],
            rtol=1e-12,
            atol=1e-12,
        )
