"""Options several commands share (--input, --depth, the resource limits, -o) and the parsers
of every command-line value: a bad value is a usage error (exit 2), never a traceback."""
from __future__ import annotations

import argparse
import re

from archc.passes.limits import Limits

MAX_SEED = 2**64 - 1  # torch.manual_seed's range
_INPUT_RANK = (1, 4)  # as the spec's `input:` (SpecDoc.input)


def parse_input(text: str) -> tuple:
    """'3x224x224' → (3, 224, 224); spatial sizes may be names ('3xHxW' → (3, 'H', 'W')).

    The same rule as a spec's `input:`: 1 to 4 entries, positive numbers or identifiers, the
    channel count (first entry) a number."""
    from archc.spec.names import IDENTIFIER, MAX_NAME_LENGTH

    parts = text.replace("×", "x").split("x")
    usage = f"'{text}' is not a shape like 3x224x224 (spatial sizes may be names: 3xHxW)"
    if not _INPUT_RANK[0] <= len(parts) <= _INPUT_RANK[1]:
        raise argparse.ArgumentTypeError(f"{usage}: it needs 1 to 4 sizes")
    shape = []
    for part in parts:
        if re.fullmatch(r"[0-9]{1,30}", part) and int(part) > 0:
            shape.append(int(part))
        elif IDENTIFIER.fullmatch(part) and len(part) <= MAX_NAME_LENGTH:
            shape.append(part)
        else:
            raise argparse.ArgumentTypeError(f"{usage}: '{part}' is neither a positive number nor a name")
    if isinstance(shape[0], str):
        raise argparse.ArgumentTypeError(f"{usage}: the channel count (first size) must be a number")
    return tuple(shape)


def _integer(text: str, least: int, most: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:  # also a number of more than 4,300 digits
        raise argparse.ArgumentTypeError(f"'{text[:40]}' is not a whole number") from None
    if value < least or most is not None and value > most:
        bound = f"from {least:,} to {most:,}" if most is not None else f"at least {least:,}"
        raise argparse.ArgumentTypeError(f"{value:,} is out of range (it must be {bound})")
    return value


def positive_int(text: str) -> int:
    return _integer(text, 1)


def count(text: str) -> int:
    """A positive whole number, also in exponent form (1e12), at most 10**18."""
    try:
        return _integer(text, 1, 10**18)
    except argparse.ArgumentTypeError:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text[:40]}' is not a whole number") from None
        if not (value.is_integer() and 1 <= value <= 1e18):
            raise argparse.ArgumentTypeError(f"'{text[:40]}' is not a whole number from 1 to 1e18") from None
        return int(value)


def non_negative_int(text: str) -> int:
    return _integer(text, 0)


def seed(text: str) -> int:
    return _integer(text, 0, MAX_SEED)


def positive_number(text: str, most: float = 1e15) -> float:
    """A finite number above 0 and at most `most` (nan, inf, 0 and negatives are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text[:40]}' is not a number") from None
    if not (0 < value <= most):  # also false for nan
        raise argparse.ArgumentTypeError(f"'{text[:40]}' is out of range (it must be above 0 and at most {most:,.0f})")
    return value


def gibibytes(text: str) -> float:
    value = positive_number(text, most=1e9)  # an exabyte: more than any machine, and still a float of whole bytes
    if value * 2**30 < 1:
        raise argparse.ArgumentTypeError(f"'{text[:40]}' GiB is less than a byte")
    return value


def seconds(text: str) -> float:
    return positive_number(text, most=1e7)  # about four months; subprocess's clock cannot take much more


def device(text: str) -> str:
    """A device string torch can parse; whether this machine has it is checked when building."""
    import torch

    try:
        torch.device(text)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"'{text[:40]}' is not a device ({str(exc)[:80]}); e.g. cpu, cuda, cuda:1") from None
    return text


def output_path(text: str) -> str:
    if not text or "\0" in text:
        raise argparse.ArgumentTypeError("an output path cannot be empty")
    return text


def run_input(text: str):
    """`archc run --input`: arange:1x3x3 (or zeros:…, ones:…) makes the tensor; anything else is a file.
    NAME=… gives the input of that name (a network with several `inputs:`): the result is then (NAME, input)."""
    from archc.run import parse_generated

    name, equals, rest = text.partition("=")
    named = bool(equals) and name.isidentifier() and name.isascii()
    if named and not rest:
        raise argparse.ArgumentTypeError(f"'{text[:60]}' names input '{name}' but gives nothing after '='")
    value = rest if named else text
    try:
        made = parse_generated(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    value = made if made is not None else value
    return (name, value) if named else value


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
                  max_depth=args.max_depth, max_nodes=args.max_nodes, max_macs=args.max_macs)


def add_depth_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--depth", type=non_negative_int, default=None, metavar="N",
                        help="show nodes nested at most N deep (0: the top level only)")


def add_diagram_timeout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--diagram-timeout", type=seconds, default=60.0, metavar="SECONDS",
                        help="give up drawing when graphviz's dot takes longer (default 60)")


def add_limit_options(parser: argparse.ArgumentParser, input_shape: bool = True) -> None:
    if input_shape:
        parser.add_argument("--input", dest="input_shape", type=parse_input, default=None, metavar="CxHxW",
                            help="use this input shape instead of the spec's (binds named sizes, e.g. --input 3x96x96)")
    limits = parser.add_argument_group("limits (checked before anything is allocated)")
    limits.add_argument("--max-params", type=positive_int, default=Limits.max_params, metavar="N",
                        help=f"refuse networks with more than N parameters (default {Limits.max_params:,})")
    limits.add_argument("--max-memory", type=gibibytes, default=Limits.max_memory / 2**30, metavar="GIB",
                        help="refuse networks whose parameters and one sample's activations need more "
                             f"(default {Limits.max_memory / 2**30:g} GiB)")
    limits.add_argument("--max-macs", type=count, default=Limits.max_macs, metavar="N",
                        help="refuse networks whose forward pass takes more than N multiply-accumulates "
                             "per sample (default 1e12)")
    limits.add_argument("--max-depth", type=positive_int, default=Limits.max_depth, metavar="N",
                        help=f"nesting depth of blocks and structural kinds (default {Limits.max_depth})")
    limits.add_argument("--max-nodes", type=positive_int, default=Limits.max_nodes, metavar="N",
                        help=f"layers after expansion (default {Limits.max_nodes:,})")
