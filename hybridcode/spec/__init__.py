"""The spec: the contract the planner writes, a person may edit, the implementer executes and
the reviewer checks against.

A spec lives at ``.hybrid/plans/<plan-id>/spec.json``. Its shape is :class:`Spec` (strict:
unknown fields are errors, so a typo in a hand edit is caught). The planner model fills a looser
twin, :class:`hybridcode.plan.PlannerOutput`, whose JSON schema fits structured-output APIs; its
result is converted into a :class:`Spec` here and then checked by :func:`validate_spec`.

Two layers of checking, both reported as :class:`SpecIssue` (item, field, message):

- structure (:func:`spec_from_data`): types, enums, required fields, id format;
- meaning (:func:`validate_spec`): ids unique, dependencies known and acyclic, paths inside the
  repository, ``modify`` targets present, ``create`` targets absent, tests parse.

The field descriptions below are written as instructions to the planner: they are sent to it
inside the JSON schema, and ``docs/spec.schema.json`` is generated from them.

The package's files name its jobs: :mod:`~hybridcode.spec.model` (the shape),
:mod:`~hybridcode.spec.storage` (load, structural checks, save),
:mod:`~hybridcode.spec.migration` (older versions), :mod:`~hybridcode.spec.validation`
(meaning), :mod:`~hybridcode.spec.order` (dependency order), :mod:`~hybridcode.spec.examples`
(examples as tests) and :mod:`~hybridcode.spec.schema` (the published JSON schema). Import from
the package: ``from hybridcode.spec import SpecItem``.
"""

from __future__ import annotations

from hybridcode.spec.issues import SpecIssue, raise_for_issues, render_issues
from hybridcode.spec.migration import READABLE_VERSIONS
from hybridcode.spec.model import (
    CODE_KINDS,
    ID_PATTERN,
    MAX_ITEMS,
    RESERVED_DIRS,
    SPEC_VERSION,
    SYMBOL_KINDS,
    TEST_DIR,
    AcceptanceTests,
    Action,
    Category,
    DocStyle,
    Example,
    ItemKind,
    ItemSizing,
    RiskFlags,
    Route,
    Severity,
    Spec,
    SpecItem,
    SymbolExists,
    TestRunner,
    default_test_path,
)
from hybridcode.spec.order import topological_order
from hybridcode.spec.schema import spec_json_schema
from hybridcode.spec.storage import load_spec, save_spec, spec_from_data, spec_to_json
from hybridcode.spec.validation import validate_spec

__all__ = [
    "CODE_KINDS", "ID_PATTERN", "MAX_ITEMS", "READABLE_VERSIONS", "RESERVED_DIRS", "SPEC_VERSION",
    "SYMBOL_KINDS", "TEST_DIR", "AcceptanceTests", "Action", "Category", "DocStyle", "Example",
    "ItemKind", "ItemSizing",
    "RiskFlags", "Route", "Severity", "Spec", "SpecIssue", "SpecItem", "SymbolExists",
    "TestRunner", "default_test_path", "load_spec", "raise_for_issues", "render_issues",
    "save_spec", "spec_from_data", "spec_json_schema", "spec_to_json", "topological_order",
    "validate_spec",
]
