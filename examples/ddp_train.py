"""Data-parallel constrained training with torch.distributed.

Launch on one machine with two processes (CPU, gloo backend):

    torchrun --nproc-per-node 2 examples/ddp_train.py

or on GPUs (NCCL; one process per GPU):

    torchrun --nproc-per-node 4 examples/ddp_train.py --backend nccl

Every rank loads the same data and calls ``fit`` with the same
``random_state``; each takes ``batch_size`` samples of every global batch.
The statistics of the rate constraint are averaged across ranks before every
dual update, so the multipliers printed by each rank are identical.
"""

import argparse
import os

import numpy as np
import torch
import torch.distributed as dist

from sklearn_constrained import ConstrainedClassifier
from sklearn_constrained.constraints import L2Norm, PredictionRate
from sklearn_constrained.datasets import load_mnist_5k


def main(backend, epochs):
    dist.init_process_group(backend)
    rank = dist.get_rank()
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    X, y = load_mnist_5k(return_X_y=True)
    clf = ConstrainedClassifier(
        constraints={"l2": L2Norm(bound=200.0), "rate0": PredictionRate(label=0, upper=0.08)},
        max_epochs=epochs,
        batch_size=64,
        random_state=0,
        distributed=True,
        device="cuda" if backend == "nccl" else "cpu",
    ).fit(X, y)
    rate = float(np.mean(clf.predict(X) == 0))
    print(
        f"rank {rank}: training accuracy {clf.score(X, y):.3f}, share predicted 0: {rate:.3f}, "
        f"multipliers { ({k: np.round(v, 5).tolist() for k, v in clf.multipliers_.items()}) }"
    )
    dist.destroy_process_group()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="gloo", choices=["gloo", "nccl"])
    p.add_argument("--epochs", type=int, default=5)
    a = p.parse_args()
    main(a.backend, a.epochs)
