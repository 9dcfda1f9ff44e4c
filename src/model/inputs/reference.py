"""The embedded public reference data, loaded with IDs as strings.

Two small tables ship inside the package (``src/model/data``):

* ``municipalities.csv`` -- the 98 municipalities (*kommuner*): code, name,
  region (2007-2026 and from 2027), health council (*sundhedsråd*), area,
  population on 1 January 2026, life expectancy at birth, the share of
  residents with a GP contact in the year, and a representative point.
* ``population_age_sex_2025.csv`` -- the national population by sex and
  5-year age band on 1 January 2025.
* ``municipalities.geojson`` -- simplified boundaries of the 98
  municipalities (DAGI, Klimadatastyrelsen; CC BY 4.0), for maps only
  (:func:`municipality_shapes`; source and licence in ``src/model/data/README.md``).

Where every column comes from is in :data:`PROVENANCE`.  Municipality codes
are strings throughout (``"101"``); :func:`municipalities` adds
``municipality_code``, the code zero-padded to 3 digits, which is the key the
rest of the package joins on.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

from model.errors import InputError
from model.inputs.contracts.report import InputRejected, ValidationReport
from model.inputs.readers import model_frame, read_typed

__all__ = [
    "PROVENANCE",
    "SJAELLAND_ULTRASOUND_MUNICIPALITY_NAMES",
    "SJAELLAND_ULTRASOUND_MUNICIPALITIES",
    "data_path",
    "municipal_age_structure",
    "municipalities",
    "municipality_shapes",
    "population_age_sex",
]

_MUNICIPALITIES_FILE = "municipalities.csv"
_AGE_STRUCTURE_FILE = "municipal_age_structure.csv"
_POPULATION_FILE = "population_age_sex_2025.csv"
_SHAPES_FILE = "municipalities.geojson"

#: Source of every column of the embedded reference tables.
PROVENANCE: dict[str, str] = {
    # municipalities.csv
    "kommunekode": "Statistics Denmark municipality code (3 digits; municipal structure since 2007)",
    "kommune": "Statistics Denmark municipality name",
    "region_2007_2026": "Region of the municipality, 1 January 2007 - 31 December 2026",
    "region_from_2027": "Region from 1 January 2027 (Hovedstaden and Sjælland become Østdanmark)",
    "sundhedsraad": "Health council (sundhedsråd) of the municipality, 17 in all (health reform 2027)",
    "area_km2": (
        "Official area in km², Statistics Denmark table ARE207 (1 January 2014 figures as published; "
        "one municipality from the 2025 figure; Fredensborg and Halsnæs from a non-DST figure that sums "
        "to the DST regional remainder): used for the 35 km² floor"
    ),
    "area_source": "Which source each area_km2 figure came from",
    "area_km2_polygons": (
        "Area in km² computed from Geodatastyrelsen's municipality boundary polygons (simplified): "
        "kept for comparison, not used by the model"
    ),
    "population_2026_01_01": "Population on 1 January 2026, Statistics Denmark FOLK1A (sum 6,025,511)",
    "life_expectancy_at_birth": (
        "Life expectancy at birth, Statistics Denmark HISBK, period ending 2023; "
        "missing for Ærø, Fanø, Samsø and Læsø"
    ),
    "gp_contact_share_pct": (
        "Share of residents with at least one GP contact in the year, in per cent: "
        "Statistics Denmark SYGP1 (persons with contact) over FOLK1A (population), 2023/24"
    ),
    "lat": "Latitude of a representative point of the municipality (GeoNames-based; for maps, not distances)",
    "lon": "Longitude of a representative point of the municipality (GeoNames-based; for maps, not distances)",
    # population_age_sex_2025.csv
    "population_age_sex_2025": (
        "Population by sex (1 men, 2 women) and 5-year age band (85+ open) on 1 January 2025, "
        "Statistics Denmark FOLK1A (total 5,992,734)"
    ),
    # municipalities.geojson
    "municipalities.geojson": (
        "Municipal boundaries, DAGI (Danmarks Administrative Geografiske Inddeling), Geodatastyrelsen/SDFI, now "
        "Klimadatastyrelsen, via Dataforsyningen; free public data, CC BY 4.0; simplified to about 300 m, islets "
        "under 0.5 km² left out (src/model/data/README.md): for maps, not areas"
    ),
    # municipal_age_structure.csv
    "municipal_age_structure": (
        "Old-age index (65+ per 100 aged 0-14) per municipality (48 sourced: Hovedstaden and Midtjylland) or "
        "per province (landsdel; the municipality's own index derived), Urbistat AdminStat from Statistics "
        "Denmark figures (about 2022-2023); published 65+ shares (2011-2017) for checking; sources per row"
    ),
}

_NUMERIC_COLUMNS = (
    "area_km2",
    "area_km2_polygons",
    "population_2026_01_01",
    "life_expectancy_at_birth",
    "gp_contact_share_pct",
    "lat",
    "lon",
)

#: The 12 municipalities of Region Sjælland's local agreement on ultrasound in
#: general practice 2025-2026 (fee codes 4350-4360), as named in the agreement
#: (Region Sjælland's local agreement on ultrasound in general practice 2025-2026, section 3).
SJAELLAND_ULTRASOUND_MUNICIPALITY_NAMES: tuple[str, ...] = (
    "Faxe",
    "Guldborgsund",
    "Holbæk",
    "Kalundborg",
    "Lolland",
    "Næstved",
    "Odsherred",
    "Ringsted",
    "Slagelse",
    "Sorø",
    "Stevns",
    "Vordingborg",
)


def data_path(name: str) -> Path:
    """Path of an embedded data file (``municipalities.csv``, ``population_age_sex_2025.csv``)."""
    p = resources.files("model").joinpath("data", name)
    return Path(str(p))


def municipalities(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The 98 municipalities, one row each, in file order.

    ``path``: a data folder's ``municipalities.csv`` (same layout); None
    reads the embedded reference file.
    ``kommunekode`` and the added ``municipality_code`` (zero-padded to 3
    digits) are strings; the other text columns are strings; area,
    population, life expectancy (NaN where missing), contact share and the
    point are numbers.
    """
    source = data_path(_MUNICIPALITIES_FILE) if path is None else Path(path)
    # read as validation reads it (model.inputs.readers): any encoding, delimiter and decimal mark; a file
    # without rows or with values that cannot be typed raises ValidationFailed naming file, column, row
    typed = read_typed(source, "municipalities")
    if len(typed) == 0:
        report = ValidationReport()
        report.add(source.name, None, "file has no data rows")
        raise InputRejected(report)
    df = model_frame(typed, integral_numbers=False)
    for c in df.columns:
        if df[c].dtype == object or pd.api.types.is_string_dtype(df[c].dtype):
            df[c] = df[c].str.strip()
    for c in (c for c in _NUMERIC_COLUMNS if c in df.columns or c != "area_km2_polygons"):
        df[c] = df[c].astype("float64")
    df["population_2026_01_01"] = df["population_2026_01_01"].astype("int64")
    df["municipality_code"] = df["kommunekode"].str.zfill(3)
    return df


