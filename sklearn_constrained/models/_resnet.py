"""ResNet13: a residual network with 13 convolutional layers."""

from torch import nn

from ._images import ImageModel, resolve_image_shape

__all__ = ["ResNet13"]


class _BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet13(ImageModel):
    """A residual network with 13 convolutional layers (He et al. 2016).

    A 3x3 stem convolution, then three stages of two basic blocks (two 3x3
    convolutions with batch normalisation and an identity, or 1x1
    projection, shortcut) of widths ``base_width * (1, 2, 4)``, the last two
    stages halving the resolution; global average pooling and a linear
    layer. 1 + 3 x 2 x 2 = 13 convolutions on the main path (the 1x1
    shortcut projections are not counted, as in ResNet-18). 2,777,674
    parameters on 32x32x3 input with 10 classes; it accepts any image size
    (28x28x1 MNIST, 8x8 digits).

    Parameters
    ----------
    n_features : int
        Values per sample (``C * H * W``).
    n_outputs : int
    image_shape : None or tuple of int, default=None
        ``(C, H, W)``; ``None`` infers it (see :func:`resolve_image_shape`).
    base_width : int, default=64
        Channels of the first stage.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.models import ResNet13
    >>> net = ResNet13(3 * 32 * 32, 10, base_width=8)
    >>> net(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    >>> sum(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3) for m in net.modules())
    13
    """

    def __init__(self, n_features, n_outputs, image_shape=None, base_width=64):
        super().__init__()
        self.image_shape = resolve_image_shape(n_features, image_shape, owner="ResNet13")
        w = int(base_width)
        self.stem = nn.Sequential(
            nn.Conv2d(self.image_shape[0], w, 3, padding=1, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(),
        )
        blocks, c_in = [], w
        for i, c in enumerate((w, 2 * w, 4 * w)):
            blocks += [_BasicBlock(c_in, c, stride=1 if i == 0 else 2), _BasicBlock(c, c, stride=1)]
            c_in = c
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, int(n_outputs))

    def forward(self, X):
        x = self.blocks(self.stem(self._as_images(X)))
        return self.fc(self.pool(x).flatten(1))
