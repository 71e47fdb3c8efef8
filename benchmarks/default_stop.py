"""A default fit on Adult with and without scikit-learn's stopping rule (issue 16).

``ConstrainedClassifier(constraints={"dp": DemographicParity(0.05)})`` at
its defaults (100 epochs, Adam, ``method="auto"``, ``random_state=0``) on
the standardised Adult training split (sex as the sensitive feature), once
per ``n_iter_no_change`` value given (``10v``: 10 with
``validation_fraction=0.1``, scikit-learn's ``early_stopping``: the rule then
reads the validation part's objective and levels). Prints the epochs run,
the fit time (one thread), and the accuracy and demographic-parity gap on
Adult's test split.

Run: ``python -m benchmarks.default_stop [None 10 10v ...]`` (about 3 minutes).
"""

import sys
import time
import warnings

import numpy as np
import torch
from sklearn.preprocessing import StandardScaler

import sklearn_constrained as sc
from sklearn_constrained.constraints import DemographicParity


def main(settings):
    torch.set_num_threads(1)
    Xtr, ytr, str_ = sc.datasets.load_adult(subset="train", return_X_y=True)
    Xte, yte, ste = sc.datasets.load_adult(subset="test", return_X_y=True)
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    groups = np.asarray(ste).ravel()
    print("| n_iter_no_change | epochs | fit s | test accuracy | test DP gap | feasible (train) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for setting in settings:
        n, fraction = setting
        start = time.perf_counter()
        clf = sc.ConstrainedClassifier(constraints={"dp": DemographicParity(bound=0.05)},
                                       n_iter_no_change=n, validation_fraction=fraction,
                                       random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(Xtr, ytr, sensitive_features=str_)
        seconds = time.perf_counter() - start
        pred = clf.predict(Xte)
        rates = [pred[groups == k].mean() for k in np.unique(groups)]
        label = f"{n}" + (f", validation_fraction={fraction}" if fraction else "")
        print(f"| {label} | {clf.n_iter_} | {seconds:.0f} | {np.mean(pred == yte):.4f} "
              f"| {max(rates) - min(rates):.4f} | {clf.feasible_} |")


if __name__ == "__main__":
    args = sys.argv[1:] or ["None", "10", "10v"]
    main([(None, None) if a == "None" else (int(a.rstrip("v")), 0.1 if a.endswith("v") else None)
          for a in args])
