"""Signed approvals: a statement about an exact diff, signed with SSH the way git signs commits.

    statement = Statement(diff_sha256=..., old_tree=..., new_tree=..., plan_id=..., ...)
    key = signing_key(root, configured=settings.approvals.signing_key)   # or NoSigningKeyError
    signature = sign(statement, key)                  # ssh-keygen -Y sign -n hybrid-approval
    with AllowedSigners.from_file(root / ".hybrid/allowed_signers") as trust:
        check = trust.verify(statement, signature)    # ssh-keygen -Y find-principals / verify
        check.ok, check.principal, check.reason

The statement (diff SHA-256, the trees it leads from and to, plan id, spec SHA-256 and the files
the spec declares, base commit, reviewer model, checklist version, decision, a digest of the
verdict, the checks that passed, time) is canonical JSON: sorted keys, no spaces, UTF-8. Those
exact bytes are signed, in the ``hybrid-approval`` namespace so that a signature made for a git
commit (namespace ``git``) or for anything else can never pass as an approval. Verification
uses an allowed-signers file in git's own format (``gpg.ssh.allowedSignersFile``)::

    alice@example.com namespaces="hybrid-approval" ssh-ed25519 AAAAC3Nza...

Where a signed approval lives: locally in ``.hybrid/attestations/<diff-sha256>.json`` (written
by the review that approved, read by ``hybrid commit`` and the pre-commit hook), and in the
commit message as two trailers ``hybrid commit`` writes (``Hybrid-Attestation``: the statement,
base64url; ``Hybrid-Signature``: the SSH signature's base64 body), so that CI reads it from the
commit itself, and it survives a cherry-pick, a rebase and a squash that keeps the messages.

Standard library only, plus ``ssh-keygen`` and ``git`` subprocesses: the pre-commit hook imports
this module and must stay well under 0.3 s.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hybridcode.errors import (
    NoSigningKeyError,
    SigningError,
    UntrustedApprovalError,
    UsageError,
)

NAMESPACE = "hybrid-approval"
STATEMENT_TYPE = "https://hybridcode.dev/attestation/approval/v1"
ALLOWED_SIGNERS = ".hybrid/allowed_signers"  # repository-relative, committed, CODEOWNERS-owned
ATTESTATIONS = Path(".hybrid") / "attestations"
_ARMOR_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_ARMOR_END = "-----END SSH SIGNATURE-----"
_KEY_HINT = ("set an SSH key: git config user.signingkey ~/.ssh/id_ed25519.pub (or signing_key "
             "= \"~/.ssh/id_ed25519\" under [approvals] in .hybrid/config.toml); make one with "
             "ssh-keygen -t ed25519")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64url(text: str) -> bytes:
    text = "".join(text.split())
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Statement:
    """What an approval says. Every field is signed; none is optional in the signed bytes."""

    diff_sha256: str
    old_tree: str
    new_tree: str
    plan_id: str
    spec_sha256: str
    declared_files: tuple[str, ...]
    base_commit: str
    reviewer_model: str
    checklist_version: str
    decision: str
    verdict_sha256: str
    checks_passed: tuple[str, ...]
    ts: str
    type: str = STATEMENT_TYPE

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["declared_files"] = sorted(self.declared_files)
        data["checks_passed"] = sorted(self.checks_passed)
        return data

    def canonical(self) -> bytes:
        """The exact bytes that are signed."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8")

    def encode(self) -> str:
        """One line for a commit trailer: base64url of the canonical bytes."""
        return _b64url(self.canonical())

    @classmethod
    def from_dict(cls, data: Any) -> Statement:
        if not isinstance(data, dict) or data.get("type") != STATEMENT_TYPE:
            raise ValueError("not a hybridcode approval statement")
        try:
            return cls(**{**{k: data[k] for k in cls.__dataclass_fields__ if k in data},
                          "declared_files": tuple(data["declared_files"]),
                          "checks_passed": tuple(data["checks_passed"])})
        except (KeyError, TypeError) as exc:
            raise ValueError(f"incomplete approval statement: {exc}") from exc

    @classmethod
    def decode(cls, text: str) -> Statement:
        """The statement in a ``Hybrid-Attestation`` trailer; ValueError when unreadable."""
        try:
            raw = _unb64url(text)
            return cls.from_dict(json.loads(raw.decode("utf-8")))
        except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"unreadable approval statement: {exc}") from exc


