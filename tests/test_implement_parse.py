"""The parser on a corpus of messy answers, the way small models really write them."""

from __future__ import annotations

import pytest

from hybridcode.implement.parse import OutputParseError, ParsedCode, parse_code
from hybridcode.spec import SpecItem


def item(symbol: str | None = "client_ip", kind: str = "function", file: str = "app/net.py",
         action: str = "create") -> SpecItem:
    return SpecItem(id="it", title="t", kind=kind, file=file, symbol=symbol, action=action,
                    signature="def f()" if symbol else "", description="d")


METHOD = item("RateLimiter.check", "method", "app/ratelimit.py")

PROSE_AND_FENCE = '''Sure! Here is the implementation of `client_ip`:

```python
def client_ip(remote_addr: str) -> str:
    return remote_addr.strip()
```

This function strips whitespace from the address. Let me know if you need anything else!
'''


def test_prose_around_one_fence():
    parsed = parse_code(PROSE_AND_FENCE, item())
    assert parsed == ParsedCode("def client_ip(remote_addr: str) -> str:\n"
                                "    return remote_addr.strip()\n", [], False)


def test_two_fences_chooses_the_one_defining_the_target():
    text = '''Usage first:

```python
ip = client_ip(" 10.0.0.1 ")
print(ip)
```

And the function:

```py
import ipaddress

def client_ip(remote_addr: str) -> str:
    return str(ipaddress.ip_address(remote_addr.strip()))
```
'''
    parsed = parse_code(text, item())
    assert parsed.code.startswith("def client_ip(")
    assert parsed.imports == ["import ipaddress"]


def test_corrected_version_after_the_first_wins():
    text = ("```python\ndef client_ip(a):\n    return a\n```\nOops, that ignores spaces. "
            "Fixed:\n```python\ndef client_ip(a):\n    return a.strip()\n```\n")
    assert "strip()" in parse_code(text, item()).code


def test_without_fences_prose_is_cut():
    text = ("Here is the code\n\nfrom x import y\n\ndef client_ip(a: str) -> str:\n"
            "    return y(a)\n\nThis function returns the address from y.\n")
    parsed = parse_code(text, item())
    assert parsed.code == "def client_ip(a: str) -> str:\n    return y(a)\n"
    assert parsed.imports == ["from x import y"]


def test_prose_only_is_an_error_worth_feeding_back():
    with pytest.raises(OutputParseError) as exc:
        parse_code("I think you should use the peer address.", item())
    assert "no code found in your answer" in exc.value.message
    assert "```python" in exc.value.message


def test_whole_file_yields_the_target_helpers_and_imports():
    text = '''```python
"""Networking helpers."""
from __future__ import annotations

import ipaddress
from app.net import TRUSTED

PRIVATE = ("10.",)


def _clean(value: str) -> str:
    return value.strip()


def client_ip(remote_addr: str) -> str:
    value = _clean(remote_addr)
    return value if not value.startswith(PRIVATE) else ""


def unrelated() -> None:
    pass


if __name__ == "__main__":
    print(client_ip("1.2.3.4"))
```'''
    parsed = parse_code(text, item())
    assert parsed.from_whole_file
    assert parsed.imports == ["from __future__ import annotations", "import ipaddress"]
    assert "def _clean" in parsed.code and "PRIVATE = " in parsed.code
    assert "unrelated" not in parsed.code and "__main__" not in parsed.code
    assert "Networking helpers" not in parsed.code


def test_method_inside_its_class_is_cut_out():
    text = '''```python
import time

class RateLimiter:
    def __init__(self) -> None:
        self.hits = {}

    def _now(self) -> float:
        return time.monotonic()

    def check(self, key: str) -> bool:
        return self._now() > 0
```'''
    parsed = parse_code(text, METHOD)
    assert parsed.from_whole_file
    assert "def check(self, key: str) -> bool:" in parsed.code
    assert "def _now" in parsed.code  # a helper the method uses
    assert "__init__" not in parsed.code and "class RateLimiter" not in parsed.code
    assert parsed.imports == ["import time"]


def test_bare_method_is_accepted():
    parsed = parse_code("```python\ndef check(self, key: str) -> bool:\n    return True\n```",
                        METHOD)
    assert parsed.code.startswith("def check(self")
    assert not parsed.from_whole_file


def test_think_blocks_are_ignored():
    text = ("<think>\nMaybe:\n```python\ndef client_ip(a):\n    return None\n```\nNo.\n"
            "</think>\n\n```python\ndef client_ip(a):\n    return a\n```")
    assert parse_code(text, item()).code == "def client_ip(a):\n    return a\n"


def test_only_a_closing_think_tag():
    text = "reasoning here\n</think>\n```python\ndef client_ip(a):\n    return a\n```"
    assert parse_code(text, item()).code == "def client_ip(a):\n    return a\n"


def test_only_thinking_is_reported():
    with pytest.raises(OutputParseError, match="only thinking"):
        parse_code("<think>\nI will write it.\n</think>\n", item())


def test_crlf_answer():
    text = "Here:\r\n```python\r\ndef client_ip(a):\r\n    return a\r\n```\r\nDone.\r\n"
    assert parse_code(text, item()).code == "def client_ip(a):\n    return a\n"


def test_language_tags_and_other_languages():
    text = ("```bash\npip install nothing\n```\n```Python3\ndef client_ip(a):\n    return a\n"
            "```\n")
    assert parse_code(text, item()).code == "def client_ip(a):\n    return a\n"


