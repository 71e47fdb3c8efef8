"""The self-tuning default method (provisional: replaced by the measured design)."""

from ..constraints._feasibility import tolerance_scale
from ._dual_optimizers import set_dual_gradients
from ._gda import GDA

__all__ = ["Auto"]


class Auto(GDA):
    """A self-tuning method that needs no dual step size (provisional).

    Examples
    --------
    >>> from sklearn_constrained.methods import Auto
    >>> Auto()
    Auto()
    """

    short_name = "auto"
    _parameter_constraints = {}

    def __init__(self):
        super().__init__(dual_lr=0.1, dual_optimizer="pi", kp=1.0)

    def get_params(self, deep=True):  # noqa: D102
        return {}

    def bind(self, evaluators, *, device=None, dtype=None):  # noqa: D102
        super().bind(evaluators, device=device, dtype=dtype)
        self.scales_ = {n: tolerance_scale(e.constraint) for n, e in evaluators.items()}
        return self

    def dual_step(self, states):  # noqa: D102
        if not states:
            return
        if self.multipliers_.ensure(states) or self.dual_optimizer_ is None:
            self._make_dual_optimizer()
        set_dual_gradients(
            self.multipliers_,
            {n: s.strict_violation / self.scales_[n] for n, s in states.items()},
        )
        self.dual_optimizer_.step()
        for m in self.multipliers_.values():
            m.project_()
