"""``hybrid demo``: the whole flow — plan, implement, review, commit, stats — offline, on a
bundled sample repository, with model responses written in advance.

    result = run_demo(keep=None, on_stage=print, scenario="accounts")  # → DemoResult

The sample (``fixtures/demo/sample_repo``, a small login service with its own tests) is copied
into a temporary directory (or ``keep``), made a git repository, and changed by the request of
a *scenario*: a folder ``fixtures/demo/scenarios/<name>/`` with ``request.md`` (its first line
is the scenario's title and the demo's commit message) and ``recordings.jsonl``. Every model
tier is served by the replay backend from that scenario's recordings (see
``fixtures/demo/README.md`` for the stories they tell and how to add one), so no key, network
or GPU is needed — and no real backend is ever built: with ``replay.path`` set,
:func:`hybridcode.models.registry.create_backend` returns a replay backend for every tier.

Everything else is the real thing: the repository map, the spec validation and routing, the
worktree, placement, the acceptance tests, the feedback and the ladder, the deterministic
checks, the approval bound to the diff's hash, the gated commit and the ledger's figures.

The settings are built here, not loaded: a user's own config (other models, prices, attempts)
must not change what the sample responses answer. The CLI drives the stages one by one
(:class:`Demo`) so it can show each with its own display; :func:`run_demo` runs them all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybridcode.resources import fixtures_dir
from hybridcode.errors import HybridError, UsageError

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.implement.runner import ImplementResult, ItemEvent
    from hybridcode.ledger.stats import Stats
    from hybridcode.plan.planner import PlanResult
    from hybridcode.review.gate import CommitResult
    from hybridcode.review.verdict import ReviewOutcome

FIXTURES = fixtures_dir() / "demo"
SAMPLE_REPO = FIXTURES / "sample_repo"
SCENARIOS = FIXTURES / "scenarios"
# The scenario `hybrid demo` runs without --scenario.
DEFAULT_SCENARIO = "accounts"
LABEL = "sample responses recorded in advance — no model runs"

# The models the recordings were written for; the replay backend matches on them. One Claude
# model plans, fixes and reviews, as by default (hybridcode.config): one cache serves them all.
TIERS = {
    "planner": {"backend": "anthropic", "model": "claude-sonnet-5-5"},
    "implementer": [
        {"backend": "ollama", "model": "qwen2.5-coder:32b"},
        {"backend": "anthropic", "model": "claude-sonnet-5-5"},
    ],
    "reviewer": {"backend": "anthropic", "model": "claude-sonnet-5-5"},
}
# Two attempts per rung: the escalating item fails twice locally, then climbs. With three, its
# third failure in a row would trip the circuit breaker (three consecutive failures per rung)
# and switch the local rung off for the items after it. One item at a time keeps the order of
# attempts — and so the story — identical on every machine.
ATTEMPTS = 2
PARALLEL = 1
TEST_TIMEOUT_S = 60.0
_COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".benchmarks")


class DemoError(HybridError):
    """A stage of the demo did not end the way the sample responses were written for."""


@dataclass(frozen=True)
class Scenario:
    """One story the demo tells: a request to the sample repository and the sample responses
    recorded for it, in ``fixtures/demo/scenarios/<name>/``."""

    name: str
    folder: Path

    @classmethod
    def at(cls, folder: Path) -> Scenario:
        return cls(folder.name, folder)

    @property
    def request_path(self) -> Path:
        return self.folder / "request.md"

    @property
    def recordings(self) -> Path:
        return self.folder / "recordings.jsonl"

    def request(self) -> str:
        return self.request_path.read_text(encoding="utf-8")

    @property
    def title(self) -> str:
        """The request's first line: what the scenario shows, and the demo's commit message."""
        return next(iter(self.request().splitlines()), "").strip()


def scenarios() -> list[Scenario]:
    """The bundled scenarios: the default first, then by name."""
    return sorted((Scenario.at(p.parent) for p in SCENARIOS.glob("*/request.md")),
                  key=lambda s: (s.name != DEFAULT_SCENARIO, s.name))


def find_scenario(name: str) -> Scenario:
    """The bundled scenario called ``name``; a usage error naming the choices otherwise."""
    known = scenarios()
    for scenario in known:
        if scenario.name == name:
            return scenario
    if not known:
        raise DemoError(f"the demo's bundled scenarios are missing ({SCENARIOS})",
                        "run hybrid from a complete checkout: pip install -e . in the "
                        "repository (fixtures/ ships with the source)")
    names = ", ".join(s.name for s in known)
    raise UsageError(f"no demo scenario {name!r}; the scenarios are: {names}",
                     f"e.g. hybrid demo --scenario {known[0].name}")


def demo_settings(scenario: Scenario | str = DEFAULT_SCENARIO) -> Settings:
    """Settings for the demo: the scenario's recordings for every tier, fixed attempts and
    order."""
    from hybridcode.config import DEFAULT_PRICES, Settings
    # the sandbox probe, by its module: the package attribute `detect` is rebound to the
    # submodule judge.detect (runner detection) once that is imported, e.g. by a review
    from hybridcode.judge.sandbox import detect

    # The demo's code is the bundled recordings, not a live model's: on a fresh machine without
    # bubblewrap it still runs (its run and review say the sandbox was off).
    sandbox = "auto" if detect("auto").usable else "off"
    return Settings.model_validate({
        "sandbox": {"mode": sandbox},
        "tiers": TIERS,
        "prices": DEFAULT_PRICES,
        "attempts": ATTEMPTS,
        "parallel": PARALLEL,
        "test_timeout_s": TEST_TIMEOUT_S,
        "replay": {"path": _scenario(scenario).recordings},
    })


def config_toml(settings: Settings) -> str:
    """The demo repository's ``.hybrid/config.toml``: the same settings, so that commands run
    later in a kept repository (``hybrid status``, ``hybrid stats``, ``hybrid review``) replay
    too instead of calling real models."""
    lines = [
        "# Written by `hybrid demo`: every tier is served from sample responses recorded in",
        "# advance (no model runs). Delete this file to use the models you configured.",
        f"attempts = {settings.attempts}",
        f"parallel = {settings.parallel}",
        "",
        "[replay]",
        f"path = {_toml_string(str(settings.replay.path))}",
    ]
    for tier in ("planner", "reviewer"):
        spec = getattr(settings.tiers, tier)
        lines += ["", f"[tiers.{tier}]", f'backend = "{spec.backend}"', f'model = "{spec.model}"']
    for spec in settings.tiers.implementer:
        lines += ["", "[[tiers.implementer]]", f'backend = "{spec.backend}"',
                  f'model = "{spec.model}"']
    if settings.approvals.signing_key:
        lines += ["", "# The demo's throwaway signing key (see .hybrid/allowed_signers).",
                  "[approvals]", f"signing_key = {_toml_string(settings.approvals.signing_key)}"]
    return "\n".join(lines) + "\n"


def _scenario(scenario: Scenario | str) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else find_scenario(scenario)


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class DemoResult:
    scenario: Scenario
    root: Path
    kept: bool
    plan: PlanResult
    implement: ImplementResult
    review: ReviewOutcome
    commit: CommitResult
    stats: Stats
    routes: dict[str, str]
    wall_s: float
    stage_s: dict[str, float] = field(default_factory=dict)

    @property
    def escalated(self) -> list[str]:
        """Items routed local that needed the Claude rung."""
        return [m["item_id"] for m in self.stats.misroutes]

    @property
    def retried(self) -> list[str]:
        """Items that failed first and passed after feedback on the same rung."""
        escalated = set(self.escalated)
        return [i.item_id for i in self.implement.items
                if i.state == "passed" and i.attempts > 1 and i.item_id not in escalated]

    def figures(self) -> dict[str, Any]:
        """What ``hybrid demo --json`` prints."""
        from hybridcode.review.service import outcome_to_dict

        cf = self.stats.counterfactual
        totals = self.stats.totals
        review = outcome_to_dict(self.review)
        verdict = review["verdict"] or {}
        return {
            "sample_responses": LABEL,
            "scenario": self.scenario.name,
            "request": self.scenario.title,
            # A temporary repository is gone by the time this is printed: name none.
            "repository": str(self.root) if self.kept else None,
            "kept": self.kept,
            "plan_id": self.plan.plan_id,
            "plan_dir": str(self.plan.path),
            "items": [{"id": i.item_id, "route": self.routes.get(i.item_id), "state": i.state,
                       "model": i.model, "attempts": i.attempts,
                       "escalated": i.item_id in self.escalated}
                      for i in self.implement.items],
            "escalated": self.escalated,
            "retried": self.retried,
            "review": {"decision": review["decision"], "diff_sha256": review["diff_sha256"],
                       "reviewer_model": review["reviewer_model"],
                       "findings": len(verdict.get("findings", [])),
                       # as the terminal shows them: ok / failed / skipped
                       "checks": {c["name"]: _check_word(c) for c in review["checks"]},
                       "notes": review["notes"]},
            "commit": self.commit.to_dict(),
            "totals": {"calls": totals.calls, "local_calls": totals.local_calls,
                       "cost_usd": round(cf["actual_usd"], 6),
                       "counterfactual_usd": round(cf["counterfactual_usd"], 6),
                       "saving_usd": round(cf["saving_usd"], 6),
                       "saving_pct": (None if cf["saving_pct"] is None
                                      else round(cf["saving_pct"], 2)),
                       "counterfactual_model": cf["model"],
                       "direct_usd": _round(self.stats.direct.get("direct_usd")),
                       "direct_saving_usd": _round(self.stats.direct.get("saving_usd")),
                       "direct_saving_pct": _round(self.stats.direct.get("saving_pct"), 2),
                       "cache_hit_rate": self.stats.cache["hit_rate"]},
            "stats": self.stats.as_dict(),
            "wall_s": round(self.wall_s, 2),
            "stage_s": {k: round(v, 2) for k, v in self.stage_s.items()},
        }


def _check_word(check: dict[str, Any]) -> str:
    if check.get("skipped"):
        return "skipped"
    return "ok" if check["ok"] else "failed"


def _free_sibling(path: Path) -> Path:
    """``path`` with the first free numeric suffix (``hybrid-demo-2``), to suggest."""
    n = 2
    while path.with_name(f"{path.name}-{n}").exists():
        n += 1
    return path.with_name(f"{path.name}-{n}")


def _shown(path: Path) -> str:
    """A relative path as the user would type it (``./hybrid-demo-2``, not ``hybrid-demo-2``)."""
    text = str(path)
    return text if path.is_absolute() or text.startswith((".", "~")) else f"./{text}"


class Demo:
    """One demo run, stage by stage. Use as a context manager: a temporary repository is
    removed on exit; a kept one (``keep``) stays with its ``.hybrid/`` folder. ``scenario`` is
    a bundled scenario's name (an unknown one is a usage error, raised here) or a
    :class:`Scenario` folder."""

    def __init__(self, keep: Path | None = None,
                 on_stage: Callable[[str], None] | None = None,
                 scenario: Scenario | str = DEFAULT_SCENARIO) -> None:
        self.scenario = _scenario(scenario)  # before anything is shown
        self.keep = Path(keep).expanduser().resolve() if keep is not None else None
        self._keep_as_given = Path(keep) if keep is not None else None  # for advice
        self._check_keep()  # before anything is shown
        self.on_stage = on_stage or (lambda _msg: None)
        self.settings = demo_settings(self.scenario)
        self.root: Path | None = None
        self._tmp: Path | None = None
        self._started = time.monotonic()
        self.stage_s: dict[str, float] = {}
        self.plan_result: PlanResult | None = None
        self.implement_result: ImplementResult | None = None
        self.review_outcome: ReviewOutcome | None = None
        self.commit_result: CommitResult | None = None

    def _check_keep(self) -> None:
        if self.keep is None or self._keep_as_given is None:
            return
        if self.keep.exists() and (not self.keep.is_dir() or any(self.keep.iterdir())):
            raise UsageError(f"{self.keep} already exists and is not an empty directory",
                             f"give --keep a new path, e.g. --keep "
                             f"{_shown(_free_sibling(self._keep_as_given))}")

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Demo:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        started = time.monotonic()
        with _quick_pytest():
            yield
        self.stage_s[stage] = time.monotonic() - started

    def _need(self, value: Any, stage: str) -> Any:
        if value is None:
            raise DemoError(f"the demo's {stage} stage has not run yet",
                            "run the stages in order: prepare, plan, implement, review, commit")
        return value

    # ------------------------------------------------------------------ stages

    def prepare(self) -> Path:
        """Copy the sample into a fresh repository with one commit and the demo's config."""
        from hybridcode.vcs.commits import git

        # the replay path as set, not the scenario's: build_recordings.py replays a draft
        for path in (SAMPLE_REPO, self.scenario.request_path, self.settings.replay.path):
            if path is None or not path.exists():
                raise DemoError(f"the demo's bundled files are missing ({path})",
                                "run hybrid from a complete checkout: pip install -e . in the "
                                "repository (fixtures/ ships with the source); a new "
                                "scenario's recordings come from python "
                                "fixtures/demo/build_recordings.py --scenario NAME")
        with self._timed("prepare"):
            if self.keep is not None:
                self._check_keep()
                root = self.keep
            else:
                self._tmp = Path(tempfile.mkdtemp(prefix="hybrid-demo-"))
                root = self._tmp / "acme-login"
            self.on_stage(f"copying the sample repository to {root}")
            shutil.copytree(SAMPLE_REPO, root, ignore=_COPY_IGNORE, dirs_exist_ok=True)
            git(root, "init", "--quiet")
            # Before the first commit, so it works whatever init.defaultBranch says.
            git(root, "symbolic-ref", "HEAD", "refs/heads/main")
            # The repository's own identity and no signing: the demo must commit on machines
            # without a global git identity, and never ask for a signing key's passphrase.
            for key, value in (("user.name", "hybrid demo"), ("user.email", "demo@hybrid.invalid"),
                               ("commit.gpgsign", "false")):
                git(root, "config", key, value)
            self.settings = _with_demo_key(root, self.settings)
            git(root, "add", "--all")
            git(root, "add", "--force", str(ALLOWED_SIGNERS_PATH))
            git(root, "commit", "--quiet", "--message", "acme-login 0.3.0")
            config = root / ".hybrid" / "config.toml"
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(config_toml(self.settings), encoding="utf-8")
        self.root = root
        return root

    def plan(self, on_progress: Callable[[Any], None] | None = None) -> PlanResult:
        from hybridcode.plan.planner import make_plan

        root = self._need(self.root, "prepare")
        with self._timed("plan"):
            self.plan_result = make_plan(root, self.scenario.request(),
                                         settings=self.settings, on_stage=self.on_stage,
                                         on_progress=on_progress)
        return self.plan_result

    def implement(self, on_event: Callable[[ItemEvent], None] | None = None) -> ImplementResult:
        from hybridcode.implement.runner import implement_plan

        root = self._need(self.root, "prepare")
        plan = self._need(self.plan_result, "plan")
        with self._timed("implement"):
            result = implement_plan(root, plan.plan_id, settings=self.settings,
                                    on_event=on_event)
        self.implement_result = result
        if not result.ok:
            failed = [f"{i.item_id} ({i.error})" for i in result.items if i.state != "passed"]
            raise DemoError(f"the implement stage ended {result.status}: "
                            f"{', '.join(failed) or 'no item passed'}",
                            _SAMPLES_HINT)
        return result

    def review(self) -> ReviewOutcome:
        from hybridcode.review.service import review_plan

        root = self._need(self.root, "prepare")
        plan = self._need(self.plan_result, "plan")
        self._need(self.implement_result, "implement")
        with self._timed("review"):
            outcome = review_plan(root, plan.plan_id, settings=self.settings,
                                  on_stage=self.on_stage)
        self.review_outcome = outcome
        if not outcome.approved:
            why = "; ".join(outcome.notes) or outcome.decision.replace("_", " ")
            raise DemoError(f"the review did not approve: {why}", _SAMPLES_HINT)
        return outcome

    def commit(self) -> CommitResult:
        from hybridcode.review.gate import commit_plan

        root = self._need(self.root, "prepare")
        plan = self._need(self.plan_result, "plan")
        self._need(self.review_outcome, "review")
        with self._timed("commit"):
            self.on_stage(f"committing on hybrid/{plan.plan_id}")
            self.commit_result = commit_plan(root, plan.plan_id, message=self.scenario.title,
                                             settings=self.settings)
        return self.commit_result

    def stats(self) -> Stats:
        from hybridcode.ledger import Ledger
        from hybridcode.ledger.stats import compute_stats

        root = self._need(self.root, "prepare")
        plan = self._need(self.plan_result, "plan")
        with self._timed("stats"), Ledger.open(root) as ledger:
            return compute_stats(ledger, self.settings, plan_id=plan.plan_id, by="step")

    def result(self, stats: Stats) -> DemoResult:
        plan = self._need(self.plan_result, "plan")
        return DemoResult(
            scenario=self.scenario, root=self._need(self.root, "prepare"),
            kept=self.keep is not None, plan=plan,
            implement=self._need(self.implement_result, "implement"),
            review=self._need(self.review_outcome, "review"),
            commit=self._need(self.commit_result, "commit"), stats=stats,
            routes={i.id: i.route or "" for i in plan.spec.items},
            wall_s=time.monotonic() - self._started, stage_s=dict(self.stage_s))


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


