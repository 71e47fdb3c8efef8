"""Reliability: every user mistake is a clear error, infeasible and diverging fits end well.

Complements tests/estimators/test_validation.py (which it does not repeat): each bad
input below raises a ``ValueError``/``TypeError`` (``NotFittedError`` before
fit) whose message names the parameter and says what to do, never a raw
torch error; pandas, lists and float64 all work and nothing the user passes
is mutated; an unreachable level ends with ``feasible_ = False``, a warning
with the achieved values and a less violated iterate than the last (the
returned-iterate rule); a diverging fit ends with a warning and finite
predictions.
"""

import copy
import types
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_constrained import ConstrainedClassifier, ConstrainedRegressor
from sklearn_constrained._training import BestIterate, DivergenceGuard
from sklearn_constrained.constraints import (
    BoundedGroupLoss,
    DemographicParity,
    Density,
    EqualizedOdds,
    FalsePositiveRate,
    L1Norm,
    L2Norm,
    NonNegativity,
    Orthogonality,
    PredictionRate,
    Simplex,
    TruePositiveRate,
    tolerance_scale,
)
from sklearn_constrained.methods import GDA, SADMM, SAL, FixedPenalty
from sklearn_constrained.models import MLP


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = (X[:, 0] > 0).astype(int)
    groups = np.where(X[:, 1] > 0, "a", "b")
    return X, y, groups


@pytest.fixture(scope="module")
def fitted(data):
    X, y, groups = data
    return ConstrainedClassifier(
        constraints={"dp": DemographicParity(0.5), "tpr": TruePositiveRate(0.1)},
        max_epochs=1,
        random_state=0,
    ).fit(X, y, sensitive_features=groups)


def _clf(**kw):
    kw.setdefault("max_epochs", 1)
    return ConstrainedClassifier(**kw)


# ----------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------
def test_non_finite_y(data):
    X, y, _ = data
    y_nan = y.astype(float)
    y_nan[4] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        _clf().fit(X, y_nan)
    y_inf = X[:, 0].copy()
    y_inf[2] = np.inf
    with pytest.raises(ValueError, match="Input y contains infinity"):
        ConstrainedRegressor(max_epochs=1).fit(X, y_inf)


def test_empty_and_degenerate_data(data):
    X, y, _ = data
    with pytest.raises(
        ValueError, match=r"0 sample\(s\).*minimum of 1 is required by ConstrainedClassifier"
    ):
        _clf().fit(X[:0], y[:0])
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        _clf().fit(X[:, :0], y)
    with pytest.raises(ValueError, match="at least 2 classes.*'spam'"):
        _clf().fit(X, np.array(["spam"] * len(X)))
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        _clf().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="could not convert string to float"):
        _clf().fit(np.full((len(X), 2), "x"), y)
    import scipy.sparse as sp

    # Changed by design (issue 15): sparse X is accepted (densified batch by
    # batch) and trains the same model as the dense array
    sparse = _clf(random_state=0).fit(sp.csr_matrix(X), y)
    dense = _clf(random_state=0).fit(X, y)
    assert np.array_equal(sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X))


def test_wrong_width_at_predict(fitted, data):
    X, y, groups = data
    for call in (
        fitted.predict,
        fitted.predict_proba,
        lambda Z: fitted.score(Z, y),
        lambda Z: fitted.evaluate_constraints(Z, y, sensitive_features=groups),
    ):
        with pytest.raises(
            ValueError, match="X has 2 features, but ConstrainedClassifier is expecting 3"
        ):
            call(X[:, :2])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fitted.predict(np.full_like(X, np.nan))


@pytest.mark.parametrize(
    "call", ["predict", "predict_proba", "score", "evaluate_constraints", "save"]
)
def test_use_before_fit_is_not_fitted_error(data, call, tmp_path):
    X, y, _ = data
    args = {
        "predict": (X,),
        "predict_proba": (X,),
        "score": (X, y),
        "evaluate_constraints": (X,),
        "save": (tmp_path / "m.pt",),
    }[call]
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(ConstrainedClassifier(), call)(*args)
    with pytest.raises(NotFittedError):
        ConstrainedRegressor().predict(X)


def test_a_failed_refit_leaves_the_estimator_unfitted(data):
    X, y, _ = data
    clf = _clf(random_state=0).fit(X, y)
    clf.set_params(constraints={"nn": NonNegativity(params="head.*")})
    with pytest.raises(ValueError, match="matches no trainable parameter"):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    # an error before any fitted attribute changes keeps the previous model
    clf.set_params(constraints=None).fit(X, y)
    with pytest.raises(ValueError, match="max_epochs"):
        clf.set_params(max_epochs=0).fit(X, y)
    assert clf.predict(X).shape == (len(X),)


