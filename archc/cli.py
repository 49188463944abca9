"""The `archc` command line: argument parsing and printing only."""
from __future__ import annotations

import argparse
import json
import re
import sys
from contextlib import contextmanager
from pathlib import Path

from archc.cli_options import (add_depth_option, add_diagram_timeout_option, add_limit_options, check_from, device,
                               limits_from, output_path, run_input, seed)
from archc.console import controls_escaped, silence_closed_pipe, tolerate_any_encoding
from archc.emit.diagram_cli import register as register_render
from archc.errors import ArchcError, ArchcErrors, Loc
from archc.outputs import Terminated

EXIT_SPEC_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a Unix tool whose reader went away


def cmd_check(args) -> int:
    from archc.emit.report import report, table

    reports, failed = [], 0
    for spec in args.specs:
        try:
            graph = check_from(args, spec)
        except (ArchcError, ArchcErrors) as exc:
            if len(args.specs) == 1 or args.debug:
                raise
            print(exc.format(), file=sys.stderr)  # the other specs are still checked
            failed += 1
            continue
        if args.json:
            reports.append(report(graph))
        else:
            print(table(graph, args.depth))
    if args.json and reports:
        print(json.dumps(reports[0] if len(args.specs) == 1 else reports, indent=1))
    return EXIT_SPEC_ERROR if failed else 0


def cmd_build(args) -> int:
    from archc.emit.report import report, table
    from archc.outputs import write_all

    spec_graph = check_from(args)
    import torch

    from archc.emit.source import python_source
    from archc.emit.torch_module import build_module, example_inputs
    from archc.network_io import output_shapes, outputs_by_key

    graph = _at_example_size(spec_graph, args)
    with out_of_memory_reported(graph.root.loc):
        model = build_module(graph, device=args.device)
        if args.weights is not None:
            from archc.weights import load_weights

            load_weights(model, args.weights)  # checked before the outputs are written
        if not args.no_verify:
            model.eval()
            with torch.no_grad():
                out = model(*example_inputs(graph, device=args.device))
            built = {key: tuple(value.shape[1:]) for key, value in outputs_by_key(graph, out).items()}
            if built != output_shapes(graph):  # would be a bug in archc, not the spec
                raise RuntimeError(f"built module gives {built}, inferred {output_shapes(graph)}")
        del model  # its memory is not needed for writing the outputs
    out_dir = Path(args.output)
    # the report, the table and the diagram show the spec as written (symbolic sizes as formulas)
    files = {
        out_dir / f"{graph.name}.json": (json.dumps(report(spec_graph), indent=1) + "\n").encode(),
        out_dir / f"{graph.name}.py": python_source(graph, spec_graph).encode(),
    }
    if not args.no_diagram:
        files.update(_diagram_files(spec_graph, out_dir, args.diagram_timeout))
    written = write_all(files)
    print(table(spec_graph, args.depth))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _at_example_size(graph, args):
    """A network with symbolic sizes is built at example sizes (pipeline.at_example_size), and says so."""
    from archc.pipeline import at_example_size
    from archc.shapes import format_shape

    concrete = at_example_size(graph, args.spec, limits_from(args))
    if concrete is not graph:
        allowed = "; ".join(graph.constraints.describe(graph.constraints.variables()))
        print(f"note: the input {format_shape(graph.input_shape)} has symbolic sizes: built and verified at "
              f"{format_shape(concrete.input_shape)}; the module takes every size the spec allows ({allowed})",
              file=sys.stderr)
    return concrete


def cmd_summary(args) -> int:
    from archc.emit.summary import summary_json, summary_text

    graph = check_from(args)
    print(json.dumps(summary_json(graph, args.depth), indent=1) if args.json else summary_text(graph, args.depth))
    return 0


def cmd_explain(args) -> int:
    from archc.explain import explain_text

    print(explain_text(check_from(args), args.layer))
    return 0


def cmd_kinds(args) -> int:
    from archc.emit.kinds_doc import kinds_text

    print(kinds_text(args.kind))
    return 0


def cmd_schema(args) -> int:
    from archc.emit.schema import spec_schema
    from archc.outputs import write_all

    text = json.dumps(spec_schema(), indent=1, ensure_ascii=False) + "\n"
    if args.output in (None, "-"):
        print(text, end="")
    else:
        for path in write_all({Path(args.output): text.encode()}):  # none when it was stdout
            print(f"wrote {path}")
    return 0


