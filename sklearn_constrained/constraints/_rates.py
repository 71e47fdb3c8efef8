r"""Rate and fairness constraints: proxy constraints on prediction rates.

A rate (the share of samples predicted positive, the recall of a class, a
group's error rate) is a count of predictions: piecewise constant in the
weights, so its gradient is zero almost everywhere. Following Cotter et al.
(2019, "proxy constraints"), each constraint here returns

``defect``
    the signed violation of the *true* rate, computed from counts of
    predictions (``argmax`` of the logits, exactly what ``predict`` returns).
    It drives the Lagrange multipliers;
``proxy``
    the same expression with every indicator replaced by a smooth surrogate,
    which supplies the gradients;
``value``
    the true quantity the user reasons about (a rate, a gap, a loss).

Surrogates
----------
For the event "sample ``i`` is predicted as class ``k``" with logits ``z``:

``"sigmoid"`` (default)
    the softmax probability :math:`p_k = \sigma(z_k - \log\sum_{j\ne k} e^{z_j})`
    (for two classes :math:`\sigma(z_1 - z_0)`): smooth everywhere, never
    exactly zero-gradient, close to the indicator once the logits are
    confident.
``"hinge"``
    the saturated hinge (ramp) of the margin :math:`m = z_k - \max_{j\ne k} z_j`,
    :math:`\min(1, \max(0, (1 + m) / 2))`: exactly the indicator when
    :math:`|m| \ge 1`, linear in between; its gradient vanishes on confident
    samples.

The default was chosen by experiment. On the rate-constrained classification
of Ramirez et al. (``examples/rate_constraint.py``: 10,000 full-batch GDA
steps for each of 20 dual step sizes) the sigmoid reaches 70% (+-1 point)
at 80% accuracy for 15 step sizes, the hinge for 13: with small dual steps
the classes are already separated with margins beyond 1 when the multiplier
starts to matter, the ramp has no gradient there, and the multiplier grows
to 7.6 without moving the boundary (the sigmoid reaches the same multiplier
as the paper, about 1.98). On Adult (demographic parity 0.02) both gave the
same held-out accuracy (0.830-0.831).

The final model
---------------
Stochastic gradient descent-ascent hovers around the constrained optimum,
and the predictions of borderline samples move with every step, so the last
iterate of a mini-batch fit can miss a tight rate level by the amplitude of
that noise. When a constraint depends on the data, the estimators therefore
return the *best feasible iterate*: at the end of every epoch they evaluate
the true constraints (on the training data, or on the ``dual_split`` part) and
keep the iterate with the smallest loss among those that satisfy them; if
none does, the last iterate (see ``history_[i]["selection"]`` and
``"selected"``). The model is deterministic: no randomized classifier.

Gaps are between groups
-----------------------
A parity constraint bounds the *largest minus the smallest* group rate over
the groups of ``sensitive_features``, i.e. ``max_g r_g - min_h r_h <= bound``.
It is stated as one inequality per ordered pair of groups,
``r_g - r_h <= bound`` (``G (G - 1)`` multipliers), which is equivalent and
keeps every constraint linear in the rates. fairlearn's ``difference_bound``
instead bounds each group's rate against the *overall* rate,
``|r_g - r| <= eps``; for two groups that allows a between-group gap of up to
about ``2 eps`` (on Adult with demographic parity, a between-group gap of
about 1.5 times fairlearn's bound). To compare at the same guarantee, give
fairlearn ``difference_bound = bound / 2``.

Mini-batches and running estimates
----------------------------------
A mini-batch may miss a group (or contain no positive sample), and a rate
measured on a small batch is noisy. Each bound constraint therefore keeps,
on the training device, an exponential moving average of its per-group
counts (the numerator and denominator of every rate) and gives the
multipliers the rates of these running counts. After a batch of ``b``
samples, the counts of every (rate, group) cell the batch contains are
multiplied by ``1 - b / W`` before the batch's counts are added, with a
memory ``W`` of four batches (at most one epoch); the cells the batch
misses keep their counts, so a group absent from a batch keeps its last
estimate instead of vanishing or decaying. With full-batch training the
estimate is the current batch, exactly. The memory is short on purpose: an
estimate averaged over a whole epoch lags the weights by half an epoch,
and on Adult that delay turned gradient descent-ascent on an equalized-odds
constraint into a limit cycle (between-group gaps swinging between 0.1 and
0.8), while four batches kept it stable and accurate (held-out gaps within
0.01 of the bound). The gradient (``proxy``) always comes from the current
batch; for a group the batch misses, the running estimate of its surrogate
rate stands in as a constant. The statistics live in the per-fit bound
object, never in the user's constraint.

With ``dual_split`` on the estimator (Cotter et al. 2019, constraints that
generalise), the running counts are fed by a held-out part of the training
data instead, so that the multipliers learn from samples the weights never
fit, while the gradients still come from the training batches.
"""

