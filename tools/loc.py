"""Lines of glassnet's source, per file and per folder, and the core's size budget.

    python tools/loc.py            # every file and folder of src/glassnet
    python tools/loc.py --core     # only the core: tensor, ops, kernels, nn
    python tools/loc.py --check    # the core's total only; exit 1 over budget

Two counts per file: ``lines`` (everything, as ``wc -l``) and ``code``
(lines holding code: no blank lines, comments or docstrings). The budget is on
the core's code lines, so rich docstrings cost nothing; it is stated in the
README ("Contributing") and in ``BUDGET`` below, and raising it is a decision
made in a review, not a side effect.

The core is what a reader must know to follow a training step: ``tensor.py``,
``ops/``, the kernels' NumPy references (``kernels/`` without its compiled
side: ``native/`` and the C sources, nor its faster ``variants/``) and ``nn/``. A part that does not exist
in this checkout counts as 0 lines.
"""

from __future__ import annotations

import argparse
import ast
import io
import sys
import tokenize
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "glassnet"
CORE = ("tensor.py", "ops", "kernels", "nn")
# Compiled kernels are not the core's reading, nor the C interface table
# (kernels/_abi.py) and a recording's translation into step.c's program
# (kernels/_step.py), the tests' argument helpers (kernels/_draw.py) or the
# faster NumPy variants kept apart from their references (kernels/variants/).
NOT_REFERENCES = ("native", "_native", "_abi.py", "_step.py", "_draw.py", "variants")
BUDGET = 5_600  # code lines of the core; README.md "Contributing" says the same


def count(text: str) -> tuple[int, int]:
    """(all lines, code lines) of one Python source.

    A code line holds a token that is not a comment, and is not part of a
    docstring (the first string statement of a module, class or function).
    """
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    skip = {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENDMARKER,
        tokenize.ENCODING,
    }
    code = set()
    for tok in tokenize.tokenize(io.BytesIO(text.encode()).readline):
        if tok.type not in skip:
            code.update(range(tok.start[0], tok.end[0] + 1))
    for node in ast.walk(ast.parse(text)):
        if isinstance(
            node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        ):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                code -= set(range(body[0].lineno, body[0].end_lineno + 1))
    return lines, len(code)


def in_core(rel: Path) -> bool:
    """Whether a path relative to the package is part of the core."""
    parts = rel.parts
    if parts[0] not in CORE:
        return False
    return not (parts[0] == "kernels" and any(p in NOT_REFERENCES for p in parts))


def measure(package: Path = PACKAGE) -> dict:
    """{relative path: (lines, code)} for every .py file of the package."""
    return {
        path.relative_to(package): count(path.read_text(encoding="utf-8"))
        for path in sorted(package.rglob("*.py"))
    }


def folders(files: dict) -> dict:
    """{folder: (lines, code)}, each folder's totals including its sub-folders."""
    totals: dict = {}
    for rel, (lines, code) in files.items():
        for folder in [Path("."), *list(rel.parents)[:-1]]:
            a, b = totals.get(folder, (0, 0))
            totals[folder] = (a + lines, b + code)
    return totals


def core_total(files: dict) -> tuple[int, int]:
    picked = [v for rel, v in files.items() if in_core(rel)]
    return sum(v[0] for v in picked), sum(v[1] for v in picked)


def core_line(files: dict) -> str:
    lines, code = core_total(files)
    missing = [p for p in CORE if not (PACKAGE / p).exists()]
    note = f" ({', '.join(missing)}: not in this checkout)" if missing else ""
    return (
        f"core (tensor.py, ops/, kernels' references, nn/){note}: {lines:,} lines, "
        f"{code:,} code lines; budget {BUDGET:,} code lines"
    )


def report(files: dict, core_only: bool = False) -> str:
    rows = [(str(rel), *v) for rel, v in files.items() if not core_only or in_core(rel)]
    shown = {Path(r[0]) for r in rows}
    out = [f"{'file':<52} {'lines':>7} {'code':>7}"]
    out += [f"{name:<52} {lines:>7,} {code:>7,}" for name, lines, code in rows]
    out.append("")
    out.append(f"{'folder (with its sub-folders)':<52} {'lines':>7} {'code':>7}")
    for folder, (lines, code) in sorted(folders(files).items()):
        if folder != Path(".") and not any(folder in p.parents for p in shown):
            continue
        label = "src/glassnet (all)" if folder == Path(".") else f"{folder}/"
        out.append(f"{label:<52} {lines:>7,} {code:>7,}")
    out.append("")
    out.append(core_line(files))
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--core", action="store_true", help="list only the core's files")
    p.add_argument(
        "--check",
        action="store_true",
        help="print the core's total only; exit 1 if it is over budget",
    )
    args = p.parse_args(argv)
    files = measure()
    print(core_line(files) if args.check else report(files, core_only=args.core))
    code = core_total(files)[1]
    if args.check and code > BUDGET:
        print(
            f"loc: the core has {code:,} code lines, over its budget of "
            f"{BUDGET:,}: make it smaller, or raise BUDGET here and in README.md "
            "(Contributing) in a reviewed change.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
