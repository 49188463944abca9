#!/usr/bin/env python3
"""Regenerate docs/gallery.md and the lecture networks' diagrams under docs/gallery/: an SVG
and a slide-sized PNG (150 dpi, the default) of each.

    python scripts/gallery.py

Each SVG carries a hash of the DOT source it was drawn from; tests/test_diagram.py
fails when a committed diagram no longer matches what archc draws. The PNGs are drawn from
the same DOT source in the same run.
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import archc  # noqa: E402
from archc.emit.diagram import render_bytes  # noqa: E402

NETWORKS = ["lenet", "alexnet", "vgg11", "nin", "googlenet", "resnet18", "densenet", "unet_small"]
GALLERY = REPO / "docs" / "gallery"


def spec_path(name: str) -> Path:
    return REPO / "specs" / "d2l" / f"{name}.yaml"


def render(name: str, fmt: str = "svg") -> bytes:
    """The diagram exactly as `archc render specs/d2l/<name>.yaml` draws it by default."""
    import os

    cwd = os.getcwd()
    os.chdir(REPO)  # spec paths inside the SVG are shown relative to the repository
    try:
        return render_bytes(archc.check(Path("specs/d2l") / f"{name}.yaml"), fmt)
    finally:
        os.chdir(cwd)


def page() -> str:
    rows = []
    for name in NETWORKS:
        graph = archc.check(spec_path(name))
        rows.append(
            f"## {graph.description}\n\n"
            f"`archc render specs/d2l/{name}.yaml` · input {'×'.join(map(str, graph.input_shape))} · "
            f"{graph.root.params:,} parameters · {graph.root.macs:,} MACs\n\n"
            f"[![{name}](gallery/{name}.png)](gallery/{name}.svg)\n"
        )
    return (
        "# Gallery: the lecture's seven networks and a U-Net\n\n"
        "Drawn by `archc render -o NAME.png` with its default options, sized for a 16:9 slide: a long\n"
        "chain folded into columns, 150 dpi, the title with the totals, depth chosen to stay readable,\n"
        "runs of identical blocks drawn once with ×N, residual shortcuts, dense skips and U-Net's long\n"
        "skips dashed in red.\n"
        "Click a picture for its SVG. Regenerate with `python scripts/gallery.py`; a test fails when\n"
        "these files are stale.\n\n" + "\n".join(rows)
        + VIEWER
    )


# the interactive page; the screenshot was taken by headless chromium, not regenerated here
VIEWER = """
## Exploring a network in the browser

`archc render specs/d2l/resnet18.yaml -o resnet18.html` writes one self-contained page (no network
access): click a block's header to open or close it, drag to pan, wheel or the buttons to zoom, type in
the box to find a layer, and hover or click a layer for its kind, arguments, shapes, parameters, MACs,
the arithmetic of its shape and its `file:line`. Below, the search found `b3.0.conv2`; the residual
shortcuts are dashed in red.

![the interactive page on ResNet-18](viewer.png)
"""


def main() -> None:
    GALLERY.mkdir(parents=True, exist_ok=True)
    for name in NETWORKS:
        (GALLERY / f"{name}.svg").write_bytes(render(name))
        # cairo's drawing written by gd as a 256-colour PNG: a third of the size, and as sharp
        (GALLERY / f"{name}.png").write_bytes(render(name, "png:cairo:gd"))
    (REPO / "docs" / "gallery.md").write_text(page())
    print(f"wrote docs/gallery.md and {len(NETWORKS)} diagrams in docs/gallery/")


if __name__ == "__main__":
    main()
