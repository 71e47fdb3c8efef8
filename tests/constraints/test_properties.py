"""Property tests (hypothesis) of every constraint in ``sklearn_constrained.constraints``.

For each constraint, on random inputs (weights, or logits with labels and
groups), against definitions computed independently in numpy:

* the value is the contract's quantity, and the strict violation is positive
  (beyond a tolerance, for the entries of an equality) exactly when the
  constraint is violated;
* the gradient of the violation (the strict violation itself for weight
  constraints, the smooth surrogate for rate constraints) matches central
  finite differences in float64, away from kinks;
* each closed-form projection (S-ADMM's prox) returns a feasible point, is
  idempotent, leaves feasible points where they are and is the nearest
  feasible point among random feasible candidates.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import sklearn_constrained.constraints as C
from sklearn_constrained.constraints import BatchContext, largest_violation
from sklearn_constrained.models import L0MLP

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)
seeds = st.integers(0, 2**31 - 1)
TOL = 1e-9


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------
class Holder(torch.nn.Module):
    """A module whose parameters ``w0, w1, ...`` are the given float64 arrays."""

    def __init__(self, arrays):
        super().__init__()
        for i, a in enumerate(arrays):
            self.register_parameter(
                f"w{i}", torch.nn.Parameter(torch.as_tensor(np.array(a), dtype=torch.float64))
            )


def random_weights(rng, n_tensors=None, conv=False, min_dim=2):
    n = n_tensors or rng.randint(1, 4)
    shapes = []
    for _ in range(n):
        if conv and rng.rand() < 0.4:
            shapes.append((rng.randint(1, 4), rng.randint(1, 3), 2, 2))
        elif min_dim == 1 and rng.rand() < 0.3:
            shapes.append((rng.randint(1, 6),))
        else:
            shapes.append((rng.randint(1, 6), rng.randint(1, 6)))
    return [rng.randn(*s) * rng.choice([0.3, 1.0, 3.0]) for s in shapes]


def bind(constraint, module):
    constraint.check_params()
    return constraint.bind(module, "c")


def directional_fd_check(bound, params, rng, h=1e-6):
    """Compare the gradient of ``w . violation`` along a random direction with finite differences.

    A central difference, in float64.
    """
    violation = bound.evaluate(None).violation.reshape(-1)
    w = torch.as_tensor(rng.randn(violation.numel()), dtype=torch.float64)
    grads = torch.autograd.grad((w * violation).sum(), params)
    v = [torch.as_tensor(rng.randn(*p.shape), dtype=torch.float64) for p in params]
    analytic = sum(float((g * d).sum()) for g, d in zip(grads, v, strict=True))
    with torch.no_grad():
        for p, d in zip(params, v, strict=True):
            p.add_(d, alpha=h)
        f_plus = float((w * bound.evaluate(None).violation.reshape(-1)).sum())
        for p, d in zip(params, v, strict=True):
            p.add_(d, alpha=-2 * h)
        f_minus = float((w * bound.evaluate(None).violation.reshape(-1)).sum())
        for p, d in zip(params, v, strict=True):
            p.add_(d, alpha=h)
    numeric = (f_plus - f_minus) / (2 * h)
    assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-6 * (1 + abs(numeric)))


def as_matrix(a):
    return a.reshape(1, -1) if a.ndim == 1 else a.reshape(a.shape[0], -1)


def np_orthogonality(arrays):
    total = 0.0
    for a in arrays:
        W = as_matrix(a)
        G = W @ W.T if W.shape[0] <= W.shape[1] else W.T @ W
        total += float(((G - np.eye(len(G))) ** 2).sum())
    return total


def random_orthonormal(rng, shape):
    W = rng.randn(*as_matrix(np.zeros(shape)).shape)
    m, n = W.shape
    Q, _ = np.linalg.qr(W.T if m <= n else W)  # orthonormal columns of the tall side
    return (Q.T if m <= n else Q).reshape(shape)


def np_simplex_value(arrays, axis):
    return sum(
        float(np.maximum(-a, 0).sum() + np.abs(a.sum(axis=axis) - 1.0).sum()) for a in arrays
    )


def random_simplex(rng, shape, axis):
    a = rng.dirichlet(np.ones(shape[axis]), size=int(np.prod(shape)) // shape[axis])
    return np.moveaxis(a.reshape(*np.delete(shape, axis % len(shape)), shape[axis]), -1, axis)


# ----------------------------------------------------------------------------
# weight constraints: value and strict violation
# ----------------------------------------------------------------------------
NORMS = {
    "L2Norm": (C.L2Norm, lambda arrays: sum(float((a**2).sum()) for a in arrays)),
    "L1Norm": (C.L1Norm, lambda arrays: sum(float(np.abs(a).sum()) for a in arrays)),
}


@pytest.mark.parametrize("name", list(NORMS))
@SETTINGS
@given(seed=seeds, level=st.floats(0.0, 60.0))
def test_norm_value_and_strict_violation(name, seed, level):
    cls, reference = NORMS[name]
    arrays = random_weights(np.random.RandomState(seed))
    expected = reference(arrays)
    assume(abs(expected - level) > 1e-6 * (1 + level))
    e = bind(cls(bound=level, params="w*"), Holder(arrays)).evaluate()
    assert float(e.value.detach()) == pytest.approx(expected, rel=1e-12)
    assert (float(e.strict_violation.detach()) > 0) == (expected > level)
    assert e.violation is e.strict_violation


@SETTINGS
@given(seed=seeds, feasible=st.booleans())
def test_nonnegativity_value_and_strict_violation(seed, feasible):
    rng = np.random.RandomState(seed)
    arrays = random_weights(rng, min_dim=1)
    if feasible:
        arrays = [np.abs(a) for a in arrays]
    e = bind(C.NonNegativity(params="w*"), Holder(arrays)).evaluate()
    assert float(e.value.detach()) == pytest.approx(
        sum(float(np.maximum(-a, 0).sum()) for a in arrays), rel=1e-12
    )
    assert (float(e.strict_violation.detach()) > 0) == any((a < 0).any() for a in arrays)


@SETTINGS
@given(seed=seeds, orthonormal=st.booleans(), level=st.sampled_from([0.0, 0.5, 5.0]))
def test_orthogonality_value_and_strict_violation(seed, orthonormal, level):
    rng = np.random.RandomState(seed)
    arrays = random_weights(rng, conv=True, min_dim=1)
    if orthonormal:
        arrays = [random_orthonormal(rng, a.shape) for a in arrays]
    expected = np_orthogonality(arrays)
    c = C.Orthogonality(bound=level, params="w*")
    e = bind(c, Holder(arrays)).evaluate()
    assert float(e.value.detach()) == pytest.approx(expected, rel=1e-10, abs=1e-12)
    if level == 0.0:
        # an equality, entry by entry of G - I
        assert c.kind == "equality"
        assert e.strict_violation.numel() == sum(min(as_matrix(a).shape) ** 2 for a in arrays)
        assert float(e.strict_violation.detach().square().sum()) == pytest.approx(
            expected, rel=1e-10, abs=1e-12
        )
        assert (
            (float(e.strict_violation.detach().abs().max()) > TOL)
            == (expected > TOL)
            == (not orthonormal)
        )
    else:
        assume(abs(expected - level) > 1e-6)
        assert c.kind == "inequality"
        assert (float(e.strict_violation.detach()) > 0) == (expected > level)


@SETTINGS
@given(seed=seeds, feasible=st.booleans(), axis=st.sampled_from([-1, 0, 1]))
def test_simplex_value_and_strict_violation(seed, feasible, axis):
    rng = np.random.RandomState(seed)
    shapes = [(rng.randint(1, 5), rng.randint(2, 5)) for _ in range(rng.randint(1, 3))]
    arrays = [random_simplex(rng, s, axis) if feasible else rng.randn(*s) for s in shapes]
    e = bind(C.Simplex(params="w*", axis=axis), Holder(arrays)).evaluate()
    expected = np_simplex_value(arrays, axis)
    assert float(e.value.detach()) == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert (float(e.strict_violation.detach().abs().max()) > TOL) == (not feasible)


def _l0_module(rng):
    torch.manual_seed(int(rng.randint(2**31)))
    net = L0MLP(3, 2, hidden_layer_sizes=(int(rng.randint(1, 5)),)).double()
    with torch.no_grad():
        for layer in net.modules():
            if hasattr(layer, "log_alpha"):
                layer.log_alpha.copy_(torch.as_tensor(rng.randn(layer.log_alpha.numel()) * 3))
    return net


def np_density(net):
    active, total = 0.0, 0
    for layer in net.modules():
        if hasattr(layer, "log_alpha"):
            la = layer.log_alpha.detach().numpy()
            shift = layer.temperature * math.log(-layer.limit_l / layer.limit_r)
            active += float((1.0 / (1.0 + np.exp(-(la - shift)))).sum())
            total += la.size
    return active / total


@SETTINGS
@given(seed=seeds, upper=st.floats(0.0, 1.0))
def test_density_value_and_strict_violation(seed, upper):
    net = _l0_module(np.random.RandomState(seed))
    expected = np_density(net)
    assume(abs(expected - upper) > 1e-6)
    e = bind(C.Density(upper=upper), net).evaluate()
    assert float(e.value.detach()) == pytest.approx(expected, rel=1e-10)
    assert (float(e.strict_violation.detach()) > 0) == (expected > upper)


# ----------------------------------------------------------------------------
# weight constraints: gradients of the violation
# ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    ["L2Norm", "L1Norm", "NonNegativity", "Orthogonality0", "Orthogonality", "Simplex", "Density"],
)
@SETTINGS
@given(seed=seeds)
def test_weight_constraint_gradients_match_finite_differences(name, seed):
    rng = np.random.RandomState(seed)
    if name == "Density":
        module = _l0_module(rng)
        bound = bind(C.Density(upper=0.3), module)
    else:
        arrays = random_weights(rng, conv=name.startswith("Orthogonality"), min_dim=1)
        if name in ("L1Norm", "NonNegativity", "Simplex"):
            # away from the kinks of |w| and max(0, -w)
            assume(min(float(np.abs(a).min()) for a in arrays) > 1e-3)
        if name == "Simplex":
            assume(min(float(np.abs(a.sum(axis=-1) - 1).min()) for a in arrays) > 1e-3)
        module = Holder(arrays)
        constraint = {
            "L2Norm": C.L2Norm(bound=1.0, params="w*"),
            "L1Norm": C.L1Norm(bound=1.0, params="w*"),
            "NonNegativity": C.NonNegativity(params="w*"),
            "Orthogonality0": C.Orthogonality(bound=0.0, params="w*"),
            "Orthogonality": C.Orthogonality(bound=0.5, params="w*"),
            "Simplex": C.Simplex(params="w*"),
        }[name]
        bound = bind(constraint, module)
    directional_fd_check(bound, list(bound.parameters), rng)


# ----------------------------------------------------------------------------
# projections (S-ADMM's prox)
# ----------------------------------------------------------------------------
PROJECTABLE = {
    "L2Norm": lambda rng: C.L2Norm(bound=float(rng.choice([0.0, 0.5, 4.0, 50.0])), params="w*"),
    "L1Norm": lambda rng: C.L1Norm(bound=float(rng.choice([0.0, 0.5, 4.0, 50.0])), params="w*"),
    "NonNegativity": lambda rng: C.NonNegativity(params="w*"),
    "Orthogonality": lambda rng: C.Orthogonality(bound=0.0, params="w*"),
    "Simplex": lambda rng: C.Simplex(params="w*", axis=int(rng.choice([-1, 0]))),
}


def _feasible(bound, tensors, scale):
    e = _evaluate_on(bound, tensors)
    return float(largest_violation(bound.kind, e.strict_violation)) <= 1e-9 * scale


def _evaluate_on(bound, tensors):
    with torch.no_grad():
        saved = [p.detach().clone() for p in bound.parameters]
        for p, t in zip(bound.parameters, tensors, strict=True):
            p.copy_(t)
        e = bound.evaluate()
        for p, s in zip(bound.parameters, saved, strict=True):
            p.copy_(s)
    return e


def _project(bound, tensors):
    out = [t.clone() for t in tensors]
    bound.project_(out)
    return out


def _distance(a, b):
    return math.sqrt(sum(float((x - y).square().sum()) for x, y in zip(a, b, strict=True)))


@pytest.mark.parametrize("name", list(PROJECTABLE))
@SETTINGS
@given(seed=seeds)
def test_projections_are_feasible_idempotent_and_nearest(name, seed):
    rng = np.random.RandomState(seed)
    if name == "Simplex":
        arrays = [
            rng.randn(rng.randint(1, 4), rng.randint(2, 5)) * 2 for _ in range(rng.randint(1, 3))
        ]
    else:
        arrays = random_weights(rng, conv=name == "Orthogonality", min_dim=1)
    bound = bind(PROJECTABLE[name](rng), Holder(arrays))
    assert bound.has_projection
    x = [p.detach().clone() for p in bound.parameters]
    scale = 1.0 + max(float(t.abs().max()) for t in x) ** 2
    px = _project(bound, x)
    assert all(torch.isfinite(t).all() for t in px)
    assert _feasible(bound, px, scale), name
    ppx = _project(bound, px)
    assert _distance(ppx, px) <= 1e-9 * math.sqrt(scale)
    # nearest: no random feasible point is closer (the polar factor is the
    # nearest matrix with orthonormal rows/columns even though the set is not convex)
    for _ in range(5):
        if name == "Orthogonality":
            z = [torch.as_tensor(random_orthonormal(rng, t.shape)) for t in x]
        else:
            z = _project(bound, [t + torch.as_tensor(rng.randn(*t.shape)) for t in x])
        assert _feasible(bound, z, scale)
        assert _distance(x, px) <= _distance(x, z) + 1e-9 * math.sqrt(scale)
    # a feasible point stays where it is (convex sets; orthonormal matrices up to rounding)
    assert _distance(_project(bound, px), px) <= 1e-9 * math.sqrt(scale)


# ----------------------------------------------------------------------------
# rate and fairness constraints: true rates, surrogate gradients
# ----------------------------------------------------------------------------
def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _gap(rates):
    seen = [r for r in rates if r is not None]
    return max(seen) - min(seen) if len(seen) >= 2 else 0.0


def _group_rates(ind, cond, groups, n_groups):
    out = []
    for g in range(n_groups):
        mask = (groups == g) & cond
        out.append(float(ind[mask].mean()) if mask.any() else None)
    return out


def np_reference(name, level, logits, y, groups, n_groups, soft=False):
    """(value, largest strict violation) of each constraint from its definition.

    With ``soft`` the indicators are the softmax probabilities (the surrogate).
    """
    k = logits.shape[1]
    P = _softmax(logits) if soft else np.eye(k)[logits.argmax(1)]
    pos = y == 1
    every = np.ones(len(y), bool)
    if name == "PredictionRate":
        lower, upper = level
        r = float(P[:, 1].mean())
        sides = ([lower - r] if lower is not None else []) + (
            [r - upper] if upper is not None else []
        )
        return r, max(sides)
    if name == "TruePositiveRate":
        r = float(P[pos, 1].mean())
        return r, level - r
    if name == "FalsePositiveRate":
        r = float(P[~pos, 1].mean())
        return r, r - level
    if name == "BoundedGroupLoss":
        losses = -np.log(_softmax(logits)[np.arange(len(y)), y])
        per = [v for v in _group_rates(losses, every, groups, n_groups) if v is not None]
        return max(per), max(per) - level
    columns = {
        "DemographicParity": [(P[:, 1], every)],
        "EqualizedOdds": [(P[:, 1], pos), (P[:, 1], ~pos)],
        "TruePositiveRateParity": [(P[:, 1], pos)],
        "FalsePositiveRateParity": [(P[:, 1], ~pos)],
        "ErrorRateParity": [(1.0 - P[np.arange(len(y)), y], every)],
    }[name]
    value = max(_gap(_group_rates(ind, cond, groups, n_groups)) for ind, cond in columns)
    return value, value - level


RATES = [
    "PredictionRate",
    "TruePositiveRate",
    "FalsePositiveRate",
    "DemographicParity",
    "EqualizedOdds",
    "TruePositiveRateParity",
    "FalsePositiveRateParity",
    "ErrorRateParity",
    "BoundedGroupLoss",
]


def _rate_constraint(name, level, surrogate="sigmoid"):
    if name == "PredictionRate":
        return C.PredictionRate(1, lower=level[0], upper=level[1], surrogate=surrogate)
    if name == "TruePositiveRate":
        return C.TruePositiveRate(lower=level, surrogate=surrogate)
    if name == "FalsePositiveRate":
        return C.FalsePositiveRate(upper=level, surrogate=surrogate)
    if name == "BoundedGroupLoss":
        return C.BoundedGroupLoss(bound=level)
    return getattr(C, name)(bound=level, surrogate=surrogate)


def _rate_case(name, rng):
    n = int(rng.randint(8, 60))
    n_classes = (
        3
        if name in ("PredictionRate", "ErrorRateParity", "BoundedGroupLoss") and rng.rand() < 0.4
        else 2
    )
    logits = rng.randn(n, n_classes) * rng.choice([0.5, 2.0])
    y = rng.randint(0, n_classes, n)
    y[:2] = [0, 1]  # both labels occur
    n_groups = int(rng.randint(2, 4))
    groups = rng.randint(0, n_groups, n)
    if name == "PredictionRate":
        lower = None if rng.rand() < 0.3 else float(rng.rand())
        upper = (
            None if lower is not None and rng.rand() < 0.5 else float(rng.uniform(lower or 0, 1))
        )
        level = (lower, upper)
    elif name == "BoundedGroupLoss":
        level = float(rng.uniform(0.2, 2.0))
    else:
        level = float(rng.uniform(0, 1))
    return logits, y, groups, n_groups, n_classes, level


def _evaluate_rate(name, level, logits_t, y, groups, n_groups, n_classes, surrogate="sigmoid"):
    bound = bind(_rate_constraint(name, level, surrogate), None)
    bound.setup(classes=list(range(n_classes)), n_samples=None, external=False, classifier=True)
    ctx = BatchContext(logits_t, torch.as_tensor(y), torch.as_tensor(groups), n_groups, 1.0)
    return bound.evaluate(ctx)


@pytest.mark.parametrize("name", RATES)
@pytest.mark.parametrize("surrogate", ["sigmoid", "hinge"])
@SETTINGS
@given(seed=seeds)
def test_rate_value_and_strict_violation(name, surrogate, seed):
    if name == "BoundedGroupLoss" and surrogate == "hinge":
        return  # a loss, no surrogate
    rng = np.random.RandomState(seed)
    logits, y, groups, n_groups, n_classes, level = _rate_case(name, rng)
    value, worst = np_reference(name, level, logits, y, groups, n_groups)
    assume(abs(worst) > 1e-6)
    e = _evaluate_rate(
        name, level, torch.as_tensor(logits), y, groups, n_groups, n_classes, surrogate
    )
    assert float(e.value.detach()) == pytest.approx(value, rel=1e-9, abs=1e-12)
    strict = e.strict_violation.detach().double()
    assert float(strict.max()) == pytest.approx(worst, rel=1e-9, abs=1e-12)
    assert (float(strict.max()) > 0) == (worst > 0)


@pytest.mark.parametrize("name", RATES)
@SETTINGS
@given(seed=seeds)
def test_rate_violation_is_the_surrogate_and_its_gradient_matches(name, seed):
    rng = np.random.RandomState(seed)
    logits, y, groups, n_groups, n_classes, level = _rate_case(name, rng)
    z = torch.as_tensor(logits).requires_grad_(True)
    e = _evaluate_rate(name, level, z, y, groups, n_groups, n_classes)
    # the violation is the strict violation's expression with softmax probabilities
    # for indicators
    _, soft_worst = np_reference(name, level, logits, y, groups, n_groups, soft=True)
    assert float(e.violation.detach().max()) == pytest.approx(soft_worst, rel=1e-9, abs=1e-12)
    w = torch.as_tensor(rng.randn(e.violation.numel()))
    (grad,) = torch.autograd.grad((w * e.violation.reshape(-1)).sum(), z)
    v = torch.as_tensor(rng.randn(*logits.shape))
    h = 1e-6

    def f(t):
        out = _evaluate_rate(name, level, t, y, groups, n_groups, n_classes).violation.reshape(-1)
        return float((w * out).sum())

    numeric = (f(z.detach() + h * v) - f(z.detach() - h * v)) / (2 * h)
    assert float((grad * v).sum()) == pytest.approx(numeric, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("name", RATES)
@SETTINGS
@given(seed=seeds)
def test_rate_sample_weights_are_row_repetitions(name, seed):
    # integer sample weights: the state on the batch equals the unweighted
    # state on the batch with every row repeated by its weight (0 drops it),
    # for the true rates, the surrogates and their gradients
    rng = np.random.RandomState(seed)
    logits, y, groups, n_groups, n_classes, level = _rate_case(name, rng)
    weights = rng.randint(0, 4, len(y))
    assume(weights.sum() > 0)
    z_w = torch.as_tensor(logits).requires_grad_(True)
    z_r = torch.as_tensor(logits).requires_grad_(True)
    bound = bind(_rate_constraint(name, level), None)
    bound.setup(classes=list(range(n_classes)), classifier=True)
    weighted = bound.fresh().evaluate(
        BatchContext(
            z_w,
            torch.as_tensor(y),
            torch.as_tensor(groups),
            n_groups,
            sample_weight=torch.as_tensor(weights, dtype=torch.float64),
        )
    )
    reps = torch.as_tensor(weights)
    repeated = bound.fresh().evaluate(
        BatchContext(
            z_r.repeat_interleave(reps, 0),
            torch.as_tensor(y).repeat_interleave(reps),
            torch.as_tensor(groups).repeat_interleave(reps),
            n_groups,
        )
    )
    # the three tensors (the state's optional `objective_weight` is not one)
    for a, b in zip(weighted[:3], repeated[:3], strict=True):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-10, atol=1e-12)
    w = torch.as_tensor(rng.randn(weighted.violation.numel()))
    (w * weighted.violation.reshape(-1)).sum().backward()
    (w * repeated.violation.reshape(-1)).sum().backward()
    torch.testing.assert_close(z_w.grad, z_r.grad, rtol=1e-9, atol=1e-12)


def test_every_exported_constraint_has_properties():
    exported = {
        name
        for name in C.__all__
        if isinstance(getattr(C, name), type)
        and issubclass(getattr(C, name), C.Constraint)
        and getattr(C, name) not in (C.Constraint, C.WeightConstraint)
    }
    # the base classes to extend (exported since the redesign) have no behaviour of their own
    bases = {"GroupMeanConstraint", "RateConstraint", "GapConstraint"}
    covered = set(NORMS) | {"NonNegativity", "Orthogonality", "Simplex", "Density"} | set(RATES)
    assert exported - bases == covered, f"add property tests for {sorted(exported - covered)}"
