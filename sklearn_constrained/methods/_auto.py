r"""The self-tuning default method: ``method="auto"``.

Gradient descent-ascent on an augmented Lagrangian with a PI dual update
whose step needs no units from the user. Per constraint :math:`i` (every
entry of a vector constraint shares the constraint's step):

1. **A dimensionless error.** The strict violation is divided by a scale
   fixed at the first step, :math:`e_t = g_t / s`. For a deterministic
   constraint (a weight constraint, a function of ``minimize``) :math:`s` is
   the size of the start's violation or slack :math:`\|g_0\|_\infty` when it
   is not negligible against the level, else (a start on the level)
   :math:`\|\nabla g(\theta_0)\|_2 \max(1, \|\theta_0\|_\infty)`, the change of
   :math:`g` a move of the parameters' own size makes (it scales with
   :math:`g`, as :math:`\max(1, |\epsilon|)` did not);
   for a data-dependent one (a rate, a gap, measured on one batch)
   :math:`s = \max(1, |\epsilon|)`.
2. **A PI update in the units of a multiplier.** Every primal step,
   :math:`\lambda \leftarrow [\lambda + \eta\,(e_t + k_p (e_t - e_{t-1}))]_+`
   (no projection for an equality). The initial step is a tenth of the
   multiplier that balances the two gradients at the start,
   :math:`\eta_0 = 0.1\,\|\nabla f\|_* / \|\nabla g\|_*` on the
   constrained parameters, each gradient measured in the dual norm of the
   primal optimizer's geometry: the 2-norm for SGD and L-BFGS, whose step
   follows the gradient, and the 1-norm for Adam, RMSprop and the other
   optimizers that normalise every coordinate (a sign-like step is steepest
   descent in the max-norm, whose dual is the 1-norm); where that ratio
   does not exist (no gradient in the parameters), :math:`\eta_0 = 0.1\,|f_0| / s`,
   a tenth of the multiplier that would
   make a violation of size :math:`s` cost as much as the objective at the
   start (:math:`f_0`, the first batch's objective); for a group loss
   (whose state has an objective weight :math:`w`, see
   :func:`~sklearn_constrained.methods.convex_combination`) it is
   :math:`\eta_0 = 0.1 / w`, a tenth of the multiplier that gives the group
   the objective's whole weight.
3. **An augmented term for deterministic constraints**, with coefficient
   :math:`c = \eta / s` (the dual step per unit of :math:`g`: the method of
   multipliers' pairing of the two). Rates and gaps get none: their
   gradients come from a surrogate, whose violation is not the rate's.
4. **A step that adapts itself** once per window of at least 50 primal
   steps (whole epochs; one outer iteration of ``minimize``), from the
   window's mean violation magnitude :math:`v_k` (``relu`` for an
   inequality, ``abs`` for an equality; the norm over the entries, over
   :math:`s`):

   - violated in this window and the last, and not halved
     (:math:`v_k > \tfrac12 v_{k-1} > 0`): the multiplier is too small or too
     slow, :math:`\eta \leftarrow 2\eta`;
   - the level was crossed, either way, while the multiplier acts (for an
     equality: the violation vector turned, :math:`g_k^\top g_{k-1} < 0`,
     both violations above the noise floor :math:`10^{-6}`: a solution's
     rounding error flips its sign at random):
     the multiplier oscillates, :math:`\eta \leftarrow \eta / 2`. Two
     crossings between epochs inside one window count too, unless the
     window's mean is still violated (the oscillation is then the primal
     optimizer's, and the multiplier is too small on average);
   - otherwise :math:`\eta` stays.

   :math:`\eta` is kept within :math:`[10^{-12}, 10^{12}]\,\eta_0`.

The dual update runs on the training device with no host synchronisation
(the step is a Python float that changes only at window ends); the rule
reads one number per constraint, once per window. No dual momentum and no
Adam: both make the multipliers overshoot (Ramirez et al.). ``history_``
records each constraint's augmented coefficient :math:`c` as the method's
``penalty`` (the step :math:`\eta` where there is no augmented term).
"""

