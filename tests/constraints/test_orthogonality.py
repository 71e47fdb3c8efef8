"""Orthogonality, Simplex and Density: values, gradients (finite differences),
projections (against brute force) and their enforcement in training.

Also re-checks the projections of L1Norm/L2Norm/NonNegativity on several
tensors at once against independent solutions.
"""

import itertools
import math
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from sklearn_constrained import ConstrainedClassifier
from sklearn_constrained.constraints import (
    Density,
    L1Norm,
    L2Norm,
    NonNegativity,
    Orthogonality,
    Simplex,
)
from sklearn_constrained.constraints._simplex import project_simplex
from sklearn_constrained.methods import GDA, SADMM
from sklearn_constrained.models import CNN, L0MLP, MLP, L0Conv2d, L0Linear


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _orthonormal(m, n, seed=0):
    """An m x n matrix with orthonormal rows (m <= n) or columns (m > n)."""
    q, _ = np.linalg.qr(np.random.RandomState(seed).randn(max(m, n), min(m, n)))
    return torch.tensor(q.T if m <= n else q)


# ---------------------------------------------------------------------------
# Orthogonality
# ---------------------------------------------------------------------------
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
    assert float(c.value_of(tensors)) == pytest.approx(_orth_reference(tensors), rel=1e-12)
    # wide, tall and conv-shaped orthonormal matrices reach exactly zero
    ortho = [
        _orthonormal(3, 5),
        _orthonormal(7, 2, seed=1),
        _orthonormal(4, 18, seed=2).reshape(4, 2, 3, 3),
    ]
    assert float(c.value_of(ortho)) == pytest.approx(0.0, abs=1e-24)
    # a 2x-scaled identity, tall: W^T W = 4 I (2x2), ||3 I||^2 = 18
    assert float(c.value_of([2 * torch.eye(3, 2, dtype=torch.float64)])) == pytest.approx(18.0)


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
    assert torch.autograd.gradcheck(lambda *ts: c.value_of(ts), tensors, eps=1e-6, atol=1e-6)


def _module(dtype=torch.float64):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3), nn.Conv2d(4, 4, 3), nn.Flatten(), nn.Linear(16, 3), nn.Linear(3, 12)
    ).to(dtype)


def test_orthogonality_equality_has_one_multiplier_per_gram_entry():
    net = _module()
    b = Orthogonality()._bind(net, "orth")
    assert b.kind == "equality" and b.has_projection
    with torch.no_grad():
        e = b.evaluate()
    weights = [p for p in net.parameters() if p.dim() >= 2]
    # smaller Grams: 4x4 (4 x 18), 4x4 (4 x 36), 3x3 (3 x 16), 3x3 (12 x 3)
    assert e.defect.shape == (16 + 16 + 9 + 9,)
    assert float(e.value) == pytest.approx(_orth_reference(weights), rel=1e-12)
    assert float(e.defect.square().sum()) == pytest.approx(float(e.value), rel=1e-12)
    assert e.proxy is e.defect

    # the vector defect's Jacobian is right (finite differences through the bound constraint)
    inputs = tuple(w.detach().clone().requires_grad_() for w in weights)

    def defect_of(*ws):
        b._params = list(ws)
        return b.evaluate().defect

    assert torch.autograd.gradcheck(defect_of, inputs, eps=1e-6, atol=1e-6)