def cmd_run(args) -> int:
    from archc.outputs import write_all
    from archc.run import npy_bytes, npz_bytes, run_network

    suffix = Path(args.save).suffix.lower() if args.save else ""
    if suffix not in (".npy", ".npz", ""):  # no suffix: /dev/stdout, a pipe, a plain name
        raise ArchcError("unknown-format", f"cannot tell the format from '{args.save}'",
                         expected="a name ending in .npy (one array) or .npz (an archive of arrays)",
                         found=f"'{suffix}'")
    with out_of_memory_reported(Loc(str(args.spec), 1, 1)):
        ran = run_network(args.spec, args.input_file, args.seed, limits_from(args), every_layer=args.all,
                          weights=args.weights)
    several = isinstance(ran.output, dict)
    if args.save and several and suffix != ".npz":
        raise ArchcError("bad-value", "the network has several outputs: --save writes them as one .npz archive",
                         Loc(str(args.spec), 1, 1), expected="--save FILE.npz", found=f"--save {args.save}",
                         hint="numpy.load(FILE.npz)[KEY] reads the output KEY")
    files = {}
    if args.save:  # one output as .npy, or under the key 'output' of a .npz; several only as .npz
        archive = several or suffix == ".npz"
        files[Path(args.save)] = (npz_bytes(ran.output if several else {"output": ran.output}) if archive
                                  else npy_bytes(ran.output))
    print(ran.text)
    for path in write_all(files):
        print(f"wrote {path}")
    return 0


def cmd_export(args) -> int:
    from archc.export import export_spec
    from archc.outputs import write_all

    with out_of_memory_reported(Loc(str(args.spec), 1, 1)):
        exported = export_spec(args.spec, args.format, weights=args.weights, input_shape=args.input_shape,
                               limits=limits_from(args))
    for note in exported.notes:
        print(f"note: {note}", file=sys.stderr)
    for path in write_all({Path(args.output): exported.data}):
        print(f"wrote {path} ({args.format})")
    return 0


@contextmanager
def out_of_memory_reported(loc: Loc | None):
    """Running out of memory while building or running a network is the user's to fix: a coded error."""
    import torch

    try:
        yield
    except (MemoryError, RuntimeError) as exc:
        oom = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
        # torch's CPU allocator raises a plain RuntimeError; only its message tells
        if not isinstance(exc, (MemoryError, oom)) and not re.search(
                r"out of memory|can't allocate memory|not enough memory", str(exc), re.IGNORECASE):
            raise
        found = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}" if str(exc) else type(exc).__name__
        raise ArchcError("out-of-memory", "the machine ran out of memory while building or running the network", loc,
                         expected="enough free memory for the parameters and one batch's activations", found=found,
                         hint="use smaller sizes, or free memory; archc check --max-memory GIB refuses "
                              "networks that need more before anything is allocated") from None


def _diagram_files(graph, out_dir: Path, timeout: float) -> dict:
    """The build's diagram, when the graphviz binary is there and draws it in time (the build works without it)."""
    from archc.emit.diagram import render_bytes

    try:
        return {out_dir / f"{graph.name}.svg": render_bytes(graph, "svg", timeout=timeout)}
    except ArchcError as exc:
        print(f"note: no diagram written ({exc.message}); see 'archc render --help'", file=sys.stderr)
        return {}


def add_weights_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", type=output_path, default=None, metavar="W",
                        help="trained weights: a state_dict saved with torch.save, or a .safetensors file "
                             "(keys and shapes are checked against the spec first)")


