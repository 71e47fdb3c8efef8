"""Constraints on per-group means of per-sample statistics, with running estimates.

Rates (the share predicted positive, a recall, an error rate) and group
losses are means over a population of per-sample quantities. A
:class:`GroupMeanConstraint` declares those quantities for a batch
(:meth:`~GroupMeanConstraint.columns`) and how the per-group means become its
state (:meth:`~GroupMeanConstraint.finish`); its :class:`GroupMeanEvaluator`
keeps, on the training device, running per-group sums of every column so
that a batch missing a group keeps that group's last estimate. The fairness
guide ("Mini-batches and running estimates") explains the memory.
"""

import copy

import numpy as np
import torch

from ._base import Constraint, ConstraintEvaluator

__all__ = ["GroupMeanConstraint", "GroupMeanEvaluator", "MEMORY_BATCHES"]

#: the running sums cover about this many recent batches (at most one epoch)
MEMORY_BATCHES = 4


class GroupMeanConstraint(Constraint):
    """Base of the constraints on per-group means (rates, group losses).

    Subclasses implement :meth:`columns` and :meth:`finish`, and may
    override :meth:`class_index` to resolve a class label.

    Examples
    --------
    A new group mean needs its per-sample columns and how the means become a
    state (here: the share predicted positive, at most ``upper``):

    >>> import torch
    >>> from sklearn_constrained.constraints import (
    ...     BatchContext, ConstraintState, GroupMeanConstraint)
    >>> class PositiveShare(GroupMeanConstraint):
    ...     _parameter_constraints = {"upper": [float]}
    ...     def __init__(self, upper=0.5):
    ...         self.upper = upper
    ...     def columns(self, batch, class_index):
    ...         margin = batch.y_pred[:, 1] - batch.y_pred[:, 0]
    ...         hard = (margin > 0).to(margin.dtype).unsqueeze(1)
    ...         return hard, torch.sigmoid(margin).unsqueeze(1), None
    ...     def finish(self, means, seen, surrogate_means, cache):
    ...         rate = means.reshape(())
    ...         return ConstraintState(rate, surrogate_means.reshape(()) - self.upper,
    ...                                rate - self.upper)
    >>> logits = torch.tensor([[0.0, 2.0], [0.0, 2.0], [0.0, 2.0], [0.0, -2.0]])
    >>> state = PositiveShare(upper=0.5).bind(None, "share").evaluate(BatchContext(logits))
    >>> float(state.value), float(state.strict_violation)
    (0.75, 0.25)
    """

    requires_data = True

    def bind(self, module, name):
        """Return a :class:`GroupMeanEvaluator` (the module is not needed)."""
        self.check_params()
        return GroupMeanEvaluator(name, self)

    def class_index(self, classes, name):
        """The index in ``classes`` the constraint is about (``None``: none needed)."""
        return None

    def margin(self, means, sizes, new_sizes, confidence):
        """The sampling-error margin of each strict-violation entry (``margin="auto"``).

        Parameters
        ----------
        means : ndarray of shape (G, R)
            The current per-group means of the columns.
        sizes, new_sizes : ndarray of shape (G, R)
            The (effective) populations of the training data and of the data
            the level must hold on.
        confidence : float

        Returns
        -------
        float or ndarray
            Broadcast against the strict violation.
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no sampling-error model for margin='auto'; pass a "
            "float `margin` (in the units of its value) or margin=None."
        )

    def check_estimator(self, classifier, name):
        """Raise when the constraint does not apply to this kind of estimator."""

    def columns(self, batch, class_index):  # pragma: no cover - abstract
        """The per-sample columns of a batch.

        Returns
        -------
        hard : torch.Tensor of shape (n, R)
            The true per-sample quantity of each of the ``R`` means (no gradient).
        soft : torch.Tensor of shape (n, R)
            Its differentiable surrogate.
        population : torch.Tensor of shape (n, R) or None
            1 where a sample belongs to the population of a mean (e.g. the
            positives for a recall); ``None`` when every sample belongs to all.
        """
        raise NotImplementedError

    def finish(self, means, seen, surrogate_means, cache):  # pragma: no cover - abstract
        """The :class:`ConstraintState` from the per-group means.

        Parameters
        ----------
        means : torch.Tensor of shape (G, R)
            The running true means (no gradient).
        seen : torch.Tensor of shape (G, R), bool
            Where the running population is non-empty.
        surrogate_means : torch.Tensor of shape (G, R)
            The batch's surrogate means (with gradients); a group the batch
            misses holds its running surrogate mean as a constant.
        cache : callable
            ``cache(key, like, make)``: a constant tensor built once by
            ``make()`` on ``like``'s device and dtype.
        """
        raise NotImplementedError


class GroupMeanEvaluator(ConstraintEvaluator):
    """Running per-group sums of a :class:`GroupMeanConstraint`'s columns.

    The sums of every (group, column) cell live in one tensor of shape
    ``(G, 3, R)``: the true sum, the population and the surrogate sum, so
    that the bookkeeping of a batch is a handful of tensor operations
    whatever the number of groups and columns. After a batch of ``b``
    samples the cells the batch contains are multiplied by ``1 - b / W``
    before its sums are added, with a memory ``W`` of
    :data:`MEMORY_BATCHES` batches (at most one epoch); the cells it misses
    keep their sums.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import BatchContext, DemographicParity
    >>> evaluator = DemographicParity(bound=0.1).bind(None, "dp").setup(classes=[0, 1])
    >>> logits = torch.tensor([[0.0, 2.0], [0.0, 2.0], [0.0, 2.0], [0.0, -2.0]])
    >>> batch = BatchContext(logits, groups=torch.tensor([0, 0, 1, 1]), n_groups=2)
    >>> float(evaluator.evaluate(batch).value)  # selection rates 1.0 and 0.5
    0.5
    >>> predicted_positive, population = evaluator.counts()
    >>> predicted_positive.ravel().tolist(), population.ravel().tolist()
    ([2.0, 1.0], [2.0, 2.0])
    """

    def __init__(self, name, constraint):
        super().__init__(name, constraint)
        self.class_index = None
        self.window = None
        self.external = False
        self.margin_ = None
        self._counts = None
        self._cache = {}

    # -- configuration ----------------------------------------------------------
    def setup(self, *, classes=None, classifier=True, n_samples=None, external=False):
        """Resolve the class label, the memory and the source of the estimates."""
        self.constraint.check_estimator(classifier, self.name)
        if classes is not None:
            self.class_index = self.constraint.class_index(list(classes), self.name)
        self.window = None if n_samples is None else int(n_samples)
        self.external = bool(external)
        return self

    def cached(self, key, like, make):
        """A constant tensor built once by ``make()`` on the CPU, then kept on ``like``'s device.

        Floating-point tensors take ``like``'s dtype; integer ones keep theirs.
        """
        key = (key, like.device, like.dtype)
        t = self._cache.get(key)
        if t is None:
            t = make()
            dtype = like.dtype if t.is_floating_point() else t.dtype
            t = self._cache[key] = t.to(device=like.device, dtype=dtype)
        return t

    def _membership(self, batch, like):
        """The batch's group membership as a ``(G, n)`` 0/1 matrix (``None`` without groups)."""
        if not self.requires_groups:
            return None
        if batch.groups is None:
            raise ValueError(
                f"Constraint {self.name!r} ({type(self.constraint).__name__}) compares groups: "
                "pass `sensitive_features`."
            )
        n_groups = max(int(batch.n_groups), 1)
        eye = self.cached(("eye", n_groups), like, lambda: torch.eye(n_groups))
        g = batch.groups
        if g.device != like.device or g.dtype != torch.long:
            g = g.to(like.device, torch.long)
        if g.dim() != 1:
            g = g.reshape(-1)
        # the columns of the identity: one gather, cheaper than advanced indexing
        return eye.index_select(1, g)

    def _scalars(self, like):
        """The 0-d constants ``(0, 1e-12, 1)`` on ``like``'s device and dtype.

        A tensor operand costs less than a Python number, which every
        operation first wraps into a new tensor; the values are the same.
        """
        key = ("scalars", like.device, like.dtype)
        out = self._cache.get(key)
        if out is None:
            out = self._cache[key] = tuple(
                torch.tensor(v, dtype=like.dtype, device=like.device) for v in (0.0, 1e-12, 1.0)
            )
        return out

    def _tables(self, batch):
        """The batch's per-group sums ``(G, 3, R)`` and what the surrogate means need."""
        hard, soft, population = self.constraint.columns(batch, self.class_index)
        n, n_cols = hard.shape
        w = batch.sample_weight
        with torch.no_grad():
            if population is None and w is None:
                ones = self.cached(("ones", n, n_cols), hard, lambda: torch.ones(n, n_cols))
                cols = torch.cat([hard, ones, soft], 1)
            else:
                pop = torch.ones_like(hard) if population is None else population
                if w is not None:
                    pop = pop * w.reshape(-1, 1).to(pop.dtype)
                cols = torch.cat([hard * pop, pop, soft * pop], 1)
            member = self._membership(batch, cols)
            tab = cols.sum(0, keepdim=True) if member is None else torch.mm(member, cols)
        if w is not None:
            population = pop
        return tab.view(-1, 3, n_cols), soft, population, member

    def _accumulate(self, tab, batch_size, present=None):
        """Add a batch's sums; ``present`` (``(G, R)``, bool): the cells the batch contains."""
        if self._counts is None or self._counts.shape != tab.shape:
            self._counts = tab.clone()
            return
        window = None if self.window is None else min(self.window, MEMORY_BATCHES * batch_size)
        if window:
            zero, _, one = self._scalars(tab)
            if present is None:
                present = torch.gt(tab[:, 1], zero)
            # the factor of the present cells (a 0-d constant; the absent ones keep theirs)
            decay = self.cached(
                ("decay", batch_size, window),
                tab,
                lambda: torch.tensor(max(0.0, 1.0 - batch_size / window)),
            )
            self._counts.mul_(torch.where(present.unsqueeze(1), decay, one))
        self._counts.add_(tab)

    # -- evaluation -------------------------------------------------------------
    def observe(self, batch):
        """Update the running sums from a batch without gradients (held-out dual data)."""
        with torch.no_grad():
            self._accumulate(self._tables(batch)[0], batch.y_pred.shape[0])

    def evaluate(self, batch=None):
        """The state from the running means (multipliers) and the batch's surrogate (gradients)."""
        if batch is None:
            raise ValueError(f"Constraint {self.name!r} depends on the data: pass a batch.")
        return self._from_tables(batch, *self._tables(batch))

    def _from_tables(self, batch, tab, soft, population, member):
        """:meth:`evaluate` once the batch's tables are known."""
        zero, tiny, one = self._scalars(tab)
        with torch.no_grad():
            den = tab[:, 1]  # (G, R): the batch's populations
            present = torch.gt(den, zero)
            if not self.external or self._counts is None:
                self._accumulate(tab, batch.y_pred.shape[0], present)
            run = self._counts
            # the running true and surrogate means, in one division
            means = torch.div(run[:, 0::2], torch.clamp_min(run[:, 1:2], tiny))
            # 1 / population (a group the batch misses has an all-zero
            # membership row, so its batch mean is 0 whatever this factor)
            floor = tiny if batch.sample_weight is not None else one
            inv = torch.clamp_min(den, floor).reciprocal()
            # cells the batch misses: their running surrogate mean, a constant
            missing = means[:, 1].masked_fill(present, zero)
            seen = torch.gt(run[:, 1], zero)
        state = self._state(means[:, 0], seen, soft, population, member, inv, missing)
        return self._with_margin(state)

    def _with_margin(self, state):
        m = self.margin_
        if m is None:
            return state
        # a level tightened by the margin: every entry reads "g - level <= 0"
        return state._replace(
            violation=state.violation + m, strict_violation=state.strict_violation + m
        )

    def _state(self, means, seen, soft, population, member, inv, missing):
        """The state from the running means and the batch's surrogate columns.

        ``means``, ``seen``, ``inv`` (one over the batch's populations) and
        ``missing`` (the running surrogate mean of the cells the batch
        misses, else 0) are ``(G, R)`` constants; ``soft`` and ``population``
        the batch's ``(n, R)`` columns, ``member`` its ``(G, n)`` membership.
        A subclass may compute the state directly (the parity constraints' does);
        this one forms the surrogate means for :meth:`GroupMeanConstraint.finish`.
        """
        # the batch's surrogate means: the only operations with gradients
        if member is not None and population is None and soft.shape[1] == 1:
            surrogate = (member * inv) @ soft  # (G, n) @ (n, 1)
        else:
            weighted = soft if population is None else soft * population
            if member is None:
                surrogate = weighted.sum(0, keepdim=True) * inv
            else:
                surrogate = (member @ weighted) * inv
        return self.constraint.finish(means, seen, surrogate + missing, self.cached)

    def set_margin(self, margin):
        """Tighten the level(s) by ``margin`` (a float or one per entry; ``None``: none)."""
        if margin is None:
            self.margin_ = None
            return self
        like = self._counts if self._counts is not None else torch.zeros(())
        self.margin_ = torch.as_tensor(margin, dtype=like.dtype).to(like.device).reshape(-1)
        return self

    def auto_margin(self, sizes, new_sizes, confidence=0.95):
        """The constraint's margin from the current running means (one host sync)."""
        num, den = (t.detach().double().cpu().numpy() for t in self.counts())
        means = num / np.maximum(den, 1e-12)
        return self.constraint.margin(means, sizes, new_sizes, confidence)

    def counts(self):
        """The running ``(true sum, population)`` per group and column, as tensors.

        ``None`` before the first batch. On a fresh evaluator that has seen
        one full-data batch, these are the exact counts behind every rate.
        """
        if self._counts is None:
            return None
        return self._counts[:, 0], self._counts[:, 1]

    def fresh(self):
        """A copy with empty running sums that estimates from its own batches."""
        other = copy.copy(self)
        other._counts = None
        other.external = False
        other.window = None
        other.margin_ = None
        return other

    # -- checkpointing ----------------------------------------------------------
    def state_dict(self):
        """The running sums (``None`` before the first batch)."""
        return {
            "counts": None if self._counts is None else self._counts.clone(),
            "margin": None if self.margin_ is None else self.margin_.clone(),
        }

    def load_state_dict(self, state):
        """Restore the running sums (and the margin)."""
        state = state or {}
        counts = state.get("counts")
        self._counts = None if counts is None else counts.clone()
        margin = state.get("margin")
        self.margin_ = None if margin is None else margin.clone()
