"""The dataflow core: references by name, dotted path and position, several inputs and
outputs, multi-input and multi-output kinds, reused networks. Torch is the answer key:
every node's inferred shape, parameters and MACs are compared with the built module's, and
outputs with the same computation written by hand in torch."""
from __future__ import annotations

import copy
import pickle

import pytest
import torch
from conftest import assert_every_node_matches_torch, check_text, errors_of

import archc
from archc.graph import Flow

DATAFLOW_KINDS = {"concat", "add", "mul", "chunk", "split"}  # compared with torch here, not in test_kinds' rows

UNET = """archc: 1
name: tiny_unet
description: a two-level U-Net with a two-input decoder block and two outputs
inputs: {image: [3, 16, 16]}
blocks:
  up:
    inputs: [x, skip]
    params: {channels: int}
    layers:
      - conv_transpose2d: {out_channels: $channels, kernel_size: 2, stride: 2, from: x, name: upsample}
      - concat: {from: [-1, skip]}
      - conv2d: {out_channels: $channels, kernel_size: 3, padding: 1, name: conv}
      - relu
layers:
  - sequential:
      name: enc
      layers:
        - conv2d: {out_channels: 4, kernel_size: 3, padding: 1, name: c1}
        - relu: {name: r1}
        - max_pool2d: {kernel_size: 2, name: pool}
        - conv2d: {out_channels: 8, kernel_size: 3, padding: 1, name: c2}
        - relu: {name: r2}
  - up: {name: dec, from: [enc, enc.r1], channels: 4}
  - conv2d: {out_channels: 2, kernel_size: 1, name: head}
  - max_pool2d: {kernel_size: 2, from: head, name: small}
  - interpolate: {size_of: image, mode: bilinear, align_corners: false, name: resized}
  - chunk: {chunks: 2, from: head, name: halves}
  - mul: {from: [halves.0, halves.1], name: gated}
outputs: {out: head, resized: resized, gated: gated}
"""


@pytest.fixture(scope="module")
def unet():
    graph = check_text(UNET)
    torch.manual_seed(0)
    return graph, archc.build(graph).eval()


def _hand_written_unet(model, image):
    """The same network, written out in torch from the module's own submodules."""
    enc, dec = model.enc, model.dec
    r1 = enc.r1(enc.c1(image))
    bottom = enc.r2(enc.c2(enc.pool(r1)))
    up = dec.upsample(bottom)
    x = torch.relu(dec.conv(torch.cat([up, r1], dim=1)))
    head = model.head(x)
    resized = torch.nn.functional.interpolate(model.small(head), size=image.shape[2:], mode="bilinear",
                                              align_corners=False)
    a, b = head.chunk(2, dim=1)
    return {"out": head, "resized": resized, "gated": a * b}


def test_a_network_with_a_two_input_block_and_named_outputs_computes_the_hand_written_forward(unet):
    graph, model = unet
    image = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        ours, theirs = model(image), _hand_written_unet(model, image)
    assert list(ours) == ["out", "resized", "gated"]  # a dict, in the spec's order
    for key in theirs:
        torch.testing.assert_close(ours[key], theirs[key], rtol=0, atol=0)
    assert {k: tuple(v.shape[1:]) for k, v in ours.items()} == graph.root.out_shapes


def test_every_node_of_a_dataflow_network_agrees_with_torch(unet):
    graph, model = unet
    assert_every_node_matches_torch(graph, model=model)


def test_the_resized_output_follows_the_input_size_at_run_time(unet):
    _, model = unet
    with torch.no_grad():
        out = model(torch.randn(1, 3, 32, 24))
    assert out["resized"].shape == (1, 2, 32, 24)


def test_a_plain_chain_stays_a_sequential_and_a_dataflow_network_becomes_a_flow(unet):
    graph, model = unet
    assert isinstance(graph.root, Flow) and isinstance(graph.root.items[1], Flow)  # the network and `up`
    assert graph.root.items[0].opened  # enc.r1 is read from outside: its children run one by one
    assert type(model.enc) is torch.nn.Sequential  # … but it is still the module that names them
    assert not isinstance(check_text(UNET.replace("inputs: {image: [3, 16, 16]}", "input: [3, 16, 16]")
                                     .split("layers:\n  - sequential")[0] + "layers: [relu, relu]\n").root, Flow)


