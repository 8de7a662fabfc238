"""Opening an export: ``export.xml`` as it is, or the ``HealthData`` member of ``export.zip``.

A zip member is decompressed as it is read, never extracted, and a zip is refused before anything is
inflated when its central directory or its export member claims more than an export ever holds
(:class:`~perfhub.wearables.apple.limits.ImportLimits`). Errors are :class:`AppleHealthError`.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO, cast

from perfhub.wearables.apple.document import root_name
from perfhub.wearables.apple.errors import AppleHealthError, shown, size_text
from perfhub.wearables.apple.limits import ImportLimits

MAX_SNIFFED_MEMBERS = 64
MAX_SNIFFED_BYTES = 16 << 20  # all candidate members' prologs together
# A zip's central directory is loaded whole by zipfile. Real exports hold export.xml, export_cda.xml
# and one file per workout route or ECG: thousands of members, well under 1 MB of directory.
MAX_ZIP_MEMBERS = 50_000
MAX_ZIP_DIRECTORY_BYTES = 16 << 20
RATIO_CHECKED_FROM = 16 << 20  # a small member may compress as well as it likes: it costs nothing


@contextmanager
def open_stream(path: Path, limits: ImportLimits) -> Iterator[tuple[BinaryIO, int]]:
    """The export's XML as a binary stream, and its size uncompressed (as a zip claims it)."""
    path = Path(path)
    name = shown(path.name)
    with ExitStack() as stack:
        # Only opening is translated here: errors raised while the caller reads are the caller's.
        try:
            if zipfile.is_zipfile(path):
                with open(path, "rb") as raw:
                    _check_directory(raw, name)
                archive = stack.enter_context(zipfile.ZipFile(path))
                member = _export_member(archive, name)
                _check_member(member, name, limits)
                stream = cast(BinaryIO, stack.enter_context(archive.open(member)))
                size = member.file_size
            else:
                stream = stack.enter_context(open(path, "rb"))
                size = os.fstat(stream.fileno()).st_size
                if size > limits.max_xml_bytes:
                    raise AppleHealthError(
                        f"{name} is {size_text(size)}, over the import limit of "
                        f"{size_text(limits.max_xml_bytes)}"
                    )
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError) as exc:
            # RuntimeError: an encrypted member; NotImplementedError: an unsupported compression.
            raise AppleHealthError(f"{name} is not a readable zip archive: {exc}") from None
        except (zlib.error, EOFError) as exc:
            raise AppleHealthError(f"{name} is damaged: {exc}") from None
        except OSError as exc:
            raise AppleHealthError(f"cannot read {shown(str(path))}: {exc.strerror or exc}") from None
        yield stream, size


_END_OF_DIRECTORY = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_END_OF_DIRECTORY = struct.Struct("<4sQ2H2L4Q")


