"""Code that reaches for the judge is refused before it runs.

A routine item (a function, a class) has no business ending the process, sending signals,
starting processes, writing files, opening sockets, loading native code, touching the test
framework or the interpreter's own machinery (``sys.modules``, builtins). Those are exactly the
tools a model needs to fake a verdict, so an answer that uses one is refused — the line and the
reason go back to the model like a failing test — unless the item's spec allows that
capability (``allow = ["process", "files"]``)::

    findings = reach(code, imports, "python", allow=item.allow)
    # → [Reach(line=5, capability="process", what="os._exit")]

Python is read with :mod:`ast` (names resolved through the answer's own imports: ``from os
import _exit as q`` then ``q()`` is ``os._exit``); Go and JavaScript/TypeScript with tree-sitter
(import paths, ``pkg.Func`` selectors, ``require(...)``). It is a tripwire for the known ways,
not a proof: the sandbox and the signed channel (channel.py) stay the judge's walls.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

__all__ = ["CAPABILITIES", "Reach", "describe", "reach"]

CAPABILITIES = {
    "process": "ending the process, signals or starting processes",
    "files": "writing, moving or deleting files",
    "network": "sockets and network clients",
    "native": "native code and raw memory (ctypes, unsafe, syscall)",
    "test-framework": "the test framework (unittest, pytest, testing, vitest, jest, node:test)",
    "runtime": "the interpreter's machinery (sys.modules, builtins, import hooks, frames, gc)",
}


@dataclass(frozen=True)
class Reach:
    line: int  # 1-based, in the answer's code ("imports" lines count before it)
    capability: str
    what: str

    def text(self) -> str:
        return f"line {self.line}: {self.what} ({CAPABILITIES[self.capability]})"


def reach(code: str, imports: list[str] | None, language: str | None,
          allow: list[str] | tuple[str, ...] = ()) -> list[Reach]:
    """What ``code`` (with its separate ``imports``) reaches for that ``allow`` does not
    permit, first by line. Languages without a rule set find nothing."""
    head = "\n".join(imports or [])
    source = f"{head}\n{code}" if head else code
    shift = head.count("\n") + 1 if head else 0
    if language == "python":
        found = _python(source)
    elif language == "go":
        found = _go(source)
    elif language in ("javascript", "typescript", "tsx"):
        found = _js(source, language)
    else:
        return []
    allowed = set(allow)
    seen: set[tuple[int, str]] = set()
    result = []
    for item in sorted(found, key=lambda r: (r.line, -len(r.what))):
        if item.capability in allowed or (item.line, item.capability) in seen:
            continue
        seen.add((item.line, item.capability))
        line = item.line - shift if item.line > shift else item.line
        result.append(Reach(max(line, 1), item.capability, item.what))
    return result


def describe(findings: list[Reach], where: str) -> str:
    """The refusal, written for the model (and the reviewer)."""
    shown = "; ".join(f.text() for f in findings[:5])
    more = f" and {len(findings) - 5} more" if len(findings) > 5 else ""
    caps = sorted({f.capability for f in findings})
    return (f"{where} reaches for what this item may not use — {shown}{more}. Write the item "
            "without it (code under test must not end the process, write files or touch the "
            f"test machinery); only a spec item with allow = {caps!r} may")


# ------------------------------------------------------------------------------ python

_PY_RULES: list[tuple[str, str]] = [
    # (dotted-name prefix, capability); a prefix ending in "." matches its members
    ("os._exit", "process"), ("os.abort", "process"), ("os.kill", "process"),
    ("os.killpg", "process"), ("os.fork", "process"), ("os.forkpty", "process"),
    ("os.system", "process"), ("os.popen", "process"), ("os.exec", "process"),
    ("os.spawn", "process"), ("os.posix_spawn", "process"), ("sys.exit", "process"),
    ("signal", "process"), ("subprocess", "process"), ("multiprocessing", "process"),
    ("pty", "process"), ("asyncio.create_subprocess", "process"), ("builtins.exit", "process"),
    ("builtins.quit", "process"), ("_thread.interrupt_main", "process"),
    ("os.remove", "files"), ("os.unlink", "files"), ("os.rename", "files"),
    ("os.replace", "files"), ("os.rmdir", "files"), ("os.removedirs", "files"),
    ("os.mkdir", "files"), ("os.makedirs", "files"), ("os.open", "files"),
    ("os.write", "files"), ("os.truncate", "files"), ("os.ftruncate", "files"),
    ("os.chmod", "files"), ("os.symlink", "files"), ("os.link", "files"),
    ("os.dup2", "files"), ("os.utime", "files"), ("shutil", "files"), ("tempfile", "files"),
    ("socket", "network"), ("urllib.request", "network"), ("http.client", "network"),
    ("requests", "network"), ("httpx", "network"), ("ftplib", "network"),
    ("smtplib", "network"), ("ssl", "network"), ("asyncio.open_connection", "network"),
    ("ctypes", "native"), ("_ctypes", "native"), ("cffi", "native"), ("mmap", "native"),
    ("unittest", "test-framework"), ("pytest", "test-framework"),
    ("_pytest", "test-framework"), ("doctest", "test-framework"), ("pluggy", "test-framework"),
    ("sys.modules", "runtime"), ("sys.settrace", "runtime"), ("sys.setprofile", "runtime"),
    ("sys._getframe", "runtime"), ("sys.meta_path", "runtime"), ("sys.path_hooks", "runtime"),
    ("sys.excepthook", "runtime"), ("sys.addaudithook", "runtime"), ("builtins", "runtime"),
    ("gc", "runtime"), ("importlib", "runtime"), ("inspect.currentframe", "runtime"),
    ("inspect.stack", "runtime"), ("threading.settrace", "runtime"),
    ("builtins.__import__", "runtime"), ("builtins.__builtins__", "runtime"),
]
_PY_WRITERS = frozenset({"write_text", "write_bytes", "unlink", "rmdir", "touch", "mkdir",
                         "symlink_to", "hardlink_to", "chmod"})
_WRITE_MODE = re.compile(r"[wax+]")


def _py_capability(name: str) -> str | None:
    for prefix, capability in _PY_RULES:
        if name == prefix or name.startswith(prefix + ".") or (
                prefix in ("os.exec", "os.spawn", "os.posix_spawn", "asyncio.create_subprocess")
                and name.startswith(prefix)):
            return capability
    return None


def _python(source: str) -> list[Reach]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # the syntax check reports it
    aliases: dict[str, str] = {}
    found: list[Reach] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[(alias.asname or alias.name).split(".")[0]] = \
                    alias.name if alias.asname else alias.name.split(".")[0]
                capability = _py_capability(alias.name)
                if capability:
                    found.append(Reach(node.lineno, capability, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                aliases[alias.asname or alias.name] = full
                capability = _py_capability(full) or _py_capability(node.module)
                if capability:
                    found.append(Reach(node.lineno, capability, f"from {node.module} import "
                                       f"{alias.name}"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Name)):
            name = _dotted(node, aliases)
            if name is None:
                continue
            capability = _py_capability(name)
            if capability:
                found.append(Reach(node.lineno, capability, name))
        if isinstance(node, ast.Call):
            found += _py_call(node, aliases)
    return found


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    if node.id in aliases:
        base = aliases[node.id]
    elif node.id in ("exit", "quit", "__import__", "__builtins__"):
        base = f"builtins.{node.id}"
    else:
        return None
    return ".".join([base, *reversed(parts)])


def _py_call(node: ast.Call, aliases: dict[str, str]) -> list[Reach]:
    func = node.func
    name = func.id if isinstance(func, ast.Name) else \
        func.attr if isinstance(func, ast.Attribute) else ""
    if name in ("setattr", "delattr") and isinstance(func, ast.Name) and node.args:
        target = _dotted(node.args[0], aliases)
        capability = _py_capability(target) if target else None
        if capability:
            return [Reach(node.lineno, capability, f"{name}({target}, …)")]
    if name == "open" or (isinstance(func, ast.Attribute) and name == "open"):
        mode = node.args[1] if len(node.args) > 1 and isinstance(func, ast.Name) else \
            node.args[0] if node.args and isinstance(func, ast.Attribute) else None
        for keyword in node.keywords:
            if keyword.arg == "mode":
                mode = keyword.value
        if isinstance(mode, ast.Constant) and isinstance(mode.value, str) \
                and _WRITE_MODE.search(mode.value):
            return [Reach(node.lineno, "files", f"open(…, {mode.value!r})")]
    if isinstance(func, ast.Attribute) and name in _PY_WRITERS:
        return [Reach(node.lineno, "files", f".{name}()")]
    return []


# ------------------------------------------------------------------------------ go

_GO_IMPORTS = {"os/exec": "process", "os/signal": "process", "syscall": "native",
               "unsafe": "native", "golang.org/x/sys/unix": "native", "plugin": "native",
               "net": "network", "net/http": "network", "net/rpc": "network",
               "net/smtp": "network", "testing": "test-framework",
               "testing/quick": "test-framework", "runtime/debug": "runtime",
               "internal/testlog": "test-framework"}
_GO_CALLS = {
    "os.Exit": "process", "os.FindProcess": "process", "os.StartProcess": "process",
    "runtime.Goexit": "process", "log.Fatal": "process", "log.Fatalf": "process",
    "log.Fatalln": "process", "os.Create": "files", "os.WriteFile": "files",
    "os.OpenFile": "files", "os.Remove": "files", "os.RemoveAll": "files",
    "os.Rename": "files", "os.Mkdir": "files", "os.MkdirAll": "files", "os.Chmod": "files",
    "os.Truncate": "files", "os.Symlink": "files", "os.Link": "files", "os.NewFile": "files",
    "os.CreateTemp": "files", "os.MkdirTemp": "files", "ioutil.WriteFile": "files",
    "ioutil.TempFile": "files", "ioutil.TempDir": "files", "os.Stdout": "files",
    "os.Setenv": "runtime", "os.Unsetenv": "runtime", "os.Clearenv": "runtime",
    "runtime.SetFinalizer": "runtime",
}


def _go(source: str) -> list[Reach]:
    from hybridcode.context.symbols import encode, parse

    data = encode(source)
    tree = parse(data, "go")
    found: list[Reach] = []
    names: dict[str, str] = {}  # local package name → import path
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "import_spec":
            path_node = node.child_by_field_name("path")
            alias = node.child_by_field_name("name")
            path = data[path_node.start_byte:path_node.end_byte].decode().strip('"`') \
                if path_node else ""
            local = data[alias.start_byte:alias.end_byte].decode() if alias else \
                path.rsplit("/", 1)[-1]
            names[local] = path
            if path in _GO_IMPORTS:
                found.append(Reach(node.start_point[0] + 1, _GO_IMPORTS[path],
                                   f'import "{path}"'))
        stack.extend(node.children)
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "selector_expression":
            operand = node.child_by_field_name("operand")
            field = node.child_by_field_name("field")
            if operand is not None and field is not None and operand.type == "identifier":
                local = data[operand.start_byte:operand.end_byte].decode()
                path = names.get(local, local)
                name = f"{path.rsplit('/', 1)[-1]}.{data[field.start_byte:field.end_byte].decode()}"
                if path == "io/ioutil":
                    name = "ioutil." + name.split(".", 1)[1]
                if name in _GO_CALLS and name.split(".")[0] in ("os", "runtime", "log",
                                                                "ioutil"):
                    found.append(Reach(node.start_point[0] + 1, _GO_CALLS[name], name))
        stack.extend(node.children)
    return found


# ------------------------------------------------------------------------------ js / ts

_JS_MODULES = {"child_process": "process", "cluster": "process", "worker_threads": "process",
               "fs": "files", "fs/promises": "files", "net": "network", "http": "network",
               "https": "network", "http2": "network", "dgram": "network", "tls": "network",
               "dns": "network", "vm": "runtime", "module": "runtime", "inspector": "runtime",
               "v8": "runtime", "vitest": "test-framework", "@jest/globals": "test-framework",
               "jest": "test-framework", "test": "test-framework",
               "@vitest/runner": "test-framework", "assert": "test-framework"}
_JS_MEMBERS = {"process.exit": "process", "process.kill": "process", "process.abort": "process",
               "process.reallyExit": "process", "process.binding": "native",
               "process.dlopen": "native", "process._linkedBinding": "native",
               "process.stdout": "files", "process.stderr": "files",
               "process.on": "process", "process.env": "runtime", "require.cache": "runtime",
               "Deno.exit": "process", "Bun.spawn": "process", "globalThis.expect":
               "test-framework", "globalThis.it": "test-framework",
               "globalThis.test": "test-framework", "globalThis.describe": "test-framework"}
_JS_GLOBALS = {"expect": "test-framework", "vi": "test-framework", "jest": "test-framework"}


def _js(source: str, language: str) -> list[Reach]:
    from hybridcode.context.symbols import encode, parse

    data = encode(source)
    tree = parse(data, language)
    found: list[Reach] = []

    def text(node) -> str:
        return data[node.start_byte:node.end_byte].decode("utf-8", "replace")

    def module(raw: str) -> str | None:
        name = raw.strip("'\"`").removeprefix("node:")
        return name if name in _JS_MODULES else None

    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        line = node.start_point[0] + 1
        if node.type in ("import_statement", "export_statement"):
            source_node = node.child_by_field_name("source")
            name = module(text(source_node)) if source_node is not None else None
            if name:
                found.append(Reach(line, _JS_MODULES[name], f'import "{name}"'))
        elif node.type == "call_expression":
            func = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            if func is not None and text(func) in ("require", "import") and args is not None:
                first = next((c for c in args.named_children if c.type == "string"), None)
                name = module(text(first)) if first is not None else None
                if name:
                    found.append(Reach(line, _JS_MODULES[name], f'require("{name}")'))
        elif node.type == "member_expression":
            name = text(node)
            for member, capability in _JS_MEMBERS.items():
                if name == member or name.startswith(member + "."):
                    found.append(Reach(line, capability, member))
                    break
        elif node.type == "identifier" and text(node) in _JS_GLOBALS:
            found.append(Reach(line, _JS_GLOBALS[text(node)], text(node)))
        stack.extend(node.children)
    return found