# ----------------------------------------------------------------------------
# sensitive features
# ----------------------------------------------------------------------------
def test_sensitive_features_mistakes(data):
    X, y, groups = data
    clf = _clf(constraints={"dp": DemographicParity(0.1)})
    with pytest.raises(
        ValueError,
        match=r"\['dp'\] compare groups, so fit needs `sensitive_features`.*set_fit_request",
    ):
        clf.fit(X, y)
    with pytest.raises(
        ValueError, match=r"`sensitive_features` must have one entry .* shape \(59,\) for 60"
    ):
        clf.fit(X, y, sensitive_features=groups[:-1])
    with pytest.raises(
        ValueError, match=r"`sensitive_features` must have one entry .* shape \(60, 2, 2\)"
    ):
        clf.fit(X, y, sensitive_features=np.zeros((60, 2, 2)))
    with pytest.raises(
        ValueError, match="`sensitive_features` has a single group .*need at least two"
    ):
        clf.fit(X, y, sensitive_features=np.full(len(X), "a"))
    with pytest.raises(ValueError, match="`sensitive_features` contains missing values"):
        clf.fit(X, y, sensitive_features=np.where(groups == "a", np.nan, 1.0))


def test_sensitive_features_at_evaluation(fitted, data):
    X, y, groups = data
    with pytest.raises(ValueError, match="involve labels: pass `y`"):
        fitted.evaluate_constraints(X, sensitive_features=groups)
    with pytest.raises(ValueError, match="Group constraints need `sensitive_features`"):
        fitted.evaluate_constraints(X, y)
    with pytest.raises(ValueError, match=r"groups unseen during fit: \[.*'c'.*\]"):
        fitted.evaluate_constraints(X, y, sensitive_features=np.full(len(X), "c"))
    with pytest.raises(ValueError, match="`y` contains a label not seen during fit"):
        fitted.evaluate_constraints(X, y + 3, sensitive_features=groups)


# ----------------------------------------------------------------------------
# levels and constraints
# ----------------------------------------------------------------------------
def _range_error(param, cls, allowed, got):
    """scikit-learn's message for a parameter out of its declared range (issue 15)."""
    return rf"The '{param}' parameter of {cls} must be {allowed}\. Got {got} instead"


#: the hint every level parameter adds to scikit-learn's message: what to set
HINT = r"Set it to the level"
RATE = r"a float in the range \[0\.0, 1\.0\]"
NONNEG = r"a float in the range \[0\.0, inf\)"


# Changed by design (issue 15): the per-parameter messages come from
# scikit-learn's declarative validation (the parameter, its class, the range,
# the value given) followed by the constraint's hint (what to set).
@pytest.mark.parametrize(
    "constraint, match",
    [
        (
            PredictionRate(1, lower=1.5),
            _range_error("lower", "PredictionRate", f"None or {RATE}", "1.5") + rf".*{HINT}",
        ),
        (
            PredictionRate(1, upper=-0.1),
            _range_error("upper", "PredictionRate", f"None or {RATE}", "-0.1") + rf".*{HINT}",
        ),
        (PredictionRate(1, lower=0.8, upper=0.2), r"`lower`=0.8 exceeds `upper`=0.2"),
        (PredictionRate(1), r"set `lower` and/or `upper`"),
        (
            TruePositiveRate(lower=-0.1),
            _range_error("lower", "TruePositiveRate", RATE, "-0.1") + rf".*{HINT}",
        ),
        (
            FalsePositiveRate(upper=1.2),
            _range_error("upper", "FalsePositiveRate", RATE, "1.2") + rf".*{HINT}",
        ),
        (
            DemographicParity(bound=np.nan),
            _range_error("bound", "DemographicParity", RATE, "nan") + rf".*{HINT}",
        ),
        (
            EqualizedOdds(bound=2.0),
            _range_error("bound", "EqualizedOdds", RATE, "2.0") + rf".*{HINT}",
        ),
        (
            BoundedGroupLoss(bound=-1.0),
            _range_error("bound", "BoundedGroupLoss", NONNEG, "-1.0") + rf".*{HINT}",
        ),
        (Density(upper=1.5), _range_error("upper", "Density", RATE, "1.5") + rf".*{HINT}"),
        (
            Orthogonality(bound=-1.0),
            _range_error("bound", "Orthogonality", NONNEG, "-1.0") + rf".*{HINT}",
        ),
        (
            PredictionRate(1, lower=0.5, surrogate="tanh"),
            _range_error("surrogate", "PredictionRate", r"a str among \{.*'sigmoid'.*\}", "'tanh'"),
        ),
    ],
)
def test_levels_out_of_range(data, constraint, match):
    X, y, groups = data
    with pytest.raises(ValueError, match=match):
        _clf(constraints={"c": constraint}).fit(X, y, sensitive_features=groups)


