"""What the plotting modules share: matplotlib, imported only when a plot is drawn."""


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "sklearn_constrained.plotting needs matplotlib, an optional dependency: install it "
            "with `pip install sklearn-constrained[plot]` (or `pip install matplotlib`)."
        ) from exc
    return plt
