"""The terminal and the pipes archc prints to: any encoding, no control characters, and
readers that stop early.

archc's tables use ×, →, ⌊⌋ and friends. A stdout that cannot encode them (a Windows
redirect in cp1252, LANG=C) gets ASCII equivalents instead of a UnicodeEncodeError, and so
does anything else unencodable (a lone surrogate from an undecodable file name).

Messages quote what a spec says (an unknown kind, a description, a file name). A spec is
data from anywhere, so control characters in it are printed as \\uXXXX escapes: raw, an
escape sequence could recolour, clear or retitle the user's terminal, or a carriage return
or a bidirectional override make a message read differently from what it is.
"""
from __future__ import annotations

import codecs
import os
import re
import sys
from contextlib import contextmanager

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


# C0 controls but tab and newline, DEL, C1 controls (U+009B is a one-character escape
# sequence to some terminals), the Unicode line and paragraph separators and the
# bidirectional embeddings, overrides and isolates
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape_controls(text: str) -> str:
    """`text` with every control character written as a \\uXXXX escape (valid in JSON strings too)."""
    return _CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class _ControlsEscaped:
    """A text stream that writes what it is given through `escape_controls`; everything else
    (flush, fileno, buffer for bytes that are data, not messages) is the wrapped stream's."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(escape_controls(text))
        return len(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


@contextmanager
def controls_escaped():
    """While inside, text printed to stdout and stderr carries no control characters but tab and newline."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _ControlsEscaped(sys.stdout), _ControlsEscaped(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


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
