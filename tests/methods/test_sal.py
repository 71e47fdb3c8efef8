"""SAL: the paper's Algorithm 2, the corrected default, and SAL in the estimator.

Algorithm 2 of the SAL paper (``variant="paper"``) on scripted violations and
on a hand-traced run; the corrected default (the method of multipliers with
the paper's penalty schedule: it learns the multiplier from a feasible start
and keeps updating it once feasible); the augmented terms; the optimizer reset
and early stopping in the estimator; and every method meeting an L2 level on
digits (Adam and L-BFGS).

The methods are driven through their public hooks: ``observe`` once per
primal step, ``loss`` at every evaluation, ``epoch_end`` per outer iteration.
"""

import warnings

import pytest
import torch

from sklearn_constrained import ConstrainedClassifier
from sklearn_constrained.constraints import L2Norm
from sklearn_constrained.methods import GDA, SADMM, SAL, FixedPenalty
from sklearn_constrained.optim import Inequality, minimize

from ..conftest import squared_weight_norm
from .conftest import bind, multiplier, set_multipliers, states

ZERO = torch.tensor(0.0, dtype=torch.float64)
LBFGS_EXACT = dict(max_iter=100, tolerance_grad=1e-12, tolerance_change=1e-15)


def _sal(**params):
    return bind(SAL(**params), h="equality", g="inequality")


def _lam(m, name):
    return multiplier(m, name)[0]


# -- Algorithm 2 as printed (variant="paper") on scripted violations -----------------------------
def test_accept_reject_sequence_follows_algorithm_2():
    m = _sal(mu_init=1.0, sigma=10.0, mu_max=50.0, eta=0.5, n_aug_lag=4, variant="paper")
    # C(theta_0) from the first step: ||(1, max(0, 0))||^2 = 1
    s = states(h=1.0, g=0.0)
    m.observe(s)
    m.loss(ZERO, s)
    # 1. 0.36 <= 0.5 * 1 (squared norms; unsquared 0.6 > 0.5 would reject): accept
    m.epoch_end(states(h=0.6, g=0.0))
    assert m.log_[-1]["accepted"] and m.mu_ == 1.0
    assert _lam(m, "h") == pytest.approx(0.6) and _lam(m, "g") == 0.0
    assert m.c_best_ == pytest.approx(0.36)
    # 2. 0.29 > 0.18: reject, the penalty grows, the multipliers stay
    m.epoch_end(states(h=0.5, g=0.2))
    assert not m.log_[-1]["accepted"] and m.mu_ == 10.0 and _lam(m, "h") == pytest.approx(0.6)
    # 3. accept with mu = 10; the multipliers accumulate (0.6 + 10 * 0.3, not 3.0)
    m.epoch_end(states(h=0.3, g=-1.0))
    assert m.log_[-1]["accepted"] and _lam(m, "h") == pytest.approx(3.6) and _lam(m, "g") == 0.0
    assert m.c_best_ == pytest.approx(0.09)
    # 4. reject: mu = min(10 * 10, 50); then a new block restarts it at 2 * mu_init
    m.epoch_end(states(h=0.3, g=0.1))
    assert not m.log_[-1]["accepted"] and m.log_[-1]["mu"] == 10.0
    assert m.block_ == 1 and m.mu_ == 2.0 and m.current_penalty() == 2.0
    # 5. accept with mu = 2: lambda_g = [0 + 2 * 0.1]_+
    m.epoch_end(states(h=0.1, g=0.1))
    assert m.log_[-1]["accepted"]
    assert _lam(m, "h") == pytest.approx(3.8) and _lam(m, "g") == pytest.approx(0.2)
    # 6. a slack inequality: C_g = max(g, -lambda/mu) = -0.1 brings lambda_g back to 0
    m.epoch_end(states(h=0.0, g=-1.0))
    assert m.log_[-1]["accepted"] and m.log_[-1]["violation"] == pytest.approx(0.01)
    assert _lam(m, "g") == pytest.approx(0.0, abs=1e-15) and _lam(m, "h") == pytest.approx(3.8)
    assert [e["accepted"] for e in m.log_] == [True, False, True, False, True, True]
    assert not m.should_stop()


