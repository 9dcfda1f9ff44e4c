"""Service lines (``services.parquet``): contacts, capitation and ultrasound per person and week.

The per-person sums of the lines reproduce ``gross_fee`` and
``local_services_fee`` to the øre; ``contact_fee`` is the sum of the contact
lines (codes 0101, 0105, 0201, 0411).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from model.inputs.synthetic.arrow import _BackgroundWriter, _service_schema
from model.inputs.synthetic.evaluation_years import (
    CONSULTATION_FEE_MULTIPLIER_2027,
    CONTACT_BUDGET_SHARE_2027,
    FEE_STRUCTURE_YEAR,
)
from model.inputs.synthetic.truth import ULTRASOUND_CODES, ULTRASOUND_FEE_2025

#: Service codes of ``services.parquet``: code -> (description, fee per service
#: in DKK at the latest year's prices, or None where the fee varies).
SERVICE_CODES: dict[str, tuple[str, float | None]] = {
    "0101": ("Consultation (konsultation)", 165.00),
    "0105": ("E-mail consultation (e-mailkonsultation)", 55.00),
    "0201": ("Telephone consultation (telefonkonsultation)", 35.00),
    "0411": ("Home visit (sygebesøg)", 450.00),
    "8080": ("Capitation, practice-cost and other fees (synthetic code; amount varies)", None),
    **{c: ("Ultrasound scan, Region Sjælland local agreement", ULTRASOUND_FEE_2025) for c in ULTRASOUND_CODES},
}
_CONTACT_CODES = ("0101", "0105", "0201", "0411")
_CONTACT_FEES_DKK = np.array([SERVICE_CODES[c][1] for c in _CONTACT_CODES])
#: Mix of contact types by age group (<65, 65-79, 80+).
_CONTACT_MIX = np.array([
    [0.52, 0.18, 0.30, 0.00],
    [0.52, 0.14, 0.31, 0.03],
    [0.48, 0.08, 0.34, 0.10],
])
_CONTACT_CUM = np.cumsum(_CONTACT_MIX, axis=1)
#: Share of a user's gross fee (without local services) spent on contacts; the rest is capitation etc.
CONTACT_BUDGET_SHARE = 0.53
_SERVICE_CODE_LIST = ("0101", "0105", "0201", "0411", "8080") + ULTRASOUND_CODES
_CAPITATION_CODE_IDX = 4
_SERVICE_CHUNK_PERSONS = 400_000


def _contact_counts(rng: np.random.Generator, base: np.ndarray, age: np.ndarray, idx_t: float,
                    year: int | None = None, enrolled: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Contacts per person and type (n x 4, :data:`_CONTACT_CODES`) and the fee per contact type (øre).

    A user's gross fee without local services (``base``, øre) is spent on
    contacts (about :data:`CONTACT_BUDGET_SHARE` of it, by the age group's
    contact mix); the rest is capitation etc.  Citizens on the chronic-care
    fee (``enrolled``) bill no contacts.  From :data:`FEE_STRUCTURE_YEAR` the
    consultation fees are :data:`CONSULTATION_FEE_MULTIPLIER_2027` of before
    and contacts take :data:`CONTACT_BUDGET_SHARE_2027` of the fee.
    ``contact_fee`` = counts @ unit; :func:`_service_lines` writes the same
    contacts as lines.
    """
    new_structure = year is not None and int(year) >= FEE_STRUCTURE_YEAR
    fees_dkk = _CONTACT_FEES_DKK * CONSULTATION_FEE_MULTIPLIER_2027 if new_structure else _CONTACT_FEES_DKK
    unit = np.rint(fees_dkk * idx_t).astype(np.int64)  # øre: DKK x 100 x index / 100
    n = len(base)
    grp = np.where(age < 65, 0, np.where(age < 80, 1, 2))
    exp_unit = _CONTACT_MIX @ unit
    users = base > 0
    if enrolled is not None:
        users = users & ~enrolled
    budget = (CONTACT_BUDGET_SHARE_2027 if new_structure else CONTACT_BUDGET_SHARE) * base
    n_contacts = np.where(users, np.floor(budget / exp_unit[grp] + rng.random(n)), 0).astype(np.int64)
    # split of the contacts over the types by the age group's mix: systematic sampling with one uniform per
    # person (type k gets floor(n x cumulative mix_k + u) - floor(n x cumulative mix_k-1 + u)); the expected
    # counts are those of a multinomial draw, at a fraction of its cost
    counts = np.empty((n, 4), dtype=np.int64)
    u = rng.random(n)
    prev = np.zeros(n, dtype=np.int64)
    for k in range(4):
        edge = n_contacts if k == 3 else np.floor(n_contacts * _CONTACT_CUM[grp, k] + u).astype(np.int64)
        counts[:, k] = edge - prev
        prev = edge
    nominal = counts @ unit
    over = nominal > base
    if over.any():
        f = base[over] / nominal[over]
        counts[over] = np.floor(counts[over] * f[:, None]).astype(np.int64)
    return counts, unit


def _service_draws(rng: np.random.Generator, n: int, counts: np.ndarray, n_scans: np.ndarray) -> tuple[np.ndarray, ...]:
    """The random numbers of :func:`_service_lines` for a block of ``n`` persons, drawn in its order: a week
    per contact, a week and an ultrasound code per scan (the draws of a block depend only on its counts)."""
    kt = np.int64 if n * 53 * 16 >= 2 ** 31 else np.int32
    n_c, n_s = int(counts.sum()), int(n_scans.sum())
    return (rng.integers(1, 53, size=n_c, dtype=kt), rng.integers(1, 53, size=n_s, dtype=kt),
            rng.integers(0, len(ULTRASOUND_CODES), size=n_s, dtype=kt))