import math
from numbers import Real

import torch
from sklearn.utils._param_validation import Interval

from ..constraints._feasibility import tolerance_scale
from ._base import ConstrainedMethod
from ._formulations import AugmentedLagrangian, penalized_loss

__all__ = ["Auto"]

_GROW, _SHRINK = 2.0, 0.5
#: a violation that kept this share of its size over a window has stalled
_STALL = 0.5
#: a relative violation below this counts as met (the rule's noise floor)
_TOL = 1e-6
#: the step adapts once per window of at least this many primal steps
_WINDOW_STEPS = 50
#: the final projection acts on violations up to this share of max(1, |level|)
_PROJECT_WITHIN = 0.1


#: optimizers that normalise each coordinate's step: their geometry is the max-norm's
_COORDINATEWISE = (
    torch.optim.Adam, torch.optim.AdamW, torch.optim.Adamax, torch.optim.NAdam,
    torch.optim.RAdam, torch.optim.RMSprop, torch.optim.Adagrad, torch.optim.Adadelta,
)


def _dual_norm_order(optimizer_class):
    """1 for a coordinate-wise (sign-like) optimizer, else 2 (SGD, L-BFGS, unknown)."""
    is_class = isinstance(optimizer_class, type)
    return 1 if is_class and issubclass(optimizer_class, _COORDINATEWISE) else 2


def _gradient_norm(t, params, order=2):
    """The ``order``-norm (1 or 2) of the gradient of ``t`` (its entries summed) on ``params``."""
    t = t.sum() if t.dim() else t
    with torch.enable_grad():
        grads = torch.autograd.grad(t, params, retain_graph=True, allow_unused=True)
    grads = [g.detach().double() for g in grads if g is not None]
    if order == 1:
        return sum(float(g.abs().sum()) for g in grads)
    return math.sqrt(sum(float(g.square().sum()) for g in grads))


def _unit_move_scale(violation, parameters):
    r"""The change of ``g`` a move of the parameters' own size makes, or ``None``.

    :math:`\|\nabla g\|_2 \max(1, \|\theta\|_\infty)` (the gradient of the sum of the
    entries for a vector constraint); ``None`` without a finite, non-zero gradient.
    The violation scale of a deterministic constraint whose start is on its level:
    it scales with ``g``, so a problem multiplied by a constant keeps its iterates.
    """
    params = [p for p in parameters if p.requires_grad]
    if not params or not violation.requires_grad:
        return None
    size = max([1.0] + [float(p.detach().abs().max()) for p in params if p.numel()])
    scale = _gradient_norm(violation, params) * size
    return scale if math.isfinite(scale) and scale > 0 else None


def _gradient_ratio(objective, violation, parameters, order=2):
    r""":math:`\|\nabla f\| / \|\nabla g\|` on the constrained parameters, or ``None``.

    The multiplier that balances the two gradients: the natural size of a
    price in units of the objective per unit of the constraint, both
    gradients in the ``order``-norm (the dual norm of the primal step's geometry).
    """
    params = [p for p in parameters if p.requires_grad]
    if not params or not violation.requires_grad or not objective.requires_grad:
        return None
    nf = _gradient_norm(objective, params, order)
    ng = _gradient_norm(violation, params, order)
    if not (nf > 0 and ng > 0 and math.isfinite(nf) and math.isfinite(ng)):
        return None
    return nf / ng


