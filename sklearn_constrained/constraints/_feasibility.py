"""One feasibility rule for the whole library.

A constraint holds when its largest violation is at most
``tol * tolerance_scale(constraint)``, where the scale is
``max(1, |level|)`` over the constraint's levels (1 when it has none:
``w >= 0``, a simplex, exact orthogonality). The scale is fixed by the level,
not by the value reached, so a more violated iterate never looks less
violated. The violation of an inequality is the positive part of its strict
violation, that of an equality its magnitude.

The estimators (``feasible_``), the training callbacks, ``best_feasible``,
the metrics, the plots and :func:`~sklearn_constrained.optim.minimize` all
use these functions; nothing else writes the rule.
"""

from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = [
    "Judgement",
    "describe",
    "judge",
    "largest_violation",
    "tolerance_scale",
    "violation_magnitude",
]


def violation_magnitude(kind, strict_violation):
    """Entrywise violation: ``max(0, s)`` for an inequality, ``|s|`` for an equality.

    Parameters
    ----------
    kind : {"inequality", "equality"}
    strict_violation : torch.Tensor or array-like

    Returns
    -------
    torch.Tensor or numpy.ndarray
        The same type as the input, every entry ``>= 0`` (differentiable for
        a tensor that requires gradients: the fixed penalty uses it).

    Examples
    --------
    >>> import torch
    >>> violation_magnitude("inequality", torch.tensor([-1.0, 0.5])).tolist()
    [0.0, 0.5]
    >>> violation_magnitude("equality", torch.tensor([-1.0, 0.5])).tolist()
    [1.0, 0.5]
    """
    if isinstance(strict_violation, torch.Tensor):
        s = strict_violation
        return torch.relu(s) if kind == "inequality" else s.abs()
    s = np.asarray(strict_violation, dtype=np.float64)
    return np.maximum(s, 0.0) if kind == "inequality" else np.abs(s)


def largest_violation(kind, strict_violation):
    """The largest entry of :func:`violation_magnitude` (0 for an empty vector).

    Returns a 0-d tensor for tensor input (no host synchronisation) and a
    float otherwise.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import largest_violation
    >>> largest_violation("inequality", [-1.0, 0.5, 0.25])
    0.5
    >>> largest_violation("equality", torch.tensor([-2.0, 0.5]))
    tensor(2.)
    """
    if isinstance(strict_violation, torch.Tensor):
        strict_violation = strict_violation.detach()
    v = violation_magnitude(kind, strict_violation)
    if isinstance(v, torch.Tensor):
        return v.max() if v.numel() else v.new_zeros(())
    return float(v.max()) if v.size else 0.0


def tolerance_scale(constraint):
    """``max(1, |level|)`` over the constraint's levels: the scale of its tolerance.

    Examples
    --------
    >>> from sklearn_constrained.constraints import L2Norm, NonNegativity
    >>> tolerance_scale(L2Norm(bound=30.0)), tolerance_scale(NonNegativity())
    (30.0, 1.0)
    """
    return max([1.0] + [float(np.max(np.abs(v))) for v in constraint.levels().values()])


@dataclass
class Judgement:
    """The verdict of :func:`judge` on a set of constraints.

    Attributes
    ----------
    values : dict of str to float
        Each constraint's value.
    violations : dict of str to float
        Each constraint's largest violation.
    violated : list of str
        The constraints that do not hold, in order.
    score : float
        The largest violation relative to its tolerance scale (0 when all
        hold with slack): the quantity the least-violated choices rank by.
    entries : dict of str to int
        The number of entries of each strict violation (1 for a scalar).
    """

    values: dict
    violations: dict
    violated: list = field(default_factory=list)
    score: float = 0.0
    entries: dict = field(default_factory=dict)

    @property
    def feasible(self):
        """Whether every constraint holds."""
        return not self.violated


def judge(constraints, values, violations, tol, entries=None):
    """Apply the feasibility rule to each constraint's value and largest violation.

    Parameters
    ----------
    constraints : dict of str to Constraint
    values, violations : dict of str to float
        By constraint name; ``violations`` holds the largest violation.
    tol : float
        The relative tolerance (the estimators' ``tol``).
    entries : dict of str to int, default=None
        The number of entries of each strict violation (for the messages).

    Returns
    -------
    Judgement

    Examples
    --------
    >>> from sklearn_constrained.constraints import L2Norm
    >>> j = judge({"l2": L2Norm(bound=30.0)}, {"l2": 30.02}, {"l2": 0.02}, tol=1e-3)
    >>> j.feasible, round(j.score, 6)
    (True, 0.000667)
    """
    violated, score = [], 0.0
    for name, worst in violations.items():
        scale = tolerance_scale(constraints[name])
        score = max(score, float(worst) / scale)
        if worst > tol * scale:
            violated.append(name)
    return Judgement(dict(values), dict(violations), violated, score, dict(entries or {}))


def describe(constraints, judgement, names=None):
    """One phrase per constraint: its value against its level and, if violated, by how much.

    Examples
    --------
    >>> from sklearn_constrained.constraints import L2Norm
    >>> j = judge({"l2": L2Norm(bound=30.0)}, {"l2": 31.0}, {"l2": 1.0}, tol=1e-3)
    >>> describe({"l2": L2Norm(bound=30.0)}, j)
    "'l2': value 31 against bound=30, violated by 1"
    """
    names = judgement.violated if names is None else names
    parts = []
    for name in names:
        c = constraints[name]
        levels = ", ".join(f"{k}={_fmt(v)}" for k, v in c.levels().items()) or "no level (0)"
        text = f"{name!r}: value {judgement.values[name]:.6g} against {levels}"
        worst = judgement.violations[name]
        if worst > 0:
            entry = " (its largest entry)" if judgement.entries.get(name, 1) > 1 else ""
            text += f", violated by {worst:.3g}{entry}"
        parts.append(text)
    return "; ".join(parts)


def _fmt(v):
    arr = np.asarray(v, dtype=np.float64)
    return f"{float(arr):.6g}" if arr.ndim == 0 else np.array2string(arr, precision=4)
