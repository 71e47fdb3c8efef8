"""Intervals and margins of data-dependent constraints (sklearn_constrained.utils._stats).

Coverage is checked on synthetic Bernoulli data with known rates: with S
simulated data sets an interval that covers at 95% shows a coverage within
3 binomial standard deviations (3 * sqrt(0.95 * 0.05 / S)) of 0.95 or above.
"""

import time
import warnings

import numpy as np
import pytest
from scipy import stats

from sklearn_constrained.utils._stats import (
    auto_margin,
    gap_interval,
    gap_margin,
    gap_value,
    group_loss_interval,
    group_loss_margin,
    group_loss_stats,
    rate_interval,
    rate_margin,
)

CONF = 0.95


def _tolerance(n_sets, p=CONF):
    return 3 * np.sqrt(p * (1 - p) / n_sets)


def _covers(iv, true):
    return (iv.low <= true + 1e-12) & (true <= iv.high + 1e-12)


# ----------------------------------------------------------------------------
# rates
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("k, n", [(30, 100), (0, 20), (20, 20), (1, 1), (7, 1000)])
def test_rate_intervals_match_scipy(k, n):
    for method, ref in [("wilson", "wilson"), ("clopper-pearson", "exact")]:
        v, lo, hi = rate_interval(k, n, method=method)
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=CONF, method=ref)
        assert v == pytest.approx(k / n)
        assert lo == pytest.approx(ci.low, abs=1e-9)
        assert hi == pytest.approx(ci.high, abs=1e-9)


@pytest.mark.parametrize("n", [10, 30, 100, 500])
def test_rate_interval_exact_coverage(n):
    # coverage by enumeration of every outcome k = 0..n, on a grid of true rates
    k = np.arange(n + 1)
    ps = np.linspace(0.005, 0.995, 397)
    pmf = stats.binom.pmf(k[None, :], n, ps[:, None])
    middle = (ps >= 0.1) & (ps <= 0.9)
    for method in ("wilson", "clopper-pearson"):
        iv = rate_interval(k, np.full(n + 1, n), method=method)
        inside = (iv.low[None, :] <= ps[:, None]) & (ps[:, None] <= iv.high[None, :])
        coverage = (pmf * inside).sum(axis=1)
        if method == "clopper-pearson":
            assert coverage.min() >= CONF - 1e-9  # exact: never below nominal
        else:
            # Wilson: nominal on average, and never far below for rates in [0.1, 0.9]
            # (Brown, Cai and DasGupta 2001)
            assert abs(coverage.mean() - CONF) < 0.005
            assert coverage[middle].min() > 0.91


def test_rate_interval_coverage_on_simulated_bernoulli_data():
    rng = np.random.default_rng(0)
    n_sets = 2000
    p = rng.uniform(0.05, 0.95, n_sets)
    n = rng.integers(20, 400, n_sets)
    # per data set: n Bernoulli(p) draws, summed (vectorised via a padded matrix)
    draws = rng.random((n_sets, 400)) < p[:, None]
    k = np.where(np.arange(400)[None, :] < n[:, None], draws, False).sum(axis=1)
    for method in ("wilson", "clopper-pearson"):
        iv = rate_interval(k, n, method=method)
        assert iv.low.shape == (n_sets,)
        cov = _covers(iv, p).mean()
        assert cov >= CONF - _tolerance(n_sets)
        if method == "wilson":
            assert cov <= CONF + _tolerance(n_sets)


def test_rate_interval_degenerate_counts():
    iv = rate_interval(0, 50)
    assert iv.value == 0.0 and iv.low == 0.0 and 0.0 < iv.high < 0.1
    iv = rate_interval(50, 50)
    assert iv.value == 1.0 and iv.high == 1.0 and 0.9 < iv.low < 1.0
    for method in ("wilson", "clopper-pearson"):
        iv = rate_interval(1, 1, method=method)
        assert 0.0 < iv.low < 1.0 and iv.high == 1.0
    # (G, R) tables in, same shape out
    iv = rate_interval(np.array([[1, 2], [3, 4]]), np.array([[10, 10], [10, 10]]))
    assert iv.low.shape == (2, 2) and np.all(iv.low < iv.value) and np.all(iv.value < iv.high)


def test_rate_interval_errors():
    with pytest.raises(ValueError, match="no samples"):
        rate_interval(0, 0)
    with pytest.raises(ValueError, match="num <= den"):
        rate_interval(5, 4)
    with pytest.raises(ValueError, match="`confidence`"):
        rate_interval(1, 4, confidence=95)
    with pytest.raises(ValueError, match="`method`"):
        rate_interval(1, 4, method="wald")


# ----------------------------------------------------------------------------
# gaps
# ----------------------------------------------------------------------------
def test_gap_value():
    num = np.array([[30, 10], [45, 2], [40, 5]])
    den = np.array([[100, 20], [100, 10], [100, 10]])
    # columns: selection 0.30/0.45/0.40 (gap 0.15), second 0.5/0.2/0.5 (gap 0.3)
    assert gap_value(num, den) == pytest.approx(0.3)
    assert gap_value(num[:, :1], den[:, :1]) == pytest.approx(0.15)
    assert gap_value([3], [10]) == 0.0
    assert gap_interval([3], [10]) == (0.0, 0.0, 0.0)


# (true per-group rates, per-group sizes): gaps at 0 (the plug-in gap is
# biased upwards there), small groups, a rate near 0, separated groups, two
# groups tied for the maximum, equalized odds (two columns)
GAP_CASES = {
    "two equal small groups": ([[0.3], [0.3]], [[20], [30]]),
    "two equal groups": ([[0.2], [0.2]], [[500], [1000]]),
    "rare event, tiny groups": ([[0.02], [0.02]], [[40], [60]]),
    "two separated groups": ([[0.2], [0.3]], [[500], [1000]]),
    "five equal groups, 30 to 3000": ([[0.25]] * 5, [[30], [100], [300], [1000], [3000]]),
    "tie for the top": ([[0.1], [0.3], [0.3], [0.2], [0.15]], [[30], [100], [300], [1000], [3000]]),
    "equalized odds": ([[0.6, 0.1], [0.6, 0.1], [0.62, 0.12]], [[100, 400], [300, 900], [50, 200]]),
}


def _simulate_counts(p, n, n_sets, seed):
    rng = np.random.default_rng(seed)
    p, n = np.asarray(p, float), np.asarray(n)
    k = rng.binomial(n, p, size=(n_sets,) + p.shape)
    return p, k, np.broadcast_to(n, k.shape)


@pytest.mark.parametrize("case", sorted(GAP_CASES))
def test_gap_interval_score_covers(case):
    p, k, n = _simulate_counts(*GAP_CASES[case], n_sets=2000, seed=1)
    true = np.max(p.max(0) - p.min(0))
    iv = gap_interval(k, n)  # the default: method="score", vectorised over data sets
    assert iv.low.shape == (2000,)
    assert np.all((0 <= iv.low) & (iv.low <= iv.value) & (iv.value <= iv.high) & (iv.high <= 1))
    assert _covers(iv, true).mean() >= CONF - _tolerance(2000)


def test_gap_interval_upper_bound_is_not_wasteful():
    # well separated groups: the upper bound fails at its one-sided rate
    # (alpha / 2 = 0.025), not far less
    p, k, n = _simulate_counts(*GAP_CASES["two separated groups"], n_sets=4000, seed=2)
    miss = np.mean(gap_interval(k, n).high < 0.1 - 1e-12)
    assert 0.01 < miss < 0.025 + 3 * np.sqrt(0.025 * 0.975 / 4000)


def test_plug_in_gap_is_biased_and_delta_undercovers_at_ties():
    # five groups with equal rates: the plug-in gap is far from 0 on average,
    # and the delta method (at the largest pair) misses the true gap 0 often
    p, k, n = _simulate_counts(*GAP_CASES["five equal groups, 30 to 3000"], n_sets=2000, seed=3)
    assert gap_value(k, n).mean() > 0.05  # about 0.095; the true gap is 0
    with pytest.warns(UserWarning, match="delta method"):
        delta = gap_interval(k, n, method="delta")
    assert _covers(delta, 0.0).mean() < 0.9
    assert _covers(gap_interval(k, n), 0.0).mean() >= CONF