def test_levels_of_the_wrong_type(data):
    X, y, _ = data
    # Changed by design (issue 15): scikit-learn's declarative validation; its
    # InvalidParameterError is a TypeError (and a ValueError)
    with pytest.raises(
        InvalidParameterError, match=_range_error("bound", "L1Norm", NONNEG, "'1'") + rf".*{HINT}"
    ):
        _clf(constraints={"c": L1Norm(bound="1")}).fit(X, y)
    with pytest.raises(TypeError, match=r"`constraints\['c'\]` must be a Constraint"):
        _clf(constraints={"c": 0.5}).fit(X, y)


@pytest.mark.parametrize("name", ["my l2", "2nd", "", 3])
def test_constraint_names_that_break_set_params(data, name):
    X, y, _ = data
    with pytest.raises(
        ValueError, match="not usable: names must be identifiers without a double underscore"
    ):
        _clf(constraints={name: L2Norm(1.0)}).fit(X, y)


def test_patterns_and_models_that_do_not_fit_the_constraint(data):
    X, y, _ = data
    with pytest.raises(
        ValueError, match=r"params=\['head\.\*', 'out'\] matches no trainable parameter"
    ):
        _clf(constraints={"l2": L2Norm(1.0, params=["head.*", "out"])}).fit(X, y)
    with pytest.raises(
        ValueError, match="Density needs a model with L0 hard-concrete gates.*L0MLP"
    ):
        _clf(constraints={"d": Density(0.5)}).fit(X, y)
    with pytest.raises(
        ValueError, match="SADMM needs a closed-form projection.*'r' \\(PredictionRate\\)"
    ):
        _clf(constraints={"r": PredictionRate(1, lower=0.5)}, method="sadmm").fit(X, y)
    with pytest.raises(
        ValueError,
        match="PredictionRate .* constrains predicted classes; use it with ConstrainedClassifier",
    ):
        ConstrainedRegressor(constraints={"r": PredictionRate(1, lower=0.5)}, max_epochs=1).fit(
            X, X[:, 0]
        )
    with pytest.raises(ValueError, match="needs a positive class: with 3 classes, set `pos_label`"):
        _clf(constraints={"t": TruePositiveRate(0.5)}).fit(X, np.arange(len(X)) % 3)
    with pytest.raises(ValueError, match="`label`=7 is not a class of the data"):
        _clf(constraints={"r": PredictionRate(7, lower=0.5)}).fit(X, y)


# ----------------------------------------------------------------------------
# methods, optimizers and estimator parameters
# ----------------------------------------------------------------------------
POSITIVE = r"a float in the range \(0\.0, inf\)"
BOOL = r"an instance of 'bool' or an instance of 'numpy\.bool'"


# Changed by design (issue 15): the per-parameter messages come from
# scikit-learn's declarative validation (the parameter, its class, what it
# must be, the value given); the cross-parameter rules keep their own.
@pytest.mark.parametrize(
    "method, match",
    [
        # 'auto' is the new default method
        ("sgda", r"Unknown `method`='sgda'. Choose one of 'auto', 'fp', 'gda', 'sal', 'sadmm'"),
        (
            3,
            _range_error(
                "method",
                "ConstrainedClassifier",
                r"an instance of 'str', an instance of 'type' or an object implementing "
                r"'bind' and 'loss'",
                "3",
            ),
        ),
        (
            SAL(sigma=0.5),
            _range_error("sigma", "SAL", r"a float in the range \(1\.0, inf\)", "0.5"),
        ),
        (
            SAL(sigma=1.0),
            _range_error("sigma", "SAL", r"a float in the range \(1\.0, inf\)", "1.0"),
        ),
        (SAL(mu_init=-1.0), _range_error("mu_init", "SAL", POSITIVE, "-1.0")),
        (SAL(eta=1.5), _range_error("eta", "SAL", r"a float in the range \(0\.0, 1\.0\]", "1.5")),
        (SAL(mu_init=10.0, mu_max=1.0), r"SAL: `mu_max`=1.0 must be >= `mu_init`=10.0"),
        (
            SAL(n_aug_lag=0),
            _range_error("n_aug_lag", "SAL", r"an int in the range \[1, inf\)", "0"),
        ),
        (SADMM(rho=0.0), _range_error("rho", "SADMM", POSITIVE, "0.0")),
        (SADMM(rho=-1.0), _range_error("rho", "SADMM", POSITIVE, "-1.0")),
        (
            SADMM(predict_with="z"),
            _range_error("predict_with", "SADMM", r"a str among \{.*'primal'.*\}", "'z'"),
        ),
        (GDA(dual_lr=np.nan), _range_error("dual_lr", "GDA", POSITIVE, "nan")),
        (GDA(kp=-1.0), _range_error("kp", "GDA", NONNEG, "-1.0")),
        (GDA(nu=1.0), _range_error("nu", "GDA", r"a float in the range \[0\.0, 1\.0\)", "1.0")),
        (GDA(penalty=-2.0), _range_error("penalty", "GDA", NONNEG, "-2.0")),
        (
            GDA(order="random"),
            _range_error("order", "GDA", r"a str among \{.*'simultaneous'.*\}", "'random'"),
        ),
        (GDA(augmented="yes"), _range_error("augmented", "GDA", BOOL, "'yes'")),
        (
            FixedPenalty(penalty=np.inf),
            _range_error("penalty", "FixedPenalty", f"{NONNEG} or an instance of 'dict'", "inf"),
        ),
        (FixedPenalty(penalty={"other": 1.0}), r"`penalty` names unknown constraints \['other'\]"),
    ],
)
def test_unknown_or_nonsensical_methods(data, method, match):
    X, y, _ = data
    with pytest.raises(ValueError, match=match):
        _clf(constraints={"l2": L2Norm(1.0)}, method=method).fit(X, y)


