"""The terminal and the pipes archc prints to: any encoding, and readers that stop early.

archc's tables use ×, →, ⌊⌋ and friends. A stdout that cannot encode them (a Windows
redirect in cp1252, LANG=C) gets ASCII equivalents instead of a UnicodeEncodeError, and so
does anything else unencodable (a lone surrogate from an undecodable file name).
"""
from __future__ import annotations

import codecs
import os
import sys

ASCII_EQUIVALENTS = {
    "×": "x", "→": "->", "←": "<-", "⟺": "<=>", "−": "-", "–": "-", "—": "--", "─": "-", "│": "|",
    "·": "*", "…": "...", "≤": "<=", "≥": ">=", "±": "+/-", "∈": " in ", "∞": "inf",
    "⌊": "floor(", "⌋": ")", "⌈": "ceil(", "⌉": ")",
}
_HANDLER = "archc-ascii"


def _to_ascii(exc: UnicodeError):
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    text = exc.object[exc.start:exc.end]
    return "".join(ASCII_EQUIVALENTS.get(ch, "?") for ch in text), exc.end


codecs.register_error(_HANDLER, _to_ascii)


def tolerate_any_encoding() -> None:
    """Make stdout and stderr replace what their encoding cannot hold (see ASCII_EQUIVALENTS)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors=_HANDLER)
            except (ValueError, OSError):  # a closed or unusual stream: leave it as it is
                pass


def silence_closed_pipe() -> None:
    """The reader of stdout went away (`archc … | head`): point stdout and stderr at /dev/null
    so that Python's final flush cannot fail again (the recipe of Python's signal docs)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):  # e.g. a test's captured stream has no fd
            pass
    os.close(devnull)
