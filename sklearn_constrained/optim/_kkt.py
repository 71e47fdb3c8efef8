"""Placeholder of the KKT test (replaced by the full test)."""

import numpy as np

__all__ = ["kkt_verdict"]


def kkt_verdict(fun, x, evaluators, multipliers, box, tol, feasibility):
    """Feasibility only (placeholder)."""
    worst = max(feasibility.violations.values(), default=0.0)
    ok = feasibility.feasible
    return {
        "success": ok,
        "message": "feasible" if ok else f"not feasible: largest violation {worst:.3g}",
        "optimality": np.nan,
        "constr_violation": worst,
    }