import copy

import torch

from ._base import BoundConstraint, Constraint, ConstraintEval, check_level

__all__ = [
    "BoundedGroupLoss",
    "DemographicParity",
    "EqualizedOdds",
    "ErrorRateParity",
    "FalsePositiveRate",
    "FalsePositiveRateParity",
    "PredictionRate",
    "TruePositiveRate",
    "TruePositiveRateParity",
    "surrogate_indicator",
]

_SURROGATES = ("sigmoid", "hinge")
#: the running counts cover about this many recent batches (at most one epoch)
_MEMORY_BATCHES = 4


# ----------------------------------------------------------------------------
# surrogates
# ----------------------------------------------------------------------------
def _class_index_tensor(logits, k):
    if isinstance(k, torch.Tensor):
        return k.to(logits.device).long().reshape(-1, 1)
    return torch.full((logits.shape[0], 1), int(k), dtype=torch.long, device=logits.device)


def surrogate_indicator(logits, k, surrogate="sigmoid"):
    """The true and smooth indicators of "predicted as class ``k``".

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Raw module outputs; ``argmax`` gives the prediction.
    k : int or torch.Tensor of shape (n_samples,)
        The class index (one for all samples, or one per sample).
    surrogate : {"sigmoid", "hinge"}, default="sigmoid"
        ``"sigmoid"``: the softmax probability of class ``k``;
        ``"hinge"``: the ramp ``clip((1 + m) / 2, 0, 1)`` of the margin
        ``m = z_k - max_{j != k} z_j``.

    Returns
    -------
    hard : torch.Tensor of shape (n_samples,)
        ``1.0`` where ``argmax(logits) == k``, else ``0.0`` (no gradient).
    soft : torch.Tensor of shape (n_samples,)
        The differentiable surrogate, in ``[0, 1]``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import surrogate_indicator
    >>> z = torch.tensor([[0.0, 8.0], [3.0, -3.0]])
    >>> hard, soft = surrogate_indicator(z, 1)
    >>> hard.tolist(), [round(v, 3) for v in soft.tolist()]
    ([1.0, 0.0], [1.0, 0.002])
    >>> surrogate_indicator(z, 1, surrogate="hinge")[1].tolist()
    [1.0, 0.0]
    """
    if surrogate not in _SURROGATES:
        raise ValueError(f"Unknown `surrogate`={surrogate!r}; choose 'sigmoid' or 'hinge'.")
    if logits.dim() == 2 and logits.shape[1] == 2 and not isinstance(k, torch.Tensor):
        return _binary_indicator(logits, int(k), surrogate)
    idx = _class_index_tensor(logits, k)
    hard = (logits.detach().argmax(dim=1, keepdim=True) == idx).to(logits.dtype).squeeze(1)
    if surrogate == "sigmoid":
        soft = torch.softmax(logits, dim=1).gather(1, idx).squeeze(1)
    else:
        z_k = logits.gather(1, idx).squeeze(1)
        others = logits.scatter(1, idx, float("-inf")).amax(dim=1)
        soft = torch.clamp(0.5 * (1.0 + z_k - others), 0.0, 1.0)
    return hard, soft


def _binary_indicator(logits, k, surrogate):
    """The two-class case of :func:`surrogate_indicator` in four operations:
    everything follows from the margin ``z_k - z_{1-k}`` (the softmax
    probability of class ``k`` is the sigmoid of the margin; ``argmax``
    breaks a tie towards class 0).
    """
    margin = logits @ _margin_vector(k, logits)
    # comparisons record no gradient: no detach needed
    hard = (margin > 0 if k == 1 else margin >= 0).to(logits.dtype)
    if surrogate == "sigmoid":
        soft = torch.sigmoid(margin)
    else:
        soft = torch.clamp(0.5 * (1.0 + margin), 0.0, 1.0)
    return hard, soft


