"""Constrained-training methods: ``auto``, ``fp``, ``gda``, ``sal``, ``sadmm``.

Each is a small object holding its hyperparameters; estimators accept the
object or its short name and expose its parameters as ``method__<param>``.
The methods are built from parts: multipliers that project themselves
(:class:`Multiplier`), formulations (:class:`Lagrangian`,
:class:`AugmentedLagrangian`, :class:`ExactPenalty`) and dual updates that are
``torch.optim`` optimizers (:class:`NuPI`, or ``torch.optim.SGD`` with
``maximize=True``).
"""

from sklearn.base import clone

from ._auto import Auto
from ._base import ConstrainedMethod
from ._dual_optimizers import NuPI, make_dual_optimizer, set_dual_gradients
from ._fixed_penalty import FixedPenalty
from ._formulations import (
    AugmentedLagrangian,
    ExactPenalty,
    Formulation,
    Lagrangian,
    convex_combination,
    objective_share,
    penalized_loss,
)
from ._gda import GDA
from ._multipliers import Multiplier, Multipliers
from ._sadmm import SADMM
from ._sal import SAL

#: short names accepted by ``method=``
METHODS = {"auto": Auto, "fp": FixedPenalty, "gda": GDA, "sal": SAL, "sadmm": SADMM}

__all__ = [
    "GDA",
    "Auto",
    "METHODS",
    "SADMM",
    "SAL",
    "AugmentedLagrangian",
    "ConstrainedMethod",
    "ExactPenalty",
    "FixedPenalty",
    "Formulation",
    "Lagrangian",
    "Multiplier",
    "Multipliers",
    "NuPI",
    "convex_combination",
    "make_dual_optimizer",
    "objective_share",
    "penalized_loss",
    "resolve_method",
    "set_dual_gradients",
]


def resolve_method(method, *, param_name="method"):
    """Return a fresh method object for a short name, a class or a method instance.

    Parameters
    ----------
    method : str, ConstrainedMethod class or instance
        A short name from :data:`METHODS` (``"auto"``, ``"gda"``, ...).
    param_name : str, default="method"
        The parameter named in the error message.

    Returns
    -------
    ConstrainedMethod
        A clone: the object a user passed is never modified.

    Raises
    ------
    ValueError
        For an unknown name, listing the choices.

    Examples
    --------
    >>> from sklearn_constrained.methods import resolve_method
    >>> resolve_method("gda")
    GDA()
    """
    if isinstance(method, ConstrainedMethod):
        return clone(method)
    if isinstance(method, type) and issubclass(method, ConstrainedMethod):
        return method()
    if isinstance(method, str) and method.lower() in METHODS:
        return METHODS[method.lower()]()
    choices = ", ".join(repr(k) for k in METHODS)
    raise ValueError(
        f"Unknown `{param_name}`={method!r}. Choose one of {choices}, or pass a "
        "method object from sklearn_constrained.methods (e.g. GDA(dual_lr=0.1))."
    )
