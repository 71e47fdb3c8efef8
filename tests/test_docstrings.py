"""The docstring examples run and pass.

Every module of the package (public and private: the public names are
defined in private modules) is found with ``pkgutil`` and its doctests are
run; a module is never skipped. The contract's public names must each carry
a runnable example.
"""

import doctest
import importlib
import inspect
import os
import pkgutil

import pytest
import sklearn

import sklearn_constrained

os.environ.setdefault("MPLBACKEND", "Agg")


def _all_modules():
    names = [sklearn_constrained.__name__]
    for info in pkgutil.walk_packages(sklearn_constrained.__path__, prefix="sklearn_constrained."):
        names.append(info.name)
    return sorted(names)


MODULES = _all_modules()


def test_the_package_has_modules_with_examples():
    # The walk found the package's modules, so the parametrisation below
    # cannot pass vacuously.
    assert {
        "sklearn_constrained._classifier",
        "sklearn_constrained.constraints._weights",
        "sklearn_constrained.plotting",
    } <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_pass(name):
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    # A docstring that changes scikit-learn's global config (metadata
    # routing) must not leak into other tests.
    with sklearn.config_context():
        for test in sorted(tests, key=lambda t: t.name):
            runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, (
        f"{result.failed} docstring example(s) failed in {name}:\n" + "".join(report)
    )


#: every class and function the public contract names (CONTRACT.md)
CONTRACT_NAMES = {
    "sklearn_constrained": ["ConstrainedClassifier", "ConstrainedRegressor"],
    "sklearn_constrained.constraints": [
        "L2Norm",
        "L1Norm",
        "Orthogonality",
        "NonNegativity",
        "Simplex",
        "Density",
        "PredictionRate",
        "DemographicParity",
        "EqualizedOdds",
        "TruePositiveRate",
        "FalsePositiveRate",
        "TruePositiveRateParity",
        "FalsePositiveRateParity",
        "ErrorRateParity",
        "BoundedGroupLoss",
    ],
    "sklearn_constrained.methods": ["FixedPenalty", "SAL", "SADMM", "GDA"],
    "sklearn_constrained.optim": ["minimize", "Inequality", "Equality"],
    "sklearn_constrained.metrics": [
        "constraint_violation",
        "constraint_violation_ratio",
        "make_constraint_scorer",
    ],
    "sklearn_constrained.model_selection": ["best_feasible"],
    "sklearn_constrained.models": ["Linear", "MLP", "CNN", "ResNet13", "VGG11", "GENEONet"],
    "sklearn_constrained.datasets": ["load_adult", "load_german_credit", "load_mnist_5k"],
    "sklearn_constrained.plotting": [
        "plot_history",
        "plot_level_sweep",
        "plot_pareto",
        "pareto_front",
    ],
}
CONTRACT = [f"{m}.{n}" for m, names in CONTRACT_NAMES.items() for n in names]


@pytest.mark.parametrize("qualname", CONTRACT)
def test_contract_name_has_an_example(qualname):
    mod_name, _, attr = qualname.rpartition(".")
    module = importlib.import_module(mod_name)
    assert attr in getattr(module, "__all__", ()), f"{qualname} is not exported in __all__."
    obj = getattr(module, attr)
    # A class's own docstring (an inherited one would not document it).
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else obj.__doc__
    assert doc and ">>>" in doc, (
        f"{qualname} has no runnable example: add an Examples section with a `>>>` doctest "
        "to its docstring."
    )