_MARGIN_VECTORS = {}


def _margin_vector(k, like):
    key = (k, like.device, like.dtype)
    v = _MARGIN_VECTORS.get(key)
    if v is None:
        v = _MARGIN_VECTORS[key] = torch.tensor(
            [-1.0, 1.0] if k == 1 else [1.0, -1.0], dtype=like.dtype, device=like.device
        )
    return v


# ----------------------------------------------------------------------------
# base classes
# ----------------------------------------------------------------------------
class _RateConstraint(Constraint):
    """Base of the constraints on prediction rates (proxy constraints)."""

    requires_data = True
    requires_groups = False
    requires_labels = False
    #: whether the constraint needs a positive class (binary, or ``pos_label``)
    _needs_positive = True

    def _check_surrogate(self):
        if self.surrogate not in _SURROGATES:
            raise ValueError(
                f"{type(self).__name__}: unknown `surrogate`={self.surrogate!r}; "
                "choose 'sigmoid' or 'hinge'."
            )

    def _bind(self, module, name):
        return self._bound_class(name, self)


class _BoundRates(BoundConstraint):
    """Running per-group counts of one or more rates, and the proxy machinery.

    Subclasses implement ``_rows(ctx) -> (hard, soft, cond)`` (each of shape
    ``(n, R)``: the true indicator, its surrogate and the membership of each
    sample in the population of each rate, ``None`` when every sample
    belongs to every rate's population) and ``_finish(est, seen, proxy_rate)``
    mapping the ``(G, R)`` running rates, the mask of groups seen and the
    batch surrogate rates to a :class:`ConstraintEval`.
    """

    def __init__(self, name, constraint):
        super().__init__(name, constraint)
        self.requires_labels = constraint.requires_labels
        self.surrogate = getattr(constraint, "surrogate", "sigmoid")
        self.pos_index = 1
        self.window = None
        self.external_dual = False
        self._set_counts(None)
        self._pairs = {}

    # -- configuration (called by the estimator) --------------------------------
    def configure(self, classes=None, n_samples=None, external_dual=False, classifier=True):
        """Resolve class labels and set up the running estimates for one fit.

        Parameters
        ----------
        classes : array-like or None
            The estimator's ``classes_``; ``None`` keeps class indices.
        n_samples : int or None
            The number of samples per epoch the running counts are drawn from
            (their memory); ``None`` sums every batch seen.
        external_dual : bool
            Whether the running counts are fed by :meth:`observe` (a held-out
            split) rather than by the training batches.
        classifier : bool
            ``False`` for a regressor (rate constraints then raise).
        """
        c = self.constraint
        if isinstance(c, _RateConstraint) and not classifier:
            raise ValueError(
                f"{type(c).__name__} (constraint {self.name!r}) constrains predicted classes; "
                "use it with ConstrainedClassifier (BoundedGroupLoss also works for regressors)."
            )
        if classes is not None:
            self._resolve_classes(list(classes))
        self.window = None if n_samples is None else int(n_samples)
        self.external_dual = bool(external_dual)
        return self

    def _resolve_classes(self, classes):
        c = self.constraint
        if not getattr(c, "_needs_positive", False):
            return
        pos_label = getattr(c, "pos_label", None)
        if pos_label is None:
            if len(classes) != 2:
                raise ValueError(
                    f"{type(c).__name__} (constraint {self.name!r}) needs a positive class: with "
                    f"{len(classes)} classes, set `pos_label` to one of {classes}."
                )
            self.pos_index = 1
        else:
            matches = [i for i, v in enumerate(classes) if v == pos_label]
            if not matches:
                raise ValueError(
                    f"{type(c).__name__} (constraint {self.name!r}): `pos_label`={pos_label!r} is "
                    f"not a class of the data; the classes are {classes}."
                )
            self.pos_index = matches[0]

    # -- running counts -----------------------------------------------------------
    # The counts of every (group, rate) cell live in one tensor of shape
    # (G, 3, R): [true count, population, surrogate count], so that the whole
    # bookkeeping of a batch is a handful of tensor operations whatever the
    # number of groups and rates. ``_num``, ``_den`` and ``_soft`` are views.
    def _cached(self, key, like, make):
        """A constant tensor cached per ``key``, device and dtype: ``make()``
        (built on the CPU) on ``like``'s device and in its dtype.
        """
        key = (key, str(like.device), like.dtype)
        t = self._pairs.get(key)
        if t is None:
            t = self._pairs[key] = make().to(device=like.device, dtype=like.dtype)
        return t

    def _membership(self, ctx, like):
        """The batch's group membership as a ``(G, n)`` 0/1 matrix (``None``
        without groups), from a cached identity matrix: one indexing op.
        """
        if not self.requires_groups:
            return None
        if ctx.groups is None:
            raise ValueError(
                f"Constraint {self.name!r} ({type(self.constraint).__name__}) compares groups: "
                "pass `sensitive_features`."
            )
        n_groups = max(int(ctx.n_groups), 1)
        eye = self._cached(("eye", n_groups), like, lambda: torch.eye(n_groups))
        g = ctx.groups
        if g.device != like.device or g.dtype != torch.long:
            g = g.to(like.device, torch.long)
        return eye[:, g]

    def _tables(self, ctx):
        """The batch's per-group sums, shape ``(G, 3, R)`` (``G = 1`` without
        groups), without gradients; also returns what :meth:`evaluate` needs
        for the surrogate rates: ``(tab, soft, cond, member)``.
        """
        hard, soft, cond = self._rows(ctx)
        n, n_rates = hard.shape
        with torch.no_grad():
            if cond is None:  # every sample belongs to every rate's population
                ones = self._cached(("ones", n, n_rates), hard, lambda: torch.ones(n, n_rates))
                cols = torch.cat([hard, ones, soft], 1)
            else:
                cols = torch.cat([hard * cond, cond, soft * cond], 1)
            member = self._membership(ctx, cols)
            tab = cols.sum(0, keepdim=True) if member is None else member @ cols
        return tab.view(-1, 3, n_rates), soft, cond, member

    def _set_counts(self, counts):
        self._counts = counts
        if counts is None:
            self._num = self._den = self._soft = None
        else:
            self._num, self._den, self._soft = counts[:, 0], counts[:, 1], counts[:, 2]

    def _accumulate(self, tab, batch):
        if self._counts is None or self._counts.shape != tab.shape:
            self._set_counts(tab.clone())
            return
        window = None if self.window is None else min(self.window, _MEMORY_BATCHES * batch)
        if window:
            # (1, beta): the factors of absent and present cells
            decay = self._cached(
                ("decay", batch, window),
                tab,
                lambda: torch.tensor([1.0, max(0.0, 1.0 - batch / window)]),
            )
            # cells (rate, group) absent from the batch keep their estimate
            self._counts.mul_(decay[(tab[:, 1:2] > 0).long()])
        self._counts.add_(tab)

    def fresh_copy(self):
        """A copy with empty running counts that estimates from its own batches
        (for evaluations that must not disturb the fit's estimates).
        """
        other = copy.copy(self)
        other._set_counts(None)
        other.external_dual = False
        other.window = None
        return other

    def _get_state(self):
        # the running counts (None before the first batch); `warm_start` and
        # checkpoints carry them so a resumed fit sees the same estimates
        if self._counts is None:
            return {"num": None, "soft": None, "den": None}
        return {"num": self._num.clone(), "soft": self._soft.clone(), "den": self._den.clone()}

    def _set_state(self, state):
        if state and state.get("num") is not None:
            self._set_counts(torch.stack([state["num"], state["den"], state["soft"]], 1).clone())

    def observe(self, ctx):
        """Update the running counts from a batch without taking gradients
        (used for the held-out dual estimates).
        """
        with torch.no_grad():
            self._accumulate(self._tables(ctx)[0], ctx.y_pred.shape[0])

    def evaluate(self, ctx=None):
        if ctx is None:
            raise ValueError(f"Constraint {self.name!r} depends on the data: pass a batch context.")
        tab, soft, cond, member = self._tables(ctx)
        with torch.no_grad():
            if not self.external_dual or self._counts is None:
                self._accumulate(tab, ctx.y_pred.shape[0])
            run = self._counts
            # the running true rates and surrogate rates, in one division
            rates = run[:, 0::2] / run[:, 1:2].clamp_min(1e-12)
            den = tab[:, 1]
            # 1 / population (a group the batch misses has an all-zero
            # membership row, so its batch rate is 0 whatever this factor)
            inv = den.clamp_min(1.0).reciprocal()
            # cells the batch misses: their running surrogate rate, a constant
            missing = rates[:, 1].masked_fill(den > 0, 0.0)
        # the batch's surrogate rates: the only operations with gradients
        if member is not None and cond is None and soft.shape[1] == 1:
            proxy_rate = (member * inv) @ soft  # (G, n) @ (n, 1)
        else:
            weighted = soft if cond is None else soft * cond
            if member is None:
                proxy_rate = weighted.sum(0, keepdim=True) * inv
            else:
                proxy_rate = (member @ weighted) * inv
        return self._finish(rates[:, 0], run[:, 1] > 0, proxy_rate + missing)

    # -- helpers for gap constraints ---------------------------------------------------
    def _pair_index(self, n_groups, device, dtype=torch.float32):
        """For the ``G (G - 1)`` ordered pairs of groups ``(g, h)``: the index
        tensors of ``g`` and ``h`` and the ``(P, G)`` difference matrix.
        """
        key = (n_groups, str(device), dtype)
        if key not in self._pairs:
            ii, jj = torch.meshgrid(torch.arange(n_groups), torch.arange(n_groups), indexing="ij")
            off = ii != jj
            ii, jj = ii[off], jj[off]
            diff = torch.zeros(len(ii), n_groups, dtype=dtype)
            diff[torch.arange(len(ii)), ii] = 1.0
            diff[torch.arange(len(ii)), jj] = -1.0
            self._pairs[key] = (ii.to(device), jj.to(device), diff.to(device))
        return self._pairs[key]

    def _gaps(self, est, seen, proxy_rate, bound):
        """Pairwise ``r_g - r_h - bound`` for every rate column, and the value
        (the largest between-group gap, 0 with fewer than two groups seen).
        """
        ii, jj, dmat = self._pair_index(est.shape[0], est.device, est.dtype)
        if not len(ii):
            return ConstraintEval(est.new_zeros(()), est.new_zeros(0), proxy_rate.new_zeros(0))
        both = seen[ii] & seen[jj]
        diff = dmat @ est
        pdiff = dmat.to(proxy_rate.dtype) @ proxy_rate
        defect = torch.where(both, diff - bound, -bound).T.reshape(-1)
        proxy = torch.where(both, pdiff - bound, -bound).T.reshape(-1)
        # the largest gap over the pairs seen: both orders of a pair are in
        # `defect`, so its maximum plus the bound is >= 0, and 0 when none is seen
        value = defect.amax() + bound
        return ConstraintEval(value, defect, proxy)


