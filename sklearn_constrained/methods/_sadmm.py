"""Stochastic ADMM with a split copy of the constrained parameters."""

from numbers import Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import ConstrainedMethod

__all__ = ["SADMM"]

#: constraints with more strict-violation entries than this (e.g. Orthogonality on a
#: large network) keep their last multiplier estimate: the least-squares
#: estimate would need a dense Jacobian with that many rows.
_MAX_ESTIMATED_ENTRIES = 1024


class SADMM(ConstrainedMethod):
    r"""Linearized stochastic ADMM (eq. 14 of Lavado et al.; Ouyang et al. 2013).

    Each constraint :math:`i` gets a split copy :math:`z_i` of the
    parameters it constrains and a scaled dual :math:`u_i`; the problem
    :math:`\min f(\theta) + \sum_i \iota_{C_i}(z_i)` s.t. :math:`\theta = z_i`
    is solved by, per mini-batch,

    1. a step of the primal optimizer on
       :math:`f(\theta) + \frac{\rho}{2} \sum_i \|\theta - z_i + u_i\|^2`
       (with plain SGD this is the linearized step of eq. 14);
    2. :math:`z_i \leftarrow \mathrm{prox}_{C_i}(\theta + u_i)`, the
       constraint's closed-form Euclidean projection (clamp for
       :class:`~sklearn_constrained.constraints.NonNegativity`, rescaling
       for :class:`~sklearn_constrained.constraints.L2Norm`,
       soft-thresholding for :class:`~sklearn_constrained.constraints.L1Norm`,
       ...; see :mod:`sklearn_constrained.optim` for the ``project_*``
       functions);
    3. :math:`u_i \leftarrow u_i + \theta - z_i` (scaled form: no extra
       :math:`\rho`).

    Every update runs in place on the training device, with no host
    synchronisation. Only constraints with a closed-form projection can be
    used (weight constraints; ``prox=`` constraints in
    :func:`~sklearn_constrained.optim.minimize`).

    **Which copy predicts.** The split copies :math:`z_i` are feasible by
    construction; the primal copy :math:`\theta` is feasible only at
    convergence. With ``predict_with="split"`` (default), the fitted module
    holds the split copy (when several constraints share a parameter, the
    projection of their average onto the intersection, by Dykstra's
    algorithm), so hard constraints hold exactly after ``fit``.
    ``predict_with="primal"`` keeps :math:`\theta`. Both are exposed after
    fit as ``primal_`` and ``split_``.

    **Multipliers.** ``multipliers_`` reports, per constraint, the Lagrange
    multiplier :math:`\lambda` that best explains the ADMM dual:
    the least-squares solution of :math:`\nabla g(z)^\top \lambda = \rho u`
    (at a KKT point :math:`\nabla f = -\rho u = -\lambda \nabla g`), computed
    at each epoch end; 0 where the constraint's gradient vanishes (e.g.
    non-negativity at a feasible point). Constraints with more than 1,024
    strict-violation entries (e.g. ``Orthogonality`` on a large network) are not
    estimated and keep zeros. The full scaled duals are in ``duals_``.

    Parameters
    ----------
    rho : float, default=0.1
        The ADMM penalty :math:`\rho > 0`: the stiffness of the coupling
        between the primal and split copies.
    predict_with : {"split", "primal"}, default="split"
        Which copy the trained module holds after fit (see above).

    Attributes
    ----------
    split_ : dict of str to list of torch.Tensor
        The split copies :math:`z_i`, per constraint, one tensor per
        constrained parameter.
    duals_ : dict of str to list of torch.Tensor
        The scaled duals :math:`u_i`.
    primal_ : dict of str to list of torch.Tensor
        After fit: the primal copy :math:`\theta` of each constraint's
        parameters (before the split copy was written into the module).

    Examples
    --------
    >>> from sklearn_constrained.methods import SADMM
    >>> SADMM(rho=0.5)
    SADMM(rho=0.5)
    """

    short_name = "sadmm"
    needs_weight_states = False
    _parameter_constraints = {
        "rho": [Interval(Real, 0, None, closed="neither")],
        "predict_with": [StrOptions({"split", "primal"})],
    }

    def __init__(self, rho=0.1, predict_with="split"):
        self.rho = rho
        self.predict_with = predict_with

    def bind(self, evaluators, *, device=None, dtype=None):
        """Create a projected split copy and a zero scaled dual per constraint."""
        super().bind(evaluators, device=device, dtype=dtype)
        bound_constraints = evaluators
        missing = [n for n, b in bound_constraints.items() if not b.has_projection]
        if missing:
            kinds = ", ".join(
                f"{n!r} ({type(bound_constraints[n].constraint).__name__})" for n in missing
            )
            raise ValueError(
                f"SADMM needs a closed-form projection (prox) for every constraint; {kinds} "
                "has none. Use method='gda', 'sal' or 'fp' for such constraints (in "
                "optim.minimize, pass prox= to Inequality/Equality)."
            )
        self._params = {}
        self.split_, self.duals_, self._anchor = {}, {}, {}
        with torch.no_grad():
            for name, b in bound_constraints.items():
                params = list(b.parameters)
                if not params:
                    raise ValueError(f"SADMM: constraint {name!r} constrains no parameter.")
                z = [p.detach().clone() for p in params]
                b.project_(z)
                u = [torch.zeros_like(t) for t in z]
                self._params[name] = params
                self.split_[name] = z
                self.duals_[name] = u
                self._anchor[name] = [t.clone() for t in z]  # z - u
                # the multipliers' shapes (estimated at each epoch's end)
                self.multipliers_.ensure({name: b.evaluate(None)})
        self._half_rho = 0.5 * float(self.rho)
        self._diffs = None
        return self

    # -- the step -------------------------------------------------------------
    # The coupling term (rho/2) sum ||theta - (z - u)||^2 has the gradient
    # rho (theta - z + u): it is added to the gradients in closed form after
    # the backward pass (one fused operation per constraint), and only its
    # value enters the loss, so the autograd graph is the objective's alone.
    # S-ADMM never reads the constraints' per-step values (`needs_weight_states`).
    def loss(self, objective, states):
        """The objective plus the coupling term's value (its gradient is added in closed form)."""
        self._diffs = None
        if not self._params:
            return objective
        with torch.no_grad():
            diffs, norms = [], []
            for name, params in self._params.items():
                d = torch._foreach_sub(params, self._anchor[name])
                diffs.append(d)
                norms.extend(torch._foreach_norm(d))
            pen = torch.stack(norms).square().sum()
        self._diffs = diffs
        return objective + self._half_rho * pen

    def after_backward(self):
        """Add the coupling gradient ``rho (theta - z + u)`` to the parameters' gradients."""
        diffs, self._diffs = self._diffs, None
        if diffs is None:
            return
        rho = float(self.rho)
        with torch.no_grad():
            for params, d in zip(self._params.values(), diffs, strict=True):
                if any(p.grad is None for p in params):
                    for p in params:
                        if p.grad is None:
                            p.grad = torch.zeros_like(p)
                torch._foreach_add_([p.grad for p in params], d, alpha=rho)

    def after_step(self):
        """The split copies' projection and the scaled duals' update."""
        with torch.no_grad():
            for name, params in self._params.items():
                zs, us, anchor = self.split_[name], self.duals_[name], self._anchor[name]
                # z = proj(theta + u); u += theta - z; anchor = z - u
                torch._foreach_copy_(zs, params)
                torch._foreach_add_(zs, us)
                self.evaluators_[name].project_(zs)
                torch._foreach_add_(us, params)
                torch._foreach_sub_(us, zs)
                torch._foreach_copy_(anchor, zs)
                torch._foreach_sub_(anchor, us)

    def epoch_end(self, states):
        """Estimate the multipliers from the scaled duals."""
        self._estimate_multipliers()

    # -- multipliers ----------------------------------------------------------
    def _estimate_multipliers(self):
        """Least-squares multipliers of grad g(z)^T lambda = rho u (one sync per call)."""
        rho = float(self.rho)
        for name, bound in self.evaluators_.items():
            params = self._params[name]
            zs = self.split_[name]
            with torch.no_grad():
                backup = [p.detach().clone() for p in params]
                for p, z in zip(params, zs, strict=True):
                    p.copy_(z)
            try:
                with torch.enable_grad():
                    d = bound.evaluate(None).violation.reshape(-1)
                    rows = []
                    m = d.numel()
                    if d.requires_grad and m <= _MAX_ESTIMATED_ENTRIES:
                        # the Jacobian's rows in one batched (vmapped) backward pass
                        eye = torch.eye(m, dtype=d.dtype, device=d.device)
                        grads = torch.autograd.grad(
                            d, params, grad_outputs=eye, is_grads_batched=True, allow_unused=True
                        )
                        J = torch.cat(
                            [
                                (
                                    g
                                    if g is not None
                                    else torch.zeros((m,) + p.shape, dtype=d.dtype, device=d.device)
                                ).reshape(m, -1)
                                for g, p in zip(grads, params, strict=True)
                            ],
                            dim=1,
                        ).detach()
                        rows = list(J)
            finally:
                with torch.no_grad():
                    for p, b in zip(params, backup, strict=True):
                        p.copy_(b)
            lam = self.multipliers_[name].value
            if not rows:
                lam.zero_()
                continue
            J = torch.stack(rows).double().cpu()  # m x n
            y = rho * torch.cat([u.reshape(-1) for u in self.duals_[name]]).double().cpu()
            if J.shape[0] == 1:
                jj = float(J[0] @ J[0])
                est = torch.tensor(
                    [float(J[0] @ y) / jj if jj > 1e-30 else 0.0], dtype=torch.float64
                )
            else:
                est = torch.linalg.lstsq(J.T, y.unsqueeze(1), driver="gelsd").solution.reshape(-1)
            if self.kinds_[name] == "inequality":
                est = est.clamp(min=0)
            lam.copy_(est.reshape(lam.shape).to(lam.dtype))

    # -- end of training ------------------------------------------------------
    def _feasible_point(self):
        """The split copies, merged per parameter.

        Dykstra's projection of the average onto the intersection when
        constraints share a parameter.
        """
        cover = {}
        for name, params in self._params.items():
            for k, p in enumerate(params):
                cover.setdefault(id(p), []).append((name, k))
        x = {
            pid: (
                self.split_[lst[0][0]][lst[0][1]].clone()
                if len(lst) == 1
                else sum(self.split_[n][k] for n, k in lst) / len(lst)
            )
            for pid, lst in cover.items()
        }
        if all(len(lst) == 1 for lst in cover.values()):
            return x
        incr = {n: [torch.zeros_like(z) for z in zs] for n, zs in self.split_.items()}
        scale = max(float(t.abs().max()) for t in x.values()) + 1.0
        for _ in range(1000):
            change = 0.0
            for name, params in self._params.items():
                y = [x[id(p)] + incr[name][k] for k, p in enumerate(params)]
                proj = [t.clone() for t in y]
                self.evaluators_[name].project_(proj)
                for k, p in enumerate(params):
                    incr[name][k] = y[k] - proj[k]
                    change = max(change, float((proj[k] - x[id(p)]).abs().max()))
                    x[id(p)] = proj[k]
            if change <= 1e-10 * scale:
                break
        return x

    def finalize(self):
        """Write the feasible split copy into the module (``predict_with="split"``)."""
        if not getattr(self, "_params", None):
            return
        self._estimate_multipliers()
        with torch.no_grad():
            self.primal_ = {n: [p.detach().clone() for p in ps] for n, ps in self._params.items()}
            if self.predict_with == "split":
                x = self._feasible_point()
                for params in self._params.values():
                    for p in params:
                        p.copy_(x[id(p)])

    def current_penalty(self):
        """The ADMM penalty ``rho``."""
        return float(self.rho)

    # -- checkpointing --------------------------------------------------------
    def state_dict(self):
        """The multipliers, the split copies, the scaled duals and their differences."""
        state = super().state_dict()
        for key in ("split_", "duals_", "_anchor"):
            state[key] = {n: [t.clone() for t in ts] for n, ts in getattr(self, key).items()}
        return state

    def load_state_dict(self, state):
        """Restore the split copies and duals in place."""
        super().load_state_dict(state)
        for key in ("split_", "duals_", "_anchor"):
            cur = getattr(self, key)
            for n, ts in state[key].items():
                for t, s in zip(cur[n], ts, strict=True):
                    t.copy_(s)
