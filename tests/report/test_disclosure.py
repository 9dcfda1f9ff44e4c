"""Disclosure control holds: a differencing attack on every published table and clinic sheet of one run.

One small run (3,000 synthetic citizens, so that many cells are small) is
rendered as the annual report and as clinic sheets.  The attacker then
works with what the pages print and, to be safe, knows more than a reader
would: the exact price-list weights, each clinic's exact life-expectancy
factor and the national totals.

* Clinic sheets: an integer solver (``scipy.optimize.milp``; exact, not a
  relaxation) takes every hidden count on a sheet as an unknown (an add-on
  shown ``<5``: 0..4, since zero reads ``<5`` too; one shown ``x``: 5 to the
  listed count; the age-sex groups pooled in the "other" row: 0 to the
  pool's count, adding up to it) and asks, for each, for the smallest and
  the largest value consistent with the page: listed = sum of the age-sex
  groups, contributions = patients x weight / listed, the mean weight as
  printed (2 decimals) and the minimum patient number (rounded to 50).
  A count is recovered when the two agree.
* Report tables: a municipality's count is the health council's total minus
  the other municipalities; a health council's count is the country total
  minus the others; the listed patients of a health council (and of its
  island doctors) are the sum of the clinics' sheets.  Every masked cell's
  range is narrowed by these sums; it must stay more than one value.
* No count of 1-4 persons appears in any table of any page.

The tests on the run are marked slow (they render the report: about a
minute); the units at the end are not.

The attack on the code before this control recovered 233 of 247 masked
add-on counts (118 of 125 sheets attacked) and all 4 municipalities shown
``<5`` on the same data; see the report of the change.
"""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.analyses import disclosure
from model.report import annual
from model.report import annual_tables as at
from model.report import clinic_sheets as rcs
from model.report import display as rdisp

YEAR = 2025
K = 5
ZERO_SHOWN = False  # the sheets print 0 as <5 too; True only to check the attack's power on a weaker sheet


# ---------------------------------------------------------------------------
# reading pages


class _Tables(HTMLParser):
    """Every ``<table>`` of a page as rows of cell texts (stdlib only)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._span = 1
        self._in_caption = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"caption": "", "rows": []})
        elif tag == "caption":
            self._in_caption = True
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._span = int(dict(attrs).get("colspan") or 1)

    def handle_endtag(self, tag):
        if tag == "caption":
            self._in_caption = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._row.extend([""] * (self._span - 1))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1]["rows"].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._in_caption and self.tables:
            self.tables[-1]["caption"] += data
        elif self._cell is not None:
            self._cell.append(data)


def page_tables(html: str) -> list[dict]:
    p = _Tables()
    p.feed(html)
    return p.tables


def frames(html: str) -> list[pd.DataFrame]:
    """The page's tables with a header row, as data frames of strings (caption in ``attrs``)."""
    out = []
    for t in page_tables(html):
        rows = t["rows"]
        if len(rows) >= 2:
            width = len(rows[0])
            body = [r + [""] * (width - len(r)) if len(r) < width else r[:width] for r in rows[1:]]
            df = pd.DataFrame(body, columns=rows[0])
            df.attrs["caption"] = t["caption"]
            out.append(df)
    return out


def number(text: str, danish: bool = False) -> float | None:
    t = text.strip()
    t = t.replace(".", "").replace(",", ".") if danish else t.replace(",", "")
    try:
        return float(t)
    except ValueError:
        return None


_COUNT = re.compile(r"\b(citizens|persons|patients|patienter|borgere)\b", re.I)
_NOT_COUNT = re.compile(r"weighted|mean|minimum|per |share|average|weight|vægt|%|andel|tillæg|bidrag", re.I)


