r"""Constrained test problems with known optima, as plain data for the robustness benchmark.

Every :class:`Problem` states ``min fun(x)`` subject to constraints
``(kind, g, level)``: ``kind="inequality"`` means ``g(x) <= level`` and
``kind="equality"`` means ``g(x) == level`` (``g`` may return a vector, then
``level`` is an array of the same length), and optional simple bounds. All
functions take and return float64 ``torch`` tensors. Each problem comes with a
feasible and an infeasible start (feasibility judged after clipping to the
bounds, as :func:`sklearn_constrained.optim.minimize` clips the start), its
minimiser ``x_star`` (plus any other global minimisers in ``alternatives``),
``f_star`` and the multipliers ``lambda_star`` of the Lagrangian

.. math:: L(x, \lambda) = f(x) + \sum_i \lambda_i^\top (g_i(x) - \text{level}_i),

with :math:`\lambda_i \ge 0` for inequalities (one array per constraint;
bound multipliers are not listed).

Selection rule: every minimiser is *isolated* and satisfies the second-order
sufficient conditions, so that the benchmark's test
``|x - x*| <= 1e-3 max(1, |x*|)`` is meaningful for a first-order method. For
that reason HS26 (whose minimiser has a quartic valley: ``f`` grows like
``16 t^4`` along a feasible curve) and HS46/HS47 (same defect) are left out.

Every published ``x*``/``f*`` here was checked numerically with SciPy
(``SLSQP`` and ``trust-constr`` from several starts, to 1e-6), and the listed
multipliers satisfy the KKT conditions at ``x*`` (residual <= 1e-7); run
``python -m benchmarks._problems`` to repeat the check. Corrections to
published values are stated in each problem's ``notes``.

:func:`variants` yields the benchmark cases: every problem at scale 1, 1e-2
and 1e2 (objective and constraints multiplied by the factor: same ``x*``,
scaled ``f*`` and levels; the multipliers are unchanged when both are scaled
by the same factor, and multiplied by ``objective_scale / constraint_scale``
in general, see :func:`scaled`) from the feasible and the infeasible start.
:func:`to_library_constraints` builds the ``sc.optim.Inequality`` /
``sc.optim.Equality`` objects (with ``prox=`` where the problem has
closed-form projections, for S-ADMM).

References
----------
- [HS] W. Hock, K. Schittkowski, *Test Examples for Nonlinear Programming
  Codes*, Lecture Notes in Economics and Mathematical Systems 187, Springer
  1981 (problem numbers as there).
- [NW] J. Nocedal, S. J. Wright, *Numerical Optimization*, 2nd ed., Springer
  2006, Chapter 12.
- [SciPy] SciPy's ``scipy.optimize`` tutorial ("Constrained minimization of
  multivariate scalar functions") and the ``scipy.optimize.minimize``
  reference example.
- [Cooper] The Cooper library (Gallego-Posada et al.): ``Toy2dCMP`` in its
  test utilities, and its "maximum entropy distribution" tutorial.
- [Ramirez] Ramirez et al., *Position: Adopt Constraints Over Penalties in
  Deep Learning* (seed 004), Example 1 and Proposition 2.
"""

import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch

__all__ = [
    "PROBLEMS",
    "Case",
    "Problem",
    "by_name",
    "scaled",
    "to_library_constraints",
    "variants",
    "verify",
]

SQ2, SQ3, SQ7 = math.sqrt(2.0), math.sqrt(3.0), math.sqrt(7.0)


@dataclass(frozen=True)
class Problem:
    """One test problem (see the module docstring for the conventions).

    ``prox`` is ``None`` or one callable per constraint, ``prox(v) -> tensor``:
    the Euclidean projection of ``v`` onto ``{x : g_i(x) <= level_i}`` (or
    ``== level_i``), the closed-form step S-ADMM needs; problems without one
    for every constraint have ``prox=None`` (S-ADMM does not apply).
    """

    name: str
    source: str
    n: int
    fun: object
    constraints: tuple
    x_feasible: tuple
    x_infeasible: tuple
    x_star: tuple
    f_star: float
    lambda_star: tuple = None
    bounds: tuple = None
    alternatives: tuple = ()
    prox: tuple = None
    convex: bool = False
    notes: str = ""
    objective_scale: float = 1.0
    constraint_scale: float = 1.0

    @property
    def minimizers(self):
        """``x_star`` and the other global minimisers, as float64 arrays."""
        return [np.asarray(self.x_star, dtype=np.float64)] + [
            np.asarray(a, dtype=np.float64) for a in self.alternatives
        ]

    @property
    def kinds(self):
        return tuple(c[0] for c in self.constraints)

    def start(self, which):
        """The ``"feasible"`` or ``"infeasible"`` start, as a float64 array."""
        if which not in ("feasible", "infeasible"):
            raise ValueError(f"start: `which` must be 'feasible' or 'infeasible'; got {which!r}.")
        x = self.x_feasible if which == "feasible" else self.x_infeasible
        return np.asarray(x, dtype=np.float64)


@dataclass(frozen=True)
class Case:
    """One benchmark case: a (possibly scaled) problem and a start."""

    problem: Problem
    start: str
    scale: float
    base: Problem = field(repr=False, default=None)

    @property
    def x0(self):
        return self.problem.start(self.start)

    @property
    def label(self):
        return f"{self.problem.name} x{self.scale:g} {self.start}"

    @property
    def variant(self):
        """``"scaled"``/``"unscaled"`` and the start: the benchmark's 2 x 2 table."""
        return ("unscaled" if self.scale == 1 else "scaled", self.start)


# ----------------------------------------------------------------- helpers


def _t(values):
    return torch.tensor(values, dtype=torch.float64)


def _linear(A, b=None):
    """``g(x) = A x`` (a vector) for a constant matrix ``A``."""
    A = _t(A)

    def g(x):
        return A.to(x) @ x

    return g


def _proj_affine(A, b):
    """Projection onto ``{x : A x = b}`` (``A`` of full row rank)."""
    A_np = np.atleast_2d(np.asarray(A, dtype=np.float64))
    pinv = _t(A_np.T @ np.linalg.inv(A_np @ A_np.T))
    A_t, b_t = _t(A_np), _t(np.atleast_1d(np.asarray(b, dtype=np.float64)))

    def prox(v):
        return v - pinv.to(v) @ (A_t.to(v) @ v - b_t.to(v))

    return prox


