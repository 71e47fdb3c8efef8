"""Lagrange multipliers that project themselves onto their feasible set."""

import numpy as np
import torch

__all__ = ["Multiplier", "Multipliers"]


class Multiplier:
    """The multiplier(s) of one constraint: one entry per entry of its strict violation.

    The tensor lives on the training device and is a plain leaf tensor, so a
    ``torch.optim`` optimizer can update it from a ``.grad`` set to the dual
    gradient (see :mod:`sklearn_constrained.methods._dual_optimizers`).

    Parameters
    ----------
    like : torch.Tensor
        The constraint's strict violation: gives the shape, dtype and device.
    kind : {"inequality", "equality"}
        Inequality multipliers are kept ``>= 0`` by :meth:`project_`.

    Examples
    --------
    >>> import torch
    >>> m = Multiplier(torch.zeros(2), "inequality")
    >>> m.value.add_(torch.tensor([0.5, -1.0]))
    tensor([ 0.5000, -1.0000])
    >>> m.project_().value
    tensor([0.5000, 0.0000])
    """

    def __init__(self, like, kind):
        self.kind = kind
        self.value = torch.zeros_like(like.detach())

    def project_(self):
        """Project in place onto the multipliers' feasible set (``>= 0`` for inequalities)."""
        if self.kind == "inequality":
            self.value.clamp_(min=0)
        return self

    def numpy(self):
        """The value as a float64 array of at least one dimension (a host synchronisation).

        A copy: a float64 CPU tensor's ``.numpy()`` would share its memory, and
        the report would follow the training's in-place updates.
        """
        value = self.value.detach().to(device="cpu", dtype=torch.float64, copy=True)
        return np.atleast_1d(value.numpy())


class Multipliers(dict):
    """The multipliers of a fit, by constraint name, created on first use.

    Vector-valued constraints get one multiplier per entry of their strict
    violation, so the multipliers are created lazily from the first
    evaluation (a branch that runs once per fit).

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import ConstraintState
    >>> from sklearn_constrained.methods import Multipliers
    >>> multipliers = Multipliers({"rate": "inequality"})
    >>> state = ConstraintState(torch.tensor(0.3), torch.zeros(2), torch.tensor([0.1, -0.2]))
    >>> multipliers.ensure({"rate": state})  # one entry per entry of the strict violation
    True
    >>> multipliers.numpy()
    {'rate': array([0., 0.])}
    """

    def __init__(self, kinds):
        super().__init__()
        self.kinds = dict(kinds)

    def ensure(self, states):
        """Create the multipliers missing for ``states``; return whether any was created."""
        created = False
        for name, state in states.items():
            if name not in self:
                self[name] = Multiplier(state.strict_violation, self.kinds[name])
                created = True
        return created

    def tensors(self):
        """The multipliers' tensors, in name order (what a dual optimizer updates)."""
        return [m.value for m in self.values()]

    def numpy(self):
        """``{name: ndarray}`` (one host synchronisation per constraint)."""
        return {name: m.numpy() for name, m in self.items()}

    def state_dict(self):
        """The multipliers' tensors (clones)."""
        return {name: m.value.detach().clone() for name, m in self.items()}

    def load_state_dict(self, state):
        """Restore the tensors (creating multipliers of the given shapes)."""
        for name, value in state.items():
            m = self.get(name)
            if m is None or m.value.shape != value.shape:
                m = self[name] = Multiplier(value, self.kinds[name])
            m.value.copy_(value)
