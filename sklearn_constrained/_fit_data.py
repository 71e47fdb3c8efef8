"""The data of one fit: validated arrays, the held-out parts and their tensors.

``fit`` validates ``X`` (dense, or SciPy sparse kept sparse), the encoded
target, the sensitive groups and the sample weights once, then splits off
the validation part (``validation_fraction``) and the dual part
(``dual_split``), each stratified by group and class, with errors that name
a group too small for the split. ``early_stopping`` decides whether there is
a validation part and a patience when the user set neither; ``dual_split="auto"``
whether there is a dual part.
"""

import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.model_selection import train_test_split

__all__ = [
    "DUAL_SPLIT_AUTO",
    "DUAL_SPLIT_AUTO_ROWS",
    "EARLY_STOPPING_ROWS",
    "EarlyStopping",
    "FitData",
    "check_groups",
    "encode_groups",
    "resolve_dual_split",
    "resolve_early_stopping",
    "split_off",
    "to_tensors",
]

#: ``early_stopping="auto"`` turns on above this many rows (HistGradientBoosting's rule)
EARLY_STOPPING_ROWS = 10_000
#: the validation fraction and patience early stopping uses when they are not given
EARLY_STOPPING_DEFAULTS = (0.1, 10)
#: the dual part ``dual_split="auto"`` holds out (``benchmarks/heldout.py``, section 4)
DUAL_SPLIT_AUTO = 0.3
#: ``dual_split="auto"`` holds out nothing below this many training rows
DUAL_SPLIT_AUTO_ROWS = 2_000


@dataclass
class FitData:
    """Validated data of a fit (arrays on the host).

    ``X`` is a dense array or a CSR matrix, ``y`` the encoded target,
    ``groups`` integer group codes (or ``None``), ``sample_weight`` an array
    (or ``None``: all equal).
    """

    X: object
    y: np.ndarray
    groups: np.ndarray | None = None
    sample_weight: np.ndarray | None = None

    def __len__(self):
        return self.X.shape[0]

    def subset(self, index):
        """The rows ``index`` (sorted indices)."""
        return FitData(
            self.X[index],
            self.y[index],
            None if self.groups is None else self.groups[index],
            None if self.sample_weight is None else self.sample_weight[index],
        )


def encode_groups(sensitive_features, n_samples):
    """Integer codes of the sensitive groups (one group per distinct row).

    Returns
    -------
    codes : ndarray of int64 or None
    labels : ndarray of str or None
    """
    if sensitive_features is None:
        return None, None
    sf = sensitive_features
    if hasattr(sf, "to_numpy"):
        sf = sf.to_numpy()
    sf = np.asarray(sf, dtype=object)
    if sf.ndim == 2 and sf.shape[1] == 1:
        sf = sf[:, 0]
    if sf.ndim not in (1, 2) or len(sf) != n_samples:
        raise ValueError(
            f"`sensitive_features` must have one entry (or row) per sample: got shape "
            f"{sf.shape} for {n_samples} samples. Pass the sensitive column(s) aligned with X."
        )
    if sf.ndim == 2:
        sf = np.array(["|".join(map(str, row)) for row in sf], dtype=object)
    if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in sf):
        raise ValueError(
            "`sensitive_features` contains missing values; encode them as their own group."
        )
    labels, codes = np.unique(sf.astype(str), return_inverse=True)
    return codes.astype(np.int64), labels


def check_groups(constraints, groups, labels):
    """The names of the constraints that compare groups, once the groups suit them.

    A ``ValueError`` says what to pass when such a constraint meets no
    ``sensitive_features``, or a single group.
    """
    needs = [name for name, c in constraints.items() if c.requires_groups]
    if needs and groups is None:
        raise ValueError(
            f"Constraint(s) {needs} compare groups, so fit needs `sensitive_features`: "
            "call fit(X, y, sensitive_features=s) with one group label per sample (in a "
            "Pipeline or GridSearchCV, request it with "
            "clf.set_fit_request(sensitive_features=True))."
        )
    if needs and len(labels) < 2:
        raise ValueError(
            f"`sensitive_features` has a single group ({labels[0]!r}); constraint(s) {needs} "
            "compare groups and need at least two."
        )
    return needs


def _unsplittable_groups(data, fraction):
    """``[(code, size), ...]``: the groups a split of ``fraction`` leaves empty on a side."""
    if data.groups is None:
        return []
    return [
        (code, int(size))
        for code, size in enumerate(np.bincount(data.groups))
        if size and (round(size * fraction) < 1 or size - round(size * fraction) < 1)
    ]


