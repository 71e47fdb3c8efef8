"""Which iterate to return: the best compromise when no epoch meets every level.

In the spirit of TFCO's ``find_best_candidate_index`` (Cotter, Jiang and
Sridharan 2019, section 5.2): rank the candidates (one per epoch) by their
objective and by their largest violation, and take the candidate whose worse
rank is best. The rule is scale-free (ranks, not values), and it never
returns a candidate that another one beats on both counts: the chosen epoch
is on the Pareto front of (objective, largest violation). An untrained model
(the least violated but with a much worse loss than later epochs) has the
worst objective rank and is returned only when nothing else is better on
both counts.
"""

from typing import NamedTuple

import numpy as np

__all__ = ["CandidateChoice", "find_best_candidate"]


class CandidateChoice(NamedTuple):
    """The chosen candidate.

    Its ``index``, whether it is ``feasible``, and a one-sentence ``reason``
    for a warning or a log.
    """

    index: int
    feasible: bool
    reason: str


def _ranks(x):
    """Competition ranks from 0: how many entries are strictly smaller (ties share a rank)."""
    return np.searchsorted(np.sort(x), x, side="left")


def _fmt(x):
    return f"{x:.4g}"


def find_best_candidate(objectives, violations, *, tol=0.0, epochs=None):
    """The index of the iterate to return, and why.

    1. Candidates with a non-finite objective or violation (a diverged
       epoch) are never chosen unless every candidate is one (then an error).
    2. If some candidates are feasible (largest violation ``<= tol``), the
       one with the lowest objective among them (ties: the smaller
       violation, then the later epoch).
    3. Otherwise each candidate gets its rank by objective and its rank by
       largest violation (0 = best; ties share the better rank), and the
       candidate with the best *worse* of its two ranks is chosen. Ties are
       broken by the larger of its relative objective excess
       ``(f - min f) / |min f|`` and its violation (both dimensionless:
       the violations are already scaled by the level), then by the lower
       objective, the smaller violation and the later epoch.

    Parameters
    ----------
    objectives : array-like of shape (n_candidates,)
        The objective (loss) of each candidate; lower is better.
    violations : array-like of shape (n_candidates, n_constraints) or (n_candidates,)
        Each candidate's violation of each constraint, already divided by the
        constraint's tolerance scale, ``>= 0`` (``0`` when it holds).
    tol : float, default=0.0
        A candidate is feasible when its largest violation is at most ``tol``.
    epochs : array-like of shape (n_candidates,), default=None
        The epoch number of each candidate, for the ``reason`` (default: its
        index).

    Returns
    -------
    CandidateChoice
        ``(index, feasible, reason)``; ``index`` is the position in
        ``objectives``.

    Examples
    --------
    >>> from sklearn_constrained.utils._candidates import find_best_candidate
    >>> objectives = [0.69, 0.35, 0.22, 0.20]
    >>> violations = [0.01, 0.03, 0.04, 0.06]   # no epoch meets the level
    >>> choice = find_best_candidate(objectives, violations)
    >>> choice.index, choice.feasible
    (2, False)
    >>> find_best_candidate(objectives, [0.0, 0.0, 0.2, 0.0]).index
    3
    """
    f = np.asarray(objectives, dtype=np.float64)
    v = np.asarray(violations, dtype=np.float64)
    if f.ndim != 1 or f.size == 0:
        raise ValueError(
            f"`objectives` must be a non-empty 1-d array (one per candidate); got shape {f.shape}."
        )
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2 or v.shape[0] != f.shape[0]:
        raise ValueError(
            "`violations` must have shape (n_candidates, n_constraints) with n_candidates = "
            f"{f.shape[0]}; got shape {np.shape(violations)}."
        )
    if np.any(v < 0):
        raise ValueError(
            "`violations` must be >= 0 (the magnitude of each violation, 0 when a constraint "
            "holds); got a negative entry."
        )
    tol = float(tol)
    if not tol >= 0:
        raise ValueError(f"`tol` must be >= 0; got {tol!r}.")
    n = f.shape[0]
    worst = v.max(axis=1) if v.shape[1] else np.zeros(n)
    valid = np.isfinite(f) & np.isfinite(worst)
    if not valid.any():
        raise ValueError(
            "Every candidate has a non-finite objective or violation (the training diverged); "
            "lower the learning rate or the dual step size."
        )
    later = np.arange(n)
    names = later if epochs is None else list(epochs)
    if len(names) != n:
        raise ValueError(f"`epochs` must have {n} entries (one per candidate); got {len(names)}.")
    feasible = valid & (worst <= tol)
    if feasible.any():
        idx = np.flatnonzero(feasible)
        i = int(idx[np.lexsort((-later[idx], worst[idx], f[idx]))[0]])
        return CandidateChoice(
            i,
            True,
            f"epoch {names[i]} has the lowest objective ({_fmt(f[i])}) of the {idx.size} epoch(s) "
            "that meet every level",
        )
    big = np.inf
    f_v, w_v = np.where(valid, f, big), np.where(valid, worst, big)
    rank_f, rank_w = _ranks(f_v), _ranks(w_v)
    score = np.where(valid, np.maximum(rank_f, rank_w), n)
    f_min = f[valid].min()
    excess = (f_v - f_min) / max(abs(f_min), np.finfo(float).tiny)
    tie = np.maximum(excess, w_v)
    i = int(np.lexsort((-later, w_v, f_v, tie, score))[0])
    j = int(np.flatnonzero(valid)[np.argmin(worst[valid])])
    n_valid = int(valid.sum())
    reason = (
        f"no epoch meets every level; epoch {names[i]} balances the objective ({_fmt(f[i])}, rank "
        f"{rank_f[i] + 1} of {n_valid}) and the largest scaled violation ({_fmt(worst[i])}, "
        f"rank {rank_w[i] + 1} of {n_valid})"
    )
    if j != i:
        reason += f"; the least violated epoch, {names[j]}, has violation {_fmt(worst[j])} at "
        reason += f"objective {_fmt(f[j])}"
    return CandidateChoice(i, False, reason)
