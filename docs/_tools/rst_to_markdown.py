"""Docstrings are numpydoc with a few reStructuredText constructs; render them in Markdown.

A Griffe extension loaded by mkdocstrings (``mkdocs.yml``). Before a
docstring is parsed it rewrites:

- ``:math:`x``` into ``$x$`` and a ``.. math::`` block into ``$$ ... $$``
  (rendered by ``pymdownx.arithmatex`` and MathJax);
- a paragraph ending in ``::`` (a literal block follows) into one ending in ``:``;
- ``:class:`~pkg.Name``` (and ``:func:``, ``:meth:``, ``:mod:``, ``:attr:``,
  ``:data:``, ``:obj:``, ``:exc:``) into an *optional* cross-reference: a
  link when the target is documented on the site, plain code otherwise, so
  a reference to an undocumented name never fails the strict build.

The same conversion is used by the gallery hook for the examples' module
docstrings.
"""

import importlib
import inspect
import re

try:  # the hook imports this file without Griffe being needed
    import griffe
except ImportError:  # pragma: no cover
    griffe = None

_ROLE = re.compile(r":(?:py:)?(class|func|meth|mod|attr|data|obj|exc|ref):`(~?)([^`<>]+?)`")
_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_MATH_BLOCK = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<first>.*)$")
_LITERAL_MARKER = re.compile(r"(\S)::[ \t]*$", re.MULTILINE)
_ROOT = "sklearn_constrained"


def _public_package(path):
    """The public package of a dotted path, without its private parts.

    ``sklearn_constrained.constraints._weights.L2Norm`` -> ``sklearn_constrained.constraints``.
    """
    parts = []
    for part in path.split("."):
        if part.startswith("_"):
            break
        parts.append(part)
    return ".".join(parts)


def _role_to_ref(match, context):
    kind, tilde, target = match.group(1), match.group(2), match.group(3).strip()
    target = target.rstrip("()")
    title = target.rsplit(".", 1)[-1] if tilde else target
    if kind == "func" or kind == "meth":
        title += "()"
    title_html = f"<code>{title}</code>"
    if target.startswith(_ROOT):
        identifier = target
    elif "." not in target and context:
        # A name relative to the object's public package (or, for a method,
        # its class): resolved when documented, plain code otherwise.
        identifier = f"{context}.{target}"
    else:
        return title_html
    return f'<autoref identifier="{identifier}" optional>{title_html}</autoref>'


def _convert_math_blocks(text):
    lines = text.split("\n")
    out = []
    i = 0
    while i < len(lines):
        m = _MATH_BLOCK.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent = m.group("indent")
        body = [m.group("first").strip()] if m.group("first").strip() else []
        i += 1
        # the directive's content: the following lines indented deeper (or blank)
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)
        ):
            body.append(lines[i].strip())
            i += 1
        while body and not body[-1]:
            body.pop()
        body = [b for b in body if b] or [""]
        out.extend(["", f"{indent}$$"] + [f"{indent}{b}" for b in body] + [f"{indent}$$", ""])
    return "\n".join(out)


def convert(text, context=None):
    """Convert the reStructuredText constructs of a docstring to Markdown.

    Parameters
    ----------
    text : str
        The docstring.
    context : str, default=None
        The public package (or class) relative names are resolved in.
    """
    text = _convert_math_blocks(text)
    # "Usage::" introduces a literal block in reStructuredText: a colon in Markdown
    # (the indented block that follows is a code block in both).
    text = _LITERAL_MARKER.sub(r"\1:", text)
    text = _MATH_ROLE.sub(lambda m: f"${m.group(1)}$", text)
    return _ROLE.sub(lambda m: _role_to_ref(m, context), text)


def _runtime_docstring(obj):
    """Fill a docstring built at import time from the imported object itself.

    A docstring built at import time (``__doc__ = "..." + shared``) is one
    static analysis cannot see.
    """
    owner = obj
    while owner is not None and not owner.is_module:
        owner = owner.parent
    if owner is None or not obj.path.startswith(_ROOT):
        return
    try:
        target = importlib.import_module(owner.path)
        for part in obj.path[len(owner.path) + 1 :].split("."):
            target = vars(target)[part] if isinstance(target, type) else getattr(target, part)
    except (ImportError, AttributeError, KeyError):
        return
    doc = (
        vars(target).get("__doc__")
        if isinstance(target, type)
        else getattr(target, "__doc__", None)
    )
    if isinstance(doc, str) and doc.strip():
        obj.docstring = griffe.Docstring(inspect.cleandoc(doc), parent=obj)


if griffe is not None:

    class RstToMarkdown(griffe.Extension):
        """Rewrite each loaded docstring before mkdocstrings parses it."""

        def on_object(self, *, obj, **kwargs):
            if obj.docstring is None and (obj.is_class or obj.is_function):
                _runtime_docstring(obj)
            doc = obj.docstring
            if doc is None or not doc.value:
                return
            context = _public_package(obj.path)
            if obj.is_function and obj.parent is not None and obj.parent.is_class:
                context = f"{_public_package(obj.parent.path)}.{obj.parent.name}"
            doc.value = convert(doc.value, context)
