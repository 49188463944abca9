"""Reading a file a user named: only a regular file, never more than a size limit.

Specs, imported block files and `archc run --input` files all come through here. The file
is opened once and everything is checked on that open descriptor (fstat, then a bounded
read), so nothing can swap it between the check and the read. Opening never blocks: a FIFO
is opened non-blocking and refused, as are directories and devices (/dev/zero,
/dev/urandom), and symlinks to them, since fstat sees the target.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from archc.errors import ArchcError, Loc

MAX_FILE_BYTES = 2_000_000


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_regular_file(path: str | Path, shown: str, loc: Loc | None = None, *,
                      max_bytes: int = MAX_FILE_BYTES, what: str = "file") -> bytes:
    """The bytes of a regular file of at most `max_bytes`, or a located ArchcError.

    `loc` is where the file was named (an `imports:` entry); without one, errors point at
    the file itself (line 1, column 1)."""
    where = loc if loc is not None else Loc(shown, 1, 1)
    if str(path) == "":
        raise ArchcError("file-not-found", f"the {what} path is empty", loc,
                         expected="a file name", found="''")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ArchcError("file-not-found", f"no such file: {shown}", loc) from None
    except IsADirectoryError:  # Windows cannot open a directory at all
        raise _not_regular(shown, "a directory", where, what) from None
    except OSError as exc:
        raise ArchcError("file-unreadable", f"cannot read {shown}: {exc.strerror}", where) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(shown, _kind_of(info.st_mode), where, what)
        if info.st_size > max_bytes:
            raise _too_large(shown, info.st_size, max_bytes, where, what)
        # the size may change after fstat: read at most one byte more than allowed to know
        chunks, left = [], max_bytes + 1
        while left > 0:
            try:
                chunk = os.read(fd, min(left, 1 << 20))
            except OSError as exc:
                raise ArchcError("file-unreadable", f"cannot read {shown}: {exc.strerror}", where) from None
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:
            raise _too_large(shown, len(data), max_bytes, where, what)
        return data
    finally:
        os.close(fd)


def _not_regular(shown: str, kind: str, loc: Loc, what: str) -> ArchcError:
    return ArchcError("not-a-file", f"{shown} is {kind}, not {_article(what)} {what}", loc,
                      expected="a regular file", found=kind,
                      hint="name a file; archc reads only regular files (not directories, devices or pipes)")


def _too_large(shown: str, size: int, max_bytes: int, loc: Loc, what: str) -> ArchcError:
    return ArchcError("file-too-large", f"{shown} is too large to be {_article(what)} {what}", loc,
                      expected=f"at most {max_bytes:,} bytes", found=f"{size:,} bytes")


def _article(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"
