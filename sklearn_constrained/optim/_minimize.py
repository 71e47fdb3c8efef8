"""``minimize``: the constrained methods on a plain PyTorch problem."""

import math
import numbers

import numpy as np
import torch
from scipy.optimize import OptimizeResult

from .._training._epoch import end_outer_iteration
from .._training._step import constrained_step, evaluate_states
from ..constraints._feasibility import judge
from ..methods import resolve_method
from ..utils._validation import resolve_optimizer
from ._problem import FunctionConstraint
from ._step_size import RUNAWAY, AutoStep

__all__ = ["minimize"]


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"minimize: `{name}` must be an integer >= {low}; got {value!r}.")
    return int(value)


def _as_variable(x0, dtype, device):
    if isinstance(x0, torch.Tensor):
        t = x0.detach().clone()
        if dtype is None:
            dtype = t.dtype if t.is_floating_point() else torch.float64
    else:
        try:
            arr = np.array(x0, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"minimize: `x0` must be array-like of numbers; got {x0!r}.") from exc
        t = torch.from_numpy(arr)
        dtype = torch.float64 if dtype is None else dtype
    t = t.to(dtype=dtype, device=device if device is not None else t.device)
    if not torch.isfinite(t).all():
        raise ValueError("minimize: `x0` must be finite.")
    return torch.nn.Parameter(t)


def _as_constraints(constraints):
    if constraints is None:
        return []
    if isinstance(constraints, FunctionConstraint):
        constraints = [constraints]
    out = list(constraints)
    for i, c in enumerate(out):
        if not isinstance(c, FunctionConstraint):
            raise TypeError(
                f"minimize: constraints[{i}] must be sklearn_constrained.optim.Inequality or "
                f"Equality, e.g. Inequality(lambda x: x.sum(), upper=1.0); got {c!r}."
            )
        c.check_params()
    return out


def _as_bounds(bounds, x):
    """``(low, high)`` tensors shaped like x (``-inf``/``inf`` for None), or None."""
    if bounds is None:
        return None
    n = x.numel()
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):  # scipy.optimize.Bounds
        lo = np.broadcast_to(np.asarray(bounds.lb, dtype=np.float64), (n,)).copy()
        hi = np.broadcast_to(np.asarray(bounds.ub, dtype=np.float64), (n,)).copy()
    else:
        pairs = list(bounds)
        if len(pairs) != n:
            raise ValueError(
                f"minimize: `bounds` needs one (low, high) pair per coordinate of x0 "
                f"({n}); got {len(pairs)}."
            )
        lo, hi = np.empty(n), np.empty(n)
        for i, pair in enumerate(pairs):
            try:
                low, high = pair
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"minimize: bounds[{i}] must be a (low, high) pair; got {pair!r}."
                ) from exc
            lo[i] = -np.inf if low is None else float(low)
            hi[i] = np.inf if high is None else float(high)
    if np.any(np.isnan(lo)) or np.any(np.isnan(hi)) or np.any(lo > hi):
        raise ValueError("minimize: every bound needs low <= high (None for unbounded).")
    if np.all(np.isinf(lo)) and np.all(np.isinf(hi)):
        return None
    shape = x.shape
    lo_t = torch.as_tensor(lo, dtype=x.dtype, device=x.device).reshape(shape)
    hi_t = torch.as_tensor(hi, dtype=x.dtype, device=x.device).reshape(shape)
    return lo_t, hi_t


def _numpy(t):
    return np.atleast_1d(t.detach().double().cpu().numpy())


