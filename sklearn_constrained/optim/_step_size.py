r"""The default primal step of :func:`~sklearn_constrained.optim.minimize` with SGD.

A fixed step size has the units of ``x`` squared over those of ``fun``:
``lr=0.01`` is stable on a problem and unstable on the same problem
multiplied by 100, and 100 times too slow on it multiplied by 0.01. With
``lr=None``, :func:`curvature_step` sets the step from the problem itself, at
the start:

.. math:: \eta = \frac{1}{2 \hat L}, \qquad
   \hat L = \left|\lambda_{max}\left(\nabla^2 f(x_0)
   + \textstyle\sum_i \hat\lambda_i \nabla^2 g_i(x_0)\right)\right|,
   \qquad \hat\lambda_i = \frac{\|\nabla f(x_0)\|}{\|\nabla g_i(x_0)\|},

the largest curvature of a Lagrangian whose multipliers have their natural
size (the price that balances the two gradients), found by a few power
iterations of Hessian-vector products. Multiplying ``fun`` and the
constraints by the same factor divides the step by it, so the iterates are
those of the unscaled problem. Where every curvature vanishes (a linear
program), the step moves ``x`` by one percent of its size:
:math:`\eta = 0.01 \max(1, \|x_0\|_\infty) / \|\nabla f(x_0)\|_\infty`.
"""

import math

import torch

from ..constraints._feasibility import tolerance_scale, violation_magnitude

__all__ = ["RUNAWAY", "AutoStep", "curvature_step"]

#: fallback when the problem gives no usable scale
DEFAULT_STEP = 0.01
#: an outer iteration whose largest violation exceeds this multiple of the larger of the
#: start's violation and max(1, |level|) ran away: the primal outran the multipliers, and
#: it is undone at a quarter of the step like a non-finite one
RUNAWAY = 1e4


def _flat_grad(value, x, create_graph):
    (g,) = torch.autograd.grad(
        value, x, create_graph=create_graph, retain_graph=True, allow_unused=True
    )
    return torch.zeros_like(x) if g is None else g


def _summed(t):
    return t.sum() if t.dim() else t


def curvature_step(fun, x, evaluators, *, multipliers=None, power_iterations=20, fraction=0.5,
                   vector=None):
    """The primal SGD step ``fraction / L`` for the problem at ``x`` (see the module docstring).

    Parameters
    ----------
    fun : callable
        The objective.
    x : torch.Tensor
        The variable (a leaf that requires gradients), at the start.
    evaluators : dict of str to ConstraintEvaluator
        The bound constraints of ``x``.
    multipliers : dict of str to torch.Tensor, default=None
        The current multipliers: a constraint's weight in the Lagrangian is
        the larger of its largest multiplier and its natural size.
    power_iterations : int, default=20
    fraction : float, default=0.5
    vector : torch.Tensor, default=None
        A start for the power iterations (the last call's ``out`` vector);
        it is updated in place.

    Returns
    -------
    float
        The step; :data:`DEFAULT_STEP` when ``fun`` is not twice
        differentiable or gives no finite scale.

    Examples
    --------
    >>> import torch
    >>> x = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    >>> round(curvature_step(lambda v: 50 * (v ** 2).sum(), x, {}), 6)  # 0.5 / 100
    0.005
    """
    try:
        with torch.enable_grad():
            f = fun(x)
            gf = _flat_grad(f, x, False)  # for its norm only
            terms = [f]
            gf_norm = float(gf.detach().norm())
            for name, e in evaluators.items():
                gi = _summed(e.evaluate(None).violation)
                if not gi.requires_grad:
                    continue
                gg = float(_flat_grad(gi, x, False).detach().norm())
                weight = gf_norm / gg if gg > 0 and math.isfinite(gg) else 0.0
                if multipliers is not None and name in multipliers:
                    weight = max(weight, float(multipliers[name].detach().abs().max()))
                if weight > 0 and math.isfinite(weight):
                    terms.append(gi * weight)
            lagrangian = sum(terms[1:], terms[0])
            grad = _flat_grad(lagrangian, x, True)
            if not grad.requires_grad:
                curvature = 0.0
            else:
                if vector is not None and float(vector.norm()) > 0:
                    v = vector / vector.norm()
                else:
                    gen = torch.Generator(device="cpu").manual_seed(0)
                    v = torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device)
                    v = v / v.norm()
                curvature = 0.0
                for _ in range(int(power_iterations)):
                    (hv,) = torch.autograd.grad(grad, x, grad_outputs=v, retain_graph=True,
                                                allow_unused=True)
                    if hv is None:
                        break
                    norm = float(hv.norm())
                    if not math.isfinite(norm) or norm == 0.0:
                        curvature = norm if math.isfinite(norm) else 0.0
                        break
                    curvature = norm
                    v = hv / norm
                if vector is not None:
                    vector.copy_(v.detach())
    except RuntimeError:  # not twice differentiable
        return DEFAULT_STEP
    if math.isfinite(curvature) and curvature > 0:
        return float(fraction) / curvature
    g_inf = float(gf.detach().abs().max()) if gf.numel() else 0.0
    if g_inf > 0 and math.isfinite(g_inf):
        return DEFAULT_STEP * max(1.0, float(x.detach().abs().max())) / g_inf
    return DEFAULT_STEP


