"""``hybrid plan``: one planner call turns a request into an architecture note and a spec.

The stable prefix (instructions, then the repository map) carries cache breakpoints, so a
second plan in the same repository reads it from Claude's prompt cache. The spec comes back as
structured output, is validated against the repository, gets one repair call when invalid, and
is routed item by item. Everything is written to ``.hybrid/plans/<plan-id>/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from hybridcode.config import Settings, load_settings
from hybridcode.errors import ContextError, SpecError, UsageError
from hybridcode.judge.toolchains import record_runners, runner_notes
from hybridcode.models.base import Block, Message, ModelRequest, Progress, estimate_tokens
from hybridcode.plan import PlannerOutput, spec_from_planner
from hybridcode.plan.render import render_plan_markdown
from hybridcode.plan.routing import (DEFAULT_THRESHOLDS, RouteDecision, route_decisions,
                                     route_spec, task_kind)
from hybridcode.plan.store import (ARCHITECTURE, META, PLAN_MD, REQUEST, PlanMeta, PlanStore,
                                   now_iso)
from hybridcode.prompts import render_prompt
from hybridcode.spec import (MAX_ITEMS, TEST_DIR, Spec, SpecIssue, render_issues, save_spec,
                             validate_spec)

if TYPE_CHECKING:
    from hybridcode.models.caller import Caller
    from hybridcode.context.repomap import RepoIndex

MAP_TOKENS = 4096
SOURCE_TOKENS = 16000  # sources of files the user named with --focus
IMPLEMENT_OVERHEAD_TOKENS = 1500  # instructions of the implementer prompt


@dataclass
class ItemEstimate:
    item_id: str
    input_tokens: int
    output_tokens: int
    cost_usd: float


@dataclass
class PlanResult:
    plan_id: str
    path: Path
    spec: Spec
    architecture: str
    meta: PlanMeta
    decisions: dict[str, RouteDecision]
    estimates: list[ItemEstimate]
    warnings: list[SpecIssue] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)


def symbol_checker(root: Path) -> Callable[[str, str], bool]:
    """``symbol_exists(file, symbol)`` for spec validation, backed by tree-sitter."""
    from hybridcode.context.languages import language_for_path
    from hybridcode.context.symbols import find_symbols, list_symbols

    cache: dict[str, list] = {}

    def exists(file: str, symbol: str) -> bool:
        language = language_for_path(file)
        path = root / file
        if language is None or not path.is_file():
            return path.is_file() and language is None  # no grammar: trust the file's presence
        if file not in cache:
            cache[file] = list_symbols(path.read_bytes(), language)
        try:
            return bool(find_symbols(cache[file], symbol))
        except ContextError:  # find_symbols raises (with close matches) when the name is absent
            return False

    return exists


def _focus_sources(root: Path, focus: list[str], index: RepoIndex) -> tuple[str, list[str]]:
    """Full sources of the files named in ``--focus`` (within a budget): only files the index
    shows, never excluded ones, and the exact bytes sent are vetted for secrets first."""
    from hybridcode.context.vetting import Vetting

    vetting = index.vetting or Vetting(root, index.digests, use_cache=False)
    visible = set(index.files)
    parts, skipped, used = [], [], 0
    for ref in focus:
        rel = Path(ref).as_posix().removeprefix("./") if not Path(ref).is_absolute() else None
        if rel is None or not (root / rel).is_file():
            continue
        if rel in index.excluded:
            skipped.append(f"{rel} ({index.excluded[rel]})")
            continue
        if rel not in visible:
            skipped.append(f"{rel} (ignored by git)")
            continue
        data = (root / rel).read_bytes()
        verdict = vetting.vet_content(rel, data)
        if verdict:
            index.excluded[rel] = verdict
            skipped.append(f"{rel} ({verdict})")
            continue
        text = data.decode("utf-8", errors="replace")
        tokens = estimate_tokens(text)
        if used + tokens > SOURCE_TOKENS:
            skipped.append(f"{rel} (over the source budget)")
            continue
        used += tokens
        parts.append(f"### {rel}\n```\n{text}\n```")
    return "\n\n".join(parts), skipped


def build_request(request: str, repo_map: str, sources: str,
                  runners: str = "") -> ModelRequest:
    """``runners``: the repository's test runners (:func:`hybridcode.judge.toolchains.
    runner_notes`), part of the repository's cached block since they change with it."""
    instructions = render_prompt("planner.md", max_items=MAX_ITEMS, test_dir=TEST_DIR)
    system = (
        Block(instructions, cache=True),
        Block("\n\n## Repository map\n\n" + repo_map + (f"\n\n{runners}" if runners else ""),
              cache=True),
    )
    user = f"## Request\n\n{request.strip()}\n"
    if sources:
        user += f"\n## Sources of the files named for this request\n\n{sources}\n"
    return ModelRequest(messages=(Message("user", user),), system=system, schema=PlannerOutput)


def _repair_request(first: ModelRequest, answer: str, issues: list[SpecIssue]) -> ModelRequest:
    repair = render_prompt("spec_repair.md", issues=render_issues(issues),
                           max_items=MAX_ITEMS)
    return ModelRequest(
        messages=(*first.messages, Message("assistant", answer), Message("user", repair)),
        system=first.system, schema=PlannerOutput)


def _check(output: PlannerOutput, plan_id: str, root: Path, overrides: dict[str, str],
           exists: Callable[[str, str], bool], history=None, thresholds=None
           ) -> tuple[Spec | None, list[SpecIssue]]:
    spec, issues = spec_from_planner(output, plan_id)
    if spec is None:
        return None, issues
    spec = route_spec(spec, overrides, history, thresholds or DEFAULT_THRESHOLDS)
    spec = record_runners(spec, root)
    return spec, validate_spec(spec, root, exists)


ROUTING = "routing.json"


def _routing_log(spec: Spec, decisions: dict[str, RouteDecision], history, thresholds) -> str:
    """Every routing decision with its reason and the evidence behind it (for audits)."""
    rows = []
    for item in spec.items:
        d = decisions[item.id]
        kind = task_kind(item)
        stats = (history or {}).get(kind)
        rows.append({"item": item.id, "kind": kind, "route": d.route, "rule": d.rule,
                     "reason": d.reason, "overridden": d.overridden, "evidence": d.evidence,
                     "history": stats.as_dict() if stats else None})
    return json.dumps({"thresholds": thresholds.model_dump(), "decisions": rows}, indent=2) + "\n"


def write_routed_plan(store: PlanStore, meta: PlanMeta, spec: Spec, architecture: str,
                      decisions: dict[str, RouteDecision], history, thresholds) -> None:
    """The files of a valid, routed spec — spec.json, routing.json, plan.md — and the item
    counts in ``meta`` (saved by the caller). ``hybrid plan`` and plans an agent wrote over MCP
    (:mod:`hybridcode.plan.authored`) write them the same way."""
    plan_id = meta.plan_id
    save_spec(spec, store.spec_path(plan_id))
    store.write_text(plan_id, ROUTING, _routing_log(spec, decisions, history, thresholds))
    store.write_text(plan_id, PLAN_MD, render_plan_markdown(spec, architecture))
    meta.items = len(spec.items)
    meta.routes = {r: sum(1 for i in spec.items if i.route == r) for r in ("local", "claude")}


def estimate_items(spec: Spec, settings: Settings, root: Path) -> list[ItemEstimate]:
    """Rough implement-step cost per item: prompt ≈ item + target file + context, output ≈ the
    item's code. Local items cost their hourly rate only; Claude items the first Claude rung."""
    from hybridcode.models.base import Usage
    from hybridcode.models.pricing import token_cost

    claude = next((s for s in settings.tiers.implementer if s.backend == "anthropic"), None)
    price = settings.price_for(claude.model) if claude else None
    out = []
    for item in spec.items:
        target = root / item.file
        size = target.stat().st_size if target.is_file() else 0
        tokens_in = (IMPLEMENT_OVERHEAD_TOKENS + estimate_tokens(item.model_dump_json())
                     + int(size / 3) // 3)  # the skeleton is about a third of the file
        tokens_out = max(300, estimate_tokens(item.signature + item.description) * 4)
        cost = 0.0
        if item.route == "claude" and price is not None:
            cost = token_cost(price, Usage(input_tokens=tokens_in, output_tokens=tokens_out))
        out.append(ItemEstimate(item.id, tokens_in, tokens_out, cost))
    return out


def make_plan(
    root: Path,
    request: str,
    *,
    focus: list[str] | None = None,
    routes: dict[str, str] | None = None,
    settings: Settings | None = None,
    map_tokens: int = MAP_TOKENS,
    on_progress: Callable[[Progress], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> PlanResult:
    from hybridcode.vcs import repo as gitrepo
    from hybridcode.context.repomap import build_index, repo_map
    from hybridcode.ledger import Ledger
    from hybridcode.ledger.history import kind_history
    from hybridcode.models.caller import Caller

    stage = on_stage or (lambda _msg: None)
    if not request.strip():
        raise UsageError("the request is empty",
                         'say what to build: hybrid plan "Add per-IP rate limiting to login" '
                         "or --file request.md")
    root = gitrepo.repo_root(root)
    base = gitrepo.head_commit(root)
    settings = settings or load_settings(root)
    focus = list(focus or [])
    routes = dict(routes or {})

    stage("mapping the repository")
    index = build_index(root)
    map_text = repo_map(index, focus=[request, *focus], tokens=map_tokens).text
    sources, skipped = _focus_sources(root, focus, index)
    exists = symbol_checker(root)

    store = PlanStore(root)
    plan_id = store.new_plan_id(request)
    model_request = build_request(request, map_text, sources, runner_notes(root))

    with Ledger.open(root) as ledger:
        run_id = ledger.start_run("plan", plan_id=plan_id, settings=settings)
        caller = Caller(settings, ledger, run_id=run_id, plan_id=plan_id, root=root)
        # Review grades and escalations of earlier plans move the routing line per task kind.
        history = kind_history(ledger)
        thresholds = settings.routing
        status = "failed"
        try:
            stage(f"planning with {settings.tiers.planner.model}")
            result = _call(caller, settings, model_request, on_progress)
            spec, issues = _check(result.parsed, plan_id, root, routes, exists, history,
                                  thresholds)
            if any(i.is_error for i in issues):
                stage(f"repairing the spec ({sum(i.is_error for i in issues)} problems)")
                repair = _repair_request(model_request, result.text, issues)
                result2 = _call(caller, settings, repair, on_progress)
                result = result2
                spec, issues = _check(result.parsed, plan_id, root, routes, exists, history,
                                  thresholds)
            output: PlannerOutput = result.parsed
            errors = [i for i in issues if i.is_error]
            meta = PlanMeta(plan_id=plan_id, created_at=now_iso(), base_commit=base,
                            title=(spec.title if spec else request.splitlines()[0])[:120],
                            planner_model=result.model)
            store.write_text(plan_id, REQUEST, request.strip() + "\n")
            store.write_text(plan_id, ARCHITECTURE, output.architecture_note.strip() + "\n")
            if errors or spec is None:
                # Keep the draft so nothing paid for is lost; a person can fix and re-check it.
                meta.status = "invalid"
                store.write_text(plan_id, "spec.invalid.json",
                                 json.dumps(output.spec_data(plan_id), indent=2) + "\n")
                if spec is not None:
                    save_spec(spec, store.spec_path(plan_id))
                meta.cost_usd = ledger.spend(run_id)
                store.save_meta(meta)
                status = "invalid"
                first = errors[0].render() if errors else "the spec is not valid"
                more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
                raise SpecError(
                    f"the planner's spec is still invalid after one repair: {first}{more}",
                    f"edit .hybrid/plans/{plan_id}/spec.json, then run: "
                    f"hybrid spec check {plan_id}")
            decisions = route_decisions(spec, routes, history, thresholds)
            write_routed_plan(store, meta, spec, output.architecture_note, decisions, history,
                              thresholds)
            meta.cost_usd = ledger.spend(run_id)
            store.save_meta(meta)
            status = "ok"
        finally:
            ledger.finish_run(run_id, status)

    warnings = [i for i in issues if not i.is_error]
    excluded = dict(index.excluded)
    for entry in skipped:
        excluded.setdefault(entry.split(" (", 1)[0], entry.split(" (", 1)[-1].rstrip(")"))
    return PlanResult(plan_id, store.dir(plan_id), spec, output.architecture_note, meta,
                      decisions, estimate_items(spec, settings, root), warnings, excluded)


def _call(caller: Caller, settings: Settings, request: ModelRequest,
          on_progress: Callable[[Progress], None] | None, step: str = "plan"):
    result = caller.call(settings.tiers.planner, request, step=step, tier="planner",
                         on_progress=on_progress)
    if not isinstance(result.parsed, PlannerOutput):  # a backend without schema support
        try:
            result.parsed = PlannerOutput.model_validate_json(result.text)
        except ValueError as exc:
            raise ContextError("the planner did not return a spec",
                               "re-run hybrid plan; if it repeats, check the planner model") from exc
    return result


__all__ = ["make_plan", "PlanResult", "ItemEstimate", "build_request", "symbol_checker", "META",
           "write_routed_plan"]
