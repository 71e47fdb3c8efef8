"""Constraints: small objects stating what must hold, at which level.

Weight constraints (:class:`L2Norm`, :class:`L1Norm`, :class:`NonNegativity`,
:class:`Orthogonality`, :class:`Simplex`, :class:`Density`) select parameters
by name pattern (default: every weight matrix, biases excluded). Rate and
fairness constraints (:class:`PredictionRate`, :class:`DemographicParity`,
...) are proxy constraints on the predictions. Each level is a plain
parameter, reachable from an estimator as ``constraints__<name>__<param>``.
"""

from ._base import (
    BatchContext,
    Constraint,
    ConstraintEvaluator,
    ConstraintState,
    WeightConstraint,
    WeightEvaluator,
)
from ._counts import GroupMeanConstraint, GroupMeanEvaluator
from ._density import Density
from ._feasibility import judge, largest_violation, tolerance_scale, violation_magnitude
from ._group_loss import BoundedGroupLoss, GroupLossEvaluator
from ._orthogonality import Orthogonality
from ._parity import (
    DemographicParity,
    EqualizedOdds,
    ErrorRateParity,
    FalsePositiveRateParity,
    GapConstraint,
    GapEvaluator,
    TruePositiveRateParity,
)
from ._rate import FalsePositiveRate, PredictionRate, RateConstraint, TruePositiveRate
from ._selection import select_parameters
from ._simplex import Simplex
from ._surrogates import surrogate_indicator
from ._weights import L1Norm, L2Norm, NonNegativity

__all__ = [
    "BatchContext",
    "BoundedGroupLoss",
    "Constraint",
    "ConstraintEvaluator",
    "ConstraintState",
    "DemographicParity",
    "Density",
    "EqualizedOdds",
    "ErrorRateParity",
    "FalsePositiveRate",
    "FalsePositiveRateParity",
    "GapConstraint",
    "GapEvaluator",
    "GroupLossEvaluator",
    "GroupMeanConstraint",
    "GroupMeanEvaluator",
    "L1Norm",
    "L2Norm",
    "NonNegativity",
    "Orthogonality",
    "PredictionRate",
    "RateConstraint",
    "Simplex",
    "TruePositiveRate",
    "TruePositiveRateParity",
    "WeightConstraint",
    "WeightEvaluator",
    "judge",
    "largest_violation",
    "select_parameters",
    "surrogate_indicator",
    "tolerance_scale",
    "violation_magnitude",
]
