"""Data-parallel training on 2 CPU processes (gloo).

Identical multipliers on every rank, and the same model as single-process
training on the same global batch.
"""

import os
import warnings

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sklearn.datasets import load_digits

from sklearn_constrained import ConstrainedClassifier
from sklearn_constrained.constraints import L2Norm, PredictionRate

N, BATCH, EPOCHS = 512, 64, 3  # N divisible by 2 * BATCH: every global batch is full


def _data():
    X, y = load_digits(return_X_y=True)
    return (X[:N] / 16.0).astype(np.float32), y[:N]


def _estimator(batch_size, distributed, with_rate):
    constraints = {"l2": L2Norm(bound=60.0)}
    if with_rate:
        constraints["rate0"] = PredictionRate(label=0, upper=0.05)
    return ConstrainedClassifier(
        constraints=constraints,
        max_epochs=EPOCHS,
        batch_size=batch_size,
        random_state=0,
        device="cpu",
        distributed=distributed,
    )


def _worker(rank, world, init_file, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        X, y = _data()
        for with_rate in (False, True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf = _estimator(BATCH, True, with_rate).fit(X, y)
            weights = {k: v.detach().numpy() for k, v in clf.module_.state_dict().items()}
            np.savez(
                os.path.join(out_dir, f"rate{int(with_rate)}_rank{rank}.npz"),
                **weights,
                **{f"mult_{k}": v for k, v in clf.multipliers_.items()},
                proba=clf.predict_proba(X),
            )
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory):
    """One launch of 2 gloo processes; each fits with and without a rate constraint."""
    tmp = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(2, str(tmp / "init"), str(tmp)), nprocs=2, join=True)
    return {
        with_rate: [dict(np.load(tmp / f"rate{with_rate}_rank{r}.npz")) for r in range(2)]
        for with_rate in (0, 1)
    }


def test_ddp_matches_single_process_on_the_same_global_batch(ddp_results):
    ranks = ddp_results[0]
    for key in ranks[0]:
        np.testing.assert_array_equal(ranks[0][key], ranks[1][key])
    X, y = _data()
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single = _estimator(2 * BATCH, False, False).fit(X, y)
    for k, v in single.module_.state_dict().items():
        np.testing.assert_allclose(ranks[0][k], v.numpy(), rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(ranks[0]["mult_l2"], single.multipliers_["l2"], rtol=1e-4, atol=1e-6)


def test_ddp_rate_constraint_multipliers_identical_across_ranks(ddp_results):
    ranks = ddp_results[1]
    np.testing.assert_array_equal(ranks[0]["mult_rate0"], ranks[1]["mult_rate0"])
    assert float(np.max(ranks[0]["mult_rate0"])) > 0  # the rate constraint was active
    for key in ranks[0]:
        np.testing.assert_array_equal(ranks[0][key], ranks[1][key])


def test_distributed_without_process_group_says_how_to_launch():
    X, y = _data()
    with pytest.raises(ValueError, match="torchrun"):
        _estimator(BATCH, True, False).fit(X, y)
