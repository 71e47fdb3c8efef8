"""What every constraint declares: its levels (``levels()``), kind and data needs."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

import sklearn_constrained.constraints as C
from sklearn_constrained.optim import Equality, Inequality

#: one instance of every exported constraint class, with the levels it must report
LEVELS = {
    "L2Norm": (C.L2Norm(bound=4), {"bound": 4.0}),
    "L1Norm": (C.L1Norm(bound=2.5, params="*.weight"), {"bound": 2.5}),
    "NonNegativity": (C.NonNegativity(), {}),
    "Orthogonality": (C.Orthogonality(), {"bound": 0.0}),
    "Simplex": (C.Simplex(params="mixing"), {}),
    "Density": (C.Density(upper=0.3), {"upper": 0.3}),
    "PredictionRate": (
        C.PredictionRate(label=1, lower=0.2, upper=0.8),
        {"lower": 0.2, "upper": 0.8},
    ),
    "TruePositiveRate": (C.TruePositiveRate(lower=0.9, pos_label=1), {"lower": 0.9}),
    "FalsePositiveRate": (C.FalsePositiveRate(upper=0.05), {"upper": 0.05}),
    "DemographicParity": (C.DemographicParity(bound=0.05), {"bound": 0.05}),
    "EqualizedOdds": (C.EqualizedOdds(bound=0.1), {"bound": 0.1}),
    "TruePositiveRateParity": (C.TruePositiveRateParity(bound=0.2), {"bound": 0.2}),
    "FalsePositiveRateParity": (C.FalsePositiveRateParity(), {"bound": 0.05}),
    "ErrorRateParity": (C.ErrorRateParity(bound=0.15), {"bound": 0.15}),
    "BoundedGroupLoss": (C.BoundedGroupLoss(bound=0.4), {"bound": 0.4}),
}

#: the base classes to extend (no level of their own)
BASES = {"Constraint", "WeightConstraint", "GroupMeanConstraint", "RateConstraint", "GapConstraint"}


@pytest.mark.parametrize("name", list(LEVELS))
def test_levels_of_every_constraint(name):
    constraint, expected = LEVELS[name]
    levels = constraint.levels()
    assert levels == expected
    assert all(type(v) is float for v in levels.values())
    # the levels are among the declared level parameters, and each is a parameter
    assert set(levels) <= set(constraint.level_names)
    assert set(constraint.level_names) <= set(constraint.get_params())
    # a clone reports the same levels; changing a level parameter changes them
    assert clone(constraint).levels() == expected
    for key in levels:
        assert clone(constraint).set_params(**{key: 0.01}).levels()[key] == 0.01
    constraint.check_params()  # the instances above are valid


def test_levels_leave_out_unset_sides():
    assert C.PredictionRate(label=0, lower=0.7).levels() == {"lower": 0.7}
    assert C.PredictionRate(label=0, upper=0.4).levels() == {"upper": 0.4}
    # an integer level is reported as a float
    assert C.L2Norm(bound=3).levels() == {"bound": 3.0}


def test_levels_of_the_optim_constraints():
    assert Inequality(lambda x: x.sum(), upper=2.0).levels() == {"upper": 2.0}
    assert Inequality(lambda x: x.sum(), upper=2.0, lower=-1.0).levels() == {
        "upper": 2.0,
        "lower": -1.0,
    }
    assert Inequality(lambda x: x.sum(), upper=None, lower=0.5).levels() == {"lower": 0.5}
    assert Equality(lambda x: x.sum()).levels() == {"target": 0.0}
    vector = Equality(lambda x: x, target=torch.tensor([1.0, -2.0])).levels()
    np.testing.assert_array_equal(vector["target"], [1.0, -2.0])


def test_every_exported_constraint_class_is_listed():
    exported = {
        name
        for name in C.__all__
        if isinstance(getattr(C, name), type) and issubclass(getattr(C, name), C.Constraint)
    }
    assert exported - BASES == set(LEVELS), "add the new constraint to LEVELS"
    assert BASES <= exported


@pytest.mark.parametrize(
    "name, kind, data, groups, labels",
    [
        ("L2Norm", "inequality", False, False, False),
        ("NonNegativity", "inequality", False, False, False),
        ("Orthogonality", "equality", False, False, False),
        ("Simplex", "equality", False, False, False),
        ("Density", "inequality", False, False, False),
        ("PredictionRate", "inequality", True, False, False),
        ("TruePositiveRate", "inequality", True, False, True),
        ("DemographicParity", "inequality", True, True, False),
        ("EqualizedOdds", "inequality", True, True, True),
        ("ErrorRateParity", "inequality", True, True, True),
        ("BoundedGroupLoss", "inequality", True, True, True),
    ],
)
def test_kind_and_data_needs(name, kind, data, groups, labels):
    c = LEVELS[name][0]
    assert (c.kind, c.requires_data, c.requires_groups, c.requires_labels) == (
        kind,
        data,
        groups,
        labels,
    )
