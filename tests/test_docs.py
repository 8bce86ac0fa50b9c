"""Generated docs must match the code they describe."""

from __future__ import annotations

from hybridcode import docgen


def test_generated_docs_are_current():
    assert docgen.main(["--check"]) == 0, "run: python -m hybridcode.docgen"
