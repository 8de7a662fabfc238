"""What one import may cost, for any input, not only for real exports.

Memory: one 1 MiB chunk plus a carried tail of at most ``document.MAX_TAG_BYTES`` (no tag, comment or
run of junk is ever carried whole), a prolog of at most ``document.MAX_PROLOG_BYTES``, compact columns
of at most ``max_records`` kept records from at most ``days.MAX_SOURCES`` sources, and a zip's central
directory of at most ``archive.MAX_ZIP_DIRECTORY_BYTES``, checked before :mod:`zipfile` loads it.

Time: every search moves forward (no search restarts at the beginning of what is carried, no pattern
can backtrack across a ``<``), so a file costs time in proportion to its size, and that is capped at
``max_xml_bytes`` uncompressed with a zip member refused up front when it claims more than
``max_zip_ratio`` times its compressed size (:mod:`zipfile` never inflates past the size a member
claims).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImportLimits:
    """What one import may cost. Defaults fit real exports with room to spare: export.xml runs to
    1–4 GB, and export.zip compresses it 10–25 times; a file beyond a limit is refused, not cut."""

    max_xml_bytes: int = 8 << 30  # the export.xml read, uncompressed
    max_zip_ratio: float = 100.0  # uncompressed / compressed size of the zip member read
    # SDNN, resting-HR and sleep records, readable or not: what is kept of them (about 40 bytes a
    # record) is the one part of memory that grows with the file, and reading one is the costliest
    # step. Years of Watch data, phone and sleep apps together come to a few hundred thousand.
    max_records: int = 1_000_000