def split_off(data, fraction, seed, *, classifier, group_labels=None, param="validation_fraction"):
    """``(kept, held_out)`` row indices: ``fraction`` of the rows held out.

    Stratified by group and class when every (group, class) cell has two
    rows, else by group, else by class. Every group must keep at least one
    row on each side, or a ``ValueError`` names the group and its size.
    """
    n = len(data)
    everything = np.arange(n)
    strata = []
    if data.groups is not None:
        for code, size in _unsplittable_groups(data, fraction)[:1]:
            label = code if group_labels is None else str(group_labels[code])
            raise ValueError(
                f"`{param}`={fraction!r}: the sensitive group {label!r} has {size} sample(s), "
                "too few to place at least one in the training part and one in the held-out "
                "part. Merge it with another group, collect more of its samples, or change "
                f"`{param}`."
            )
        if classifier:
            strata.append(data.groups * (int(data.y.max()) + 1) + data.y)
        strata.append(data.groups)
    elif classifier:
        strata.append(data.y)
    stratify = next((s for s in strata if np.unique(s, return_counts=True)[1].min() >= 2), None)
    try:
        kept, held = train_test_split(
            everything, test_size=fraction, random_state=seed % (2**32), stratify=stratify
        )
    except ValueError as exc:
        raise ValueError(
            f"`{param}`={fraction!r} cannot split {n} samples into a training and a held-out "
            f"part: {exc}"
        ) from None
    return np.sort(kept), np.sort(held)


def to_tensors(data, dtype):
    """``(X, targets)`` for the net: ``X`` a tensor (or CSR kept sparse), targets a dict."""
    X = data.X
    if sp.issparse(X):
        X = X.astype(np.float32 if dtype == torch.float32 else np.float64)
    else:
        X = torch.as_tensor(np.ascontiguousarray(X), dtype=dtype)
    targets = {"y": torch.as_tensor(data.y)}
    if data.groups is not None:
        targets["groups"] = torch.as_tensor(data.groups)
    if data.sample_weight is not None:
        targets["sample_weight"] = torch.as_tensor(data.sample_weight, dtype=dtype)
    return X, targets


class EarlyStopping(NamedTuple):
    """What ``early_stopping`` resolved to for one fit."""

    on: bool
    validation_fraction: object  # float or None
    n_iter_no_change: object  # int or None


def resolve_early_stopping(setting, data, validation_fraction, n_iter_no_change):
    """``early_stopping`` for this data: whether it is on, the fraction and the patience.

    ``True``: a validation part (``validation_fraction``, 0.1 when ``None``)
    and the stopping rule (``n_iter_no_change``, 10 when ``None``), as
    ``MLPClassifier(early_stopping=True)``. ``"auto"``: ``True`` when the data
    have more than :data:`EARLY_STOPPING_ROWS` rows and every sensitive group
    can be split (``HistGradientBoostingClassifier``'s rule), else ``False``.
    ``False``: both parameters exactly as given.
    """
    fraction = EARLY_STOPPING_DEFAULTS[0] if validation_fraction is None else validation_fraction
    if setting == "auto":
        setting = len(data) > EARLY_STOPPING_ROWS and not _unsplittable_groups(data, fraction)
    if not setting:
        return EarlyStopping(False, validation_fraction, n_iter_no_change)
    patience = EARLY_STOPPING_DEFAULTS[1] if n_iter_no_change is None else n_iter_no_change
    return EarlyStopping(True, fraction, patience)


def resolve_dual_split(setting, margin, constraints, train, group_labels=None):
    """The share of the training rows held out for the multipliers, or ``None``.

    ``None`` when no constraint depends on the data. ``"auto"``:
    :data:`DUAL_SPLIT_AUTO` when ``margin="auto"`` and a constraint's training
    value is optimistic (``optimistic_in_sample``: a rate of the positives or
    the negatives, a group's loss) and there are at least
    :data:`DUAL_SPLIT_AUTO_ROWS` training rows: the margin covers the sampling
    error of a value, not the bias of one measured on the rows the weights
    fit, so the multipliers and the returned epoch are judged on rows the
    weights never see. On fewer rows the dual part's own sampling error (the
    margin grows with it) costs more than the bias it removes. ``None``
    otherwise, and (with a warning) when a sensitive group is too small to
    split. A float: as given.
    """
    data_dependent = [c for c in constraints.values() if c.requires_data]
    if not data_dependent:
        return None
    if setting != "auto":
        return setting
    if not (isinstance(margin, str) and margin == "auto"
            and any(c.optimistic_in_sample for c in data_dependent)
            and len(train) >= DUAL_SPLIT_AUTO_ROWS):
        return None
    small = _unsplittable_groups(train, DUAL_SPLIT_AUTO)
    if small:
        code, size = small[0]
        label = code if group_labels is None else str(group_labels[code])
        warnings.warn(
            f"dual_split='auto' holds out no dual part: the sensitive group {label!r} has "
            f"{size} sample(s), too few to split {DUAL_SPLIT_AUTO:g} of them off. margin='auto' "
            "then covers the sampling error alone, and the training value of a rate of the "
            "positives or the negatives understates its value on unseen data.",
            UserWarning,
            stacklevel=3,
        )
        return None
    return DUAL_SPLIT_AUTO
