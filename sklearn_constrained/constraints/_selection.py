"""Selecting the parameters a weight constraint applies to."""

from fnmatch import fnmatchcase

__all__ = ["select_parameters"]


def _describe(params):
    return repr(params) if not callable(params) else getattr(params, "__name__", repr(params))


def select_parameters(module, params, *, constraint_name="constraint"):
    """Return the ``(name, parameter)`` pairs of ``module`` chosen by ``params``.

    Parameters
    ----------
    module : torch.nn.Module
        The module whose parameters are searched.
    params : None, str, sequence of str, or callable
        ``None`` selects every weight matrix or kernel (parameters with two or
        more dimensions), which excludes biases and normalisation scales. A
        string is a shell-style pattern (``fnmatch``) matched against the
        parameter's qualified name, e.g. ``"*.weight"`` or ``"head.*"``; a
        sequence selects the union of its patterns. A callable receives
        ``(name, parameter)`` and returns a bool.
    constraint_name : str
        Used in the error message.

    Returns
    -------
    list of (str, torch.nn.Parameter)
        In the module's registration order, each parameter at most once.

    Raises
    ------
    ValueError
        When nothing matches; the message lists the available names.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import select_parameters
    >>> module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> [name for name, _ in select_parameters(module, None)]  # every weight matrix
    ['0.weight', '2.weight']
    >>> [name for name, _ in select_parameters(module, "2.*")]
    ['2.weight', '2.bias']
    """
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    if params is None:
        chosen = [(n, p) for n, p in named if p.dim() >= 2]
    elif callable(params):
        chosen = [(n, p) for n, p in named if params(n, p)]
    else:
        try:
            patterns = [params] if isinstance(params, str) else list(params)
        except TypeError:
            patterns = [params]
        if not all(isinstance(pat, str) for pat in patterns):
            raise TypeError(
                f"Constraint {constraint_name!r}: `params` must be None, a name "
                f"pattern, a list of patterns or a callable; got {params!r}."
            )
        chosen = [(n, p) for n, p in named if any(fnmatchcase(n, pat) for pat in patterns)]
    if not chosen:
        available = ", ".join(n for n, _ in named) or "(none)"
        raise ValueError(
            f"Constraint {constraint_name!r}: params={_describe(params)} matches no "
            f"trainable parameter of the module. Available names: {available}. "
            "Pass a pattern such as '*.weight' or a list of exact names."
        )
    return chosen
