"""Shared plumbing of the image models: the image shape from flat or 4-D input."""

import math

from ._base import SizedModule

__all__ = ["ImageModel", "resolve_image_shape"]


def _is_square(n):
    r = math.isqrt(n)
    return r * r == n, r


def resolve_image_shape(n_features, image_shape=None, *, owner="model"):
    """The ``(channels, height, width)`` of one image.

    Parameters
    ----------
    n_features : int
        Number of values per sample (``prod(X.shape[1:])``).
    image_shape : None or tuple of int
        ``(C, H, W)``, or ``(H, W)`` for a single channel. ``None`` infers
        it from ``n_features``: a perfect square ``s * s`` is one ``s x s``
        channel (load_digits' 64 columns, MNIST's 784); ``3 * s * s`` is an
        RGB ``s x s`` image (CIFAR's 3072).
    owner : str
        The model's name, for the error message.

    Returns
    -------
    tuple of int
        ``(C, H, W)`` with ``C * H * W == n_features``.

    Examples
    --------
    >>> from sklearn_constrained.models import resolve_image_shape
    >>> resolve_image_shape(64), resolve_image_shape(3072), resolve_image_shape(12, (3, 2, 2))
    ((1, 8, 8), (3, 32, 32), (3, 2, 2))
    """
    n_features = int(n_features)
    if image_shape is None:
        square, side = _is_square(n_features)
        if square:
            return (1, side, side)
        if n_features % 3 == 0:
            square, side = _is_square(n_features // 3)
            if square:
                return (3, side, side)
        raise ValueError(
            f"{owner}: cannot infer the image shape of {n_features} input features (neither "
            "s*s nor 3*s*s). Pass 4-D input X of shape (n_samples, channels, height, width), "
            "or module__image_shape=(channels, height, width)."
        )
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = (1,) + shape
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            f"{owner}: `image_shape` must be (channels, height, width) or (height, width) "
            f"with positive sizes; got {image_shape!r}."
        )
    if shape[0] * shape[1] * shape[2] != n_features:
        raise ValueError(
            f"{owner}: `image_shape`={shape} holds {shape[0] * shape[1] * shape[2]} values but "
            f"each sample has {n_features} features; images are channels-first (C, H, W)."
        )
    return shape


class ImageModel(SizedModule):
    """Base of the image models: sized from flat or channels-first 4-D input.

    ``from_data`` takes the image shape from ``input_shape`` when the data
    are 3-D per sample (``X`` of shape ``(n, C, H, W)``) or 2-D per sample
    (``(n, H, W)``), unless ``image_shape`` is given; flat input is reshaped
    as :func:`resolve_image_shape` says. ``forward`` accepts either form.
    """

    @classmethod
    def from_data(cls, n_features, n_outputs, input_shape=None, **params):
        if (
            params.get("image_shape") is None
            and input_shape is not None
            and len(input_shape) in (2, 3)
        ):
            params["image_shape"] = tuple(int(s) for s in input_shape)
        return cls(n_features, n_outputs, **params)

    def _as_images(self, X):
        return X.reshape(X.shape[0], *self.image_shape)
