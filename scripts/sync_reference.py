"""Copy the reference facts from ../shared/reference into tests/reference.

The facts are measured from independent implementations (torchvision, ultralytics,
segmentation-models-pytorch) and must never be retyped: this script copies the data files
byte for byte, so a plain clone's suite has them, and tests/test_reference_copy.py fails
whenever ../shared is present and the copy is stale. probe.py is not copied: the probe rule
is implemented in tests/fingerprint.py and checked against probe.py when ../shared is there.

    python3 scripts/sync_reference.py          # copy
    python3 scripts/sync_reference.py --check  # exit 1 if the copy is stale
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "reference"
COPY = REPO / "tests" / "reference"
FILES = ("README.md", "seed_models.json", "torchvision_models.json", "dense_models.json")


def stale_files(shared: Path = SHARED, copy: Path = COPY) -> list[str]:
    """The copied files that differ from (or are missing beside) the shared originals."""
    return [name for name in FILES
            if not (copy / name).exists() or (copy / name).read_bytes() != (shared / name).read_bytes()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Copy ../shared/reference's facts into tests/reference.")
    p.add_argument("--check", action="store_true", help="only report stale files; exit 1 if any")
    args = p.parse_args(argv)
    if not SHARED.is_dir():
        print(f"no {SHARED}: nothing to copy from", file=sys.stderr)
        return 1
    stale = stale_files()
    if args.check:
        print("stale: " + ", ".join(stale) if stale else "tests/reference is current")
        return 1 if stale else 0
    COPY.mkdir(parents=True, exist_ok=True)
    for name in stale:
        shutil.copyfile(SHARED / name, COPY / name)
        print(f"copied {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