# ----------------------------------------------------------------------------
# rate constraints without groups
# ----------------------------------------------------------------------------
class _BoundPredictionRate(_BoundRates):
    label_index = None

    def _resolve_classes(self, classes):
        label = self.constraint.label
        matches = [i for i, v in enumerate(classes) if v == label]
        if not matches:
            raise ValueError(
                f"PredictionRate (constraint {self.name!r}): `label`={label!r} is not a class of "
                f"the data; the classes are {classes}."
            )
        self.label_index = matches[0]

    def _rows(self, ctx):
        k = self.label_index
        if k is None:
            k = int(self.constraint.label)
        hard, soft = surrogate_indicator(ctx.y_pred, k, self.surrogate)
        return hard[:, None], soft[:, None], None

    def _finish(self, est, seen, proxy_rate):
        c = self.constraint
        r, p = est[0, 0], proxy_rate[0, 0]
        defects, proxies = [], []
        if c.lower is not None:
            defects.append(c.lower - r)
            proxies.append(c.lower - p)
        if c.upper is not None:
            defects.append(r - c.upper)
            proxies.append(p - c.upper)
        return ConstraintEval(r, torch.stack(defects), torch.stack(proxies))


class PredictionRate(_RateConstraint):
    r"""The share of samples predicted as ``label`` lies in ``[lower, upper]``.

    A proxy constraint: the multiplier follows the true share (counts of
    ``predict``), the gradient follows a smooth surrogate (see ``surrogate``).
    Works for binary and multiclass classifiers.

    Parameters
    ----------
    label : object
        A class label (an element of the classifier's ``classes_``).
    lower, upper : float or None, default=None
        The bounds, in ``[0, 1]``; at least one is required. With both, the
        constraint has two sides (two multipliers).
    surrogate : {"sigmoid", "hinge"}, default="sigmoid"
        The smooth stand-in for the indicator "predicted as ``label``":
        the softmax probability of ``label``, or the saturated hinge of its
        logit margin (see :func:`surrogate_indicator`).

    Examples
    --------
    >>> from sklearn_constrained.constraints import PredictionRate
    >>> PredictionRate(label=0, lower=0.7)
    PredictionRate(label=0, lower=0.7)
    """

    _bound_class = _BoundPredictionRate
    _needs_positive = False

    def __init__(self, label, lower=None, upper=None, surrogate="sigmoid"):
        self.label = label
        self.lower = lower
        self.upper = upper
        self.surrogate = surrogate

    def _check_params(self):
        lower = check_level(self, "lower", self.lower, high=1.0, allow_none=True)
        upper = check_level(self, "upper", self.upper, high=1.0, allow_none=True)
        if lower is None and upper is None:
            raise ValueError(
                "PredictionRate: set `lower` and/or `upper` (shares in [0, 1]); both are None."
            )
        if lower is not None and upper is not None and lower > upper:
            raise ValueError(f"PredictionRate: `lower`={lower} exceeds `upper`={upper}.")
        self._check_surrogate()


