"""Safe persistence: ``save(path)`` / ``load(path)`` need no pickle."""

import io
import json
import os
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sklearn_constrained import ConstrainedClassifier, ConstrainedRegressor
from sklearn_constrained.constraints import DemographicParity, L1Norm, L2Norm, NonNegativity
from sklearn_constrained.methods import GDA, SADMM


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 4)
    y = np.where(X[:, 0] + 0.5 * rng.randn(120) > 0, "yes", "no")
    groups = np.where(X[:, 1] > 0, "f", "m")
    return X, y, groups


def _quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args, **kwargs)


def _roundtrip(est, tmp_path, **load_kw):
    path = tmp_path / "model.pt"
    est.save(path)
    return type(est).load(path, **load_kw)


def test_classifier_roundtrip_predicts_identically(data, tmp_path):
    X, y, groups = data
    Xdf = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = ConstrainedClassifier(
        constraints={"dp": DemographicParity(0.1), "l2": L2Norm(5.0)},
        method=GDA(dual_lr=0.3, dual_optimizer="pi", kp=2.0),
        module__hidden_layer_sizes=(8, 4),
        max_epochs=4,
        batch_size=32,
        random_state=0,
    )
    _quiet_fit(clf, Xdf, y, sensitive_features=groups)
    loaded = _roundtrip(clf, tmp_path)
    assert type(loaded) is ConstrainedClassifier
    assert repr(loaded.get_params()) == repr(clf.get_params())
    assert np.array_equal(loaded.predict_proba(Xdf), clf.predict_proba(Xdf))
    assert list(loaded.predict(Xdf)) == list(clf.predict(Xdf))
    assert list(loaded.classes_) == ["no", "yes"] and list(loaded.feature_names_in_) == list("abcd")
    assert list(loaded.group_labels_) == ["f", "m"]
    for key in ("n_features_in_", "feasible_", "constraint_values_", "n_iter_", "best_epoch_"):
        assert getattr(loaded, key) == getattr(clf, key), key
    assert loaded.multipliers_.keys() == clf.multipliers_.keys()
    for key in clf.multipliers_:
        assert np.array_equal(loaded.multipliers_[key], clf.multipliers_[key])
    assert [{k: v for k, v in r.items()} for r in loaded.history_] == clf.history_
    assert loaded.evaluate_constraints(
        Xdf, y, sensitive_features=groups
    ) == clf.evaluate_constraints(Xdf, y, sensitive_features=groups)
    assert loaded.score(Xdf, y) == clf.score(Xdf, y)
    # a loaded estimator is an ordinary one: clone, refit
    _quiet_fit(clone(loaded), Xdf, y, sensitive_features=groups)


def test_regressor_roundtrip_with_two_targets(data, tmp_path):
    X, _, _ = data
    Y = np.c_[X @ [1.0, -1.0, 0.5, 0.0], 100 + 10 * X[:, 0]]
    reg = ConstrainedRegressor(
        constraints={"l1": L1Norm(20.0)},
        method=SADMM(rho=0.5),
        max_epochs=3,
        random_state=0,
        optimizer=torch.optim.SGD,
        lr=0.05,
    )
    _quiet_fit(reg, X, Y)
    loaded = _roundtrip(reg, tmp_path)
    assert loaded.optimizer is torch.optim.SGD
    assert np.array_equal(loaded.predict(X), reg.predict(X))
    assert np.array_equal(loaded.y_mean_, reg.y_mean_) and np.array_equal(
        loaded.y_scale_, reg.y_scale_
    )
    one = ConstrainedRegressor(max_epochs=2, random_state=0).fit(X, Y[:, 0])
    assert _roundtrip(one, tmp_path).predict(X).shape == (len(X),)


def test_file_holds_only_tensors_and_json(data, tmp_path):
    X, y, _ = data
    clf = ConstrainedClassifier(constraints={"nn": NonNegativity()}, max_epochs=2, random_state=0)
    _quiet_fit(clf, X, y)
    path = tmp_path / "model.pt"
    clf.save(path)
    # readable by torch's restricted unpickler, which rebuilds no arbitrary objects
    payload = torch.load(path, weights_only=True)
    assert set(payload) == {"meta", "tensors"}
    meta = json.loads(payload["meta"])
    # format 2 since the redesign of issue 15 (every component saved as its state_dict())
    assert meta["format"] == "sklearn-constrained/2"
    assert meta["estimator"] == "sklearn_constrained._classifier:ConstrainedClassifier"
    assert meta["params"]["__dict__"]["constraints"]["__dict__"]["nn"]["__object__"].endswith(
        ":NonNegativity"
    )
    assert set(payload["tensors"]["module"]) == set(clf.module_.state_dict())
    assert {"optimizer", "method", "generator", "rng_cpu"} <= set(payload["tensors"]["training"])
    # without the training state the file is smaller and still predicts
    small = io.BytesIO()
    clf.save(small, include_training_state=False)
    assert small.tell() < os.path.getsize(path)
    small.seek(0)
    assert np.array_equal(ConstrainedClassifier.load(small).predict_proba(X), clf.predict_proba(X))


