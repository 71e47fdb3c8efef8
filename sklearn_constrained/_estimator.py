"""The shared machinery of ConstrainedClassifier and ConstrainedRegressor.

This module holds the parameters and ``fit``, which reads as one sequence:
validate the parameters and the data, split off the held-out parts, build
(or resume) the module, bind the constraints and the method, build the
skorch net with its callbacks, train, and finish (the returned iterate,
``feasible_`` and the other fitted attributes). The pieces live in their own
modules: :mod:`._fit_data` (data and splits), :mod:`._building` (module and
net), :mod:`._training` (the loop), :mod:`._checkpoint` (warm start),
:mod:`._fit_report` (the state kept after a divergence, and the warnings),
:mod:`._evaluation` (inference and constraint values), :mod:`._nested`
(nested parameters). What a fitted estimator offers beside ``predict``
(constraint values on new data, save and load) is :mod:`._fitted`'s.
"""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight, validate_data

from . import _checkpoint
from ._building import build_module, check_module_output, make_callbacks, make_net
from ._evaluation import bind_constraints, evaluate_on
from ._fit_data import (
    FitData,
    check_groups,
    encode_groups,
    resolve_dual_split,
    resolve_early_stopping,
    split_off,
    to_tensors,
)
from ._fit_report import keep_finite_state, warn_infeasible, warn_unreachable_margins
from ._fitted import FittedMixin
from ._nested import apply_nested, module_kwargs, nested_params, set_nested_params
from ._training import HeldOutStream, TrainingDiverged
from .methods import resolve_method
from .utils._validation import check_constraints, resolve_device, resolve_optimizer

__all__ = ["BaseConstrainedEstimator"]

_FRACTION = Interval(Real, 0, 1, closed="neither")