def test_orthogonality_inequality_is_scalar():
    net = _module()
    b = Orthogonality(bound=2.5)._bind(net, "orth")
    with torch.no_grad():
        e = b.evaluate()
    assert b.kind == "inequality" and not b.has_projection
    assert e.defect.shape == () and float(e.defect) == pytest.approx(float(e.value) - 2.5)
    with pytest.raises(NotImplementedError, match="bound=0"):
        Orthogonality(bound=2.5)._project_([torch.ones(2, 2)])
    with pytest.raises(ValueError, match="closed-form projection"):
        SADMM()._setup({"orth": b})
    with pytest.raises(ValueError, match="bound"):
        ConstrainedClassifier(constraints={"o": Orthogonality(bound=-1.0)}).fit(
            np.eye(4), [0, 1, 0, 1]
        )


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 2, 2, 2), (4, 4), (6,)])
def test_orthogonality_projection_is_the_polar_factor(shape):
    W = _randn(*shape, seed=sum(shape))
    t = [W.clone()]
    Orthogonality()._project_(t)
    Q = t[0]
    assert float(Orthogonality().value_of([Q])) < 1e-24
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
    Orthogonality()._project_(again)
    np.testing.assert_allclose(again[0].numpy(), Q.numpy(), atol=1e-12)


# ---------------------------------------------------------------------------
# Simplex
# ---------------------------------------------------------------------------
def _simplex_brute_force(v):
    """Closest point of the simplex by enumerating every support."""
    best, best_d = None, np.inf
    k = len(v)
    for size in range(1, k + 1):
        for support in itertools.combinations(range(k), size):
            w = np.zeros(k)
            s = list(support)
            w[s] = v[s] - (v[s].sum() - 1.0) / size
            if (w >= -1e-15).all():
                d = ((w - v) ** 2).sum()
                if d < best_d:
                    best, best_d = w, d
    return best


def test_simplex_value_and_defect_layout():
    a = torch.tensor([[-0.5, 1.0], [0.5, 0.25]], dtype=torch.float64)
    b = torch.tensor([0.2, 0.8], dtype=torch.float64)
    c = Simplex(params="*")
    assert float(c.value_of([a, b])) == pytest.approx(0.5 + 0.5 + 0.25)
    net = nn.Module()
    net.a, net.b = nn.Parameter(a.clone()), nn.Parameter(b.clone())
    bound = c._bind(net, "mix")
    with torch.no_grad():
        e = bound.evaluate()
    assert bound.kind == "equality" and bound.has_projection
    # negative parts (4 + 2 entries), then the row sums minus one (2 rows + 1 vector)
    np.testing.assert_allclose(
        e.defect.detach().numpy(), [0.5, 0, 0, 0, 0, 0, -0.5, -0.25, 0.0], atol=1e-15
    )
    assert float(e.value) == pytest.approx(1.25)
    # the axis is honoured: columns of `a` sum to 0 and 1.25
    col = Simplex(params="a", axis=0)._bind(net, "mix").evaluate()
    np.testing.assert_allclose(col.defect.detach().numpy()[-2:], [-1.0, 0.25], atol=1e-15)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_simplex_gradient_matches_finite_differences(axis):
    t = _randn(3, 4, 2, seed=axis + 5)
    with torch.no_grad():
        t.add_(torch.sign(t) * 0.05)  # away from the kinks of max(0, -w)
    t.requires_grad_()
    c = Simplex(params="*", axis=axis)
    assert torch.autograd.gradcheck(lambda x: c._parts([x]), (t,), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("axis", [-1, 0, 2])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_simplex_projection_matches_brute_force(axis, seed):
    t = _randn(3, 4, 5, seed=seed) * 1.5
    out = project_simplex(t, axis).numpy()
    moved = np.moveaxis(t.numpy(), axis, -1).reshape(-1, t.shape[axis])
    expected = np.stack([_simplex_brute_force(v) for v in moved])
    np.testing.assert_allclose(
        np.moveaxis(out, axis, -1).reshape(expected.shape), expected, atol=1e-12
    )
    # in place through the constraint, feasible and idempotent
    ts = [t.clone()]
    Simplex(params="*", axis=axis)._project_(ts)
    assert float(Simplex(params="*", axis=axis).value_of(ts)) < 1e-12
    np.testing.assert_allclose(project_simplex(ts[0], axis).numpy(), ts[0].numpy(), atol=1e-14)


def test_simplex_projection_is_robust_to_huge_entries():
    out = project_simplex(torch.tensor([[1e9, 0.5, -3.0], [1e30, 1e30, 0.0]]))
    assert torch.isfinite(out).all()
    np.testing.assert_allclose(out.sum(-1).numpy(), [1.0, 1.0], atol=1e-6)
    assert out[0, 0] == 1.0 and out[1, 0] == out[1, 1] == 0.5


def test_simplex_parameter_errors():
    net = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="params"):
        Simplex(params=None)._check_params()
    with pytest.raises(ValueError, match="axis"):
        Simplex(params="weight", axis=2)._bind(net, "mix")
    with pytest.raises(TypeError, match="axis"):
        Simplex(params="weight", axis=1.5)._check_params()


