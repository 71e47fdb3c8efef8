"""ConstrainedRegressor."""

import numpy as np
import torch
from sklearn.base import RegressorMixin

from ._estimator import BaseConstrainedEstimator

__all__ = ["ConstrainedRegressor"]


class ConstrainedRegressor(RegressorMixin, BaseConstrainedEstimator):
    """A neural-network regressor trained under constraints.

    Same parameters as :class:`ConstrainedClassifier`, plus
    ``standardize_target``. The module is trained with the mean squared
    error; one output per target column.

    Parameters
    ----------
    module, constraints, method, optimizer, lr, max_epochs, batch_size : see below
        As in :class:`ConstrainedClassifier`.
    device, random_state, verbose, validation_fraction, margin, callbacks : see below
        As in :class:`ConstrainedClassifier`.
    tol, n_iter_no_change, objective_tol, early_stopping, dual_split, distributed : see below
        As in :class:`ConstrainedClassifier`.
    warm_start : bool, default=False
        As in :class:`ConstrainedClassifier` (the target standardisation of
        the first fit is kept).
    standardize_target : bool, default=True
        Train on ``(y - mean) / std`` and map predictions back, so that the
        default learning rate suits targets of any scale. Loss-based
        constraints are stated in the units of ``y`` either way.
    **kwargs : module__<arg>
        Keyword arguments of the module's constructor (skorch's convention).

    Attributes
    ----------
    n_features_in_, n_outputs_, input_shape_, module_, net_, method_ : see below
        As in :class:`ConstrainedClassifier`.
    multipliers_, feasible_, constraint_values_, history_, n_iter_ : see below
        As in :class:`ConstrainedClassifier`.
    best_epoch_, selection_reason_, validation_constraint_values_ : see below
        As in :class:`ConstrainedClassifier`.
    early_stopping_, dual_split_ : see below
        As in :class:`ConstrainedClassifier`.
    y_ndim_ : int
        The number of dimensions of the ``y`` seen in fit (1: predictions are 1-d).
    y_mean_, y_scale_ : ndarray
        The target standardisation (zeros and ones when it is off).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_constrained import ConstrainedRegressor
    >>> from sklearn_constrained.constraints import L1Norm
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(200, 3)
    >>> y = X @ [1.0, -2.0, 0.5] + 3
    >>> reg = ConstrainedRegressor(module=None, constraints={"l1": L1Norm(bound=50.0)},
    ...                            max_epochs=50, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.95
    True
    """

    _parameter_constraints = {
        **BaseConstrainedEstimator._parameter_constraints,
        "standardize_target": ["boolean"],
    }

    def __init__(self, module=None, *, constraints=None, method="auto", optimizer="adam",
                 lr=None, max_epochs=100, batch_size=128, device="auto", random_state=None,
                 verbose=0, validation_fraction=None, margin=None, callbacks=None, tol=1e-3,
                 n_iter_no_change=None, objective_tol=1e-4, early_stopping="auto",
                 dual_split="auto", distributed=False, warm_start=False, standardize_target=True,
                 **kwargs):
        super().__init__(module, constraints=constraints, method=method, optimizer=optimizer,
                         lr=lr, max_epochs=max_epochs, batch_size=batch_size, device=device,
                         random_state=random_state, verbose=verbose,
                         validation_fraction=validation_fraction, margin=margin,
                         callbacks=callbacks, tol=tol, n_iter_no_change=n_iter_no_change,
                         objective_tol=objective_tol, early_stopping=early_stopping,
                         dual_split=dual_split,
                         distributed=distributed, warm_start=warm_start, **kwargs)
        self.standardize_target = standardize_target

    def _validate_y_kwargs(self):
        return {"multi_output": True, "y_numeric": True}

    def _criterion(self):
        return torch.nn.MSELoss

    def _prepare_target(self, y):
        y = np.asarray(y, dtype=np.float64)
        self.y_ndim_ = y.ndim
        y2 = y.reshape(len(y), -1)
        if self.standardize_target:
            self.y_mean_ = y2.mean(axis=0)
            scale = y2.std(axis=0)
            self.y_scale_ = np.where(scale > 0, scale, 1.0)
        else:
            self.y_mean_ = np.zeros(y2.shape[1])
            self.y_scale_ = np.ones(y2.shape[1])
        return ((y2 - self.y_mean_) / self.y_scale_).astype(np.float32)

    def _n_outputs(self, y_enc):
        return y_enc.reshape(len(y_enc), -1).shape[1]

    def _target_scale(self):
        return float(np.mean(self.y_scale_))

    def _encode_target(self, y):
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        if y.shape[1] != len(self.y_mean_):
            raise ValueError(
                f"y has {y.shape[1]} target column(s), the fitted model {len(self.y_mean_)}."
            )
        return ((y - self.y_mean_) / self.y_scale_).astype(np.float32)

    def predict(self, X):
        """Predicted targets, in the units of ``y``."""
        out = self._forward(X).numpy()
        out = out * self.y_scale_ + self.y_mean_
        return out.ravel() if self.y_ndim_ == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags
