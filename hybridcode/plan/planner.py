"""``hybrid plan``: one planner call turns a request into an architecture note and a spec.

The system prompt is the plan's shared stable prefix (hybridcode.plan.prefix: every role's
instructions, the spec's schema, the repository map), stored so that the implement and review
stages send the same bytes: every Claude call after this one reads it from the prompt cache.
The repository map is sized so that the prefix clears the models' minimum cacheable length. The spec comes back as
structured output, is validated against the repository, gets one repair call when invalid, and
is routed item by item. Everything is written to ``.hybrid/plans/<plan-id>/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from hybridcode.config import Settings, load_settings
from hybridcode.errors import (BudgetExceededError, ContextError, HybridError, ModelError,
                               OutputFormatError, SpecError, UsageError)
from hybridcode.judge.toolchains import record_runners, runner_notes
from hybridcode.models.base import Message, ModelRequest, Progress, estimate_tokens
from hybridcode.models.credentials import require_credentials
from hybridcode.plan import PlannerOutput, spec_from_planner
from hybridcode.plan.prefix import REPO_MAP, map_budget
from hybridcode.plan.render import render_plan_markdown
from hybridcode.plan.routing import (DEFAULT_THRESHOLDS, RouteDecision, route_decisions,
                                     route_spec, task_kind)
from hybridcode.plan.store import (ARCHITECTURE, INVALID_SPEC, META, PLAN_MD, REQUEST, SPEC,
                                   PlanMeta, PlanStore, now_iso)
from hybridcode.prompts import render_prompt
from hybridcode.spec import (MAX_ITEMS, Spec, SpecIssue, render_issues, save_spec,
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
    delegation: str = ""  # the request's one-line delegation decision (plan.sizing)


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


def delegation_note(history=None, thresholds=None, price=None) -> str:
    """The planner's delegation rule for this repository: the local acceptance rate per task
    kind (the ledger's history with the prior) solved into "write a spec only when code_tokens
    ≥ a × spec_tokens + b". In the planner's own message: it changes with the history, and the
    shared prefix must not."""
    from hybridcode.plan.sizing import acceptance, rule_of_thumb

    t = thresholds or DEFAULT_THRESHOLDS

    def rule(rate: float) -> str:
        solved = rule_of_thumb(rate, t, price)
        if solved is None:
            return "never (write the code)"
        return f"code_tokens ≥ {solved[0]:.1f} × spec_tokens + {solved[1]}"

    lines = ["## Delegation", "",
             f"Local acceptance: {t.local_prior_rate:.0%} (prior) for every task kind "
             f"(`category/kind`) unless listed. Write an item's spec only when "
             f"{rule(t.local_prior_rate)}; otherwise write its code."]
    for kind, stats in sorted((history or {}).items()):
        if stats.local_uses:
            p = acceptance(stats, t)
            lines.append(f"- `{kind}`: {p.rate:.0%} ({p.source}): {rule(p.rate)}")
    return "\n".join(lines) + "\n"


def build_request(request: str, repo_map: str, sources: str,
                  runners: str = "", delegation: str = "") -> ModelRequest:
    """``runners``: the repository's test runners (:func:`hybridcode.judge.toolchains.
    runner_notes`); ``delegation``: :func:`delegation_note`. They go in the planner's own
    message, not the shared prefix, so every Claude call of the plan keeps reading the same
    cached bytes."""
    from hybridcode.plan.prefix import role_block, shared_prefix

    system = (*shared_prefix(repo_map), role_block("planner"))
    user = f"## Request\n\n{request.strip()}\n"
    if runners:
        user += f"\n{runners}\n"
    if delegation:
        user += f"\n{delegation}"
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
           exists: Callable[[str, str], bool], history=None, thresholds=None, price=None
           ) -> tuple[Spec | None, list[SpecIssue]]:
    spec, issues = spec_from_planner(output, plan_id)
    if spec is None:
        return None, issues
    spec = route_spec(spec, overrides, history, thresholds or DEFAULT_THRESHOLDS, price)
    spec = record_runners(spec, root)
    return spec, validate_spec(spec, root, exists)


ROUTING = "routing.json"


def delegation_line(spec: Spec, decisions: dict[str, RouteDecision]) -> str:
    """The request's one-line delegation decision, from the items' sizing figures."""
    from hybridcode.plan.sizing import Acceptance, Sizing, request_line

    sizings: dict[str, Sizing | None] = {}
    for item in spec.items:
        s = decisions[item.id].evidence.get("sizing") if item.id in decisions else None
        sizings[item.id] = None if s is None else Sizing(
            s["code_tokens"], s["spec_tokens"], Acceptance(s["acceptance"]["rate"], 0, 0),
            s["code_usd"], s["spec_usd"], s["escalation_usd"], s["saving_usd"], s["margin_usd"])
    return request_line(spec, sizings)


def _routing_log(spec: Spec, decisions: dict[str, RouteDecision], history, thresholds) -> str:
    """Every routing decision with its reason and the evidence behind it (for audits), and
    the request's delegation line."""
    rows = []
    for item in spec.items:
        d = decisions[item.id]
        kind = task_kind(item)
        stats = (history or {}).get(kind)
        rows.append({"item": item.id, "kind": kind, "route": d.route, "rule": d.rule,
                     "reason": d.reason, "overridden": d.overridden, "evidence": d.evidence,
                     "history": stats.as_dict() if stats else None})
    return json.dumps({"thresholds": thresholds.model_dump(),
                       "request": delegation_line(spec, decisions), "decisions": rows},
                      indent=2) + "\n"


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
    meta.routes = {r: sum(1 for i in spec.items if i.route == r)
                   for r in ("local", "claude", "plan")}


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
    # Before the map and the SDK (seconds): a missing key is known from the settings alone.
    require_credentials(settings.tiers.planner, settings)
    focus = list(focus or [])
    routes = dict(routes or {})

    stage("mapping the repository")
    index = build_index(root)
    map_text = repo_map(index, focus=[request, *focus],
                        tokens=map_budget(settings, map_tokens)).text
    sources, skipped = _focus_sources(root, focus, index)
    exists = symbol_checker(root)

    store = PlanStore(root)
    plan_id = store.new_plan_id(request)
    price = settings.price_for(settings.tiers.planner.model)

    with Ledger.open(root) as ledger:
        run_id = ledger.start_run("plan", plan_id=plan_id, settings=settings)
        caller = Caller(settings, ledger, run_id=run_id, plan_id=plan_id, root=root)
        # Review grades and escalations of earlier plans move the routing line per task kind.
        history = kind_history(ledger)
        thresholds = settings.routing
        model_request = build_request(request, map_text, sources, runner_notes(root),
                                      delegation_note(history, thresholds, price))
        status = "failed"
        draft = _Draft(store, plan_id, request, base, settings.tiers.planner.model)
        try:
            stage(f"planning with {settings.tiers.planner.model}")
            try:
                result = _call(caller, settings, model_request, on_progress,
                               extra={"context_tokens": context_tokens(request, map_text,
                                                                       sources)})
            except OutputFormatError as exc:
                # Paid for, but not the shape of a plan: keep it for a person to fix.
                status = "invalid"
                raise draft.keep_unusable(exc, ledger.spend(run_id)) from exc
            spec, issues = _check(result.parsed, plan_id, root, routes, exists, history,
                                  thresholds, price)
            if any(i.is_error for i in issues):
                stage(f"repairing the spec ({sum(i.is_error for i in issues)} problems)")
                repair = _repair_request(model_request, result.text, issues)
                try:
                    result = _call(caller, settings, repair, on_progress)
                except (ModelError, BudgetExceededError) as exc:
                    # The first draft was paid for and is nearly valid: keep it, and the
                    # repair's answer when there was one.
                    status = "invalid"
                    raise draft.keep_repair_failure(result, spec, issues, exc,
                                                    ledger.spend(run_id)) from exc
                spec, issues = _check(result.parsed, plan_id, root, routes, exists, history,
                                      thresholds, price)
            output: PlannerOutput = result.parsed
            errors = [i for i in issues if i.is_error]
            meta = draft.meta(spec, result.model)
            draft.write_request(output.architecture_note)
            store.write_text(plan_id, REPO_MAP, map_text)
            if errors or spec is None:
                # Keep the draft so nothing paid for is lost; a person can fix and re-check it.
                status = "invalid"
                edit = draft.keep_invalid(output, spec, meta, ledger.spend(run_id))
                first = errors[0].render() if errors else "the spec is not valid"
                more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
                raise SpecError(
                    f"the planner's spec is still invalid after one repair: {first}{more}",
                    f"edit .hybrid/plans/{plan_id}/{edit}, then run: "
                    f"hybrid spec check {plan_id}")
            decisions = route_decisions(spec, routes, history, thresholds, price)
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
                      decisions, estimate_items(spec, settings, root), warnings, excluded,
                      delegation_line(spec, decisions))


def context_tokens(request: str, repo_map: str, sources: str) -> int:
    """The repository context the planner read — the request, the map and the named files'
    sources, not hybrid's own instructions and schema — at the direct floor's convention:
    what Claude implementing the request itself would read (docs/costs.md)."""
    from hybridcode.models.pricing import floor_tokens

    return floor_tokens(request.strip() + "\n" + repo_map + sources)


def _call(caller: Caller, settings: Settings, request: ModelRequest,
          on_progress: Callable[[Progress], None] | None, step: str = "plan",
          extra: dict | None = None):
    result = caller.call(settings.tiers.planner, request, step=step, tier="planner",
                         on_progress=on_progress, extra=extra)
    if not isinstance(result.parsed, PlannerOutput):  # a backend without schema support
        try:
            result.parsed = PlannerOutput.model_validate_json(result.text)
        except ValueError as exc:
            raise OutputFormatError("the planner did not return a spec",
                                    "re-run hybrid plan; if it repeats, check the planner model",
                                    raw=result.text) from exc
    return result


class _Draft:
    """Writes what a planner call paid for into the plan folder, whatever shape it has:
    ``spec.invalid.json`` (the draft a person can fix and ``hybrid spec check``), and the raw
    answers when they are not a plan at all (``planner-answer-N.txt``)."""

    def __init__(self, store: PlanStore, plan_id: str, request: str, base: str,
                 model: str) -> None:
        self.store, self.plan_id, self.request, self.base = store, plan_id, request, base
        self.model = model
        self.folder = f".hybrid/plans/{plan_id}"

    def meta(self, spec: Spec | None, model: str | None = None) -> PlanMeta:
        return PlanMeta(plan_id=self.plan_id, created_at=now_iso(), base_commit=self.base,
                        title=(spec.title if spec else self.request.splitlines()[0])[:120],
                        planner_model=model or self.model)

    def write_request(self, architecture: str | None) -> None:
        self.store.write_text(self.plan_id, REQUEST, self.request.strip() + "\n")
        if architecture is not None and architecture.strip():
            self.store.write_text(self.plan_id, ARCHITECTURE, architecture.strip() + "\n")

    def _save(self, meta: PlanMeta, cost: float) -> None:
        meta.status = "invalid"
        meta.cost_usd = cost
        self.store.save_meta(meta)

    def _raw(self, answers: list[str]) -> list[str]:
        names = []
        for n, text in enumerate(a for a in answers if a.strip()):
            name = f"planner-answer-{n + 1}.txt"
            self.store.write_text(self.plan_id, name, text if text.endswith("\n") else text + "\n")
            names.append(name)
        return names

    def keep_invalid(self, output: PlannerOutput, spec: Spec | None, meta: PlanMeta,
                     cost: float) -> str:
        """A plan-shaped draft with problems; returns the file a person should edit."""
        self.store.write_text(self.plan_id, INVALID_SPEC,
                              json.dumps(output.spec_data(self.plan_id), indent=2) + "\n")
        if spec is not None:
            save_spec(spec, self.store.spec_path(self.plan_id))
        self._save(meta, cost)
        return SPEC if spec is not None else INVALID_SPEC

    def keep_unusable(self, exc: OutputFormatError, cost: float) -> SpecError:
        """An answer that is not the shape of a plan: its JSON (when it is JSON) becomes the
        draft, and the raw text is kept beside it."""
        answers = list(getattr(exc, "answers", None) or [exc.raw])
        data = _json_object(answers[-1]) if answers else None
        spec_part = data.get("spec") if isinstance(data, dict) else None
        draft = spec_part if isinstance(spec_part, dict) else data
        note = data.get("architecture_note") if isinstance(data, dict) else None
        self.write_request(note if isinstance(note, str) else None)
        raw = self._raw(answers)
        what = exc.message
        if isinstance(draft, dict):
            self.store.write_text(self.plan_id, INVALID_SPEC,
                                  json.dumps({**draft, "plan_id": self.plan_id}, indent=2) + "\n")
            hint = (f"its draft is kept: edit {self.folder}/{INVALID_SPEC}, then run: "
                    f"hybrid spec check {self.plan_id}")
        else:
            shown = f"{self.folder}/{raw[-1]}" if raw else self.folder
            hint = (f"its answer is kept in {shown}; re-run hybrid plan (if it repeats, check "
                    "the planner model)")
        self._save(self.meta(None), cost)
        return SpecError(f"the planner's answer is not a valid plan: {what}", hint)

    def keep_repair_failure(self, first, spec: Spec | None, issues: list[SpecIssue],
                            exc: HybridError, cost: float) -> SpecError:
        output: PlannerOutput = first.parsed
        meta = self.meta(spec, first.model)
        self.write_request(output.architecture_note)
        raw = getattr(exc, "answers", None) or ([exc.raw] if getattr(exc, "raw", "") else [])
        self._raw(list(raw))
        edit = self.keep_invalid(output, spec, meta, cost)
        errors = [i for i in issues if i.is_error]
        first_issue = errors[0].render() if errors else "the spec is not valid"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return SpecError(
            f"the planner's spec has problems and its repair failed ({exc.message}): "
            f"{first_issue}{more}",
            f"the first draft is kept: edit {self.folder}/{edit}, then run: "
            f"hybrid spec check {self.plan_id}")


def _json_object(text: str):
    """The JSON value in ``text`` (also inside a fenced block), or None."""
    candidate = text.strip()
    if candidate.startswith("```"):
        candidate = candidate.split("\n", 1)[-1].rsplit("```", 1)[0]
    try:
        return json.loads(candidate)
    except ValueError:
        return None


__all__ = ["make_plan", "PlanResult", "ItemEstimate", "build_request", "symbol_checker", "META",
           "write_routed_plan"]
