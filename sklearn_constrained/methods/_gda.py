"""Gradient descent-ascent on the (augmented) Lagrangian."""

import copy
from numbers import Real

from sklearn.utils._param_validation import Interval, StrOptions

from ._base import ConstrainedMethod
from ._dual_optimizers import make_dual_optimizer, set_dual_gradients
from ._formulations import AugmentedLagrangian, Lagrangian, penalized_loss

__all__ = ["GDA"]


class GDA(ConstrainedMethod):
    r"""Gradient descent-ascent on the Lagrangian (Ramirez et al., eqs. 8-10).

    Every primal step first moves the multipliers along the constraints'
    strict violations measured on the current batch, then takes the primal
    step on :math:`f + \lambda^\top g` with the updated multipliers
    (alternating updates, the paper's default; ``order="simultaneous"`` uses
    the old multipliers instead). Inequality multipliers are projected onto
    :math:`\lambda \ge 0`. The multipliers live on the training device and
    are updated in place, with no host synchronisation.

    Built from parts: the formulation (:class:`Lagrangian`, or
    :class:`AugmentedLagrangian` with ``augmented=True``), the dual optimizer
    (``torch.optim.SGD(maximize=True)`` or :class:`NuPI`) and the order.

    Parameters
    ----------
    dual_lr : float, default=0.01
        The dual step size :math:`\eta_{dual}`, ``> 0``. It has the units of
        the multipliers over those of the constraint: the self-tuning
        ``method="auto"`` needs none.
    dual_optimizer : {"sgd", "pi", "nupi"} or torch.optim.Optimizer class, default="sgd"
        ``"sgd"``: projected gradient ascent. ``"pi"``: a PI controller on the
        multipliers (Sohrabi et al. 2024), which damps the oscillations of
        plain GDA; ``"nupi"``: nuPI, its generalisation with an exponential
        average of the error controlled by ``nu`` (see :class:`NuPI`). A
        class is built as ``cls(multipliers, lr=dual_lr)`` and *ascends*: its
        ``.grad`` is the dual gradient (see the guide "Writing a constraint
        or a method").
    kp : float, default=1.0
        Proportional gain of ``"pi"``/``"nupi"`` (ignored by ``"sgd"``);
        ``kp=0`` is plain gradient ascent.
    nu : float, default=0.0
        nuPI's averaging factor in ``[0, 1)`` (``"nupi"`` only).
    augmented : bool, default=False
        Add the quadratic term of the Augmented Lagrangian (eq. 27 of
        Ramirez et al.), which convexifies the primal problem. The dual step
        then ascends the augmented Lagrangian,
        :math:`\lambda \leftarrow [\lambda + \eta \max(g, -\lambda/c)]_+`;
        with ``dual_lr == penalty`` it is the classical method of multipliers.
    penalty : float, default=1.0
        The coefficient :math:`c \ge 0` of the augmented term (used only when
        ``augmented=True``; ``0`` gives the plain Lagrangian).
    order : {"alternating", "simultaneous"}, default="alternating"
        Whether the primal step sees the multipliers after (alternating) or
        before (simultaneous) this step's dual update.

    Examples
    --------
    >>> from sklearn_constrained.methods import GDA
    >>> GDA(dual_lr=0.3, dual_optimizer="nupi", kp=40.0)
    GDA(dual_lr=0.3, dual_optimizer='nupi', kp=40.0)
    """

    short_name = "gda"
    _parameter_constraints = {
        "dual_lr": [Interval(Real, 0, None, closed="neither")],
        "dual_optimizer": [StrOptions({"sgd", "pi", "nupi"}), type],
        "kp": [Interval(Real, 0, None, closed="left")],
        "nu": [Interval(Real, 0, 1, closed="left")],
        "augmented": ["boolean"],
        "penalty": [Interval(Real, 0, None, closed="left")],
        "order": [StrOptions({"alternating", "simultaneous"})],
    }

    def __init__(
        self,
        dual_lr=0.01,
        dual_optimizer="sgd",
        kp=1.0,
        nu=0.0,
        augmented=False,
        penalty=1.0,
        order="alternating",
    ):
        self.dual_lr = dual_lr
        self.dual_optimizer = dual_optimizer
        self.kp = kp
        self.nu = nu
        self.augmented = augmented
        self.penalty = penalty
        self.order = order

    def bind(self, evaluators, *, device=None, dtype=None):
        """Create the multipliers' formulation; the dual optimizer follows the first step."""
        super().bind(evaluators, device=device, dtype=dtype)
        c = float(self.penalty) if self.augmented else 0.0
        self.formulation_ = AugmentedLagrangian(c) if c > 0 else Lagrangian()
        self.dual_optimizer_ = None
        self._fused = False
        self._pending = None
        return self

    def _make_dual_optimizer(self):
        # "sgd" is projected gradient ascent: dual_step fuses it into two in-place
        # ops per constraint and the optimizer keeps the step size (param_groups,
        # as a scheduler or a loaded state sets it) and the state_dict format
        self._fused = isinstance(self.dual_optimizer, str) and self.dual_optimizer == "sgd"
        if not self.multipliers_:
            self.dual_optimizer_ = None
            return
        self.dual_optimizer_ = make_dual_optimizer(
            self.dual_optimizer,
            self.multipliers_.tensors(),
            float(self.dual_lr),
            kp=float(self.kp),
            nu=float(self.nu),
        )

    def dual_step(self, states):
        """One dual update from the strict violations of ``states``."""
        if not states:
            return
        multipliers = self.multipliers_
        if multipliers.ensure(states) or self.dual_optimizer_ is None:
            self._make_dual_optimizer()
        f = self.formulation_
        if self._fused:
            # torch.optim.SGD(maximize=True), then the projection, fused in place:
            # lam + lr * g is bit for bit SGD's lam - lr * (-g)
            lr = self.dual_optimizer_.param_groups[0]["lr"]
            for name, state in states.items():
                m = multipliers[name]
                lam = m.value
                grad = f.dual_gradient(lam, state.strict_violation.detach(), m.kind)
                if grad.dtype != lam.dtype:
                    grad = grad.to(lam.dtype)
                lam.add_(grad, alpha=lr)
                m.project_()
            return
        set_dual_gradients(
            multipliers,
            {
                n: f.dual_gradient(multipliers[n].value, s.strict_violation, self.kinds_[n])
                for n, s in states.items()
            },
        )
        self.dual_optimizer_.step()
        for m in multipliers.values():
            m.project_()

    def observe(self, states):
        """Alternating order: the dual step, before the primal loss."""
        if self.order == "alternating":
            self.dual_step(states)
        else:
            self.multipliers_.ensure(states)
            self._pending = states

    def after_step(self):
        """Simultaneous order: the dual step from the states the primal step saw."""
        if self._pending is not None:
            states, self._pending = self._pending, None
            self.dual_step(states)

    def loss(self, objective, states):
        """The objective plus every constraint's (augmented) Lagrangian term."""
        f, multipliers = self.formulation_, self.multipliers_
        return penalized_loss(
            objective,
            ((f, multipliers[n].value, s, multipliers[n].kind) for n, s in states.items()),
        )

    def current_penalty(self):
        """The augmented term's coefficient, or ``None`` for the plain Lagrangian."""
        return float(self.penalty) if self.augmented else None

    def state_dict(self):
        """The multipliers and the dual optimizer's state."""
        state = super().state_dict()
        opt = self.dual_optimizer_
        # a torch optimizer's state_dict holds its live state tensors (the PI
        # error is updated in place): copy them, as every state_dict here does
        state["dual_optimizer"] = None if opt is None else copy.deepcopy(opt.state_dict())
        return state

    def load_state_dict(self, state):
        """Restore the multipliers and the dual optimizer (PI errors)."""
        super().load_state_dict(state)
        self._make_dual_optimizer()
        if state.get("dual_optimizer") is not None and self.dual_optimizer_ is not None:
            # a copy: loading the same state twice must not share tensors
            self.dual_optimizer_.load_state_dict(copy.deepcopy(state["dual_optimizer"]))
