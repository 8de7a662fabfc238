"""A plan as CSV: a header row, then one session per row."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

from perfhub.core.errors import Unprocessable
from perfhub.plans.importing.rows import (
    MAX_SESSIONS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    SESSION_TYPES,
    ParsedPlan,
    PlanItem,
    RowError,
    _date,
    _load,
    _minutes,
    _RowProblem,
    _RowProblems,
    _too_many,
    _validate,
    parse_intensity,
    stable_uid,
)
from perfhub.plans.schemas import SessionFields

# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def _column_key(name: str) -> str:
    # "durationMin", "Duration Min", "duration_min" and "DURATION-MIN" are one column.
    return re.sub(r"[\s_\-]+", "", name).lower()


_COLUMNS = {_column_key(name): name for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)}


def _sniff_delimiter(header: str) -> str:
    # Column names hold none of these, so the header line alone says which one separates them.
    counts = {delimiter: header.count(delimiter) for delimiter in ",;\t"}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def parse_csv(text: str) -> ParsedPlan:
    """A header row naming ``date,sport,title,type,durationMin`` (any order, case and spacing;
    ``intensity``, ``plannedLoad`` and ``uid`` optional, other columns ignored), then one session
    per row. Blank lines are skipped; ``,``, ``;`` or tab separates cells."""
    plan = ParsedPlan("csv")
    lines = text.splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_at is None:
        raise Unprocessable("the file is empty", [{"loc": ["body"], "msg": "empty file"}])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(lines[header_at]))
    try:
        records = list(_records(reader))
    except csv.Error as exc:
        raise Unprocessable(f"not a readable CSV file: {exc}", [{"loc": ["body"], "msg": str(exc)}]) from exc
    if not records:
        raise Unprocessable("the file is empty", [{"loc": ["body"], "msg": "empty file"}])
    _, header = records[0]
    columns = _header(header)
    seen: dict[str, int] = {}
    for line, cells in records[1:]:
        if len(plan.sessions) >= MAX_SESSIONS:
            plan.errors.append(_too_many(line, None))
            break
        values = {name: (cells[i].strip() if i < len(cells) else "") for i, name in columns.items()}
        uid = values.get("uid") or None
        try:
            if any(cell.strip() for cell in cells[len(header) :]):
                raise _RowProblem(None, f"the row has {len(cells)} cells, the header {len(header)}")
            item = PlanItem(_csv_fields(values), stable_uid(uid) if uid else None, line)
        except _RowProblem as problem:
            plan.errors.append(RowError(line, uid, problem.field, problem.message))
            continue
        except _RowProblems as found:
            plan.errors += [RowError(line, uid, p.field, p.message) for p in found.problems]
            continue
        if item.uid is not None and item.uid in seen:
            plan.errors.append(RowError(line, uid, "uid", f"repeats the uid of row {seen[item.uid]}"))
            continue
        if item.uid is not None:
            seen[item.uid] = line
        plan.sessions.append(item)
    return plan


def _records(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records with the line each starts on (1-based; a quoted cell may span lines)."""
    line_num = 0
    for cells in reader:
        start = line_num + 1
        line_num = reader.line_num  # type: ignore[attr-defined]
        if any(cell.strip() for cell in cells):
            yield start, cells


def _header(cells: list[str]) -> dict[int, str]:
    columns: dict[int, str] = {}
    for index, cell in enumerate(cells):
        name = _COLUMNS.get(_column_key(cell))
        if name is None:
            continue
        if name in columns.values():
            raise Unprocessable(
                f"the header names the column {name} twice", [{"loc": ["body", 1, name], "msg": "repeated"}]
            )
        columns[index] = name
    missing = [name for name in REQUIRED_COLUMNS if name not in columns.values()]
    if missing:
        raise Unprocessable(
            f"the first row must be a header naming {', '.join(REQUIRED_COLUMNS)}; "
            f"missing: {', '.join(missing)}",
            [{"loc": ["body", 1, name], "msg": "missing column"} for name in missing],
        )
    return columns


def _csv_fields(values: dict[str, str]) -> SessionFields:
    """The row's session, or every problem of its cells at once (:class:`_RowProblems`)."""
    problems = [_RowProblem(name, f"{name} is empty") for name in REQUIRED_COLUMNS if not values[name]]
    converted: dict[str, Any] = {"sport": values["sport"], "title": values["title"]}
    kind = values["type"].lower()
    if kind and kind not in SESSION_TYPES:
        problems.append(
            _RowProblem("type", f"{values['type']!r} is not a type: easy, moderate, hard or rest")
        )
    converted["type"] = kind
    readers = (
        ("date", _date, values["date"]),
        ("durationMin", _minutes, values["durationMin"]),
        ("intensity", parse_intensity, values.get("intensity", "")),
        ("plannedLoad", _load, values.get("plannedLoad", "")),
    )
    for name, read, text in readers:
        if not text and name in REQUIRED_COLUMNS:
            continue
        try:
            converted[name] = read(text)
        except _RowProblem as problem:
            problems.append(problem)
    if problems:
        raise _RowProblems(problems)
    return _validate(converted)
