"""Settings: defaults → user file → project file → environment → flags.

The user file (``~/.config/hybridcode/config.toml``, or ``$HYBRID_USER_CONFIG``) holds what is
shared across projects (models, prices, checklists). The project file is ``[tool.hybrid]`` in
``pyproject.toml`` and/or ``.hybrid/config.toml`` (the latter wins). Environment variables
override files, flags override everything. Each leaf value remembers where it came from, so an
invalid value is reported with its key *and* the file (or variable) that set it.
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from hybridcode.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BackendName = Literal["anthropic", "ollama", "openai", "replay"]
LOCAL_BACKENDS = frozenset({"ollama", "openai"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSpec(_Strict):
    """One model a tier can use: which backend serves it, its id, and backend options."""

    backend: BackendName
    model: str = Field(min_length=1)
    max_output_tokens: int = Field(default=8192, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    options: dict[str, Any] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.backend}:{self.model}"

    @property
    def is_local(self) -> bool:
        return self.backend in LOCAL_BACKENDS


class Price(_Strict):
    """USD per million tokens; ``hourly`` is a local model's running cost per hour of latency."""

    input: float = Field(default=0.0, ge=0)
    output: float = Field(default=0.0, ge=0)
    cache_write_5m: float = Field(default=0.0, ge=0)
    cache_write_1h: float = Field(default=0.0, ge=0)
    cache_read: float = Field(default=0.0, ge=0)
    hourly: float = Field(default=0.0, ge=0)
    # Not a price, but a fact of the same model page: a cache breakpoint whose prefix is
    # shorter than this is silently not cached (the API reports no write and no read).
    min_cache_tokens: int = Field(default=0, ge=0)


# Source: platform.claude.com/docs/en/models/opus-5-5/overview and the models & pricing
# table (checked 2026-11-23). Cache writes are 1.25x (5 min) and 2x (1 h) input; cache reads
# on the 5.5 generation are 0.05x input. Minimum cacheable prompt lengths from the prompt
# caching page of the same docs (1,024 to 4,096 tokens by model). See docs/costs.md.
DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "claude-opus-5-5": {"input": 4.0, "output": 20.0, "cache_write_5m": 5.0,
                        "cache_write_1h": 8.0, "cache_read": 0.20, "min_cache_tokens": 4096},
    "claude-sonnet-5-5": {"input": 2.0, "output": 10.0, "cache_write_5m": 2.50,
                          "cache_write_1h": 4.0, "cache_read": 0.10, "min_cache_tokens": 2048},
    "claude-opus-5": {"input": 5.0, "output": 25.0, "cache_write_5m": 6.25,
                      "cache_write_1h": 10.0, "cache_read": 0.50, "min_cache_tokens": 4096},
    "claude-sonnet-5": {"input": 2.0, "output": 10.0, "cache_write_5m": 2.50,
                        "cache_write_1h": 4.0, "cache_read": 0.20, "min_cache_tokens": 1024},
    "claude-haiku-4-5": {"input": 1.0, "output": 5.0, "cache_write_5m": 1.25,
                         "cache_write_1h": 2.0, "cache_read": 0.10, "min_cache_tokens": 4096},
}


DEFAULT_CLAUDE = "claude-sonnet-5-5"


def _default_tiers() -> dict[str, Any]:
    return {
        # One Claude model plans, fixes and reviews: prompt caches are per model, so one
        # cached prefix serves every Claude call of a plan. Opus is a per-tier choice
        # (docs/costs.md says when it is worth it) and `hybrid plan --model`.
        "planner": {"backend": "anthropic", "model": DEFAULT_CLAUDE},
        "implementer": [
            {"backend": "ollama", "model": "qwen2.5-coder:32b"},
            {"backend": "anthropic", "model": DEFAULT_CLAUDE},
        ],
        "reviewer": {"backend": "anthropic", "model": DEFAULT_CLAUDE},
    }


class Tiers(_Strict):
    planner: ModelSpec
    implementer: list[ModelSpec] = Field(min_length=1)
    reviewer: ModelSpec


