"""What a fit reports on its outcome: the state kept after a divergence, and its warnings.

When training diverges, ``fit`` returns the last kept state whose outputs on
the training data are finite and says so (``RuntimeWarning``), or fails when
there is none. When the returned model misses a level on the training data
(``feasible_`` is False), a ``ConvergenceWarning`` names the constraints and
the epoch returned; when a sampling-error margin leaves no room below a
level, a ``UserWarning`` says that the level cannot be guaranteed on unseen
data. Each function takes ``stacklevel`` as :func:`warnings.warn` does,
counted from its caller.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._training import Progress
from .constraints._feasibility import describe

__all__ = ["keep_finite_state", "warn_infeasible", "warn_unreachable_margins"]


def _levels_text(levels):
    return ", ".join(f"{k}={v:.6g}" for k, v in levels.items())


def keep_finite_state(net, guard, best, X, exc, *, stacklevel=2):
    """After a divergence, restore a kept state whose outputs on ``X`` are finite.

    The diverged epoch's record is dropped (the history ends where the kept
    state does) and the progress bar closed; the states tried are the
    divergence guard's last finite ones, then the best iterate's candidates.

    Parameters
    ----------
    net : ConstrainedNet
    guard : DivergenceGuard
    best : BestIterate
    X : torch.Tensor or scipy sparse matrix
        The training inputs.
    exc : TrainingDiverged
        The divergence; its message opens the warning (or the error).
    stacklevel : int, default=2
        As for :func:`warnings.warn`, counted from the caller.

    Returns
    -------
    int
        The epoch of the state restored (0: the initial state).

    Raises
    ------
    RuntimeError
        When no kept state has finite outputs.
    """
    del net.history[-1]
    for _, cb in net.callbacks_:
        if isinstance(cb, Progress):
            cb.on_train_end(net)
    extra = [c["snapshot"] for c in best.state_dict()["candidates"]]
    kept = guard.restore_finite(net, X, extra)
    if kept is None:
        raise RuntimeError(
            f"{exc} Even so the module's outputs are not finite; no usable model was "
            "found. Lower `lr` or standardise the inputs."
        ) from None
    what = "the initial state" if kept == 0 else f"the state of epoch {kept}"
    warnings.warn(f"{exc} The fitted model is {what} (best_epoch_); its outputs on the "
                  "training data are finite.", RuntimeWarning, stacklevel=stacklevel + 1)
    return kept


def warn_infeasible(constraints, verdict, best_epoch, reason=None, *, method=None, stacklevel=2):
    """Warn that the returned model does not satisfy every constraint on the training data.

    Parameters
    ----------
    constraints : dict of str to Constraint
    verdict : Verdict
        The feasibility verdict of the returned model on the training data.
    best_epoch : int
        The epoch of the returned iterate.
    reason : str or None, default=None
        Why that iterate was chosen.
    method : str or None, default=None
        The method's short name: the advice names ``method='auto'`` only
        to users of another method.
    stacklevel : int, default=2
        As for :func:`warnings.warn`, counted from the caller.
    """
    reason = f" {reason}" if reason else ""
    advice = "Train longer (max_epochs), "
    advice += "or relax" if method == "auto" else "use method='auto', or relax"
    warnings.warn(
        "The fitted model does not satisfy every constraint on the training data ("
        f"{describe(constraints, verdict)}). feasible_ is False. The returned model "
        f"is the iterate of epoch {best_epoch} (best_epoch_):{reason}. {advice} the level "
        "if it cannot be reached.",
        ConvergenceWarning, stacklevel=stacklevel + 1)


def warn_unreachable_margins(history, constraints, *, stacklevel=2):
    """Warn when a margin leaves no room below a level: no guarantee can be given.

    Parameters
    ----------
    history : list of dict
        The fit's epoch records; the last one's ``margins`` are read.
    constraints : dict of str to Constraint
    stacklevel : int, default=2
        As for :func:`warnings.warn`, counted from the caller.
    """
    margins = (history[-1].get("margins") if history else None) or {}
    for name, margin in margins.items():
        if margin is None or not len(margin):
            continue
        levels = constraints[name].levels()
        largest = float(np.max(margin))
        room = [v for k, v in levels.items() if k in ("bound", "upper")]
        room += [1.0 - v for k, v in levels.items() if k == "lower"]
        if room and largest >= min(room):
            warnings.warn(
                f"margin: the sampling-error margin of {name!r} ({largest:.3g}) is at least "
                f"its room below the level ({_levels_text(levels)}): with groups "
                "this small the level cannot be guaranteed on unseen data at 95% confidence. "
                "Collect more data for the smallest groups, relax the level, or use "
                "margin=None.", UserWarning, stacklevel=stacklevel + 1)