def test_penalty_growth_is_capped_by_mu_max():
    m = _sal(mu_init=1.0, sigma=10.0, mu_max=50.0, n_aug_lag=100, variant="paper")
    m.observe(states(h=1.0, g=0.0))
    for _ in range(3):
        m.epoch_end(states(h=2.0, g=0.0))
    assert [e["mu"] for e in m.log_] == [1.0, 10.0, 50.0] and m.mu_ == 50.0
    assert _lam(m, "h") == 0.0
    # the corrected variant: the first iteration counts as a decrease, the
    # penalty grows when the violation stalls, capped the same way; the
    # multiplier moves at every outer iteration (2, 2 + 2, 4 + 10 * 2)
    m = _sal(mu_init=1.0, sigma=10.0, mu_max=50.0, n_aug_lag=100)
    m.observe(states(h=1.0, g=0.0))
    lams = []
    for _ in range(3):
        m.epoch_end(states(h=2.0, g=0.0))
        lams.append(_lam(m, "h"))
    assert [e["mu"] for e in m.log_] == [1.0, 1.0, 10.0] and m.mu_ == 50.0
    assert lams == pytest.approx([2.0, 4.0, 24.0])


def test_algorithm_2_hand_traced_on_a_tiny_problem():
    # min (x - 3)^2  s.t.  x <= 1, from the infeasible x0 = 2; one exact L-BFGS
    # solve per outer iteration (Algorithm 1's inner solve). With lambda + mu g > 0
    # the augmented Lagrangian's minimiser is x = (6 - lambda + mu) / (2 + mu),
    # and C = max(x - 1, -lambda/mu) = x - 1.
    #   C_best = C(x0)^2 = 1
    #   1. lambda = 0,     mu = 1:  x = 7/3,     C^2 = 16/9 > 1/2:   reject, mu = 10
    #   2. lambda = 0,     mu = 10: x = 4/3,     C^2 = 1/9 <= 1/2:   lambda = 10/3
    #   3. lambda = 10/3,  mu = 10: x = 19/18,   C^2 = 1/324 <= 1/18: lambda = 35/9
    #   4. lambda = 35/9,  mu = 10: x = 109/108, C^2 = 1/108^2 <= 1/648: lambda = 215/54
    xs = []
    res = minimize(
        lambda x: ((x - 3.0) ** 2).sum(),
        [2.0],
        [Inequality(lambda x: x.sum(), upper=1.0)],
        method=SAL(mu_init=1.0, sigma=10.0, mu_max=100.0, eta=0.5, n_aug_lag=100, variant="paper"),
        optimizer="lbfgs",
        max_iter=4,
        optimizer_params=LBFGS_EXACT,
        callback=lambda xk: xs.append(float(xk[0])),
    )
    log = res.method.log_
    assert xs == pytest.approx([7 / 3, 4 / 3, 19 / 18, 109 / 108], abs=1e-9)
    assert [e["accepted"] for e in log] == [False, True, True, True]
    assert [e["mu"] for e in log] == [1.0, 10.0, 10.0, 10.0]
    assert [e["violation"] for e in log] == pytest.approx(
        [16 / 9, 1 / 9, 1 / 324, 1 / 108**2], rel=1e-8
    )
    # the reference C_best each iteration was compared with
    assert [e["best"] for e in log] == pytest.approx([1.0, 1.0, 1 / 9, 1 / 324], rel=1e-8)
    assert res.method.c_best_ == pytest.approx(1 / 108**2, rel=1e-8)
    lams = [h["multipliers"]["c0"] for h in res.history]
    assert lams == pytest.approx([0.0, 10 / 3, 35 / 9, 215 / 54], abs=1e-8)
    assert [h["penalty"] for h in res.history] == [10.0, 10.0, 10.0, 10.0]
    assert res.multipliers[0] == pytest.approx([215 / 54], abs=1e-8)