class RoutingThresholds(_Strict):
    """Where the routing line sits; history from reviews moves items across it."""

    max_local_constraints: int = Field(
        default=4, ge=0, description="Items with more constraints than this go to Claude.")
    promote_min_reviewed: int = Field(
        default=20, ge=1, description="Reviewed uses a task kind needs before it may be "
        "promoted to local.")
    promote_min_good_rate: float = Field(
        default=0.8, gt=0, le=1, description="Share graded acceptable or good needed to promote.")
    demote_min_uses: int = Field(
        default=5, ge=1, description="Local uses a kind needs before escalations demote it.")
    demote_escalation_rate: float = Field(
        default=0.5, gt=0, le=1, description="Escalation rate at which a kind routes to Claude.")
    delegate_margin: float = Field(
        default=0.2, ge=0, lt=1, description="An item is delegated to the local model only "
        "when its expected saving is at least this share of what Claude writing its code "
        "would cost (docs/routing.md has the formula).")
    local_prior_rate: float = Field(
        default=0.7, gt=0, le=1, description="Local acceptance rate assumed for a task kind "
        "before the ledger has history (the prior).")
    local_prior_weight: int = Field(
        default=10, ge=0, description="How many local uses the prior counts as: history "
        "outweighs it once a kind has more uses than this.")


class ReviewSettings(_Strict):
    """Reviewer tiering (off unless ``cheap_reviewer`` is set), and how a large diff is reviewed
    in parts: how many at once, how many at most, at what cost at most."""

    cheap_reviewer: ModelSpec | None = Field(
        default=None, description="A cheaper reviewer for well-established task kinds.")
    full_review_first_uses: int = Field(
        default=5, ge=0, description="The first N reviews of a kind always use the full reviewer.")
    sample_rate: float = Field(
        default=0.15, ge=0, le=1, description="Share of later reviews sampled for the full "
        "reviewer (also always after negative feedback).")
    parallel: int = Field(
        default=4, ge=1, le=32, description="Parts of a large diff reviewed at the same time "
        "(Ollama at most 4).")
    max_parts: int = Field(
        default=8, ge=1, le=200, description="Most reviewer calls (parts of the diff) one "
        "review makes; the parts beyond are not reviewed, and the review cannot approve.")
    max_cost_usd: float | None = Field(
        default=None, gt=0, description="Cap on one review's reviewer calls in USD, estimated "
        "before sending (whole prompt uncached plus the full output allowance); parts beyond "
        "it are not reviewed, and the review cannot approve.")


class SandboxSettings(_Strict):
    """Where project code (model-written code and its tests) runs; see docs/review.md."""

    mode: Literal["auto", "off"] = Field(
        default="auto", description="`auto`: bubblewrap on Linux, sandbox-exec on macOS, and "
        "model code is not run when neither works; `off`: run without a sandbox (every run "
        "and review report then says so).")


class ChecksSettings(_Strict):
    """How the project's tests run (implement, review, CI and bench share one runner)."""

    python: str | None = Field(
        default=None, description="Interpreter that runs the project's tests; default: the "
        "repository's `.venv` when present, else the one running hybrid.")
    test_command: str | None = Field(
        default=None, description="Command that runs pytest instead of `<python> -m pytest`, "
        "e.g. `uv run --offline pytest`; hybrid appends its own arguments.")
    mutation_score: float = Field(
        default=0.7, ge=0.0, le=1.0, description="Share of mutants of the code under test a "
        "test item's tests must kill (a spec item's mutation_score overrides it); 0.7 fails "
        "tests that only check that calls do not raise.")
    max_mutants: int = Field(
        default=25, ge=1, description="Most mutants run per test item (an even spread over "
        "the code); each is one test run.")
    docstring_convention: Literal["google", "numpy", "pep257"] | None = Field(
        default=None, description="Convention doc items are held to; default: the "
        "project's ruff/pydocstyle setting, else the style of the file's docstrings, else "
        "pep257.")


class ApprovalSettings(_Strict):
    """How approvals are signed and whose signatures are trusted (see docs/review.md)."""

    signing_key: str | None = Field(
        default=None, description="SSH key approvals are signed with (a private key, or a .pub "
        "whose private half ssh-agent holds); default git's `user.signingkey`.")
    allowed_signers: str = Field(
        default=".hybrid/allowed_signers", description="Allowed-signers file (git's format), "
        "relative to the repository root; commit it and protect it with CODEOWNERS.")


class AnthropicSettings(_Strict):
    api_key: SecretStr | None = Field(
        default=None, description="Set ANTHROPIC_API_KEY instead of writing it in a file.")
    base_url: str | None = Field(default=None, description="API base URL (proxies, gateways).")
    timeout_s: float = Field(default=600.0, gt=0, description="Per-request timeout in seconds.")
    max_retries: int = Field(default=2, ge=0, le=10,
                             description="SDK retries for 408/409/429/5xx/529; a stream "
                             "broken mid-reply is retried as often.")
    cache_ttl: Literal["auto", "5m", "1h"] = Field(
        default="auto", description="Prompt-cache lifetime for the stable prefix: `auto` "
        "picks 1h when the usual gap between a plan's Claude calls exceeds 5 minutes "
        "(docs/costs.md has the break-even), else 5m.")


