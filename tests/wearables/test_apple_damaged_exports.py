"""Exports as phones really write them: iOS 16's broken DTD, stray control characters, broken records,
localised file names in the zip, and DTDs that try to make the importer expand or fetch entities."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from perfhub.wearables.apple import scanner
from perfhub.wearables.apple.errors import AppleHealthError
from perfhub.wearables.apple.importer import import_days

from .apple_export import (
    CDA_XML,
    DOCTYPE,
    DOCTYPE_V12,
    RESTING_HR,
    SDNN,
    SLEEP,
    ExportSpec,
    GeneratedExport,
    export_document,
    record_xml,
    write_export_xml,
    write_export_zip,
)

SPEC = ExportSpec(seed=5, start=date(2024, 5, 1), days=21, filler=0.05, beats_per_hrv=6)


def night(source: str = "Alex’s Apple Watch", value: str = "AsleepCore") -> str:
    return record_xml(
        SLEEP,
        "2024-01-01 23:00:00 -0800",
        "2024-01-02 07:00:00 -0800",
        f"HKCategoryValueSleepAnalysis{value}",
        source=source,
    )


def sdnn(at: str, value: float, *, source: str = "Alex’s Apple Watch", children: str = "") -> str:
    return record_xml(SDNN, at, at, value, source=source, unit="ms", children=children)


def steps(source: str = "Pedometer++") -> str:
    return record_xml(
        "HKQuantityTypeIdentifierStepCount",
        "2024-01-02 09:00:00 -0800",
        "2024-01-02 09:10:00 -0800",
        812,
        source=source,
        unit="count",
    )


def write(tmp_path: Path, text: str, name: str = "export.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


@pytest.fixture(scope="module")
def v13(tmp_path_factory: pytest.TempPathFactory) -> GeneratedExport:
    return write_export_xml(tmp_path_factory.mktemp("v13") / "export.xml", SPEC)


# --------------------------------------------------------------------------------------------
# iOS 16: HealthKit Export Version 12 and its broken internal DTD
# --------------------------------------------------------------------------------------------


def test_the_ios16_fixture_is_refused_by_a_conforming_parser(tmp_path: Path) -> None:
    # What users met: the DTD is not well-formed, so every strict parser stops before the first record.
    with pytest.raises(ET.ParseError, match="syntax error"):
        ET.fromstring(export_document([night()], doctype=DOCTYPE_V12))


def test_an_ios16_export_imports_like_the_same_data_under_a_sound_dtd(
    tmp_path: Path, v13: GeneratedExport
) -> None:
    v12 = write_export_xml(tmp_path / "export.xml", replace(SPEC, export_version=12))
    assert b"HealthKit Export Version: 12" in v12.path.read_bytes()[:400]
    hrv, sleep, summary = import_days(v12.path)
    assert (hrv, sleep, summary) == import_days(v13.path)
    assert summary.days == 21 and summary.skipped == 0 and summary.records == v12.used_records


@pytest.mark.parametrize("chunk", [1, 3, 97, scanner.CHUNK_BYTES])
def test_the_dtd_is_skipped_at_any_chunk_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    # A "]>" inside a comment of the subset does not end it; a cut between "]" and ">" is waited out.
    doctype = DOCTYPE_V12.replace("<!-- HealthKit", "<!-- ]> is not the end -->\n<!-- HealthKit").replace(
        "\n]>", "\n]  \n>"
    )
    path = write(tmp_path, export_document([night()], doctype=doctype))
    monkeypatch.setattr(scanner, "CHUNK_BYTES", chunk)
    _, sleep, summary = import_days(path)
    assert [s["durationMin"] for s in sleep] == [480.0] and summary.skipped == 0


# --------------------------------------------------------------------------------------------
# Entities declared in the DTD are never expanded, nor fetched
# --------------------------------------------------------------------------------------------


def test_entities_from_the_dtd_are_never_expanded_nor_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    laughs = "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">\n' if i else '<!ENTITY lol0 "lol">\n' for i in range(10)
    )
    doctype = DOCTYPE.replace(
        "]>\n",
        f'{laughs}<!ENTITY xxe SYSTEM "file://{secret}">\n'
        '<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd">\n%remote;\n]>\n',
    )
    text = export_document(
        [
            sdnn("2024-01-02 03:00:00 -0800", 41.0, source="&lol9;"),
            sdnn("2024-01-02 04:00:00 -0800", 43.0, source="&xxe;"),
            steps(source="&lol9;&xxe;"),  # not ours: ignored, not expanded either
            sdnn("2024-01-02 05:00:00 -0800", 45.0),
            night(),
        ],
        doctype=doctype,
    )
    path = write(tmp_path, text)
    started = time.perf_counter()
    hrv, sleep, summary = import_days(path)
    assert time.perf_counter() - started < 5
    assert [(h["sdnn"], h["sourceDevice"]) for h in hrv] == [(45.0, "Alex’s Apple Watch")]
    assert len(sleep) == 1 and summary.records == 4 and summary.skipped == 2
    laughing, fetching = line_of(text, 'sourceName="&lol9;"'), line_of(text, 'sourceName="&xxe;"')
    assert summary.errors == [
        f"SDNN at line {laughing}: undefined entity &lol9;",
        f"SDNN at line {fetching}: undefined entity &xxe;",
    ]
    assert "TOP-SECRET" not in repr((hrv, sleep, summary))


def test_markup_hidden_in_an_entity_cannot_forge_records(tmp_path: Path) -> None:
    forged = record_xml(RESTING_HR, "2024-01-02 00:01:00 -0800", "2024-01-02 23:00:00 -0800", 33)
    doctype = DOCTYPE.replace("]>\n", f"<!ENTITY forged '{forged}'>\n]>\n")
    path = write(tmp_path, export_document([" <Note>&forged;</Note>\n", night()], doctype=doctype))
    hrv, sleep, summary = import_days(path)
    assert hrv == [] and len(sleep) == 1 and summary.records == 1


# --------------------------------------------------------------------------------------------
# Stray control characters and broken records
# --------------------------------------------------------------------------------------------


def test_a_vertical_tab_in_another_apps_record_costs_nothing(tmp_path: Path, v13: GeneratedExport) -> None:
    dirty = write_export_xml(tmp_path / "export.xml", replace(SPEC, stray_controls=True))
    assert dirty.path.read_bytes().count(b"\x0b") == 21
    with pytest.raises(ET.ParseError, match="not well-formed"):
        ET.parse(dirty.path)
    assert import_days(dirty.path) == import_days(v13.path)


@pytest.mark.parametrize("chunk", [1, 64, 4093, scanner.CHUNK_BYTES])
def test_a_broken_record_of_a_used_type_is_skipped_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    at = "2024-01-02 0{}:00:00 -0800".format
    beats = (
        "  <HeartRateVariabilityMetadataList>\n"
        '   <InstantaneousBeatsPerMinute bpm="61" time="3:00:01.12 AM"/>\n'
    )
    broken = {
        "control character U+000B": sdnn(at(1), 30.0, source="Watch\x0b"),
        "control character U+0001": sdnn(
            at(2), 31.0, children=beats.replace("61", "6\x011") + "  </HeartRateVariabilityMetadataList>\n"
        ),
        "undefined entity &nbsp;": sdnn(at(3), 32.0, source="Alex&nbsp;Watch"),
        "an '&' that is not escaped as &amp;": sdnn(at(3), 33.0, source="Sleep & Co"),
        "character reference &#x1; is not allowed in XML": sdnn(at(4), 34.0, source="&#x1;"),
        "an attribute written twice": sdnn(at(5), 36.0).replace(' unit="ms"', ' unit="ms" unit="ms"'),
        "bytes that are not UTF-8": sdnn(at(5), 37.0, source="\udcff"),
        "the Record tag is not well-formed XML": sdnn(at(6), 38.0).replace('value="38.0"', "value=38.0"),
        "a MetadataEntry that is not well-formed XML": sdnn(
            at(6), 39.0, children='  <MetadataEntry key="HKWasUserEntered" value=1/>\n'
        ),
        "it does not end before the next Record starts": sdnn(at(7), 40.0, children=beats).replace(
            " </Record>\n", ""
        ),
    }
    good = [sdnn("2024-01-02 05:30:00 -0800", 50.0), night()]
    records = [steps(source="Pedo\x0bmeter"), *broken.values(), *good]
    text = export_document(records)
    path = tmp_path / "export.xml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    monkeypatch.setattr(scanner, "CHUNK_BYTES", chunk)
    hrv, sleep, summary = import_days(path)
    assert [(h["date"], h["sdnn"]) for h in hrv] == [("2024-01-02", 50.0)]
    assert [s["durationMin"] for s in sleep] == [480.0]
    assert summary.records == len(broken) + 2 and summary.skipped == len(broken)
    lines = [line_of(text, record) for record in broken.values()]
    assert summary.errors == [f"SDNN at line {n}: {reason}" for n, reason in zip(lines, broken, strict=True)]


def test_a_less_than_sign_inside_a_value_is_named(tmp_path: Path) -> None:
    # Apple writes &lt;; a raw '<' is reported as such when the chunk holds the whole tag (at a chunk
    # boundary inside the tag it is "not well-formed", skipped all the same).
    text = export_document([sdnn("2024-01-02 03:00:00 -0800", 35.0, source="a<b"), night()])
    _, sleep, summary = import_days(write(tmp_path, text))
    assert len(sleep) == 1
    assert summary.errors == [f"SDNN at line {line_of(text, 'a<b')}: a '<' inside an attribute value"]


def test_a_broken_sleep_record_loses_only_itself(tmp_path: Path) -> None:
    text = export_document(
        [
            record_xml(
                SLEEP,
                "2024-01-01 23:00:00 -0800",
                "2024-01-02 03:00:00 -0800",
                "HKCategoryValueSleepAnalysisAsleepCore",
            ),
            record_xml(
                SLEEP,
                "2024-01-02 03:00:00 -0800",
                "2024-01-02 04:00:00 -0800",
                "HKCategoryValueSleepAnalysisAsleepDeep",
                source="Alex’s Apple\x0cWatch",
            ),
            record_xml(
                SLEEP,
                "2024-01-02 04:00:00 -0800",
                "2024-01-02 07:00:00 -0800",
                "HKCategoryValueSleepAnalysisAsleepREM",
            ),
        ]
    )
    _, sleep, summary = import_days(write(tmp_path, text))
    assert [s["durationMin"] for s in sleep] == [420.0]
    assert summary.skipped == 1 and summary.errors[0].endswith("control character U+000C")


def test_records_after_the_root_closes_or_a_cut_off_file_are_refused(tmp_path: Path) -> None:
    whole = export_document([night()])
    for text in (whole[: whole.index("</HealthData>")], whole + night()):
        with pytest.raises(AppleHealthError, match="ends early"):
            import_days(write(tmp_path, text))


def test_a_comment_that_never_ends_is_refused_not_read_as_data(tmp_path: Path) -> None:
    text = export_document([" <Note attr='x'/><!-- started, never ended\n", night()])
    line = line_of(text, "<!-- started")
    with pytest.raises(AppleHealthError, match=f"comment or section opened at line {line} never ends"):
        import_days(write(tmp_path, text))


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\x01\x02 binary",
        b'<?xml version="1.0"?>\n<!DOCTYPE HealthData [ <!ELEMENT HealthData ANY>',  # DTD never ends
        b'<?xml version="1.0"?>\n<!DOCTYPE HealthData [ <!ELEMENT HealthData ANY> ]>\n',  # no root
        b'<?xml version="1.0"?><HealthData locale="en_US"',  # root start tag never ends
    ],
)
def test_what_is_not_an_export_is_still_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "export.xml"
    path.write_bytes(content)
    with pytest.raises(AppleHealthError, match="not an Apple Health export"):
        import_days(path)


# --------------------------------------------------------------------------------------------
# Zip archives: the export is the .xml whose root is HealthData, whatever the phone's language
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "member",
    ["apple_health_export/导出.xml", "apple_health_export/exportar.xml", "apple_health_export/書き出す.xml"],
)
def test_a_localised_export_member_is_found_by_its_root(
    tmp_path: Path, v13: GeneratedExport, member: str
) -> None:
    zipped = write_export_zip(tmp_path / "export.zip", replace(SPEC, export_version=12), member=member)
    with zipfile.ZipFile(zipped.path) as archive:
        names = archive.namelist()
    assert names[0] == "apple_health_export/export_cda.xml" and member in names
    assert import_days(zipped.path) == import_days(v13.path)


def test_an_export_xml_that_is_not_health_data_is_passed_over(tmp_path: Path, v13: GeneratedExport) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("__MACOSX/apple_health_export/._export.xml", "<HealthData/>")
        archive.writestr("apple_health_export/export.xml", CDA_XML)  # misnamed clinical document
        archive.write(v13.path, "apple_health_export/eksport.xml")
    assert import_days(path) == import_days(v13.path)


def test_a_zip_of_clinical_documents_only_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("apple_health_export/export_cda.xml", CDA_XML)
        archive.writestr("apple_health_export/导出_cda.xml", CDA_XML)
    with pytest.raises(AppleHealthError, match="holds no Apple Health export"):
        import_days(path)
