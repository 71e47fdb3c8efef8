"""The linear algebra of the KKT test: specs, Jacobian rows and least-squares multipliers."""

import math
import numbers

import numpy as np
import torch
from scipy.optimize import lsq_linear


def as_flat_x(x):
    """``x`` as a flat float64 tensor (on its device) and its shape."""
    if isinstance(x, torch.Tensor):
        t = x.detach().to(torch.float64)
    else:
        try:
            t = torch.as_tensor(np.asarray(x, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"check_kkt: `x` must be array-like of numbers; got {x!r}.") from exc
    return t.reshape(-1).clone(), tuple(t.shape)


def constraint_specs(constraints):
    """The constraints as ``[(name, kind, g, proxy, parts, scale)]``.

    From ``(kind, g, level)`` tuples or :class:`Inequality` / :class:`Equality`
    objects. ``parts`` is a list of ``(sign, level)``: the entries of the constraint are
    ``sign * (g(x) - level)`` for each part, concatenated (an ``Inequality``
    with both levels has an upper part, then a lower part).
    """
    if constraints is None:
        return []
    if isinstance(constraints, tuple) and len(constraints) == 3 and isinstance(constraints[0], str):
        constraints = [constraints]
    try:
        items = list(constraints)
    except TypeError:
        items = [constraints]
    out = []
    for i, c in enumerate(items):
        name = f"c{i}"
        if isinstance(c, tuple) and len(c) == 3:
            kind, g, level = c
            if kind not in ("inequality", "equality"):
                raise ValueError(
                    f"check_kkt: constraints[{i}] kind must be 'inequality' or 'equality'; "
                    f"got {kind!r}."
                )
            parts = [(1.0, np.asarray(level, dtype=np.float64))]
            proxy = None
        elif hasattr(c, "kind") and hasattr(c, "fun"):
            kind, g, proxy = c.kind, c.fun, getattr(c, "proxy", None)
            if kind == "equality":
                parts = [(1.0, np.asarray(c.target, dtype=np.float64))]
            else:
                parts = []
                if c.upper is not None:
                    parts.append((1.0, np.asarray(c.upper, dtype=np.float64)))
                if c.lower is not None:
                    parts.append((-1.0, np.asarray(c.lower, dtype=np.float64)))
        else:
            raise TypeError(
                f"check_kkt: constraints[{i}] must be a (kind, g, level) tuple or an "
                f"sklearn_constrained.optim Inequality/Equality; got {c!r}."
            )
        if not callable(g):
            raise TypeError(f"check_kkt: the function of constraints[{i}] must be callable.")
        scale = max([1.0] + [float(np.max(np.abs(lv))) for _, lv in parts if lv.size])
        out.append((name, kind, g, proxy, parts, scale))
    return out


def parse_bounds(bounds, n):
    if bounds is None:
        return np.full(n, -np.inf), np.full(n, np.inf)
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):
        lo = np.broadcast_to(np.asarray(bounds.lb, dtype=np.float64), (n,)).copy()
        hi = np.broadcast_to(np.asarray(bounds.ub, dtype=np.float64), (n,)).copy()
        return lo, hi
    pairs = list(bounds)
    if len(pairs) != n:
        raise ValueError(
            f"check_kkt: `bounds` needs one (low, high) pair per coordinate of x ({n}); "
            f"got {len(pairs)}."
        )
    lo, hi = np.empty(n), np.empty(n)
    for j, (a, b) in enumerate(pairs):
        lo[j] = -np.inf if a is None else float(a)
        hi[j] = np.inf if b is None else float(b)
    return lo, hi


def evaluate_at(fun, x, shape):
    """``(xx, flat)``: ``fun`` at a differentiable copy ``xx`` of ``x``, flattened to float64."""
    xx = x.clone().requires_grad_(True)
    with torch.enable_grad():
        out = fun(xx.reshape(shape))
        if not isinstance(out, torch.Tensor):
            out = torch.as_tensor(out, dtype=torch.float64, device=x.device)
        flat = out.reshape(-1).to(torch.float64)
    return xx, flat


