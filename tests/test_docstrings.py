"""The docstring examples run and pass.

Every module of the package (public and private: the public names are
defined in private modules) is found with ``pkgutil`` and its doctests are
run; a module is never skipped. The contract's public names, and every other
public class and function (the ``__all__`` of the public subpackages, but for
the few listed in ``WITHOUT_EXAMPLE``), must each carry a runnable example.
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
    "sklearn_constrained.methods": [
        "FixedPenalty",
        "SAL",
        "SADMM",
        "GDA",
        "Auto",
        "resolve_method",
    ],
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


def _assert_has_example(qualname):
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


@pytest.mark.parametrize("qualname", CONTRACT)
def test_contract_name_has_an_example(qualname):
    _assert_has_example(qualname)


#: the public subpackages whose ``__all__`` is the package's public surface
PUBLIC_MODULES = [
    "sklearn_constrained",
    "sklearn_constrained.constraints",
    "sklearn_constrained.methods",
    "sklearn_constrained.optim",
    "sklearn_constrained.metrics",
    "sklearn_constrained.model_selection",
    "sklearn_constrained.models",
    "sklearn_constrained.datasets",
    "sklearn_constrained.plotting",
]

#: public names that still lack an example (base classes and helpers outside
#: the contract); remove a name here once its docstring has one
WITHOUT_EXAMPLE = {
    "sklearn_constrained.methods.ConstrainedMethod",
    "sklearn_constrained.metrics.ConstraintScorer",
    "sklearn_constrained.models.SizedModule",
    "sklearn_constrained.models.ImageModel",
    "sklearn_constrained.models.HardConcreteGates",
}


def _public_callables():
    names = []
    for mod_name in PUBLIC_MODULES:
        module = importlib.import_module(mod_name)
        for attr in getattr(module, "__all__", ()):
            obj = getattr(module, attr)
            if inspect.ismodule(obj) or not callable(obj):
                continue  # subpackages and constants (METHODS, __version__)
            if inspect.isclass(obj) and issubclass(obj, Warning):
                continue  # warning categories are documented where they are raised
            names.append(f"{mod_name}.{attr}")
    return names


PUBLIC = _public_callables()


def test_the_public_surface_was_found():
    assert set(CONTRACT) <= set(PUBLIC)
    assert WITHOUT_EXAMPLE <= set(PUBLIC), sorted(WITHOUT_EXAMPLE - set(PUBLIC))


@pytest.mark.parametrize("qualname", [n for n in PUBLIC if n not in WITHOUT_EXAMPLE])
def test_public_name_has_an_example(qualname):
    _assert_has_example(qualname)
