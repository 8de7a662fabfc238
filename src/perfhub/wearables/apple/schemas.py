"""The Apple Health import's result, as the upload endpoint returns it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ImportResult(BaseModel):
    records: int = Field(description="SDNN, resting-HR and sleep records in the export")
    days: int = Field(description="wake dates that got a night or a day")
    workouts: int = Field(0, description="workouts in the export that were imported")
    skipped: int = Field(description="records, nights and days left out")
    skipped_reasons: list[str] = Field(alias="skippedReasons", description="why, for the first 20")
    message: str | None = Field(description="set when nothing could be imported, saying why")
