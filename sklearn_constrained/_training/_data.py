"""Data on the training device: mini-batches, a held-out stream and chunked inference.

Dense inputs are moved to the device once; SciPy sparse inputs stay sparse
on the host and each batch (or inference chunk) is densified as it is used,
so a one-hot-encoded pipeline never builds the dense matrix.
"""

import math

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["HeldOutStream", "TensorLoader", "as_tensor", "predict_chunks", "take_rows"]


def as_tensor(a):
    """A tensor view of an array (``None`` and tensors pass through; sparse stays sparse)."""
    if a is None or isinstance(a, torch.Tensor) or sp.issparse(a):
        return a
    return torch.as_tensor(np.asarray(a))


def take_rows(X, index, device, dtype=None):
    """Rows ``index`` (a slice or an index tensor) of ``X`` as a dense tensor on ``device``.

    ``X`` is a tensor (indexed where it lives) or a SciPy sparse matrix
    (indexed on the host, densified, then copied).
    """
    if sp.issparse(X):
        idx = index if isinstance(index, slice) else index.cpu().numpy()
        dense = torch.from_numpy(np.asarray(X[idx].toarray()))
        return dense.to(device=device, dtype=dtype or torch.float32, non_blocking=True)
    out = as_tensor(X)[index]
    if dtype is not None and out.dtype != dtype:
        out = out.to(dtype)
    return out if out.device == device else out.to(device)


