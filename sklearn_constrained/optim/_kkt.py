r"""The first-order (KKT) test behind a truthful ``success``.

:func:`check_kkt` judges a point ``x`` of

.. math::

    \min_x f(x) \quad \text{s.t.} \quad g_i(x) \le \epsilon_i,\;
    h_j(x) = \epsilon_j,\; l \le x \le u,

with the Lagrangian :math:`L = f + \sum_i \lambda_i^\top (g_i - \epsilon_i)`
(:math:`\lambda_i \ge 0` for inequalities, free for equalities) and returns
SciPy's figures (``optimality``, ``constr_violation``, as ``trust-constr``
names them) with a verdict.

Tolerances (scale-free where the library's feasibility rule allows):

- **feasibility**: every constraint's largest violation (``relu(g - eps)``,
  ``|h - eps|``, and the bounds) is at most ``tol * max(1, |level|)``, the
  library's rule (:func:`~sklearn_constrained.constraints.tolerance_scale`),
  and, whatever the constraint's units, every violated entry is within
  ``tol * max(1, |x|_inf)`` of its level in ``x`` to first order (its
  violation over the norm of its gradient): a constraint multiplied by 0.01
  cannot pass with a violation 100 times larger in ``x``;
- **stationarity**: ``optimality`` (the infinity norm of the gradient of the
  Lagrangian projected onto the bounds: at a coordinate on its lower bound
  only a positive component, which points out of the box for a descent step,
  is removed, and conversely at an upper bound) is at most
  ``optimality_tol * G`` with ``G = max(gradient_scale, |grad f(x)|_inf)``.
  ``G`` scales with the objective, so a problem multiplied by a constant gets
  the same verdict once ``gradient_scale`` (the size of a typical gradient,
  e.g. ``|grad f(x0)|_inf`` at the start) is passed scaled alike; its
  default 1.0 makes the test absolute for gradients below 1. A caller such
  as ``minimize`` should pass ``max(1, |grad f(x0)|_inf)``: the floor keeps a
  start at the objective's unconstrained minimum (``grad f(x0) = 0``, e.g.
  HS28 from the origin) from making the test relative to a vanishing
  gradient, which rejects a true solution;
- **dual feasibility**: an inequality multiplier may be negative only where
  its term is negligible, ``|lambda| |grad g|_inf <= optimality_tol * G``;
- **complementarity**: an inequality whose multiplier matters
  (``|lambda| |grad g|_inf > optimality_tol * G``) must be active, its slack
  ``|g - eps| <= tol * max(1, |level|)``.

Which multipliers are judged: by default (``judge_with="least_squares"``)
the verdict does not trust the method's multipliers. It computes at ``x``
the multipliers that minimise the Lagrangian's gradient (bounded least
squares: free for equalities, non-negative for the inequalities within
``tol`` of their level and for the active bounds, zero for the clearly
inactive inequalities), which are dual feasible and complementary by
construction; ``x`` passes when they make it stationary. This is sound (a
pass exhibits KKT multipliers, so no point that is not a KKT point within
tolerance passes) and recognises a real solution whatever the method
estimated: a fixed penalty's coefficients, S-ADMM's least-squares estimates
or a multiplier still oscillating. ``judge_with="given"`` judges the
method's own multipliers instead (sound as well, but a true solution with
imprecise multipliers fails). Either way the figures of the given
multipliers are reported in ``given``.

A KKT point need not be a minimiser (a saddle point or a maximum on an
equality can pass), and a point within tolerance of a KKT point is only as
close to the solution as the problem's conditioning allows.
"""

import math

import numpy as np
from scipy.optimize import OptimizeResult

from ._kkt_parts import (
    as_flat_x,
    check_tol,
    constraint_specs,
    evaluate_at,
    jacobian_rows,
    kkt_figures,
    least_squares_multipliers,
    parse_bounds,
    project_gradient,
)
from ._second_order import negative_curvature

__all__ = ["check_kkt", "kkt_verdict"]

_JUDGES = ("least_squares", "given")


