"""The load pass: files → a validated SpecDoc plus every block in scope, with positions."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from archc.aliases import argument_hint, kind_hint, misread_kind_hint
from archc.errors import ArchcError, ErrorSink, Loc, did_you_mean, value_kind
from archc.spec.files import read_regular_file
from archc.spec.model import BlockDef, BlockFileDoc, SpecDoc
from archc.spec.yaml_source import YMap, key_loc, locate, parse_yaml

STD_DIR = Path(__file__).parent / "std"


@dataclass
class BlockInfo:
    """One block definition and where it was written."""

    name: str
    definition: BlockDef
    raw: YMap  # the definition's YAML, for positions
    loc: Loc | None


@dataclass
class Spec:
    """A loaded spec: the document, its YAML with positions, and the blocks it can use."""

    doc: SpecDoc
    raw: YMap
    file: str
    blocks: dict[str, BlockInfo] = field(default_factory=dict)


def std_files() -> dict[str, Path]:
    """The standard library's block files by import name ('std/resnet' …)."""
    return {f"std/{p.stem}": p for p in sorted(STD_DIR.glob("*.yaml"))}


def std_blocks() -> dict[str, dict[str, BlockDef]]:
    """The standard library's blocks, by import name and then block name (for `archc kinds`)."""
    out = {}
    for shown, path in std_files().items():
        doc = _validate(BlockFileDoc, _read(path, shown), shown, "block file")
        out[shown] = dict(doc.blocks)
    return out


def validation_errors(exc: ValidationError, raw: Any, fallback: Loc | None, schema: type[BaseModel] | None = None,
                      where: str = "") -> list[ArchcError]:
    """pydantic's errors as located ArchcErrors in plain words, one per offending field."""
    grouped: dict[tuple, list[dict]] = {}
    for err in exc.errors():
        loc = err["loc"]
        if loc and loc[-1] == "[key]":  # a dict's key of the wrong type: the same as a model's invalid key
            err = {**err, "type": "invalid_key"}
        if err["type"] not in ("extra_forbidden", "missing"):
            # Union members each report an error ('kernel_size', 'int'), ('kernel_size', 'list[…]'):
            # keep the path down to the value the user wrote.
            loc = tuple(step for step in loc if isinstance(step, int) or not _is_type_tag(step))
        grouped.setdefault(loc, []).append(err)
    # a list's member that is wrong says more than "not an int" about the whole list
    # (kernel_size: [a, 3] is a list with a bad item, not a bad int)
    deeper = {loc[:n] for loc in grouped for n in range(len(loc))}
    errors = []
    prefix = f"{where}: " if where else ""
    hint_for_kind = misread_kind_hint(where, raw if isinstance(raw, dict) else {})
    for loc, errs in grouped.items():
        first = errs[0]
        field_path = ".".join(str(s) for s in loc)
        if first["type"] == "extra_forbidden":
            parent = _follow(raw, loc[:-1])
            model = _schema_at(schema, loc[:-1])
            allowed = list(model.model_fields) if model else []
            errors.append(ArchcError(
                "unknown-argument", f"{prefix}unknown key '{loc[-1]}'", key_loc(parent, loc[-1], fallback),
                expected=("one of " + ", ".join(allowed)) if allowed else "", found=f"'{loc[-1]}'",
                hint=hint_for_kind or argument_hint(str(loc[-1]), allowed),
            ))
        elif first["type"] == "invalid_key":  # a key YAML read as a number, true/false or null
            key = first.get("input")
            errors.append(ArchcError(
                "unknown-argument", f"{prefix}a key must be a name, not {value_kind(key)}",
                key_loc(_follow(raw, loc[:-1]), key, fallback), expected="a name", found=_shown_value(key),
                hint="YAML reads yes, no, on, off, true, false and null as values, and digits as a number; "
                     "quote the key if it is meant as text",
            ))
        elif first["type"] == "missing":
            errors.append(ArchcError(
                "missing-argument", f"{prefix}'{field_path}' is required", locate(raw, loc[:-1], fallback),
                expected=f"'{loc[-1]}'", found="nothing", hint=hint_for_kind,
            ))
        elif loc in deeper and all(e["type"] in _TYPE_ERRORS for e in errs):
            continue  # reported at the member
        else:
            problems = [e for e in errs if e["type"] in _VALUE_ERRORS and not _sentence(e).startswith("expected ")]
            if problems:  # a rule of ours, already a sentence
                message = f"{prefix}invalid value for '{field_path}': {_sentence(problems[0])}"
                wanted = [_expectation(e) for e in errs if e not in problems and e["type"] not in _TYPE_ERRORS]
            else:
                message = f"{prefix}invalid value for '{field_path}'"
                wanted = [_expectation(e) for e in errs]
            errors.append(ArchcError(
                "bad-value", message, locate(raw, loc, fallback),
                expected=" or ".join(dict.fromkeys(w for w in wanted if w)), found=_shown_value(first.get("input")),
                hint=hint_for_kind,
            ))
    return errors