def minimize(
    fun,
    x0,
    constraints=(),
    method="auto",
    optimizer="sgd",
    lr=None,
    max_iter=1000,
    bounds=None,
    random_state=None,
    *,
    inner_steps=None,
    tol=1e-4,
    optimizer_params=None,
    dtype=None,
    device=None,
    callback=None,
):
    r"""Minimise ``fun(x)`` under constraints with a constrained-training method.

    The same method objects that train the estimators
    (:class:`~sklearn_constrained.methods.GDA`,
    :class:`~sklearn_constrained.methods.SAL`,
    :class:`~sklearn_constrained.methods.SADMM`,
    :class:`~sklearn_constrained.methods.FixedPenalty`) run here on a
    single tensor variable ``x``, through the same constrained step.

    How the methods map onto the iterations:

    - ``"gda"``: one dual update (from the constraint defects at the current
      ``x``) and one primal step per iteration, as in eqs. 8-10 of Ramirez
      et al.; with ``optimizer="lbfgs"``, one L-BFGS solve per dual update.
    - ``"sal"``: an outer iteration of Algorithm 2 is ``inner_steps`` primal
      steps on the augmented Lagrangian (full batch here, so with
      ``optimizer="lbfgs"`` and ``inner_steps=1`` this is the deterministic
      Algorithm 1 with SAL's penalty logic); after it the multipliers are
      accepted or the penalty grows, and the primal optimizer is re-created.
      ``max_iter // inner_steps`` outer iterations run at most; SAL's
      ``tol_objective``/``tol_violation`` stop it earlier.
    - ``"sadmm"``: ``x`` is the primal copy; each constraint needs a
      ``prox=`` (its Euclidean projection, e.g.
      :func:`~sklearn_constrained.optim.project_nonnegative`), and gets a
      split copy and a scaled dual updated after every primal step. The
      returned ``x`` is the feasible split copy (``SADMM(predict_with="primal")``
      returns the primal one; both are in ``result.method.primal_`` and
      ``.split_``).
    - ``"fp"``: gradient steps on ``fun + penalty * violation``.

    Every ``inner_steps`` iterations (an *outer iteration*) the constraints
    are evaluated at the current ``x``, the method's per-epoch logic runs,
    one ``history`` record is appended and ``callback`` is called; between
    them the loop never synchronises with the device.

    Parameters
    ----------
    fun : callable
        ``fun(x: torch.Tensor) -> scalar tensor``, differentiable.
    x0 : array-like or torch.Tensor
        The starting point (any shape; ``x`` keeps it). Arrays are solved in
        float64.
    constraints : Inequality, Equality or sequence of them, default=()
        :class:`~sklearn_constrained.optim.Inequality` (``g(x) <= upper``,
        with an optional differentiable ``proxy``) and
        :class:`~sklearn_constrained.optim.Equality` (``h(x) == target``).
    method : {"auto", "gda", "sal", "sadmm", "fp"} or ConstrainedMethod, default="auto"
        The method, by short name (default hyperparameters) or as an object
        from :mod:`sklearn_constrained.methods`; the object is not modified.
        ``"auto"`` (:class:`~sklearn_constrained.methods.Auto`) needs no
        dual step size.
    optimizer : {"sgd", "adam", "adamw", "lbfgs"} or torch.optim.Optimizer class, default="sgd"
        The primal optimizer. ``"lbfgs"`` uses a strong Wolfe line search.
    lr : float, default=None
        Primal step size. ``None``: for SGD, set from the problem's
        curvature at ``x0`` and re-measured after every outer iteration
        (see :mod:`sklearn_constrained.optim._step_size`: the iterates do not
        change when ``fun`` and the constraints are multiplied by a
        constant); 1.0 for L-BFGS; 0.01 for the other optimizers. With the
        self-set SGD step, an outer iteration that diverged (its objective,
        ``x`` or a multiplier not finite) or ran away (a violation past
        10^4 times the larger of the start's violation and
        ``max(1, |level|)``) is undone at a quarter of the step; after 10
        such restarts the solve stops with status 2 at the last point
        before it.
    max_iter : int, default=1000
        Number of primal steps (L-BFGS: of ``.step`` calls, each up to the
        optimizer's own ``max_iter`` inner iterations).
    bounds : sequence of (low, high) or scipy.optimize.Bounds, default=None
        Per-coordinate bounds (``None`` for unbounded), enforced by
        projection (clipping) after every primal step.
    random_state : None or int, default=None
        Seeds torch's RNG during the solve (for stochastic ``fun``); the
        global RNG state is restored afterwards.
    inner_steps : int, default=None
        Primal steps per outer iteration; ``None`` means 1 with
        ``optimizer="lbfgs"``, else 100.
    tol : float, default=1e-4
        Feasibility tolerance for ``success``: every inequality's defect
        ``<= tol``, every equality's ``|defect| <= tol``.
    optimizer_params : dict, default=None
        Extra keyword arguments of the optimizer (``momentum``; L-BFGS's
        ``max_iter``, ``tolerance_grad``, ...).
    dtype : torch.dtype, default=None
        The variable's dtype: float64 for array input, the tensor's dtype
        for tensor input.
    device : str or torch.device, default=None
        Where to solve; ``None`` keeps ``x0``'s device (CPU for arrays).
    callback : callable, default=None
        ``callback(xk)`` with a NumPy copy of ``x`` after each outer
        iteration; returning ``True`` or raising ``StopIteration`` stops.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x`` (NumPy, shaped like ``x0``), ``fun`` (float), ``multipliers``
        (one NumPy array per constraint, in order; the penalties for
        ``"fp"``, least-squares estimates for ``"sadmm"``),
        ``constraint_values`` (one array per constraint: the value of its
        function), ``constr_violation`` and ``maxcv`` (the largest
        violation), ``optimality`` (the norm of the Lagrangian's gradient
        projected onto the bounds, with least-squares multipliers, as in
        SciPy's ``trust-constr``), ``success`` (a KKT point within ``tol``:
        feasible, complementary and stationary, the stationarity relative to
        the start's gradient :math:`\|\nabla f(x_0)\|_\infty`; never for a
        merely feasible point), ``status`` (0 success, 1 not a KKT point
        after ``max_iter``, 2 diverged, 3 stopped by the method's or the
        callback's test before a KKT point), ``message`` (which test
        failed, with its figures), ``nit`` (primal
        steps taken), ``n_outer`` (outer iterations), ``history`` (one
        dict per outer iteration: ``iteration``, ``objective``,
        ``constraints``, ``multipliers``, ``penalty``) and ``method`` (the
        fitted method object).

    Examples
    --------
    Minimise :math:`x_1^2 + x_2^2` subject to :math:`x_1 + x_2 \ge 1`
    (solution :math:`(0.5, 0.5)`, multiplier 1):

    >>> import numpy as np
    >>> from sklearn_constrained.methods import GDA
    >>> from sklearn_constrained.optim import Inequality, minimize
    >>> res = minimize(lambda x: (x ** 2).sum(), [0.0, 0.0],
    ...                [Inequality(lambda x: 1 - x.sum(), upper=0.0)],
    ...                method=GDA(dual_lr=0.5, augmented=True, penalty=1.0),
    ...                lr=0.1, max_iter=2000)
    >>> res.success, np.round(res.x, 4).tolist(), np.round(res.multipliers[0], 4).tolist()
    (True, [0.5, 0.5], [1.0])
    """
    if not callable(fun):
        raise TypeError(f"minimize: `fun` must be a callable x -> scalar tensor; got {fun!r}.")
    max_iter = _check_int("max_iter", max_iter, 1)
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not (0 <= tol < math.inf):
        raise ValueError(f"minimize: `tol` must be a finite number >= 0; got {tol!r}.")
    if optimizer_params is not None and not isinstance(optimizer_params, dict):
        raise ValueError(
            f"minimize: `optimizer_params` must be None or a dict; got {optimizer_params!r}."
        )
    if callback is not None and not callable(callback):
        raise TypeError(f"minimize: `callback` must be callable; got {callback!r}.")
    rs = random_state
    if rs is not None and (isinstance(rs, bool) or not isinstance(rs, numbers.Integral)):
        raise ValueError(f"minimize: `random_state` must be None or an int; got {rs!r}.")

    cons = _as_constraints(constraints)
    method = resolve_method(method)
    method.check_params()
    lr_given = lr is not None
    opt_cls, lr, opt_kwargs, _ = resolve_optimizer(optimizer, lr)
    auto_step = not lr_given and issubclass(opt_cls, torch.optim.SGD)
    opt_kwargs = {**opt_kwargs, **(optimizer_params or {})}
    is_lbfgs = issubclass(opt_cls, torch.optim.LBFGS)
    if inner_steps is None:
        inner_steps = 1 if is_lbfgs else 100
    else:
        inner_steps = _check_int("inner_steps", inner_steps, 1)

    x = _as_variable(x0, dtype, torch.device(device) if device is not None else None)
    names = [f"c{i}" for i in range(len(cons))]
    constraints_by_name = dict(zip(names, cons, strict=True))
    evaluators = {name: c.bind(x, name) for name, c in constraints_by_name.items()}
    kinds = {n: e.kind for n, e in evaluators.items()}
    box = _as_bounds(bounds, x)
    method.bind(evaluators, device=x.device, dtype=x.dtype)
    method.set_primal_optimizer(opt_cls)

    def make_optimizer():
        return opt_cls([x], lr=lr, **opt_kwargs)

    project = None
    if box is not None:
        lo, hi = box

        def project():
            x.clamp_(lo, hi)

        with torch.no_grad():
            project()

    def evaluate():
        return fun(x), evaluate_states(evaluators)

    history = []
    status, stop_reason = None, None
    fork = torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else [])
    with fork:
        if rs is not None:
            torch.manual_seed(int(rs) % (2**63))
        with torch.no_grad():
            f0 = fun(x)
        if not isinstance(f0, torch.Tensor) or f0.numel() != 1:
            shape = "" if not isinstance(f0, torch.Tensor) else f" of shape {tuple(f0.shape)}"
            raise ValueError(
                "minimize: `fun(x)` must return a scalar torch tensor (one element); got "
                f"{type(f0).__name__}{shape}."
            )
        # the size of a typical gradient, for the scale-free stationarity test
        x0_grad = torch.autograd.grad(fun(x), x, allow_unused=True)[0]
        # (the start's gradient itself: multiplying the problem by a constant
        # leaves the verdict as it is; 1 where that gradient vanishes)
        g0 = 0.0 if x0_grad is None else float(x0_grad.abs().max())
        grad_scale = g0 if math.isfinite(g0) and g0 > 0 else 1.0
        step = AutoStep(fun, x, evaluators, method) if auto_step else None
        if step is not None:
            lr = step.start()
        opt = make_optimizer()
        nit = 0
        for nit in range(1, max_iter + 1):
            if is_lbfgs and nit > 1:
                # each L-BFGS step is a fresh solve of the current subproblem:
                # the multipliers (or split variables) moved since the last one
                opt = make_optimizer()
            constrained_step(opt, evaluate, method, project)
            if nit % inner_steps and nit != max_iter:
                continue
            # the outer iteration: the same epoch end as the estimators'
            with torch.no_grad():
                objective, states = fun(x), evaluate_states(evaluators)
            record = end_outer_iteration(method, objective, objective, states, kinds)
            record["iteration"] = nit
            history.append(record)
            finite = _finite(record) and bool(torch.isfinite(x).all())
            ran_away = step is not None and step.ran_away(record["largest_violations"])
            if step is not None:
                # the self-set step: back to the last finite outer iteration with a
                # smaller step after a divergence or a runaway, else re-measured at
                # the new point
                restored = step.after_outer_iteration(finite and not ran_away)
                lr = step.lr
                if restored:
                    history.pop()
                    opt = make_optimizer()
                    continue
                for group in opt.param_groups:
                    group["lr"] = lr
            if not finite:
                status, stop_reason = 2, "diverged: the objective, x or a multiplier is not finite"
                break
            if ran_away:
                # the restarts are spent: the last finite point (restored) is kept
                status = 2
                stop_reason = (
                    f"diverged: a violation grew past {RUNAWAY:g} times its start's and its "
                    f"level's size after {step.restarts} smaller steps; the last point before "
                    "it is returned (try a smaller lr or a better-scaled problem)"
                )
                break
            if callback is not None:
                try:
                    if callback(x.detach().cpu().numpy().copy()) is True:
                        stop_reason = "stopped by the callback"
                        break
                except StopIteration:
                    stop_reason = "stopped by the callback"
                    break
            if record["method_stop"]:
                stop_reason = f"{type(method).__name__}'s stopping tolerances were met"
                break
            if method.resets_primal_optimizer and not is_lbfgs:
                opt = make_optimizer()
        method.finalize()
        # inside the fork: the final evaluation of a stochastic `fun` is seeded too
        # and leaves the global RNG untouched
        return _result(fun, x, evaluators, constraints_by_name, kinds, method, box, tol, status,
                       stop_reason, nit, history, grad_scale)


