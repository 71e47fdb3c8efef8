r"""The second-order necessary condition of the KKT test.

A first-order KKT point can be a saddle or a maximum along a feasible
direction: on Example 1 of Ramirez et al., ``x = (0, 0)`` has a vanishing
gradient at an active bound with a zero multiplier, and the objective
decreases into the box from there. At a local minimiser the Hessian of the
Lagrangian is positive semidefinite on the critical cone. :func:`negative_curvature`
looks for a direction that breaks this:

- the directions tangent to every equality, every inequality with a
  positive multiplier and every bound with a non-zero bound multiplier
  (the strongly active set) form a subspace :math:`Z`;
- the smallest eigenvalue of :math:`Z^\top \nabla^2_{xx} L\, Z` is compared
  with :math:`-\text{tol}\,\|\nabla^2_{xx} L\|_2`;
- its eigenvector :math:`d` (or :math:`-d`) must also point into the
  weakly active constraints and bounds (those with zero multipliers), so
  that it is a feasible direction.

Only a negative finding is reported: the subspace test is a necessary
condition, so a true local minimiser is never rejected. It runs for
problems of at most :data:`MAX_VARIABLES` variables (a dense Hessian).
"""

import numpy as np
import scipy.linalg
import torch

__all__ = ["MAX_VARIABLES", "negative_curvature"]

#: the largest number of variables whose Hessian is formed
MAX_VARIABLES = 200


def _lagrangian(fun, specs, lam, shape):
    lam_t = torch.as_tensor(np.asarray(lam, dtype=np.float64))

    def lagrangian(z):
        x = z.reshape(shape)
        value = fun(x).reshape(()).to(torch.float64)
        offset = 0
        for _, _, g, proxy, parts, _ in specs:
            flat = torch.as_tensor((proxy or g)(x)).reshape(-1).to(torch.float64)
            for sign, _level in parts:
                m = flat.numel()
                value = value + sign * (lam_t[offset : offset + m].to(flat.device) * flat).sum()
                offset += m
        return value

    return lagrangian


def negative_curvature(fun, specs, x, shape, lam, J, entries, active, bound_mult, at_lo, at_hi,
                       tol, mult_tol):
    """A message when the Lagrangian curves down along a feasible direction, else ``None``.

    Parameters
    ----------
    fun, specs, x, shape
        The objective, the constraint specs of ``check_kkt``, the flat point
        (float64 tensor) and its shape.
    lam : ndarray
        The judged multipliers, one per constraint entry.
    J : ndarray
        The entries' Jacobian rows (signed like the entries).
    entries : list of tuple
        ``(label, kind, slack, scale)`` per entry.
    active : ndarray of bool
        Which entries are active.
    bound_mult : ndarray
        The bound multipliers per coordinate.
    at_lo, at_hi : ndarray of bool
        The coordinates at their lower or upper bound.
    tol : float
        The relative curvature tolerance.
    mult_tol : float
        A multiplier at most this large counts as zero (weakly active).

    Returns
    -------
    str or None
    """
    n = x.numel()
    if n == 0 or n > MAX_VARIABLES or not np.all(np.isfinite(lam)):
        return None
    try:
        H = torch.autograd.functional.hessian(_lagrangian(fun, specs, lam, shape), x.clone())
    except RuntimeError:  # not twice differentiable
        return None
    H = H.detach().cpu().double().numpy().reshape(n, n)
    H = (H + H.T) / 2
    if not np.all(np.isfinite(H)):
        return None
    h_norm = float(np.max(np.abs(np.linalg.eigvalsh(H)))) if n else 0.0
    if h_norm == 0.0:
        return None
    strong, weak = [], []  # rows a: strong a.d = 0; weak a.d <= 0
    for row, (_, kind, _, _), act, m in zip(J, entries, active, lam, strict=True):
        if kind == "equality" or (act and m > mult_tol):
            strong.append(row)
        elif act:
            weak.append(row)
    eye = np.eye(n)
    for j in range(n):
        bounded = at_lo[j] or at_hi[j]
        if not bounded:
            continue
        if abs(bound_mult[j]) > mult_tol:
            strong.append(eye[j])
        else:
            weak.append(-eye[j] if at_lo[j] else eye[j])
    Z = scipy.linalg.null_space(np.array(strong)) if strong else eye
    if Z.shape[1] == 0:
        return None
    vals, vecs = np.linalg.eigh(Z.T @ H @ Z)
    if vals[0] >= -tol * h_norm:
        return None
    d = Z @ vecs[:, 0]
    slack = 1e-9 * np.linalg.norm(d)
    for direction in (d, -d):
        if all(float(a @ direction) <= slack for a in weak):
            return (
                f"not a minimum: the Lagrangian's curvature is {vals[0]:.3g} along a feasible "
                f"direction (< -tol x |Hessian| = {-tol * h_norm:.3g}): a saddle point or a maximum"
            )
    return None
