"""hybrid's judge inside pytest: one signed record per test, and one when the session ended.

Loaded with ``-p hybrid_judge_pytest`` before conftest files and test modules are imported. It
takes the run's key from the inherited descriptor named in HYBRID_JUDGE_CHANNEL, closes it and
drops the variable, so code imported later finds neither (see hybridcode/judge/channel.py).
It also notes the test framework's functions as they are now; a test framework patched by the
code under test (unittest's assertions, pytest's runner, builtins) is reported, not trusted.
Runs on any Python 3 the project uses: standard library only.
"""

import builtins
import hashlib
import hmac
import json
import os
import sys

_ENV = "HYBRID_JUDGE_CHANNEL"
_state = {"key": None, "fd": None, "seq": 0, "stream": os.urandom(8).hex(), "tests": 0,
          "phases": {}, "seen": None, "tampered": set()}


def _open():
    spec = os.environ.pop(_ENV, "")
    try:
        key_fd, out_fd = (int(p) for p in spec.split(","))
    except ValueError:
        return
    chunks = []
    try:
        while sum(map(len, chunks)) < 64:  # this process's copy of the key
            chunk = os.read(key_fd, 64 - sum(map(len, chunks)))
            if not chunk:
                break
            chunks.append(chunk)
        os.close(key_fd)
        fd = os.dup(out_fd)  # not inheritable: processes the tests start do not get it
        os.close(out_fd)
    except OSError:
        return
    _state["key"] = bytes.fromhex(b"".join(chunks).decode())
    _state["fd"] = fd


def _send(kind, **fields):
    if _state["fd"] is None:
        return
    record = dict(fields, kind=kind, stream=_state["stream"], seq=_state["seq"])
    _state["seq"] += 1
    text = json.dumps(record, separators=(",", ":"), sort_keys=True)
    mac = hmac.new(_state["key"], text.encode(), hashlib.sha256).hexdigest()
    data = (mac + " " + text + "\n").encode()
    while data:
        data = data[os.write(_state["fd"], data):]


_open()

_WATCHED_MODULES = ("builtins", "unittest", "unittest.case", "unittest.suite", "unittest.loader",
                    "unittest.result", "unittest.runner", "unittest.main", "unittest.async_case",
                    "pytest", "_pytest.runner", "_pytest.python", "_pytest.main",
                    "_pytest.reports", "_pytest.unittest", "_pytest.outcomes", "_pytest.fixtures",
                    "_pytest.skipping", "_pytest.nodes", "_pytest.python_api", "_pytest.raises",
                    "_pytest.assertion", "_pytest.assertion.rewrite", "_pytest.config",
                    "pluggy", "pluggy._hooks", "pluggy._callers", "pluggy._manager")


def _watched():
    """(name, object) of every function and class of the test framework worth replacing."""
    import unittest  # noqa: F401  (loaded before the code under test can touch it)

    for name in _WATCHED_MODULES:
        module = sys.modules.get(name)
        if module is None:
            continue
        yield "sys.modules[%r]" % name, module
        for attr, value in list(vars(module).items()):
            if callable(value) and not attr.startswith("__"):
                yield name + "." + attr, value
                if isinstance(value, type) and getattr(value, "__module__", "") == name:
                    for member, inner in list(vars(value).items()):
                        if callable(inner) or isinstance(inner, (staticmethod, classmethod,
                                                                 property)):
                            yield name + "." + attr + "." + member, inner


def _note():
    _state["seen"] = {name: id(value) for name, value in _watched()}
    _state["keep"] = [value for _, value in _watched()]  # ids stay unique while held


def _changed():
    now = dict((name, id(value)) for name, value in _watched())
    return sorted(name for name, ident in _state["seen"].items()
                  if now.get(name) != ident)


def _check(where):
    for name in _changed():
        if name not in _state["tampered"]:
            _state["tampered"].add(name)
            _send("tamper", what=name, where=where)


def pytest_configure(config):
    _note()


def _message(report):
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        text = str(longrepr[2])
        return text[9:] if text.startswith("Skipped: ") else text
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)
    text = getattr(report, "longreprtext", "") or str(longrepr)
    lines = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
    if lines:
        return lines[-1]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _parts(nodeid):
    parts = nodeid.split("::")
    return parts[0], ".".join(parts[1:-1]), parts[-1] if len(parts) > 1 else parts[0]


def pytest_collectreport(report):
    if report.failed:
        _send("collect", file=_parts(report.nodeid)[0], message=_message(report))


def pytest_runtest_logreport(report):
    phases = _state["phases"].setdefault(report.nodeid, {})
    phases[report.when] = report
    if report.when != "teardown":
        return
    del _state["phases"][report.nodeid]
    status, message = "passed", ""
    setup, call = phases.get("setup"), phases.get("call")
    xfail = getattr(call or setup, "wasxfail", None) if (call or setup) is not None else None
    if setup is not None and setup.failed:
        status, message = "error", "failed on setup: " + _message(setup)
    elif setup is not None and setup.skipped:
        status = "xfailed" if getattr(setup, "wasxfail", None) is not None else "skipped"
        message = getattr(setup, "wasxfail", None) or _message(setup)
    elif call is not None:
        if call.failed:
            status, message = "failed", _message(call)
        elif call.skipped:
            status = "xfailed" if xfail is not None else "skipped"
            message = xfail if xfail is not None else _message(call)
        elif xfail is not None:
            status, message = "xpassed", str(xfail)
    if status == "passed" and report.failed:
        status, message = "error", "failed on teardown: " + _message(report)
    file, suite, name = _parts(report.nodeid)
    _state["tests"] += 1
    _send("test", file=file, suite=suite, name=name, status=status, message=message[:2000])
    _check(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    _check("the end of the session")


def pytest_unconfigure(config):
    session = getattr(config, "_hybrid_session", None)
    status = getattr(session, "exitstatus", None)
    _send("end", exit=None if status is None else int(status), tests=_state["tests"])


def pytest_sessionstart(session):
    session.config._hybrid_session = session
    _send("start")
