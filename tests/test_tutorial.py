"""docs/tutorial.md is executable: every ```python block runs, in order, in one namespace.

The blocks carry their own ``assert``s against independent computations (plain NumPy forward passes, finite
differences, closed forms written from their definitions, Monte Carlo, hand counts), so running them is the check.
They run in a temporary working directory (the export of step 5 writes a file there). A failure names the block
by its index and first line, and the traceback points at the line of docs/tutorial.md. Other fences (```sh) are
not run. The derivation labels the page cites must be defined in docs/derivations.md or docs/theory.md.
"""
from __future__ import annotations

import re
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
LABEL_PAGES = (ROOT / "docs" / "derivations.md", ROOT / "docs" / "theory.md")
FENCE = re.compile(r"^```\s*([^\s`]*)[^`]*$")        # ```python, ```sh, ``` (closing)
# a label as docs/derivations.md writes it: (KL-3), (KL-1′), (T-11); also inside "(N-1, N-2, N-3)"
LABEL = r"[A-Z]{1,4}-\d+['′]?"
CITED = re.compile(rf"(?<![\w.{{-])({LABEL})(?![\w-])")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """``(line, source)`` of every fenced block opened by exactly ```python; ``line`` is the 1-based line of the
    block's first source line in ``text``."""
    blocks, lang, start, body = [], None, 0, []
    for number, line in enumerate(text.splitlines(), start=1):
        m = FENCE.match(line)
        if lang is None:
            if m:
                lang, start, body = m.group(1), number + 1, []
        elif m and not m.group(1):
            if lang == "python":
                blocks.append((start, "\n".join(body) + "\n"))
            lang = None
        else:
            body.append(line)
    if lang is not None:
        raise ValueError(f"a ``` fence opened before line {start} is never closed")
    return blocks


class BlockFailed(AssertionError):
    pass


def run_blocks(blocks, filename: str) -> dict:
    """Execute ``blocks`` in order in one namespace; raise :class:`BlockFailed` naming the first block that fails."""
    namespace = {"__name__": "__tutorial__"}
    for index, (line, source) in enumerate(blocks):
        first = next((s.strip() for s in source.splitlines() if s.strip()), "")
        try:
            # pad so that line numbers in the traceback are the lines of the markdown file
            exec(compile("\n" * (line - 1) + source, filename, "exec"), namespace)
        except Exception as exc:
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next))
            raise BlockFailed(f"{filename}: python block {index} (line {line}, first line {first!r}) failed: "
                              f"{type(exc).__name__}: {exc}\n{tb}") from None
    return namespace


def labels_defined() -> set[str]:
    """Labels defined by a heading ``## (X-n) ...`` or a paragraph ``**(X-n)...`` of the two pages."""
    out = set()
    for page in LABEL_PAGES:
        for line in page.read_text(encoding="utf-8").splitlines():
            if line.startswith(("## ", "### ")):
                out.update(re.findall(rf"\(({LABEL})\)", line))
            m = re.match(rf"\*\*\(({LABEL})\)", line)
            if m:
                out.add(m.group(1))
    return out


def undefined_labels(text: str, defined: set[str]) -> list[str]:
    """``"line N: (X-n)"`` for every label-shaped token of ``text`` that ``defined`` lacks."""
    return [f"line {text.count(chr(10), 0, m.start()) + 1}: ({m.group(1)})"
            for m in CITED.finditer(text) if m.group(1) not in defined and m.group(1) != "UTF-8"]


@pytest.fixture(scope="module")
def text() -> str:
    return TUTORIAL.read_text(encoding="utf-8")


def test_the_tutorial_runs(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    failure = namespace = None
    try:
        namespace = run_blocks(python_blocks(text), "docs/tutorial.md")
    except BlockFailed as exc:
        failure = str(exc)
    if failure is not None:
        pytest.fail(failure, pytrace=False)             # the block, its line and its traceback; not this frame
    assert (tmp_path / "tiny.npz").is_file()             # step 5 wrote its export here, not in the repository
    assert "net" in namespace and "r" in namespace


def test_the_tutorial_has_the_six_steps(text):
    blocks = python_blocks(text)
    assert len(blocks) >= 6, f"docs/tutorial.md has {len(blocks)} python blocks; expected at least six"
    headings = re.findall(r"^## (\d)\. ", text, re.M)
    assert headings == ["1", "2", "3", "4", "5", "6"], headings


def test_every_cited_label_is_defined(text):
    defined = labels_defined()
    assert len(defined) > 80, "the label parser found too few labels in docs/derivations.md and docs/theory.md"
    cited = {m.group(1) for m in CITED.finditer(text)}
    assert len(cited) >= 20, sorted(cited)
    missing = undefined_labels(text, defined)
    assert not missing, "docs/tutorial.md cites labels defined in neither page:\n" + "\n".join(missing)


# ---- the checks above can fail ------------------------------------------------------------------------------------

PROBE = """intro

```sh
this is not python and is not run
```

```python
value = 2
```

text

```python
# comment first
assert value == 3, "a broken block"
```
"""


def test_a_failing_block_is_reported_by_index_and_first_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(PROBE)
    assert [line for line, _ in blocks] == [8, 14]
    with pytest.raises(BlockFailed) as info:
        run_blocks(blocks, "probe.md")
    message = str(info.value)
    assert "python block 1 (line 14, first line '# comment first')" in message
    assert "AssertionError: a broken block" in message
    assert 'File "probe.md", line 15' in message          # the traceback points into the markdown file


def test_an_unclosed_fence_is_an_error():
    with pytest.raises(ValueError, match="never closed"):
        python_blocks("```python\nx = 1\n")


def test_an_undefined_label_is_reported():
    fake = "(" + "KL" + "-" + "99)"                      # spelt in pieces: tests/test_structure.py scans this file
    found = undefined_labels(f"ok (N-3)\nbad {fake}, fine (KL-1′)", labels_defined())
    assert found == [f"line 2: {fake}"], found
