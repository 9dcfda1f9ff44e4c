"""The one configuration object: every model choice in one frozen dataclass.

Each field is a choice that docs/method.md either fixes (the executive order's
constants: 1,600 citizens per capacity, one capacity per 35 km², island
doctors under 500 patients left out) or marks as a **design choice** (age
bands, normalisation, rounding step...).  A sensitivity variant is this
object with fields replaced (:func:`dataclasses.replace`), never copied code:
see :data:`VARIANTS` and :meth:`ModelConfig.variant`.

Danish terms used throughout (explained once):

* *sundhedsråd* -- health council; the 17 planning areas whose capacity
  number is binding.
* *sygdomsvægt* -- disease weight; a citizen's expected use relative to the
  national average, corrected for the municipality's life expectancy.
* *bruttohonorar* -- gross fee; what general practice was paid for the
  citizen in the year (the dependent variable).
* *kronikerhonorar* -- chronic-care fee for type 2 diabetes / COPD patients.
* *minimumspatienttal* -- a clinic's minimum patient number (closing limit).
* *udmøntede kapaciteter* -- capacities already allocated to clinics.
* *ø-læger* -- island doctors.
* *ydernummer* -- provider number, the clinic's ID.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from model.errors import ConfigError

#: Age bands of docs/method.md step 2 (design choice): lower bounds, inclusive.
DEFAULT_AGE_BANDS: tuple[int, ...] = (0, 3, 6, 16, 25, 35, 45, 55, 65, 75, 85)

ORIGIN_GROUPS = ("danish", "menapt", "western", "other_non_western")
#: Municipal life-expectancy figures the correction can use (the second is derived; see weights.py).
LIFE_EXPECTANCY_COLUMNS = ("life_expectancy_at_birth", "remaining_life_expectancy_65")
CIVIL_STATUS_CODES = ("U", "G", "F", "E", "P", "O", "L")


#: The checks of the publication gate (:mod:`model.analyses.release_gate`), in the order they are run.
RELEASE_CHECKS = ("negative_coefficient", "cell_use", "disease_steps", "age_profile", "sign_flip", "capacity_moves",
                  "refit_previous")


def band_label(lower: int, upper: int | None) -> str:
    """Label of an age band, e.g. ``(16, 24) -> "16-24"``, ``(85, None) -> "85+"``."""
    return f"{lower}+" if upper is None else f"{lower}-{upper}"


@dataclass(frozen=True)
class ModelConfig:
    """Every choice of the model; defaults are the base specification.

    Change a field with :meth:`replace` (validated) and name a sensitivity
    variant in :data:`VARIANTS`.  All fields are plain literals so the
    object round-trips through JSON (manifests, notebook parameters).
    """

    # --- years -----------------------------------------------------------
    year: int = 2025
    """Reference year of the fit: the latest complete year of use (§4.4.3)."""
    planning_year: int = 2026
    """Year the capacities are for; its end-of-year projected population is used (§4.2.2)."""

    # --- estimation sample (docs/method.md step 1-2) -----------------------------
    insurance_group: int = 1
    """Only citizens in health-insurance group 1 count (§4.6.2)."""
    excluded_practice_forms: tuple[str, ...] = ("regional", "tender")
    """Practice forms whose patients are left out of the fit (§4.4.3); empty keeps all."""

    # --- dependent variable ------------------------------------------------
    chronic_fee_treatment: str = "impute_contacts"
    """How use of citizens on the chronic-care fee is measured (§4.4.3). 'impute_contacts' (base): the
    lump sum is not use; the contact services it replaces are imputed as the mean ``contact_fee`` of
    comparable citizens without the fee in the estimation sample (see ``chronic_impute_by``), so
    y = gross_fee + imputed contact fee.  'lump_sum': y = gross_fee + chronic_fee_share x chronic_fee."""
    chronic_impute_by: str = "age_sex_somatic"
    """Comparison group of the imputation: 'age_sex_somatic' (same age band, sex and somatic-disease group
    0-1/2/3+) or 'national' (all citizens without the fee).  Applies only with 'impute_contacts'."""
    chronic_fee_share: float = 1.0
    """Share of the chronic-care fee counted as use under ``chronic_fee_treatment='lump_sum'``."""
    exclude_local_services: bool = False
    """Leave locally agreed services (e.g. ultrasound 4350-4360) out of the fee."""

    # --- regressors --------------------------------------------------------
    age_bands: tuple[int, ...] = DEFAULT_AGE_BANDS
    """Lower bounds of the age bands (design choice); the last band is open."""
    include_sex: bool = True
    """Age band x sex fully interacted; False gives age bands only (DSAM's objection, §4.4.2.1)."""
    reference_age_band: int = 25
    """Lower bound of the reference age band (absorbed by the intercept)."""
    reference_sex: int = 1
    """Sex of the reference cell (1 male, 2 female)."""
    origin_terms: tuple[str, ...] = ("menapt",)
    """Origin dummies; each entry is one origin group or a '+'-joined union, e.g. 'menapt+other_non_western'."""
    civil_status_codes: tuple[str, ...] = ("E", "F", "L", "O")
    """CIVST codes of the civil-status dummy (widowed or divorced, §4.4.2.1)."""
    civil_status_term: str = "widowed_divorced"
    """Name of the civil-status term."""
    civil_status_by_age: bool = False
    """Interact the civil-status term with age groups (16-44, 45-64, 65+)."""
    labour_age_min: int = 16
    """Lowest age of the labour-market terms (§4.4.2.2)."""
    labour_age_max: int | None = 67
    """Highest age of the labour-market terms; follows the state pension age; None: no upper limit."""
    somatic_bins: tuple[int, ...] = (2, 3)
    """Lower bounds of the somatic-disease count dummies; 0..bins[0]-1 is the reference (one disease weighs as none)."""
    psychiatric_column: str = "psychiatric"
    """'psychiatric' or 'psychiatric_extended' (adds F21-F29, F60-F69)."""
    cancer_column: str = "cancer_5y"
    """'cancer_5y' or 'cancer_10y'."""

    person_year_weights: bool = False
    """Weight each citizen by the share of the year they were resident (``days_resident`` / days in the
    year) and fit use per year at risk (design choice; base: every end-of-year resident counts as a full
    year).  Needs the optional ``days_resident`` column of persons.parquet."""

    # --- estimator ---------------------------------------------------------
    cov_type: str = "HC1"
    """'HC1' (heteroskedasticity-robust), 'cluster' (by clinic) or 'nonrobust'."""
    clinic_fixed_effects: bool = False
    """Estimate clinic fixed effects and average them out when predicting (Anselmi et al.)."""

    # --- weights -----------------------------------------------------------
    life_expectancy_column: str = "life_expectancy_at_birth"
    """Municipal life-expectancy figure used for the correction (§4.4.2.4): 'life_expectancy_at_birth' or
    'remaining_life_expectancy_65' (derived, see ``src/model/data/life_expectancy_variants.csv``)."""
    life_expectancy_by_sex: bool = False
    """Sex-specific factors: national / municipal figure of the citizen's own sex (columns ``<column>_men``/``_women``)."""
    life_expectancy_correction: bool = True
    """Apply factor = national / municipal life expectancy (design choice)."""
    normalise_weights: bool = True
    """Scale weights so that the national mean (group 1) is exactly 1 (design choice)."""

    # --- capacities (docs/method.md step 5) ---------------------------------------
    citizens_per_capacity: float = 1600.0
    """Disease-weighted citizens per GP capacity (§4.6.4)."""
    km2_per_capacity: float | None = 35.0
    """Area floor: one capacity per this many km² per municipality (§4.2.2, §4.5.3); None: no floor."""
    rounding: str = "up"
    """Health-council rounding: 'up' (§4.6.4) or 'nearest'."""
    rounding_tolerance: float = 1e-6
    """449.0000000001 counts as 449 when rounding up."""
    island_min_patients: int = 500
    """Island-doctor clinics with fewer listed patients are left out of the counted allocation (§4.2.4)."""

    # --- clinics (docs/method.md step 6) -------------------------------------------
    clinic_rounding_step: int = 50
    """Clinic minimum patient numbers are rounded to the nearest multiple (§4.3.9)."""
    clinic_cap: float | None = None
    """Optional regional cap on the minimum patient number (§4.3.6)."""

    # --- publication gate (model.analyses.release_gate; docs/method.md "Before a model year is released") ----
    release_positive_terms: tuple[str, ...] = ("somatic_", "psychiatric", "cancer_", "labour_")
    """Name prefixes of the terms for characteristics that can only add use (diseases, outside the labour
    market): a negative estimate of one fails the gate (design choice)."""
    release_max_cell_multiple: float = 10.0
    """A populated cell whose fitted use exceeds this multiple of the national mean predicted use (normalised
    weight above it) is implausible and fails the gate; fitted use below 0 always fails (design choice)."""
    release_age_jag_share: float = 0.75
    """Largest absolute second difference of the age(-by-sex) coefficients across adjacent age bands, as a share
    of the national mean predicted use, before the age profile is called jagged (a warning; design choice)."""
    release_alpha: float = 0.05
    """Two-sided level at which a coefficient counts as significant for the sign-flip check against the
    previous year (significant both years and of opposite sign fails)."""
    release_capacity_move_share: float = 0.05
    """A health council's capacities moving more than this share from the previous year's run is reported
    (information, never blocking)."""
    release_refit_tolerance: float = 1e-6
    """The previous year refitted on the current code matches its stored coefficients when every estimate
    differs by at most this times max(1, |estimate|); a larger difference shows a code change."""
    release_blocking_checks: tuple[str, ...] = ("negative_coefficient", "cell_use", "disease_steps", "sign_flip")
    """Checks of the gate whose failure blocks the release (exit code 1); the others warn.  Names:
    negative_coefficient, cell_use, disease_steps, age_profile, sign_flip, capacity_moves, refit_previous."""

    # --- coding stress test (model.analyses.stress_test, memo §4.4.4) -------------------------------------
    stress_shares: tuple[float, ...] = (0.05, 0.10, 0.25)
    """Shares of a clinic's listed patients given one more chronic somatic diagnosis in the stress test."""
    stress_seed: int = 20250630
    """Seed of the random choice of patients in the stress test (with the clinic's position: reproducible)."""
    stress_compare_variant: str = "somatic_each_count"
    """The variant without the "one disease counts as none" rule that the stress test sets beside the base."""

    # --- supply ratios (model.analyses.supply) -------------------------------------------------------------
    supply_band_edges: tuple[float, ...] = (0.75, 1.0, 1.10)
    """Edges of the supply bands of allocated (or filled) / model capacities: under 75 %, 75-100 %, 100-110 %,
    over 110 %.  A ratio exactly at 0.75 or 1.0 goes to the band above it (lower edge included); exactly at
    the last edge (1.10) stays in 100-110 % ("over 110 %" means strictly over)."""

    # --- reporting -----------------------------------------------------------
    min_cell_size: int = 5
    """Disclosure control: no published count below this."""
    national_goal_gps: int = 5000
    """National goal: at least 5,000 GPs in 2035 (§4.2.1)."""

    # ------------------------------------------------------------------
    def __post_init__(self) -> None:
        _validate(self)

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with fields replaced; unknown names or wrong types raise ``ValueError``."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ConfigError(
                f"unknown configuration field(s): {', '.join(unknown)}; "
                f"known fields: {', '.join(f.name for f in fields(self))}"
            )
        changes = {k: _coerce(k, v) for k, v in changes.items()}
        return dataclasses.replace(self, **changes)

    def with_settings(self, settings: str | Iterable[str] | Mapping[str, Any] | None) -> ModelConfig:
        """A copy with the settings of the command line (``--set FIELD=VALUE``) or a notebook's ``settings``.

        In: ``"FIELD=VALUE"`` texts (a list, or one text of them separated by
        ``;`` or new lines), or a mapping already parsed.  Each value is read
        by the field's type (:func:`parse_settings`); then :meth:`replace`
        checks ranges.  Out: the new configuration.  Unknown fields, values of
        the wrong type and ``year``/``planning_year`` (which have their own
        options) raise :class:`ConfigError`.
        """
        return self.replace(**parse_settings(settings))

    def variant(self, name: str) -> ModelConfig:
        """The configuration of a named sensitivity variant (see :data:`VARIANTS`)."""
        if name not in VARIANTS:
            raise ConfigError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
        return self.replace(**VARIANTS[name]["changes"])

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of all fields (tuples become lists)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        return cls().replace(**d)

    def diff(self, other: ModelConfig) -> dict[str, tuple[Any, Any]]:
        """Fields whose values differ: ``{name: (self_value, other_value)}``."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if a[k] != b[k]}

    # --- derived -----------------------------------------------------------
    def age_band_labels(self) -> list[str]:
        """Labels of the age bands, e.g. ['0-2', '3-5', ..., '85+']."""
        b = self.age_bands
        return [band_label(lo, (b[i + 1] - 1) if i + 1 < len(b) else None) for i, lo in enumerate(b)]


def _jsonable(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


_TUPLE_FIELDS = {"excluded_practice_forms", "age_bands", "origin_terms", "civil_status_codes", "somatic_bins",
                 "release_positive_terms", "release_blocking_checks", "stress_shares", "supply_band_edges"}


def _coerce(name: str, value: Any) -> Any:
    if name in _TUPLE_FIELDS and isinstance(value, list):
        return tuple(value)
    return value


def _validate(c: ModelConfig) -> None:
    """Check types and ranges of every field; raise ``ValueError`` naming the field."""
    hints = {f.name: f.type for f in fields(c)}
    for f in fields(c):
        v = getattr(c, f.name)
        t = str(hints[f.name])
        ok = True
        if t == "int":
            ok = isinstance(v, int) and not isinstance(v, bool)
        elif t == "float":
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        elif t == "bool":
            ok = isinstance(v, bool)
        elif t == "str":
            ok = isinstance(v, str)
        elif t.startswith("tuple"):
            ok = isinstance(v, tuple)
        elif t == "int | None":
            ok = v is None or (isinstance(v, int) and not isinstance(v, bool))
        elif t == "float | None":
            ok = v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
        if not ok:
            raise ConfigError(f"configuration field {f.name!r} must be {t}, got {v!r} ({type(v).__name__})")
    checks = [
        (c.insurance_group in (1, 2), "insurance_group must be 1 or 2"),
        (set(c.excluded_practice_forms) <= {"solo", "partnership", "collaboration", "regional", "tender"},
         "excluded_practice_forms must be practice forms (solo, partnership, collaboration, regional, tender)"),
        (0.0 <= c.chronic_fee_share <= 1.0, "chronic_fee_share must be between 0 and 1"),
        (c.chronic_fee_treatment in ("impute_contacts", "lump_sum"),
         "chronic_fee_treatment must be 'impute_contacts' or 'lump_sum'"),
        (c.chronic_impute_by in ("age_sex_somatic", "national"), "chronic_impute_by must be 'age_sex_somatic' or 'national'"),
        (len(c.age_bands) >= 2 and c.age_bands[0] == 0 and list(c.age_bands) == sorted(set(c.age_bands)),
         "age_bands must start at 0 and increase strictly"),
        (c.reference_age_band in c.age_bands, "reference_age_band must be one of age_bands"),
        (c.reference_sex in (1, 2), "reference_sex must be 1 or 2"),
        (all(set(t.split("+")) <= set(ORIGIN_GROUPS) - {"danish"} for t in c.origin_terms),
         f"origin_terms must be groups from {ORIGIN_GROUPS[1:]} or '+'-joined unions"),
        (set(c.civil_status_codes) <= set(CIVIL_STATUS_CODES), f"civil_status_codes must be CIVST codes {CIVIL_STATUS_CODES}"),
        (c.labour_age_max is None or c.labour_age_max >= c.labour_age_min, "labour_age_max must be >= labour_age_min"),
        (len(c.somatic_bins) >= 1 and c.somatic_bins[0] >= 1 and list(c.somatic_bins) == sorted(set(c.somatic_bins)),
         "somatic_bins must be increasing lower bounds >= 1"),
        (c.psychiatric_column in ("psychiatric", "psychiatric_extended"),
         "psychiatric_column must be psychiatric or psychiatric_extended"),
        (c.cancer_column in ("cancer_5y", "cancer_10y"), "cancer_column must be cancer_5y or cancer_10y"),
        (c.cov_type in ("HC1", "HC0", "cluster", "nonrobust"), "cov_type must be HC1, HC0, cluster or nonrobust"),
        (c.life_expectancy_column in LIFE_EXPECTANCY_COLUMNS, f"life_expectancy_column must be one of {LIFE_EXPECTANCY_COLUMNS}"),
        (c.citizens_per_capacity > 0, "citizens_per_capacity must be > 0"),
        (c.km2_per_capacity is None or c.km2_per_capacity > 0, "km2_per_capacity must be > 0 or None"),
        (c.rounding in ("up", "nearest"), "rounding must be 'up' or 'nearest'"),
        (0 <= c.rounding_tolerance < 0.5, "rounding_tolerance must be in [0, 0.5)"),
        (c.clinic_rounding_step >= 1, "clinic_rounding_step must be >= 1"),
        (c.clinic_cap is None or c.clinic_cap > 0, "clinic_cap must be > 0 or None"),
        (c.min_cell_size >= 1, "min_cell_size must be >= 1"),
        (c.planning_year >= c.year, "planning_year must be >= year"),
        (c.release_max_cell_multiple > 1, "release_max_cell_multiple must be > 1"),
        (c.release_age_jag_share > 0, "release_age_jag_share must be > 0"),
        (0 < c.release_alpha < 1, "release_alpha must be between 0 and 1"),
        (c.release_capacity_move_share >= 0, "release_capacity_move_share must be >= 0"),
        (c.release_refit_tolerance >= 0, "release_refit_tolerance must be >= 0"),
        (set(c.release_blocking_checks) <= set(RELEASE_CHECKS),
         f"release_blocking_checks must be names of {RELEASE_CHECKS}"),
        (len(c.stress_shares) >= 1 and all(0 < s <= 1 for s in c.stress_shares), "stress_shares must lie in (0, 1]"),
        (c.stress_compare_variant in VARIANTS, "stress_compare_variant must be a name of VARIANTS"),
        (len(c.supply_band_edges) >= 1 and list(c.supply_band_edges) == sorted(set(c.supply_band_edges))
         and c.supply_band_edges[0] > 0, "supply_band_edges must be positive and increase strictly"),
    ]
    for ok, msg in checks:
        if not ok:
            raise ConfigError(f"invalid configuration: {msg}")


#: Named sensitivity variants: fields replaced relative to the base model (docs/method.md step 8).  ``"engine":
#: False`` marks a variant that runs in the annual fit (``python -m model fit --variant NAME``) but not in the
#: stability and sensitivity engine, which works on sums per group of identical citizens (see
#: :func:`engine_variants`).
VARIANTS: dict[str, dict[str, Any]] = {
    "base": {"label": "Base model (without regional and tender clinics)", "changes": {}},
    "with_regional_tender": {
        "label": "Fit including patients of regional and tender clinics",
        "changes": {"excluded_practice_forms": ()},
    },
    "chronic_fee_full": {"label": "Chronic-care lump sum counted in full as use (no imputation)",
                         "changes": {"chronic_fee_treatment": "lump_sum"}},
    "chronic_fee_three_quarters": {"label": "Three quarters of the chronic-care lump sum counted as use",
                                   "changes": {"chronic_fee_treatment": "lump_sum", "chronic_fee_share": 0.75}},
    "chronic_fee_half": {"label": "Half the chronic-care lump sum counted as use",
                         "changes": {"chronic_fee_treatment": "lump_sum", "chronic_fee_share": 0.5}},
    "chronic_fee_quarter": {"label": "A quarter of the chronic-care lump sum counted as use",
                            "changes": {"chronic_fee_treatment": "lump_sum", "chronic_fee_share": 0.25}},
    "chronic_fee_none": {"label": "Chronic-care fee neither counted nor imputed",
                         "changes": {"chronic_fee_treatment": "lump_sum", "chronic_fee_share": 0.0}},
    "chronic_impute_national": {"label": "Contacts of chronic-care-fee citizens imputed from the national average",
                                "changes": {"chronic_impute_by": "national"}},
    "civil_single": {"label": "Single (unmarried) as civil-status term",
                     "changes": {"civil_status_codes": ("U",), "civil_status_term": "single"}},
    "civil_single_by_age": {
        "label": "Single x age group as civil-status terms",
        "changes": {"civil_status_codes": ("U",), "civil_status_term": "single", "civil_status_by_age": True},
    },
    "origin_non_western": {"label": "All non-Western origin", "changes": {"origin_terms": ("menapt+other_non_western",)}},
    "origin_each_group": {"label": "Each origin group separately",
                          "changes": {"origin_terms": ("menapt", "western", "other_non_western")}},
    "labour_16_plus": {"label": "Labour-market terms from 16 with no upper age", "changes": {"labour_age_max": None}},
    "somatic_fine": {"label": "Somatic disease counts 0-1/2/3/4+", "changes": {"somatic_bins": (2, 3, 4)}},
    "somatic_each_count": {"label": "Somatic disease counts 0/1/2/3/4+", "changes": {"somatic_bins": (1, 2, 3, 4)}},
    "psychiatric_extended": {"label": "Extended psychiatric scope (F21-F29, F60-F69)",
                             "changes": {"psychiatric_column": "psychiatric_extended"}},
    "cancer_10y": {"label": "Cancer within 10 years", "changes": {"cancer_column": "cancer_10y"}},
    "no_sex": {"label": "Sex left out as a weight", "changes": {"include_sex": False}},
    "rounding_nearest": {"label": "Health-council capacities rounded to nearest", "changes": {"rounding": "nearest"}},
    "life_expectancy_65": {
        "label": "Remaining life expectancy at 65 (derived) instead of at birth",
        "changes": {"life_expectancy_column": "remaining_life_expectancy_65"},
    },
    "life_expectancy_by_sex": {"label": "Life expectancy at birth by sex (derived)", "changes": {"life_expectancy_by_sex": True}},
    "life_expectancy_65_by_sex": {
        "label": "Remaining life expectancy at 65 by sex (derived)",
        "changes": {"life_expectancy_column": "remaining_life_expectancy_65", "life_expectancy_by_sex": True},
    },
    "no_life_expectancy": {"label": "No life-expectancy correction", "changes": {"life_expectancy_correction": False}},
    "without_local_services": {"label": "Locally agreed services (ultrasound 4350-4360) left out of the fee",
                               "changes": {"exclude_local_services": True}},
    "person_year_weighted": {"label": "Use per year at risk, citizens weighted by days resident (needs days_resident)",
                             "changes": {"person_year_weights": True}, "engine": False},
    "unnormalised_weights": {"label": "Weights not rescaled to mean 1 after the life-expectancy correction",
                             "changes": {"normalise_weights": False}},
    "clustered_se": {"label": "Standard errors clustered by clinic", "changes": {"cov_type": "cluster"}},
    "clinic_fixed_effects": {
        "label": "Clinic fixed effects, averaged out when predicting; all clinic types in the fit (Anselmi et al.)",
        "changes": {"clinic_fixed_effects": True, "excluded_practice_forms": ()},
    },
}


def engine_variants() -> list[str]:
    """The variants the stability and sensitivity engine runs (all but those marked ``"engine": False``)."""
    return [k for k, v in VARIANTS.items() if v.get("engine", True)]


#: Practice forms of clinics.csv, in the order of the per-form sums.
PRACTICE_FORMS = ("solo", "partnership", "collaboration", "regional", "tender")


PERSON_COLUMNS = [
    "year", "municipality_code", "sex", "age", "civil_status", "origin_group", "insurance_group", "labour_status",
    "somatic_diseases", "psychiatric", "psychiatric_extended", "cancer_5y", "cancer_10y", "clinic_id",
    "gross_fee", "chronic_fee", "local_services_fee", "contact_fee", "days_resident",
]
#: Text columns of persons (the others are numbers or booleans).
TEXT_PERSON_COLUMNS = ("municipality_code", "clinic_id", "civil_status", "origin_group", "labour_status")
#: The columns of one year of persons that the model engine (:mod:`model.core.cells`) reduces to atoms.
ENGINE_PERSON_COLUMNS = [c for c in PERSON_COLUMNS if c != "year"]
#: Engine columns read when present: without ``contact_fee`` only the lump-sum treatments of the chronic-care
#: fee can run; without ``days_resident`` not the person-year weighted fit.
ENGINE_OPTIONAL_COLUMNS = ("contact_fee", "days_resident")
#: Person columns the model reads when present (a variant that needs one says so when it is absent).
OPTIONAL_PERSON_COLUMNS = ("contact_fee", "days_resident")


def parse_years(text: str | Iterable[int]) -> list[int]:
    """Years from text or numbers: '2021-2025' -> [2021, ..., 2025]; '2023,2025' -> [2023, 2025]; a list is sorted.

    The one parser of year lists (command line, notebooks' parameters, the analyses).
    """
    if not isinstance(text, str):
        return sorted(int(y) for y in text)
    out: list[int] = []
    for part in text.replace(" ", "").split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return sorted(set(out))


#: Fields a setting may not change: the year and planning year have their own options and parameters.
UNSETTABLE_FIELDS = ("year", "planning_year")
_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")
_NONE = ("none", "null", "")


def setting_items(settings: str | Iterable[str] | None) -> list[str]:
    """``"FIELD=VALUE"`` items of a settings text (``;`` or new lines between items) or of a list; empty ones dropped."""
    if settings is None:
        return []
    if isinstance(settings, str):
        settings = settings.replace("\n", ";").split(";")
    return [s.strip() for s in settings if s and s.strip()]


def parse_setting_value(name: str, text: str) -> Any:
    """The value of field ``name`` read from ``text`` by the field's type; :class:`ConfigError` if it cannot be.

    int: ``1500``; float: ``1500`` or ``1500.5``; bool: true/false, yes/no,
    1/0, on/off; str: as written (surrounding quotes dropped); tuples: items
    separated by commas (``age_bands=0,3,6,16``; an empty value is the empty
    tuple); ``... | None``: ``none``/``null`` or an empty value is None.
    """
    types = {f.name: str(f.type) for f in fields(ModelConfig)}
    if name not in types:
        raise unknown_setting(name)
    t, raw = types[name], text.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        raw = raw[1:-1]
    try:
        if t.endswith("| None") and raw.lower() in _NONE:
            return None
        base = t.removesuffix(" | None")
        if base == "bool":
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise ValueError(raw)
        if base == "int":
            return int(raw)
        if base == "float":
            return float(raw)
        if base.startswith("tuple"):
            items = [x.strip() for x in raw.split(",") if x.strip()]
            if "float" in base:
                return tuple(float(x) for x in items)
            return tuple(int(x) for x in items) if "int" in base else tuple(items)
        return raw
    except ValueError:
        raise ConfigError(f"setting {name}={text!r}: not a value of type {t}") from None


def parse_settings(settings: str | Iterable[str] | Mapping[str, Any] | None) -> dict[str, Any]:
    """``{field: value}`` from ``"FIELD=VALUE"`` items (:func:`setting_items`), typed by :func:`parse_setting_value`.

    A mapping is checked for unknown names and returned (values as given).
    Raises :class:`ConfigError` naming the item: no ``=``, an unknown field
    (listing the known ones), ``year``/``planning_year``, a field set twice
    or a value of the wrong type.  Ranges are checked when the settings are
    applied (:meth:`ModelConfig.with_settings`).
    """
    if isinstance(settings, Mapping):
        pairs = [(str(k), v) for k, v in settings.items()]
    else:
        pairs = []
        for item in setting_items(settings):
            name, eq, value = item.partition("=")
            if not eq or not name.strip():
                raise ConfigError(f"setting {item!r}: write FIELD=VALUE, e.g. citizens_per_capacity=1500")
            pairs.append((name.strip(), value))
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in UNSETTABLE_FIELDS:
            raise ConfigError(f"setting {name!r}: the year and planning year have their own options "
                              "(--year, --planning-year; in a notebook the year parameter)")
        if name in out:
            raise ConfigError(f"setting {name!r} is given twice")
        if name not in {f.name for f in fields(ModelConfig)}:
            raise unknown_setting(name)
        out[name] = parse_setting_value(name, value) if isinstance(value, str) else value
    return out


def unknown_setting(name: str) -> ConfigError:
    """The error for a setting that is no field of :class:`ModelConfig`: the closest field and every field."""
    import difflib

    known = [f.name for f in fields(ModelConfig) if f.name not in UNSETTABLE_FIELDS]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown setting {name!r}{hint}; the settings are the fields of ModelConfig: {', '.join(known)}")


def settings_text(settings: Mapping[str, Any]) -> str:
    """The settings as one text a notebook's ``settings`` parameter takes (``"a=1; b=x,y"``); inverse of
    :func:`parse_settings` for the values it produces."""
    def fmt(v: Any) -> str:
        if v is None:
            return "none"
        if isinstance(v, (tuple, list)):
            return ",".join(map(str, v))
        return str(v).lower() if isinstance(v, bool) else str(v)
    return "; ".join(f"{k}={fmt(v)}" for k, v in settings.items())
