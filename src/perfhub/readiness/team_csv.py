"""The team table as CSV: a header, then the rows, written a batch at a time (never the whole file).

Cells are made safe for spreadsheets (OWASP "CSV injection"): a text cell that begins with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return would be read as a formula by Excel, LibreOffice
or Google Sheets, so it gets a leading ``'``, which they show as text. The rule goes by the
value's type, not its look: numbers are written as numbers (``-0.5`` stays ``-0.5``, which every
spreadsheet reads as a number, not a formula), and every text — a name, a band, the joined
flags — is checked, so a name such as ``=HYPERLINK(…)`` or ``-5`` arrives as that text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import Any

__all__ = ["FORMULA_STARTS", "LIST_SEPARATOR", "csv_cell", "csv_chunks"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = ";"  # flags and hidden signals, several in one cell
ROWS_PER_CHUNK = 500


@lru_cache(maxsize=8192)
def _text(value: str) -> str:
    # Cached: a team's names, bands and flag lists repeat on every day of a range.
    return "'" + value if value.startswith(FORMULA_STARTS) else value


@lru_cache(maxsize=4096)
def _joined(items: tuple[Any, ...]) -> str:
    return _text(LIST_SEPARATOR.join(str(item) for item in items))


def csv_cell(value: Any) -> str | int | float | None:
    """One cell: null as nothing (the csv module writes it empty), ``true``/``false``, numbers as
    they are, dates in ISO form, lists joined by ``;``, and text neutralised against formula
    injection."""
    kind = type(value)
    if value is None or kind is int or kind is float:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is str:
        return _text(value)
    if isinstance(value, list | tuple):
        return _joined(tuple(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):  # numpy or other number types
        return value
    return _text(str(value))


def csv_chunks(
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    *,
    numeric: Collection[str] = (),
) -> Iterator[bytes]:
    """UTF-8 CSV: the header (``columns``), then ``rows`` in batches of :data:`ROWS_PER_CHUNK`.

    A row is a mapping of the columns or its values in ``columns`` order; each value is written
    as :func:`csv_cell` writes it. ``numeric`` names columns that hold only numbers or nulls,
    which are written without being looked at."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    pending = 0
    inspected = [index for index, column in enumerate(columns) if column not in numeric]
    # csv_cell, unrolled for the types a row holds (a year of a team is 73,000 rows): text and
    # lists are cached by value; anything else goes through csv_cell itself.
    text, joined = _text, _joined
    for row in rows:
        values = list(row) if type(row) is list or not isinstance(row, Mapping) else [row[c] for c in columns]
        for index in inspected:
            value = values[index]
            kind = type(value)
            if kind is str:
                values[index] = text(value)
            elif value is None:
                continue
            elif kind is list:
                values[index] = joined(tuple(value))
            elif kind is bool:
                values[index] = "true" if value else "false"
            else:
                values[index] = csv_cell(value)
        writer.writerow(values)
        pending += 1
        if pending >= ROWS_PER_CHUNK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode("utf-8")
