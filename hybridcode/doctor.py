"""``hybrid doctor``: is everything in place to plan, implement and review?

Offline by default: no paid call is made unless ``online=True`` (one 1-token ping per Claude
model). Each check says what to do when it fails.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path

from hybridcode.config import Settings, load_settings
from hybridcode.models.base import HealthCheck

MIN_GIT = (2, 17)  # `git worktree remove` arrived in 2.17

# VRAM (GB) → the largest Qwen2.5-Coder that fits at 4-bit quantisation with room for context.
_VRAM_ADVICE = [
    (22, "qwen2.5-coder:32b (q4) fits"),
    (10, "qwen2.5-coder:14b fits; 32B needs about 24 GB"),
    (5, "qwen2.5-coder:7b fits; 14B needs about 12 GB"),
]


def check_git() -> HealthCheck:
    exe = shutil.which("git")
    if exe is None:
        return HealthCheck("git", False, "git not found on PATH",
                           "install git 2.17 or newer (worktrees are required)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    match = re.search(r"(\d+)\.(\d+)", out)
    version = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    if version < MIN_GIT:
        return HealthCheck("git", False, out,
                           "upgrade git to 2.17 or newer (worktree support)")
    return HealthCheck("git", True, out)


def check_grammars() -> HealthCheck:
    from hybridcode.context.languages import GRAMMARS, get_language
    from hybridcode.errors import ContextError

    failed = []
    for name in GRAMMARS:
        try:
            get_language(name)
        except ContextError as exc:
            failed.append(f"{name}: {exc.message}")
    if failed:
        return HealthCheck("tree-sitter grammars", False, "; ".join(failed),
                           'pip install -U "tree-sitter>=0.25" tree-sitter-python '
                           "tree-sitter-javascript tree-sitter-typescript tree-sitter-go")
    return HealthCheck("tree-sitter grammars", True, ", ".join(GRAMMARS))


def check_sandbox(settings: Settings) -> HealthCheck:
    """Where model-written code runs: the sandbox this machine has (a real probe)."""
    from hybridcode.judge.sandbox import INSTALL_HINT, detect

    box = detect(settings.sandbox.mode)
    if box.kind == "off":
        return HealthCheck("sandbox", False, box.describe(),
                           'remove [sandbox] mode = "off" once bubblewrap is installed',
                           required=False)
    if not box.usable:
        return HealthCheck("sandbox", False, f"{box.reason}: model code will not run",
                           INSTALL_HINT)
    return HealthCheck("sandbox", True, box.describe())


def gpu_memory_gb() -> list[tuple[str, float]] | None:
    """(name, total GB) per NVIDIA GPU, or ``None`` when nvidia-smi is absent or fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return None
    gpus = []
    for line in out.strip().splitlines():
        name, _, mib = line.rpartition(",")
        try:
            gpus.append((name.strip(), float(mib) / 1024))
        except ValueError:
            continue
    return gpus


def vram_advice(gb: float) -> str:
    for floor, advice in _VRAM_ADVICE:
        if gb >= floor:
            return advice
    return "too little VRAM for a useful local coder; serve the local tier from a shared GPU server"


def check_gpu() -> HealthCheck:
    gpus = gpu_memory_gb()
    if not gpus:
        return HealthCheck(
            "GPU", False, "no NVIDIA GPU found (nvidia-smi absent)",
            "fine if Ollama runs elsewhere (OLLAMA_HOST) or on Apple silicon; "
            "about 24 GB → 32B q4, 12 GB → 14B, 6 GB → 7B", required=False)
    best = max(gb for _, gb in gpus)
    detail = "; ".join(f"{name} {gb:.0f} GB" for name, gb in gpus)
    return HealthCheck("GPU", True, f"{detail} → {vram_advice(best)}", required=False)


def _unique_specs(settings: Settings):
    seen = set()
    for spec in [settings.tiers.planner, *settings.tiers.implementer, settings.tiers.reviewer]:
        if spec.label not in seen:
            seen.add(spec.label)
            yield spec