def _estimator_error(param, allowed, got):
    return _range_error(param, "ConstrainedClassifier", allowed, got)


# Changed by design (issue 15): the per-parameter messages come from
# scikit-learn's declarative validation.
@pytest.mark.parametrize(
    "params, match",
    [
        ({"optimizer": "rmsprop"}, r"Unknown `optimizer`='rmsprop'; choose one of"),
        (
            {"optimizer": 3},
            _estimator_error("optimizer", r"an instance of 'str' or an instance of 'type'", "3"),
        ),
        ({"lr": np.nan}, _estimator_error("lr", f"None or {POSITIVE}", "nan")),
        ({"lr": "fast"}, _estimator_error("lr", f"None or {POSITIVE}", "'fast'")),
        (
            {"max_epochs": 2.0},
            _estimator_error("max_epochs", r"an int in the range \[1, inf\)", "2.0"),
        ),
        (
            {"max_epochs": -3},
            _estimator_error("max_epochs", r"an int in the range \[1, inf\)", "-3"),
        ),
        (
            {"batch_size": 1.5},
            _estimator_error(
                "batch_size", r"an int in the range \[1, inf\) or a int among \{-1\}", "1.5"
            ),
        ),
        ({"tol": -1.0}, _estimator_error("tol", NONNEG, "-1.0")),
        (
            {"verbose": 5},
            _estimator_error("verbose", rf"an int in the range \[0, 2\] or {BOOL}", "5"),
        ),
        (
            {"random_state": "seed"},
            _estimator_error(
                "random_state", r"an int in the range \[0, 4294967295\], .* or None", "'seed'"
            ),
        ),
        ({"warm_start": 1}, _estimator_error("warm_start", BOOL, "1")),
        (
            {"dual_split": 1.5, "constraints": {"r": PredictionRate(1, lower=0.2)}},
            _estimator_error(
                "dual_split",
                r"None, a str among \{'auto'\} or a float in the range \(0\.0, 1\.0\)",
                "1.5",
            ),
        ),
        ({"distributed": "yes"}, _estimator_error("distributed", BOOL, "'yes'")),
        ({"device": "tpu9"}, r"Unknown `device`='tpu9'"),
    ],
)
def test_bad_estimator_parameters(data, params, match):
    X, y, _ = data
    with pytest.raises(ValueError, match=match):
        _clf(**params).fit(X, y)


def test_the_removed_module_params_says_what_replaces_it(data):
    # Changed by design (issue 15): module_params={...} became module__<arg>
    # (skorch's convention); the old keyword is an unexpected parameter
    X, y, _ = data
    with pytest.raises(
        TypeError,
        match=r"got unexpected parameter\(s\) \['module_params'\]; the keyword arguments of "
        r"the module's constructor are passed as module__<arg>",
    ):
        _clf(module_params={"width": 8}).fit(X, y)


