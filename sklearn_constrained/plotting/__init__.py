"""Plots of a constrained fit and of a sweep over a constraint level.

- :func:`plot_history`: a fitted estimator's ``history_`` over the epochs:
  the objective, each constraint's value against its level, the
  multipliers and, where the method has one, its penalty; the returned
  epoch (``best_epoch_``) is marked and, when recorded, the validation
  values are drawn beside the training ones.
- :func:`plot_level_sweep`: held-out score against a swept level from a
  fitted :class:`~sklearn.model_selection.GridSearchCV`, with the Pareto
  front, the candidates whose held-out constraint held and the selected one.
- :func:`plot_pareto`: the same picture from plain arrays;
  :func:`pareto_front` computes the front without plotting.

matplotlib is an optional dependency, imported only when a plot is drawn:
``pip install sklearn-constrained[plot]``.
"""

from ._history import plot_history
from ._sweep import pareto_front, plot_level_sweep, plot_pareto

__all__ = ["plot_history", "plot_level_sweep", "plot_pareto", "pareto_front"]
