"""Saving and loading fitted estimators without pickle.

A file written by :func:`save_estimator` (``est.save(path)``) is a
``torch.save`` archive of exactly two entries:

``"meta"``
    JSON text: the format tag, the library and torch versions, the
    estimator's class and parameters (constraints and methods as class name
    plus parameters; module and optimizer classes by name), its fitted
    attributes (``classes_``, ``n_features_in_``, ``feature_names_in_``,
    ``group_labels_``, ``multipliers_``, ``feasible_``,
    ``constraint_values_``, ``history_``, ``best_epoch_``, the target
    standardisation of regressors, the module's size).
``"tensors"``
    ``"module"``: the module's ``state_dict``; ``"training"`` (optional):
    what a ``warm_start`` fit needs to resume exactly (the last training
    iterate, the primal optimizer's ``state_dict``, the method's state, the
    constraints' running statistics, the batch generator and torch RNG
    states, the best iterates kept so far) -- tensors, numbers, strings and
    plain containers only.

It is read back with ``torch.load(weights_only=True)``, which rebuilds only
tensors and plain containers and never runs code from the file. Classes named
in the JSON are imported only from ``sklearn_constrained`` (and optimizer
classes from ``torch.optim``) unless the caller lists them in ``trusted``,
and each must be of the expected kind (an estimator, constraint or method, a
``torch.nn.Module`` or a ``torch.optim.Optimizer`` subclass).

pickle and joblib remain the usual way to persist scikit-learn estimators,
with their usual warning: unpickling runs code stored in the file, so never
unpickle a file from a source you do not trust. Unlike pickle, a crafted file
in this format cannot execute code when loaded; it can still describe a
model that behaves badly, so load models only from sources you trust.

Examples
--------
>>> import io
>>> from sklearn_constrained import ConstrainedRegressor
>>> X, y = [[0.0], [1.0], [2.0], [3.0]], [0.0, 1.0, 2.0, 3.0]
>>> reg = ConstrainedRegressor(max_epochs=2, random_state=0).fit(X, y)
>>> buffer = io.BytesIO()
>>> reg.save(buffer)
>>> _ = buffer.seek(0)
>>> bool((ConstrainedRegressor.load(buffer).predict(X) == reg.predict(X)).all())
True
"""

import importlib
import json
import numbers
import pickle

import numpy as np
import torch

from ._checkpoint import map_tensors, qualname

__all__ = ["FORMAT", "read_estimator", "save_estimator"]

#: the format tag written into every file
FORMAT = "sklearn-constrained/2"

#: fitted attributes stored as JSON
_FITTED_JSON = (
    "n_features_in_",
    "feasible_",
    "constraint_values_",
    "n_iter_",
    "history_",
    "best_epoch_",
    "selection_reason_",
    "validation_constraint_values_",
    "y_mean_",
    "y_scale_",
    "y_ndim_",
    "n_outputs_",
    "input_shape_",
)
#: fitted attributes stored as arrays (values and dtype)
_FITTED_ARRAYS = ("classes_", "group_labels_", "feature_names_in_")


def _allowed_module(module):
    return (
        module == "sklearn_constrained"
        or module.startswith("sklearn_constrained.")
        or module == "torch.optim"
        or module.startswith("torch.optim.")
    )


def _resolve(name, trusted, kind):
    """The class called ``name`` (``"module:Qual.Name"``), checked before it is returned.

    It must be a subclass of ``kind`` and come from sklearn_constrained,
    torch.optim or ``trusted``.
    """
    if not isinstance(name, str) or ":" not in name:
        raise ValueError(f"Malformed class name in the file: {name!r}.")
    trusted_names = {qualname(c): c for c in trusted}
    if name in trusted_names:
        cls = trusted_names[name]
    else:
        module, _, qual = name.partition(":")
        if not _allowed_module(module):
            raise ValueError(
                f"The file names the class {name!r}, which is not part of sklearn_constrained. "
                "If you trust the file, pass the class explicitly: load(path, trusted=[TheClass])."
            )
        parts = qual.split(".")
        if not all(p.isidentifier() and not p.startswith("_") for p in parts):
            raise ValueError(f"The file names {name!r}, which is not a public class.")
        cls = importlib.import_module(module)
        for part in parts:
            cls = getattr(cls, part, None)
    if not (isinstance(cls, type) and issubclass(cls, kind)):
        raise ValueError(f"The file names {name!r}, which is not a {kind.__name__} class.")
    return cls


