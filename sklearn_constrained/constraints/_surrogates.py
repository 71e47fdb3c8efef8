"""Smooth surrogates of the indicator "sample i is predicted as class k".

A rate is a mean of such indicators: piecewise constant in the weights, so
its gradient is zero almost everywhere. The rate constraints use the true
indicator for their strict violation (the multipliers) and a surrogate for
their violation (the gradients): Cotter et al.'s proxy constraints. The
fairness guide explains the choice of the default.
"""

import torch

__all__ = ["SURROGATES", "indicator_columns", "surrogate_indicator"]

#: the surrogates a rate constraint accepts
SURROGATES = ("sigmoid", "hinge")


def _class_index_tensor(logits, k):
    if isinstance(k, torch.Tensor):
        return k.to(logits.device).long().reshape(-1, 1)
    return torch.full((logits.shape[0], 1), int(k), dtype=torch.long, device=logits.device)


def surrogate_indicator(logits, k, surrogate="sigmoid"):
    """The true and smooth indicators of "predicted as class ``k``".

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Raw module outputs; ``argmax`` gives the prediction.
    k : int or torch.Tensor of shape (n_samples,)
        The class index (one for all samples, or one per sample).
    surrogate : {"sigmoid", "hinge"}, default="sigmoid"
        ``"sigmoid"``: the softmax probability of class ``k``;
        ``"hinge"``: the ramp ``clip((1 + m) / 2, 0, 1)`` of the margin
        ``m = z_k - max_{j != k} z_j``.

    Returns
    -------
    hard : torch.Tensor of shape (n_samples,)
        ``1.0`` where ``argmax(logits) == k``, else ``0.0`` (no gradient).
    soft : torch.Tensor of shape (n_samples,)
        The differentiable surrogate, in ``[0, 1]``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import surrogate_indicator
    >>> z = torch.tensor([[0.0, 8.0], [3.0, -3.0]])
    >>> hard, soft = surrogate_indicator(z, 1)
    >>> hard.tolist(), [round(v, 3) for v in soft.tolist()]
    ([1.0, 0.0], [1.0, 0.002])
    >>> surrogate_indicator(z, 1, surrogate="hinge")[1].tolist()
    [1.0, 0.0]
    """
    if surrogate not in SURROGATES:
        raise ValueError(f"Unknown `surrogate`={surrogate!r}; choose 'sigmoid' or 'hinge'.")
    if logits.dim() == 2 and logits.shape[1] == 2 and not isinstance(k, torch.Tensor):
        return _binary_indicator(logits, int(k), surrogate)
    idx = _class_index_tensor(logits, k)
    hard = (logits.detach().argmax(dim=1, keepdim=True) == idx).to(logits.dtype).squeeze(1)
    if surrogate == "sigmoid":
        soft = torch.softmax(logits, dim=1).gather(1, idx).squeeze(1)
    else:
        z_k = logits.gather(1, idx).squeeze(1)
        others = logits.scatter(1, idx, float("-inf")).amax(dim=1)
        soft = torch.clamp(0.5 * (1.0 + z_k - others), 0.0, 1.0)
    return hard, soft


def indicator_columns(logits, k, surrogate="sigmoid"):
    """:func:`surrogate_indicator` as ``(n_samples, 1)`` columns (no reshaping in the graph).

    Examples
    --------
    >>> import torch
    >>> hard, soft = indicator_columns(torch.tensor([[0.0, 8.0], [3.0, -3.0]]), 1)
    >>> hard.tolist(), soft.shape
    ([[1.0], [0.0]], torch.Size([2, 1]))
    """
    if (
        surrogate in SURROGATES
        and logits.dim() == 2
        and logits.shape[1] == 2
        and not isinstance(k, torch.Tensor)
    ):
        return _binary_indicator(logits, int(k), surrogate, column=True)
    hard, soft = surrogate_indicator(logits, k, surrogate)
    return hard.unsqueeze(1), soft.unsqueeze(1)


def _binary_indicator(logits, k, surrogate, column=False):
    """The two-class case in four operations, from the margin ``z_k - z_{1-k}``.

    The softmax probability of class ``k`` is the sigmoid of the margin;
    ``argmax`` breaks a tie towards class 0. With ``column`` the margin is an
    ``(n, 1)`` column (a matrix product instead of a matrix-vector one: the
    same two products and one sum per sample, so the same values).
    """
    vector, zero = _margin_vector(k, logits, column)
    margin = torch.mm(logits, vector) if column else torch.mv(logits, vector)
    # comparisons record no gradient: no detach needed (a 0-d zero costs less than 0)
    hard = (torch.gt(margin, zero) if k == 1 else torch.ge(margin, zero)).to(logits.dtype)
    if surrogate == "sigmoid":
        soft = torch.sigmoid(margin)
    else:
        soft = torch.clamp(0.5 * (1.0 + margin), 0.0, 1.0)
    return hard, soft


_MARGIN_VECTORS = {}


def _margin_vector(k, like, column=False):
    """The margin's ``(2,)`` (or ``(2, 1)``) weights and a 0-d zero, on ``like``'s device."""
    key = (k, like.device, like.dtype, column)
    out = _MARGIN_VECTORS.get(key)
    if out is None:
        v = torch.tensor([-1.0, 1.0] if k == 1 else [1.0, -1.0], dtype=like.dtype)
        v = (v.reshape(2, 1) if column else v).to(like.device)
        out = _MARGIN_VECTORS[key] = (v, torch.zeros((), dtype=like.dtype, device=like.device))
    return out
