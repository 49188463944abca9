"""The generated source is safe: whatever a spec says (descriptions, names, file names,
numbers), the file parses, imports without side effects and builds the module archc builds;
and every name `build` could not use is refused by `check` first, located."""
from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import math

import pytest
import torch
import yaml
from conftest import check_layers, check_text, spec_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import archc
from archc import runtime
from archc.cli import main
from archc.emit.literal import comment, py_literal
from archc.emit.source import RESERVED_CLASS_NAMES
from archc.spec.names import MODULE_ATTRIBUTES, module_name_problem, network_name_problem

CONV = {"conv2d": {"out_channels": 2, "kernel_size": 3, "padding": 1}}


# -- the helpers every test here uses ----------------------------------------------------------
def _top_level_names(tree: ast.Module) -> set[str]:
    names = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in stmt.names}
        elif isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
            names.add(stmt.name)
    return names


def _assert_only_definitions(tree: ast.Module) -> None:
    """A docstring, imports, defs and classes whose bodies are a docstring and defs, and the
    `if __name__ == "__main__":` guard: nothing else runs at import time."""
    first, *rest = tree.body
    assert isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
    for stmt in rest:
        if isinstance(stmt, ast.ClassDef):
            doc, *methods = stmt.body
            assert isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant), ast.dump(doc)
            assert all(isinstance(m, ast.FunctionDef) for m in methods), stmt.name
        elif isinstance(stmt, ast.If):
            assert ast.unparse(stmt.test) == "__name__ == '__main__'"
        else:
            assert isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef)), ast.dump(stmt)[:200]


