"""Layers with L0 hard-concrete gates (Louizos, Welling and Kingma, 2018).

Every weight ``w`` of a gated layer is multiplied by a stochastic gate
``z`` in [0, 1] drawn from a hard-concrete distribution with a learnable
location ``log_alpha``: ``u ~ U(0, 1)``,
``s = sigmoid((log u - log(1 - u) + log_alpha) / temperature)``,
``z = min(1, max(0, s * (limit_r - limit_l) + limit_l))``. The gate is exactly
0 with positive probability, and the probability that it is not,
``sigmoid(log_alpha - temperature * log(-limit_l / limit_r))``, is
differentiable: its mean over the gates is the *expected density* that the
:class:`~sklearn_constrained.constraints.Density` constraint bounds.

In training mode one gate sample is drawn per forward pass (shared by the
batch); in evaluation mode (``module.eval()``, used by ``predict``) the gates
are the deterministic test-time estimate
``min(1, max(0, sigmoid(log_alpha) * (limit_r - limit_l) + limit_l))``, so
predictions are deterministic.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._base import SizedModule
from ._linear import _ACTIVATIONS

__all__ = ["L0MLP", "HardConcreteGates", "L0Conv2d", "L0Linear"]


class HardConcreteGates:
    """Mixin of the gated layers: the gate logic shared by :class:`L0Linear` and :class:`L0Conv2d`.

    A gated layer owns a flat parameter ``log_alpha`` (one entry per gated
    weight; flat, so that the default parameter selection of the weight
    constraints, which takes tensors of two or more dimensions, leaves it
    out) and the hyperparameters ``temperature``, ``limit_l``, ``limit_r``.
    """

    def _init_gates(self, n_gates, droprate_init, temperature, limit_l, limit_r):
        if not 0.0 < droprate_init < 1.0:
            raise ValueError(
                f"{type(self).__name__}: `droprate_init` must lie in (0, 1); got {droprate_init!r}."
            )
        if not temperature > 0:
            raise ValueError(
                f"{type(self).__name__}: `temperature` must be > 0; got {temperature!r}."
            )
        if not (limit_l < 0.0 and limit_r > 1.0):
            raise ValueError(
                f"{type(self).__name__}: the stretch interval must contain [0, 1] strictly "
                f"(limit_l < 0 < 1 < limit_r); got [{limit_l!r}, {limit_r!r}]."
            )
        self.droprate_init = float(droprate_init)
        self.temperature = float(temperature)
        self.limit_l = float(limit_l)
        self.limit_r = float(limit_r)
        init = math.log(1.0 - droprate_init) - math.log(droprate_init)
        self.log_alpha = nn.Parameter(torch.full((int(n_gates),), init))

    @property
    def n_gates(self):
        """The number of gates (gated weights)."""
        return self.log_alpha.numel()

    def active_probability(self):
        """``P(z != 0)`` for every gate: differentiable in ``log_alpha``."""
        shift = self.temperature * math.log(-self.limit_l / self.limit_r)
        return torch.sigmoid(self.log_alpha - shift)

    def expected_active(self):
        """The expected number of non-zero gates (the expected L0 norm)."""
        return self.active_probability().sum()

    def expected_density(self):
        """The expected share of non-zero gates."""
        return self.expected_active() / self.n_gates

    def deterministic_gates(self):
        """The test-time gates (used in evaluation mode)."""
        return torch.clamp(
            torch.sigmoid(self.log_alpha) * (self.limit_r - self.limit_l) + self.limit_l, 0.0, 1.0
        )

    def density(self):
        """The share of weights kept by the test-time gates (a float)."""
        with torch.no_grad():
            return float((self.deterministic_gates() > 0).double().mean())

    def gates(self):
        """A sample of the gates in training mode, the test-time gates otherwise."""
        if not self.training:
            return self.deterministic_gates()
        eps = 1e-6
        u = torch.rand_like(self.log_alpha).clamp(eps, 1.0 - eps)
        s = torch.sigmoid((torch.log(u) - torch.log1p(-u) + self.log_alpha) / self.temperature)
        return torch.clamp(s * (self.limit_r - self.limit_l) + self.limit_l, 0.0, 1.0)


class L0Linear(HardConcreteGates, nn.Module):
    """A linear layer whose every weight has an L0 hard-concrete gate.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool, default=True
        The bias is not gated.
    droprate_init : float, default=0.01
        The initial probability that a gate is closed (``log_alpha`` starts
        at ``log((1 - p) / p)``): 0.01 gives a dense layer at the start.
    temperature : float, default=2/3
        The hard-concrete temperature (the paper's beta).
    limit_l, limit_r : float, default=-0.1, 1.1
        The stretch interval (the paper's gamma, zeta).

    Attributes
    ----------
    weight : Parameter of shape (out_features, in_features)
    bias : Parameter of shape (out_features,) or None
    log_alpha : Parameter of shape (out_features * in_features,)
        The gates' locations, flat.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.models import L0Linear
    >>> layer = L0Linear(4, 3).eval()
    >>> layer(torch.ones(2, 4)).shape
    torch.Size([2, 3])
    >>> round(layer.expected_density().item(), 3)
    0.998
    """

    def __init__(
        self,
        in_features,
        out_features,
        bias=True,
        droprate_init=0.01,
        temperature=2.0 / 3.0,
        limit_l=-0.1,
        limit_r=1.1,
    ):
        nn.Module.__init__(self)
        reference = nn.Linear(in_features, out_features, bias=bias)  # the usual initialisation
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = nn.Parameter(reference.weight.detach().clone())
        self.bias = nn.Parameter(reference.bias.detach().clone()) if bias else None
        self._init_gates(self.weight.numel(), droprate_init, temperature, limit_l, limit_r)

    def forward(self, X):
        return F.linear(X, self.weight * self.gates().view_as(self.weight), self.bias)

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, temperature={self.temperature:.3g}"
        )


class L0Conv2d(HardConcreteGates, nn.Module):
    """A 2-D convolution whose every kernel weight has an L0 hard-concrete gate.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or tuple
    stride, padding : int or tuple, default=1, 0
    bias : bool, default=True
    droprate_init, temperature, limit_l, limit_r : float
        As in :class:`L0Linear`.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.models import L0Conv2d
    >>> L0Conv2d(1, 4, 3, padding=1)(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 4, 8, 8])
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        bias=True,
        droprate_init=0.01,
        temperature=2.0 / 3.0,
        limit_l=-0.1,
        limit_r=1.1,
    ):
        nn.Module.__init__(self)
        reference = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias
        )
        self.stride, self.padding = reference.stride, reference.padding
        self.weight = nn.Parameter(reference.weight.detach().clone())
        self.bias = nn.Parameter(reference.bias.detach().clone()) if bias else None
        self._init_gates(self.weight.numel(), droprate_init, temperature, limit_l, limit_r)

    def forward(self, X):
        w = self.weight * self.gates().view_as(self.weight)
        return F.conv2d(X, w, self.bias, stride=self.stride, padding=self.padding)


