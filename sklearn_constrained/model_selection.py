"""Model selection under constraints: pick the best candidate that is feasible.

A grid search over constraint levels (``constraints__dp__bound``) or method
parameters scores every candidate on held-out folds. With a constraint scorer
(:func:`sklearn_constrained.metrics.make_constraint_scorer`) next to the
usual score, :func:`best_feasible` gives ``GridSearchCV`` a ``refit`` rule:
the best score among the candidates whose held-out constraints hold.
"""

import warnings

import numpy as np
from skorch.callbacks import Callback

__all__ = ["NoFeasibleCandidateWarning", "best_feasible"]

_FALLBACKS = ("least_violation", "best_score", "raise")


class NoFeasibleCandidateWarning(UserWarning):
    """No candidate satisfies its constraints on the held-out folds."""


def best_feasible(score="score", constraints=None, *, tol=0.0, fallback="least_violation"):
    """A ``refit`` callable for ``GridSearchCV``: the best feasible candidate.

    Among the candidates whose mean held-out violation of every constraint
    scorer is at most ``tol``, it returns the index of the one with the
    highest mean held-out ``score``.

    Parameters
    ----------
    score : str, default="score"
        The key of the metric to maximise in the search's ``scoring`` dict
        (``cv_results_["mean_test_<score>"]``).
    constraints : str, list of str or None, default=None
        The keys of the constraint scorers (made by
        :func:`~sklearn_constrained.metrics.make_constraint_scorer`, which
        report a violation negated: ``0`` when satisfied). ``None`` uses
        every metric of ``scoring`` other than ``score``.
    tol : float, default=0.0
        A candidate is feasible when its mean held-out violation of each
        constraint is at most ``tol``.
    fallback : {"least_violation", "best_score", "raise"}, default="least_violation"
        What to do when no candidate is feasible: take the one with the
        smallest total mean violation (ties broken by score), the best score
        regardless of the constraints, or raise ``ValueError``. The first two
        emit a ``NoFeasibleCandidateWarning``.

    Returns
    -------
    callable
        ``refit(cv_results) -> int``, to pass as ``GridSearchCV(refit=...)``.
        ``best_score_`` is then not defined by scikit-learn; read
        ``cv_results_["mean_test_<score>"][best_index_]``.

    Examples
    --------
    >>> from sklearn_constrained.model_selection import best_feasible
    >>> refit = best_feasible("accuracy", ["dp"])
    >>> cv_results = {"mean_test_accuracy": [0.85, 0.83, 0.80],
    ...               "mean_test_dp": [-0.04, 0.0, 0.0]}
    >>> int(refit(cv_results))
    1
    """
    if fallback not in _FALLBACKS:
        raise ValueError(
            f"`fallback` must be one of {', '.join(map(repr, _FALLBACKS))}; got {fallback!r}."
        )
    if not isinstance(score, str):
        raise TypeError(f"`score` must be the name of a metric in `scoring`; got {score!r}.")
    if isinstance(constraints, str):
        constraints = [constraints]
    constraints = None if constraints is None else list(constraints)
    tol = float(tol)
    if not tol >= 0:
        raise ValueError(f"`tol` must be >= 0; got {tol!r}.")

    def refit(cv_results):
        key = f"mean_test_{score}"
        if key not in cv_results:
            metrics = sorted(
                k[len("mean_test_") :] for k in cv_results if k.startswith("mean_test_")
            )
            raise ValueError(
                f"best_feasible: no metric {score!r} in the search results (metrics: {metrics}). "
                "Pass scoring={'" + score + "': ..., '<constraint>': make_constraint_scorer(...)} "
                "to the search."
            )
        names = constraints
        if names is None:
            names = [
                k[len("mean_test_") :]
                for k in cv_results
                if k.startswith("mean_test_") and k != key
            ]
        missing = [n for n in names if f"mean_test_{n}" not in cv_results]
        if missing:
            raise ValueError(
                f"best_feasible: no constraint scorer(s) {missing} in the search results."
            )
        scores = np.asarray(cv_results[key], dtype=np.float64)
        scores = np.where(np.isnan(scores), -np.inf, scores)
        if names:
            # constraint scorers report -violation (greater is better)
            viol = np.stack(
                [
                    np.maximum(-np.asarray(cv_results[f"mean_test_{n}"], dtype=np.float64), 0.0)
                    for n in names
                ],
                axis=1,
            )
            viol = np.where(np.isnan(viol), np.inf, viol)
        else:
            viol = np.zeros((len(scores), 1))
        feasible = np.all(viol <= tol, axis=1)
        if feasible.any():
            return int(np.flatnonzero(feasible)[np.argmax(scores[feasible])])
        if fallback == "raise":
            raise ValueError(
                f"best_feasible: no candidate satisfies {names} on the held-out folds "
                f"(smallest total violation {viol.sum(axis=1).min():.4g}). Relax the levels, "
                "train longer, or use fallback='least_violation'."
            )
        if fallback == "best_score":
            idx = int(np.argmax(scores))
            how = "the best score regardless of the constraints"
        else:
            total = viol.sum(axis=1)
            candidates = np.flatnonzero(total == total.min())
            idx = int(candidates[np.argmax(scores[candidates])])
            how = "the candidate with the smallest total violation"
        warnings.warn(
            f"best_feasible: no candidate satisfies {names} on the held-out folds; refitting "
            f"{how} (index {idx}).",
            NoFeasibleCandidateWarning,
            stacklevel=2,
        )
        return idx

    refit.__name__ = "best_feasible_refit"
    return refit


