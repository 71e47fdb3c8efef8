"""SAL (Algorithm 2 of the SAL paper): the outer-iteration logic on scripted
violations, the augmented terms, the optimizer reset and early stopping in the
estimator; and every method meeting an L2 level on digits (Adam and L-BFGS).
"""

import warnings

import pytest
import torch

from sklearn_constrained import ConstrainedClassifier
from sklearn_constrained.constraints import ConstraintEval, L2Norm
from sklearn_constrained.methods import GDA, SADMM, SAL, FixedPenalty

from .conftest import squared_weight_norm


class _Stub:
    def __init__(self, kind):
        self.kind = kind


def _sal(**params):
    return SAL(**params)._setup({"h": _Stub("equality"), "g": _Stub("inequality")})


def _evals(**defects):
    out = {}
    for n, d in defects.items():
        t = torch.as_tensor(d, dtype=torch.float64).reshape(1)
        out[n] = ConstraintEval(t, t, t)
    return out


def _defects(h, g):
    return {n: e.defect for n, e in _evals(h=h, g=g).items()}


def test_accept_reject_sequence_follows_algorithm_2():
    m = _sal(mu_init=1.0, sigma=10.0, mu_max=50.0, eta=0.5, n_aug_lag=4)
    # C(theta_0) from the first step: ||(1, max(0, 0))||^2 = 1
    m._compute_loss(torch.tensor(0.0), _evals(h=1.0, g=0.0), update_duals=True)
    lam = lambda n: float(m.multipliers_[n])
    # 1. 0.36 <= 0.5 * 1 (squared norms; unsquared 0.6 > 0.5 would reject): accept
    m._epoch_end(_defects(0.6, 0.0))
    assert m.log_[-1]["accepted"] and m.mu_ == 1.0
    assert lam("h") == pytest.approx(0.6) and lam("g") == 0.0 and m.c_best_ == pytest.approx(0.36)
    # 2. 0.29 > 0.18: reject, the penalty grows, the multipliers stay
    m._epoch_end(_defects(0.5, 0.2))
    assert not m.log_[-1]["accepted"] and m.mu_ == 10.0 and lam("h") == pytest.approx(0.6)
    # 3. accept with mu = 10; the multipliers accumulate (0.6 + 10 * 0.3, not 3.0)
    m._epoch_end(_defects(0.3, -1.0))
    assert m.log_[-1]["accepted"] and lam("h") == pytest.approx(3.6) and lam("g") == 0.0
    assert m.c_best_ == pytest.approx(0.09)
    # 4. reject: mu = min(10 * 10, 50); then a new block restarts it at 2 * mu_init
    m._epoch_end(_defects(0.3, 0.1))
    assert not m.log_[-1]["accepted"] and m.log_[-1]["mu"] == 10.0
    assert m.block_ == 1 and m.mu_ == 2.0
    # 5. accept with mu = 2: lambda_g = [0 + 2 * 0.1]_+
    m._epoch_end(_defects(0.1, 0.1))
    assert (
        m.log_[-1]["accepted"] and lam("h") == pytest.approx(3.8) and lam("g") == pytest.approx(0.2)
    )
    # 6. a slack inequality: C_g = max(g, -lambda/mu) = -0.1 brings lambda_g back to 0
    m._epoch_end(_defects(0.0, -1.0))
    assert m.log_[-1]["accepted"] and m.log_[-1]["violation"] == pytest.approx(0.01)
    assert lam("g") == pytest.approx(0.0, abs=1e-15) and lam("h") == pytest.approx(3.8)
    assert [e["accepted"] for e in m.log_] == [True, False, True, False, True, True]
    assert not m._should_stop()


def test_penalty_growth_is_capped_by_mu_max():
    m = _sal(mu_init=1.0, sigma=10.0, mu_max=50.0, n_aug_lag=100)
    m._compute_loss(torch.tensor(0.0), _evals(h=1.0, g=0.0), update_duals=True)
    for _ in range(3):
        m._epoch_end(_defects(2.0, 0.0))
    assert [e["mu"] for e in m.log_] == [1.0, 10.0, 50.0] and m.mu_ == 50.0
    assert float(m.multipliers_["h"]) == 0.0


def test_stops_when_both_tolerances_hold():
    m = _sal(mu_init=1.0, tol_violation=0.05, tol_objective=0.5)
    m._compute_loss(torch.tensor(2.0), _evals(h=1.0, g=0.0), update_duals=True)
    m._epoch_end(_defects(0.1, 0.0))  # accepted, small violation, but objective 2.0 > 0.5
    assert m.log_[-1]["accepted"] and not m._should_stop()
    m._compute_loss(torch.tensor(0.25), _evals(h=0.0, g=0.0), update_duals=True)
    m._compute_loss(
        torch.tensor(0.5), _evals(h=0.0, g=0.0), update_duals=False
    )  # L-BFGS re-evaluation
    m._epoch_end(_defects(0.01, 0.0))
    assert m._should_stop()
    # a violation tolerance alone suffices; none at all never stops
    m = _sal(tol_violation=0.05)
    m._compute_loss(torch.tensor(9.0), _evals(h=1.0, g=0.0), update_duals=True)
    m._epoch_end(_defects(0.1, 0.0))
    assert m._should_stop()
    m = _sal()
    m._compute_loss(torch.tensor(9.0), _evals(h=1.0, g=0.0), update_duals=True)
    m._epoch_end(_defects(0.0, 0.0))
    assert not m._should_stop()