def small_counts(html: str, danish: bool = False) -> list[tuple[str, str]]:
    """(column or row header, value) of every count of 1-4 persons in a table of the page.

    Columns whose header counts persons, and two-column rows whose header
    does (the facts table of a clinic sheet).
    """
    bad = []
    for t in page_tables(html):
        rows = t["rows"]
        for r in rows:  # header-value rows
            if len(r) == 2 and _COUNT.search(r[0]) and not _NOT_COUNT.search(r[0]):
                x = number(r[1], danish)
                if x is not None and 0 < x < K:
                    bad.append((r[0], r[1]))
        if len(rows) < 2:
            continue
        for j, head in enumerate(rows[0]):
            if not (_COUNT.search(head) and not _NOT_COUNT.search(head)):
                continue
            for r in rows[1:]:
                if j < len(r):
                    x = number(r[j], danish)
                    if x is not None and 0 < x < K:
                        bad.append((head, r[j]))
    return bad


# ---------------------------------------------------------------------------
# the run


@pytest.fixture(scope="module")
def run(small_report, tmp_path_factory) -> dict:
    """The session's report of 3,000 synthetic citizens (tests/conftest.py) and every clinic sheet of its run."""
    out = small_report[1]
    base = tmp_path_factory.mktemp("disclosure")
    sheets = base / "sheets"
    t0 = time.perf_counter()
    rcs.clinic_sheets(out / "run", sheets)
    return {"report": out, "sheets": sheets, "t": annual.load_run(out / "run"), "sheet_seconds": time.perf_counter() - t0}


def published_pages(run) -> list[Path]:
    return sorted(run["report"].glob("*.html")) + sorted(run["sheets"].glob("*.html"))


# ---------------------------------------------------------------------------
# the attack on one clinic sheet


