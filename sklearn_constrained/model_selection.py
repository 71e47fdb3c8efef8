"""Model selection under constraints: pick the best candidate that is feasible.

A grid search over constraint levels (``constraints__dp__bound``) or method
parameters scores every candidate on held-out folds. With a constraint scorer
(:func:`sklearn_constrained.metrics.make_constraint_scorer`) next to the
usual score, :func:`best_feasible` gives ``GridSearchCV`` a ``refit`` rule:
the best score among the candidates whose held-out constraints hold.
"""

import warnings

import numpy as np

__all__ = ["NoFeasibleCandidateWarning", "best_feasible"]

_FALLBACKS = ("least_violation", "best_score", "raise")


class NoFeasibleCandidateWarning(UserWarning):
    """No candidate satisfies its constraints on the held-out folds."""


def best_feasible(score="score", constraints=None, *, tol=1e-3, fallback="least_violation"):
    """A ``refit`` callable for ``GridSearchCV``: the best feasible candidate.

    Among the candidates whose mean held-out violation of every constraint
    scorer is at most ``tol``, it returns the index of the one with the
    highest mean held-out ``score``.

    Parameters
    ----------
    score : str, default="score"
        The key of the metric to maximise in the search's ``scoring`` dict
        (``cv_results_["mean_test_<score>"]``).
    constraints : str, list of str or None, default=None
        The keys of the constraint scorers (made by
        :func:`~sklearn_constrained.metrics.make_constraint_scorer`, which
        report a violation negated: ``0`` when satisfied). ``None`` uses
        every metric of ``scoring`` other than ``score``.
    tol : float, default=1e-3
        A candidate is feasible when its mean held-out violation of each
        constraint is at most ``tol``. The constraint scorers report
        violations relative to ``max(1, |level|)``, so this is the
        estimators' own rule (their ``tol``, relative to the level).
    fallback : {"least_violation", "best_score", "raise"}, default="least_violation"
        What to do when no candidate is feasible: take the one with the
        smallest total mean violation (ties broken by score), the best score
        regardless of the constraints, or raise ``ValueError``. The first two
        emit a ``NoFeasibleCandidateWarning``.

    Returns
    -------
    callable
        ``refit(cv_results) -> int``, to pass as ``GridSearchCV(refit=...)``.
        ``best_score_`` is then not defined by scikit-learn; read
        ``cv_results_["mean_test_<score>"][best_index_]``.

    Examples
    --------
    >>> from sklearn_constrained.model_selection import best_feasible
    >>> refit = best_feasible("accuracy", ["dp"])
    >>> cv_results = {"mean_test_accuracy": [0.85, 0.83, 0.80],
    ...               "mean_test_dp": [-0.04, 0.0, 0.0]}
    >>> int(refit(cv_results))
    1
    """
    if fallback not in _FALLBACKS:
        raise ValueError(
            f"`fallback` must be one of {', '.join(map(repr, _FALLBACKS))}; got {fallback!r}."
        )
    if not isinstance(score, str):
        raise TypeError(f"`score` must be the name of a metric in `scoring`; got {score!r}.")
    if isinstance(constraints, str):
        constraints = [constraints]
    constraints = None if constraints is None else list(constraints)
    tol = float(tol)
    if not tol >= 0:
        raise ValueError(f"`tol` must be >= 0; got {tol!r}.")

    def refit(cv_results):
        key = f"mean_test_{score}"
        if key not in cv_results:
            metrics = sorted(
                k[len("mean_test_") :] for k in cv_results if k.startswith("mean_test_")
            )
            raise ValueError(
                f"best_feasible: no metric {score!r} in the search results (metrics: {metrics}). "
                "Pass scoring={'" + score + "': ..., '<constraint>': make_constraint_scorer(...)} "
                "to the search."
            )
        names = constraints
        if names is None:
            names = [
                k[len("mean_test_") :]
                for k in cv_results
                if k.startswith("mean_test_") and k != key
            ]
        missing = [n for n in names if f"mean_test_{n}" not in cv_results]
        if missing:
            raise ValueError(
                f"best_feasible: no constraint scorer(s) {missing} in the search results."
            )
        failed = [n for n in names
                  if np.all(np.isnan(np.asarray(cv_results[f"mean_test_{n}"], dtype=float)))]
        if failed:
            raise ValueError(
                f"best_feasible: the constraint scorer(s) {failed} returned NaN for every "
                "candidate: they failed on every fold, so no candidate can be judged. The usual "
                "causes: a constraint name that is not a key of the estimator's `constraints` "
                "(make_constraint_scorer('<name>') must use one of them), or a group constraint "
                "without `sensitive_features` (enable metadata routing with "
                "sklearn.set_config(enable_metadata_routing=True), call "
                "clf.set_fit_request(sensitive_features=True) and pass sensitive_features=... "
                "to the search's fit). Run the search with error_score='raise' to see the error."
            )
        scores = np.asarray(cv_results[key], dtype=np.float64)
        scores = np.where(np.isnan(scores), -np.inf, scores)
        if names:
            # constraint scorers report -violation (greater is better)
            viol = np.stack(
                [
                    np.maximum(-np.asarray(cv_results[f"mean_test_{n}"], dtype=np.float64), 0.0)
                    for n in names
                ],
                axis=1,
            )
            viol = np.where(np.isnan(viol), np.inf, viol)
        else:
            viol = np.zeros((len(scores), 1))
        feasible = np.all(viol <= tol, axis=1)
        if feasible.any():
            return int(np.flatnonzero(feasible)[np.argmax(scores[feasible])])
        if fallback == "raise":
            raise ValueError(
                f"best_feasible: no candidate satisfies {names} on the held-out folds "
                f"(smallest total violation {viol.sum(axis=1).min():.4g}). Relax the levels, "
                "train longer, or use fallback='least_violation'."
            )
        if fallback == "best_score":
            idx = int(np.argmax(scores))
            how = "the best score regardless of the constraints"
        else:
            total = viol.sum(axis=1)
            candidates = np.flatnonzero(total == total.min())
            idx = int(candidates[np.argmax(scores[candidates])])
            how = "the candidate with the smallest total violation"
        warnings.warn(
            f"best_feasible: no candidate satisfies {names} on the held-out folds; refitting "
            f"{how} (index {idx}).",
            NoFeasibleCandidateWarning,
            stacklevel=2,
        )
        return idx

    refit.__name__ = "best_feasible_refit"
    return refit