# -- the corrected variant (the default) ---------------------------------------------------------
def test_corrected_trace_updates_the_multipliers_at_every_outer_iteration():
    # the method of multipliers: lambda <- lambda + mu C after every outer
    # iteration, C = h or max(g, -lambda/mu); mu grows when ||C||^2 did not
    # fall below eta times the previous iteration's (the first always counts)
    m = _sal(mu_init=1.0, sigma=10.0, mu_max=50.0, eta=0.5, n_aug_lag=4)
    assert m.variant == "corrected"
    m.observe(states(h=1.0, g=0.0))
    # 1. C = (0.6, 0): accepted, lambda_h = 0.6
    m.epoch_end(states(h=0.6, g=0.0))
    assert _lam(m, "h") == pytest.approx(0.6) and _lam(m, "g") == 0.0 and m.mu_ == 1.0
    # 2. C = (0.5, 0.2), 0.29 > 0.5 * 0.36: the multipliers still move (with
    #    mu = 1), then the penalty grows
    m.epoch_end(states(h=0.5, g=0.2))
    assert _lam(m, "h") == pytest.approx(1.1) and _lam(m, "g") == pytest.approx(0.2)
    assert m.mu_ == 10.0 and m.log_[-1]["mu"] == 1.0
    # 3. mu = 10, C = (0.3, max(-1, -0.02)): lambda_g = 0.2 - 0.2 = 0
    m.epoch_end(states(h=0.3, g=-1.0))
    assert _lam(m, "h") == pytest.approx(4.1) and _lam(m, "g") == pytest.approx(0.0, abs=1e-15)
    assert m.c_best_ == pytest.approx(0.09 + 0.02**2) and m.mu_ == 10.0
    # 4. C = (0.3, 0.1), 0.1 > 0.5 * 0.0904; the block ends: mu restarts at 2 mu_init
    m.epoch_end(states(h=0.3, g=0.1))
    assert _lam(m, "h") == pytest.approx(7.1) and _lam(m, "g") == pytest.approx(1.0)
    assert m.block_ == 1 and m.mu_ == 2.0
    # 5. both hold (h = 0, g slack): lambda_g = 1 + 2 max(-1, -1/2) = 0, lambda_h stays
    m.epoch_end(states(h=0.0, g=-1.0))
    assert _lam(m, "h") == pytest.approx(7.1) and _lam(m, "g") == pytest.approx(0.0, abs=1e-15)
    assert all(e["accepted"] for e in m.log_) and not m.should_stop()


@pytest.mark.parametrize(
    "variant, expected", [("corrected", [0.5, 0.4, 0.3, 0.0]), ("paper", [0.5, 0.4, 0.4, 0.0])]
)
def test_corrected_keeps_updating_the_multiplier_once_feasible(variant, expected):
    # g > 0 once, then the constraint holds with slack 0.1. Iteration 3 does not
    # decrease ||C||^2 enough (0.01 > 0.5 * 0.01): the paper freezes lambda and
    # grows mu; the corrected variant moves lambda towards complementarity anyway.
    m = bind(SAL(mu_init=1.0, sigma=10.0, eta=0.5, variant=variant), g="inequality")
    m.observe(states(g=1.0))
    lams = []
    for g in [0.5, -0.1, -0.1, -0.1]:
        m.epoch_end(states(g=g))
        lams.append(_lam(m, "g"))
    assert lams == pytest.approx(expected, abs=1e-12)
    assert [e["mu"] for e in m.log_] == [1.0, 1.0, 1.0, 10.0]


PROBLEM = dict(
    fun=lambda x: ((x - 3.0) ** 2).sum(),
    x0=[0.0],  # feasible: x* = 1, lambda* = 4
    constraints=[Inequality(lambda x: x.sum(), upper=1.0)],
)


