"""Placing parsed code in a worktree folder: create, modify, methods, imports, byte safety,
refusals and exact reverts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hybridcode.errors import PlacementError
from hybridcode.implement.apply import (
    AppliedChange, RefusedOutputError, apply_item, revert,
)
from hybridcode.implement.parse import ParsedCode, parse_code
from hybridcode.spec import SpecItem

AUTH = '''"""Login."""

from app.users import verify_password


class LoginFailed(Exception):
    """Wrong username or password."""


def login(username: str, password: str) -> str:
    if not verify_password(username, password):
        raise LoginFailed("wrong username or password")
    return f"session-{username}"
'''

LIMITER = '''class RateLimiter:
    def __init__(self, limit: int) -> None:
        self.limit = limit
'''


def item(file: str, symbol: str | None, kind: str = "function",
         action: str = "create") -> SpecItem:
    return SpecItem(id="it", title="t", kind=kind, file=file, symbol=symbol, action=action,
                    signature="def f()" if symbol else "", description="d")


@pytest.fixture
def wt(tmp_path: Path) -> Path:
    root = tmp_path / "wt"
    (root / "app").mkdir(parents=True)
    (root / "app" / "auth.py").write_text(AUTH)
    (root / "app" / "ratelimit.py").write_text(LIMITER)
    return root


def test_create_a_new_file_with_imports(wt: Path):
    parsed = ParsedCode("def client_ip(a: str) -> str:\n    return ipaddress.ip_address(a)\n",
                        ["import ipaddress"])
    change = apply_item(wt, item("app/net.py", "client_ip"), parsed, set())
    text = (wt / "app" / "net.py").read_text()
    assert text.startswith("import ipaddress\n")
    assert "def client_ip(a: str) -> str:" in text
    assert change.files == {"app/net.py": (None, text.encode())}
    assert (wt / "app" / "net.py").stat().st_mode & 0o777 == 0o644


def test_module_item_writes_the_whole_file(wt: Path):
    parsed = ParsedCode('"""New."""\nimport os\n\nSEP = os.sep\n')
    apply_item(wt, item("app/paths.py", None, "module"), parsed, set())
    assert (wt / "app" / "paths.py").read_text() == '"""New."""\nimport os\n\nSEP = os.sep\n'


def test_modify_replaces_the_function_and_adds_imports(wt: Path):
    parsed = ParsedCode("def login(username: str, password: str) -> str:\n"
                        "    check(username)\n    return 'x'\n",
                        ["from app.ratelimit import check"])
    change = apply_item(wt, item("app/auth.py", "login", action="modify"), parsed, set())
    text = (wt / "app" / "auth.py").read_text()
    assert "    check(username)\n" in text
    assert "verify_password(username" not in text
    assert "from app.ratelimit import check\n" in text
    assert text.startswith('"""Login."""')
    assert change.files["app/auth.py"][0] == AUTH.encode()


def test_insert_a_method_into_its_class(wt: Path):
    answer = ("```python\nimport time\n\nclass RateLimiter:\n"
              "    def __init__(self, limit: int) -> None:\n        self.limit = limit\n\n"
              "    def check(self, key: str) -> bool:\n        return time.time() > 0\n```")
    parsed = parse_code(answer, item("app/ratelimit.py", "RateLimiter.check", "method"))
    apply_item(wt, item("app/ratelimit.py", "RateLimiter.check", "method"), parsed, set())
    text = (wt / "app" / "ratelimit.py").read_text()
    assert text.startswith("import time\n")
    assert "\n    def check(self, key: str) -> bool:\n        return time.time() > 0\n" in text
    assert text.count("def __init__") == 1


def test_helpers_the_file_already_has_are_not_duplicated(wt: Path):
    answer = ("```python\nclass LoginFailed(Exception):\n    pass\n\n\n"
              "def audit(user: str) -> LoginFailed:\n    return LoginFailed(user)\n```")
    target = item("app/auth.py", "audit")
    apply_item(wt, target, parse_code(answer, target), set())
    text = (wt / "app" / "auth.py").read_text()
    assert text.count("class LoginFailed") == 1
    assert "def audit(user: str) -> LoginFailed:" in text


def test_create_of_an_existing_symbol_replaces_it(wt: Path):
    target = item("app/auth.py", "login")
    apply_item(wt, target, ParsedCode("def login(u, p):\n    return 'a'\n"), set())
    apply_item(wt, target, ParsedCode("def login(u, p):\n    return 'b'\n"), set())
    text = (wt / "app" / "auth.py").read_text()
    assert text.count("def login") == 1 and "return 'b'" in text


def test_crlf_file_keeps_its_bytes(wt: Path):
    data = (b"import os\r\n\r\n\r\ndef a():\r\n    return 1\r\n\r\n\r\n"
            b"def b():\r\n    return 2\r\n")
    (wt / "app" / "crlf.py").write_bytes(data)
    apply_item(wt, item("app/crlf.py", "a", action="modify"),
               ParsedCode("def a():\n    return 10\n"), set())
    out = (wt / "app" / "crlf.py").read_bytes()
    assert out == data.replace(b"return 1\r\n", b"return 10\r\n")


def test_parent_escape_is_refused(wt: Path):
    with pytest.raises(RefusedOutputError, match=r"leaves the worktree \(\.\.\)"):
        apply_item(wt, item("../outside.py", "f"), ParsedCode("def f():\n    pass\n"), set())
    assert not (wt.parent / "outside.py").exists()


@pytest.mark.parametrize("path", ["/etc/passwd.py", ".git/hooks/pre_commit.py",
                                  ".hybrid/plans/x.py", "app\\win.py"])
def test_unsafe_paths_are_refused(wt: Path, path: str):
    with pytest.raises(RefusedOutputError) as exc:
        apply_item(wt, item(path, "f"), ParsedCode("def f():\n    pass\n"), set())
    assert exc.value.hint


def test_symlink_out_of_the_worktree_is_refused(wt: Path, tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, wt / "linked")
    with pytest.raises(RefusedOutputError, match="symbolic link"):
        apply_item(wt, item("linked/x.py", "f"), ParsedCode("def f():\n    pass\n"), set())
    assert not (outside / "x.py").exists()


def test_protected_test_file_is_refused(wt: Path):
    tests = wt / "tests" / "hybrid"
    tests.mkdir(parents=True)
    (tests / "test_it.py").write_text("def test_x():\n    assert False\n")
    with pytest.raises(RefusedOutputError, match="acceptance tests"):
        apply_item(wt, item("tests/hybrid/test_hybrid_it.py", "test_x", "test"),
                   ParsedCode("def test_x():\n    assert True\n"), {"tests/hybrid/test_hybrid_it.py"})
    assert "assert False" in (tests / "test_it.py").read_text()


def test_code_claiming_another_file_is_refused(wt: Path):
    parsed = ParsedCode("def f():\n    pass\n", claimed_path="app/users.py")
    with pytest.raises(RefusedOutputError, match="your answer is code for app/users.py"):
        apply_item(wt, item("app/auth.py", "f"), parsed, set())
    same = ParsedCode("def f():\n    pass\n", claimed_path="auth.py")
    apply_item(wt, item("app/auth.py", "f"), same, set())  # its own file, named short


def test_broken_syntax_is_refused_with_its_line(wt: Path):
    parsed = ParsedCode("def login(u, p):\n    x = (1,\n    return x\n")
    with pytest.raises(PlacementError) as exc:
        apply_item(wt, item("app/auth.py", "login", action="modify"), parsed, set())
    assert exc.value.line is not None and "line" in exc.value.message
    assert (wt / "app" / "auth.py").read_text() == AUTH  # nothing written


def test_revert_restores_and_removes(wt: Path):
    modified = apply_item(wt, item("app/auth.py", "login", action="modify"),
                          ParsedCode("def login(u, p):\n    return 'x'\n"), set())
    created = apply_item(wt, item("app/deep/new.py", "f"), ParsedCode("def f():\n    pass\n"),
                         set())
    revert(wt, created)
    revert(wt, modified)
    assert (wt / "app" / "auth.py").read_text() == AUTH
    assert not (wt / "app" / "deep").exists()


def test_change_round_trips_through_json(wt: Path):
    change = apply_item(wt, item("app/auth.py", "login", action="modify"),
                        ParsedCode("def login(u, p):\n    return 'x'\n"), set())
    again = AppliedChange.from_dict(change.to_dict())
    assert again == change
    revert(wt, again)
    assert (wt / "app" / "auth.py").read_text() == AUTH


GO_TEXT = '''package shop

import "strings"

const breaks = " \\t"

// Trim removes surrounding spaces.
func Trim(s string) string {
	return strings.Trim(s, breaks)
}

func Last() {}
'''


def test_go_answer_keeps_its_new_constant_and_drops_one_the_file_has(wt: Path):
    (wt / "shop").mkdir()
    (wt / "shop" / "text.go").write_text(GO_TEXT)
    answer = ('```go\npackage shop\n\nimport "strings"\n\nconst breaks = " \\t"\n\n'
              'var joiner = "-"\n\nfunc Slug(s string) string {\n'
              '\treturn strings.Join(strings.Fields(Trim(s)+breaks), joiner)\n}\n```')
    target = item("shop/text.go", "Slug")
    apply_item(wt, target, parse_code(answer, target), set())
    text = (wt / "shop" / "text.go").read_text()
    assert text.count("const breaks") == 1 and text.count('import "strings"') == 1
    # beside Trim, which it uses; with the file's one blank line
    assert text == GO_TEXT.replace("\n\nfunc Last", '\n\nvar joiner = "-"\n\nfunc Slug(s string) '
                                   'string {\n\treturn strings.Join(strings.Fields(Trim(s)+'
                                   'breaks), joiner)\n}\n\nfunc Last')


def test_a_created_function_goes_beside_the_symbol_its_spec_context_names(wt: Path):
    target = item("app/auth.py", "logout")
    target.context = ["app/auth.py::LoginFailed", "app/users.py::verify_password"]
    apply_item(wt, target, ParsedCode("def logout(token: str) -> None:\n    pass\n"), set())
    text = (wt / "app" / "auth.py").read_text()
    assert '"""Wrong username or password."""\n\n\ndef logout(token: str) -> None:\n    pass' \
        "\n\n\ndef login(" in text


def test_a_methods_module_constant_and_helper_go_ahead_of_its_class(wt: Path):
    answer = ("```python\nimport time\n\nWINDOW_S = 60.0\n\n\ndef _now() -> float:\n"
              "    return time.monotonic()\n\n\nclass RateLimiter:\n"
              "    def __init__(self, limit: int) -> None:\n        self.limit = limit\n\n"
              "    def check(self, key: str) -> bool:\n        return _now() > WINDOW_S\n```")
    target = item("app/ratelimit.py", "RateLimiter.check", "method")
    parsed = parse_code(answer, target)
    assert parsed.module_code == "WINDOW_S = 60.0\n\n\ndef _now() -> float:\n" \
        "    return time.monotonic()\n"
    apply_item(wt, target, parsed, set())
    assert (wt / "app" / "ratelimit.py").read_text() == (
        "import time\n\nWINDOW_S = 60.0\n\n\ndef _now() -> float:\n    return time.monotonic()"
        "\n\n\n" + LIMITER + "\n    def check(self, key: str) -> bool:\n"
        "        return _now() > WINDOW_S\n")
    # Again (a retry): what the file has now is not added twice.
    apply_item(wt, target, parse_code(answer, target), set())
    assert (wt / "app" / "ratelimit.py").read_text().count("WINDOW_S = 60.0") == 1


def test_a_typescript_methods_module_constant_is_kept(wt: Path):
    (wt / "src").mkdir()
    (wt / "src" / "cart.ts").write_text("export class Cart {\n  items: number[] = [];\n}\n")
    answer = ("```ts\nconst TAX = 0.2;\n\nexport class Cart {\n  items: number[] = [];\n\n"
              "  total(): number {\n    return this.items.reduce((a, b) => a + b, 0) * (1 + TAX);"
              "\n  }\n}\n```")
    target = item("src/cart.ts", "Cart.total", "method")
    apply_item(wt, target, parse_code(answer, target), set())
    assert (wt / "src" / "cart.ts").read_text() == (
        "const TAX = 0.2;\n\nexport class Cart {\n  items: number[] = [];\n\n  total(): number {\n"
        "    return this.items.reduce((a, b) => a + b, 0) * (1 + TAX);\n  }\n}\n")
