"""The method abstraction shared by the estimators and :func:`~sklearn_constrained.optim.minimize`.

A method object holds hyperparameters only (``get_params``/``set_params``,
validated declaratively by ``_parameter_constraints``). Its fitted state
(multipliers, penalties, dual optimizer) is created by :meth:`bind` on a
private clone, so the object a user passes is never mutated. The training
loop calls, per primal step::

    states = {name: evaluator.evaluate(batch)}   # value, violation, strict_violation
    method.observe(states)                       # once, at the first evaluation
    loss = method.loss(objective, states)        # at every evaluation (L-BFGS: several)
    loss.backward()
    method.after_backward()
    optimizer.step(...)
    method.after_step()

and once per epoch (an outer iteration) ``method.epoch_end(states)``, then
``method.should_stop()``. Every per-step update runs in place on tensors on
the training device: the hot path never synchronises with the host. The
guide page "Writing a constraint or a method" builds a new one in a few lines.
"""

import torch
from sklearn.base import BaseEstimator

from ..utils._params import ParamsMixin
from ._multipliers import Multipliers

__all__ = ["ConstrainedMethod"]


class ConstrainedMethod(ParamsMixin, BaseEstimator):
    """Base class of the constrained-training methods.

    Subclasses implement :meth:`loss` and whichever hooks they need.

    Attributes
    ----------
    multipliers_ : Multipliers
        After :meth:`bind`: the multipliers by constraint name.
    """

    #: short name used in messages and by the string shortcut
    short_name = None
    #: whether the primal optimizer restarts at every epoch (SAL's subproblems)
    resets_primal_optimizer = False
    #: whether the method reads the weight constraints' states at every step
    #: (``False``: the loop evaluates only the data-dependent constraints per
    #: step, the weight ones at epoch ends)
    needs_weight_states = True

    # -- lifecycle --------------------------------------------------------------
    def bind(self, evaluators, *, device=None, dtype=torch.float32):
        """Create the fitted state for the given constraint evaluators.

        Parameters
        ----------
        evaluators : dict of str to ConstraintEvaluator
        device : torch.device, default=None
            Where the multipliers live.
        dtype : torch.dtype, default=torch.float32

        Returns
        -------
        self
        """
        self.check_params()
        self.evaluators_ = dict(evaluators)
        self.kinds_ = {name: e.kind for name, e in evaluators.items()}
        self.device_ = None if device is None else torch.device(device)
        self.dtype_ = dtype
        self.multipliers_ = Multipliers(self.kinds_)
        self.primal_optimizer_ = None  # set_primal_optimizer, when the caller says
        return self

    def set_primal_optimizer(self, optimizer_class):
        """Tell the method which primal optimizer trains the parameters (after :meth:`bind`).

        The training loops call it; a method may size its steps in that
        optimizer's geometry (:class:`~sklearn_constrained.methods.Auto` does).

        Parameters
        ----------
        optimizer_class : type
            A ``torch.optim.Optimizer`` subclass.

        Returns
        -------
        self
        """
        self.primal_optimizer_ = optimizer_class
        return self

    def release(self):
        """Drop the references to the constraint evaluators (and so to live parameters)."""
        self.evaluators_ = {}
        return self

    # -- the primal step --------------------------------------------------------
    def observe(self, states):
        """Once per primal step, before :meth:`loss`, with the first evaluation's states."""
        self.multipliers_.ensure(states)

    def loss(self, objective, states):  # pragma: no cover - abstract
        """The primal loss to minimise (called at every evaluation of a step)."""
        raise NotImplementedError

    def after_backward(self):
        """After ``loss.backward()`` (e.g. a gradient added in closed form)."""

    def after_step(self):
        """After the primal optimizer's step (e.g. S-ADMM's split updates)."""

    # -- the outer iteration ----------------------------------------------------
    def epoch_end(self, states):
        """After each pass over the data, with the epoch's constraint states."""

    def should_stop(self):
        """Whether the method's own stopping test passed at the last :meth:`epoch_end`."""
        return False

    def finalize(self):
        """At the end of training (e.g. write a feasible split copy into the module)."""

    # -- reporting --------------------------------------------------------------
    def multipliers(self):
        """``{name: ndarray}``: the multipliers (a host synchronisation)."""
        return self.multipliers_.numpy()

    def current_penalty(self):
        """The method's penalty coefficient(s) now, for the history; ``None`` without one."""
        return None

    # -- checkpointing ----------------------------------------------------------
    def state_dict(self):
        """Everything a resumed fit needs (tensors are clones)."""
        return {"multipliers": self.multipliers_.state_dict()}

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned (tensors on the training device)."""
        self.multipliers_.load_state_dict(state["multipliers"])