class Auto(ConstrainedMethod):
    r"""The self-tuning default: a PI dual update with a unit-free, self-adapting step.

    See the module docstring and the methods guide for the algorithm. It
    needs no dual step size: the initial step is a fraction of the
    objective's size per unit of (relative) violation, and each
    constraint's step doubles while that constraint stays violated and
    halves when its multiplier overshoots.

    Parameters
    ----------
    kp : float, default=2.0
        The proportional gain of the PI update, dimensionless (in units of
        the relative violation): it damps the oscillation of the
        multipliers; ``0`` is plain (adaptive) gradient ascent. 2 was the
        best of 0, 2 and 8 on the unscaled problems of
        ``benchmarks/robustness.py`` in a development run (not part of its
        results).
    augmented : bool, default=True
        Add the augmented term :math:`c = \eta / s` for deterministic
        constraints (weight constraints, ``minimize``'s functions).
    final_projection : bool, default=True
        At the end of training, project the parameters of every
        deterministic constraint that has a closed-form projection (norm
        balls, non-negativity, the simplex, ``prox=`` functions) onto its
        level when the returned iterate violates it by at most a tenth of
        :math:`\max(1, |\epsilon|)`: a primal optimizer such as Adam keeps
        jittering across the level by a fraction of a percent, which no
        multiplier removes. The reported values are those of the projected
        model; ``final_projection_`` records what was projected.

    Attributes
    ----------
    dual_steps_ : dict of str to float
        After :meth:`bind` and the first step: the current step
        :math:`\eta` of each constraint.
    scales_ : dict of str to float
        The violation scale :math:`s` of each constraint.
    final_projection_ : dict of str to float
        After training: the largest violation of each constraint whose
        parameters the final projection moved (empty when none).

    Examples
    --------
    >>> from sklearn_constrained.methods import Auto
    >>> from sklearn_constrained.optim import Inequality, minimize
    >>> res = minimize(lambda x: ((x - 3) ** 2).sum(), [0.0],
    ...                constraints=[Inequality(lambda x: x.sum(), upper=1.0)], method=Auto())
    >>> res.success, round(float(res.x[0]), 3), round(float(res.multipliers[0][0]), 2)
    (True, 1.0, 4.0)
    """

    short_name = "auto"
    _parameter_constraints = {
        "kp": [Interval(Real, 0, None, closed="left")],
        "augmented": ["boolean"],
        "final_projection": ["boolean"],
    }
    #: initial dual step, as a fraction of the objective's size
    eta_rel = 0.1

    def __init__(self, kp=2.0, augmented=True, final_projection=True):
        self.kp = kp
        self.augmented = augmented
        self.final_projection = final_projection

    def bind(self, evaluators, *, device=None, dtype=None):
        """Create the multipliers; the scales are set at the first step."""
        super().bind(evaluators, device=device, dtype=dtype)
        self.scales_ = {}
        self.dual_steps_ = {}
        self._eta_bounds = {}
        self._prev_error = {}
        self._prev_epoch = {}
        self._pending_start = None
        self._quadratic = {}
        self._window, self._window_steps, self._window_epochs = {}, 0, 0
        self._flips, self._last_epoch = {}, {}
        self.final_projection_ = {}
        return self

    # -- the step ---------------------------------------------------------------
    def observe(self, states):
        """The dual step (after the first step, whose states set the scales)."""
        if self.multipliers_.ensure(states) or not self.scales_:
            self._pending_start = states
            return
        kp = float(self.kp)
        self._window_steps += 1
        # in place on detached tensors: no graph, so no torch.no_grad() either
        prev_errors = self._prev_error
        for name, state in states.items():
            m = self.multipliers_[name]
            lam = m.value
            g = state.strict_violation.detach()
            if g.dtype != lam.dtype:
                g = g.to(lam.dtype)
            e = g / self.scales_[name]  # a new tensor: it becomes the stored error
            prev = prev_errors.get(name)
            step = self.dual_steps_[name]
            if prev is None:
                lam.add_(e, alpha=step)
            else:
                # lambda += eta * (e + kp (e - e_prev)), in place
                lam.add_(e, alpha=step * (1.0 + kp)).sub_(prev, alpha=step * kp)
            prev_errors[name] = e
            m.project_()

    def _start(self, objective, states):
        """Fix the scales from the start's objective and violations (one synchronisation)."""
        f0 = abs(float(objective.detach()))
        f_scale = f0 if math.isfinite(f0) and f0 > 0 else 1.0
        order = _dual_norm_order(self.primal_optimizer_)
        for name, state in states.items():
            evaluator = self.evaluators_[name]
            level_scale = tolerance_scale(evaluator.constraint)
            g0 = float(state.strict_violation.detach().double().abs().max())
            # a data-dependent constraint (a rate, a gap) is measured on one batch
            # at the start: its level's scale, not that noisy first violation
            usable = not evaluator.requires_data and math.isfinite(g0)
            s = g0 if usable and g0 > 1e-3 * level_scale else level_scale
            if usable and g0 <= 1e-3 * level_scale:
                # a start on the level: the size of g a unit move makes, not the level's
                # (a level of 0 says nothing of g's units)
                s = _unit_move_scale(state.violation, evaluator.parameters) or s
            self.scales_[name] = s
            # the quadratic term acts on the differentiable violation: it is kept
            # for deterministic constraints only (a rate's surrogate is not its value)
            self._quadratic[name] = bool(self.augmented) and not evaluator.requires_data
            price = _gradient_ratio(objective, state.violation, evaluator.parameters, order)
            if state.objective_weight is not None:
                # a group's loss against the objective's: the multiplier that gives
                # the group the objective's whole weight is 1 / w
                w = float(torch.as_tensor(state.objective_weight).max())
                price = 1.0 / w if w > 0 else price
            eta0 = self.eta_rel * (price if price is not None else f_scale / s)
            self.dual_steps_[name] = eta0
            self._eta_bounds[name] = (1e-12 * eta0, 1e12 * eta0)

    def loss(self, objective, states):
        r"""The augmented Lagrangian, with penalty :math:`c = \eta / s` per constraint."""
        if self._pending_start is not None:
            self._pending_start = None
            if not self.scales_:
                self._start(objective, states)
        steps, scales, quadratic, multipliers = (
            self.dual_steps_, self.scales_, self._quadratic, self.multipliers_)
        return penalized_loss(objective, (
            (AugmentedLagrangian(steps[n] / scales[n] if quadratic[n] else 0.0),
             multipliers[n].value, state, multipliers[n].kind)
            for n, state in states.items()))

    # -- the outer iteration ----------------------------------------------------
    def epoch_end(self, states):
        """Grow or shrink each constraint's step from the epoch's violations."""
        if not self.scales_:
            return
        self._window_epochs += 1
        for name, state in states.items():
            if name not in self.dual_steps_:
                continue
            g = state.strict_violation.detach().double().reshape(-1)
            acc = self._window.get(name)
            self._window[name] = g.clone() if acc is None else acc.add_(g)
            # epochs whose violation crossed the level, either way, inside the window
            kind = self.kinds_[name]
            last = self._last_epoch.get(name)
            if kind == "inequality":
                flag = float(torch.relu(g).norm()) / self.scales_[name] > _TOL
                active = bool((self.multipliers_[name].value > 0).any())
                flip = last is not None and active and last[0] != flag
            else:
                # a turn of the violation vector counts above the noise floor only
                flag = float(g.norm()) / self.scales_[name] > _TOL
                flip = last is not None and flag and last[0] and float(g @ last[1]) < 0
            self._last_epoch[name] = (flag, g.clone())
            self._flips[name] = self._flips.get(name, 0) + int(flip)
        if self._window_steps < _WINDOW_STEPS:
            return
        # one adaptation per window of at least _WINDOW_STEPS primal steps
        window, n, flips = self._window, self._window_epochs, self._flips
        self._window, self._window_steps, self._window_epochs, self._flips = {}, 0, 0, {}
        for name, total in window.items():
            g = total / n
            kind = self.kinds_[name]
            v = float((torch.relu(g) if kind == "inequality" else g).norm()) / self.scales_[name]
            prev = self._prev_epoch.get(name)
            self._prev_epoch[name] = (v, g.clone())
            if prev is None or not math.isfinite(v):
                continue
            v_prev, g_prev = prev
            if kind == "inequality":
                # the level crossed, either way, by a constraint whose multiplier acts
                active = bool((self.multipliers_[name].value > 0).any())
                crossed = active and (v_prev > _TOL) != (v > _TOL)
            else:
                # the violation vector turned, both sizes above the noise floor (at a
                # solution the rounding error's sign flips, which says nothing)
                crossed = v > _TOL and v_prev > _TOL and float(g @ g_prev) < 0
            # two crossings inside one window: an oscillation its mean would hide,
            # unless the window's mean is still violated (the multiplier is then too
            # small on average: the oscillation is the primal optimizer's, e.g. Adam's)
            crossed = crossed or (flips.get(name, 0) >= 2 and not v > _TOL)
            step = self.dual_steps_[name]
            if crossed:
                step *= _SHRINK
            elif v > _TOL and v_prev > _TOL and v >= _STALL * v_prev:
                step *= _GROW
            lo, hi = self._eta_bounds[name]
            self.dual_steps_[name] = min(max(step, lo), hi)

    def finalize(self):
        """Project slightly violated weight constraints onto their levels (``final_projection``)."""
        self.final_projection_ = {}
        if not self.final_projection:
            return
        targets = {}
        with torch.no_grad():
            for name, ev in self.evaluators_.items():
                if ev.requires_data or not ev.has_projection or not list(ev.parameters):
                    continue
                g = ev.evaluate(None).strict_violation.detach()
                v = float(g.abs().max() if self.kinds_[name] == "equality" else g.max())
                if 0 < v <= _PROJECT_WITHIN * tolerance_scale(ev.constraint):
                    targets[name] = (ev, v)
            # alternating projections: constraints may share parameters
            for _ in range(100 if len(targets) > 1 else 1):
                for ev, _v in targets.values():
                    params = list(ev.parameters)
                    z = [p.detach().clone() for p in params]
                    ev.project_(z)
                    for p, t in zip(params, z, strict=True):
                        p.copy_(t)
                if len(targets) < 2 or all(
                    float(ev.evaluate(None).strict_violation.max()) <= 0
                    or self.kinds_[n] == "equality"
                    for n, (ev, _v) in targets.items()
                ):
                    break
        self.final_projection_ = {n: v for n, (_ev, v) in targets.items()}

    def current_penalty(self):
        r"""Each constraint's augmented-term coefficient :math:`c = \eta / s`, for the history."""
        if not any(self._quadratic.values()):
            return dict(self.dual_steps_) or None
        return {
            n: step / self.scales_[n]
            for n, step in self.dual_steps_.items()
            if self._quadratic.get(n)
        }

    # -- checkpointing ----------------------------------------------------------
    def state_dict(self):
        """The multipliers, the scales, the steps and the PI/epoch memories."""
        state = super().state_dict()
        state.update(
            scales=dict(self.scales_),
            dual_steps=dict(self.dual_steps_),
            quadratic=dict(self._quadratic),
            window={n: g.clone() for n, g in self._window.items()},
            window_counts=[self._window_steps, self._window_epochs],
            flips=dict(self._flips),
            last_epoch={
                n: {"flag": f, "violation": g.clone()} for n, (f, g) in self._last_epoch.items()
            },
            eta_bounds={n: list(b) for n, b in self._eta_bounds.items()},
            prev_error={n: e.clone() for n, e in self._prev_error.items()},
            prev_epoch={
                n: {"size": v, "violation": g.clone()} for n, (v, g) in self._prev_epoch.items()
            },
        )
        return state

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned (a state of multipliers alone too)."""
        super().load_state_dict(state)
        self.scales_ = dict(state.get("scales", {}))
        self.dual_steps_ = dict(state.get("dual_steps", {}))
        self._quadratic = dict(state.get("quadratic", {}))
        self._window = {n: g.clone() for n, g in state.get("window", {}).items()}
        counts = state.get("window_counts", (0, 0))
        self._window_steps, self._window_epochs = int(counts[0]), int(counts[1])
        self._flips = dict(state.get("flips", {}))
        self._last_epoch = {
            n: (d["flag"], d["violation"].clone()) for n, d in state.get("last_epoch", {}).items()
        }
        self._eta_bounds = {n: tuple(b) for n, b in state.get("eta_bounds", {}).items()}
        self._prev_error = {n: e.clone() for n, e in state.get("prev_error", {}).items()}
        self._prev_epoch = {
            n: (float(d["size"]), d["violation"].clone())
            for n, d in state.get("prev_epoch", {}).items()
        }
        self._pending_start = None
