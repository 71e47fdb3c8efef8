"""One constrained primal-dual step, shared by the skorch net and `minimize`.

Keeping the step in one function (and out of any training-loop fork) lets the
estimators and the low-level solver run exactly the same mathematics.
"""

import torch

__all__ = ["evaluate_bound", "constrained_step"]


def evaluate_bound(bound_constraints, ctx=None):
    """Evaluate every bound constraint on a batch context (or the weights)."""
    return {
        name: b.evaluate(ctx if b.requires_data else None) for name, b in bound_constraints.items()
    }


def constrained_step(optimizer, evaluate, method, project=None):
    """Take one primal step (and the method's dual updates).

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        Called with a closure, so line-search optimizers (L-BFGS) work; the
        closure may run several times, but the dual update runs only on the
        first evaluation, i.e. at the current primal point.
    evaluate : callable
        ``evaluate() -> (objective, evals)`` with ``evals`` a dict of
        :class:`~sklearn_constrained.constraints.ConstraintEval`.
    method : ConstrainedMethod
        A method on which ``_setup`` has been called.
    project : callable, default=None
        Called (without arguments, under ``torch.no_grad``) right after the
        primal step and before ``method._after_step()``: the projection onto
        simple bounds of :func:`~sklearn_constrained.optim.minimize`.

    Returns
    -------
    dict
        ``objective``, ``loss`` and ``evals`` of the first evaluation, all
        detached and still on the device (nothing is synchronised).
    """
    out = {}

    def closure():
        optimizer.zero_grad(set_to_none=True)
        objective, evals = evaluate()
        first = not out
        loss = method._compute_loss(objective, evals, update_duals=first)
        loss.backward()
        method._after_backward(evals, update_duals=first)
        if first:
            out["objective"] = objective.detach()
            out["loss"] = loss.detach()
            out["evals"] = evals
        return loss

    optimizer.step(closure)
    if project is not None:
        with torch.no_grad():
            project()
    method._after_step()
    return out


def all_finite(tensors):
    """One host synchronisation: whether every tensor is finite."""
    flags = [torch.isfinite(t).all() for t in tensors if t is not None and t.numel()]
    if not flags:
        return True
    return bool(torch.stack(flags).all())