def _finite(record):
    values = [record["objective"]]
    for v in record["multipliers"].values():
        values.extend(np.ravel(v))
    return bool(np.all(np.isfinite(values)))


def _result(fun, x, evaluators, constraints, kinds, method, box, tol, status, stop_reason, nit,
            history, grad_scale=1.0):
    """The ``OptimizeResult``: ``success`` only at a KKT point within tolerance."""
    from ._kkt import kkt_verdict

    with torch.no_grad():
        fval = float(fun(x))
        states = evaluate_states(evaluators)
    names = list(evaluators)
    multipliers = method.multipliers()
    values = {n: float(np.max(_numpy(s.value))) for n, s in states.items()}
    violations = {
        n: float(np.max(_numpy(_violation(kinds[n], s.strict_violation)), initial=0.0))
        for n, s in states.items()
    }
    verdict = judge(constraints, values, violations, tol)
    finite = math.isfinite(fval) and bool(torch.isfinite(x).all())
    kkt = kkt_verdict(fun, x, evaluators, multipliers, box, tol, feasibility=verdict,
                      gradient_scale=grad_scale)
    success = finite and status != 2 and kkt["success"]
    if status is None:
        status = 0 if success else (3 if stop_reason else 1)
    if not finite:
        status = 2
    if status == 2:
        message = stop_reason or "diverged: the objective or x is not finite"
    else:
        message = kkt["message"] + f" after {nit} steps"
        if stop_reason:
            message = f"{stop_reason}; {message}"
    return OptimizeResult(
        x=x.detach().double().cpu().numpy().reshape(tuple(x.shape)).copy(),
        fun=fval,
        multipliers=[multipliers.get(n, np.zeros(1)) for n in names],
        constraint_values=[_numpy(s.value) for s in states.values()],
        constr_violation=kkt["constr_violation"],
        maxcv=kkt["constr_violation"],
        optimality=kkt["optimality"],
        success=bool(success),
        status=status,
        message=message,
        nit=nit,
        n_outer=len(history),
        history=history,
        method=method,
    )


def _violation(kind, strict):
    from ..constraints._feasibility import violation_magnitude

    return violation_magnitude(kind, strict.detach())
