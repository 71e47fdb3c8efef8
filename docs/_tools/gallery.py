"""MkDocs hook: build the gallery page from ``examples/*.py`` and their figures.

Every script in ``examples/`` gets a section on ``gallery/index.md``: its
title and description (the module docstring), the figure it writes
(``docs/gallery/<script>.png``, made by ``make examples``) and its source in
a collapsible block. A script that takes ``--out`` writes a figure; when the
figure is missing a warning fails ``mkdocs build --strict``: run
``make examples`` and commit the PNG. Scripts without ``--out`` (launchers
such as a ``torchrun`` script) are listed last, without a figure. New
scripts appear without editing the docs.
"""

import ast
import importlib.util
import logging
import os

log = logging.getLogger("mkdocs.plugins.gallery")

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(os.path.dirname(_HERE))
_EXAMPLES = os.path.join(_ROOT, "examples")
_GALLERY = os.path.join(_ROOT, "docs", "gallery")
_MARKER = "<!-- gallery -->"
#: shown first, in this order; the other scripts follow alphabetically
_FIRST = [
    "quickstart",
    "demo",
    "concave_2d",
    "rate_constraint",
    "fairness_adult",
    "geneo_lbfgs",
    "grid_search_level",
]


def _converter():
    spec = importlib.util.spec_from_file_location(
        "_sc_rst_to_markdown", os.path.join(_HERE, "rst_to_markdown.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.convert


def _scripts():
    names = sorted(
        f[:-3] for f in os.listdir(_EXAMPLES) if f.endswith(".py") and not f.startswith("_")
    )
    first = [n for n in _FIRST if n in names]
    return first + [n for n in names if n not in first]


def _source(name):
    with open(os.path.join(_EXAMPLES, f"{name}.py"), encoding="utf-8") as fh:
        return fh.read()


def _writes_figure(source):
    """A gallery example takes ``--out PATH`` for its figure (see CONTRIBUTING.md)."""
    return "--out" in source


def _section(name, convert, level="##"):
    source = _source(name)
    doc = ast.get_docstring(ast.parse(source)) or name
    title, _, body = doc.partition("\n")
    lines = [
        f"{level} {title.strip().rstrip('.')}",
        "",
        f"`examples/{name}.py`",
        "",
        convert(body.strip(), "sklearn_constrained"),
        "",
    ]
    if _writes_figure(source):
        if os.path.exists(os.path.join(_GALLERY, f"{name}.png")):
            lines += [f"![{title.strip()}]({name}.png)", ""]
        else:
            log.warning(
                f"gallery: examples/{name}.py has no figure docs/gallery/{name}.png; "
                "run `make examples` and commit the PNG."
            )
    lines += [
        f'??? example "Source: examples/{name}.py"',
        "",
        "    ```python",
        f'    --8<-- "examples/{name}.py"',
        "    ```",
        "",
    ]
    return "\n".join(lines)


def on_page_markdown(markdown, page, **kwargs):
    if _MARKER not in markdown:
        return markdown
    convert = _converter()
    names = _scripts()
    with_figure = [n for n in names if _writes_figure(_source(n))]
    others = [n for n in names if n not in with_figure]
    parts = [_section(n, convert) for n in with_figure]
    if others:
        parts.append(
            "## Other scripts\n\nScripts that write no figure (for example those that need "
            "a launcher such as `torchrun`); `make examples` does not run them.\n"
        )
        parts += [_section(n, convert, level="###") for n in others]
    return markdown.replace(_MARKER, "\n".join(parts))