def test_modules_that_do_not_fit_the_data(data):
    X, y, _ = data
    with pytest.raises(
        ValueError,
        match=r"`module` \(Linear\) returns \(2, 5\) for 2 samples; "
        r"ConstrainedClassifier needs one logit per class: \(2, 2\)",
    ):
        _clf(module=torch.nn.Linear(3, 5)).fit(X, y)
    with pytest.raises(
        ValueError,
        match=r"`module` \(Linear\) cannot process the data.*mat1 and mat2.*take \(3,\) per sample",
    ):
        _clf(module=torch.nn.Linear(4, 2)).fit(X, y)
    flat = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0))
    with pytest.raises(
        ValueError,
        match=r"returns \(2,\) for 2 samples; ConstrainedRegressor needs one output "
        r"per target: \(2, 1\)\. Size its last layer to 1 outputs",
    ):
        ConstrainedRegressor(module=flat, max_epochs=1).fit(X, X[:, 0])
    # the module's keyword arguments are module__<arg> (issue 15; was module_params)
    with pytest.raises(
        TypeError,
        match=r"`module` MLP could not be built with \{'module__width': 8\}.*Pass as "
        r"module__<arg> the keyword arguments its constructor takes",
    ):
        _clf(module__width=8).fit(X, y)
    with pytest.raises(
        ValueError,
        match=r"`module` MLP could not be built with \{'module__hidden_layer_sizes'.*negative "
        r"dimension",
    ):
        _clf(module__hidden_layer_sizes=(-1,)).fit(X, y)
    with pytest.raises(TypeError, match=r"`module` Linear could not be built .*missing 2 required"):
        _clf(module=torch.nn.Linear).fit(X, y)
    # scikit-learn's declarative validation (issue 15)
    with pytest.raises(
        TypeError,
        match=_estimator_error(
            "module",
            r"None, an instance of 'type' or an instance of 'torch\.nn\.modules\.module\.Module'",
            "'mlp'",
        ),
    ):
        _clf(module="mlp").fit(X, y)
    with pytest.raises(
        ValueError,
        match=r"`module__` parameters \(\['bias'\]\) apply only when `module` is a class",
    ):
        _clf(module=torch.nn.Linear(3, 2), module__bias=False).fit(X, y)


# ----------------------------------------------------------------------------
# input types and no mutation
# ----------------------------------------------------------------------------
def test_pandas_lists_and_float64_give_the_same_model(data):
    X, y, groups = data
    kw = dict(
        constraints={"dp": DemographicParity(0.2)}, max_epochs=3, random_state=0, batch_size=16
    )
    Xdf = pd.DataFrame(X, columns=["u", "v", "w"])
    fits = {
        "numpy": (X, y, groups),
        "float32": (X.astype(np.float32), y, groups),
        "pandas": (Xdf, pd.Series(y, name="target"), pd.Series(groups, name="sex")),
        "lists": (X.tolist(), y.tolist(), groups.tolist()),
    }
    probas = {}
    for kind, (Xk, yk, gk) in fits.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = ConstrainedClassifier(**kw).fit(Xk, yk, sensitive_features=gk)
        probas[kind] = clf.predict_proba(Xk)
        assert np.isfinite(probas[kind]).all()
        if kind == "pandas":
            assert list(clf.feature_names_in_) == ["u", "v", "w"]
            assert (
                clf.evaluate_constraints(Xdf, pd.Series(y), sensitive_features=pd.Series(groups))[
                    "dp"
                ]
                >= 0
            )
    for kind in ("pandas", "lists", "float32"):
        # float64 is cast to the module's float32: every input type trains the same model
        assert np.array_equal(probas[kind], probas["numpy"]), kind
    reg = ConstrainedRegressor(max_epochs=2, random_state=0)
    assert np.array_equal(
        reg.fit(X.tolist(), list(X[:, 0])).predict(X.tolist()),
        reg.fit(Xdf, pd.Series(X[:, 0])).predict(Xdf),
    )


