"""Building the pieces of a fit: the module, the skorch net and its callbacks."""

import copy
import inspect

import torch
from sklearn.base import is_classifier

from ._fit_data import to_tensors
from ._training import (
    BestIterate,
    ConstrainedNet,
    DivergenceGuard,
    IterateCheck,
    Progress,
    StopWhenDone,
    TensorLoader,
)
from .models import MLP

__all__ = ["build_module", "check_module_output", "make_callbacks", "make_net"]


def build_module(module, n_features, n_outputs, input_shape, kwargs):
    """The module of a fit, sized from the data where it can be.

    ``None`` builds an :class:`~sklearn_constrained.models.MLP`; a class with
    a ``from_data`` classmethod (every class of :mod:`sklearn_constrained.models`)
    is built by it; another ``nn.Module`` class whose constructor takes
    ``n_features`` and/or ``n_outputs`` gets them from the data; ``kwargs``
    (the ``module__<arg>`` parameters) give the other arguments. An instance
    is copied, never modified.
    """
    kwargs = dict(kwargs)
    try:
        if module is None:
            return MLP(n_features, n_outputs, **kwargs)
        if isinstance(module, type) and issubclass(module, torch.nn.Module):
            if callable(getattr(module, "from_data", None)):
                return module.from_data(n_features, n_outputs, input_shape=input_shape, **kwargs)
            accepted = inspect.signature(module).parameters
            sizes = {"n_features": n_features, "n_outputs": n_outputs}
            for name, value in sizes.items():
                if name in accepted and name not in kwargs:
                    kwargs[name] = value
            return module(**kwargs)
    except (TypeError, RuntimeError) as exc:
        # a wrong keyword (TypeError) or a value torch rejects (RuntimeError,
        # e.g. a negative layer size): name the parameter, not torch's internals
        name = "MLP" if module is None else module.__name__
        error = TypeError if isinstance(exc, TypeError) else ValueError
        shown = {f"module__{k}": v for k, v in kwargs.items()}
        raise error(
            f"`module` {name} could not be built with {shown}: {exc}. Pass as module__<arg> "
            "the keyword arguments its constructor takes, with valid values (the input and "
            "output sizes of sklearn_constrained.models, and the `n_features`/`n_outputs` "
            "arguments of any module class, are set from the data)."
        ) from None
    if isinstance(module, torch.nn.Module):
        if kwargs:
            raise ValueError(
                f"`module__` parameters ({sorted(kwargs)}) apply only when `module` is a class; "
                "got a module instance."
            )
        return copy.deepcopy(module)
    raise TypeError(f"`module` must be None, a torch.nn.Module class or instance; got {module!r}.")


def check_module_output(estimator, module, X, n_outputs):
    """Run the module on two samples and check that it returns ``(2, n_outputs)``.

    A mismatch is a ``ValueError`` naming ``module``, not a torch error deep
    in the training loop (or, worse, silent broadcasting).
    """
    from ._training._data import take_rows

    params = list(module.parameters())
    dtype = params[0].dtype if params else torch.float32
    device = params[0].device if params else torch.device("cpu")
    sample = take_rows(X, slice(0, 2), device, dtype)
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
    expected = (sample.shape[0], int(n_outputs))
    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    if got != expected:
        what = "one logit per class" if is_classifier(estimator) else "one output per target"
        raise ValueError(
            f"`module` ({type(module).__name__}) returns {got} for {sample.shape[0]} samples; "
            f"{type(estimator).__name__} needs {what}: {expected}. Size its last layer to "
            f"{n_outputs} outputs, or pass a class from sklearn_constrained.models."
        )


def make_net(
    estimator,
    module,
    *,
    criterion,
    opt_cls,
    lr,
    opt_extra,
    batch_size,
    device,
    generator=None,
    callbacks=(),
    n_groups=0,
    target_scale=1.0,
    rank=0,
    world=1,
    extras=None,
):
    """A :class:`ConstrainedNet` for ``module`` with the estimator's settings.

    ``extras``: the per-sample group codes and weights of the training data,
    sliced beside the target by the training iterator.
    """
    return ConstrainedNet(
        module=module,
        criterion=criterion,
        optimizer=opt_cls,
        lr=lr,
        max_epochs=estimator.max_epochs,
        batch_size=batch_size,
        device=device,
        train_split=None,
        iterator_train=TensorLoader,
        iterator_train__shuffle=True,
        iterator_train__generator=generator,
        iterator_train__device=device,
        iterator_train__rank=rank,
        iterator_train__world_size=world,
        iterator_train__extras=extras,
        iterator_valid=TensorLoader,
        iterator_valid__device=device,
        callbacks=list(callbacks),
        n_groups=n_groups,
        target_scale=target_scale,
        distributed=world > 1,
        classifier=is_classifier(estimator),
        **{f"optimizer__{k}": v for k, v in opt_extra.items()},
    )


def make_callbacks(
    constraints,
    tol,
    parts,
    train_tensors,
    dtype,
    *,
    max_epochs,
    verbose=0,
    user_callbacks=None,
    n_iter_no_change=None,
    objective_tol=1e-4,
):
    """The callbacks of a fit: the library's, in their order, around copies of the user's.

    The order is the one :mod:`._training._callbacks` describes. The iterate
    is checked (and the best one picked) on the validation part, else, when
    a constraint depends on the data, on the dual part when there is one,
    else on the training data.

    Parameters
    ----------
    constraints : dict of str to Constraint
    tol : float
        The feasibility tolerance.
    parts : tuple of FitData
        ``(train, valid, dual)``; ``valid`` and ``dual`` may be ``None``.
    train_tensors : tuple
        ``(X, y)``: the training part as :func:`~._fit_data.to_tensors` gives it.
    dtype : torch.dtype
        The module's dtype.
    max_epochs, verbose, n_iter_no_change, objective_tol
        The estimator's parameters.
    user_callbacks : list or tuple, default=None
        The user's callbacks, deep-copied.

    Returns
    -------
    callbacks : list of (str, Callback)
    guard : DivergenceGuard
    best : BestIterate
    """
    train, valid, dual = parts
    data_dependent = any(c.requires_data for c in constraints.values())
    guard = DivergenceGuard()
    best = BestIterate(constraints, tol, prefer_last=valid is None and not data_dependent)
    callbacks = [("constrained_guard", guard)]
    held = train if dual is None else dual
    check = valid if valid is not None else (held if data_dependent else None)
    if check is not None:
        X_c, y_c = train_tensors if check is train else to_tensors(check, dtype)
        data = "validation" if check is valid else ("dual" if check is dual else "training")
        check_cb = IterateCheck(X_c, y_c, constraints, tol, data=data, max_epochs=max_epochs)
        callbacks.append(("constrained_check", check_cb))
    callbacks.append(("constrained_best", best))
    if verbose:
        progress = Progress(constraints, tol, verbose=int(verbose), max_epochs=max_epochs)
        callbacks.append(("constrained_progress", progress))
    callbacks += [copy.deepcopy(cb) for cb in user_callbacks or ()]
    stop = StopWhenDone(constraints, tol, n_iter_no_change, objective_tol)
    callbacks.append(("constrained_stop", stop))
    return callbacks, guard, best