class _BoundLabelRate(_BoundRates):
    """TPR (``negatives=False``) or FPR (``negatives=True``) of the positive class."""

    negatives = False

    def _rows(self, ctx):
        hard, soft = surrogate_indicator(ctx.y_pred, self.pos_index, self.surrogate)
        if ctx.y is None:
            raise ValueError(f"Constraint {self.name!r} involves the labels: pass `y`.")
        is_pos = (ctx.y.reshape(-1) == self.pos_index).to(hard.dtype)
        cond = 1.0 - is_pos if self.negatives else is_pos
        return hard[:, None], soft[:, None], cond[:, None]


class _BoundTPR(_BoundLabelRate):
    def _finish(self, est, seen, proxy_rate):
        lower = self.constraint.lower
        r = est[0, 0]
        return ConstraintEval(r, (lower - r).reshape(1), (lower - proxy_rate[0, 0]).reshape(1))


class _BoundFPR(_BoundLabelRate):
    negatives = True

    def _finish(self, est, seen, proxy_rate):
        upper = self.constraint.upper
        r = est[0, 0]
        return ConstraintEval(r, (r - upper).reshape(1), (proxy_rate[0, 0] - upper).reshape(1))


class TruePositiveRate(_RateConstraint):
    r"""Recall of the positive class at least ``lower``: :math:`P(\hat y = +\mid y = +) \ge` ``lower``.

    A Neyman-Pearson-style constraint (bound the miss rate, minimise the
    loss). The positive class is ``classes_[1]`` for binary targets, or
    ``pos_label``.

    Parameters
    ----------
    lower : float
        The level, in ``[0, 1]``.
    pos_label : object, default=None
        The positive class; required for more than two classes.
    surrogate : {"sigmoid", "hinge"}, default="sigmoid"
        See :class:`PredictionRate`.

    Examples
    --------
    >>> from sklearn_constrained.constraints import TruePositiveRate
    >>> TruePositiveRate(lower=0.9).requires_labels
    True
    """

    _bound_class = _BoundTPR
    requires_labels = True

    def __init__(self, lower=0.9, pos_label=None, surrogate="sigmoid"):
        self.lower = lower
        self.pos_label = pos_label
        self.surrogate = surrogate

    def _check_params(self):
        check_level(self, "lower", self.lower, high=1.0)
        self._check_surrogate()


