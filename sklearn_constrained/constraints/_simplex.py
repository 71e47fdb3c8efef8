"""Convex-combination weights: the probability simplex along an axis."""

from numbers import Integral

import torch
from sklearn.utils._param_validation import Interval

from ._base import ConstraintState, WeightConstraint

__all__ = ["Simplex"]


def project_simplex(t, axis=-1):
    """Euclidean projection of ``t`` onto the probability simplex along ``axis``.

    Every slice along ``axis`` is replaced by the closest vector (in
    Euclidean norm) whose entries are non-negative and sum to one; the
    sort-based algorithm (Held et al. 1974; Duchi et al. 2008) runs for all
    slices at once, without any host synchronisation.

    Parameters
    ----------
    t : torch.Tensor
        At least one dimension.
    axis : int, default=-1

    Returns
    -------
    torch.Tensor
        A new tensor shaped like ``t``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints._simplex import project_simplex
    >>> project_simplex(torch.tensor([[1.0, 0.5, -1.0], [2.0, 0.0, 0.0]]))
    tensor([[0.7500, 0.2500, 0.0000],
            [1.0000, 0.0000, 0.0000]])
    """
    v = t.movedim(axis, -1)
    # The projection commutes with adding a constant to a slice: shifting by
    # the slice's maximum avoids cancellation when entries are huge.
    v = v - v.amax(dim=-1, keepdim=True)
    k = v.shape[-1]
    u, _ = torch.sort(v, dim=-1, descending=True)
    css = u.cumsum(-1) - 1.0
    ind = torch.arange(1, k + 1, dtype=v.dtype, device=v.device)
    # the support size: the largest j with u_j > (sum_{i<=j} u_i - 1) / j (the
    # first entry always qualifies)
    support = ((u - css / ind) > 0).sum(-1, keepdim=True).clamp(min=1)
    theta = css.gather(-1, support - 1) / support.to(v.dtype)
    return torch.clamp(v - theta, min=0).movedim(-1, axis)


class Simplex(WeightConstraint):
    r"""Selected parameters are convex-combination weights along ``axis``.

    Every slice of a selected parameter along ``axis`` must be non-negative
    and sum to one (a point of the probability simplex), e.g. the rows of a
    mixing matrix that combines several operators into one. It is an
    equality constraint with one multiplier per entry (for its negative part
    :math:`\max(0, -w_{ij})`) and one per slice (for
    :math:`\sum_j w_{ij} - 1`), so the strict violation is the vector of both;
    ``value`` is the total violation
    :math:`\sum_{ij} \max(0, -w_{ij}) + \sum_i |\sum_j w_{ij} - 1|`, zero
    exactly on the simplex. The closed-form projection (S-ADMM's prox) is
    the sort-based Euclidean projection onto the simplex (shifted by each
    slice's maximum first, which keeps it exact for huge entries); there is
    no level to tune.

    Parameters
    ----------
    params : str, list of str or callable
        Which parameters hold convex-combination weights, e.g. ``"mixing"``
        or ``"*.mixing"`` (see :class:`L2Norm`). Required: the default
        selection of every weight matrix is rarely what is meant.
    axis : int, default=-1
        The axis along which entries sum to one (``-1``: each row of a
        matrix; a vector as a whole).

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import Simplex
    >>> c = Simplex("mixing")
    >>> float(c.value([torch.tensor([[0.25, 0.75], [0.5, 0.5]])]))
    0.0
    >>> float(c.value([torch.tensor([[-0.5, 1.0], [0.5, 0.25]])]))  # 0.5 + |0.5 - 1| + |0.75 - 1|
    1.25
    """

    kind = "equality"
    level_names = ()
    _parameter_hints = {
        "params": "Select the convex-combination weights by name (e.g. Simplex(params='mixing')); "
        "None would constrain every weight matrix."
    }
    _parameter_constraints = {
        "params": [str, list, tuple, callable],
        "axis": [Interval(Integral, None, None, closed="neither")],
    }

    def __init__(self, params, axis=-1):
        self.params = params
        self.axis = axis

    def _check_selection(self, named, name):
        for pname, p in named:
            if not -p.dim() <= int(self.axis) < p.dim() or p.dim() == 0:
                raise ValueError(
                    f"Constraint {name!r}: Simplex(axis={self.axis}) does not fit parameter "
                    f"{pname!r} of shape {tuple(p.shape)}; choose an axis in "
                    f"[-{max(p.dim(), 1)}, {max(p.dim() - 1, 0)}] or select other parameters."
                )

    def _entries(self, tensors):
        neg = [torch.relu(-t).reshape(-1) for t in tensors]
        sums = [(t.sum(dim=int(self.axis)) - 1.0).reshape(-1) for t in tensors]
        return torch.cat(neg + sums)

    def value(self, tensors):
        """The total violation: negative mass plus the slices' distances to a sum of one."""
        return self._entries(tensors).abs().sum()

    def state(self, tensors):
        """The strict violation is the vector of every entry's part."""
        strict = self._entries(tensors)
        return ConstraintState(strict.abs().sum(), strict, strict)

    def project_(self, tensors):
        """The Euclidean projection of every slice onto the simplex."""
        with torch.no_grad():
            for t in tensors:
                t.copy_(project_simplex(t, int(self.axis)))