def test_corrected_learns_the_multiplier_from_a_feasible_start():
    # the example at SAL's defaults (SGD, lr 0.01), 30 outer iterations
    res = minimize(**PROBLEM, method="sal", max_iter=3000)
    assert res.x[0] == pytest.approx(1.0, abs=1e-6)
    assert res.multipliers[0][0] == pytest.approx(4.0, abs=1e-5)
    assert res.constr_violation <= 1e-6
    # it keeps updating the multiplier after the iterate becomes feasible:
    # every later outer iteration moves it closer to lambda* = 4
    lams = [h["multipliers"]["c0"] for h in res.history]
    viol = [h["largest_violations"]["c0"] for h in res.history]
    first = next(i for i, v in enumerate(viol) if v <= 1e-4)
    assert first < len(lams) - 3
    gaps = [4.0 - lam for lam in lams[first:]]
    assert all(later < earlier for earlier, later in zip(gaps[:4], gaps[1:5], strict=True))
    # with exact inner solves the multiplier converges like the method of multipliers
    res = minimize(
        **PROBLEM,
        method=SAL(mu_init=1.0),
        optimizer="lbfgs",
        max_iter=30,
        optimizer_params=LBFGS_EXACT,
    )
    assert res.x[0] == pytest.approx(1.0, abs=1e-6)
    assert res.multipliers[0][0] == pytest.approx(4.0, abs=1e-6)


def test_paper_variant_never_learns_the_multiplier_from_a_feasible_start():
    # C_best = C(x0)^2 = 0: no outer iteration with a violation is accepted, the
    # multiplier stays 0 and SAL is a quadratic penalty (x > 1 at every mu)
    res = minimize(**PROBLEM, method=SAL(variant="paper"), max_iter=3000)
    assert res.multipliers[0].tolist() == [0.0]
    assert abs(res.x[0] - 1.0) > 1e-2
    res = minimize(
        **PROBLEM,
        method=SAL(mu_init=1.0, variant="paper"),
        optimizer="lbfgs",
        max_iter=30,
        optimizer_params=LBFGS_EXACT,
    )
    assert res.multipliers[0].tolist() == [0.0]
    # the quadratic penalty's minimiser at the last penalty: x = (6 + mu) / (2 + mu)
    mu = res.method.log_[-1]["mu"]
    assert res.x[0] == pytest.approx((6 + mu) / (2 + mu), abs=1e-8) and res.x[0] > 1.0
    assert not res.success  # infeasible


# -- both variants -------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["paper", "corrected"])
def test_stops_when_both_tolerances_hold(variant):
    m = _sal(mu_init=1.0, tol_violation=0.05, tol_objective=0.5, variant=variant)
    s = states(h=1.0, g=0.0)
    m.observe(s)
    m.loss(torch.tensor(2.0, dtype=torch.float64), s)
    m.epoch_end(states(h=0.1, g=0.0))  # accepted, small violation, but objective 2.0 > 0.5
    assert m.log_[-1]["accepted"] and not m.should_stop()
    s = states(h=0.0, g=0.0)
    m.observe(s)
    m.loss(torch.tensor(0.25, dtype=torch.float64), s)
    m.loss(torch.tensor(0.5, dtype=torch.float64), s)  # L-BFGS re-evaluation: not counted
    m.epoch_end(states(h=0.01, g=0.0))
    assert m.should_stop()
    # a violation tolerance alone suffices; none at all never stops
    m = _sal(tol_violation=0.05, variant=variant)
    s = states(h=1.0, g=0.0)
    m.observe(s)
    m.loss(torch.tensor(9.0, dtype=torch.float64), s)
    m.epoch_end(states(h=0.1, g=0.0))
    assert m.should_stop()
    m = _sal(variant=variant)
    m.observe(s)
    m.loss(torch.tensor(9.0, dtype=torch.float64), s)
    m.epoch_end(states(h=0.0, g=0.0))
    assert not m.should_stop()