def _check_directory(raw: BinaryIO, name: str) -> None:
    """Refuse a zip whose central directory is too big before zipfile reads all of it into memory
    (with a ZipInfo per member): the size and member count are in the end record, which zipfile finds
    the same way, at the very end or in the last 64 KiB."""
    size = raw.seek(0, os.SEEK_END)
    tail_start = max(0, size - (_END_OF_DIRECTORY.size + 0xFFFF))
    raw.seek(tail_start)
    tail = raw.read()
    at = len(tail) - _END_OF_DIRECTORY.size
    if not (at >= 0 and tail.startswith(b"PK\x05\x06", at) and tail[-2:] == b"\0\0"):
        at = tail.rfind(b"PK\x05\x06")  # the end record is followed by a comment
    if at < 0 or len(tail) - at < _END_OF_DIRECTORY.size:
        raise AppleHealthError(f"{name} is not a readable zip archive: no end of central directory")
    fields = _END_OF_DIRECTORY.unpack_from(tail, at)
    members, directory = fields[4], fields[5]
    locator_at = tail_start + at - _ZIP64_LOCATOR.size
    if (members == 0xFFFF or directory == 0xFFFFFFFF) and locator_at >= 0:
        raw.seek(locator_at)
        locator = raw.read(_ZIP64_LOCATOR.size)
        if len(locator) == _ZIP64_LOCATOR.size and locator.startswith(b"PK\x06\x07"):
            raw.seek(_ZIP64_LOCATOR.unpack(locator)[2])
            record = raw.read(_ZIP64_END_OF_DIRECTORY.size)
            if len(record) == _ZIP64_END_OF_DIRECTORY.size and record.startswith(b"PK\x06\x06"):
                members, directory = _ZIP64_END_OF_DIRECTORY.unpack(record)[7:9]
    if members > MAX_ZIP_MEMBERS or directory > MAX_ZIP_DIRECTORY_BYTES:
        raise AppleHealthError(
            f"{name} lists {members:,} files in {size_text(directory)} of directory, more than an Apple "
            f"Health export ever holds (at most {MAX_ZIP_MEMBERS:,} in {size_text(MAX_ZIP_DIRECTORY_BYTES)})"
        )


def _check_member(member: zipfile.ZipInfo, name: str, limits: ImportLimits) -> None:
    """Refuse a zip bomb before inflating it: zipfile stops at the size a member claims (and then fails
    its CRC), so the claimed sizes bound what is read."""
    size, packed = member.file_size, member.compress_size
    if size > limits.max_xml_bytes:
        raise AppleHealthError(
            f"the export in {name} is {size_text(size)} uncompressed, over the import limit of "
            f"{size_text(limits.max_xml_bytes)}"
        )
    if size > RATIO_CHECKED_FROM and size > limits.max_zip_ratio * packed:
        ratio = f"{size / packed:,.0f}" if packed else "infinitely"
        raise AppleHealthError(
            f"the export in {name} would inflate {ratio} times ({size_text(packed)} to {size_text(size)}); "
            f"real exports compress 10–25 times and the limit is {limits.max_zip_ratio:g}: a zip bomb?"
        )


def _member_rank(info: zipfile.ZipInfo) -> tuple[bool, bool, bool, bool, int, str]:
    path = info.filename
    base = path.rsplit("/", 1)[-1].lower()
    return (
        path != "apple_health_export/export.xml",
        base != "export.xml",
        not path.startswith("apple_health_export/"),
        base == "export_cda.xml",
        path.count("/"),
        path,
    )


def _export_member(archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    # The member is named after the phone's language (export.xml, 导出.xml, …), and export_cda.xml
    # next to it is a clinical document: the export is the .xml whose root is <HealthData>.
    candidates = sorted(
        (
            info
            for info in archive.infolist()
            if not info.is_dir()
            and info.filename.lower().endswith(".xml")
            and not info.filename.startswith("__MACOSX/")
        ),
        key=_member_rank,
    )
    sniffed = 0
    for info in candidates[:MAX_SNIFFED_MEMBERS]:
        with archive.open(info) as member:
            root, read = root_name(cast(BinaryIO, member))
            if root == b"HealthData":
                return info
        sniffed += read
        if sniffed > MAX_SNIFFED_BYTES:
            break
    found = ", ".join(shown(n, 60) for n in archive.namelist()[:5]) or "nothing"
    raise AppleHealthError(
        f"{name} holds no Apple Health export: none of its .xml files has a <HealthData> root "
        f"(found: {found}); is it a Health app export?"
    )


def open_export(path: Path) -> AbstractContextManager[BinaryIO]:
    """``export.xml`` or ``export.zip`` (its ``HealthData`` document) as a binary stream.

    A zip member is decompressed as it is read, never extracted. Errors are :class:`AppleHealthError`.
    """

    @contextmanager
    def stream() -> Iterator[BinaryIO]:
        with open_stream(path, ImportLimits()) as (binary, _total):
            yield binary

    return stream()
