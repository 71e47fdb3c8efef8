"""Reading, typing and encoding of the bundled data sets, driven by their column tables.

The raw files live in ``sklearn_constrained/datasets/data`` (gzip-compressed
copies, see the ``README.md`` there for attribution and licences) and the
descriptions in ``sklearn_constrained/datasets/descr``; both are read with
:mod:`importlib.resources`, so nothing is ever downloaded.  Parsed files are
cached in memory; every call returns fresh copies, so modifying a returned
array or frame never affects later calls.
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._table import CATEGORICAL, MISSING

_PACKAGE = __package__


def open_data(name):
    """Open the bundled file ``datasets/data/<name>`` in binary mode."""
    return (resources.files(_PACKAGE) / "data" / name).open("rb")


def read_csv(name, **kwargs):
    """Read the bundled gzip-compressed CSV file ``name`` with :func:`pandas.read_csv`."""
    with open_data(name) as fh:
        return pd.read_csv(fh, compression="gzip", **kwargs)


def load_descr(name):
    """Return the text of the description ``datasets/descr/<name>`` (reStructuredText)."""
    return (resources.files(_PACKAGE) / "descr" / name).read_text(encoding="utf-8")


def check_bool(value, name):
    """Raise a TypeError unless ``value`` is a bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}.")


def parse_sensitive(sensitive, allowed):
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


# --------------------------------------------------------------------- reading


def _categorical(values, column, source):
    """``values`` (strings, NaN for unknown) as a Categorical with the table's categories."""
    cat = pd.Categorical(values, categories=list(column.categories))
    present = values.notna().to_numpy()
    unknown = present & (cat.codes == -1)
    if unknown.any():
        bad = sorted(set(values[unknown]))
        raise ValueError(f"Unexpected values {bad} in column {column.name!r} of {source}.")
    if not column.missing and not present.all():
        raise ValueError(f"Unexpected missing values in column {column.name!r} of {source}.")
    return cat


@functools.cache
def _read_file(spec, file):
    """Parse one file of ``spec`` into ``(frame, target)`` (cached: never hand out)."""
    names = [c.name for c in spec.columns]
    raw = read_csv(
        file.name,
        header=0 if file.header else None,
        names=None if file.header else [*names, spec.target.name],
        skiprows=file.skiprows,
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=True,
    )
    raw = raw.apply(lambda s: s.str.strip())
    if (
        sorted(raw.columns) != sorted([*names, spec.target.name])
        or len(raw) != file.n_rows
        or raw.isna().any().any()
    ):
        raise ValueError(f"Corrupted {spec.title} file {file.name!r}.")
    if file.na_value is not None:
        raw = raw.where(raw != file.na_value)  # unknown values become NaN

    label = raw[spec.target.name]
    if file.label_suffix:
        label = label.str.removesuffix(file.label_suffix)
    codes = pd.Categorical(label, categories=list(spec.target.labels)).codes
    if (codes < 0).any():
        raise ValueError(f"Unexpected labels in {file.name!r}.")
    target = pd.Series(codes.astype(np.int64), index=raw.index, name=spec.target.name)

    frame = pd.DataFrame(index=raw.index)
    for column in spec.columns:
        values = raw[column.name]
        if column.kind == CATEGORICAL:
            frame[column.name] = _categorical(values, column, file.name)
        else:
            frame[column.name] = values.astype(np.int64)
    return frame, target


# -------------------------------------------------------------------- encoding


def one_hot(data, spec):
    """Encode ``data`` (a frame of ``spec``'s columns) as a float64 array.

    Columns keep the order of ``data``: an integer column is copied as it is,
    a categorical one is replaced by one indicator per category of the table
    (:func:`pandas.get_dummies` of the fixed categorical dtype, so every
    category has its column whatever rows are present), followed by a
    ``<name>_missing`` indicator when the table says the value may be unknown.

    Returns
    -------
    X : ndarray of shape (n_rows, n_indicators), dtype float64
    feature_names : list of str
    """
    columns = {c.name: c for c in spec.columns}
    n = len(data)
    blocks, names = [], []
    for name in data.columns:
        column = columns[name]
        values = data[name]
        if column.kind == CATEGORICAL:
            if column.missing:
                values = values.cat.add_categories([MISSING]).fillna(MISSING)
            block = pd.get_dummies(values, dtype=np.float64)
        else:
            block = values
        blocks.append(block.to_numpy(dtype=np.float64).reshape(n, -1))
        names.extend(column.indicator_names)
    X = np.ascontiguousarray(np.hstack(blocks), dtype=np.float64)
    if X.shape[1] != len(names):  # pragma: no cover - get_dummies keeps every category
        raise RuntimeError("One-hot encoding does not match the column table.")
    return X, names


# ---------------------------------------------------------------------- output


def _sensitive_frame(full, spec, keys):
    """The sensitive attribute(s) ``keys`` as a frame (one column each, in order)."""
    by_name = {s.name: s for s in spec.sensitive}
    sens = pd.DataFrame(index=full.index)
    for key in keys:
        attr = by_name[key]
        if attr.threshold is None:
            sens[key] = full[key]
        else:
            groups = np.where(full[key].to_numpy() >= attr.threshold, *attr.groups)
            sens[key] = pd.Categorical(groups, categories=list(attr.groups))
    return sens


def load_tabular(spec, files, *, sensitive, drop_sensitive, return_X_y, as_frame):
    """Load the rows of ``files`` (concatenated in order) of the data set ``spec``.

    The shared body of the tabular loaders: checks the arguments, then
    returns ``(data, target, sensitive)`` or a Bunch as their docstrings say.
    """
    keys, single = parse_sensitive(sensitive, spec.sensitive_names)
    for name, value in (
        ("drop_sensitive", drop_sensitive),
        ("return_X_y", return_X_y),
        ("as_frame", as_frame),
    ):
        check_bool(value, name)

    parts = [_read_file(spec, f) for f in files]
    # Deep copies: the cached frames must never be handed out.
    full = pd.concat([p[0] for p in parts], ignore_index=True).copy(deep=True)
    target = pd.concat([p[1] for p in parts], ignore_index=True).copy(deep=True)
    sens = _sensitive_frame(full, spec, keys)
    data = full[[c.name for c in spec.columns if not (drop_sensitive and c.name in keys)]]
    if single:
        sens = sens.iloc[:, 0]
    if as_frame:
        X = data.copy()
        feature_names = list(X.columns)
        y = target.copy()
        s = sens.copy()
    else:
        X, feature_names = one_hot(data, spec)
        y = target.to_numpy(dtype=np.int64, copy=True)
        s = np.asarray(sens.astype(object).to_numpy(), dtype=object).copy()
    if return_X_y:
        return X, y, s
    bunch = Bunch(
        data=X,
        target=y,
        sensitive=s,
        feature_names=feature_names,
        target_names=list(spec.target.names),
        DESCR=load_descr(spec.descr),
    )
    if as_frame:
        bunch.frame = pd.concat([full, target], axis=1)
    return bunch
