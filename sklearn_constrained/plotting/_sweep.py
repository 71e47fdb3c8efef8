"""Sweeps over a constraint level: the Pareto front of a level against a score."""

import numpy as np

from ._common import _pyplot


def pareto_front(x, y, tighter="lower"):
    """Which points are on the Pareto front of a level against a score.

    A point is dominated when another has a level at least as tight and a
    score at least as high, one of them strictly. Higher scores are better.

    Parameters
    ----------
    x : array-like of shape (n,)
        The levels (or measured constraint values).
    y : array-like of shape (n,)
        The scores.
    tighter : {"lower", "higher"}, default="lower"
        Which direction of ``x`` is the more demanding: ``"lower"`` for
        upper bounds (``bound``, ``upper``), ``"higher"`` for lower bounds
        (``lower``).

    Returns
    -------
    ndarray of bool of shape (n,)
        True for the non-dominated points. NaN scores are never on it.

    Examples
    --------
    >>> from sklearn_constrained.plotting import pareto_front
    >>> pareto_front([1, 2, 4, 8], [0.80, 0.90, 0.88, 0.95]).tolist()
    [True, True, False, True]
    """
    if tighter not in ("lower", "higher"):
        raise ValueError(f"`tighter` must be 'lower' or 'higher'; got {tighter!r}.")
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"`x` and `y` must have the same length; got {len(x)} and {len(y)}.")
    xs = x if tighter == "lower" else -x
    ok = ~np.isnan(y) & ~np.isnan(xs)
    front = np.zeros(len(x), dtype=bool)
    for i in np.flatnonzero(ok):
        at_least = ok & (xs <= xs[i]) & (y >= y[i])
        strictly = (xs < xs[i]) | (y > y[i])
        front[i] = not np.any(at_least & strictly)
    return front