# pydantic's error types that mean "the value has the wrong type" (one per union member)
_TYPE_ERRORS = {
    "int_type", "int_parsing", "int_from_float", "float_type", "float_parsing", "bool_type", "bool_parsing",
    "string_type", "list_type", "dict_type", "model_type", "model_attributes_type", "dataclass_type",
    "tuple_type", "set_type", "none_required", "is_instance_of", "literal_error", "enum",
}
# errors raised by archc's own validators: their message is a sentence for the user
_VALUE_ERRORS = {"value_error", "assertion_error"}


def _expectation(err: dict) -> str:
    """What the value should have been, in plain words, for each kind of pydantic error."""
    kind, ctx = err["type"], err.get("ctx") or {}
    words = {
        "int_type": "a whole number", "int_parsing": "a whole number", "int_from_float": "a whole number",
        "int_parsing_size": "a whole number small enough to use",
        "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
        "bool_type": "true or false", "bool_parsing": "true or false",
        "string_type": "text", "list_type": "a list", "tuple_type": "a list", "set_type": "a list",
        "dict_type": "a mapping (key: value, …)", "model_type": "a mapping (key: value, …)",
        "model_attributes_type": "a mapping (key: value, …)", "dataclass_type": "a mapping (key: value, …)",
        "none_required": "null", "is_instance_of": "a value of another type",
        "string_unicode": "text", "string_sub_type": "text",
    }
    if kind in words:
        return words[kind]
    if kind in ("literal_error", "enum"):
        allowed = str(ctx.get("expected", "the allowed values"))
        return "one of " + allowed.replace(" or ", ", ") if " or " in allowed else allowed
    bounds = {  # pydantic's constraint errors: (wording, the context entry it names)
        "greater_than": ("a number above {}", "gt"), "greater_than_equal": ("a number of at least {}", "ge"),
        "less_than": ("a number below {}", "lt"), "less_than_equal": ("a number of at most {}", "le"),
        "multiple_of": ("a multiple of {}", "multiple_of"),
        "string_too_short": ("text of at least {} characters", "min_length"),
        "string_too_long": ("text of at most {} characters", "max_length"),
    }
    if kind in bounds:
        wording, entry = bounds[kind]
        return wording.format(ctx.get(entry))
    if kind in ("too_short", "too_long"):
        limit = ctx.get("min_length" if kind == "too_short" else "max_length")
        return f"{'at least' if kind == 'too_short' else 'at most'} {_items(limit)}"
    if kind == "string_pattern_mismatch":
        return "text of the allowed form"  # no field of archc's has a pattern today
    if kind in _VALUE_ERRORS:
        sentence = _sentence(err)
        return sentence[len("expected "):] if sentence.startswith("expected ") else sentence
    return _plain_message(err["msg"])


