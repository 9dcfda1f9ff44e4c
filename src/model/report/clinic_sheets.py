"""Clinic sheets: one page per clinic, in Danish and in English, showing its own minimum patient number.

:func:`clinic_sheets` (``python -m model clinic-sheets``) renders the
jinja2 templates ``clinic_sheet.html.j2`` and ``clinic_index.html.j2``
with the texts of :data:`SHEET_TEXT` from a run folder.

Disclosure control, in one sentence for the GP: a group
or add-on with fewer than 5 of the clinic's patients, none included, reads
``<5`` without its contribution; then the next smallest add-on is hidden
too (``x``), small age-sex groups are pooled with the next smallest group,
and the mean weight is printed with 2 decimals, so the hidden numbers
cannot be worked out from the rest of the page.  Why each part: the
contributions of the visible rows, the listed count and a precise mean
weight leave the hidden rows' total (patients x weight) known to within
listed x 0.005; with one unknown of known weight that total names the
count, so a complement of at least 5 patients is hidden with it and the
mean is rounded until that window is wider than one patient of the
complement's weight.  No sum of contributions, no life-expectancy factor
and no unrounded minimum are printed (each would give the mean back to
more decimals); the binding number, rounded to 50, is.  Zero reads ``<5``
so the attacker does not learn which characteristics are absent.  A
clinic with 1-4 listed patients (or an area of fewer than 5 citizens for a
clinic without patients) shows no mean weight and no minimum number, since
both are means over those few persons; the sheet says so and that the
region has the calculation.  The municipality's median minimum is taken
over numbers shown on sheets only.
``tests/test_disclosure.py`` attacks every sheet of a small run with an integer solver.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from markupsafe import Markup

from model.artifacts import AtomicFolder
from model.config import ModelConfig
from model.core.clinics import round_to_step
from model.core.features import age_sex_term_names, term_names
from model.errors import InputError
from model.report.annual import load_run
from model.report.annual_tables import base_cells, clinic_term_shares, describe_term
from model.report.display import HIDDEN, num
from model.report.html import TEMPLATES, data_banner

#: Texts of the clinic sheets, Danish and English (the template holds only layout).  The legal
#: texts follow executive order BEK nr. 975 of 30 June 2025 and the ministry's consultation memo
#: on it (høringsnotat), sections 4.3.2 (30 days), 4.3.5 (complaints), 4.3.6 (guidance; cap) and
#: 4.3.7 (new and split clinics).
SHEET_TEXT: dict[str, dict[str, str]] = {
    "da": {
        "other_lang": "English version",
        "title": "Minimumspatienttal for klinik {clinic}",
        "intro": "Denne side viser, hvordan klinikkens minimumspatienttal for {planning_year} er beregnet "
                 "efter den nationale fordelingsmodel (bekendtgørelse nr. 975 af 30. juni 2025). "
                 "Beregningen bygger på data om klinikkens tilmeldte patienter i sygesikringsgruppe 1 i {year}.",
        "facts": "Klinikken", "name": "Navn", "provider": "Ydernummer", "municipality": "Kommune",
        "health_council": "Sundhedsråd",
        "practice_form": "Praksisform", "capacities": "Kapaciteter", "listed": "Tilmeldte patienter (gruppe 1)",
        "formula_h": "Beregningen",
        "formula": "Kapaciteter × {cpc} / gennemsnitlig sygdomsvægt = minimumspatienttal",
        "approx": "omtrent", "rounded": "Afrundet til nærmeste {step}",
        "unrounded_note": "Tallet er beregnet med den uafrundede vægt; her er vægten vist med {d} decimaler.",
        "cap_note": "Regionen har sat et loft over minimumspatienttallet på {cap} (høringsnotatet afsnit 4.3.6).",
        "cap_binds": "Loftet er brugt: modellens tal på {uncapped} er sat ned til {cap}.",
        "cap_not_binding": "Loftet har ikke ændret klinikkens tal.",
        "mean_weight": "Gennemsnitlig sygdomsvægt for klinikkens patienter",
        "case_h": "Hvilken regel er brugt",
        "source_own_patients": "Klinikkens egne patienter: vægten er gennemsnittet for klinikkens egne tilmeldte "
                               "patienter i {year}.",
        "source_municipality": "Klinik uden tilmeldte patienter: klinikken havde ingen tilmeldte patienter i "
                               "{year}, så tallet bygger på behovet i området, dvs. gennemsnitsvægten for "
                               "borgerne i kommunen ({muni}) (høringsnotatet afsnit 4.3.7).",
        "source_split_from": "Udskilt klinik: klinikken er udskilt fra en anden klinik og har endnu ikke et "
                             "helt år med egne tilmeldte patienter, så tallet bygger på beregningen for den "
                             "klinik, den er udskilt fra (høringsnotatet afsnit 4.3.7).",
        "source_unknown": "Vægten er fundet efter modellens regel for denne type klinik ({source}).",
        "few_listed": "Klinikken har færre end {k} tilmeldte patienter. Tal, der bygger på så få patienter, "
                      "vises ikke, så ingen patient kan genkendes: siden viser hverken gennemsnitsvægten eller "
                      "det tal, modellen regner ud fra den. Regionen har beregningen og fastsætter klinikkens "
                      "minimumspatienttal.",
        "few_area": "Gennemsnitsvægten for området bygger på færre end {k} borgere og vises ikke, så ingen "
                    "borger kan genkendes. Regionen har beregningen og fastsætter klinikkens minimumspatienttal.",
        "weight_h": "Sådan opstår klinikkens gennemsnitlige sygdomsvægt",
        "weight_intro": "Sygdomsvægten viser, hvor meget en borger forventes at bruge almen praksis i forhold "
                        "til gennemsnitsborgeren (vægt 1). Hver patient har en grundvægt efter alder og køn og "
                        "får tillæg for sygdom og sociale forhold. Bidraget til klinikkens gennemsnit er "
                        "patienter × vægt / tilmeldte patienter. Summen af bidragene ganges til sidst med en "
                        "levetidskorrektion for patienternes bopælskommuner.",
        "group": "Alder og køn", "persons": "Patienter", "price_weight": "Vægt (prislisten)",
        "contribution": "Bidrag til gennemsnittet",
        "addon": "Tillæg", "addon_weight": "Tillæg pr. patient",
        "other": "Øvrige alders- og kønsgrupper samlet",
        "total_after": "Gennemsnitlig sygdomsvægt (efter levetidskorrektion)",
        "small_note": "For at beskytte patienterne vises en gruppe eller et tillæg med færre end {k} af "
                      "klinikkens patienter (også ingen) som «<{k}» uden bidrag; når det sker, skjules også "
                      "det næstmindste tillæg («x»), små alders- og kønsgrupper slås sammen med den næstmindste "
                      "gruppe, og vægten vises med 2 decimaler, så de skjulte tal ikke kan regnes ud af resten "
                      "af siden.",
        "no_profile": "Fordelingen af klinikkens patienter på grupper er ikke med i denne kørsel af modellen.",
        "compare_h": "Sammenligning", "here": "Klinikken", "muni": "Kommunen ({name})", "country": "Hele landet",
        "cmp_weight": "Gennemsnitlig sygdomsvægt", "cmp_min": "Minimumspatienttal pr. kapacitet (median)",
        "island": "Klinikken er en ø-lægepraksis med færre end {n} tilmeldte patienter; dens kapacitet "
                  "tælles ikke med i sundhedsrådets udmøntede kapacitet.",
        "legal_h": "Hvad tallet betyder",
        "legal_guidance": "Beregningen er vejledende. Det er regionen, der fastsætter klinikkens "
                          "minimumspatienttal, og regionen kan tage hensyn til lokale forhold og klinikkens "
                          "egne forhold og kan sætte et loft over minimumspatienttallet (bekendtgørelse nr. 975 "
                          "af 30. juni 2025; høringsnotatet afsnit 4.3.3 og 4.3.6).",
        "legal_complaint": "Regionens fastsættelse er en afgørelse, som klinikken kan klage over. Regionen "
                           "oplyser klinikken om, hvordan den klager: frem til 2027 klager klinikken til sin "
                           "region, fra 2027 til det nye praksisklagenævn (høringsnotatet afsnit 4.3.5).",
        "legal_30_days": "Et hævet minimumspatienttal får tidligst virkning 30 dage efter, at regionen har "
                         "givet klinikken besked om det og om de beregninger, det bygger på (høringsnotatet "
                         "afsnit 4.3.2).",
        "footer": "Beregnet på data fra {year} med den åbne fordelingsmodel. Høringsnotatet er Indenrigs- og "
                  "Sundhedsministeriets notat om høringen over bekendtgørelse nr. 975 af 30. juni 2025.",
        "male": "mænd", "female": "kvinder", "age": "alle", "aged": "{sex} {age} år",
        "form_solo": "solopraksis", "form_partnership": "kompagniskabspraksis",
        "form_collaboration": "samarbejdspraksis", "form_regional": "regionsklinik", "form_tender": "udbudsklinik",
    },
    "en": {
        "other_lang": "Dansk version",
        "title": "Minimum patient number of clinic {clinic}",
        "intro": "This page shows how the clinic's minimum patient number for {planning_year} is calculated "
                 "under the national distribution model (executive order BEK nr. 975 of 30 June 2025). "
                 "The calculation uses data on the clinic's listed patients in health-insurance group 1 in {year}.",
        "facts": "The clinic", "name": "Name", "provider": "Provider number", "municipality": "Municipality",
        "health_council": "Health council",
        "practice_form": "Practice form", "capacities": "Capacities", "listed": "Listed patients (group 1)",
        "formula_h": "The calculation",
        "formula": "Capacities × {cpc} / mean disease weight = minimum patient number",
        "approx": "about", "rounded": "Rounded to the nearest {step}",
        "unrounded_note": "The number is calculated with the unrounded weight; the weight is shown here with "
                          "{d} decimals.",
        "cap_note": "The region has set an upper limit (cap) of {cap} on minimum patient numbers (memo section 4.3.6).",
        "cap_binds": "The cap is used: the model's number of {uncapped} is lowered to {cap}.",
        "cap_not_binding": "The cap does not change the clinic's number.",
        "mean_weight": "Mean disease weight of the clinic's patients",
        "case_h": "Which rule applies",
        "source_own_patients": "The clinic's own patients: the weight is the mean over the clinic's own listed "
                               "patients in {year}.",
        "source_municipality": "A clinic with no listed patients: the clinic had no listed patients in {year}, "
                               "so its number uses the need of its area, the mean weight of the citizens of its "
                               "municipality ({muni}) (memo section 4.3.7).",
        "source_split_from": "A split clinic: the clinic was split from another clinic and has no full year of "
                             "its own listed patients yet, so its number uses the calculation of the clinic it "
                             "was split from (memo section 4.3.7).",
        "source_unknown": "The weight comes from the model's rule for this kind of clinic ({source}).",
        "few_listed": "The clinic has fewer than {k} listed patients. Figures resting on so few patients are not "
                      "shown, so that no patient can be recognised: this page shows neither their mean weight "
                      "nor the number the model calculates from it. The region has the calculation and sets "
                      "the clinic's minimum patient number.",
        "few_area": "The mean weight of the area rests on fewer than {k} citizens and is not shown, so that no "
                    "citizen can be recognised. The region has the calculation and sets the clinic's minimum "
                    "patient number.",
        "weight_h": "How the clinic's mean disease weight comes about",
        "weight_intro": "The disease weight says how much a citizen is expected to use general practice "
                        "relative to the average citizen (weight 1). Each patient has a base weight for age "
                        "and sex plus add-ons for disease and social circumstances. The contribution to the "
                        "clinic's mean is patients × weight / listed patients. The sum of the contributions is "
                        "finally multiplied by a life-expectancy correction for the patients' home municipalities.",
        "group": "Age and sex", "persons": "Patients", "price_weight": "Weight (price list)",
        "contribution": "Contribution to the mean",
        "addon": "Add-on", "addon_weight": "Add-on per patient",
        "other": "Other age and sex groups together",
        "total_after": "Mean disease weight (after the life-expectancy correction)",
        "small_note": "To protect patients, a group or add-on with fewer than {k} of the clinic's patients "
                      "(including none) is shown as “<{k}” without its contribution; when that happens the next "
                      "smallest add-on is hidden too (“x”), small age and sex groups are pooled with the next "
                      "smallest group, and the weight is shown with 2 decimals, so that the hidden numbers "
                      "cannot be worked out from the rest of the page.",
        "no_profile": "The breakdown of the clinic's patients by group is not part of this model run.",
        "compare_h": "Comparison", "here": "The clinic", "muni": "The municipality ({name})", "country": "Denmark",
        "cmp_weight": "Mean disease weight", "cmp_min": "Minimum patient number per capacity (median)",
        "island": "The clinic is an island practice with fewer than {n} listed patients; its capacity is "
                  "not counted in the health council's allocated capacity.",
        "legal_h": "What the number means",
        "legal_guidance": "The calculation is guidance. The region sets the clinic's minimum patient number; it "
                          "may take local and clinic-specific circumstances into account and may set an upper "
                          "limit on minimum patient numbers (executive order BEK nr. 975 of 30 June 2025; memo "
                          "sections 4.3.3 and 4.3.6).",
        "legal_complaint": "The region's decision can be appealed. The region tells the clinic how to complain: "
                           "until 2027 to the region itself, from 2027 to the new practice complaints board "
                           "(praksisklagenævn) (memo section 4.3.5).",
        "legal_30_days": "A raised minimum patient number takes effect no earlier than 30 days after the region "
                         "has told the clinic about it and about the calculations behind it (memo section 4.3.2).",
        "footer": "Calculated on data from {year} with the open distribution model. \"Memo\" is the Ministry of "
                  "the Interior and Health's consultation memo (høringsnotat) on executive order BEK nr. 975 "
                  "of 30 June 2025.",
        "male": "men", "female": "women", "age": "everyone", "aged": "{sex} aged {age}",
        "form_solo": "solo practice", "form_partnership": "partnership practice",
        "form_collaboration": "collaborative practice", "form_regional": "regional clinic", "form_tender": "tender clinic",
    },
}


_TERM_DA = {
    "origin_menapt": "Indvandrer eller efterkommer fra MENAPT-land",
    "widowed_divorced": "Enke(mand) eller fraskilt",
    "single": "Ugift",
    "labour_temporarily_outside": "Midlertidigt uden for arbejdsmarkedet (16-67 år)",
    "labour_permanently_outside": "Varigt uden for arbejdsmarkedet (16-67 år)",
    "psychiatric": "Udvalgt psykisk sygdom (inkl. demens)",
    "psychiatric_extended": "Psykisk sygdom, udvidet afgrænsning",
    "cancer_5y": "Kræft inden for 5 år",
    "cancer_10y": "Kræft inden for 10 år",
}


def _term_label(term: str, lang: str) -> str:
    if lang == "da":
        if term in _TERM_DA:
            return _TERM_DA[term]
        m = re.match(r"^somatic_(\d+)(plus|-\d+)?$", term)
        if m:
            lo, rest = m.group(1), m.group(2) or ""
            n = f"{lo} eller flere" if rest == "plus" else (f"{lo}{rest}" if rest else lo)
            return f"{n} udvalgte kroniske somatiske sygdomme"
        return term.replace("_", " ")
    return describe_term(term)


@dataclass
class _SheetModel:
    """What every sheet needs from the run, computed once."""

    cfg: ModelConfig
    agesex: list[str]                      # age-sex groups in display order (reference included)
    base_weight: dict[str, float]          # age-sex group -> price-list weight (no add-ons)
    addon_weight: dict[str, float]         # add-on term -> extra weight per patient
    mean_use: float                        # national mean predicted use (DKK), the weight's denominator


def _sheet_model(t: Mapping[str, Any]) -> _SheetModel:
    cfg: ModelConfig = t["config"]
    pl = t["weights_by_cell"]
    row = pl.iloc[0]
    mean_use = float(row["predicted_use"] / row["normalised_weight"])
    base = base_cells(pl)
    labels = age_sex_term_names(cfg)
    bw = {}
    for r in base.itertuples():
        key = f"{r.sex}_{r.age_band}" if cfg.include_sex else f"age_{r.age_band}"
        bw[key] = float(r.normalised_weight)
    co = t["coefficients"]
    co = co[co["variant"] == t["manifest"].get("variant", "base")].set_index("term")["estimate"]
    addons = [x for x in term_names(cfg) if x != "Intercept" and x not in set(labels)]
    order = sorted(labels, key=lambda x: (cfg.age_band_labels().index(x.split("_", 1)[1]), x))
    return _SheetModel(cfg, order, bw, {a: float(co[a]) / mean_use for a in addons if a in co.index}, mean_use)


#: Decimals of the mean disease weight on a clinic sheet (see the module docstring: disclosure control).
SHEET_WEIGHT_DECIMALS = 2


def _sheet_tables(sm: _SheetModel, counts: Mapping[str, float] | None, listed: int, lang: str) -> dict[str, Any]:
    """The sheet's weight table under disclosure control: age-sex groups, add-ons, contributions.

    In: the run's :class:`_SheetModel`, the clinic's patients per term (a
    dict, reference age-sex group included; None: no profile), its listed
    patients and the language.  Out: ``groups`` and ``addons`` (rows of
    display text: label, persons, weight, contribution) and ``masked``, the
    structure of what is hidden (for tests and the differencing attack):
    ``pooled`` (age-sex groups pooled into the "other" row), ``small``
    (add-ons shown ``<k``) and ``hidden`` (add-ons shown ``x``).

    Rules (k = ``min_cell_size``): an age-sex group of at least k patients
    is shown with its count, weight and contribution; groups of 1..k-1 are
    pooled into one row with no weight and no contribution, and while that
    pool holds fewer than k patients or a single group, the smallest shown
    group joins it (the pool is shown by its count, never under k).  An
    add-on of at least k patients is shown in full; one of fewer (zero
    included) reads ``<k`` with its weight but no contribution, and when any
    add-on reads ``<k`` the smallest add-on of at least k is hidden as ``x``
    (weight shown, count and contribution not).  No sum of the contributions
    and no life-expectancy factor are shown: with the mean weight, they
    would give away the hidden counts.  Empty rows for no profile or no
    listed patients.
    """
    k = sm.cfg.min_cell_size
    T = SHEET_TEXT[lang]
    empty = {"groups": [], "addons": [], "masked": {"pooled": [], "small": [], "hidden": [], "pool_n": 0}}
    if counts is None or listed < k:
        return empty
    n_of = {g: int(counts.get(g, 0)) for g in sm.agesex}
    shown = [g for g in sm.agesex if n_of[g] >= k]
    pooled = [g for g in sm.agesex if 0 < n_of[g] < k]
    while pooled and (sum(n_of[g] for g in pooled) < k or len(pooled) < 2) and shown:
        g = min(shown, key=lambda x: (n_of[x], sm.agesex.index(x)))
        shown.remove(g)
        pooled.append(g)
    groups = []
    for g in sm.agesex:
        if g in shown:
            w = sm.base_weight.get(g, np.nan)
            sex, age = g.split("_", 1)
            groups.append({"label": T["aged"].format(sex=T.get(sex, sex).capitalize(), age=age),
                           "persons": num(n_of[g], lang=lang), "weight": num(w, 3, lang),
                           "contribution": num(n_of[g] * w / listed, 3, lang)})
    pool_n = sum(n_of[g] for g in pooled)
    if pooled:
        groups.append({"label": T["other"], "persons": num(pool_n, lang=lang), "weight": "", "contribution": ""})
    n_add = {a: int(counts.get(a, 0)) for a in sm.addon_weight}
    small = [a for a in sm.addon_weight if n_add[a] < k]
    hidden: list[str] = []
    big = [a for a in sm.addon_weight if n_add[a] >= k]
    if small and big:
        hidden.append(min(big, key=lambda x: (n_add[x], list(sm.addon_weight).index(x))))
    addons = []
    for term, w in sm.addon_weight.items():
        n = n_add[term]
        masked = term in small or term in hidden
        addons.append({"label": _term_label(term, lang),
                       "persons": f"<{k}" if term in small else (HIDDEN if term in hidden else num(n, lang=lang)),
                       "weight": ("+" if w >= 0 else "−") + num(abs(w), 3, lang),
                       "contribution": "" if masked else num(n * w / listed, 3, lang)})
    return {"groups": groups, "addons": addons,
            "masked": {"pooled": pooled, "small": small, "hidden": hidden, "pool_n": pool_n}}


def _source_text(T: Mapping[str, str], source: str, year: int, muni: str) -> str:
    """The sentence saying which case of the rule gave the clinic's weight; neutral for an unknown case."""
    key = f"source_{source}"
    if key in T:
        return T[key].format(year=year, muni=muni)
    return T["source_unknown"].format(source=source)


