#!/usr/bin/env python3
"""archc's benchmarks: every figure is a ratio against a baseline measured in the same run.

    python bench/run.py            # all benchmarks, a markdown table on stdout
    python bench/run.py --quick    # fewer repeats

1. `archc check` (a whole process) against `python -c "import torch"`: the editor loop.
2. Forward passes of archc-built modules against the lecture's hand-written PyTorch
   (tests/lecture_nets.py), same weights, same input, interleaved repeats on this device.
   Then a dataflow network (FCN-ResNet50, run by runtime.Flow) against the same modules called
   by a forward written by hand, as torchvision writes it: the interpreter's cost.
3. Forward and forward+backward of archc-built torchvision networks against torchvision's own
   modules (same state_dict), eager and under torch.compile, batch 1 and 32; skipped, with a
   note, when torchvision is not importable.
4. ONNX Runtime running archc's exported ResNet-50 against eager torch running the module.
5. archc's static inference (expand, infer and the aliasing check of a loaded spec, in this
   process, warm) against a forward pass on the meta device of the same network, which is how
   torch-based shape tools find shapes: ResNet-152 and DenseNet-201.

    python bench/run.py --only torchvision,onnx --image-size 128    # sections 3 and 4 alone
    python bench/run.py --only static                               # section 5 alone
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))


def _process_seconds(argv: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, cwd=REPO)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_check(repeats: int) -> list[tuple[str, float, float]]:
    py = sys.executable
    rows = []
    torch_import = _process_seconds([py, "-c", "import torch"], repeats)
    for spec in ["specs/d2l/lenet.yaml", "specs/d2l/densenet.yaml", "specs/torchvision/resnet50.yaml"]:
        check = _process_seconds([py, "-m", "archc", "check", spec], repeats)
        rows.append((f"archc check {spec}", check, torch_import))
    return rows


def bench_forward(name: str, batch: int, repeats: int, device: str = "cpu") -> tuple[str, float, float]:
    import torch
    from lecture_nets import NETWORKS
    from test_specs import _copy_weights_by_position

    import archc

    torch.manual_seed(0)
    graph = archc.check(REPO / "specs" / "d2l" / f"{name}.yaml")
    ours = archc.build(graph, device=device).eval()
    theirs = NETWORKS[name]().to(device).eval()
    _copy_weights_by_position(ours, theirs)
    x = torch.randn(batch, *graph.input_shape, device=device)

    def once(model) -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        model(x)
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    with torch.no_grad():
        for _ in range(3):  # warm-up
            once(ours), once(theirs)
        ours_t, theirs_t = [], []
        for _ in range(repeats):  # interleaved, so machine noise hits both alike
            ours_t.append(once(ours))
            theirs_t.append(once(theirs))
    return (f"forward {name} (batch {batch}, {device})", statistics.median(ours_t), statistics.median(theirs_t))


def bench_dataflow(size: int, batch: int, repeats: int, device: str = "cpu") -> list:
    """A network whose dataflow runs through runtime.Flow (FCN-ResNet50: an opened backbone
    read at layer3 and layer4, two heads, two resizes to the input, a dict out) against the
    same module objects called by a forward written by hand, as torchvision writes
    FCN.forward with IntermediateLayerGetter: what the interpreter costs."""
    import torch
    from torch.nn import functional as F

    import archc

    graph = archc.check(REPO / "specs" / "segmentation" / "fcn_resnet50.yaml", input_shape=(3, size, size))
    model = archc.build(graph, device=device).eval()
    x = torch.randn(batch, 3, size, size, device=device)

    def hand_written(m=model):
        b = m.backbone
        y = b.maxpool(b.relu(b.bn1(b.conv1(x))))
        features = b.layer3(b.layer2(b.layer1(y)))
        out = F.interpolate(m.classifier(b.layer4(features)), size=x.shape[-2:], mode="bilinear", align_corners=False)
        aux = F.interpolate(m.aux_classifier(features), size=x.shape[-2:], mode="bilinear", align_corners=False)
        return {"out": out, "aux": aux}

    with torch.no_grad():
        got, want = model(x), hand_written()
        assert all(torch.equal(got[k], want[k]) for k in want)  # the same computation, or the ratio means nothing
        ours, theirs = _interleaved(_synchronised(lambda: model(x), device), _synchronised(hand_written, device),
                                    repeats)
    return [(f"forward fcn_resnet50 (dataflow, batch {batch}, {size}², {device})", ours, theirs)]


def _interleaved(first, second, repeats: int, warmup: int = 2) -> tuple[float, float]:
    """Median seconds of two callables, alternated so that machine noise hits both alike."""
    for _ in range(warmup):
        first(), second()
    a, b = [], []
    for _ in range(repeats):
        for run, times in ((first, a), (second, b)):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def _torchvision_models():
    """torchvision.models, or None when torchvision is not installed (or does not import)."""
    try:
        import torchvision.models
    except Exception:  # not installed, or its compiled ops do not match this torch
        return None
    return torchvision.models


def _synchronised(fn, device: str):
    import torch

    def run():
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
    return run


def bench_torchvision(names, batches, compiled: bool, repeats: int, size: int, device: str) -> list:
    """archc's module against torchvision's, same weights: forward (no_grad, eval) and
    forward+backward (train mode), eager and compiled."""
    import torch

    import archc

    models = _torchvision_models()
    if models is None:
        print("note: torchvision is not importable; its comparison is skipped", file=sys.stderr)
        return []
    rows = []
    for name in names:
        # ViT's position embedding fixes its input at 224²; the convolutional networks take any size
        side = 224 if name.startswith("vit") else size
        graph = archc.check(REPO / "specs" / "torchvision" / f"{name}.yaml", input_shape=(3, side, side))
        torch.manual_seed(0)
        ours = archc.build(graph, device=device)
        theirs = getattr(models, name)(weights=None).to(device)
        theirs.load_state_dict(ours.state_dict())
        for mode in ["eager", "compile"] if compiled else ["eager"]:
            a, b = (torch.compile(ours), torch.compile(theirs)) if mode == "compile" else (ours, theirs)
            for batch in batches:
                x = torch.randn(batch, 3, side, side, device=device)

                def forward(m):
                    m.eval()
                    with torch.no_grad():
                        m(x)

                def training_step(m):
                    m.train()
                    m(x).sum().backward()
                for what, step in (("forward", forward), ("forward+backward", training_step)):
                    mine, base = _interleaved(_synchronised(lambda: step(a), device),
                                              _synchronised(lambda: step(b), device), repeats)
                    rows.append((f"{what} {name} {mode} (batch {batch}, {side}², {device}) vs torchvision",
                                 mine, base))
                    _print(rows[-1:])
    return rows


def bench_onnxruntime(batches, repeats: int, size: int) -> list:
    """ONNX Runtime on the exported ResNet-50 against eager torch on the module (CPU)."""
    import torch

    try:
        import onnxruntime
    except ImportError:
        print("note: onnxruntime is not installed (pip install 'archc[export]'); its comparison is skipped",
              file=sys.stderr)
        return []
    import archc
    from archc.export import export, plan_dims

    graph = archc.check(REPO / "specs" / "torchvision" / "resnet50.yaml", input_shape=(3, size, size))
    torch.manual_seed(0)
    model = archc.build(graph).eval()
    session = onnxruntime.InferenceSession(export(graph, "onnx", model, plan_dims(graph)).data,
                                           providers=["CPUExecutionProvider"])
    rows = []
    for batch in batches:
        x = torch.randn(batch, 3, size, size)
        feed = {"input": x.numpy()}

        def eager():
            with torch.no_grad():
                model(x)
        ort, torch_t = _interleaved(lambda: session.run(["output"], feed), eager, repeats)
        rows.append((f"resnet50 onnxruntime (batch {batch}, {size}², cpu) vs eager torch", ort, torch_t))
    return rows


def _meta_model(graph, spec_path: str):
    """The network with its parameters on the meta device (shapes only, no memory): for a spec in
    specs/torchvision/, torchvision's own module when torchvision is importable (other specs
    share names with torchvision's models, e.g. d2l's resnet18, but not their layers), else
    archc's build. Returns the module and which of the two it is."""
    import torch

    import archc

    models = _torchvision_models() if spec_path.startswith("specs/torchvision/") else None
    with torch.device("meta"):
        if models is not None and hasattr(models, graph.name):
            return getattr(models, graph.name)(weights=None).eval(), "torchvision"
        return archc.build(graph).eval(), "archc's module"


