"""The polar factor of ``project_orthogonal``: Newton-Schulz against the SVD (issue 16, "The GPU").

``method="newton_schulz"`` is the sync-free projection of
``Orthogonality(bound=0)`` that S-ADMM uses on CUDA; on the CPU it is checked
here against the SVD polar factor (``method="svd"``) and SciPy's independent
``scipy.linalg.polar``: to 2e-5 (float32) and 1e-12 (float64) on
well-conditioned matrices, tall, wide, square, batched and convolution
kernels; on ill-conditioned ones, singular values above the documented
threshold converge and the others move towards 1 with the singular vectors
kept; zeros and rank-deficient input give the documented partial isometry,
never NaN.
"""

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_constrained.optim import project_orthogonal
from sklearn_constrained.optim._prox import _FAST_QUINTIC, NEWTON_SCHULZ_STEPS, polar_factors

TOL = {torch.float32: 2e-5, torch.float64: 1e-12}


def _orthonormal(n, k, gen, dtype=torch.float64):
    """An ``n x k`` matrix with orthonormal columns (``k <= n``)."""
    q, _ = torch.linalg.qr(torch.randn(n, k, generator=gen, dtype=torch.float64))
    return q.to(dtype)


def _with_singular_values(m, n, s, gen):
    """``(W, U, V)`` with ``W = U diag(s) V^T`` (``len(s) == min(m, n)``), float64."""
    k = len(s)
    U, V = _orthonormal(m, k, gen), _orthonormal(n, k, gen)
    s = torch.as_tensor(s, dtype=torch.float64)
    return U @ torch.diag(s) @ V.T, U, V


def _well_conditioned(shape, gen, cond=4.0, scale=1.0):
    """A tensor whose ``out x rest`` matrix has singular values in [scale / cond, scale]."""
    m, n = shape[0], int(np.prod(shape[1:]))
    s = scale * torch.linspace(1.0, 1.0 / cond, min(m, n), dtype=torch.float64)
    W, _, _ = _with_singular_values(m, n, s, gen)
    return W.reshape(shape)


def _gram(q):
    """The smaller Gram matrix of each matrix of a stack ``(B, m, n)``."""
    return q @ q.mT if q.shape[-2] <= q.shape[-1] else q.mT @ q


def _scipy_polar(w):
    """The polar factor by scipy.linalg.polar (tall orientation, transposed back)."""
    m = w.reshape(w.shape[0], -1).numpy()
    return scipy.linalg.polar(m)[0] if m.shape[0] >= m.shape[1] else scipy.linalg.polar(m.T)[0].T


SHAPES = [(8, 32), (32, 8), (12, 12), (16, 4, 3, 3), (4, 16, 3, 3), (1, 7), (7, 1)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scale", [1e-3, 1.0, 50.0])
def test_newton_schulz_is_the_svd_polar_factor(shape, dtype, scale):
    gen = torch.Generator().manual_seed(sum(shape))
    w = _well_conditioned(shape, gen, scale=scale).to(dtype)
    before = w.clone()
    q = project_orthogonal(w, method="newton_schulz")
    assert q.shape == w.shape and q.dtype == dtype
    assert torch.equal(w, before)  # the input is left untouched
    ref = project_orthogonal(w, method="svd")
    torch.testing.assert_close(q, ref, atol=TOL[dtype], rtol=0)
    np.testing.assert_allclose(
        q.double().reshape(shape[0], -1).numpy(), _scipy_polar(w.double()), atol=TOL[dtype]
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(3, 8, 20), (3, 20, 8), (5, 6, 6), (2, 16, 4, 3, 3), (4, 9)])
def test_batched_projects_each_matrix_on_its_own(shape, dtype):
    gen = torch.Generator().manual_seed(len(shape))
    w = torch.stack([_well_conditioned(shape[1:], gen, scale=10.0**i) for i in range(shape[0])])
    w = w.to(dtype)
    for method in ("newton_schulz", "svd"):
        q = project_orthogonal(w, method=method, batched=True)
        assert q.shape == w.shape
        for i in range(shape[0]):
            one = project_orthogonal(w[i], method="svd")
            torch.testing.assert_close(q[i], one, atol=TOL[dtype], rtol=0)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    m=st.integers(2, 24),
    n=st.integers(2, 24),
    batch=st.integers(1, 3),
    cond=st.floats(1.0, 100.0),
    log_scale=st.floats(-6.0, 6.0),
    double=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_newton_schulz_result_has_orthonormal_rows_or_columns(
    m, n, batch, cond, log_scale, double, seed
):
    gen = torch.Generator().manual_seed(seed)
    dtype = torch.float64 if double else torch.float32
    w = torch.stack(
        [_well_conditioned((m, n), gen, cond=cond, scale=10.0**log_scale) for _ in range(batch)]
    ).to(dtype)
    q = project_orthogonal(w, method="newton_schulz", batched=True)
    eye = torch.eye(min(m, n), dtype=dtype).expand(batch, -1, -1)
    gram_tol = {torch.float32: 1e-6, torch.float64: 1e-13}[dtype]
    torch.testing.assert_close(_gram(q), eye, atol=gram_tol, rtol=0)
    # and it is the nearest such matrix: the SVD's polar factor
    ref = project_orthogonal(w, method="svd", batched=True)
    torch.testing.assert_close(q, ref, atol=TOL[dtype], rtol=0)