class AutoStep:
    """The self-set SGD step of ``minimize`` over a solve, with a divergence safeguard.

    :meth:`start` measures the step at ``x0``; after every outer iteration,
    :meth:`after_outer_iteration` either re-measures it at the new point
    (with the method's current multipliers) and keeps a snapshot of ``x``
    and of the method's state, or, when the iteration diverged (or ran away:
    :meth:`ran_away`), restores the last snapshot and quarters the step (at
    most ``max_restarts`` times; after that the last finite point is kept and
    the solve stops as diverged).

    Parameters
    ----------
    fun : callable
    x : torch.Tensor
    evaluators : dict of str to ConstraintEvaluator
    method : ConstrainedMethod
        A bound method (its ``multipliers_``, ``state_dict`` and
        ``load_state_dict`` are used).
    max_restarts : int, default=10

    Attributes
    ----------
    lr : float
        The current step.
    restarts : int
        How many divergences were undone.
    """

    def __init__(self, fun, x, evaluators, method, max_restarts=10):
        self.fun, self.x, self.evaluators, self.method = fun, x, evaluators, method
        self.max_restarts = int(max_restarts)
        self.restarts = 0
        self.lr = DEFAULT_STEP
        self._vector = torch.zeros_like(x.detach())
        self._snapshot = None
        self._runaway = {}

    def _save(self):
        self._snapshot = (self.x.detach().clone(), self.method.state_dict())

    def start(self):
        """The step at the start (and the first snapshot and runaway sizes)."""
        self.lr = curvature_step(self.fun, self.x, self.evaluators, vector=self._vector)
        self._runaway = {}
        with torch.no_grad():
            for name, e in self.evaluators.items():
                strict = e.evaluate(None).strict_violation.detach()
                v0 = float(violation_magnitude(e.kind, strict).max())
                v0 = v0 if math.isfinite(v0) else 0.0
                self._runaway[name] = RUNAWAY * max(tolerance_scale(e.constraint), v0)
        self._save()
        return self.lr

    def ran_away(self, largest_violations):
        """Whether a constraint's largest violation passed :data:`RUNAWAY` times its start size."""
        return any(
            largest_violations.get(name, 0.0) > size for name, size in self._runaway.items()
        )

    def after_outer_iteration(self, finite):
        """Re-measure the step, or undo a divergence; return whether ``x`` was restored."""
        if not finite:
            if self._snapshot is None:
                return False
            x0, state = self._snapshot
            with torch.no_grad():
                self.x.copy_(x0)
            # multipliers created after the snapshot go too (the state names those it had)
            getattr(self.method, "multipliers_", {}).clear()
            self.method.load_state_dict(state)
            if self.restarts >= self.max_restarts:
                return False  # given up: the solve ends at the last finite point
            self.lr *= 0.25
            self.restarts += 1
            return True
        multipliers = {n: m.value for n, m in getattr(self.method, "multipliers_", {}).items()}
        new = curvature_step(self.fun, self.x, self.evaluators, multipliers=multipliers,
                             power_iterations=5, vector=self._vector)
        # after a restart, the step stays below the one that diverged
        cap = 4.0 * self.lr if not self.restarts else self.lr
        self.lr = min(new, cap) if new != DEFAULT_STEP else self.lr
        self._save()
        return False
