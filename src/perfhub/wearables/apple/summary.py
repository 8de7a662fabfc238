"""What an import reports: how many records it read, how many days and workouts they made, what it
left out and why."""

from __future__ import annotations

from dataclasses import dataclass

MAX_ERRORS = 20  # skip reasons a summary keeps; past them only the count grows


@dataclass(frozen=True)
class ImportSummary:
    records: int  # Record elements of the three types we use
    days: int  # distinct wake dates with at least one payload
    skipped: int  # records, nights and days left out
    errors: list[str]  # why, for the first MAX_ERRORS of them
    message: str | None = None  # set when nothing could be imported, saying why
    workouts: int = 0  # Workout elements that became workouts


def summarize(
    records: int, days: int, skipped: int, errors: list[str], *, workouts: int = 0
) -> ImportSummary:
    """The summary of an import, with the message that says why when nothing could be imported."""
    message = None
    if workouts > 0 and days == 0:
        message = None  # the workouts are what this export gives
    elif records == 0:
        message = (
            "this export holds no HRV (SDNN), resting heart rate or sleep records, so nothing was "
            "imported: are they recorded in the Health app (Apple Watch, or an app that writes them)?"
        )
    elif days == 0:
        message = (
            f"none of this export's {records} HRV, resting heart rate and sleep records gave a "
            f"night or day ({skipped} skipped), so nothing was imported"
        )
    return ImportSummary(
        records=records, days=days, skipped=skipped, errors=list(errors), message=message, workouts=workouts
    )