def _proj_halfspace(a, b):
    """Projection onto ``{x : a . x <= b}``."""
    a_t = _t(a)
    nrm2 = float(np.dot(a, a))

    def prox(v):
        a_v = a_t.to(v)
        return v - torch.clamp(a_v @ v - b, min=0) / nrm2 * a_v

    return prox


def _proj_ball(sq_radius, idx=None):
    """Projection onto ``{x : sum x[idx]^2 <= sq_radius}`` (all of x by default)."""

    def prox(v):
        w = v if idx is None else v[idx]
        scale = torch.sqrt(torch.clamp(sq_radius / torch.clamp(w.pow(2).sum(), min=1e-300), max=1))
        if idx is None:
            return v * scale
        out = v.clone()
        out[idx] = w * scale
        return out

    return prox


def _proj_l1_ball(radius):
    """Projection onto ``{x : sum |x| <= radius}`` (sort-based, Duchi et al. 2008)."""

    def prox(v):
        a = v.abs()
        if float(a.sum()) <= radius:
            return v.clone()
        u, _ = torch.sort(a, descending=True)
        css = torch.cumsum(u, 0)
        k = torch.arange(1, v.numel() + 1, dtype=v.dtype, device=v.device)
        rho = int((u * k > css - radius).sum())
        theta = (css[rho - 1] - radius) / rho
        return torch.sign(v) * torch.clamp(a - theta, min=0)

    return prox


# ---------------------------------------------------------------- problems


def _hs6():
    return Problem(
        "hs006",
        "[HS] problem 6",
        2,
        lambda x: (1 - x[0]) ** 2,
        (("equality", lambda x: 10 * (x[1] - x[0] ** 2), 0.0),),
        x_feasible=(0.5, 0.25),
        x_infeasible=(-1.2, 1.0),  # the HS start
        x_star=(1.0, 1.0),
        f_star=0.0,
        lambda_star=(np.array(0.0),),
        notes="nonconvex equality; multiplier 0 (the objective's minimum is feasible)",
    )


def _hs7():
    return Problem(
        "hs007",
        "[HS] problem 7",
        2,
        lambda x: torch.log(1 + x[0] ** 2) - x[1],
        (("equality", lambda x: (1 + x[0] ** 2) ** 2 + x[1] ** 2, 4.0),),
        x_feasible=(1.0, 0.0),
        x_infeasible=(2.0, 2.0),  # the HS start
        x_star=(0.0, SQ3),
        f_star=-SQ3,
        lambda_star=(np.array(1 / (2 * SQ3)),),
    )


def _hs9():
    def f(x):
        return torch.sin(math.pi * x[0] / 12) * torch.cos(math.pi * x[1] / 16)

    return Problem(
        "hs009",
        "[HS] problem 9",
        2,
        f,
        (("equality", lambda x: 4 * x[0] - 3 * x[1], 0.0),),
        x_feasible=(0.0, 0.0),  # the HS start
        x_infeasible=(0.0, 2.0),
        x_star=(-3.0, -4.0),
        f_star=-0.5,
        lambda_star=(np.array(-math.pi / 96),),
        alternatives=((9.0, 12.0), (-15.0, -20.0), (21.0, 28.0)),
        prox=(_proj_affine([[4.0, -3.0]], [0.0]),),
        notes="periodic: every (12k - 3, 16k - 4) is a global minimiser; the nearest are listed",
    )


def _hs10():
    return Problem(
        "hs010",
        "[HS] problem 10",
        2,
        lambda x: x[0] - x[1],
        (("inequality", lambda x: 3 * x[0] ** 2 - 2 * x[0] * x[1] + x[1] ** 2, 1.0),),
        x_feasible=(0.0, 0.0),
        x_infeasible=(-10.0, 10.0),  # the HS start
        x_star=(0.0, 1.0),
        f_star=-1.0,
        lambda_star=(np.array(0.5),),
        convex=True,
    )


def _hs11():
    # x1 solves 2 x1^3 + x1 - 5 = 0 (from the KKT conditions with x2 = x1^2)
    x1 = float(np.real([r for r in np.roots([2.0, 0.0, 1.0, -5.0]) if abs(r.imag) < 1e-12][0]))
    x2 = x1**2
    return Problem(
        "hs011",
        "[HS] problem 11",
        2,
        lambda x: (x[0] - 5) ** 2 + x[1] ** 2 - 25,
        (("inequality", lambda x: x[0] ** 2 - x[1], 0.0),),
        x_feasible=(1.0, 2.0),
        x_infeasible=(4.9, 0.1),  # the HS start
        x_star=(x1, x2),
        f_star=(x1 - 5) ** 2 + x2**2 - 25,
        lambda_star=(np.array(2 * x2),),
        convex=True,
        notes="x* in closed form (root of 2 t^3 + t - 5); HS prints (1.23477, 1.52466), "
        "f* -8.498464",
    )


def _hs12():
    return Problem(
        "hs012",
        "[HS] problem 12",
        2,
        lambda x: 0.5 * x[0] ** 2 + x[1] ** 2 - x[0] * x[1] - 7 * x[0] - 7 * x[1],
        (("inequality", lambda x: 4 * x[0] ** 2 + x[1] ** 2, 25.0),),
        x_feasible=(0.0, 0.0),  # the HS start
        x_infeasible=(3.0, 3.0),
        x_star=(2.0, 3.0),
        f_star=-30.0,
        lambda_star=(np.array(0.5),),
        convex=True,
    )


def _hs14():
    x1, x2 = (SQ7 - 1) / 2, (SQ7 + 1) / 4
    # stationarity: 2(x1 - 2) + mu + lam x1 / 2 = 0, 2(x2 - 1) - 2 mu + 2 lam x2 = 0
    M = np.array([[1.0, x1 / 2], [-2.0, 2 * x2]])
    mu, lam = np.linalg.solve(M, [-2 * (x1 - 2), -2 * (x2 - 1)])
    return Problem(
        "hs014",
        "[HS] problem 14",
        2,
        lambda x: (x[0] - 2) ** 2 + (x[1] - 1) ** 2,
        (
            ("equality", lambda x: x[0] - 2 * x[1], -1.0),
            ("inequality", lambda x: x[0] ** 2 / 4 + x[1] ** 2, 1.0),
        ),
        x_feasible=(0.0, 0.5),
        x_infeasible=(2.0, 2.0),  # the HS start
        x_star=(x1, x2),
        f_star=9 - 23 * SQ7 / 8,
        lambda_star=(np.array(mu), np.array(lam)),
        convex=True,
    )


