"""docs/errors.md is complete and true: every code archc raises is registered, has an
example that produces it (with a location), and the page shows today's exact messages."""
from __future__ import annotations

import re

import pytest
from conftest import REPO, load_script

from archc.errors import CODES

CATALOGUE = load_script("errors_doc")
# errors about a whole file or the command line rather than a place in the YAML
WITHOUT_POSITION = {"unknown-format", "unknown-focus", "graphviz-missing", "graphviz-timeout", "unknown-layer", "device-unavailable",
                    "output-failed"}


def _codes_raised_in_source() -> set[str]:
    pattern = re.compile(
        r'(?:ArchcError|ShapeError|ExprError|self\.fail|self\.error|self\.stop)\(\s*(?:\w+,\s*)?"([a-z0-9]+(?:-[a-z0-9]+)*)"', re.S)
    return {m.group(1) for path in (REPO / "archc").rglob("*.py") for m in pattern.finditer(path.read_text())}


def test_every_code_raised_is_registered_and_every_registered_code_is_raised():
    assert _codes_raised_in_source() == set(CODES)


def test_every_code_has_an_example_or_a_reason():
    assert set(CATALOGUE.EXAMPLES) == set(CODES)
    assert {c for c, e in CATALOGUE.EXAMPLES.items() if e is None} == set(CATALOGUE._WHY_NOT)


@pytest.mark.parametrize("code", [c for c, e in CATALOGUE.EXAMPLES.items() if e is not None])
def test_catalogue_example_gives_its_code_at_a_location(code):
    _, _, err = CATALOGUE.run(code)
    first = err.splitlines()[0]
    assert f"error[{code}]" in first
    assert "Traceback" not in err
    if code not in WITHOUT_POSITION:
        assert re.match(r"^(spec\.yaml|x\.json|w\.pt):\d+:\d+: error\[", first), first


def test_error_catalogue_page_is_current():
    assert (REPO / "docs" / "errors.md").read_text() == CATALOGUE.page(), "run python scripts/errors_doc.py"
