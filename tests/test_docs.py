"""Every Python code block of the README and the user guide runs (issue 17, item 10).

The blocks of one page run in order in one namespace, as a reader would run
them, with one OpenMP thread and matplotlib's Agg backend. A block preceded by
an HTML comment ``<!-- no-run: reason -->`` is skipped, with its reason, and
must say why (a ``torchrun`` launcher, a GPU, a Dask cluster, ...); there are
few, and their count is asserted so none is skipped silently.
"""

import re
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
_BLOCK = re.compile(r"(<!--\s*no-run:(?P<why>[^>]*)-->\s*\n)?```python\n(?P<code>.*?)```", re.S)


def blocks(path):
    """``(code, skip_reason)`` of every python block of a page."""
    found = _BLOCK.finditer(path.read_text())
    return [(m["code"], (m["why"] or "").strip() or None) for m in found]


RUNNABLE = [p for p in PAGES if any(why is None for _, why in blocks(p))]


@pytest.mark.parametrize("page", RUNNABLE, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_blocks_of_the_page_run(page, tmp_path, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # files a snippet writes land in a scratch folder
    namespace = {"__name__": "__main__"}
    for i, (code, why) in enumerate(blocks(page)):
        if why is not None:
            continue
        try:
            exec(compile(code, f"{page.name}[block {i + 1}]", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - report which block failed, and how
            pytest.fail(f"{page.relative_to(ROOT)}, block {i + 1} raised "
                        f"{type(exc).__name__}: {exc}\n{code}")


def test_skipped_blocks_say_why():
    skipped = [(p.name, why) for p in PAGES for _, why in blocks(p) if why is not None]
    assert all(why for _, why in skipped)
    assert len(skipped) <= 6, skipped