def _hs18():
    return Problem(
        "hs018",
        "[HS] problem 18",
        2,
        lambda x: 0.01 * x[0] ** 2 + x[1] ** 2,
        (
            (
                "inequality",
                lambda x: torch.stack([-x[0] * x[1], -(x[0] ** 2) - x[1] ** 2]),
                np.array([-25.0, -25.0]),
            ),
        ),
        bounds=((2.0, 50.0), (0.0, 50.0)),
        x_feasible=(10.0, 5.0),
        x_infeasible=(2.0, 2.0),  # the HS start
        x_star=(math.sqrt(250.0), math.sqrt(2.5)),
        f_star=5.0,
        lambda_star=(np.array([0.2, 0.0]),),
        notes="nonconvex feasible set; x* far from the origin (|x1*| = 15.8)",
    )


def _hs21():
    return Problem(
        "hs021",
        "[HS] problem 21",
        2,
        lambda x: 0.01 * x[0] ** 2 + x[1] ** 2 - 100,
        (("inequality", lambda x: x[1] - 10 * x[0], -10.0),),
        bounds=((2.0, 50.0), (-50.0, 50.0)),
        x_feasible=(10.0, 10.0),
        x_infeasible=(2.5, 20.0),
        x_star=(2.0, 0.0),
        f_star=-99.96,
        lambda_star=(np.array(0.0),),
        prox=(_proj_halfspace([-10.0, 1.0], -10.0),),
        convex=True,
        notes="the solution is at the bound x1 = 2 (constraint inactive); the HS start "
        "(-1, -1) is feasible once clipped, so another infeasible start is used",
    )


def _hs22():
    return Problem(
        "hs022",
        "[HS] problem 22",
        2,
        lambda x: (x[0] - 2) ** 2 + (x[1] - 1) ** 2,
        (
            (
                "inequality",
                lambda x: torch.stack([x[0] + x[1], x[0] ** 2 - x[1]]),
                np.array([2.0, 0.0]),
            ),
        ),
        x_feasible=(0.0, 0.5),
        x_infeasible=(2.0, 2.0),  # the HS start
        x_star=(1.0, 1.0),
        f_star=1.0,
        lambda_star=(np.array([2 / 3, 2 / 3]),),
        convex=True,
        notes="two active constraints at x*",
    )


def _hs28():
    A, b = [[1.0, 2.0, 3.0]], [1.0]
    return Problem(
        "hs028",
        "[HS] problem 28",
        3,
        lambda x: (x[0] + x[1]) ** 2 + (x[1] + x[2]) ** 2,
        (("equality", lambda x: x[0] + 2 * x[1] + 3 * x[2], 1.0),),
        x_feasible=(-4.0, 1.0, 1.0),  # the HS start
        x_infeasible=(0.0, 0.0, 0.0),
        x_star=(0.5, -0.5, 0.5),
        f_star=0.0,
        lambda_star=(np.array(0.0),),
        prox=(_proj_affine(A, b),),
        convex=True,
    )


def _hs29():
    r = 2 * SQ2
    return Problem(
        "hs029",
        "[HS] problem 29",
        3,
        lambda x: -x[0] * x[1] * x[2],
        (("inequality", lambda x: x[0] ** 2 + 2 * x[1] ** 2 + 4 * x[2] ** 2, 48.0),),
        x_feasible=(1.0, 1.0, 1.0),  # the HS start
        x_infeasible=(4.0, 3.0, 2.0),
        x_star=(4.0, r, 2.0),
        f_star=-16 * SQ2,
        lambda_star=(np.array(1 / SQ2),),
        alternatives=((4.0, -r, -2.0), (-4.0, r, -2.0), (-4.0, -r, 2.0)),
        notes="nonconvex objective; four symmetric global minimisers",
    )


def _hs35():
    def f(x):
        x1, x2, x3 = x[0], x[1], x[2]
        return (
            9 - 8 * x1 - 6 * x2 - 4 * x3 + 2 * x1**2 + 2 * x2**2 + x3**2 + 2 * x1 * x2 + 2 * x1 * x3
        )

    return Problem(
        "hs035",
        "[HS] problem 35",
        3,
        f,
        (("inequality", lambda x: x[0] + x[1] + 2 * x[2], 3.0),),
        bounds=((0.0, None),) * 3,
        x_feasible=(0.5, 0.5, 0.5),  # the HS start
        x_infeasible=(2.0, 2.0, 2.0),
        x_star=(4 / 3, 7 / 9, 4 / 9),
        f_star=1 / 9,
        lambda_star=(np.array(2 / 9),),
        prox=(_proj_halfspace([1.0, 1.0, 2.0], 3.0),),
        convex=True,
    )


def _hs39():
    return Problem(
        "hs039",
        "[HS] problem 39",
        4,
        lambda x: -x[0],
        (
            (
                "equality",
                lambda x: torch.stack([x[1] - x[0] ** 3 - x[2] ** 2, x[0] ** 2 - x[1] - x[3] ** 2]),
                np.array([0.0, 0.0]),
            ),
        ),
        x_feasible=(0.5, 0.1875, 0.25, 0.25),
        x_infeasible=(2.0, 2.0, 2.0, 2.0),  # the HS start
        x_star=(1.0, 1.0, 0.0, 0.0),
        f_star=-1.0,
        lambda_star=(np.array([-1.0, -1.0]),),
        notes="vector equality; linear objective",
    )