def municipality_shapes() -> dict[str, dict]:
    """The boundaries of the 98 municipalities, keyed by ``municipality_code`` (3-digit text, ``"101"`` København).

    Out: ``{code: feature}`` in file order, each feature a GeoJSON dict with
    ``geometry`` (``Polygon`` or ``MultiPolygon``, WGS84 longitude/latitude)
    and ``properties`` (``kommunekode``, ``kommune``, ``sundhedsraad``).  Read
    once per process from the embedded ``municipalities.geojson`` (DAGI,
    simplified; source and licence in ``src/model/data/README.md``); callers
    get a fresh copy of the mapping, the features themselves are shared and
    must not be changed.
    """
    return dict(_shapes())


@lru_cache(maxsize=1)
def _shapes() -> tuple[tuple[str, dict], ...]:
    with data_path(_SHAPES_FILE).open("r", encoding="utf-8") as fh:
        features = json.load(fh)["features"]
    return tuple((str(f["properties"]["kommunekode"]).zfill(3), f) for f in features)


def municipal_age_structure() -> pd.DataFrame:
    """Published age-structure figures per municipality (``municipal_age_structure.csv``), one row each.

    Columns: ``kommunekode`` and ``municipality_code`` (3 digits, strings), ``kommune``, ``old_age_index``
    (65+ per 100 aged 0-14), ``old_age_index_level`` ("municipality" sourced, "landsdel": only the
    province's index is published), ``landsdel``, ``old_age_index_source``, ``share_65plus_pct`` (NaN where
    none was found), ``share_65plus_year`` and ``share_65plus_source``.  The file's ``#`` lines say where
    each figure comes from.
    """
    with data_path(_AGE_STRUCTURE_FILE).open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype=str, keep_default_na=False, comment="#")
    df["municipality_code"] = df["kommunekode"].str.zfill(3)
    df["old_age_index"] = df["old_age_index"].astype("float64")
    df["share_65plus_pct"] = pd.to_numeric(df["share_65plus_pct"].replace("", None), errors="coerce").astype("float64")
    return df


def population_age_sex() -> pd.DataFrame:
    """National population by sex and 5-year band on 1 January 2025.

    Columns: ``sex`` (1 men, 2 women), ``age_from``, ``age_to`` (nullable
    integer, ``<NA>`` for the open 85+ band) and ``population``.
    """
    with data_path(_POPULATION_FILE).open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype=str, keep_default_na=False)
    out = pd.DataFrame(
        {
            "sex": df["sex"].astype("int64"),
            "age_from": df["age_from"].astype("int64"),
            "age_to": pd.array([int(v) if v.strip() else None for v in df["age_to"]], dtype="Int64"),
            "population": df["population"].astype("int64"),
        }
    )
    return out


def _ultrasound_codes() -> tuple[str, ...]:
    m = municipalities()
    by_name = dict(zip(m["kommune"], m["municipality_code"]))
    missing = [n for n in SJAELLAND_ULTRASOUND_MUNICIPALITY_NAMES if n not in by_name]
    if missing:  # pragma: no cover - guards the embedded file
        raise InputError(f"ultrasound municipalities not in municipalities.csv: {missing}")
    return tuple(sorted(by_name[n] for n in SJAELLAND_ULTRASOUND_MUNICIPALITY_NAMES))


#: Codes of the 12 ultrasound-agreement municipalities (sorted): Odsherred 306,
#: Holbæk 316, Faxe 320, Kalundborg 326, Ringsted 329, Slagelse 330, Stevns 336,
#: Sorø 340, Lolland 360, Næstved 370, Guldborgsund 376, Vordingborg 390.
SJAELLAND_ULTRASOUND_MUNICIPALITIES: tuple[str, ...] = _ultrasound_codes()