def clinic_sheets(run_dir: str | Path, out_dir: str | Path | None = None, clinic: str | None = None) -> int:
    """Write one HTML page per clinic in Danish and in English; return the number of clinics.

    Files: ``<out_dir>/<clinic_id>.da.html`` and ``<clinic_id>.en.html``
    (each links to the other) and ``index.html``; default ``out_dir`` is
    ``<run_dir>/clinic_sheets``.  Each sheet shows the clinic (name when the
    run's ``clinic_minimums.csv`` carries one), the calculation (capacities
    × 1,600 / mean weight, rounded to the step, any regional cap), which
    case of the rule gave the weight (own patients, split clinic, no listed
    patients), how the mean weight comes about from its patients by age-sex
    group and add-on (from ``clinic_profiles.csv``; without that table the
    sheet says so), a comparison with its municipality and the country, and
    what the number means in law (guidance for the region, complaints, 30
    days).  Disclosure control as in the module docstring: nothing resting
    on fewer than 5 patients, no hidden count recoverable from the page.
    ``clinic`` limits the output to one clinic id (:class:`InputError` if
    unknown); then the two files are added to ``out_dir``, otherwise the
    whole folder is written through a temporary folder and moved into place.
    """
    run_dir = Path(run_dir)
    t = load_run(run_dir)
    sm = _sheet_model(t)
    cfg = sm.cfg
    k = cfg.min_cell_size
    d = SHEET_WEIGHT_DECIMALS
    ct = t["clinic_minimums"]
    if clinic is not None:
        clinic = str(clinic)
        if clinic not in set(ct["clinic_id"]):
            raise InputError(f"clinic {clinic!r} is not in {run_dir / 'clinic_minimums.csv'}")
    sel = ct if clinic is None else ct[ct["clinic_id"] == clinic]
    wide = clinic_term_shares(t)
    counts_by = {} if wide is None else wide.to_dict(orient="index")  # dicts: fast lookups per clinic
    bm = t["capacity_by_municipality"].set_index("municipality_code")
    muni_name = bm["name"].astype(str).to_dict()
    muni_w = bm.loc[bm["citizens"] >= k, "mean_weight"].dropna().to_dict()  # none resting on < k citizens
    muni_citizens = bm["citizens"].to_dict()
    # medians only over numbers shown on the clinics' own sheets: a median of one or two clinics is their number
    shown_n = ~(((ct["weight_source"] == "own_patients") & (ct["listed_patients"] > 0) & (ct["listed_patients"] < k))
                | ((ct["weight_source"] == "municipality") & (ct["municipality_code"].map(muni_citizens).fillna(0) < k)))
    with_cap = ct[(ct["capacities"] > 0) & shown_n].assign(pc=lambda d_: d_["minimum_patients"] / d_["capacities"])
    muni_median = with_cap.groupby("municipality_code")["pc"].median().to_dict()
    country_median = float(with_cap["pc"].median()) if len(with_cap) else float("nan")
    country_w = float((bm["mean_weight"] * bm["citizens"]).sum() / bm["citizens"].sum())
    has_name = "name" in ct.columns

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    tpl = env.get_template("clinic_sheet.html.j2")

    # the run's manifest says what the data are (model.artifacts.data_origin): synthetic data get a banner
    origin = t["manifest"].get("data") if isinstance(t.get("manifest"), dict) else None
    banners = {lang: Markup(data_banner(origin, lang)) if data_banner(origin, lang) else "" for lang in ("da", "en")}

    def write_all(folder: Path) -> None:
        index_rows = []
        for r in sel.itertuples(index=False):
            cid, mc = str(r.clinic_id), str(r.municipality_code)
            mname = muni_name.get(mc, mc)
            name = str(r.name) if has_name and isinstance(r.name, str) and r.name.strip() else ""
            listed = int(r.listed_patients)
            source = str(r.weight_source)
            counts = counts_by.get(cid)
            cap_digits = 0 if float(r.capacities).is_integer() else 2
            # a number resting on 1..k-1 persons is not shown: own patients, or an area of few citizens
            few = (source == "own_patients" and 0 < listed < k) or \
                  (source == "municipality" and float(muni_citizens.get(mc, 0)) < k)
            uncapped = int(round_to_step([r.minimum_patients_exact], cfg.clinic_rounding_step)[0])
            for lang in ("da", "en"):
                T = SHEET_TEXT[lang]
                tab = _sheet_tables(sm, counts, listed, lang) if source == "own_patients" else \
                    _sheet_tables(sm, None, 0, lang)
                cap_note = ""
                if cfg.clinic_cap and not few:
                    cap_note = T["cap_note"].format(cap=num(cfg.clinic_cap, lang=lang)) + " " + (
                        T["cap_binds"].format(uncapped=num(uncapped, lang=lang), cap=num(r.minimum_patients, lang=lang))
                        if uncapped > int(r.minimum_patients) else T["cap_not_binding"])
                elif cfg.clinic_cap:
                    cap_note = T["cap_note"].format(cap=num(cfg.clinic_cap, lang=lang))
                ctx = {
                    "lang": lang, "T": T, "other": "en" if lang == "da" else "da", "clinic": cid, "name": name,
                    "title": T["title"].format(clinic=cid),
                    "intro": T["intro"].format(planning_year=cfg.planning_year, year=cfg.year),
                    "municipality": mname, "health_council": r.health_council,
                    "practice_form": T.get(f"form_{r.practice_form}", r.practice_form),
                    "capacities": num(r.capacities, cap_digits, lang),
                    "listed": num(listed, lang=lang) if (listed == 0 or listed >= k) else f"<{k}",
                    "few": (T["few_listed"] if source == "own_patients" else T["few_area"]).format(k=k) if few else "",
                    "formula": T["formula"].format(cpc=num(cfg.citizens_per_capacity, lang=lang)),
                    "calc": "" if few else
                    f"{num(r.capacities, cap_digits, lang)} × {num(cfg.citizens_per_capacity, lang=lang)} "
                    f"/ {num(r.mean_weight, d, lang)} = {T['approx']} "
                    f"{num(float(r.capacities) * cfg.citizens_per_capacity / round(float(r.mean_weight), d), lang=lang)}",
                    "unrounded_note": T["unrounded_note"].format(d=d),
                    "rounded_label": T["rounded"].format(step=num(cfg.clinic_rounding_step, lang=lang)),
                    "minimum": "" if few else num(r.minimum_patients, lang=lang),
                    "cap_note": cap_note,
                    "mean_weight": "" if few else num(r.mean_weight, d, lang),
                    "source_note": _source_text(T, source, cfg.year, mname),
                    "groups": tab["groups"], "addons": tab["addons"],
                    "has_profile": bool(tab["groups"]),
                    "no_profile": T["no_profile"] if (source == "own_patients" and listed >= k and not tab["groups"]) else "",
                    "small_note": T["small_note"].format(k=k),
                    "cmp": [
                        {"label": T["here"], "weight": "" if few else num(r.mean_weight, d, lang),
                         "min": num(r.minimum_patients / r.capacities, lang=lang) if r.capacities > 0 and not few else ""},
                        {"label": T["muni"].format(name=mname),
                         "weight": num(muni_w[mc], d, lang) if mc in muni_w else "",
                         "min": num(muni_median[mc], lang=lang) if mc in muni_median else ""},
                        {"label": T["country"], "weight": num(country_w, d, lang),
                         "min": num(country_median, lang=lang) if not math.isnan(country_median) else ""},
                    ],
                    "island": T["island"].format(n=num(cfg.island_min_patients, lang=lang))
                    if str(r.island_excluded).lower() in ("true", "1") else "",
                    "footer": T["footer"].format(year=cfg.year),
                    "banner": banners[lang],
                }
                (folder / f"{cid}.{lang}.html").write_text(tpl.render(**ctx), encoding="utf-8", newline="\n")
            index_rows.append((cid, mname, str(r.health_council)))
        if clinic is None:
            idx = env.get_template("clinic_index.html.j2").render(rows=index_rows, year=cfg.year,
                                                                  planning_year=cfg.planning_year, banner=banners["en"])
            (folder / "index.html").write_text(idx, encoding="utf-8", newline="\n")

    out = Path(out_dir) if out_dir is not None else run_dir / "clinic_sheets"
    if clinic is None:
        with AtomicFolder(out, inputs={"--run": run_dir}, allow_inside=(run_dir / "clinic_sheets",)) as tmp:
            write_all(tmp)
    else:
        out.mkdir(parents=True, exist_ok=True)
        write_all(out)
    return int(len(sel))
