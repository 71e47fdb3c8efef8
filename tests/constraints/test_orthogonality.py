"""Orthogonality: values, gradients, projections and enforcement in training.

Values and gradients (finite differences), the equality's vector strict
violation, the projection (against SciPy and brute force) and its enforcement
in training (GDA with a matrix multiplier, S-ADMM's polar prox).
"""

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from sklearn_constrained import ConstrainedClassifier
from sklearn_constrained.constraints import Orthogonality
from sklearn_constrained.methods import GDA, SADMM
from sklearn_constrained.models import CNN


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _orthonormal(m, n, seed=0):
    """An m x n matrix with orthonormal rows (m <= n) or columns (m > n)."""
    q, _ = np.linalg.qr(np.random.RandomState(seed).randn(max(m, n), min(m, n)))
    return torch.tensor(q.T if m <= n else q)


def _orth_reference(tensors):
    total = 0.0
    for t in tensors:
        W = t.detach().numpy().reshape(t.shape[0], -1) if t.dim() > 1 else t.detach().numpy()[None]
        G = W @ W.T if W.shape[0] <= W.shape[1] else W.T @ W
        total += ((G - np.eye(len(G))) ** 2).sum()
    return total


def test_orthogonality_value_uses_the_smaller_gram():
    tensors = [
        _randn(3, 5, seed=0),
        _randn(7, 2, seed=1),
        _randn(4, 2, 3, 3, seed=2),
        _randn(6, seed=3),
    ]
    c = Orthogonality()
    assert float(c.value(tensors)) == pytest.approx(_orth_reference(tensors), rel=1e-12)
    # wide, tall and conv-shaped orthonormal matrices reach exactly zero
    ortho = [
        _orthonormal(3, 5),
        _orthonormal(7, 2, seed=1),
        _orthonormal(4, 18, seed=2).reshape(4, 2, 3, 3),
    ]
    assert float(c.value(ortho)) == pytest.approx(0.0, abs=1e-24)
    # a 2x-scaled identity, tall: W^T W = 4 I (2x2), ||3 I||^2 = 18
    assert float(c.value([2 * torch.eye(3, 2, dtype=torch.float64)])) == pytest.approx(18.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_orthogonality_gradient_matches_finite_differences(seed):
    tensors = tuple(
        t.requires_grad_()
        for t in (
            _randn(3, 5, seed=seed),
            _randn(4, 2, 2, 2, seed=seed + 10),
            _randn(6, 3, seed=seed + 20),
        )
    )
    c = Orthogonality()
    assert torch.autograd.gradcheck(lambda *ts: c.value(list(ts)), tensors, eps=1e-6, atol=1e-6)


def _module(dtype=torch.float64):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3), nn.Conv2d(4, 4, 3), nn.Flatten(), nn.Linear(16, 3), nn.Linear(3, 12)
    ).to(dtype)


def test_orthogonality_equality_has_one_multiplier_per_gram_entry():
    net = _module()
    c = Orthogonality()
    b = c.bind(net, "orth")
    assert b.kind == "equality" and b.has_projection
    with torch.no_grad():
        e = b.evaluate()
    weights = [p for p in net.parameters() if p.dim() >= 2]
    assert [id(p) for p in b.parameters] == [id(w) for w in weights]
    # smaller Grams: 4x4 (4 x 18), 4x4 (4 x 36), 3x3 (3 x 16), 3x3 (12 x 3)
    assert e.strict_violation.shape == (16 + 16 + 9 + 9,)
    assert float(e.value) == pytest.approx(_orth_reference(weights), rel=1e-12)
    assert float(e.strict_violation.square().sum()) == pytest.approx(float(e.value), rel=1e-12)
    assert e.violation is e.strict_violation
    # the evaluator's state is the constraint's state of its parameters
    torch.testing.assert_close(e.strict_violation, c.state(b.parameters).strict_violation.detach())

    # the vector strict violation's Jacobian is right (finite differences)
    inputs = tuple(w.detach().clone().requires_grad_() for w in weights)
    assert torch.autograd.gradcheck(
        lambda *ws: c.state(list(ws)).strict_violation, inputs, eps=1e-6, atol=1e-6
    )


