"""What a fitted estimator offers beside ``predict``: constraint values, save and load.

:class:`FittedMixin` gives the estimators their methods for a fitted model:
the inputs validated as at fit and the module's raw outputs (what
``predict`` builds on), each constraint's value on given data
(:meth:`~FittedMixin.evaluate_constraints`,
:meth:`~FittedMixin.constraint_details`), and saving and loading without
pickle (:meth:`~FittedMixin.save`, :meth:`~FittedMixin.load`; the file
format is :mod:`._persistence`'s). It relies on the hooks of
:class:`~._estimator.BaseConstrainedEstimator` and its subclasses
(``_classes``, ``_target_scale``, ``_encode_target``, ``_criterion``).
"""

import warnings

import numpy as np
import torch
from sklearn.base import clone, is_classifier
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _checkpoint
from ._building import build_module, make_net
from ._evaluation import bind_constraints, evaluate_on, forward
from ._fit_data import encode_groups
from ._nested import module_kwargs
from .methods import resolve_method
from .utils._validation import check_constraints, resolve_device, resolve_optimizer

__all__ = ["FittedMixin"]


class FittedMixin:
    """Inference, constraint evaluation and persistence of a fitted estimator."""

    # -- inference and constraint evaluation ----------------------------------------
    def _check_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, accept_sparse="csr",
                             dtype=(np.float32, np.float64), allow_nd=True,
                             ensure_all_finite=True)

    def _forward(self, X):
        X = self._check_X(X)
        return forward(self.module_, X)

    def evaluate_constraints(self, X, y=None, sensitive_features=None):
        """Each constraint's true value on the given data.

        Weight constraints ignore the data. Rate and fairness constraints
        report the non-differentiable rate (counts of predictions), not the
        surrogate used for gradients.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None
            Needed by constraints that involve labels (TPR, error rates, losses).
        sensitive_features : array-like, default=None
            Needed by group constraints.

        Returns
        -------
        dict of str to float
        """
        return self.constraint_details(X, y, sensitive_features).values

    def constraint_details(self, X, y=None, sensitive_features=None, *, constraints=None):
        """Each constraint's value, largest violation and exact counts on the given data.

        Parameters
        ----------
        X, y, sensitive_features
            As in :meth:`evaluate_constraints`.
        constraints : dict of str to Constraint, default=None
            Constraints to evaluate instead of the fitted ones (e.g. the same
            constraint at another level).

        Returns
        -------
        ConstraintValues
            ``values``, ``violations`` (the largest per constraint),
            ``entries`` and ``states``: the evaluators, whose ``counts()``
            give the per-group counts behind every rate.
        """
        X = self._check_X(X)
        constraints = self.constraints_ if constraints is None else constraints
        if any(c.requires_labels for c in constraints.values()) and y is None:
            raise ValueError("These constraints involve labels: pass `y` to evaluate them.")
        y_enc = None if y is None else self._encode_target(y)
        groups = None
        if any(c.requires_groups for c in constraints.values()):
            if sensitive_features is None:
                raise ValueError("Group constraints need `sensitive_features` to be evaluated.")
            groups = self._encode_groups(sensitive_features, X.shape[0])
        evaluators = bind_constraints(constraints, self.module_, classes=self._classes(),
                                      classifier=is_classifier(self))
        n_groups = 0 if self.group_labels_ is None else len(self.group_labels_)
        return evaluate_on(self.module_, evaluators, X, y_enc, groups, n_groups,
                           self._target_scale())

    def _encode_groups(self, sensitive_features, n):
        codes, labels = encode_groups(sensitive_features, n)
        labels_fit = [] if self.group_labels_ is None else self.group_labels_
        known = {str(v): i for i, v in enumerate(labels_fit)}
        unknown = sorted(set(map(str, labels)) - set(known))
        if unknown:
            raise ValueError(f"`sensitive_features` has groups unseen during fit: {unknown}.")
        return np.array([known[str(v)] for v in labels], dtype=np.int64)[codes]

    # -- persistence ------------------------------------------------------------------
    def save(self, path, *, include_training_state=True):
        """Save the fitted estimator to ``path`` without pickle (see :mod:`._persistence`).

        Parameters
        ----------
        path : str, path-like or binary file object
        include_training_state : bool, default=True
            Also store what resuming training needs (the optimizer's and the
            method's state, the last and the best iterates kept so far).
        """
        from ._persistence import save_estimator

        state = getattr(self, "_resume_", None) if include_training_state else None
        save_estimator(self, path, training_state=state)

    @classmethod
    def load(cls, path, *, module=None, trusted=()):
        """Load an estimator written by :meth:`save` (no pickle; see :mod:`._persistence`).

        Parameters
        ----------
        path : str, path-like or binary file object
        module : torch.nn.Module instance or class, default=None
            Needed when the estimator was fitted with a module *instance*.
        trusted : sequence of classes, default=()
            Classes from outside ``sklearn_constrained`` that the file may name.

        Returns
        -------
        estimator
        """
        from ._persistence import read_estimator

        est, module_state, training = read_estimator(path, module=module, trusted=trusted)
        if not isinstance(est, cls):
            raise TypeError(f"{path!r} holds a {type(est).__name__}, not a {cls.__name__}.")
        return est._restore_fitted(module_state, training)

    def _restore_fitted(self, module_state, training):
        try:
            device = resolve_device(self.device)
        except ValueError:
            warnings.warn(f"device={self.device!r} is not available here; the model is loaded "
                          "on the CPU.", UserWarning, stacklevel=3)
            device = torch.device("cpu")
        with torch.random.fork_rng():
            module = build_module(self.module, int(np.prod(self.input_shape_)), self.n_outputs_,
                                  self.input_shape_, module_kwargs(self))
        _checkpoint.load_module_state(module, module_state)
        opt_cls, lr, opt_extra, _ = resolve_optimizer(self.optimizer, self.lr)
        net = make_net(self, module, criterion=self._criterion(), opt_cls=opt_cls, lr=lr,
                       opt_extra=opt_extra, batch_size=-1, device=device)
        net.initialize()
        self.net_, self.module_ = net, net.module_
        self.constraints_ = {n: clone(c) for n, c in check_constraints(self.constraints).items()}
        method = resolve_method(self.method)
        method.bind(bind_constraints(self.constraints_, self.module_, classes=self._classes(),
                                     classifier=is_classifier(self)), device=device)
        if training and training.get("method") is not None:
            method.load_state_dict(_checkpoint.to_device(training["method"], device))
        else:
            dtype = next(self.module_.parameters()).dtype
            method.load_state_dict({"multipliers": {
                n: torch.as_tensor(v, dtype=dtype, device=device)
                for n, v in self.multipliers_.items()}})
        self.method_ = method.release()
        self._resume_ = training
        return self
