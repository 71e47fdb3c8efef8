"""The column tables that describe the tabular data sets.

A data set is one :class:`TabularSpec`: its attributes (:class:`Column`, in
file order, which is the order of ``data``), its label (:class:`Target`), the
attributes that may be asked for as ``sensitive`` (:class:`Sensitive`) and the
name of its description in ``descr/``; its files are :class:`DataFile`.  The
reading, typing and encoding in ``_base`` are driven by these tables only;
nothing there knows a column by name.  All of them are frozen and hashable, so
that a parsed file can be cached by ``(spec, file)``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Suffix of the indicator that marks a missing categorical value.
MISSING = "missing"

INTEGER = "integer"
CATEGORICAL = "categorical"


@dataclass(frozen=True)
class Column:
    """One attribute: a row of a data set's column table.

    Parameters
    ----------
    name : str
        Column name in ``data``, ``frame`` and ``feature_names``.
    kind : {"integer", "categorical"}
        ``"integer"``: an int64 column of the frame, one unscaled float64
        column of the array.  ``"categorical"``: a categorical column with the
        fixed ``categories``, one float64 indicator per category in the array
        (named ``<name>_<category>``).
    categories : tuple of str, default=()
        Categorical columns only: every allowed value, in the order of the
        indicators.  Any other value in a file is an error.
    missing : bool, default=False
        Categorical columns only: whether the value may be unknown (NaN in the
        frame).  The array then has a ``<name>_missing`` indicator after the
        category indicators.
    """

    name: str
    kind: str
    categories: tuple[str, ...] = ()
    missing: bool = False

    def __post_init__(self):
        if self.kind not in (INTEGER, CATEGORICAL):
            raise ValueError(f"Column {self.name!r}: unknown kind {self.kind!r}.")
        if self.kind == INTEGER and (self.categories or self.missing):
            raise ValueError(f"Integer column {self.name!r} takes no categories or missing.")
        if self.kind == CATEGORICAL:
            if not self.categories or len(set(self.categories)) != len(self.categories):
                raise ValueError(f"Column {self.name!r} needs distinct categories.")
            if self.missing and MISSING in self.categories:
                raise ValueError(f"Column {self.name!r}: {MISSING!r} is reserved.")

    @property
    def indicator_names(self):
        """Names of the array columns that encode this attribute."""
        if self.kind == INTEGER:
            return [self.name]
        names = [f"{self.name}_{c}" for c in self.categories]
        return [*names, f"{self.name}_{MISSING}"] if self.missing else names


def integer(name):
    """An integer column (int64 in the frame, float64 in the array)."""
    return Column(name, INTEGER)


def categorical(name, categories, *, missing=False):
    """A categorical column with fixed ``categories`` (in indicator order)."""
    return Column(name, CATEGORICAL, tuple(categories), missing)


@dataclass(frozen=True)
class Target:
    """The label column: raw value ``labels[i]`` in the file is class ``i``.

    Parameters
    ----------
    name : str
        Name of the label column (of the target Series).
    labels : tuple of str
        The raw values of the file, in class order.
    names : tuple of str
        The ``target_names`` of the Bunch, in class order.
    """

    name: str
    labels: tuple[str, ...]
    names: tuple[str, ...]


@dataclass(frozen=True)
class Sensitive:
    """An attribute that may be asked for as ``sensitive``.

    Parameters
    ----------
    name : str
        The value of the ``sensitive`` argument, the name of the column it is
        read from and of the returned column.
    threshold : float or None, default=None
        None: the column as it is (a categorical column).  Otherwise the
        integer column is cut in two groups: ``groups[0]`` where it is at
        least ``threshold``, ``groups[1]`` below (a categorical with the
        categories ``groups``, in this order).
    groups : tuple of str, default=()
        The two group names when ``threshold`` is set.
    """

    name: str
    threshold: float | None = None
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataFile:
    """A bundled file of a data set and how to read it.

    Parameters
    ----------
    name : str
        File name in ``datasets/data`` (gzip-compressed CSV).
    n_rows : int
        Number of data rows it must hold.
    header : bool, default=True
        True: the first line names the columns (in any order).  False: no
        header, the columns of the table in order, then the label.
    skiprows : int, default=0
        Lines to skip at the start (before the header, if any).
    na_value : str or None, default=None
        The marker of an unknown value (after stripping blanks), if any.
    label_suffix : str, default=""
        Removed from the end of the raw labels before they are matched.
    """

    name: str
    n_rows: int
    header: bool = True
    skiprows: int = 0
    na_value: str | None = None
    label_suffix: str = ""


@dataclass(frozen=True)
class TabularSpec:
    """A whole tabular data set: its column table.

    Parameters
    ----------
    title : str
        Name used in error messages.
    columns : tuple of Column
        The attributes, in the order of ``frame`` and of ``data``.
    target : Target
        The label.
    sensitive : tuple of Sensitive
        The choices of the ``sensitive`` argument, in the order error messages
        list them.
    descr : str
        File name of the description in ``datasets/descr``.
    """

    title: str
    columns: tuple[Column, ...]
    target: Target
    sensitive: tuple[Sensitive, ...]
    descr: str

    def __post_init__(self):
        by_name = {c.name: c for c in self.columns}
        if len(by_name) != len(self.columns) or self.target.name in by_name:
            raise ValueError(f"{self.title}: column names must be distinct.")
        for s in self.sensitive:
            col = by_name.get(s.name)
            kind = CATEGORICAL if s.threshold is None else INTEGER
            if col is None or col.kind != kind:
                raise ValueError(f"{self.title}: sensitive {s.name!r} needs a {kind} column.")
            if (s.threshold is None) != (len(s.groups) == 0) or len(s.groups) not in (0, 2):
                raise ValueError(f"{self.title}: sensitive {s.name!r} needs 0 or 2 groups.")

    @property
    def sensitive_names(self):
        """The allowed values of the ``sensitive`` argument."""
        return [s.name for s in self.sensitive]
