"""Older spec files brought up to the current format on load."""

from __future__ import annotations

import json
from typing import Any

from hybridcode.spec.model import SPEC_VERSION

# Versions this hybrid reads; older ones are migrated on load (see migrate).
READABLE_VERSIONS = (1, 2)


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring an older spec's data up to :data:`SPEC_VERSION` (a copy; the input is untouched).

    1 → 2: examples became tests. Version 1 examples were documentation (some are prose,
    such as "third login within 60 s"), so they are kept with ``run: false``; their items'
    ``tests.code`` still judge them.
    """
    version = data.get("spec_version", SPEC_VERSION)
    if version == SPEC_VERSION:
        return data
    data = json.loads(json.dumps(data))
    if version == 1:
        for item in data.get("items") or []:
            if isinstance(item, dict) and isinstance(item.get("examples"), list):
                for example in item["examples"]:
                    if isinstance(example, dict):
                        example.setdefault("run", False)
        data["spec_version"] = 2
    return data
