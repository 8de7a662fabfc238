"""A tag's attributes read as expat would read them: split, checked, references expanded.

The body of an export is not run through a parser (see :mod:`perfhub.wearables.apple.scanner`), so
each used record is checked here for what expat would refuse in it (characters, references, an
attribute written twice) and a broken one raises :class:`Broken` with the reason.
"""

from __future__ import annotations

import re

from perfhub.wearables.apple.errors import shown

# No '<' anywhere in a tag (XML allows none, even in a value): a match can never run past the next
# tag, so trying one at every '<' of a hostile file costs time in proportion to its size.
ATTRIBUTES = rb"((?:\s+[^\s=/><]+\s*=\s*(?:\"[^\"<]*\"|'[^'<]*'))*)\s*"
_ATTRIBUTE = re.compile(rb"([^\s=/>]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_NOT_IN_TAG = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f<]")
_NOT_XML_CHAR = re.compile("[\ud800-\udfff\ufffe\uffff]")
_REFERENCE = re.compile(r"&([^;&\s]*)(;?)")
_NUMERIC = re.compile(r"#(?:x([0-9A-Fa-f]+)|([0-9]+))")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_SPACES = str.maketrans("\t\n\r", "   ")


class Broken(ValueError):
    """A used record that is not well-formed XML; the message says why."""


def _xml_char(code: int) -> bool:
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code > 0xFFFF


def _reference(match: re.Match[str]) -> str:
    ref, semicolon = match.groups()
    if not semicolon:
        raise Broken("an '&' that is not escaped as &amp;")
    named = _NAMED.get(ref)
    if named is not None:
        return named
    numeric = _NUMERIC.fullmatch(ref)
    if numeric is None:
        # Entities declared in the DTD are never expanded: the DTD is not read at all.
        raise Broken(f"undefined entity &{shown(ref, 40)};")
    code = int(numeric.group(1), 16) if numeric.group(1) else int(numeric.group(2))
    if code > 0x10FFFF or not _xml_char(code):
        raise Broken(f"character reference &{shown(ref, 40)}; is not allowed in XML")
    return chr(code)


def attribute_value(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Broken("bytes that are not UTF-8") from None
    if _NOT_XML_CHAR.search(text):
        raise Broken("a character that is not allowed in XML")
    if "&" in text or "\n" in text or "\t" in text or "\r" in text:
        # XML attribute-value normalisation: literal whitespace becomes spaces, references expand after.
        text = _REFERENCE.sub(_reference, text.translate(_SPACES))
    return text


def split_attributes(raw: bytes) -> dict[bytes, bytes]:
    """The attributes of a matched tag; raises :class:`Broken` for what expat would refuse in them."""
    bad = _NOT_IN_TAG.search(raw)
    if bad is not None:
        found = bad.group()
        raise Broken(
            "a '<' inside an attribute value" if found == b"<" else f"control character U+{found[0]:04X}"
        )
    pairs = [
        (m.group(1), m.group(2) if m.group(2) is not None else m.group(3)) for m in _ATTRIBUTE.finditer(raw)
    ]
    attributes = dict(pairs)
    if len(attributes) != len(pairs):
        raise Broken("an attribute written twice")
    return attributes
