"""Metrics of constraint satisfaction, scorers for model selection, and the constraint report.

- :func:`constraint_violation`: the CV metric of the SAL paper (eq. 17), the
  ``L_p`` norm of the violations of a set of constraints;
- :func:`constraint_violation_ratio`: CV(e) = CV_e / CV_0 (eq. 18), read from a
  fitted estimator's ``history_``;
- :func:`make_constraint_scorer`: a scorer for ``GridSearchCV`` reporting the
  held-out violation of one constraint (0 when it holds), to be combined with
  :func:`sklearn_constrained.model_selection.best_feasible`;
- :func:`constraint_report`: every constraint's value on some data with its
  level, slack and a confidence interval, for an estimator or a Pipeline.
"""

from ._report import constraint_report
from ._scorer import ConstraintScorer, make_constraint_scorer
from ._violation import constraint_violation, constraint_violation_ratio

__all__ = [
    "ConstraintScorer",
    "constraint_report",
    "constraint_violation",
    "constraint_violation_ratio",
    "make_constraint_scorer",
]