def signature_trailer(armored: str) -> str:
    """An armored SSH signature as one trailer value (its base64 body)."""
    lines = [ln.strip() for ln in armored.strip().splitlines()]
    return "".join(ln for ln in lines if ln and not ln.startswith("-----"))


def signature_armor(value: str) -> str:
    """A ``Hybrid-Signature`` trailer value back into the armored form ssh-keygen reads."""
    body = "".join(value.split())
    wrapped = [body[i:i + 70] for i in range(0, len(body), 70)]
    return "\n".join([_ARMOR_BEGIN, *wrapped, _ARMOR_END]) + "\n"


@dataclass(frozen=True)
class Attestation:
    statement: Statement
    signature: str  # armored

    def to_json(self) -> str:
        return json.dumps({"statement": self.statement.to_dict(), "signature": self.signature},
                          indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Attestation:
        data = json.loads(text)
        return cls(Statement.from_dict(data.get("statement")), str(data.get("signature") or ""))


# ---------------------------------------------------------------------- ssh-keygen

def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise SigningError("ssh-keygen is not installed, so approvals cannot be signed or "
                           "verified", "install OpenSSH (apt-get install openssh-client, or "
                           "brew install openssh)")
    return found


def _run(args: list[str], data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([_ssh_keygen(), *args], input=data, capture_output=True, check=False,
                          timeout=60)


def _first_line(proc: subprocess.CompletedProcess[bytes]) -> str:
    text = (proc.stderr or proc.stdout or b"").decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else f"exit code {proc.returncode}"


@dataclass(frozen=True)
class SigningKey:
    """What ``ssh-keygen -Y sign -f`` is given: a private key, or a public key whose private
    half an ssh-agent holds (``agent``: a literal ``key::`` value, as git handles it)."""

    path: Path
    source: str
    agent: bool = False


def _git_config(root: Path, key: str) -> str:
    proc = subprocess.run(["git", "config", "--get", key], cwd=root, capture_output=True,
                          check=False)
    return proc.stdout.decode("utf-8", "replace").strip() if proc.returncode == 0 else ""


def signing_key(root: Path, configured: str | None = None) -> SigningKey:
    """The key approvals are signed with: ``[approvals] signing_key``, else git's
    ``user.signingkey`` (a path, or a literal ``key::ssh-…`` public key held by ssh-agent)."""
    value, source = (configured or "").strip(), "[approvals] signing_key"
    if not value:
        value, source = _git_config(root, "user.signingkey"), "git config user.signingkey"
    if not value:
        raise NoSigningKeyError("no signing key is configured for approvals", _KEY_HINT)
    literal = value.removeprefix("key::")
    if literal.startswith(("ssh-", "ecdsa-", "sk-")):
        tmp = Path(tempfile.mkdtemp(prefix="hybrid-key-")) / "key.pub"
        tmp.write_text(literal + "\n", encoding="utf-8")
        return SigningKey(tmp, source, agent=True)
    path = Path(os.path.expanduser(value))
    if not path.is_absolute():
        path = (Path(root) / path).resolve()
    if not path.is_file():
        raise NoSigningKeyError(f"the signing key {value!r} from {source} does not exist",
                                _KEY_HINT)
    return SigningKey(path, source)


def public_key(key: SigningKey) -> str:
    """``ssh-ed25519 AAAA…`` for ``key`` (its .pub beside a private key, or derived)."""
    text = key.path.read_text(encoding="utf-8", errors="replace").strip()
    if text.startswith(("ssh-", "ecdsa-", "sk-")):
        return " ".join(text.split()[:2])
    pub = key.path.with_name(key.path.name + ".pub")
    if pub.is_file():
        return " ".join(pub.read_text(encoding="utf-8").split()[:2])
    proc = _run(["-y", "-f", str(key.path)])
    if proc.returncode != 0:
        raise SigningError(f"cannot read the public half of {key.path}: {_first_line(proc)}",
                           "check the key file (ssh-keygen -y -f KEY)")
    return " ".join(proc.stdout.decode().split()[:2])


def allowed_signers_line(principal: str, key: SigningKey) -> str:
    """The line that lets ``key`` sign approvals, in git's allowed-signers format."""
    return f'{principal or "you@example.com"} namespaces="{NAMESPACE}" {public_key(key)}'


def sign(statement: Statement, key: SigningKey) -> str:
    """The armored SSH signature of the statement's canonical bytes."""
    args = ["-Y", "sign", "-n", NAMESPACE, "-q", "-f", str(key.path)]
    if key.agent:
        args.insert(2, "-U")
    try:
        proc = _run(args, statement.canonical())
    finally:
        if key.agent:  # the literal key's temporary .pub file
            shutil.rmtree(key.path.parent, ignore_errors=True)
    if proc.returncode != 0 or _ARMOR_BEGIN.encode() not in proc.stdout:
        raise SigningError(f"ssh-keygen could not sign the approval with {key.path} (from "
                           f"{key.source}): {_first_line(proc)}",
                           "a key with a passphrase must be loaded in ssh-agent (ssh-add KEY) "
                           "and configured by its .pub file")
    return proc.stdout.decode("ascii")


# ---------------------------------------------------------------------- verification

@dataclass(frozen=True)
class Verification:
    ok: bool
    principal: str = ""
    reason: str = ""  # why not, in words a person can act on


@dataclass
class AllowedSigners:
    """An allowed-signers file (git's format) that signatures are checked against.

    ``origin`` names it in messages (a path, or ``origin/main:.hybrid/allowed_signers`` when CI
    reads it from the base revision so that a pull request cannot add its own key)."""

    path: Path
    origin: str
    _tmp: Path | None = field(default=None, repr=False)

    @classmethod
    def from_file(cls, path: Path) -> AllowedSigners:
        if not Path(path).is_file():
            raise UntrustedApprovalError(
                f"no allowed-signers file at {path}, so no approval can be trusted",
                f"add your key: echo '{_example_line()}' >> {ALLOWED_SIGNERS}, then commit it "
                "(protect it with CODEOWNERS)")
        return cls(Path(path), str(path))

    @classmethod
    def from_text(cls, text: str, origin: str) -> AllowedSigners:
        tmp = Path(tempfile.mkdtemp(prefix="hybrid-signers-"))
        path = tmp / "allowed_signers"
        path.write_text(text, encoding="utf-8")
        return cls(path, origin, tmp)

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> AllowedSigners:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def principals_for(self, key: str) -> list[str]:
        """The principals whose line in the file carries ``key`` (``type base64``)."""
        blob = key.split()[1] if len(key.split()) == 2 else ""
        if not blob:
            return []
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
        found: list[str] = []
        for line in lines:
            words = line.split()
            if not words or words[0].startswith("#") or blob not in words[1:]:
                continue
            found += [p.strip('"') for p in words[0].split(",") if p.strip('"')]
        return list(dict.fromkeys(found))

    def verify(self, statement: Statement, signature: str) -> Verification:
        """Good signature, in the approval namespace, by a key this file allows?"""
        if not signature.strip():
            return Verification(False, reason="the approval is not signed")
        key = signer_key(signature)
        principals = self.principals_for(key)
        if not principals:
            line = f'you@example.com namespaces="{NAMESPACE}" {key}' if key else \
                _example_line()
            return Verification(False, reason=(
                f"signed by a key {key_fingerprint(key) or ''} that {self.origin} does not "
                f"allow; if it is yours, add the line '{line}' to {ALLOWED_SIGNERS} and "
                "commit it"))
        # ssh-keygen decides: signature, namespace and the line's options (namespaces=,
        # valid-after=, cert-authority). Picking the principal here saves a find-principals.
        with tempfile.TemporaryDirectory(prefix="hybrid-sig-") as tmp:
            sig = Path(tmp) / "approval.sig"
            sig.write_text(signature, encoding="ascii", errors="replace")
            data = statement.canonical()
            for principal in principals:
                proc = _run(["-Y", "verify", "-f", str(self.path), "-I", principal, "-n",
                             NAMESPACE, "-s", str(sig)], data)
                if proc.returncode == 0:
                    return Verification(True, principal)
        return Verification(False, reason="the signature does not verify: the statement was "
                            f"altered after signing, or it was not signed for {NAMESPACE}")


def signer_key(signature: str) -> str:
    """``ssh-ed25519 AAAA…``: the public key inside an SSH signature (the SSHSIG blob starts
    with the magic, a version and the signer's public key), or "" when unreadable."""
    try:
        blob = base64.b64decode(signature_trailer(signature))
        if blob[:6] != b"SSHSIG":
            return ""
        size = int.from_bytes(blob[10:14], "big")
        key = blob[14:14 + size]
        kind = key[4:4 + int.from_bytes(key[:4], "big")].decode("ascii")
        return f"{kind} {base64.b64encode(key).decode('ascii')}"
    except (binascii.Error, UnicodeDecodeError, ValueError, IndexError):
        return ""


def key_fingerprint(public: str) -> str:
    """``SHA256:…`` as ssh-keygen -l prints it."""
    try:
        blob = base64.b64decode(public.split()[1])
    except (IndexError, binascii.Error):
        return ""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _example_line() -> str:
    return f'you@example.com namespaces="{NAMESPACE}" ssh-ed25519 AAAA...'


# ---------------------------------------------------------------------- local store

def attestation_path(main_root: Path, diff_sha256: str) -> Path:
    return Path(main_root) / ATTESTATIONS / f"{diff_sha256}.json"


def store_attestation(main_root: Path, attestation: Attestation) -> Path:
    path = attestation_path(main_root, attestation.statement.diff_sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(attestation.to_json(), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_attestation(main_root: Path, diff_sha256: str) -> Attestation | None:
    path = attestation_path(main_root, diff_sha256)
    try:
        return Attestation.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise UsageError(f"the signed approval {path} is unreadable: {exc}",
                         "delete it and review the change again") from exc


def withdraw_attestation(main_root: Path, diff_sha256: str) -> None:
    attestation_path(main_root, diff_sha256).unlink(missing_ok=True)


def digest(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def statement_problem(statement: Statement, *, diff_sha256: str, checklist_version: str,
                      plan_id: str | None = None, files: list[str] | None = None) -> str | None:
    """Why ``statement`` does not approve this diff (None when it does). The signature is
    checked separately (:meth:`AllowedSigners.verify`)."""
    if statement.decision != "approved":
        return f"the signed statement's decision is {statement.decision!r}, not an approval"
    if statement.diff_sha256 != diff_sha256:
        return (f"it approves diff {statement.diff_sha256[:12]}…, not this diff "
                f"{diff_sha256[:12]}…")
    if statement.checklist_version != checklist_version:
        return (f"it was approved under checklist {statement.checklist_version[:12]}, which has "
                "changed since")
    if plan_id is not None and statement.plan_id and statement.plan_id != plan_id:
        return f"it approves plan {statement.plan_id}, not {plan_id}"
    undeclared = undeclared_files(statement, files or [])
    if undeclared:
        return f"it changes {', '.join(undeclared[:5])}, which its plan's spec does not declare"
    return None


def undeclared_files(statement: Statement, files: list[str]) -> list[str]:
    """Changed files outside the spec's declared files (a plan's approval only)."""
    if not statement.plan_id:
        return []
    declared = set(statement.declared_files)
    return sorted(f for f in files if f not in declared)


def generate_key(path: Path, comment: str) -> SigningKey:
    """A new ed25519 key pair without a passphrase at ``path`` (and ``path``.pub). Used for
    throwaway keys — the demo's repository — never for a person's own key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = _run(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
    if proc.returncode != 0:
        raise SigningError(f"ssh-keygen could not create a key at {path}: {_first_line(proc)}",
                           "check that the directory is writable")
    return SigningKey(path, "generated")
