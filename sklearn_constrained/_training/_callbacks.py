"""The library's skorch callbacks: each reads (and writes) only ``net.history``.

The net ends every training epoch by writing one record into ``net.history``
(objective, loss, each constraint's value, violations and multipliers,
penalty; see :mod:`._net`). In order, the callbacks then:

- :class:`DivergenceGuard` checks that the record and the weights are finite,
  keeps the last finite state and restores it (raising
  :class:`~._net.TrainingDiverged`) otherwise;
- :class:`IterateCheck` evaluates the current iterate as ``predict`` sees it
  on a part of the data (the validation part, or the training data when a
  constraint depends on the data) and records ``selection`` (and, on the
  validation part, ``valid_objective`` and ``valid_constraints``);
- :class:`BestIterate` keeps the candidates for the returned model and, at the
  end, restores the chosen one and marks its record ``selected``;
- :class:`Progress` prints the record (``verbose``);
- the user's callbacks;
- :class:`StopWhenDone` ends the fit when the method's own test passed.
"""

import copy

import numpy as np
import torch
from skorch.callbacks import Callback

from ..constraints._feasibility import judge, tolerance_scale
from ..utils._candidates import find_best_candidate
from ._data import predict_chunks
from ._epoch import summarize
from ._net import TrainingDiverged
from ._step import all_finite, evaluate_states

__all__ = [
    "BestIterate",
    "DivergenceGuard",
    "IterateCheck",
    "Progress",
    "StopWhenDone",
    "restore_snapshot",
    "take_snapshot",
]


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
            "Lower `lr`, standardise the inputs, or use method='auto', which needs no dual step."
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


