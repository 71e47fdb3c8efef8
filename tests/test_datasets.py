"""Tests for the bundled data sets in ``sklearn_constrained.datasets``."""

import doctest
import gzip
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import Bunch

from sklearn_constrained.datasets import _loaders, load_adult, load_german_credit, load_mnist_5k

DATA_FILES = (
    "adult.data.gz",
    "adult.test.gz",
    "adult.names.gz",
    "german_credit.csv.gz",
    "mnist_5k.csv.gz",
    "README.md",
)


# ---------------------------------------------------------------- package data


@pytest.mark.parametrize("name", DATA_FILES)
def test_data_files_are_in_the_package(name):
    path = resources.files("sklearn_constrained.datasets") / "data" / name
    assert path.is_file()
    if name.endswith(".gz"):
        with path.open("rb") as fh, gzip.open(fh) as gz:
            assert len(gz.read(64)) == 64


def test_data_readme_gives_attribution():
    text = (resources.files("sklearn_constrained.datasets") / "data" / "README.md").read_text(
        encoding="utf-8"
    )
    for needle in ("CC BY 4.0", "CC BY-SA 3.0", "Kohavi", "Hofmann", "LeCun"):
        assert needle in text


def test_docstring_examples():
    result = doctest.testmod(_loaders, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


# ----------------------------------------------------------------------- adult


@pytest.mark.parametrize("subset, n_rows", [("train", 32561), ("test", 16281), ("all", 48842)])
def test_adult_shapes(subset, n_rows):
    bunch = load_adult(subset=subset)
    assert isinstance(bunch, Bunch)
    assert bunch.data.shape == (n_rows, 106)
    assert bunch.data.dtype == np.float64
    assert bunch.target.shape == (n_rows,)
    assert bunch.target.dtype == np.int64
    assert bunch.sensitive.shape == (n_rows,)
    assert len(bunch.feature_names) == 106
    assert bunch.target_names == ["<=50K", ">50K"]
    assert "CC BY 4.0" in bunch.DESCR
    assert np.isfinite(bunch.data).all()
    assert set(np.unique(bunch.target)) == {0, 1}
    assert "frame" not in bunch


def test_adult_train_and_test_share_columns():
    train = load_adult(subset="train")
    test = load_adult(subset="test")
    assert train.feature_names == test.feature_names
    # 'Holand-Netherlands' occurs in the training file only: still a column.
    col = train.feature_names.index("native_country_Holand-Netherlands")
    assert train.data[:, col].sum() == 1
    assert test.data[:, col].sum() == 0
    ftrain = load_adult(subset="train", as_frame=True).data
    ftest = load_adult(subset="test", as_frame=True).data
    assert list(ftrain.columns) == list(ftest.columns)
    assert (ftrain.dtypes == ftest.dtypes).all()


def test_adult_encoding():
    bunch = load_adult(sensitive=["sex", "race"], drop_sensitive=False)
    names = bunch.feature_names
    assert len(names) == len(set(names)) == 108
    assert names[0] == "age"
    assert not any(n.startswith(("income", "label")) for n in names)
    X = bunch.data
    # Each categorical column is one-hot: its indicators sum to one per row.
    for col in ("workclass", "education", "occupation", "race", "sex", "native_country"):
        idx = [i for i, n in enumerate(names) if n.startswith(col + "_") and n != "education_num"]
        assert len(idx) >= 2
        np.testing.assert_array_equal(X[:, idx].sum(axis=1), 1.0)
    # Unknown values ('?') have their own indicator.
    assert X[:, names.index("workclass_missing")].sum() == 1836
    assert X[:, names.index("occupation_missing")].sum() == 1843
    assert X[:, names.index("native_country_missing")].sum() == 583
    # Numeric columns are unscaled; the first row is the file's first row.
    assert X[0, names.index("age")] == 39
    assert X[0, names.index("fnlwgt")] == 77516
    assert X[0, names.index("capital_gain")] == 2174
    assert X[0, names.index("sex_Male")] == 1


def test_adult_labels():
    y_train = load_adult(subset="train").target
    y_test = load_adult(subset="test").target
    assert y_train.sum() == 7841  # '>50K'
    assert y_test.sum() == 3846  # '>50K.' in the test file
    assert 0.23 < y_train.mean() < 0.25


def test_adult_sensitive():
    X, y, s = load_adult(return_X_y=True)
    assert isinstance(X, np.ndarray) and isinstance(y, np.ndarray)
    assert isinstance(s, np.ndarray) and s.dtype == object
    assert set(s) == {"Female", "Male"}
    _, _, race = load_adult(sensitive="race", return_X_y=True)
    assert set(race) == {"White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other"}
    bunch = load_adult(sensitive=["sex", "race"])
    assert bunch.sensitive.shape == (32561, 2)
    assert bunch.data.shape == (32561, 101)
    assert not any(n.startswith(("sex_", "race_")) for n in bunch.feature_names)
    # Sensitive columns are out of X unless asked for.
    assert not any(n.startswith("sex_") for n in load_adult().feature_names)
    assert any(n.startswith("sex_") for n in load_adult(drop_sensitive=False).feature_names)


def test_adult_as_frame():
    bunch = load_adult(subset="test", as_frame=True)
    assert isinstance(bunch.data, pd.DataFrame)
    assert isinstance(bunch.target, pd.Series)
    assert isinstance(bunch.sensitive, pd.Series)
    assert bunch.data.shape == (16281, 13)
    assert "sex" not in bunch.data.columns
    assert bunch.feature_names == list(bunch.data.columns)
    assert isinstance(bunch.data["workclass"].dtype, pd.CategoricalDtype)
    assert bunch.data["workclass"].isna().sum() == 963
    assert bunch.data["age"].dtype == np.int64
    assert set(bunch.sensitive) == {"Female", "Male"}
    assert bunch.frame.shape == (16281, 15)
    assert "sex" in bunch.frame.columns and "income" in bunch.frame.columns

    X, y, s = load_adult(sensitive=["sex", "race"], as_frame=True, return_X_y=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert isinstance(s, pd.DataFrame) and list(s.columns) == ["sex", "race"]


@pytest.mark.parametrize(
    "kwargs",
    [{"subset": "validation"}, {"sensitive": "age"}, {"sensitive": []}, {"as_frame": "yes"}],
)
def test_adult_bad_arguments(kwargs):
    with pytest.raises((ValueError, TypeError)):
        load_adult(**kwargs)


# --------------------------------------------------------------- german credit


def test_german_credit():
    bunch = load_german_credit()
    assert bunch.data.shape == (1000, 24)
    assert bunch.data.dtype == np.float64
    assert np.isfinite(bunch.data).all()
    assert bunch.target.dtype == np.int64
    assert bunch.target.sum() == 700
    assert bunch.target_names == ["bad", "good"]
    assert set(bunch.sensitive) == {"female", "male"}
    assert len(bunch.feature_names) == 24
    assert not any(n.startswith("sex_") for n in bunch.feature_names)
    assert "age" in bunch.feature_names
    assert "CC BY 4.0" in bunch.DESCR


def test_german_credit_age():
    X, y, s = load_german_credit(sensitive="age", return_X_y=True)
    assert X.shape == (1000, 25)
    assert set(s) == {"adult", "young"}
    _, _, sex_age = load_german_credit(sensitive=["sex", "age"], return_X_y=True)
    assert sex_age.shape == (1000, 2)
    frame = load_german_credit(sensitive="age", as_frame=True)
    assert "age" not in frame.data.columns
    assert frame.sensitive.value_counts().to_dict() == {"adult": 851, "young": 149}
    np.testing.assert_array_equal(frame.sensitive == "adult", frame.frame["age"].to_numpy() >= 25)
    assert load_german_credit(drop_sensitive=False).data.shape == (1000, 26)


def test_german_credit_as_frame():
    X, y, s = load_german_credit(as_frame=True, return_X_y=True)
    assert isinstance(X, pd.DataFrame) and X.shape == (1000, 8)
    assert isinstance(y, pd.Series) and isinstance(s, pd.Series)
    assert isinstance(X["purpose"].dtype, pd.CategoricalDtype)


# ----------------------------------------------------------------------- mnist


def test_mnist():
    bunch = load_mnist_5k()
    X, y = bunch.data, bunch.target
    assert X.shape == (5000, 784) and X.dtype == np.float32
    assert y.shape == (5000,) and y.dtype == np.int64
    assert np.isfinite(X).all()
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    assert "sensitive" not in bunch
    assert "CC BY-SA 3.0" in bunch.DESCR

    X4, y4 = load_mnist_5k(return_X_y=True, flatten=False)
    assert X4.shape == (5000, 1, 28, 28)
    np.testing.assert_array_equal(X4.reshape(5000, -1), X)
    np.testing.assert_array_equal(y4, y)

    frame = load_mnist_5k(as_frame=True)
    assert isinstance(frame.data, pd.DataFrame) and frame.data.shape == (5000, 784)
    assert isinstance(frame.target, pd.Series)
    assert frame.frame.shape == (5000, 785)
    with pytest.raises(ValueError):
        load_mnist_5k(as_frame=True, flatten=False)


# ------------------------------------------------------------------- caching


def test_returned_arrays_are_copies():
    X, y, s = load_adult(subset="test", return_X_y=True)
    X_ref, y_ref = X.copy(), y.copy()
    X[:] = -1
    y[:] = 7
    s[:] = "corrupted"
    X2, y2, s2 = load_adult(subset="test", return_X_y=True)
    np.testing.assert_array_equal(X2, X_ref)
    np.testing.assert_array_equal(y2, y_ref)
    assert set(s2) == {"Female", "Male"}

    frame = load_adult(subset="test", as_frame=True)
    frame.data.loc[:, "age"] = -1
    frame.frame.loc[:, "age"] = -1
    frame.target.loc[:] = 5
    again = load_adult(subset="test", as_frame=True)
    assert again.data["age"].min() > 0 and again.frame["age"].min() > 0
    assert set(again.target) == {0, 1}

    g = load_german_credit(as_frame=True)
    g.data.loc[:, "duration"] = 0
    assert load_german_credit(as_frame=True).data["duration"].min() > 0

    Xm, ym = load_mnist_5k(return_X_y=True)
    Xm[:] = 5.0
    ym[:] = -1
    Xm2, ym2 = load_mnist_5k(return_X_y=True)
    assert Xm2.max() == 1.0 and ym2.min() == 0