def _milp_pinned(i: int, x, movable, lo, hi, a_eq, b_eq, a_w, w_lo, w_hi) -> bool | None:
    """Whether unknown ``i`` has the one integer value ``x[i]`` (the truth's) under the sheet's relations.

    Exact: it is pinned when no integer solution has ``x[i] + 1`` or more and none has ``x[i] - 1`` or less
    (two feasibility problems for the solver).  Every solution found also flags in ``movable`` the unknowns
    it gives another value than ``x``."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n = len(lo)
    cons = [LinearConstraint(a_w[None, :], w_lo, w_hi)]
    if a_eq is not None:
        cons.append(LinearConstraint(a_eq[None, :], b_eq, b_eq))
    for side in ("up", "down"):
        lo_i, hi_i = lo.copy(), hi.copy()
        if side == "up":
            lo_i[i] = x[i] + 1
        else:
            hi_i[i] = x[i] - 1
        if lo_i[i] > hi_i[i]:
            continue
        r = milp(np.zeros(n), integrality=np.ones(n), bounds=Bounds(lo_i, hi_i), constraints=cons)
        if r.status == 0:
            movable |= np.round(r.x) != np.round(x)
            return False
    return True


def _movable_by_neighbours(x, lo, hi, a_eq, pool, wts, s_lo, s_hi) -> np.ndarray:
    """Which unknowns take another value in some feasible integer solution one or two unit steps from ``x``
    (the truth, itself feasible): those cannot be pinned, so the exact solver is needed only for the rest.

    The candidates are ``x + d`` for every step ``d`` of +-1 or +-2 in one unknown, and +-1 in two unknowns
    (same or opposite signs); a candidate is feasible when it is within the bounds, keeps the pool's sum
    (``a_eq @ x == pool``) and its weight sum is within ``[s_lo, s_hi]``.  Exact: a flag is set only by a
    solution that was checked.
    """
    n = len(x)
    eye = np.eye(n)
    steps = [eye, -eye, 2 * eye, -2 * eye]
    if n > 1:
        i, j = np.triu_indices(n, 1)
        pair = eye[i] + eye[j]
        swap = eye[i] - eye[j]
        steps += [pair, -pair, swap, -swap]
    d = np.vstack(steps)
    cand = x[None, :] + d
    ok = (cand >= lo).all(axis=1) & (cand <= hi).all(axis=1)
    s = cand @ wts
    ok &= (s >= s_lo) & (s <= s_hi)
    if a_eq is not None:
        ok &= cand @ a_eq == pool
    return (d[ok] != 0).any(axis=0)


def sheet_model_labels(sm) -> tuple[dict, dict]:
    T = rcs.SHEET_TEXT["en"]
    agesex = {}
    for g in sm.agesex:
        sex, age = g.split("_", 1)
        agesex[T["aged"].format(sex=T.get(sex, sex).capitalize(), age=age)] = g
    addons = {rcs._term_label(a, "en"): a for a in sm.addon_weight}
    return agesex, addons


def attack_sheet(html: str, sm, le: float, truth: dict, listed_true: int) -> dict:
    """Differencing attack on one English sheet; returns what it found.

    Keys: ``unknowns`` (hidden counts attacked), ``recovered`` (list of
    (term, value) pinned to one value of 1..4), ``pinned_zero`` (pinned to
    0), ``feasible`` (the truth satisfies the attacker's relations: a check
    of the attack itself).
    """
    agesex_lab, addon_lab = sheet_model_labels(sm)
    facts = {}
    rows_as, rows_add = [], []
    for t in page_tables(html):
        for r in t["rows"]:
            if len(r) == 2:
                facts[r[0]] = r[1]
            elif len(r) == 4 and r[0] in agesex_lab or (len(r) == 4 and r[0] == rcs.SHEET_TEXT["en"]["other"]):
                rows_as.append(r)
            elif len(r) == 4 and r[0] in addon_lab:
                rows_add.append(r)
    res = {"unknowns": 0, "recovered": [], "pinned_zero": [], "feasible": True}
    listed_text = facts.get("Listed patients (group 1)", "")
    if not rows_as and not rows_add:
        return res
    L = int(number(listed_text))
    assert L == listed_true
    m_w = re.search(r"<strong id=\"mean-weight\">([0-9.,]+)</strong>", html)
    m_min = re.search(r'class="big">([0-9,]+)<', html)
    cap = number(facts["Capacities"])
    w_shown, minimum = number(m_w.group(1)), number(m_min.group(1))
    digits = len(m_w.group(1).split(".")[1]) if "." in m_w.group(1) else 0
    w_lo, w_hi = w_shown - 0.5 * 10 ** -digits, w_shown + 0.5 * 10 ** -digits
    if minimum > 25 and sm.cfg.clinic_cap is None:  # minimum = round50(capacities x 1600 / w)
        w_lo = max(w_lo, cap * 1600 / (minimum + 25))
        w_hi = min(w_hi, cap * 1600 / (minimum - 25))
    visible = 0.0
    shown_as = set()
    names, lo, hi, wts, is_as = [], [], [], [], []
    pool = 0
    for r in rows_as:
        if r[0] in agesex_lab:
            g = agesex_lab[r[0]]
            shown_as.add(g)
            visible += int(number(r[1])) * sm.base_weight[g]
        else:
            pool = int(number(r[1]))
    if pool:
        for g in sm.agesex:
            if g not in shown_as:
                names.append(g), lo.append(0), hi.append(pool), wts.append(sm.base_weight[g]), is_as.append(1)
    for r in rows_add:
        a = addon_lab[r[0]]
        if r[1] == f"<{K}":
            names.append(a), lo.append(1 if truth.get(a, 0) and ZERO_SHOWN else 0), hi.append(K - 1)
            wts.append(sm.addon_weight[a]), is_as.append(0)
        elif r[1] == rdisp.HIDDEN:
            names.append(a), lo.append(K), hi.append(L), wts.append(sm.addon_weight[a]), is_as.append(0)
        else:
            visible += int(number(r[1])) * sm.addon_weight[a]
    if not names:
        return res
    wts = np.array(wts)
    s_lo, s_hi = L * w_lo / le - visible - 1e-9, L * w_hi / le - visible + 1e-9
    a_eq = np.array(is_as, dtype=float) if pool else None
    x_true = np.array([truth.get(nm, 0) for nm in names], dtype=float)
    res["unknowns"] = len(names)
    st = float(wts @ x_true)
    res["feasible"] = bool(s_lo <= st <= s_hi and (a_eq is None or a_eq @ x_true == pool)
                           and (x_true >= lo).all() and (x_true <= hi).all())
    movable = _movable_by_neighbours(x_true, np.array(lo, float), np.array(hi, float), a_eq, pool, wts, s_lo, s_hi)
    for i, nm in enumerate(names):
        if movable[i]:  # a feasible solution next to the truth has another value here: not pinned
            continue
        if _milp_pinned(i, x_true, movable, np.array(lo, float), np.array(hi, float), a_eq, pool, wts, s_lo, s_hi):
            a = round(x_true[i])
            (res["recovered"] if 0 < a < K else res["pinned_zero"]).append((nm, a))
    return res


@pytest.mark.slow
def test_no_clinic_sheet_gives_away_a_hidden_count(run):
    """The integer solver pins no hidden count of 1-4 on any sheet."""
    t = run["t"]
    sm = rcs._sheet_model(t)
    wide = at.clinic_term_shares(t)
    ct = t["clinic_minimums"]
    attacked = unknowns = pinned = 0
    recovered = []
    for r in ct.itertuples():
        if r.weight_source != "own_patients" or r.listed_patients < K:
            continue
        truth = wide.loc[r.clinic_id].to_dict()
        before = sum(truth.get(g, 0) * sm.base_weight[g] for g in sm.agesex) + \
            sum(truth.get(a, 0) * w for a, w in sm.addon_weight.items())
        le = r.mean_weight / (before / r.listed_patients)
        html = (run["sheets"] / f"{r.clinic_id}.en.html").read_text(encoding="utf-8")
        res = attack_sheet(html, sm, le, truth, int(r.listed_patients))
        assert res["feasible"], f"the attacker's relations exclude the truth on {r.clinic_id}: the attack is wrong"
        if res["unknowns"]:
            attacked += 1
            unknowns += res["unknowns"]
        recovered += [(r.clinic_id, nm, v, truth.get(nm, 0)) for nm, v in res["recovered"]]
        pinned += len(res["pinned_zero"])
    print(f"sheets attacked: {attacked}, hidden counts: {unknowns}, recovered: {len(recovered)}, pinned to 0 or 5+: {pinned}")
    assert attacked >= 100, "too few sheets with hidden counts for the attack to mean anything"
    assert recovered == []


def _scaled_run(src: Path, dst: Path, sizes: list[int], seed: int = 1) -> Path:
    """A copy of the run whose clinics have bigger patient lists (national sizes), one or two add-ons of 1-4.

    The 3,000-citizen run's clinics have at most a dozen patients, so every
    age-sex group is pooled; here each clinic gets ``sizes[i % len(sizes)]``
    patients drawn from the run's own patient mix, consistent mean weights,
    capacities and minimum numbers, so that complements (``x``) and the
    rounding of the weight are what stands between the attacker and a count.
    """
    import shutil

    from model.core.clinics import round_to_step

    shutil.copytree(src, dst)
    t = annual.load_run(src)
    sm = rcs._sheet_model(t)
    wide = at.clinic_term_shares(t)
    ct = t["clinic_minimums"].copy()
    rng = np.random.default_rng(seed)
    as_share = (wide[sm.agesex].sum() / wide[sm.agesex].sum().sum()).to_numpy()
    add_share = {a: float(wide[a].sum() / wide["listed"].sum()) for a in sm.addon_weight}
    keep = ct.loc[(ct["weight_source"] == "own_patients") & (ct["listed_patients"] >= K), "clinic_id"].tolist()
    from model.core.features import reference_term

    ref_term = reference_term(t["config"])
    rows = []
    for i, cid in enumerate(keep):
        n = int(sizes[i % len(sizes)])
        counts = dict(zip(sm.agesex, rng.multinomial(n, as_share).tolist()))
        counts.update({a: int(rng.binomial(n, sh)) for a, sh in add_share.items()})
        for a in rng.choice(list(sm.addon_weight), size=int(rng.integers(1, 3)), replace=False):
            counts[a] = int(rng.integers(1, K))
        r = ct.index[ct["clinic_id"] == cid][0]
        old = wide.loc[cid]
        le = ct.at[r, "mean_weight"] / (sum(old.get(g, 0) * sm.base_weight[g] for g in sm.agesex)
                                        + sum(old.get(a, 0) * w for a, w in sm.addon_weight.items())) * old["listed"]
        mw = le * (sum(counts[g] * sm.base_weight[g] for g in sm.agesex)
                   + sum(counts[a] * w for a, w in sm.addon_weight.items())) / n
        cap = max(1.0, float(round(n * mw / 1600))) if n >= 800 else float(ct.at[r, "capacities"])
        ct.loc[r, ["listed_patients", "mean_weight", "capacities", "minimum_patients_exact"]] = \
            [n, mw, cap, cap * 1600 / mw]
        ct.at[r, "minimum_patients"] = int(round_to_step([cap * 1600 / mw], 50)[0])
        rows.append({"clinic_id": cid, "term": "Intercept", "patients": n})
        rows += [{"clinic_id": cid, "term": term, "patients": v} for term, v in counts.items() if v and term != ref_term]
    ct[ct["clinic_id"].isin(keep)].to_csv(dst / "clinic_minimums.csv", index=False)
    prof = pd.DataFrame(rows).assign(coefficient=0.0, contribution=0.0)
    prof.to_csv(dst / "clinic_profiles.csv", index=False)
    return dst


def _attack_all(run_dir: Path, sheets: Path, min_listed: int = K) -> tuple[int, int, int, list]:
    """Attack every sheet of a run folder with at least ``min_listed`` patients: (sheets attacked, hidden
    counts, x cells, recovered)."""
    t = annual.load_run(run_dir)
    sm = rcs._sheet_model(t)
    wide = at.clinic_term_shares(t)
    attacked = unknowns = xs = 0
    recovered = []
    for r in t["clinic_minimums"].itertuples():
        if r.weight_source != "own_patients" or r.listed_patients < max(K, min_listed):
            continue
        truth = wide.loc[r.clinic_id].to_dict()
        before = sum(truth.get(g, 0) * sm.base_weight[g] for g in sm.agesex) + \
            sum(truth.get(a, 0) * w for a, w in sm.addon_weight.items())
        le = r.mean_weight / (before / r.listed_patients)
        html = (sheets / f"{r.clinic_id}.en.html").read_text(encoding="utf-8")
        xs += html.count(f'class="n">{rdisp.HIDDEN}<')
        res = attack_sheet(html, sm, le, truth, int(r.listed_patients))
        assert res["feasible"], f"the attacker's relations exclude the truth on {r.clinic_id}: the attack is wrong"
        if res["unknowns"]:
            attacked += 1
            unknowns += res["unknowns"]
        recovered += [(r.clinic_id, int(r.listed_patients), nm, v, truth.get(nm, 0)) for nm, v in res["recovered"]]
    return attacked, unknowns, xs, recovered


@pytest.mark.slow
def test_no_sheet_of_a_bigger_clinic_gives_away_a_hidden_count(run, tmp_path, monkeypatch):
    """Clinics of 20 to 4,000 patients with add-ons of 1-4: complements and 2 decimals hold; 4 decimals would not."""
    scaled = _scaled_run(run["report"] / "run", tmp_path / "run", [20, 60, 150, 400, 1500, 4000])
    rcs.clinic_sheets(scaled, tmp_path / "sheets")
    attacked, unknowns, xs, recovered = _attack_all(scaled, tmp_path / "sheets")
    print(f"bigger clinics: sheets attacked {attacked}, hidden counts {unknowns}, x cells {xs}, recovered {len(recovered)}")
    assert attacked >= 100 and xs >= 50
    assert recovered == []
    # the attack has teeth: the same sheets with the weight to 4 decimals give counts away
    monkeypatch.setattr(rcs, "SHEET_WEIGHT_DECIMALS", 4)
    rcs.clinic_sheets(scaled, tmp_path / "sheets4")
    big = [c for c in _attack_all(scaled, tmp_path / "sheets4", min_listed=1500)[3] if c[1] >= 1500]
    assert big and all(v == truth for _, _, _, v, truth in big)


@pytest.mark.slow
def test_small_clinic_sheets_show_nothing_from_their_patients(run):
    """1-4 listed patients: no mean weight, no minimum, no breakdown; the sheet says why."""
    ct = run["t"]["clinic_minimums"]
    few = ct[(ct["weight_source"] == "own_patients") & (ct["listed_patients"] > 0) & (ct["listed_patients"] < K)]
    assert len(few) > 100
    for r in few.head(200).itertuples():
        html = (run["sheets"] / f"{r.clinic_id}.en.html").read_text(encoding="utf-8")
        html = html[html.index("<body"):]
        assert "fewer than 5 listed patients" in html and "so that no patient can be recognised" in html
        assert "mean-weight" not in html and 'class="big"' not in html and "Contribution" not in html
        above = html.split("<h2>Comparison")[0]  # the comparison shows the municipality's and country's figures
        for d in (2, 3, 4):
            assert f"{r.mean_weight:.{d}f}" not in above, (r.clinic_id, d)
        assert f">{int(r.minimum_patients):,}<" not in above and f"about {int(r.minimum_patients):,}" not in above
        cmp_rows = [row for tb in page_tables(html) for row in tb["rows"] if row and row[0] == "The clinic"]
        assert cmp_rows == [["The clinic", "", ""]]


@pytest.mark.slow
def test_sheet_medians_leave_out_hidden_numbers(run):
    """The municipality's median minimum is taken over shown numbers only (a median of one is that number)."""
    ct = run["t"]["clinic_minimums"]
    few = ct[(ct["weight_source"] == "own_patients") & (ct["listed_patients"] > 0) & (ct["listed_patients"] < K)
             & (ct["capacities"] > 0)]
    shown = ct[~ct.index.isin(few.index) & (ct["capacities"] > 0)]
    only_hidden = set(few["municipality_code"]) - set(shown["municipality_code"])
    for mc in sorted(only_hidden)[:20]:
        cid = few.loc[few["municipality_code"] == mc, "clinic_id"].iloc[0]
        html = (run["sheets"] / f"{cid}.en.html").read_text(encoding="utf-8")
        row = [r for tb in page_tables(html) for r in tb["rows"] if r and r[0].startswith("The municipality")]
        assert row and row[0][2] == "", (cid, row)