def _hs40():
    xs = (2 ** (-1 / 3), 2 ** (-1 / 2), 2 ** (-11 / 12), 2 ** (-1 / 4))
    x2 = math.sqrt(0.875)
    xf = (0.5, x2, 0.25 * math.sqrt(x2), math.sqrt(x2))

    def h(x):
        return torch.stack([x[0] ** 3 + x[1] ** 2, x[0] ** 2 * x[3] - x[2], x[3] ** 2 - x[1]])

    # stationarity of -x1 x2 x3 x4 + mu . h at x* (solved exactly for mu)
    x1, x2s, x3, x4 = xs
    grad_f = -np.array([x2s * x3 * x4, x1 * x3 * x4, x1 * x2s * x4, x1 * x2s * x3])
    J = np.array(
        [
            [3 * x1**2, 2 * x2s, 0.0, 0.0],
            [2 * x1 * x4, 0.0, -1.0, x1**2],
            [0.0, -1.0, 0.0, 2 * x4],
        ]
    )
    mu = np.linalg.lstsq(J.T, -grad_f, rcond=None)[0]
    return Problem(
        "hs040",
        "[HS] problem 40",
        4,
        lambda x: -x[0] * x[1] * x[2] * x[3],
        (("equality", h, np.array([1.0, 0.0, 0.0])),),
        x_feasible=xf,
        x_infeasible=(0.8, 0.8, 0.8, 0.8),  # the HS start
        x_star=xs,
        f_star=-0.25,
        lambda_star=(mu,),
        alternatives=((xs[0], xs[1], -xs[2], -xs[3]),),
        notes="three nonlinear equalities; a second minimiser with (x3, x4) negated",
    )


def _hs42():
    x3, x4 = 0.6 * SQ2, 0.8 * SQ2

    def prox(v):
        out = v.clone()
        out[0] = 2.0
        w = v[2:4]
        out[2:4] = w * (SQ2 / torch.clamp(w.norm(), min=1e-300))
        return out

    return Problem(
        "hs042",
        "[HS] problem 42",
        4,
        lambda x: (x[0] - 1) ** 2 + (x[1] - 2) ** 2 + (x[2] - 3) ** 2 + (x[3] - 4) ** 2,
        (
            (
                "equality",
                lambda x: torch.stack([x[0], x[2] ** 2 + x[3] ** 2]),
                np.array([2.0, 2.0]),
            ),
        ),
        x_feasible=(2.0, 2.0, 1.0, 1.0),
        x_infeasible=(1.0, 1.0, 1.0, 1.0),  # the HS start
        x_star=(2.0, 2.0, x3, x4),
        f_star=28 - 10 * SQ2,
        lambda_star=(np.array([-2.0, 3 / x3 - 1]),),
        prox=(prox,),
    )


def _hs43():
    def f(x):
        x1, x2, x3, x4 = x[0], x[1], x[2], x[3]
        return x1**2 + x2**2 + 2 * x3**2 + x4**2 - 5 * x1 - 5 * x2 - 21 * x3 + 7 * x4

    def g(x):
        x1, x2, x3, x4 = x[0], x[1], x[2], x[3]
        return torch.stack(
            [
                x1**2 + x2**2 + x3**2 + x4**2 + x1 - x2 + x3 - x4,
                x1**2 + 2 * x2**2 + x3**2 + 2 * x4**2 - x1 - x4,
                2 * x1**2 + x2**2 + x3**2 + 2 * x1 - x2 - x4,
            ]
        )

    return Problem(
        "hs043",
        "[HS] problem 43 (Rosen-Suzuki)",
        4,
        f,
        (("inequality", g, np.array([8.0, 10.0, 5.0])),),
        x_feasible=(0.0, 0.0, 0.0, 0.0),  # the HS start
        x_infeasible=(2.0, 2.0, 2.0, 2.0),
        x_star=(0.0, 1.0, 2.0, -1.0),
        f_star=-44.0,
        lambda_star=(np.array([1.0, 0.0, 2.0]),),
        convex=True,
    )


def _hs44():
    A = [
        [1.0, 2.0, 0.0, 0.0],
        [4.0, 1.0, 0.0, 0.0],
        [3.0, 4.0, 0.0, 0.0],
        [0.0, 0.0, 2.0, 1.0],
        [0.0, 0.0, 1.0, 2.0],
        [0.0, 0.0, 1.0, 1.0],
    ]

    def f(x):
        x1, x2, x3, x4 = x[0], x[1], x[2], x[3]
        return x1 - x2 - x3 - x1 * x3 + x1 * x4 + x2 * x3 - x2 * x4

    return Problem(
        "hs044",
        "[HS] problem 44",
        4,
        f,
        (("inequality", _linear(A), np.array([8.0, 12.0, 12.0, 8.0, 8.0, 5.0])),),
        bounds=((0.0, None),) * 4,
        x_feasible=(0.5, 1.0, 0.5, 2.0),
        x_infeasible=(1.0, 4.0, 1.0, 5.0),
        x_star=(0.0, 3.0, 0.0, 4.0),
        f_star=-15.0,
        lambda_star=(np.array([0.0, 0.0, 1.25, 0.0, 1.5, 0.0]),),
        notes="bilinear (indefinite) objective on a polytope, several local minima at vertices; "
        "the starts (not the HS start 0) lie in the basin of the global one (checked with SciPy)",
    )


def _hs48():
    A, b = [[1.0, 1, 1, 1, 1], [0.0, 0, 1, -2, -2]], [5.0, -3.0]
    return Problem(
        "hs048",
        "[HS] problem 48",
        5,
        lambda x: (x[0] - 1) ** 2 + (x[1] - x[2]) ** 2 + (x[3] - x[4]) ** 2,
        (("equality", _linear(A), np.array(b)),),
        x_feasible=(3.0, 5.0, -3.0, 2.0, -2.0),  # the HS start
        x_infeasible=(0.0,) * 5,
        x_star=(1.0,) * 5,
        f_star=0.0,
        lambda_star=(np.array([0.0, 0.0]),),
        prox=(_proj_affine(A, b),),
        convex=True,
    )


def _hs51():
    A, b = [[1.0, 3, 0, 0, 0], [0.0, 0, 1, 1, -2], [0.0, 1, 0, 0, -1]], [4.0, 0.0, 0.0]
    return Problem(
        "hs051",
        "[HS] problem 51",
        5,
        lambda x: (x[0] - x[1]) ** 2 + (x[1] + x[2] - 2) ** 2 + (x[3] - 1) ** 2 + (x[4] - 1) ** 2,
        (("equality", _linear(A), np.array(b)),),
        x_feasible=(2.5, 0.5, 2.0, -1.0, 0.5),  # the HS start
        x_infeasible=(0.0,) * 5,
        x_star=(1.0,) * 5,
        f_star=0.0,
        lambda_star=(np.array([0.0, 0.0, 0.0]),),
        prox=(_proj_affine(A, b),),
        convex=True,
    )