class FalsePositiveRate(_RateConstraint):
    r"""False-positive rate of the positive class at most ``upper``: :math:`P(\hat y = +\mid y \ne +) \le` ``upper``.

    Parameters
    ----------
    upper : float
        The level, in ``[0, 1]``.
    pos_label : object, default=None
        The positive class; required for more than two classes.
    surrogate : {"sigmoid", "hinge"}, default="sigmoid"
        See :class:`PredictionRate`.

    Examples
    --------
    >>> from sklearn_constrained.constraints import FalsePositiveRate
    >>> FalsePositiveRate(upper=0.05)
    FalsePositiveRate(upper=0.05)
    """

    _bound_class = _BoundFPR
    requires_labels = True

    def __init__(self, upper=0.1, pos_label=None, surrogate="sigmoid"):
        self.upper = upper
        self.pos_label = pos_label
        self.surrogate = surrogate

    def _check_params(self):
        check_level(self, "upper", self.upper, high=1.0)
        self._check_surrogate()


# ----------------------------------------------------------------------------
# fairness constraints: between-group gaps
# ----------------------------------------------------------------------------
class _BoundGap(_BoundRates):
    #: which rates: "selection", "tpr", "fpr", "error"
    rates = ("selection",)

    def _rows(self, ctx):
        y = None if ctx.y is None else ctx.y.reshape(-1)
        if y is None and self.requires_labels:
            raise ValueError(f"Constraint {self.name!r} involves the labels: pass `y`.")
        if self.rates == ("selection",):  # demographic parity: the hot case
            hard, soft = surrogate_indicator(ctx.y_pred, self.pos_index, self.surrogate)
            return hard[:, None], soft[:, None], None
        cols_h, cols_s, cols_c = [], [], []
        positive = is_pos = None
        for rate in self.rates:
            if rate == "error":
                hard, soft = surrogate_indicator(ctx.y_pred, y, self.surrogate)
                hard, soft = 1.0 - hard, 1.0 - soft
                cond = torch.ones_like(hard)
            else:
                if positive is None:  # one indicator for every rate of the positive class
                    positive = surrogate_indicator(ctx.y_pred, self.pos_index, self.surrogate)
                hard, soft = positive
                if rate == "selection":
                    cond = torch.ones_like(hard)
                else:
                    if is_pos is None:
                        is_pos = (y == self.pos_index).to(hard.dtype)
                    cond = is_pos if rate == "tpr" else 1.0 - is_pos
            cols_h.append(hard)
            cols_s.append(soft)
            cols_c.append(cond)
        return torch.stack(cols_h, 1), torch.stack(cols_s, 1), torch.stack(cols_c, 1)

    def _finish(self, est, seen, proxy_rate):
        return self._gaps(est, seen, proxy_rate, float(self.constraint.bound))