def _run_source(graph: archc.Graph) -> dict:
    """Parse, check and exec the generated source in a fresh namespace; nothing is printed
    and nothing is defined but what its top-level definitions name."""
    text = archc.source(graph)
    text.encode("utf-8")  # the CLI writes it as UTF-8
    tree = ast.parse(text)
    _assert_only_definitions(tree)
    namespace: dict = {"__name__": "generated"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        exec(compile(text, "generated.py", "exec"), namespace)  # noqa: S102 - the file under test
    assert printed.getvalue() == ""
    assert set(namespace) - {"__builtins__", "__name__", "__doc__"} == _top_level_names(tree)
    return namespace


def _assert_builds_the_same_module(graph: archc.Graph, namespace: dict) -> None:
    ours = archc.build(graph).eval()
    theirs = namespace["build"]().eval()
    assert list(theirs.state_dict()) == list(ours.state_dict())
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, *graph.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(theirs(x), ours(x), rtol=0, atol=0, equal_nan=True)


def _assert_safe(graph: archc.Graph) -> dict:
    namespace = _run_source(graph)
    _assert_builds_the_same_module(graph, namespace)
    return namespace


def _refused(text: str, code: str = "bad-name") -> archc.ArchcError:
    with pytest.raises(archc.ArchcError) as info:
        check_text(text)
    assert info.value.code == code, info.value
    assert info.value.loc is not None
    return info.value


# -- the examples ------------------------------------------------------------------------
def test_a_description_that_closes_the_docstring_does_not_run_when_the_file_is_imported(tmp_path):
    marker = tmp_path / "PWNED"
    description = f'x"""\nimport pathlib; pathlib.Path({str(marker)!r}).write_text("ran")\n"""'
    graph = check_layers([CONV], (1, 4, 4), description=description)
    path = tmp_path / "net.py"
    path.write_text(archc.source(graph), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("net_generated", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert not marker.exists()
    assert module.__doc__.startswith(f"t: {description}\n")
    _assert_builds_the_same_module(graph, vars(module))


@pytest.mark.parametrize("description", [
    'ends in a quote"', "ends in a backslash \\", "C:\\Users\\me", "\\x41 \\N{DASH} \\u", "it's \"quoted\"",
    "'''", "line one\nline two\r\nthree", "NUL \x00 and bell \x07", "line\u2028separator", "ünïcødé → ∑", "{body}",
])
def test_any_description_round_trips_through_the_module_docstring(description):
    graph = check_layers([CONV], (1, 4, 4), description=description)
    namespace = _assert_safe(graph)
    assert namespace["__doc__"].startswith(f"t: {description}\n\nGenerated by archc from t.yaml.")
    assert namespace["T"].__doc__ == description


def test_a_lone_surrogate_in_the_description_is_refused_where_it_is_written():
    # the loader refuses it (it could not be printed or written as UTF-8); the literal
    # writer still writes one as its escape, should a string ever bring one through the API
    text = spec_text([CONV], (1, 4, 4)) + 'description: "bad \\ud800 text"\n'
    with pytest.raises(archc.ArchcError) as caught:
        check_text(text)
    assert caught.value.code == "yaml-string" and caught.value.loc.line == text.count("\n")
    assert eval(py_literal("bad \ud800 text")) == "bad \ud800 text"  # noqa: S307 - our own literal


@pytest.mark.parametrize("file", ["C:\\xdir\\new\\spec.yaml", "it's \"here\".yaml", 'a"""b.yaml', "line\nbreak.yaml"])
def test_a_hostile_spec_path_is_written_as_a_literal(file):
    graph = archc.check(file, text=spec_text([CONV], (1, 4, 4)))
    namespace = _assert_safe(graph)
    assert f"Generated by archc from {file}." in namespace["__doc__"]


@pytest.mark.parametrize("layer, value", [
    ({"batch_norm2d": {"eps": math.inf}}, math.inf),
    ({"batch_norm2d": {"momentum": math.nan}}, math.nan),
    ({"leaky_relu": {"negative_slope": -math.inf}}, -math.inf),
    ({"batch_norm2d": {"eps": 1e308}}, 1e308),
    ({"leaky_relu": {"negative_slope": 1e30}}, 1e30),
    ({"leaky_relu": {"negative_slope": 5e-324}}, 5e-324),
])
def test_non_finite_and_extreme_floats_are_written_so_that_they_load(layer, value):
    graph = check_layers([CONV, layer], (1, 4, 4))
    namespace = _assert_safe(graph)
    built = namespace["build"]()[1]
    got = getattr(built, next(iter(layer[next(iter(layer))])))
    assert got == value or (math.isnan(got) and math.isnan(value))


def test_yaml_infinity_is_written_as_float_inf_not_a_bare_name():
    text = spec_text([CONV], (1, 4, 4)).replace("layers:\n", "layers:\n- batch_norm2d: {eps: .inf}\n")
    source = archc.source(check_text(text))
    assert 'eps=float("inf")' in source and "eps=inf" not in source


_CLASS_NAMES = ["ordered_dict", "OrderedDict", "chain", "Residual", "torch", "nn", "build", "merge",
                "initialise", "SliceChannels", "none", "true", "float", "value_error", "_1x", "model"]
# a network may not take a name its file would shadow (test_the_network_name_cannot_shadow_a_module)
_CASES = [(where, name) for where in ("spec", "block") for name in _CLASS_NAMES
          if where == "block" or not network_name_problem(name)]


@pytest.mark.parametrize("where, name", _CASES)
def test_class_names_never_shadow_what_the_generated_file_uses(where, name):
    body = [{"residual": {"body": [CONV]}}, {"parallel": {"branches": {"a": [CONV], "b": ["relu"]}}}]
    if where == "spec":
        graph = check_layers(body, (2, 4, 4), name=name)
    else:
        graph = check_layers([name, *body], (2, 4, 4), blocks={name: {"layers": [CONV, "relu"]}})
    namespace = _assert_safe(graph)
    assert namespace["OrderedDict"].__module__ == "collections"
    # the runtime classes this network uses (the file carries no others: test_source_helpers.py)
    assert namespace["Parallel"].__module__ == namespace["Residual"].__module__ == "generated"
    assert namespace["Residual"].forward is not None and namespace["torch"] is torch


def test_reserved_class_names_hold_what_the_file_binds_keywords_and_builtins():
    assert {"OrderedDict", "torch", "nn", "build", "merge", "initialise", "Chain", "Residual", "Parallel",
            "Dense", "SliceChannels", "annotations", "None", "True", "float", "print", "super", "model"} <= RESERVED_CLASS_NAMES


# -- names `build` could not use are refused by `check` ------------------------------------------
def test_reserved_module_names_cover_every_attribute_a_container_has():
    containers = [nn.Module(), nn.Sequential(), runtime.Chain({}, {}), runtime.Residual({}, nn.Identity(), "s", {}),
                  runtime.Parallel({}), runtime.Dense({})]
    attributes = {n for c in containers for n in (*dir(type(c)), *vars(c)) if not n.startswith("__")}
    assert attributes - {"s"} <= MODULE_ATTRIBUTES


def test_every_reserved_module_name_is_refused_by_check_and_build_would_crash_on_one():
    for name in sorted(MODULE_ATTRIBUTES):
        assert module_name_problem(name), name
    with pytest.raises((KeyError, TypeError)):
        nn.Sequential().add_module("forward", nn.ReLU())
    with pytest.raises(TypeError):  # Residual assigns self.how after registering its children
        runtime.Residual({"how": nn.ReLU()})


@pytest.mark.parametrize("name", ["forward", "training", "children", "state_dict", "add_module", "_modules",
                                  "T_destination", "dump_patches", "call_super_init", "append", "how", "wiring",
                                  "__init__", "__x", "input"])
def test_a_layer_name_that_clashes_with_module_attributes_is_refused_located(name):
    err = _refused(spec_text([{"conv2d": {"out_channels": 2, "kernel_size": 3, "name": name}}], (1, 4, 4)))
    assert err.loc.line > 1 and "state_dict" in err.hint and name in err.message


@pytest.mark.parametrize("name", ["a.b", "conv\n", "conv\r", "\nconv", "1conv", "", "conv 1", "conv\u2028", "ç", "x" * 101])
def test_a_malformed_layer_name_is_refused(name):
    _refused(spec_text([{"relu": {"name": name}}], (1, 4, 4)))


def test_a_name_given_through_a_block_parameter_is_checked_too():
    _refused(spec_text([{"named": {"n": "forward"}}], (1, 4, 4),
                       blocks={"named": {"params": {"n": "str"}, "layers": [{"relu": {"name": "$n"}}]}}))


@pytest.mark.parametrize("kind", ["repeat", "dense"])
@pytest.mark.parametrize("prefix", ["a.b", "", "1x", "x\n", "__"])
def test_a_prefix_that_gives_bad_names_is_refused(kind, prefix):
    count = "times" if kind == "repeat" else "units"
    layers = ["relu"] if kind == "repeat" else [{"conv2d": {"out_channels": 1, "kernel_size": 1}}]
    err = _refused(spec_text([{kind: {count: 2, "prefix": prefix, "layers": layers}}], (1, 4, 4)))
    assert err.loc.line > 1


@pytest.mark.parametrize("shortcut_name", ["forward", "x.y", "", "s\n", "training"])
def test_a_bad_shortcut_name_is_refused(shortcut_name):
    _refused(spec_text([{"residual": {"body": [CONV], "shortcut": [CONV], "shortcut_name": shortcut_name}}], (2, 4, 4)))


@pytest.mark.parametrize("branch", ["forward", "a.b", "1a", "b\n"])
def test_a_bad_branch_name_is_refused(branch):
    _refused(spec_text([{"parallel": {"branches": {branch: ["relu"], "ok": ["relu"]}}}], (1, 4, 4)))


@pytest.mark.parametrize("name", ["net\n", "1net", "a.b", "x" * 101, "", "ordered dict"])
def test_the_network_name_must_be_an_identifier_by_full_match(name):
    err = _refused(spec_text(["relu"], (1, 4, 4), name=name), "bad-value")
    assert "pattern" not in err.format() and "^" not in err.expected


@pytest.mark.parametrize("name", ["torch", "collections", "typing", "numpy", "__future__"])
def test_the_network_name_cannot_shadow_a_module_the_generated_file_imports(name):
    err = _refused(spec_text(["relu"], (1, 4, 4), name=name), "bad-value")
    assert f"{name}.py" in err.format()


def test_names_torch_accepts_still_build_and_match(tmp_path):
    layers = [{"conv2d": {"out_channels": 2, "kernel_size": 1, "name": "block1-0"}},
              {"residual": {"body": [{"conv2d": {"out_channels": 2, "kernel_size": 1, "name": "_conv"}}],
                            "shortcut": [CONV], "shortcut_name": "down-sample"}},
              {"repeat": {"times": 2, "prefix": "layer_", "layers": ["relu"]}}]
    _assert_safe(check_layers(layers, (2, 4, 4)))


def test_a_symbolic_input_is_refused_by_the_source_emitter_as_by_build():
    graph = check_layers([CONV], (1, "H", "W"))
    with pytest.raises(archc.ArchcError) as info:
        archc.source(graph)
    assert info.value.code == "needs-concrete-size"


def test_archc_build_writes_an_importable_file_for_a_spec_named_ordered_dict(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(spec_text([CONV, {"batch_norm2d": {"eps": math.inf}}], (1, 4, 4), name="ordered_dict",
                              description='"""\nraise SystemExit(3)\n"""'))
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["build", str(spec), "-o", str(tmp_path / "out")]) == 0
    path = tmp_path / "out" / "ordered_dict.py"
    loader = importlib.util.spec_from_file_location("ordered_dict_generated", path)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    assert module.OrderedDict.__module__ == "collections" and type(module.build()).__name__ == "OrderedDict_"


# -- the literal writer ---------------------------------------------------------------------------
@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2**200, 3**9000, -(3**9000), 0.1, -0.0, 1e308, 5e-324, math.inf, -math.inf,
    "", "'\"\\\n\x00\ud800", (), (1,), (1, 2), [], [[1.5, math.inf], [-math.inf, 0]], {"a": (math.inf, [None])},
])
def test_py_literal_writes_a_value_that_evaluates_back_to_it(value):
    text = py_literal(value)
    assert eval(text, {"__builtins__": {"float": float}}) == value  # noqa: S307 - only float is reachable


def test_py_literal_writes_nan_as_float_nan():
    assert py_literal(math.nan) == 'float("nan")' and py_literal([math.nan]) == '[float("nan")]'


@pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes", 1j, type("S", (str,), {})("x")])
def test_py_literal_refuses_anything_but_plain_data(value):
    with pytest.raises(TypeError):
        py_literal(value)


def test_a_comment_cannot_hold_a_line_break():
    assert "\n" not in comment("a\nb\rc\u2028d") and "\x00" not in comment("a\x00")


# -- the property ---------------------------------------------------------------------------------
_FRAGMENTS = st.sampled_from(['"""', "'''", '"', "'", "\\", "C:\\Users", "\\x", "\\N{", "\n", "\r", "\x00", "\t",
                              "\u2028", "#", "{", "}", "→", "import os", "\\u00e9"])
hostile_text = st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=8).map("".join)
_TRICKY_NAMES = ["OrderedDict", "ordered_dict", "torch", "nn", "build", "merge", "initialise", "chain", "Residual",
                 "float", "print", "super", "none", "true", "self", "_", "_1x", "model", "annotations", "block1-0"]