# ---------------------------------------------------------------------------
# the attack on the report's tables


def _interval_pins(total: float, cells: list[str], k: int = K) -> list[int]:
    """Indices of masked cells that the group's total pins to one value (cells as printed)."""
    vals = [number(c) for c in cells]
    masked = [i for i, v in enumerate(vals) if v is None]
    if not masked:
        return []
    rest = total - sum(v for v in vals if v is not None)
    lo = {i: (1 if cells[i] == f"<{k}" else k) for i in masked}
    hi = {i: (k - 1 if cells[i] == f"<{k}" else np.inf) for i in masked}
    pinned = []
    for i in masked:
        a = max(lo[i], rest - sum(hi[j] for j in masked if j != i))
        b = min(hi[i], rest - sum(lo[j] for j in masked if j != i))
        if a >= b:
            pinned.append(i)
    return pinned


def _find(dfs: list[pd.DataFrame], *cols: str, without: str | None = None) -> list[pd.DataFrame]:
    return [d for d in dfs if all(c in d.columns for c in cols) and (without is None or without not in d.columns)]


@pytest.mark.slow
def test_no_report_table_gives_away_a_masked_count(run):
    """Municipality cells against health-council totals, health councils against the country, sheets against totals."""
    t = run["t"]
    pages = {p.name: p.read_text(encoding="utf-8") for p in sorted(run["report"].glob("*.html"))}
    dfs = [d for html in pages.values() for d in frames(html)]
    munis = _find(dfs, "Municipality", "Health council", "Citizens (group 1)")
    councils = _find(dfs, "Health council", "Citizens (group 1)", "Listed patients (group 1)", without="Municipality")
    assert munis and councils
    masked = 0
    found = []
    # 1. municipalities -> health council total (the totals as any page prints them)
    for mt in munis:
        for hc_df in councils:
            tot = dict(zip(hc_df["Health council"], hc_df["Citizens (group 1)"]))
            for h, g in mt.groupby("Health council"):
                cells = g["Citizens (group 1)"].tolist()
                masked += sum(c == f"<{K}" for c in cells)
                if number(tot.get(h, "")) is None:
                    continue
                for i in _interval_pins(number(tot[h]), cells):
                    found.append(("municipality", g["Municipality"].iloc[i], cells[i]))
    # 2. health councils -> the country (the attacker knows the true national totals)
    bm = t["capacity_by_municipality"]
    national = {"Citizens (group 1)": float(bm["citizens"].sum())}
    chk = t["checks"].get("data_by_health_council")
    if chk is not None:
        for c in chk.columns:
            if c != "Health council" and pd.api.types.is_numeric_dtype(chk[c]):
                national[c] = float(chk[c].sum())
    for hc_df in councils:
        for c, total in national.items():
            if c in hc_df.columns:
                cells = hc_df[c].tolist()
                masked += sum(x == f"<{K}" for x in cells)
                for i in _interval_pins(total, cells):
                    found.append(("health council", hc_df["Health council"].iloc[i], c))
    # 3. the clinics' sheets -> a health council's listed patients (and its island doctors')
    ct = t["clinic_minimums"]
    listed_shown = ct.assign(shown=np.where((ct["listed_patients"] > 0) & (ct["listed_patients"] < K),
                                            f"<{K}", ct["listed_patients"].map(lambda v: f"{v:,}")))
    for hc_df in councils:
        tot = dict(zip(hc_df["Health council"], hc_df["Listed patients (group 1)"]))
        for h, g in listed_shown.groupby("health_council"):
            if number(tot.get(h, "")) is not None:
                for i in _interval_pins(number(tot[h]), g["shown"].tolist()):
                    found.append(("sheets of", h, g["clinic_id"].iloc[i]))
    isl_tabs = _find(dfs, "Health council", "Their listed patients")
    isl = listed_shown[listed_shown["island_excluded"].astype(str).str.lower().isin(["true", "1"])]
    for it in isl_tabs:
        tot = dict(zip(it["Health council"], it["Their listed patients"]))
        for h, g in isl.groupby("health_council"):
            if number(tot.get(h, "")) is not None:
                for i in _interval_pins(number(tot[h]), g["shown"].tolist()):
                    found.append(("island sheets of", h, g["clinic_id"].iloc[i]))
    print(f"masked cells: {masked}; recovered: {len(found)}")
    assert masked >= 4, "the small run should mask some municipalities"
    assert found == []


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["report", "sheets"])
def test_no_count_below_five_on_any_page(run, kind):
    pages = sorted(run["report"].glob("*.html")) if kind == "report" else sorted(run["sheets"].glob("*.html"))
    assert len(pages) >= (3 if kind == "report" else 1000)
    bad = {}
    for p in pages:
        b = small_counts(p.read_text(encoding="utf-8"), danish=p.name.endswith(".da.html"))
        if b:
            bad[p.name] = b[:3]
    assert bad == {}


