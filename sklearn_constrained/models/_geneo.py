"""GENEONet: a white-box image classifier built from parametric GENEOs."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._images import ImageModel, resolve_image_shape

__all__ = ["GENEONet"]


class GENEONet(ImageModel):
    r"""A white-box image classifier of a few hundred interpretable parameters.

    The model is a small pipeline of group equivariant non-expansive
    operators (GENEOs, Bergomi et al. 2019; GENEOnet, Bocchi et al. 2023),
    every one of them described by a handful of parameters with a meaning:

    1. **Operators.** ``n_radial + n_edges + n_bars`` convolution kernels
       of size ``kernel_size``, each computed (never sampled) from its
       parameters and then made zero-mean and of unit L1 norm, so each
       operator is translation equivariant and non-expansive
       (:math:`\|K * x\|_\infty \le \|x\|_\infty`):

       * *radial* (ring / centre-surround) kernels
         :math:`\exp(-(|p| - r)^2 / 2s^2)` with ``radius`` :math:`r \ge 0`
         and ``radial_width`` :math:`w \ge 0`; radius 0 is a blob
         (difference-of-Gaussians-like) detector, a positive radius a ring
         detector. Invariant under rotations and reflections of the image.
       * *edge* kernels, the first derivative of a Gaussian across the
         direction ``orientation`` :math:`\theta` (radians): they respond to
         an edge running along :math:`\theta`, bright on its left.
       * *bar* kernels, minus the second derivative of a Gaussian across
         :math:`\theta`: they respond to a bright line running along
         :math:`\theta`.

       Oriented kernels have ``oriented_width`` :math:`w \ge 0`; rotating the
       image by a quarter turn rotates their response and adds
       :math:`\pi/2` to :math:`\theta` (the family is rotation equivariant).
       The Gaussian scale is :math:`s = \sqrt{w^2 + p^2}` with ``p =
       pixel_width``, the pixel's own footprint, so a width of 0 is
       admissible. Multi-channel images are first averaged to one channel.
    2. **Pooling and thresholds.** Each response map is max-pooled to a
       ``pool_size x pool_size`` grid of cells, and ``threshold``
       :math:`t \ge 0` keeps only the evidence above it:
       :math:`\max(0, \text{peak} - t)` (the same as thresholding before the
       max-pool).
    3. **Mixing.** ``n_channels`` composite operators, each a convex
       combination of the thresholded operators with weights ``mixing``
       (one row per channel, non-negative, summing to one): a convex
       combination of GENEOs is a GENEO.
    4. **Head.** A linear layer on the ``n_channels * pool_size**2``
       features, multiplied first by the constant ``gain`` (a fixed
       preconditioner that lets L-BFGS work with head weights of order one;
       it does not change what the model can represent).

    The interpretability rests on constraints, which the estimator enforces
    (:meth:`default_constraints`): ``NonNegativity`` on ``radius``, the widths
    and ``threshold``, and ``Simplex`` on ``mixing``. Train with
    ``optimizer="lbfgs"`` (full batch) and ``method="sadmm"``, whose split
    copy is feasible exactly, so the fitted model satisfies them to
    round-off. The initialisation is deterministic (radii spread over the
    kernel, orientations evenly spaced, zero thresholds, each channel mixing
    its own group of operators, a zero head).

    Parameters
    ----------
    n_features : int
        Values per sample (``C * H * W``).
    n_outputs : int
        Number of classes.
    image_shape : None or tuple of int, default=None
        ``(C, H, W)``; ``None`` infers it (see :func:`resolve_image_shape`).
    n_radial, n_edges, n_bars : int, default=4, 4, 4
        Number of operators of each family.
    n_channels : int, default=8
        Number of composite (mixed) operators.
    kernel_size : int, default=None
        Odd kernel size; ``None``: 5 for images up to 16 pixels wide, 7
        above.
    pool_size : int, default=None
        Side of the grid of pooling cells; ``None``: 2 for images up to 16
        pixels wide, 3 above.
    stride : int, default=None
        The operators are evaluated at every ``stride``-th pixel (the peaks
        are then taken over that sub-grid); ``None``: 1 for images up to 16
        pixels wide, 2 above (a quarter of the cost on MNIST).
    gain : float, default=10.0
        The constant applied to the features before the head.
    pixel_width : float, default=0.5
        The pixel footprint added in quadrature to every width.

    Attributes
    ----------
    radius, radial_width : Parameter of shape (n_radial,)
        Ring radius and thickness of the radial kernels, in pixels.
    orientation, oriented_width : Parameter of shape (n_edges + n_bars,)
        Direction (radians) and width (pixels) of the edge then bar kernels.
    threshold : Parameter of shape (n_operators,)
        Activation thresholds, in the units of the input.
    mixing : Parameter of shape (n_channels, n_operators)
        Convex-combination weights of the composite operators.
    head : torch.nn.Linear
        The linear classifier.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.models import GENEONet
    >>> net = GENEONet(64, 10)                      # load_digits: 8x8 images
    >>> net(torch.zeros(3, 64)).shape
    torch.Size([3, 10])
    >>> sum(p.numel() for p in net.parameters())
    462
    >>> sorted(GENEONet.default_constraints())
    ['nonnegative', 'simplex']
    """

    def __init__(
        self,
        n_features,
        n_outputs,
        image_shape=None,
        n_radial=4,
        n_edges=4,
        n_bars=4,
        n_channels=8,
        kernel_size=None,
        pool_size=None,
        stride=None,
        gain=10.0,
        pixel_width=0.5,
    ):
        super().__init__()
        self.image_shape = resolve_image_shape(n_features, image_shape, owner="GENEONet")
        side = min(self.image_shape[1:])
        if kernel_size is None:
            kernel_size = 5 if side <= 16 else 7
        if pool_size is None:
            pool_size = 2 if side <= 16 else 3
        if stride is None:
            stride = 1 if side <= 16 else 2
        kernel_size, pool_size, stride = int(kernel_size), int(pool_size), int(stride)
        counts = {"n_radial": n_radial, "n_edges": n_edges, "n_bars": n_bars}
        if any(int(v) < 0 for v in counts.values()) or sum(int(v) for v in counts.values()) == 0:
            raise ValueError(
                f"GENEONet: operator counts must be >= 0 and not all zero; got {counts}."
            )
        if kernel_size < 3 or kernel_size % 2 == 0:
            raise ValueError(
                f"GENEONet: `kernel_size` must be an odd integer >= 3; got {kernel_size!r}."
            )
        if pool_size < 1 or int(n_channels) < 1 or stride < 1:
            raise ValueError(
                "GENEONet: `pool_size`, `n_channels` and `stride` must be >= 1; "
                f"got {pool_size!r}, {n_channels!r}, {stride!r}."
            )
        if not gain > 0 or not pixel_width > 0:
            raise ValueError(
                f"GENEONet: `gain` and `pixel_width` must be > 0; got {gain!r}, {pixel_width!r}."
            )
        self.n_radial, self.n_edges, self.n_bars = int(n_radial), int(n_edges), int(n_bars)
        self.n_channels, self.kernel_size, self.pool_size = int(n_channels), kernel_size, pool_size
        self.stride = stride
        self.gain, self.pixel_width = float(gain), float(pixel_width)
        n_oriented = self.n_edges + self.n_bars
        self.n_operators = self.n_radial + n_oriented

        half = kernel_size // 2
        ys, xs = torch.meshgrid(
            torch.arange(-half, half + 1.0), torch.arange(-half, half + 1.0), indexing="ij"
        )
        self.register_buffer("_x", xs, persistent=False)
        self.register_buffer(
            "_y", -ys, persistent=False
        )  # y points up, so angles turn anticlockwise
        self.register_buffer("_r", torch.sqrt(xs * xs + ys * ys), persistent=False)
        self.register_buffer("_is_edge", torch.arange(n_oriented) < self.n_edges, persistent=False)

        self.radius = nn.Parameter(torch.linspace(0.0, float(half), self.n_radial))
        self.radial_width = nn.Parameter(torch.full((self.n_radial,), 0.7))
        edges = torch.arange(self.n_edges) * (2 * math.pi / max(self.n_edges, 1))  # both polarities
        bars = torch.arange(self.n_bars) * (math.pi / max(self.n_bars, 1))
        self.orientation = nn.Parameter(torch.cat([edges, bars]).float())
        self.oriented_width = nn.Parameter(torch.full((n_oriented,), 1.0))
        self.threshold = nn.Parameter(torch.zeros(self.n_operators))
        mixing = torch.zeros(self.n_channels, self.n_operators)
        for c in range(self.n_channels):
            mixing[c, c :: self.n_channels] = 1.0
        mixing[mixing.sum(1) == 0] = 1.0  # channels beyond the operators start uniform
        self.mixing = nn.Parameter(mixing / mixing.sum(1, keepdim=True))
        self.head = nn.Linear(self.n_channels * pool_size * pool_size, int(n_outputs))
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.bias.zero_()

    @staticmethod
    def default_constraints():
        """The constraints that make the parameters meaningful.

        Returns
        -------
        dict
            ``{"nonnegative": NonNegativity(params=["radius", "radial_width",
            "oriented_width", "threshold"]), "simplex": Simplex(params="mixing")}``,
            ready for ``constraints=`` (prefix the names with the submodule's
            name when the net is part of a larger module).
        """
        from ..constraints import NonNegativity, Simplex

        return {
            "nonnegative": NonNegativity(
                params=["radius", "radial_width", "oriented_width", "threshold"]
            ),
            "simplex": Simplex(params="mixing"),
        }

    def kernels(self):
        """The operators' kernels, zero-mean and of unit L1 norm.

        Returns
        -------
        torch.Tensor of shape (n_operators, kernel_size, kernel_size)
            Radial, then edge, then bar kernels, as differentiable functions
            of the parameters (rows of the kernel go downwards in the image).
        """
        p2 = self.pixel_width**2
        parts = []
        if self.n_radial:
            s = torch.sqrt(self.radial_width.square() + p2)[:, None, None]
            parts.append(torch.exp(-(self._r - self.radius[:, None, None]).square() / (2 * s * s)))
        if self.n_edges + self.n_bars:
            s = torch.sqrt(self.oriented_width.square() + p2)[:, None, None]
            theta = self.orientation[:, None, None]
            # signed distance across the direction theta (positive on its left)
            u = (-self._x * torch.sin(theta) + self._y * torch.cos(theta)) / s
            g = torch.exp(-self._r.square() / (2 * s * s))
            edge = u * g
            bar = (1 - u.square()) * g
            parts.append(torch.where(self._is_edge[:, None, None], edge, bar))
        K = torch.cat(parts)
        K = K - K.mean(dim=(1, 2), keepdim=True)
        return K / K.abs().sum(dim=(1, 2), keepdim=True).clamp(min=1e-12)

    def operator_responses(self, X):
        """The operators' response maps (before pooling and thresholds).

        Returns
        -------
        torch.Tensor of shape (n_samples, n_operators, H', W')
            ``H' = ceil(H / stride)``, ``W' = ceil(W / stride)``.
        """
        x = self._as_images(X)
        if x.shape[1] > 1:
            x = x.mean(dim=1, keepdim=True)
        return F.conv2d(
            x, self.kernels()[:, None], padding=self.kernel_size // 2, stride=self.stride
        )

    def features(self, X):
        """The composite operators' pooled evidence fed to the head (before ``gain``).

        Returns
        -------
        torch.Tensor of shape (n_samples, n_channels, pool_size, pool_size)
        """
        peaks = F.adaptive_max_pool2d(self.operator_responses(X), self.pool_size)
        evidence = torch.relu(peaks - self.threshold[None, :, None, None])
        mixed = torch.einsum("nkp,ck->ncp", evidence.flatten(2), self.mixing)
        return mixed.reshape(mixed.shape[0], self.n_channels, self.pool_size, self.pool_size)

    def forward(self, X):
        return self.head(self.gain * self.features(X).flatten(1))

    def describe(self):
        """One dict per operator with its family and parameters (plain floats).

        Examples
        --------
        >>> from sklearn_constrained.models import GENEONet
        >>> GENEONet(64, 10).describe()[0]
        {'operator': 0, 'family': 'radial', 'radius': 0.0, 'width': 0.7, 'threshold': 0.0}
        """
        out = []
        with torch.no_grad():
            for i in range(self.n_radial):
                out.append(
                    {
                        "operator": i,
                        "family": "radial",
                        "radius": round(float(self.radius[i]), 6),
                        "width": round(float(self.radial_width[i]), 6),
                        "threshold": round(float(self.threshold[i]), 6),
                    }
                )
            for j in range(self.n_edges + self.n_bars):
                i = self.n_radial + j
                out.append(
                    {
                        "operator": i,
                        "family": "edge" if j < self.n_edges else "bar",
                        "orientation_deg": round(math.degrees(float(self.orientation[j])), 4),
                        "width": round(float(self.oriented_width[j]), 6),
                        "threshold": round(float(self.threshold[i]), 6),
                    }
                )
        return out