def test_nothing_the_user_passes_is_mutated(data):
    X, y, groups = data
    Xdf = pd.DataFrame(X.copy(), columns=["u", "v", "w"])
    y_s, g_s = pd.Series(y.copy()), pd.Series(groups.copy())
    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    weights = copy.deepcopy(module.state_dict())
    constraints = {"dp": DemographicParity(0.2), "l2": L2Norm(3.0)}
    method = GDA(dual_lr=0.2, dual_optimizer="pi")
    clf = ConstrainedClassifier(
        module=module, constraints=constraints, method=method, max_epochs=2, random_state=0
    )
    params = copy.deepcopy(clf.get_params(deep=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Xdf, y_s, sensitive_features=g_s)
        clf.set_params(warm_start=True).fit(Xdf, y_s, sensitive_features=g_s)
    pd.testing.assert_frame_equal(Xdf, pd.DataFrame(X, columns=["u", "v", "w"]))
    pd.testing.assert_series_equal(y_s, pd.Series(y))
    pd.testing.assert_series_equal(g_s, pd.Series(groups))
    assert clf.module_ is not module
    for key, value in module.state_dict().items():
        assert torch.equal(value, weights[key])
    assert clf.constraints is constraints and set(constraints) == {"dp", "l2"}
    assert constraints["l2"].get_params() == {"bound": 3.0, "params": None}
    assert not [k for k in vars(method) if k.endswith("_")]  # the method object got no fitted state
    assert repr(clf.set_params(warm_start=False).get_params(deep=False)) == repr(params)


# ----------------------------------------------------------------------------
# infeasible levels: finish, warn with the achieved values, keep the best iterate
# ----------------------------------------------------------------------------
def test_unreachable_rates_keep_the_least_violated_iterate():
    # each input appears twice, once per class: TPR = 1 and FPR = 0 cannot both hold
    rng = np.random.RandomState(0)
    X = np.repeat(rng.randn(50, 3), 2, axis=0)
    y = np.tile([0, 1], 50)
    clf = ConstrainedClassifier(
        constraints={"tpr": TruePositiveRate(lower=1.0), "fpr": FalsePositiveRate(upper=0.0)},
        method=GDA(dual_lr=0.5),
        batch_size=-1,
        max_epochs=10,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning) as record:
        clf.fit(X, y)
    message = str(record[0].message)
    # the wording of the one feasibility module (issue 15): value against level
    assert "'tpr': value" in message and "against lower=1" in message
    assert "'fpr': value" in message and "against upper=0" in message
    assert "feasible_ is False" in message
    assert not clf.feasible_ and clf.n_iter_ == 10
    assert clf.best_epoch_ < 10 and f"iterate of epoch {clf.best_epoch_} (best_epoch_)" in message
    values = clf.evaluate_constraints(X, y)
    assert values == pytest.approx(clf.constraint_values_)
    assert f"'tpr': value {values['tpr']:.6g}" in message

    def violation(v):
        return max(1.0 - v["tpr"], v["fpr"])

    # the returned iterate is less violated than the last one: every epoch's
    # true values on the training data are in its history_ record
    assert clf.history_[clf.best_epoch_ - 1]["selected"]
    last = clf.history_[-1]["selection"]
    assert last["data"] == "training"
    assert violation(values) < violation(last["constraints"])
    assert np.isfinite(clf.predict_proba(X)).all()


def test_a_level_met_earlier_returns_that_epoch(data):
    rng = np.random.RandomState(0)
    X = rng.randn(200, 5)
    y = (X[:, 0] + 0.3 * rng.randn(200) > 0).astype(int)
    clf = ConstrainedClassifier(
        constraints={"c": L2Norm(21.5)},
        method=FixedPenalty(0.0),
        max_epochs=6,
        batch_size=32,
        random_state=0,
        module__dropout=0.2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.history_[0]["constraints"]["c"] < 21.5 < clf.history_[-1]["constraints"]["c"]
    # Changed by design (issue 15, the returned-iterate rule): when the last
    # epoch is infeasible, the feasible epoch with the lowest objective is
    # returned (was: the last iterate, with a warning), and the fit says why
    assert clf.best_epoch_ == 1 and clf.feasible_
    assert clf.selection_reason_ == "the feasible epoch with the lowest objective"
    assert [h["epoch"] for h in clf.history_ if h.get("selected")] == [1]
    assert clf.evaluate_constraints(X)["c"] == pytest.approx(clf.history_[0]["constraints"]["c"])


def test_trying_the_best_iterate_leaves_the_returned_fit_intact(data5):
    X, y = data5
    clf = ConstrainedClassifier(
        constraints={"l2": L2Norm(2.0), "rate": PredictionRate(1, lower=0.55)},
        method=SAL(),
        max_epochs=6,
        batch_size=32,
        random_state=0,
        module__dropout=0.2,
    )
    with pytest.warns(ConvergenceWarning, match="feasible_ is False"):
        clf.fit(X, y)
    # no earlier iterate was less violated: the last one is returned, with
    # SAL's complete outer-iteration log
    assert clf.best_epoch_ == 6
    assert [e["outer_iteration"] for e in clf.method_.log_] == [1, 2, 3, 4, 5, 6]


def _fake_net():
    """What the training callbacks see of a net: its history, module, method and evaluators."""
    torch.manual_seed(0)
    return types.SimpleNamespace(
        history=[],
        module_=torch.nn.Linear(2, 2),
        device="cpu",
        method_=FixedPenalty().bind({}, device=torch.device("cpu")),
        evaluators_={},
    )


def _returned_epoch(rows, prefer_last=False, tol=1e-3):
    """Run :class:`BestIterate` over epoch records ``(c, b, objective)`` as a fit would.

    ``c`` is the largest violation of a level-free constraint (tolerance
    scale 1), ``b`` that of a bound of 10 (scale 10).
    """
    constraints = {"c": NonNegativity(), "b": L2Norm(bound=10.0)}
    net = _fake_net()
    best = BestIterate(constraints, tol, prefer_last=prefer_last).initialize()
    for epoch, (c, b, objective) in enumerate(rows, start=1):
        net.history.append(
            {
                "epoch": epoch,
                "objective": objective,
                "constraints": {"c": -c, "b": 10.0 + b},
                "largest_violations": {"c": c, "b": b},
            }
        )
        best.on_epoch_end(net)
    best.on_train_end(net)
    assert [r["epoch"] for r in net.history if r.get("selected")] == [best.chosen_]
    return best.chosen_, best.reason_


def test_best_iterate_choice():
    # Rewritten for the returned-iterate rule of issue 15 (was the least
    # violated iterate of the old ConstraintMonitor): feasible epochs first, by
    # objective; with none, TFCO's best worse rank over (objective, violation).
    rows = [(2.0, 0.0, 1.0)]
    assert _returned_epoch(rows)[0] == 1
    rows.append((3.0, 0.0, 1.5))  # more violated and a worse objective: never returned
    assert _returned_epoch(rows)[0] == 1
    # less violated at a slightly worse objective: the better compromise; the
    # scale is the level's, so b's violation of 3 (scaled 0.3) beats c's 2
    rows.append((0.0, 3.0, 1.2))
    epoch, reason = _returned_epoch(rows)
    assert epoch == 3 and "no epoch meets every level" in reason
    rows.append((0.0, 5e-3, 2.0))  # within tol * 10 of a bound of 10: feasible
    assert _returned_epoch(rows)[0] == 4  # feasible beats any infeasible objective
    rows.append((5e-4, 0.0, 1.5))  # within tol: feasible too, lower objective
    assert _returned_epoch(rows)[0] == 5
    rows.append((0.0, 0.0, 1.5))  # a tie keeps the earlier one
    assert _returned_epoch(rows)[0] == 5
    rows.append((5e-3, 0.0, 0.1))  # beyond tol of a level-free constraint: infeasible
    epoch, reason = _returned_epoch(rows)
    assert epoch == 5 and reason == "the feasible epoch with the lowest objective"
    assert _returned_epoch(rows, prefer_last=True)[0] == 5  # the last epoch is infeasible
    rows.append((0.0, 0.0, 3.0))
    assert _returned_epoch(rows)[0] == 5
    # weight constraints without validation keep the last epoch when it is feasible
    assert _returned_epoch(rows, prefer_last=True) == (8, "the last epoch (feasible)")


def test_tolerance_scale_is_the_level():
    assert tolerance_scale(L2Norm(bound=250.0)) == 250.0
    assert tolerance_scale(L2Norm(bound=0.5)) == 1.0
    assert tolerance_scale(DemographicParity(bound=0.05)) == 1.0
    assert tolerance_scale(PredictionRate(label=0, lower=0.7, upper=0.9)) == 1.0
    assert tolerance_scale(Orthogonality()) == 1.0
    assert tolerance_scale(NonNegativity()) == 1.0
    assert tolerance_scale(Simplex(params="*")) == 1.0


# ----------------------------------------------------------------------------
# divergence: a warning, the last finite state, never NaN predictions
# ----------------------------------------------------------------------------
class _BlowsUp(torch.nn.Module):
    """An MLP whose training-mode output turns NaN after ``after`` forward calls."""

    def __init__(self, after):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)
        )
        self.after, self.calls = after, 0

    def forward(self, x):
        out = self.body(x)
        if self.training:
            self.calls += 1
            if self.calls > self.after:
                out = out * float("nan")
        return out


