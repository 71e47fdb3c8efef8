"""The iterates a fit keeps: snapshots, the divergence guard and the best iterate.

A snapshot (:func:`take_snapshot`) is everything that defines an iterate:
the module's weights, the method's state and the evaluators' running
estimates. Two callbacks keep snapshots and restore one:

- :class:`DivergenceGuard` keeps the last finite epoch's (and the one
  before it) and restores it when an epoch's record or weights are not
  finite, raising :class:`~._net.TrainingDiverged`;
- :class:`BestIterate` keeps the candidates for the returned model and, at
  the end of training, restores the chosen one.

Their state is what a warm start continues (see
:mod:`sklearn_constrained._checkpoint`).
"""

import copy

import numpy as np
import torch
from skorch.callbacks import Callback

from ..constraints._feasibility import judge
from ..utils._candidates import find_best_candidate
from ._data import predict_chunks
from ._net import TrainingDiverged
from ._step import all_finite

__all__ = ["BestIterate", "DivergenceGuard", "restore_snapshot", "take_snapshot"]


def clone_state(module):
    """A detached copy of a module's ``state_dict`` (plain tensor clones)."""
    return {
        k: v.detach().clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v)
        for k, v in module.state_dict().items()
    }


def take_snapshot(net, epoch):
    """Everything that defines the current iterate: weights, method and running estimates."""
    return {
        "epoch": int(epoch),
        "module": clone_state(net.module_),
        "method": net.method_.state_dict(),
        "evaluators": {n: e.state_dict() for n, e in net.evaluators_.items()},
    }


def restore_snapshot(net, snapshot):
    """Load a :func:`take_snapshot` into the net's module, method and evaluators."""
    net.module_.load_state_dict(snapshot["module"])
    net.method_.load_state_dict(snapshot["method"])
    for name, state in snapshot["evaluators"].items():
        net.evaluators_[name].load_state_dict(state)


def _finite_values(row):
    values = [row["objective"], row["loss"]]
    for key in ("constraints", "multipliers"):
        for v in row.get(key, {}).values():
            values.extend(np.ravel(v))
    return bool(np.all(np.isfinite(np.asarray(values, dtype=np.float64))))


class DivergenceGuard(Callback):
    """Stop a diverging fit and keep its last finite state.

    At every epoch's end the record (objective, loss, constraint values,
    multipliers) and the weights must be finite; otherwise the weights, the
    method's state and the running estimates return to those of the last
    finite epoch and :class:`TrainingDiverged` is raised.
    """

    def initialize(self):
        self.snapshot_ = None
        self.previous_ = None
        return self

    def on_train_begin(self, net, **kwargs):
        self.snapshot_ = take_snapshot(net, len(net.history))
        self.previous_ = None

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        if "objective" not in row:
            return
        weights = [p.detach() for p in net.module_.parameters()]
        if _finite_values(row) and all_finite(weights):
            self.previous_, self.snapshot_ = self.snapshot_, take_snapshot(net, row["epoch"])
            return
        restore_snapshot(net, self.snapshot_)
        raise TrainingDiverged(
            f"training diverged at epoch {row['epoch']}: the loss, a weight or a multiplier "
            "became NaN/inf. The weights and multipliers of the last finite epoch were kept. "
            "Lower `lr` or standardise the inputs (with a hand-set dual step: use method='auto')."
        )

    def restore_finite(self, net, X, extra=()):
        """After a divergence: a kept state whose outputs on ``X`` are finite.

        Tries the last finite epoch, the one before it and ``extra``
        snapshots; returns the epoch of the state restored, or ``None``.
        """
        for snapshot in [self.snapshot_, self.previous_, *extra]:
            if snapshot is None:
                continue
            restore_snapshot(net, snapshot)
            outs = predict_chunks(net.module_, X, torch.device(net.device))
            if all_finite(outs):
                return snapshot["epoch"]
        return None