class _BestFeasibleIterate(Callback):
    """Keep the best feasible iterate of a fit with data-dependent constraints.

    A skorch callback added by the estimators when a constraint depends on
    the data (rates, fairness, group losses). Once per epoch, at
    its end (``checks_per_epoch``, evenly spaced over its batches; at most about
    ``max_checks`` times per fit, so that a long full-batch fit does not
    pay an evaluation per step; and always at the end of training) it
    evaluates the current iterate on the *selection
    data* (the ``dual_split`` part when there is one, else the training
    data), with the module in evaluation mode as ``predict`` sees it: the
    true value of every constraint and the training loss. The fit then
    returns, with its multipliers, the checked iterate whose constraints all
    hold (violation at most ``tol * max(1, |level|)``, the rule of
    ``feasible_``) with the smallest loss; when none is feasible it keeps
    the last iterate. Each ``history_`` record gets a ``"selection"`` entry
    (the latest check up to the epoch's end: its ``step``, ``loss``,
    ``feasible``, the ``constraints``' values and their ``violations``) and the record of the epoch that holds the chosen iterate
    ``"selected": True`` (with ``"selected_step"``, its batch count).

    Stochastic gradient descent-ascent oscillates around the constrained
    optimum and mini-batch noise moves the predictions of borderline
    samples, so the last iterate of a mini-batch fit can miss a tight rate
    bound; the best feasible iterate is deterministic and feasible on the
    selection data whenever one checked iterate was.
    """

    def __init__(
        self,
        tol=1e-3,
        batches_per_epoch=1,
        checks_per_epoch=1,
        max_epochs=1,
        max_checks=500,
        chunk=8192,
    ):
        self.tol = tol
        self.batches_per_epoch = batches_per_epoch
        self.checks_per_epoch = checks_per_epoch
        self.max_epochs = max_epochs
        self.max_checks = max_checks
        self.chunk = chunk

    def set_data(self, X, y):
        """The selection data: a tensor ``X`` and a dict of target tensors."""
        self.X_, self.y_ = X, y
        return self

    def initialize(self):
        self.best_ = None
        self._step = 0
        self._last_step = -1
        self._last = None
        per_epoch = max(1, int(self.batches_per_epoch))
        total = per_epoch * max(1, int(self.max_epochs))
        self._every = max(
            1,
            per_epoch // max(1, int(self.checks_per_epoch)),
            -(-total // max(1, int(self.max_checks))),
        )
        return self

    def _evaluate(self, net):
        import copy

        import torch

        from ._engine import evaluate_bound
        from ._net import predict_chunks

        bound = net.bound_constraints_
        device = net.device
        logits = torch.cat(predict_chunks(net.module_, self.X_, device, self.chunk))
        with torch.no_grad():
            y = {k: v.to(device) for k, v in self.y_.items()}
            loss = net.get_loss(logits, y["y"], training=False).detach().reshape(1)
            ctx = net._context(logits, y)
            weight = evaluate_bound({n: b for n, b in bound.items() if not b.requires_data})
            # fresh estimates from this evaluation alone (running counts untouched)
            data = {
                n: (b.fresh_copy() if hasattr(b, "fresh_copy") else copy.deepcopy(b))
                for n, b in bound.items()
                if b.requires_data
            }
            evals = {**weight, **evaluate_bound(data, ctx)}
            worst, values = [], []
            for name, e in evals.items():
                d = e.defect.detach()
                viol = torch.relu(d) if bound[name].kind == "inequality" else d.abs()
                worst.append((viol.max() if viol.numel() else viol.new_zeros(())).reshape(1))
                values.append(e.value.detach().max().reshape(1))
            # one host synchronisation per check
            summary = torch.cat([x.double() for x in [loss] + worst + values]).cpu().numpy()
        m = len(evals)
        worst, values = summary[1 : 1 + m], summary[1 + m :]
        scales = np.array([bound[name].constraint._tolerance_scale() for name in evals])
        return {
            "step": self._step,
            "loss": float(summary[0]),
            "feasible": bool(np.all(worst <= self.tol * scales)),
            "constraints": dict(zip(evals, map(float, values))),
            "violations": dict(zip(evals, map(float, worst))),
        }

    def _check(self, net, epoch):
        from ._net import _clone_state

        result = self._evaluate(net)
        self._last, self._last_step = result, self._step
        loss = result["loss"]
        if (
            result["feasible"]
            and np.isfinite(loss)
            and (self.best_ is None or loss < self.best_["loss"])
        ):
            self.best_ = {
                "loss": loss,
                "epoch": epoch,
                "step": self._step,
                "module": _clone_state(net.module_),
                "method": net.method_._get_state(),
                "result": dict(result),
            }

    @staticmethod
    def _records(net):
        monitor = dict(net.callbacks_).get("constraint_monitor")
        return None if monitor is None else monitor.records

    def on_batch_end(self, net, training=True, **kwargs):
        if not training:
            return
        self._step += 1
        if self._step % self._every == 0:
            # before the epoch's record exists: this is epoch len(records) + 1
            records = self._records(net)
            self._check(net, epoch=(len(records) if records is not None else 0) + 1)

    def on_epoch_end(self, net, **kwargs):
        records = self._records(net)
        if records and self._last is not None:
            records[-1]["selection"] = dict(self._last)

    def on_train_end(self, net, **kwargs):
        records = self._records(net)
        if records and self._last_step != self._step:
            self._check(net, epoch=len(records))  # the last iterate is a candidate too
            records[-1]["selection"] = dict(self._last)
        self.X_ = self.y_ = None  # the fitted estimator keeps no copy of the data
        if self.best_ is None:
            return
        net.module_.load_state_dict(self.best_["module"])
        net.method_._set_state(self.best_["method"])
        records = self._records(net)
        if records and 1 <= self.best_["epoch"] <= len(records):
            records[self.best_["epoch"] - 1]["selected"] = True
            records[self.best_["epoch"] - 1]["selected_step"] = self.best_["step"]
