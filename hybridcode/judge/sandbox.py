"""The sandbox project code runs in: which one this machine has, and the command that enters it.

Linux: bubblewrap (``bwrap``, Debian package ``bubblewrap``). The whole filesystem is bound
read-only; on top of it ``$HOME``, ``/home``, ``/root``, ``/run`` and the system temporary
directory are replaced by empty (or private) directories, ``/etc/passwd``/``/etc/group`` by
minimal copies and ``/etc/shadow``-like files by empty ones; then the paths the run needs are
bound back: the interpreter's installation read-only, the worktree and a private ``/tmp``
writable (and the worktree's ``.git`` and ``.hybrid`` read-only again, so a test cannot plant a
git hook). Every namespace is unshared — no network (a fresh loopback only), a PID namespace so
killing ``bwrap`` kills every process the tests started, ``--die-with-parent`` so a killed
``hybrid`` takes them with it, and ``--new-session`` so nothing can push keystrokes into the
terminal.

macOS: ``sandbox-exec`` with a profile that denies the network, writes outside the worktree and
the private temporary directory, and reads of ``$HOME`` (except the paths bound back). There is
no PID namespace: the process group is killed at the timeout.

We use bubblewrap directly rather than Anthropic's ``srt`` (a Node.js package that wraps the
same two tools): a ~150-line module of our own needs no Node runtime on the user's machine, and
is stricter for code we did not write (srt's defaults allow reads everywhere, including $HOME).

``detect(mode)`` answers once per process: bwrap may be installed and still fail (user
namespaces disabled in a container), so availability is a real probe, not a ``which``.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Sandbox", "SandboxLayout", "detect", "require"]

INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap), or set "
                '[sandbox] mode = "off" in .hybrid/config.toml to run it unsandboxed')
_HIDDEN_DIRS = ("/home", "/root", "/run", "/var/run", "/media", "/mnt", "/srv")
_EMPTIED_FILES = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-",
                  "/etc/sudoers", "/etc/security/opasswd")
_HIDDEN_ETC_DIRS = ("/etc/ssh", "/etc/sudoers.d", "/etc/ssl/private")


@dataclass(frozen=True)
class Sandbox:
    """What runs project code: ``kind`` is ``bwrap``, ``sandbox-exec``, ``off`` (the user
    turned it off) or ``none`` (nothing available; ``reason`` says why)."""

    kind: str
    detail: str = ""
    reason: str = ""
    exe: str = ""

    @property
    def usable(self) -> bool:
        return self.kind in ("bwrap", "sandbox-exec", "off")

    @property
    def isolates(self) -> bool:
        return self.kind in ("bwrap", "sandbox-exec")

    @property
    def kills_tree(self) -> bool:
        """Whether killing the sandbox kills everything started inside it (PID namespace)."""
        return self.kind == "bwrap"

    def describe(self) -> str:
        if self.kind == "bwrap":
            return (f"{self.detail}: no network, read-only outside the worktree, private /tmp, "
                    "$HOME hidden, credentials stripped")
        if self.kind == "sandbox-exec":
            return "sandbox-exec: no network, writes only to the worktree and a private tmp"
        if self.kind == "off":
            return 'off ([sandbox] mode = "off"): model code runs without a sandbox'
        return self.reason


@dataclass
class SandboxLayout:
    """The paths one run needs: the ``worktree`` (writable), a host folder ``base`` private to
    the run (its ``tmp`` becomes ``/tmp``; the account files live beside it), ``readable``
    paths to bind back read-only (the interpreter) and other ``writable`` ones (a report
    folder)."""

    worktree: Path
    base: Path
    readable: list[Path] = field(default_factory=list)
    writable: list[Path] = field(default_factory=list)
    home: str = field(default_factory=lambda: os.path.expanduser("~"))

    @property
    def tmp(self) -> Path:
        path = self.base / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path


def detect(mode: str = "auto") -> Sandbox:
    """The sandbox project code will run in under ``[sandbox] mode``."""
    if mode == "off":
        return Sandbox("off")
    return _detect_platform()


@functools.lru_cache(maxsize=1)
def _detect_platform() -> Sandbox:
    if sys.platform.startswith("linux"):
        return _probe_bwrap()
    if sys.platform == "darwin":
        exe = shutil.which("sandbox-exec") or "/usr/bin/sandbox-exec"
        if Path(exe).exists():
            return Sandbox("sandbox-exec", exe, exe=exe)
        return Sandbox("none", reason="sandbox-exec not found (it ships with macOS)")
    return Sandbox("none", reason=f"no sandbox is supported on {sys.platform}")


def _probe_bwrap() -> Sandbox:
    exe = shutil.which("bwrap")
    if exe is None:
        return Sandbox("none", reason="bubblewrap (bwrap) is not installed")
    with tempfile.TemporaryDirectory(prefix="hybrid-bwrap-probe-") as tmp:
        (Path(tmp) / "wt").mkdir()
        layout = SandboxLayout(worktree=Path(tmp) / "wt", base=Path(tmp))
        argv = wrap(Sandbox("bwrap", exe, exe=exe), ["/bin/sh", "-c", "exit 0"], layout)
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=20,
                                  stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as exc:
            return Sandbox("none", reason=f"bwrap does not start: {exc}")
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return Sandbox("none", reason=f"bwrap cannot create a sandbox here ({why}); user "
                       "namespaces may be disabled")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    return Sandbox("bwrap", version or exe, exe=exe)


def require(mode: str = "auto") -> Sandbox:
    """The sandbox to use, or :class:`SandboxError` when there is none and it is not off."""
    from hybridcode.errors import SandboxError

    box = detect(mode)
    if not box.usable:
        raise SandboxError(f"model-written code is not run without a sandbox: {box.reason}",
                           INSTALL_HINT)
    return box


def wrap(box: Sandbox, argv: list[str], layout: SandboxLayout) -> list[str]:
    """``argv`` as it runs inside ``box`` (unchanged when the sandbox is off)."""
    if box.kind == "bwrap":
        return [box.exe or "bwrap", *bwrap_args(layout), "--", *argv]
    if box.kind == "sandbox-exec":
        return [box.exe or "sandbox-exec", "-p", seatbelt_profile(layout), *argv]
    return list(argv)


def _inside(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def bwrap_args(layout: SandboxLayout) -> list[str]:
    worktree = layout.worktree.resolve()
    args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    # The private /tmp first: $HOME (or anything hidden below) may live under /tmp.
    system_tmp = Path(tempfile.gettempdir())
    args += ["--bind", str(layout.tmp), "/tmp"]
    if system_tmp != Path("/tmp") and system_tmp.is_dir():
        args += ["--bind", str(layout.tmp), str(system_tmp)]
    hidden = [d for d in _HIDDEN_DIRS if os.path.isdir(d) and not os.path.islink(d)]
    home = layout.home
    if home and home != "/" and os.path.isdir(home) and home not in hidden:
        hidden.append(home)
    for directory in hidden:
        args += ["--tmpfs", directory]
    for directory in _HIDDEN_ETC_DIRS:
        if os.path.isdir(directory):
            args += ["--tmpfs", directory]
    for name in _EMPTIED_FILES:
        if os.path.exists(name):
            args += ["--ro-bind", "/dev/null", name]
    for name, text in _account_files(home).items():
        copy = layout.base / Path(name).name
        copy.write_text(text, encoding="utf-8")
        args += ["--ro-bind", str(copy), name]
    late: list[str] = []
    # Folders bound where they are: a link inside one of them is visible through that bind
    # already, and bwrap cannot mount over a link in a read-only bind (a venv under /tmp).
    bound = [p.resolve() for p in layout.readable if p.exists() and p.resolve().is_dir()]
    for given in layout.readable:
        if not given.exists():
            continue
        path = given.resolve()
        spot = late if _inside(path, worktree) else args
        spot += ["--ro-bind", str(path), str(path)]
        # A link inside a hidden folder or the temporary directory (a project's node_modules
        # linked to a shared install) is also shown where it is, so lookups that walk up from
        # the worktree find it. Elsewhere the link itself is visible already.
        shown = Path(os.path.abspath(given))
        if shown != path and not _inside(shown, worktree) and not any(
                shown != d and _inside(shown, d) for d in bound) and any(
                _inside(shown, Path(d)) for d in (*hidden, "/tmp", str(system_tmp))):
            spot += ["--ro-bind", str(path), str(shown)]
    for path in layout.writable:
        args += ["--bind", str(path), str(path)]
    args += ["--bind", str(worktree), str(worktree)]
    for guarded in (".git", ".hybrid"):
        if (worktree / guarded).exists():
            late += ["--ro-bind", str(worktree / guarded), str(worktree / guarded)]
    args += late
    args += ["--unshare-all", "--die-with-parent", "--new-session", "--chdir", str(worktree)]
    return args


def _account_files(home: str) -> dict[str, str]:
    """Minimal passwd/group for the current user (tools call getpwuid), without the others."""
    uid, gid = os.getuid(), os.getgid()
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or "user"
    shell = "/bin/sh"
    passwd = f"{user}:x:{uid}:{gid}:{user}:{home or '/'}:{shell}\n"
    if uid != 0:
        passwd = f"root:x:0:0:root:/root:/usr/sbin/nologin\n{passwd}"
    passwd += "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    group = f"{user}:x:{gid}:\n" + ("root:x:0:\n" if gid != 0 else "") + "nogroup:x:65534:\n"
    return {"/etc/passwd": passwd, "/etc/group": group}


def seatbelt_profile(layout: SandboxLayout) -> str:
    """A sandbox-exec (Seatbelt) profile: reads allowed except $HOME, writes only to the
    worktree and the private tmp, no network."""
    def q(path: Path | str) -> str:
        return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'

    worktree = layout.worktree.resolve()
    lines = ["(version 1)", "(allow default)", "(deny network*)",
             '(allow network* (remote unix-socket (path-literal "/private/var/run/syslog")))',
             "(deny file-write*)",
             f"(allow file-write* (subpath {q(worktree)}) (subpath {q(layout.tmp.resolve())})"
             + "".join(f" (subpath {q(p.resolve())})" for p in layout.writable)
             + ' (literal "/dev/null") (regex #"^/dev/tty"))']
    if layout.home and layout.home != "/":
        lines.append(f"(deny file-read* (subpath {q(Path(layout.home).resolve())}))")
        allowed = [worktree, layout.tmp.resolve(), *(p.resolve() for p in layout.readable),
                   *(Path(os.path.abspath(p)) for p in layout.readable)]
        inside = [p for p in allowed if _inside(p, Path(layout.home).resolve())]
        if inside:
            lines.append("(allow file-read* " + " ".join(f"(subpath {q(p)})" for p in inside)
                         + ")")
    for guarded in (".git", ".hybrid"):
        lines.append(f"(deny file-write* (subpath {q(worktree / guarded)}))")
    return "\n".join(lines) + "\n"