class _BoundDP(_BoundGap):
    rates = ("selection",)


class _BoundEO(_BoundGap):
    rates = ("tpr", "fpr")


class _BoundTPRParity(_BoundGap):
    rates = ("tpr",)


class _BoundFPRParity(_BoundGap):
    rates = ("fpr",)


class _BoundErrorParity(_BoundGap):
    rates = ("error",)


class _GapConstraint(_RateConstraint):
    requires_groups = True

    def __init__(self, bound=0.05, pos_label=None, surrogate="sigmoid"):
        self.bound = bound
        self.pos_label = pos_label
        self.surrogate = surrogate

    def _check_params(self):
        check_level(self, "bound", self.bound, high=1.0)
        self._check_surrogate()


_GAP_PARAMS = """
    Parameters
    ----------
    bound : float, default=0.05
        The largest admissible gap, in ``[0, 1]``, between the largest and the
        smallest group rate (not a group's distance to the overall rate, as
        fairlearn's ``difference_bound``: see the module notes).
    pos_label : object, default=None
        The positive class; ``None`` means ``classes_[1]`` for binary targets
        and is an error for more than two classes.
    surrogate : {"sigmoid", "hinge"}, default="sigmoid"
        The smooth stand-in for "predicted positive" that supplies the
        gradients (see :func:`surrogate_indicator`).
"""


class DemographicParity(_GapConstraint):
    __doc__ = (
        r"""Selection rates (share predicted positive) of every group within ``bound`` of each other.

    :math:`\max_g P(\hat y = + \mid A = g) - \min_h P(\hat y = + \mid A = h) \le` ``bound``
    over the groups of ``sensitive_features`` (any number of groups). One
    multiplier per ordered pair of groups; proxy constraint (true rates for
    the multipliers, surrogate rates for the gradients).
    """
        + _GAP_PARAMS
        + """
    Examples
    --------
    >>> from sklearn_constrained.constraints import DemographicParity
    >>> DemographicParity(bound=0.05).requires_groups
    True
    """
    )

    _bound_class = _BoundDP


class EqualizedOdds(_GapConstraint):
    __doc__ = (
        r"""The larger of the between-group TPR gap and FPR gap at most ``bound``.

    Both the true-positive rates (recall among ``y = +``) and the
    false-positive rates (among ``y != +``) of all groups lie within
    ``bound`` of each other.
    """
        + _GAP_PARAMS
        + """
    Examples
    --------
    >>> from sklearn_constrained.constraints import EqualizedOdds
    >>> EqualizedOdds(bound=0.1).requires_labels
    True
    """
    )

    _bound_class = _BoundEO
    requires_labels = True


