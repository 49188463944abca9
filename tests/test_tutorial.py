"""docs/tutorial.md, docs/spec-language.md and README.md: every command on the page prints
exactly what the page shows."""
from __future__ import annotations

import pytest
from conftest import REPO, load_script

TUTORIAL = load_script("tutorial")
COMMANDS = TUTORIAL.commands((REPO / "docs" / "tutorial.md").read_text())
REFERENCE_COMMANDS = TUTORIAL.commands((REPO / "docs" / "spec-language.md").read_text())
README_COMMANDS = TUTORIAL.commands((REPO / "README.md").read_text())
DEPLOY_COMMANDS = TUTORIAL.commands((REPO / "docs" / "deploy.md").read_text())


def test_tutorial_covers_the_lecture():
    headings = [line for line in (REPO / "docs" / "tutorial.md").read_text().splitlines() if line.startswith("## ")]
    steps = ["Cross-correlation", "Padding and stride", "Channels", "1×1 convolution", "Pooling",
             "LeNet", "AlexNet", "VGG", "NiN", "GoogLeNet", "ResNet", "DenseNet"]
    assert [next(i for i, h in enumerate(headings) if step in h) for step in steps] == list(range(len(steps)))
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("command,shown", COMMANDS, ids=[c for c, _ in COMMANDS])
def test_tutorial_command_prints_what_the_page_shows(command, shown):
    assert TUTORIAL.run_command(command) == shown


def test_worked_examples_show_the_lecture_numbers():
    outputs = dict(COMMANDS)
    assert "[19 25]\n  [37 43]" in outputs["archc run specs/lecture/cross_correlation.yaml --input specs/lecture/inputs/3x3.json"]
    assert "[4 5]\n  [7 8]" in outputs["archc run specs/lecture/max_pooling.yaml --input specs/lecture/inputs/3x3.json"]
    assert "[ 56  72]\n  [104 120]" in outputs["archc run specs/lecture/multi_input_channels.yaml --input specs/lecture/inputs/2x3x3.json"]
    edge = outputs["archc run specs/lecture/edge_detector.yaml --input specs/lecture/inputs/6x8_stripe.json"]
    assert edge.count("[ 0  1  0  0  0 -1  0]") == 6


@pytest.mark.parametrize("command,shown", REFERENCE_COMMANDS, ids=[c for c, _ in REFERENCE_COMMANDS])
def test_spec_language_reference_is_current(command, shown):
    assert TUTORIAL.run_command(command) == shown


def test_kinds_reference_lists_every_kind():
    from archc.layers import KINDS

    listed = "".join(shown for _, shown in REFERENCE_COMMANDS)
    assert all(kind in listed for kind in KINDS)


@pytest.mark.parametrize("command,shown", README_COMMANDS, ids=[c for c, _ in README_COMMANDS])
def test_readme_command_prints_what_the_readme_shows(command, shown):
    assert TUTORIAL.run_command(command) == shown


@pytest.mark.parametrize("command,shown", DEPLOY_COMMANDS, ids=[c for c, _ in DEPLOY_COMMANDS])
def test_deploy_page_command_prints_what_the_page_shows(command, shown):
    assert TUTORIAL.run_command(command) == shown


def test_deploy_page_exports_files_their_runtimes_load():
    import numpy as np
    import onnxruntime
    import torch

    for command, _ in DEPLOY_COMMANDS:
        if command.startswith("archc export"):
            TUTORIAL.run_command(command)
    session = onnxruntime.InferenceSession(str(REPO / "build/deploy/resnet18.onnx"), providers=["CPUExecutionProvider"])
    assert session.run(["output"], {"input": np.zeros((3, 1, 120, 80), np.float32)})[0].shape == (3, 10)
    assert torch.export.load(REPO / "build/deploy/lenet.pt2").module()(torch.zeros(5, 1, 28, 28)).shape == (5, 10)
    assert torch.jit.load(REPO / "build/deploy/lenet.pt")(torch.zeros(5, 1, 28, 28)).shape == (5, 10)
