"""Validation of estimator parameters and inputs, with messages that say what to do."""

import numbers

import numpy as np
import torch

__all__ = ["check_constraints", "resolve_device", "resolve_optimizer"]

_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "lbfgs": torch.optim.LBFGS,
}
_DEFAULT_LR = {"lbfgs": 1.0}


def resolve_device(device):
    """``"auto"`` -> ``"cuda"`` when available else ``"cpu"``; validates others."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"Unknown `device`={device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"`device`={device!r} was requested but CUDA is not available; "
            "use device='auto' to fall back to the CPU."
        )
    return dev


def resolve_optimizer(optimizer, lr):
    """Return ``(optimizer_class, lr, extra_kwargs, full_batch)``."""
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in _OPTIMIZERS:
            raise ValueError(
                f"Unknown `optimizer`={optimizer!r}; choose one of "
                f"{', '.join(map(repr, _OPTIMIZERS))} or pass a torch.optim.Optimizer class."
            )
        cls = _OPTIMIZERS[key]
    elif isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
        cls, key = optimizer, optimizer.__name__.lower()
    else:
        raise ValueError(
            f"`optimizer` must be a name ('adam', 'sgd', 'lbfgs') or a torch.optim.Optimizer "
            f"class; got {optimizer!r}."
        )
    # L-BFGS and its subclasses (e.g. one with another max_iter) train full batch
    full_batch = issubclass(cls, torch.optim.LBFGS)
    if lr is None:
        lr = _DEFAULT_LR.get("lbfgs" if full_batch else key, 0.01)
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"`lr` must be a finite number > 0; got {lr!r}.")
    extra = {}
    if full_batch:
        extra = {"line_search_fn": "strong_wolfe"}
    return cls, float(lr), extra, full_batch


def check_constraints(constraints):
    """Validate the ``constraints`` parameter and return a plain dict."""
    from ..constraints import Constraint

    if constraints is None:
        return {}
    if not isinstance(constraints, dict):
        raise TypeError(
            "`constraints` must be None or a dict {name: Constraint}, e.g. "
            "{'l2': L2Norm(bound=4.0)}; got "
            f"{type(constraints).__name__}."
        )
    for name, c in constraints.items():
        if not isinstance(name, str) or not name.isidentifier() or "__" in name:
            raise ValueError(
                f"Constraint name {name!r} is not usable: names must be identifiers without "
                "a double underscore, so that `constraints__<name>__<param>` works in "
                "set_params and GridSearchCV (e.g. 'l2', 'dp_sex')."
            )
        if not isinstance(c, Constraint):
            raise TypeError(
                f"`constraints[{name!r}]` must be a Constraint from "
                f"sklearn_constrained.constraints; got {c!r}."
            )
        c.check_params()
    return dict(constraints)
