"""The implementer's request: the item's needs only, sized to the window, cache-friendly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybridcode.errors import ContextError, ContextOverflowError
from hybridcode.implement.prompt import architecture_excerpt, build_item_request
from hybridcode.models.base import Block, estimate_tokens
from hybridcode.spec import Spec

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "specs" / "ratelimit.json"

AUTH = '''"""Login for the sample app."""

from app.users import verify_password


class LoginFailed(Exception):
    """Wrong username or password."""


def login(username: str, password: str, remote_addr: str, headers: dict[str, str]) -> str:
    if not verify_password(username, password):
        raise LoginFailed("wrong username or password")
    return f"session-{username}"


def logout(session: str) -> None:
    """End a session."""
    if not session.startswith("session-"):
        raise ValueError("not a session")
    SESSIONS.discard(session)
'''

RATELIMIT = '''class SlidingWindowStore:
    """Timestamps per key."""

    def add(self, key: str, timestamp: float) -> None:
        self._hits.setdefault(key, []).append(timestamp)
'''

ARCHITECTURE = """# Rate limiting

Attempts are counted per client IP in app/ratelimit.py by a SlidingWindowStore.

RateLimiter wraps the store with a limit and a window; login calls RateLimiter.check before
the password is verified.

## Unrelated

The documentation site is built with mkdocs and published from the docs folder.
"""


@pytest.fixture
def spec() -> Spec:
    return Spec.model_validate(json.loads(FIXTURE.read_text()))


@pytest.fixture
def wt(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "auth.py").write_text(AUTH)
    (tmp_path / "app" / "ratelimit.py").write_text(RATELIMIT)
    (tmp_path / "app" / "users.py").write_text("def verify_password(u: str, p: str) -> bool:\n"
                                               "    return True\n")
    return tmp_path


def user_text(request) -> str:
    return request.messages[0].text


def test_item_fields_tests_and_instructions(spec: Spec, wt: Path):
    item = spec.item("ratelimit-limiter")
    request = build_item_request(item, spec, ARCHITECTURE, wt)
    text = user_text(request)
    assert text.startswith("# Item `ratelimit-limiter`")
    assert item.signature in text
    for line in item.requirements + item.constraints:
        assert f"- {line}" in text
    assert "`RateLimiter(0, 60.0)` → `raises ValueError('limit must be at least 1')`" in text
    assert "## Acceptance tests (tests/hybrid/test_hybrid_ratelimit_limiter.py; read-only" in text
    assert "def test_window_slides" in text
    assert text.rstrip().endswith("in one ```python block, and nothing else.")
    assert "return only the code for this one item" in request.system_text.lower()
    assert request.max_tokens == 4096


def test_stable_parts_are_cache_breakpoints(spec: Spec, wt: Path):
    request = build_item_request(spec.item("ratelimit-limiter"), spec, ARCHITECTURE, wt)
    assert isinstance(request.system, tuple) and request.system[-1].cache
    first = request.messages[0].content
    assert isinstance(first, tuple) and first[0].cache


def test_modify_shows_current_code_skeleton_and_context(spec: Spec, wt: Path):
    text = user_text(build_item_request(spec.item("login-ratelimit"), spec, ARCHITECTURE, wt))
    assert "## Current code of app/auth.py::login (to be changed)" in text
    assert 'raise LoginFailed("wrong username or password")' in text
    assert "## Skeleton of app/auth.py" in text
    assert "def logout(session: str) -> None:\n    \"\"\"End a session.\"\"\"\n    ..." in text
    # context: a file becomes its skeleton, a missing symbol is said to be missing
    assert "## app/users.py (skeleton)" in text
    assert "## app/ratelimit.py::RateLimiter\n\n(not found in app/ratelimit.py)" in text


def test_context_symbol_source(spec: Spec, wt: Path):
    text = user_text(build_item_request(spec.item("ratelimit-limiter"), spec, ARCHITECTURE, wt))
    assert "## app/ratelimit.py::SlidingWindowStore\n\n```python\nclass SlidingWindowStore:" \
        in text


def test_architecture_excerpt_only_relevant_paragraphs(spec: Spec):
    excerpt = architecture_excerpt(ARCHITECTURE, spec.item("ratelimit-limiter"))
    assert "RateLimiter wraps the store" in excerpt
    assert "SlidingWindowStore" in excerpt  # mentions the item's file
    assert "mkdocs" not in excerpt
    assert excerpt.startswith("### Rate limiting")
    assert len(architecture_excerpt(ARCHITECTURE * 50, spec.item("ratelimit-limiter"),
                                    limit=600)) <= 600


def test_style_example_is_a_neighbouring_definition(spec: Spec, wt: Path):
    text = user_text(build_item_request(spec.item("ratelimit-client-ip"), spec, "", wt))
    assert "## Example of the project's style (app/ratelimit.py::" not in text  # methods only
    assert "## Example of the project's style (app/auth.py::logout" in text


def test_window_drops_low_priority_sections_and_says_so(spec: Spec, wt: Path):
    item = spec.item("ratelimit-limiter")
    full = build_item_request(item, spec, ARCHITECTURE, wt, output_tokens=500)
    size = estimate_tokens(full.prompt_text())
    small = build_item_request(item, spec, ARCHITECTURE, wt, output_tokens=500,
                               window_tokens=size + 500 + 64 - 120)
    text = user_text(small)
    assert "(Left out to fit the context window: the style example" in text
    assert "def test_window_slides" in text  # tests are kept as long as possible
    assert estimate_tokens(small.prompt_text()) + 500 + 64 <= size + 500 + 64 - 120
    with pytest.raises(ContextOverflowError) as exc:
        build_item_request(item, spec, ARCHITECTURE, wt, window_tokens=900, output_tokens=500)
    assert "ratelimit-limiter" in exc.value.message and exc.value.hint


def test_retry_continues_the_conversation(spec: Spec, wt: Path):
    item = spec.item("ratelimit-store")
    first = build_item_request(item, spec, ARCHITECTURE, wt)
    retry = build_item_request(item, spec, ARCHITECTURE, wt, previous_output="```python\nx\n```",
                               feedback="E       assert 1 == 2")
    assert [m.role for m in retry.messages] == ["user", "assistant", "user"]
    assert retry.messages[0] == first.messages[0]  # same prefix: cached on Claude rungs
    assert retry.messages[1].text == "```python\nx\n```"
    assert "E       assert 1 == 2" in retry.messages[2].text
    assert "not accepted" in retry.messages[2].text


def test_feedback_without_previous_output_and_long_feedback(spec: Spec, wt: Path):
    item = spec.item("ratelimit-store")
    request = build_item_request(item, spec, "", wt, feedback="x" * 20000)
    assert len(request.messages) == 1
    blocks = request.messages[0].content
    assert isinstance(blocks, tuple) and isinstance(blocks[1], Block)
    assert "… (cut) …" in blocks[1].text and len(blocks[1].text) < 7000


AWS = '"AKIAZ3MHQWERTYUIOPAS"'


def test_context_with_a_secret_or_an_env_file_is_left_out(spec: Spec, wt: Path):
    (wt / "app" / "users.py").write_text(
        f"def verify_password(u: str, p: str) -> bool:\n    key = {AWS}\n    return True\n")
    (wt / ".env").write_text("API_TOKEN=hunter2-very-secret\n")
    item = spec.item("login-ratelimit")
    item = item.model_copy(update={"context": [*item.context, ".env",
                                               "app/users.py::verify_password"]})
    text = user_text(build_item_request(item, spec, ARCHITECTURE, wt))
    assert "AKIA" not in text and "hunter2" not in text
    assert "## .env\n\n(left out: env file)" in text
    assert "## app/users.py::verify_password\n\n(left out: it holds a secret (AWS Access Key)" \
        in text
    assert 'raise LoginFailed("wrong username or password")' in text  # the rest still goes


def test_a_secret_elsewhere_in_the_target_file_drops_only_the_skeleton(spec: Spec, wt: Path):
    (wt / "app" / "auth.py").write_text(AUTH + f"\n\nTOKEN = {AWS}\n")
    text = user_text(build_item_request(spec.item("login-ratelimit"), spec, ARCHITECTURE, wt))
    assert "AKIA" not in text and "## Skeleton of app/auth.py" not in text
    assert "## Current code of app/auth.py::login (to be changed)" in text


def test_a_secret_in_the_code_to_change_refuses_the_prompt(spec: Spec, wt: Path):
    (wt / "app" / "auth.py").write_text(AUTH.replace(
        'return f"session-{username}"', f'return {AWS}'))
    with pytest.raises(ContextError, match="holds a secret .AWS Access Key.") as err:
        build_item_request(spec.item("login-ratelimit"), spec, ARCHITECTURE, wt)
    assert "environment variable" in (err.value.hint or "")


def test_code_holding_a_placeholder_name_reaches_the_model_as_written():
    """Placeholders are filled in one pass: an f-string ``{problem}`` or ``{feedback}`` in the
    failing code shown to a Claude rung is code, not a slot (it was emptied once, and the
    rung was asked to fix code it never saw)."""
    from hybridcode.prompts import render_prompt

    attempt = 'errors.extend(f"line {line}: {problem}" for problem in problems)  # {feedback}'
    text = render_prompt("escalation_edits.md", item="ITEM", review="", attempt=attempt,
                         feedback="tests failed", problem="", tag="python", head="<",
                         divider="=", updated=">")
    assert attempt in text
    assert "{item}" not in text and "tests failed" in text
