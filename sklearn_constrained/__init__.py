"""sklearn-constrained: train PyTorch networks under constraints with the scikit-learn API.

Constraints are stated as levels (``L2Norm(bound=4.0)``), never as penalty
weights, and tuned like any hyperparameter.
"""

from . import (
    constraints,
    datasets,
    methods,
    metrics,
    model_selection,
    models,
    optim,
    plotting,  # matplotlib is imported only when a plot is drawn
)
from ._classifier import ConstrainedClassifier
from ._regressor import ConstrainedRegressor
from ._version import __version__

__all__ = [
    "ConstrainedClassifier",
    "ConstrainedRegressor",
    "constraints",
    "methods",
    "models",
    "optim",
    "datasets",
    "metrics",
    "model_selection",
    "plotting",
    "__version__",
]