def test_augmented_terms_and_their_gradients():
    m = _sal(mu_init=2.0, mu_max=2.0)
    m.multipliers_ = {
        "h": torch.tensor([1.0], dtype=torch.float64),
        "g": torch.tensor([0.5], dtype=torch.float64),
    }
    m.c_best_ = 1.0
    h = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    g = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    ev = {"h": ConstraintEval(h, h, h), "g": ConstraintEval(g, g, g)}
    loss = m._compute_loss(torch.tensor(0.0, dtype=torch.float64), ev, update_duals=False)
    # h: lambda h + mu/2 h^2 = 0.5 + 0.25 ; g active: (max(0, 0.5 + 1)^2 - 0.25) / 4 = 0.5
    assert float(loss.detach()) == pytest.approx(0.75 + 0.5)
    loss.backward()
    assert float(h.grad) == pytest.approx(1.0 + 2.0 * 0.5)  # lambda + mu h
    assert float(g.grad) == pytest.approx(1.5)  # max(0, lambda + mu g)
    g2 = torch.tensor([-1.0], dtype=torch.float64, requires_grad=True)
    loss = m._compute_loss(
        torch.tensor(0.0, dtype=torch.float64),
        {"g": ConstraintEval(g2, g2, g2)},
        update_duals=False,
    )
    assert float(loss.detach()) == pytest.approx(
        -0.25 / 4
    )  # -lambda^2 / (2 mu): slack, no gradient
    loss.backward()
    assert float(g2.grad) == 0.0


def test_parameter_validation():
    for bad in (
        dict(mu_init=0.0),
        dict(sigma=0.5),
        dict(eta=1.5),
        dict(mu_max=0.001, mu_init=0.1),
        dict(n_aug_lag=0),
        dict(tol_violation=-1.0),
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            SAL(**bad)._check_params()


class _CountingAdam(torch.optim.Adam):
    created = 0

    def __init__(self, *args, **kwargs):
        type(self).created += 1
        super().__init__(*args, **kwargs)


def test_estimator_resets_the_optimizer_each_outer_iteration(digits):
    Xtr, _, ytr, _ = digits
    kw = dict(
        constraints={"l2": L2Norm(bound=20.0)},
        optimizer=_CountingAdam,
        max_epochs=3,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _CountingAdam.created = 0
        ConstrainedClassifier(method=SAL(), **kw).fit(Xtr, ytr)
        assert _CountingAdam.created == 3
        _CountingAdam.created = 0
        ConstrainedClassifier(method=GDA(), **kw).fit(Xtr, ytr)
        assert _CountingAdam.created == 1


def test_estimator_stops_early_when_sal_tolerances_hold(digits):
    Xtr, _, ytr, _ = digits
    clf = ConstrainedClassifier(
        constraints={"l2": L2Norm(bound=1e4)},
        method=SAL(tol_violation=1e-12),
        max_epochs=20,
        random_state=0,
    ).fit(Xtr, ytr)
    # the level holds from the start, so the first outer iteration is accepted and ends training
    assert len(clf.history_) == 1 and clf.method_.log_[0]["accepted"]
    assert clf.feasible_


EPOCHS = {"adam": 15, "lbfgs": 8}
METHODS = {
    "adam": {"fp": FixedPenalty(penalty=1.0), "gda": GDA(), "sal": SAL(), "sadmm": SADMM()},
    # one L-BFGS solve per dual update: plain GDA's dual ascent oscillates with
    # exact inner solves, the augmented Lagrangian (method of multipliers) does not
    "lbfgs": {
        "fp": FixedPenalty(penalty=1.0),
        "gda": GDA(dual_lr=1e-3, augmented=True, penalty=1e-3),
        "sal": SAL(),
        "sadmm": SADMM(),
    },
}


@pytest.fixture(scope="module")
def unconstrained_norms(digits):
    Xtr, _, ytr, _ = digits
    return {
        opt: squared_weight_norm(
            ConstrainedClassifier(optimizer=opt, max_epochs=EPOCHS[opt], random_state=0)
            .fit(Xtr, ytr)
            .module_
        )
        for opt in EPOCHS
    }


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
@pytest.mark.parametrize("name", ["fp", "gda", "sal", "sadmm"])
def test_every_method_meets_a_quarter_of_the_unconstrained_norm(
    digits, unconstrained_norms, optimizer, name
):
    Xtr, Xte, ytr, yte = digits
    bound = unconstrained_norms[optimizer] / 4
    clf = ConstrainedClassifier(
        constraints={"l2": L2Norm(bound=bound)},
        method=METHODS[optimizer][name],
        optimizer=optimizer,
        max_epochs=EPOCHS[optimizer],
        random_state=0,
    )
    clf.fit(Xtr, ytr)
    value = clf.evaluate_constraints(Xte)["l2"]
    assert value == pytest.approx(squared_weight_norm(clf.module_), rel=1e-5)
    assert value <= 1.01 * bound
    assert clf.score(Xte, yte) >= 0.9
    assert len(clf.history_) == EPOCHS[optimizer]
