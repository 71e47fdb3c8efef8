"""A default fit on Adult with and without scikit-learn's stopping rule (issue 16).

``ConstrainedClassifier(constraints={"dp": DemographicParity(0.05)})`` at
its defaults (100 epochs, Adam, ``method="auto"``, ``random_state=0``) on
the standardised Adult training split (sex as the sensitive feature), once
per ``n_iter_no_change`` value given. Prints the epochs run, the fit time
(one thread), and the accuracy and demographic-parity gap on Adult's test split.

Run: ``python -m benchmarks.default_stop [None 10 ...]`` (about 2 minutes).
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
    for n in settings:
        start = time.perf_counter()
        clf = sc.ConstrainedClassifier(constraints={"dp": DemographicParity(bound=0.05)},
                                       n_iter_no_change=n, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(Xtr, ytr, sensitive_features=str_)
        seconds = time.perf_counter() - start
        pred = clf.predict(Xte)
        rates = [pred[groups == k].mean() for k in np.unique(groups)]
        print(f"| {n} | {clf.n_iter_} | {seconds:.0f} | {np.mean(pred == yte):.4f} "
              f"| {max(rates) - min(rates):.4f} | {clf.feasible_} |")


if __name__ == "__main__":
    args = sys.argv[1:] or ["None", "10"]
    main([None if a == "None" else int(a) for a in args])