def run_checks(root: Path | None = None, online: bool = False,
               settings: Settings | None = None, *, ci: bool = False) -> list[HealthCheck]:
    """Every check; with ``ci``, what a CI job that reviews generated commits needs (git, the
    sandbox, the review's key, and what the judge needs to run each language's tests — a
    fresh checkout that imports the package, the Go module cache, the JavaScript runners),
    those last ones required: without them every review ends "could not run" (exit 3)."""
    from hybridcode.errors import HybridError
    from hybridcode.models.credentials import anthropic_key_check
    from hybridcode.models.registry import backend_class

    settings = settings or load_settings(root)
    checks = [check_git(), check_grammars(), check_sandbox(settings)]
    if ci:
        from dataclasses import replace

        key = anthropic_key_check(settings)
        checks.append(replace(key, required=False, hint=(key.hint or "") + (
            " (needed only to review in the job: --policy reviewed, or signed without "
            "--no-review)" if not key.ok else "")))
        checks += [replace(c, required=True) for c in _toolchains(root, settings)]
        return checks
    done_backend_checks: set[str] = set()
    for spec in _unique_specs(settings):
        if spec.backend == "anthropic" and not online:
            # Offline, the key is all there is to check: no need to import the SDK (~1 s).
            if "Anthropic API key" not in done_backend_checks:
                done_backend_checks.add("Anthropic API key")
                checks.append(anthropic_key_check(settings))
            continue
        try:
            backend = backend_class(spec.backend)(spec, settings)
            for check in backend.health():
                # backend-level checks (key present, server up) appear once
                if check.name in done_backend_checks:
                    continue
                done_backend_checks.add(check.name)
                checks.append(check)
            if online and hasattr(backend, "ping"):
                checks.append(backend.ping())
            backend.close()
        except HybridError as exc:
            checks.append(HealthCheck(spec.label, False, exc.message, exc.hint))
    checks.append(check_gpu())
    checks += check_environment()
    checks.append(check_approvals(Path(root or "."), settings))
    checks += _toolchains(root, settings)
    return checks


def check_environment() -> list[HealthCheck]:
    """One warning per ``HYBRID_*`` variable that sets nothing (none when all are known)."""
    from hybridcode.config import unknown_env

    return [HealthCheck(f"environment: {name}", False, "not a hybrid setting: it is ignored",
                        (f"did you mean {close}? " if close else "")
                        + "settings are HYBRID_<SECTION>__<KEY> or a named variable "
                        "(docs/configuration.md)", required=False)
            for name, close in unknown_env()]


def _toolchains(root: Path | None, settings: Settings | None = None) -> list[HealthCheck]:
    """The test runners of the repository's languages, and whether a fresh checkout (a plan's
    worktree, CI's checkout of a commit) imports the project's Python packages (none outside a
    repository)."""
    from hybridcode.errors import GitError
    from hybridcode.judge.toolchains import toolchain_checks
    from hybridcode.judge.worktree_probe import worktree_import_check
    from hybridcode.vcs import repo as gitrepo

    try:
        top = gitrepo.repo_root(root or Path.cwd())
    except GitError:
        return []
    checks = toolchain_checks(top, settings)
    probe = worktree_import_check(top, settings)
    return checks + ([probe] if probe is not None else [])


def check_approvals(root: Path, settings: Settings) -> HealthCheck:
    """Can approvals be signed here, and would the gate trust the signature? Not required to
    plan or implement; `hybrid commit` needs it, so the fix is said before the first review."""
    from hybridcode.review.approvals import signing_readiness

    ready = signing_readiness(root, settings)
    if ready.ok:
        return HealthCheck("approval signing", True, ready.detail, required=False)
    return HealthCheck("approval signing", False, f"{ready.problem}: hybrid commit will refuse "
                       "an approval until this is fixed", ready.fix, required=False)


def checks_as_json(checks: list[HealthCheck]) -> dict:
    return {"ok": all(c.ok or not c.required for c in checks),
            "checks": [asdict(c) for c in checks]}
