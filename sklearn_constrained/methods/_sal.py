"""The stochastic augmented Lagrangian method (Algorithm 2 of the SAL paper)."""

import math
from numbers import Integral, Real

import torch

from ._base import ConstrainedMethod

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
    fixed. Inequalities use the standard form of the augmented term
    (eq. 27 of Ramirez et al.),
    :math:`\frac{1}{2\mu}(\max(0, \lambda + \mu g)^2 - \lambda^2)`, which is
    zero-gradient where the constraint holds with slack and
    :math:`\lambda = 0`. After each outer iteration the violation vector
    :math:`C` (:math:`h` for equalities, :math:`\max(g, -\lambda/\mu)` for
    inequalities: zero exactly at a feasible, complementary point) is
    compared with the best one so far:

    - if :math:`\|C\|^2 \le \eta \|C_{best}\|^2` (sufficient decrease) the
      multipliers are accepted, :math:`\lambda \leftarrow \lambda + \mu C`
      (for inequalities :math:`[\lambda + \mu g]_+`), and
      :math:`C_{best} \leftarrow C`; training stops there when the
      tolerances ``tol_objective``/``tol_violation`` are met;
    - otherwise the penalty grows, :math:`\mu \leftarrow \min(\sigma\mu, \mu_{max})`.

    :math:`C_{best}` starts at the violation of the initial model. Once an
    outer iteration ends feasible and complementary (:math:`C = 0`, e.g. an
    inequality that holds with slack and :math:`\lambda = 0`), no later
    violation is a sufficient decrease: the multipliers keep their last
    accepted values and violations only raise the penalty, so SAL then acts
    as an augmented penalty whose coefficient grows up to ``mu_max`` (and
    restarts with each block). Every
    ``n_aug_lag`` outer iterations a new reshuffle block begins and the
    penalty restarts at :math:`(b + 1)\,\mu_{init}` for block :math:`b`
    (capped by ``mu_max``); the multipliers carry over. The primal
    optimizer (its state, e.g. Adam's moments, and its learning rate) is
    re-created at each outer iteration, so each subproblem starts afresh.
    With ``optimizer="lbfgs"`` (full batch) an outer iteration is one
    L-BFGS solve: the deterministic Algorithm 1.

    Squared norms and accumulated multipliers, as in the algorithm.

    Parameters
    ----------
    mu_init : float, default=0.01
        Initial penalty :math:`\mu_{init} > 0`. The SAL paper gives no
        defaults; 0.01 (with ``mu_max=1e3``) was chosen on digits with an
        :class:`~sklearn_constrained.constraints.L2Norm` level (squared norms
        in the hundreds) and a
        :class:`~sklearn_constrained.constraints.PredictionRate` level (rates
        below 1) under Adam: larger values over-satisfy the norm level and
        cost accuracy, smaller ones leave the rate infeasible. The penalty
        multiplies squared violations, so rescale it with the constraint.
    sigma : float, default=10.0
        Penalty growth factor :math:`\sigma \ge 1` after an outer iteration
        without sufficient decrease (Dener et al. use 10).
    mu_max : float, default=1e3
        Penalty safeguard :math:`\mu_{max} \ge \mu_{init}`; with plain SGD
        keep ``lr * mu_max * ||grad c||^2`` below 2 or the inner problem
        diverges.
    eta : float, default=0.5
        Sufficient-decrease factor :math:`\eta \in (0, 1]` of the squared
        violation (Dener et al. use 0.5).
    n_aug_lag : int, default=10
        Outer iterations per reshuffle block (:math:`n_{aug-Lag}`); the
        number of blocks follows from ``max_epochs`` (or ``max_iter``).
    tol_objective : float, default=None
        :math:`\epsilon_f`: stop after an accepted outer iteration whose
        mean objective is ``<= tol_objective``. ``None`` skips this test.
    tol_violation : float, default=None
        :math:`\epsilon_c`: stop after an accepted outer iteration with
        :math:`\|C\|^2 \le` ``tol_violation``. ``None`` skips this test;
        with both ``None`` (the default) training runs its full length.

    Attributes
    ----------
    mu_ : float
        The current penalty (after fit: the last one).
    log_ : list of dict
        One entry per outer iteration: ``violation`` (:math:`\|C\|^2`),
        ``best``, ``accepted``, ``mu`` (the penalty used in that iteration).

    Examples
    --------
    >>> from sklearn_constrained.methods import SAL
    >>> SAL(mu_init=0.5, sigma=5.0)
    SAL(mu_init=0.5, sigma=5.0)
    """

    short_name = "sal"
    resets_optimizer_each_epoch = True

    def __init__(
        self,
        mu_init=0.01,
        sigma=10.0,
        mu_max=1e3,
        eta=0.5,
        n_aug_lag=10,
        tol_objective=None,
        tol_violation=None,
    ):
        self.mu_init = mu_init
        self.sigma = sigma
        self.mu_max = mu_max
        self.eta = eta
        self.n_aug_lag = n_aug_lag
        self.tol_objective = tol_objective
        self.tol_violation = tol_violation

    def _check_params(self):
        self._check_positive("mu_init", self.mu_init)
        self._check_positive("mu_max", self.mu_max)
        self._check_positive("sigma", self.sigma)
        self._check_positive("eta", self.eta)
        if self.sigma <= 1:
            raise ValueError(
                f"SAL: `sigma` must be > 1 (the penalty grows by this factor); got {self.sigma!r}."
            )
        if self.eta > 1:
            raise ValueError(f"SAL: `eta` must lie in (0, 1]; got {self.eta!r}.")
        if self.mu_max < self.mu_init:
            raise ValueError(
                f"SAL: `mu_max`={self.mu_max!r} must be >= `mu_init`={self.mu_init!r}."
            )
        n = self.n_aug_lag
        if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
            raise ValueError(f"SAL: `n_aug_lag` must be an integer >= 1; got {n!r}.")
        for name in ("tol_objective", "tol_violation"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, Real) or math.isnan(v)):
                raise ValueError(f"SAL: `{name}` must be None or a number; got {v!r}.")
        if self.tol_violation is not None and self.tol_violation < 0:
            raise ValueError(f"SAL: `tol_violation` must be >= 0; got {self.tol_violation!r}.")

    def _setup(self, bound_constraints, device=None, dtype=torch.float32):
        super()._setup(bound_constraints, device, dtype)
        self._ineq = {n: k == "inequality" for n, k in self.kinds_.items()}
        self.mu_ = float(self.mu_init)
        self.c_best_ = None  # ||C_best||^2: a device scalar until the first outer iteration ends
        self.outer_iter_ = 0
        self.block_ = 0
        self.stop_ = False
        self.log_ = []
        self._track_objective = self.tol_objective is not None
        self._obj_sum = None
        self._obj_n = 0
        return self

    # -- the violation vector C -----------------------------------------------
    def _violation(self, name, d, mu):
        if self._ineq[name]:
            lam = self.multipliers_[name]
            return torch.maximum(d, lam / -mu)
        return d

    def _squared_norm(self, defects, mu):
        total = None
        for name, d in defects.items():
            v = self._violation(name, d, mu).square().sum()
            total = v if total is None else total + v
        return total

    # -- the step -------------------------------------------------------------
    def _compute_loss(self, objective, evals, *, update_duals):
        mu = self.mu_
        if update_duals:
            if self.c_best_ is None:
                defects = {n: e.defect.detach() for n, e in evals.items()}
                self._ensure_multipliers(defects)
                # C(theta_0): measured at the first step, before any update.
                self.c_best_ = self._squared_norm(defects, mu)
            if self._track_objective:
                o = objective.detach()
                self._obj_sum = o.clone() if self._obj_sum is None else self._obj_sum.add_(o)
                self._obj_n += 1
        loss = objective
        half_inv = 0.5 / mu
        for name, e in evals.items():
            lam, p = self.multipliers_[name], e.proxy
            if self._ineq[name]:
                term = (torch.relu(lam + mu * p).square() - lam.square()) * half_inv
            else:
                term = lam * p + (0.5 * mu) * p.square()
            if term.dim():
                term = term.sum()
            loss = loss + term
        return loss

    def _epoch_end(self, defects):
        if not defects:
            return
        if self.c_best_ is None:  # nothing was trained this epoch
            return
        mu = self.mu_
        self._ensure_multipliers(defects)
        viol = {n: self._violation(n, d.detach(), mu) for n, d in defects.items()}
        c2 = float(sum(v.double().square().sum() for v in viol.values()))  # one sync per epoch
        best = float(self.c_best_) if isinstance(self.c_best_, torch.Tensor) else self.c_best_
        accepted = c2 <= float(self.eta) * best
        entry = {
            "outer_iteration": self.outer_iter_ + 1,
            "violation": c2,
            "best": best,
            "accepted": accepted,
            "mu": mu,
        }
        if accepted:
            checks = []
            if self.tol_violation is not None:
                checks.append(c2 <= self.tol_violation)
            if self.tol_objective is not None and self._obj_n:
                checks.append(float(self._obj_sum) / self._obj_n <= self.tol_objective)
            elif self.tol_objective is not None:
                checks.append(False)
            if checks and all(checks):
                self.stop_ = True
            for name, v in viol.items():
                # lambda + mu * max(g, -lambda/mu) = max(lambda + mu g, 0) for inequalities
                self.multipliers_[name].add_(v.to(self.multipliers_[name].dtype), alpha=mu)
            self.c_best_ = c2
        else:
            self.mu_ = min(float(self.sigma) * mu, float(self.mu_max))
        self.log_.append(entry)
        self.outer_iter_ += 1
        if self.outer_iter_ % int(self.n_aug_lag) == 0:
            # a new reshuffle block: the penalty restarts at (block + 1) * mu_init
            self.block_ += 1
            self.mu_ = min((self.block_ + 1) * float(self.mu_init), float(self.mu_max))
        self._obj_sum, self._obj_n = None, 0

    def _should_stop(self):
        return self.stop_

    # -- reporting ------------------------------------------------------------
    def _penalty_for_history(self):
        return self.mu_

    def _get_state(self):
        state = super()._get_state()
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

    def _set_state(self, state):
        super()._set_state(state)
        self.mu_ = state["mu"]
        self.c_best_ = state["c_best"]
        self.outer_iter_ = state["outer_iter"]
        self.block_ = state["block"]
        self.stop_ = state["stop"]
        del self.log_[state["log_len"] :]