def _hs63():
    # an exactly feasible start: x2 = 1, then 8 x1 + 7 x3 = 42 and x1^2 + x3^2 = 24,
    # i.e. 113 x1^2 - 672 x1 + 588 = 0 (the smaller root)
    x1 = (672 - math.sqrt(672**2 - 4 * 113 * 588)) / 226
    xf = (x1, 1.0, 6 - 8 * x1 / 7)

    def f(x):
        x1, x2, x3 = x[0], x[1], x[2]
        return 1000 - x1**2 - 2 * x2**2 - x3**2 - x1 * x2 - x1 * x3

    return Problem(
        "hs063",
        "[HS] problem 63",
        3,
        f,
        (
            ("equality", lambda x: 8 * x[0] + 14 * x[1] + 7 * x[2], 56.0),
            ("equality", lambda x: x[0] ** 2 + x[1] ** 2 + x[2] ** 2, 25.0),
        ),
        bounds=((0.0, None),) * 3,
        x_feasible=xf,
        x_infeasible=(2.0, 2.0, 2.0),  # the HS start
        # HS prints x* = (3.512118414, 0.2169881741, 3.552174034): off by 2.9e-6 (it
        # violates the constraints by 1.3e-8); refined by Newton's method on the KKT system
        x_star=(3.51212134187472, 0.21698794151522308, 3.5521711548270165),
        f_star=961.7151721300521,
        lambda_star=(np.array(0.2749371020656298), np.array(1.2234635604844077)),
        notes="concave objective with an offset of 1000; the printed HS x* is off by 2.9e-6 "
        "(refined here)",
    )


def _hs65():
    def f(x):
        return (x[0] - x[1]) ** 2 + (x[0] + x[1] - 10) ** 2 / 9 + (x[2] - 5) ** 2

    return Problem(
        "hs065",
        "[HS] problem 65",
        3,
        f,
        (("inequality", lambda x: x[0] ** 2 + x[1] ** 2 + x[2] ** 2, 48.0),),
        bounds=((-4.5, 4.5), (-4.5, 4.5), (-5.0, 5.0)),
        x_feasible=(-4.5, 4.5, 0.0),  # the HS start (-5, 5, 0) clipped to the bounds
        x_infeasible=(4.5, 4.5, 4.0),
        # HS prints x* = (3.650461821, 3.65046168, 4.6204170507), off by 5e-7 (and
        # x1 != x2 although the problem is symmetric); refined on the KKT system
        x_star=(3.6504617252130362, 3.6504617252130362, 4.620417555320008),
        f_star=0.953528856804783,
        lambda_star=(np.array(0.08215327730346261),),
        prox=(_proj_ball(48.0),),
        convex=True,
    )


def _hs71():
    def f(x):
        return x[0] * x[3] * (x[0] + x[1] + x[2]) + x[2]

    return Problem(
        "hs071",
        "[HS] problem 71",
        4,
        f,
        (
            ("inequality", lambda x: -x[0] * x[1] * x[2] * x[3], -25.0),
            ("equality", lambda x: (x**2).sum(), 40.0),
        ),
        bounds=((1.0, 5.0),) * 4,
        x_feasible=(2.0, 3.0, 3.0, math.sqrt(18.0)),
        x_infeasible=(1.0, 5.0, 5.0, 1.0),  # the HS start (infeasible: sum of squares 52)
        # HS prints x* to 8 digits (violating the equality by 1.2e-7); refined on the
        # KKT system (x1 = 1 at its bound, bound multiplier 1.0879)
        x_star=(1.0, 4.742999637264417, 3.821149984184874, 1.3794082931726723),
        f_star=17.014017289156303,
        lambda_star=(np.array(0.5522936601207269), np.array(0.16146856677050594)),
        notes="the IPOPT tutorial problem; the solution has x1 at its lower bound",
    )


def _hs76():
    def f(x):
        x1, x2, x3, x4 = x[0], x[1], x[2], x[3]
        return x1**2 + 0.5 * x2**2 + x3**2 + 0.5 * x4**2 - x1 * x3 + x3 * x4 - x1 - 3 * x2 + x3 - x4

    A = [[1.0, 2.0, 1.0, 1.0], [3.0, 1.0, 2.0, -1.0], [0.0, -1.0, -4.0, 0.0]]
    return Problem(
        "hs076",
        "[HS] problem 76",
        4,
        f,
        (("inequality", _linear(A), np.array([5.0, 4.0, -1.5])),),
        bounds=((0.0, None),) * 4,
        x_feasible=(0.5, 0.5, 0.5, 0.5),  # the HS start
        x_infeasible=(0.0, 0.0, 0.0, 0.0),
        x_star=(3 / 11, 23 / 11, 0.0, 6 / 11),
        f_star=-103 / 22,
        lambda_star=(np.array([5 / 11, 0.0, 0.0]),),
        convex=True,
        notes="x* and f* in closed form (3/11, 23/11, 0, 6/11), -103/22; HS prints "
        "(0.2727273, 2.090909, -0.26e-10, 0.5454545), f* -4.681818181",
    )


def _nw_12_1():
    def prox(v):
        return v * (SQ2 / torch.clamp(v.norm(), min=1e-300))

    return Problem(
        "nw12.1",
        "[NW] Example 12.1",
        2,
        lambda x: x[0] + x[1],
        (("equality", lambda x: x[0] ** 2 + x[1] ** 2, 2.0),),
        x_feasible=(SQ2, 0.0),
        x_infeasible=(1.0, -2.0),
        x_star=(-1.0, -1.0),
        f_star=-2.0,
        lambda_star=(np.array(0.5),),
        prox=(prox,),
        notes="min x1 + x2 on the circle |x|^2 = 2; (1, 1) is a KKT point too (the maximum)",
    )


def _nw_12_3():
    return Problem(
        "nw12.3",
        "[NW] Example 12.3",
        2,
        lambda x: x[0] + x[1],
        (
            ("inequality", lambda x: x[0] ** 2 + x[1] ** 2, 2.0),
            ("inequality", lambda x: -x[1], 0.0),
        ),
        x_feasible=(0.0, 0.5),
        x_infeasible=(1.0, -2.0),
        x_star=(-SQ2, 0.0),
        f_star=-SQ2,
        lambda_star=(np.array(1 / (2 * SQ2)), np.array(1.0)),
        prox=(_proj_ball(2.0), _proj_halfspace([0.0, -1.0], 0.0)),
        convex=True,
        notes="a disk and a half-plane, both active at x*",
    )