class BaseConstrainedEstimator(FittedMixin, BaseEstimator):
    """Base class: parameters, nested parameter access and ``fit``.

    Constraint evaluation, ``save`` and ``load`` come from
    :class:`~._fitted.FittedMixin`. Subclasses provide ``_criterion``,
    ``_prepare_target``, ``_encode_target`` and the prediction methods.
    """

    _parameter_constraints = {
        "module": [None, type, torch.nn.Module],
        "constraints": [None, dict],
        "method": [str, type, HasMethods(["bind", "loss"])],
        "optimizer": [str, type],
        "lr": [None, Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), Options(Integral, {-1})],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": [Interval(Integral, 0, 2, closed="both"), "boolean"],
        "validation_fraction": [None, _FRACTION],
        "margin": [None, StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "callbacks": [None, list, tuple],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [None, Interval(Integral, 1, None, closed="left")],
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "objective_tol": [Interval(Real, 0, None, closed="left")],
        "dual_split": [None, StrOptions({"auto"}), _FRACTION],
        "distributed": ["boolean"],
        "warm_start": ["boolean"],
    }

    def __init__(self, module=None, *, constraints=None, method="auto", optimizer="adam",
                 lr=None, max_epochs=100, batch_size=128, device="auto", random_state=None,
                 verbose=0, validation_fraction=None, margin=None, callbacks=None, tol=1e-3,
                 n_iter_no_change=None, objective_tol=1e-4, early_stopping="auto",
                 dual_split="auto", distributed=False, warm_start=False, **kwargs):
        self.module = module
        self.constraints = constraints
        self.method = method
        self.optimizer = optimizer
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.validation_fraction = validation_fraction
        self.margin = margin
        self.callbacks = callbacks
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.objective_tol = objective_tol
        self.early_stopping = early_stopping
        self.dual_split = dual_split
        self.distributed = distributed
        self.warm_start = warm_start
        # module__<arg> parameters (skorch's convention); any other keyword is
        # kept too, as scikit-learn requires, and rejected by fit
        vars(self).update(kwargs)

    # -- parameters -------------------------------------------------------------
    def _extra_params(self):
        """The keyword arguments beyond the signature (``module__<arg>``, or mistakes)."""
        names = set(self._get_param_names())
        return {k: v for k, v in vars(self).items()
                if k not in names and not k.startswith("_") and not k.endswith("_")}

    def get_params(self, deep=True):
        """The estimator's parameters, nested ones included.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of the nested objects: ``module__<arg>``,
            ``method__<param>`` and ``constraints__<name>__<param>``.

        Returns
        -------
        dict of str to object
        """
        params = super().get_params(deep=deep)
        params.update(self._extra_params())
        params.update(nested_params(self, deep=deep))
        return params

    def set_params(self, **params):
        """Set parameters, nested ones included (the objects passed are never mutated)."""
        extra = self._extra_params()
        vars(self).update({k: v for k, v in params.items() if k in extra})
        params = {k: v for k, v in params.items() if k not in extra}
        plain, constraints, method = set_nested_params(self, params)
        if plain:
            super().set_params(**plain)
        apply_nested(self, constraints, method)
        return self

    def _seed(self):
        if isinstance(self.random_state, Integral):
            return int(self.random_state) % (2**63)
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))

    # -- fit ----------------------------------------------------------------------
    def fit(self, X, y, sensitive_features=None, sample_weight=None):
        """Train the module under the constraints.

        Parameters
        ----------
        X : array-like or scipy sparse matrix of shape (n_samples, n_features) or (n_samples, ...)
            Inputs; float64 input is cast to the module's dtype; sparse input
            is densified batch by batch.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sensitive_features : array-like of shape (n_samples,) or (n_samples, k), default=None
            Group membership for group constraints (each distinct row is a
            group). Routed by ``set_fit_request(sensitive_features=True)`` in
            a Pipeline or a grid search.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the objective and in every
            data-dependent constraint (weighted rates, weighted group losses).

        Returns
        -------
        self
        """
        self._validate_params()
        unknown = sorted(k for k in self._extra_params() if not k.startswith("module__"))
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected parameter(s) {unknown}; the keyword "
                "arguments of the module's constructor are passed as module__<arg>."
            )
        constraints = check_constraints(self.constraints)
        method = resolve_method(self.method)
        method.check_params()
        opt_cls, lr, opt_extra, full_batch = resolve_optimizer(self.optimizer, self.lr)
        device = resolve_device(self.device)
        resume = self._resume_state(constraints, method)
        data = self._validate_fit_data(X, y, sensitive_features, sample_weight, resume)
        state = resume or {}
        seed = int(state["seed"]) if state.get("seed") is not None else self._seed()
        stopping = resolve_early_stopping(self.early_stopping, data, self.validation_fraction,
                                          self.n_iter_no_change)
        self.early_stopping_ = stopping.on
        train, valid, dual = self._split(data, constraints, seed, stopping.validation_fraction)
        rank, world = self._world()
        cuda = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)
            module = self._module_for(data, resume)
            dtype = next((p.dtype for p in module.parameters()), torch.float32)
            X_t, y_t = to_tensors(train, dtype)
            generator = torch.Generator().manual_seed(seed)
            net, guard, best = self._make_training(
                module, constraints, method, train, valid, dual, X_t, y_t, dtype, device,
                opt_cls, lr, opt_extra, full_batch, generator, seed, rank, world,
                stopping.n_iter_no_change)
            if resume is not None:
                _checkpoint.restore(net, state, lr=lr, opt_cls=opt_cls, device=device, best=best,
                                    generator=generator, cuda_devices=cuda)
            # CV_0 of the SAL paper belongs to the first fit
            initial = net.initial_record(X_t, y_t) if resume is None and net.evaluators_ else {}
            diverged, kept = self._train(net, guard, best, X_t, y_t, world)
            training = _checkpoint.capture(seed=seed, net=net, guard=guard, best=best,
                                           generator=generator, opt_cls=opt_cls,
                                           cuda_devices=cuda, diverged=diverged)
            net.method_.finalize()
        self._finish(net, constraints, best, diverged, kept, train, valid, initial)
        self._resume_ = _checkpoint.drop_if_returned(training, self.module_)
        # a fitted model is for inference: dropout off, batch norm and L0 gates deterministic
        # (a warm-started fit switches it back to training mode at its first step)
        self.module_.eval()
        return self

    def _resume_state(self, constraints, method):
        """The state to resume from (``warm_start`` on a fitted estimator), else ``None``."""
        if not self.warm_start or not self.__sklearn_is_fitted__():
            return None
        _checkpoint.check_resumable(self.method_, method, self.constraints_, constraints)
        return dict(getattr(self, "_resume_", None) or {})

    def _validate_fit_data(self, X, y, sensitive_features, sample_weight, resume):
        try:
            X, y = validate_data(self, X, y, accept_sparse="csr", dtype=(np.float32, np.float64),
                                 allow_nd=True, ensure_all_finite=True, reset=resume is None,
                                 **self._validate_y_kwargs())
            y_enc = self._prepare_target(y) if resume is None else self._encode_target(y)
        except ValueError as exc:
            if resume is None:
                raise
            raise ValueError(
                f"{exc} (warm_start=True continues the previous fit, on data with the same "
                "features and classes; set warm_start=False to train afresh.)"
            ) from None
        n = X.shape[0]
        weights = None if sample_weight is None else _check_sample_weight(sample_weight, X)
        groups, labels = encode_groups(sensitive_features, n)
        needs = check_groups(check_constraints(self.constraints), groups, labels)
        if resume is not None and needs:
            _checkpoint.check_same_groups(labels, self.group_labels_)
        self.group_labels_ = labels
        if resume is None:
            # a fresh fit replaces the previous model: if it fails from here
            # on, the estimator reads as not fitted rather than half-updated
            for attr in ("net_", "module_", "method_", "_resume_"):
                self.__dict__.pop(attr, None)
        return FitData(X, y_enc, groups, weights)

    def _split(self, data, constraints, seed, validation_fraction):
        """``(train, valid, dual)``: the validation part, then the dual part of the rest."""
        classifier = is_classifier(self)
        train, valid, dual = data, None, None
        if validation_fraction is not None:
            kept, held = split_off(data, validation_fraction, seed, classifier=classifier,
                                   group_labels=self.group_labels_)
            train, valid = data.subset(kept), data.subset(held)
        self.dual_split_ = resolve_dual_split(self.dual_split, self.margin, constraints, train,
                                              self.group_labels_)
        if self.dual_split_ is not None:
            kept, held = split_off(train, self.dual_split_, seed + 1, classifier=classifier,
                                   group_labels=self.group_labels_, param="dual_split")
            train, dual = train.subset(kept), train.subset(held)
        return train, valid, dual

    def _world(self):
        if not self.distributed:
            return 0, 1
        from ._distributed import check_ready, rank_and_world

        check_ready()
        return rank_and_world()

    def _module_for(self, data, resume):
        if resume is not None:
            # continue from the last training iterate (not the returned best or split one)
            return self.module_
        n_features = int(np.prod(data.X.shape[1:]))
        self.n_outputs_ = self._n_outputs(data.y)
        self.input_shape_ = tuple(int(d) for d in data.X.shape[1:])
        module = build_module(self.module, n_features, self.n_outputs_, self.input_shape_,
                              module_kwargs(self))
        check_module_output(self, module, data.X, self.n_outputs_)
        return module

    def _make_training(self, module, constraints, method, train, valid, dual, X_t, y_t, dtype,
                       device, opt_cls, lr, opt_extra, full_batch, generator, seed, rank, world,
                       n_iter_no_change):
        """The net, bound to the fit's evaluators and method, with the library's callbacks."""
        callbacks, guard, best = make_callbacks(
            constraints, float(self.tol), (train, valid, dual), (X_t, y_t), dtype,
            max_epochs=self.max_epochs, verbose=self.verbose, user_callbacks=self.callbacks,
            n_iter_no_change=n_iter_no_change, objective_tol=float(self.objective_tol))
        batch = -1 if full_batch or self.batch_size in (-1, "full") else int(self.batch_size)
        n_groups = 0 if self.group_labels_ is None else len(self.group_labels_)
        net = make_net(self, module, criterion=self._criterion(), opt_cls=opt_cls, lr=lr,
                       opt_extra=opt_extra, batch_size=batch, device=device, generator=generator,
                       callbacks=callbacks, n_groups=n_groups, target_scale=self._target_scale(),
                       rank=rank, world=world,
                       extras={k: v for k, v in y_t.items() if k != "y"})
        net.initialize()
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel

            net.module_ = DistributedDataParallel(
                net.module_, device_ids=[device] if device.type == "cuda" else None)
        inner = net.module_.module if world > 1 else net.module_
        evaluators = bind_constraints(
            {n: clone(c) for n, c in constraints.items()}, inner, classes=self._classes(),
            classifier=is_classifier(self),
            n_samples=len(train) if dual is None else len(dual), external=dual is not None)
        method.bind(evaluators, device=device, dtype=dtype)
        method.set_primal_optimizer(opt_cls)
        stream = None
        if dual is not None:
            X_d, y_d = to_tensors(dual, dtype)
            stream = HeldOutStream(X_d, y_d, batch_size=batch, device=device,
                                   generator=torch.Generator().manual_seed(seed + 1))
        net.set_problem(method, evaluators, stream)
        if self.margin is not None and net.data_names_:
            # n: the rows the estimates (and the returned epoch) are judged on (the dual
            # part when there is one); m: the validation part, else the training data
            judged = (X_t, y_t) if dual is None else (X_d, y_d)
            sizes, means = net.populations(*judged)
            train_sizes = sizes if dual is None else net.populations(X_t, y_t)[0]
            new_sizes = train_sizes if valid is None else net.populations(
                *to_tensors(valid, dtype))[0]
            resumed = self.warm_start and self.__sklearn_is_fitted__()
            # a resumed fit's margins come back with the evaluators' state
            net.set_margins(self.margin, sizes, new_sizes, None if resumed else means)
        if self.warm_start and self.__sklearn_is_fitted__():
            for record in self.history_:
                net.history.append({k: v for k, v in record.items() if k != "selected"})
        return net, guard, best

    def _train(self, net, guard, best, X_t, y_t, world):
        """Run the fit loop; after a divergence keep the last state with finite outputs."""
        try:
            net.partial_fit(X_t, y_t["y"])
        except TrainingDiverged as exc:
            return True, keep_finite_state(net, guard, best, X_t, exc, stacklevel=3)
        finally:
            if world > 1:
                net.module_ = net.module_.module
        return False, None

    def _finish(self, net, constraints, best, diverged, kept, train, valid, initial):
        """The fitted attributes and the feasibility verdict of the returned iterate."""
        self.net_, self.module_, self.method_ = net, net.module_, net.method_
        self.constraints_ = {name: clone(c) for name, c in constraints.items()}
        self.history_ = [{k: v for k, v in r.items() if k != "batches"} for r in net.history]
        if initial and self.history_:
            self.history_[0].update(initial)
        self.n_iter_ = len(self.history_)
        self.best_epoch_ = kept if diverged else (best.chosen_ or self.n_iter_)
        self.selection_reason_ = None if diverged else best.reason_
        self.multipliers_ = self.method_.multipliers()
        evaluators = net.evaluators_
        net.release()
        self.method_.release()
        values = self._values_on(evaluators, train)
        self.constraint_values_ = values.values
        verdict = values.judge(self.constraints_, float(self.tol))
        self.feasible_ = verdict.feasible
        if valid is not None:
            self.validation_constraint_values_ = self._values_on(evaluators, valid).values
        # stacklevel=2: this warning has always pointed at fit, not at its caller
        warn_unreachable_margins(self.history_, self.constraints_, stacklevel=2)
        if not verdict.feasible:
            warn_infeasible(self.constraints_, verdict, self.best_epoch_, self.selection_reason_,
                            method=self.method_.short_name, stacklevel=3)

    def _values_on(self, evaluators, data):
        X_t, y_t = to_tensors(data, next(self.module_.parameters()).dtype)
        return evaluate_on(self.module_, evaluators, X_t, y_t["y"], y_t.get("groups"),
                           0 if self.group_labels_ is None else len(self.group_labels_),
                           self._target_scale(), y_t.get("sample_weight"))

    # -- hooks of the subclasses ------------------------------------------------------
    def _validate_y_kwargs(self):
        return {}

    def _classes(self):
        return None

    def _target_scale(self):
        return 1.0

    def __sklearn_is_fitted__(self):
        return hasattr(self, "net_")

    def __setstate__(self, state):
        super().__setstate__(state)
        # skorch serialises its module on its own: after unpickling (or a
        # deepcopy) make `module_` the net's module again, not a twin of it
        net = self.__dict__.get("net_")
        if net is not None and getattr(net, "module_", None) is not None:
            self.module_ = net.module_