def _items(count) -> str:
    return f"{count} item" + ("" if count == 1 else "s")


def _sentence(err: dict) -> str:
    """The message of one of archc's own validators, without pydantic's 'Value error, '."""
    msg = err["msg"]
    for lead in ("Value error, ", "Assertion failed, "):
        if msg.startswith(lead):
            msg = msg[len(lead):]
    return msg


def _plain_message(msg: str) -> str:
    # an error type not listed above: pydantic's sentence without its jargon
    for lead in ("Input should be ", "Value error, "):
        if msg.startswith(lead):
            msg = msg[len(lead):]
    return msg.replace("a valid ", "a ").split(" [type=")[0]


def _shown_value(value: Any) -> str:
    text = repr(value) if not isinstance(value, dict) else repr(dict(value))
    return text if len(text) <= 60 else text[:57] + "…"


def _is_type_tag(step: str) -> bool:
    # pydantic names union members and constrained types in error paths: 'int', 'list[…]',
    # "literal['same','valid']", 'constrained-int', 'function-before[…]', 'nullable[…]' …
    return any(ch in step for ch in "[]'-") or step in ("int", "str", "bool", "float", "list", "dict", "none")


def _follow(raw: Any, path: tuple) -> Any:
    for step in path:
        try:
            raw = raw[step]
        except (KeyError, IndexError, TypeError):
            return raw
    return raw


def _schema_at(schema: type[BaseModel] | None, path: tuple):
    """The pydantic model describing the value at `path`, if it is a model (through fields,
    lists and dicts of models: blocks.<name> is a BlockDef)."""
    key_of_mapping = False
    for step in path:
        if schema is None:
            return None
        if isinstance(step, int):
            continue
        if key_of_mapping:  # a key of dict[str, Model]: the model stays
            key_of_mapping = False
            continue
        info = schema.model_fields.get(step)
        ann = getattr(info, "annotation", None)
        schema, key_of_mapping = _model_in(ann)
    return schema


def _model_in(ann) -> tuple[type[BaseModel] | None, bool]:
    """(the model an annotation holds, whether it is held as the values of a dict)."""
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann, False
    args = getattr(ann, "__args__", None) or ()
    models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    if not models:
        return None, False
    return models[0], getattr(ann, "__origin__", None) is dict


def _read(path: Path, shown: str, loc: Loc | None = None) -> Any:
    """Parse a spec or block file; `loc` is where it was named (an imports: entry)."""
    return parse_yaml(read_regular_file(path, shown, loc, what="spec file"), shown)


def _validate(model: type[BaseModel], raw: Any, file: str, what: str):
    if not isinstance(raw, YMap):
        raise ArchcError("not-a-mapping", f"the top level of a {what} must be a mapping", getattr(raw, "loc", Loc(file, 1, 1)),
                         expected="keys like archc, name, input, layers", found=value_kind(raw))
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        sink = ErrorSink()
        for error in validation_errors(exc, raw, raw.loc, model):
            sink.add(error)
        sink.raise_if_any()


