"""Tests of the synthetic national data (model.inputs.synthetic) and the reference loaders (model.inputs.reference).

Small samples (tens of thousands of persons, three panel years) keep the file
fast; national-scale properties of the clinic structure are tested through
:func:`model.inputs.synthetic.plan_clinics`, which does not generate persons.  The
invariants are tested directly (not through ``model.inputs.contracts``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from model.inputs import reference, synthetic
from model.inputs.synthetic.services import _CONTACT_CODES

N = 40_000
YEARS = (2023, 2024, 2025)
SEED = 20250630


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def gen(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("synthetic")
    info = synthetic.generate(out, persons=N, years=YEARS, seed=SEED)
    return {"dir": out, "info": info}


@pytest.fixture(scope="module")
def persons(gen) -> pd.DataFrame:
    return pd.read_parquet(gen["dir"] / "persons.parquet")


@pytest.fixture(scope="module")
def clinics(gen) -> pd.DataFrame:
    return pd.read_csv(gen["dir"] / "clinics.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def services(gen) -> pd.DataFrame:
    return pd.read_parquet(gen["dir"] / "services.parquet")


@pytest.fixture(scope="module")
def munis() -> pd.DataFrame:
    return reference.municipalities()


@pytest.fixture(scope="module")
def national_plan() -> pd.DataFrame:
    return synthetic.plan_clinics(years=synthetic.DEFAULT_YEARS, seed=synthetic.DEFAULT_SEED)


def _sha256_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _latest(persons: pd.DataFrame) -> pd.DataFrame:
    return persons[persons["year"] == max(YEARS)].reset_index(drop=True)


def _is_open(clinics: pd.DataFrame, year: int) -> pd.Series:
    opened = clinics["opened"].str.slice(0, 4).astype(int)
    closed = clinics["closed"].map(lambda c: int(c[:4]) if c else 9999)
    return (opened <= year) & (closed >= year)


# --------------------------------------------------------------------------- reference


def test_reference_municipalities(munis):
    assert len(munis) == 98
    assert munis["municipality_code"].str.fullmatch(r"\d{3}").all()
    assert munis["municipality_code"].is_unique
    assert int(munis["population_2026_01_01"].sum()) == 6_025_511
    assert munis["sundhedsraad"].nunique() == 17
    missing = set(munis.loc[munis["life_expectancy_at_birth"].isna(), "kommune"])
    assert missing == {"Ærø", "Fanø", "Samsø", "Læsø"}
    assert set(reference.PROVENANCE) >= set(munis.columns) - {"municipality_code"}
    pa = reference.population_age_sex()
    assert int(pa["population"].sum()) == 5_992_734
    assert pa["age_to"].isna().sum() == 2  # the open 85+ band, both sexes


def test_reference_ultrasound_municipalities(munis):
    codes = reference.SJAELLAND_ULTRASOUND_MUNICIPALITIES
    assert len(codes) == 12
    by_code = dict(zip(munis["municipality_code"], munis["kommune"]))
    assert {by_code[c] for c in codes} == set(reference.SJAELLAND_ULTRASOUND_MUNICIPALITY_NAMES)
    assert set(munis.loc[munis["municipality_code"].isin(codes), "region_2007_2026"]) == {"Sjælland"}


# --------------------------------------------------------------------------- determinism and files


def test_same_seed_same_bytes_different_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    kw = dict(persons=20_000, years=(2024, 2025))
    synthetic.generate(a, seed=7, **kw)
    synthetic.generate(b, seed=7, **kw)
    synthetic.generate(c, seed=8, **kw)
    ha, hb, hc = _sha256_tree(a), _sha256_tree(b), _sha256_tree(c)
    assert len(ha) >= 12
    assert ha == hb
    for name in ("persons.parquet", "services.parquet", "clinics.csv"):
        assert ha[name] != hc[name]
    assert ha["municipalities.csv"] == hc["municipalities.csv"]  # the byte copy


def test_files_written(gen):
    d = gen["dir"]
    for name in ("persons.parquet", "clinics.csv", "municipalities.csv", "population_projection.csv",
                 "fee_index.csv", "services.parquet", "synthetic_manifest.json"):
        assert (d / name).is_file(), name
    assert (d / "municipalities.csv").read_bytes() == reference.data_path("municipalities.csv").read_bytes()
    reports = sorted(p.name for p in (d / "capacity_reports").iterdir())
    assert reports == [f"{r}_2026-01-01.xlsx" for r in
                       ("hovedstaden", "midtjylland", "nordjylland", "sjaelland", "syddanmark")]


def test_persons_layout_and_types(gen, persons):
    path = gen["dir"] / "persons.parquet"
    assert tuple(persons.columns) == synthetic.PERSON_COLUMNS
    # each row group holds one year, so a year is read cheaply with a filter
    meta = pq.ParquetFile(path).metadata
    for i in range(meta.num_row_groups):
        st = meta.row_group(i).column(1).statistics
        assert st.has_min_max and st.min == st.max
    one = pq.read_table(path, filters=[("year", "=", 2024)])
    assert one.num_rows == int((persons["year"] == 2024).sum())
    # sorted by year, then person_id; IDs are 10-digit strings, unique within a year
    assert persons["year"].is_monotonic_increasing
    for _, g in persons.groupby("year"):
        assert g["person_id"].is_monotonic_increasing and g["person_id"].is_unique
    assert persons["person_id"].str.fullmatch(r"\d{10}").all()
    assert persons["municipality_code"].astype(str).str.fullmatch(r"\d{3}").all()
    listed = persons["clinic_id"].notna()
    assert persons.loc[listed, "clinic_id"].astype(str).str.fullmatch(r"\d{6}").all()
    # a few group-1 citizens have no practice on record (about UNLISTED_SHARE), group 2 keeps its clinic
    unl = persons.loc[~listed & (persons["insurance_group"] == 1)]
    assert 0 < len(unl) < 5 * synthetic.UNLISTED_SHARE * len(persons) + 10
    # compact types
    for c in ("municipality_code", "civil_status", "origin_group", "labour_status", "clinic_id"):
        assert isinstance(persons[c].dtype, pd.CategoricalDtype), c
    for c in ("psychiatric", "psychiatric_extended", "cancer_5y", "cancer_10y"):
        assert persons[c].dtype == bool
    assert persons["sex"].dtype == np.int8 and persons["age"].dtype == np.int16
    # domains
    assert set(persons["sex"]) == {1, 2}
    assert persons["age"].between(0, 125).all()
    assert set(persons["civil_status"].astype(str)) <= set("UGFEPOL")
    assert set(persons["origin_group"].astype(str)) == {"danish", "menapt", "western", "other_non_western"}
    assert set(persons["insurance_group"]) == {1, 2}
    assert (persons["somatic_diseases"] >= 0).all()


def test_characteristic_invariants(persons):
    p = persons
    assert (p["psychiatric_extended"] | ~p["psychiatric"]).all()
    assert (p["cancer_10y"] | ~p["cancer_5y"]).all()
    working = p["age"].between(16, 67)
    lab = p["labour_status"].astype(str)
    assert (lab[~working] == "not_applicable").all()
    assert set(lab[working]) == {"in_work_or_education", "temporarily_outside", "permanently_outside"}
    assert (p.loc[p["age"] < 18, "civil_status"].astype(str) == "U").all()
    # fees
    assert (p["gross_fee"] >= 0).all() and (p["chronic_fee"] >= 0).all() and (p["local_services_fee"] >= 0).all()
    assert (p["local_services_fee"] <= p["gross_fee"] + 1e-9).all()
    assert (p.loc[p["insurance_group"] == 2, "chronic_fee"] == 0).all()
    assert (p.loc[p["chronic_fee"] > 0, "somatic_diseases"] >= 1).all()
    for c in ("gross_fee", "chronic_fee", "local_services_fee"):  # whole øre
        assert np.allclose(p[c] * 100, np.round(p[c] * 100), atol=1e-6)


# --------------------------------------------------------------------------- population


def test_every_municipality_with_real_shares(persons, munis):
    last = _latest(persons)
    counts = last["municipality_code"].astype(str).value_counts()
    assert set(counts.index) == set(munis["municipality_code"])
    expected = munis.set_index("municipality_code")["population_2026_01_01"] / 6_025_511 * N
    diff = (counts.reindex(expected.index) - expected).abs()
    assert diff.max() <= 1.0  # largest-remainder apportionment
    assert len(last) == N


def test_every_municipality_at_small_n(tmp_path, munis):
    info = synthetic.generate(tmp_path, persons=2_000, years=[2025], services=False)
    p = pd.read_parquet(tmp_path / "persons.parquet")
    assert len(p) == 2_000
    assert p["municipality_code"].astype(str).nunique() == 98
    assert info["summary"]["persons_latest_year"] == 2_000


def test_age_sex_structure(persons):
    last = _latest(persons)
    ref = reference.population_age_sex()
    total = ref["population"].sum()
    assert abs((last["sex"] == 2).mean() - 0.503) < 0.01
    for _, r in ref.iterrows():
        hi = 200 if pd.isna(r["age_to"]) else r["age_to"]
        share = ((last["sex"] == r["sex"]) & last["age"].between(r["age_from"], hi)).mean()
        assert abs(share - r["population"] / total) < 0.005, (r["sex"], r["age_from"])
    per_year = (last["age"] <= 2).sum() / 3 * 6_025_511 / N  # about 58,000 a year (sampling sd about 1,700)
    assert 52_000 < per_year < 66_000
    assert abs((last["age"] >= 80).mean() - 0.057) < 0.006


def test_older_in_rural_and_island_municipalities(persons):
    last = _latest(persons)
    share65 = last.assign(old=last["age"] >= 65).groupby(last["municipality_code"].astype(str))["old"].mean()
    assert share65["101"] < 0.16  # København
    rural = ["825", "741", "492", "482", "665", "360"]  # Læsø, Samsø, Ærø, Langeland, Lemvig, Lolland
    assert share65[rural].mean() > share65["101"] + 0.1


def test_prevalences(persons):
    last = _latest(persons)
    w = last["age"].between(16, 67)
    lab = last["labour_status"].astype(str)
    assert 0.045 < (lab[w] == "permanently_outside").mean() < 0.075
    assert 0.03 < (lab[w] == "temporarily_outside").mean() < 0.055
    origin = last["origin_group"].astype(str)
    assert 0.04 < (origin == "menapt").mean() < 0.065
    assert 0.045 < (origin == "western").mean() < 0.075
    assert 0.04 < (origin == "other_non_western").mean() < 0.065
    capital = last["municipality_code"].astype(str).isin(
        reference.municipalities().query("region_2007_2026 == 'Hovedstaden'")["municipality_code"])
    assert (origin[capital] != "danish").mean() > (origin[~capital] != "danish").mean() + 0.05
    som1 = (last["somatic_diseases"] >= 1)
    assert 0.14 < som1.mean() < 0.19  # about 1 million of 6 million
    assert 0.42 < som1[last["age"] >= 80].mean() < 0.58  # half of those aged 80+
    assert som1[last["age"] >= 80].mean() > som1[last["age"] < 40].mean() * 5
    assert 0.02 < last["psychiatric"].mean() < 0.08
    assert 0.015 < last["cancer_5y"].mean() < 0.04
    assert 0.002 < (last["insurance_group"] == 2).mean() < 0.009
    civ = last["civil_status"].astype(str)
    assert 0.38 < (civ == "U").mean() < 0.52 and 0.36 < civ.isin(["G", "P"]).mean() < 0.50
    assert 0.15 < civ[last["age"] >= 65].isin(["E", "L"]).mean() < 0.30


def test_lower_life_expectancy_more_disease_and_labour_exclusion(persons, munis):
    last = _latest(persons)
    le = munis.set_index("municipality_code")["life_expectancy_at_birth"]
    m = last["municipality_code"].astype(str)
    low = m.isin(le[le <= 80.7].index)
    high = m.isin(le[le >= 82.5].index)
    w = last["age"].between(16, 67)
    perm = last["labour_status"].astype(str) == "permanently_outside"
    assert perm[w & low].mean() > perm[w & high].mean()
    # disease at a given age: compare 50-79-year-olds
    mid = last["age"].between(50, 79)
    assert last.loc[mid & low, "somatic_diseases"].mean() > last.loc[mid & high, "somatic_diseases"].mean()


# --------------------------------------------------------------------------- panel


def test_panel_consistency(persons):
    ys = sorted(persons["year"].unique())
    assert tuple(ys) == YEARS
    for y0, y1 in zip(ys, ys[1:]):
        a = persons[persons["year"] == y0].set_index("person_id")
        b = persons[persons["year"] == y1].set_index("person_id")
        both = a.index.intersection(b.index)
        A, B = a.loc[both], b.loc[both]
        assert (B["age"].to_numpy() == A["age"].to_numpy() + 1).all()
        assert (B["sex"].to_numpy() == A["sex"].to_numpy()).all()
        assert (B["origin_group"].astype(str).to_numpy() == A["origin_group"].astype(str).to_numpy()).all()
        # diseases persist: counts never fall, cancer follows the diagnosis year
        assert (B["somatic_diseases"].to_numpy() >= A["somatic_diseases"].to_numpy()).all()
        assert (B["cancer_10y"].to_numpy() >= A["cancer_5y"].to_numpy()).all()
        # moving about 4 % a year; listing mostly persists
        moved = B["municipality_code"].astype(str).to_numpy() != A["municipality_code"].astype(str).to_numpy()
        assert 0.02 < moved.mean() < 0.07
        switched = B["clinic_id"].astype(str).to_numpy() != A["clinic_id"].astype(str).to_numpy()
        assert switched[~moved].mean() < 0.04
        assert switched[moved].mean() > 0.8
        # leavers (deaths, emigration) and newcomers (births, immigration)
        gone = a.loc[a.index.difference(b.index)]
        new = b.loc[b.index.difference(a.index)]
        assert 0.008 < len(gone) / len(a) < 0.03
        assert gone["age"].mean() > a["age"].mean() + 10  # leavers are older: deaths dominate
        births = (new["age"] == 0).sum() * 6_025_511 / N
        assert 48_000 < births < 70_000
        assert (b["age"] == 0).sum() == (new["age"] == 0).sum()  # age 0 only for the newly born
    sizes = persons.groupby("year").size()
    assert sizes[max(YEARS)] == N
    assert sizes.is_monotonic_increasing  # the population grows (immigration)


def test_listing_own_municipality_and_open_clinics(persons, clinics):
    cm = dict(zip(clinics["clinic_id"], clinics["municipality_code"]))
    for y, g in persons.groupby("year"):
        open_ids = set(clinics.loc[_is_open(clinics, y), "clinic_id"])
        assert set(g["clinic_id"].dropna().astype(str)) <= open_ids, y
    last = _latest(persons)
    own = last["clinic_id"].astype(str).map(cm) == last["municipality_code"].astype(str)
    assert 0.88 < own.mean() < 0.96


# --------------------------------------------------------------------------- clinics


def test_clinic_table(clinics, gen):
    assert tuple(clinics.columns) == synthetic.CLINIC_COLUMNS
    assert clinics["clinic_id"].is_unique and clinics["clinic_id"].str.fullmatch(r"\d{6}").all()
    assert clinics["clinic_id"].str.startswith("0").any()
    assert clinics["postcode"].str.fullmatch(r"\d{4}").all()
    assert set(clinics["practice_form"]) == {"solo", "partnership", "collaboration", "regional", "tender"}
    cap = clinics["capacities"].astype(float)
    vac = clinics["vacant_capacities"].astype(float)
    assert (cap >= 0).all() and ((vac >= 0) & (vac <= cap)).all()
    assert set(clinics["island_doctor"]) == {"true", "false"}
    # postcodes plausible for the region (first digit)
    reg = clinics["municipality_code"].map(
        dict(zip(reference.municipalities()["municipality_code"], reference.municipalities()["region_2007_2026"])))
    first = clinics["postcode"].str[0]
    allowed = {"Hovedstaden": set("123"), "Sjælland": set("24"), "Syddanmark": set("5678"),
               "Midtjylland": set("678"), "Nordjylland": set("79")}  # Morsø, Thisted: 7xxx
    assert all(f in allowed[r] for f, r in zip(first, reg))
    # opened / closed / split
    assert clinics["opened"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    closed = clinics["closed"] != ""
    assert (clinics.loc[closed, "closed"] > clinics.loc[closed, "opened"]).all()
    years_closed = clinics.loc[closed, "closed"].str.slice(0, 4).astype(int)
    assert set(years_closed) == set(YEARS)  # a handful close every year
    split = clinics[clinics["split_from"] != ""]
    assert len(split) >= len(YEARS) - 1
    by_id = clinics.set_index("clinic_id")
    for _, c in split.iterrows():
        parent = by_id.loc[c["split_from"]]
        assert parent["opened"] < c["opened"]
        assert int(c["opened"][:4]) in YEARS[1:]
        assert parent["municipality_code"] == c["municipality_code"]
        assert parent["closed"] == "" or parent["closed"] >= c["opened"]
    opened_in_panel = clinics["opened"].str.slice(0, 4).astype(int).isin(YEARS[1:])
    assert opened_in_panel.sum() > len(split)  # new clinics besides the splits


def test_national_clinic_structure(national_plan):
    plan = national_plan
    open_ = plan[plan["open_latest"]]
    assert 1_600 <= len(open_) <= 1_800
    assert 3_600 <= open_["capacities"].sum() <= 3_800
    per_cap = open_["expected_list"].sum() / open_["capacities"].sum()
    assert 1_550 <= per_cap <= 1_650
    forms = open_["practice_form"].value_counts(normalize=True)
    assert 0.3 < forms["solo"] < 0.55 and 0.3 < forms["partnership"] < 0.55
    assert 0.015 < forms["regional"] + forms["tender"] < 0.06
    rt = open_[open_["practice_form"].isin(["regional", "tender"])]
    citizens = rt["expected_list"].sum()
    assert 200_000 < citizens < 260_000  # over 200,000, about 3-4 %
    region = rt["municipality_code"].map(
        dict(zip(reference.municipalities()["municipality_code"], reference.municipalities()["region_2007_2026"])))
    by_region = rt.groupby(region)["expected_list"].sum() / citizens
    assert by_region[["Nordjylland", "Sjælland"]].sum() > 0.6
    # list sizes: realistic spread, larger clinics list more
    reg = open_[~open_["island_doctor"]]
    lists = reg["expected_list"] / reg["capacities"].clip(lower=1)
    assert lists.between(800, 3_000).mean() > 0.95
    assert np.corrcoef(reg["capacities"], reg["expected_list"])[0, 1] > 0.8
    assert (open_["vacant_capacities"].sum() / open_["capacities"].sum()) < 0.08


def test_island_doctors_below_and_above_500(national_plan):
    isl = national_plan[national_plan["island_doctor"]]
    assert 8 <= len(isl) <= 12
    assert (isl["expected_list"] < 500).sum() >= 3
    assert (isl["expected_list"] > 500).sum() >= 2
    names = " ".join(isl["name"])
    for island in ("Agersø", "Omø", "Fejø", "Femø", "Orø", "Sejerø", "Anholt"):
        assert island in names
    lists = {name: lst for name, _, lst, _, _ in synthetic.ISLAND_CLINICS}
    assert min(lists.values()) < 500 < max(lists.values())


def test_list_sizes_scale_with_capacity(persons, clinics):
    last = _latest(persons)
    lists = last["clinic_id"].astype(str).value_counts() * 6_025_511 / N
    c = clinics[_is_open(clinics, max(YEARS)) & (clinics["island_doctor"] == "false")].set_index("clinic_id")
    lst = lists.reindex(c.index).fillna(0)
    cap = c["capacities"].astype(float)
    assert 1_450 < lst.sum() / cap.sum() < 1_750
    assert np.corrcoef(cap, lst)[0, 1] > 0.5


def test_regional_tender_share(persons, clinics):
    last = _latest(persons)
    form = last["clinic_id"].astype(str).map(dict(zip(clinics["clinic_id"], clinics["practice_form"])))
    rt = form.isin(["regional", "tender"])
    assert 0.025 < rt.mean() < 0.05
    region = last["municipality_code"].astype(str).map(dict(zip(
        reference.municipalities()["municipality_code"], reference.municipalities()["region_2007_2026"])))
    share = rt.groupby(region).mean()
    assert share["Nordjylland"] > share["Sjælland"] > share["Hovedstaden"]


def test_capacity_reports(gen, clinics, persons):
    d = gen["dir"] / "capacity_reports"
    heads1 = ["Ydernummer", "Praksisbetegnelse", "Adresse", "Praksiskommune", "Praksiskommunekode", "Postnummer",
              "Praksisform", "Antal udmøntede kapaciteter", "Antal ledige kapaciteter"]
    danish = set(synthetic.PRACTICE_FORM_DANISH.values())
    open_ = clinics[_is_open(clinics, max(YEARS) + 1)].set_index("clinic_id")
    seen: set[str] = set()
    island_rows = 0
    for f in sorted(d.glob("*.xlsx")):
        wb = load_workbook(f)
        assert wb.sheetnames == ["Bilag 1", "Bilag 2"]
        rows1 = list(wb["Bilag 1"].iter_rows(values_only=True))
        rows2 = list(wb["Bilag 2"].iter_rows(values_only=True))
        assert list(rows1[0]) == heads1
        assert list(rows2[0]) == heads1 + ["Antal tilmeldte patienter"]
        for r in rows1[1:]:
            rec = dict(zip(heads1, r))
            yid = rec["Ydernummer"]
            assert isinstance(yid, str) and len(yid) == 6 and yid.isdigit()
            assert isinstance(rec["Praksiskommunekode"], str) and isinstance(rec["Postnummer"], str)
            assert rec["Praksisform"] in danish
            c = open_.loc[yid]
            assert rec["Praksiskommunekode"] == c["municipality_code"]
            assert rec["Postnummer"] == c["postcode"]
            assert float(rec["Antal udmøntede kapaciteter"]) == float(c["capacities"])
            assert float(rec["Antal ledige kapaciteter"]) == float(c["vacant_capacities"])
            assert synthetic.PRACTICE_FORM_DANISH[c["practice_form"]] == rec["Praksisform"]
            seen.add(yid)
        for r in rows2[1:]:
            assert open_.loc[r[0], "island_doctor"] == "true"
            assert isinstance(r[-1], int) and r[-1] >= 0
            island_rows += 1
    assert seen == set(open_.index)  # every provider number open on the reporting date, once
    assert island_rows == (open_["island_doctor"] == "true").sum()
    # workbooks carry no wall-clock timestamp
    import zipfile
    with zipfile.ZipFile(sorted(d.glob("*.xlsx"))[0]) as z:
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in z.infolist())
        assert b"2026-01-01T00:00:00Z" in z.read("docProps/core.xml")


# --------------------------------------------------------------------------- projection, index


def test_population_projection(gen, persons, munis):
    proj = pd.read_csv(gen["dir"] / "population_projection.csv", dtype={"municipality_code": str})
    assert list(proj.columns) == ["municipality_code", "year", "population_end_of_year"]
    years = sorted(proj["year"].unique())
    assert years == list(YEARS) + [max(YEARS) + 1, max(YEARS) + 2]
    assert len(proj) == 98 * len(years)
    tot = proj.groupby("year")["population_end_of_year"].sum()
    g1_share = (_latest(persons)["insurance_group"] == 1).mean()
    assert abs(tot[max(YEARS)] / (6_025_511 * g1_share) - 1) < 0.001  # real scale, group 1
    growth = tot[max(YEARS) + 2] / tot[max(YEARS)]
    assert 1.0 < growth < 1.03
    assert (tot.diff().dropna() > 0).all()
    # the latest year: each municipality's real population times the sample's group-1 share there
    last = proj[proj["year"] == max(YEARS)].set_index("municipality_code")["population_end_of_year"]
    real = munis.set_index("municipality_code")["population_2026_01_01"]
    lp = _latest(persons)
    g1 = (lp["insurance_group"] == 1).groupby(lp["municipality_code"].astype(str)).mean()
    assert ((last - (real * g1).round().reindex(last.index)).abs() <= 1).all()
    # earlier years follow the sample's group-1 counts
    counts = persons[persons["insurance_group"] == 1].groupby(["year", persons["municipality_code"].astype(str)]).size()
    first = proj[proj["year"] == min(YEARS)].set_index("municipality_code")["population_end_of_year"]
    big = real[real > 50_000].index
    ratio_proj = first[big] / last[big]
    ratio_panel = counts[min(YEARS)][big] / counts[max(YEARS)][big]
    assert np.allclose(ratio_proj, ratio_panel, atol=0.002)


def test_fee_index(gen):
    fi = pd.read_csv(gen["dir"] / "fee_index.csv")
    assert list(fi.columns) == ["year", "index"]
    assert list(fi["year"]) == list(YEARS)
    assert fi["index"].iloc[-1] == 100.0
    assert fi["index"].is_monotonic_increasing
    step = fi["index"].iloc[-1] / fi["index"].iloc[-2] - 1
    assert 0.02 <= step <= 0.03


# --------------------------------------------------------------------------- use and fees


def test_true_coefficients_terms():
    expected = ["Intercept"] + [f"male_{b}" for b in ("0-2", "3-5", "6-15", "16-24", "35-44", "45-54", "55-64",
                                                      "65-74", "75-84", "85+")] \
        + [f"female_{b}" for b in ("0-2", "3-5", "6-15", "16-24", "25-34", "35-44", "45-54", "55-64", "65-74",
                                   "75-84", "85+")] \
        + ["origin_menapt", "widowed_divorced", "labour_temporarily_outside", "labour_permanently_outside",
           "somatic_2", "somatic_3plus", "psychiatric", "cancer_5y"]
    assert list(synthetic.TRUE_COEFFICIENTS) == expected
    c = synthetic.TRUE_COEFFICIENTS
    cells = [c["Intercept"] + c.get(f"{s}_{b}", 0.0) for s in ("male", "female")
             for b in ("0-2", "3-5", "6-15", "16-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75-84", "85+")]
    assert min(cells) > 0  # X @ beta > 0 for every cell (all other terms are positive)
    assert all(v > 0 for k, v in c.items() if not k.startswith(("male", "female", "Intercept")))
    assert 0 < synthetic.REGIONAL_TENDER_RECORDING_FACTOR < 1


def _hc1_fit(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    e = y - X @ beta
    n, k = X.shape
    bread = np.linalg.inv(X.T @ X)
    meat = (X * e[:, None] ** 2).T @ X
    cov = bread @ meat @ bread * n / (n - k)
    return beta, np.sqrt(np.diag(cov))


def test_ols_recovers_true_coefficients(persons, clinics):
    last = _latest(persons)
    form = last["clinic_id"].astype(str).map(dict(zip(clinics["clinic_id"], clinics["practice_form"])))
    sample = last[(last["insurance_group"] == 1) & ~form.isin(["regional", "tender"])]
    X = synthetic.true_design(sample)
    assert list(X.columns) == list(synthetic.TRUE_COEFFICIENTS)
    y = (sample["gross_fee"] - sample["local_services_fee"] + sample["chronic_fee"]).to_numpy()
    beta, se = _hc1_fit(X.to_numpy(), y)
    truth = np.array(list(synthetic.TRUE_COEFFICIENTS.values()))
    z = (beta - truth) / se
    assert np.abs(z).max() < 4.0, dict(zip(X.columns, np.round(z, 2)))
    # the mean of y equals the mean of X @ beta (the Bernoulli-Gamma noise has mean 1)
    mu = synthetic.true_expected_use(sample)
    assert abs(y.mean() / mu.mean() - 1) < 0.03


def test_use_calibration(persons):
    last = _latest(persons)
    y = last["gross_fee"] + last["chronic_fee"]
    a = last["age"]
    assert 1_440 < y.mean() < 1_640  # about 1,540 DKK
    assert 880 < y[a.between(10, 19)].mean() < 1_070  # about 971
    assert 2_950 < y[a >= 80].mean() < 3_500  # about 3,234
    women, men = y[(last["sex"] == 2) & a.between(16, 64)], y[(last["sex"] == 1) & a.between(16, 64)]
    assert women.mean() > 1.2 * men.mean()
    assert 0.10 < (y == 0).mean() < 0.20  # about 15 % without a contact
    # earlier years are in their own (lower) prices
    means = persons.assign(y=persons["gross_fee"] + persons["chronic_fee"]).groupby("year")["y"].mean()
    assert means[min(YEARS)] < means[max(YEARS)]


def test_regional_tender_record_less(persons, clinics):
    last = _latest(persons)
    form = last["clinic_id"].astype(str).map(dict(zip(clinics["clinic_id"], clinics["practice_form"])))
    rt = form.isin(["regional", "tender"]).to_numpy()
    y = (last["gross_fee"] - last["local_services_fee"] + last["chronic_fee"]).to_numpy()
    mu = synthetic.true_expected_use(last)
    ratio_rt = y[rt].sum() / mu[rt].sum()
    ratio_other = y[~rt].sum() / mu[~rt].sum()
    assert abs(ratio_other - 1) < 0.03
    assert abs(ratio_rt - synthetic.REGIONAL_TENDER_RECORDING_FACTOR) < 0.08
    assert ratio_rt < ratio_other - 0.1


def test_chronic_fee(persons):
    last = _latest(persons)
    on = last["chronic_fee"] > 0
    national = on.sum() * 6_025_511 / N
    assert 150_000 < national < 400_000  # 63 % of the type 2 diabetes / COPD patients
    assert (last.loc[on, "chronic_fee"] < last.loc[on, "gross_fee"] + last.loc[on, "chronic_fee"]).all()


def test_local_services_only_in_the_12_municipalities(persons, clinics):
    cm = dict(zip(clinics["clinic_id"], clinics["municipality_code"]))
    island = set(clinics.loc[clinics["island_doctor"] == "true", "clinic_id"])
    local = persons[persons["local_services_fee"] > 0]
    assert set(local["year"]) == {2025}  # the agreement runs 2025-2026
    cmuni = local["clinic_id"].astype(str).map(cm)
    assert cmuni.isin(synthetic.ULTRASOUND_MUNICIPALITIES).all()
    assert not local["clinic_id"].astype(str).isin(island).any()
    last = _latest(persons)
    in12 = last["clinic_id"].astype(str).map(cm).isin(synthetic.ULTRASOUND_MUNICIPALITIES)
    share = (last.loc[in12, "local_services_fee"] > 0).mean()
    assert 0.005 < share < 0.06  # a few per cent of the patients there
    fee = local["local_services_fee"].to_numpy()
    assert np.allclose(np.round(fee * 100) % 28716, 0)  # whole scans at 287.16 DKK (2025)


def test_services_sum_to_fees_exactly(services, persons):
    last = _latest(persons)
    assert tuple(services.columns) == synthetic.SERVICE_COLUMNS
    assert (services["year"] == max(YEARS)).all()
    assert services["week"].between(1, 52).all() and (services["count"] >= 1).all()
    assert services["service_code"].astype(str).str.fullmatch(r"\d{4}").all()
    assert set(services["service_code"].astype(str)) <= set(synthetic.SERVICE_CODES)
    ore = np.round(services["fee"] * 100).astype(np.int64)
    assert np.allclose(services["fee"] * 100, ore, atol=1e-6)
    pid = services["person_id"]
    tot = ore.groupby(pid).sum()
    is_local = services["service_code"].astype(str).isin(synthetic.ULTRASOUND_CODES)
    loc = ore[is_local].groupby(pid[is_local]).sum()
    p = last.set_index("person_id")
    gross = np.round(p["gross_fee"] * 100).astype(np.int64)
    localfee = np.round(p["local_services_fee"] * 100).astype(np.int64)
    assert (tot.reindex(p.index, fill_value=0) == gross).all()
    assert (loc.reindex(p.index, fill_value=0) == localfee).all()
    # one line per person, week and code; lines belong to the person's clinic
    assert not services.duplicated(["person_id", "week", "service_code"]).any()
    clinic = p["clinic_id"].astype(object)
    listed = clinic.reindex(pid).notna().to_numpy()  # the unlisted's lines name the practice that was paid
    assert (services["clinic_id"].astype(str).to_numpy()[listed] == clinic.reindex(pid).to_numpy()[listed]).all()
    # contact_fee is the sum of the contact lines; none for citizens on the chronic-care fee
    is_contact = services["service_code"].astype(str).isin(_CONTACT_CODES)
    con = ore[is_contact].groupby(pid[is_contact]).sum()
    contactfee = np.round(p["contact_fee"] * 100).astype(np.int64)
    assert (con.reindex(p.index, fill_value=0) == contactfee).all()
    assert (p.loc[p["chronic_fee"] > 0, "contact_fee"] == 0).all()
    # about 7 contacts per citizen a year
    contacts = services.loc[services["service_code"].astype(str).isin(["0101", "0105", "0201", "0411"]), "count"]
    assert 6.0 < contacts.sum() / len(last) < 8.0


def test_services_sorted_and_latest_year_only_by_default(gen):
    s = pq.read_table(gen["dir"] / "services.parquet", columns=["person_id", "week"]).to_pandas()
    key = s["person_id"] + s["week"].astype(str).str.zfill(2)
    assert key.is_monotonic_increasing


def test_generate_arguments(tmp_path):
    with pytest.raises(ValueError):
        synthetic.generate(tmp_path / "x", persons=50, years=[2025])
    with pytest.raises(ValueError):
        synthetic.generate(tmp_path / "y", persons=5_000, years=[2023, 2025])
    with pytest.raises(ValueError):
        synthetic.generate(tmp_path / "z", persons=5_000, years=[2024, 2025], services_years=[2022])
    info = synthetic.generate(tmp_path / "w", persons=5_000, years=[2024, 2025], services=False)
    assert "services" not in info["files"] and not (tmp_path / "w" / "services.parquet").exists()


def test_cli(tmp_path):
    rc = synthetic.main([str(tmp_path), "--persons", "3000", "--years", "2025", "--no-services", "--quiet"])
    assert rc == 0
    assert (tmp_path / "persons.parquet").is_file()
