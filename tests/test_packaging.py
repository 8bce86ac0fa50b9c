"""The package's own metadata builds without deprecation warnings."""

from __future__ import annotations

import gc
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_pyproject_applies_without_setuptools_warnings(monkeypatch):
    setuptools = pytest.importorskip("setuptools")
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    assert int(setuptools.__version__.split(".")[0]) >= 77, "pip install -e '.[dev]'"
    monkeypatch.chdir(REPO)
    gc.collect()  # an earlier test's unclosed socket must not warn inside the block below
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), REPO / "pyproject.toml")
    # ResourceWarnings come from the garbage collector (another test's leftovers), never from
    # reading pyproject.toml.
    assert [str(w.message) for w in caught if not issubclass(w.category, ResourceWarning)] == []
    assert dist.metadata.license_expression == "MIT"