def _nw_12_6():
    A = [[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]]
    return Problem(
        "nw12.6",
        "[NW] Example 12.6",
        2,
        lambda x: (x[0] - 1.5) ** 2 + (x[1] - 0.5) ** 4,
        (("inequality", _linear(A), np.ones(4)),),
        x_feasible=(0.0, 0.0),
        x_infeasible=(1.5, 0.5),
        x_star=(1.0, 0.0),
        f_star=0.3125,
        lambda_star=(np.array([0.75, 0.25, 0.0, 0.0]),),
        prox=(_proj_l1_ball(1.0),),
        convex=True,
        notes="the l1 ball |x1| + |x2| <= 1 written as four linear inequalities; x* is a vertex",
    )


def _scipy_slsqp():
    A = [[-1.0, 2.0], [1.0, 2.0], [1.0, -2.0]]
    return Problem(
        "scipy-slsqp",
        "[SciPy] scipy.optimize.minimize reference, SLSQP example",
        2,
        lambda x: (x[0] - 1) ** 2 + (x[1] - 2.5) ** 2,
        (("inequality", _linear(A), np.array([2.0, 6.0, 2.0])),),
        bounds=((0.0, None), (0.0, None)),
        x_feasible=(2.0, 0.0),  # the example's start
        x_infeasible=(0.0, 3.0),
        x_star=(1.4, 1.7),
        f_star=0.8,
        lambda_star=(np.array([0.8, 0.0, 0.0]),),
        convex=True,
    )


def _scipy_trust_constr():
    def rosen(x):
        return 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2

    def g(x):
        return torch.stack([x[0] + 2 * x[1], x[0] ** 2 + x[1], x[0] ** 2 - x[1]])

    # on 2 x0 + x1 = 1 the problem is one-dimensional: f(t) = rosen(t, 1 - 2t); the
    # inequalities are inactive at the minimiser. Stationarity: f'(t) = 0 for
    # 100 (1 - 2t - t^2)^2 + (1 - t)^2, i.e. 200 (1 - 2t - t^2)(-2 - 2t) - 2 (1 - t) = 0
    roots = np.roots(np.polyadd(np.polymul([-200.0, -400.0, 200.0], [-2.0, -2.0]), [2.0, -2.0]))
    t = float(min(r.real for r in roots if abs(r.imag) < 1e-12 and 0 < r.real < 1))
    x1 = 1 - 2 * t
    mu = -(200 * (x1 - t**2))  # d/dx1 of rosen + mu = 0
    return Problem(
        "scipy-trust-constr",
        "[SciPy] tutorial, trust-constr example (Rosenbrock)",
        2,
        rosen,
        (
            ("equality", lambda x: 2 * x[0] + x[1], 1.0),
            ("inequality", g, np.array([1.0, 1.0, 1.0])),
        ),
        bounds=((0.0, 1.0), (-0.5, 2.0)),
        x_feasible=(0.5, 0.0),  # the tutorial's start
        x_infeasible=(1.0, 1.0),
        x_star=(t, x1),
        f_star=100 * (x1 - t**2) ** 2 + (1 - t) ** 2,
        lambda_star=(np.array(mu), np.zeros(3)),
        notes="x* in closed form (a root of the reduced 1D stationarity polynomial); the "
        "tutorial prints [0.41494531, 0.17010937]",
    )


def _cooper_toy2d():
    return Problem(
        "cooper-toy2d",
        "[Cooper] Toy2dCMP (tests)",
        2,
        lambda x: x[0] ** 2 + 2 * x[1] ** 2,
        (
            (
                "inequality",
                lambda x: torch.stack([-(x[0] + x[1]), x[0] ** 2 + x[1]]),
                np.array([-1.0, 1.0]),
            ),
        ),
        x_feasible=(0.5, 0.6),
        x_infeasible=(0.0, 0.0),
        x_star=(2 / 3, 1 / 3),
        f_star=2 / 3,
        lambda_star=(np.array([4 / 3, 0.0]),),
        convex=True,
    )


_ENT_DELTA = 1e-6


def _neg_entropy(p):
    """Negative entropy ``sum p log p``, finite with a finite gradient on the whole box.

    Below ``_ENT_DELTA`` it is continued by its second-order Taylor expansion.
    """
    d = _ENT_DELTA
    q = torch.clamp(p, min=d)
    inside = q * torch.log(q)
    below = d * math.log(d) + (math.log(d) + 1) * (p - d) + (p - d) ** 2 / (2 * d)
    return torch.where(p >= d, inside, below).sum()


def _cooper_maxent():
    k = np.arange(1.0, 7.0)
    # p_k proportional to exp(beta k) with mean 4.5: solve for beta by bisection
    lo, hi = 0.0, 2.0
    for _ in range(200):
        beta = (lo + hi) / 2
        w = np.exp(beta * k)
        lo, hi = (beta, hi) if (w * k).sum() / w.sum() < 4.5 else (lo, beta)
    p = np.exp(beta * k)
    p /= p.sum()
    # stationarity: log p + 1 + mu0 + mu1 k = 0
    mu1 = -beta
    mu0 = -1 - math.log(p[0]) - mu1
    A, b = np.stack([np.ones(6), k]), [1.0, 4.5]
    return Problem(
        "cooper-maxent",
        "[Cooper] tutorial: maximum entropy distribution of a die with mean 4.5",
        6,
        _neg_entropy,
        (("equality", _linear(A), np.array(b)),),
        bounds=((0.0, 1.0),) * 6,
        x_feasible=(0.05, 0.1, 0.1, 0.15, 0.25, 0.35),
        x_infeasible=(1 / 6,) * 6,
        x_star=tuple(p),
        f_star=float((p * np.log(p)).sum()),
        lambda_star=(np.array([mu0, mu1]),),
        prox=(_proj_affine(A, b),),
        convex=True,
        notes="p* proportional to exp(beta k), beta = 0.37105; Cooper writes p >= 0 as a "
        "constraint, here it is a bound (with the entropy continued below 1e-6)",
    )