DEMO_KEY = Path(".hybrid") / "demo-signing-key"
ALLOWED_SIGNERS_PATH = Path(".hybrid") / "allowed_signers"


def _with_demo_key(root: Path, settings: Settings) -> Settings:
    """A throwaway SSH key for the demo's repository, and the allowed-signers file (committed
    with the sample) that trusts it: the review's approval is really signed and really
    verified, offline, without touching the user's own keys or ssh-agent."""
    from hybridcode.config import ApprovalSettings
    from hybridcode.review.attestation import (
        ALLOWED_SIGNERS,
        allowed_signers_line,
        generate_key,
    )

    key = generate_key(root / DEMO_KEY, "hybrid demo (throwaway)")
    signers = root / ALLOWED_SIGNERS
    signers.write_text("# The demo's throwaway key; list your team's keys here instead.\n"
                       + allowed_signers_line("demo@hybrid.invalid", key) + "\n",
                       encoding="utf-8")
    return settings.model_copy(update={"approvals": ApprovalSettings(signing_key=str(key.path))})


_SAMPLES_HINT = ("the bundled sample responses no longer fit this version of hybrid; "
                 "regenerate them with python fixtures/demo/build_recordings.py and report it")


@contextmanager
def _quick_pytest() -> Iterator[None]:
    """Test runs in the demo skip pytest's plugin auto-loading.

    The sample project needs no plugins, while loading whatever this environment has installed
    (hypothesis, benchmark, anyio …) costs seconds per run — and the stages run pytest a dozen
    times. The implement and review stages pass the environment on to their test runs.
    """
    name = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"
    before = os.environ.get(name)
    os.environ[name] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def commit_message(root: Path, sha: str) -> str:
    """The full message of the demo's commit, trailers included."""
    from hybridcode.vcs.commits import git

    return git(root, "log", "-1", "--format=%B", sha).strip()


def run_demo(keep: Path | None = None, on_stage: Callable[[str], None] | None = None,
             scenario: Scenario | str = DEFAULT_SCENARIO) -> DemoResult:
    """Every stage in order; the temporary repository is removed afterwards unless ``keep``."""
    with Demo(keep, on_stage, scenario) as demo:
        demo.prepare()
        demo.plan()
        demo.implement()
        demo.review()
        demo.commit()
        return demo.result(demo.stats())
