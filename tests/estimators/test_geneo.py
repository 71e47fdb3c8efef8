"""GENEONet: a white-box model trained under its interpretability constraints.

Its operators are non-expansive and equivariant, its gradients are right,
and L-BFGS with S-ADMM trains it to useful accuracy with its
interpretability constraints met to 1e-6.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.model_selection import train_test_split

from sklearn_constrained import ConstrainedClassifier
from sklearn_constrained.constraints import NonNegativity, Simplex
from sklearn_constrained.models import GENEONet

NONNEG = ("radius", "radial_width", "oriented_width", "threshold")


def _perturbed(seed=0, **kwargs):
    torch.manual_seed(seed)
    net = GENEONet(64, 10, **kwargs).double()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.rand_like(p))
        net.head.weight.normal_()
    return net


def test_operators_are_zero_mean_unit_l1_and_non_expansive():
    net = _perturbed()
    K = net.kernels().detach()
    assert K.shape == (12, 5, 5)
    np.testing.assert_allclose(K.sum(dim=(1, 2)).numpy(), 0.0, atol=1e-12)
    np.testing.assert_allclose(K.abs().sum(dim=(1, 2)).numpy(), 1.0, atol=1e-12)
    x = torch.rand(50, 64, dtype=torch.float64) * 3 - 1
    with torch.no_grad():
        R = net.operator_responses(x)
    assert float(R.abs().max()) <= float(x.abs().max()) + 1e-12
    # zero mean: adding a constant to the image changes nothing away from the border
    with torch.no_grad():
        shifted = net.operator_responses(x + 5.0)
    np.testing.assert_allclose(
        shifted[..., 2:-2, 2:-2].numpy(), R[..., 2:-2, 2:-2].numpy(), atol=1e-12
    )


def test_operators_are_rotation_equivariant():
    # A quarter turn of the image rotates every response map; radial
    # operators are unchanged, oriented ones turn by pi/2.
    net = _perturbed()
    turned = _perturbed()
    with torch.no_grad():
        turned.orientation.add_(math.pi / 2)
    x = torch.rand(7, 1, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        R = net.operator_responses(x)
        R_rot = turned.operator_responses(torch.rot90(x, 1, dims=(-2, -1)))
    torch.testing.assert_close(R_rot, torch.rot90(R, 1, dims=(-2, -1)))
    # the kernels themselves: rot90(K_theta) == K_{theta + pi/2}
    torch.testing.assert_close(
        torch.rot90(net.kernels()[4:], 1, dims=(-2, -1)), turned.kernels()[4:]
    )
    # radial kernels are invariant under the quarter turn and the reflections
    K = net.kernels()[:4]
    torch.testing.assert_close(torch.rot90(K, 1, dims=(-2, -1)), K)
    torch.testing.assert_close(K.flip(-1), K)


def test_edges_and_bars_respond_to_what_their_orientation_says():
    img = torch.zeros(1, 1, 9, 9, dtype=torch.float64)
    img[..., :, 4] = 1.0  # a vertical bright line
    net = GENEONet(81, 2, n_radial=0, n_edges=1, n_bars=1, n_channels=1).double()
    with torch.no_grad():
        net.orientation.copy_(torch.tensor([math.pi / 2, math.pi / 2]))  # both along the vertical
        along = net.operator_responses(img)[0, :, 4, 4]
        net.orientation.copy_(torch.tensor([math.pi / 2, 0.0]))  # the bar across (horizontal)
        across = net.operator_responses(img)[0, 1, 4, 4]
    assert along[1] > 0.2 and abs(float(across)) < float(along[1])
    # an edge along the vertical, bright on its left (theta = pi/2 points up)
    edge = torch.zeros(1, 1, 9, 9, dtype=torch.float64)
    edge[..., :, :4] = 1.0
    with torch.no_grad():
        net.orientation.copy_(torch.tensor([math.pi / 2, math.pi / 2]))
        left = net.operator_responses(edge)[0, 0, 4, 3:5]
        net.orientation.copy_(torch.tensor([-math.pi / 2, math.pi / 2]))
        right = net.operator_responses(edge)[0, 0, 4, 3:5]
    assert (left > 0.1).all() and (right < -0.1).all()


def test_gradients_match_finite_differences():
    net = _perturbed(seed=1)
    x = torch.rand(6, 64, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3, 4, 5])
    params = dict(net.named_parameters())

    def loss():
        return F.cross_entropy(net(x), y)

    grads = dict(zip(params, torch.autograd.grad(loss(), list(params.values())), strict=True))
    eps = 1e-6
    for name in ("radius", "radial_width", "orientation", "oriented_width", "threshold", "mixing"):
        p = params[name]
        for idx in list(np.ndindex(*p.shape))[:6]:
            with torch.no_grad():
                p[idx] += eps
                up = float(loss())
                p[idx] -= 2 * eps
                down = float(loss())
                p[idx] += eps
            assert float(grads[name][idx]) == pytest.approx((up - down) / (2 * eps), abs=1e-6), (
                name,
                idx,
            )


def test_features_threshold_after_pooling_equals_thresholding_first():
    net = _perturbed(seed=2)
    x = torch.rand(5, 64, dtype=torch.float64)
    with torch.no_grad():
        R = net.operator_responses(x)
        before = F.adaptive_max_pool2d(torch.relu(R - net.threshold[None, :, None, None]), 2)
        mixed = torch.einsum("nkhw,ck->nchw", before, net.mixing)
        torch.testing.assert_close(net.features(x), mixed)
        torch.testing.assert_close(net(x), net.head(net.gain * mixed.flatten(1)))


def test_initialisation_is_deterministic_and_feasible():
    a, b = GENEONet(64, 10), GENEONet(64, 10)
    for (n, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q), n
    for name in NONNEG:
        assert (getattr(a, name) >= 0).all()
    assert (a.mixing >= 0).all()
    torch.testing.assert_close(a.mixing.sum(1), torch.ones(8))
    assert [d["family"] for d in a.describe()] == ["radial"] * 4 + ["edge"] * 4 + ["bar"] * 4
    cons = GENEONet.default_constraints()
    assert isinstance(cons["nonnegative"], NonNegativity) and isinstance(cons["simplex"], Simplex)
    assert set(cons["nonnegative"].params) == set(NONNEG)
    with pytest.raises(ValueError, match="kernel_size"):
        GENEONet(64, 10, kernel_size=4)
    with pytest.raises(ValueError, match="not all zero"):
        GENEONet(64, 10, n_radial=0, n_edges=0, n_bars=0)


def _check_constraints_hold(net, atol=1e-6):
    with torch.no_grad():
        for name in NONNEG:
            assert float(getattr(net, name).min()) >= -atol, name
        assert float(net.mixing.min()) >= -atol
        assert float((net.mixing.double().sum(1) - 1).abs().max()) <= atol


def test_lbfgs_reaches_85_percent_on_digits_with_constraints_met(digits):
    X_train, X_test, y_train, y_test = digits
    clf = ConstrainedClassifier(
        GENEONet,
        constraints=GENEONet.default_constraints(),
        method="sadmm",
        optimizer="lbfgs",
        max_epochs=8,
        random_state=0,
        tol=1e-6,
    ).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.85  # 0.94 measured
    assert clf.feasible_
    values = clf.evaluate_constraints(X_train)
    assert values["nonnegative"] <= 1e-6 and values["simplex"] <= 1e-6
    _check_constraints_hold(clf.module_)
    assert sum(p.numel() for p in clf.module_.parameters()) == 462


@pytest.mark.slow
def test_lbfgs_on_mnist_5k():
    from sklearn_constrained.datasets import load_mnist_5k

    X, y = load_mnist_5k(return_X_y=True, flatten=False)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    clf = ConstrainedClassifier(
        GENEONet,
        constraints=GENEONet.default_constraints(),
        method="sadmm",
        optimizer="lbfgs",
        max_epochs=10,
        random_state=0,
        tol=1e-6,
    ).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.9
    assert clf.feasible_
    _check_constraints_hold(clf.module_)