def test_unclosed_fence_runs_to_the_end():
    assert parse_code("```python\ndef client_ip(a):\n    return a\n", item()).code == \
        "def client_ip(a):\n    return a\n"


def test_missing_target_names_what_was_found():
    with pytest.raises(OutputParseError) as exc:
        parse_code("```python\ndef check(a):\n    return a\n```", item("RateLimiter.retry",
                                                                      "method"))
    message = exc.value.message
    assert "no definition of `RateLimiter.retry` found in your answer" in message
    assert "`check`" in message and "complete method" in message


def test_empty_block():
    with pytest.raises(OutputParseError, match="empty code block"):
        parse_code("```python\n```", item())


def test_header_path_is_reported():
    parsed = parse_code("```python\n# app/other.py\ndef client_ip(a):\n    return a\n```",
                        item())
    assert parsed.claimed_path == "app/other.py"
    titled = parse_code('```python title="app/net.py"\ndef client_ip(a):\n    return a\n```',
                        item())
    assert titled.claimed_path == "app/net.py"


def test_module_item_keeps_the_whole_block():
    text = ("Here is the module:\n```python\n\"\"\"Doc.\"\"\"\nimport os\n\n\ndef f():\n"
            "    return os.sep\n```\n")
    parsed = parse_code(text, item(None, "module", "app/new.py"))
    assert parsed.code.startswith('"""Doc."""\nimport os')
    assert parsed.imports == []


def test_markdown_item_takes_the_markdown_fence():
    text = "Here you go:\n```markdown\n# Rate limiting\n\nFive attempts per minute.\n```\n"
    parsed = parse_code(text, item(None, "doc", "docs/ratelimit.md"))
    assert parsed.code == "# Rate limiting\n\nFive attempts per minute.\n"


def test_typescript_function_in_a_file():
    text = ("```ts\nimport { x } from './x';\n\nexport function clientIp(a: string): string "
            "{\n  return x(a);\n}\n\nexport function other(): void {}\n```")
    parsed = parse_code(text, item("clientIp", "function", "src/net.ts"))
    assert parsed.code.startswith("export function clientIp(a: string)")
    assert "other" not in parsed.code
    assert parsed.imports == ["import { x } from './x';"]
    assert parsed.from_whole_file


GO_WHOLE_FILE = '''```go
package shop

import "strings"

// breaks separate words.
const breaks = " \\t\\n"

const (
	minLen, maxLen = 1, 64
)

var joiner = strings.Repeat("-", width)

var width = 1

var unused = 0

func isBreak(r rune) bool { return strings.ContainsRune(breaks, r) }

func Slug(s string) string {
	out := strings.Join(strings.FieldsFunc(s, isBreak), joiner)
	if len(out) > maxLen {
		return out[:maxLen]
	}
	return out
}

func (c *Cart) Total() int { return maxLen }

func main() {}
```'''


def test_go_keeps_the_package_constants_variables_and_helpers_the_code_uses():
    parsed = parse_code(GO_WHOLE_FILE, item("Slug", "function", "shop/slug.go"))
    assert parsed.imports == ['import "strings"'] and parsed.from_whole_file
    code = parsed.code
    for kept in ('// breaks separate words.\nconst breaks = " \\t\\n"', "minLen, maxLen = 1, 64",
                 'var joiner = strings.Repeat("-", width)', "var width = 1",  # through joiner
                 "func isBreak(r rune) bool", "func Slug(s string) string {"):
        assert kept in code, kept
    assert "unused" not in code and "main" not in code and "Total" not in code
    # A run of declarations keeps the answer's own spacing; definitions get one blank line.
    assert code.startswith('// breaks separate words.\nconst breaks = " \\t\\n"\n\nconst (\n')


def test_a_go_method_keeps_the_package_constant_it_uses():
    parsed = parse_code(GO_WHOLE_FILE, item("Cart.Total", "method", "shop/slug.go"))
    assert parsed.code == "const (\n\tminLen, maxLen = 1, 64\n)\n\n" \
        "func (c *Cart) Total() int { return maxLen }\n"


def test_typescript_keeps_the_module_constants_and_variables_the_code_uses():
    text = ('```ts\nimport { z } from "./z";\n\nconst BREAKS = /\\s+/;\nexport const SEP = "-";\n'
            'let { calls, limit: max } = z;\nconst unused = 1;\nconst norm = (s: string) => '
            's.toLowerCase();\n\nexport function slug(s: string): string {\n  calls += max;\n'
            '  return norm(s).split(BREAKS).join(SEP);\n}\n\nconsole.log(slug("A b"));\n```')
    parsed = parse_code(text, item("slug", "function", "src/slug.ts"))
    assert parsed.imports == ['import { z } from "./z";'] and parsed.from_whole_file
    assert parsed.code == ('const BREAKS = /\\s+/;\nexport const SEP = "-";\n'
                           "let { calls, limit: max } = z;\n\n"
                           "const norm = (s: string) => s.toLowerCase();\n\n"
                           "export function slug(s: string): string {\n  calls += max;\n"
                           "  return norm(s).split(BREAKS).join(SEP);\n}\n")


def test_python_constant_keeps_what_its_value_uses():
    text = ("```python\ndef _default():\n    return 3\n\n\nLIMIT = _default()\n\n\n"
            "def client_ip(a):\n    return a[:LIMIT]\n```")
    parsed = parse_code(text, item())
    assert parsed.code == ("def _default():\n    return 3\n\n\nLIMIT = _default()\n\n\n"
                           "def client_ip(a):\n    return a[:LIMIT]\n")
