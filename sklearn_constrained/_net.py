"""The skorch side: a NeuralNet whose train step is the constrained step.

The estimator builds one :class:`ConstrainedNet` per fit. Everything specific
to constrained training enters through skorch's extension points: the
``train_step`` override (documented by skorch for custom steps), a tensor
loader passed as ``iterator_train``/``iterator_valid``, and the
:class:`ConstraintMonitor` callback that runs the method's per-epoch logic,
logs the history and guards against divergence.
"""

import copy
import math
import time

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback

from ._distributed import allreduce_mean_, synchronize_evals
from ._engine import all_finite, constrained_step, evaluate_bound
from .constraints import BatchContext

__all__ = [
    "ConstrainedNet",
    "TensorLoader",
    "HeldOutStream",
    "ConstraintMonitor",
    "TrainingDiverged",
]


class TrainingDiverged(RuntimeError):
    """Raised inside the fit loop when the loss or a multiplier is not finite."""


def _as_tensor(a):
    if a is None or isinstance(a, torch.Tensor):
        return a
    return torch.as_tensor(np.asarray(a))


class TensorLoader:
    """Mini-batches by slicing tensors: no per-sample ``__getitem__``/collate.

    Accepts a skorch ``Dataset`` whose ``X`` is an array/tensor and whose
    ``y`` is ``None``, an array/tensor, or a dict of them. On a CUDA device
    the data are moved once, so batches never cross the bus. Shuffling uses
    the given ``torch.Generator`` (CPU), so a seed fixes the order.
    """

    def __init__(
        self,
        dataset,
        batch_size=128,
        shuffle=False,
        generator=None,
        device="cpu",
        drop_last=False,
        rank=0,
        world_size=1,
    ):
        X, y = dataset.X, dataset.y
        device = torch.device(device)
        self.X = _as_tensor(X).to(device)
        if isinstance(y, dict):
            self.y = {k: _as_tensor(v).to(device) for k, v in y.items()}
        elif y is not None:
            self.y = _as_tensor(y).to(device)
        else:
            self.y = None
        self.n = len(self.X)
        self.batch_size = self.n if batch_size in (-1, None) else int(batch_size)
        self.shuffle = shuffle
        self.generator = generator
        self.drop_last = drop_last
        # Data-parallel training: every rank draws the same permutation and
        # takes its slice of each global batch of `world_size * batch_size`.
        self.rank, self.world_size = int(rank), int(world_size)

    def __len__(self):
        step = self.batch_size * self.world_size
        if self.drop_last:
            return self.n // step
        return math.ceil(self.n / step)

    def _take(self, sl):
        if self.y is None:
            return self.X[sl], None
        if isinstance(self.y, dict):
            return self.X[sl], {k: v[sl] for k, v in self.y.items()}
        return self.X[sl], self.y[sl]

    def __iter__(self):
        if self.world_size > 1:
            yield from self._iter_shard()
            return
        bs, n = self.batch_size, self.n
        if self.shuffle and n > bs:
            perm = torch.randperm(n, generator=self.generator).to(self.X.device)
        else:
            perm = None
        stop = n - (n % bs) if self.drop_last else n
        for start in range(0, stop, bs):
            if perm is None:
                yield self._take(slice(start, min(start + bs, n)))
            else:
                yield self._take(perm[start : start + bs])

    def _iter_shard(self):
        bs, n, world, rank = self.batch_size, self.n, self.world_size, self.rank
        step = bs * world
        if self.shuffle:
            perm = torch.randperm(n, generator=self.generator).to(self.X.device)
        else:
            perm = torch.arange(n, device=self.X.device)
        for start in range(0, n, step):
            chunk = perm[start : start + step]
            m = len(chunk)
            if m < step and (self.drop_last or m < world):
                return  # every rank must take part in each step; drop a remainder too small to share
            # full global batches: rank r takes [r*bs, (r+1)*bs); the last one is split evenly
            per = bs if m == step else -(-m // world)
            yield self._take(chunk[rank * per : (rank + 1) * per])


class HeldOutStream:
    """Shuffled batches cycling through a held-out split, one per training step.

    Feeds the running estimates of rate constraints (``observe``) when the
    estimator's ``dual_split`` holds part of the training data out for the
    multipliers. ``batch_size=-1`` (or one at least the split's size) yields
    the whole split every time.
    """

    def __init__(self, X, y, batch_size=-1, generator=None, device="cpu"):
        device = torch.device(device)
        self.X = X.to(device)
        self.y = {k: v.to(device) for k, v in y.items()}
        self.n = len(self.X)
        self.batch_size = self.n if batch_size in (-1, None) else min(int(batch_size), self.n)
        self.generator = generator
        self._perm, self._pos = None, self.n

    def next(self):
        bs, n = self.batch_size, self.n
        if bs >= n:
            return self.X, self.y
        if self._pos + bs > n:
            self._perm = torch.randperm(n, generator=self.generator).to(self.X.device)
            self._pos = 0
        idx = self._perm[self._pos : self._pos + bs]
        self._pos += bs
        return self.X[idx], {k: v[idx] for k, v in self.y.items()}


class _EpochStats:
    """Sums kept on the device during an epoch; read once at its end."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.n = 0
        self.objective = None
        self.loss = None
        self.values = {}
        self.defects = {}

    @staticmethod
    def _add(acc, x, weight):
        # one in-place operation per batch (the first one allocates)
        return x * weight if acc is None else acc.add_(x, alpha=weight)

    def add(self, out, bs, data_names=()):
        # Weight constraints are evaluated once at the epoch's end; only the
        # data-dependent ones are averaged over the batches.
        self.n += bs
        self.objective = self._add(self.objective, out["objective"], bs)
        self.loss = self._add(self.loss, out["loss"], bs)
        evals = out["evals"]
        for name in data_names:
            e = evals[name]
            self.values[name] = self._add(self.values.get(name), e.value.detach(), bs)
            self.defects[name] = self._add(self.defects.get(name), e.defect.detach(), bs)

    def synchronize_(self):
        """Average the epoch's sums over the ranks (one collective per epoch)."""
        names = sorted(self.values)
        n = torch.tensor(float(self.n), dtype=torch.float64, device=self.objective.device)
        tensors = (
            [self.objective, self.loss, n]
            + [self.values[k] for k in names]
            + [self.defects[k] for k in names]
        )
        allreduce_mean_(tensors)
        self.n = float(n)


class ConstrainedNet(NeuralNet):
    """A skorch ``NeuralNet`` trained by a constrained method.

    Set ``method_`` (a set-up :class:`~sklearn_constrained.methods.ConstrainedMethod`)
    and ``bound_constraints_`` after ``initialize()``, then call
    ``partial_fit``. ``y`` is a dict with the target under ``"y"`` and, for
    group constraints, integer codes under ``"groups"``.
    """

    def __init__(
        self, module, criterion, *args, n_groups=0, target_scale=1.0, distributed=False, **kwargs
    ):
        self.n_groups = n_groups
        self.target_scale = target_scale
        self.distributed = distributed
        super().__init__(module, criterion, *args, **kwargs)

    def get_default_callbacks(self):
        # skorch's defaults (EpochTimer, PrintLog, train-loss scoring) read
        # `.item()` of every batch loss: a host sync per step. The
        # ConstraintMonitor records per-epoch figures instead.
        return []

    def _context(self, y_pred, yi):
        if isinstance(yi, dict):
            return BatchContext(
                y_pred, yi.get("y"), yi.get("groups"), self.n_groups, self.target_scale
            )
        return BatchContext(y_pred, yi, None, 0, self.target_scale)

    def _observe_held_out(self, stream):
        # The multipliers' estimates come from a held-out batch, predicted as
        # `predict` would (eval mode, no gradients); the gradients still come
        # from the training batch.
        Xd, yd = stream.next()
        self._set_training(False)
        with torch.no_grad():
            ctx = self._context(self.infer(Xd), yd)
            for b in self.bound_constraints_.values():
                if getattr(b, "external_dual", False):
                    b.observe(ctx)

    def train_step(self, batch, **fit_params):
        Xi, yi = batch
        if getattr(self, "dual_stream_", None) is not None:
            self._observe_held_out(self.dual_stream_)
        self._set_training(True)
        target = yi["y"] if isinstance(yi, dict) else yi

        bound = self.bound_constraints_
        if not self.method_._needs_step_evals:  # e.g. S-ADMM: data constraints only
            bound = {n: b for n, b in bound.items() if b.requires_data}

        def evaluate():
            y_pred = self.infer(Xi, **fit_params)
            objective = self.get_loss(y_pred, target, X=Xi, training=True)
            evals = evaluate_bound(bound, self._context(y_pred, yi)) if bound else {}
            if self.sync_names_:
                # data-parallel: every rank's dual step sees the same statistics
                evals = synchronize_evals(evals, self.sync_names_)
            return objective, evals

        out = constrained_step(self.optimizer_, evaluate, self.method_)
        self.epoch_stats_.add(out, len(Xi), self.data_constraint_names_)
        return {"loss": out["loss"], "y_pred": None}

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        # Same loop as skorch's, without its per-batch `loss.item()`.
        if iterator is None:
            return
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            self.notify("on_batch_end", batch=batch, training=training, **step)


def predict_chunks(module, X, device, chunk=8192, dtype=None):
    """The module's outputs on the rows of ``X`` (a tensor or an array),
    ``chunk`` rows at a time, in evaluation mode and without gradients, as a
    list of tensors on ``device``; the module's training mode is restored.
    """
    was_training = module.training
    module.train(False)
    try:
        with torch.no_grad():
            return [
                module(torch.as_tensor(X[i : i + chunk], dtype=dtype).to(device))
                for i in range(0, len(X), chunk)
            ]
    finally:
        module.train(was_training)


def _clone_state(module):
    """A detached copy of a module's ``state_dict`` (plain tensor clones: several
    times cheaper than ``copy.deepcopy`` of the dict).
    """
    return {
        k: v.detach().clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v)
        for k, v in module.state_dict().items()
    }


