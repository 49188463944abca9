"""Options several commands share: --input, --depth and the resource limits."""
from __future__ import annotations

import argparse

from archc.passes.limits import Limits


def parse_input(text: str) -> tuple:
    """'3x224x224' → (3, 224, 224); names stay names ('3xHxW' → (3, 'H', 'W'))."""
    parts = [p for p in text.replace("×", "x").split("x")]
    if not parts or not all(p.isdigit() and int(p) > 0 or p.isidentifier() for p in parts):
        raise argparse.ArgumentTypeError(f"'{text}' is not a shape like 3x224x224 (names allowed: 3xHxW)")
    return tuple(int(p) if p.isdigit() else p for p in parts)


def check_from(args, spec=None):
    """Check the command's spec with its limits and its --input."""
    import sys

    from archc.pipeline import check

    graph = check(spec if spec is not None else args.spec, limits=limits_from(args),
                  input_shape=getattr(args, "input_shape", None))
    for warning in graph.warnings:  # every command that checks a spec shows them, on stderr
        print(warning.format(), file=sys.stderr)
    return graph


def limits_from(args) -> Limits:
    return Limits(max_params=args.max_params, max_memory=int(args.max_memory * 2**30),
                  max_depth=args.max_depth, max_nodes=args.max_nodes)


def add_depth_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--depth", type=int, default=None, metavar="N",
                        help="show nodes nested at most N deep (0: the top level only)")


def add_limit_options(parser: argparse.ArgumentParser, input_shape: bool = True) -> None:
    if input_shape:
        parser.add_argument("--input", dest="input_shape", type=parse_input, default=None, metavar="CxHxW",
                            help="use this input shape instead of the spec's (binds named sizes, e.g. --input 3x96x96)")
    limits = parser.add_argument_group("limits (checked before anything is allocated)")
    limits.add_argument("--max-params", type=int, default=Limits.max_params, metavar="N",
                        help=f"refuse networks with more than N parameters (default {Limits.max_params:,})")
    limits.add_argument("--max-memory", type=float, default=Limits.max_memory / 2**30, metavar="GIB",
                        help="refuse networks whose parameters and one sample's activations need more "
                             f"(default {Limits.max_memory / 2**30:g} GiB)")
    limits.add_argument("--max-depth", type=int, default=Limits.max_depth, metavar="N",
                        help=f"nesting depth of blocks and structural kinds (default {Limits.max_depth})")
    limits.add_argument("--max-nodes", type=int, default=Limits.max_nodes, metavar="N",
                        help=f"layers after expansion (default {Limits.max_nodes:,})")
