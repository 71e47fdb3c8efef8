"""Orthogonality of weight matrices and convolution kernels."""

import torch

from ._base import ConstraintState, WeightConstraint, level_interval
from ._weights import PARAMS_CONSTRAINT

__all__ = ["Orthogonality"]


def _as_matrix(t):
    """A parameter as the matrix whose Gram is constrained: ``out x rest``."""
    return t.reshape(1, -1) if t.dim() == 1 else t.reshape(t.shape[0], -1)


def _gram_minus_identity(W):
    """``G - I`` with ``G`` the smaller Gram matrix of ``W`` (batched over leading dims)."""
    m, n = W.shape[-2:]
    G = W @ W.mT if m <= n else W.mT @ W
    eye = torch.eye(min(m, n), dtype=W.dtype, device=W.device)
    return G - eye


class Orthogonality(WeightConstraint):
    r"""Selected weights have orthonormal rows (or columns).

    The constraint is :math:`\sum_W \|G_W - I\|_F^2 \le` ``bound``.

    Each selected parameter is read as a matrix :math:`W` of shape
    ``out x in`` (a linear layer's weight) or ``out x in*k*k`` (a convolution
    kernel reshaped, the cheap "kernel orthogonality" of Wang et al. 2020).
    :math:`G_W` is the *smaller* Gram matrix, :math:`W W^\top` when
    ``out <= in`` (orthonormal rows) and :math:`W^\top W` otherwise
    (orthonormal columns), so a wide or a tall matrix can reach 0; a vector
    is read as one row (the constraint then asks for unit norm). This is
    eq. (15) of Lavado et al., summed over the selected layers; all layers
    are evaluated together once per step (one batched product per distinct
    shape).

    **As an equality** (``bound=0``, the default) the constraint is
    :math:`G_W - I = 0` entry by entry: ``defect`` is the vector of every
    entry of :math:`G_W - I` (layers grouped by shape), so
    :class:`~sklearn_constrained.methods.GDA` carries one multiplier per
    entry, i.e. a matrix-valued multiplier :math:`\Lambda_W` per layer,
    whose Lagrangian term :math:`\langle \Lambda_W, G_W - I\rangle` has
    gradient :math:`(\Lambda_W + \Lambda_W^\top) W` (for the row case) that
    does not vanish at feasibility. (A single multiplier on the squared
    norm would not work: the squared norm has zero gradient on the feasible
    set, so its multiplier only ever acts as a growing quadratic penalty.)
    ``value`` is still the scalar :math:`\sum_W \|G_W - I\|_F^2`, which is
    what ``evaluate_constraints`` and the history report; ``multipliers_``
    holds the flattened matrices. The closed-form projection used by
    :class:`~sklearn_constrained.methods.SADMM` replaces each :math:`W` by its
    polar factor :math:`U V^\top` (from the thin SVD :math:`W = U S V^\top`),
    the nearest matrix with orthonormal rows/columns in Frobenius norm:
    computed by the SVD on the CPU and, on CUDA, by a Newton-Schulz
    iteration that needs no host synchronisation (see
    :func:`~sklearn_constrained.optim.project_orthogonal`).

    **As an inequality** (``bound > 0``) the constraint is on the scalar,
    with one multiplier: a soft orthogonality budget. Its feasible set is not
    convex and has no closed-form projection, so S-ADMM rejects it (use
    ``method="gda"``, ``"sal"`` or ``"fp"``; or ``bound=0`` with S-ADMM).

    Parameters
    ----------
    bound : float, default=0.0
        The level, ``>= 0``; ``0`` asks for exact orthogonality (an equality).
    params : None, str, list of str or callable, default=None
        Which parameters (see :class:`L2Norm`); by default every weight
        matrix and convolution kernel.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import Orthogonality
    >>> c = Orthogonality()
    >>> float(c.value([torch.eye(2, 3)]))   # orthonormal rows
    0.0
    >>> float(c.value([2 * torch.eye(3, 2)]))  # columns of norm 2: ||4I - I||^2
    18.0
    >>> c.kind, Orthogonality(bound=0.5).kind
    ('equality', 'inequality')
    """

    _parameter_constraints = {"bound": [level_interval()], "params": PARAMS_CONSTRAINT}

    def __init__(self, bound=0.0, params=None):
        self.bound = bound
        self.params = params

    @property
    def kind(self):
        try:
            return "equality" if float(self.bound) == 0.0 else "inequality"
        except (TypeError, ValueError):
            return "inequality"

    def _check_selection(self, named, name):
        scalars = [n for n, p in named if p.dim() == 0]
        if scalars:
            raise ValueError(
                f"Constraint {name!r}: Orthogonality needs matrices (or vectors); {scalars} "
                "are scalars. Select weight matrices or kernels with `params`."
            )

    def value(self, tensors):
        """The sum over the tensors of the squared Frobenius norm of ``G - I``."""
        return self.state(tensors).value

    def state(self, tensors):
        """Every entry of ``G - I`` as the strict violation of the equality (``bound=0``).

        Tensors of one shape are evaluated together (one batched product).
        """
        entries = []
        for group in _group_by_shape(tensors):
            W = torch.stack([_as_matrix(tensors[i]) for i in group])
            entries.append(_gram_minus_identity(W).reshape(-1))
        entries = torch.cat(entries) if len(entries) > 1 else entries[0]
        value = entries.square().sum()
        strict = entries if self.kind == "equality" else value - self.bound
        return ConstraintState(value, strict, strict)

    @property
    def has_projection(self):
        """Only exact orthogonality (``bound=0``) has a closed-form projection."""
        return self.kind == "equality"

    def project_(self, tensors):
        """Replace each matrix by its polar factor (the nearest orthonormal one)."""
        if self.kind != "equality":
            raise NotImplementedError(
                f"Orthogonality(bound={self.bound!r}) has no closed-form projection: only "
                "bound=0 (the polar factor) has one. Use method='gda', 'sal' or 'fp' for a "
                "soft orthogonality budget, or bound=0 with method='sadmm'."
            )
        # The polar factor of each layer, batched: the exact SVD on the CPU (one call per
        # shape), a fixed number of Newton-Schulz steps (matrix products only, no host
        # synchronisation, unlike torch.linalg.svd) on CUDA and other devices (one call
        # per row count).
        from ..optim._prox import polar_factors

        with torch.no_grad():
            polar = polar_factors([_as_matrix(t) for t in tensors], method="auto")
            for t, q in zip(tensors, polar, strict=True):
                t.copy_(q.reshape(t.shape))


def _group_by_shape(tensors):
    groups = {}
    for i, t in enumerate(tensors):
        groups.setdefault(tuple(_as_matrix(t).shape), []).append(i)
    return list(groups.values())
