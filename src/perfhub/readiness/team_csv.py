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
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any

__all__ = ["FORMULA_STARTS", "LIST_SEPARATOR", "csv_cell", "csv_chunks"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = ";"  # flags and hidden signals, several in one cell
ROWS_PER_CHUNK = 500


def _text(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_cell(value: Any) -> str | int | float:
    """One cell: empty for null, ``true``/``false``, numbers as they are, dates in ISO form, lists
    joined by ``;``, and text neutralised against formula injection."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return _text(LIST_SEPARATOR.join(str(item) for item in value))
    return _text(str(value))


def csv_chunks(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """UTF-8 CSV: the header (``columns``), then ``rows`` in batches of :data:`ROWS_PER_CHUNK`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    pending = 0
    for row in rows:
        writer.writerow([csv_cell(row[column]) for column in columns])
        pending += 1
        if pending >= ROWS_PER_CHUNK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode("utf-8")