# ---------------------------------------------------------------------------
# units (no run)


def test_complements_close_the_health_council_total():
    """Samsø (2) alone under Aarhus's total would be Aarhus's total minus Aarhus: Aarhus is hidden too."""
    df = pd.DataFrame({"Municipality": ["Aarhus", "Samsø", "Odense", "Kerteminde", "Nyborg"],
                       "Health council": ["Aarhus", "Aarhus", "Fyn", "Fyn", "Fyn"],
                       "Citizens (group 1)": [188, 2, 300, 40, 0], "Mean weight": [1.0, 1.2, 1.0, 1.1, np.nan]})
    out = rdisp.suppress_with_complements(df, ["Citizens (group 1)"], "Health council", hide=["Mean weight"])
    assert out["Citizens (group 1)"].tolist() == [rdisp.HIDDEN, "<5", 300, 40, 0]
    assert out["Mean weight"].isna().tolist() == [True, True, False, False, True]
    assert df["Citizens (group 1)"].tolist() == [188, 2, 300, 40, 0], "input changed"


def test_complements_repeat_until_no_cell_is_pinned():
    # 1 and 5: total 6 pins 1 (the x holds at least 5); the next smallest is hidden too
    df = pd.DataFrame({"g": ["a"] * 4, "n": [1, 5, 7, 100]})
    small, comp = rdisp.complement_masks(df, "n", "g")
    assert small.tolist() == [True, False, False, False] and comp.tolist() == [False, True, True, False]
    # two small cells 1 + 1: a total of 2 pins both; one complement ends it
    df = pd.DataFrame({"g": ["a"] * 3, "n": [1, 1, 50]})
    small, comp = rdisp.complement_masks(df, "n", "g")
    assert comp.tolist() == [False, False, True]
    # 2 + 3 under a known total: 5 does not pin either (1+4, 2+3, 3+2, 4+1): nothing more hidden
    df = pd.DataFrame({"g": ["a"] * 3, "n": [2, 3, 50]})
    assert not rdisp.complement_masks(df, "n", "g")[1].any()
    # a group whose only other cells are zero cannot be helped inside the table
    df = pd.DataFrame({"g": ["a", "a"], "n": [3, 0]})
    assert rdisp.complement_masks(df, "n", "g")[1].tolist() == [False, False]


