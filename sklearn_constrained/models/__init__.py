"""Models sized from the data: pass the class as ``module=`` to an estimator."""

from ._base import SizedModule
from ._cnn import CNN
from ._geneo import GENEONet
from ._images import ImageModel, resolve_image_shape
from ._l0 import L0MLP, HardConcreteGates, L0Conv2d, L0Linear
from ._linear import MLP, Linear
from ._resnet import ResNet13
from ._vgg import VGG11

__all__ = [
    "SizedModule",
    "Linear",
    "MLP",
    "ImageModel",
    "resolve_image_shape",
    "CNN",
    "ResNet13",
    "VGG11",
    "GENEONet",
    "HardConcreteGates",
    "L0Linear",
    "L0Conv2d",
    "L0MLP",
]
