"""GPU throughput: samples/s of ResNet13 under L1 + orthogonality, per method, vs plain PyTorch.

On a CUDA device (issue 16, "The GPU"): ``sc.models.ResNet13`` (2.8M
parameters at base width 64) on synthetic 3x32x32 images with 10 random
labels, batch 256, trained by ``ConstrainedClassifier(device="cuda")`` under
``L1Norm`` (every weight matrix and kernel, bound half of its initial value)
and ``Orthogonality()`` (``bound=0``) with each method (``fp``, ``gda``,
``sal``, ``sadmm``, ``auto``), against the same network in a plain PyTorch
loop (Adam, the same learning rate, shuffled batches of the data on the
device, no ``.item()``). Goal: a ratio ``>= 0.95``.

Timing. Every configuration is first fitted once for one epoch (warm-up:
CUDA context, cuDNN plans, lazy imports). Each timed fit is bracketed by
``torch.cuda.synchronize()`` before the clock starts and before it stops,
and nothing else in the benchmark synchronises. A fit has fixed costs (the
copy of the data to the device, validation, S-ADMM's final feasible point)
and per-epoch costs; each repeat fits every configuration for ``epochs`` and
for 1 epoch, in a rotated order, and the steady-state time per epoch is the
difference divided by the difference of the epochs run (``n_iter_``). The
ratio with the goal is the median over repeats of the plain loop's time per
epoch over the configuration's (samples/s against samples/s, paired within
a repeat); the whole-fit ratio (fixed costs included) is reported beside it.

Without CUDA the benchmark prints ``skipped: no CUDA device`` and writes that
into its results file. ``--device cpu`` runs the same code on the CPU as a
dry run (tiny sizes; written to ``build/bench-quick`` unless ``--out``; its
figures are not GPU figures and are reported as skipped). The absence of
per-step host-device synchronisation is checked by ``tests/test_cuda.py``;
``benchmarks/gpu_check.sh LOGDIR`` runs both on a GPU machine.

Run: ``python -m benchmarks.gpu_throughput [--samples 10240] [--epochs 3] [--repeats 3]
[--base-width 64] [--orth-params all] [--quick] [--device cuda] [--out DIR]``;
writes ``benchmarks/results/gpu_throughput.md``.
"""

import argparse
import statistics
import sys
import time

import numpy as np
import torch

from ._common import (
    QUICK_DIR,
    Figure,
    machine_description,
    md_table,
    quiet,
    resolve_out_dir,
    write_result,
)

NAME = "gpu_throughput"
METHODS = ("fp", "gda", "sal", "sadmm", "auto")
GOAL = ">= 0.95"
LR = 0.01
BATCH = 256
PLAIN = "plain PyTorch loop"
UNCONSTRAINED = "estimator, constraints=None"
TITLE = "# GPU throughput: ResNet13 with L1 + orthogonality, per method, against plain PyTorch"


def cuda_status():
    """``(True, device name)`` with a CUDA device, else ``(False, reason)``."""
    if not torch.cuda.is_available():
        return False, "skipped: no CUDA device"
    return True, torch.cuda.get_device_name(0)


def synthetic_images(n, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, 3, 32, 32)).astype(np.float32)
    y = rng.randint(0, 10, size=n)
    return X, y


def _module(seed=0, base_width=64):
    from sklearn_constrained.models import ResNet13

    torch.manual_seed(seed)
    return ResNet13(3 * 32 * 32, 10, image_shape=(3, 32, 32), base_width=base_width)


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def plain_loop(X, y, epochs, batch_size, device, base_width=64):
    """The reference: the same ResNet13, Adam, shuffled batches on the device.

    Returns the number of epochs run.
    """
    module = _module(base_width=base_width).to(device)
    X_t = torch.as_tensor(X, device=device)
    y_t = torch.as_tensor(y, dtype=torch.long, device=device)
    opt = torch.optim.Adam(module.parameters(), lr=LR)
    crit = torch.nn.CrossEntropyLoss()
    gen = torch.Generator(device=device).manual_seed(0)
    n = len(X_t)
    module.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen, device=device)
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            opt.zero_grad(set_to_none=True)
            crit(module(X_t[idx]), y_t[idx]).backward()
            opt.step()
    return epochs


def _constraints(l1_bound, orth_params):
    from sklearn_constrained.constraints import L1Norm, Orthogonality

    return {"l1": L1Norm(bound=l1_bound), "orth": Orthogonality(bound=0.0, params=orth_params)}


