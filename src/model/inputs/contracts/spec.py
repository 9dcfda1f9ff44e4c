"""The contracts themselves: ``data_schema/<table>.schema.yaml`` loaded, and helpers to read their fields.

The contracts use the Frictionless Table Schema vocabulary; keys prefixed
``x-`` are this project's extensions (``x-severity``, ``x-plausible``,
``x-rules``, ``x-optional``, ...). In: table names. Out: the parsed contract
(:func:`load_schema`) and small readings of it (the fields by name, the
severity of a constraint, a rule in the contract's words).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from model.errors import ConfigError

#: Tables a data folder is checked for, in this order (optional ones carry
#: ``x-optional: true`` in their contract and are validated when present).
FOLDER_TABLES: tuple[str, ...] = (
    "municipalities",
    "clinics",
    "persons",
    "population_projection",
    "services",
    "fee_index",
    "capacity_report_annex1",
    "capacity_report_annex2",
)

ROW_CONVENTION = (
    "row = data row counted from 1 (the first record after the header); in a CSV "
    "file or Excel sheet the header is line 1, so row r is line r+1"
)

DEFAULT_MAX_EXAMPLES = 20

ERROR = "error"
WARNING = "warning"

#: pandas dtype each Frictionless type is coerced to before validation.
PANDAS_DTYPES: dict[str, str] = {
    "string": "str",
    "integer": "Int64",
    "number": "Float64",
    "boolean": "boolean",
    "date": "datetime64[us]",
}

# --------------------------------------------------------------------------
# Contracts
# --------------------------------------------------------------------------


def schema_dir() -> Path:
    """Return the folder holding the ``<table>.schema.yaml`` contracts.

    In: nothing. Out: the contracts shipped with the package
    (``model/data_schema``: package data of every install; in the repository
    a link to the top-level ``data_schema/``).  Raises ``FileNotFoundError``
    if they are missing (a broken install).
    """
    folder = Path(str(resources.files("model").joinpath("data_schema")))
    if not folder.is_dir():
        raise FileNotFoundError(f"data_schema/ not found at {folder}: the package was installed without its contracts")
    return folder


def schema_names() -> list[str]:
    """Return the names of all contracts in :func:`schema_dir`, sorted."""
    return sorted(p.name[: -len(".schema.yaml")] for p in schema_dir().glob("*.schema.yaml"))


@functools.cache
def cached_schema(name: str) -> dict:
    path = schema_dir() / f"{name}.schema.yaml"
    if not path.is_file():
        raise KeyError(f"no contract {path.name} in {path.parent} (known: {', '.join(schema_names())})")
    with path.open(encoding="utf-8") as fh:
        schema = yaml.safe_load(fh)
    if schema.get("name") != name:
        raise ConfigError(f"{path.name}: name is {schema.get('name')!r}, expected {name!r}")
    return schema


def load_schema(name: str) -> dict:
    """Read the contract of one table.

    In: a table name such as ``"persons"``. Out: the parsed
    ``data_schema/<name>.schema.yaml`` as a dict (a fresh copy each call, so
    callers may modify it). Raises ``KeyError`` for an unknown name.
    """
    return copy.deepcopy(cached_schema(name))


def field_map(schema: Mapping) -> dict[str, dict]:
    return {f["name"]: f for f in schema["fields"]}


def as_list(x: Any) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def severity_of(fdef: Mapping, constraint: str) -> str:
    """Severity of one constraint of a field: ``x-severity`` may be a string
    (all constraints) or a mapping constraint -> severity; default error."""
    sev = fdef.get("x-severity", ERROR)
    if isinstance(sev, Mapping):
        sev = sev.get(constraint, ERROR)
    return sev

def rule_text(rule: Mapping) -> str:
    kind, cols = rule["kind"], as_list(rule.get("fields"))
    sym = {
        "less_or_equal": f"{cols[0]} <= {cols[-1]}",
        "implies": f"{cols[0]} implies {cols[-1]}",
        "not_equal": f"{cols[0]} != {cols[-1]}",
        "required_if": f"{cols[0]} required when "
        + " and ".join(f"{k} = {v}" for k, v in (rule.get("when") or {}).items()),
        "group_sum_minimum": f"sum of {cols[0]} per ({', '.join(as_list(rule.get('group')))})"
        f" >= {rule.get('minimum')}",
    }.get(kind, kind)
    return f"rule {rule['name']}: {sym}"


ROW_RULE_KINDS = {"less_or_equal", "implies", "not_equal", "required_if"}


def fk_rule_text(fk: Mapping, table: str) -> str:
    ref = fk["reference"]
    res = ref.get("resource") or table
    return f"foreignKey: {', '.join(as_list(fk['fields']))} -> {res}.{', '.join(as_list(ref['fields']))}"



def contract_for_file(path: Path) -> str:
    for n in schema_names():
        if cached_schema(n).get("path") == path.name:
            return n
    raise KeyError(f"no contract has path {path.name!r}; pass the contract name")