def test_generated_source_of_a_dataflow_network_builds_the_same_module(unet):
    graph, model = unet
    namespace: dict = {}
    exec(compile(archc.source(graph), "tiny_unet_generated.py", "exec"), namespace)  # noqa: S102 - our own output
    theirs = namespace["build"]().eval()
    assert list(theirs.state_dict()) == list(model.state_dict())
    theirs.load_state_dict(model.state_dict())
    image = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        for key, value in model(image).items():
            torch.testing.assert_close(theirs(image)[key], value, rtol=0, atol=0)


def test_a_built_dataflow_network_pickles_copies_and_compiles_without_graph_breaks(unet):
    _, model = unet
    image = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        want = model(image)
        for other in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
            torch.testing.assert_close(other(image)["gated"], want["gated"])
        compiled = torch.compile(model, fullgraph=True, backend="eager")
        torch.testing.assert_close(compiled(image)["resized"], want["resized"])


def test_a_network_with_two_inputs_takes_them_in_order():
    graph = check_text("""archc: 1
name: two_inputs
inputs: {rgb: [3, 8, 8], depth: [1, 8, 8]}
layers:
  - conv2d: {out_channels: 4, kernel_size: 1, from: rgb, name: a}
  - conv2d: {out_channels: 4, kernel_size: 1, from: depth, name: b}
  - add: {from: [a, b], name: fused}
outputs: [fused, a]
""")
    model = archc.build(graph).eval()
    rgb, depth = torch.randn(2, 3, 8, 8), torch.randn(2, 1, 8, 8)
    fused, a = model(rgb, depth)
    torch.testing.assert_close(fused, model.a(rgb) + model.b(depth))
    assert graph.input_shapes == {"rgb": (3, 8, 8), "depth": (1, 8, 8)}
    assert graph.root.out_shapes == {"0": (4, 8, 8), "1": (4, 8, 8)}
    assert_every_node_matches_torch(graph, model=model)


@pytest.mark.parametrize("dim,shapes", [(1, [(2, 4, 4), (3, 4, 4)]), (2, [(2, 3, 4), (2, 5, 4)]),
                                        (-1, [(2, 4, 1), (2, 4, 6)])])
def test_concat_along_any_dim_matches_torch_cat(dim, shapes):
    # two inputs of the given shapes, made by slicing and pooling one input
    graph = check_text(f"""archc: 1
name: cat
inputs: {{a: {list(shapes[0])}, b: {list(shapes[1])}}}
layers:
  - concat: {{from: [a, b], dim: {dim}}}
""")
    a, b = torch.randn(2, *shapes[0]), torch.randn(2, *shapes[1])
    out = archc.build(graph)(a, b)
    torch.testing.assert_close(out, torch.cat([a, b], dim=dim))
    assert graph.root.out_shape == tuple(out.shape[1:])


def test_mul_broadcasts_a_gate_and_add_needs_equal_shapes():
    graph = check_text("""archc: 1
name: gate
input: [4, 5, 5]
layers:
  - adaptive_avg_pool2d: {output_size: 1, name: squeeze}
  - sigmoid: {name: gate}
  - mul: {from: [input, gate]}
""")
    x = torch.randn(2, 4, 5, 5)
    torch.testing.assert_close(archc.build(graph)(x), x * torch.sigmoid(x.mean((2, 3), keepdim=True)))
    (error,) = errors_of("""archc: 1
name: bad_add
input: [4, 5, 5]
layers:
  - max_pool2d: {kernel_size: 2, name: small}
  - add: {from: [input, small]}
""")
    assert error.code == "merge-mismatch" and error.loc.line == 6


@pytest.mark.parametrize("layer,pieces", [("chunk: {chunks: 3, dim: 1, name: y}", 3),
                                          ("split: {sizes: [1, 5], dim: 2, name: y}", 2),
                                          ("chunk: {chunks: 2, dim: -1, name: y}", 2)])
def test_chunk_and_split_pieces_match_torch(layer, pieces):
    graph = check_text(f"""archc: 1
name: pieces
input: [6, 6, 4]
layers:
  - {layer}
outputs: [{", ".join(f"y.{i}" for i in range(pieces))}]
""")
    x = torch.randn(2, 6, 6, 4)
    out = archc.build(graph)(x)
    want = x.chunk(3, 1) if "chunks: 3" in layer else x.split([1, 5], 2) if "split" in layer else x.chunk(2, -1)
    assert len(out) == pieces
    for got, expected, inferred in zip(out, want, graph.root.out_shapes.values()):
        torch.testing.assert_close(got, expected)
        assert tuple(got.shape[1:]) == inferred