def test_table_html_explains_the_hidden_cells():
    df = pd.DataFrame({"Health council": ["A", "B", "C"], "Citizens (group 1)": [3, 40, 900]})
    html = rdisp.table_html(df, caption="Citizens")
    assert "&lt;5" in html and ">x<" in html and "x: hidden so that a count under 5" in html
    assert ">40<" not in html and ">900<" in html


def test_sheet_text_both_languages_cite_the_law_not_files():
    da, en = rcs.SHEET_TEXT["da"], rcs.SHEET_TEXT["en"]
    assert set(da) == set(en)
    for T, sec in ((da, "afsnit"), (en, "section")):
        text = " ".join(T.values())
        assert "975" in text and "30" in text
        for s in ("4.3.2", "4.3.5", "4.3.6", "4.3.7"):
            assert f"{sec} {s}" in text or f"{s}" in text, s
        assert ".txt" not in text and "seeds" not in text and "../" not in text and "MODEL.md" not in text
    assert "30 dage" in da["legal_30_days"] and "30 days" in en["legal_30_days"]
    assert "klage" in da["legal_complaint"] and "complain" in en["legal_complaint"]
    assert "vejledende" in da["legal_guidance"] and "guidance" in en["legal_guidance"]


def test_unknown_weight_source_gets_a_neutral_text():
    en = rcs.SHEET_TEXT["en"]
    assert "own listed patients" in rcs._source_text(en, "own_patients", 2025, "Aarhus")
    assert "Aarhus" in rcs._source_text(en, "municipality", 2025, "Aarhus")
    assert "split from another clinic" in rcs._source_text(en, "split_from", 2025, "Aarhus")
    assert "new_rule" in rcs._source_text(en, "new_rule", 2025, "Aarhus")


def test_a_sum_of_clinics_with_one_small_clinic_is_hidden_with_a_complement():
    """Council A's listed patients minus the sheets of its other clinics would name the clinic of 3 patients."""
    clinics = pd.DataFrame({"health_council": ["A", "A", "B", "B", "C"], "listed": [3, 900, 4, 2, 700],
                            "practice_form": ["solo"] * 5})
    table = pd.DataFrame({"Health council": ["A", "B", "C"], "Listed patients (group 1)": [903, 6, 700],
                          "Patients in regional or tender clinics": [0, 0, 0]})
    marked = disclosure.mark_sheet_sums(table, clinics, K)
    assert marked.attrs["hidden"]["Listed patients (group 1)"] == [True, False, False]  # B: 4 + 2 = 6 pins neither
    html = rdisp.table_html(marked)
    rows = [r for tb in page_tables(html) for r in tb["rows"]][1:]
    listed = [r[1] for r in rows]
    # A hidden for the sheets; then A alone would be the country total minus B and C: the smallest other is hidden too
    assert listed == [rdisp.HIDDEN, rdisp.HIDDEN, "700"]
    assert disclosure.sums_of_sheets_hidden(["A"], pd.Series(["A", "A"]), pd.Series([1, 1])) == [True]
