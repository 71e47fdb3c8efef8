"""Modules that the estimators size from the data."""

from torch import nn

__all__ = ["SizedModule"]


class SizedModule(nn.Module):
    """Base of the models in :mod:`sklearn_constrained.models`.

    Passing the class (not an instance) as an estimator's ``module`` lets the
    estimator size it from the data through :meth:`from_data`; the
    estimator's ``module__<arg>`` parameters supply the remaining keyword arguments.
    """

    @classmethod
    def from_data(cls, n_features, n_outputs, input_shape=None, **params):
        """Build the module for ``n_features`` inputs and ``n_outputs`` outputs.

        ``input_shape`` is the shape of one sample (``X.shape[1:]``), used by
        image models.
        """
        return cls(n_features, n_outputs, **params)