@pytest.mark.parametrize("tall", [False, True])
def test_ill_conditioned_input_converges_above_the_threshold_and_keeps_singular_vectors(tall):
    gen = torch.Generator().manual_seed(0)
    s = torch.logspace(0, -10, 24, dtype=torch.float64)
    W, U, V = _with_singular_values(24, 40, s, gen)
    if tall:
        W, U, V = W.T, V, U
    for steps in (NEWTON_SCHULZ_STEPS, 30):
        Q = project_orthogonal(W, method="newton_schulz", steps=steps)
        F = U.T @ Q @ V  # diag(f) when Q = U f(S) V^T
        f = torch.diagonal(F)
        assert (F - torch.diag(f)).abs().max() < 1e-7  # the singular vectors are kept
        assert f.min() >= 0 and f.max() <= 1 + 1e-12  # 0 <= f <= 1
        if steps == NEWTON_SCHULZ_STEPS:
            # the documented reach of the default: down to about 2e-4 of the largest
            assert (f[s >= 1e-3] - 1).abs().max() < 1e-6
            assert f[s <= 1e-6].max() < 0.1  # far below it: not orthonormal, but grown
            assert (f[s <= 1e-6] > 1e3 * s[s <= 1e-6]).all()
        else:  # more steps reach further: every direction, even 1e-10 of the largest
            assert (f - 1).abs().max() < 1e-6
            # (to 1e-6 only: the rounding errors of the directions of the smallest singular
            # values, ill-determined to eps / 1e-10, grow with them)
            eye = torch.eye(24, dtype=W.dtype)
            torch.testing.assert_close(_gram(Q[None])[0], eye, atol=1e-6, rtol=0)
    # float32: the same reach, to float32 rounding
    Q32 = project_orthogonal(W.float(), method="newton_schulz").double()
    f32 = torch.diagonal(U.T @ Q32 @ V)
    assert (f32[s >= 1e-3] - 1).abs().max() < 1e-4
    assert torch.isfinite(Q32).all() and f32.max() <= 1 + 1e-5


@pytest.mark.parametrize("method", ["newton_schulz", "svd", "auto"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_zeros_give_no_nan(method, dtype):
    for shape in [(4, 6), (6, 4), (3, 2, 2), (5,)]:
        q = project_orthogonal(torch.zeros(shape, dtype=dtype), method=method)
        assert q.shape == shape and torch.isfinite(q).all()
        if method == "newton_schulz" or len(shape) == 1:
            assert torch.equal(q, torch.zeros(shape, dtype=dtype))
    # one zero matrix in a batch leaves the others exact
    gen = torch.Generator().manual_seed(1)
    w = torch.stack([torch.zeros(4, 6, dtype=torch.float64), _well_conditioned((4, 6), gen)])
    q = project_orthogonal(w.to(dtype), method="newton_schulz", batched=True)
    assert torch.equal(q[0], torch.zeros(4, 6, dtype=dtype))
    torch.testing.assert_close(q[1], project_orthogonal(w[1].to(dtype)), atol=TOL[dtype], rtol=0)


@pytest.mark.parametrize("tall", [False, True])
def test_rank_deficient_input_gives_the_partial_isometry(tall):
    gen = torch.Generator().manual_seed(2)
    s = torch.tensor([3.0, 1.0, 0.5, 0.0, 0.0], dtype=torch.float64)  # rank 3 of 5
    W, U, V = _with_singular_values(5, 9, s, gen)
    if tall:
        W, U, V = W.T, V, U
    Q = project_orthogonal(W, method="newton_schulz")
    # (W's zero singular values are rounding errors, ~1e-16, multiplied by the steps' gain)
    torch.testing.assert_close(Q, U[:, :3] @ V[:, :3].T, atol=1e-10, rtol=0)
    expected = torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0], dtype=W.dtype)
    torch.testing.assert_close(torch.linalg.eigvalsh(_gram(Q[None])[0]), expected)
    # float32: the lost directions come out near 1e-3 (their Gram eigenvalue near 1e-6)
    Q32 = project_orthogonal(W.float(), method="newton_schulz")
    eig32 = torch.linalg.eigvalsh(_gram(Q32[None])[0].double())
    torch.testing.assert_close(eig32, expected, atol=1e-5, rtol=0)
    # the SVD completes it to an orthonormal matrix that agrees on the range of W
    R = project_orthogonal(W, method="svd")
    torch.testing.assert_close(_gram(R[None])[0], torch.eye(5, dtype=W.dtype))
    torch.testing.assert_close(R.T @ W if not tall else W @ R.T, Q.T @ W if not tall else W @ Q.T)


