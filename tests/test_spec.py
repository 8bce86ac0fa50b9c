"""The spec model, loading, validation, ordering, the planner's output shape, and plan.md."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hybridcode.errors import SpecError
from hybridcode.plan import PlannerOutput, planner_output_schema, spec_from_planner
from hybridcode.plan.render import render_plan_markdown
from hybridcode.spec import (
    ItemSizing,
    Spec,
    SpecIssue,
    load_spec,
    raise_for_issues,
    render_issues,
    save_spec,
    spec_from_data,
    spec_json_schema,
    topological_order,
    validate_spec,
)

from plan_helpers import AUTH_PY, FIXTURE, ROOT, USERS_PY  # the shared sample app


def fixture_data() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def ast_symbol_exists(root: Path):
    """A stand-in for the tree-sitter lookup: qualified names of defs and classes."""

    def exists(file: str, symbol: str) -> bool:
        path = root / file
        if not path.is_file():
            return False
        names: set[str] = set()

        def walk(nodes: list[ast.stmt], prefix: str) -> None:
            for node in nodes:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(prefix + node.name)
                    if isinstance(node, ast.ClassDef):
                        walk(node.body, f"{prefix}{node.name}.")

        walk(ast.parse(path.read_text()).body, "")
        return symbol in names

    return exists


@pytest.fixture
def app_repo(tmp_path: Path) -> Path:
    root = tmp_path / "app-repo"
    (root / "app").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "auth.py").write_text(AUTH_PY)
    (root / "app" / "users.py").write_text(USERS_PY)
    (root / "README.md").write_text("# sample\n")
    return root


def spec_with(mutate=None) -> Spec:
    data = fixture_data()
    if mutate:
        mutate(data)
    spec, issues = spec_from_data(data)
    assert spec is not None, issues
    return spec


def item(data: dict[str, Any], item_id: str) -> dict[str, Any]:
    return next(i for i in data["items"] if i["id"] == item_id)


# ------------------------------------------------------------------------------- model & files

def test_fixture_is_a_valid_spec_for_its_repository(app_repo: Path) -> None:
    spec = load_spec(FIXTURE)
    assert [i.id for i in spec.items] == [
        "ratelimit-store", "ratelimit-limiter", "ratelimit-client-ip", "login-throttled-error",
        "login-ratelimit"]
    assert validate_spec(spec, app_repo, ast_symbol_exists(app_repo)) == []


def test_save_then_load_round_trips_and_is_stable(tmp_path: Path) -> None:
    spec = load_spec(FIXTURE)
    out = tmp_path / "plans" / "p1" / "spec.json"
    save_spec(spec, out)
    assert load_spec(out) == spec
    first = out.read_text()
    save_spec(load_spec(out), out)
    assert out.read_text() == first == FIXTURE.read_text()
    assert first.endswith("}\n") and '\n  "items": [' in first
    assert list(json.loads(first)) == ["spec_version", "plan_id", "title", "summary", "items"]
    assert [p.name for p in out.parent.iterdir()] == ["spec.json"]  # no temp file left


def test_docs_schema_matches_the_generator() -> None:
    published = json.loads((ROOT / "docs" / "spec.schema.json").read_text())
    assert published == spec_json_schema(), "regenerate docs/spec.schema.json (docs/spec.md)"


def test_fixture_validates_against_the_published_schema() -> None:
    jsonschema.Draft202012Validator(spec_json_schema()).validate(fixture_data())


def test_default_test_path_and_target() -> None:
    spec = load_spec(FIXTURE)
    store = spec.item("ratelimit-store")
    assert store.test_path == "tests/hybrid/test_hybrid_ratelimit_store.py"
    assert store.target == "app/ratelimit.py::SlidingWindowStore"
    with pytest.raises(KeyError):
        spec.item("nope")


# ------------------------------------------------------------------------------- load errors

def _broken(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


_DELETE = object()

LOAD_ERRORS = [
    (("items", 0, "kind"), "widget",
     'spec.json: item "ratelimit-store" field "kind": Input should be'),
    (("items", 1, "description"), _DELETE,
     'item "ratelimit-limiter" field "description": missing (required)'),
    (("items", 0, "depend_on"), ["x"],
     'item "ratelimit-store" field "depend_on": unknown field'),
    (("items", 0, "id"), "Rate Store", 'item #1 field "id": must be a short slug'),
    (("items", 2, "examples", 0, "expected"), _DELETE,
     'item "ratelimit-client-ip" field "examples[0].expected": missing'),
    (("items", 0, "risk", "security_sensitive"), "very",
     'item "ratelimit-store" field "risk.security_sensitive"'),
    (("title",), _DELETE, 'spec.json: field "title": missing (required)'),
    (("spec_version",), 3, 'field "spec_version": is 3; this version of hybrid reads'),
    (("items",), "all of them", 'field "items": Input should be a valid list'),
]


@pytest.mark.parametrize("path, value, expected", LOAD_ERRORS)
def test_load_errors_name_item_and_field(tmp_path: Path, path, value, expected) -> None:
    target = tmp_path / "spec.json"
    target.write_text(json.dumps(_broken(fixture_data(), path, value)))
    with pytest.raises(SpecError) as err:
        load_spec(target)
    assert expected in err.value.message
    assert err.value.hint == "fix spec.json and run `hybrid spec check 01JRATELIMIT0000000000000`"


def test_load_counts_further_errors(tmp_path: Path) -> None:
    data = fixture_data()
    data["items"][0]["kind"] = "widget"
    data["items"][1]["action"] = "delete"
    target = tmp_path / "spec.json"
    target.write_text(json.dumps(data))
    with pytest.raises(SpecError, match=r"\(and 1 more\)"):
        load_spec(target)


def test_load_invalid_json_gives_line_and_column(tmp_path: Path) -> None:
    target = tmp_path / "p9" / "spec.json"
    target.parent.mkdir()
    target.write_text('{\n  "title": "x",\n  "items": [,]\n}\n')
    with pytest.raises(SpecError) as err:
        load_spec(target)
    assert err.value.message.startswith("spec.json: not valid JSON at line 3 column")
    assert err.value.hint == "fix spec.json and run `hybrid spec check p9`"


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="does not exist") as err:
        load_spec(tmp_path / "spec.json")
    assert "hybrid plan" in (err.value.hint or "")


# ------------------------------------------------------------------------------- validation

def _dep(item_id: str, deps: list[str]):
    return lambda d: item(d, item_id).__setitem__("depends_on", deps)


def _set(item_id: str, **fields: Any):
    def mutate(d: dict[str, Any]) -> None:
        item(d, item_id).update(fields)
    return mutate


def _tests_code(item_id: str, code: str):
    return lambda d: item(d, item_id)["tests"].__setitem__("code", code)


VALIDATION = [
    # (mutation, item id, field, message fragment)
    (_set("ratelimit-limiter", id="ratelimit-store"), "ratelimit-store", "id", "duplicate id"),
    (_dep("ratelimit-store", ["store"]), "ratelimit-store", "depends_on", 'unknown item "store"'),
    (_dep("ratelimit-store", ["ratelimit-limiter"]), "ratelimit-store", "depends_on",
     "dependency cycle: ratelimit-store → ratelimit-limiter → ratelimit-store"),
    (_dep("ratelimit-store", ["ratelimit-store"]), "ratelimit-store", "depends_on",
     "depends on itself"),
    (_set("ratelimit-store", file="/etc/app.py"), "ratelimit-store", "file", "is absolute"),
    (_set("ratelimit-store", file="C:/app.py"), "ratelimit-store", "file", "is absolute"),
    (_set("ratelimit-store", file="app/../../x.py"), "ratelimit-store", "file",
     "leaves the repository"),
    (_set("ratelimit-store", file=".git/hooks/x.py"), "ratelimit-store", "file", "inside .git/"),
    (_set("ratelimit-store", file="sub/.hybrid/x.py"), "ratelimit-store", "file",
     "inside .hybrid/"),
    (_set("ratelimit-store", file="app\\x.py"), "ratelimit-store", "file", "backslashes"),
    (_set("ratelimit-store", file="./app/x.py"), "ratelimit-store", "file",
     'not in normal form; write "app/x.py"'),
    (_set("login-ratelimit", file="app/session.py"), "login-ratelimit", "file",
     "app/session.py does not exist; use action create"),
    (_set("login-ratelimit", symbol="signin"), "login-ratelimit", "symbol",
     '"signin" not found in app/auth.py'),
    (_set("login-throttled-error", symbol="LoginFailed"), "login-throttled-error", "action",
     '"LoginFailed" already exists in app/auth.py; use action modify'),
    (_set("login-throttled-error", symbol=None, kind="module"), "login-throttled-error",
     "action", "app/auth.py already exists; use action modify"),
    (_tests_code("ratelimit-store", "def test_x(:\n    pass\n"), "ratelimit-store",
     "tests.code", "does not parse: line 1"),
    (_tests_code("ratelimit-store", "import pytest\n\ndef helper():\n    pass\n"),
     "ratelimit-store", "tests.code", "contains no test function"),
    (_set("ratelimit-store", tests=None, examples=[]), "ratelimit-store", "tests", "missing"),
    (_set("ratelimit-store", symbol="add", kind="method"), "ratelimit-store", "symbol",
     "must be qualified with its class"),
    (_set("ratelimit-client-ip", symbol=None), "ratelimit-client-ip", "symbol",
     "required for a function item"),
    (_set("ratelimit-client-ip", signature="  "), "ratelimit-client-ip", "signature", "empty"),
    (_dep("ratelimit-limiter", []), "ratelimit-limiter", "context[0]",
     'created by item "ratelimit-store"; add "ratelimit-store" to depends_on'),
    (_set("login-ratelimit", context=["app/missing.py"]), "login-ratelimit", "context[0]",
     "app/missing.py does not exist"),
    (_set("login-ratelimit", context=["app/users.py::hash_password"]), "login-ratelimit",
     "context[0]", '"hash_password" not found in app/users.py'),
    (_set("login-ratelimit", context=["../secrets.txt"]), "login-ratelimit", "context[0]",
     "leaves the repository"),
    (lambda d: item(d, "ratelimit-limiter")["tests"].__setitem__(
        "path", "tests/hybrid/test_hybrid_ratelimit_store.py"),
     "ratelimit-limiter", "tests.path", 'also used by item "ratelimit-store"'),
    (lambda d: item(d, "ratelimit-limiter")["tests"].__setitem__("path", "app/auth.py"),
     "ratelimit-limiter", "tests.path", "is a target file of this spec"),
    (_set("login-throttled-error", file="lib/auth.rb", action="create"),
     "login-throttled-error", "tests.path", "required for a target in a language hybrid runs"),
    (_set("login-throttled-error", file="web/auth.ts", action="create"),
     "login-throttled-error", "tests.code", "contains no test (test(...) or it(...) call)"),
    (_set("login-throttled-error", file="auth/login.go", action="create"),
     "login-throttled-error", "tests.code", "contains no test (func TestXxx"),
    (lambda d: d["items"].append({**item(d, "ratelimit-store"), "id": "store-again"}),
     "store-again", "symbol", 'also created by item "ratelimit-store"'),
]


@pytest.mark.parametrize("mutate, item_id, field, fragment", VALIDATION)
def test_validation_names_item_and_field(app_repo: Path, mutate, item_id, field,
                                         fragment) -> None:
    issues = validate_spec(spec_with(mutate), app_repo, ast_symbol_exists(app_repo))
    matching = [i for i in issues if i.item_id == item_id and i.field == field]
    assert matching, issues
    assert any(fragment in i.message and i.is_error for i in matching), matching


def test_unknown_dependency_renders_as_documented(app_repo: Path) -> None:
    issues = validate_spec(spec_with(_dep("ratelimit-store", ["store"])), app_repo)
    assert render_issues(issues) == (
        '- spec.json: item "ratelimit-store" field "depends_on": unknown item "store"')


def test_symbols_are_not_checked_without_a_lookup(app_repo: Path) -> None:
    spec = spec_with(_set("login-ratelimit", symbol="signin"))
    assert validate_spec(spec, app_repo) == []


def test_modify_of_a_target_created_by_a_dependency_is_fine(app_repo: Path) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["items"].append({**item(d, "ratelimit-client-ip"), "id": "client-ip-doc",
                           "kind": "doc", "category": "docstring", "action": "modify",
                           "tests": None, "depends_on": ["ratelimit-client-ip"]})
    assert validate_spec(spec_with(mutate), app_repo, ast_symbol_exists(app_repo)) == []


def test_modify_of_a_target_created_by_an_unrelated_item_asks_for_the_dependency(
        app_repo: Path) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["items"].append({**item(d, "ratelimit-client-ip"), "id": "client-ip-doc",
                           "kind": "doc", "category": "docstring", "action": "modify",
                           "tests": None, "depends_on": []})
    issues = validate_spec(spec_with(mutate), app_repo, ast_symbol_exists(app_repo))
    assert [(i.item_id, i.field) for i in issues] == [("client-ip-doc", "file")]
    assert 'add "ratelimit-client-ip" to depends_on' in issues[0].message


def test_adding_to_a_file_another_item_writes_whole_needs_the_dependency(
        app_repo: Path) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["items"].insert(0, {"id": "ratelimit-module", "title": "Module", "kind": "module",
                              "category": "boilerplate", "file": "app/ratelimit.py",
                              "action": "create", "description": "Docstring and imports.",
                              "tests": {"code": "def test_imports():\n"
                                        "    import app.ratelimit\n"}})
    issues = validate_spec(spec_with(mutate), app_repo, ast_symbol_exists(app_repo))
    flagged = {i.item_id for i in issues if i.field == "depends_on"}
    assert flagged == {"ratelimit-store", "ratelimit-limiter", "ratelimit-client-ip"}


@pytest.mark.parametrize("route, severity", [(None, "error"), ("local", "error"),
                                             ("claude", "warning")])
def test_missing_tests_severity_follows_the_route(app_repo: Path, route, severity) -> None:
    spec = spec_with(_set("ratelimit-store", tests=None, examples=[], route=route))
    issues = validate_spec(spec, app_repo)
    assert [(i.field, i.severity) for i in issues] == [("tests", severity)]
    if severity == "warning":
        raise_for_issues(issues)  # warnings never block
        assert issues[0].render().endswith("(warning)")


def test_doc_and_test_items_need_no_acceptance_tests(app_repo: Path) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["items"].append({"id": "readme-ratelimit", "title": "Document the limit",
                           "kind": "doc", "category": "docstring", "file": "README.md",
                           "action": "modify", "description": "Add a section on the limit."})
        d["items"].append({"id": "login-tests", "title": "Project tests", "kind": "test",
                           "category": "test", "file": "tests/test_login.py",
                           "action": "create", "description": "Regression tests.",
                           "under_test": "app/auth.py::login",
                           "requirements": ["a throttled login raises"],
                           "depends_on": ["login-ratelimit"]})
    assert validate_spec(spec_with(mutate), app_repo) == []


@pytest.mark.parametrize("count, limit, fragment", [
    (0, 40, "no items"), (5, 4, "5 items (limit 4); split the request"),
])
def test_item_count_is_bounded(app_repo: Path, count, limit, fragment) -> None:
    spec = spec_with(lambda d: d.__setitem__("items", d["items"][:count]))
    issues = validate_spec(spec, app_repo, max_items=limit)
    assert [(i.item_id, i.field) for i in issues] == [(None, "items")]
    assert fragment in issues[0].message


def test_a_symlink_out_of_the_repository_is_refused(app_repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (app_repo / "vendor").symlink_to(outside, target_is_directory=True)
    spec = spec_with(_set("ratelimit-store", file="vendor/ratelimit.py"))
    issues = [i for i in validate_spec(spec, app_repo) if i.item_id == "ratelimit-store"]
    assert [(i.field, "symbolic link" in i.message) for i in issues] == [("file", True)]


def test_raise_for_issues_names_the_first_error_and_counts_the_rest() -> None:
    issues = [SpecIssue("a", "file", "is absolute", "warning"),
              SpecIssue("b", "depends_on", 'unknown item "c"'),
              SpecIssue(None, "items", "no items")]
    with pytest.raises(SpecError) as err:
        raise_for_issues(issues, "spec.json", "p1")
    assert str(err.value) == ('spec.json: item "b" field "depends_on": unknown item "c" '
                              "(and 1 more) — fix spec.json and run `hybrid spec check p1`")


# ------------------------------------------------------------------------------- ordering

def test_topological_order_puts_dependencies_first_and_keeps_ties_stable() -> None:
    order = [i.id for i in topological_order(load_spec(FIXTURE))]
    assert order == ["ratelimit-store", "ratelimit-client-ip", "login-throttled-error",
                     "ratelimit-limiter", "login-ratelimit"]


def test_topological_order_reports_the_cycle() -> None:
    spec = spec_with(lambda d: (_dep("ratelimit-store", ["login-ratelimit"])(d)))
    with pytest.raises(SpecError, match="dependency cycle: ratelimit-store → login-ratelimit"
                       " → ratelimit-limiter → ratelimit-store"):
        topological_order(spec)


def test_topological_order_reports_unknown_dependencies() -> None:
    with pytest.raises(SpecError, match='depends on unknown item "store"'):
        topological_order(spec_with(_dep("ratelimit-store", ["store"])))


# ------------------------------------------------------------------------------- planner output

def planner_spec(spec: Spec) -> Spec:
    """``spec`` as a planner writes it: runnable examples only, without notes."""
    items = [it.model_copy(update={"examples": [
        e.model_copy(update={"note": None}) for e in it.examples if e.run],
        "sizing": ItemSizing(code_tokens=900, spec_tokens=150)})
        for it in spec.items]
    return spec.model_copy(update={"items": items})


def planner_output_for(spec: Spec) -> PlannerOutput:
    """What a planner would have returned for ``spec`` (empty strings for absent values)."""
    items = []
    for it in spec.items:
        data = it.model_dump(mode="json", exclude={"route", "route_reason", "route_overridden",
                                                   "sizing"})
        data["code_tokens"], data["spec_tokens"] = 900, 150
        data["symbol"] = data["symbol"] or ""
        # The project's settings, and what a person grants (allow), not the planner's.
        for key in ("mutation_score", "doc_style", "allow"):
            data.pop(key, None)
        data["under_test"], data["like"] = data["under_test"] or "", data["like"] or ""
        data["code"] = data["code"] or ""
        data["risk"] = [name for name, raised in data["risk"].items() if raised]
        data["examples"] = [{"input": e["input"], "expected": e["expected"]}
                            for e in data["examples"] if e["run"]]
        data["tests"] = ({"code": data["tests"]["code"], "path": data["tests"]["path"] or ""}
                         if data["tests"] else {"code": "", "path": ""})
        items.append(data)
    return PlannerOutput.model_validate({
        "architecture_note": "## Design\nA sliding window per IP.",
        "spec": {"title": spec.title, "summary": spec.summary, "items": items}})


def test_planner_output_converts_into_the_strict_spec() -> None:
    spec = load_spec(FIXTURE)
    converted, issues = spec_from_planner(planner_output_for(spec), plan_id=spec.plan_id)
    assert issues == []
    assert converted == planner_spec(spec)


def test_planner_output_with_a_bad_id_reports_issues_instead_of_raising() -> None:
    output = planner_output_for(load_spec(FIXTURE))
    output.spec.items[0].id = "Rate Store"
    spec, issues = spec_from_planner(output)
    assert spec is None
    assert [(i.index, i.field) for i in issues] == [(0, "id")]


_ALLOWED_KEYWORDS = {"type", "description", "properties", "required", "additionalProperties",
                     "items", "enum"}


# Fields at their defaults are left out of the planner's answer (the tool fills them in); the
# API limits optional properties per request (24), so they are few and named here.
_OPTIONAL = {
    "$.spec.summary", "$.spec.items[].symbol", "$.spec.items[].signature",
    "$.spec.items[].requirements", "$.spec.items[].constraints", "$.spec.items[].examples",
    "$.spec.items[].example_setup", "$.spec.items[].tests", "$.spec.items[].tests.path",
    "$.spec.items[].code", "$.spec.items[].context", "$.spec.items[].depends_on",
    "$.spec.items[].risk", "$.spec.items[].under_test", "$.spec.items[].document",
    "$.spec.items[].like"}


def _walk_schema(node: dict[str, Any], where: str = "$", optional: set | None = None) -> set:
    optional = set() if optional is None else optional
    unsupported = set(node) - _ALLOWED_KEYWORDS
    assert not unsupported, f"{where}: {unsupported}"
    if node.get("type") == "object":
        assert node["additionalProperties"] is False, where
        assert set(node["required"]) <= set(node["properties"]), where
        optional |= {f"{where}.{name}" for name in set(node["properties"]) - set(node["required"])}
        for name, sub in node["properties"].items():
            _walk_schema(sub, f"{where}.{name}", optional)
    if node.get("type") == "array":
        _walk_schema(node["items"], f"{where}[]", optional)
    return optional


def test_planner_schema_fits_structured_output() -> None:
    """additionalProperties false and only the named fields optional; no $ref, anyOf, null,
    defaults or min/max/pattern constraints — what JSON-schema structured output accepts."""
    schema = planner_output_schema()
    assert _walk_schema(schema) == _OPTIONAL and len(_OPTIONAL) <= 24
    assert list(schema["properties"]) == ["architecture_note", "spec"]  # design before items
    text = json.dumps(schema)
    assert "tests/hybrid/test_hybrid_<id>.py" in text and "ratelimit-store" in text


def test_planner_output_parses_its_own_schema_example() -> None:
    output = planner_output_for(load_spec(FIXTURE))
    jsonschema.Draft202012Validator(planner_output_schema()).validate(output.model_dump())


# ------------------------------------------------------------------------------- plan.md

def test_plan_markdown_renders_every_item_in_order() -> None:
    from hybridcode.plan.routing import route_spec

    spec = route_spec(load_spec(FIXTURE))
    text = render_plan_markdown(spec, "## Design\nCount attempts per IP.")
    assert text.startswith("# Per-IP rate limiting for login\n")
    assert "## Architecture\n\n### Design\nCount attempts per IP." in text
    headings = re.findall(r"^### \d+\. .* \(`([a-z-]+)`\)$", text, flags=re.M)
    assert headings == [i.id for i in topological_order(spec)]
    assert "**Acceptance tests** → `tests/hybrid/test_hybrid_ratelimit_store.py`" in text
    assert "```python\nfrom app.ratelimit import SlidingWindowStore" in text
    assert "- **Route:** claude — security-critical code goes to Claude" in text
    assert "| `ratelimit-store` In-memory sliding-window store" in text


def test_plan_markdown_escapes_tables_and_fences() -> None:
    def mutate(d: dict[str, Any]) -> None:
        item(d, "ratelimit-store")["title"] = "a | b"
        item(d, "ratelimit-store")["tests"]["code"] = (
            'def test_x():\n    assert "```" != "x"\n')
    text = render_plan_markdown(spec_with(mutate), "")
    note = render_plan_markdown(spec_with(), "# Top\n```\n# not a heading\n```\n## Sub")
    assert "### Top\n```\n# not a heading\n```\n#### Sub" in note
    assert "`ratelimit-store` a \\| b |" in text
    assert "````python\ndef test_x():" in text
    assert "_No architecture note._" in text


def test_plan_markdown_survives_a_cyclic_spec() -> None:
    spec = spec_with(_dep("ratelimit-store", ["ratelimit-limiter"]))
    assert "ratelimit-store" in render_plan_markdown(spec, "note")


# ------------------------------------------------------------------------------- prompts

@pytest.mark.parametrize("name, placeholders", [
    ("planner.md", {"max_items", "test_dir"}),
    ("spec_repair.md", {"issues", "max_items"}),
])
def test_prompts_use_only_documented_placeholders(name, placeholders) -> None:
    text = (ROOT / "prompts" / name).read_text()
    header, _, body = text.partition("-->")
    assert header.startswith("<!--")
    assert set(re.findall(r"\{([a-z_]+)\}", body)) == placeholders
    for placeholder in placeholders:
        assert f"{{{placeholder}}}" in header


def test_planner_schema_survives_the_sdk_transform_unchanged_in_meaning() -> None:
    """The Anthropic backend sends ``anthropic.transform_schema(PlannerOutput)``: nothing of
    ours may be unsupported (the SDK would fold it into descriptions, defaults included), and
    only the named fields are optional."""
    import anthropic

    sent = anthropic.transform_schema(PlannerOutput)

    def check(node: Any) -> None:
        if isinstance(node, dict):
            assert "\n\n{" not in node.get("description", "")
            assert "{default" not in node.get("description", "")
            if node.get("type") == "object":
                assert node["additionalProperties"] is False
                assert set(node["required"]) <= set(node["properties"])
            for value in node.values():
                check(value)
        elif isinstance(node, list):
            for value in node:
                check(value)

    check(sent)


def test_a_failing_symbol_lookup_is_reported_not_raised(app_repo: Path) -> None:
    from hybridcode.errors import ContextError

    def broken(file: str, symbol: str) -> bool:
        raise ContextError(f"{file} has a syntax error at line 3", "fix the file")

    issues = validate_spec(load_spec(FIXTURE), app_repo, broken)
    assert ("login-ratelimit", "symbol") in {(i.item_id, i.field) for i in issues}
    assert any("cannot look up login in app/auth.py: app/auth.py has a syntax error" in i.message
               for i in issues)
