"""The prepared-year cache (model.analyses.year_cache) and the validation stamps (model.inputs.contracts.stamp):
a cached year equals a freshly read one field by field; a changed byte or code gives a new key."""

from __future__ import annotations

import shutil
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from model.analyses import year_cache
from model.analyses.panel import read_year
from model.inputs.contracts.stamp import MODEL_TABLES, StampedReport, validate_folder_stamped


def _same(a, b) -> None:
    for f in fields(a):
        if f.name in ("cache", "files"):
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, pd.DataFrame):
            pd.testing.assert_frame_equal(x, y)
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), f.name
        elif isinstance(x, list) and x and isinstance(x[0], np.ndarray):
            assert all(np.array_equal(u, v) and u.dtype == v.dtype for u, v in zip(x, y)), f.name
        else:
            assert x == y, f.name


@pytest.fixture
def data(panel_dir, tmp_path):
    """A copy of the session's small panel (20,000 citizens, 2021-2025), free to change."""
    d = tmp_path / "data"
    shutil.copytree(panel_dir, d)
    return d


def test_cached_year_equals_read_year(data, monkeypatch, tmp_path):
    monkeypatch.setenv("FORDELINGSMODEL_CACHE", str(tmp_path / "cache"))
    fresh = read_year(data, 2025, cache=False)
    first = read_year(data, 2025, hashes=True)   # builds and stores
    k = year_cache.key(data, 2025, None, 1, 2026)
    assert year_cache.exists(k)
    again = read_year(data, 2025, hashes=True)   # loads
    _same(fresh, first)
    _same(fresh, again)
    assert again.files == first.files and len(again.files) == 4
    assert again.persons == fresh.persons > 15_000


def test_a_changed_byte_gives_a_new_key(data, monkeypatch, tmp_path):
    monkeypatch.setenv("FORDELINGSMODEL_CACHE", str(tmp_path / "cache"))
    k = year_cache.key(data, 2025, None, 1, 2026)
    assert k == year_cache.key(data, 2025, 2025, 1, 2026)  # price year None is the year itself
    assert k != year_cache.key(data, 2024, None, 1, 2025)
    assert k != year_cache.key(data, 2025, None, 1, 2027)
    with open(data / "clinics.csv", "a", encoding="utf-8") as f:
        f.write("\n")
    assert year_cache.key(data, 2025, None, 1, 2026) != k
    monkeypatch.setenv("FORDELINGSMODEL_NO_CACHE", "1")
    assert year_cache.key(data, 2025, None, 1, 2026) is None


def test_a_damaged_entry_is_read_again(data, monkeypatch, tmp_path):
    monkeypatch.setenv("FORDELINGSMODEL_CACHE", str(tmp_path / "cache"))
    read_year(data, 2025)
    k = year_cache.key(data, 2025, None, 1, 2026)
    (year_cache.cache_dir() / k / "pm.npy").write_bytes(b"broken")
    assert year_cache.load(k) is None
    _same(read_year(data, 2025, cache=False), read_year(data, 2025))


def test_validation_stamp(data, monkeypatch, tmp_path):
    monkeypatch.setenv("FORDELINGSMODEL_CACHE", str(tmp_path / "cache"))
    first = validate_folder_stamped(data, [2025], planning_year=2026)
    assert first.ok and not isinstance(first, StampedReport)
    second = validate_folder_stamped(data, [2025], planning_year=2026)
    assert isinstance(second, StampedReport) and second.ok and "validated before" in second.note
    assert second.summary_line() == first.summary_line() and second.n_warnings == first.n_warnings
    pd.testing.assert_frame_equal(second.summary_frame(), first.summary_frame(), check_dtype=False)
    assert "services" not in MODEL_TABLES
    # a copy of the same bytes elsewhere takes the stamp, and its report names the copy, not the original
    import shutil

    copy = shutil.copytree(data, tmp_path / "elsewhere" / "copy")
    third = validate_folder_stamped(copy, [2025], planning_year=2026)
    assert isinstance(third, StampedReport) and str(copy) in third.summary_line()
    assert str(data) not in third.summary_line() and str(data) not in third.format()
    # a changed byte validates again, and a failure is never stamped
    text = (data / "clinics.csv").read_text(encoding="utf-8").splitlines()
    (data / "clinics.csv").write_text("\n".join(text + [text[1]]) + "\n", encoding="utf-8")  # a duplicate clinic
    for _ in range(2):
        bad = validate_folder_stamped(data, [2025], planning_year=2026)
        assert not isinstance(bad, StampedReport) and not bad.ok