# ---------------------------------------------------------------------------
# Density (L0 hard-concrete gates)
# ---------------------------------------------------------------------------
def test_density_value_is_the_expected_share_of_open_gates():
    torch.manual_seed(0)
    net = L0MLP(5, 3, hidden_layer_sizes=(4,))
    with torch.no_grad():
        for m in (net.layers[0], net.layers[2]):
            m.log_alpha.copy_(torch.randn(m.n_gates) * 2)
    b = Density(upper=0.4)._bind(net, "density")
    with torch.no_grad():
        e = b.evaluate()
    la = torch.cat([net.layers[0].log_alpha, net.layers[2].log_alpha]).detach().double()
    expected = torch.sigmoid(la - (2 / 3) * math.log(0.1 / 1.1)).mean()
    assert float(e.value) == pytest.approx(float(expected), rel=1e-6)
    assert float(e.defect) == pytest.approx(float(expected) - 0.4, rel=1e-5)
    assert {id(p) for p in b.parameters} == {
        id(net.layers[0].log_alpha),
        id(net.layers[2].log_alpha),
    }
    # Monte Carlo: the share of non-zero sampled gates averages to the value
    net.train()
    with torch.no_grad():
        draws = [
            torch.cat([(m.gates() > 0).double() for m in (net.layers[0], net.layers[2])]).mean()
            for _ in range(2000)
        ]
    mc = float(torch.stack(draws).mean())
    se = float(torch.stack(draws).std()) / math.sqrt(len(draws))
    assert abs(mc - float(expected)) < 4 * se + 1e-3


def test_density_gradient_matches_finite_differences():
    layer = L0Linear(3, 2).double()
    with torch.no_grad():
        layer.log_alpha.copy_(_randn(6, seed=3))
    b = Density(upper=0.5)._bind(layer, "density")
    value = b.evaluate().value
    (grad,) = torch.autograd.grad(value, layer.log_alpha)
    eps = 1e-6
    fd = []
    for j in range(6):
        with torch.no_grad():
            layer.log_alpha[j] += eps
            up = float(b.evaluate().value)
            layer.log_alpha[j] -= 2 * eps
            down = float(b.evaluate().value)
            layer.log_alpha[j] += eps
        fd.append((up - down) / (2 * eps))
    np.testing.assert_allclose(grad.numpy(), fd, atol=1e-8)


def test_gates_are_deterministic_in_eval_mode_and_stochastic_in_training():
    torch.manual_seed(0)
    layer = L0Linear(6, 4, droprate_init=0.5)
    x = torch.randn(3, 6)
    layer.eval()
    assert torch.equal(layer(x), layer(x))
    expected = torch.clamp(torch.sigmoid(layer.log_alpha) * 1.2 - 0.1, 0, 1)
    assert torch.equal(layer.deterministic_gates(), expected)
    layer.train()
    assert not torch.equal(layer(x), layer(x))
    conv = L0Conv2d(2, 3, 3, padding=1).eval()
    assert conv(torch.zeros(1, 2, 5, 5)).shape == (1, 3, 5, 5)
    assert conv.n_gates == 3 * 2 * 3 * 3 and conv.density() == 1.0


