"""Training steps never synchronise the host with a CUDA device (issue 16, "The GPU").

A skorch callback passed through the estimators' ``callbacks=`` parameter
(run with the library's own) turns ``torch.cuda.set_sync_debug_mode("error")``
on in ``on_batch_begin`` and back to ``"default"`` in ``on_batch_end`` for
every training batch but the first (which may set up state once), so any
``.item()``, ``float(t)``, ``bool(t)``, ``.cpu()``, blocking copy or
``torch.linalg.svd`` inside a training step raises, while the per-epoch
bookkeeping (history, feasibility, each method's epoch end) may
synchronise. Covered: every method (``fp``, ``gda``, ``sal``, ``sadmm``,
``auto``) with ``L1Norm`` + ``Orthogonality`` on a small CNN (S-ADMM
projects onto ``Orthogonality(bound=0)`` by Newton-Schulz on CUDA), and a
rate and a fairness constraint with every method that takes them. A second
check counts the synchronisations of whole fits: they must not grow with
the number of steps per epoch. A positive control shows the guard catches
a synchronisation (``.item()``, the SVD).

The CUDA tests skip, with the reason, without a CUDA device. The same fits
also run on the CPU with the sync-debug calls left out (a dry run of the
code path, in CI): the callback must see every training batch of every fit.
"""

import math
import warnings

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

import sklearn_constrained as sc
from sklearn_constrained.constraints import (
    DemographicParity,
    L1Norm,
    Orthogonality,
    PredictionRate,
)
from sklearn_constrained.optim import project_orthogonal

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="GPU-only test: torch.cuda.is_available() is False (no CUDA device on this machine)",
)

N, BATCH, EPOCHS = 256, 32, 2
_SEEN = {}  # what each guard saw, by key (survives any copy of the callback by the estimator)


class StepSyncGuard(Callback):
    """Sync debug mode "error" around every training step after the first ``skip``.

    Parameters
    ----------
    key : str
        Where the counts go in the module-level ``_SEEN`` registry.
    sync_debug : bool, default=True
        ``False`` skips the ``torch.cuda.set_sync_debug_mode`` calls (the CPU dry run).
    skip : int, default=1
        Training batches left unguarded at the start of each fit.
    """

    def __init__(self, key, sync_debug=True, skip=1):
        self.key = key
        self.sync_debug = sync_debug
        self.skip = skip

    def initialize(self):
        _SEEN[self.key] = {"batches": 0, "guarded": 0, "open": False, "unfinished": 0}
        return self

    def on_batch_begin(self, net, batch=None, training=None, **kwargs):
        if not training:
            return
        seen = _SEEN.setdefault(self.key, {"batches": 0, "guarded": 0, "open": False})
        seen["unfinished"] = (
            seen.get("unfinished", 0) + seen["open"]
        )  # the previous step raised before its end
        seen["batches"] += 1
        seen["open"] = seen["batches"] > self.skip
        if seen["open"] and self.sync_debug:
            torch.cuda.set_sync_debug_mode("error")

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if not training:
            return
        seen = _SEEN[self.key]
        if seen["open"]:
            if self.sync_debug:
                torch.cuda.set_sync_debug_mode("default")
            seen["guarded"] += 1
            seen["open"] = False


@pytest.fixture(autouse=True)
def _sync_debug_off_after_each_test():
    yield
    if torch.cuda.is_available():
        torch.cuda.set_sync_debug_mode("default")


def _images(n=N, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, 3, 16, 16)).astype(np.float32)
    y = rng.randint(0, 2, size=n)
    groups = np.where(rng.rand(n) < 0.4, "a", "b")
    return X, y, groups