def check_kkt(
    fun,
    x,
    constraints=(),
    multipliers=None,
    bounds=None,
    *,
    tol=1e-4,
    optimality_tol=None,
    gradient_scale=1.0,
    judge_with="least_squares",
):
    r"""Judge whether ``x`` is a KKT point of a constrained problem, within tolerance.

    Parameters
    ----------
    fun : callable
        ``fun(x: torch.Tensor) -> scalar tensor``, differentiable; its
        gradient is taken with ``torch.autograd`` in float64.
    x : array-like or torch.Tensor
        The point (any shape; the bounds and gradients are flattened).
    constraints : sequence, default=()
        Each a ``(kind, g, level)`` tuple (``kind`` ``"inequality"`` for
        ``g(x) <= level`` or ``"equality"`` for ``g(x) == level``; ``g`` may
        return a vector) or an :class:`~sklearn_constrained.optim.Inequality`
        / :class:`~sklearn_constrained.optim.Equality` (an inequality with
        both levels has its upper entries first, then ``lower - g``; a
        ``proxy`` supplies the gradients while ``fun`` gives the values).
    multipliers : sequence of array-like, default=None
        The method's multipliers, one array per constraint with one entry
        per constraint entry (``res.multipliers`` of
        :func:`~sklearn_constrained.optim.minimize`); optional with
        ``judge_with="least_squares"``.
    bounds : sequence of (low, high) or scipy.optimize.Bounds, default=None
        Simple bounds (``None`` for unbounded), one pair per coordinate.
    tol : float, default=1e-4
        Feasibility tolerance, relative to ``max(1, |level|)`` per
        constraint (``max(1, |bound|)`` for the bounds); also the slack
        below which an inequality counts as active.
    optimality_tol : float, default=None
        Stationarity tolerance, relative to the gradient scale
        ``G = max(gradient_scale, |grad f(x)|_inf)``; ``None`` means ``tol``.
    gradient_scale : float, default=1.0
        The size of a typical objective gradient. Pass ``|grad f(x0)|_inf``
        (the start's gradient) for a verdict that does not change when the
        objective is multiplied by a constant, or ``max(1, |grad f(x0)|_inf)``
        (what ``minimize`` should pass) for one that also survives a start
        where the objective's gradient vanishes.
    judge_with : {"least_squares", "given"}, default="least_squares"
        Whose multipliers decide stationarity, complementarity and dual
        feasibility: the least-squares multipliers computed at ``x`` (see
        the module's notes: sound, and independent of how well the method
        estimated them), or the given ones.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``success`` (bool), ``message`` (which tests failed, with the
        numbers), ``optimality`` (infinity norm of the projected gradient of
        the Lagrangian), ``constr_violation`` (the largest violation,
        bounds included), ``complementarity`` (max over inequality entries
        of ``|lambda_i (g_i - level_i)|``), ``dual_infeasibility`` (the most
        negative inequality multiplier, as a positive number, 0 if none),
        ``multipliers`` (the judged ones, one array per constraint),
        ``least_squares_multipliers``, ``bound_multipliers`` (per coordinate:
        positive at an active lower bound, negative at an upper one),
        ``active`` (per constraint, which entries count as active),
        ``gradient_scale`` (``G``), ``tests`` (``feasible``, ``stationary``,
        ``complementary``, ``dual_feasible``: bools) and ``given`` (the
        figures of the given multipliers, or ``None``).

    Examples
    --------
    :math:`\min x_1^2 + x_2^2` s.t. :math:`x_1 + x_2 \ge 1`: the solution is
    :math:`(0.5, 0.5)` with multiplier 1; the origin is not feasible and
    :math:`(1, 0)` is feasible but not stationary.

    >>> from sklearn_constrained.optim._kkt import check_kkt
    >>> f = lambda x: (x ** 2).sum()
    >>> cons = [("inequality", lambda x: -x.sum(), -1.0)]
    >>> res = check_kkt(f, [0.5, 0.5], cons)
    >>> bool(res.success), res.multipliers[0].round(6).tolist()
    (True, [1.0])
    >>> check_kkt(f, [1.0, 0.0], cons).message
    'not stationary: optimality 1 > tol = 0.0002 (0.0001 x gradient scale 2)'
    >>> check_kkt(f, [0.0, 0.0], cons, judge_with="least_squares").message[:40]
    'not feasible: largest violation 1 on c0 '
    """
    if not callable(fun):
        raise TypeError(f"check_kkt: `fun` must be a callable x -> scalar tensor; got {fun!r}.")
    tol = check_tol("tol", tol)
    opt_tol = tol if optimality_tol is None else check_tol("optimality_tol", optimality_tol)
    gradient_scale = check_tol("gradient_scale", gradient_scale)
    if judge_with not in _JUDGES:
        raise ValueError(f"check_kkt: `judge_with` must be one of {_JUDGES}; got {judge_with!r}.")
    specs = constraint_specs(constraints)
    if multipliers is not None:
        multipliers = list(multipliers)
        if len(multipliers) != len(specs):
            raise ValueError(
                f"check_kkt: `multipliers` needs one array per constraint ({len(specs)}); "
                f"got {len(multipliers)}."
            )
    elif judge_with == "given":
        raise ValueError("check_kkt: judge_with='given' needs `multipliers`.")

    xf, shape = as_flat_x(x)
    n = xf.numel()
    lo, hi = parse_bounds(bounds, n)
    xn = xf.cpu().numpy()
    xx, f_flat = evaluate_at(fun, xf, shape)
    if f_flat.numel() != 1:
        raise ValueError("check_kkt: `fun(x)` must return a scalar (one element).")
    f_val = float(f_flat.detach()[0])
    grad_f = jacobian_rows(xx, f_flat, [0])[0]

    # constraint entries: (label, kind, signed slack (<= 0 holds), scale) and Jacobian
    # rows, computed only for the entries that can matter: the active ones and those
    # with a non-zero given multiplier
    entries, rows, sizes, violation_by, given_parts = [], [], [], [], []
    for i, (name, kind, g, proxy, parts, scale) in enumerate(specs):
        xx, flat = evaluate_at(g, xf, shape)
        value = flat.detach().cpu().numpy().astype(np.float64)
        if proxy is not None:  # a differentiable surrogate supplies the gradients
            xx, flat = evaluate_at(proxy, xf, shape)
        size = value.size * len(parts)
        if multipliers is not None:
            arr = np.asarray(multipliers[i], dtype=np.float64).reshape(-1)
            if arr.size == 1 and size > 1:
                arr = np.full(size, float(arr[0]))
            if arr.size != size:
                raise ValueError(
                    f"check_kkt: the multiplier of {name} needs {size} entries; got {arr.size}."
                )
            given_parts.append(arr)
        slacks = [
            (sign, sign * (value - np.broadcast_to(level, value.shape))) for sign, level in parts
        ]
        needed = set()
        for p_idx, (_, slack) in enumerate(slacks):
            for k in range(value.size):
                near = kind == "equality" or not slack[k] < -tol * scale
                given = multipliers is not None and given_parts[-1][p_idx * value.size + k] != 0
                if near or given or not math.isfinite(slack[k]):
                    needed.add(k)
        jac = jacobian_rows(xx, flat, sorted(needed))
        worst = 0.0
        for p_idx, (sign, slack) in enumerate(slacks):
            for k in range(value.size):
                count = p_idx * value.size + k
                label = f"{name}[{count}]" if size > 1 else name
                entries.append((label, kind, float(slack[k]), scale))
                rows.append(sign * jac[k])
                v = max(slack[k], 0.0) if kind == "inequality" else abs(slack[k])
                worst = max(worst, float(v))
        sizes.append(size)
        violation_by.append((name, worst, scale))
    J = np.vstack(rows) if rows else np.zeros((0, n))

    finite = (
        math.isfinite(f_val)
        and np.all(np.isfinite(grad_f))
        and np.all(np.isfinite(J))
        and all(math.isfinite(e[2]) for e in entries)
    )

    # feasibility (absolute and relative), bounds included
    bound_viol = np.maximum(np.maximum(lo - xn, xn - hi), 0.0)
    bound_scale = np.maximum(1.0, np.maximum(np.where(np.isfinite(lo), np.abs(lo), 0), 0))
    bound_scale = np.maximum(bound_scale, np.where(np.isfinite(hi), np.abs(hi), 0))
    constr_violation = max([v for _, v, _ in violation_by] + [float(bound_viol.max(initial=0))])
    rel = [(v / s, nm, v, s) for nm, v, s in violation_by]
    if n and bound_viol.max() > 0:
        j = int(np.argmax(bound_viol / bound_scale))
        rel.append(
            (bound_viol[j] / bound_scale[j], f"the bound of x[{j}]", bound_viol[j], bound_scale[j])
        )
    worst_rel = max(rel, default=(0.0, None, 0.0, 1.0))
    feasible = worst_rel[0] <= tol
    # and in x, whatever the constraint's units: a violation over its gradient's
    # norm (the first-order distance to the level) at most tol * max(1, |x|_inf)
    x_scale = max(1.0, float(np.max(np.abs(xn), initial=0.0))) if finite else 1.0
    far = (0.0, None, 0.0)
    for (label, kind, slack, _), row in zip(entries, rows, strict=True):
        v = max(slack, 0.0) if kind == "inequality" else abs(slack)
        norm = float(np.linalg.norm(row)) if finite and v > 0 else 0.0
        if norm > 0 and v / norm > far[0]:
            far = (v / norm, label, v)
    feasible = feasible and far[0] <= tol * x_scale

    # active sets
    at_lo = np.isfinite(lo) & (xn - lo <= tol * np.maximum(1.0, np.abs(lo)))
    at_hi = np.isfinite(hi) & (hi - xn <= tol * np.maximum(1.0, np.abs(hi)))
    active = np.array(
        [kind == "equality" or slack >= -tol * scale for _, kind, slack, scale in entries],
        dtype=bool,
    )
    free = np.array([kind == "equality" for _, kind, _, _ in entries], dtype=bool)

    g_scale = max(gradient_scale, float(np.max(np.abs(grad_f), initial=0.0)))
    if g_scale == 0:
        g_scale = 1.0

    # least-squares multipliers on the active set (inactive entries get 0)
    J_act = J * active[:, None] if J.size else J
    if finite:
        # a fixed coordinate (low == high) gets both columns: a free-sign bound multiplier
        lam_ls = least_squares_multipliers(grad_f, J_act, free, at_lo, at_hi)
    else:
        lam_ls = np.full(len(entries), np.nan)

    given_flat = None
    if multipliers is not None:
        given_flat = np.concatenate(given_parts) if given_parts else np.zeros(0)

    def figures(lam):
        return kkt_figures(grad_f, J, lam, entries, at_lo, at_hi, g_scale, tol, opt_tol)

    ls_fig = figures(lam_ls) if finite else None
    given_fig = figures(given_flat) if (finite and given_flat is not None) else None
    judged_lam = lam_ls if judge_with == "least_squares" else given_flat
    judged = ls_fig if judge_with == "least_squares" else given_fig

    failures = []
    if not finite:
        failures.append("not finite: the objective, a constraint or a gradient is not finite")
    if worst_rel[0] > tol:
        _, where, v, s = worst_rel
        failures.append(
            f"not feasible: largest violation {v:.3g} on {where} > tol = {tol * s:.3g}"
            + (f" ({tol:g} x max(1, |level|) = {s:g})" if s != 1 else "")
        )
    elif not feasible and finite:
        d, where, v = far
        failures.append(
            f"not feasible: the violation {v:.3g} of {where} is {d:.3g} from its level in x "
            f"(violation / gradient norm) > tol x max(1, |x|_inf) = {tol * x_scale:.3g}"
        )
    if judged is not None:
        failures += judged["failures"]
    success = finite and feasible and judged is not None and not judged["failures"]
    # bound multipliers implied by the judged multipliers
    if finite and judged_lam is not None:
        r = grad_f + (J.T @ judged_lam if judged_lam.size else 0.0)
        bound_mult = r - project_gradient(r, at_lo, at_hi)
    else:
        bound_mult = np.full(n, np.nan)

    second_order = None
    if success:
        second_order = negative_curvature(
            fun, specs, xf, shape, judged_lam, J, entries, active, bound_mult, at_lo, at_hi,
            tol, opt_tol * g_scale,
        )
        if second_order is not None:
            success = False
            failures.append(second_order)
    if success:
        message = (
            f"KKT point within tolerance: largest violation {constr_violation:.3g}, "
            f"optimality {judged['optimality']:.3g} (tol {opt_tol:g} x {g_scale:.3g})"
        )
    else:
        message = "; ".join(failures)
    if (
        success
        and judge_with == "least_squares"
        and given_fig is not None
        and given_fig["failures"]
    ):
        message += "; the method's own multipliers fail: " + "; ".join(given_fig["failures"])

    def split(flat):
        if flat is None:
            return None
        out, k = [], 0
        for size in sizes:
            out.append(flat[k : k + size].copy())
            k += size
        return out

    act_split = split(active.astype(float))
    return OptimizeResult(
        success=bool(success),
        message=message,
        optimality=judged["optimality"] if judged is not None else math.nan,
        constr_violation=float(constr_violation),
        complementarity=judged["complementarity"] if judged is not None else math.nan,
        dual_infeasibility=judged["dual_infeasibility"] if judged is not None else math.nan,
        multipliers=split(judged_lam),
        least_squares_multipliers=split(lam_ls),
        bound_multipliers=bound_mult.reshape(shape) if shape else bound_mult,
        active=[a.astype(bool) for a in act_split],
        gradient_scale=g_scale,
        tests={
            "feasible": bool(feasible),
            "stationary": bool(judged and judged["stationary"]),
            "complementary": bool(judged and judged["complementary"]),
            "dual_feasible": bool(judged and judged["dual_feasible"]),
            "second_order": second_order is None,
        },
        given=(
            None
            if given_fig is None
            else {k: v for k, v in given_fig.items() if k != "failures"}
            | {"message": "; ".join(given_fig["failures"]) or "passes"}
        ),
    )