class L0MLP(SizedModule):
    """A multi-layer perceptron of :class:`L0Linear` layers (every weight gated).

    The gated counterpart of :class:`MLP`, for the
    :class:`~sklearn_constrained.constraints.Density` constraint (e.g. the
    300-100 MNIST network of Louizos et al.).

    Parameters
    ----------
    n_features : int
        Input width (inputs are flattened).
    n_outputs : int
    hidden_layer_sizes : tuple of int, default=(64,)
    activation : {"relu", "tanh", "gelu", "logistic"}, default="relu"
    droprate_init, temperature, limit_l, limit_r : float
        The gates' hyperparameters (see :class:`L0Linear`).

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.models import L0MLP
    >>> net = L0MLP(8, 2, hidden_layer_sizes=(16,))
    >>> net(torch.zeros(5, 8)).shape
    torch.Size([5, 2])
    >>> [n for n, _ in net.named_parameters()]
    ['layers.0.weight', 'layers.0.bias', 'layers.0.log_alpha',
     'layers.2.weight', 'layers.2.bias', 'layers.2.log_alpha']
    """

    def __init__(
        self,
        n_features,
        n_outputs,
        hidden_layer_sizes=(64,),
        activation="relu",
        droprate_init=0.01,
        temperature=2.0 / 3.0,
        limit_l=-0.1,
        limit_r=1.1,
    ):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"L0MLP: unknown `activation`={activation!r}; choose one of {sorted(_ACTIVATIONS)}."
            )
        gate = {
            "droprate_init": droprate_init,
            "temperature": temperature,
            "limit_l": limit_l,
            "limit_r": limit_r,
        }
        layers, width = [], int(n_features)
        for h in hidden_layer_sizes:
            layers += [L0Linear(width, int(h), **gate), _ACTIVATIONS[activation]()]
            width = int(h)
        layers.append(L0Linear(width, int(n_outputs), **gate))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        return self.layers(X.flatten(1))