class _Evil:
    def __reduce__(self):
        return (os.makedirs, ("evil_was_here",))


def test_a_pickle_payload_is_refused_and_never_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"meta": "{}", "tensors": {"module": _Evil()}}, path)
    with pytest.raises(ValueError, match="not a sklearn-constrained file readable without pickle"):
        ConstrainedClassifier.load(path)
    assert not (tmp_path / "evil_was_here").exists()
    with open(tmp_path / "plain.pkl", "wb") as f:
        pickle.dump(_Evil(), f)
    with pytest.raises(ValueError, match="readable without pickle"):
        ConstrainedClassifier.load(tmp_path / "plain.pkl")
    assert not (tmp_path / "evil_was_here").exists()


def _tamper(path, edit):
    payload = torch.load(path, weights_only=True)
    meta = json.loads(payload["meta"])
    edit(meta)
    payload["meta"] = json.dumps(meta)
    torch.save(payload, path)


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            lambda m: m.update(estimator="os:system"),
            r"'os:system', which is not part of sklearn_constrained",
        ),
        (
            lambda m: m.update(estimator="sklearn_constrained.constraints:L2Norm"),
            "not a BaseConstrainedEstimator",
        ),
        (
            lambda m: m.update(estimator="sklearn_constrained._estimator:_qualname"),
            "not a public class",
        ),
        (
            lambda m: m["params"]["__dict__"].update(
                method={"__object__": "subprocess:Popen", "params": {}}
            ),
            "subprocess:Popen",
        ),
        (
            lambda m: m.update(format="other/9"),
            r"not a sklearn-constrained file \(format 'other/9'",
        ),
    ],
)
def test_a_tampered_file_cannot_name_arbitrary_callables(data, tmp_path, edit, match):
    X, y, _ = data
    clf = ConstrainedClassifier(max_epochs=1, random_state=0).fit(X, y)
    path = tmp_path / "model.pt"
    clf.save(path)
    _tamper(path, edit)
    with pytest.raises(ValueError, match=match):
        ConstrainedClassifier.load(path)


class TinyNet(torch.nn.Module):
    def __init__(self, width=3):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Linear(4, width), torch.nn.Tanh(), torch.nn.Linear(width, 2)
        )

    def forward(self, x):
        return self.body(x)


def test_user_modules_need_the_caller_to_vouch_for_them(data, tmp_path):
    X, y, _ = data
    by_class = ConstrainedClassifier(
        module=TinyNet, module__width=5, max_epochs=2, random_state=0
    ).fit(X, y)
    path = tmp_path / "cls.pt"
    by_class.save(path)
    with pytest.raises(
        ValueError, match=r"TinyNet', which is not part of sklearn_constrained.*trusted="
    ):
        ConstrainedClassifier.load(path)
    loaded = ConstrainedClassifier.load(path, trusted=[TinyNet])
    assert np.array_equal(loaded.predict_proba(X), by_class.predict_proba(X))

    by_instance = ConstrainedClassifier(module=TinyNet(4), max_epochs=2, random_state=0).fit(X, y)
    path = tmp_path / "instance.pt"
    by_instance.save(path)
    with pytest.raises(ValueError, match=r"module instance of .*TinyNet.*pass `module=`"):
        ConstrainedClassifier.load(path)
    loaded = ConstrainedClassifier.load(path, module=TinyNet(4))
    assert np.array_equal(loaded.predict_proba(X), by_instance.predict_proba(X))


def test_save_and_load_errors(data, tmp_path):
    X, y, _ = data
    with pytest.raises(NotFittedError):
        ConstrainedClassifier().save(tmp_path / "unfitted.pt")
    odd = ConstrainedClassifier(
        constraints={"l2": L2Norm(5.0, params=lambda n, p: p.dim() > 1)},
        max_epochs=1,
        random_state=0,
    )
    _quiet_fit(odd, X, y)
    with pytest.raises(TypeError, match="Cannot save .*params.*Use pickle or joblib"):
        odd.save(tmp_path / "odd.pt")
    reg = ConstrainedRegressor(max_epochs=1, random_state=0).fit(X, X[:, 0])
    reg.save(tmp_path / "reg.pt")
    with pytest.raises(
        TypeError, match="holds a ConstrainedRegressor, not a ConstrainedClassifier"
    ):
        ConstrainedClassifier.load(tmp_path / "reg.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a sklearn-constrained file"):
        ConstrainedClassifier.load(tmp_path / "other.pt")


def test_loading_leaves_the_global_rng_alone(data, tmp_path):
    X, y, _ = data
    clf = ConstrainedClassifier(max_epochs=1, random_state=0).fit(X, y)
    clf.save(tmp_path / "m.pt")
    state = torch.random.get_rng_state()
    ConstrainedClassifier.load(tmp_path / "m.pt")
    assert torch.equal(torch.random.get_rng_state(), state)