def plot_pareto(
    x,
    y,
    *,
    yerr=None,
    feasible=None,
    tighter="lower",
    selected=None,
    ax=None,
    xlabel="level",
    ylabel="score",
    label=None,
):
    """Scatter scores against levels and draw their Pareto front.

    Parameters
    ----------
    x, y : array-like of shape (n,)
        Levels (or measured constraint values) and scores (higher is better).
    yerr : array-like of shape (n,), default=None
        Error bars on ``y`` (e.g. the standard deviation over folds).
    feasible : array-like of bool of shape (n,), default=None
        Which points met their constraint; the others are drawn as red
        crosses and left off the front. ``None``: every point counts.
    tighter : {"lower", "higher"}, default="lower"
        Which direction of ``x`` is the more demanding (see :func:`pareto_front`).
    selected : int, default=None
        Index of a point to highlight (e.g. the candidate a search refit).
    ax : matplotlib Axes, default=None
        Where to draw; ``None`` creates a figure.
    xlabel, ylabel, label : str
        Axis labels and the legend label of the points.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_constrained.plotting import plot_pareto
    >>> ax = plot_pareto([1, 2, 4, 8], [0.80, 0.90, 0.88, 0.95], selected=3)
    >>> sorted(ax.get_legend_handles_labels()[1])
    ['Pareto front', 'candidates', 'selected']
    """
    plt = _pyplot()
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    feasible = (
        np.ones(len(x), dtype=bool) if feasible is None else np.asarray(feasible, bool).ravel()
    )
    if not (len(x) == len(y) == len(feasible)):
        raise ValueError("`x`, `y` and `feasible` must have the same length.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    err = None if yerr is None else np.asarray(yerr, dtype=float).ravel()
    ax.errorbar(
        x[feasible],
        y[feasible],
        yerr=None if err is None else err[feasible],
        fmt="o",
        color="C0",
        capsize=3,
        label=label or "candidates",
    )
    if np.any(~feasible):
        ax.errorbar(
            x[~feasible],
            y[~feasible],
            yerr=None if err is None else err[~feasible],
            fmt="x",
            color="C3",
            capsize=3,
            label="constraint not met",
        )
    front = pareto_front(np.where(feasible, x, np.nan), np.where(feasible, y, np.nan), tighter)
    order = np.argsort(x[front])
    if front.any():
        ax.step(
            x[front][order],
            y[front][order],
            where="post" if tighter == "lower" else "pre",
            color="C2",
            lw=1.5,
            label="Pareto front",
        )
    if selected is not None:
        ax.plot(
            [x[selected]], [y[selected]], marker="*", ms=16, color="C1", ls="none", label="selected"
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return ax


def _metrics(results):
    return sorted(k[len("mean_test_") :] for k in results if k.startswith("mean_test_"))


def _scoring_key(search, results, scoring):
    """The metric to plot: ``scoring``, else the only one, else the refit one."""
    metrics = _metrics(results)
    if scoring is None:
        if "score" in metrics:
            return "score"
        refit = getattr(search, "refit", None)
        if isinstance(refit, str) and refit in metrics:
            return refit
        how = (
            "a callable `refit`"
            if callable(refit)
            else f"`refit`={refit!r}, which names none of them"
        )
        raise ValueError(
            f"The search has several metrics {metrics} and {how}: pass `scoring=` naming the "
            "held-out score to plot, and `violation=` naming the constraint scorer's metric to "
            f"mark where the constraint held, e.g. plot_level_sweep(search, scoring={metrics[0]!r}"
            f", violation={metrics[-1]!r})."
        )
    if scoring not in metrics:
        raise ValueError(
            f"`scoring`={scoring!r} is not a metric of the search; choose from {metrics}."
        )
    return scoring


def plot_level_sweep(
    search, param=None, *, scoring=None, violation=None, tol=0.0, ax=None, log_x=None
):
    """Plot a fitted search's held-out score against a swept constraint level.

    Each candidate is drawn at its level with the mean score over the folds
    and its standard deviation. With ``violation``, candidates whose mean
    held-out violation exceeds ``tol`` are drawn as red crosses and the
    levels where the constraint held are shaded (the feasible region). The
    Pareto front joins the candidates no other beats with a level at least
    as tight, and the candidate the search selected (``best_index_``) is
    starred. When other parameters vary too, the front is over all of them.

    Parameters
    ----------
    search : fitted GridSearchCV or RandomizedSearchCV
        Anything with ``cv_results_`` (and ``best_index_`` when refit).
    param : str, default=None
        The swept level, as in the search's grid, e.g.
        ``"constraints__l2__bound"`` or, in a pipeline,
        ``"clf__constraints__l2__bound"``. ``None``: the only parameter
        that varies.
    scoring : str, default=None
        The metric of the search to plot as the score, a key of its
        ``scoring`` dict (``"accuracy"`` for
        ``scoring={"accuracy": "accuracy", "dp": make_constraint_scorer("dp")}``).
        ``None``: the search's only metric, or the one its ``refit`` names;
        a search with several metrics and a callable ``refit`` (such as
        :func:`~sklearn_constrained.model_selection.best_feasible`) needs it,
        and the error lists the metrics.
    violation : str, default=None
        A metric of the search that reports a held-out violation, e.g. one
        built by :func:`sklearn_constrained.metrics.make_constraint_scorer`
        (its sign is ignored).
    tol : float, default=0.0
        Largest mean violation that counts as met.
    ax : matplotlib Axes, default=None
        Where to draw; ``None`` creates a figure.
    log_x : bool, default=None
        Logarithmic level axis; ``None``: when every level is positive and
        they span a factor of 20 or more.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_constrained import ConstrainedClassifier
    >>> from sklearn_constrained.constraints import L2Norm
    >>> from sklearn_constrained.plotting import plot_level_sweep
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = ConstrainedClassifier(constraints={"l2": L2Norm(bound=1.0)},
    ...                             max_epochs=2, random_state=0)
    >>> from sklearn_constrained.metrics import make_constraint_scorer
    >>> scoring = {"accuracy": "accuracy", "l2": make_constraint_scorer("l2")}
    >>> search = GridSearchCV(clf, {"constraints__l2__bound": [10.0, 50.0]}, cv=2,
    ...                       scoring=scoring, refit="accuracy")
    >>> search = search.fit(X[:400] / 16, y[:400])
    >>> ax = plot_level_sweep(search, scoring="accuracy", violation="l2", tol=0.05)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('constraints__l2__bound', 'held-out accuracy (mean over folds)')
    """
    plt = _pyplot()
    results = getattr(search, "cv_results_", None)
    if results is None:
        raise ValueError(
            f"plot_level_sweep needs a fitted search with `cv_results_`; {type(search).__name__} "
            "has none. Call search.fit(X, y) first."
        )
    varying = [
        k[len("param_") :]
        for k in results
        if k.startswith("param_") and len({repr(v) for v in results[k]}) > 1
    ]
    if param is None:
        if len(varying) != 1:
            raise ValueError(
                f"Pass `param=`: the search varies {varying or 'no parameter'}; name the level "
                "to put on the x axis."
            )
        param = varying[0]
    if f"param_{param}" not in results:
        names = sorted(k[len("param_") :] for k in results if k.startswith("param_"))
        raise ValueError(
            f"`param`={param!r} is not a parameter of the search; choose from {names}."
        )
    metric = _scoring_key(search, results, scoring)
    x = np.array(
        [np.nan if v is None or v is np.ma.masked else float(v) for v in results[f"param_{param}"]],
        dtype=float,
    )
    y = np.asarray(results[f"mean_test_{metric}"], dtype=float)
    yerr = np.asarray(results[f"std_test_{metric}"], dtype=float)
    feasible = np.ones(len(x), dtype=bool)
    if violation is not None:
        key = f"mean_test_{violation}"
        if key not in results:
            metrics = _metrics(results)
            raise ValueError(
                f"`violation`={violation!r} is not a metric of the search; choose from {metrics}."
            )
        feasible = np.abs(np.asarray(results[key], dtype=float)) <= tol
    tighter = "higher" if param.endswith("__lower") else "lower"
    selected = getattr(search, "best_index_", None)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
    plot_pareto(
        x,
        y,
        yerr=yerr,
        feasible=feasible,
        tighter=tighter,
        selected=selected,
        ax=ax,
        xlabel=param,
        ylabel=f"held-out {metric} (mean over folds)",
    )
    if violation is not None and feasible.any():
        levels = np.unique(x[~np.isnan(x)])
        ok_levels = np.array([feasible[x == v].all() for v in levels])
        # Shade each run of consecutive levels whose candidates all held, out
        # to the midpoints with the neighbouring levels.
        use_log = _use_log(levels, log_x)
        edges = _midpoints(levels, use_log)
        first = True
        for i, ok in enumerate(ok_levels):
            if ok:
                ax.axvspan(
                    edges[i],
                    edges[i + 1],
                    color="C2",
                    alpha=0.12,
                    lw=0,
                    label="held-out constraint met" if first else None,
                )
                first = False
        ax.legend(fontsize=8)
    if _use_log(x[~np.isnan(x)], log_x):
        ax.set_xscale("log")
    return ax


def _use_log(x, log_x):
    if log_x is not None:
        return bool(log_x)
    x = np.asarray(x, dtype=float)
    return len(x) > 1 and bool(np.all(x > 0)) and x.max() / x.min() >= 20


def _midpoints(levels, use_log):
    t = np.log(levels) if use_log else levels.astype(float)
    if len(t) == 1:
        half = 0.5 if not use_log else np.log(2.0)
        inner = np.array([])
    else:
        half = np.diff(t).min() / 2
        inner = (t[1:] + t[:-1]) / 2
    edges = np.concatenate([[t[0] - half], inner, [t[-1] + half]])
    return np.exp(edges) if use_log else edges
