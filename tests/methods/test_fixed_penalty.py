"""FixedPenalty ("fp"): the hinge (or absolute value) times a fixed coefficient.

Driven through the public hooks (``bind``, ``observe``, ``loss``,
``multipliers()``, ``current_penalty()``) on hand-computed examples. GDA's
per-step mathematics, once in this file, is in ``test_gda.py``.
"""

import pytest
import torch

from sklearn_constrained.methods import FixedPenalty

from .conftest import bind, states


def test_fixed_penalty_is_hinge_times_coefficient():
    m = bind(FixedPenalty(penalty={"g": 3.0}), g="inequality", h="equality")
    g = torch.tensor([2.0, -1.0], dtype=torch.float64, requires_grad=True)
    h = torch.tensor([-0.5], dtype=torch.float64, requires_grad=True)
    s = states(g=g, h=h)
    m.observe(s)
    loss = m.loss(torch.tensor(1.0, dtype=torch.float64), s)
    # 1 + 3 * max(0, 2) + 3 * max(0, -1) + 1 * |-0.5| (missing names get 1.0)
    assert float(loss.detach()) == pytest.approx(1.0 + 3.0 * 2.0 + 1.0 * 0.5)
    loss.backward()
    assert g.grad.tolist() == [3.0, 0.0] and h.grad.tolist() == [-1.0]
    # the coefficients are reported as the multipliers, one per entry
    assert m.multipliers()["g"].tolist() == [3.0, 3.0]
    assert m.multipliers()["h"].tolist() == [1.0]
    assert m.current_penalty() == {"g": 3.0, "h": 1.0}
    # nothing moves at the end of an epoch, and it never stops by itself
    m.epoch_end(states(g=[5.0, 5.0], h=[5.0]))
    assert m.multipliers()["g"].tolist() == [3.0, 3.0] and not m.should_stop()


def test_a_zero_coefficient_drops_the_term():
    m = bind(FixedPenalty(penalty=0.0), g="inequality")
    s = states(g=100.0)
    m.observe(s)
    assert float(m.loss(torch.tensor(2.0, dtype=torch.float64), s)) == 2.0


def test_penalties_are_validated_and_must_name_known_constraints():
    with pytest.raises(ValueError, match="unknown constraints"):
        bind(FixedPenalty(penalty={"nope": 1.0}), g="inequality")
    with pytest.raises(ValueError, match="penalty"):
        FixedPenalty(penalty={"g": -1.0}).check_params()
    with pytest.raises(ValueError, match="penalty"):
        FixedPenalty(penalty=-1.0).check_params()
    with pytest.raises(ValueError, match="penalty"):
        FixedPenalty(penalty=float("inf")).check_params()
