"""The environment: environment.yml lists the same packages, with the same pins, as pyproject.toml; the command
starts with glibc's malloc settings for large arrays."""

import re
import sys
import tomllib
from pathlib import Path

import pytest
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


# ---------------------------------------------------------------------------
# the command-line process and glibc's malloc (model.cli._reuse_freed_memory)


def test_the_command_starts_itself_once_more_with_the_malloc_settings(monkeypatch):
    """``fordelingsmodel``/``python -m model`` execute themselves again with MALLOC_* set (glibc reads them at start),
    once; the user's own MALLOC_* settings and FORDELINGSMODEL_MALLOC=system are left alone; in-process calls never."""
    import os
    import platform
    import types

    from model import cli

    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    calls: list = []
    monkeypatch.setattr(os, "execv", lambda exe, argv: calls.append((exe, list(argv))))
    saved = {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")}
    for k in saved:
        monkeypatch.delenv(k)
    monkeypatch.delenv("FORDELINGSMODEL_MALLOC", raising=False)
    argv = [sys.executable, "/somewhere/bin/fordelingsmodel", "fit", "--year", "2025"]
    monkeypatch.setattr(sys, "argv", argv[1:])
    monkeypatch.setattr(sys, "orig_argv", argv)
    monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__spec__=None))
    try:
        monkeypatch.setenv("FORDELINGSMODEL_MALLOC", "system")
        cli._reuse_freed_memory()
        assert calls == []
        monkeypatch.delenv("FORDELINGSMODEL_MALLOC")
        cli._reuse_freed_memory()
        assert calls == [(sys.executable, argv)]
        assert {k: os.environ[k] for k in cli.MALLOC_ENV} == cli.MALLOC_ENV
        cli._reuse_freed_memory()  # the new process: settings present, it goes on
        assert len(calls) == 1
    finally:
        for k in cli.MALLOC_ENV:
            os.environ.pop(k, None)
        os.environ.update(saved)
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")  # a user's own setting: left alone
    cli._reuse_freed_memory()
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__spec__=types.SimpleNamespace(name="ipykernel_launcher")))
    monkeypatch.setattr(sys, "argv", ["-c"])
    cli._reuse_freed_memory()  # a kernel or another program that imported the package: never
    assert len(calls) == 1
