#!/usr/bin/env python3
"""Refresh the outputs in README.md, docs/tutorial.md and docs/spec-language.md: every ```console
block's `$ archc …` command is run from the repository root and its output written under it.

    python scripts/tutorial.py

tests/test_tutorial.py runs the same commands and fails when the page is out of date.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
PAGES = [REPO / "README.md", REPO / "docs" / "tutorial.md", REPO / "docs" / "spec-language.md",
         REPO / "docs" / "deploy.md"]
BLOCK = re.compile(r"```console\n\$ (?P<command>[^\n]+)\n(?P<output>.*?)```", re.S)


def run_command(command: str) -> str:
    """What `command` (an archc command line) prints, stdout and stderr together."""
    from archc.cli import main

    argv = shlex.split(command)
    assert argv[0] == "archc", f"tutorial commands are archc commands: {command}"
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            main(argv[1:])
    finally:
        os.chdir(cwd)
    return out.getvalue()


def refreshed(text: str) -> str:
    return BLOCK.sub(lambda m: f"```console\n$ {m.group('command')}\n{run_command(m.group('command'))}```", text)


def commands(text: str) -> list[tuple[str, str]]:
    """(command, output shown) for every console block."""
    return [(m.group("command"), m.group("output")) for m in BLOCK.finditer(text)]


if __name__ == "__main__":
    for page in PAGES:
        page.write_text(refreshed(page.read_text()))
        print(f"refreshed {len(commands(page.read_text()))} commands in {page.relative_to(REPO)}")