def _ramirez_ex1(eps):
    return Problem(
        f"ramirez-ex1-eps{eps:g}",
        "[Ramirez] Example 1 (concave 2D problem), solution from Proposition 2",
        2,
        lambda x: (1 + x[1] ** 2) * torch.cos(x[0]),
        (("inequality", lambda x: (1 + x[1] ** 2) * torch.sin(x[0]), eps),),
        bounds=((0.0, math.pi / 2), (None, None)),
        x_feasible=(0.05, 0.5),
        x_infeasible=(1.2, 0.5),
        x_star=(math.asin(eps), 0.0),
        f_star=math.sqrt(1 - eps**2),
        lambda_star=(np.array(eps / math.sqrt(1 - eps**2)),),
        notes="objective and constraint concave in x: a penalty cannot reach x*",
    )


def _build():
    problems = [
        _hs6(),
        _hs7(),
        _hs9(),
        _hs10(),
        _hs11(),
        _hs12(),
        _hs14(),
        _hs18(),
        _hs21(),
        _hs22(),
        _hs28(),
        _hs29(),
        _hs35(),
        _hs39(),
        _hs40(),
        _hs42(),
        _hs43(),
        _hs44(),
        _hs48(),
        _hs51(),
        _hs63(),
        _hs65(),
        _hs71(),
        _hs76(),
        _nw_12_1(),
        _nw_12_3(),
        _nw_12_6(),
        _scipy_slsqp(),
        _scipy_trust_constr(),
        _cooper_toy2d(),
        _cooper_maxent(),
        _ramirez_ex1(0.3),
        _ramirez_ex1(0.7),
    ]
    return tuple(problems)


PROBLEMS = _build()


# ------------------------------------------------------------ the suite API


def by_name(name):
    """The problem called ``name``."""
    for p in PROBLEMS:
        if p.name == name:
            return p
    raise KeyError(f"no problem named {name!r}; choose one of {[p.name for p in PROBLEMS]}")


def scaled(problem, objective_scale, constraint_scale=None):
    """The problem with ``f`` and every ``g`` and level multiplied by constants.

    ``f`` is multiplied by ``objective_scale``, every ``g`` and level by
    ``constraint_scale`` (default: the same factor).

    The minimisers are unchanged; ``f*`` is multiplied by ``objective_scale``
    and the multipliers by ``objective_scale / constraint_scale`` (from
    ``s_f grad f + lambda' s_g grad g = 0``). Projections are unchanged (the
    feasible sets are the same).
    """
    fs = float(objective_scale)
    cs = fs if constraint_scale is None else float(constraint_scale)
    if not (fs > 0 and cs > 0):
        raise ValueError("scaled: the scales must be positive numbers.")
    f = problem.fun

    def fun(x):
        return fs * f(x)

    def scale_g(g):
        return lambda x: cs * g(x)

    cons = tuple(
        (kind, scale_g(g), cs * np.asarray(level, dtype=np.float64))
        for kind, g, level in problem.constraints
    )
    lam = problem.lambda_star
    if lam is not None:
        lam = tuple(np.asarray(m, dtype=np.float64) * (fs / cs) for m in lam)
    return replace(
        problem,
        fun=fun,
        constraints=cons,
        f_star=fs * problem.f_star,
        lambda_star=lam,
        objective_scale=problem.objective_scale * fs,
        constraint_scale=problem.constraint_scale * cs,
    )


def variants(problems=None, scales=(1.0, 1e-2, 1e2), starts=("feasible", "infeasible")):
    """Yield the benchmark cases (:class:`Case`): every problem x scale x start.

    ``scales`` are factors applied to the objective and the constraints alike
    (see :func:`scaled`); pass pairs ``(objective_scale, constraint_scale)``
    to scale them differently (``Case.scale`` is then the objective's factor).
    """
    for p in PROBLEMS if problems is None else problems:
        for s in scales:
            fs, cs = (s, s) if np.isscalar(s) else s
            q = p if (fs, cs) == (1, 1) else scaled(p, fs, cs)
            for start in starts:
                yield Case(q, start, float(fs), base=p)


def to_library_constraints(problem, with_prox=False):
    """The library's constraint objects of a problem.

    ``sc.optim.Inequality(g, upper=level)`` / ``Equality(g, target=level)``
    for every constraint, with ``prox=`` when ``with_prox`` (the problem must
    have one per constraint).
    """
    from sklearn_constrained.optim import Equality, Inequality

    if with_prox and problem.prox is None:
        raise ValueError(f"{problem.name} has no closed-form projection for every constraint.")
    out = []
    for i, (kind, g, level) in enumerate(problem.constraints):
        level = np.asarray(level, dtype=np.float64)
        level = float(level) if level.ndim == 0 else level
        kw = {"prox": problem.prox[i]} if with_prox else {}
        if kind == "inequality":
            out.append(Inequality(g, upper=level, **kw))
        elif kind == "equality":
            out.append(Equality(g, target=level, **kw))
        else:
            raise ValueError(f"{problem.name}: unknown constraint kind {kind!r}.")
    return out


def bounds_arrays(problem):
    """``(low, high)`` float64 arrays (``-inf``/``inf`` where unbounded)."""
    lo = np.full(problem.n, -np.inf)
    hi = np.full(problem.n, np.inf)
    for j, (a, b) in enumerate(problem.bounds or ()):
        lo[j] = -np.inf if a is None else a
        hi[j] = np.inf if b is None else b
    return lo, hi


def violations(problem, x):
    """Per constraint, the largest violation at ``x``, as floats.

    ``relu(g - level)`` for inequalities, ``|g - level|`` for equalities.
    """
    xt = torch.as_tensor(np.asarray(x, dtype=np.float64))
    out = []
    with torch.no_grad():
        for kind, g, level in problem.constraints:
            d = np.atleast_1d(g(xt).numpy() - np.asarray(level, dtype=np.float64))
            v = np.maximum(d, 0) if kind == "inequality" else np.abs(d)
            out.append(float(v.max()))
    return out


def level_scales(problem):
    """Per constraint, ``max(1, |level|)``: the library's tolerance scale."""
    return [max(1.0, float(np.max(np.abs(level)))) for _, _, level in problem.constraints]


# ------------------------------------------------------------- verification