def test_a_reused_network_is_read_by_dotted_path_and_its_unread_head_is_kept_but_not_run(tmp_path):
    (tmp_path / "net.yaml").write_text("""archc: 1
name: small_net
input: [3, 16, 16]
params: {width: 4}
layers:
  - conv2d: {out_channels: $width, kernel_size: 3, padding: 1, name: stem}
  - sequential:
      name: stage
      layers:
        - conv2d: {out_channels: "${width * 2}", kernel_size: 3, stride: 2, padding: 1}
        - relu
  - flatten
  - linear: {out_features: 10, name: fc}
""")
    (tmp_path / "user.yaml").write_text("""archc: 1
name: user
input: [3, 16, 16]
imports: [net.yaml]
layers:
  - small_net: {name: backbone, width: 8}
  - conv2d: {out_channels: 2, kernel_size: 1, from: backbone.stage.0, name: head}
outputs: {features: backbone.stem, head: head}
""")
    graph = archc.check(tmp_path / "user.yaml")
    model = archc.build(graph).eval()
    assert [k for k in model.state_dict()][:2] == ["backbone.stem.weight", "backbone.stem.bias"]
    assert "backbone.fc.weight" in model.state_dict()  # kept: the checkpoint's keys
    called = []
    model.backbone.fc.register_forward_hook(lambda *a: called.append(True))
    x = torch.randn(2, 3, 16, 16)
    out = model(x)
    assert not called  # the unread classifier never runs
    torch.testing.assert_close(out["head"], model.head(model.backbone.stage[0](model.backbone.stem(x))))
    assert graph.root.params == sum(p.numel() for p in model.parameters())
    assert_every_node_matches_torch(graph, model=model)


def test_a_block_order_registers_modules_as_a_checkpoint_lists_them_while_running_as_written():
    graph = check_text("""archc: 1
name: ordered
input: [8, 6, 6]
blocks:
  c2f:
    order: [cv1, cv2, m]
    layers:
      - conv2d: {out_channels: 8, kernel_size: 1, name: cv1}
      - chunk: {chunks: 2, name: y}
      - conv2d: {out_channels: 4, kernel_size: 3, padding: 1, from: y.1, name: m}
      - concat: {from: [y.0, y.1, m]}
      - conv2d: {out_channels: 8, kernel_size: 1, name: cv2}
layers: [c2f]
""")
    model = archc.build(graph).eval()
    assert [k.split(".")[1] for k in model.state_dict()] == ["cv1", "cv1", "cv2", "cv2", "m", "m"]
    block = model[0] if isinstance(model, torch.nn.Sequential) else model.get_submodule("0")
    x = torch.randn(2, 8, 6, 6)
    y0, y1 = block.cv1(x).chunk(2, 1)
    torch.testing.assert_close(model(x), block.cv2(torch.cat([y0, y1, block.m(y1)], 1)))


def test_round_and_ceil_in_expressions_scale_like_ultralytics():
    graph = check_text("""archc: 1
name: scaled
input: [3, 8, 8]
params: {width: 0.25, depth: 0.33}
layers:
  - conv2d: {out_channels: "${ceil(min(64, 1024) * width / 8) * 8}", kernel_size: 1}
  - repeat: {times: "${max(round(3 * depth), 1)}", layers: [relu]}
""")
    assert graph.root.items[0].out_shape[0] == 16 and len(graph.root.items) == 2


# -- errors are located, with the names in scope --------------------------------------------------
@pytest.mark.parametrize("layers,code,line,words", [
    ("  - relu: {name: a}\n  - relu: {from: b}\n", "unknown-source", 6, "one of input, a"),
    ("  - relu: {name: a}\n  - relu: {from: -3}\n", "unknown-source", 6, "-1 … -2"),
    ("  - sequential: {name: s, layers: [relu]}\n  - relu: {from: s.c}\n", "unknown-source", 6, "s.0"),
    ("  - relu: {name: a}\n  - relu: {from: a.b}\n", "unknown-source", 6, "nothing inside it"),
    ("  - concat: {name: c}\n", "bad-from", 5, "from"),
    ("  - relu: {name: image}\n", "duplicate-name", 5, "input"),
])
def test_bad_references_are_located_errors(layers, code, line, words):
    text = "archc: 1\nname: t\ninputs: {image: [3, 8, 8]}\nlayers:\n" + layers.replace("input, a", "image, a")
    (error,) = errors_of(text)
    assert error.code == code and error.loc.line == line
    assert words.replace("input, a", "image, a") in error.format()


