"""A small convolutional network (about 100k parameters on MNIST)."""

import torch
from torch import nn

from ._images import ImageModel, resolve_image_shape

__all__ = ["CNN"]


class CNN(ImageModel):
    """A small convolutional classifier: two conv-ReLU-max-pool stages and a two-layer head.

    ``conv(3x3, 16) -> ReLU -> maxpool(2) -> conv(3x3, 32) -> ReLU ->
    maxpool(2) -> linear(64) -> ReLU -> linear(n_outputs)``: 105,866
    parameters on 28x28x1 images (MNIST), about the 100k of the CNN of
    Lavado et al.; 136,874 on 32x32x3 (CIFAR-10).

    Parameters
    ----------
    n_features : int
        Values per sample (``C * H * W``).
    n_outputs : int
        Number of outputs (classes).
    image_shape : None or tuple of int, default=None
        ``(C, H, W)`` (channels first); ``None`` infers it (see
        :func:`resolve_image_shape`). Estimators pass the shape of 4-D input
        ``X`` of shape ``(n, C, H, W)`` automatically.
    channels : tuple of int, default=(16, 32)
        Output channels of the convolution stages.
    hidden : int, default=64
        Width of the hidden linear layer.
    dropout : float, default=0.0
        Dropout before the last layer.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.models import CNN
    >>> net = CNN(784, 10)
    >>> net(torch.zeros(2, 784)).shape, net(torch.zeros(2, 1, 28, 28)).shape
    (torch.Size([2, 10]), torch.Size([2, 10]))
    >>> sum(p.numel() for p in net.parameters())
    105866
    """

    def __init__(
        self, n_features, n_outputs, image_shape=None, channels=(16, 32), hidden=64, dropout=0.0
    ):
        super().__init__()
        self.image_shape = resolve_image_shape(n_features, image_shape, owner="CNN")
        layers, width = [], self.image_shape[0]
        for c in channels:
            layers += [
                nn.Conv2d(width, int(c), 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            width = int(c)
        self.features = nn.Sequential(*layers)
        with torch.no_grad():
            n_flat = self.features(torch.zeros(1, *self.image_shape)).numel()
        head = [nn.Flatten(), nn.Linear(n_flat, int(hidden)), nn.ReLU()]
        if dropout:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(int(hidden), int(n_outputs)))
        self.classifier = nn.Sequential(*head)

    def forward(self, X):
        return self.classifier(self.features(self._as_images(X)))