@pytest.mark.parametrize(
    "dtype,scale", [(torch.float32, 1e30), (torch.float32, 1e-30), (torch.float64, 1e-150)]
)
def test_extreme_scales_neither_overflow_nor_underflow(dtype, scale):
    gen = torch.Generator().manual_seed(3)
    w = _well_conditioned((6, 10), gen)
    q = project_orthogonal((w * scale).to(dtype), method="newton_schulz")
    torch.testing.assert_close(q, project_orthogonal(w).to(dtype), atol=TOL[dtype], rtol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_projected_in_float32(dtype):
    w = _well_conditioned((8, 16), torch.Generator().manual_seed(4)).to(dtype)
    for method in ("newton_schulz", "svd"):
        q = project_orthogonal(w, method=method)
        assert q.dtype == dtype
        torch.testing.assert_close(
            q.float(), project_orthogonal(w.float(), method="svd"), atol=1e-2, rtol=0
        )


def test_projection_is_idempotent():
    gen = torch.Generator().manual_seed(5)
    q = project_orthogonal(_well_conditioned((16, 40), gen), method="newton_schulz")
    again = project_orthogonal(q, method="newton_schulz")
    torch.testing.assert_close(again, q, atol=1e-14, rtol=0)


def test_fast_quintic_keeps_the_documented_band():
    # the claims of the comment above _FAST_QUINTIC in sklearn_constrained/optim/_prox.py
    a, b, c = _FAST_QUINTIC
    x = np.linspace(0.0, 1.3, 130_001)
    p = a * x + b * x**3 + c * x**5
    assert p.min() >= 0 and p.max() <= 1.2
    assert p[x >= 0.59].min() >= 0.59
    assert (p[1:][x[1:] <= 0.59] >= 1.98 * x[1:][x[1:] <= 0.59]).all()


class _Calls(torch.overrides.TorchFunctionMode):
    """Records the torch functions called inside the block."""

    def __init__(self):
        super().__init__()
        self.names = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.names.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def test_auto_uses_the_svd_on_the_cpu_and_newton_schulz_elsewhere():
    w = _well_conditioned((6, 10), torch.Generator().manual_seed(6))
    with _Calls() as calls:
        project_orthogonal(w)
    assert "linalg_svd" in calls.names
    with _Calls() as calls:
        project_orthogonal(w, method="newton_schulz")
    assert "linalg_svd" not in calls.names and "baddbmm" in calls.names
    # any other device (here "meta", which has shapes but no values): Newton-Schulz
    with _Calls() as calls:
        q = project_orthogonal(torch.empty(3, 6, 10, device="meta"), batched=True)
    assert "linalg_svd" not in calls.names and "baddbmm" in calls.names
    assert q.device.type == "meta" and q.shape == (3, 6, 10)


def test_invalid_arguments_say_what_to_do():
    w = torch.ones(3, 4)
    with pytest.raises(ValueError, match="method='qr'"):
        project_orthogonal(w, method="qr")
    for steps in (0, 2.5, True):
        with pytest.raises(ValueError, match="steps"):
            project_orthogonal(w, method="newton_schulz", steps=steps)
    with pytest.raises(ValueError, match="batched=True"):
        project_orthogonal(torch.ones(4), batched=True)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def testpolar_factors_of_many_shapes_in_few_calls(dtype):
    # the layers of a small CNN as Orthogonality reads them: wide, tall, equal row counts
    # (padded together by Newton-Schulz), a vector-like row, a column
    shapes = [(8, 27), (8, 72), (16, 72), (72, 16), (16, 144), (4, 16), (1, 9), (9, 1)]
    gen = torch.Generator().manual_seed(7)
    mats = [_well_conditioned(s, gen, scale=3.0**k).to(dtype) for k, s in enumerate(shapes)]
    for method in ("newton_schulz", "svd", "auto"):
        with _Calls() as calls:
            got = polar_factors(mats, method=method)
        assert [tuple(q.shape) for q in got] == shapes
        for w, q in zip(mats, got, strict=True):
            torch.testing.assert_close(
                q, project_orthogonal(w, method="svd"), atol=TOL[dtype], rtol=0
            )
            if method == "newton_schulz":  # the padding changes nothing
                alone = project_orthogonal(w, method="newton_schulz")
                torch.testing.assert_close(q, alone, atol=TOL[dtype] / 10, rtol=0)
        if method == "newton_schulz":
            # one iteration per row count, 8 (two), 16 (three) and 4; the two of one row
            # (a row and a column) are divided by their norm
            per_call = NEWTON_SCHULZ_STEPS + NEWTON_SCHULZ_STEPS // 2
            assert calls.names.count("baddbmm") == 3 * per_call
    assert polar_factors([]) == []
