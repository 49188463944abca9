"""`archc render`: draw a spec's architecture."""
from __future__ import annotations

import sys
from pathlib import Path

from archc.cli_options import (_integer, add_diagram_timeout_option, add_limit_options, check_from,
                               non_negative_int, output_path)
from archc.errors import ArchcError


def cmd_render(args) -> int:
    from archc.emit.diagram import EXTENSIONS, render_bytes
    from archc.outputs import write_all

    fmt = args.format
    if fmt is None:
        fmt = EXTENSIONS.get(Path(args.output).suffix.lower()) if args.output else "svg"
        if fmt is None:
            raise ArchcError("unknown-format", f"cannot tell the format from '{args.output}'",
                             expected="an extension among " + ", ".join(sorted(EXTENSIONS)) + ", or --format",
                             found=Path(args.output).suffix or "no extension")
    graph = check_from(args)
    if fmt == "html":  # the interactive page lays itself out in the browser: no dot, no depth
        from archc.emit.html import page
        data = page(graph)
    else:
        data = render_bytes(graph, fmt, depth=args.depth, rankdir=args.rankdir, show_params=args.params,
                            repeats=not args.no_repeats, show_paths=args.paths, timeout=args.diagram_timeout,
                            **slide_options(args))
    if args.output == "-":
        sys.stdout.buffer.write(data)
        return 0
    target = Path(args.output or f"{graph.name}.{'mmd' if fmt == 'mermaid' else fmt}")
    for path in write_all({target: data}):  # none when it was stdout
        print(f"wrote {path}")
    return 0


def register(sub) -> None:
    from archc.emit.diagram import FORMATS

    r = sub.add_parser(
        "render", help="draw the architecture (svg, png, pdf, dot, mermaid, or an interactive html page)",
        description="Draw a spec: one box per layer with its arguments, edges labelled with tensor shapes, "
                    "blocks as clusters. svg/png/pdf need graphviz's dot; dot and mermaid do not. "
                    "html is one self-contained page to explore the network in a browser.",
    )
    r.add_argument("spec", metavar="SPEC", help="YAML spec file")
    r.add_argument("-o", "--output", type=output_path, metavar="FILE",
                   help="output file, '-' for stdout (default: <name>.svg)")
    r.add_argument("--format", choices=FORMATS, help="output format (default: from FILE's extension)")
    r.add_argument("--depth", type=non_negative_int, default=None, metavar="N",
                   help="draw blocks nested deeper than N as single boxes (default: as deep as stays readable)")
    r.add_argument("--rankdir", choices=("TB", "LR"), default="TB", help="top-to-bottom or left-to-right")
    r.add_argument("--params", action="store_true", help="add parameter counts to every layer")
    r.add_argument("--paths", action="store_true", help="add each layer's module path (its state_dict prefix)")
    r.add_argument("--no-repeats", action="store_true", help="draw runs of identical blocks out in full")
    add_slide_options(r)
    add_diagram_timeout_option(r)
    add_limit_options(r)
    r.set_defaults(run=cmd_render)


def add_slide_options(r) -> None:
    """Options for drawings that go on slides and into papers."""
    from archc.emit.diagram import DEFAULT_DPI, LAYOUTS

    r.add_argument("--dpi", type=dpi, default=DEFAULT_DPI, metavar="N",
                   help=f"PNG resolution in dots per inch (default: {DEFAULT_DPI}, sharp on a 1920-pixel slide)")
    r.add_argument("--no-title", action="store_true", help="leave out the title (name, parameters, MACs, shapes)")
    r.add_argument("--legend", action="store_true", help="add a legend explaining the notation and colours")
    r.add_argument("--layout", choices=LAYOUTS, default="wrap",
                   help="wrap: fold a long chain into columns (rows with --rankdir LR) to fit a 16:9 slide "
                        "(default); column: one unbroken chain")
    r.add_argument("--focus", metavar="NAME", help="draw only the block at this module path, e.g. layer1.0")


def dpi(text: str) -> int:
    return _integer(text, 36, 600)  # beyond 600 a big network's PNG runs to gigabytes


def slide_options(args) -> dict:
    return {"dpi": args.dpi, "title": not args.no_title, "legend": args.legend, "layout": args.layout,
            "focus": args.focus}
