"""The shared machinery of ConstrainedClassifier and ConstrainedRegressor."""

import copy
import numbers
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._engine import evaluate_bound
from ._net import (
    ConstrainedNet,
    ConstraintMonitor,
    HeldOutStream,
    TensorLoader,
    TrainingDiverged,
    predict_chunks,
)
from .constraints import BatchContext
from .methods import METHODS, resolve_method
from .models import MLP, SizedModule
from .utils._validation import check_constraints, encode_groups, resolve_device, resolve_optimizer

__all__ = ["BaseConstrainedEstimator"]


class BaseConstrainedEstimator(BaseEstimator):
    """Base class: parameters, nested ``constraints__``/``method__`` access, fit.

    Subclasses provide ``_criterion``, ``_prepare_target`` and the
    prediction methods.
    """

    def __init__(
        self,
        module=None,
        *,
        constraints=None,
        method="gda",
        optimizer="adam",
        lr=None,
        max_epochs=100,
        batch_size=128,
        device="auto",
        random_state=None,
        verbose=0,
        module_params=None,
        tol=1e-3,
        dual_split=None,
        distributed=False,
        warm_start=False,
    ):
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
        self.module_params = module_params
        self.tol = tol
        self.dual_split = dual_split
        self.distributed = distributed
        self.warm_start = warm_start

    # ------------------------------------------------------------------
    # nested parameters: constraints__<name>__<param> and method__<param>
    # ------------------------------------------------------------------
    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        if not deep:
            return params
        method = self.method
        if isinstance(method, str) and method.lower() in METHODS:
            for key, value in METHODS[method.lower()]().get_params().items():
                params[f"method__{key}"] = value
        if isinstance(self.constraints, dict):
            for name, c in self.constraints.items():
                params[f"constraints__{name}"] = c
                if hasattr(c, "get_params"):
                    for key, value in c.get_params().items():
                        params[f"constraints__{name}__{key}"] = value
        return params

    def set_params(self, **params):
        nested_c, nested_m, plain = {}, {}, {}
        for key, value in params.items():
            if key.startswith("constraints__"):
                nested_c[key[len("constraints__") :]] = value
            elif key.startswith("method__"):
                nested_m[key[len("method__") :]] = value
            else:
                plain[key] = value
        if plain:
            super().set_params(**plain)
        if nested_c:
            # Build a new dict of copies: the objects a user passed are never mutated.
            if not isinstance(self.constraints, dict):
                raise ValueError(
                    f"Cannot set {sorted('constraints__' + k for k in nested_c)}: `constraints` "
                    "is None; pass constraints={'name': Constraint(...)} first."
                )
            new = dict(self.constraints)
            updates = {}
            for key, value in nested_c.items():
                name, _, sub = key.partition("__")
                if name not in new:
                    raise ValueError(
                        f"Invalid parameter 'constraints__{key}': no constraint named {name!r}; "
                        f"the constraints are {sorted(new)}."
                    )
                if sub:
                    updates.setdefault(name, {})[sub] = value
                else:
                    new[name] = value
            for name, sub_params in updates.items():
                c = clone(new[name])
                valid = c.get_params()
                for sub in sub_params:
                    if sub.partition("__")[0] not in valid:
                        raise ValueError(
                            f"Invalid parameter 'constraints__{name}__{sub}' for "
                            f"{type(c).__name__}; valid parameters: {sorted(valid)}."
                        )
                new[name] = c.set_params(**sub_params)
            self.constraints = new
        if nested_m:
            method = resolve_method(self.method)
            valid = method.get_params()
            for sub in nested_m:
                if sub not in valid:
                    raise ValueError(
                        f"Invalid parameter 'method__{sub}' for {type(method).__name__}; "
                        f"valid parameters: {sorted(valid)}."
                    )
            self.method = method.set_params(**nested_m)
        return self

    # ------------------------------------------------------------------
    # validation helpers
    # ------------------------------------------------------------------
    def _check_scalar_params(self):
        for name, value, low in (("max_epochs", self.max_epochs, 1),):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(f"`{name}` must be an integer >= {low}; got {value!r}.")
        bs = self.batch_size
        if isinstance(bs, bool) or not isinstance(bs, numbers.Integral) or (bs < 1 and bs != -1):
            raise ValueError(
                f"`batch_size` must be a positive integer or -1 (full batch); got {bs!r}."
            )
        if self.verbose not in (0, 1, 2, False, True):
            raise ValueError(f"`verbose` must be 0, 1 or 2; got {self.verbose!r}.")
        tol = self.tol
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not (0 <= tol < np.inf):
            raise ValueError(f"`tol` must be a finite number >= 0; got {tol!r}.")
        if self.module_params is not None and not isinstance(self.module_params, dict):
            raise ValueError(f"`module_params` must be None or a dict; got {self.module_params!r}.")
        ds = self.dual_split
        if ds is not None and (
            isinstance(ds, bool) or not isinstance(ds, numbers.Real) or not 0.0 < ds < 1.0
        ):
            raise ValueError(
                f"`dual_split` must be None or a fraction in (0, 1) of the training data held "
                f"out for the multipliers' estimates; got {ds!r}."
            )
        rs = self.random_state
        if rs is not None and (
            isinstance(rs, bool) or not isinstance(rs, (numbers.Integral, np.random.RandomState))
        ):
            raise ValueError(f"`random_state` must be None or an int; got {rs!r}.")
        if not isinstance(self.warm_start, (bool, np.bool_)):
            raise ValueError(f"`warm_start` must be True or False; got {self.warm_start!r}.")

    def _seed(self):
        rs = self.random_state
        if isinstance(rs, numbers.Integral):
            return int(rs) % (2**63)
        return int(check_random_state(rs).randint(0, 2**31 - 1))

    def _build_module(self, n_features, n_outputs, input_shape):
        params = dict(self.module_params or {})
        module = self.module
        try:
            if module is None:
                return MLP(n_features, n_outputs, **params)
            if isinstance(module, type) and issubclass(module, SizedModule):
                return module.from_data(n_features, n_outputs, input_shape=input_shape, **params)
            if isinstance(module, type) and issubclass(module, torch.nn.Module):
                return module(**params)
        except (TypeError, RuntimeError) as exc:
            # a wrong keyword (TypeError) or a value torch rejects (RuntimeError,
            # e.g. a negative layer size): name the parameter, not torch's internals
            name = "MLP" if module is None else module.__name__
            error = TypeError if isinstance(exc, TypeError) else ValueError
            raise error(
                f"`module` {name} could not be built with module_params={params!r}: {exc}. "
                "Pass in `module_params` the keyword arguments its constructor takes, with valid "
                "values (the input and output sizes of sklearn_constrained.models are set from the data)."
            ) from None
        if isinstance(module, torch.nn.Module):
            if params:
                raise ValueError(
                    "`module_params` apply only when `module` is a class; got a module instance."
                )
            return copy.deepcopy(module)
        raise TypeError(
            f"`module` must be None, a torch.nn.Module class or instance; got {module!r}."
        )

    def _validate_groups(self, constraints, sensitive_features, n_samples):
        needs = [n for n, c in constraints.items() if c.requires_groups]
        if sensitive_features is None:
            if needs:
                raise ValueError(
                    f"Constraint(s) {needs} compare groups, so fit needs `sensitive_features`: "
                    "call fit(X, y, sensitive_features=s) with one group label per sample (in a "
                    "Pipeline or GridSearchCV, request it with "
                    "clf.set_fit_request(sensitive_features=True))."
                )
            return None, None
        codes, labels = encode_groups(sensitive_features, n_samples)
        if needs and len(labels) < 2:
            raise ValueError(
                f"`sensitive_features` has a single group ({labels[0]!r}); constraint(s) {needs} "
                "compare groups and need at least two."
            )
        return codes, labels

    # ------------------------------------------------------------------
    # fit
    # ------------------------------------------------------------------
    def fit(self, X, y, sensitive_features=None):
        """Train the module under the constraints.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Inputs; float64 input is cast to the module's dtype.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sensitive_features : array-like of shape (n_samples,) or (n_samples, k), default=None
            Group membership for group constraints (each distinct row is a
            group). Routed by ``set_fit_request(sensitive_features=True)``
            in a Pipeline or a grid search.

        Returns
        -------
        self
        """
        self._check_scalar_params()
        constraints = check_constraints(self.constraints)
        method = resolve_method(self.method)
        method._check_params()
        opt_cls, lr, opt_extra, full_batch = resolve_optimizer(self.optimizer, self.lr)
        device = resolve_device(self.device)

        resume = self._warm_start_state(constraints, method)
        state = resume or {}
        previous_groups = getattr(self, "group_labels_", None)
        try:
            X, y = validate_data(
                self,
                X,
                y,
                dtype=(np.float32, np.float64),
                allow_nd=True,
                ensure_all_finite=True,
                reset=resume is None,
                **self._validate_y_kwargs(),
            )
            if resume is not None:
                y_enc, n_outputs = self._encode_resumed_target(y)
        except ValueError as exc:
            if resume is None:
                raise
            raise ValueError(
                f"{exc} (warm_start=True continues the previous fit, on data with the same "
                "features and classes; set warm_start=False to train afresh.)"
            ) from None
        if resume is None:
            # a fresh fit replaces the previous model: if it fails from here
            # on, the estimator reads as not fitted rather than half-updated
            for attr in ("net_", "module_", "method_", "_resume_"):
                self.__dict__.pop(attr, None)
            y_enc, n_outputs = self._prepare_target(y)
        groups, group_labels = self._validate_groups(constraints, sensitive_features, len(X))
        if resume is not None:
            self._check_resumed_groups(constraints, previous_groups, group_labels)
        self.group_labels_ = group_labels

        rank, world = 0, 1
        if not isinstance(self.distributed, bool):
            raise ValueError(f"`distributed` must be True or False; got {self.distributed!r}.")
        if self.distributed:
            from ._distributed import check_ready, rank_and_world

            check_ready()
            rank, world = rank_and_world()
        seed = int(state["seed"]) if state.get("seed") is not None else self._seed()
        train_idx, dual_idx = self._dual_split_indices(constraints, y_enc, groups, len(X), seed)
        cuda_devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(seed)
            if resume is None:
                n_features = int(np.prod(X.shape[1:]))
                module = self._build_module(n_features, n_outputs, X.shape[1:])
                self._check_module_output(module, X, n_outputs)
                self._module_spec = (n_features, int(n_outputs), tuple(int(d) for d in X.shape[1:]))
            else:
                # continue from the last training iterate (not the returned
                # best/split one), as an uninterrupted run would
                module = self.module_
                if state.get("module") is not None:
                    _load_module_state(module, state["module"])
            dtype = next((p.dtype for p in module.parameters()), torch.float32)
            # without a dual split, no index copy of X (large image arrays)
            fit_rows = slice(None) if dual_idx is None else train_idx
            X_t = torch.tensor(X[fit_rows], dtype=dtype)
            y_dict = {"y": torch.as_tensor(y_enc[fit_rows])}
            if groups is not None:
                y_dict["groups"] = torch.as_tensor(groups[fit_rows])
            generator = torch.Generator().manual_seed(seed)
            if state.get("generator") is not None:
                generator.set_state(state["generator"])
            monitor = ConstraintMonitor(
                verbose=self.verbose, max_epochs=self.max_epochs, tol=self.tol
            )
            callbacks = [("constraint_monitor", monitor)]
            selector = None
            if any(c.requires_data for c in constraints.values()):
                # rate/fairness constraints: return the best feasible iterate
                from .model_selection import _BestFeasibleIterate

                n_fit = len(train_idx)
                per_epoch = (
                    1 if (full_batch or self.batch_size == -1) else -(-n_fit // self.batch_size)
                )
                selector = _BestFeasibleIterate(
                    tol=self.tol, batches_per_epoch=per_epoch, max_epochs=self.max_epochs
                )
                callbacks.append(("best_feasible_iterate", selector))
            net = self._make_net(
                module,
                opt_cls=opt_cls,
                lr=lr,
                opt_extra=opt_extra,
                full_batch=full_batch,
                device=device,
                generator=generator,
                callbacks=callbacks,
                n_groups=0 if group_labels is None else len(group_labels),
                rank=rank,
                world=world,
            )
            net.initialize()
            if resume is not None:
                self._resume_net(net, state, monitor, selector, lr, opt_cls, device)
            bound = self._bind_constraints(
                {name: clone(c) for name, c in constraints.items()},
                net.module_,
                n_samples=len(train_idx) if dual_idx is None else len(dual_idx),
                external_dual=dual_idx is not None,
            )
            method._setup(bound, device=device, dtype=dtype)
            if state.get("method") is not None:
                method._set_state(_to_device(state["method"], device))
                if state.get("method_log") is not None and hasattr(method, "log_"):
                    method.log_ = [dict(entry) for entry in state["method_log"]]
            for name, b in bound.items():
                b._set_state(_to_device((state.get("bound") or {}).get(name) or {}, device))
            net.method_, net.bound_constraints_ = method, bound
            if dual_idx is not None:
                X_sel = torch.tensor(X[dual_idx], dtype=dtype)
                y_sel = {
                    k: v[torch.as_tensor(dual_idx)]
                    for k, v in self._full_targets(y_enc, groups).items()
                }
                net.dual_stream_ = HeldOutStream(
                    X_sel,
                    y_sel,
                    batch_size=-1 if full_batch else self.batch_size,
                    generator=torch.Generator().manual_seed(seed + 1),
                    device=device,
                )
                _set_stream_state(net.dual_stream_, state.get("dual_stream"), device)
            else:
                X_sel, y_sel = X_t, y_dict
            if selector is not None:
                selector.set_data(X_sel, y_sel)
            if world > 1:
                # Gradients are averaged across ranks; the constraints stay
                # bound to the inner module's (shared) parameters.
                from torch.nn.parallel import DistributedDataParallel

                net.module_ = DistributedDataParallel(
                    net.module_, device_ids=[device] if device.type == "cuda" else None
                )
            if state.get("rng_cpu") is not None:
                # a resumed fit continues the random stream (dropout, gates)
                # where the previous one stopped, instead of re-seeding it
                torch.set_rng_state(state["rng_cpu"])
                for dev, rng in zip(cuda_devices, state.get("rng_cuda") or []):
                    torch.cuda.set_rng_state(rng, dev)
            diverged, kept_epoch = False, None
            try:
                net.partial_fit(X_t, y_dict)
            except TrainingDiverged as exc:
                diverged = True
                monitor.on_train_end(net)
                kept_epoch = monitor.restore_finite(net, X_t)
                if kept_epoch is None:
                    raise RuntimeError(
                        f"{exc} Even so the module's outputs are not finite; no usable model "
                        "was found. Lower `lr`, standardise the inputs, or use a smaller level "
                        "of the method's dual step or penalty."
                    ) from None
                kept = (
                    "the initial state" if kept_epoch == 0 else f"the state of epoch {kept_epoch}"
                )
                warnings.warn(
                    f"{exc} The fitted model is {kept} (best_epoch_); its outputs on the training "
                    "data are finite.",
                    RuntimeWarning,
                    stacklevel=2,
                )
            finally:
                if world > 1:
                    net.module_ = net.module_.module
            training_state = self._capture_training_state(
                seed,
                method,
                net,
                monitor,
                bound,
                selector,
                generator,
                opt_cls,
                rng_cuda_devices=cuda_devices,
                diverged=diverged,
                world=world,
            )
            method._finalize()

        self.net_ = net
        self.module_ = net.module_
        self.method_ = method
        self.constraints_ = {name: clone(c) for name, c in constraints.items()}
        self.history_ = monitor.records
        self.n_iter_ = len(monitor.records)
        self.multipliers_ = method._multipliers_numpy()
        if diverged:
            self.best_epoch_ = kept_epoch
        elif selector is not None and selector.best_ is not None:
            self.best_epoch_ = int(selector.best_["epoch"])
        else:
            self.best_epoch_ = len(monitor.records)
        # The fit-time references to live parameters are dropped: the method
        # keeps its multipliers, and constraints are re-bound on demand.
        net.method_ = net.bound_constraints_ = net.dual_stream_ = None
        method.bound_constraints_ = None
        checked = None
        if (
            selector is not None
            and dual_idx is None
            and not diverged
            and selector.best_ is not None
        ):
            # the returned iterate was checked on these very training data
            checked = selector.best_.get("result")
        self._set_feasibility(
            X, y_enc, groups, best=None if diverged else monitor.best_, checked=checked
        )
        self._resume_ = self._finish_training_state(training_state)
        return self

    def _validate_y_kwargs(self):
        return {}

    def __sklearn_is_fitted__(self):
        return hasattr(self, "net_")

    def __setstate__(self, state):
        super().__setstate__(state)
        # skorch serialises its module on its own: after unpickling (or
        # deepcopy) make `module_` the net's module again, not a twin of it
        net = self.__dict__.get("net_")
        if net is not None and getattr(net, "module_", None) is not None:
            self.module_ = net.module_

    # ------------------------------------------------------------------
    # building blocks of fit, shared with load()
    # ------------------------------------------------------------------
    def _make_net(
        self,
        module,
        *,
        opt_cls,
        lr,
        opt_extra,
        full_batch,
        device,
        generator=None,
        callbacks=(),
        n_groups=0,
        rank=0,
        world=1,
    ):
        return ConstrainedNet(
            module=module,
            criterion=self._criterion(),
            optimizer=opt_cls,
            lr=lr,
            max_epochs=self.max_epochs,
            batch_size=-1 if full_batch else self.batch_size,
            device=device,
            train_split=None,
            iterator_train=TensorLoader,
            iterator_train__shuffle=True,
            iterator_train__generator=generator,
            iterator_train__device=device,
            iterator_train__rank=rank,
            iterator_train__world_size=world,
            iterator_valid=TensorLoader,
            iterator_valid__device=device,
            callbacks=list(callbacks),
            n_groups=n_groups,
            target_scale=getattr(self, "_target_scale", 1.0),
            distributed=world > 1,
            **{f"optimizer__{k}": v for k, v in opt_extra.items()},
        )

    def _check_module_output(self, module, X, n_outputs):
        """Run the module on two samples (evaluation mode, no gradients) and
        check that it accepts the data and returns ``(n, n_outputs)``, so a
        mismatch is a ``ValueError`` naming ``module``, not a torch error
        deep in the training loop (or, worse, silent broadcasting).
        """
        params = list(module.parameters())
        dtype = params[0].dtype if params else torch.float32
        sample = torch.tensor(X[:2], dtype=dtype, device=params[0].device if params else "cpu")
        was_training = module.training
        module.train(False)
        try:
            with torch.no_grad():
                out = module(sample)
        except Exception as exc:  # noqa: BLE001 - whatever the user's module raises
            raise ValueError(
                f"`module` ({type(module).__name__}) cannot process the data: on two samples of "
                f"shape {tuple(sample.shape)} it raised {type(exc).__name__}: {exc}. Make its input "
                f"layer take {tuple(X.shape[1:])} per sample (X.shape[1:]), or pass a class from "
                "sklearn_constrained.models, which is sized from the data."
            ) from None
        finally:
            module.train(was_training)
        expected = (len(sample), int(n_outputs))
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        if got != expected:
            what = "one logit per class" if is_classifier(self) else "one output per target column"
            raise ValueError(
                f"`module` ({type(module).__name__}) returns {got} for {len(sample)} samples; "
                f"{type(self).__name__} needs {what}: {expected}. Size its last layer to "
                f"{n_outputs} outputs, or pass a class from sklearn_constrained.models."
            )

    # ------------------------------------------------------------------
    # warm start and checkpoints
    # ------------------------------------------------------------------
    def _warm_start_state(self, constraints, method):
        """The state to resume from (a dict, possibly empty: weights only),
        or ``None`` for a fresh fit.
        """
        if not self.warm_start or not self.__sklearn_is_fitted__():
            return None
        previous = getattr(self, "method_", None)
        if previous is not None and type(previous) is not type(method):
            raise ValueError(
                f"warm_start=True continues the previous fit, which used {type(previous).__name__}; "
                f"got method={type(method).__name__}. Keep the method (its parameters may change) "
                "or set warm_start=False to train afresh."
            )
        old = getattr(self, "constraints_", {}) or {}
        changed = sorted(set(old) ^ set(constraints)) + sorted(
            n
            for n in set(old) & set(constraints)
            if _constraint_signature(old[n]) != _constraint_signature(constraints[n])
        )
        if changed:
            raise ValueError(
                f"warm_start=True continues the previous fit, so its constraints must keep their "
                f"names, classes and parameter selections (only numeric levels may change); "
                f"{changed} changed. Set warm_start=False to train afresh."
            )
        return dict(getattr(self, "_resume_", None) or {})

    def _encode_resumed_target(self, y):
        y_enc = self._encode_for_eval(y)
        n_outputs = int(self._module_spec[1])
        if not is_classifier(self) and y_enc.reshape(len(y_enc), -1).shape[1] != n_outputs:
            raise ValueError(
                f"warm_start=True: y has {y_enc.reshape(len(y_enc), -1).shape[1]} target column(s), "
                f"the fitted model {n_outputs}. Set warm_start=False to train afresh."
            )
        return y_enc, n_outputs

    def _check_resumed_groups(self, constraints, previous, labels):
        if not any(c.requires_groups for c in constraints.values()):
            return
        same = (
            previous is not None
            and labels is not None
            and len(previous) == len(labels)
            and all(str(a) == str(b) for a, b in zip(previous, labels))
        )
        if not same:
            raise ValueError(
                f"warm_start=True: `sensitive_features` has the groups {[str(v) for v in labels]}, the "
                f"previous fit had {None if previous is None else [str(v) for v in previous]}; the multipliers are per "
                "group, so they must match. Set warm_start=False to train afresh."
            )

    def _resume_net(self, net, state, monitor, selector, lr, opt_cls, device):
        opt_state = state.get("optimizer")
        if opt_state is not None and state.get("optimizer_class") == _qualname(opt_cls):
            net.optimizer_.load_state_dict(opt_state)
            for group in net.optimizer_.param_groups:
                group["lr"] = lr  # the current `lr`, in case it changed
        # the best feasible iterate is marked again at the end of this fit
        records = [
            {k: v for k, v in r.items() if k not in ("selected", "selected_step")}
            for r in getattr(self, "history_", None) or []
        ]
        monitor.resume(records, _to_device(state.get("best"), device))
        if selector is not None and state.get("selector") is not None:
            sel = _to_device(state["selector"], device)
            selector.best_, selector._step = sel["best"], int(sel["step"])
            selector._last_step, selector._last = int(sel["last_step"]), sel["last"]

    def _capture_training_state(
        self,
        seed,
        method,
        net,
        monitor,
        bound,
        selector,
        generator,
        opt_cls,
        *,
        rng_cuda_devices,
        diverged,
        world,
    ):
        """Everything a resumed fit needs, by reference (no copies): the last
        training iterate (weights and method state of the last epoch), the
        primal optimizer, the constraints' running statistics, the batch
        order and the random streams.
        """
        snap = monitor._snapshot or {}
        last_module = None if diverged else snap.get("module")
        if last_module is not None and world > 1:
            last_module = _strip_prefix(last_module)
        stream = getattr(net, "dual_stream_", None)
        return {
            "seed": int(seed),
            "epochs": len(monitor.records),
            "module": last_module,
            "method": method._get_state() if diverged else snap.get("method"),
            "method_log": getattr(monitor, "method_log_", None),
            # after a divergence the optimizer's moments may be non-finite: a
            # resumed fit then starts a fresh optimizer from the kept weights
            "optimizer": None if diverged else net.optimizer_.state_dict(),
            "optimizer_class": _qualname(opt_cls),
            "bound": {name: b._get_state() for name, b in bound.items()},
            "generator": generator.get_state(),
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": [torch.cuda.get_rng_state(d) for d in rng_cuda_devices],
            "dual_stream": None
            if stream is None
            else {
                "generator": None if stream.generator is None else stream.generator.get_state(),
                "perm": stream._perm,
                "pos": int(stream._pos),
            },
            "selector": None
            if selector is None
            else {
                "best": selector.best_,
                "step": int(selector._step),
                "last_step": int(selector._last_step),
                "last": selector._last,
            },
            "best": monitor.best_,
        }

    def _finish_training_state(self, state):
        # Keep a copy of the last iterate's weights only when the returned
        # module holds other ones (S-ADMM's split copy, a best iterate).
        last = state.get("module")
        if last is not None:
            current = self.module_.state_dict()
            if current.keys() == last.keys() and all(
                torch.equal(current[k], v) for k, v in last.items()
            ):
                state["module"] = None
        return state

    def _training_state(self, cpu=True):
        """The state a resumed fit needs (see ``warm_start``), with every tensor
        on the CPU when ``cpu``; ``None`` when there is none.
        """
        state = getattr(self, "_resume_", None)
        if state is None:
            return None
        return _map_tensors(state, (lambda t: t.detach().cpu()) if cpu else (lambda t: t))

    def _restore_fitted(self, module_state, training_state=None):
        """Rebuild a fitted estimator from saved weights (``load``): the module
        from ``_module_spec`` and the parameters, a net for prediction, the
        method (with its state when ``training_state`` is given) and what a
        ``warm_start`` fit needs to resume.
        """
        n_features, n_outputs, input_shape = self._module_spec
        try:
            device = resolve_device(self.device)
        except ValueError:
            warnings.warn(
                f"device={self.device!r} is not available here; the model is loaded on the CPU.",
                UserWarning,
                stacklevel=3,
            )
            device = torch.device("cpu")
        with torch.random.fork_rng():
            module = self._build_module(int(n_features), int(n_outputs), tuple(input_shape))
        _load_module_state(module, module_state)
        opt_cls, lr, opt_extra, full_batch = resolve_optimizer(self.optimizer, self.lr)
        net = self._make_net(
            module,
            opt_cls=opt_cls,
            lr=lr,
            opt_extra=opt_extra,
            full_batch=full_batch,
            device=device,
            n_groups=0 if self.group_labels_ is None else len(self.group_labels_),
        )
        net.initialize()
        self.net_, self.module_ = net, net.module_
        constraints = check_constraints(self.constraints)
        self.constraints_ = {name: clone(c) for name, c in constraints.items()}
        method = resolve_method(self.method)
        dtype = next((p.dtype for p in net.module_.parameters()), torch.float32)
        bound = self._bind_constraints(
            {name: clone(c) for name, c in constraints.items()}, net.module_
        )
        method._setup(bound, device=device, dtype=dtype)
        if training_state and training_state.get("method") is not None:
            method._set_state(_to_device(training_state["method"], device))
        else:
            method.multipliers_ = {
                n: torch.as_tensor(v, dtype=dtype, device=device)
                for n, v in self.multipliers_.items()
            }
        method.bound_constraints_ = None
        self.method_ = method
        self._resume_ = training_state
        return self

    def save(self, path, *, include_training_state=True):
        """Save the fitted estimator to ``path`` without pickle.

        The file holds the parameters, fitted attributes and history as JSON
        text and the tensors (weights and, with ``include_training_state``,
        everything a ``warm_start`` fit needs to resume exactly: optimizer
        and method state, running statistics, random streams). :meth:`load`
        reads it with ``torch.load(weights_only=True)``, which rebuilds only
        tensors and plain containers.

        Parameters
        ----------
        path : str, path-like or binary file object
        include_training_state : bool, default=True
            Also store what resuming training needs (Adam's moments, the
            last and the best iterates kept so far: a few times the size of
            the weights); without it a loaded model predicts, and a
            ``warm_start`` fit continues from its weights only.

        Warnings
        --------
        The usual way to persist scikit-learn estimators, pickle (or joblib),
        runs code stored in the file when it is loaded: never unpickle a file
        from a source you do not trust. ``save``/``load`` avoid that: loading
        a file executes no code from it, and the classes it names are
        imported only from ``sklearn_constrained`` and ``torch.optim`` unless
        listed in ``trusted``. A file from an untrusted source can still hold
        a model that behaves badly.

        Examples
        --------
        >>> import os, tempfile
        >>> from sklearn_constrained import ConstrainedClassifier
        >>> X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
        >>> clf = ConstrainedClassifier(max_epochs=2, random_state=0).fit(X, y)
        >>> path = os.path.join(tempfile.mkdtemp(), "clf.pt")
        >>> clf.save(path)
        >>> loaded = ConstrainedClassifier.load(path)
        >>> bool((loaded.predict_proba(X) == clf.predict_proba(X)).all())
        True
        """
        from ._persistence import save_estimator

        save_estimator(self, path, include_training_state=include_training_state)

    @classmethod
    def load(cls, path, *, module=None, trusted=()):
        """Load an estimator written by :meth:`save` (no pickle).

        The file is read with ``torch.load(weights_only=True)``; see the
        warning in :meth:`save` about files from untrusted sources.

        Parameters
        ----------
        path : str, path-like or binary file object
        module : torch.nn.Module instance or class, default=None
            Needed when the estimator was fitted with a module *instance*
            (the file holds its weights, not its code): an instance or class
            of the same architecture.
        trusted : sequence of classes, default=()
            Classes from outside ``sklearn_constrained`` that the file may
            name (your own module class, for instance).

        Returns
        -------
        estimator
            A fitted estimator that predicts exactly as the saved one and,
            with ``warm_start=True``, resumes its training.

        Examples
        --------
        See :meth:`save`.
        """
        from ._persistence import load_estimator

        est = load_estimator(path, module=module, trusted=trusted)
        if not isinstance(est, cls):
            raise TypeError(f"{path!r} holds a {type(est).__name__}, not a {cls.__name__}.")
        return est

    @staticmethod
    def _full_targets(y_enc, groups):
        out = {"y": torch.as_tensor(y_enc)}
        if groups is not None:
            out["groups"] = torch.as_tensor(groups)
        return out

    def _dual_split_indices(self, constraints, y_enc, groups, n, seed):
        """``(train_idx, dual_idx)``: the held-out part for the multipliers'
        estimates (``dual_split``), stratified by group and class when every
        stratum allows it; ``dual_idx`` is None without a split.
        """
        everything = np.arange(n)
        if self.dual_split is None or not any(c.requires_data for c in constraints.values()):
            return everything, None
        from sklearn.model_selection import train_test_split

        strata = np.zeros(n, dtype=np.int64) if groups is None else groups.astype(np.int64)
        if is_classifier(self):
            strata = strata * (int(y_enc.max()) + 1) + y_enc
        _, counts = np.unique(strata, return_counts=True)
        stratify = strata if counts.min() >= 2 else None
        try:
            train_idx, dual_idx = train_test_split(
                everything,
                test_size=self.dual_split,
                random_state=seed % (2**32),
                stratify=stratify,
            )
        except ValueError as exc:
            raise ValueError(
                f"`dual_split`={self.dual_split!r} cannot split {n} samples into a training and "
                f"a held-out part: {exc}"
            ) from None
        return np.sort(train_idx), np.sort(dual_idx)

    def _bind_constraints(self, constraints, module, n_samples=None, external_dual=False):
        """Bind each constraint to ``module``; bound rate constraints are also
        told the classes and the epoch size of their running estimates.
        """
        bound = {name: c._bind(module, name) for name, c in constraints.items()}
        classes = getattr(self, "classes_", None) if is_classifier(self) else None
        for b in bound.values():
            configure = getattr(b, "configure", None)
            if configure is not None:
                configure(
                    classes=classes,
                    n_samples=n_samples,
                    external_dual=external_dual,
                    classifier=is_classifier(self),
                )
        return bound

    # ------------------------------------------------------------------
    # inference and constraint evaluation
    # ------------------------------------------------------------------
    def _forward(self, X):
        """Raw module outputs for validated X, as a float64 tensor on the CPU.

        The module runs in evaluation mode, without gradients, on chunks of
        eight training batches (at least 1,024 rows): large enough that the
        per-call overhead vanishes, small enough for image models.
        """
        param = next(self.module_.parameters(), None)
        dtype = torch.float32 if param is None else param.dtype
        device = torch.device("cpu") if param is None else param.device
        batch = int(self.batch_size) if self.batch_size not in (None, -1) else 1024
        chunk = min(max(1024, 8 * batch), 8192)
        outs = predict_chunks(self.module_, X, device, chunk, dtype)
        return torch.cat(outs).cpu().double() if outs else torch.empty(0, dtype=torch.float64)

    def _check_X(self, X):
        check_is_fitted(self)
        return validate_data(
            self,
            X,
            reset=False,
            dtype=(np.float32, np.float64),
            allow_nd=True,
            ensure_all_finite=True,
        )

    def _bound_constraints(self):
        return self._bind_constraints(self.constraints_, self.module_)

    def _constraint_evals(self, X, y_enc=None, groups=None, constraints=None):
        """Evaluate ``constraints`` (default: the fitted ``constraints_``) on validated X."""
        bound = (
            self._bound_constraints()
            if constraints is None
            else self._bind_constraints(constraints, self.module_)
        )
        ctx = None
        if any(b.requires_data for b in bound.values()):
            dev = next(self.module_.parameters()).device
            y_pred = self._forward(X).to(dev, torch.float32)
            y_t = None if y_enc is None else torch.as_tensor(y_enc).to(dev)
            g_t = None if groups is None else torch.as_tensor(groups).to(dev)
            n_groups = 0 if self.group_labels_ is None else len(self.group_labels_)
            ctx = BatchContext(y_pred, y_t, g_t, n_groups, getattr(self, "_target_scale", 1.0))
        with torch.no_grad():
            return evaluate_bound(bound, ctx)

    def _feasibility(self, X, y_enc, groups):
        """``(values, violated, score)`` on the given data: each constraint's
        value, the violated ones as ``(name, value, violation)``, and the
        largest violation relative to ``max(1, |level|)``.
        """
        evals = self._constraint_evals(X, y_enc, groups)
        values, worst = {}, {}
        for name, e in evals.items():
            value = e.value.detach().double().cpu()
            defect = e.defect.detach().double().cpu()
            viol = (
                torch.relu(defect) if self.constraints_[name].kind == "inequality" else defect.abs()
            )
            values[name] = float(value.max()) if value.numel() > 1 else float(value)
            worst[name] = float(viol.max()) if viol.numel() else 0.0
        return self._judge(values, worst)

    def _judge(self, values, worst):
        """``(values, violated, score)`` from each constraint's value and
        largest violation, by the rule of ``feasible_`` (violation at most
        ``tol * max(1, |level|)``).
        """
        violated, score = [], 0.0
        for name, w in worst.items():
            scale = self.constraints_[name]._tolerance_scale()
            score = max(score, w / scale)
            if w > self.tol * scale:
                violated.append((name, values[name], w))
        return values, violated, score

    def _load_iterate(self, snapshot):
        _load_module_state(self.module_, snapshot["module"])
        self.method_._set_state(snapshot["method"])

    def _set_feasibility(self, X, y_enc, groups, best=None, checked=None):
        if checked is not None and checked.get("violations") is not None:
            # the best feasible iterate's check on the training data: no
            # second pass over them
            values, violated, score = self._judge(
                dict(checked["constraints"]), checked["violations"]
            )
        else:
            values, violated, score = self._feasibility(X, y_enc, groups)
        note = ""
        reached = best is not None and best.get("key") is not None and best["key"][0] <= 0
        if violated and reached and best.get("epoch") != self.best_epoch_:
            note = (
                f" Epoch {best['epoch']} met the constraints (by its epoch-end estimates): the "
                "method has not settled yet; the last iterate is returned."
            )
        elif violated and best is not None:
            # No epoch met the constraints (the level may be out of reach):
            # return the least violated iterate when it is better on these
            # data. The epoch records of data constraints average over the
            # epoch, so the snapshot before the best one is a candidate too.
            candidates = [best]
            if best.get("previous") is not None and any(
                c.requires_data for c in self.constraints_.values()
            ):
                candidates.append(best["previous"])
            candidates = [c for c in candidates if c.get("epoch") not in (None, self.best_epoch_)]
            current = {
                "module": copy.deepcopy(self.module_.state_dict()),
                "method": self.method_._get_state(),
            }
            log = getattr(self.method_, "log_", None)
            log = list(log) if isinstance(log, list) else None
            chosen = None
            for candidate in candidates:
                self._load_iterate(candidate)
                alt = self._feasibility(X, y_enc, groups)
                if alt[2] < (score if chosen is None else chosen[1][2]):
                    chosen = (candidate, alt)
            if chosen is None:
                if candidates:
                    self._load_iterate(current)
                    if log is not None:  # a trial restore truncated SAL's log
                        self.method_.log_ = log
            else:
                self._load_iterate(chosen[0])
                last_epoch = self.best_epoch_
                values, violated, score = chosen[1]
                self.best_epoch_ = int(chosen[0]["epoch"])
                self.multipliers_ = self.method_._multipliers_numpy()
                note = (
                    f" The returned model is the iterate of epoch {self.best_epoch_} (best_epoch_), "
                    f"the one with the smallest violation; epoch {last_epoch}'s was larger."
                )
        self.constraint_values_ = values
        self.feasible_ = not violated
        if violated:
            desc = "; ".join(
                f"{n!r}: achieved value {v:.6g}, violating its level by {d:.3g}"
                for n, v, d in violated
            )
            warnings.warn(
                f"The fitted model does not satisfy every constraint on the training data ({desc}). "
                "feasible_ is False."
                + note
                + " Train longer (max_epochs), raise the method's dual "
                "step (method__dual_lr) or penalty, or relax the level if it cannot be reached.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def evaluate_constraints(self, X, y=None, sensitive_features=None):
        """Each constraint's true value on the given data.

        Weight constraints ignore the data. Rate and fairness constraints
        report the non-differentiable rate (counts of predictions), not the
        surrogate used for gradients.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None
            Needed by constraints that involve labels (TPR, error rates, losses).
        sensitive_features : array-like, default=None
            Needed by group constraints.

        Returns
        -------
        dict of str to float
        """
        X = self._check_X(X)
        needs_y = any(getattr(c, "requires_labels", False) for c in self.constraints_.values())
        y_enc = None
        if y is not None:
            y_enc = self._encode_for_eval(y)
        elif needs_y:
            raise ValueError("These constraints involve labels: pass `y` to evaluate_constraints.")
        groups = None
        if any(c.requires_groups for c in self.constraints_.values()):
            if sensitive_features is None:
                raise ValueError(
                    "Group constraints need `sensitive_features` in evaluate_constraints."
                )
            groups = self._encode_groups_for_eval(sensitive_features, len(X))
        evals = self._constraint_evals(X, y_enc, groups)
        return {
            n: (float(e.value.max()) if e.value.numel() > 1 else float(e.value))
            for n, e in evals.items()
        }

    def _encode_groups_for_eval(self, sensitive_features, n):
        codes, labels = encode_groups(sensitive_features, n)
        known = (
            {str(v): i for i, v in enumerate(self.group_labels_)}
            if self.group_labels_ is not None
            else {}
        )
        unknown = sorted(set(labels) - set(known))
        if unknown:
            raise ValueError(f"`sensitive_features` has groups unseen during fit: {unknown}.")
        mapping = np.array([known[str(v)] for v in labels], dtype=np.int64)
        return mapping[codes]


# ----------------------------------------------------------------------------
# helpers of warm start and checkpoints
# ----------------------------------------------------------------------------
def _qualname(obj):
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def _map_tensors(obj, fn):
    """Apply ``fn`` to every tensor of nested dicts, lists and tuples."""
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: _map_tensors(v, fn) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_map_tensors(v, fn) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_map_tensors(v, fn) for v in obj)
    return obj


def _to_device(obj, device):
    return None if obj is None else _map_tensors(obj, lambda t: t.to(device))


def _strip_prefix(state_dict, prefix="module."):
    if state_dict and all(k.startswith(prefix) for k in state_dict):
        return {k[len(prefix) :]: v for k, v in state_dict.items()}
    return state_dict


def _load_module_state(module, state_dict):
    """``load_state_dict``, tolerating the ``module.`` prefix of a state taken
    from a DistributedDataParallel wrapper.
    """
    own = module.state_dict().keys()
    if set(state_dict) != set(own):
        state_dict = _strip_prefix(state_dict)
    module.load_state_dict(state_dict)


def _set_stream_state(stream, state, device):
    if stream is None or not state:
        return
    if state.get("generator") is not None and stream.generator is not None:
        stream.generator.set_state(state["generator"])
    perm = state.get("perm")
    if perm is None or len(perm) == stream.n:
        stream._perm = None if perm is None else perm.to(device)
        stream._pos = int(state.get("pos", stream.n))


def _constraint_signature(constraint):
    """What a warm start must keep of a constraint: its class, kind and every
    non-numeric parameter (numeric levels may change; ``None`` may not become
    a number, which would change the number of multipliers).
    """
    sig = [type(constraint), constraint.kind]
    for key, value in sorted(constraint.get_params(deep=False).items()):
        if value is None or (isinstance(value, numbers.Real) and not isinstance(value, bool)):
            sig.append((key, value is None))
        else:
            sig.append((key, repr(value)))
    return sig