class IterateCheck(Callback):
    """Evaluate the current iterate on a data part at every epoch's end.

    As ``predict`` sees it (evaluation mode, no gradients): the objective and
    the true value of every constraint, on fresh copies of the data-dependent
    evaluators (the fit's running estimates are untouched), judged by the
    feasibility rule at the user's levels. Writes ``selection`` into the
    epoch's record (``objective``, ``constraints``, ``violations``,
    ``feasible``, ``data``) and, on the validation part, ``valid_objective``
    and ``valid_constraints``. At most about ``max_checks`` epochs are checked
    (evenly spaced; the last one always).

    Parameters
    ----------
    X : torch.Tensor or scipy sparse matrix
    y : dict of str to torch.Tensor
        The targets (``"y"``) and, when given, ``"groups"`` and ``"sample_weight"``.
    constraints : dict of str to Constraint
        The user's constraints (their levels and tolerance scales).
    tol : float
        The relative feasibility tolerance.
    data : {"training", "validation"}
    max_epochs : int
    max_checks : int, default=500
    """

    def __init__(self, X, y, constraints, tol, data="training", max_epochs=1, max_checks=500):
        self.X = X
        self.y = y
        self.constraints = constraints
        self.tol = tol
        self.data = data
        self.max_epochs = max_epochs
        self.max_checks = max_checks

    def initialize(self):
        self.every_ = max(1, -(-int(self.max_epochs) // int(self.max_checks)))
        self.last_checked_ = None
        return self

    def evaluate(self, net):
        """The selection entry of the current iterate."""
        device = torch.device(net.device)
        dtype = next((p.dtype for p in net.module_.parameters()), torch.float32)
        logits = torch.cat(predict_chunks(net.module_, self.X, device, dtype=dtype))
        with torch.no_grad():
            y = {k: v.to(device) for k, v in self.y.items()}
            objective = net.get_loss(logits, y, training=False).detach()
            batch = net.batch_context(logits, y)
            weight = {n: e for n, e in net.evaluators_.items() if not e.requires_data}
            states = evaluate_states(weight)
            for name, e in net.evaluators_.items():
                if e.requires_data:
                    fresh = e.fresh()
                    if self.data == "training":
                        # on the training data, the level the fit is held to (tightened
                        # by the margin, when there is one)
                        fresh.set_margin(e.margin_)
                    states[name] = fresh.evaluate(batch)
            record = summarize(objective, objective, states, net.kinds_)
        verdict = judge(self.constraints, record["constraints"], record["largest_violations"],
                        self.tol)
        return {
            "objective": record["objective"],
            "constraints": record["constraints"],
            "violations": record["largest_violations"],
            "feasible": verdict.feasible,
            "data": self.data,
        }

    def _check(self, net):
        row = net.history[-1]
        entry = self.evaluate(net)
        net.history.record("selection", entry)
        if self.data == "validation":
            net.history.record("valid_objective", entry["objective"])
            net.history.record("valid_constraints", dict(entry["constraints"]))
        self.last_checked_ = row["epoch"]

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        if "objective" in row and row["epoch"] % self.every_ == 0:
            self._check(net)

    def on_train_end(self, net, **kwargs):
        if len(net.history) and self.last_checked_ != net.history[-1]["epoch"]:
            if "objective" in net.history[-1]:
                self._check(net)  # the last iterate is always a candidate
        self.X = self.y = None  # the fitted estimator keeps no copy of the data


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
            if self.best_feasible_ is None or objective < self.best_feasible_["objective"]:
                self.best_feasible_ = {"objective": objective, "score": 0.0,
                                       "snapshot": take_snapshot(net, epoch)}
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
            chosen, self.reason_ = self.best_feasible_, "the feasible epoch with the lowest objective"
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


class Progress(Callback):
    """Print each epoch's record: the objective and every constraint against its level.

    ``verbose=1``: a progress bar and one line per epoch with the objective,
    each constraint's value against its level (``ok`` or ``VIOLATED`` by
    the feasibility rule) and its multiplier (the largest entry of a vector).
    Values of data-dependent constraints are the epoch's running estimates
    (marked ``~``); the ``check`` part, when present, gives the true values
    of the iterate at the epoch's end. ``verbose=2`` also prints every entry
    of the multipliers and the penalty.
    """

    def __init__(self, constraints, tol, verbose=1, max_epochs=None):
        self.constraints = constraints
        self.tol = tol
        self.verbose = verbose
        self.max_epochs = max_epochs

    def initialize(self):
        self.bar_ = None
        return self

    def on_train_begin(self, net, **kwargs):
        from tqdm.auto import tqdm

        self.bar_ = tqdm(total=self.max_epochs, desc="constrained fit", unit="epoch", leave=False)
        if not len(net.history):
            self.bar_.write(self.HEADER)

    #: printed once at the start of a fit: how to read the lines
    HEADER = (
        "Each line: the epoch's mean objective; each constraint's value/level, ok or VIOLATED "
        "(~: a running estimate over the epoch's batches); the check of the model at the "
        "epoch's end as predict sees it (true values); the largest multiplier of each constraint."
    )

    def _constraint(self, name, value, worst, running):
        c = self.constraints[name]
        levels = "/".join(f"{v:.4g}" for v in c.levels().values()) or "0"
        ok = worst <= self.tol * tolerance_scale(c)
        mark = "~" if running else ""
        return f"{name} {mark}{value:.4g}/{levels} {'ok' if ok else 'VIOLATED'}"

    def line(self, row):
        """The printed line of a record."""
        parts = [f"epoch {row['epoch']:>4d}", f"objective {row['objective']:.4f}"]
        sel = row.get("selection")
        if row.get("valid_objective") is not None:
            parts[-1] += f" (valid {row['valid_objective']:.4f})"
        for name, value in row.get("constraints", {}).items():
            running = self.constraints[name].requires_data
            parts.append(self._constraint(name, value, row["largest_violations"][name], running))
        if sel is not None:
            checked = ", ".join(
                self._constraint(n, v, sel["violations"][n], False)
                for n, v in sel["constraints"].items()
                if self.constraints[n].requires_data
            )
            if checked:
                parts.append(f"check on {sel['data']} data: {checked}")
        mults = row.get("multipliers", {})
        if mults:
            fmt = (lambda v: np.array2string(np.ravel(v), precision=3)) if self.verbose >= 2 else (
                lambda v: f"{float(np.max(np.abs(np.ravel(v)))):.3g}"
            )
            parts.append("mult " + " ".join(f"{n} {fmt(v)}" for n, v in mults.items()))
        if self.verbose >= 2 and row.get("penalty") is not None:
            parts.append(f"penalty {row['penalty']}")
        return " | ".join(parts)

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        if "objective" not in row:
            return
        self.bar_.update(1)
        self.bar_.write(self.line(row))

    def on_train_end(self, net, **kwargs):
        if self.bar_ is not None:
            self.bar_.close()
            self.bar_ = None


class StopWhenDone(Callback):
    """End the fit when it is done: the method's own test, or converged and feasible.

    Two tests, read from the epoch's record:

    - the method's own stopping test passed (SAL's ``tol_objective`` /
      ``tol_violation``);
    - ``n_iter_no_change`` (scikit-learn's ``MLPClassifier`` rule): the
      objective (the validation or training check's when there is one, else
      the epoch's mean) has not improved by more than
      ``objective_tol * max(1, |best|)`` for ``n_iter_no_change`` consecutive
      epochs, and the epoch meets every level (within ``tol``).

    skorch's ``partial_fit`` ends the fit loop on ``KeyboardInterrupt``, as
    its ``EarlyStopping`` does; the last record says why (``"stopped"``).

    Parameters
    ----------
    constraints : dict of str to Constraint
    tol : float
        The feasibility tolerance (relative to the levels).
    n_iter_no_change : int or None
        ``None`` turns the second test off.
    objective_tol : float, default=1e-4
        The relative improvement that counts.
    """

    def __init__(self, constraints=None, tol=1e-3, n_iter_no_change=None, objective_tol=1e-4):
        self.constraints = constraints
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.objective_tol = objective_tol

    def initialize(self):
        self.best_ = np.inf
        self.stale_ = 0
        return self

    def _objective(self, row):
        sel = row.get("selection")
        return sel["objective"] if sel is not None else row["objective"]

    def _feasible(self, row):
        sel = row.get("selection")
        if sel is not None:
            return sel["feasible"]
        return judge(self.constraints or {}, row.get("constraints", {}),
                     row.get("largest_violations", {}), self.tol).feasible

    def _update(self, row):
        objective = self._objective(row)
        scale = max(1.0, abs(self.best_)) if np.isfinite(self.best_) else 1.0
        if objective < self.best_ - self.objective_tol * scale:
            self.best_, self.stale_ = objective, 0
        else:
            self.stale_ += 1

    def on_train_begin(self, net, **kwargs):
        # a resumed fit continues the count of its history
        self.initialize()
        for row in net.history:
            if "objective" in row:
                self._update(row)

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        if "objective" not in row:
            return
        if row.get("method_stop"):
            net.history.record("stopped", "the method's stopping test passed")
            raise KeyboardInterrupt
        self._update(row)
        n = self.n_iter_no_change
        if n is not None and self.stale_ >= n and self._feasible(row):
            net.history.record(
                "stopped",
                f"the objective improved by less than objective_tol={self.objective_tol:g} "
                f"(relative) for {n} epochs and every level holds",
            )
            raise KeyboardInterrupt
