"""plot_history: a fitted estimator's ``history_``, epoch by epoch."""

import numbers
import warnings

import numpy as np
from sklearn.exceptions import NotFittedError

from ._common import _pyplot

_LEVEL_ATTRS = ("bound", "lower", "upper", "target")
_LEVEL_COLOR = "#d62728"
#: a vector (multipliers of a group constraint) with more entries than this is
#: drawn as the band of its entries and the line of its largest-magnitude one
_MAX_LINES = 4
#: robust limits: points are a spike when the curve's range without them is
#: this many times smaller
_FACTOR = 10.0


def _levels(constraint):
    """``[(label, value), ...]``: the level(s) a constraint's value is held to.

    ``bound``, ``lower``, ``upper`` (and ``target`` for equalities) when the
    constraint has them; otherwise the level is 0 (non-negativity,
    orthogonality at ``bound=0``, simplex: zero violation).
    """
    found = []
    for attr in _LEVEL_ATTRS:
        value = getattr(constraint, attr, None)
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            found.append((attr, float(value)))
    return found or [("level", 0.0)]


def _floats(value):
    """A recorded value (float, list or None) as a flat float array."""
    if value is None:
        return np.array([np.nan])
    if isinstance(value, (list, tuple)):
        value = [np.nan if v is None else v for v in value]
    return np.atleast_1d(np.asarray(value, dtype=float)).ravel()


def _components(values):
    """Per-epoch values (floats, lists or None) as an (n_epochs, k) array.

    Non-finite entries become NaN (drawn as gaps).
    """
    rows = [_floats(v) for v in values]
    out = np.full((len(rows), max((len(r) for r in rows), default=1)), np.nan)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    out[~np.isfinite(out)] = np.nan
    return out


def _check_history(estimator):
    history = getattr(estimator, "history_", None)
    if history is None:
        raise NotFittedError(
            f"plot_history needs a fitted estimator with a `history_`; "
            f"{type(estimator).__name__} has none. Call fit(X, y) first."
        )
    return list(history)


def _returned_epoch(estimator, history):
    epoch = getattr(estimator, "best_epoch_", None)
    if epoch is None:
        epoch = next((r.get("epoch") for r in history if r.get("selected")), None)
    return None if epoch is None else int(epoch)


def _diverged_epoch(history):
    """The last epoch when its record holds a NaN or an infinite value."""
    if not history:
        return None
    last = history[-1]
    parts = [last.get("objective"), last.get("loss")]
    parts += list((last.get("constraints") or {}).values())
    parts += list((last.get("multipliers") or {}).values())
    for value in parts:
        if value is not None and not np.isfinite(_floats(value)).all():
            return int(last.get("epoch", len(history)))
    return None


def _extent(v):
    """The range of sorted values, at least 10% of their magnitude."""
    return max(v[-1] - v[0], 0.1 * max(abs(v[0]), abs(v[-1])), 1e-12)


