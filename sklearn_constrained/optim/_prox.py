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


#: The odd quintic p(x) = a x + b x^3 + c x^5 of the first half of the
#: Newton-Schulz steps: the largest slope at 0 such that p maps [0, 1.3] into
#: [0, 1.2] and [0.6, 1.3] into [0.6, 1.2] (a linear program over a grid),
#: rounded to a = 3.407, for which p maps [0, 1.3] into [0, 1.2], [0.59, 1.3]
#: into [0.59, 1.2] and p(x) >= 1.98 x on [0, 0.59] (tests/optim/test_prox.py
#: checks these). Small singular values grow about 3.4 times per step, and
#: none leaves the band that the cubic steps of the second half bring to 1.
_FAST_QUINTIC = (3.407, -4.617, 1.861)

#: Newton-Schulz steps of ``project_orthogonal(..., steps=None)``: every
#: singular value down to about 2e-4 times the scale (an upper bound on the
#: largest) converges to 1 within 1e-6 (to rounding in float64 down to 4e-4).
NEWTON_SCHULZ_STEPS = 12

_ORTHOGONAL_METHODS = ("auto", "svd", "newton_schulz")


def project_orthogonal(x, *, method="auto", steps=None, batched=False):
    r"""The nearest matrix with orthonormal rows or columns: the polar factor.

    For a matrix :math:`W = U \Sigma V^\top` (reduced SVD) the polar factor
    :math:`U V^\top` is the Frobenius-nearest matrix with orthonormal rows
    (wide :math:`W`) or columns (tall :math:`W`), i.e. the projection onto
    ``Orthogonality(bound=0)``. Tensors of more than two dimensions
    (convolution kernels) are reshaped to ``out x (in*k*k)`` and back; a
    vector (and a matrix with one row or one column) is divided by its norm.

    Parameters
    ----------
    x : torch.Tensor
        A vector, a matrix, or a kernel ``(out, in, *k)``; with
        ``batched=True``, a stack of them along the first dimension (each
        ``x[i]`` is projected on its own).
    method : {"auto", "svd", "newton_schulz"}, default="auto"
        ``"svd"``: exact, from ``torch.linalg.svd``, which synchronises the
        host with a CUDA device. ``"newton_schulz"``: matrix products only, a
        fixed number of steps and no data-dependent branch, so it never
        synchronises (see Notes). ``"auto"``: ``"svd"`` on the CPU (exact
        whatever the conditioning, and about as fast there: the iteration
        wins on large kernels, the SVD on small ones), ``"newton_schulz"`` on
        any other device.
    steps : int or None, default=None
        Newton-Schulz steps (ignored by ``"svd"``); ``None`` means
        ``NEWTON_SCHULZ_STEPS`` (12). The first ``steps // 2`` are fast
        quintic steps, the others classic cubic ones.
    batched : bool, default=False
        Whether the first dimension of ``x`` indexes independent matrices
        (e.g. kernels of one shape stacked by
        :class:`~sklearn_constrained.constraints.Orthogonality`).

    Returns
    -------
    torch.Tensor
        A new tensor of the shape and dtype of ``x`` (``x`` is left untouched).

    Notes
    -----
    The Newton-Schulz iteration works on the wide orientation :math:`X`
    (``rows <= columns``; a tall matrix is transposed and back). It first
    divides :math:`X` by its largest entry (no overflow or underflow in the
    products), then by :math:`\|A^4\|_F^{1/8}` with :math:`A = X X^\top`,
    an upper bound on the spectral norm that exceeds it by at most
    :math:`r^{1/16}` for :math:`r` rows (1.48 for 512), so every singular
    value lies in :math:`[0, 1]`. Each step maps :math:`X` to
    :math:`p(X X^\top) X`, which keeps the singular vectors and applies a
    scalar polynomial to each singular value: first ``steps // 2`` steps of a
    fixed odd quintic that multiplies small singular values by about 3.4,
    then cubic steps :math:`X \leftarrow \tfrac32 X - \tfrac12 X X^\top X`
    that converge quadratically to 1. The result is therefore always
    :math:`U f(\Sigma) V^\top` with :math:`0 \le f \le 1`, the polar factor
    once :math:`f = 1`: with the default 12 steps, singular values down to
    about ``2e-4`` times the bound reach 1 within ``1e-6`` (a condition
    number up to about 3,000 for 512 rows). Smaller ones are scaled up but
    stay below 1 (pass more ``steps``: each fast step gains a factor of
    about 3.4).

    Rank-deficient input (rank :math:`r`): zero singular values stay zero,
    so the iteration returns the partial isometry :math:`U_r V_r^\top`, the
    unique polar factor with the null space of :math:`W` (orthonormal rows
    or columns on the range of :math:`W`, zero on its complement: its Gram
    matrix has :math:`r` ones and zeros), and the zero matrix gives zeros
    (no NaN). In floating point, the zero singular values of a computed
    rank-deficient matrix are rounding errors (about ``eps`` times the
    largest) that the steps multiply by their gain (about 2e4 with the
    default): they come out near 1e-12 in float64 and 1e-3 in float32 rather
    than exactly 0. The result is then not on the orthogonal manifold; the
    nearest points there are not unique, and the SVD returns one of them (it
    completes :math:`U_r V_r^\top` with arbitrary orthonormal directions). A
    zero vector is returned as zeros by both methods.

    Float16 and bfloat16 input is projected in float32 and cast back.

    Examples
    --------
    >>> import torch
    >>> q = project_orthogonal(torch.tensor([[2.0, 0.0], [0.0, 0.5]]))
    >>> torch.allclose(q, torch.eye(2))
    True
    >>> w = torch.randn(3, 16, 8, 3, 3, generator=torch.Generator().manual_seed(0))
    >>> q = project_orthogonal(w, method="newton_schulz", batched=True)  # 3 kernels
    >>> m = q.reshape(3, 16, -1)
    >>> torch.allclose(m @ m.mT, torch.eye(16).expand(3, 16, 16), atol=1e-5)
    True
    >>> ref = project_orthogonal(w, method="svd", batched=True)
    >>> bool((q - ref).abs().max() < 1e-5)
    True
    """
    if method not in _ORTHOGONAL_METHODS:
        raise ValueError(
            f"project_orthogonal: unknown method={method!r}; choose one of {_ORTHOGONAL_METHODS}."
        )
    if steps is None:
        steps = NEWTON_SCHULZ_STEPS
    elif isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(
            f"project_orthogonal: steps must be a positive int or None; got {steps!r}."
        )
    if batched:
        if x.dim() < 2:
            raise ValueError(
                "project_orthogonal: batched=True needs x of shape (batch, rows, ...); got shape "
                f"{tuple(x.shape)}. Pass batched=False for a single vector."
            )
        mats = x.reshape(x.shape[0], x.shape[1] if x.dim() > 2 else 1, -1)
    elif x.dim() < 2:
        return x / torch.clamp(x.norm(), min=1e-30)
    else:
        mats = x.reshape(1, x.shape[0], -1)
    work = mats if mats.dtype in (torch.float32, torch.float64) else mats.float()
    if method == "auto":
        method = "svd" if x.device.type == "cpu" else "newton_schulz"
    if min(work.shape[-2:]) == 1:  # a row or a column: its polar factor is its direction
        q = work / torch.linalg.matrix_norm(work, keepdim=True).clamp(min=1e-30)
    elif method == "svd":
        u, _, vh = torch.linalg.svd(work, full_matrices=False)
        q = u @ vh
    else:
        q = _polar_newton_schulz(work, steps)
    return q.to(x.dtype).reshape(x.shape)