def _fit(constraints, method, *, device, callbacks=None, groups=False, batch_size=BATCH):
    X, y, g = _images()
    clf = sc.ConstrainedClassifier(
        module=sc.models.CNN,
        module__channels=(8, 16),
        module__hidden=32,
        constraints=constraints,
        method=method,
        max_epochs=EPOCHS,
        batch_size=batch_size,
        device=device,
        random_state=0,
        callbacks=callbacks,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "not feasible" after 2 epochs
        clf.fit(X, y, sensitive_features=g if groups else None)
    return clf


def _weights():
    # L1 at about half of the CNN's initial sum |w| (350), every weight matrix and kernel
    # orthogonal (the conv kernels as out x in*3*3)
    return {"l1": L1Norm(bound=150.0), "orth": Orthogonality(bound=0.0)}


def _rates(kind):
    if kind == "dp":
        return {"dp": DemographicParity(bound=0.05)}, True
    return {"rate": PredictionRate(label=0, lower=0.7)}, False


CASES = [("weights", m) for m in ("fp", "gda", "sal", "sadmm", "auto")] + [
    (kind, m) for kind in ("rate", "dp") for m in ("fp", "gda", "sal", "auto")
]


def _guarded_fit(case, method, key, device):
    constraints, groups = (_weights(), False) if case == "weights" else _rates(case)
    guard = StepSyncGuard(key, sync_debug=device == "cuda")
    clf = _fit(constraints, method, device=device, callbacks=[guard], groups=groups)
    seen = _SEEN[key]
    steps_per_epoch = math.ceil(N / BATCH)
    assert seen["batches"] == clf.n_iter_ * steps_per_epoch >= steps_per_epoch
    assert seen["unfinished"] == 0 and not seen["open"]
    assert seen["guarded"] == seen["batches"] - 1 >= steps_per_epoch - 1
    assert np.isfinite(clf.history_[-1]["objective"])
    assert set(clf.constraint_values_) == set(constraints)
    return clf


@needs_cuda
@pytest.mark.parametrize("case,method", CASES)
def test_training_steps_make_no_host_sync(case, method, request):
    _guarded_fit(case, method, request.node.name, "cuda")


@pytest.mark.parametrize("case,method", CASES)
def test_dry_run_of_the_guarded_fits_on_the_cpu(case, method, request):
    # the code path of the CUDA test with the sync-debug calls left out: the callback is run
    # by the estimator at every training batch, and every method trains with it
    _guarded_fit(case, method, request.node.name, "cpu")


@needs_cuda
def test_the_guard_catches_a_sync_and_newton_schulz_makes_none():
    w = torch.randn(4, 16, 8, 3, 3, device="cuda", generator=torch.Generator("cuda").manual_seed(0))
    precision = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")  # no TF32 in the comparison below
    try:
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        with pytest.raises(RuntimeError, match="synchroniz"):
            w.sum().item()
        with pytest.raises(RuntimeError, match="synchroniz"):
            project_orthogonal(w, method="svd", batched=True)
        q = project_orthogonal(w, batched=True)  # "auto": Newton-Schulz on CUDA
        torch.cuda.set_sync_debug_mode("default")
    finally:
        torch.set_float32_matmul_precision(precision)
    ref = project_orthogonal(w.cpu().double(), method="svd", batched=True)
    torch.testing.assert_close(q.cpu().double(), ref, atol=2e-5, rtol=0)


def _count_syncs(fn):
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchronizing CUDA operation" in str(w.message) for w in caught)


@needs_cuda
@pytest.mark.parametrize(
    "method,case",
    [("gda", "weights"), ("sadmm", "weights"), ("gda", "dp"), ("auto", "rate")],
)
def test_syncs_per_fit_do_not_grow_with_the_steps(method, case):
    constraints, groups = (_weights(), False) if case == "weights" else _rates(case)
    # the same data and epochs; 4 times as many steps per epoch with the smaller batch
    few = _count_syncs(
        lambda: _fit(constraints, method, device="cuda", groups=groups, batch_size=128)
    )
    many = _count_syncs(
        lambda: _fit(constraints, method, device="cuda", groups=groups, batch_size=32)
    )
    # 2 -> 8 steps per epoch over 2 epochs: a per-step sync would add at least 12
    assert many - few <= 4, (few, many)