class TensorLoader:
    """Mini-batches by slicing tensors: no per-sample ``__getitem__`` or collate.

    Accepts a skorch ``Dataset`` whose ``X`` is an array, a tensor or a SciPy
    sparse matrix and whose ``y`` is ``None`` or an array/tensor; it yields
    ``(X_batch, y_batch)`` as skorch expects. The per-sample ``extras``
    (group codes, sample weights) are sliced with them, and the batch's
    targets, ``{"y": y_batch, **extras}``, are kept as :attr:`current`
    for the train step. On a CUDA device dense data are moved once, so
    batches never cross the bus. Shuffling uses the given
    ``torch.Generator`` (CPU), so a seed fixes the order. For data-parallel
    training every rank draws the same permutation and takes its slice of
    each global batch of ``world_size * batch_size``.
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
        extras=None,
    ):
        X, y = dataset.X, dataset.y
        self.device = torch.device(device)
        self.X = X if sp.issparse(X) else as_tensor(X).to(self.device)
        self.y = None if y is None else as_tensor(y).to(self.device)
        self.extras = {k: as_tensor(v).to(self.device) for k, v in (extras or {}).items()}
        self.current = None
        self.n = X.shape[0]
        self.batch_size = self.n if batch_size in (-1, None) else int(batch_size)
        self.shuffle = shuffle
        self.generator = generator
        self.drop_last = drop_last
        self.rank, self.world_size = int(rank), int(world_size)

    def __len__(self):
        step = self.batch_size * self.world_size
        if self.drop_last:
            return self.n // step
        return math.ceil(self.n / step)

    def _take(self, index):
        X = take_rows(self.X, index, self.device)
        y = None if self.y is None else self.y[index]
        self.current = {"y": y, **{k: v[index] for k, v in self.extras.items()}}
        return X, y

    def _permutation(self):
        perm = torch.randperm(self.n, generator=self.generator)
        # the host permutation indexes sparse X; dense data index on the device
        return perm if sp.issparse(self.X) else perm.to(self.device)

    def __iter__(self):
        if self.world_size > 1:
            yield from self._iter_shard()
            return
        bs, n = self.batch_size, self.n
        perm = self._permutation() if self.shuffle and n > bs else None
        stop = n - (n % bs) if self.drop_last else n
        for start in range(0, stop, bs):
            if perm is None:
                yield self._take(slice(start, min(start + bs, n)))
            else:
                yield self._take(perm[start : start + bs])

    def _iter_shard(self):
        bs, n, world, rank = self.batch_size, self.n, self.world_size, self.rank
        step = bs * world
        perm = self._permutation() if self.shuffle else torch.arange(n)
        if not sp.issparse(self.X):
            perm = perm.to(self.device)
        for start in range(0, n, step):
            chunk = perm[start : start + step]
            m = len(chunk)
            if m < step and (self.drop_last or m < world):
                return  # every rank takes part in each step: drop a remainder too small to share
            # full global batches: rank r takes [r*bs, (r+1)*bs); the last one is split evenly
            per = bs if m == step else -(-m // world)
            yield self._take(chunk[rank * per : (rank + 1) * per])


class HeldOutStream:
    """Shuffled batches cycling through a held-out part, one per training step.

    Feeds the running estimates of data-dependent constraints when the
    estimator's ``dual_split`` holds part of the training data out for the
    multipliers. ``batch_size=-1`` (or one at least the part's size) yields
    the whole part every time.
    """

    def __init__(self, X, y, batch_size=-1, generator=None, device="cpu"):
        self.device = torch.device(device)
        self.X = X if sp.issparse(X) else X.to(self.device)
        self.y = {k: v.to(self.device) for k, v in y.items()}
        self.n = X.shape[0]
        self.batch_size = self.n if batch_size in (-1, None) else min(int(batch_size), self.n)
        self.generator = generator
        self.perm, self.pos = None, self.n

    def next(self):
        """The next held-out batch ``(X, y)``."""
        bs, n = self.batch_size, self.n
        if bs >= n:
            return take_rows(self.X, slice(None), self.device), self.y
        if self.pos + bs > n:
            perm = torch.randperm(n, generator=self.generator)
            self.perm = perm if sp.issparse(self.X) else perm.to(self.device)
            self.pos = 0
        idx = self.perm[self.pos : self.pos + bs]
        self.pos += bs
        return take_rows(self.X, idx, self.device), {k: v[idx] for k, v in self.y.items()}

    def state_dict(self):
        """The generator's state, the current permutation and the position in it."""
        return {
            "generator": None if self.generator is None else self.generator.get_state(),
            "perm": self.perm,
            "pos": int(self.pos),
        }

    def load_state_dict(self, state):
        """Continue the stream where :meth:`state_dict` left it."""
        if not state:
            return
        if state.get("generator") is not None and self.generator is not None:
            self.generator.set_state(state["generator"])
        perm = state.get("perm")
        if perm is None or len(perm) == self.n:
            self.perm = None if perm is None else perm.to(self.device)
            self.pos = int(state.get("pos", self.n))


#: the fewest and the most rows per inference chunk
INFERENCE_CHUNK = (256, 2048)
#: input entries per inference chunk between those bounds (1 MiB of float32)
INFERENCE_ENTRIES = 2**18


def inference_chunk(X):
    """Rows per inference chunk for inputs shaped like ``X``'s rows.

    About :data:`INFERENCE_ENTRIES` input entries (a few thousand rows of a
    table, a few hundred images), within :data:`INFERENCE_CHUNK`: fewer calls
    for a full pass over tabular data (the per-epoch check of every
    data-dependent constraint), bounded activations for images. It depends on
    the row's shape only, so a row's prediction never depends on how many rows
    are predicted with it.
    """
    row = int(np.prod(X.shape[1:])) if len(X.shape) > 1 else 1
    lo, hi = INFERENCE_CHUNK
    return int(min(hi, max(lo, INFERENCE_ENTRIES // max(row, 1))))


def predict_chunks(module, X, device, chunk=None, dtype=None):
    """The module's outputs on the rows of ``X``, ``chunk`` rows at a time.

    In evaluation mode and without gradients, as a list of tensors on
    ``device``; the module's training mode is restored. ``X`` is a tensor,
    an array or a SciPy sparse matrix. ``chunk``: :func:`inference_chunk`
    when ``None``. Every chunk but the last has exactly ``chunk`` rows, and
    the last is padded to ``chunk`` rows, so the BLAS kernels (and so the
    float32 rounding) of a row's prediction do not depend on how many rows
    are predicted together.
    """
    if chunk is None:
        chunk = inference_chunk(X)
    was_training = module.training
    module.train(False)
    n = X.shape[0]
    try:
        with torch.no_grad():
            out = []
            for i in range(0, n, chunk):
                rows = take_rows(as_tensor(X), slice(i, min(i + chunk, n)), device, dtype)
                m = rows.shape[0]
                if m < chunk and n > 0:
                    pad = rows.new_zeros((chunk - m,) + tuple(rows.shape[1:]))
                    rows = torch.cat([rows, pad])
                out.append(module(rows)[:m])
            return out
    finally:
        module.train(was_training)
