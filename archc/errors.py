"""Errors a user can cause: located, coded, printable in one or a few lines."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field

# Every error code archc reports, with what it means. Codes are stable: scripts and editors
# may match on them. docs/errors.md shows an example of each; a test keeps the three in step.
CODES: dict[str, str] = {
    # reading files
    "file-not-found": "the spec or an imported file does not exist",
    "file-unreadable": "the file exists but cannot be read (permissions)",
    "file-too-large": "the file is too large to be a spec",
    "not-a-file": "the path names a directory, device, pipe or other special file, not a regular file",
    "not-utf8": "the file is not UTF-8 text",
    "empty-spec": "the file holds no YAML document",
    "yaml-syntax": "the file is not valid YAML",
    "yaml-tag": "a YAML tag that would construct an object (specs are data only)",
    "yaml-merge-key": "a YAML merge key '<<' (use defaults: or a block)",
    "yaml-key": "a mapping key that is not a plain scalar",
    "duplicate-key": "the same key twice in one mapping",
    "yaml-too-large": "aliases expand to too many values (an alias bomb)",
    "yaml-too-deep": "lists and mappings nested deeper than 200 levels",
    "yaml-recursive-alias": "an alias inside the very value its anchor names",
    "yaml-number": "an integer too long to be a number (more than 4,300 digits)",
    "yaml-string": "a string with a lone surrogate escape (\\ud800-\\udfff), which is not a character",
    "not-a-mapping": "the top level of the file is not a mapping",
    # the spec's structure
    "unknown-argument": "a key the spec, a kind or a structural kind does not have",
    "missing-argument": "a required key is missing",
    "bad-value": "a value of the wrong type or out of range",
    "bad-layers": "a layer list that is not a non-empty list",
    "bad-layer": "a layer entry that is not 'kind' or a one-key mapping 'kind: {args}'",
    "unknown-kind": "a layer kind that is neither built in, structural, nor a block in scope",
    "bad-name": "a layer, branch or shortcut name, or a prefix, that a module cannot have (not an identifier, or a name torch modules already use)",
    "duplicate-name": "two sibling layers with the same name",
    "bad-from": "'from:' is not a layer name or a list of them, or is used where it cannot be",
    "bad-merge": "an unknown merge, or several 'from' sources without one",
    "bad-when": "'when:' is not a boolean",
    "bad-branches": "parallel 'branches' is not a mapping of names to layer lists",
    "empty-repeat": "a named repeat with times 0",
    "needs-concrete": "a structural value (repeat count, when) depends on the incoming shape",
    # blocks and imports
    "unknown-import": "an 'imports:' entry that names no standard library file",
    "bad-import": "an imported network spec that cannot be used as a component (it has 'defaults:')",
    "block-shadowed": "a block defined twice, or named like a built-in kind",
    "block-cycle": "blocks that use each other in a cycle",
    "unknown-parameter": "a block used with a parameter it does not declare",
    "missing-parameter": "a block used without one of its required parameters",
    "bad-parameter": "a block parameter of the wrong type",
    # expressions
    "expr-syntax": "an expression that does not parse",
    "expr-not-allowed": "an expression using something outside archc's small language",
    "expr-unknown-name": "an expression naming something not in scope",
    "expr-type": "an expression applying an operation to the wrong type",
    "expr-index": "an index out of range in an expression",
    "expr-division-by-zero": "division or modulo by zero in an expression",
    "expr-overflow": "an expression whose value grows beyond ±2**62",
    "expr-too-long": "an expression longer than 500 characters",
    "expr-too-deep": "an expression nested too deeply",
    "expr-in-string": "'in' used inside a longer string, where it cannot be deferred",
    "bad-init": "an init: that names an unknown function, argument or parameter, or a literal of the wrong shape",
    # shapes
    "wrong-rank": "an input with the wrong number of dims for the layer (e.g. linear before flatten)",
    "wrong-length": "a per-dimension list of the wrong length",
    "kernel-too-large": "a convolution kernel larger than its padded input",
    "output-too-small": "a layer whose output size comes out below 1 (pooling, transposed convolution, interpolate)",
    "pool-padding-too-large": "pooling padding above half the kernel",
    "padding-too-large": "reflect/circular padding not smaller than the input",
    "same-padding-stride": "padding='same' with a stride above 1",
    "groups-mismatch": "groups not dividing the input or output channels",
    "bad-dim": "a dim argument out of range or naming the batch",
    "bad-index": "a select index outside the dim it selects from",
    "bad-slice": "a channel slice that is empty or reaches past the input's channels",
    "merge-mismatch": "tensors merged by add/mul/concat whose shapes do not fit together",
    "unknown-source": "'from:' names no earlier layer of the same list",
    "needs-concrete-size": "a layer that needs concrete sizes (flatten, some ceil_mode pools) on a symbolic input",
    "output-padding-too-large": "a transposed convolution's output_padding not smaller than its stride or dilation",
    "inplace-aliases": "an in-place layer (inplace: true) that overwrites a value a shortcut, branch, 'from:' or concatenation reads after it",
    "not-divisible": "a size split into equal parts (a pixel shuffle's channels, attention heads) that is not a multiple of their number",
    "bad-reshape": "a reshape or unflatten whose sizes do not hold exactly the input's elements (or infer more than one -1)",
    "too-few-values": "an instance norm over a single value per channel, which torch refuses to normalise when training",
    # resources
    "too-deep": "layers nest deeper than the limit (--max-depth)",
    "too-many-nodes": "the spec expands to more layers than the limit (--max-nodes)",
    "too-much-work": "expanding the spec would take more work than the limit (layers visited, kept or dropped, and values)",
    "too-many-repeats": "a repeat or dense count above the limit",
    "too-much-compute": "a forward pass of more multiply-accumulates per sample than the limit (--max-macs)",
    "too-many-params": "more parameters than the limit (--max-params)",
    "too-large": "an activation or the input larger than the limit, or too much memory (--max-memory)",
    # output
    "unknown-layer": "a layer path on the command line that the network does not have",
    "bad-input": "an input file for 'archc run' that is not a tensor of the spec's input shape",
    "device-unavailable": "a --device (or device=) this machine does not have",
    "unknown-format": "an output file whose format cannot be told from its extension",
    "unknown-focus": "archc render --focus names no module path in the network",
    "graphviz-missing": "svg/png/pdf requested but graphviz's dot is not installed",
    "graphviz-failed": "graphviz's dot failed on the diagram",
    "graphviz-timeout": "graphviz's dot took longer than --diagram-timeout to draw the diagram",
    "output-failed": "an output that cannot be written (a directory in the way, no permission, a full disk); nothing was written",
    "out-of-memory": "the machine ran out of memory while building or running the network",
    "numpy-missing": "'archc run --save' writes .npy, which needs NumPy, and NumPy is not installed",
    # deploying
    "bad-weights": "a --weights file that is not a state_dict of tensors fitting the network (missing, unexpected or mis-shaped keys, pickled objects, not a weights file)",
    "missing-package": "an optional package a command needs is not installed (onnx for export, safetensors for .safetensors weights)",
    "export-failed": "torch's exporter could not export the network in the format asked for",
}


@dataclass(frozen=True)
class Loc:
    """A position in a YAML file (1-based line and column)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass
class ArchcError(Exception):
    """One error in a spec, with a stable code and everything needed to fix it."""

    code: str
    message: str
    loc: Loc | None = None
    path: str = ""  # module path of the layer at fault, e.g. "layer1.0.conv1"
    expected: str = ""
    found: str = ""
    hint: str = ""
    notes: list[str] = field(default_factory=list)  # e.g. "in block 'vgg_block' used at a.yaml:9:5"

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def format(self) -> str:
        # each part is one line: a line break quoted from a spec or a path must not start a
        # line that reads like another error or note
        where = _one_line(f"{self.loc}: ") if self.loc else ""
        what = f" {_one_line(self.path)}:" if self.path else ""
        expected, found = _one_line(self.expected), _one_line(self.found)
        lines = [f"{where}error[{self.code}]{what} {_one_line(self.message)}"]
        if expected and found:
            lines.append(f"  expected {expected}; found {found}")
        elif expected:
            lines.append(f"  expected {expected}")
        elif found:
            lines.append(f"  found {found}")
        lines += [f"  {_one_line(note)}" for note in self.notes]
        if self.hint:
            lines.append(f"  hint: {_one_line(self.hint)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def _one_line(text: str) -> str:
    """`text` with its line breaks escaped as the terminal layer (archc/console.py) escapes every
    other control character: \\u000a."""
    return text.replace("\n", "\\u000a")


# Likely mistakes that are not errors: printed to stderr as file:line:col: warning[code] …
WARNINGS: dict[str, str] = {
    "channels-last": "an input shape that looks like height × width × channels (archc wants channels first)",
}


class ArchcWarning(ArchcError):
    """A located note about a probable mistake; the spec still compiles."""

    def format(self) -> str:
        return super().format().replace(f"error[{self.code}]", f"warning[{self.code}]", 1)


class ArchcErrors(Exception):
    """Several independent errors found in one spec, reported together."""

    def __init__(self, errors: list[ArchcError]):
        self.errors = errors
        super().__init__(self.format())

    def format(self) -> str:
        return "\n".join(e.format() for e in self.errors)

    def __str__(self) -> str:
        return self.format()


class ErrorSink:
    """Collects independent errors so one run reports them all.

    The same mistake reached many times (a bad layer inside a block used in every iteration
    of a repeat) is one error: errors with the same code, message and place are merged, and
    their notes say every iteration or use they came from."""

    def __init__(self, limit: int = 50):
        self.errors: list[ArchcError] = []
        self.limit = limit
        self._seen: dict[tuple, tuple[ArchcError, list[list[str]]]] = {}

    def add(self, error: ArchcError) -> None:
        key = (error.code, error.message, error.loc)
        if key in self._seen:
            self._seen[key][1].append(list(error.notes))
            return
        if len(self.errors) < self.limit:
            self._seen[key] = (error, [list(error.notes)])
            self.errors.append(error)

    def raise_if_any(self) -> None:
        for error, notes in self._seen.values():
            if len(notes) > 1:
                error.notes = merge_notes(notes)
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise ArchcErrors(self.errors)


_PLURALS = {"iteration": "iterations", "unit": "units"}


def merge_notes(many: list[list[str]]) -> list[str]:
    """Notes of one error reached several ways, position by position: 'in iteration 0 of …',
    'in iteration 1 of …' become 'in iterations 0–1 of …'; differing use sites are listed."""
    by_length: dict[int, list[list[str]]] = {}
    for notes in many:
        by_length.setdefault(len(notes), []).append(notes)
    merged: list[str] = []
    for index, group in enumerate(by_length.values()):  # reached through different nestings: one line each
        lines = []
        for variants in zip(*group):
            distinct = list(dict.fromkeys(variants))
            lines.append(distinct[0] if len(distinct) == 1 else _merge_one(distinct))
        merged += lines if index == 0 else ["also " + "; ".join(lines or ["at the top level"])]
    return merged


def _merge_one(notes: list[str]) -> str:
    words = [note.split(" ") for note in notes]
    if len({len(w) for w in words}) != 1:
        return notes[0] + f" (and {len(notes) - 1} more)"
    differing = [i for i in range(len(words[0])) if len({w[i] for w in words}) > 1]
    if len(differing) != 1:
        return notes[0] + f" (and {len(notes) - 1} more)"
    at = differing[0]
    values = [w[at] for w in words]
    before, after = words[0][:at], words[0][at + 1:]
    if before and before[-1] in _PLURALS:
        before = [*before[:-1], _PLURALS[before[-1]]]
    return " ".join([*before, _ranges(values), *after])


def _ranges(values: list[str]) -> str:
    """'0', '1', '2', '5' → '0–2, 5'; anything not all integers is listed as it is."""
    if not all(v.isdigit() for v in values):
        shown = values[:5]
        return ", ".join(shown) + (f" and {len(values) - 5} more" if len(values) > 5 else "")
    numbers = sorted({int(v) for v in values})
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)


def squashed(name: str) -> str:
    """A name without case or separators: 'BatchNorm2d', 'batch_norm2d', 'batch-norm-2d' agree."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def closest(word, choices) -> str | None:
    """The choice a misspelt name most likely meant: the same name in another case or
    spelling (Relu, ReLU → relu; BatchNorm2d → batch_norm2d) first, then the closest by
    difflib; None when nothing is close."""
    word = str(word)
    options = sorted({str(c) for c in choices})
    for match in (lambda c: c.lower() == word.lower(), lambda c: squashed(c) == squashed(word)):
        found = [c for c in options if match(c)]
        if found:
            return found[0]
    close = difflib.get_close_matches(word.lower(), options, n=1, cutoff=0.6)
    return close[0] if close else None


def value_kind(value: object) -> str:
    """What a YAML value is, in a spec writer's words (never a Python class name such as YList)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a value of another kind"


def did_you_mean(word: str, choices) -> str:
    """A 'did you mean' hint for a misspelt name, or '' when nothing is close."""
    match = closest(word, choices)
    return f"did you mean '{match}'?" if match is not None and match != str(word) else ""
