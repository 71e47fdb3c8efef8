"""The end of an epoch (an outer iteration), shared by the net and ``minimize``.

During an epoch :class:`EpochSums` adds, on the device, the objective, the
loss and the data-dependent constraints' states of every step. At its end
:func:`epoch_states` gives one state per constraint (weight constraints at
the final weights, data constraints averaged over the epoch), the method's
``epoch_end`` runs on them, and :func:`summarize` turns everything into one
``history_`` record with a single host synchronisation.
"""

import numpy as np
import torch

from ..constraints import ConstraintState
from ..constraints._feasibility import violation_magnitude
from ._step import evaluate_states

__all__ = ["HISTORY_MAX_ENTRIES", "EpochSums", "end_outer_iteration", "epoch_states", "summarize"]

#: vectors longer than this are recorded in ``history_`` by their largest magnitude
HISTORY_MAX_ENTRIES = 16


class EpochSums:
    """Sums kept on the device during an epoch; read once at its end."""

    def __init__(self, data_names=()):
        self.data_names = tuple(data_names)
        self.reset()

    def reset(self):
        """Start a new epoch."""
        self.n = 0
        self.objective = None
        self.loss = None
        self.values = {}
        self.strict = {}

    @staticmethod
    def _add(acc, x, weight):
        # one in-place operation per batch (the first one allocates)
        return x * weight if acc is None else acc.add_(x, alpha=weight)

    def add(self, step, batch_size):
        """Add one step's ``objective``, ``loss`` and data-dependent states."""
        self.n += batch_size
        self.objective = self._add(self.objective, step["objective"], batch_size)
        self.loss = self._add(self.loss, step["loss"], batch_size)
        states = step["states"]
        for name in self.data_names:
            s = states[name]
            self.values[name] = self._add(self.values.get(name), s.value.detach(), batch_size)
            self.strict[name] = self._add(
                self.strict.get(name), s.strict_violation.detach(), batch_size
            )

    def means(self):
        """``(objective, loss, {name: ConstraintState})`` averaged over the epoch."""
        n = self.n
        states = {}
        for name in self.data_names:
            strict = self.strict[name] / n
            states[name] = ConstraintState(self.values[name] / n, strict, strict)
        return self.objective / n, self.loss / n, states


def epoch_states(evaluators, sums):
    """One state per constraint: weight constraints now, data constraints the epoch's mean."""
    with torch.no_grad():
        weight = evaluate_states({n: e for n, e in evaluators.items() if not e.requires_data})
    objective, loss, data = sums.means()
    states = {name: weight[name] if name in weight else data[name] for name in evaluators}
    return objective, loss, states


def _entries(t):
    """How a tensor is recorded: ``(kind, n)`` with kind scalar, list or long (max |.|)."""
    n = t.numel()
    if n == 1:
        return "scalar", 1
    return ("list", n) if n <= HISTORY_MAX_ENTRIES else ("long", n)


def summarize(objective, loss, states, kinds, multipliers=None):
    """A ``history_`` record from device tensors, with one host synchronisation.

    Parameters
    ----------
    objective, loss : torch.Tensor
        0-d tensors.
    states : dict of str to ConstraintState
    kinds : dict of str to str
        Each constraint's kind (``"inequality"`` or ``"equality"``).
    multipliers : dict of str to torch.Tensor, default=None

    Returns
    -------
    dict
        ``objective``, ``loss``, ``constraints`` (values), ``violations``
        (entry-wise, a float or a list; vectors of more than
        :data:`HISTORY_MAX_ENTRIES` entries by their largest magnitude),
        ``violation_norms`` (the exact 1- and 2-norms of those long
        vectors), ``largest_violations`` and ``multipliers``.
    """
    multipliers = multipliers or {}
    parts, layout = [objective.reshape(1), loss.reshape(1)], []

    def push(key, name, t):
        t = t.detach().reshape(-1)
        kind, n = _entries(t)
        if kind == "long":
            a = t.abs()
            parts.append(torch.stack([a.max(), a.sum(), a.square().sum().sqrt()]))
        else:
            parts.append(t)
        layout.append((key, name, kind, n))

    for name, s in states.items():
        push("constraints", name, s.value if s.value.numel() == 1 else s.value.max())
        v = violation_magnitude(kinds[name], s.strict_violation.detach())
        push("violations", name, v if v.numel() else v.new_zeros(1))
    for name, m in multipliers.items():
        push("multipliers", name, m)
    flat = torch.cat([p.to(torch.float64) for p in parts]).cpu().numpy()
    record = {
        "objective": float(flat[0]),
        "loss": float(flat[1]),
        "constraints": {},
        "violations": {},
        "largest_violations": {},
        "violation_norms": {},
        "multipliers": {},
    }
    offset = 2
    for key, name, kind, n in layout:
        width = 3 if kind == "long" else n
        chunk = flat[offset : offset + width]
        offset += width
        if kind == "scalar":
            record[key][name] = float(chunk[0])
        elif kind == "list":
            record[key][name] = chunk.tolist()
        else:
            record[key][name] = float(chunk[0])
            if key == "violations":
                record["violation_norms"][name] = {"1": float(chunk[1]), "2": float(chunk[2])}
        if key == "violations":
            largest = chunk[:1] if kind == "long" else chunk
            record["largest_violations"][name] = float(np.max(largest))
    return record


def end_outer_iteration(method, objective, loss, states, kinds):
    """The method's outer iteration on the epoch's states, then its ``history_`` record.

    The record has :func:`summarize`'s entries plus ``penalty`` (the
    method's, after the iteration) and ``method_stop`` (its stopping test).
    """
    method.epoch_end(states)
    multipliers = {n: m.value for n, m in method.multipliers_.items()}
    record = summarize(objective, loss, states, kinds, multipliers)
    record["penalty"] = method.current_penalty()
    record["method_stop"] = bool(method.should_stop())
    return record