@pytest.fixture(scope="module")
def data5():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 5)
    return X, (X[:, 0] > 0).astype(int)


def test_divergence_keeps_the_last_finite_epoch(data5):
    X, y = data5
    kw = dict(
        constraints={"l2": L2Norm(5.0)}, method=GDA(dual_lr=0.1), batch_size=32, random_state=0
    )
    # 7 batches per epoch: the loss turns NaN in the first batch of epoch 4
    torch.manual_seed(0)
    module = _BlowsUp(after=21)
    clf = ConstrainedClassifier(module=module, max_epochs=10, **kw)
    with pytest.warns(
        RuntimeWarning, match=r"training diverged at epoch 4.*NaN/inf.*Lower `lr`.*state of epoch 3"
    ):
        clf.fit(X, y)
    assert clf.n_iter_ == 3 and clf.best_epoch_ == 3
    assert all(torch.isfinite(p).all() for p in clf.module_.parameters())
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all()
    assert all(np.isfinite(m).all() for m in clf.multipliers_.values())
    # exactly the model of an uninterrupted 3-epoch fit
    never = copy.deepcopy(module)
    never.after = 10**9
    ref = ConstrainedClassifier(module=never, max_epochs=3, **kw).fit(X, y)
    for p, q in zip(clf.module_.parameters(), ref.module_.parameters(), strict=True):
        assert torch.equal(p, q)
    assert np.array_equal(proba, ref.predict_proba(X))
    # training can go on from there (with a fresh optimizer)
    clf.module_.after = 10**9
    clf.set_params(warm_start=True, max_epochs=2).fit(X, y)
    assert clf.n_iter_ == 5 and np.isfinite(clf.predict_proba(X)).all()