def test_a_block_with_two_inputs_needs_two_values():
    (error,) = errors_of("""archc: 1
name: t
input: [3, 8, 8]
blocks:
  join: {inputs: [x, y], layers: [add: {from: [x, y]}]}
layers:
  - join: {from: input}
""")
    assert error.code == "bad-from" and error.loc.line == 7 and "2 inputs (x, y)" in error.message


def test_an_inplace_layer_whose_input_a_later_reference_reads_is_refused():
    (error,) = errors_of("""archc: 1
name: t
input: [3, 8, 8]
layers:
  - sequential:
      name: s
      layers:
        - conv2d: {out_channels: 4, kernel_size: 1, name: conv}
        - relu: {inplace: true}
  - conv2d: {out_channels: 4, kernel_size: 1, from: s.conv}
  - add: {from: [-1, s]}
""")
    assert error.code == "inplace-aliases" and error.loc.line == 9


# -- the property: random DAGs with long skips, several outputs and in-place layers ---------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@st.composite
def _random_dag(draw):
    """A network of 2–7 layers on a 4×6×6 input, each reading the previous value or any
    earlier one (a long skip), merges of two earlier values, in-place ReLUs, and 1–3 of its
    values as named outputs. Returns (spec text, the same spec with every ReLU out-of-place)."""
    channels = {"input": 4}
    names = ["input"]
    lines = []
    for i in range(draw(st.integers(2, 7))):
        name = f"v{i}"
        choice = draw(st.sampled_from(["conv", "relu", "add", "concat", "chunk"]))
        source = draw(st.sampled_from(names))
        if choice == "conv":
            out = draw(st.sampled_from([2, 4]))
            lines.append(f"  - conv2d: {{out_channels: {out}, kernel_size: 1, from: {source}, name: {name}}}")
        elif choice == "relu":
            inplace = draw(st.booleans())
            out = channels[source]
            lines.append(f"  - relu: {{inplace: {str(inplace).lower()}, from: {source}, name: {name}}}")
        elif choice == "chunk" and channels[source] % 2 == 0:
            out = channels[source] // 2
            lines.append(f"  - chunk: {{chunks: 2, from: {source}, name: {name}}}")
            source = f"{name}.1"  # the second piece is a value of its own
            names.append(source)
            channels[source] = out
        else:
            other = draw(st.sampled_from(names))
            if choice == "add" and channels[other] == channels[source]:
                out = channels[source]
                lines.append(f"  - add: {{from: [{source}, {other}], name: {name}}}")
            else:
                out = channels[source] + channels[other]
                lines.append(f"  - concat: {{from: [{source}, {other}], name: {name}}}")
        names.append(name)
        channels[name] = out
    chosen = draw(st.lists(st.sampled_from(names[1:]), min_size=1, max_size=3, unique=True))
    outputs = "{" + ", ".join(f"o{i}: {name}" for i, name in enumerate(chosen)) + "}"
    text = "archc: 1\nname: dag\ninput: [4, 6, 6]\nlayers:\n" + "\n".join(lines) + f"\noutputs: {outputs}\n"
    return text, text.replace("inplace: true", "inplace: false")


@settings(max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(_random_dag())
def test_random_dags_agree_with_torch_node_by_node_and_inplace_is_refused_or_exact(dag):
    text, out_of_place = dag
    try:
        graph = check_text(text)
    except (archc.ArchcError, archc.ArchcErrors) as exc:
        errors = exc.errors if isinstance(exc, archc.ArchcErrors) else [exc]
        assert {e.code for e in errors} == {"inplace-aliases"} and "inplace: true" in text
        return
    torch.manual_seed(0)
    model = archc.build(graph).eval()
    assert_every_node_matches_torch(graph, model=model)
    torch.manual_seed(0)
    reference = archc.build(check_text(out_of_place)).eval()  # the same weights, nothing in place
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        got, want = model(x.clone()), reference(x.clone())
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=0, atol=0)


def test_the_worked_unet_of_the_spec_language_page_checks_and_runs():
    from conftest import REPO

    page = (REPO / "docs" / "spec-language.md").read_text()
    block = next(b for b in page.split("```yaml\n")[1:] if "name: tiny_unet" in b).split("```")[0]
    graph = check_text(block)
    out = archc.build(graph)(torch.randn(1, 3, 16, 16))
    assert {k: tuple(v.shape[1:]) for k, v in out.items()} == graph.root.out_shapes == {
        "out": (2, 16, 16), "resized": (2, 16, 16)}


