"""Warm start and checkpoints: the training state of a fit, over ``state_dict()``s.

A resumed fit (``warm_start=True``) continues exactly where the previous one
stopped: the last training iterate (weights, method, running estimates, not
the returned best or split copy), the primal optimizer, the batch order and
the random streams, the held-out stream of ``dual_split`` and the best
iterate's candidates. Every component contributes its own ``state_dict()``;
this module gathers them into one dict of tensors and plain values (what
:meth:`save` writes without pickle) and gives them back.
"""

import numbers

import torch

__all__ = [
    "capture",
    "check_resumable",
    "check_same_groups",
    "load_module_state",
    "map_tensors",
    "qualname",
    "restore",
    "to_device",
]


def qualname(obj):
    """``"module:QualName"`` of a class or of an object's class."""
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def map_tensors(obj, fn):
    """Apply ``fn`` to every tensor of nested dicts, lists and tuples."""
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: map_tensors(v, fn) for k, v in obj.items()}
    if isinstance(obj, list):
        return [map_tensors(v, fn) for v in obj]
    if isinstance(obj, tuple):
        return tuple(map_tensors(v, fn) for v in obj)
    return obj


def to_device(obj, device):
    """Every tensor of ``obj`` on ``device`` (``None`` stays ``None``)."""
    return None if obj is None else map_tensors(obj, lambda t: t.to(device))


def load_module_state(module, state_dict):
    """``load_state_dict``, tolerating the ``module.`` prefix of a DistributedDataParallel state."""
    if state_dict and set(state_dict) != set(module.state_dict()):
        if all(k.startswith("module.") for k in state_dict):
            state_dict = {k[len("module.") :]: v for k, v in state_dict.items()}
    module.load_state_dict(state_dict)


def _signature(constraint):
    """What a warm start must keep of a constraint: class, kind and non-numeric parameters.

    Numeric levels may change; ``None`` may not become a number (that would
    change the number of multipliers).
    """
    sig = [type(constraint), constraint.kind]
    for key, value in sorted(constraint.get_params(deep=False).items()):
        if value is None or (isinstance(value, numbers.Real) and not isinstance(value, bool)):
            sig.append((key, value is None))
        else:
            sig.append((key, repr(value)))
    return sig


def check_resumable(previous_method, method, old_constraints, constraints):
    """Raise a ``ValueError`` when a warm start cannot continue the previous fit."""
    if previous_method is not None and type(previous_method) is not type(method):
        raise ValueError(
            "warm_start=True continues the previous fit, which used "
            f"{type(previous_method).__name__}; got method={type(method).__name__}. Keep the "
            "method (its parameters may change) or set warm_start=False to train afresh."
        )
    changed = sorted(set(old_constraints) ^ set(constraints)) + sorted(
        n
        for n in set(old_constraints) & set(constraints)
        if _signature(old_constraints[n]) != _signature(constraints[n])
    )
    if changed:
        raise ValueError(
            "warm_start=True continues the previous fit, so its constraints must keep their "
            "names, classes and parameter selections (only numeric levels may change); "
            f"{changed} changed. Set warm_start=False to train afresh."
        )


def check_same_groups(labels, previous):
    """Raise a ``ValueError`` when a warm start's groups differ from the previous fit's."""
    if list(map(str, labels)) != list(map(str, previous)):
        raise ValueError(
            f"warm_start=True: `sensitive_features` has the groups {list(map(str, labels))}, "
            f"the previous fit had {list(map(str, previous))}; the multipliers are "
            "per group, so they must match. Set warm_start=False to train afresh."
        )


def capture(*, seed, net, guard, best, generator, opt_cls, cuda_devices, diverged):
    """Everything a resumed fit needs, by reference (no copies).

    The last training iterate comes from the divergence guard's snapshot of
    the last finite epoch; after a divergence the optimizer's moments may be
    non-finite, so a resumed fit then starts a fresh optimizer.
    """
    snap = guard.snapshot_ or {}
    stream = net.dual_stream_
    return {
        "seed": int(seed),
        "module": None if diverged else snap.get("module"),
        "method": snap.get("method"),
        # an outer-iteration log (SAL's) is not copied into every snapshot
        "method_log": [dict(e) for e in getattr(net.method_, "log_", None) or []],
        "evaluators": snap.get("evaluators"),
        "optimizer": None if diverged else net.optimizer_.state_dict(),
        "optimizer_class": qualname(opt_cls),
        "generator": generator.get_state(),
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": [torch.cuda.get_rng_state(d) for d in cuda_devices],
        "dual_stream": None if stream is None else stream.state_dict(),
        "best": best.state_dict(),
    }


def drop_if_returned(state, module):
    """Keep the last iterate's weights only when the returned module holds other ones."""
    last = state.get("module")
    if last is not None:
        current = module.state_dict()
        same = current.keys() == last.keys() and all(
            torch.equal(current[k], v) for k, v in last.items()
        )
        if same:
            state["module"] = None
    return state


def restore(net, state, *, lr, opt_cls, device, best, generator, cuda_devices=()):
    """Continue a previous fit's training state in a freshly built net.

    The global random streams continue too (dropout, gates): the CPU's and
    those of ``cuda_devices``, as :func:`capture` took them.
    """
    if state.get("generator") is not None:
        generator.set_state(state["generator"])
    if state.get("module") is not None:
        load_module_state(net.module_, state["module"])
    if state.get("method_log") and hasattr(net.method_, "log_"):
        net.method_.log_ = [dict(e) for e in state["method_log"]]
    if state.get("method") is not None:
        net.method_.load_state_dict(to_device(state["method"], device))
    for name, e in net.evaluators_.items():
        e.load_state_dict(to_device((state.get("evaluators") or {}).get(name) or {}, device))
    opt_state = state.get("optimizer")
    if opt_state is not None and state.get("optimizer_class") == qualname(opt_cls):
        net.optimizer_.load_state_dict(opt_state)
        for group in net.optimizer_.param_groups:
            group["lr"] = lr  # the current `lr`, in case it changed
    if net.dual_stream_ is not None:
        net.dual_stream_.load_state_dict(to_device(state.get("dual_stream"), device))
    if state.get("best") is not None:
        best.load_state_dict(to_device(state["best"], device))
    if state.get("rng_cpu") is not None:
        torch.set_rng_state(state["rng_cpu"])
        for dev, rng in zip(cuda_devices, state.get("rng_cuda") or [], strict=False):
            torch.cuda.set_rng_state(rng, dev)
