"""Inference and constraint evaluation of a fitted estimator.

Used by ``predict``, ``evaluate_constraints``, the end of ``fit`` (``feasible_``),
the constraint scorer and the constraint report: the module runs in
evaluation mode, without gradients, on fixed-size chunks (so a row's
prediction does not depend on the rows predicted with it), and data-dependent
constraints are evaluated on fresh evaluators that see the whole data as one
batch (exact true rates, not running estimates).
"""

from dataclasses import dataclass

import torch

from ._training._data import predict_chunks
from ._training._step import evaluate_states
from .constraints import BatchContext
from .constraints._feasibility import judge, largest_violation

__all__ = ["ConstraintValues", "bind_constraints", "evaluate_on", "forward"]


def _module_place(module):
    param = next(module.parameters(), None)
    if param is None:
        return torch.device("cpu"), torch.float32
    return param.device, param.dtype


def forward(module, X):
    """The module's raw outputs on validated ``X``, as a float64 tensor on the CPU."""
    device, dtype = _module_place(module)
    outs = predict_chunks(module, X, device, dtype=dtype)
    if not outs:
        return torch.empty(0, dtype=torch.float64)
    return torch.cat(outs).cpu().double()


def bind_constraints(constraints, module, *, classes=None, classifier=True, n_samples=None,
                     external=False):
    """Bind every constraint to ``module`` and set up its evaluator."""
    evaluators = {}
    for name, c in constraints.items():
        e = c.bind(module, name)
        e.setup(classes=classes, classifier=classifier, n_samples=n_samples, external=external)
        evaluators[name] = e
    return evaluators


@dataclass
class ConstraintValues:
    """Each constraint's value and largest violation on some data.

    Attributes
    ----------
    values, violations : dict of str to float
    entries : dict of str to int
        The number of entries of each strict violation.
    slacks : dict of str to float
        How far inside its level(s) each constraint is: minus its largest
        strict-violation entry (minus the largest magnitude for an equality);
        negative when violated.
    evaluators : dict of str to ConstraintEvaluator
        The evaluators that saw the data: a data-dependent one's ``counts()``
        are the exact per-group counts behind its rates.
    """

    values: dict
    violations: dict
    entries: dict
    slacks: dict
    evaluators: dict

    def judge(self, constraints, tol):
        """The feasibility verdict of these values at the constraints' levels."""
        return judge(constraints, self.values, self.violations, tol, self.entries)


def evaluate_on(module, evaluators, X=None, y=None, groups=None, n_groups=0, target_scale=1.0,
                sample_weight=None):
    """The true value of every constraint on the data (the whole data as one batch).

    Parameters
    ----------
    module : torch.nn.Module
    evaluators : dict of str to ConstraintEvaluator
        Data-dependent ones are evaluated on fresh copies.
    X : array-like, tensor or sparse matrix, default=None
        Needed when a constraint depends on the data.
    y, groups, sample_weight : tensors, default=None

    Returns
    -------
    ConstraintValues
    """
    batch = None
    if any(e.requires_data for e in evaluators.values()):
        device, dtype = _module_place(module)
        logits = torch.cat(predict_chunks(module, X, device, dtype=dtype))

        def put(t):
            return None if t is None else torch.as_tensor(t).to(device)

        batch = BatchContext(logits, put(y), put(groups), n_groups, target_scale,
                             put(sample_weight))
    with torch.no_grad():
        fresh = {n: (e.fresh() if e.requires_data else e) for n, e in evaluators.items()}
        states = evaluate_states(fresh, batch)
        summary = []
        for name, s in states.items():
            value = s.value if s.value.numel() == 1 else s.value.max()
            summary.append(value.detach().double().reshape(1))
            summary.append(largest_violation(evaluators[name].kind, s.strict_violation)
                           .double().reshape(1))
            strict = s.strict_violation.detach().double().reshape(-1)
            if evaluators[name].kind == "equality":
                strict = strict.abs()
            summary.append(strict.max().reshape(1) if strict.numel() else strict.new_zeros(1))
        flat = torch.cat(summary).cpu().tolist() if summary else []
    names = list(states)
    values = {n: flat[3 * i] for i, n in enumerate(names)}
    violations = {n: flat[3 * i + 1] for i, n in enumerate(names)}
    slacks = {n: -flat[3 * i + 2] for i, n in enumerate(names)}
    entries = {n: int(s.strict_violation.numel()) for n, s in states.items()}
    return ConstraintValues(values, violations, entries, slacks, {n: fresh[n] for n in names})