def bench_static_inference(specs, repeats: int, warmup: int = 2) -> list:
    """archc.check on an already loaded spec (so YAML parsing is not counted: the meta forward
    does not parse a file either) against the forward pass of the same network on the meta
    device, with the module built once beforehand, as torchinfo-style tools run it."""
    import torch

    import archc

    rows = []
    for spec_path in specs:
        spec = archc.load(REPO / spec_path)
        graph = archc.check(spec)
        model, made_by = _meta_model(graph, spec_path)
        x = torch.empty(1, *graph.input_shape, device="meta")

        def meta_forward():
            with torch.no_grad():
                return model(x)
        # the same network on both sides, or the ratio means nothing
        found = tuple(meta_forward().shape[1:])
        if found != graph.root.out_shape:
            raise AssertionError(f"{spec_path}: the meta forward gives {found}, archc infers {graph.root.out_shape}")
        ours, base = _interleaved(lambda: archc.check(spec), meta_forward, repeats, warmup)
        rows.append((f"static inference {spec_path} vs meta-device forward ({made_by})", ours, base))
    return rows


SECTIONS = ("check", "forward", "dataflow", "torchvision", "onnx", "static")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats; torchvision eager only")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {', '.join(SECTIONS)}")
    parser.add_argument("--image-size", type=int, default=224, help="input size of the torchvision networks")
    args = parser.parse_args()
    only = set(args.only.split(","))
    repeats = 5 if args.quick else 15
    print("| measurement | archc (s) | baseline (s) | ratio |")
    print("|---|---:|---:|---:|", flush=True)
    if "check" in only:
        _print(bench_check(repeats))
    if "forward" in only:
        for name, batch in [("alexnet", 8), ("resnet18", 16), ("googlenet", 16), ("densenet", 16), ("lenet", 256)]:
            _print([bench_forward(name, batch, repeats * 2, args.device)])
    if "dataflow" in only:
        _print(bench_dataflow(128, 1, repeats * 2, args.device))
    if "torchvision" in only:
        names = ["resnet50"] if args.quick else ["resnet50", "efficientnet_b0", "convnext_tiny", "vit_b_16"]
        bench_torchvision(names, [1, 32], not args.quick, 2 if args.quick else 5, args.image_size, args.device)
    if "onnx" in only:
        _print(bench_onnxruntime([1, 32], 3 if args.quick else 10, args.image_size))
    if "static" in only:
        _print(bench_static_inference(["specs/torchvision/resnet152.yaml", "specs/torchvision/densenet201.yaml"],
                                      repeats * 2))


def _print(rows) -> None:
    """Each row as soon as it is measured: a long run that is stopped keeps what it measured."""
    for label, ours, base in rows:
        baseline = "python -c 'import torch'" if label.startswith("archc check") else \
            "hand-written" if label.startswith("forward") and " vs " not in label else ""
        shown = f"{label} vs {baseline}" if baseline else label
        print(f"| {shown} | {ours:.4f} | {base:.4f} | {ours / base:.2f} |", flush=True)

if __name__ == "__main__":
    main()
