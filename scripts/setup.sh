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

# graphviz's dot renders svg/png/pdf diagrams (dot and mermaid output work without it)
if ! command -v dot >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        $SUDO apt-get update -qq && $SUDO apt-get install -y -qq graphviz >/dev/null
    else
        echo "warning: graphviz's 'dot' not found; install it for svg/png/pdf diagrams" >&2
    fi
fi

if [ "${1:-}" = "--dev" ]; then
    # tests/test_html_viewer.py drives the interactive page in a headless chromium
    if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
        if command -v apt-get >/dev/null 2>&1; then
            SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
            $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
        else
            echo "warning: chromium not found; tests/test_html_viewer.py needs it" >&2
        fi
    fi
    "$PY" -m pip install --quiet -e ".[dev,export]"
else
    "$PY" -m pip install --quiet -e .
fi

# pyenv only puts new console scripts (archc) on PATH after a rehash
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