class OllamaSettings(_Strict):
    host: str = Field(default="http://127.0.0.1:11434", description="Ollama server URL.")
    timeout_s: float = Field(default=600.0, gt=0, description="Per-request timeout in seconds.")
    num_ctx_min: int = Field(default=4096, ge=512,
                             description="Smallest context window sent as options.num_ctx.")
    num_ctx_max: int = Field(default=32768, ge=512,
                             description="Largest window the local model supports; longer "
                             "prompts are refused instead of silently truncated.")


class OpenAISettings(_Strict):
    base_url: str | None = Field(default=None,
                                 description="OpenAI-compatible server, e.g. http://gpu:8000/v1.")
    api_key: SecretStr | None = Field(default=None, description="Key for that server, if any.")
    timeout_s: float = Field(default=600.0, gt=0, description="Per-request timeout in seconds.")
    max_retries: int = Field(default=2, ge=0, le=10, description="SDK retries.")


class ReplaySettings(_Strict):
    path: Path | None = Field(default=None,
                              description="Serve every tier from these JSONL recordings.")
    record: Path | None = Field(default=None,
                                description="Append real exchanges here (keys stripped).")


class Settings(_Strict):
    tiers: Tiers
    prices: dict[str, Price] = Field(
        default_factory=dict,
        description="USD per million tokens per model id (prefix match for dated ids).")
    counterfactual_model: str | None = Field(
        default=None, description="Claude model that prices the all-Claude counterfactual; "
        "default: the last Claude rung of the implementer ladder.")
    floor_model: str | None = Field(
        default=None, description="Claude model that prices the direct floor (Claude "
        "implementing the request itself); default: the model that planned each plan — the "
        "same Claude with and without delegation.")
    budget_usd: float | None = Field(
        default=None, gt=0, description="Cap on Claude spend per run (USD).")
    parallel: int = Field(default=2, ge=1, le=64,
                          description="Spec items generated concurrently.")
    attempts: int = Field(default=3, ge=1, le=20,
                          description="Attempts per ladder rung before escalating.")
    allow_missing_local: bool = Field(
        default=False, description="Run even when a local rung is not ready (server down, "
        "model not pulled): its items start on the next rung up, which may be paid Claude. "
        "Off: the run stops first and says how to fix the rung.")
    test_timeout_s: float = Field(default=120.0, gt=0,
                                  description="Timeout for one acceptance-test run.")
    lint: str | None = Field(default=None,
                             description="Lint command run by the review gate, e.g. `ruff check`.")
    checklist: Path | None = Field(
        default=None, description="Project review checklist (default .hybrid/checklist.md).")
    generated_paths: list[str] = Field(
        default_factory=list, description="Globs of generated code the pre-commit gate guards "
        "besides plan worktrees.")
    routing: RoutingThresholds = Field(default_factory=RoutingThresholds)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    checks: ChecksSettings = Field(default_factory=ChecksSettings)
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings)
    anthropic: AnthropicSettings = Field(default_factory=AnthropicSettings)
    ollama: OllamaSettings = Field(default_factory=OllamaSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    replay: ReplaySettings = Field(default_factory=ReplaySettings)

    @field_validator("counterfactual_model", "floor_model")
    @classmethod
    def _nonempty(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must be a model id, e.g. claude-sonnet-5-5")
        return v

    def price_for(self, model: str) -> Price | None:
        """Exact match first, then the longest configured prefix (dated ids, ``[1m]`` suffixes)."""
        if model in self.prices:
            return self.prices[model]
        best = max((k for k in self.prices if model.startswith(k)), key=len, default=None)
        return self.prices[best] if best else None

    @property
    def counterfactual(self) -> str:
        """The Claude model the all-Claude counterfactual prices local calls at."""
        if self.counterfactual_model:
            return self.counterfactual_model
        for spec in reversed(self.tiers.implementer):
            if spec.backend == "anthropic":
                return spec.model
        return self.tiers.reviewer.model


# ---------------------------------------------------------------------------- loading

def user_config_path() -> Path:
    explicit = os.environ.get("HYBRID_USER_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hybridcode" / "config.toml"


def project_config_path(root: Path) -> Path:
    return root / ".hybrid" / "config.toml"


# Explicit variables; any other ``HYBRID_SECTION__KEY`` sets ``section.key``.
_ENV_ALIASES: dict[str, tuple[str, ...]] = {
    "ANTHROPIC_API_KEY": ("anthropic", "api_key"),
    "ANTHROPIC_BASE_URL": ("anthropic", "base_url"),
    "OLLAMA_HOST": ("ollama", "host"),
    "HYBRID_OPENAI_BASE_URL": ("openai", "base_url"),
    "HYBRID_OPENAI_API_KEY": ("openai", "api_key"),
    "HYBRID_BUDGET_USD": ("budget_usd",),
    "HYBRID_PARALLEL": ("parallel",),
    "HYBRID_ALLOW_MISSING_LOCAL": ("allow_missing_local",),
    "HYBRID_COUNTERFACTUAL_MODEL": ("counterfactual_model",),
    "HYBRID_REPLAY": ("replay", "path"),
    "HYBRID_RECORD": ("replay", "record"),
}
_ENV_IGNORED = {"HYBRID_USER_CONFIG", "HYBRID_DEBUG", "HYBRID_HOME"}


def unknown_env(environ: dict[str, str] | None = None) -> list[tuple[str, str | None]]:
    """``HYBRID_*`` variables that set nothing (neither a named variable nor the
    ``HYBRID_SECTION__KEY`` form), each with the closest known name, if any: a typo such as
    ``HYBRID_BUDGET`` would otherwise be ignored without a word."""
    import difflib

    known = sorted([n for n in _ENV_ALIASES if n.startswith("HYBRID_")] + sorted(_ENV_IGNORED))
    found = []
    for name in sorted(os.environ if environ is None else environ):
        if name.startswith("HYBRID_") and name not in _ENV_ALIASES and name not in _ENV_IGNORED \
                and "__" not in name:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            found.append((name, close[0] if close else None))
    return found


class _Layers:
    """Deep-merges dictionaries and remembers which source set each leaf."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.sources: dict[tuple[str, ...], str] = {}

    def add(self, data: dict[str, Any], source: str, prefix: tuple[str, ...] = ()) -> None:
        self._merge(self.data, data, source, prefix)

    def _merge(self, into: dict[str, Any], data: dict[str, Any], source: str,
               prefix: tuple[str, ...]) -> None:
        for key, value in data.items():
            path = (*prefix, key)
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                self._merge(into[key], value, source, path)
            else:
                into[key] = value
                self.sources[path] = source

    def source_of(self, loc: tuple[Any, ...]) -> str:
        path = tuple(str(p) for p in loc)
        while path:
            if path in self.sources:
                return self.sources[path]
            path = path[:-1]
        return "defaults"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}",
                          "fix the syntax (see docs/configuration.md)") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", "check the file's permissions") from exc


def _env_layers(environ: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """One (variable name, nested dict) per variable that sets something."""
    out: list[tuple[str, dict[str, Any]]] = []
    for name, value in sorted(environ.items()):
        if name in _ENV_ALIASES:
            if value == "":
                continue
            path = _ENV_ALIASES[name]
        elif name.startswith("HYBRID_") and name not in _ENV_IGNORED and "__" in name:
            path = tuple(p.lower() for p in name[len("HYBRID_"):].split("__") if p)
            if not path:
                continue
        else:
            continue
        node: dict[str, Any] = {path[-1]: value}
        for part in reversed(path[:-1]):
            node = {part: node}
        out.append((name, node))
    return out


def find_project_root(start: Path | None = None) -> Path:
    """The nearest directory holding ``.git`` (file or folder), else ``start`` itself.

    A plan's worktree (``<project>/.hybrid/worktrees/<plan-id>``) belongs to the project that
    holds it: commands run there (the gate's ``hybrid review --staged``) use its settings."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            owner = candidate.parent.parent.parent
            if (candidate.parent.name == "worktrees" and candidate.parent.parent.name == ".hybrid"
                    and (candidate / ".git").is_file() and (owner / ".git").exists()):
                return owner
            return candidate
    return here


def load_settings(
    root: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Build validated settings for the project at ``root`` (default: the enclosing repository)."""
    root = find_project_root(root)
    environ = dict(os.environ if environ is None else environ)
    layers = _Layers()
    # deep copy: merging must never mutate the module-level defaults
    layers.add(copy.deepcopy({"tiers": _default_tiers(), "prices": DEFAULT_PRICES}), "defaults")

    user = user_config_path()
    if user.is_file():
        layers.add(_read_toml(user), str(user))
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        section = _read_toml(pyproject).get("tool", {}).get("hybrid")
        if isinstance(section, dict):
            layers.add(section, f"{pyproject} [tool.hybrid]")
    project = project_config_path(root)
    if project.is_file():
        layers.add(_read_toml(project), str(project))

    for name, layer in _env_layers(environ):
        layers.add(layer, f"environment variable {name}")

    if overrides:
        layers.add(overrides, "command-line flags")

    try:
        return Settings.model_validate(layers.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(root)"
        source = layers.source_of(loc)
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(
            f"invalid setting {key} from {source}: {err['msg']}{more}",
            "fix the value; `hybrid init` writes a commented example",
        ) from exc