module_names = st.one_of(st.sampled_from(_TRICKY_NAMES),
                         st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,12}", fullmatch=True)).filter(lambda n: not module_name_problem(n))
class_names = st.one_of(st.sampled_from([n for n in _TRICKY_NAMES if n.isidentifier()]),
                        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True))
floats = st.one_of(st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -1e308, 5e-324, 0.0, -0.0]),
                   st.floats(allow_nan=True, allow_infinity=True))
# leaky_relu's slope becomes a float32 in forward: torch refuses finite values beyond its range
float32s = st.one_of(st.sampled_from([math.inf, -math.inf, math.nan, 1e30, 1e-45]), st.floats(width=32))


@st.composite
def hostile_specs(draw):
    names = iter(draw(st.lists(module_names, min_size=10, max_size=10, unique=True)))
    conv = lambda: {"conv2d": {"out_channels": 2, "kernel_size": 3, "padding": 1, "name": next(names)}}  # noqa: E731
    # torch refuses an eps that is not above 0 when the module runs (and so does check)
    eps = abs(draw(floats))
    layers = [conv(), {"batch_norm2d": {"eps": eps if eps > 0 else 1e-5, "momentum": draw(floats)}}]
    block = draw(class_names)
    if draw(st.booleans()):
        layers.append({"residual": {"body": [conv()], "shortcut": [conv()], "shortcut_name": next(names)}})
    if draw(st.booleans()):
        layers.append({"parallel": {"branches": {next(names): [conv()], next(names): ["relu"]}}})
    if draw(st.booleans()):
        layers.append({"repeat": {"times": 2, "prefix": next(names), "layers": [{"leaky_relu": {"negative_slope": draw(float32s)}}]}})
    layers.append(block)
    blocks = {block: {"description": draw(hostile_text), "layers": [conv(), "relu"]}}
    top = {"name": draw(class_names.filter(lambda n: not network_name_problem(n))), "description": draw(hostile_text)}
    return yaml.safe_dump({"archc": 1, **top, "input": [2, 5, 5], "blocks": blocks, "layers": layers},
                          sort_keys=False, allow_unicode=True), draw(hostile_text.filter(bool)), top


