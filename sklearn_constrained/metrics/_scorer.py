"""Scorers for model selection: the held-out violation (or value) of one constraint."""

from sklearn.utils.metadata_routing import MetadataRequest

from ..constraints._feasibility import tolerance_scale

__all__ = ["ConstraintScorer", "final_estimator", "make_constraint_scorer"]


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
        values, violations, scale = _evaluate(
            estimator, X, y, sensitive_features, self.name, self.level
        )
        if self.response == "value":
            return values
        return 0.0 - violations / scale

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
    """A copy of ``constraint`` judged at ``level``.

    ``level`` is a number for the constraint's single level parameter, or a
    dict of level parameters.
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
        example = present[0] if present else "bound"
        raise ValueError(
            f"make_constraint_scorer({name!r}): {type(constraint).__name__} has the level "
            f"parameters {present}; pass `level` as a dict, e.g. {{'{example}': 0.1}}."
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
    return details.values[name], details.violations[name], tolerance_scale(constraint)


def make_constraint_scorer(name, response="violation", level=None):
    """A scorer reporting the held-out violation of the constraint ``name``.

    For ``GridSearchCV(..., scoring={"accuracy": "accuracy", "dp":
    make_constraint_scorer("dp")}, refit=best_feasible("accuracy"))``.
    The constraint is evaluated on the held-out fold with its true
    (non-differentiable) value, as :meth:`evaluate_constraints` does.

    Like scikit-learn's error scorers (``neg_mean_squared_error``), the
    violation is reported negated so that greater is better: ``0.0`` when the
    constraint holds on the fold, ``-v`` when it is exceeded by ``v`` (the
    largest violated side or pair of groups), in units of the constraint's
    tolerance scale ``max(1, |level|)``: the estimators' feasibility rule, so
    that :func:`~sklearn_constrained.model_selection.best_feasible`'s ``tol``
    means what the estimators' ``tol`` means (for rates and gaps, whose
    levels are at most 1, this is the violation itself).

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
