"""refimpl.run.scripts: the one argparse builder of the script entry points and its error contract -- a bad argument
prints exactly one line ``<prog>: error: <message>; see `<prog> --help``` on stderr and exits with status 2."""
from __future__ import annotations

import ast
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from refimpl.run.scripts import first_paragraph, script_parser

ROOT = Path(__file__).resolve().parents[1]
DOC = """Frobnicate the widgets: one line
that goes on here.

    python -m tool.frob --n 3

Details that are not the description.
"""


def _one_error_line(capsys, call, prog: str) -> str:
    with pytest.raises(SystemExit) as exc:
        call()
    out, err = capsys.readouterr()
    assert exc.value.code == 2
    assert out == ""
    assert err.endswith("\n") and len(err.splitlines()) == 1, err
    assert err.startswith(f"{prog}: error: ") and err.rstrip().endswith(f"see `{prog} --help`"), err
    return err


def test_a_bad_argument_prints_one_line_and_exits_2(capsys):
    ap = script_parser("python -m tool.frob", DOC)
    ap.add_argument("--n", type=int, default=1)
    err = _one_error_line(capsys, lambda: ap.parse_args(["--nope"]), "python -m tool.frob")
    assert "unrecognized arguments: --nope" in err and "usage:" not in err
    err = _one_error_line(capsys, lambda: ap.parse_args(["--n", "x"]), "python -m tool.frob")
    assert "invalid int value: 'x'" in err
    err = _one_error_line(capsys, lambda: ap.error("two\nlines"), "python -m tool.frob")    # a script's own error
    assert "error: two lines;" in err
    assert ap.parse_args(["--n", "3"]).n == 3


def test_the_help_carries_the_first_paragraph_of_the_docstring():
    assert first_paragraph(DOC) == "Frobnicate the widgets: one line that goes on here."
    assert first_paragraph(None) == ""
    ap = script_parser("python -m tool.frob", DOC, defaults_in_help=True)
    ap.add_argument("--n", type=int, default=7, help="how many")
    text = " ".join(ap.format_help().split())
    assert text.startswith("usage: python -m tool.frob [-h] [--n N]")
    assert "Frobnicate the widgets: one line that goes on here." in text
    assert "Details" not in text and "--n 3" not in text
    assert "how many (default: 7)" in text
    assert "(default: 7)" not in " ".join(script_parser("p", DOC).format_help().split())


def _mutation_main(argv):
    spec = importlib.util.spec_from_file_location("_mutation_script", ROOT / "scripts" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


def _main_of(name):
    return lambda argv: importlib.import_module(name).main(argv)


ENTRY_POINTS = [
    ("python -m benchmarks", lambda argv: importlib.import_module("benchmarks.run").parse(argv), []),
    ("python -m crosscheck.generate", _main_of("crosscheck.generate"), []),
    ("python scripts/mutation.py", _mutation_main, []),
    ("python -m experiments.theta_gradient", _main_of("experiments.theta_gradient"), ["RUN"]),
    ("python -m experiments.shrink_timing", _main_of("experiments.shrink_timing"), ["--with", "a", "--without", "b"]),
    ("python -m experiments.plots", _main_of("experiments.plots"), ["--out", "o"]),
    ("python -m experiments.plots front", lambda argv: _main_of("experiments.plots")(["front", *argv]),
     ["--runs", "r", "--out", "o.png"]),
    ("python -m experiments.selection_remedies", _main_of("experiments.selection_remedies"), ["--out", "o"]),
    ("python -m experiments.authors_preset", _main_of("experiments.authors_preset"), ["--out", "o"]),
    ("python -m experiments.uci", lambda argv: importlib.import_module("experiments.common").parser(
        "t", seeds=False, prog="python -m experiments.uci").parse_args(argv), ["--out", "o"]),
]


@pytest.mark.parametrize("prog, main, required", ENTRY_POINTS, ids=[e[0] for e in ENTRY_POINTS])
def test_every_script_keeps_the_contract(capsys, prog, main, required):
    """Each script's own parser: an unknown option (with the required ones given) is one line, exit status 2."""
    err = _one_error_line(capsys, lambda: main([*required, "--nope"]), prog)
    assert "unrecognized arguments: --nope" in err


def test_the_scripts_build_no_parser_of_their_own_and_the_builder_uses_only_the_standard_library():
    """One builder: no ``argparse.ArgumentParser(...)`` in the script folders; refimpl/run/scripts.py imports only the
    standard library (the library imports none of the script packages)."""
    own = [f"{p.relative_to(ROOT)}" for d in ("experiments", "benchmarks", "crosscheck", "scripts")
           for p in sorted((ROOT / d).rglob("*.py")) if "ArgumentParser(" in p.read_text(encoding="utf-8")]
    assert not own, f"build the parser with refimpl.run.scripts.script_parser: {own}"
    tree = ast.parse((ROOT / "refimpl" / "run" / "scripts.py").read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_the_folded_options_are_one_definition_with_a_copy_of_the_default_per_parser():
    from experiments import authors_preset, common, selection_remedies
    a = selection_remedies.build_parser().parse_args(["--out", "o"])
    b = authors_preset.build_parser().parse_args(["--out", "o", "--quiet"])
    assert a.hidden == b.hidden == [400, 400] and a.hidden is not b.hidden
    assert (a.quiet, b.quiet) == (False, True)
    a.hidden.append(10)
    assert common.SHARED["--hidden"]["default"] == [400, 400]


@pytest.mark.parametrize("module", ["experiments.mnist5k", "experiments.uci", "experiments.contraction",
                                    "experiments.support"])
@pytest.mark.parametrize("bad", [["--executor", "process", "--workers", "0"], ["--workers", "two"],
                                 ["--executor", "dask"]])
def test_bad_executor_options_end_in_one_line_and_status_2(module, bad, tmp_path):
    """--workers below 1 or not a number, and --executor dask without --scheduler: one stderr line naming the
    option, exit status 2, before any data is read or fit started (tmp_path stays empty)."""
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", module, "--quick", "--out", str(out), *bad], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and ": error: " in lines[0] and ("--workers" in lines[0] or "--scheduler" in lines[0])
    assert not out.exists()