def jacobian_rows(xx, flat, needed):
    """The Jacobian rows ``d flat[k] / dx`` for ``k`` in ``needed``, zero elsewhere.

    One backward pass per needed entry.
    """
    jac = np.zeros((flat.numel(), xx.numel()))
    if not flat.requires_grad:
        return jac
    with torch.enable_grad():
        for k in needed:
            (gk,) = torch.autograd.grad(flat[k], xx, retain_graph=True, allow_unused=True)
            if gk is not None:
                jac[k] = gk.reshape(-1).detach().cpu().double().numpy()
    return jac


def project_gradient(r, at_lo, at_hi):
    """Remove the components of ``r`` that a descent step would push out of the box."""
    p = r.copy()
    p[at_lo & (p > 0)] = 0.0
    p[at_hi & (p < 0)] = 0.0
    return p


def least_squares_multipliers(grad_f, J, free, at_lo, at_hi):
    """Multipliers minimising ``|grad_f + J^T lam - z_lo + z_hi|_2``.

    ``free`` marks the entries with a free sign (equalities); the others are
    non-negative; columns of inactive entries are zero (their multiplier 0).
    """
    n = grad_f.size
    m = J.shape[0]
    lo_idx, hi_idx = np.flatnonzero(at_lo), np.flatnonzero(at_hi)
    cols = [J.T] if m else [np.zeros((n, 0))]
    eye = np.eye(n)
    cols.append(-eye[:, lo_idx])
    cols.append(eye[:, hi_idx])
    A = np.hstack(cols)
    k = A.shape[1]
    if k == 0:
        return np.zeros(0)
    lb = np.zeros(k)
    lb[:m][free] = -np.inf
    ub = np.full(k, np.inf)
    active_cols = np.any(A != 0, axis=0)
    sol = np.zeros(k)
    if active_cols.any():
        res = lsq_linear(
            A[:, active_cols],
            -grad_f,
            bounds=(lb[active_cols], ub[active_cols]),
            method="bvls",
            tol=1e-14,
        )
        sol[active_cols] = res.x
    return sol[:m]


def kkt_figures(grad_f, J, lam, entries, at_lo, at_hi, g_scale, tol, opt_tol):
    """Optimality, complementarity and dual feasibility of ``lam`` at ``x``."""
    r = grad_f + (J.T @ lam if lam.size else 0.0)
    optimality = float(np.max(np.abs(project_gradient(r, at_lo, at_hi)), initial=0.0))
    compl_fail, dual_fail = [], []
    complementarity, dual_infeasibility = 0.0, 0.0
    for k, (label, kind, slack, scale) in enumerate(entries):
        if kind != "inequality":
            continue
        gnorm = float(np.max(np.abs(J[k]), initial=0.0))
        weight = abs(lam[k]) * gnorm / g_scale
        complementarity = max(complementarity, abs(lam[k] * slack))
        if lam[k] < 0:
            dual_infeasibility = max(dual_infeasibility, -lam[k])
            if weight > opt_tol:
                dual_fail.append((weight, f"negative multiplier {lam[k]:.3g} on {label}"))
        if weight > opt_tol and abs(slack) > tol * scale:
            compl_fail.append(
                (
                    weight,
                    f"not complementary: {label} has multiplier {lam[k]:.3g} with slack "
                    f"{slack:.3g} (> tol = {tol * scale:.3g})",
                )
            )
    stationary = optimality <= opt_tol * g_scale
    return {
        "optimality": optimality,
        "complementarity": complementarity,
        "dual_infeasibility": dual_infeasibility,
        "stationary": stationary,
        "complementary": not compl_fail,
        "dual_feasible": not dual_fail,
        "failures": [m for _, m in sorted(dual_fail, reverse=True)[:1]]
        + [m for _, m in sorted(compl_fail, reverse=True)[:1]]
        + (
            []
            if stationary
            else [
                f"not stationary: optimality {optimality:.3g} > tol = {opt_tol * g_scale:.3g} "
                f"({opt_tol:g} x gradient scale {g_scale:.3g})"
            ]
        ),
    }


def check_tol(name, value):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not (0 <= value < math.inf)
    ):
        raise ValueError(f"check_kkt: `{name}` must be a finite number >= 0; got {value!r}.")
    return float(value)
