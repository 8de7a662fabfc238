"""What an import says when it refuses a file, and how it quotes the file while saying it.

Whatever of the file a message quotes is cut to :data:`MAX_SHOWN` characters, and characters a
terminal would act on (escape sequences, C1 controls, bidirectional overrides) are written as escapes
(:func:`shown`): messages reach a terminal (the CLI) and problem details (the upload route).
"""

from __future__ import annotations

MAX_SHOWN = 80  # characters of the file quoted in a message
MAX_MESSAGE = 400


class AppleHealthError(ValueError):
    """The file cannot be imported; the message is one line a user can act on.

    Messages quote the file (names, values), so they are passed through :func:`shown` once more here:
    whatever builds one, it reaches a terminal or a problem detail short and inert.
    """

    def __init__(self, message: str) -> None:
        super().__init__(shown(message, MAX_MESSAGE))


def shown(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` from a file as a message may quote it: every character a terminal could act on (ESC,
    C1 controls such as U+009B, bidirectional overrides, line breaks) written as a Python escape, so
    that what is printed is what the file holds, and at most ``limit`` characters of that (then how
    long the text was). Only the first ``limit`` characters are looked at: the text may be 100 MB."""
    head = text[:limit]
    if not head.isprintable():
        head = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in head)
    if len(text) <= limit and len(head) <= limit:
        return head
    return f"{head[:limit]}… ({len(text):,} characters)"


def quoted(text: str | None) -> str:
    """A value from the file in quotes, as ``repr`` writes it (which escapes what is not printable),
    cut short like :func:`shown`."""
    if text is None:
        return "None"
    written = repr(text[:MAX_SHOWN])
    if len(text) <= MAX_SHOWN and len(written) <= MAX_SHOWN + 2:
        return written
    return f"{written[: MAX_SHOWN + 1]}… ({len(text):,} characters)"


def size_text(count: float) -> str:
    for unit in ("bytes", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"
