#!/usr/bin/env bash
# Installs archc and what it needs on a fresh machine; safe to run again.
#   scripts/setup.sh          archc, torch (CPU 2.13.0 only when no torch is present), graphviz's dot
#   scripts/setup.sh --dev    the same plus the test tools (pytest, hypothesis, chromium) and the export extras
#                             (onnx, onnxruntime, safetensors), which tests/test_export.py needs
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# torch: never let pip resolve a fresh torch (that pulls GBs of CUDA wheels); an existing
# install satisfies archc's range, and 2.13.0 is the CPU wheel this machine kind carries.
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
    "$PY" -m pip install --quiet "torch==2.13.0"
fi

# apt_install PACKAGE WHY COMMAND…: install PACKAGE with apt unless one of the commands exists
apt_install() {
    local package=$1 why=$2; shift 2
    for command in "$@"; do command -v "$command" >/dev/null 2>&1 && return 0; done
    if command -v apt-get >/dev/null 2>&1; then
        local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq && $sudo apt-get install -y -qq "$package" >/dev/null
    else
        echo "warning: $package not found; install it: $why" >&2
    fi
}

# graphviz's dot renders svg/png/pdf diagrams (dot and mermaid output work without it)
apt_install graphviz "archc renders svg/png/pdf diagrams with its dot" dot

if [ "${1:-}" = "--dev" ]; then
    # tests/test_html_viewer.py drives the interactive page in a headless chromium
    apt_install chromium "tests/test_html_viewer.py needs a headless browser" chromium chromium-browser
    "$PY" -m pip install --quiet -e ".[dev,export]"
else
    "$PY" -m pip install --quiet -e .
fi

# pyenv only puts new console scripts (archc) on PATH after a rehash
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