@pytest.mark.parametrize("variant", ["paper", "corrected"])
def test_augmented_terms_and_their_gradients(variant):
    m = _sal(mu_init=2.0, mu_max=2.0, variant=variant)
    set_multipliers(m, h=[1.0], g=[0.5])
    h = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    g = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    loss = m.loss(ZERO, states(h=h, g=g))
    # h: lambda h + mu/2 h^2 = 0.5 + 0.25 ; g active: (max(0, 0.5 + 1)^2 - 0.25) / 4 = 0.5
    assert float(loss.detach()) == pytest.approx(0.75 + 0.5)
    loss.backward()
    assert float(h.grad) == pytest.approx(1.0 + 2.0 * 0.5)  # lambda + mu h
    assert float(g.grad) == pytest.approx(1.5)  # max(0, lambda + mu g)
    g2 = torch.tensor([-1.0], dtype=torch.float64, requires_grad=True)
    loss = m.loss(ZERO, states(g=g2))
    # -lambda^2 / (2 mu): slack, no gradient
    assert float(loss.detach()) == pytest.approx(-0.25 / 4)
    loss.backward()
    assert float(g2.grad) == 0.0


@pytest.mark.parametrize("variant", ["paper", "corrected"])
def test_state_dict_round_trip_resumes_the_schedule(variant):
    ref = _sal(mu_init=1.0, n_aug_lag=3, variant=variant)
    ref.observe(states(h=1.0, g=0.0))
    ref.epoch_end(states(h=0.6, g=0.1))
    ref.epoch_end(states(h=0.5, g=0.2))
    snapshot = ref.state_dict()
    at_snapshot = ref.multipliers()
    resumed = _sal(mu_init=1.0, n_aug_lag=3, variant=variant)
    resumed.load_state_dict(snapshot)
    for s in (states(h=0.3, g=-1.0), states(h=0.2, g=0.3)):
        ref.epoch_end(s)
        resumed.epoch_end(s)
        for name, value in ref.multipliers().items():
            assert resumed.multipliers()[name].tolist() == value.tolist()
        assert resumed.mu_ == ref.mu_ and resumed.block_ == ref.block_
        assert resumed.c_best_ == ref.c_best_
    # the snapshot is a copy: the later outer iterations left it as it was
    assert ref.multipliers()["h"] != pytest.approx(at_snapshot["h"])
    for name, value in snapshot["multipliers"].items():
        assert value.tolist() == at_snapshot[name].tolist()
    assert snapshot["outer_iter"] == 2 and ref.outer_iter_ == 4


def test_parameter_validation():
    for bad in (
        dict(mu_init=0.0),
        dict(sigma=0.5),
        dict(eta=1.5),
        dict(mu_max=0.001, mu_init=0.1),
        dict(n_aug_lag=0),
        dict(tol_violation=-1.0),
        dict(variant="printed"),
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            SAL(**bad).check_params()


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
    # the paper's variant too: C(theta_0) = 0 at a feasible start, and C = 0 is accepted
    clf = ConstrainedClassifier(
        constraints={"l2": L2Norm(bound=1e4)},
        method=SAL(tol_violation=1e-12, variant="paper"),
        max_epochs=20,
        random_state=0,
    ).fit(Xtr, ytr)
    assert len(clf.history_) == 1 and clf.method_.log_[0]["accepted"]


EPOCHS = {"adam": 15, "lbfgs": 8}
METHODS = {
    "adam": {"fp": FixedPenalty(penalty=1.0), "gda": GDA(), "sal": SAL(), "sadmm": SADMM()},
    # one L-BFGS solve per dual update: plain GDA's dual ascent oscillates with
    # exact inner solves, the augmented Lagrangian (method of multipliers) does not
    "lbfgs": {
        # the exact penalty has a kink at the level: with coefficient 1 (or 2) L-BFGS
        # stalls there at 0.898 (0.896) test accuracy, with 0.3 or 0.5 it reaches 0.958
        # (a fixed penalty is the baseline that needs tuning)
        "fp": FixedPenalty(penalty=0.5),
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