def _encode_value(value, path):
    """JSON-able description of a parameter value."""
    from sklearn.base import BaseEstimator

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        items = [_encode_value(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"Cannot save `{path}`: dict keys must be strings.")
        return {"__dict__": {k: _encode_value(v, f"{path}[{k!r}]") for k, v in value.items()}}
    if isinstance(value, BaseEstimator):
        return {
            "__object__": qualname(value),
            "params": _encode_value(value.get_params(deep=False), f"{path}.params"),
        }
    if isinstance(value, type) and issubclass(value, (torch.nn.Module, torch.optim.Optimizer)):
        return {"__class__": qualname(value)}
    if isinstance(value, torch.nn.Module):
        return {"__module_instance__": qualname(value)}
    raise TypeError(
        f"Cannot save `{path}`={value!r}: only numbers, strings, lists, dicts, module and "
        "optimizer classes and sklearn_constrained objects are stored without pickle. "
        "Use pickle or joblib for this estimator (only with files you trust)."
    )


def _decode_value(value, trusted, module_override):
    from sklearn.base import BaseEstimator

    if isinstance(value, list):
        return [_decode_value(v, trusted, module_override) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tuple__" in value:
        return tuple(_decode_value(v, trusted, module_override) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode_value(v, trusted, module_override) for k, v in value["__dict__"].items()}
    if "__object__" in value:
        cls = _resolve(value["__object__"], trusted, BaseEstimator)
        return cls(**_decode_value(value["params"], trusted, module_override))
    if "__class__" in value:
        return _resolve_class(value["__class__"], trusted)
    if "__module_instance__" in value:
        if module_override is None:
            raise ValueError(
                "The estimator was fitted with a module instance of "
                f"{value['__module_instance__']}; "
                "its code is not in the file: pass `module=` (an instance or class of the same "
                "architecture) to load()."
            )
        return module_override
    raise ValueError(f"Unrecognised entry in the file: {value!r}")


def _resolve_class(name, trusted):
    try:
        return _resolve(name, trusted, torch.nn.Module)
    except ValueError:
        return _resolve(name, trusted, torch.optim.Optimizer)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def save_estimator(estimator, path, *, training_state=None):
    """Write a fitted estimator to ``path`` (a path or a binary file object).

    See the module docstring for the format; ``est.save(path)`` calls this
    with the estimator's training state (``None``: weights only).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        When the estimator is not fitted.
    TypeError
        When a parameter cannot be stored without pickle (a callable
        parameter selection, a ``RandomState``, ...).
    """
    from sklearn.utils.validation import check_is_fitted

    from ._version import __version__

    check_is_fitted(estimator)
    params = _encode_value(estimator.get_params(deep=False), "params")
    fitted = {}
    for name in _FITTED_JSON:
        if hasattr(estimator, name):
            fitted[name] = getattr(estimator, name)
    for name in _FITTED_ARRAYS:
        value = getattr(estimator, name, None)
        if value is not None:
            arr = np.asarray(value)
            fitted[name] = {
                "values": arr.tolist(),
                "dtype": arr.dtype.str if arr.dtype.kind != "O" else "O",
            }
    fitted["multipliers_"] = {k: np.asarray(v).tolist() for k, v in estimator.multipliers_.items()}
    meta = {
        "format": FORMAT,
        "versions": {"sklearn_constrained": __version__, "torch": torch.__version__},
        "estimator": qualname(estimator),
        "params": params,
        "fitted": fitted,
    }
    tensors = {"module": {k: v.detach().cpu() for k, v in estimator.module_.state_dict().items()}}
    if training_state is not None:
        tensors["training"] = map_tensors(training_state, lambda t: t.detach().cpu())
    torch.save({"meta": json.dumps(meta, default=_json_default), "tensors": tensors}, path)


def read_estimator(path, *, module=None, trusted=()):
    """Read an estimator written by :func:`save_estimator` (no pickle).

    Parameters
    ----------
    path : str, path-like or binary file object
    module : torch.nn.Module instance or class, default=None
        Required when the estimator was fitted with a module instance.
    trusted : sequence of classes, default=()
        Classes from outside sklearn_constrained the file may name.

    Returns
    -------
    estimator : BaseConstrainedEstimator
        With its parameters and fitted attributes (not yet its module).
    module_state : dict
        The module's ``state_dict``.
    training_state : dict or None
        What a ``warm_start`` fit needs to resume.
    """
    from ._estimator import BaseConstrainedEstimator

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ValueError(
            f"{path!r} is not a sklearn-constrained file readable without pickle ({exc}). "
            "Files written by pickle/joblib must be read with them, and only when trusted."
        ) from None
    meta = payload.get("meta") if isinstance(payload, dict) else None
    try:
        meta = json.loads(meta) if isinstance(meta, str) else None
    except json.JSONDecodeError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(
            f"{path!r} is not a sklearn-constrained file (format {found!r}, expected {FORMAT!r})."
        )
    cls = _resolve(meta["estimator"], trusted, BaseConstrainedEstimator)
    params = _decode_value(meta["params"], trusted, module)
    if module is not None:
        params["module"] = module
    est = cls(**params)
    fitted = dict(meta["fitted"])
    for name in _FITTED_ARRAYS:
        if name in fitted:
            spec = fitted.pop(name)
            dtype = object if spec["dtype"] == "O" else np.dtype(spec["dtype"])
            setattr(est, name, np.asarray(spec["values"], dtype=dtype))
    if not hasattr(est, "group_labels_"):
        est.group_labels_ = None
    for name in ("y_mean_", "y_scale_"):
        if name in fitted:
            fitted[name] = np.asarray(fitted[name], dtype=np.float64)
    fitted["multipliers_"] = {
        k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in fitted["multipliers_"].items()
    }
    if "input_shape_" in fitted:
        fitted["input_shape_"] = tuple(int(d) for d in fitted["input_shape_"])
    for name, value in fitted.items():
        setattr(est, name, value)
    tensors = payload.get("tensors", {})
    return est, tensors["module"], tensors.get("training")
