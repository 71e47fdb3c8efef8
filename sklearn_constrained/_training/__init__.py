"""The training core: the skorch net, the constrained step, the epoch's end and callbacks."""

from ._callbacks import IterateCheck, Progress, StopWhenDone
from ._data import HeldOutStream, TensorLoader, predict_chunks
from ._epoch import EpochSums, epoch_states, summarize
from ._iterates import BestIterate, DivergenceGuard
from ._net import ConstrainedNet, TrainingDiverged
from ._step import all_finite, constrained_step, evaluate_states

__all__ = [
    "BestIterate",
    "ConstrainedNet",
    "DivergenceGuard",
    "EpochSums",
    "HeldOutStream",
    "IterateCheck",
    "Progress",
    "StopWhenDone",
    "TensorLoader",
    "TrainingDiverged",
    "all_finite",
    "constrained_step",
    "epoch_states",
    "evaluate_states",
    "predict_chunks",
    "summarize",
]