def kkt_verdict(fun, x, evaluators, multipliers, box, tol, feasibility=None, *, gradient_scale=1.0):
    """:func:`check_kkt` for ``minimize``'s internals: bound constraints, a box, a dict.

    Parameters
    ----------
    fun : callable
        The objective.
    x : torch.Tensor
        The variable.
    evaluators : dict of str to evaluator
        ``{name: evaluator}``; each ``evaluator.constraint`` is an
        :class:`~sklearn_constrained.optim.Inequality` or
        :class:`~sklearn_constrained.optim.Equality`.
    multipliers : dict of str to ndarray
        The method's multipliers by name (reported in ``given``; the verdict
        uses least-squares multipliers, see :func:`check_kkt`). Missing or
        mis-shaped ones are ignored.
    box : tuple of tensors or None
        ``(low, high)`` shaped like ``x``.
    tol : float
        Feasibility and stationarity tolerance.
    feasibility : object with a ``feasible`` attribute, default=None
        The library's own feasibility judgement; when given, ``success``
        also needs it.
    gradient_scale : float, default=1.0
        Pass ``max(1, |grad f(x0)|_inf)``, see :func:`check_kkt`.

    Returns
    -------
    dict
        ``success``, ``message``, ``optimality``, ``constr_violation``,
        ``complementarity``, ``dual_infeasibility``, ``multipliers`` (the
        judged ones, by name) and ``result`` (the full :func:`check_kkt`
        result).

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.optim import Inequality
    >>> from sklearn_constrained.optim._kkt import kkt_verdict
    >>> c = Inequality(lambda x: -x.sum(), upper=-1.0)
    >>> v = kkt_verdict(lambda x: (x ** 2).sum(), torch.tensor([0.5, 0.5]),
    ...                 {"c0": type("E", (), {"constraint": c})()}, {}, None, 1e-4)
    >>> v["success"], v["message"][:26]
    (True, 'KKT point within tolerance')
    """
    names = list(evaluators)
    constraints = [evaluators[n].constraint for n in names]
    bounds = None
    if box is not None:
        lo, hi = (t.detach().double().cpu().numpy().reshape(-1) for t in box)
        bounds = list(zip(lo.tolist(), hi.tolist(), strict=True))
    given = None
    if multipliers is not None and all(n in multipliers for n in names):
        given = [np.asarray(multipliers[n], dtype=np.float64) for n in names]
    kwargs = dict(bounds=bounds, tol=tol, gradient_scale=gradient_scale)
    try:
        res = check_kkt(fun, x, constraints, given, **kwargs)
    except ValueError:  # multipliers shaped otherwise (a penalty per constraint)
        res = check_kkt(fun, x, constraints, None, **kwargs)
    success = res.success and (feasibility is None or bool(feasibility.feasible))
    message = res.message
    if res.success and not success:
        message = "not feasible by the library's rule; " + message
    return {
        "success": bool(success),
        "message": message,
        "optimality": float(res.optimality),
        "constr_violation": float(res.constr_violation),
        "complementarity": float(res.complementarity),
        "dual_infeasibility": float(res.dual_infeasibility),
        "multipliers": dict(zip(names, res.multipliers or [], strict=False)),
        "result": res,
    }
