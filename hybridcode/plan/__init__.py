"""The plan stage: what the planner model returns, routing, and the readable plan.

:class:`PlannerOutput` is the shape the planner fills through structured output. It is a looser
twin of :class:`hybridcode.spec.Spec`, shaped by what JSON-schema structured output accepts:

- every object forbids properties it does not list (``additionalProperties: false`` is
  mandatory);
- fields at their defaults are left out of the answer — every output token costs — and the
  tool fills them in: those fields are optional (:data:`OPTIONAL`, within the API's limit on
  optional properties per request) and carry no ``default`` keyword, which the SDK would fold
  into their descriptions; no ``null`` unions (``anyOf`` is limited per request);
- no ``minLength``/``pattern``/``minimum`` and similar constraints (not supported; the SDK
  would move them into descriptions), so the rules live in the descriptions and are enforced
  afterwards by :func:`hybridcode.spec.spec_from_data` and :func:`hybridcode.spec.validate_spec`;
- no routing fields: routing is the tool's deterministic decision, made from ``kind``,
  ``category``, ``constraints`` and ``risk``.

Descriptions are shared with the strict model, so the planner and docs/spec.md say the same.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from hybridcode.spec import (
    AcceptanceTests,
    Action,
    Category,
    Example,
    ItemKind,
    ItemSizing,
    RiskFlags,
    Spec,
    SpecIssue,
    SpecItem,
    spec_from_data,
)


def _doc(model: type[BaseModel], name: str, extra: str = "") -> str:
    description = model.model_fields[name].description or ""
    return f"{description} {extra}".strip()


class _Planner(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlannerExample(_Planner):
    # No note: every output token costs, and a case that needs explaining is a requirement.
    input: str = Field(description=_doc(Example, "input"))
    expected: str = Field(description=_doc(Example, "expected"))


class PlannerTests(_Planner):
    path: str = Field(default_factory=str, description=_doc(AcceptanceTests, "path"))
    code: str = Field(description=_doc(AcceptanceTests, "code"))


class PlannerRisk(_Planner):
    """Kept for readers of the flag descriptions; the planner answers with the raised names
    only (``PlannerItem.risk``), which costs a fraction of four booleans per item."""

    security_sensitive: bool = Field(description=_doc(RiskFlags, "security_sensitive"))
    cross_file: bool = Field(description=_doc(RiskFlags, "cross_file"))
    multi_step_reasoning: bool = Field(description=_doc(RiskFlags, "multi_step_reasoning"))
    broad_knowledge: bool = Field(description=_doc(RiskFlags, "broad_knowledge"))


RiskName = Literal["security_sensitive", "cross_file", "multi_step_reasoning", "broad_knowledge"]
_RISK_HELP = "The risk flags that are true, by name (empty when none): " + " ".join(
    f"`{name}`: {PlannerRisk.model_fields[name].description}" for name in get_args(RiskName))


class PlannerItem(_Planner):
    """One item; the sizing comes before the rest: the planner estimates what the item costs
    both ways, then writes either its spec (delegated) or its code (written in the plan)."""

    id: str = Field(description=_doc(SpecItem, "id"))
    title: str = Field(description=_doc(SpecItem, "title"))
    kind: ItemKind = Field(description=_doc(SpecItem, "kind"))
    category: Category = Field(description=_doc(SpecItem, "category"))
    file: str = Field(description=_doc(SpecItem, "file"))
    symbol: str = Field(default_factory=str, description=_doc(SpecItem, "symbol"))
    action: Action = Field(description=_doc(SpecItem, "action"))
    code_tokens: int = Field(description=_doc(ItemSizing, "code_tokens"))
    spec_tokens: int = Field(description=_doc(ItemSizing, "spec_tokens"))
    signature: str = Field(default_factory=str, description=_doc(SpecItem, "signature"))
    description: str = Field(description=_doc(SpecItem, "description"))
    requirements: list[str] = Field(default_factory=list,
                                    description=_doc(SpecItem, "requirements"))
    constraints: list[str] = Field(default_factory=list,
                                   description=_doc(SpecItem, "constraints"))
    examples: list[PlannerExample] = Field(default_factory=list,
                                           description=_doc(SpecItem, "examples"))
    example_setup: str = Field(default_factory=str, description=_doc(SpecItem, "example_setup"))
    tests: PlannerTests = Field(default_factory=lambda: PlannerTests(code=""),
                                description=_doc(SpecItem, "tests"))
    code: str = Field(default_factory=str, description=_doc(SpecItem, "code"))
    context: list[str] = Field(default_factory=list, description=_doc(SpecItem, "context"))
    under_test: str = Field(default_factory=str, description=_doc(SpecItem, "under_test",
                                                                  "Only for a test item."))
    document: list[str] = Field(default_factory=list, description=_doc(SpecItem, "document"))
    like: str = Field(default_factory=str, description=_doc(SpecItem, "like"))
    depends_on: list[str] = Field(default_factory=list, description=_doc(SpecItem, "depends_on"))
    risk: list[RiskName] = Field(default_factory=list, description=_RISK_HELP)


class PlannerSpec(_Planner):
    title: str = Field(description=_doc(Spec, "title"))
    summary: str = Field(default_factory=str, description=_doc(Spec, "summary"))
    items: list[PlannerItem] = Field(description=_doc(Spec, "items"))


class PlannerOutput(_Planner):
    """The planner's answer: the design first, then the items that carry it out."""

    architecture_note: str = Field(
        description="Markdown. The design in a page or two, written before the items: the "
        "approach and why, the modules and data flow, the existing patterns and helpers to "
        "follow (by file and name), error handling, what stays out of scope, risks.",
    )
    spec: PlannerSpec = Field(description="The function-level spec that carries out the design.")

    def spec_data(self, plan_id: str | None = None) -> dict[str, Any]:
        """The strict spec's JSON shape: empty strings become absent values."""
        items = []
        for item in self.spec.items:
            data = item.model_dump(exclude={"examples", "tests", "symbol", "code", "risk",
                                            "under_test", "like", "code_tokens", "spec_tokens"})
            data["sizing"] = {"code_tokens": item.code_tokens, "spec_tokens": item.spec_tokens}
            data["risk"] = {name: name in item.risk for name in get_args(RiskName)}
            data["symbol"] = item.symbol.strip() or None
            data["examples"] = [{"input": e.input, "expected": e.expected}
                                for e in item.examples]
            data["code"] = item.code if item.code.strip() else None
            data["under_test"] = item.under_test.strip() or None
            data["like"] = item.like.strip() or None
            data["tests"] = ({"code": item.tests.code, "path": item.tests.path.strip() or None}
                             if item.tests.code.strip() else None)
            items.append(data)
        return {"plan_id": plan_id, "title": self.spec.title, "summary": self.spec.summary,
                "items": items}


