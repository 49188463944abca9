"""Output files, written whole or not at all.

Every regular file is written to a temporary name beside its target and renamed into place
only when every file of the command is complete; if a rename fails, the targets already
renamed get their old contents back (or are removed, when they are new). What is not a
regular file archc may replace is never replaced: a symlink keeps pointing where it pointed
and its target is written; standard output, other character devices (/dev/null) and pipes
are written directly; a directory in the way is an error. SIGTERM and SIGHUP clean up as
Ctrl-C does. Files get the user's umask (an existing file keeps its mode).
"""
from __future__ import annotations

import errno
import os
import shutil
import signal
import stat
import sys
import tempfile
import threading
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from archc.errors import ArchcError


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived while writing: raised so that the cleanup runs, as for Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


@dataclass
class _Staged:
    """One regular file on its way into place."""

    shown: Path  # the path as the user gave it, for messages
    target: Path  # where the bytes go: symlinks resolved
    tmp: str = ""
    backup: str = ""  # the old contents while the renames can still be undone
    existed: bool = False

    @property
    def renamed(self) -> bool:  # asked of the file system: a signal may come between rename and bookkeeping
        return bool(self.tmp) and not os.path.lexists(self.tmp)


def write_all(files: dict[Path, bytes]) -> list[Path]:
    """Write every file, or none; returns the paths written as files (standard output is not one)."""
    staged: list[_Staged] = []
    streams: list[tuple[Path, bytes]] = []
    made_dirs: list[Path] = []
    doing = Path(".")
    with _signals_raise():
        try:
            for shown, data in files.items():
                doing = Path(shown)
                kind, target = _destination(doing)
                if kind == "file":
                    made_dirs += _make_folders(target.parent)
                    staged.append(_stage(doing, target, data))
                else:
                    streams.append((target if kind == "stream" else None, data))
            for item in staged:
                doing = item.shown
                _swap_in(item)
            for target, data in streams:  # last: they cannot be taken back
                doing = target or Path("<stdout>")
                _write_stream(target, data)
        except BaseException as exc:
            _roll_back(staged, made_dirs)
            if isinstance(exc, OSError):
                raise _output_error(doing, exc) from None
            raise
        for item in staged:
            if item.backup:
                with suppress(OSError):
                    os.unlink(item.backup)
    return [item.shown for item in staged] + [t for t, _ in streams if t is not None]


def _destination(path: Path) -> tuple[str, Path | None]:
    """('file', the regular file to replace), ('stream', a device or pipe to write into) or
    ('stdout', None) for this process's standard output; anything else is refused."""
    if "\0" in str(path):
        raise OSError(errno.EINVAL, "a path cannot contain a NUL character")
    try:
        st = os.stat(path)  # follows symlinks: what the path names in the end
    except FileNotFoundError:
        return "file", Path(os.path.realpath(path))  # new (or a dangling symlink's target)
    if _is_stdout(st):
        # written through our own stream: reopening /dev/stdout would truncate a redirected file
        # and lose the order of what was printed before
        return "stdout", None
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return "stream", path
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "a directory is in the way")
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EPERM, "not a regular file, a character device or a pipe")
    return "file", Path(os.path.realpath(path))


def _is_stdout(st: os.stat_result) -> bool:
    try:
        return os.path.samestat(st, os.fstat(1))
    except OSError:  # no fd 1
        return False


def _make_folders(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; returns those created, outermost first."""
    missing = []
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = folder.parent
    created = []
    for path in reversed(missing):
        os.mkdir(path)
        created.append(path)
    if not missing and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a directory")
    return created


def _stage(shown: Path, target: Path, data: bytes) -> _Staged:
    item = _Staged(shown, target)
    try:
        old = os.stat(target)
        item.existed = True
        mode = stat.S_IMODE(old.st_mode)  # replacing a file keeps its mode, as a shell redirect does
    except FileNotFoundError:
        mode = 0o666 & ~_umask()  # mkstemp's 0600 would hide the output from the user's group
    fd, item.tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        try:
            if hasattr(os, "fchmod"):  # POSIX; Windows has no modes to set
                os.fchmod(fd, mode)
            _write_whole(fd, data)
            with suppress(OSError):  # not every file system can sync; the rename is what must be atomic
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with suppress(OSError):
            os.unlink(item.tmp)
        raise
    return item


def _write_whole(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _swap_in(item: _Staged) -> None:
    if item.existed:
        item.backup = _backup(item.target)
    os.replace(item.tmp, item.target)


def _backup(target: Path) -> str:
    """A second name for the old file (a hard link; a copy where links are not possible)."""
    fd, backup = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
    os.close(fd)
    try:
        os.unlink(backup)
        os.link(target, backup)
    except OSError:
        shutil.copy2(target, backup)
    return backup


def _roll_back(staged: list[_Staged], made_dirs: list[Path]) -> None:
    """Put back what was there; best effort, since it runs while another error is on its way."""
    for item in reversed(staged):
        with suppress(OSError):
            if item.renamed and item.backup:
                os.replace(item.backup, item.target)
            elif item.renamed:
                os.unlink(item.target)
        for leftover in (item.tmp, item.backup):
            if leftover and os.path.lexists(leftover):
                with suppress(OSError):
                    os.unlink(leftover)
    for folder in reversed(made_dirs):
        with suppress(OSError):
            os.rmdir(folder)


def _write_stream(target: Path | None, data: bytes) -> None:
    if target is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    with open(target, "wb") as handle:
        handle.write(data)


def _umask() -> int:
    """The process's umask: from /proc where Linux shows it, else by setting it and putting it
    straight back (which another thread could observe for an instant)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_HINTS = {
    errno.ENOSPC: "free some space, or write elsewhere with -o",
    errno.EDQUOT: "free some space, or write elsewhere with -o",
    errno.EACCES: "choose a place you can write to with -o",
    errno.EPERM: "choose a place you can write to with -o",
    errno.EROFS: "the file system is read-only; choose another place with -o",
    errno.EISDIR: "give a file name, not a directory",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.EEXIST: "a part of the path is a file, not a directory",
}


def _output_error(path: Path, exc: OSError) -> ArchcError:
    reason = exc.strerror or str(exc)
    return ArchcError("output-failed", f"cannot write {path}: {reason}; nothing was written",
                      hint=_HINTS.get(exc.errno, ""))


@contextmanager
def _signals_raise():
    """While writing, SIGTERM and SIGHUP raise Terminated so that temporary files are removed.

    Only signals left at their default (which would kill the process mid-write) are taken:
    an ignored SIGHUP (nohup) stays ignored. A second signal during the cleanup is ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers
        return
    raised = []

    def handler(signum, frame):
        if not raised:
            raised.append(signum)
            raise Terminated(signum)

    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) == signal.SIG_DFL:
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