def register_export(sub) -> None:
    from archc.export import FORMATS

    x = sub.add_parser("export", help="export the network as ONNX, a torch.export program (.pt2) or TorchScript",
                       description="Build the network (with --weights when given) and export it with a dynamic "
                                   "batch dim; a spec with named sizes (input: [3, H, W] or --input 3xHxW) "
                                   "exports with dynamic spatial dims where the network allows. Several inputs "
                                   "and outputs: ONNX names them after the spec's inputs and output keys; "
                                   "TorchScript traces such a network (torch.jit.trace: runtime.Flow cannot be "
                                   "scripted) instead of scripting it. ONNX needs "
                                   "pip install 'archc[export]'. docs/deploy.md shows each format in use.")
    x.add_argument("spec", metavar="SPEC", help="YAML spec file")
    x.add_argument("--format", required=True, choices=FORMATS, help="onnx, pt2 (torch.export) or torchscript")
    x.add_argument("-o", "--output", type=output_path, required=True, metavar="FILE", help="the file to write")
    add_weights_option(x)
    add_limit_options(x)
    x.set_defaults(run=cmd_export)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="archc",
        description="Compile YAML architecture specs into checked PyTorch modules, source and diagrams.",
        epilog="examples:\n"
               "  archc check specs/d2l/lenet.yaml\n"
               "  archc build specs/d2l/alexnet.yaml -o build/\n"
               "  archc render specs/d2l/resnet18.yaml -o resnet18.png\n"
               "  archc explain specs/d2l/alexnet.yaml features.0\n"
               "  archc check specs/d2l/resnet18.yaml --input 1xHxW\n"
               "  archc run specs/lecture/cross_correlation.yaml --input specs/lecture/inputs/3x3.json\n\n"
               "'archc COMMAND --help' describes each command; docs/ has the tutorial and the spec reference.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--debug", action="store_true", help="show a traceback for errors")
    p.add_argument("--version", action="version", version=f"archc {__import__('archc').__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    c = sub.add_parser("check", help="check specs and print every layer's shape and parameters (no torch)",
                       description="Load, expand and infer specs without importing torch: every layer's output "
                                   "shape, parameters and MACs, or the errors, with file:line:col.")
    c.add_argument("specs", nargs="+", metavar="SPEC", help="YAML spec file(s)")
    c.add_argument("--json", action="store_true", help="print a machine-readable report")
    add_depth_option(c)
    add_limit_options(c)
    c.set_defaults(run=cmd_check)

    b = sub.add_parser("build", help="check a spec, construct its module, write report, source and diagram",
                       description="Check a spec, construct the nn.Module, run it once on zeros, and write "
                                   "<name>.json (report), <name>.py (plain PyTorch) and <name>.svg into DIR.")
    b.add_argument("spec", metavar="SPEC", help="YAML spec file")
    b.add_argument("-o", "--output", type=output_path, default="build", metavar="DIR",
                   help="output folder (default: build/)")
    b.add_argument("--device", type=device, default=None, help="device to build on, e.g. cpu or cuda (default: cpu)")
    b.add_argument("--no-verify", action="store_true", help="skip the forward pass on zeros")
    b.add_argument("--no-diagram", action="store_true", help="write no diagram (large networks draw slowly)")
    add_diagram_timeout_option(b)
    add_depth_option(b)
    add_limit_options(b)
    b.set_defaults(run=cmd_build)
    add_weights_option(b)
    register_render(sub)
    s = sub.add_parser("summary", help="hierarchical table: shapes, params, MACs, shares, memory (no torch)",
                       description="Blocks and layers with output shape, parameters, MACs, share of parameters and "
                                   "trainability; totals with parameter and activation memory per sample.")
    s.add_argument("spec", metavar="SPEC", help="YAML spec file")
    add_depth_option(s)
    s.add_argument("--json", action="store_true", help="machine-readable rows and totals")
    add_limit_options(s)
    s.set_defaults(run=cmd_summary)

    e = sub.add_parser("explain", help="the arithmetic behind every output shape and parameter count (no torch)",
                       description="For every layer (or one LAYER and what is inside it): the lecture's "
                                   "⌊(n − k + p + s)/s⌋ per spatial dim, channels, parameters and MACs; "
                                   "concatenations and residual merges.")
    e.add_argument("spec", metavar="SPEC", help="YAML spec file")
    e.add_argument("layer", nargs="?", metavar="LAYER", help="a module path, e.g. features.0 or b3.0")
    add_limit_options(e)
    e.set_defaults(run=cmd_explain)
    r = sub.add_parser("run", help="run a spec on a small input (YAML, JSON, .npy or arange:CxHxW) and print the output",
                       description="Build the network (parameters from init: or seeded random), run it in eval mode "
                                   "on the input and print the output. The input is one sample of the spec's "
                                   "input shape or a batch of them: a nested list in YAML/JSON (optionally under "
                                   "an 'input:' key), a NumPy .npy file, or made on the spot: arange:1x3x3 is "
                                   "d2l's torch.arange(9.0).reshape(1, 3, 3) (also zeros:… and ones:…; in a "
                                   "file: 'input: {arange: [1, 3, 3]}').",
                       epilog="examples:\n"
                              "  archc run specs/lecture/max_pooling.yaml --input arange:1x3x3\n"
                              "  archc run specs/lecture/pooling_padding_stride.yaml --input arange:1x4x4 --all\n"
                              "  archc run specs/d2l/lenet.yaml --input x.npy --save y.npy\n"
                              "  archc run unet.yaml --input image=arange:3x16x16 --input depth=d.npy --save y.npz",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("spec", metavar="SPEC", help="YAML spec file")
    r.add_argument("--input", dest="input_file", type=run_input, required=True, action="append",
                   metavar="[NAME=]FILE|arange:CxHxW",
                   help="the input: a file (.yaml, .json or .npy), or arange:, zeros: or ones: with a shape; "
                        "it also binds named sizes of the spec's input. A network with several inputs "
                        "(inputs: {image: …, depth: …}) takes one --input NAME=… for each (repeat the option)")
    r.add_argument("--all", action="store_true", help="print every layer's output, in the order the layers run")
    r.add_argument("--save", type=output_path, metavar="FILE.npy|FILE.npz",
                   help="also write the output to a NumPy .npy file (or a .npz archive, key 'output'); a "
                        "network with several outputs (outputs: {out: …, aux: …} or a list) writes one .npz "
                        "archive holding an array per output key ('0', '1', … for a list), read with "
                        "numpy.load(FILE)[KEY] (needs numpy)")
    r.add_argument("--seed", type=seed, default=0, help="seed for randomly initialised parameters (default 0)")
    add_limit_options(r, input_shape=False)
    r.set_defaults(run=cmd_run)
    add_weights_option(r)
    register_export(sub)

    k = sub.add_parser("kinds", help="list the layer kinds, structural kinds and standard-library blocks",
                       description="Every built-in layer kind with its arguments, types and defaults "
                                   "(PyTorch's names; in_channels, in_features and num_features are inferred); "
                                   "then the structural kinds (sequential, repeat, residual, parallel, dense) "
                                   "and the standard library's blocks with their parameters.")
    k.add_argument("kind", nargs="?", help="show only this: a kind (conv2d, residual), std/<family> or a block")
    k.set_defaults(run=cmd_kinds)

    sc = sub.add_parser("schema", help="write the JSON Schema of spec files (for editor completion)",
                        description="The JSON Schema (draft 2020-12) of archc specs. Point your editor at it with "
                                    "'# yaml-language-server: $schema=archc-spec.schema.json' on a spec's first line.")
    sc.add_argument("-o", "--output", type=output_path, metavar="FILE", help="write to FILE (default: stdout)")
    sc.set_defaults(run=cmd_schema)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit status is 0, 1 (an error in the input), 2 (the command line) or a
    signal's 128 + n. A reader that stops early (`archc summary … | head`) ends it quietly."""
    tolerate_any_encoding()
    with controls_escaped():  # messages quote specs, which may hold escape sequences
        try:
            try:
                return _main(argv)
            finally:
                sys.stdout.flush()  # inside the try: a closed pipe shows here, not at interpreter exit
        except BrokenPipeError:
            silence_closed_pipe()
            return EXIT_BROKEN_PIPE


def _main(argv: list[str] | None) -> int:
    p = parser()
    args, extra = p.parse_known_args(argv)
    # argparse cannot match an optional positional after options (explain SPEC --input … LAYER)
    if extra and getattr(args, "command", None) == "explain" and args.layer is None and len(extra) == 1 \
            and not extra[0].startswith("-"):
        args.layer, extra = extra[0], []
    if extra:
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.run(args)
    except (ArchcError, ArchcErrors) as exc:
        if args.debug:
            raise
        print(exc.format(), file=sys.stderr)
        return EXIT_SPEC_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Terminated as exc:  # SIGTERM or SIGHUP while writing outputs, after their cleanup
        return 128 + exc.signum


if __name__ == "__main__":
    sys.exit(main())
