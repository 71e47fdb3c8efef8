"""One constrained primal-dual step, shared by the skorch net and ``minimize``.

Keeping the step in one function (and out of any training-loop fork) lets the
estimators and the low-level solver run exactly the same mathematics.
"""

import torch

__all__ = ["all_finite", "constrained_step", "evaluate_states"]


def evaluate_states(evaluators, batch=None):
    """Every evaluator's :class:`~sklearn_constrained.constraints.ConstraintState`.

    Data-dependent evaluators see ``batch``; weight constraints ignore it.
    """
    return {
        name: e.evaluate(batch if e.requires_data else None) for name, e in evaluators.items()
    }


def constrained_step(optimizer, evaluate, method, project=None):
    """Take one primal step, with the method's dual updates.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        Called with a closure, so line-search optimizers (L-BFGS) work; the
        closure may run several times, but :meth:`method.observe` (the
        per-step dual update) runs only at the first evaluation, i.e. at the
        current primal point.
    evaluate : callable
        ``evaluate() -> (objective, states)``.
    method : ConstrainedMethod
        A bound method.
    project : callable, default=None
        Called (without arguments, under ``torch.no_grad``) right after the
        primal step and before ``method.after_step()``: the projection onto
        simple bounds of :func:`~sklearn_constrained.optim.minimize`.

    Returns
    -------
    dict
        ``objective``, ``loss`` and ``states`` of the first evaluation,
        detached and still on the device (nothing is synchronised).
    """
    out = {}

    def closure():
        optimizer.zero_grad(set_to_none=True)
        objective, states = evaluate()
        first = not out
        if first:
            method.observe(states)
        loss = method.loss(objective, states)
        loss.backward()
        method.after_backward()
        if first:
            out["objective"] = objective.detach()
            out["loss"] = loss.detach()
            out["states"] = states
        return loss

    optimizer.step(closure)
    if project is not None:
        with torch.no_grad():
            project()
    method.after_step()
    return out


def all_finite(tensors):
    """Whether every tensor is finite, with one host synchronisation."""
    flags = [torch.isfinite(t).all() for t in tensors if t is not None and t.numel()]
    if not flags:
        return True
    return bool(torch.stack(flags).all())