class BestIterate(Callback):
    """Choose and restore the returned iterate at the end of training.

    Each epoch is judged on its ``selection`` entry when there is one (the
    objective and true constraint values of :class:`IterateCheck`), else on
    the record itself (exact weight-constraint values; the epoch's mean
    loss). The returned iterate is:

    - with ``prefer_last`` (weight constraints only, no validation part):
      the last epoch when it is feasible;
    - else the feasible epoch with the smallest objective;
    - when no epoch is feasible, a compromise: among the epochs kept (those
      not dominated in objective and violation) the one whose worse rank by
      objective and by violation is the best (the rule of TFCO's
      ``find_best_candidate_index``), so an untrained or far worse model is
      not returned for a slightly smaller violation.

    Parameters
    ----------
    constraints : dict of str to Constraint
    tol : float
    prefer_last : bool, default=True
    max_candidates : int, default=16
        At most this many infeasible epochs are kept as snapshots.
    """

    def __init__(self, constraints, tol, prefer_last=True, max_candidates=16):
        self.constraints = constraints
        self.tol = tol
        self.prefer_last = prefer_last
        self.max_candidates = max_candidates

    def initialize(self):
        self.best_feasible_ = None
        self.candidates_ = []
        self.chosen_ = None
        self.reason_ = None
        return self

    def _judge(self, row):
        sel = row.get("selection")
        if sel is not None:
            violations = sel["violations"]
            objective = sel["objective"]
            values = sel["constraints"]
        else:
            violations = row.get("largest_violations", {})
            objective = row["objective"]
            values = row.get("constraints", {})
        verdict = judge(self.constraints, values, violations, self.tol)
        return objective, verdict

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        if "objective" not in row:
            return
        objective, verdict = self._judge(row)
        if not np.isfinite(objective):
            return
        epoch = row["epoch"]
        if verdict.feasible:
            if self.prefer_last and not self.constraints:
                return  # every epoch is feasible: the last one is returned, keep no copies
            if self.best_feasible_ is None or objective < self.best_feasible_["objective"]:
                sel = row.get("selection")
                self.best_feasible_ = {"objective": objective, "score": 0.0,
                                       "snapshot": take_snapshot(net, epoch),
                                       "data": sel["data"] if sel is not None else "training"}
            return
        if self.best_feasible_ is not None:
            return  # a feasible epoch exists: infeasible candidates are no longer needed
        kept = [c for c in self.candidates_
                if not (objective <= c["objective"] and verdict.score <= c["score"])]
        if any(c["objective"] <= objective and c["score"] <= verdict.score for c in kept):
            self.candidates_ = kept
            return
        kept.append({"objective": objective, "score": verdict.score,
                     "snapshot": take_snapshot(net, epoch)})
        if len(kept) > self.max_candidates:
            kept.pop(int(np.argmax([c["objective"] for c in kept])))
        self.candidates_ = kept

    def on_train_end(self, net, **kwargs):
        if not len(net.history) or "objective" not in net.history[-1]:
            return
        last = net.history[-1]
        _, verdict = self._judge(last)
        if self.prefer_last and verdict.feasible:
            chosen, self.reason_ = None, "the last epoch (feasible)"
        elif self.best_feasible_ is not None:
            chosen = self.best_feasible_
            data = chosen.get("data", "training")
            self.reason_ = (
                "the feasible epoch with the lowest objective" if data == "training" else
                f"the epoch that meets every level on the {data} part, with the lowest "
                "objective there"
            )
        elif self.candidates_:
            choice = find_best_candidate(
                [c["objective"] for c in self.candidates_],
                np.array([[c["score"]] for c in self.candidates_]),
                epochs=[c["snapshot"]["epoch"] for c in self.candidates_],
            )
            chosen = self.candidates_[choice.index]
            self.reason_ = choice.reason
        else:
            chosen, self.reason_ = None, "the last epoch"
        epoch = last["epoch"]
        if chosen is not None and chosen["snapshot"]["epoch"] != epoch:
            restore_snapshot(net, chosen["snapshot"])
            epoch = chosen["snapshot"]["epoch"]
        self.chosen_ = epoch
        if 1 <= epoch <= len(net.history):
            net.history[epoch - 1]["selected"] = True

    def state_dict(self):
        """The best feasible epoch and the infeasible candidates kept so far (snapshots)."""
        return {"best_feasible": self.best_feasible_, "candidates": list(self.candidates_)}

    def load_state_dict(self, state):
        """Continue with the candidates of a previous fit (``warm_start``)."""
        self.best_feasible_ = state.get("best_feasible")
        self.candidates_ = list(state.get("candidates") or [])
