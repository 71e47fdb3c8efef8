"""The skorch side: a ``NeuralNet`` whose train step is the constrained step.

The estimator builds one :class:`ConstrainedNet` per fit. Everything specific
to constrained training enters through skorch's extension points: the
``train_step`` override (documented by skorch for custom steps), a tensor
loader passed as ``iterator_train``, and ``run_single_epoch``, which ends
each training epoch with the method's outer iteration and writes the
epoch's record into ``net.history``. The callbacks of
:mod:`~sklearn_constrained._training._callbacks` read that record (and only
that) to guard against divergence, keep the best iterate, stop and report.
"""

import time

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback

from .._distributed import allreduce_mean_, synchronize_states
from ..constraints import BatchContext
from ._epoch import EpochSums, end_outer_iteration, epoch_states, summarize
from ._step import constrained_step, evaluate_states

__all__ = ["ConstrainedNet", "TrainingDiverged"]


class TrainingDiverged(RuntimeError):
    """Raised inside the fit loop when the loss, a weight or a multiplier is not finite."""


def _overrides(callback, hook):
    return getattr(type(callback), hook, None) is not getattr(Callback, hook)


class ConstrainedNet(NeuralNet):
    """A skorch ``NeuralNet`` trained by a constrained method.

    Call :meth:`set_problem` (the bound method and the constraint
    evaluators) after ``initialize()``, then ``partial_fit``. ``y`` is a dict
    with the target under ``"y"`` and, when given, integer group codes under
    ``"groups"`` and sample weights under ``"sample_weight"``.
    """

    def __init__(
        self,
        module,
        criterion,
        *args,
        n_groups=0,
        target_scale=1.0,
        distributed=False,
        classifier=False,
        **kw,
    ):
        self.n_groups = n_groups
        self.target_scale = target_scale
        self.distributed = distributed
        self.classifier = classifier
        super().__init__(module, criterion, *args, **kw)

    def predict_proba(self, X):
        """Class probabilities (classifiers) or raw outputs, as skorch's nets give them.

        skorch's callbacks (``EpochScoring`` with a scikit-learn scorer) call
        the net's ``predict``/``predict_proba``; the estimator's own methods
        map outputs back to labels and target units.
        """
        out = super().predict_proba(X)
        if not self.classifier:
            return out
        out = out - out.max(axis=1, keepdims=True)
        np.exp(out, out=out)
        return out / out.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Class indices (classifiers, as the encoded training target) or raw outputs."""
        out = self.predict_proba(X)
        return out.argmax(axis=1) if self.classifier else out

    def get_default_callbacks(self):
        # skorch's defaults (EpochTimer, PrintLog, train-loss scoring) read
        # `.item()` of every batch loss: a host sync per step. The epoch's
        # record is written by `run_single_epoch` instead.
        return []

    def initialize_criterion(self):
        """The criterion with ``reduction="none"``: the mean is taken here, weighted or not."""
        super().initialize_criterion()
        self.criterion_.reduction = "none"
        return self

    def set_problem(self, method, evaluators, dual_stream=None):
        """The bound method and constraint evaluators of this fit (and a held-out stream)."""
        self.method_ = method
        self.evaluators_ = dict(evaluators)
        self.dual_stream_ = dual_stream
        self.kinds_ = {n: e.kind for n, e in evaluators.items()}
        self.data_names_ = [n for n, e in evaluators.items() if e.requires_data]
        self.step_evaluators_ = (
            self.evaluators_
            if method.needs_weight_states
            else {n: self.evaluators_[n] for n in self.data_names_}
        )
        self.sums_ = EpochSums(self.data_names_)
        self.margin_policy_ = None
        self.objective_synchronized_ = False
        return self

    def populations(self, X, y):
        """The effective populations ``(G, R)`` of every data-dependent constraint on ``(X, y)``.

        With sample weights, Kish's effective size ``(sum w)^2 / sum w^2`` of
        every cell; the populations do not depend on the predictions. Also
        returns the current model's means ``(G, R)`` on these data.
        """
        from ._data import predict_chunks

        device = torch.device(self.device)
        dtype = next((p.dtype for p in self.module_.parameters()), torch.float32)
        with torch.no_grad():
            logits = torch.cat(predict_chunks(self.module_, X, device, dtype=dtype))
            y = {k: v.to(device) for k, v in y.items()}
            batch = self.batch_context(logits, y)
            squared = None
            if "sample_weight" in y:
                squared_weights = {**y, "sample_weight": y["sample_weight"] ** 2}
                squared = self.batch_context(logits, squared_weights)
            out, means = {}, {}
            for name in self.data_names_:
                e = self.evaluators_[name]
                first = e.fresh()
                first.evaluate(batch)
                num, den = (t.double().cpu().numpy() for t in first.counts())
                means[name] = num / np.maximum(den, 1e-12)
                if squared is not None:
                    second = e.fresh()
                    second.evaluate(squared)
                    den2 = second.counts()[1].double().cpu().numpy()
                    den = np.where(den2 > 0, den**2 / np.maximum(den2, 1e-300), 0.0)
                out[name] = den
        return out, means

    def set_margins(self, margin, sizes, new_sizes, means=None, confidence=0.95):
        """Tighten the data-dependent levels: by ``margin`` (a float), or ``"auto"``.

        With ``"auto"`` the margins follow the current rates at every epoch's
        end (starting from ``means``, the initial model's), for data of the
        sizes ``new_sizes`` (see ``margin`` of the estimators).
        """
        self.margin_policy_ = (margin, sizes, new_sizes, confidence)
        for name in self.data_names_:
            e = self.evaluators_[name]
            if margin != "auto":
                e.set_margin(float(margin))
            elif means is not None:
                e.set_margin(e.constraint.margin(means[name], sizes[name], new_sizes[name],
                                                 confidence))
        return self

    def _update_margins(self):
        policy = self.margin_policy_
        if policy is None:
            return None
        margin, sizes, new_sizes, confidence = policy
        out = {}
        for name in self.data_names_:
            e = self.evaluators_[name]
            if margin == "auto" and e.counts() is not None:
                e.set_margin(e.auto_margin(sizes[name], new_sizes[name], confidence))
            m = e.margin_
            out[name] = None if m is None else m.detach().double().cpu().numpy().tolist()
        return out

    def release(self):
        """Drop the references to the fit's method, evaluators and held-out data."""
        self.method_ = self.evaluators_ = self.step_evaluators_ = self.dual_stream_ = None
        self.sums_ = self.train_iterator_ = None  # the fitted estimator keeps no training data
        return self

    # -- the step ---------------------------------------------------------------
    def batch_context(self, y_pred, yi):
        """The :class:`~sklearn_constrained.constraints.BatchContext` of a batch."""
        if isinstance(yi, dict):
            return BatchContext(
                y_pred,
                yi.get("y"),
                yi.get("groups"),
                self.n_groups,
                self.target_scale,
                yi.get("sample_weight"),
            )
        return BatchContext(y_pred, yi, None, 0, self.target_scale)

    def get_iterator(self, dataset, training=False):
        """The iterator of skorch, remembered for training (its batches' ``extras``)."""
        iterator = super().get_iterator(dataset, training=training)
        if training:
            self.train_iterator_ = iterator
        return iterator

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The mean criterion over the batch, weighted by ``sample_weight`` when given.

        ``y_true`` is the target, or a dict of targets with ``"y"`` and
        optionally ``"sample_weight"``.
        """
        weight = None
        if isinstance(y_true, dict):
            weight = y_true.get("sample_weight")
            y_true = y_true["y"]
        losses = self.criterion_(y_pred, y_true)
        if losses.dim() > 1:
            losses = losses.reshape(losses.shape[0], -1).mean(1)
        if weight is None:
            return losses.mean()
        w = weight.to(losses.dtype)
        return (losses * w).sum() / w.sum().clamp_min(1e-12)

    def _observe_held_out(self):
        # The multipliers' estimates come from a held-out batch, predicted as
        # `predict` would (eval mode, no gradients); the gradients still come
        # from the training batch.
        Xd, yd = self.dual_stream_.next()
        self._set_training(False)
        with torch.no_grad():
            batch = self.batch_context(self.infer(Xd), yd)
            for name in self.data_names_:
                self.evaluators_[name].observe(batch)

    def train_step(self, batch, **fit_params):
        """One constrained primal-dual step on a batch."""
        Xi, _ = batch
        yi = self.train_iterator_.current
        if self.dual_stream_ is not None:
            self._observe_held_out()
        if not self.module_.training:
            # skorch sets the mode at every step; walking the module tree costs
            # about a fifth of a small network's step, so only when it changed
            self._set_training(True)
        evaluators = self.step_evaluators_

        first = {}

        def evaluate():
            y_pred = self.infer(Xi, **fit_params)
            first.setdefault("y_pred", y_pred.detach())
            objective = self.get_loss(y_pred, yi, X=Xi, training=True)
            states = evaluate_states(evaluators, self.batch_context(y_pred, yi))
            if self.distributed and self.data_names_:
                # data-parallel: every rank's dual step sees the same statistics
                states = synchronize_states(states, self.data_names_)
            if self.distributed and not self.objective_synchronized_:
                # the first step's objective sets scales (method="auto"): its value is
                # averaged over the ranks, its gradient stays this rank's
                self.objective_synchronized_ = True
                mean = objective.detach().clone()
                allreduce_mean_([mean])
                objective = objective + (mean - objective.detach())
            return objective, states

        out = constrained_step(self.optimizer_, evaluate, self.method_)
        self.sums_.add(out, len(Xi))
        # skorch's callbacks (EpochScoring's caching) read the batch's predictions
        return {"loss": out["loss"], "y_pred": first["y_pred"]}

    # -- the epoch --------------------------------------------------------------
    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """The loop of skorch without its per-batch ``loss.item()``; a training epoch ends here."""
        if iterator is None:
            return
        if training:
            self._begin_epoch()
        notify = self._batch_hooks
        for batch in iterator:
            if notify:
                self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            if notify:
                self.notify("on_batch_end", batch=batch, training=training, **step)
        if training:
            self._end_epoch()

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Note which callbacks need the per-batch notifications (others skip them)."""
        self._batch_hooks = any(
            _overrides(cb, "on_batch_begin") or _overrides(cb, "on_batch_end")
            for _, cb in self.callbacks_
        )

    def _begin_epoch(self):
        self.sums_.reset()
        self._epoch_start = time.perf_counter()
        if len(self.history) > 1 and (
            self.method_.resets_primal_optimizer or isinstance(self.optimizer_, torch.optim.LBFGS)
        ):
            # SAL: each outer iteration starts a fresh subproblem, with the
            # primal optimizer's state reset. L-BFGS (one step per epoch)
            # starts afresh too: the multipliers moved since its last step,
            # so its curvature pairs would mix two different objectives.
            self.initialize_optimizer()

    def _end_epoch(self):
        sums = self.sums_
        if sums.n == 0:
            return
        if self.distributed:
            # the sums and the sample count together: every rank gets the global means
            # (shards of different sizes weigh their batches differently)
            count = torch.tensor([float(sums.n)], dtype=sums.objective.dtype,
                                 device=sums.objective.device)
            tensors = [sums.objective, sums.loss, count]
            tensors += [sums.values[k] for k in sums.data_names]
            tensors += [sums.strict[k] for k in sums.data_names]
            allreduce_mean_(tensors)
            sums.n = float(count)
        objective, loss, states = epoch_states(self.evaluators_, sums)
        record = end_outer_iteration(self.method_, objective, loss, states, self.kinds_)
        margins = self._update_margins()
        if margins is not None:
            record["margins"] = margins
        record["duration"] = time.perf_counter() - self._epoch_start
        for key, value in record.items():
            self.history.record(key, value)

    def initial_record(self, X, y):
        """The violations of the initial model (CV_0 of eq. 18 of the SAL paper).

        Weight constraints at the initial weights; data constraints on the
        whole training data, evaluated on fresh copies so that the running
        estimates are not seeded.
        """
        from ._data import predict_chunks

        weight = {n: e for n, e in self.evaluators_.items() if not e.requires_data}
        with torch.no_grad():
            states = evaluate_states(weight)
            if self.data_names_:
                logits = torch.cat(predict_chunks(self.module_, X, self.device))
                batch = self.batch_context(logits, y)
                for name in self.data_names_:
                    states[name] = self.evaluators_[name].fresh().evaluate(batch)
        zero = torch.zeros((), device=torch.device(self.device))
        record = summarize(zero, zero, states, self.kinds_)
        return {
            "initial_violations": record["violations"],
            "initial_violation_norms": record["violation_norms"],
        }
