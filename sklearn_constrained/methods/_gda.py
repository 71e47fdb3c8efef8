"""Gradient descent-ascent on the (augmented) Lagrangian."""

from numbers import Real

import torch

from ._base import ConstrainedMethod

__all__ = ["GDA"]

_DUAL_OPTIMIZERS = ("sgd", "pi", "nupi")
_ORDERS = ("alternating", "simultaneous")


class GDA(ConstrainedMethod):
    r"""Gradient descent-ascent on the Lagrangian (Ramirez et al., eqs. 8-10).

    Every primal step first moves the multipliers along the constraint
    defect measured on the current batch, then takes the primal step on
    :math:`f + \lambda^\top g` with the updated multipliers (alternating
    updates, the paper's default; ``order="simultaneous"`` uses the old
    multipliers instead). Inequality multipliers are projected onto
    :math:`\lambda \ge 0`. The multipliers live on the training device and are
    updated in place, with no host synchronisation.

    Parameters
    ----------
    dual_lr : float, default=0.01
        The dual step size :math:`\eta_{dual}`, ``> 0``.
    dual_optimizer : {"sgd", "pi", "nupi"}, default="sgd"
        ``"sgd"``: projected gradient ascent. ``"pi"``: a PI controller on the
        multipliers (Sohrabi et al. 2024), which damps the oscillations of
        plain GDA; ``"nupi"``: nuPI, its generalisation with an exponential
        average of the error controlled by ``nu``. Both start with a plain
        SGD step and then store that first error as :math:`\xi_0 = e_0`.
    kp : float, default=1.0
        Proportional gain of ``"pi"``/``"nupi"`` (ignored by ``"sgd"``):
        :math:`\lambda_{t+1} = [\lambda_t + \eta (e_t + k_p (\xi_t - \xi_{t-1}))]_+`
        with :math:`\xi_t = \nu \xi_{t-1} + (1-\nu) e_t`, where :math:`e_t`
        is the gradient of the (augmented) Lagrangian in the multiplier.
        ``kp=0`` is plain gradient ascent.
    nu : float, default=0.0
        nuPI's averaging factor in ``[0, 1)`` (used by ``"nupi"`` only;
        ``"pi"`` is nuPI with ``nu=0``).
    augmented : bool, default=False
        Add the quadratic term of the Augmented Lagrangian (eq. 27 of
        Ramirez et al.), which convexifies the primal problem. The dual step
        then ascends the augmented Lagrangian,
        :math:`\lambda \leftarrow [\lambda + \eta \max(g, -\lambda/c)]_+`;
        with ``dual_lr == penalty`` it is the classical method of multipliers.
    penalty : float, default=1.0
        The coefficient :math:`c \ge 0` of the augmented term (used only when
        ``augmented=True``; ``0`` gives the plain Lagrangian).
    order : {"alternating", "simultaneous"}, default="alternating"
        Whether the primal step sees the multipliers after (alternating) or
        before (simultaneous) this step's dual update.

    Examples
    --------
    >>> from sklearn_constrained.methods import GDA
    >>> GDA(dual_lr=0.3, dual_optimizer="nupi", kp=40.0)
    GDA(dual_lr=0.3, dual_optimizer='nupi', kp=40.0)
    """

    short_name = "gda"

    def __init__(
        self,
        dual_lr=0.01,
        dual_optimizer="sgd",
        kp=1.0,
        nu=0.0,
        augmented=False,
        penalty=1.0,
        order="alternating",
    ):
        self.dual_lr = dual_lr
        self.dual_optimizer = dual_optimizer
        self.kp = kp
        self.nu = nu
        self.augmented = augmented
        self.penalty = penalty
        self.order = order

    def _check_params(self):
        self._check_positive("dual_lr", self.dual_lr)
        self._check_positive("kp", self.kp, allow_zero=True)
        self._check_positive("penalty", self.penalty, allow_zero=True)
        if isinstance(self.nu, bool) or not isinstance(self.nu, Real) or not (0.0 <= self.nu < 1.0):
            raise ValueError(f"GDA: `nu` must lie in [0, 1); got {self.nu!r}.")
        if self.dual_optimizer not in _DUAL_OPTIMIZERS:
            raise ValueError(
                f"GDA: unknown `dual_optimizer`={self.dual_optimizer!r}; "
                f"choose one of {', '.join(map(repr, _DUAL_OPTIMIZERS))}."
            )
        if self.order not in _ORDERS:
            raise ValueError(
                f"GDA: unknown `order`={self.order!r}; choose 'alternating' or 'simultaneous'."
            )
        if not isinstance(self.augmented, bool):
            raise ValueError(f"GDA: `augmented` must be True or False; got {self.augmented!r}.")

    def _setup(self, bound_constraints, device=None, dtype=torch.float32):
        super()._setup(bound_constraints, device, dtype)
        self.xi_ = {}  # PI / nuPI: the (averaged) error of the previous step
        # Plain floats read once here, so the per-step code does no conversions.
        self._c = float(self.penalty) if self.augmented else 0.0
        self._lr = float(self.dual_lr)
        self._kp = float(self.kp)
        # "pi" is nuPI with nu = 0, whatever `nu` says.
        self._nu = float(self.nu) if self.dual_optimizer == "nupi" else 0.0
        self._ineq = {n: k == "inequality" for n, k in self.kinds_.items()}
        return self

    # -- dual -----------------------------------------------------------------
    def _dual_update(self, defects):
        self._ensure_multipliers(defects)
        c, lr, sgd = self._c, self._lr, self.dual_optimizer == "sgd"
        for name, d in defects.items():
            lam = self.multipliers_[name]
            ineq = self._ineq[name]
            # gradient of the (augmented) Lagrangian w.r.t. the multiplier:
            # g for the Lagrangian; max(g, -lambda/c) for the augmented one
            # (an equality's is h either way). With c = 0 the augmented
            # Lagrangian is the Lagrangian: no division by zero.
            grad = torch.maximum(d, lam / -c) if (ineq and c > 0) else d
            if sgd:
                lam.add_(grad, alpha=lr)
            else:
                xi_prev = self.xi_.get(name)
                if xi_prev is None:
                    # First step: plain gradient ascent (xi_{-1} = e_0, so the
                    # proportional term vanishes), and the stored error is this
                    # first error, xi_0 = e_0 -- not zero -- so the next
                    # proportional term is kp * (xi_1 - e_0).
                    self.xi_[name] = grad.detach().clone()
                    lam.add_(grad, alpha=lr)
                else:
                    nu = self._nu
                    xi = xi_prev * nu + grad * (1.0 - nu) if nu else grad
                    lam.add_(grad + self._kp * (xi - xi_prev), alpha=lr)
                    xi_prev.copy_(xi)
            if ineq:
                lam.clamp_(min=0)

    # -- primal ---------------------------------------------------------------
    def _lagrangian_terms(self, evals):
        c = self._c
        total = None
        for name, e in evals.items():
            lam, p = self.multipliers_[name], e.proxy
            if c > 0 and self._ineq[name]:
                # eq. 27 of Ramirez et al. in closed form:
                # (max(0, lambda + c g)^2 - lambda^2) / 2c
                term = (torch.relu(lam + c * p).square() - lam.square()) * (0.5 / c)
            elif c > 0:
                term = lam * p + (0.5 * c) * p.square()
            else:
                term = lam * p
            if term.dim():
                term = term.sum()
            total = term if total is None else total + term
        return total

    def _compute_loss(self, objective, evals, *, update_duals):
        if update_duals and self.order == "alternating":
            self._dual_update({n: e.defect.detach() for n, e in evals.items()})
        elif len(self.multipliers_) < len(evals):
            self._ensure_multipliers({n: e.defect.detach() for n, e in evals.items()})
        terms = self._lagrangian_terms(evals)
        return objective if terms is None else objective + terms

    def _after_backward(self, evals, *, update_duals):
        if update_duals and self.order == "simultaneous":
            self._dual_update({n: e.defect.detach() for n, e in evals.items()})

    def _penalty_for_history(self):
        return self._c if self.augmented else None

    def _get_state(self):
        state = super()._get_state()
        state["xi"] = {n: x.clone() for n, x in self.xi_.items()}
        return state

    def _set_state(self, state):
        super()._set_state(state)
        self.xi_ = {n: x.clone() for n, x in state.get("xi", {}).items()}
