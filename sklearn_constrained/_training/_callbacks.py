"""The library's skorch callbacks: each reads (and writes) only ``net.history``.

The net ends every training epoch by writing one record into ``net.history``
(objective, loss, each constraint's value, violations and multipliers,
penalty; see :mod:`._net`). In order, the callbacks then:

- :class:`~._iterates.DivergenceGuard` checks that the record and the
  weights are finite, keeps the last finite state and restores it (raising
  :class:`~._net.TrainingDiverged`) otherwise;
- :class:`IterateCheck` evaluates the current iterate as ``predict`` sees it
  on a part of the data (the validation part, or the training data when a
  constraint depends on the data) and records ``selection`` (and, on the
  validation part, ``valid_objective`` and ``valid_constraints``);
- :class:`~._iterates.BestIterate` keeps the candidates for the returned
  model and, at the end, restores the chosen one and marks its record
  ``selected``;
- :class:`Progress` prints the record (``verbose``);
- the user's callbacks;
- :class:`StopWhenDone` ends the fit when the method's own test passed.

The two that keep and restore snapshots of the iterate, the divergence guard
and the best iterate, live in :mod:`._iterates`; this module has the others.
"""

import numpy as np
import torch
from skorch.callbacks import Callback

from ..constraints._feasibility import judge, tolerance_scale
from ._data import predict_chunks
from ._epoch import summarize
from ._step import evaluate_states

__all__ = ["IterateCheck", "Progress", "StopWhenDone"]


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
    data : {"training", "validation", "dual"}
        The rows of ``X``: the training data, the validation part or the
        dual part (``dual_split``; the level tightened by the margin holds
        there, as on the training data).
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
                    if self.data != "validation":
                        # on the training data or the dual part, the level the fit is
                        # held to (tightened by the margin, when there is one)
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
    - ``n_iter_no_change`` (scikit-learn's ``MLPClassifier`` rule): the best
      objective of the epochs that meet every level (within ``tol``; the
      validation or training check's objective when there is one, else the
      epoch's mean) has not improved by more than
      ``objective_tol * max(1, |best|)`` for ``n_iter_no_change`` consecutive
      epochs, and the current epoch meets every level. Without constraints
      every epoch is feasible: scikit-learn's rule exactly.

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
        # only a feasible epoch can improve: while a constraint is being enforced the
        # objective rises, and a stale count of those epochs would stop the fit at its
        # first feasible epoch; the best feasible objective is also the returned model's
        objective, feasible = self._objective(row), self._feasible(row)
        scale = max(1.0, abs(self.best_)) if np.isfinite(self.best_) else 1.0
        if feasible and objective < self.best_ - self.objective_tol * scale:
            self.best_, self.stale_ = objective, 0
        else:
            self.stale_ += 1
        return feasible

    def on_train_begin(self, net, **kwargs):
        # every fit counts afresh, a warm start too (as MLPClassifier does): its
        # levels may have changed, and the earlier epochs were judged against the old ones
        self.initialize()

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        if "objective" not in row:
            return
        if row.get("method_stop"):
            net.history.record("stopped", "the method's stopping test passed")
            raise KeyboardInterrupt
        feasible = self._update(row)
        n = self.n_iter_no_change
        if n is not None and self.stale_ >= n and feasible:
            net.history.record(
                "stopped",
                f"the objective improved by less than objective_tol={self.objective_tol:g} "
                f"(relative) for {n} epochs and every level holds",
            )
            raise KeyboardInterrupt