def spec_from_planner(output: PlannerOutput,
                      plan_id: str | None = None) -> tuple[Spec | None, list[SpecIssue]]:
    """Convert the planner's answer into a strict :class:`Spec`, or the issues that prevent it."""
    return spec_from_data(output.spec_data(plan_id))


def _strict(node: Any) -> Any:
    """Inline ``$ref``s and drop pydantic's ``title`` annotations (noise for the model)."""
    defs: dict[str, Any] = {}

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "$ref" in value:
            target = walk(defs[value["$ref"].rsplit("/", 1)[-1]])
            extra = {k: v for k, v in value.items() if k != "$ref"}
            return {**target, **walk(extra)}
        out: dict[str, Any] = {}
        for key, sub in value.items():
            if key == "title" and isinstance(sub, str):
                continue
            if key == "properties":
                out[key] = {name: walk(schema) for name, schema in sub.items()}
            else:
                out[key] = walk(sub)
        if out.get("type") == "object":
            out["additionalProperties"] = False
        return out

    defs.update(node.pop("$defs", {}))
    return walk(node)


def planner_output_schema() -> dict[str, Any]:
    """The JSON schema for the planner call: self-contained (no ``$ref``) and strict-ready."""
    return _strict(PlannerOutput.model_json_schema())


__all__ = [
    "PlannerExample",
    "PlannerItem",
    "PlannerOutput",
    "PlannerRisk",
    "PlannerSpec",
    "PlannerTests",
    "planner_output_schema",
    "spec_from_planner",
]
