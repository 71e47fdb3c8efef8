"""Helpers that drive a method through its public hooks on hand-made states."""

import torch

from sklearn_constrained.constraints import ConstraintState
from sklearn_constrained.optim import Equality, Inequality

_KINDS = {"inequality": Inequality, "equality": Equality}


def bind(method, **kinds):
    """``method.bind`` on one real evaluator per name; ``kinds`` maps names to their kind.

    The evaluators come from :class:`~sklearn_constrained.optim.Inequality` /
    :class:`~sklearn_constrained.optim.Equality` bound to a dummy variable:
    the tests hand the method their states directly.
    """
    x = torch.zeros(1, dtype=torch.float64)
    evaluators = {name: _KINDS[kind](lambda v: v).bind(x, name) for name, kind in kinds.items()}
    return method.bind(evaluators, dtype=torch.float64)


def states(**violations):
    """One ``ConstraintState`` per name whose value, violation and strict violation are given.

    A tensor is used as it is (so a test can ask for its gradient); numbers and
    lists become float64 vectors.
    """
    out = {}
    for name, v in violations.items():
        t = v if isinstance(v, torch.Tensor) else torch.tensor(v, dtype=torch.float64).reshape(-1)
        out[name] = ConstraintState(t, t, t)
    return out


def set_multipliers(method, **values):
    """Set a bound method's multipliers through its public ``state_dict`` round trip."""
    state = method.state_dict()
    state["multipliers"] = {
        name: torch.tensor(v, dtype=torch.float64).reshape(-1) for name, v in values.items()
    }
    method.load_state_dict(state)


def multiplier(method, name):
    """The multiplier(s) of ``name`` as a list of floats (``method.multipliers()``)."""
    return method.multipliers()[name].tolist()
