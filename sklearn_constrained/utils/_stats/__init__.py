r"""Sampling error of data-dependent constraints: confidence intervals and margins.

Pure NumPy/SciPy; no torch. The maths is in the fairness guide ("Levels that
hold on unseen data"); in short:

Intervals (for the *population* value: the value on unlimited data like ``X``,
the model held fixed)

- a rate ``k / n``: Wilson score (default) or exact Clopper-Pearson;
- a between-group gap :math:`D = \max_c \max_{g,h} (r_{gc} - r_{hc})`: the
  ``"score"`` method (default) bounds ``D`` from above by the largest
  one-sided Newcombe (hybrid Wilson score) bound of the pairwise differences
  (only the true largest pair must be covered, so no multiplicity), and from
  below by the largest Bonferroni-simultaneous lower bound (clipped at 0). It
  covers at least at the nominal rate for small groups and gaps near 0, where
  the plug-in gap is biased upwards. ``"bootstrap"`` calibrates the lower
  bound by a parametric bootstrap of the per-group counts (max-t);
  ``"delta"`` is the textbook delta method at the largest pair, sound only
  when that pair is unique and well separated (it warns otherwise);
- a group loss :math:`\max_g L_g`: the same construction with Student
  intervals of the group means (Sidak over groups at the lower end).

Margins (for ``margin="auto"``: by how much a level is tightened during
training so that the value on a *fresh sample* of size ``m`` meets the user's
level with probability about ``confidence``; ``m = inf`` targets the
population value). With training sizes ``n`` and fresh sizes ``m`` per cell,
:math:`s^2 = v\,(1/n + 1/m)`, ``v`` the per-sample variance:

- a rate: the score (pooled-variance) bound of the fresh rate, about
  :math:`z_{1-\alpha}\, s`;
- a gap: the :math:`1-\alpha` quantile of the range
  :math:`\max_g d_g - \min_h d_h` of independent :math:`d_g \sim N(0, s_g^2)`
  (jointly over the rate columns), by quadrature;
- a group loss: per group :math:`z_{(1-\alpha)^{1/G}}\, s_g` (Sidak).
"""

from ._common import Interval
from ._intervals import (
    gap_interval,
    gap_value,
    group_loss_interval,
    group_loss_stats,
    rate_interval,
)
from ._margins import auto_margin, gap_margin, group_loss_margin, rate_margin

__all__ = [
    "Interval",
    "auto_margin",
    "gap_interval",
    "gap_margin",
    "gap_value",
    "group_loss_interval",
    "group_loss_margin",
    "group_loss_stats",
    "rate_interval",
    "rate_margin",
]