# -- learnable tensors a block or the network owns ------------------------------------------------
OWN_PARAMETERS = """archc: 1
name: tokens
input: [3, 8, 8]
parameters:
  class_token: {shape: [1, 1, 4], batched: true}
blocks:
  scaled:
    params: {dim: int}
    parameters:
      layer_scale: {shape: ["$dim", 1, 1], init: {constant: {val: 0.5}}}
    layers:
      - conv2d: {out_channels: $dim, kernel_size: 3, padding: 1, groups: $dim, name: dw}
      - mul: {from: [-1, layer_scale]}
layers:
  - conv2d: {out_channels: 4, kernel_size: 2, stride: 2, name: proj}
  - scaled: {dim: 4, name: blk}
  - flatten: {start_dim: 2}
  - permute: {dims: [0, 2, 1]}
  - concat: {from: [class_token, -1], dim: 1, name: tokens}
"""


def test_parameters_owned_by_a_block_and_the_network_are_keys_of_their_modules_and_compute_as_written():
    graph = check_text(OWN_PARAMETERS)
    model = archc.build(graph).eval()
    # a module's own parameters come before its children's, as torchvision lists class_token first
    assert list(model.state_dict()) == ["class_token", "proj.weight", "proj.bias", "blk.layer_scale",
                                        "blk.dw.weight", "blk.dw.bias"]
    assert model.blk.layer_scale.shape == (4, 1, 1) and torch.all(model.blk.layer_scale == 0.5)
    torch.nn.init.normal_(model.class_token)
    x = torch.randn(2, 3, 8, 8)
    patches = (model.blk.dw(model.proj(x)) * model.blk.layer_scale).flatten(2).permute(0, 2, 1)
    want = torch.cat([model.class_token.expand(2, -1, -1), patches], dim=1)
    torch.testing.assert_close(model(x), want)
    assert graph.root.params == sum(p.numel() for p in model.parameters())
    assert_every_node_matches_torch(graph, model=model)


@pytest.mark.parametrize("change,code,words", [
    ("mul: {from: [-1, layer_scale]}", None, None),
    ("conv2d: {out_channels: 4, kernel_size: 1, from: layer_scale}", "bad-from", "only add or mul"),
])
def test_a_parameter_without_a_batch_dim_is_read_only_by_add_and_mul(change, code, words):
    text = OWN_PARAMETERS.replace("mul: {from: [-1, layer_scale]}", change)
    if code is None:
        check_text(text)
        return
    (error,) = errors_of(text)
    assert error.code == code and words in error.message


def test_a_batched_parameter_must_start_with_a_batch_of_one():
    (error,) = errors_of(OWN_PARAMETERS.replace("shape: [1, 1, 4], batched: true", "shape: [2, 1, 4], batched: true"))
    assert error.code == "bad-value" and error.loc.line == 5


def test_size_of_a_symbolic_input_keeps_the_output_symbolic_and_exact():
    text = """archc: 1
name: sym_seg
inputs: {image: [3, H, W]}
layers:
  - conv2d: {out_channels: 4, kernel_size: 3, stride: 2, padding: 1, name: down}
  - conv2d: {out_channels: 2, kernel_size: 1, name: head}
  - interpolate: {size_of: image, mode: bilinear, align_corners: false, name: out}
outputs: {out: out, head: head}
"""
    graph = check_text(text)
    assert str(graph.root.out_shapes["out"][1]) == "H"
    for h, w in [(33, 47), (8, 9)]:
        concrete = archc.check("t.yaml", text=text, input_shape=(3, h, w))
        out = archc.build(concrete)(torch.randn(1, 3, h, w))
        assert {k: tuple(v.shape[1:]) for k, v in out.items()} == concrete.root.out_shapes
        assert concrete.root.out_shapes["out"] == (2, h, w)


def test_a_parameter_named_like_a_python_keyword_still_gives_generated_source_that_runs():
    text = OWN_PARAMETERS.replace("layer_scale", "lambda")
    graph = check_text(text)
    model = archc.build(graph).eval()
    namespace: dict = {}
    exec(compile(archc.source(graph), "keyword_generated.py", "exec"), namespace)  # noqa: S102 - our own output
    theirs = namespace["build"]().eval()
    theirs.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(theirs(x), model(x), rtol=0, atol=0)