def _estimator_fit(X, y, epochs, batch_size, method, constraints, base_width, device):
    """A ConstrainedClassifier fit; returns the epochs it ran (``n_iter_``)."""
    from sklearn_constrained import ConstrainedClassifier
    from sklearn_constrained.models import ResNet13

    kwargs = {} if method is None else {"method": method}
    clf = ConstrainedClassifier(
        module=ResNet13,
        module__base_width=base_width,
        constraints=constraints,
        optimizer="adam",
        lr=LR,
        max_epochs=epochs,
        n_iter_no_change=None,  # a fixed number of epochs: the throughputs compare
        early_stopping=False,
        batch_size=batch_size,
        device=device,
        random_state=0,
        **kwargs,
    )
    with quiet():
        clf.fit(X, y)
    return clf.n_iter_


def _timed(fn, epochs, device):
    """``(seconds, epochs run)`` of ``fn(epochs)``, synchronised on both sides."""
    _sync(device)
    t0 = time.perf_counter()
    ran = fn(epochs)
    _sync(device)
    return time.perf_counter() - t0, ran


def measure(
    samples=10_240,
    epochs=3,
    batch_size=BATCH,
    repeats=3,
    orth_params=None,
    base_width=64,
    device="cuda",
):
    """Per configuration and repeat: the steady time per epoch and the whole fit.

    Returns ``(per_epoch, whole, epochs_run, l1_bound)``, the first three dicts
    of lists by configuration name (one entry per repeat).
    """
    if epochs < 2:
        raise ValueError(f"epochs must be >= 2 (the time per epoch is a difference); got {epochs}.")
    X, y = synthetic_images(samples)
    weights = [p.detach() for p in _module(base_width=base_width).parameters() if p.dim() >= 2]
    l1_bound = 0.5 * float(sum(p.abs().sum() for p in weights))
    cons = _constraints(l1_bound, orth_params)
    runners = {
        PLAIN: lambda ep: plain_loop(X, y, ep, batch_size, device, base_width),
        UNCONSTRAINED: lambda ep: _estimator_fit(
            X, y, ep, batch_size, None, None, base_width, device
        ),
    }
    for m in METHODS:
        runners[m] = lambda ep, m=m: _estimator_fit(
            X, y, ep, batch_size, m, cons, base_width, device
        )
    for fn in runners.values():  # warm-up
        _timed(fn, 1, device)
    names = list(runners)
    per_epoch = {n: [] for n in names}
    whole = {n: [] for n in names}
    ran = {n: [] for n in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            t_long, n_long = _timed(runners[name], epochs, device)
            t_short, n_short = _timed(runners[name], 1, device)
            # (nan when the long fit stopped by itself after one epoch: no difference to take)
            gain = n_long - n_short
            per_epoch[name].append((t_long - t_short) / gain if gain > 0 else float("nan"))
            whole[name].append(t_long / n_long)
            ran[name].append(n_long)
    return per_epoch, whole, ran, l1_bound


def _median(values):
    """The median of the finite values, nan when there is none."""
    finite = [v for v in values if np.isfinite(v)]
    return statistics.median(finite) if finite else float("nan")


def _device_line(info):
    if not torch.cuda.is_available():
        return f"Device: {info}."
    return (
        f"Device: {info} (torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN "
        f"{torch.backends.cudnn.version()}; TF32 matmul {torch.backends.cuda.matmul.allow_tf32}, "
        f"TF32 cuDNN {torch.backends.cudnn.allow_tf32})."
    )


def _skipped(note, cmd):
    return [
        Figure(NAME, f"ResNet13 samples/s, {m} / plain PyTorch loop", None, GOAL, cmd, note=note)
        for m in METHODS
    ]


def run(
    quick=False,
    out_dir=None,
    samples=None,
    epochs=None,
    repeats=None,
    orth_params="all",
    base_width=None,
    device="cuda",
):
    dry_run = torch.device(device).type == "cpu"
    out_dir = resolve_out_dir(out_dir if out_dir or not dry_run else QUICK_DIR, quick)
    ok, info = cuda_status()
    cmd = "python -m benchmarks.gpu_throughput" + (" --quick" if quick else "")
    if orth_params not in (None, "all"):
        cmd += f" --orth-params {orth_params}"
    if dry_run:
        cmd += " --device cpu"
        info = f"CPU dry run on {machine_description()}: not a GPU measurement"
    elif not ok:
        text = "\n".join(
            [
                TITLE,
                "",
                info,
                "",
                f"Methods: {', '.join(METHODS)} against a plain PyTorch loop; goal: ratio {GOAL}.",
                "",
                f"Machine: {machine_description()}; torch.cuda.is_available() is False.",
                "Run this benchmark on a machine with a CUDA device to measure it "
                "(`benchmarks/gpu_check.sh LOGDIR` runs it with `tests/test_cuda.py`, which "
                "checks that training steps make no host-device synchronisation).",
                "",
                f"Command: `{cmd}`",
            ]
        )
        write_result(out_dir, NAME, text)
        print(info)
        return _skipped(info, cmd)
    small = quick or dry_run
    samples = samples or (1024 if small else 10_240)
    epochs = epochs or (2 if small else 3)
    repeats = repeats or (1 if small else 3)
    base_width = base_width or (16 if small else 64)
    params = None if orth_params in (None, "all") else [p.strip() for p in orth_params.split(",")]
    t0 = time.perf_counter()
    per_epoch, whole, ran, l1_bound = measure(
        samples, epochs, BATCH, repeats, params, base_width, device
    )
    rows, figures = [], []
    for name in per_epoch:
        pairs = zip(per_epoch[PLAIN], per_epoch[name], strict=True)
        steady = _median([p / c for p, c in pairs])
        overall = _median([p / c for p, c in zip(whole[PLAIN], whole[name], strict=True)])
        fixed = _median(
            [(w - e) * n for w, e, n in zip(whole[name], per_epoch[name], ran[name], strict=True)]
        )
        is_method = name in METHODS
        rows.append(
            [
                f"estimator, method={name!r}" if is_method else name,
                f"{samples / _median(per_epoch[name]):.0f}",
                f"{steady:.3f}",
                GOAL if is_method else "",
                f"{samples / _median(whole[name]):.0f}",
                f"{overall:.3f}",
                f"{fixed:.2f}",
                ", ".join(str(n) for n in ran[name]),
            ]
        )
        if is_method:
            figures.append(
                Figure(
                    NAME,
                    f"ResNet13 samples/s, {name} / plain PyTorch loop",
                    None if dry_run or not np.isfinite(steady) else steady,
                    GOAL,
                    cmd,
                    unit="x",
                    note=info if dry_run else f"{info}; whole fit {overall:.3f}x",
                )
            )
    text = "\n".join(
        [
            TITLE,
            "",
            _device_line(info),
            f"ResNet13 (base width {base_width}) on {samples} synthetic 3x32x32 images, 10 "
            f"classes, batch {BATCH}, Adam lr {LR}; L1Norm(bound={l1_bound:.4g}) on every weight "
            f"matrix and kernel, Orthogonality(bound=0, params={params!r}). One warm-up fit "
            f"(1 epoch) per configuration, then {repeats} repeat(s) of a {epochs}-epoch and a "
            "1-epoch fit each, in a rotated order, each fit (on CUDA) between two "
            "`torch.cuda.synchronize()` calls. Steady samples/s: from the difference of the two "
            "fits (per epoch, fixed costs removed); whole fit: samples x epochs / time of the "
            f"{epochs}-epoch fit; ratios to the plain loop are medians of per-repeat ratios.",
            f"Host: {machine_description()}.",
            "",
            md_table(
                [
                    "configuration",
                    "steady samples/s",
                    "ratio to plain loop",
                    "goal",
                    "whole-fit samples/s",
                    "whole-fit ratio",
                    "fixed cost per fit (s)",
                    "epochs run",
                ],
                rows,
            ),
            "",
            f"Command: `{cmd}`",
        ]
    )
    write_result(out_dir, NAME, text)
    print(text)
    print(f"[{NAME}: {time.perf_counter() - t0:.0f} s]\n", flush=True)
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None, help=">= 2 (default 3; 2 quick)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--base-width", type=int, default=None, help="default 64 (16 quick)")
    parser.add_argument(
        "--orth-params",
        default="all",
        help="'all' (every weight matrix and kernel, the default) or comma-separated patterns",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a small network, one short run (smoke test)"
    )
    parser.add_argument(
        "--device", default="cuda", help="'cuda' (default) or 'cpu' for a dry run of the code"
    )
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    return run(
        quick=args.quick,
        out_dir=args.out,
        samples=args.samples,
        epochs=args.epochs,
        repeats=args.repeats,
        orth_params=args.orth_params,
        base_width=args.base_width,
        device=args.device,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
