"""environment.yml must list the same packages, with the same pins, as pyproject.toml."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.sub(r"\[.*\]", "", req).strip().lower().replace("_", "-")


def _pins(reqs):
    out = {}
    for r in reqs:
        name, _, ver = r.partition("==")
        out[_name(name)] = ver.strip()
    return out


def test_environment_matches_pyproject():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    want = _pins(py["dependencies"] + py["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    got = _pins(d for d in conda if not d.startswith(("python", "pip")))
    assert got == want
    assert "conda-forge" in env["channels"]
    assert any(re.fullmatch(r"python=3\.\d+", d) for d in conda), "pin the Python version"


def test_every_dependency_is_pinned():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for r in py["dependencies"] + py["optional-dependencies"]["dev"]:
        assert "==" in r, f"unpinned dependency: {r}"
