"""Sparse input, module__<arg> parameters and user callbacks (issue 17, items 2, 4 and 12)."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from skorch.callbacks import Callback, EpochScoring

from sklearn_constrained import ConstrainedClassifier, ConstrainedRegressor
from sklearn_constrained.constraints import DemographicParity, L2Norm


@pytest.fixture(scope="module")
def frame():
    rng = np.random.RandomState(0)
    n = 300
    df = pd.DataFrame({
        "color": rng.choice(["red", "green", "blue"], n),
        "size": rng.choice(["S", "M", "L", "XL"], n),
        "x": rng.randn(n),
        "z": rng.randn(n) * 10 + 3,
    })
    y = ((df["color"] == "red") ^ (df["x"] > 0)).astype(int).to_numpy()
    groups = np.where(df["size"].isin(["S", "M"]), "small", "large")
    return df, y, groups


def test_item_2_one_hot_pipeline_with_sparse_output(frame):
    df, y, groups = frame
    pre = ColumnTransformer([("cat", OneHotEncoder(), ["color", "size"]),
                             ("num", StandardScaler(), ["x", "z"])], sparse_threshold=1.0)
    assert sp.issparse(pre.fit_transform(df))
    pipe = make_pipeline(pre, ConstrainedClassifier(
        constraints={"l2": L2Norm(50.0)}, method="gda", max_epochs=30, random_state=0))
    pipe.fit(df, y)
    assert pipe.score(df, y) > 0.9


def test_item_2_sparse_equals_dense(frame):
    df, y, groups = frame
    X = OneHotEncoder().fit_transform(df[["color", "size"]]).tocsr()
    X = sp.hstack([X, sp.csr_matrix(df[["x"]].to_numpy())]).tocsr()
    kw = dict(constraints={"dp": DemographicParity(0.1)}, method="gda", max_epochs=5,
              random_state=0, batch_size=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = ConstrainedClassifier(**kw).fit(X, y, sensitive_features=groups)
        b = ConstrainedClassifier(**kw).fit(X.toarray(), y, sensitive_features=groups)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X.toarray()), rtol=1e-5,
                               atol=1e-6)
    assert a.evaluate_constraints(X, y, groups) == pytest.approx(
        b.evaluate_constraints(X.toarray(), y, groups))


def test_item_4_module_args_are_parameters():
    clf = ConstrainedClassifier(module__hidden_layer_sizes=(8,))
    assert clf.get_params()["module__hidden_layer_sizes"] == (8,)
    clf.set_params(module__hidden_layer_sizes=(4, 4), module__dropout=0.1)
    assert clone(clf).get_params()["module__dropout"] == 0.1
    rng = np.random.RandomState(0)
    X, y = rng.randn(80, 3), rng.randint(0, 2, 80)
    clf.set_params(max_epochs=1).fit(X, y)
    linear = [m for m in clf.module_.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linear] == [4, 4, 2]


def test_item_4_grid_search_over_a_module_argument():
    rng = np.random.RandomState(0)
    X = rng.randn(90, 3)
    y = (X[:, 0] > 0).astype(int)
    search = GridSearchCV(ConstrainedClassifier(method="gda", max_epochs=3, random_state=0),
                          {"module__hidden_layer_sizes": [(2,), (6,)]}, cv=2).fit(X, y)
    assert search.best_params_["module__hidden_layer_sizes"] in [(2,), (6,)]


class SizedNet(torch.nn.Module):
    def __init__(self, n_features, n_outputs, width=5):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(n_features, width), torch.nn.ReLU(),
                                       torch.nn.Linear(width, n_outputs))

    def forward(self, x):
        return self.net(x)


def test_item_4_custom_module_is_sized_from_the_data():
    rng = np.random.RandomState(0)
    X, y = rng.randn(50, 7), rng.randn(50, 2)
    reg = ConstrainedRegressor(module=SizedNet, module__width=3, max_epochs=1, method="gda").fit(
        X, y)
    assert reg.module_.net[0].in_features == 7 and reg.module_.net[0].out_features == 3
    assert reg.predict(X).shape == (50, 2)


def test_unknown_keyword_is_rejected_by_fit_with_the_fix():
    clf = ConstrainedClassifier(hidden=3)  # accepted by __init__, as scikit-learn requires
    with pytest.raises(TypeError, match="module__<arg>"):
        clf.fit(np.zeros((4, 2)), [0, 1, 0, 1])


class CountEpochs(Callback):
    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1
        assert "objective" in net.history[-1]


def test_item_12_user_callbacks_run_with_the_library_ones():
    rng = np.random.RandomState(0)
    X = rng.randn(100, 3).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    counter = CountEpochs()
    scoring = EpochScoring("accuracy", on_train=True, name="train_acc")
    clf = ConstrainedClassifier(constraints={"l2": L2Norm(10.0)}, method="gda", max_epochs=4,
                                random_state=0, callbacks=[counter, scoring]).fit(X, y)
    assert not hasattr(counter, "epochs_")  # the user's object is not mutated (copied)
    user = dict(clf.net_.callbacks_)
    assert user["CountEpochs"].epochs_ == 4
    assert all("train_acc" in r for r in clf.history_)
    assert 0.5 < clf.history_[-1]["train_acc"] <= 1.0


def test_item_9_verbose_lines_show_values_against_levels(capsys):
    from sklearn_constrained.constraints import PredictionRate

    rng = np.random.RandomState(0)
    X = rng.randn(200, 3)
    y = (X[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ConstrainedClassifier(constraints={"rate": PredictionRate(1, upper=0.3), "l2": L2Norm(9.0)},
                              method="gda", max_epochs=2, verbose=1, random_state=0).fit(X, y)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "running estimate" in text  # the header says what the numbers are
    lines = [line for line in text.splitlines() if "epoch    2" in line]
    assert lines, text
    line = lines[-1]
    assert "/0.3 " in line and "/9 " in line  # value/level for each constraint
    assert ("ok" in line or "VIOLATED" in line) and "check on training data" in line
    assert "~" in line  # the running estimate of the rate is marked as such


@pytest.mark.parametrize("n_features", [100, 784])
def test_a_rows_prediction_does_not_depend_on_the_rows_predicted_with_it(n_features):
    # predictions run in chunks sized by the row's shape (2,048 rows of 100 features,
    # 334 of 784): a row predicted alone, across a chunk boundary or with every row
    # gives the same output bit for bit, so the values judged during a fit are those
    # reported after it
    rng = np.random.RandomState(0)
    X = rng.randn(2100, n_features).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    clf = ConstrainedClassifier(max_epochs=1, batch_size=512, random_state=0).fit(X, y)
    every = clf.predict_proba(X)
    for rows in (slice(0, 1), slice(330, 340), slice(2040, 2060), slice(2099, 2100)):
        np.testing.assert_array_equal(clf.predict_proba(X[rows]), every[rows])


def test_the_fitted_module_is_left_in_evaluation_mode():
    # an L0-gated network samples its gates in training mode: the fitted module_, called
    # directly as a user of PyTorch would, must give the deterministic test-time output
    # that predict uses, and a warm-started fit must train it again
    from sklearn_constrained.models import L0MLP

    rng = np.random.RandomState(0)
    X = rng.randn(200, 8).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    clf = ConstrainedClassifier(L0MLP, module__hidden_layer_sizes=(16,), max_epochs=2,
                                random_state=0)
    clf.fit(X, y)
    assert not clf.module_.training
    with torch.no_grad():
        first, second = clf.module_(torch.from_numpy(X)), clf.module_(torch.from_numpy(X))
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    before = [p.detach().clone() for p in clf.module_.parameters()]
    clf.set_params(warm_start=True).fit(X, y)
    assert not clf.module_.training
    after = list(clf.module_.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
