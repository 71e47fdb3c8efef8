"""GPU throughput: samples/s of ResNet13 under L1 + orthogonality, per method, against plain PyTorch.

On a CUDA device: ``sc.models.ResNet13`` (2.8M parameters) on synthetic
32x32x3 images with 10 random labels, trained by
``ConstrainedClassifier(device="cuda")`` under ``L1Norm`` (every weight
matrix and kernel, bound half of its initial value) and ``Orthogonality()``
(``bound=0``) with each method (``fp``, ``gda``, ``sal``, ``sadmm``), against
the same network in a plain PyTorch loop (Adam, the same batches, the data on
the device, no ``.item()``). Samples/s = samples x epochs / median fit time
(``torch.cuda.synchronize()`` before the clock stops); the ratio to the plain
loop has the goal ``>= 0.9`` (issue #6).

Both constraints cover every weight matrix and convolution kernel (the
default selection); ``--orth-params`` restricts the orthogonality to a
comma-separated list of parameter-name patterns (e.g. ``stem.0.weight,fc.weight``).

Without CUDA the benchmark prints ``skipped: no CUDA device`` and writes that
into its results file. The per-step absence of host-device synchronisation
is checked by ``tests/test_cuda.py`` (``torch.cuda.set_sync_debug_mode("error")``
around training steps).

Run: ``python -m benchmarks.gpu_throughput [--samples 10240] [--epochs 3] [--repeats 3] [--quick]``;
writes ``benchmarks/results/gpu_throughput.md``.
"""

import argparse
import sys
import time

import numpy as np
import torch

from ._common import (
    Figure,
    alternate,
    machine_description,
    md_table,
    median,
    quiet,
    resolve_out_dir,
    write_result,
)

NAME = "gpu_throughput"
METHODS = ("fp", "gda", "sal", "sadmm")
GOAL = ">= 0.9"
LR = 0.01


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


def plain_loop(X, y, epochs, batch_size, device, base_width=64):
    """The reference: the same ResNet13, Adam, shuffled batches on the device."""
    module = _module(base_width=base_width).to(device)
    X_t = torch.as_tensor(X, device=device)
    y_t = torch.as_tensor(y, dtype=torch.long, device=device)
    opt = torch.optim.Adam(module.parameters(), lr=LR)
    crit = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)
    n = len(X_t)
    module.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen).to(device)
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            opt.zero_grad(set_to_none=True)
            crit(module(X_t[idx]), y_t[idx]).backward()
            opt.step()
    _sync(device)
    return module


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _constraints(l1_bound, orth_params):
    from sklearn_constrained.constraints import L1Norm, Orthogonality

    return {"l1": L1Norm(bound=l1_bound), "orth": Orthogonality(bound=0.0, params=orth_params)}


def _estimator_fit(X, y, epochs, batch_size, method, constraints, base_width=64, device="cuda"):
    from sklearn_constrained import ConstrainedClassifier
    from sklearn_constrained.models import ResNet13

    clf = ConstrainedClassifier(
        module=ResNet13,
        module_params={"base_width": base_width},
        constraints=constraints,
        method=method,
        lr=LR,
        max_epochs=epochs,
        batch_size=batch_size,
        device=device,
        random_state=0,
    )
    with quiet():
        clf.fit(X, y)
    _sync(device)
    return clf


def measure(
    samples=10_240,
    epochs=3,
    batch_size=256,
    repeats=3,
    orth_params=None,
    base_width=64,
    device="cuda",
):
    """Fit times (wall-clock, per configuration); ``device="cpu"`` only to
    try the code path on a machine without CUDA.
    """
    X, y = synthetic_images(samples)
    l1_bound = 0.5 * float(
        sum(
            p.detach().abs().sum()
            for p in _module(base_width=base_width).parameters()
            if p.dim() >= 2
        )
    )
    cons = _constraints(l1_bound, orth_params)
    runners = {
        "plain PyTorch loop": lambda ep=epochs: plain_loop(
            X, y, ep, batch_size, device, base_width
        ),
        "estimator, constraints=None": lambda ep=epochs: _estimator_fit(
            X, y, ep, batch_size, "gda", None, base_width, device
        ),
    }
    for m in METHODS:
        runners[m] = lambda ep=epochs, m=m: _estimator_fit(
            X, y, ep, batch_size, m, cons, base_width, device
        )
    warm = {n: (lambda fn=fn: fn(1)) for n, fn in runners.items()}
    wall, _ = alternate(runners, repeats, warmup=warm)
    return wall, l1_bound