def test_orthogonality_inequality_is_scalar():
    net = _module()
    b = Orthogonality(bound=2.5).bind(net, "orth")
    with torch.no_grad():
        e = b.evaluate()
    assert b.kind == "inequality" and not b.has_projection
    assert e.strict_violation.shape == ()
    assert float(e.strict_violation) == pytest.approx(float(e.value) - 2.5)
    with pytest.raises(NotImplementedError, match="bound=0"):
        Orthogonality(bound=2.5).project_([torch.ones(2, 2)])
    with pytest.raises(ValueError, match="closed-form projection"):
        SADMM().bind({"orth": b})
    # the level is validated when the estimator binds it (scikit-learn's message and the hint)
    with pytest.raises(
        ValueError,
        match=r"'bound' parameter of Orthogonality must be a float in the range \[0.0, inf\)\. "
        r"Got -1.0 instead\. Set it to the level",
    ):
        ConstrainedClassifier(constraints={"o": Orthogonality(bound=-1.0)}).fit(
            np.eye(4), [0, 1, 0, 1]
        )


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 2, 2, 2), (4, 4), (6,)])
def test_orthogonality_projection_is_the_polar_factor(shape):
    W = _randn(*shape, seed=sum(shape))
    t = [W.clone()]
    Orthogonality().project_(t)
    Q = t[0]
    assert float(Orthogonality().value([Q])) < 1e-24
    M = W.numpy().reshape(shape[0], -1) if len(shape) > 1 else W.numpy()[None]
    # scipy's polar decomposition (an independent implementation): M = U P with U the polar factor
    U = scipy.linalg.polar(M if M.shape[0] >= M.shape[1] else M.T)[0]
    U = U if M.shape[0] >= M.shape[1] else U.T
    np.testing.assert_allclose(Q.numpy().reshape(U.shape), U, atol=1e-10)
    # brute force: no random or nearby point of the manifold is closer
    dist = np.linalg.norm(Q.numpy().reshape(M.shape) - M)
    rng = np.random.RandomState(0)
    m, n = M.shape
    for _ in range(100):
        R = _orthonormal(m, n, seed=rng.randint(1 << 30)).numpy()
        assert np.linalg.norm(R - M) >= dist - 1e-12
    base = Q.numpy().reshape(M.shape)
    for _ in range(100):
        A = rng.randn(min(m, n), min(m, n)) * 1e-3
        rot = scipy.linalg.expm(A - A.T)
        near = rot @ base if m <= n else base @ rot
        assert np.linalg.norm(near - M) >= dist - 1e-12
    again = [Q.clone()]
    Orthogonality().project_(again)
    np.testing.assert_allclose(again[0].numpy(), Q.numpy(), atol=1e-12)


def test_orthogonality_rejects_scalar_parameters():
    net = nn.Module()
    net.scale = nn.Parameter(torch.tensor(2.0))
    with pytest.raises(ValueError, match="needs matrices.*Select weight matrices"):
        Orthogonality(params="scale").bind(net, "orth")


# ---------------------------------------------------------------------------
# Orthogonality in training: GDA with a matrix multiplier, S-ADMM's polar prox
# ---------------------------------------------------------------------------
def _small_cnn_data(digits, n=600):
    X_train, _, y_train, _ = digits
    return X_train[:n], y_train[:n]


def test_orthogonality_reaches_its_bound_on_a_small_cnn_with_gda(digits):
    # Every weight of the CNN (two kernels, two linear layers) must become
    # orthonormal: an equality with one multiplier per Gram entry. Plain
    # GDA on an equality oscillates; the augmented Lagrangian damps it.
    X, y = _small_cnn_data(digits)
    params = {"channels": (4, 8), "hidden": 16}
    torch.manual_seed(0)
    start = CNN(64, 10, **params)
    initial = float(Orthogonality().value([p.detach() for p in start.parameters() if p.dim() >= 2]))
    clf = ConstrainedClassifier(
        CNN,
        module__channels=params["channels"],
        module__hidden=params["hidden"],
        constraints={"orth": Orthogonality(bound=0.0)},
        method=GDA(dual_lr=1.0, augmented=True, penalty=1.0),
        optimizer="sgd",
        lr=0.1,
        max_epochs=30,
        random_state=0,
        tol=0.05,
    ).fit(X, y)
    value = clf.evaluate_constraints(X)["orth"]
    assert initial > 5.0 and value < 1e-2
    with torch.no_grad():
        worst = max(
            float(
                (W @ W.T if W.shape[0] <= W.shape[1] else W.T @ W)
                .sub(torch.eye(min(W.shape)))
                .abs()
                .max()
            )
            for W in (p.reshape(p.shape[0], -1) for p in clf.module_.parameters() if p.dim() >= 2)
        )
    assert worst < 0.05 and clf.feasible_
    assert clf.multipliers_["orth"].shape == (16 + 64 + 256 + 100,)  # one per Gram entry
    assert clf.score(X, y) > 0.35  # (plain SGD without the constraint: 0.15 after 30 epochs)


def test_orthogonality_budget_is_met_with_gda(digits):
    X, y = _small_cnn_data(digits)
    clf = ConstrainedClassifier(
        CNN,
        module__channels=(4, 8),
        module__hidden=16,
        constraints={"orth": Orthogonality(bound=1.0)},
        method=GDA(dual_lr=0.05),
        lr=0.01,
        max_epochs=15,
        random_state=0,
    ).fit(X, y)
    assert clf.feasible_ and clf.evaluate_constraints(X)["orth"] <= 1.0 * (1 + 1e-3)
    assert clf.multipliers_["orth"].shape == (1,)


def test_orthogonality_is_exact_with_sadmm(digits):
    X, y = _small_cnn_data(digits, n=200)
    clf = ConstrainedClassifier(
        CNN,
        module__channels=(2, 4),
        module__hidden=8,
        constraints={"orth": Orthogonality()},
        method=SADMM(rho=1.0),
        max_epochs=2,
        lr=0.01,
        random_state=0,
        tol=1e-6,
    ).fit(X, y)
    assert clf.evaluate_constraints(X)["orth"] < 1e-9
    assert clf.feasible_