def _resolve_import(name: Any, importer: Path | None, loc: Loc | None) -> tuple[Path, str]:
    """A path to a block file, and how to show it, for one `imports:` entry."""
    std = std_files()
    if not isinstance(name, str) or not name.strip():
        raise ArchcError("file-not-found", "an import names no file", loc,
                         expected="a block file's path, 'std' or 'std/<family>'", found=repr(name))
    if "\0" in name:  # the operating system cannot name such a file
        raise ArchcError("file-not-found", "an import path holds a NUL character", loc,
                         expected="a block file's path, 'std' or 'std/<family>'", found=repr(name))
    # only 'std' and 'std/<family>' are the library: 'stdblocks.yaml' is a local file
    if name == "std" or name.startswith("std/"):
        if name in std:
            return std[name], name
        stem = name.removesuffix(".yaml").removesuffix(".yml").rstrip("/")
        hint = f"did you mean '{stem}'? (standard library imports have no '.yaml')" if stem in std else ""
        raise ArchcError("unknown-import", f"no standard library file '{name}'", loc,
                         expected="std or one of " + ", ".join(std), found=name,
                         hint=hint or did_you_mean(name, std))
    base = importer.parent if importer else Path.cwd()
    path = (base / name).resolve()
    return path, str(Path(name) if not importer else _shown(importer.parent / name))


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class _BlockCollector:
    """Gathers blocks from a spec and everything it imports; shadowing is an error."""

    def __init__(self):
        self.blocks: dict[str, BlockInfo] = {}
        self.seen_files: set[Path] = set()

    def add_blocks(self, doc_blocks: dict[str, BlockDef], raw: YMap, file: str) -> None:
        raw_blocks = raw.get("blocks", YMap()) if isinstance(raw, YMap) else YMap()
        for name, definition in doc_blocks.items():
            loc = key_loc(raw_blocks, name, getattr(raw, "loc", None))
            if name in self.blocks:
                first = self.blocks[name].loc
                raise ArchcError("block-shadowed", f"block '{name}' is defined twice", loc,
                                 expected="each block name defined once across the spec and its imports",
                                 found=f"also defined at {first}", hint="rename one of them")
            from archc.layers import KINDS
            from archc.spec.structure import STRUCTURAL

            if name in KINDS or name in STRUCTURAL:
                raise ArchcError("block-shadowed", f"block '{name}' has the name of a built-in kind", loc,
                                 hint="choose another name")
            self.blocks[name] = BlockInfo(name, definition, raw_blocks.get(name), loc)

    def add_imports(self, imports: list[str], raw: YMap, importer: Path | None) -> None:
        raw_imports = raw.get("imports")
        for index, name in enumerate(imports):
            loc = locate(raw_imports, (index,), raw.loc) if raw_imports is not None else raw.loc
            targets = list(std_files().items()) if name == "std" else [tuple(reversed(_resolve_import(name, importer, loc)))]
            for shown, path in targets:
                path = Path(path)
                if path.resolve() in self.seen_files:
                    continue  # imported twice (or in a cycle): its blocks are already in scope
                self.seen_files.add(path.resolve())
                try:
                    file_raw = _read(path, shown, loc)
                except ArchcError as exc:
                    if exc.code != "file-not-found":
                        raise
                    raise ArchcError("file-not-found", f"imported file not found: {shown}", loc,
                                     hint="import paths are relative to the importing file") from None
                if isinstance(file_raw, YMap) and "layers" in file_raw:
                    self.add_network(file_raw, shown, path, loc)
                    continue
                doc = _validate(BlockFileDoc, file_raw, shown, "block file")
                self.add_imports(doc.imports, file_raw, path)
                self.add_blocks(doc.blocks, file_raw, shown)

    def add_network(self, raw: YMap, shown: str, path: Path, loc: Loc | None) -> None:
        """An imported network spec: its blocks come into scope, and so does the network
        itself, as a block named after it whose parameters are the spec's `params:`."""
        doc = _validate(SpecDoc, raw, shown, "spec")
        if doc.defaults:
            raise ArchcError("bad-import", f"the imported network '{doc.name}' has 'defaults:', which apply only "
                             "to the spec that declares them", loc,
                             notes=[f"its defaults are at {key_loc(raw, 'defaults', raw.loc)}"],
                             expected="an imported network without defaults:", found="defaults:",
                             hint="write those arguments on the layers, or as block parameters")
        self.add_imports(doc.imports, raw, path)
        self.add_blocks(doc.blocks, raw, shown)
        definition = BlockDef(description=doc.description, params=doc.params,
                              inputs=list(doc.inputs) if doc.inputs is not None else None,
                              layers=raw["layers"], outputs=doc.outputs)
        self.add_blocks({doc.name: definition}, _as_blocks(doc.name, raw), shown)


