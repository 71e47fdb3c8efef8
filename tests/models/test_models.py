"""The model zoo.

Forward shapes on flat and 4-D input, parameter counts, image-shape inference
and the estimators sizing the models from the data.
"""

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_constrained import ConstrainedClassifier
from sklearn_constrained.models import (
    CNN,
    L0MLP,
    MLP,
    VGG11,
    GENEONet,
    L0Conv2d,
    L0Linear,
    Linear,
    ResNet13,
    resolve_image_shape,
)

MNIST, CIFAR, DIGITS = (1, 28, 28), (3, 32, 32), (1, 8, 8)


def _n_params(module):
    return sum(p.numel() for p in module.parameters())


# Exact counts, worked out by hand from the architectures (10 classes).
COUNTS = {
    # CNN: conv 1->16 (160) + conv 16->32 (4,640) + linear 32*7*7->64 (100,416) + 64->10 (650)
    (CNN, MNIST): 105_866,
    # 3->16 (448) + 4,640 + 32*8*8->64 (131,136) + 650
    (CNN, CIFAR): 136_874,
    # 160 + 4,640 + 32*2*2->64 (8,256) + 650
    (CNN, DIGITS): 13_706,
    (ResNet13, CIFAR): 2_777_674,
    (ResNet13, MNIST): 2_776_522,  # 1 152 fewer stem weights (64 * 9 * 2)
    (VGG11, CIFAR): 9_228_362,
    (VGG11, MNIST): 9_227_210,
    # 4*2 radial + 8*2 oriented + 12 thresholds + 8x12 mixing + (8*2*2 -> 10) head
    (GENEONet, DIGITS): 8 + 16 + 12 + 96 + 330,
    # the same with a 3x3 pooling grid: head 8*3*3 -> 10
    (GENEONet, MNIST): 8 + 16 + 12 + 96 + 730,
    (GENEONet, CIFAR): 8 + 16 + 12 + 96 + 730,  # colour is averaged to one channel first
}


@pytest.mark.parametrize(
    "cls, shape",
    [
        (CNN, MNIST),
        (CNN, CIFAR),
        (CNN, DIGITS),
        (ResNet13, MNIST),
        (ResNet13, CIFAR),
        (VGG11, MNIST),
        (VGG11, CIFAR),
        (GENEONet, DIGITS),
        (GENEONet, MNIST),
        (GENEONet, CIFAR),
    ],
)
def test_forward_shapes_and_parameter_counts(cls, shape):
    torch.manual_seed(0)
    n = int(np.prod(shape))
    net = cls.from_data(n, 10, input_shape=shape).eval()
    assert net.image_shape == shape
    assert _n_params(net) == COUNTS[(cls, shape)]
    x = torch.rand(2, *shape)
    with torch.no_grad():
        out4 = net(x)
        out_flat = net(x.reshape(2, -1))
    assert out4.shape == (2, 10)
    torch.testing.assert_close(out4, out_flat)
    # flat input of a square (or 3 * square) width is read as that image
    assert cls.from_data(n, 10, input_shape=(n,)).image_shape == shape


def test_resnet13_has_13_convolutions_and_vgg11_11_weight_layers():
    net = ResNet13(3 * 32 * 32, 10, base_width=8)
    main_path = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(main_path) == 13
    vgg = VGG11(3 * 32 * 32, 10, base_width=8)
    weight_layers = [m for m in vgg.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weight_layers) == 9  # 8 convolutions and the CIFAR-style single classifier layer
    assert _n_params(VGG11(3 * 32 * 32, 10, base_width=8, batch_norm=False)) < _n_params(vgg)


def test_resolve_image_shape():
    assert resolve_image_shape(64) == (1, 8, 8)
    assert resolve_image_shape(784) == (1, 28, 28)
    assert resolve_image_shape(3072) == (3, 32, 32)
    assert resolve_image_shape(12, (3, 4)) == (1, 3, 4)
    assert resolve_image_shape(24, (2, 3, 4)) == (2, 3, 4)
    with pytest.raises(ValueError, match="image_shape"):
        resolve_image_shape(10)
    with pytest.raises(ValueError, match="holds 12 values"):
        resolve_image_shape(16, (3, 2, 2))
    with pytest.raises(ValueError, match="channels, height, width"):
        resolve_image_shape(16, (1, 1, 4, 4))
    # a non-square image given explicitly
    net = CNN(2 * 6 * 10, 3, image_shape=(2, 6, 10))
    assert net(torch.zeros(4, 120)).shape == (4, 3)


def test_estimator_sizes_image_models_from_flat_and_4d_input(digits):
    X_train, X_test, y_train, _ = digits
    X_train, y_train = X_train[:300], y_train[:300]
    for X_fit, X_eval in (
        (X_train, X_test),
        (X_train.reshape(-1, 1, 8, 8), X_test.reshape(-1, 1, 8, 8)),
    ):
        clf = ConstrainedClassifier(
            CNN, module__channels=(4, 8), module__hidden=16, max_epochs=2, random_state=0
        ).fit(X_fit, y_train)
        assert clf.module_.image_shape == (1, 8, 8)
        assert clf.predict(X_eval).shape == (len(X_eval),)
        assert set(clf.predict(X_eval)) <= set(clf.classes_)
    # a 4-D input with several channels: the shape comes from X
    X4 = np.repeat(X_train.reshape(-1, 1, 8, 8), 3, axis=1)
    clf = ConstrainedClassifier(VGG11, module__base_width=4, max_epochs=1, random_state=0).fit(
        X4, y_train
    )
    assert clf.module_.image_shape == (3, 8, 8)
    assert clf.predict_proba(X4[:5]).shape == (5, 10)


def test_explicit_image_shape_wins_over_the_data_shape():
    net = GENEONet.from_data(64, 3, input_shape=(64,), image_shape=(1, 4, 16))
    assert net.image_shape == (1, 4, 16)
    assert net(torch.zeros(2, 64)).shape == (2, 3)


def test_linear_mlp_and_l0_models():
    assert _n_params(Linear(64, 10)) == 650
    assert _n_params(MLP(64, 10, hidden_layer_sizes=(32,))) == 64 * 32 + 32 + 32 * 10 + 10
    l0 = L0MLP(64, 10, hidden_layer_sizes=(32,))
    # every weight has a gate: twice the weights plus the biases
    assert _n_params(l0) == 2 * (64 * 32 + 32 * 10) + 32 + 10
    assert l0(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    layer = L0Linear(5, 2)
    assert layer.log_alpha.shape == (10,) and layer.n_gates == 10
    assert L0Linear(5, 2, bias=False).bias is None
    conv = L0Conv2d(3, 4, 3, stride=2, padding=1)
    assert conv(torch.zeros(1, 3, 8, 8)).shape == (1, 4, 4, 4)
    with pytest.raises(ValueError, match="droprate_init"):
        L0Linear(2, 2, droprate_init=0.0)
    with pytest.raises(ValueError, match="stretch interval"):
        L0Linear(2, 2, limit_l=0.0)
    with pytest.raises(ValueError, match="activation"):
        L0MLP(2, 2, activation="swish")
