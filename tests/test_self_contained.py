"""The project stands alone: nothing in it points at files a clone does not have."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: names of working notes that live outside the repository, and paths that lead out of it
OUTSIDE = re.compile(r"\bCALIBRATION\.md|\bMODEL\.md|\bPRACTICES\.md|\.\./shared|/work/shared|\bseeds/")


def test_no_reference_outside_the_repository():
    found = []
    for folder in ("src", "docs", "notebooks", "data_schema", "benchmarks", "examples"):
        for p in sorted((ROOT / folder).rglob("*")):
            if p.is_file() and p.suffix in {".py", ".md", ".ipynb", ".yaml", ".csv", ".txt", ".json"}:
                for i, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                    if OUTSIDE.search(line):
                        found.append(f"{p.relative_to(ROOT)}:{i}: {line.strip()[:120]}")
    for name in ("README.md", "Makefile", "pyproject.toml", "environment.yml"):
        for i, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{name}:{i}: {line.strip()[:120]}")
    assert not found, "references outside the repository:\n" + "\n".join(found)
