"""The JSON schema of ``spec.json`` (``python -m hybridcode.spec > docs/spec.schema.json``)."""

from __future__ import annotations

from typing import Any

from hybridcode.spec.model import Spec


def spec_json_schema() -> dict[str, Any]:
    """The JSON schema of spec.json, as published in docs/spec.schema.json."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            **Spec.model_json_schema()}
