"""Closed-form Euclidean projections: the proximal steps of S-ADMM.

The proximal operator of the indicator of a closed convex set is the
Euclidean projection onto it. Each function here returns a new tensor (the
input is left untouched) and runs without a host synchronisation, so S-ADMM
can call it after every primal step on any device. They double as ``prox=``
arguments of :class:`~sklearn_constrained.optim.Inequality` and
:class:`~sklearn_constrained.optim.Equality` in
:func:`~sklearn_constrained.optim.minimize`, e.g.
``Inequality(g, upper=0.0, prox=project_nonnegative)``.

Norm levels follow the constraints of :mod:`sklearn_constrained.constraints`:
``project_l2_ball(x, bound)`` projects onto ``{sum(x**2) <= bound}`` (a
squared norm, like :class:`~sklearn_constrained.constraints.L2Norm`) and
``project_l1_ball(x, bound)`` onto ``{sum(|x|) <= bound}``.
"""

import torch

# One implementation of the simplex projection (shifted by each slice's
# maximum, so it stays exact for huge entries), shared with the Simplex constraint.
from ..constraints._simplex import project_simplex

__all__ = [
    "project_nonnegative",
    "project_box",
    "project_l2_ball",
    "project_l1_ball",
    "project_simplex",
    "project_orthogonal",
]


def project_nonnegative(x):
    """Projection onto the non-negative orthant: ``max(x, 0)`` entrywise.

    Examples
    --------
    >>> import torch
    >>> project_nonnegative(torch.tensor([1.0, -2.0, 0.5])).tolist()
    [1.0, 0.0, 0.5]
    """
    return torch.clamp(x, min=0)


def project_box(x, low=None, high=None):
    """Projection onto the box ``low <= x <= high`` (clip); ``None`` is unbounded.

    ``low`` and ``high`` are numbers or tensors broadcastable to ``x``.

    Examples
    --------
    >>> import torch
    >>> project_box(torch.tensor([-1.0, 0.5, 3.0]), 0.0, 1.0).tolist()
    [0.0, 0.5, 1.0]
    """
    if low is None and high is None:
        return x.clone()
    return torch.clamp(x, min=low, max=high)


def project_l2_ball(x, bound):
    r"""Projection onto :math:`\{x : \sum x^2 \le \text{bound}\}`: rescale when outside.

    ``bound`` is a *squared* norm (the level of
    :class:`~sklearn_constrained.constraints.L2Norm`).

    Examples
    --------
    >>> import torch
    >>> project_l2_ball(torch.tensor([3.0, 4.0]), 1.0).tolist()
    [0.6000000238418579, 0.800000011920929]
    """
    sq = x.pow(2).sum()
    scale = torch.sqrt(torch.clamp(bound / torch.clamp(sq, min=1e-30), max=1.0))
    return x * scale


def project_l1_ball(x, bound):
    r"""Projection onto :math:`\{x : \sum |x| \le \text{bound}\}` (Duchi et al., 2008).

    Soft-thresholding :math:`\mathrm{sign}(x)\max(|x| - \theta, 0)` with the
    threshold :math:`\theta \ge 0` found by sorting; :math:`\theta = 0` when
    ``x`` is already inside. No host synchronisation (the threshold is
    computed with tensor operations only).

    Examples
    --------
    >>> import torch
    >>> project_l1_ball(torch.tensor([3.0, -1.0, 0.0]), 2.0).tolist()
    [2.0, -0.0, 0.0]
    """
    flat = x.reshape(-1)
    a = flat.abs()
    n = a.numel()
    if n == 0:
        return x.clone()
    u, _ = torch.sort(a, descending=True)
    css = torch.cumsum(u, 0)
    k = torch.arange(1, n + 1, device=a.device, dtype=a.dtype)
    # u_k * k > css_k - bound holds for a prefix of k; its length is rho.
    rho = (u * k > css - bound).sum().clamp(min=1)
    theta = (css.gather(0, (rho - 1).reshape(1)) - bound) / rho.to(a.dtype)
    theta = theta.clamp(min=0)
    return (torch.sign(flat) * torch.clamp(a - theta, min=0)).reshape(x.shape)


def project_orthogonal(x):
    r"""The nearest matrix with orthonormal rows or columns: the polar factor.

    For a matrix :math:`W = U \Sigma V^\top` (reduced SVD) the polar factor
    :math:`U V^\top` is the Frobenius-nearest matrix with orthonormal rows
    (wide :math:`W`) or columns (tall :math:`W`), i.e. the projection onto
    ``Orthogonality(bound=0)``. Tensors of more than two dimensions
    (convolution kernels) are reshaped to ``out x (in*k*k)`` and back; a
    vector is normalised to unit length.

    Examples
    --------
    >>> import torch
    >>> q = project_orthogonal(torch.tensor([[2.0, 0.0], [0.0, 0.5]]))
    >>> torch.allclose(q, torch.eye(2))
    True
    """
    if x.dim() < 2:
        return x / torch.clamp(x.norm(), min=1e-30)
    w = x.reshape(x.shape[0], -1)
    u, _, vh = torch.linalg.svd(w, full_matrices=False)
    return (u @ vh).reshape(x.shape)


def apply_jointly_(tensors, fn):
    """Apply a projection jointly to a list of tensors (concatenated), in place."""
    if len(tensors) == 1:
        tensors[0].copy_(fn(tensors[0]))
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    out = fn(flat)
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(out[offset : offset + n].view_as(t))
        offset += n
