"""Fit-time overhead of constraints: constrained / unconstrained fit time, per method.

For each case (a constraint on a network and a data set) and each method
(``fp``, ``gda``, ``sal``, ``sadmm``), the ratio of the median fit time of
``ConstrainedClassifier(constraints={...}, method=m)`` to that of the same
estimator with ``constraints=None``: same network, data, epochs, batch size
and seed. Reference rows time the same network in a plain PyTorch loop (Adam,
the same shuffled slices; and, for the digits case, skorch's
``NeuralNetClassifier``), so the estimator's own overhead shows too.

Protocol: ``torch.set_num_threads(1)``; every configuration is run once to
warm up (one epoch), then ``--repeats`` (7) timed fits per configuration,
alternating between the configurations (in a rotated order each repeat).
A ratio is the median over the repeats of the fit time over the same
repeat's ``constraints=None`` fit time (paired, so that a change of the
machine's load during the run cancels out), in wall-clock time, with the
same ratio in process CPU time beside it (less sensitive to other processes
on a shared machine).

Cases:

- ``l2``: ``L2Norm(bound=100)`` on every weight matrix of an MLP 64-64-10 on
  scikit-learn's digits (1,797 samples, 30 epochs, batch 128); the bound is
  active (the unconstrained network ends near 500).
- ``orth``: ``Orthogonality()`` (``bound=0``: exact kernel orthogonality, an
  equality with one multiplier per Gram entry) on the two convolution kernels
  of ``sc.models.CNN`` on the digits as 8x8 images (5 epochs, batch 128).
- ``dp``: ``DemographicParity(bound=0.05)`` (sex) on an MLP on a 20,000-row
  subsample of Adult (standardised, 5 epochs, batch 256). S-ADMM needs a
  closed-form projection and has none for a rate constraint: no row.

Goals (issue #6): ratio <= 1.10 for fp, gda and sal; <= 1.25 for sadmm.

Run: ``python -m benchmarks.overhead [--cases l2 orth dp] [--repeats 7] [--epochs N] [--quick]``;
writes ``benchmarks/results/overhead_<case>.md``.
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
    paired_ratio,
    quiet,
    resolve_out_dir,
    write_result,
)

NAME = "overhead"
METHODS = ("fp", "gda", "sal", "sadmm", "auto")
GOALS = {"fp": "<= 1.10", "gda": "<= 1.10", "sal": "<= 1.10", "sadmm": "<= 1.25", "auto": "<= 1.10"}
LR = 0.01  # the estimators' default for Adam


# ----------------------------------------------------------------------------
# data and cases
# ----------------------------------------------------------------------------
def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y, None


def _adult(n=20_000, seed=0):
    from sklearn.preprocessing import StandardScaler

    from sklearn_constrained.datasets import load_adult

    X, y, s = load_adult(return_X_y=True)
    idx = np.random.RandomState(seed).choice(len(X), n, replace=False)
    X = StandardScaler().fit_transform(X[idx]).astype(np.float32)
    return X, y[idx], s[idx]


def _cases():
    from sklearn_constrained import models
    from sklearn_constrained.constraints import DemographicParity, L2Norm, Orthogonality

    return {
        "l2": dict(
            title="L2Norm(bound=100) on an MLP 64-64-10, load_digits",
            label="L2Norm, MLP on digits",
            data=_digits,
            module=models.MLP,
            constraint=lambda: L2Norm(bound=100.0),
            epochs=30,
            quick_epochs=2,
            batch_size=128,
            methods=METHODS,
            skorch=True,
        ),
        "orth": dict(
            title="Orthogonality() of the conv kernels of sc.models.CNN, load_digits as 8x8 images",
            label="Orthogonality, CNN on digits",
            data=_digits,
            module=models.CNN,
            constraint=lambda: Orthogonality(params="features.*"),
            epochs=5,
            quick_epochs=1,
            batch_size=128,
            methods=METHODS,
            skorch=False,
        ),
        "dp": dict(
            title="DemographicParity(bound=0.05) on an MLP 106-64-2, Adult (20,000 rows, sex)",
            label="DemographicParity, MLP on Adult",
            data=_adult,
            module=models.MLP,
            constraint=lambda: DemographicParity(bound=0.05),
            epochs=5,
            quick_epochs=1,
            batch_size=256,
            methods=("fp", "gda", "sal", "auto"),
            skorch=False,
            quick_rows=2000,
        ),
    }


# ----------------------------------------------------------------------------
# the configurations
# ----------------------------------------------------------------------------
def _estimator(case, method, epochs, constrained):
    from sklearn_constrained import ConstrainedClassifier

    return ConstrainedClassifier(
        module=case["module"],
        constraints={"c": case["constraint"]()} if constrained else None,
        method=method,
        max_epochs=epochs,
        n_iter_no_change=None,  # a fixed number of epochs: the times compare
        early_stopping=False,
        batch_size=case["batch_size"],
        lr=LR,
        device="cpu",
        random_state=0,
    )


def _fit_estimator(case, X, y, s, method, epochs, constrained):
    clf = _estimator(case, method, epochs, constrained)
    with quiet():
        if constrained and s is not None:
            clf.fit(X, y, sensitive_features=s)
        else:
            clf.fit(X, y)
    return clf


def plain_torch_loop(module, X, y, epochs, batch_size, lr=LR, seed=0):
    """The reference: Adam on cross-entropy over shuffled slices, nothing else."""
    X_t = torch.as_tensor(X, dtype=torch.float32)
    y_t = torch.as_tensor(y, dtype=torch.long)
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    crit = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    n = len(X_t)
    module.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = crit(module(X_t[idx]), y_t[idx])
            loss.backward()
            opt.step()
    return module


def _build_module(case, X, n_classes, seed=0):
    torch.manual_seed(seed)
    return case["module"].from_data(int(np.prod(X.shape[1:])), n_classes, input_shape=X.shape[1:])


def _fit_skorch(case, X, y, epochs, n_classes):
    from skorch import NeuralNetClassifier

    net = NeuralNetClassifier(
        _build_module(case, X, n_classes),
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=LR,
        max_epochs=epochs,
        batch_size=case["batch_size"],
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
        device="cpu",
    )
    with quiet():
        net.fit(X, y.astype(np.int64))
    return net


def _configs(case, X, y, s, epochs):
    n_classes = len(np.unique(y))
    runners = {
        "plain torch loop (reference)": lambda ep=epochs: plain_torch_loop(
            _build_module(case, X, n_classes), X, y, ep, case["batch_size"]
        ),
    }
    if case.get("skorch"):
        runners["skorch NeuralNetClassifier (reference)"] = lambda ep=epochs: _fit_skorch(
            case, X, y, ep, n_classes
        )
    runners["estimator, constraints=None"] = lambda ep=epochs: _fit_estimator(
        case, X, y, s, "gda", ep, False
    )
    for m in case["methods"]:
        runners[m] = lambda ep=epochs, m=m: _fit_estimator(case, X, y, s, m, ep, True)
    return runners


# ----------------------------------------------------------------------------
# measurement and report
# ----------------------------------------------------------------------------
def measure_case(key, repeats=5, quick=False, epochs=None):
    case = _cases()[key]
    X, y, s = case["data"]()
    if quick and case.get("quick_rows") and len(X) > case["quick_rows"]:
        X, y = X[: case["quick_rows"]], y[: case["quick_rows"]]
        s = None if s is None else s[: case["quick_rows"]]
    epochs = epochs or (case["quick_epochs"] if quick else case["epochs"])
    runners = _configs(case, X, y, s, epochs)
    warm = {n: (lambda fn=fn: fn(1)) for n, fn in runners.items()}
    wall, cpu = alternate(runners, repeats, warmup=warm)
    # a check that the constrained fits did train under their constraint
    clf = _fit_estimator(case, X, y, s, "gda", epochs, True)
    value = clf.constraint_values_["c"]
    return dict(
        key=key,
        case=case,
        wall=wall,
        cpu=cpu,
        epochs=epochs,
        n=len(X),
        repeats=repeats,
        gda_value=value,
        gda_feasible=clf.feasible_,
    )


def _command(key, res, quick):
    cmd = f"python -m benchmarks.overhead --cases {key}"
    if res["repeats"] != 7:
        cmd += f" --repeats {res['repeats']}"
    if res["epochs"] != (res["case"]["quick_epochs"] if quick else res["case"]["epochs"]):
        cmd += f" --epochs {res['epochs']}"
    if res["threads"] != 1:
        cmd += f" --threads {res['threads']}"
    return cmd + (" --quick" if quick else "")


def report(res, quick=False):
    key, case = res["key"], res["case"]
    wall, cpu = res["wall"], res["cpu"]
    base_key, ref = "estimator, constraints=None", "plain torch loop (reference)"
    med = {k: median(v) for k, v in wall.items()}
    cmd = _command(key, res, quick)
    rows, figures = [], []
    for name in wall:
        is_method = name in METHODS
        label = f"estimator, method={name!r}" if is_method else name
        runs = ", ".join(f"{t:.2f}" for t in wall[name])
        goal = GOALS[name] if is_method else ""
        ratio, cratio = (
            paired_ratio(wall[name], wall[base_key]),
            paired_ratio(cpu[name], cpu[base_key]),
        )
        rows.append([label, f"{med[name]:.3f}", f"{ratio:.3f}", f"{cratio:.3f}", goal, runs])
        if is_method:
            figures.append(
                Figure(
                    NAME,
                    f"{case['label']}: {name} / unconstrained",
                    ratio,
                    goal,
                    cmd,
                    unit="x",
                    note=f"CPU-time ratio {cratio:.3f}",
                    extra={"cpu_ratio": cratio},
                )
            )
    figures.append(
        Figure(
            NAME,
            f"{case['label']}: estimator (constraints=None) / plain torch loop",
            paired_ratio(wall[base_key], wall[ref]),
            "",
            cmd,
            unit="x",
            note="the estimator's own overhead (validation, skorch, per-epoch bookkeeping)",
        )
    )
    missing = [m for m in METHODS if m not in case["methods"]]
    text = [
        f"# Overhead of constraints: {case['title']}",
        "",
        f"{res['n']} samples, {res['epochs']} epochs, batch {case['batch_size']}, Adam lr {LR}, "
        f"seed 0; {res['repeats']} alternating repeats after one warm-up fit each (every repeat "
        "runs every configuration, in a rotated order); ratio = median over the repeats of the fit "
        "time over that repeat's constraints=None fit time (wall clock; CPU time beside it).",
        f"Machine: {machine_description(threads=torch.get_num_threads())}.",
        "",
        md_table(
            [
                "configuration",
                "median wall s",
                "ratio to constraints=None",
                "CPU-time ratio",
                "goal",
                "wall-clock runs (s)",
            ],
            rows,
        ),
        "",
        f"Constraint value after the GDA fit: {res['gda_value']:.4g} "
        f"(feasible_={res['gda_feasible']}).",
    ]
    if missing:
        text.append(
            f"No row for {', '.join(missing)}: S-ADMM needs a closed-form projection of every "
            "constraint, and a rate constraint has none (the estimator raises a ValueError)."
        )
    text += ["", f"Command: `{cmd}`"]
    return "\n".join(text), figures


def run(quick=False, out_dir=None, cases=None, repeats=None, epochs=None, threads=1):
    """Run the cases, write ``overhead_<case>.md`` each, return the figures."""
    torch.set_num_threads(threads)
    out_dir = resolve_out_dir(out_dir, quick)
    repeats = repeats or (1 if quick else 7)
    figures = []
    for key in cases or list(_cases()):
        t0 = time.perf_counter()
        res = measure_case(key, repeats=repeats, quick=quick, epochs=epochs)
        res["threads"] = threads
        text, figs = report(res, quick)
        write_result(out_dir, f"{NAME}_{key}", text)
        print(text)
        print(f"[{NAME} {key}: {time.perf_counter() - t0:.0f} s]\n", flush=True)
        figures += figs
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(_cases()), default=None)
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed runs per configuration (default 7)"
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="epochs per fit (default: the case's)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument(
        "--quick", action="store_true", help="one short run per configuration (smoke test)"
    )
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    return run(
        quick=args.quick,
        out_dir=args.out,
        cases=args.cases,
        repeats=args.repeats,
        epochs=args.epochs,
        threads=args.threads,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
