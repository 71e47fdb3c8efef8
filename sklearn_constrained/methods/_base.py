"""The method abstraction shared by the estimators and :func:`optim.minimize`.

A method object holds hyperparameters only (``get_params``/``set_params``);
its fitted state (multipliers, penalties, dual optimizer state) lives in
trailing-underscore attributes created by :meth:`ConstrainedMethod._setup` on
a private clone, so the object a user passes is never mutated.

The training engine calls, per primal step::

    evals = {name: bound.evaluate(ctx)}              # value, defect, proxy
    loss = method._compute_loss(f, evals, update_duals=first_call)
    loss.backward()
    method._after_backward(evals, update_duals=first_call)
    optimizer.step(...)
    method._after_step()

and, once per epoch (outer iteration), ``method._epoch_end(defects)``. Every
update happens in place on tensors that live on the training device: the hot
path never synchronises with the host.
"""

import numpy as np
import torch
from sklearn.base import BaseEstimator

__all__ = ["ConstrainedMethod"]


class ConstrainedMethod(BaseEstimator):
    """Base class of the constrained-training methods.

    Subclasses override :meth:`_compute_loss` and whichever hooks they need.
    """

    #: short name used in messages and the string shortcut
    short_name = None
    #: whether the method reinitialises the primal optimizer at each epoch
    resets_optimizer_each_epoch = False
    #: whether the method reads the weight constraints' per-step values
    #: (``False``: the training loop evaluates only the data-dependent
    #: constraints at each step; the weight ones are evaluated at epoch ends)
    _needs_step_evals = True

    # -- validation -----------------------------------------------------------
    def _check_params(self):
        """Raise ``ValueError`` naming a nonsensical hyperparameter."""

    def _check_positive(self, name, value, *, strict=True, allow_zero=False):
        from numbers import Real

        if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
            raise ValueError(
                f"{type(self).__name__}: `{name}` must be a finite number; got {value!r}."
            )
        if value < 0 or (value == 0 and strict and not allow_zero):
            op = ">= 0" if allow_zero else "> 0"
            raise ValueError(f"{type(self).__name__}: `{name}` must be {op}; got {value!r}.")

    # -- lifecycle ------------------------------------------------------------
    def _setup(self, bound_constraints, device=None, dtype=torch.float32):
        """Create the fitted state for the given bound constraints."""
        self._check_params()
        self.constraint_names_ = list(bound_constraints)
        self.bound_constraints_ = dict(bound_constraints)
        self.kinds_ = {n: b.kind for n, b in bound_constraints.items()}
        self.device_ = torch.device(device) if device is not None else None
        self.dtype_ = dtype
        self.multipliers_ = {}
        return self

    def _ensure_multipliers(self, defects):
        # Created lazily from the first defect, so vector-valued constraints
        # get one multiplier per entry; this branch runs once per fit.
        for name, d in defects.items():
            if name not in self.multipliers_:
                self.multipliers_[name] = torch.zeros_like(d, dtype=d.dtype).detach()

    def _is_inequality(self, name):
        return self.kinds_[name] == "inequality"

    # -- the step -------------------------------------------------------------
    def _compute_loss(self, objective, evals, *, update_duals):  # pragma: no cover
        raise NotImplementedError

    def _after_backward(self, evals, *, update_duals):
        """Hook after ``loss.backward()`` (simultaneous dual updates)."""

    def _after_step(self):
        """Hook after the primal optimizer's step (S-ADMM's split updates)."""

    def _epoch_end(self, defects):
        """Hook after each pass over the data, with the epoch's defects."""

    def _finalize(self):
        """Hook at the end of training (e.g. copy a feasible split variable)."""

    def _should_stop(self):
        """Whether the method's own stopping test passed at the last
        ``_epoch_end`` (SAL's tolerances); the training loop then stops.
        """
        return False

    # -- reporting ------------------------------------------------------------
    def _penalty_for_history(self):
        """The method's penalty coefficient(s) for the history, or ``None``."""
        return None

    def _multipliers_numpy(self):
        return {
            n: np.atleast_1d(m.detach().cpu().numpy().astype(np.float64))
            for n, m in self.multipliers_.items()
        }

    # -- checkpointing --------------------------------------------------------
    def _get_state(self):
        return {"multipliers": {n: m.detach().clone() for n, m in self.multipliers_.items()}}

    def _set_state(self, state):
        self.multipliers_ = {n: m.clone() for n, m in state["multipliers"].items()}