def _scipy_solve(problem, x0, method):
    """Solve ``problem`` with SciPy from ``x0`` (tight tolerances)."""
    from scipy.optimize import Bounds, NonlinearConstraint, minimize

    def as_t(z):
        return torch.as_tensor(np.array(z, dtype=np.float64))

    def f(z):
        return float(problem.fun(as_t(z)))

    def df(z):
        zt = as_t(z).requires_grad_(True)
        (gr,) = torch.autograd.grad(problem.fun(zt), zt)
        return gr.numpy()

    def con(g, level):
        lv = np.atleast_1d(np.asarray(level, dtype=np.float64))

        def c(z):
            return np.atleast_1d(g(as_t(z)).detach().numpy()) - lv

        def jac(z):
            fn = lambda w: torch.atleast_1d(g(w))  # noqa: E731
            return np.atleast_2d(torch.autograd.functional.jacobian(fn, as_t(z)).numpy())

        return c, jac

    lo, hi = bounds_arrays(problem)
    x0 = np.clip(np.asarray(x0, dtype=np.float64), lo, hi)
    bnds = Bounds(lo, hi) if problem.bounds else None
    cons = []
    for kind, g, level in problem.constraints:
        c, jac = con(g, level)
        if method == "SLSQP":
            if kind == "inequality":
                cons.append(
                    {"type": "ineq", "fun": lambda z, c=c: -c(z), "jac": lambda z, j=jac: -j(z)}
                )
            else:
                cons.append({"type": "eq", "fun": c, "jac": jac})
        else:
            cons.append(
                NonlinearConstraint(c, -np.inf if kind == "inequality" else 0.0, 0.0, jac=jac)
            )
    if method == "SLSQP":
        options = {"ftol": 1e-15, "maxiter": 2000}
    else:
        options = {"gtol": 1e-12, "xtol": 1e-15, "maxiter": 20000}
    with np.errstate(all="ignore"):
        return minimize(
            f, x0, jac=df, method=method, constraints=cons, bounds=bnds, options=options
        )


def distance_to_solution(problem, x):
    """``max_j |x_j - x*_j| / max(1, |x*_j|)`` to the nearest listed minimiser."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    return min(
        float(np.max(np.abs(x - m) / np.maximum(1.0, np.abs(m)))) for m in problem.minimizers
    )


def verify(problems=None, n_perturbed=3, seed=0, verbose=True):
    """Check every problem's data; return the list of problems that failed.

    1. the feasible start is feasible (violation <= 1e-12 relative, after
       clipping to the bounds) and the infeasible start violates some
       constraint by at least 1e-2 relative;
    2. ``f(x*) = f*`` (1e-9 relative), every listed minimiser is feasible
       (1e-9) with the same value, and ``lambda_star`` makes ``x*`` a KKT
       point (:func:`~sklearn_constrained.optim._kkt.check_kkt` with the given
       multipliers, optimality 1e-7);
    3. SciPy's SLSQP and trust-constr, from both starts and ``n_perturbed``
       random perturbations of ``x*``: no feasible result (1e-7) is below
       ``f* - 1e-6``, and from each start at least one of them reaches a
       listed minimiser to 1e-6 (so that the starts are in its basin).
    """
    from sklearn_constrained.optim._kkt import check_kkt

    rng = np.random.default_rng(seed)
    failed = []
    for p in PROBLEMS if problems is None else problems:
        problems_found = []
        lo, hi = bounds_arrays(p)
        scales = level_scales(p)
        vf = violations(p, np.clip(p.start("feasible"), lo, hi))
        vi = violations(p, np.clip(p.start("infeasible"), lo, hi))
        vf = [v / s for v, s in zip(vf, scales, strict=True)]
        vi = [v / s for v, s in zip(vi, scales, strict=True)]
        if max(vf, default=0) > 1e-12:
            problems_found.append(f"feasible start violates by {max(vf):.2g}")
        if max(vi, default=0) < 1e-2:
            problems_found.append(f"infeasible start violates by only {max(vi):.2g}")
        fs = float(p.fun(torch.tensor(p.x_star, dtype=torch.float64)))
        if abs(fs - p.f_star) > 1e-9 * max(1.0, abs(p.f_star)):
            problems_found.append(f"f(x*) = {fs!r} != f* = {p.f_star!r}")
        for m in p.minimizers:
            if max(violations(p, m), default=0) > 1e-9:
                problems_found.append(f"minimiser {m} is not feasible")
            fm = float(p.fun(torch.as_tensor(m)))
            if abs(fm - p.f_star) > 1e-9 * max(1.0, abs(p.f_star)):
                problems_found.append(f"minimiser {m} has f = {fm!r}")
        if p.lambda_star is not None:
            res = check_kkt(
                p.fun,
                p.x_star,
                p.constraints,
                p.lambda_star,
                p.bounds,
                tol=1e-9,
                optimality_tol=1e-7,
                judge_with="given",
            )
            if not res.success:
                problems_found.append(f"(x*, lambda*) is not a KKT point: {res.message}")
        starts = {"feasible": p.start("feasible"), "infeasible": p.start("infeasible")}
        for k in range(n_perturbed):
            starts[f"x*+noise{k}"] = np.asarray(p.x_star) + 0.1 * rng.standard_normal(p.n)
        best = {}
        for label, x0 in starts.items():
            for method in ("SLSQP", "trust-constr"):
                r = _scipy_solve(p, x0, method)
                viol = max(
                    [v / s for v, s in zip(violations(p, r.x), scales, strict=True)]
                    + [float(np.max(np.maximum(np.maximum(lo - r.x, r.x - hi), 0), initial=0))],
                )
                d = distance_to_solution(p, r.x)
                if viol <= 1e-7 and r.fun < p.f_star - 1e-6 * max(1.0, abs(p.f_star)):
                    problems_found.append(
                        f"{method} from {label} found f = {r.fun:.10g} < f* at {r.x}"
                    )
                if viol <= 1e-7:
                    best[label] = min(best.get(label, np.inf), d)
        for label in ("feasible", "infeasible"):
            if best.get(label, np.inf) > 1e-6:
                problems_found.append(
                    f"neither SciPy solver reaches x* from the {label} start "
                    f"(closest {best.get(label, np.inf):.2g})"
                )
        if verbose:
            status = "ok" if not problems_found else "FAILED: " + "; ".join(problems_found)
            dist = ", ".join(f"{k} {v:.1e}" for k, v in best.items())
            print(f"{p.name:22s} {status}  (closest SciPy result per start: {dist})")
        if problems_found:
            failed.append(p.name)
    return failed


if __name__ == "__main__":
    import sys
    import warnings

    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    bad = verify()
    print(
        f"\n{len(PROBLEMS) - len(bad)} of {len(PROBLEMS)} problems verified"
        + (f"; failed: {bad}" if bad else "")
    )
    sys.exit(1 if bad else 0)
