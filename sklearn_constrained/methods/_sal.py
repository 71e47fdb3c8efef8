"""The stochastic augmented Lagrangian method (Algorithm 2 of the SAL paper)."""

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import ConstrainedMethod
from ._formulations import AugmentedLagrangian, penalized_loss

__all__ = ["SAL"]


class SAL(ConstrainedMethod):
    r"""Stochastic augmented Lagrangian: Algorithm 2 of Lavado et al. (after Dener et al. 2020).

    An *outer iteration* is one pass over the shuffled training data (one
    epoch; in :func:`~sklearn_constrained.optim.minimize`, ``inner_steps``
    primal steps) that approximately minimises the augmented Lagrangian

    .. math::
        L_\mu(\theta, \lambda) = f(\theta) + \langle \lambda, c(\theta) \rangle
        + \frac{\mu}{2} \|c(\theta)\|_2^2

    with the multipliers :math:`\lambda` and the penalty :math:`\mu` held
    fixed (inequalities use the standard form of
    :class:`~sklearn_constrained.methods.AugmentedLagrangian`). After each
    outer iteration the violation vector :math:`C` (:math:`h` for
    equalities, :math:`\max(g, -\lambda/\mu)` for inequalities: zero exactly
    at a feasible, complementary point) decides what changes.

    ``variant="paper"`` is Algorithm 2 as printed: if
    :math:`\|C\|^2 \le \eta \|C_{best}\|^2` (sufficient decrease) the
    multipliers are accepted, :math:`\lambda \leftarrow \lambda + \mu C`, and
    :math:`C_{best} \leftarrow C`; otherwise
    :math:`\mu \leftarrow \min(\sigma\mu, \mu_{max})`. :math:`C_{best}` starts
    at the violation of the initial model, so from a feasible start no
    iteration is ever accepted and SAL acts as a quadratic penalty.

    ``variant="corrected"`` (the default) is the method of multipliers with
    the same penalty schedule: the multipliers are updated after every outer
    iteration, and the penalty grows only when the violation did not
    decrease enough against the *previous* iteration's (the first iteration
    always counts as a decrease), so it works from a feasible start and
    keeps learning the multipliers once feasible. The methods guide
    compares the two.

    Every ``n_aug_lag`` outer iterations a new reshuffle block begins and the
    penalty restarts at :math:`(b + 1)\,\mu_{init}` for block :math:`b`
    (capped by ``mu_max``); the multipliers carry over. The primal optimizer
    (its state and learning rate) restarts at every outer iteration, so each
    subproblem starts afresh. With ``optimizer="lbfgs"`` (full batch) an
    outer iteration is one L-BFGS solve: the deterministic Algorithm 1.

    Parameters
    ----------
    mu_init : float, default=0.01
        Initial penalty :math:`\mu_{init} > 0`. The penalty multiplies
        squared violations, so rescale it with the constraint.
    sigma : float, default=10.0
        Penalty growth factor :math:`\sigma > 1` (Dener et al. use 10).
    mu_max : float, default=1e3
        Penalty safeguard :math:`\mu_{max} \ge \mu_{init}`; with plain SGD
        keep ``lr * mu_max * ||grad c||^2`` below 2 or the inner problem
        diverges.
    eta : float, default=0.5
        Sufficient-decrease factor :math:`\eta \in (0, 1]` of the squared
        violation (Dener et al. use 0.5).
    n_aug_lag : int, default=10
        Outer iterations per reshuffle block (:math:`n_{aug-Lag}`).
    tol_objective : float, default=None
        :math:`\epsilon_f`: stop after an accepted outer iteration whose
        mean objective is ``<= tol_objective``. ``None`` skips this test.
    tol_violation : float, default=None
        :math:`\epsilon_c`: stop after an accepted outer iteration with
        :math:`\|C\|^2 \le` ``tol_violation``. ``None`` skips this test;
        with both ``None`` (the default) training runs its full length.
    variant : {"corrected", "paper"}, default="corrected"
        See above.

    Attributes
    ----------
    mu_ : float
        The current penalty (after fit: the last one).
    log_ : list of dict
        One entry per outer iteration: ``violation`` (:math:`\|C\|^2`),
        ``best`` (the reference it was compared with), ``accepted``, ``mu``.

    Examples
    --------
    >>> from sklearn_constrained.methods import SAL
    >>> SAL(mu_init=0.5, sigma=5.0)
    SAL(mu_init=0.5, sigma=5.0)
    """

    short_name = "sal"
    resets_primal_optimizer = True
    _parameter_constraints = {
        "mu_init": [Interval(Real, 0, None, closed="neither")],
        "sigma": [Interval(Real, 1, None, closed="neither")],
        "mu_max": [Interval(Real, 0, None, closed="neither")],
        "eta": [Interval(Real, 0, 1, closed="right")],
        "n_aug_lag": [Interval(Integral, 1, None, closed="left")],
        "tol_objective": [None, Interval(Real, None, None, closed="neither")],
        "tol_violation": [None, Interval(Real, 0, None, closed="left")],
        "variant": [StrOptions({"corrected", "paper"})],
    }

    def __init__(
        self,
        mu_init=0.01,
        sigma=10.0,
        mu_max=1e3,
        eta=0.5,
        n_aug_lag=10,
        tol_objective=None,
        tol_violation=None,
        variant="corrected",
    ):
        self.mu_init = mu_init
        self.sigma = sigma
        self.mu_max = mu_max
        self.eta = eta
        self.n_aug_lag = n_aug_lag
        self.tol_objective = tol_objective
        self.tol_violation = tol_violation
        self.variant = variant

    def _check_consistency(self):
        if self.mu_max < self.mu_init:
            raise ValueError(
                f"SAL: `mu_max`={self.mu_max!r} must be >= `mu_init`={self.mu_init!r}."
            )

    def bind(self, evaluators, *, device=None, dtype=None):
        """Start at ``mu_init``, with no reference violation yet."""
        super().bind(evaluators, device=device, dtype=dtype)
        self.mu_ = float(self.mu_init)
        self.c_best_ = None  # ||C_best||^2: a device scalar until the first epoch ends
        self.outer_iter_ = 0
        self.block_ = 0
        self.stop_ = False
        self.log_ = []
        self._obj_sum, self._obj_n = None, 0
        return self

    # -- the violation vector C -----------------------------------------------
    def _c_vector(self, name, strict, mu):
        if self.kinds_[name] == "inequality":
            return torch.maximum(strict, self.multipliers_[name].value / -mu)
        return strict

    def _squared_norm(self, states, mu):
        total = None
        for name, state in states.items():
            v = self._c_vector(name, state.strict_violation.detach(), mu).square().sum()
            total = v if total is None else total + v
        return total

    # -- the step -------------------------------------------------------------
    def observe(self, states):
        """Create the multipliers; the paper's variant records ``C(theta_0)``."""
        self.multipliers_.ensure(states)
        if self.c_best_ is None:
            # C(theta_0) for the paper's rule; +inf for the corrected one (the
            # first outer iteration always counts as a decrease)
            self.c_best_ = (
                self._squared_norm(states, self.mu_) if self.variant == "paper" else float("inf")
            )
        if self.tol_objective is not None:
            self._pending_objective = True

    def loss(self, objective, states):
        """The augmented Lagrangian at the current penalty."""
        if getattr(self, "_pending_objective", False):
            self._pending_objective = False
            o = objective.detach()
            self._obj_sum = o.clone() if self._obj_sum is None else self._obj_sum.add_(o)
            self._obj_n += 1
        f = AugmentedLagrangian(self.mu_)
        return penalized_loss(
            objective,
            ((f, self.multipliers_[n].value, s, self.kinds_[n]) for n, s in states.items()),
        )

    def epoch_end(self, states):
        """Accept the multipliers or grow the penalty (one host synchronisation)."""
        if not states or self.c_best_ is None:  # nothing was trained this epoch
            return
        mu = self.mu_
        self.multipliers_.ensure(states)
        c = {n: self._c_vector(n, s.strict_violation.detach(), mu) for n, s in states.items()}
        c2 = float(sum(v.double().square().sum() for v in c.values()))
        best = float(self.c_best_)
        decreased = c2 <= float(self.eta) * best
        accepted = decreased if self.variant == "paper" else True
        entry = {
            "outer_iteration": self.outer_iter_ + 1,
            "violation": c2,
            "best": best,
            "accepted": accepted,
            "mu": mu,
        }
        if accepted:
            self._check_tolerances(c2)
            for name, v in c.items():
                # lambda + mu * max(g, -lambda/mu) = max(lambda + mu g, 0) for inequalities
                lam = self.multipliers_[name].value
                lam.add_(v.to(lam.dtype), alpha=mu)
        if self.variant == "paper":
            if accepted:
                self.c_best_ = c2
        else:
            self.c_best_ = c2  # the corrected rule compares with the previous iteration
        if not decreased:
            self.mu_ = min(float(self.sigma) * mu, float(self.mu_max))
        self.log_.append(entry)
        self.outer_iter_ += 1
        if self.outer_iter_ % int(self.n_aug_lag) == 0:
            # a new reshuffle block: the penalty restarts at (block + 1) * mu_init
            self.block_ += 1
            self.mu_ = min((self.block_ + 1) * float(self.mu_init), float(self.mu_max))
        self._obj_sum, self._obj_n = None, 0

    def _check_tolerances(self, c2):
        checks = []
        if self.tol_violation is not None:
            checks.append(c2 <= self.tol_violation)
        if self.tol_objective is not None:
            checks.append(
                bool(self._obj_n) and float(self._obj_sum) / self._obj_n <= self.tol_objective
            )
        if checks and all(checks):
            self.stop_ = True

    def should_stop(self):
        """Whether an accepted iteration met ``tol_objective``/``tol_violation``."""
        return self.stop_

    def current_penalty(self):
        r"""The current penalty :math:`\mu`."""
        return self.mu_

    def state_dict(self):
        """The multipliers, the penalty, the reference violation and the counters."""
        state = super().state_dict()
        best = self.c_best_
        state.update(
            mu=self.mu_,
            c_best=best.clone() if isinstance(best, torch.Tensor) else best,
            outer_iter=self.outer_iter_,
            block=self.block_,
            stop=self.stop_,
            log_len=len(self.log_),
        )
        return state

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned."""
        super().load_state_dict(state)
        self.mu_ = state["mu"]
        self.c_best_ = state["c_best"]
        self.outer_iter_ = state["outer_iter"]
        self.block_ = state["block"]
        self.stop_ = state["stop"]
        # the log is not copied into every snapshot: restoring an earlier
        # state truncates it (a resumed fit restores `log_` itself)
        del self.log_[state["log_len"] :]
