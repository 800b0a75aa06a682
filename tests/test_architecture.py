"""docs/architecture.md stays true to the tree. Pure file reading (no imports of the project).

* Every module file under ``refimpl/`` (recursively; not ``__init__.py`` or ``__main__.py``) is named on the page
  by its path from the repository root (``refimpl/priors/record.py``).
* Every ``refimpl/....py`` path the page names exists.
* Every derivation label defined in docs/derivations.md has a row in the page's label table.

The line counts and the label table on the page are a snapshot; ``python tests/test_architecture.py`` prints them
afresh (the counts grouped by the page's own layer headings, the table from the code's citations).
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "architecture.md"
DERIVATIONS = ROOT / "docs" / "derivations.md"
# ``refimpl/x.py`` or ``refimpl/sub/x.py`` standing alone or after ``../`` (a link from docs/); not ``myrefimpl/``
PACKAGE_PATH = re.compile(r"(?:(?<=\.\./)|(?<![\w./-]))(refimpl/(?:\w+/)*\w+\.py)(?![\w])")
# a derivation label: one to four capitals, a hyphen, a number, an optional prime (ASCII or Unicode)
LABEL = r"[A-Z]{1,4}-\d+['′]?"
SIBLINGS = ("theory", "oracles", "experiments", "benchmarks", "crosscheck")


def _page() -> str:
    return PAGE.read_text(encoding="utf-8")


def _module_files() -> list[str]:
    return sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "refimpl").rglob("*.py")
                  if p.name not in ("__init__.py", "__main__.py") and "__pycache__" not in p.parts)


def _norm(label: str) -> str:
    return label.replace("′", "'")


def _defined_labels() -> list[str]:
    """Labels defined in docs/derivations.md: ``(X-n)`` in a ``##``/``###`` heading or a ``**(X-n)`` line, in order."""
    out = []
    for line in DERIVATIONS.read_text(encoding="utf-8").splitlines():
        if line.startswith(("## ", "### ")):
            out += [_norm(x) for x in re.findall(rf"\(({LABEL})\)", line)]
        m = re.match(rf"\*\*\(({LABEL})\)", line)
        if m:
            out.append(_norm(m.group(1)))
    return list(dict.fromkeys(out))


def test_the_page_exists():
    assert PAGE.is_file(), "docs/architecture.md is missing"


def test_every_module_is_named_on_the_page():
    named = set(PACKAGE_PATH.findall(_page()))
    modules = _module_files()
    assert len(modules) > 30, modules                     # the scan found the package
    missing = [m for m in modules if m not in named]
    assert not missing, ("docs/architecture.md does not name these modules (add a row with the path, its line count "
                         "and what it holds):\n" + "\n".join(missing))


def test_every_path_on_the_page_exists():
    text = _page()
    gone = [f"docs/architecture.md:{text.count(chr(10), 0, m.start()) + 1}: {m.group(1)}"
            for m in PACKAGE_PATH.finditer(text) if not (ROOT / m.group(1)).is_file()]
    assert not gone, "docs/architecture.md names files that do not exist:\n" + "\n".join(gone)


def test_every_derivation_label_has_a_row():
    defined = _defined_labels()
    assert len(defined) > 40, defined                     # the parser found the headings
    on_page = {_norm(x) for x in re.findall(rf"\(({LABEL})\)", _page())}
    missing = [lab for lab in defined if lab not in on_page]
    assert not missing, ("docs/derivations.md defines labels the table of docs/architecture.md lacks "
                         "(regenerate it: python tests/test_architecture.py):\n" + "\n".join(missing))


def test_the_path_pattern():
    text = "`refimpl/model.py`, ../refimpl/priors/base.py, refimpl/data/idx.pyc, myrefimpl/x.py, refimpl/fused.py."
    assert PACKAGE_PATH.findall(text) == ["refimpl/model.py", "refimpl/priors/base.py", "refimpl/fused.py"]


# ---- the regenerators (not tests) ----------------------------------------------------------------------------------

def _lines(rel: str) -> int:
    return len((ROOT / rel).read_text(encoding="utf-8").splitlines())


def line_counts() -> str:
    """Per ``### `` heading of the page: each ``refimpl/`` module it names, its line count and the total."""
    out, total = [], 0
    for head, body in re.findall(r"^### (.+)\n((?:(?!^##).*\n?)*)", _page(), re.M):
        paths = list(dict.fromkeys(PACKAGE_PATH.findall(body)))
        if paths:
            counts = [(p, _lines(p)) for p in paths if (ROOT / p).is_file()]
            out += [f"{head}"] + [f"  {p}: {n}" for p, n in counts] + [f"  total: {sum(n for _, n in counts)}"]
            total += sum(n for _, n in counts)
    return "\n".join(out + [f"all named: {total}"])


def _citations(dirs) -> dict[str, list[str]]:
    """Label -> modules (``model``, ``priors/record``; ``theory/rates`` outside refimpl) whose text cites it, as
    tests/test_structure.py reads citations: a range of one family's labels (``..``, ``to``, ``–``) cites each."""
    cited = re.compile(rf"(?<![\w.{{-])({LABEL})(?![\w-])")
    span = re.compile(r"(?<![\w-])([A-Z]{1,4})-(\d+)\s*(?:\.\.|to|–)\s*(?:\1-)?(\d+)(?![\w-])")
    out: dict[str, list[str]] = {}
    for d in dirs:
        base = ROOT / d
        for f in sorted(base.rglob("*.py")):
            text = f.read_text(encoding="utf-8")
            labs = {_norm(m.group(1)) for m in cited.finditer(text)}
            for m in span.finditer(text):
                labs |= {f"{m.group(1)}-{k}" for k in range(int(m.group(2)), int(m.group(3)) + 1)}
            name = f.relative_to(ROOT / "refimpl" if d == "refimpl" else ROOT).as_posix()[:-3]
            for lab in labs:
                out.setdefault(lab, []).append(name)
    return out


def label_table() -> str:
    """The markdown table of the page: consecutive labels with the same modules share a row."""
    core, other = _citations(["refimpl"]), _citations(SIBLINGS)
    rows, nowhere = [], []
    for lab in _defined_labels():
        if lab not in core and lab not in other:
            nowhere.append(lab)
            continue
        cells = (", ".join(core.get(lab, [])) or "—", _short(other.get(lab, [])) or "—")
        if rows and rows[-1][1] == cells and rows[-1][0][-1].split("-")[0] == lab.split("-")[0]:
            rows[-1][0].append(lab)
        else:
            rows.append(([lab], cells))
    lines = ["| label | refimpl modules | sibling packages |", "|---|---|---|"]
    lines += [f"| {_show(labs)} | {a} | {b} |" for labs, (a, b) in rows]
    lines.append(f"| cited nowhere in code | {_show(nowhere) if nowhere else '(none)'} | |")
    return "\n".join(lines)


def _short(names) -> str:
    """``experiments/a, b, oracles/c``: a package named once for its consecutive modules."""
    out, last = [], None
    for name in names:
        package, _, module = name.partition("/")
        out.append(module if package == last else name)
        last = package
    return ", ".join(out)


def _show(labels) -> str:
    return " ".join("(" + lab.replace("'", "′") + ")" for lab in labels)


if __name__ == "__main__":
    print(line_counts())
    print()
    print(label_table())