def polar_factors(mats, *, method="auto", steps=None):
    """Polar factors of a list of matrices of any shapes, in few batched calls.

    The SVD (``method="svd"``, and ``"auto"`` on the CPU) batches matrices of
    one shape. Newton-Schulz batches every matrix with the same number of
    rows in the wide orientation (tall ones transposed), zero-padding the
    columns to the widest: zero columns stay exactly zero under the
    iteration and change neither the scale nor the other columns, so one
    call per row count gives each matrix's own result with fewer kernel
    launches (9 shapes but 5 row counts in ResNet13).
    """
    if not mats:
        return []
    if method == "auto":
        method = "svd" if mats[0].device.type == "cpu" else "newton_schulz"
    out = [None] * len(mats)
    groups = {}
    for i, m in enumerate(mats):
        if method == "svd":
            key = (tuple(m.shape), m.dtype)
        else:
            key = (min(m.shape), m.dtype)
        groups.setdefault(key, []).append(i)
    for idx in groups.values():
        if method == "svd":
            q = project_orthogonal(torch.stack([mats[i] for i in idx]), method="svd", batched=True)
            for k, i in enumerate(idx):
                out[i] = q[k]
            continue
        wide = [mats[i].mT if mats[i].shape[0] > mats[i].shape[1] else mats[i] for i in idx]
        cols = max(w.shape[1] for w in wide)
        padded = [
            w if w.shape[1] == cols else torch.nn.functional.pad(w, (0, cols - w.shape[1]))
            for w in wide
        ]
        q = project_orthogonal(torch.stack(padded), method=method, steps=steps, batched=True)
        for k, (i, w) in enumerate(zip(idx, wide, strict=True)):
            qk = q[k, :, : w.shape[1]]
            out[i] = qk.mT if mats[i].shape[0] > mats[i].shape[1] else qk
    return out


def _polar_newton_schulz(w, steps):
    """Newton-Schulz polar factors of a stack ``(B, m, n)`` (see project_orthogonal)."""
    tall = w.shape[-2] > w.shape[-1]
    x = w.mT if tall else w
    tiny = torch.finfo(x.dtype).tiny
    x = x / x.abs().amax(dim=(-2, -1), keepdim=True).clamp(min=tiny)
    a = x @ x.mT
    fro = torch.linalg.matrix_norm(a, keepdim=True).clamp(min=tiny)
    h = a / fro
    h = h @ h
    h = h @ h  # (A / ||A||_F)^4: its norm bounds the spectral norm of A from above
    bound = (fro * torch.linalg.matrix_norm(h, keepdim=True).pow(0.25)).clamp(min=tiny)
    x = x * bound.rsqrt()
    a = a / bound
    c1, c3, c5 = _FAST_QUINTIC
    fast = steps // 2
    for k in range(steps):
        if k:
            a = x @ x.mT
        if k < fast:
            poly = torch.baddbmm(a, a, a, beta=c3, alpha=c5)  # c3 A + c5 A^2
            x = torch.baddbmm(x, poly, x, beta=c1)  # c1 X + (c3 A + c5 A^2) X
        else:
            x = torch.baddbmm(x, a, x, beta=1.5, alpha=-0.5)  # 3/2 X - 1/2 A X
    return x.mT if tall else x


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
