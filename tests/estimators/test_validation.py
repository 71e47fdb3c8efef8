"""Bad input gets a clear error that names the parameter."""

import numpy as np
import pytest

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
    with pytest.raises(ValueError, match=rf"{cls.__name__}: `bound` must be a number >= 0"):
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
    with pytest.raises(TypeError, match=r"`constraints` must be None or a dict"):
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
        (GDA(dual_lr=-0.1), r"GDA: `dual_lr` must be > 0"),
        (GDA(dual_optimizer="adam"), r"unknown `dual_optimizer`='adam'"),
        (FixedPenalty(penalty=-1.0), r"`penalty` must be a finite number >= 0"),
    ],
)
def test_nonsensical_method_parameters(data, method, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        ConstrainedClassifier(constraints={"l2": L2Norm(1.0)}, method=method, max_epochs=1).fit(
            X, y
        )


@pytest.mark.parametrize(
    "params, match",
    [
        ({"max_epochs": 0}, "`max_epochs` must be an integer >= 1"),
        ({"batch_size": 0}, "`batch_size` must be a positive integer or -1"),
        ({"lr": -1.0}, "`lr` must be a finite number > 0"),
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
