"""Grid search over a level on a Dask cluster (2 worker processes) equals the sequential search."""

import numpy as np
import pytest

pytest.importorskip(
    "distributed", reason="install the [dask] extra: pip install sklearn-constrained[dask]"
)

import joblib  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from sklearn_constrained import ConstrainedClassifier  # noqa: E402
from sklearn_constrained.constraints import L2Norm  # noqa: E402


def test_dask_grid_search_matches_sequential(digits):
    Xtr, Xte, ytr, yte = digits
    X, y = Xtr[:500], ytr[:500]
    est = ConstrainedClassifier(
        constraints={"l2": L2Norm(bound=1.0)}, max_epochs=4, random_state=0, device="cpu"
    )
    grid = {"constraints__l2__bound": [5.0, 20.0, 80.0]}
    sequential = GridSearchCV(est, grid, cv=2).fit(X, y)
    with (
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        with joblib.parallel_backend("dask"):
            distributed = GridSearchCV(est, grid, cv=2, n_jobs=-1).fit(X, y)
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(sequential.cv_results_[key], distributed.cv_results_[key])
    assert sequential.best_params_ == distributed.best_params_
    np.testing.assert_array_equal(
        sequential.best_estimator_.predict_proba(Xte),
        distributed.best_estimator_.predict_proba(Xte),
    )