def _as_blocks(name: str, raw: YMap) -> YMap:
    """A `blocks:` mapping holding one network spec's YAML, for add_blocks' positions."""
    blocks = YMap({name: raw})
    blocks.loc, blocks.key_locs, blocks.value_locs = raw.loc, {name: raw.loc}, {name: raw.loc}
    wrapper = YMap({"blocks": blocks})
    wrapper.loc, wrapper.key_locs, wrapper.value_locs = raw.loc, {}, {"blocks": raw.loc}
    return wrapper


def load_spec(source: str | Path, *, text: str | bytes | None = None) -> Spec:
    """Read and validate a spec file (or `text` shown as `source`); never imports torch."""
    path = Path(source)
    shown = _shown(path) if text is None else str(source)
    raw = _read(path, shown) if text is None else parse_yaml(text, shown)
    doc = _validate(SpecDoc, raw, shown, "spec")
    collector = _BlockCollector()
    if text is None:
        collector.seen_files.add(path.resolve())
    collector.add_imports(doc.imports, raw, path if text is None else None)
    collector.add_blocks(doc.blocks, raw, shown)
    check_defaults(doc.defaults, raw, collector.blocks)
    return Spec(doc, raw, shown, collector.blocks)


def check_defaults(defaults: dict[str, dict], raw: YMap, blocks: dict[str, BlockInfo]) -> None:
    """Every `defaults:` entry names a built-in kind and only arguments it has: a misspelt
    kind or argument would otherwise be silently ignored (defaults only apply to matching layers)."""
    from archc.layers import KINDS
    from archc.spec.structure import STRUCTURAL

    raw_defaults = raw.get("defaults")
    sink = ErrorSink()
    for kind, args in defaults.items():
        loc = key_loc(raw_defaults, kind, raw.loc)
        if kind not in KINDS:
            sink.add(_defaults_for_no_kind(kind, loc, blocks, STRUCTURAL, KINDS))
            continue
        model = KINDS[kind].Args
        allowed = [*model.model_fields, "init"]
        raw_args = raw_defaults.get(kind) if isinstance(raw_defaults, YMap) else None
        for name in args:
            if name not in allowed:
                meta = name in ("name", "from", "merge", "when", "trainable")
                sink.add(ArchcError(
                    "unknown-argument", f"defaults for '{kind}': unknown argument '{name}'", key_loc(raw_args, name, loc),
                    expected="one of " + ", ".join(allowed), found=f"'{name}'",
                    hint=f"'{name}' belongs to each layer, not to defaults" if meta else argument_hint(name, allowed),
                ))
        # values are checked now, not only where a layer takes them: a default no layer uses is still wrong
        values = {name: value for name, value in args.items()
                  if name in model.model_fields and not (isinstance(value, str) and "${" in value)}
        try:
            model.model_validate(values)
        except ValidationError as exc:
            for error in validation_errors(exc, raw_args if raw_args is not None else raw, loc, model,
                                           where=f"defaults for '{kind}'"):
                if error.code == "bad-value":  # not 'missing-argument': each layer gives its own
                    sink.add(error)
    sink.raise_if_any()


def _defaults_for_no_kind(kind: str, loc: Loc | None, blocks, structural, kinds) -> ArchcError:
    """The error for a `defaults:` entry whose key is not a built-in layer kind."""
    if kind in blocks:
        message, hint = f"defaults for '{kind}', which is a block", "give a block's defaults as its parameters' default values"
    elif kind in structural:
        message, hint = f"defaults for '{kind}', which is a structural kind", f"write a {kind}'s arguments where it is used"
    else:
        message = f"defaults for unknown kind '{kind}'"
        hint = kind_hint(kind, {}, kinds, lambda _: []) or "run 'archc kinds' to list the built-in kinds"
    return ArchcError("unknown-kind", message, loc, found=f"'{kind}'", hint=hint,
                      expected="a built-in layer kind (defaults apply to built-in layers only)")
