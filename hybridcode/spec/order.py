"""The order items are implemented in: dependencies first, cycles named."""

from __future__ import annotations

from hybridcode.errors import SpecError
from hybridcode.spec.issues import fix_hint
from hybridcode.spec.model import Spec, SpecItem


def dependency_cycles(spec: Spec) -> list[list[str]]:
    """Each cycle once, as a path that returns to its start (``a → b → a``)."""
    deps = {item.id: [d for d in item.depends_on] for item in spec.items}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        path.append(node)
        for dep in deps.get(node, []):
            if dep not in deps:
                continue
            if state.get(dep) == 1:
                cycles.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, path)
        path.pop()
        state[node] = 2

    for item_id in deps:
        if item_id not in state:
            visit(item_id, [])
    return cycles


def topological_order(spec: Spec) -> list[SpecItem]:
    """Items with dependencies first; ties keep the spec's order, so the result is stable."""
    ids = {item.id for item in spec.items}
    for item in spec.items:
        unknown = [d for d in item.depends_on if d not in ids]
        if unknown:
            raise SpecError(f'item "{item.id}" depends on unknown item "{unknown[0]}"',
                            fix_hint("spec.json", spec.plan_id))
    done: set[str] = set()
    order: list[SpecItem] = []
    pending = list(spec.items)
    while pending:
        ready = [i for i in pending if all(d in done for d in i.depends_on)]
        if not ready:
            cycle = dependency_cycles(spec)[0]
            raise SpecError(f"dependency cycle: {' → '.join(cycle)}",
                            fix_hint("spec.json", spec.plan_id))
        for item in ready:
            order.append(item)
            done.add(item.id)
        pending = [i for i in pending if i.id not in done]
    return order
