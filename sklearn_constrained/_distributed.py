"""Data-parallel training on an initialised ``torch.distributed`` process group.

Used when an estimator has ``distributed=True``: the module is wrapped in
``DistributedDataParallel`` (gradients averaged across ranks), each rank
takes its slice of every global batch, and the constraint statistics that
drive the multipliers are all-reduced before every dual update, so that
every rank applies the same dual step and holds identical multipliers.
"""

import torch

__all__ = ["is_active", "rank_and_world", "allreduce_mean_", "synchronize_states", "check_ready"]


def is_active():
    """Whether a process group with two or more ranks is initialised."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_world():
    import torch.distributed as dist

    if not is_active():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def check_ready():
    """Raise a ValueError that says how to launch when no process group is up."""
    if not is_active():
        raise ValueError(
            "`distributed=True` needs an initialised torch.distributed process group with at "
            "least two processes: launch the script with `torchrun --nproc-per-node N script.py` "
            "(or `accelerate launch`) and call `torch.distributed.init_process_group()` before "
            "fit; use distributed=False for a single process."
        )


def allreduce_mean_(tensors):
    """Average tensors across ranks in place, with one collective for all of them."""
    import torch.distributed as dist

    if not tensors:
        return tensors
    world = dist.get_world_size()
    flat = torch.cat([t.detach().reshape(-1).to(torch.float64) for t in tensors])
    dist.all_reduce(flat)
    flat.div_(world)
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset : offset + n].view_as(t).to(t.dtype))
        offset += n
    return tensors


def synchronize_states(states, names):
    """Average the value and strict violation of the constraints ``names`` over the ranks.

    One collective for all of them; the differentiable violations keep their
    graph (each rank's gradients are averaged by DistributedDataParallel).
    """
    if not names:
        return states
    values = [states[n].value.detach().clone() for n in names]
    strict = [states[n].strict_violation.detach().clone() for n in names]
    allreduce_mean_(values + strict)
    out = dict(states)
    for n, v, d in zip(names, values, strict, strict=True):
        out[n] = states[n]._replace(value=v, strict_violation=d)
    return out