def _spikes(values, factor=_FACTOR):
    """The finite values of one curve that are spikes, as a boolean mask.

    The ``k`` largest (or smallest) points are spikes when the curve's range
    without them is ``factor`` times smaller or more, for the smallest such
    ``k`` up to a tenth of the points (at least one).
    """
    v = np.asarray(values, dtype=float)
    mask = np.zeros(v.shape, dtype=bool)
    finite = np.flatnonzero(np.isfinite(v))
    if finite.size < 3:
        return mask
    order = finite[np.argsort(v[finite])]
    sorted_v, whole = v[order], _extent(v[order])
    for k in range(1, max(1, finite.size // 10) + 1):
        if finite.size - k < 2:
            break
        if _extent(sorted_v[:-k]) * factor <= whole:  # the k largest
            mask[order[-k:]] = True
            break
        if _extent(sorted_v[k:]) * factor <= whole:  # the k smallest
            mask[order[:k]] = True
            break
    return mask


def _robust_limits(series):
    """y-limits that leave each curve's spikes off the scale (``None``: no spike)."""
    spikes = [_spikes(v) for v in series]
    if not any(m.any() for m in spikes):
        return None
    kept = np.concatenate([np.asarray(v, float)[~m] for v, m in zip(series, spikes, strict=True)])
    kept = np.sort(kept[np.isfinite(kept)])
    bottom, top, ext = kept[0], kept[-1], _extent(kept)
    if top - bottom < ext:  # a flat curve is shown flat, not its noise magnified
        mid = (top + bottom) / 2
        bottom, top = mid - ext / 2, mid + ext / 2
    pad = 0.06 * (top - bottom)
    return bottom - pad, top + pad


def _mark_off_scale(a, epochs, series, limits):
    """Mark the points outside ``limits`` with triangles at the edge.

    The values of the three farthest are written beside them.
    """
    lo, hi = limits
    notes, label = [], "off the scale (value written)"
    mid = np.median(epochs)
    for values, color in series:
        v = np.asarray(values, dtype=float)
        for mask, y, marker in ((v > hi, 0.97, "^"), (v < lo, 0.03, "v")):
            if mask.any():
                a.plot(
                    epochs[mask],
                    np.full(mask.sum(), y),
                    ls="none",
                    marker=marker,
                    ms=6,
                    color=color,
                    transform=a.get_xaxis_transform(),
                    label=label,
                    gid="off_scale",
                )
                label = None
                notes += [(abs(x), e, x, y) for e, x in zip(epochs[mask], v[mask], strict=True)]
    farthest = sorted(notes, key=lambda t: t[0], reverse=True)[:3]
    for i, (_, e, x, y) in enumerate(farthest):
        right = e > mid
        a.annotate(
            f"{x:.3g}",
            (e, y),
            xycoords=a.get_xaxis_transform(),
            xytext=(-6 if right else 6, (-9 * i) if y > 0.5 else (9 * i)),
            textcoords="offset points",
            ha="right" if right else "left",
            va="center",
            fontsize=7.5,
            color="0.15",
            bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 0.5},
        )


def _draw_entries(a, epochs, values, color, label, **style):
    """Draw one line per entry of an (n_epochs, k) array.

    Beyond ``_MAX_LINES`` entries: the band of the entries and the line of
    the largest-magnitude one.
    """
    k = values.shape[1]
    if k <= _MAX_LINES:
        for j in range(k):
            a.plot(epochs, values[:, j], color=color, label=label if j == 0 else None, **style)
        return
    with warnings.catch_warnings():  # an epoch with no finite entry
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(values, axis=1), np.nanmax(values, axis=1)
    magnitude = np.where(np.isnan(values), -1.0, np.abs(values))
    largest = values[np.arange(len(values)), magnitude.argmax(axis=1)]
    a.fill_between(epochs, lo, hi, color=color, alpha=0.2, lw=0, label=f"{label}: {k} entries")
    a.plot(epochs, largest, color=color, label=f"{label}: largest |entry|", **style)


def _axes_for(n_panels, ax, plt):
    if ax is None:
        ncols = 2 if n_panels in (2, 4) else min(3, n_panels)
        nrows = -(-n_panels // ncols)
        _, axes = plt.subplots(
            nrows,
            ncols,
            figsize=(4.4 * ncols, 3.3 * nrows),
            squeeze=False,
            layout="constrained",
        )
        axes = axes.ravel()
        for extra in axes[n_panels:]:
            extra.set_visible(False)
        return axes[:n_panels]
    axes = np.asarray(ax, dtype=object).ravel()
    if len(axes) < n_panels:
        raise ValueError(
            f"`ax` must hold at least {n_panels} matplotlib Axes for this history (objective, "
            f"one per constraint, multipliers[, penalty]); got {len(axes)}. Pass ax=None to "
            "create a figure."
        )
    return axes[:n_panels]


def _finish(a, title, returned, diverged, empty):
    from matplotlib.ticker import MaxNLocator

    if returned is not None:
        note = ", initial state" if returned == 0 else ""
        a.axvline(
            returned,
            color="0.3",
            ls=":",
            lw=1.5,
            label=f"returned epoch ({returned}{note})",
            gid="returned_epoch",
        )
    if diverged is not None:
        a.axvline(
            diverged,
            color=_LEVEL_COLOR,
            alpha=0.35,
            lw=4,
            label=f"diverged: not finite (epoch {diverged})",
            gid="diverged",
        )
    if empty:
        a.set_xlim(-0.5, 1.5)
        levels = [ln.get_ydata()[0] for ln in a.lines if ln.get_gid() == "level"]
        if levels:
            lo, hi = min(levels), max(levels)
            pad = 0.25 * (hi - lo) if hi > lo else max(0.5 * abs(hi), 0.5)
            a.set_ylim(lo - pad, hi + pad)
        a.text(
            0.5,
            0.5,
            "no epoch completed\n(history_ is empty)",
            ha="center",
            va="center",
            transform=a.transAxes,
            color="0.4",
            bbox={"fc": "white", "ec": "none", "alpha": 0.8},
        )
    a.set_title(title)
    a.set_xlabel("epoch")
    a.xaxis.set_major_locator(MaxNLocator(integer=True))
    if a.get_legend_handles_labels()[0]:
        a.legend(fontsize=7)


def plot_history(estimator, ax=None, *, robust=True):
    """Plot a fitted estimator's training history, epoch by epoch.

    One panel for the objective (with the method's loss: the Lagrangian or
    the penalised loss), one per constraint with its value and its level(s)
    as dashed red lines, one for the multipliers and, when the method has a
    penalty (``"fp"``, ``"sal"``, ``"sadmm"``, augmented ``"gda"``), one for
    the penalty (on a log scale when it grew twentyfold or more). A fit
    without constraints has the objective panel only.

    - The epoch whose model the estimator returned (``best_epoch_``) is a
      dotted vertical line in every panel, "returned epoch" in the legends.
    - Records with ``valid_objective`` and ``valid_constraints`` (a fit with
      a validation split) add the validation values, dashed with open
      markers, beside the training ones.
    - Vector multipliers (one per side of a range, per pair of groups) are
      drawn one line per entry, in the constraint's colour; beyond four
      entries, as the band of the entries and the line of the largest
      magnitude.
    - A fit that diverged or stopped early is drawn as far as it got; a
      last epoch with NaN or infinite values is shaded red.

    Parameters
    ----------
    estimator : fitted ConstrainedClassifier or ConstrainedRegressor
        Anything with ``history_`` records (keys ``epoch``, ``objective``,
        ``loss``, ``constraints``, ``multipliers``, ``penalty``, optionally
        ``valid_objective`` and ``valid_constraints``), and for the levels
        and the returned epoch ``constraints_`` and ``best_epoch_``.
    ax : None or array-like of matplotlib Axes, default=None
        Where to draw, one Axes per panel in the order above; ``None``
        creates a figure with constrained layout.
    robust : bool, default=True
        Leave the spikes of each curve off the objective panel's scale, so
        that an early spike of the loss does not flatten the curves: the
        largest (or smallest) points of a curve, at most a tenth of them,
        are a spike when its range without them is 10 times smaller or
        more (a range counts as at least 10% of the values' magnitude, so
        that a flat curve stays flat). Spikes are drawn as triangles at the
        panel's edge, the farthest with their value. ``False``:
        matplotlib's limits, every point on the scale.

    Returns
    -------
    axes : ndarray of matplotlib Axes
        The panels drawn on; ``axes[0].figure`` is the figure.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_constrained import ConstrainedClassifier
    >>> from sklearn_constrained.constraints import L2Norm
    >>> from sklearn_constrained.plotting import plot_history
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = ConstrainedClassifier(constraints={"l2": L2Norm(bound=40.0)},
    ...                             max_epochs=3, random_state=0).fit(X / 16, y)
    >>> axes = plot_history(clf)
    >>> [a.get_title() for a in axes]
    ['objective', 'l2: L2Norm', 'multipliers', 'penalty']
    >>> [line.get_label() for line in axes[1].lines]
    ['value', 'bound = 40', 'returned epoch (3)']
    """
    plt = _pyplot()
    from matplotlib.colors import same_color

    history = _check_history(estimator)
    constraints = getattr(estimator, "constraints_", None) or {}
    names = [n for r in history for n in (r.get("constraints") or {})] + list(constraints)
    names = list(dict.fromkeys(names))
    penalties = [r.get("penalty") for r in history]
    has_penalty = bool(names) and any(p is not None and p != {} for p in penalties)
    axes = _axes_for(1 + (len(names) + 1 if names else 0) + has_penalty, ax, plt)
    # the constraints' colours, less the levels' red
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    colors = [c for c in colors if not same_color(c, _LEVEL_COLOR)] or ["C0"]
    color_of = {n: colors[i % len(colors)] for i, n in enumerate(names)}
    epochs = np.array([r.get("epoch", i + 1) for i, r in enumerate(history)], dtype=float)
    empty = not history
    marks = dict(returned=_returned_epoch(estimator, history), diverged=_diverged_epoch(history))
    style = {"marker": "o", "ms": 3} if len(history) <= 20 else {}
    valid_style = dict(style, ls="--", marker="o", ms=3.5, mfc="white")

    def column(key, name=None):
        if name is None:
            return _components([r.get(key) for r in history])
        return _components([(r.get(key) or {}).get(name) for r in history])

    a = axes[0]
    drawn = []
    if not empty:
        drawn.append((column("objective")[:, 0], "k"))
        a.plot(epochs, drawn[-1][0], color="k", label="objective", **style)
        if any(r.get("loss") is not None for r in history):
            drawn.append((column("loss")[:, 0], "0.55"))
            loss_label = "loss (with constraint terms)"
            a.plot(epochs, drawn[-1][0], color="0.55", ls=":", lw=1.8, label=loss_label)
        if any("valid_objective" in r for r in history):
            drawn.append((column("valid_objective")[:, 0], "k"))
            a.plot(epochs, drawn[-1][0], color="k", label="objective (validation)", **valid_style)
    limits = _robust_limits([d for d, _ in drawn]) if robust else None
    if limits is not None:
        a.set_ylim(*limits)
        _mark_off_scale(a, epochs, drawn, limits)
    _finish(a, "objective", empty=empty, **marks)

    for a, name in zip(axes[1:], names, strict=False):
        color = color_of[name]
        has_valid = any(name in (r.get("valid_constraints") or {}) for r in history)
        if not empty:
            label = "value (training)" if has_valid else "value"
            _draw_entries(a, epochs, column("constraints", name), color, label, **style)
        if has_valid:
            valid = column("valid_constraints", name)
            _draw_entries(a, epochs, valid, color, "validation", **valid_style)
        c = constraints.get(name)
        for label, level in _levels(c) if c is not None else []:
            a.axhline(
                level,
                color=_LEVEL_COLOR,
                ls="--",
                lw=1.2,
                label=f"{label} = {level:g}",
                gid="level",
            )
        _finish(a, f"{name}: {type(c).__name__}" if c is not None else name, empty=empty, **marks)

    if names:
        a = axes[1 + len(names)]
        for name in names if not empty else []:
            _draw_entries(a, epochs, column("multipliers", name), color_of[name], name, **style)
        _finish(a, "multipliers", empty=empty, **marks)

    if has_penalty:
        a = axes[-1]
        if any(isinstance(p, dict) for p in penalties):
            keys = list(dict.fromkeys(k for p in penalties if isinstance(p, dict) for k in p))
            for key in keys:
                vals = _components([p.get(key) if isinstance(p, dict) else None for p in penalties])
                _draw_entries(a, epochs, vals, color_of.get(key, "k"), key, **style)
        else:
            vals = _components(penalties)
            a.plot(epochs, vals[:, 0], color="k", label="penalty", **style)
        finite = np.concatenate([ln.get_ydata() for ln in a.lines]).astype(float)
        finite = finite[np.isfinite(finite)]
        if finite.size and finite.min() > 0 and finite.max() >= 20 * finite.min():
            a.set_yscale("log")
        _finish(a, "penalty", empty=empty, **marks)
    return axes
