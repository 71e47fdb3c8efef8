"""Constraints: small objects stating what must hold, at which level.

Weight constraints (:class:`L2Norm`, :class:`L1Norm`, :class:`NonNegativity`)
select parameters by name pattern (default: every weight matrix, biases
excluded). Each level is a plain parameter, reachable from an estimator as
``constraints__<name>__<param>``.
"""

from ._base import BatchContext, BoundConstraint, Constraint, ConstraintEval, WeightConstraint
from ._density import Density
from ._orthogonality import Orthogonality
from ._rates import (
    BoundedGroupLoss,
    DemographicParity,
    EqualizedOdds,
    ErrorRateParity,
    FalsePositiveRate,
    FalsePositiveRateParity,
    PredictionRate,
    TruePositiveRate,
    TruePositiveRateParity,
    surrogate_indicator,
)
from ._selection import select_parameters
from ._simplex import Simplex
from ._weights import L1Norm, L2Norm, NonNegativity

__all__ = [
    "Constraint",
    "WeightConstraint",
    "BoundConstraint",
    "ConstraintEval",
    "BatchContext",
    "select_parameters",
    "L2Norm",
    "L1Norm",
    "NonNegativity",
    "Orthogonality",
    "Simplex",
    "Density",
    "PredictionRate",
    "TruePositiveRate",
    "FalsePositiveRate",
    "DemographicParity",
    "EqualizedOdds",
    "TruePositiveRateParity",
    "FalsePositiveRateParity",
    "ErrorRateParity",
    "BoundedGroupLoss",
    "surrogate_indicator",
]
