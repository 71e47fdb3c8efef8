"""Fixed penalty: the baseline every constrained method is measured against."""

from numbers import Real

import numpy as np
import torch

from ._base import ConstrainedMethod

__all__ = ["FixedPenalty"]


class FixedPenalty(ConstrainedMethod):
    r"""Minimise ``objective + penalty * violation`` with a fixed coefficient.

    For an inequality the violation is :math:`\sum \max(0, g - \epsilon)`; for
    an equality :math:`\sum |h - \epsilon|`. This is the penalised formulation
    (eq. 3 of Ramirez et al.) that practitioners tune by trial and error: a
    small ``penalty`` ends infeasible, a large one over-satisfies the
    constraint at the cost of the objective. Kept as the baseline.

    Parameters
    ----------
    penalty : float or dict, default=1.0
        The coefficient, ``>= 0``; a dict gives one per constraint name
        (missing names get ``1.0``).

    Examples
    --------
    >>> from sklearn_constrained.methods import FixedPenalty
    >>> FixedPenalty(penalty={"l2": 0.1}).get_params()
    {'penalty': {'l2': 0.1}}
    """

    short_name = "fp"

    def __init__(self, penalty=1.0):
        self.penalty = penalty

    def _check_params(self):
        values = self.penalty.values() if isinstance(self.penalty, dict) else [self.penalty]
        for v in values:
            if isinstance(v, bool) or not isinstance(v, Real) or not np.isfinite(v) or v < 0:
                raise ValueError(
                    f"FixedPenalty: `penalty` must be a finite number >= 0 or a dict of them "
                    f"by constraint name; got {self.penalty!r}."
                )

    def _coef(self, name):
        if isinstance(self.penalty, dict):
            return float(self.penalty.get(name, 1.0))
        return float(self.penalty)

    def _setup(self, bound_constraints, device=None, dtype=torch.float32):
        super()._setup(bound_constraints, device, dtype)
        if isinstance(self.penalty, dict):
            unknown = set(self.penalty) - set(bound_constraints)
            if unknown:
                raise ValueError(
                    f"FixedPenalty: `penalty` names unknown constraints {sorted(unknown)}; "
                    f"the constraints are {sorted(bound_constraints)}."
                )
        self.coefs_ = {n: self._coef(n) for n in bound_constraints}
        return self

    def _compute_loss(self, objective, evals, *, update_duals):
        if update_duals:
            self._ensure_multipliers({n: e.defect for n, e in evals.items()})
        loss = objective
        for name, e in evals.items():
            c = self.coefs_[name]
            if c == 0:
                continue
            v = torch.relu(e.proxy) if self._is_inequality(name) else e.proxy.abs()
            loss = loss + c * v.sum()
        return loss

    def _multipliers_numpy(self):
        return {
            n: np.full(np.atleast_1d(m.detach().cpu().numpy()).shape, self.coefs_[n])
            for n, m in self.multipliers_.items()
        }

    def _penalty_for_history(self):
        return dict(self.coefs_)