def test_gap_interval_delta_is_sound_when_separated():
    p, k, n = _simulate_counts([[0.2], [0.4]], [[1000], [2000]], n_sets=2000, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # well separated: no warning
        iv = gap_interval(k, n, method="delta")
    assert abs(_covers(iv, 0.2).mean() - CONF) <= _tolerance(2000)


@pytest.mark.parametrize(
    "case", ["five equal groups, 30 to 3000", "two equal small groups", "equalized odds"]
)
def test_gap_interval_bootstrap_covers(case):
    p, k, n = _simulate_counts(*GAP_CASES[case], n_sets=400, seed=5)
    true = np.max(p.max(0) - p.min(0))
    hits = [
        _covers(gap_interval(k[s], n[s], method="bootstrap", n_boot=1000, random_state=s), true)
        for s in range(400)
    ]
    assert np.mean(hits) >= CONF - _tolerance(400)


def test_gap_interval_lower_bounds_at_a_zero_gap():
    # five equal groups: the lower bound exceeds the true gap 0 with
    # probability alpha / 2 = 0.025 for the bootstrap's max-t critical value
    # (calibrated), and at most that for Bonferroni (the score method)
    p, k, n = _simulate_counts([[0.3]] * 5, [[200], [400], [800], [1200], [2000]], 1000, seed=11)
    boot = [
        gap_interval(k[s], n[s], method="bootstrap", n_boot=500, random_state=s).low
        for s in range(1000)
    ]
    tol = 3 * np.sqrt(0.025 * 0.975 / 1000)
    assert abs(np.mean(np.array(boot) > 1e-12) - 0.025) <= tol
    assert np.mean(gap_interval(k, n).low > 1e-12) <= 0.025 + tol


def test_gap_interval_bootstrap_is_seeded_and_fast():
    num, den = (
        np.array([[10, 5], [30, 20], [50, 8], [20, 20], [7, 1]]),
        np.array([[100, 50], [300, 200], [500, 80], [200, 200], [70, 10]]),
    )
    a = gap_interval(num, den, method="bootstrap", random_state=3)
    b = gap_interval(num, den, method="bootstrap", random_state=3)
    assert a == b
    score = gap_interval(num, den)
    assert a.high == score.high and a.value == score.value  # same upper bound
    start = time.perf_counter()
    gap_interval(num, den, method="bootstrap", n_boot=4000)
    assert time.perf_counter() - start < 0.5  # 4000 draws of 10 cells: milliseconds


def test_gap_interval_degenerate_groups():
    # a group of one and groups with no positive prediction are fine
    iv = gap_interval([[1], [0], [0]], [[1], [50], [80]])
    assert iv.value == 1.0 and 0.0 < iv.low < 1.0 and iv.high == 1.0
    iv = gap_interval([[0], [0]], [[50], [80]])
    assert iv.value == 0.0 and iv.low == 0.0 and 0.0 < iv.high < 0.1
    for method in ("score", "bootstrap", "delta"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            iv = gap_interval([[0], [5]], [[5], [5]], method=method)
        assert 0.0 <= iv.low <= 1.0 and iv.high == 1.0


def test_gap_interval_empty_group_error_names_it():
    with pytest.raises(ValueError, match=r"group 'Amer-Indian' \(index 1\) has no samples"):
        gap_interval([[3], [0]], [[10], [0]], group_names=["White", "Amer-Indian"])
    with pytest.raises(ValueError, match="group 0 in rate column 1 has no samples"):
        gap_interval([[3, 0], [1, 2]], [[10, 0], [10, 5]])
    with pytest.raises(ValueError, match="`method`"):
        gap_interval([1, 2], [3, 4], method="percentile")
    with pytest.raises(ValueError, match="`n_boot`"):
        gap_interval([1, 2], [3, 4], method="bootstrap", n_boot=10)


# ----------------------------------------------------------------------------
# group losses
# ----------------------------------------------------------------------------
def test_group_loss_stats_match_numpy():
    rng = np.random.default_rng(0)
    losses = [rng.gamma(2.0, 0.2, n) for n in (5, 50)]
    m, v, n = group_loss_stats(
        [x.sum() for x in losses], [(x**2).sum() for x in losses], [x.size for x in losses]
    )
    np.testing.assert_allclose(m, [x.mean() for x in losses])
    np.testing.assert_allclose(v, [x.var(ddof=1) for x in losses])
    assert np.isnan(group_loss_stats([2.0], [4.0], [1])[1][0])


@pytest.mark.parametrize("means", [(0.4, 0.4, 0.4), (0.3, 0.5, 0.35)])
def test_group_loss_interval_covers(means):
    # skewed per-sample losses (gamma, shape 2) in groups of 30, 100 and 400
    rng = np.random.default_rng(6)
    sizes, n_sets = (30, 100, 400), 2000
    stats_ = [
        rng.gamma(2.0, mu / 2.0, size=(n_sets, size)) for mu, size in zip(means, sizes, strict=True)
    ]
    m = np.stack([x.mean(1) for x in stats_], 1)
    v = np.stack([x.var(1, ddof=1) for x in stats_], 1)
    hits = [_covers(group_loss_interval(m[s], v[s], sizes), max(means)) for s in range(n_sets)]
    assert np.mean(hits) >= CONF - _tolerance(n_sets)


def test_group_loss_interval_degenerate_groups():
    iv = group_loss_interval([0.2, 0.5], [0.01, np.nan], [100, 1])
    assert iv.value == 0.5 and iv.high == np.inf and 0.1 < iv.low < 0.2
    with pytest.raises(ValueError, match=r"group 'b' \(index 1\) has 0 samples"):
        group_loss_interval([0.2, 0.0], [0.01, 0.0], [100, 0], group_names=["a", "b"])
    with pytest.raises(ValueError, match="variance"):
        group_loss_interval([0.2, 0.3], [0.01, -1.0], [100, 10])


# ----------------------------------------------------------------------------
# margins
# ----------------------------------------------------------------------------
SIZES = np.geomspace(2, 1e8, 200)


@pytest.mark.parametrize("rate", [0.0, 0.01, 0.3, 0.5, 0.9, 0.99, 1.0])
@pytest.mark.parametrize("side", ["upper", "lower"])
def test_rate_margin_is_monotone_and_vanishes(rate, side):
    for new in (None, np.inf, 100.0):
        mu = rate_margin(np.full(SIZES.shape, rate), SIZES, new_sizes=new, side=side)
        assert np.all(mu >= 0)
        assert np.all(np.diff(mu) <= 1e-15), (rate, side, new)  # smaller for more data
    # in the fresh sample's size too
    mu = rate_margin(np.full(SIZES.shape, rate), np.full(SIZES.shape, 100.0), new_sizes=SIZES)
    assert np.all(np.diff(mu) <= 1e-15)
    # n -> inf: zero for the population value and for a fresh sample as large
    assert rate_margin(rate, 1e12, side=side) < 1e-5
    assert rate_margin(rate, 1e12, new_sizes=np.inf, side=side) < 1e-5
    # a fixed fresh sample keeps its own sampling error
    r = rate if side == "upper" else 1 - rate
    expected = stats.norm.ppf(CONF) * np.sqrt(r * (1 - r) / 100)
    assert rate_margin(rate, 1e12, new_sizes=100.0, side=side) == pytest.approx(expected, abs=1e-4)


def test_rate_margin_population_limit_is_the_wilson_bound():
    k, n = np.array([0, 3, 40, 500]), np.array([1000, 1000, 200, 1000])
    upper = rate_interval(k, n, confidence=1 - 2 * (1 - CONF)).high  # one-sided 95%
    np.testing.assert_allclose(rate_margin(k / n, n, new_sizes=np.inf), upper - k / n)
    lower = rate_interval(k, n, confidence=1 - 2 * (1 - CONF)).low
    np.testing.assert_allclose(rate_margin(k / n, n, new_sizes=np.inf, side="lower"), k / n - lower)


@pytest.mark.parametrize(
    "p, n, m", [(0.3, 500, 500), (0.05, 200, 1000), (0.5, 100, 100), (0.01, 300, 300)]
)
def test_rate_margin_calibration(p, n, m):
    # training rate + margin bounds the fresh-sample rate with probability ~ 0.95
    rng = np.random.default_rng(7)
    r_train = rng.binomial(n, p, 20000) / n
    r_fresh = rng.binomial(m, p, 20000) / m
    miss = np.mean(r_fresh > r_train + rate_margin(r_train, np.full(20000, n), new_sizes=m))
    assert 0.03 < miss < 0.06


def test_gap_margin_matches_monte_carlo():
    rng = np.random.default_rng(8)
    z = stats.norm.ppf(CONF)
    for rates, sizes in [
        ([0.1, 0.5, 0.9, 0.02, 0.3], [50, 5000, 300, 20, 1000]),
        ([[0.6, 0.1], [0.7, 0.15], [0.5, 0.2]], [[100, 400], [300, 900], [50, 200]]),
    ]:
        r, n = np.asarray(rates, float), np.asarray(sizes, float)
        centre = (r * n + z * z / 2) / (n + z * z)
        sd = np.sqrt(centre * (1 - centre) * 2 / n)
        d = rng.standard_normal((200000,) + r.shape) * sd
        rng_stat = d.max(axis=1) - d.min(axis=1)
        rng_stat = rng_stat.max(axis=1) if r.ndim == 2 else rng_stat
        assert gap_margin(r, n) == pytest.approx(np.quantile(rng_stat, CONF), rel=0.01)
    # two groups: exactly z_{0.975} * sqrt(s_1^2 + s_2^2)
    r, n = np.array([0.2, 0.3]), np.array([1000.0, 500.0])
    centre = (r * n + z * z / 2) / (n + z * z)
    s = np.sqrt(np.sum(centre * (1 - centre) * 2 / n))
    assert gap_margin(r, n) == pytest.approx(stats.norm.ppf(0.975) * s, rel=1e-8)


def test_gap_margin_is_monotone_and_vanishes():
    rates = np.array([[0.2, 0.6], [0.3, 0.7], [0.25, 0.5]])
    base = np.array([[300, 100], [120, 80], [60, 40]], float)
    for new in (None, np.inf):
        mus = [gap_margin(rates, base * f, new_sizes=new) for f in 2.0 ** np.arange(12)]
        assert np.all(np.diff(mus) < 0)
        assert gap_margin(rates, base * 1e10, new_sizes=new) < 1e-4
    # a bigger fresh sample, or one more row in any group, never raises the margin
    assert gap_margin(rates, base, new_sizes=base * 4) < gap_margin(rates, base)
    bigger = base.copy()
    bigger[2, 1] += 100
    assert gap_margin(rates, bigger) < gap_margin(rates, base)
    assert gap_margin([0.3], [100]) == 0.0


@pytest.mark.parametrize(
    "bound, n, m",
    [
        (0.05, (5000, 2500), (5000, 2500)),
        (0.1, (1000, 500), (1000, 500)),
        (0.1, (8000, 1500, 600), (4000, 750, 300)),
        (0.05, (20000, 10000), (np.inf, np.inf)),
    ],
)
def test_gap_margin_guarantee_end_to_end(bound, n, m):
    # A "model" thresholds a uniform score per group, with thresholds picked on
    # the training rows so that the training gap is bound - margin (the groups
    # spread evenly between the lowest and the highest rate). The population
    # rate of a threshold at an order statistic is Beta-distributed; the fresh
    # sample's rates are binomial. With the margin the fresh gap meets the
    # level in >= 95% of the repetitions; without it, in about half.
    rng = np.random.default_rng(9)
    n, m = np.asarray(n, float), np.asarray(m, float)
    n_groups, reps = len(n), 20000
    shares = {}
    for use_margin in (True, False):
        mu = 0.0
        for _ in range(30 if use_margin else 0):  # the margin at the converged rates
            mu = gap_margin(0.3 + np.linspace(0, bound - mu, n_groups), n, new_sizes=m)
        assert mu < bound
        k = np.round((0.3 + np.linspace(0, bound - mu, n_groups)) * n)
        population = 1 - rng.beta(n - k, k + 1, size=(reps, n_groups))
        if np.all(np.isinf(m)):
            fresh = population
        else:
            fresh = rng.binomial(m.astype(int), population) / m
        shares[use_margin] = np.mean(fresh.max(1) - fresh.min(1) <= bound + 1e-12)
    assert shares[True] >= CONF - _tolerance(reps)
    assert shares[False] < 0.6


def test_two_group_gap_margin_with_a_level_is_exact():
    # a column whose training difference is level - mu (the worst case) keeps its
    # fresh gap within the level with probability CONF exactly (normal d), and the
    # level-free range bound is the larger, conservative margin
    rng = np.random.default_rng(11)
    for rates, sizes, level in [
        ([0.15, 0.15], [1650, 3350], 0.05),
        ([[0.2, 0.5], [0.25, 0.55]], [[1650, 180], [3350, 1040]], 0.15),
    ]:
        r, n = np.asarray(rates, float), np.asarray(sizes, float)
        mu = gap_margin(r, n, level=level)
        assert 0 < mu < gap_margin(r, n)
        z = stats.norm.ppf(CONF)
        centre = (r * n + z * z / 2) / (n + z * z)
        pair_sd = np.sqrt(np.sum(centre * (1 - centre) * 2 / n, axis=0))
        d = rng.standard_normal((400000, pair_sd.size)) * pair_sd
        ok = np.all(np.abs(level - mu + d) <= level, axis=1).mean()
        assert abs(ok - CONF) <= _tolerance(400000)
    # continuous where the margin reaches the level: the range bound from there on
    r, n = np.array([0.2, 0.3]), np.array([1000.0, 500.0])
    free = gap_margin(r, n)
    assert gap_margin(r, n, level=free * 0.9) == free
    assert gap_margin(r, n, level=free * (1 + 1e-8)) == pytest.approx(free, rel=1e-3)
    assert auto_margin("gap", r, n, level=0.1) == gap_margin(r, n, level=0.1)
    # a confidence of at most 1/2 needs no margin with two groups (no root-finding error)
    assert gap_margin(r, n, level=0.1, confidence=0.4) == 0.0
    assert 0 < gap_margin(r, n, level=0.1, confidence=0.6) < gap_margin(r, n, level=0.1)


def test_two_group_gap_margin_guarantee_end_to_end():
    # the thresholded-uniform model of the test above, two groups trained to
    # level - margin: with the exact margin the fresh gap meets the level in about
    # CONF of the repetitions (the range bound gives 97-98%)
    rng = np.random.default_rng(12)
    bound, reps = 0.05, 40000
    n = m = np.array([5000.0, 2500.0])
    mu = 0.0
    for _ in range(30):
        mu = gap_margin(0.3 + np.array([0.0, bound - mu]), n, new_sizes=m, level=bound)
    k = np.round((0.3 + np.array([0.0, bound - mu])) * n)
    population = 1 - rng.beta(n - k, k + 1, size=(reps, 2))
    fresh = rng.binomial(m.astype(int), population) / m
    share = np.mean(fresh.max(1) - fresh.min(1) <= bound + 1e-12)
    assert CONF - 2 * _tolerance(reps) <= share <= CONF + 2 * _tolerance(reps)


def test_group_loss_margin():
    v, n = np.array([0.04, 0.09, 0.2]), np.array([400.0, 100.0, 30.0])
    c = stats.norm.ppf(CONF ** (1 / 3))  # Sidak over the three groups
    np.testing.assert_allclose(group_loss_margin(v, n), c * np.sqrt(v * 2 / n))
    np.testing.assert_allclose(group_loss_margin(v, n, new_sizes=np.inf), c * np.sqrt(v / n))
    mus = np.array([group_loss_margin(v, n * f) for f in 2.0 ** np.arange(10)])
    assert np.all(np.diff(mus, axis=0) < 0)
    assert np.all(group_loss_margin(v, n * 1e10) < 1e-4)
    with pytest.raises(ValueError, match=r"group 'x' \(index 1\) has 1 samples"):
        group_loss_margin([0.1, 0.0], [10, 1], group_names=["w", "x"])
    # calibration: normal per-sample losses, every group's fresh mean below
    # the training mean plus its margin in ~95% of the repetitions (all bind)
    rng = np.random.default_rng(10)
    sd = np.sqrt(v)
    train = rng.normal(0.5, sd / np.sqrt(n), size=(20000, 3))
    fresh = rng.normal(0.5, sd / np.sqrt(n), size=(20000, 3))
    ok = np.all(fresh <= train + group_loss_margin(v, n), axis=1).mean()
    assert abs(ok - CONF) <= _tolerance(20000)


def test_auto_margin_dispatch():
    assert auto_margin("rate", 0.3, 1000) == rate_margin(0.3, 1000)
    assert auto_margin("rate", 0.8, 100, side="lower") == rate_margin(0.8, 100, side="lower")
    assert auto_margin("gap", [0.2, 0.3], [1000, 500], confidence=0.9) == gap_margin(
        [0.2, 0.3], [1000, 500], confidence=0.9
    )
    np.testing.assert_array_equal(
        auto_margin("group_loss", [0.04, 0.09], [400, 100], new_sizes=[40, 10]),
        group_loss_margin([0.04, 0.09], [400, 100], new_sizes=[40, 10]),
    )
    with pytest.raises(ValueError, match="`family`"):
        auto_margin("loss", 0.3, 100)
    with pytest.raises(ValueError, match="no samples"):
        auto_margin("gap", [0.2, 0.3], [100, 0], group_names=["a", "b"])
    with pytest.raises(ValueError, match="`new_sizes`"):
        auto_margin("rate", 0.3, 100, new_sizes=0)
    with pytest.raises(ValueError, match="`side`"):
        auto_margin("rate", 0.3, 100, side="both")
