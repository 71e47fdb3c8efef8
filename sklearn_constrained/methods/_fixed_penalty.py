"""Fixed penalty: the baseline every constrained method is measured against."""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval

from ._base import ConstrainedMethod
from ._formulations import ExactPenalty, penalized_loss

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
    _parameter_constraints = {"penalty": [Interval(Real, 0, None, closed="left"), dict]}

    def __init__(self, penalty=1.0):
        self.penalty = penalty

    def _check_consistency(self):
        if isinstance(self.penalty, dict):
            for v in self.penalty.values():
                if isinstance(v, bool) or not isinstance(v, Real) or not np.isfinite(v) or v < 0:
                    raise ValueError(
                        "FixedPenalty: `penalty` must be a finite number >= 0 or a dict of them "
                        f"by constraint name; got {self.penalty!r}."
                    )
        elif not np.isfinite(self.penalty):
            raise ValueError(f"FixedPenalty: `penalty` must be finite; got {self.penalty!r}.")

    def bind(self, evaluators, *, device=None, dtype=None):
        """Resolve one coefficient per constraint."""
        super().bind(evaluators, device=device, dtype=dtype)
        if isinstance(self.penalty, dict):
            unknown = set(self.penalty) - set(evaluators)
            if unknown:
                raise ValueError(
                    f"FixedPenalty: `penalty` names unknown constraints {sorted(unknown)}; "
                    f"the constraints are {sorted(evaluators)}."
                )
            self.coefs_ = {n: float(self.penalty.get(n, 1.0)) for n in evaluators}
        else:
            self.coefs_ = {n: float(self.penalty) for n in evaluators}
        self._formulation = ExactPenalty()
        return self

    def loss(self, objective, states):
        """The objective plus each coefficient times its constraint's violation."""
        f = self._formulation
        return penalized_loss(
            objective,
            ((f, self.coefs_[n], s, self.kinds_[n]) for n, s in states.items() if self.coefs_[n]),
        )

    def multipliers(self):
        """The fixed coefficients, shaped like each constraint's strict violation."""
        return {n: np.full(m.numpy().shape, self.coefs_[n]) for n, m in self.multipliers_.items()}

    def current_penalty(self):
        """The coefficients by constraint name."""
        return dict(self.coefs_)
