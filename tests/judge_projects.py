"""Small real Go and TypeScript projects in git repositories, and one-item plans for them, for
the judge tests (implement end to end and review). Toolchains come from :mod:`toolchains`."""

from __future__ import annotations

from pathlib import Path

from implement_helpers import git, marker, write_plan

from hybridcode.spec import AcceptanceTests, SpecItem

GO_MOD = "module example.com/shop\n\ngo 1.19\n"
GO_TEXTUTIL = '''package textutil

import "strings"

// Trim removes surrounding spaces.
func Trim(s string) string {
	return strings.TrimSpace(s)
}
'''
GO_TESTS = '''package textutil

import "testing"

func TestSlugLowercases(t *testing.T) {
	if got := Slug("Hello"); got != "hello" {
		t.Fatalf("Slug(%q) = %q, want %q", "Hello", got, "hello")
	}
}

func TestSlugJoinsWordsWithHyphens(t *testing.T) {
	if got := Slug("Hello  Big World"); got != "hello-big-world" {
		t.Fatalf("Slug(%q) = %q, want %q", "Hello  Big World", got, "hello-big-world")
	}
}
'''
GO_RIGHT = '''```go
import "strings"

func Slug(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), "-")
}
```
'''
GO_WRONG = '''```go
import "strings"

func Slug(s string) string {
	return strings.ToLower(s)
}
```
'''

TS_PACKAGE = ('{"name": "shop", "private": true, "type": "module", "scripts": {"test": '
              '"vitest run"}, "devDependencies": {"vitest": "3.2.4", "typescript": "5.6.3"}}\n')
TS_CONFIG = ('{"compilerOptions": {"target": "ES2022", "module": "ESNext", "moduleResolution": '
             '"Bundler", "strict": true, "noEmit": true, "skipLibCheck": true, "types": []}, '
             '"include": ["src"]}\n')
TS_TEXT = '''export function trim(s: string): string {
  return s.trim();
}
'''
TS_TESTS = '''import { describe, expect, it } from "vitest";
import { slug } from "./text";

describe("slug", () => {
  it("lowercases", () => {
    expect(slug("Hello")).toBe("hello");
  });
  it("joins words with hyphens", () => {
    expect(slug("Hello  Big World")).toBe("hello-big-world");
  });
});
'''
TS_RIGHT = '''```typescript
export function slug(s: string): string {
  return s.toLowerCase().split(/\\s+/).filter(Boolean).join("-");
}
```
'''
TS_WRONG = '''```typescript
export function slug(s: string): string {
  return s.toLowerCase();
}
```
'''
TS_UNTYPED = '''```typescript
export function slug(s: string): string {
  const n: number = s;
  return s.toLowerCase().split(/\\s+/).filter(Boolean).join("-") + n;
}
```
'''


def _commit(root: Path) -> Path:
    (root / ".gitignore").write_text(".hybrid/\nnode_modules\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "Test")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "shop")
    return root


def make_go_project(root: Path) -> Path:
    (root / "textutil").mkdir(parents=True)
    (root / "go.mod").write_text(GO_MOD)
    (root / "textutil" / "text.go").write_text(GO_TEXTUTIL)
    return _commit(root)


def make_ts_project(root: Path, modules: Path) -> Path:
    from toolchains import link_node_modules

    (root / "src").mkdir(parents=True)
    (root / "package.json").write_text(TS_PACKAGE)
    (root / "tsconfig.json").write_text(TS_CONFIG)
    (root / "src" / "text.ts").write_text(TS_TEXT)
    link_node_modules(root, modules)
    return _commit(root)


def go_item(tests: str = GO_TESTS) -> SpecItem:
    return SpecItem(
        id="slug", title="Slug(s)", kind="function", category="data_transformation",
        file="textutil/text.go", symbol="Slug", action="create",
        signature="func Slug(s string) string",
        description=f"Lowercase s and join its words with single hyphens. {marker('slug')}",
        tests=AcceptanceTests(code=tests, runner="go"), route="local", route_reason="test")


def ts_item(tests: str = TS_TESTS) -> SpecItem:
    return SpecItem(
        id="slug", title="slug(s)", kind="function", category="data_transformation",
        file="src/text.ts", symbol="slug", action="create",
        signature="export function slug(s: string): string",
        description=f"Lowercase s and join its words with single hyphens. {marker('slug')}",
        tests=AcceptanceTests(code=tests, runner="vitest"), route="local", route_reason="test")


def plan_with(root: Path, item: SpecItem) -> str:
    return write_plan(root, [item])


GO_TRIM_TESTS = '''package textutil

import "testing"

func TestTrimSpaces(t *testing.T) {
	if got := Trim("  a b  "); got != "a b" {
		t.Fatalf("Trim = %q, want %q", got, "a b")
	}
}
'''
TS_TRIM_TESTS = '''import { expect, test } from "vitest";
import { trim } from "./text";

test("trim removes surrounding spaces", () => {
  expect(trim("  a b  ")).toBe("a b");
});
'''