@pytest.mark.parametrize(
    "params",
    [
        dict(optimizer="sgd", lr=1e12),  # the weights explode
        dict(method=GDA(dual_lr=1e38), constraints={"l2": L2Norm(0.1)}),  # a multiplier explodes
    ],
)
def test_divergence_from_the_first_epoch_returns_the_initial_model(data5, params):
    X, y = data5
    clf = ConstrainedClassifier(max_epochs=5, batch_size=32, random_state=0, **params)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        clf.fit(X * 100, y)
    diverged = [w for w in record if issubclass(w.category, RuntimeWarning)]
    assert len(diverged) == 1 and "training diverged at epoch 1" in str(diverged[0].message)
    assert "the initial state" in str(diverged[0].message)
    assert clf.best_epoch_ == 0 and clf.n_iter_ == 0
    assert np.isfinite(clf.predict_proba(X * 100)).all()
    # the weights are the initial ones (the module built from random_state=0)
    # (the default module, an MLP, is built first thing after seeding)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        init = MLP(5, 2)
    for p, q in zip(clf.module_.parameters(), init.parameters(), strict=True):
        assert torch.equal(p, q)


def test_restore_finite_falls_back_to_an_earlier_state():
    torch.manual_seed(0)
    module = torch.nn.Linear(2, 2)
    good = copy.deepcopy(module.state_dict())
    overflow = {
        k: torch.full_like(v, 3e38) for k, v in good.items()
    }  # finite weights, infinite outputs
    net = _fake_net()
    net.module_ = module
    guard = DivergenceGuard().initialize()
    method_state = net.method_.state_dict()
    # the guard keeps the last finite epoch and the one before it
    guard.snapshot_ = {"module": overflow, "method": method_state, "evaluators": {}, "epoch": 7}
    guard.previous_ = {"module": good, "method": method_state, "evaluators": {}, "epoch": 6}
    X = torch.ones(5, 2)
    assert guard.restore_finite(net, X) == 6
    assert torch.isfinite(module(X)).all()
    guard.previous_ = None
    assert guard.restore_finite(net, X) is None  # nothing finite: the caller raises
    # an extra snapshot (a kept candidate) is tried last
    extra = {"module": good, "method": method_state, "evaluators": {}, "epoch": 2}
    assert guard.restore_finite(net, X, [extra]) == 2


# ----------------------------------------------------------------------------
# the module's mode: every gradient step in training mode
# ----------------------------------------------------------------------------
class _RecordsMode(torch.nn.Module):
    """Records ``self.training`` of every forward pass that builds a graph."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Dropout(0.2),
                                        torch.nn.Linear(8, 2))
        self.modes = []

    def forward(self, x):
        if torch.is_grad_enabled():
            self.modes.append((self.training, self.body[1].training))
        return self.body(x)


@pytest.mark.parametrize("dual_split", [None, 0.3])
def test_every_gradient_step_runs_in_training_mode(data5, dual_split):
    # the held-out batches of dual_split are predicted in eval mode between the
    # steps; the mode is set back before each step's forward pass
    X, y = data5
    groups = np.arange(len(y)) % 2
    module = _RecordsMode()
    clf = ConstrainedClassifier(
        module=module,
        constraints={"dp": DemographicParity(bound=0.1)},
        dual_split=dual_split,
        max_epochs=3,
        batch_size=32,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y, sensitive_features=groups)
    modes = clf.module_.modes
    steps = 3 * int(np.ceil(len(y) * (1 - (dual_split or 0)) / 32))
    assert len(modes) >= steps - 3
    assert all(m == (True, True) for m in modes)