@settings(max_examples=60, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(hostile_specs())
def test_generated_source_of_any_hostile_spec_parses_imports_cleanly_and_builds_the_same_module(case):
    text, file, top = case
    graph = archc.check(file, text=text)
    namespace = _assert_safe(graph)
    # the description as YAML gave it (PyYAML's emitter can fold some line breaks)
    assert namespace["__doc__"].startswith(f"{top['name']}: {graph.description}\n\nGenerated by archc from {file}.")


def test_non_finite_init_values_are_written_so_that_they_load():
    """`init:` literals and init-function arguments are nested values: .nan and .inf inside
    them must come out as float(...) calls, and the file's module equals archc's."""
    weight = [[[[math.nan, math.inf, -math.inf], [1, 2, 3], [1, 2, 3]]], [[[0, 0, 0], [0, 0, 0], [0, 0, 0]]]]
    graph = check_layers([{"conv2d": {"out_channels": 2, "kernel_size": 3,
                                      "init": {"weight": weight, "bias": {"constant": {"val": math.nan}}}}}], (1, 4, 4))
    source = archc.source(graph)
    assert 'float("nan")' in source and 'float("-inf")' in source
    namespace = _assert_safe(graph)
    built = namespace["build"]()
    assert torch.isnan(built[0].bias).all() and torch.isinf(built[0].weight.flatten()[1])
