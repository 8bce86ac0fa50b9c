"""Plan folders: ``.hybrid/plans/<plan-id>/`` with request, architecture, spec, plan and meta.

The stages talk through these files (and the ledger), not through each other's internals:
``plan`` writes them, a person may edit ``spec.json``, ``implement`` and ``review`` read them.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from hybridcode.errors import PlanNotFoundError, UsageError
from hybridcode.fsutil import atomic_write_json, atomic_write_text, read_json

PLANS = Path(".hybrid") / "plans"

REQUEST = "request.md"
ARCHITECTURE = "architecture.md"
SPEC = "spec.json"
INVALID_SPEC = "spec.invalid.json"  # a draft that did not validate, kept for a person to fix
PLAN_MD = "plan.md"
META = "meta.json"


@dataclass
class PlanMeta:
    plan_id: str
    created_at: str
    base_commit: str
    title: str
    status: str = "planned"  # planned | invalid | implementing | implemented | approved | committed
    planner_model: str = ""
    items: int = 0
    cost_usd: float | None = None
    routes: dict[str, int] = field(default_factory=dict)
    updated_at: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> PlanMeta:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def slugify(text: str, max_len: int = 40) -> str:
    """Whole words only, up to ``max_len`` characters: ``add-per-ip-rate-limiting-to-login``."""
    slug = ""
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_len:
            break
        slug = candidate
    return slug or "plan"


class PlanStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.base = root / PLANS

    def new_plan_id(self, request: str) -> str:
        """``YYMMDD-<slug>``: sorts by day, reads as what it is; ``-2``, ``-3`` on collisions."""
        stem = f"{datetime.now(timezone.utc):%y%m%d}-{slugify(request.splitlines()[0])}"
        candidate, n = stem, 1
        while (self.base / candidate).exists():
            n += 1
            candidate = f"{stem}-{n}"
        return candidate

    def dir(self, plan_id: str) -> Path:
        return self.base / plan_id

    def plan_ids(self) -> list[str]:
        if not self.base.is_dir():
            return []
        return sorted(p.name for p in self.base.iterdir() if (p / META).is_file())

    def resolve(self, ref: str | None) -> str:
        """A plan id from an exact id, a unique prefix, or ``None``/``latest`` for the newest."""
        ids = self.plan_ids()
        if not ids:
            raise PlanNotFoundError("no plans in this repository yet",
                                    'create one with: hybrid plan "what you want built"',
                                    ref=ref, none_yet=True)
        if ref in (None, "", "latest"):
            return max(ids, key=lambda i: self.meta(i).created_at)
        if ref in ids:
            return ref
        matches = [i for i in ids if i.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise UsageError(f"plan {ref!r} is ambiguous: {', '.join(matches[:5])}",
                             "give more of the id")
        raise PlanNotFoundError(f"no plan {ref!r}", "list plans with: hybrid status", ref=ref,
                                none_yet=False)

    def meta(self, plan_id: str) -> PlanMeta:
        return PlanMeta.from_dict(read_json(self.dir(plan_id) / META))

    def save_meta(self, meta: PlanMeta) -> None:
        meta.updated_at = now_iso()
        atomic_write_json(self.dir(meta.plan_id) / META, asdict(meta))

    def write_text(self, plan_id: str, name: str, text: str) -> Path:
        path = self.dir(plan_id) / name
        atomic_write_text(path, text)
        return path

    def read_text(self, plan_id: str, name: str) -> str:
        return (self.dir(plan_id) / name).read_text(encoding="utf-8")

    def spec_path(self, plan_id: str) -> Path:
        return self.dir(plan_id) / SPEC

    def state(self, plan_id: str) -> dict:
        """Per-item state written by later stages (``state.json``); empty when none yet."""
        path = self.dir(plan_id) / "state.json"
        try:
            return read_json(path)
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError:
            return {}
