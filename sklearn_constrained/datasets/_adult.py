"""The UCI Adult (census income) data set: its column table and its loader."""

from __future__ import annotations

from ._base import load_tabular
from ._table import DataFile, Sensitive, TabularSpec, Target, categorical, integer

__all__ = ["load_adult"]

# The column table: the 14 attributes of adult.names in file order (hyphens
# become underscores), with the categories adult.names lists, sorted, so that
# every subset gets the same indicators whatever values it holds.  '?'
# (unknown) occurs in workclass, occupation and native_country only.
# fmt: off
ADULT = TabularSpec(
    title="Adult",
    columns=(
        integer("age"),
        categorical("workclass", (
            "Federal-gov", "Local-gov", "Never-worked", "Private", "Self-emp-inc",
            "Self-emp-not-inc", "State-gov", "Without-pay",
        ), missing=True),
        integer("fnlwgt"),
        categorical("education", (
            "10th", "11th", "12th", "1st-4th", "5th-6th", "7th-8th", "9th", "Assoc-acdm",
            "Assoc-voc", "Bachelors", "Doctorate", "HS-grad", "Masters", "Preschool",
            "Prof-school", "Some-college",
        )),
        integer("education_num"),
        categorical("marital_status", (
            "Divorced", "Married-AF-spouse", "Married-civ-spouse", "Married-spouse-absent",
            "Never-married", "Separated", "Widowed",
        )),
        categorical("occupation", (
            "Adm-clerical", "Armed-Forces", "Craft-repair", "Exec-managerial", "Farming-fishing",
            "Handlers-cleaners", "Machine-op-inspct", "Other-service", "Priv-house-serv",
            "Prof-specialty", "Protective-serv", "Sales", "Tech-support", "Transport-moving",
        ), missing=True),
        categorical("relationship", (
            "Husband", "Not-in-family", "Other-relative", "Own-child", "Unmarried", "Wife",
        )),
        categorical("race", (
            "Amer-Indian-Eskimo", "Asian-Pac-Islander", "Black", "Other", "White",
        )),
        categorical("sex", ("Female", "Male")),
        integer("capital_gain"),
        integer("capital_loss"),
        integer("hours_per_week"),
        categorical("native_country", (
            "Cambodia", "Canada", "China", "Columbia", "Cuba", "Dominican-Republic", "Ecuador",
            "El-Salvador", "England", "France", "Germany", "Greece", "Guatemala", "Haiti",
            "Holand-Netherlands", "Honduras", "Hong", "Hungary", "India", "Iran", "Ireland",
            "Italy", "Jamaica", "Japan", "Laos", "Mexico", "Nicaragua",
            "Outlying-US(Guam-USVI-etc)", "Peru", "Philippines", "Poland", "Portugal",
            "Puerto-Rico", "Scotland", "South", "Taiwan", "Thailand", "Trinadad&Tobago",
            "United-States", "Vietnam", "Yugoslavia",
        ), missing=True),
    ),
    target=Target("income", labels=("<=50K", ">50K"), names=("<=50K", ">50K")),
    sensitive=(Sensitive("sex"), Sensitive("race")),
    descr="adult.rst",
)
# fmt: on

_FILES = {
    "train": DataFile("adult.data.gz", n_rows=32561, header=False, na_value="?"),
    # adult.test starts with a junk line, and its labels end in a period.
    "test": DataFile(
        "adult.test.gz", n_rows=16281, header=False, skiprows=1, na_value="?", label_suffix="."
    ),
}


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
    files = [_FILES["train"], _FILES["test"]] if subset == "all" else [_FILES[subset]]
    return load_tabular(
        ADULT,
        files,
        sensitive=sensitive,
        drop_sensitive=drop_sensitive,
        return_X_y=return_X_y,
        as_frame=as_frame,
    )