def _service_lines(draws: tuple[np.ndarray, ...], base: np.ndarray, n_scans: np.ndarray,
                   scan_unit: int, counts: np.ndarray, unit: np.ndarray):
    """Service lines of a block of persons: (row, week, code index, count, fee in øre), sorted.

    The contacts of :func:`_contact_counts` (``counts``, fee ``unit`` per
    type) each in a random week, a capitation/remainder line (code 8080) that
    makes the lines sum to the gross fee without local services (``base``,
    øre) exactly, and the ultrasound scans on top. ``draws``: the block's
    random numbers (:func:`_service_draws`, drawn beforehand so that blocks can
    be computed side by side with the same lines).
    """
    n = len(base)
    week_c, week_s, code_s = draws
    nominal = counts @ unit
    remainder = base - nominal
    tot = counts.sum(axis=1)
    # one key per contact (random week), per scan (random week and code) and per capitation line (week 1);
    # key = (row * 53 + week) * 16 + code; sorting and counting equal keys aggregates to (person, week, code)
    kt = np.int64 if n * 53 * 16 >= 2 ** 31 else np.int32
    rows_c = np.repeat(np.arange(n, dtype=kt) * (53 * 16), tot)
    code_c = np.repeat(np.tile(np.arange(4, dtype=kt), n), counts.ravel())
    rows_s = np.repeat(np.arange(n, dtype=kt) * (53 * 16), n_scans)
    cap_rows = np.flatnonzero(remainder > 0)
    key = np.concatenate([
        rows_c + week_c * 16 + code_c,
        rows_s + week_s * 16 + 5 + code_s,
        (cap_rows.astype(kt) * 53 + 1) * 16 + _CAPITATION_CODE_IDX,
    ])
    del rows_c, code_c, rows_s, draws, week_c, week_s, code_s
    key.sort(kind="stable")  # runs of ascending rows: the stable sort (radix/timsort) is several times faster
    if len(key):
        starts = np.concatenate([[0], np.flatnonzero(key[1:] != key[:-1]) + 1])
        cnt = np.diff(np.append(starts, len(key)))
        key = key[starts]
    else:
        cnt = key
    key = key.astype(np.int64)
    code = key % 16
    week = (key // 16) % 53
    row = key // (16 * 53)
    line_unit = np.where(code < 4, unit[np.minimum(code, 3)], scan_unit)
    fee = np.where(code == _CAPITATION_CODE_IDX, remainder[row], cnt * line_unit)
    return row, week, code, cnt, fee, tot


def _write_services_year(writer: _BackgroundWriter, rng: np.random.Generator, year: int, pid_str: pa.Array,
                         clinic_codes: np.ndarray, clinic_dict: pa.Array, fees: dict[str, np.ndarray]) -> dict[str, float]:
    """Write one year's service lines in chunks of persons; returns ``{"lines", "contacts"}`` counts.

    ``fees`` are :func:`model.inputs.synthetic.use._fees`' arrays (øre) with
    ``contacts`` and ``unit``; ``clinic_codes`` index ``clinic_dict``. The random
    numbers of each chunk are drawn here, chunk after chunk; the lines of the
    chunks are computed side by side (numpy releases the GIL) and written in
    order, so the file is the same whatever the number of threads."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    n = len(pid_str)
    n_lines = 0
    n_contacts = 0
    code_dict = pa.array(list(_SERVICE_CODE_LIST), type=pa.string())

    def lines(start: int, stop: int, draws: tuple[np.ndarray, ...]):
        return _service_lines(draws, fees["base"][start:stop], fees["n_scans"][start:stop], fees["scan_unit"],
                              fees["contacts"][start:stop], fees["unit"])

    chunks = [(start, min(n, start + _SERVICE_CHUNK_PERSONS)) for start in range(0, n, _SERVICE_CHUNK_PERSONS)]
    pending: deque = deque()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="service-lines") as pool:
        for i in range(len(chunks)):
            while len(pending) < 3 and i + len(pending) < len(chunks):  # at most three chunks in memory
                start, stop = chunks[i + len(pending)]
                draws = _service_draws(rng, stop - start, fees["contacts"][start:stop], fees["n_scans"][start:stop])
                pending.append((start, pool.submit(lines, start, stop, draws)))
            start, fut = pending.popleft()
            row, week, code, cnt, fee, tot = fut.result()
            n_contacts += int(tot.sum())
            if not len(row):
                continue
            g = row + start
            tbl = pa.table({
                "person_id": pid_str.take(pa.array(g)),
                "clinic_id": pa.DictionaryArray.from_arrays(pa.array(clinic_codes[g].astype(np.int16)), clinic_dict),
                "year": pa.array(np.full(len(row), year, dtype=np.int16)),
                "week": pa.array(week.astype(np.int8)),
                "service_code": pa.DictionaryArray.from_arrays(pa.array(code.astype(np.int8)), code_dict),
                "count": pa.array(cnt.astype(np.int16)),
                "fee": pa.array(fee / 100.0),
            }, schema=_service_schema())
            writer.write(tbl)
            n_lines += len(row)
    return {"lines": n_lines, "contacts": n_contacts}