class TruePositiveRateParity(_GapConstraint):
    __doc__ = (
        r"""Between-group gap of the true-positive rate (equal opportunity) at most ``bound``.
    """
        + _GAP_PARAMS
        + """
    Examples
    --------
    >>> from sklearn_constrained.constraints import TruePositiveRateParity
    >>> TruePositiveRateParity(bound=0.05).bound
    0.05
    """
    )

    _bound_class = _BoundTPRParity
    requires_labels = True


class FalsePositiveRateParity(_GapConstraint):
    __doc__ = (
        r"""Between-group gap of the false-positive rate at most ``bound``.
    """
        + _GAP_PARAMS
        + """
    Examples
    --------
    >>> from sklearn_constrained.constraints import FalsePositiveRateParity
    >>> FalsePositiveRateParity(bound=0.05).bound
    0.05
    """
    )

    _bound_class = _BoundFPRParity
    requires_labels = True


class ErrorRateParity(_GapConstraint):
    __doc__ = r"""Between-group gap of the error rate (share misclassified) at most ``bound``.

    Defined for any number of classes: an error is ``predict(x) != y``, its
    surrogate one minus the surrogate of the true class.

    Parameters
    ----------
    bound : float, default=0.05
        The largest admissible gap between the largest and the smallest
        group error rate.
    pos_label : None
        Unused (kept for a uniform signature).
    surrogate : {"sigmoid", "hinge"}, default="sigmoid"
        See :func:`surrogate_indicator`.

    Examples
    --------
    >>> from sklearn_constrained.constraints import ErrorRateParity
    >>> ErrorRateParity(bound=0.05).requires_groups
    True
    """

    _bound_class = _BoundErrorParity
    requires_labels = True
    _needs_positive = False


# ----------------------------------------------------------------------------
# bounded group loss
# ----------------------------------------------------------------------------
class _BoundGroupLoss(_BoundRates):
    def _rows(self, ctx):
        if ctx.y is None:
            raise ValueError(f"Constraint {self.name!r} involves the labels: pass `y`.")
        y_pred, y = ctx.y_pred, ctx.y
        if (
            y.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8)
            and y_pred.dim() == 2
            and y.dim() == 1
        ):
            loss = torch.nn.functional.cross_entropy(y_pred, y.long(), reduction="none")
        else:
            diff = (y_pred - y.reshape(y_pred.shape).to(y_pred.dtype)) * float(ctx.target_scale)
            loss = diff.pow(2).reshape(diff.shape[0], -1).mean(1)
        return loss.detach()[:, None], loss[:, None], None

    def _finish(self, est, seen, proxy_rate):
        bound = float(self.constraint.bound)
        filler = torch.full_like(est, -bound)
        defect = torch.where(seen, est - bound, filler).reshape(-1)
        proxy = torch.where(seen, proxy_rate - bound, filler.to(proxy_rate.dtype)).reshape(-1)
        value = torch.where(seen, est, torch.zeros_like(est)).amax()
        return ConstraintEval(value, defect, proxy)


class BoundedGroupLoss(Constraint):
    r"""Every group's mean loss at most ``bound`` (Agarwal et al. 2019).

    The loss is the estimator's training loss: the cross-entropy for
    :class:`~sklearn_constrained.ConstrainedClassifier`, the squared error in
    the units of ``y`` for :class:`~sklearn_constrained.ConstrainedRegressor`
    (for several targets, their mean; with ``standardize_target`` the
    average target scale converts units). The loss is differentiable, so no
    surrogate is needed; one multiplier per group, fed by running per-group
    means so that a batch missing a group leaves its estimate unchanged. The
    value is the largest group loss.

    Parameters
    ----------
    bound : float, default=0.5
        The level, ``>= 0``.

    Examples
    --------
    >>> from sklearn_constrained.constraints import BoundedGroupLoss
    >>> BoundedGroupLoss(bound=0.4)
    BoundedGroupLoss(bound=0.4)
    """

    kind = "inequality"
    requires_data = True
    requires_groups = True
    requires_labels = True

    def __init__(self, bound=0.5):
        self.bound = bound

    def _check_params(self):
        check_level(self, "bound", self.bound)

    def _bind(self, module, name):
        return _BoundGroupLoss(name, self)
