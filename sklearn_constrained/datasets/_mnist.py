"""5,000 MNIST digits: their loader."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._base import check_bool, load_descr, read_csv

__all__ = ["load_mnist_5k"]

_FILE = "mnist_5k.csv.gz"
_SIDE = 28
_PIXELS = _SIDE * _SIDE

_DESCR = "mnist_5k.rst"


@functools.cache
def _mnist_arrays():
    """Parse the MNIST file into read-only uint8 pixels and int64 labels."""
    values = read_csv(_FILE, header=None, dtype=np.int64).to_numpy()
    if values.shape != (5000, _PIXELS + 1):
        raise ValueError(f"Corrupted MNIST file {_FILE!r}.")
    pixels, labels = values[:, :_PIXELS], values[:, _PIXELS]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"Corrupted MNIST file {_FILE!r}.")
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
        check_bool(value, name)
    if as_frame and not flatten:
        raise ValueError("as_frame=True requires flatten=True.")

    pixels, labels = _mnist_arrays()
    X = pixels.astype(np.float32) / np.float32(255.0)  # a new, writeable array
    y = labels.copy()
    feature_names = [f"pixel{i}" for i in range(_PIXELS)]
    if not flatten:
        X = X.reshape(-1, 1, _SIDE, _SIDE)
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
        DESCR=load_descr(_DESCR),
    )
    if as_frame:
        bunch.frame = frame
    return bunch
