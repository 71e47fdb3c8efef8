"""Constraints of a plain PyTorch problem, for :func:`minimize`.

:class:`Inequality` and :class:`Equality` wrap user functions of the
variable ``x``. They are :class:`~sklearn_constrained.constraints.Constraint`
objects and bind into the same
:class:`~sklearn_constrained.constraints.ConstraintEvaluator` /
:class:`~sklearn_constrained.constraints.ConstraintState` protocol as the
estimators' constraints, so the very same method objects run on them.
"""

import numpy as np
import torch

from ..constraints._base import Constraint, ConstraintEvaluator, ConstraintState

__all__ = ["Equality", "FunctionConstraint", "Inequality"]


def _check_level(owner, name, value, *, allow_none=False):
    cls = type(owner).__name__
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"{cls}: `{name}` must be a number or an array of numbers; got None.")
    if isinstance(value, torch.Tensor):
        arr = value.detach().cpu().double().numpy()
    else:
        if isinstance(value, bool):
            raise TypeError(f"{cls}: `{name}` must be a real number or an array; got {value!r}.")
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{cls}: `{name}` must be a real number or an array of them; got {value!r}."
            ) from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{cls}: `{name}` must be finite; got {value!r}.")
    return arr


def _check_callable(owner, name, fun, *, allow_none=False):
    if fun is None and allow_none:
        return
    if not callable(fun):
        raise TypeError(
            f"{type(owner).__name__}: `{name}` must be a callable taking the variable x "
            f"(a torch.Tensor) and returning a tensor; got {fun!r}."
        )


class FunctionConstraint(Constraint):
    """Base of :class:`Inequality` and :class:`Equality`: a function of the variable."""

    requires_data = False

    def levels(self):
        """The levels as floats (scalars) or arrays."""
        out = {}
        for name in self.level_names:
            value = getattr(self, name, None)
            if value is not None:
                arr = _check_level(self, name, value)
                out[name] = float(arr) if arr.ndim == 0 else arr
        return out

    def bind(self, x, name):
        """Bind to the variable ``x`` (a tensor that requires gradients)."""
        self.check_params()
        return FunctionEvaluator(name, self, x)


class Inequality(FunctionConstraint):
    r"""The constraint ``fun(x) <= upper`` (and optionally ``fun(x) >= lower``).

    Parameters
    ----------
    fun : callable
        ``fun(x: torch.Tensor) -> tensor``, a scalar or a vector (one
        multiplier per entry). Its value drives the multipliers.
    upper : float or array-like, default=0.0
        The level :math:`\epsilon` of ``fun(x) <= upper`` (broadcast against
        the value); ``None`` when only ``lower`` is given.
    proxy : callable, default=None
        A differentiable surrogate of ``fun`` that supplies the gradients
        while ``fun`` (possibly non-differentiable) drives the multipliers:
        the proxy constraints of Cotter et al. (App. B.3 of Ramirez et al.).
        ``None`` differentiates ``fun`` itself.
    lower : float or array-like, default=None
        An optional lower level: ``fun(x) >= lower``. With both levels the
        strict violation has one entry per side (upper first).
    prox : callable, default=None
        ``prox(v) -> tensor``: the Euclidean projection of ``v`` (shaped like
        ``x``) onto ``{x : lower <= fun(x) <= upper}``; the closed-form step
        S-ADMM needs (see :mod:`sklearn_constrained.optim`'s ``project_*``
        functions). Other methods ignore it.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.optim import Inequality
    >>> c = Inequality(lambda x: x.sum(), upper=1.0)
    >>> s = c.bind(torch.tensor([0.5, 1.0]), "c0").evaluate()
    >>> float(s.value), float(s.strict_violation)
    (1.5, 0.5)
    """

    kind = "inequality"
    level_names = ("upper", "lower")

    def __init__(self, fun, upper=0.0, proxy=None, *, lower=None, prox=None):
        self.fun = fun
        self.upper = upper
        self.proxy = proxy
        self.lower = lower
        self.prox = prox

    def check_params(self):
        """Validate the functions and the levels."""
        _check_callable(self, "fun", self.fun)
        _check_callable(self, "proxy", self.proxy, allow_none=True)
        _check_callable(self, "prox", self.prox, allow_none=True)
        up = _check_level(self, "upper", self.upper, allow_none=True)
        lo = _check_level(self, "lower", self.lower, allow_none=True)
        if up is None and lo is None:
            raise ValueError("Inequality: give `upper` (fun(x) <= upper), `lower`, or both.")
        if up is not None and lo is not None and np.any(lo > up):
            raise ValueError(f"Inequality: `lower`={self.lower!r} exceeds `upper`={self.upper!r}.")
        return self