def run(quick=False, out_dir=None, samples=None, epochs=None, repeats=None, orth_params="all"):
    out_dir = resolve_out_dir(out_dir, quick)
    ok, info = cuda_status()
    cmd = "python -m benchmarks.gpu_throughput" + (" --quick" if quick else "")
    if orth_params not in (None, "all"):
        cmd += f" --orth-params {orth_params}"
    if not ok:
        text = "\n".join(
            [
                "# GPU throughput: ResNet13 with L1 + orthogonality, per method, against plain PyTorch",
                "",
                info,
                "",
                f"Machine: {machine_description()}; torch.cuda.is_available() is False.",
                "Run this benchmark on a machine with a CUDA device to measure it; the GPU-only test "
                "`tests/test_cuda.py` checks the absence of per-step host-device synchronisation there.",
                "",
                f"Command: `{cmd}`",
            ]
        )
        write_result(out_dir, NAME, text)
        print(info)
        return [
            Figure(
                NAME, f"ResNet13 samples/s, {m} / plain PyTorch loop", None, GOAL, cmd, note=info
            )
            for m in METHODS
        ]
    samples = samples or (1024 if quick else 10_240)
    epochs = epochs or (1 if quick else 3)
    repeats = repeats or (1 if quick else 3)
    base_width = 16 if quick else 64
    params = None if orth_params in (None, "all") else [p.strip() for p in orth_params.split(",")]
    t0 = time.perf_counter()
    wall, l1_bound = measure(samples, epochs, 256, repeats, params, base_width)
    med = {k: median(v) for k, v in wall.items()}
    rate = {k: samples * epochs / v for k, v in med.items()}
    ref = rate["plain PyTorch loop"]
    rows, figures = [], []
    for name in wall:
        goal = GOAL if name in METHODS else ""
        label = f"estimator, method={name!r}" if name in METHODS else name
        rows.append(
            [
                label,
                f"{med[name]:.3f}",
                f"{rate[name]:.0f}",
                f"{rate[name] / ref:.3f}",
                goal,
                ", ".join(f"{t:.2f}" for t in wall[name]),
            ]
        )
        if name in METHODS:
            figures.append(
                Figure(
                    NAME,
                    f"ResNet13 samples/s, {name} / plain PyTorch loop",
                    rate[name] / ref,
                    GOAL,
                    cmd,
                    unit="x",
                    note=info,
                )
            )
    text = "\n".join(
        [
            "# GPU throughput: ResNet13 with L1 + orthogonality, per method, against plain PyTorch",
            "",
            f"Device: {info} (torch {torch.__version__}, CUDA {torch.version.cuda}).",
            f"ResNet13 (base width {base_width}) on {samples} synthetic 3x32x32 images, 10 classes, {epochs} "
            f"epochs, batch 256, Adam lr {LR}; L1Norm(bound={l1_bound:.4g}) on every weight matrix and kernel, "
            f"Orthogonality(bound=0, params={params!r}); median of {repeats} alternating fits after one "
            "warm-up fit (1 epoch) each.",
            f"Host: {machine_description()}.",
            "",
            md_table(
                [
                    "configuration",
                    "median fit s",
                    "samples/s",
                    "ratio to plain loop",
                    "goal",
                    "wall-clock runs (s)",
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
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--orth-params",
        default="all",
        help="'all' (every weight matrix and kernel, the default) or comma-separated patterns",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a small network, one short run (smoke test)"
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
    )


if __name__ == "__main__":
    main(sys.argv[1:])
