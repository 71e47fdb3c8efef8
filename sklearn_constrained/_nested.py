"""Nested parameters of the estimators: ``constraints__``, ``method__`` and ``module__``.

``get_params(deep=True)`` lists every constraint's level as
``constraints__<name>__<param>``, the method's parameters as
``method__<param>`` and the module's constructor arguments as
``module__<arg>`` (skorch's convention), so that ``set_params``, ``clone``
and ``GridSearchCV`` reach them. Setting a nested parameter replaces the
constraint (or method) by an updated copy: the objects a user passed are
never mutated.
"""

from sklearn.base import clone

from .methods import METHODS, resolve_method

__all__ = ["MODULE_PREFIX", "module_kwargs", "nested_params", "set_nested_params"]

MODULE_PREFIX = "module__"


def module_kwargs(estimator):
    """The ``module__<arg>`` parameters of an estimator, without the prefix."""
    return {
        k[len(MODULE_PREFIX) :]: v
        for k, v in vars(estimator).items()
        if k.startswith(MODULE_PREFIX)
    }


def nested_params(estimator, deep=True):
    """The ``module__``, ``method__`` and ``constraints__`` entries of ``get_params``."""
    params = {f"{MODULE_PREFIX}{k}": v for k, v in module_kwargs(estimator).items()}
    if not deep:
        return params
    method = estimator.method
    if isinstance(method, str) and method.lower() in METHODS:
        method = METHODS[method.lower()]()
    if hasattr(method, "get_params") and not isinstance(method, type):
        for key, value in method.get_params().items():
            params[f"method__{key}"] = value
    if isinstance(estimator.constraints, dict):
        for name, c in estimator.constraints.items():
            params[f"constraints__{name}"] = c
            if hasattr(c, "get_params"):
                for key, value in c.get_params().items():
                    params[f"constraints__{name}__{key}"] = value
    return params


def _set_constraints(estimator, nested):
    if not isinstance(estimator.constraints, dict):
        raise ValueError(
            f"Cannot set {sorted('constraints__' + k for k in nested)}: `constraints` is None; "
            "pass constraints={'name': Constraint(...)} first."
        )
    new = dict(estimator.constraints)
    updates = {}
    for key, value in nested.items():
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
    estimator.constraints = new


def _set_method(estimator, nested):
    method = resolve_method(estimator.method)
    valid = method.get_params()
    for sub in nested:
        if sub not in valid:
            raise ValueError(
                f"Invalid parameter 'method__{sub}' for {type(method).__name__}; "
                f"valid parameters: {sorted(valid)}."
            )
    estimator.method = method.set_params(**nested)


def set_nested_params(estimator, params):
    """Set the nested entries of ``params`` on ``estimator``; return the plain ones."""
    plain, constraints, method = {}, {}, {}
    for key, value in params.items():
        if key.startswith("constraints__"):
            constraints[key[len("constraints__") :]] = value
        elif key.startswith("method__"):
            method[key[len("method__") :]] = value
        elif key.startswith(MODULE_PREFIX):
            setattr(estimator, key, value)
        else:
            plain[key] = value
    return plain, constraints, method


def apply_nested(estimator, constraints, method):
    """Apply the ``constraints__`` and ``method__`` updates of :func:`set_nested_params`."""
    if constraints:
        _set_constraints(estimator, constraints)
    if method:
        _set_method(estimator, method)
