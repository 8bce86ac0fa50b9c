"""The structured results of the MCP tools: each tool's output schema is one of these models.

Field descriptions are what the calling model reads to act on a result, so they say what a
value means and, where it matters, what to do with it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class _Result(BaseModel):
    pass


# ---------------------------------------------------------------------------- map

class ExcludedFile(_Result):
    path: str
    reason: str = Field(description="Why it is not shown (ignored, binary, secrets, ...).")


class RepoMapResult(_Result):
    map: str = Field(description="Ranked signatures of the repository, file by file.")
    tokens_used: int
    tokens_budget: int
    files_shown: list[str] = Field(description="Files in the map, best-ranked first.")
    definitions: int = Field(description="Definitions shown.")
    files_total: int
    excluded: list[ExcludedFile] = Field(
        description="Files left out and why; never send their content to a model.")


# ---------------------------------------------------------------------------- spec

class Issue(_Result):
    item: str | None = Field(description="The spec item id, or null (see index).")
    index: int | None = Field(description="0-based position of the item when its id is "
                              "unusable; null for the spec as a whole.")
    field: str = Field(description="The field with the problem, e.g. `tests.code`.")
    message: str
    severity: Literal["error", "warning"]


class SpecCheckResult(_Result):
    ok: bool = Field(description="True when there is no error (warnings may remain).")
    plan_id: str | None = Field(description="The plan checked, or null for a spec not yet "
                                "turned into a plan.")
    items: int | None = Field(description="Items in the spec, or null when it did not parse.")
    issues: list[Issue] = Field(description="Every problem, naming the item and field; fix "
                                "the errors and check again.")


# ---------------------------------------------------------------------------- plan

class PlannedItem(_Result):
    id: str
    kind: str
    target: str = Field(description="`file::symbol`, or the file alone.")
    route: Literal["local", "claude"]
    rule: str = Field(description="The routing rule that decided the route.")
    reason: str = Field(description="Why the item got its route.")
    overridden: bool = Field(description="True when the route came from the `routes` argument.")
    depends_on: list[str]
    estimated_input_tokens: int
    estimated_output_tokens: int


class PlanCreated(_Result):
    plan_id: str = Field(description="Pass it to implement, prepare_review and status.")
    path: str = Field(description="The plan folder (spec.json, plan.md, routing.json, ...).")
    title: str
    items: list[PlannedItem]
    routes: dict[str, int] = Field(description="How many items go local and to Claude.")
    warnings: list[Issue]
    notes: list[str]


# ---------------------------------------------------------------------------- implement

class ItemResult(_Result):
    id: str
    state: Literal["passed", "failed", "skipped", "could_not_run", "pending",
                   "not_selected"] = Field(
        description="`passed`: its acceptance tests pass; `failed`: every rung failed "
        "(see test_output); `skipped`: a dependency did not pass; `could_not_run`: its tests "
        "could not start here (error gives the cause and the fix: the environment's problem, "
        "not the model's; call implement again with resume=true once fixed); `pending`: not "
        "finished "
        "(budget or cancelled: call implement again with resume=true); `not_selected`: not "
        "among the requested items.")
    model: str = Field(description="The rung that produced the current code, e.g. "
                       "`ollama:qwen2.5-coder:32b`.")
    attempts: int = Field(description="Attempts made in this run.")
    tokens: int = Field(description="Local-model tokens (input + output) of this run.")
    elapsed_s: float
    error: str | None = Field(description="One line on why it did not pass.")
    test_output: str | None = Field(description="The trimmed output of the last failed "
                                    "attempt (test, syntax or placement), as the model saw it.")


class DiffResult(_Result):
    sha256: str = Field(description="SHA-256 of the exact diff: a review binds to it.")
    files: list[str]
    text: str = Field(description="The unified diff (may be cut, see truncated).")
    truncated: bool = Field(description="True when text was cut to fit; read the files in "
                            "the worktree for the rest.")
    withheld: str | None = Field(description="Why the text is not shown (a secret in the "
                                 "added lines), else null.")


class ImplementOutcome(_Result):
    plan_id: str
    status: Literal["implemented", "failed", "could_not_run", "budget", "interrupted"] = Field(
        description="`implemented`: every item passed; `failed`: some item did not pass or "
        "was not run; `could_not_run`: nothing failed, but the tests could not start here "
        "(see the items' error for the fix); `budget`: stopped before crossing the Claude "
        "budget.")
    items: list[ItemResult]
    diff: DiffResult | None = Field(description="The worktree's diff against the plan's base, "
                                    "or null when nothing changed.")
    worktree: str
    branch: str
    local_tokens: int
    claude_usd: float = Field(description="What hybrid's own Claude rung spent (0 unless the "
                              "user configured one).")
    wall_s: float
    messages: list[str]
    next: str = Field(description="What to do next.")


# ---------------------------------------------------------------------------- review

class Check(_Result):
    name: str
    ok: bool
    blocking: bool = Field(description="A blocking check that fails blocks the approval, "
                           "whatever the review says.")
    skipped: bool
    summary: str
    findings: list[dict[str, Any]] = Field(description="{file, line, message} each.")
    details: str = Field(description="Trimmed tool output.")


class ChecklistEntry(_Result):
    id: str
    question: str


class ReviewPacket(_Result):
    plan_id: str
    diff_sha256: str = Field(description="Pass it back to submit_review unchanged.")
    checklist_version: str
    blocked: bool = Field(description="True when a deterministic check failed: no approval "
                          "is possible until the code changes.")
    checks: list[Check]
    checklist: list[ChecklistEntry] = Field(
        description="Answer every entry, in order, in the verdict's checklist.")
    spec_items: list[dict[str, Any]] = Field(description="The spec items the diff implements.")
    architecture: str
    diff: DiffResult
    verdict_schema: dict[str, Any] = Field(
        description="The JSON schema submit_review's verdict must match (the same as the "
        "built-in reviewer's).")
    instructions: str = Field(description="How to review: the reviewer's own instructions.")


class ReviewDecision(_Result):
    plan_id: str
    decision: Literal["approved", "changes_requested", "blocked"]
    approved: bool
    review_id: str
    diff_sha256: str
    reviewer: str = Field(description="Who the approval names (the calling agent).")
    notes: list[str] = Field(description="Why the decision differs from the verdict, if it "
                             "does.")
    next: str


# ---------------------------------------------------------------------------- status, stats

class StatusResult(_Result):
    plans: list[dict[str, Any]] = Field(description="Every plan with its state, newest first "
                                        "(empty when a plan was named).")
    plan: dict[str, Any] | None = Field(description="The named plan with each item's state.")


class SavingEstimate(_Result):
    estimated: Literal[True] = Field(default=True, description="Always true: the calling "
                                     "agent's tokens are invisible to hybrid.")
    model: str = Field(description="The Claude model whose price the estimate uses.")
    plans: int = Field(description="Plans the calling agent wrote (planner `agent:...`).")
    code_tokens: int = Field(description="Tokens of the code the local model wrote that "
                             "passed: what Claude would have written itself.")
    spec_tokens: int = Field(description="Tokens of the specs and architecture notes the "
                             "agent wrote instead.")
    review_tokens: int = Field(description="Tokens of the diffs the agent read to review.")
    direct_usd: float = Field(description="Claude writing the code directly (code tokens at "
                              "the output price).")
    hybrid_usd: float = Field(description="The agent's share with hybrid (spec at the output "
                              "price, diff at the input price) plus local running cost.")
    saving_usd: float = Field(description="direct_usd - hybrid_usd (an estimate).")
    basis: str


class StatsResult(_Result):
    ledger: dict[str, Any] = Field(description="The calls hybrid made itself, as `hybrid "
                                   "stats --json` reports them.")
    agent_estimate: SavingEstimate