class Equality(FunctionConstraint):
    r"""The constraint ``fun(x) == target``.

    Parameters
    ----------
    fun : callable
        ``fun(x: torch.Tensor) -> tensor``, a scalar or a vector.
    target : float or array-like, default=0.0
        The level :math:`\epsilon_h`.
    proxy : callable, default=None
        A differentiable surrogate of ``fun`` for the gradients (see
        :class:`Inequality`).
    prox : callable, default=None
        The projection onto ``{x : fun(x) == target}`` for S-ADMM.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.optim import Equality
    >>> s = Equality(lambda x: x.sum(), target=1.0).bind(torch.ones(3), "c0").evaluate()
    >>> float(s.strict_violation)
    2.0
    """

    kind = "equality"
    level_names = ("target",)

    def __init__(self, fun, target=0.0, proxy=None, *, prox=None):
        self.fun = fun
        self.target = target
        self.proxy = proxy
        self.prox = prox

    def check_params(self):
        """Validate the functions and the level."""
        _check_callable(self, "fun", self.fun)
        _check_callable(self, "proxy", self.proxy, allow_none=True)
        _check_callable(self, "prox", self.prox, allow_none=True)
        _check_level(self, "target", self.target)
        return self


def _as_level(arr, x):
    """A float (a scalar level: no tensor op needed) or a tensor on x's device."""
    if arr is None:
        return None
    if arr.ndim == 0:
        return float(arr)
    return torch.as_tensor(arr, dtype=x.dtype, device=x.device)


class FunctionEvaluator(ConstraintEvaluator):
    """An :class:`Inequality`/:class:`Equality` bound to the variable ``x``."""

    def __init__(self, name, constraint, x):
        super().__init__(name, constraint)
        self._x = x
        self._fun = constraint.fun
        self._proxy = constraint.proxy
        self._prox = constraint.prox
        if constraint.kind == "equality":
            self._upper = _as_level(_check_level(constraint, "target", constraint.target), x)
            self._lower = None
        else:
            up = _check_level(constraint, "upper", constraint.upper, allow_none=True)
            lo = _check_level(constraint, "lower", constraint.lower, allow_none=True)
            self._upper, self._lower = _as_level(up, x), _as_level(lo, x)

    @property
    def parameters(self):
        """The variable."""
        return [self._x]

    def _call(self, fun):
        out = fun(self._x)
        if not isinstance(out, torch.Tensor):
            out = torch.as_tensor(out, dtype=self._x.dtype, device=self._x.device)
        return out

    def _signed(self, v):
        up, lo = self._upper, self._lower
        if lo is None:
            return v - up
        if up is None:
            return lo - v
        return torch.cat([(v - up).reshape(-1), (lo - v).reshape(-1)])

    def evaluate(self, batch=None):
        """The state at the current ``x``."""
        value = self._call(self._fun)
        strict = self._signed(value)
        smooth = strict if self._proxy is None else self._signed(self._call(self._proxy))
        return ConstraintState(value, smooth, strict)

    def strict_function(self):
        """``x -> strict violation`` (differentiable where ``fun`` is), for the KKT test."""
        return lambda x: self._signed_of(self._fun(x))

    def _signed_of(self, v):
        return self._signed(v if isinstance(v, torch.Tensor) else torch.as_tensor(v))

    @property
    def has_projection(self):
        """Whether a ``prox`` was given."""
        return self._prox is not None

    def project_(self, tensors):
        """Apply ``prox`` to the variable's copy in place."""
        out = self._prox(tensors[0])
        if out is not None and out is not tensors[0]:
            tensors[0].copy_(out)