def _long_norms(t):
    """For a violation vector that the history truncates to its largest
    magnitude: its 1- and 2-norms (``{"1": ..., "2": ...}``), so that
    :func:`~sklearn_constrained.metrics.constraint_violation_ratio` stays
    exact for ``p`` in {1, 2, inf}; ``None`` for a short vector.
    """
    if t.numel() <= HISTORY_MAX_ENTRIES:
        return None
    flat = t.detach().double().reshape(-1).abs()
    norms = torch.stack([flat.sum(), flat.square().sum().sqrt()]).cpu().tolist()
    return {"1": norms[0], "2": norms[1]}


#: vectors longer than this are logged in ``history_`` by their largest magnitude
HISTORY_MAX_ENTRIES = 16


def _to_float(t):
    t = t.detach().double().cpu()
    if t.numel() == 1:
        return float(t)
    if t.numel() > HISTORY_MAX_ENTRIES:
        # e.g. one multiplier per entry of G - I for Orthogonality: keep the
        # history small and readable
        return float(t.abs().max())
    return t.numpy().tolist()


class ConstraintMonitor(Callback):
    """Per-epoch bookkeeping of a constrained fit.

    At each epoch end: evaluates the weight constraints at the current
    weights (the data-dependent ones are averaged over the epoch's batches),
    runs the method's outer-iteration logic, appends one record to
    ``records`` (objective, Lagrangian, each constraint's value and
    multiplier, penalty), checks that everything is finite (restoring the
    last finite state and raising :class:`TrainingDiverged` otherwise), and
    reports progress when ``verbose``.

    It also keeps (by reference: the per-epoch snapshot is taken anyway for
    the divergence guard, so no extra copy is made) the state of the epoch
    with the smallest violation, ``best_`` (ties, and violations within
    ``tol`` of the feasibility rule, go to the lower objective); the
    estimator returns it when the final iterate is infeasible.
    """

    def __init__(self, verbose=0, max_epochs=None, tol=0.0):
        self.verbose = verbose
        self.max_epochs = max_epochs
        self.tol = tol

    def initialize(self):
        self.records = []
        self._snapshot = None
        self._prev_snapshot = None
        self.best_ = None
        self._resumed = False
        self.initial_violation_norms = {}
        self.method_log_ = None
        self._bar = None
        return self

    def resume(self, records, best=None):
        """Continue a previous fit (``warm_start``): its history (epochs keep
        counting) and its best iterate so far.
        """
        self.records = [dict(r) for r in records]
        self.best_ = best
        self._resumed = bool(self.records)
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        net.epoch_stats_ = _EpochStats()
        # CV_0 belongs to the first fit; a resumed one already has it
        self.initial_violations = {} if self._resumed else self._initial_violations(net, X, y)
        net.data_constraint_names_ = [
            n for n, b in net.bound_constraints_.items() if b.requires_data
        ]
        self._scales = {
            n: b.constraint._tolerance_scale() for n, b in net.bound_constraints_.items()
        }
        net.sync_names_ = net.data_constraint_names_ if net.distributed else []
        self._snapshot = self._take_snapshot(net, len(self.records))
        self._prev_snapshot = None
        if self.verbose and self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=self.max_epochs, desc="constrained fit", unit="epoch", leave=False
            )

    def on_epoch_begin(self, net, **kwargs):
        net.epoch_stats_.reset()
        self._t0 = time.perf_counter()
        method = getattr(net, "method_", None)
        if self.records and (
            getattr(method, "resets_optimizer_each_epoch", False)
            or isinstance(net.optimizer_, torch.optim.LBFGS)
        ):
            # SAL: each outer iteration (epoch) starts a fresh subproblem, with
            # the primal optimizer's state and learning rate reset. L-BFGS
            # (one step per epoch) also starts afresh: the multipliers or the
            # split variables moved since its last step, so its curvature
            # pairs would mix two different objectives.
            net.initialize_optimizer()

    @staticmethod
    def _violation(bound, name, defect):
        defect = defect.detach()
        return torch.relu(defect) if bound[name].kind == "inequality" else defect.abs()

    def _initial_violations(self, net, X, y):
        """Each constraint's violation at initialisation (CV_0 of eq. 18 of the
        SAL paper): weight constraints at the initial weights, data constraints
        on the whole training set (evaluated on copies, so that running
        estimates are not seeded).
        """
        bound = getattr(net, "bound_constraints_", None) or {}
        self.initial_violation_norms = {}
        if not bound:
            return {}
        out = {}

        def keep(name, defect):
            viol = self._violation(bound, name, defect)
            out[name] = _to_float(viol)
            norms = _long_norms(viol)
            if norms is not None:
                self.initial_violation_norms[name] = norms

        with torch.no_grad():
            for name, e in evaluate_bound(
                {n: b for n, b in bound.items() if not b.requires_data}
            ).items():
                keep(name, e.defect)
            data = {n: b for n, b in bound.items() if b.requires_data}
            if data and X is not None:
                logits = torch.cat(predict_chunks(net.module_, _as_tensor(X), net.device))
                yi = (
                    {k: _as_tensor(v).to(net.device) for k, v in y.items()}
                    if isinstance(y, dict)
                    else (None if y is None else _as_tensor(y).to(net.device))
                )
                ctx = net._context(logits, yi)
                for name, b in data.items():
                    keep(name, copy.deepcopy(b).evaluate(ctx).defect)
        return out

    @staticmethod
    def _take_snapshot(net, epoch):
        return {
            "module": _clone_state(net.module_),
            "method": net.method_._get_state(),
            "epoch": epoch,
        }

    def _restore(self, net, snapshot=None):
        snapshot = self._snapshot if snapshot is None else snapshot
        if snapshot is not None:
            net.module_.load_state_dict(snapshot["module"])
            net.method_._set_state(snapshot["method"])

    def restore_finite(self, net, X, chunk=8192):
        """After a divergence: make sure the module gives finite outputs on
        ``X`` (a tensor), falling back from the last finite epoch's state to
        the one before it and to the best iterate. Returns the epoch of the
        state kept, or ``None`` when none of them gives finite outputs.
        """
        candidates = [s for s in (self._snapshot, self._prev_snapshot, self.best_) if s is not None]
        for snapshot in candidates:
            self._restore(net, snapshot)
            flags = [
                torch.isfinite(out).all()
                for out in predict_chunks(net.module_, X, net.device, chunk)
            ]
            if bool(torch.stack(flags).all()):
                return snapshot["epoch"]
        return None

    def _track_best(self, record):
        """Keep a reference to the epoch's snapshot when it has the smallest
        violation so far (relative to ``max(1, |level|)``, less ``tol``, as
        in the feasibility rule), ties going to the lower objective.
        """
        score = 0.0
        for name, viol in record["violations"].items():
            viol = np.ravel(viol)
            scale = self._scales.get(name, 1.0)
            if viol.size:
                score = max(score, float(viol.max()) / scale - self.tol)
        key = (max(score, 0.0), record["objective"])
        if self.best_ is None or key < tuple(self.best_["key"]):
            # A data constraint's record averages the epoch's batches, i.e.
            # describes the weights between the previous snapshot and this
            # one: both are kept as candidates.
            self.best_ = dict(self._snapshot, key=key, previous=self._prev_snapshot)

    def on_epoch_end(self, net, **kwargs):
        stats = net.epoch_stats_
        if stats.n == 0:
            return
        if net.distributed:
            stats.synchronize_()
        method, bound = net.method_, net.bound_constraints_
        values, defects = {}, {}
        with torch.no_grad():
            current = evaluate_bound({n: b for n, b in bound.items() if not b.requires_data})
        for name, b in bound.items():
            if name in current:
                values[name], defects[name] = current[name].value, current[name].defect
            else:
                values[name] = stats.values[name] / stats.n
                defects[name] = stats.defects[name] / stats.n
        method._epoch_end(defects)

        objective, loss = stats.objective / stats.n, stats.loss / stats.n
        multipliers = dict(method.multipliers_)
        finite = all_finite(
            [
                objective,
                loss,
                *multipliers.values(),
                *values.values(),
                *(p.detach() for p in net.module_.parameters()),
            ]
        )
        if not finite:
            self._restore(net)
            raise TrainingDiverged(
                f"training diverged at epoch {len(self.records) + 1}: the loss, a weight or a "
                "multiplier became NaN/inf. The weights and multipliers of the last finite epoch "
                "were kept. Lower `lr` (or the method's `dual_lr`/penalty), or standardise the inputs."
            )
        self._prev_snapshot = self._snapshot
        self._snapshot = self._take_snapshot(net, len(self.records) + 1)
        violations = {n: self._violation(bound, n, d) for n, d in defects.items()}
        record = {
            "epoch": len(self.records) + 1,
            "objective": _to_float(objective),
            "loss": _to_float(loss),
            "constraints": {n: _to_float(v) for n, v in values.items()},
            "multipliers": {n: _to_float(m) for n, m in multipliers.items()},
            "violations": {n: _to_float(v) for n, v in violations.items()},
            "violation_norms": {
                n: nm
                for n, nm in ((n, _long_norms(v)) for n, v in violations.items())
                if nm is not None
            },
            "penalty": method._penalty_for_history(),
            "duration": time.perf_counter() - self._t0,
        }
        if not self.records:
            record["initial_violations"] = dict(self.initial_violations)
            record["initial_violation_norms"] = dict(self.initial_violation_norms)
        self.records.append(record)
        self._track_best(record)
        net.history.record("objective", record["objective"])
        net.history.record("loss", record["loss"])
        if self.verbose:
            self._report(record)
        if method._should_stop():
            # the method's own stopping test (SAL's tolerances); skorch's
            # partial_fit ends the fit loop on KeyboardInterrupt.
            raise KeyboardInterrupt

    def _report(self, record):
        def fmt(v):
            return (
                f"{v:.4g}"
                if isinstance(v, float)
                else "[" + ", ".join(f"{x:.3g}" for x in np.ravel(v)) + "]"
            )

        parts = [f"epoch {record['epoch']:>4d}", f"objective {record['objective']:.4f}"]
        for n, v in record["constraints"].items():
            parts.append(f"{n} {fmt(v)} (mult {fmt(record['multipliers'].get(n, 0.0))})")
        if record["penalty"] is not None and not isinstance(record["penalty"], dict):
            parts.append(f"penalty {record['penalty']:.3g}")
        line = " | ".join(parts)
        if self._bar is not None:
            self._bar.update(1)
            self._bar.write(line)
        else:  # pragma: no cover
            print(line)

    def on_train_end(self, net, **kwargs):
        # the method's outer-iteration log (SAL) as training left it, before a
        # best-iterate callback restores an earlier state (for resuming)
        log = getattr(getattr(net, "method_", None), "log_", None)
        self.method_log_ = [dict(entry) for entry in log] if isinstance(log, list) else None
        if self._bar is not None:
            self._bar.close()
            self._bar = None
