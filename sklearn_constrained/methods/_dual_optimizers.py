"""Dual updates as ``torch.optim`` optimizers.

A dual optimizer updates multiplier tensors (see
:class:`~sklearn_constrained.methods.Multiplier`) whose ``.grad`` holds the
gradient of the Lagrangian in the multipliers, i.e. the constraints'
(strict) violations: ascent, so ``torch.optim.SGD(..., maximize=True)`` is
projected gradient ascent once the multipliers project themselves. The
methods set ``.grad``, call ``step()`` and project, once per primal step or
per epoch. Being optimizers, they have ``state_dict()`` and
``load_state_dict()`` for free.
"""

import torch

__all__ = ["NuPI", "make_dual_optimizer", "set_dual_gradients"]


class NuPI(torch.optim.Optimizer):
    r"""nuPI: a proportional-integral controller on the multipliers (Sohrabi et al. 2024).

    With :math:`e_t` the dual gradient (a constraint's violation) and
    :math:`\xi_t = \nu \xi_{t-1} + (1 - \nu) e_t` its exponential average,

    .. math:: \lambda_{t+1} = \lambda_t + \eta \left(e_t + k_p (\xi_t - \xi_{t-1})\right)

    (ascent; the multipliers project themselves afterwards). ``nu=0`` is the
    PI controller; ``kp=0`` is plain gradient ascent. The first step is plain
    gradient ascent and stores :math:`\xi_0 = e_0`, so the next proportional
    term is :math:`k_p (\xi_1 - e_0)`. Ramirez & Lacoste-Julien show that
    this optimistic update equals the augmented Lagrangian's with penalty
    :math:`k_p` (seed 004, App. D).

    Parameters
    ----------
    params : iterable of torch.Tensor
        The multiplier tensors.
    lr : float
        The dual step size :math:`\eta > 0`.
    kp : float, default=1.0
        The proportional gain :math:`k_p \ge 0`.
    nu : float, default=0.0
        The averaging factor :math:`\nu \in [0, 1)`.

    Examples
    --------
    >>> import torch
    >>> lam = torch.zeros(1)
    >>> opt = NuPI([lam], lr=0.5, kp=2.0)
    >>> lam.grad = torch.tensor([1.0]); opt.step(); lam
    tensor([0.5000])
    >>> lam.grad = torch.tensor([0.0]); opt.step(); lam   # 0.5 + 0.5 * (0 + 2 * (0 - 1))
    tensor([-0.5000])
    """

    def __init__(self, params, lr, kp=1.0, nu=0.0):
        if not lr > 0:
            raise ValueError(f"NuPI: `lr` must be > 0; got {lr!r}.")
        if not kp >= 0:
            raise ValueError(f"NuPI: `kp` must be >= 0; got {kp!r}.")
        if not 0.0 <= nu < 1.0:
            raise ValueError(f"NuPI: `nu` must lie in [0, 1); got {nu!r}.")
        super().__init__(params, {"lr": float(lr), "kp": float(kp), "nu": float(nu)})

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every multiplier that has a ``.grad``."""
        for group in self.param_groups:
            lr, kp, nu = group["lr"], group["kp"], group["nu"]
            for p in group["params"]:
                e = p.grad
                if e is None:
                    continue
                state = self.state[p]
                xi_prev = state.get("xi")
                if xi_prev is None:
                    state["xi"] = e.detach().clone()
                    p.add_(e, alpha=lr)
                    continue
                xi = xi_prev * nu + e * (1.0 - nu) if nu else e
                p.add_(e + kp * (xi - xi_prev), alpha=lr)
                xi_prev.copy_(xi)


def make_dual_optimizer(name, params, lr, *, kp=1.0, nu=0.0):
    """The dual optimizer called ``name`` over the multiplier tensors ``params``.

    Parameters
    ----------
    name : {"sgd", "pi", "nupi"} or torch.optim.Optimizer class
        ``"sgd"``: projected gradient ascent (``torch.optim.SGD`` with
        ``maximize=True``); ``"pi"``: :class:`NuPI` with ``nu=0``;
        ``"nupi"``: :class:`NuPI`; a class is built as ``cls(params, lr=lr)``
        and must ascend its parameters' ``.grad``.
    params : list of torch.Tensor
    lr, kp, nu : float
        See :class:`NuPI`.

    Returns
    -------
    torch.optim.Optimizer

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.methods import make_dual_optimizer
    >>> lam = torch.zeros(2)
    >>> opt = make_dual_optimizer("sgd", [lam], lr=0.5)
    >>> lam.grad = torch.tensor([1.0, -1.0])  # the violations
    >>> opt.step(); lam  # ascent: the multipliers project themselves afterwards
    tensor([ 0.5000, -0.5000])
    >>> type(make_dual_optimizer("pi", [lam], lr=0.5, kp=2.0)).__name__
    'NuPI'
    """
    if isinstance(name, type):
        if not issubclass(name, torch.optim.Optimizer):
            raise TypeError(
                f"`dual_optimizer` must be 'sgd', 'pi', 'nupi' or a torch.optim.Optimizer "
                f"class; got {name!r}."
            )
        return name(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, maximize=True, foreach=False)
    return NuPI(params, lr=lr, kp=kp, nu=nu if name == "nupi" else 0.0)


def set_dual_gradients(multipliers, gradients):
    """Set each multiplier tensor's ``.grad`` to its dual gradient (detached).

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.methods import Multiplier, make_dual_optimizer, set_dual_gradients
    >>> multipliers = {"l2": Multiplier(torch.zeros(1), "inequality")}
    >>> set_dual_gradients(multipliers, {"l2": torch.tensor([-2.0])})
    >>> opt = make_dual_optimizer("sgd", [multipliers["l2"].value], lr=0.5)
    >>> opt.step(); multipliers["l2"].project_().value  # -1 projected onto [0, inf)
    tensor([0.])
    """
    for name, grad in gradients.items():
        multipliers[name].value.grad = grad.detach().to(multipliers[name].value.dtype)
