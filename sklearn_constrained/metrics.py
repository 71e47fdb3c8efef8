"""Metrics of constraint satisfaction, and scorers for model selection.

- :func:`constraint_violation`: the CV metric of the SAL paper (eq. 17),
  the ``L_p`` norm of the violations of a set of constraints;
- :func:`constraint_violation_ratio`: CV(e) = CV_e / CV_0 (eq. 18), the
  violation after epoch ``e`` relative to the violation at initialisation,
  read from a fitted estimator's ``history_``;
- :func:`make_constraint_scorer`: a scorer for ``GridSearchCV`` reporting the
  held-out violation of one constraint (0 when it holds), to be combined with
  :func:`sklearn_constrained.model_selection.best_feasible`.
"""

import numbers

import numpy as np
from sklearn.utils.metadata_routing import MetadataRequest

__all__ = [
    "ConstraintScorer",
    "constraint_violation",
    "constraint_violation_ratio",
    "make_constraint_scorer",
]


def _flat(values):
    if isinstance(values, dict):
        parts = [np.ravel(np.asarray(v, dtype=np.float64)) for v in values.values()]
    else:
        parts = [np.ravel(np.asarray(values, dtype=np.float64))]
    return np.concatenate(parts) if parts else np.zeros(0)


def constraint_violation(values, p=2):
    r"""The constraint-violation metric (eq. 17 of the SAL paper).

    .. math:: CV = \Big(\sum_{i=1}^m |C_i(\theta)|^p\Big)^{1/p}

    Parameters
    ----------
    values : dict of str to float or array-like, or array-like
        The violation of each constraint (``0`` when it holds), e.g. the
        ``"violations"`` entry of a ``history_`` record. Vector-valued
        entries (one per side, per pair of groups) contribute each component.
    p : float, default=2
        The order of the norm, ``>= 1``; ``numpy.inf`` gives the largest
        violation.

    Returns
    -------
    float
        ``0.0`` for an empty set of constraints.

    Examples
    --------
    >>> from sklearn_constrained.metrics import constraint_violation
    >>> constraint_violation({"l2": 3.0, "nonneg": 4.0})
    5.0
    >>> constraint_violation({"l2": 3.0, "dp": [0.0, 4.0]}, p=1)
    7.0
    >>> constraint_violation({"l2": 3.0, "nonneg": 4.0}, p=float("inf"))
    4.0
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not (p >= 1):
        raise ValueError(f"`p` must be a number >= 1 (or numpy.inf); got {p!r}.")
    v = np.abs(_flat(values))
    if v.size == 0:
        return 0.0
    if not np.all(np.isfinite(v)):
        return float("inf") if not np.any(np.isnan(v)) else float("nan")
    if np.isinf(p):
        return float(v.max())
    return float(np.sum(v**p) ** (1.0 / p))


def _exact(violations, norms, p):
    """Replace each violation vector the history truncated (to its largest
    magnitude) by its exact p-norm, a single entry with the same
    contribution to the p-norm over every constraint (p = 1 or 2; the
    largest magnitude is already exact for p = inf).
    """
    key = {1: "1", 2: "2"}.get(p) if not isinstance(p, bool) else None
    if not norms or key is None:
        return violations
    out = dict(violations)
    for name, nm in norms.items():
        if name in out and key in nm:
            out[name] = nm[key]
    return out


def constraint_violation_ratio(estimator, epoch=-1, p=2):
    r"""CV(e) = CV_e / CV_0 (eq. 18 of the SAL paper) from a fitted estimator.

    ``CV_0`` is the violation of the initial network (weight constraints at
    the initial weights, data constraints on the whole training set before
    the first step), ``CV_e`` the violation recorded after epoch ``e`` (for
    data-dependent constraints, the running estimate averaged over that
    epoch's batches; for weight constraints, at the end of the epoch).

    ``history_`` keeps a violation vector of more than 16 entries (one per
    Gram entry of ``Orthogonality``, per slice of ``Simplex``) as its largest
    magnitude, with its exact 1- and 2-norms beside it
    (``"violation_norms"``): the ratio is exact for ``p`` in {1, 2, inf};
    for another ``p`` such a constraint enters by its largest entry. For
    S-ADMM, ``history_`` describes the primal copy, not the projected
    split copy that ``fit`` returns.

    Parameters
    ----------
    estimator : ConstrainedClassifier or ConstrainedRegressor
        A fitted estimator (it reads ``history_``).
    epoch : int, default=-1
        Which epoch, as an index into ``history_`` (``-1``: the last one, the
        paper's CV(-1)).
    p : float, default=2
        The order of the norm (see :func:`constraint_violation`).

    Returns
    -------
    float
        ``0.0`` when the initial network already satisfies every constraint
        and the recorded one does too; ``inf`` when only the initial one does.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_constrained import ConstrainedClassifier
    >>> from sklearn_constrained.constraints import L2Norm
    >>> from sklearn_constrained.metrics import constraint_violation_ratio
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = ConstrainedClassifier(constraints={"l2": L2Norm(bound=1.0)}, max_epochs=5,
    ...                             random_state=0).fit(X / 16, y)
    >>> constraint_violation_ratio(clf) < 1.0
    True
    """
    history = getattr(estimator, "history_", None)
    if not history:
        raise ValueError(
            "constraint_violation_ratio needs a fitted ConstrainedClassifier or "
            "ConstrainedRegressor (with a non-empty `history_`); call fit first."
        )
    first = history[0]
    if "initial_violations" not in first or "violations" not in first:
        raise ValueError(
            "The estimator's history_ records no violations; refit it with this version."
        )
    try:
        record = history[epoch]
    except IndexError:
        raise ValueError(
            f"`epoch`={epoch!r} is out of range: history_ has {len(history)} epochs."
        ) from None
    cv0 = constraint_violation(
        _exact(first["initial_violations"], first.get("initial_violation_norms"), p), p=p
    )
    cve = constraint_violation(_exact(record["violations"], record.get("violation_norms"), p), p=p)
    if cv0 == 0.0:
        return 0.0 if cve == 0.0 else float("inf")
    return cve / cv0


_RESPONSES = ("violation", "value")


class ConstraintScorer:
    """Score a fitted estimator by one constraint on held-out data.

    Built by :func:`make_constraint_scorer`; see there. It is called as
    ``scorer(estimator, X, y, sensitive_features=None)`` and requests
    ``sensitive_features`` through scikit-learn's metadata routing.
    """

    def __init__(self, name, response="violation", level=None):
        self.name = name
        self.response = response
        self.level = level
        self._request = True

    def __repr__(self):
        extra = "" if self.level is None else f", level={self.level!r}"
        return f"make_constraint_scorer({self.name!r}, response={self.response!r}{extra})"

    def _routing_repr(self):
        return repr(self)

    def __call__(self, estimator, X, y=None, sensitive_features=None, **kwargs):
        constraints = getattr(estimator, "constraints_", None)
        if constraints is None:
            # a Pipeline or another meta-estimator: its last step holds them
            last = getattr(estimator, "steps", None)
            constraints = getattr(last[-1][1], "constraints_", None) if last else None
        if constraints is None or self.name not in constraints:
            known = sorted(constraints) if constraints else []
            raise ValueError(
                f"make_constraint_scorer({self.name!r}): the fitted estimator has no constraint "
                f"named {self.name!r}; its constraints are {known}."
            )
        constraint = constraints[self.name]
        if getattr(constraint, "requires_groups", False) and sensitive_features is None:
            raise ValueError(
                f"Constraint {self.name!r} compares groups, so its scorer needs "
                "`sensitive_features`. Enable metadata routing "
                "(sklearn.set_config(enable_metadata_routing=True)), request it on the "
                "estimator (clf.set_fit_request(sensitive_features=True)) and pass "
                "sensitive_features=... to the search's fit."
            )
        values, violations = _evaluate(estimator, X, y, sensitive_features, self.name, self.level)
        if self.response == "value":
            return values
        return 0.0 - violations

    # -- metadata routing ----------------------------------------------------
    def set_score_request(self, *, sensitive_features=True):
        """Whether the scorer requests ``sensitive_features`` (default: yes).

        Returns
        -------
        self
        """
        self._request = sensitive_features
        return self

    def get_metadata_routing(self):
        """The scorer's metadata request: ``sensitive_features`` for ``score``."""
        request = MetadataRequest(owner=self)
        request.score.add_request(param="sensitive_features", alias=self._request)
        return request

    def _accept_sample_weight(self):
        return False


def _with_level(constraint, level, name):
    """A copy of ``constraint`` judged at ``level`` (a number for its single
    level parameter, or a dict of level parameters).
    """
    from sklearn.base import clone

    params = constraint.get_params()
    names = constraint.level_names
    if isinstance(level, dict):
        unknown = sorted(set(level) - set(params))
        if unknown:
            raise ValueError(
                f"make_constraint_scorer({name!r}): `level` names unknown parameters "
                f"{unknown} of {type(constraint).__name__}."
            )
        return clone(constraint).set_params(**level)
    present = [p for p in names if p in params and params[p] is not None]
    if len(present) != 1:
        raise ValueError(
            f"make_constraint_scorer({name!r}): {type(constraint).__name__} has the level "
            f"parameters {present}; pass `level` as a dict, e.g. {{'{present[0] if present else 'bound'}': 0.1}}."
        )
    return clone(constraint).set_params(**{present[0]: level})


def final_estimator(estimator, X):
    """``(final, Xt)``: the last step of a Pipeline and ``X`` through the steps before it."""
    steps = getattr(estimator, "steps", None)
    if not steps:
        return estimator, X
    Xt = X
    for _, step in steps[:-1]:
        if step is not None and step != "passthrough":
            Xt = step.transform(Xt)
    return steps[-1][1], Xt


def _evaluate(estimator, X, y, sensitive_features, name, level=None):
    """The value and the largest violation of constraint ``name`` on ``(X, y)``."""
    final, Xt = final_estimator(estimator, X)
    constraint = final.constraints_[name]
    if level is not None:
        constraint = _with_level(constraint, level, name)
        constraint.check_params()
    if constraint.requires_labels and y is None:
        raise ValueError(f"Constraint {name!r} involves the labels: the scorer needs `y`.")
    details = final.constraint_details(
        Xt,
        y if constraint.requires_labels else None,
        sensitive_features if constraint.requires_groups else None,
        constraints={name: constraint},
    )
    return details.values[name], details.violations[name]


def make_constraint_scorer(name, response="violation", level=None):
    """A scorer reporting the held-out violation of the constraint ``name``.

    For ``GridSearchCV(..., scoring={"accuracy": "accuracy", "dp":
    make_constraint_scorer("dp")}, refit=best_feasible("accuracy"))``.
    The constraint is evaluated on the held-out fold with its true
    (non-differentiable) value, as :meth:`evaluate_constraints` does.

    Like scikit-learn's error scorers (``neg_mean_squared_error``), the
    violation is reported negated so that greater is better: ``0.0`` when the
    constraint holds on the fold, ``-v`` when it is exceeded by ``v`` (the
    largest violated side or pair of groups).

    Group constraints need the fold's ``sensitive_features``: the scorer
    requests them through scikit-learn's metadata routing (enable it with
    ``sklearn.set_config(enable_metadata_routing=True)`` and call
    ``clf.set_fit_request(sensitive_features=True)`` on the estimator); other
    constraints ignore them. Works on a fitted estimator or a ``Pipeline``
    ending in one.

    Parameters
    ----------
    name : str
        The key of the constraint in the estimator's ``constraints``.
    response : {"violation", "value"}, default="violation"
        ``"violation"``: the negated violation described above;
        ``"value"``: the constraint's value itself (a rate, a gap), e.g. to
        report the held-out gap of each candidate.
    level : float, dict or None, default=None
        The level the held-out value is judged against. ``None``: each
        candidate's own level. A number replaces the constraint's single
        level parameter (``bound``, ``upper`` or ``lower``); a dict names them
        (``{"lower": 0.6, "upper": 0.8}``). With a target level, a grid over
        the *training* level finds the most accurate model whose held-out
        value meets the target (training levels tighter than the target
        buy a margin against the train/test gap).

    Returns
    -------
    ConstraintScorer
        A callable ``scorer(estimator, X, y, sensitive_features=None)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_constrained import ConstrainedClassifier
    >>> from sklearn_constrained.constraints import PredictionRate
    >>> from sklearn_constrained.metrics import make_constraint_scorer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(200, 2); y = (X[:, 0] > 0).astype(int)
    >>> clf = ConstrainedClassifier(constraints={"rate": PredictionRate(label=1, upper=1.0)},
    ...                             max_epochs=2, random_state=0).fit(X, y)
    >>> make_constraint_scorer("rate")(clf, X, y)
    0.0
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be the name of a constraint (a str); got {name!r}.")
    if response not in _RESPONSES:
        raise ValueError(f"`response` must be 'violation' or 'value'; got {response!r}.")
    return ConstraintScorer(name, response, level)
