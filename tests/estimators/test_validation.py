"""Bad input gets a clear error that names the parameter."""

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_constrained import ConstrainedClassifier, ConstrainedRegressor
from sklearn_constrained.constraints import L1Norm, L2Norm, NonNegativity
from sklearn_constrained.methods import GDA, FixedPenalty


@pytest.fixture
def data(rng):
    X = rng.randn(40, 3)
    y = (X[:, 0] > 0).astype(int)
    return X, y


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_X(data, bad):
    X, y = data
    X = X.copy()
    X[3, 1] = bad
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        ConstrainedClassifier(max_epochs=1).fit(X, y)


def test_unknown_method_lists_choices(data):
    X, y = data
    with pytest.raises(ValueError, match=r"Unknown `method`='admm'.*'fp'.*'gda'"):
        ConstrainedClassifier(method="admm", max_epochs=1).fit(X, y)


def test_unknown_optimizer(data):
    X, y = data
    with pytest.raises(ValueError, match=r"Unknown `optimizer`='adagrad'.*'adam'"):
        ConstrainedClassifier(optimizer="adagrad", max_epochs=1).fit(X, y)


@pytest.mark.parametrize("cls", [L2Norm, L1Norm])
@pytest.mark.parametrize("bound", [-1.0, np.nan])
def test_negative_or_nan_bound(data, cls, bound):
    X, y = data
    clf = ConstrainedClassifier(constraints={"c": cls(bound=bound)}, max_epochs=1)
    # scikit-learn's declarative validation (issue 15) words the message; the
    # hint says what to set
    with pytest.raises(
        InvalidParameterError,
        match=rf"The 'bound' parameter of {cls.__name__} must be a float in the range "
        r"\[0.0, inf\)\. Got .* instead\. Set it to the level",
    ):
        clf.fit(X, y)


def test_y_of_wrong_length(data):
    X, y = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        ConstrainedClassifier(max_epochs=1).fit(X, y[:-1])


def test_unknown_method_key():
    clf = ConstrainedClassifier(method="gda")
    with pytest.raises(ValueError, match=r"method__dual_step.*valid parameters.*dual_lr"):
        clf.set_params(method__dual_step=0.1)


def test_constraint_name_with_double_underscore(data):
    X, y = data
    with pytest.raises(ValueError, match="double underscore"):
        ConstrainedClassifier(constraints={"my__l2": L2Norm(1.0)}, max_epochs=1).fit(X, y)


def test_constraints_must_be_a_dict(data):
    X, y = data
    # scikit-learn's declarative validation (issue 15): InvalidParameterError
    # is a TypeError and a ValueError
    with pytest.raises(
        TypeError,
        match=r"The 'constraints' parameter of ConstrainedClassifier must be None or an "
        r"instance of 'dict'\. Got \[L2Norm\(.*\)\] instead",
    ):
        ConstrainedClassifier(constraints=[L2Norm(1.0)], max_epochs=1).fit(X, y)


def test_pattern_matching_nothing(data):
    X, y = data
    clf = ConstrainedClassifier(constraints={"nn": NonNegativity(params="head.*")}, max_epochs=1)
    with pytest.raises(
        ValueError, match=r"params='head.\*' matches no trainable parameter.*layers.0.weight"
    ):
        clf.fit(X, y)


@pytest.mark.parametrize(
    "method, match",
    [
        (GDA(dual_lr=-0.1), r"The 'dual_lr' parameter of GDA must be a float in the range \(0"),
        (
            GDA(dual_optimizer="adam"),
            r"The 'dual_optimizer' parameter of GDA must be a str among \{.*'sgd'.*\}.*\. "
            r"Got 'adam' instead",
        ),
        (
            FixedPenalty(penalty=-1.0),
            r"The 'penalty' parameter of FixedPenalty must be a float in the range \[0.0, inf\)",
        ),
    ],
)
def test_nonsensical_method_parameters(data, method, match):
    # scikit-learn's declarative validation (issue 15) words the messages: the
    # parameter, what it must be, and what was given
    X, y = data
    with pytest.raises(InvalidParameterError, match=match):
        ConstrainedClassifier(constraints={"l2": L2Norm(1.0)}, method=method, max_epochs=1).fit(
            X, y
        )


@pytest.mark.parametrize(
    "params, match",
    [
        # scikit-learn's declarative validation (issue 15) words the first three
        (
            {"max_epochs": 0},
            r"The 'max_epochs' parameter of ConstrainedRegressor must be an int in the range "
            r"\[1, inf\)\. Got 0 instead",
        ),
        (
            {"batch_size": 0},
            r"The 'batch_size' parameter of ConstrainedRegressor must be an int in the range "
            r"\[1, inf\) or a int among \{-1\}\. Got 0 instead",
        ),
        (
            {"lr": -1.0},
            r"The 'lr' parameter of ConstrainedRegressor must be None or a float in the range "
            r"\(0.0, inf\)\. Got -1.0 instead",
        ),
        ({"device": "tpu9"}, "Unknown `device`='tpu9'"),
    ],
)
def test_bad_estimator_parameters(data, params, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        ConstrainedRegressor(**params).fit(X, y.astype(float))


def test_single_class(data):
    X, _ = data
    with pytest.raises(ValueError, match="at least 2 classes"):
        ConstrainedClassifier(max_epochs=1).fit(X, np.zeros(len(X)))


def test_fit_does_not_mutate_inputs(data):
    X, y = data
    X0, y0 = X.copy(), y.copy()
    c = L2Norm(bound=1.0)
    m = GDA(dual_lr=0.1)
    clf = ConstrainedClassifier(constraints={"l2": c}, method=m, max_epochs=2, random_state=0)
    params = clf.get_params(deep=False)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    assert c.get_params() == {"bound": 1.0, "params": None}
    assert not hasattr(m, "multipliers_")
    assert clf.get_params(deep=False) == params


def test_an_lbfgs_subclass_trains_full_batch_with_a_line_search():
    import torch

    from sklearn_constrained.utils._validation import resolve_optimizer

    class FewIterations(torch.optim.LBFGS):
        def __init__(self, params, **kwargs):
            kwargs.setdefault("max_iter", 5)
            super().__init__(params, **kwargs)

    cls, lr, extra, full_batch = resolve_optimizer(FewIterations, None)
    assert cls is FewIterations and full_batch and lr == 1.0
    assert extra == {"line_search_fn": "strong_wolfe"}
    assert resolve_optimizer(torch.optim.Adam, None)[3] is False
