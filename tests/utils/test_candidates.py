"""The returned model when a level is not met (sklearn_constrained.utils._candidates)."""

import numpy as np
import pytest

from sklearn_constrained.utils._candidates import CandidateChoice, find_best_candidate


def test_untrained_least_violated_epoch_is_not_returned():
    # epoch 0 (barely trained) is the least violated, at loss 0.69; later
    # epochs are slightly more violated at a much lower loss
    objectives = [0.69, 0.45, 0.30, 0.24, 0.21, 0.20, 0.20, 0.20]
    violations = [0.010, 0.020, 0.025, 0.030, 0.030, 0.032, 0.031, 0.033]
    choice = find_best_candidate(objectives, violations, tol=1e-3)
    assert isinstance(choice, CandidateChoice)
    assert not choice.feasible
    assert choice.index >= 3  # a trained epoch
    assert objectives[choice.index] <= 0.24
    assert f"epoch {choice.index} balances" in choice.reason
    assert "least violated epoch, 0" in choice.reason


def test_two_epochs_the_trained_one_wins():
    # the brief's minimal history: untrained-but-least-violated vs trained
    assert find_best_candidate([0.69, 0.2], [0.01, 0.02]).index == 1


def test_all_feasible_lowest_objective():
    objectives = [0.5, 0.3, 0.25, 0.27]
    choice = find_best_candidate(objectives, np.zeros((4, 3)))
    assert choice == (2, True, choice.reason)
    assert "lowest objective (0.25) of the 4 epoch(s)" in choice.reason


def test_some_feasible_lowest_objective_among_them():
    objectives = [0.5, 0.2, 0.3, 0.35]
    violations = [[0.0, 0.0], [0.0, 0.5], [0.0, 0.0005], [0.0, 0.0]]
    choice = find_best_candidate(objectives, violations, tol=1e-3)
    assert choice.index == 2 and choice.feasible  # 1 has a lower loss but violates
    assert find_best_candidate(objectives, violations, tol=0.0).index == 3


def test_largest_violation_over_constraints_counts():
    # epoch 1 is better on the first constraint but much worse on the second
    objectives = [0.3, 0.3, 0.3]
    violations = [[0.05, 0.05], [0.01, 0.4], [0.06, 0.06]]
    assert find_best_candidate(objectives, violations).index == 0


def test_ties():
    # feasible ties on the objective: the smaller violation, then the later epoch
    assert find_best_candidate([0.2, 0.2, 0.2], [0.0, 0.0, 0.0]).index == 2
    assert find_best_candidate([0.2, 0.2, 0.2], [0.0, 0.0005, 0.0], tol=1e-3).index == 2
    assert find_best_candidate([0.2, 0.2, 0.3], [0.0, 0.0005, 0.0], tol=1e-3).index == 0
    # identical infeasible candidates: the later epoch
    assert find_best_candidate([0.3, 0.3], [0.1, 0.1]).index == 1
    # a tie in ranks is broken by magnitude: 5% more loss for 30x less violation
    assert find_best_candidate([0.20, 0.21], [0.30, 0.01]).index == 1
    assert find_best_candidate([0.20, 0.60], [0.02, 0.01]).index == 0


def _dominated(i, f, w):
    return np.any((f <= f[i]) & (w <= w[i]) & ((f < f[i]) | (w < w[i])))


def test_choice_is_pareto_optimal_on_random_histories():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = rng.integers(1, 30)
        f = np.round(rng.random(n), 2)  # rounding makes ties common
        v = np.round(rng.random((n, 3)) * 0.5 + 0.01, 2)
        i = find_best_candidate(f, v).index
        assert not _dominated(i, f, v.max(axis=1))


def test_scale_invariance():
    rng = np.random.default_rng(1)
    for _ in range(50):
        f, v = rng.random(12), rng.random((12, 2)) + 0.1
        i = find_best_candidate(f, v).index
        assert find_best_candidate(10 * f, v).index == i


def test_diverged_epochs_are_never_chosen():
    objectives = [0.4, np.nan, 0.1, np.inf]
    violations = [0.05, 0.0, np.nan, 0.0]
    choice = find_best_candidate(objectives, violations)
    assert choice.index == 0 and not choice.feasible
    with pytest.raises(ValueError, match="non-finite"):
        find_best_candidate([np.nan, np.nan], [0.0, 0.0])


def test_epoch_labels_and_no_constraints():
    choice = find_best_candidate([0.4, 0.3], [0.2, 0.3], epochs=[10, 11])
    assert choice.index == 1 and "epoch 11 balances" in choice.reason
    assert "least violated epoch, 10" in choice.reason
    choice = find_best_candidate([0.4, 0.3], np.zeros((2, 0)))  # no constraint: all feasible
    assert choice.index == 1 and choice.feasible


def test_input_validation():
    with pytest.raises(ValueError, match="`objectives`"):
        find_best_candidate([], [])
    with pytest.raises(ValueError, match="`violations` must have shape"):
        find_best_candidate([0.1, 0.2], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=">= 0"):
        find_best_candidate([0.1, 0.2], [0.0, -0.1])
    with pytest.raises(ValueError, match="`tol`"):
        find_best_candidate([0.1], [0.0], tol=-1)
    with pytest.raises(ValueError, match="`epochs`"):
        find_best_candidate([0.1], [0.0], epochs=[1, 2])
    # inputs are not mutated
    f, v = np.array([0.3, 0.2]), np.array([[0.1], [0.2]])
    find_best_candidate(f, v)
    np.testing.assert_array_equal(f, [0.3, 0.2])
    np.testing.assert_array_equal(v, [[0.1], [0.2]])