def test_density_needs_gated_layers_and_a_level_in_0_1():
    with pytest.raises(ValueError, match="L0MLP"):
        Density(upper=0.5)._bind(MLP(4, 2), "density")
    with pytest.raises(ValueError, match="upper"):
        Density(upper=1.5)._check_params()
    b = Density(upper=0.5)._bind(L0MLP(4, 2), "density")
    assert not b.has_projection
    with pytest.raises(ValueError, match="closed-form projection"):
        SADMM()._setup({"density": b})


def test_gate_parameters_are_left_out_of_the_default_weight_selection():
    net = L0MLP(4, 2, hidden_layer_sizes=(3,))
    b = L2Norm(bound=1.0)._bind(net, "l2")
    assert b.param_names == ["layers.0.weight", "layers.2.weight"]


def test_density_constraint_is_met_by_gda(digits):
    X_train, X_test, y_train, y_test = digits
    clf = ConstrainedClassifier(
        L0MLP,
        module__hidden_layer_sizes=(32,), module__droprate_init=0.5,
        constraints={"density": Density(upper=0.3)},
        method=GDA(dual_lr=0.3),
        max_epochs=20,
        lr=0.02,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X_train, y_train)
    value = clf.evaluate_constraints(X_train)["density"]
    assert clf.feasible_ and value <= 0.3 * (1 + 1e-3)
    assert value > 0.15  # the level is reached, not overshot to an empty model
    assert clf.score(X_test, y_test) > 0.85
    # predictions are deterministic (test-time gates)
    np.testing.assert_array_equal(clf.predict_proba(X_test), clf.predict_proba(X_test))


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
    initial = float(
        Orthogonality().value_of([p.detach() for p in start.parameters() if p.dim() >= 2])
    )
    clf = ConstrainedClassifier(
        CNN,
        module_params=params,
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
        module__channels=(4, 8), module__hidden=16,
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
        module__channels=(2, 4), module__hidden=8,
        constraints={"orth": Orthogonality()},
        method=SADMM(rho=1.0),
        max_epochs=2,
        lr=0.01,
        random_state=0,
        tol=1e-6,
    ).fit(X, y)
    assert clf.evaluate_constraints(X)["orth"] < 1e-9
    assert clf.feasible_


# ---------------------------------------------------------------------------
# the projections of _weights.py on several tensors at once
# ---------------------------------------------------------------------------
def _l1_ball_by_bisection(v, bound):
    if np.abs(v).sum() <= bound:
        return v
    lo, hi = 0.0, np.abs(v).max()
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if np.clip(np.abs(v) - mid, 0, None).sum() > bound:
            lo = mid
        else:
            hi = mid
    return np.sign(v) * np.clip(np.abs(v) - 0.5 * (lo + hi), 0, None)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("bound", [0.0, 0.5, 3.0, 1e3])
def test_norm_ball_projections_on_several_tensors(seed, bound):
    ts = [_randn(3, 4, seed=seed), _randn(2, 2, 2, seed=seed + 7), _randn(5, seed=seed + 9)]
    flat = np.concatenate([t.numpy().ravel() for t in ts])
    l1 = [t.clone() for t in ts]
    L1Norm(bound=bound)._project_(l1)
    np.testing.assert_allclose(
        np.concatenate([t.numpy().ravel() for t in l1]),
        _l1_ball_by_bisection(flat, bound),
        atol=1e-10,
    )
    l2 = [t.clone() for t in ts]
    L2Norm(bound=bound)._project_(l2)
    norm = np.sqrt((flat**2).sum())
    expected = flat * min(1.0, np.sqrt(bound) / norm)
    np.testing.assert_allclose(
        np.concatenate([t.numpy().ravel() for t in l2]), expected, atol=1e-12
    )
    nn_ = [t.clone() for t in ts]
    NonNegativity()._project_(nn_)
    np.testing.assert_array_equal(
        np.concatenate([t.numpy().ravel() for t in nn_]), np.clip(flat, 0, None)
    )
