"""What makes a file an Apple Health export: its prolog and root start tag, and how it ends.

A file is an export when its prolog and root start tag are XML and the root is ``HealthData``: expat
checks that much (:func:`check_prolog`), with the internal DTD subset blanked out first (iOS 16 writes
it with broken declarations, and nothing declared in it is ever expanded or fetched). The file must
end with ``</HealthData>`` (:func:`ends_document`), so a cut-off download is refused rather than half
imported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import BinaryIO
from xml.parsers import expat

from perfhub.wearables.apple.errors import AppleHealthError, shown

MAX_PROLOG_BYTES = 4 << 20  # Apple's DTD is about 10 KB
# The longest tag read, and so the most bytes carried from one chunk to the next. Apple's Record tags
# are under 1 KB (the longest attribute is the ~200-character device string).
MAX_TAG_BYTES = 64 << 10

_SPACE = re.compile(rb"[ \t\r\n]*")
_START_TAG = re.compile(rb"<([^\s/>!?<]+)(?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*\s*(/?)>")
_SUBSET_MARK = re.compile(rb"\]|<!--|<\?")
_SUBSET_END = re.compile(rb"\][ \t\r\n]*>")
# Same length, same line breaks: expat's line and column numbers still point into the real file.
_BLANK = bytes(c if c in b"\r\n" else 0x20 for c in range(256))

_ROOT_END = re.compile(rb"</HealthData\s*>")


@dataclass(frozen=True, slots=True)
class Prolog:
    root_start: int  # where the root start tag is, or whatever stands where it should be
    root_end: int  # just past the root start tag; -1 when root_start holds something else
    name: bytes
    empty: bool  # <HealthData/>
    doctype: tuple[int, int] | None


def _skip_space(buf: bytes, pos: int) -> int:
    space = _SPACE.match(buf, pos)
    return pos if space is None else space.end()


def _after(buf: bytes, token: bytes, start: int) -> int:
    at = buf.find(token, start)
    return -1 if at < 0 else at + len(token)


def _doctype_end(buf: bytes, pos: int) -> int:
    """End of the ``<!DOCTYPE`` whose name starts at ``pos``; -1 when it does not end in ``buf``.

    Inside the internal subset only comments and processing instructions are stepped over, not
    declarations: iOS 16 writes declarations without their closing ``>``, and a subset is never read,
    only skipped. A ``]>`` inside a quoted entity value ends it early; what follows is then junk in
    the prolog, which expat refuses.
    """
    i = pos
    while i < len(buf):
        byte = buf[i]
        if byte in b"\"'":  # a SYSTEM or PUBLIC literal may hold '[' or '>'
            i = buf.find(buf[i : i + 1], i + 1)
            if i < 0:
                return -1
        elif byte == 0x3E:  # '>': no internal subset
            return i + 1
        elif byte == 0x5B:  # '['
            break
        i += 1
    else:
        return -1
    i += 1
    while (mark := _SUBSET_MARK.search(buf, i)) is not None:
        if mark.group() == b"]":
            end = _SUBSET_END.match(buf, mark.start())
            if end is not None:
                return end.end()
            if _skip_space(buf, mark.end()) == len(buf):
                return -1  # "]   " then the chunk ends: the '>' may follow
            i = mark.end()
        else:
            i = _after(buf, b"-->" if mark.group() == b"<!--" else b"?>", mark.end())
            if i < 0:
                return -1
    return -1


def find_prolog(buf: bytes, *, final: bool) -> Prolog | None:
    """Step over the prolog to the root start tag; None: ``buf`` ends before it is known (unless final)."""
    pos = 3 if buf.startswith(b"\xef\xbb\xbf") else 0
    doctype: tuple[int, int] | None = None
    while True:
        pos = _skip_space(buf, pos)
        if not final and len(buf) - pos < len(b"<!DOCTYPE"):
            return None
        if buf.startswith(b"<?", pos):
            end = _after(buf, b"?>", pos + 2)
        elif buf.startswith(b"<!--", pos):
            end = _after(buf, b"-->", pos + 4)
        elif buf.startswith(b"<!DOCTYPE", pos) and doctype is None:
            end = _doctype_end(buf, pos + len(b"<!DOCTYPE"))
            if end >= 0:
                doctype = (pos, end)
        else:
            tag = _START_TAG.match(buf, pos)
            if tag is not None:
                return Prolog(pos, tag.end(), tag.group(1), tag.group(2) == b"/", doctype)
            # A start tag cut by the chunk boundary; anything else is left to expat to describe.
            if not final and buf.startswith(b"<", pos) and len(buf) - pos < MAX_TAG_BYTES:
                return None
            return Prolog(pos, -1, b"", False, doctype)
        if end < 0:
            if not final and len(buf) - pos < MAX_PROLOG_BYTES:
                return None
            return Prolog(pos, -1, b"", False, doctype)
        pos = end


def _blank_doctype(head: bytes, prolog: Prolog) -> bytes:
    if prolog.doctype is None:
        return head
    start, end = prolog.doctype
    return head[:start] + head[start:end].translate(_BLANK) + head[end:]


def root_name(stream: BinaryIO) -> tuple[bytes | None, int]:
    """The root element's name of an XML stream, reading only as far as its start tag (at most
    :data:`MAX_PROLOG_BYTES`); and how many bytes that took."""
    head = b""
    while True:
        # Each read doubles what is held: the prolog is searched from its start again after every
        # read, and doubling keeps that to twice the bytes read rather than their square.
        piece = stream.read(min(max(len(head), 1 << 16), MAX_PROLOG_BYTES + 1 - len(head)))
        head += piece
        prolog = find_prolog(head, final=not piece or len(head) > MAX_PROLOG_BYTES)
        if prolog is not None:
            return (prolog.name if prolog.root_end >= 0 else None), len(head)


def check_prolog(buf: bytes, prolog: Prolog) -> None:
    """Refuse ``buf`` unless expat reads its prolog and the root start tag is ``<HealthData>``."""
    complete = prolog.root_end >= 0
    if not complete and buf.startswith(b"<!DOCTYPE", prolog.root_start):
        # Never handed to expat: an internal subset is not to be read, even to describe an error.
        raise AppleHealthError("not an Apple Health export: its <!DOCTYPE> declaration does not end")
    root: list[str] = []
    parser = expat.ParserCreate()
    parser.XmlDeclHandler = _declaration
    parser.StartElementHandler = lambda name, attributes: root.append(name)
    # Up to the root start tag; or up to a little past the junk, where expat stops and says why.
    head = buf[: prolog.root_end] if complete else buf[: prolog.root_start + MAX_TAG_BYTES]
    try:
        parser.Parse(_blank_doctype(head, prolog), not complete)
    except expat.ExpatError as exc:
        reason = expat.ErrorString(exc.code)
        where = f"line {exc.lineno}, column {exc.offset + 1}"
        raise AppleHealthError(f"not an Apple Health export: not XML ({reason} at {where})") from None
    finally:
        parser.XmlDeclHandler = None
        parser.StartElementHandler = None
    if not complete or not root:
        raise AppleHealthError("not an Apple Health export: no root element")
    if root[0] != "HealthData":
        raise AppleHealthError(
            f"not an Apple Health export: the root element is <{shown(root[0])}>, not <HealthData>"
        )


def _declaration(version: str, encoding: str | None, standalone: int) -> None:
    if encoding and encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "us-ascii", "ascii"):
        raise AppleHealthError(
            f"export.xml declares encoding {shown(encoding)}; Apple Health exports are UTF-8"
        )


def ends_document(tail: bytes) -> bool:
    """Whether the file's last bytes are ``</HealthData>`` and then only white space, comments and
    processing instructions. Read by hand, not by one pattern: ``(\\s+|…)*\\Z`` backtracks
    exponentially over spaces followed by anything else (40 spaces took minutes)."""
    at = len(tail)
    for _ in range(8):  # a comment after the root may itself hold "</HealthData>"
        at = tail.rfind(b"</HealthData", 0, at)
        if at < 0:
            return False
        close = _ROOT_END.match(tail, at)
        if close is not None and _only_misc(tail, close.end()):
            return True
    return False


def _only_misc(buf: bytes, pos: int) -> bool:
    while pos < len(buf):
        if buf[pos] in b" \t\r\n":
            pos = _skip_space(buf, pos)
        elif buf.startswith(b"<!--", pos):
            pos = _after(buf, b"-->", pos + 4)
        elif buf.startswith(b"<?", pos):
            pos = _after(buf, b"?>", pos + 2)
        else:
            return False
        if pos < 0:
            return False
    return True
