"""Replay and record: JSONL recordings served back by fingerprint, loose key and order."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from hybridcode.config import Settings, load_settings
from hybridcode.errors import ConfigError, OutputFormatError, ReplayMissError
from hybridcode.models.base import (
    Backend,
    Message,
    ModelRequest,
    ModelResult,
    Progress,
    Usage,
)
from hybridcode.models.registry import create_backend
from hybridcode.models.replay import RecordingBackend, ReplayBackend

OPUS = {"backend": "anthropic", "model": "claude-opus-5-5"}
QWEN = {"backend": "ollama", "model": "qwen2.5-coder:32b"}


class Verdict(BaseModel):
    approve: bool
    reason: str


def ask(text: str, schema: type[BaseModel] | None = None, system: str = "be brief") -> ModelRequest:
    return ModelRequest(messages=(Message("user", text),), system=system, schema=schema)


def settings_for(root: Path, replay: Path | None = None, **environ: str) -> Settings:
    overrides = {"replay": {"path": str(replay)}} if replay else None
    return load_settings(root, overrides=overrides, environ=environ)


def spec(settings: Settings, which: dict[str, Any]):
    return settings.tiers.planner.model_copy(update=which)


def entry(request: ModelRequest, model: str, text: str, **extra: Any) -> dict[str, Any]:
    response = {"text": text, "usage": {"input_tokens": 11, "output_tokens": 7},
                "model": model + "-20261101", "stop_reason": "end_turn", "latency_ms": 900}
    return {"fingerprint": request.fingerprint(model), "model": model, "backend": extra.pop(
        "backend", "anthropic"), "response": response, **extra}


def write(path: Path, *entries: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return path


def replay(tmp_path: Path, which: dict[str, Any], *entries: dict[str, Any]) -> ReplayBackend:
    path = write(tmp_path / "rec.jsonl", *entries)
    settings = settings_for(tmp_path, path)
    backend = create_backend(spec(settings, which), settings)
    assert isinstance(backend, ReplayBackend)  # replay.path routes every tier to recordings
    return backend


def test_hit_serves_the_recorded_answer_and_usage(tmp_path: Path) -> None:
    req = ask("plan the rate limiter")
    backend = replay(tmp_path, OPUS, entry(req, "claude-opus-5-5", "the plan"))
    seen: list[Progress] = []
    result = backend.complete(req, on_progress=seen.append)
    assert result.text == "the plan"
    assert result.usage == Usage(input_tokens=11, output_tokens=7)
    assert result.model == "claude-opus-5-5-20261101" and result.backend == "anthropic"
    assert result.latency_ms == 900 and result.stop_reason == "end_turn"
    assert result.extra == {"replayed": True}
    assert seen == [Progress(output_tokens=7, delta="the plan")]
    assert backend.is_local is False


def test_miss_names_model_and_fingerprint(tmp_path: Path) -> None:
    backend = replay(tmp_path, OPUS, entry(ask("something else"), "claude-opus-5-5", "x"))
    req = ask("never recorded")
    with pytest.raises(ReplayMissError) as err:
        backend.complete(req)
    assert "claude-opus-5-5 request" in err.value.message
    assert req.fingerprint("claude-opus-5-5")[:12] in err.value.message
    assert "HYBRID_RECORD" in (err.value.hint or "")


def test_same_request_is_served_in_order_then_the_last_repeats(tmp_path: Path) -> None:
    req = ask("implement slugify")
    other = ask("implement other")
    backend = replay(tmp_path, QWEN,
                     entry(req, "qwen2.5-coder:32b", "first try", backend="ollama"),
                     entry(other, "qwen2.5-coder:32b", "unrelated", backend="ollama"),
                     entry(req, "qwen2.5-coder:32b", "second try", backend="ollama"))
    texts = [backend.complete(req).text for _ in range(3)]
    assert texts == ["first try", "second try", "second try"]
    assert backend.complete(other).text == "unrelated"
    assert backend.is_local is True


def test_schema_is_validated_like_a_real_backend(tmp_path: Path) -> None:
    good = ask("review", Verdict)
    fenced = ask("review fenced", Verdict)
    bad = ask("review again", Verdict)
    backend = replay(tmp_path, OPUS,
                     entry(good, "claude-opus-5-5", '{"approve": true, "reason": "fine"}'),
                     entry(fenced, "claude-opus-5-5",
                           'Here:\n```json\n{"approve": false, "reason": "no"}\n```'),
                     entry(bad, "claude-opus-5-5", '{"approve": "perhaps"}'))
    assert backend.complete(good).parsed == Verdict(approve=True, reason="fine")
    assert backend.complete(fenced).parsed == Verdict(approve=False, reason="no")
    with pytest.raises(OutputFormatError) as err:
        backend.complete(bad)
    assert "Verdict" in err.value.message and err.value.raw == '{"approve": "perhaps"}'
    assert err.value.hint


def test_schema_name_is_part_of_the_fingerprint(tmp_path: Path) -> None:
    backend = replay(tmp_path, OPUS, entry(ask("review"), "claude-opus-5-5", "plain text"))
    with pytest.raises(ReplayMissError):
        backend.complete(ask("review", Verdict))


def test_loose_match_for_hand_written_files(tmp_path: Path) -> None:
    req = ask("Implement item 3:\ndef slugify(text: str) -> str")
    backend = replay(
        tmp_path, QWEN,
        {"match": {"contains": "def slugify", "schema": "Verdict"}, "response": {"text": "no"}},
        {"match": {"contains": ["def slugify"]}, "model": "other-model",
         "response": {"text": "wrong model"}},
        {"match": {"contains": ["Implement item", "def slugify"], "schema": None},
         "backend": "ollama", "response": {"text": "def slugify(text): ..."}},
        {"match": {}, "model": "qwen2.5-coder:32b", "response": {"text": "fallback"}},
    )
    assert backend.complete(req).text == "def slugify(text): ..."
    assert backend.complete(req).text == "fallback"  # next loose candidate, in file order
    assert backend.complete(ask("anything")).text == "fallback"


def test_exact_fingerprint_beats_a_loose_match(tmp_path: Path) -> None:
    req = ask("plan it")
    backend = replay(tmp_path, OPUS,
                     {"match": {}, "response": {"text": "loose"}},
                     entry(req, "claude-opus-5-5", "exact"))
    assert backend.complete(req).text == "exact"
    assert backend.complete(ask("other")).text == "loose"


def test_bad_recording_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text('{"match": {}, "response": {"text": "ok"}}\n\n{"response": {"text": "x"}}\n')
    settings = settings_for(tmp_path, path)
    with pytest.raises(ConfigError, match="line 3 is not a valid recording"):
        ReplayBackend(spec(settings, OPUS), settings)


def test_missing_file_says_how_to_record(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, tmp_path / "nope.jsonl")
    with pytest.raises(ConfigError, match="does not exist") as err:
        ReplayBackend(spec(settings, OPUS), settings)
    assert "HYBRID_RECORD" in (err.value.hint or "")


def test_a_replay_tier_is_local_when_its_recordings_are(tmp_path: Path) -> None:
    path = write(tmp_path / "rec.jsonl",
                 {"match": {}, "model": "qwen2.5-coder:32b", "backend": "ollama",
                  "response": {"text": "x"}})
    settings = settings_for(tmp_path, path)
    local = ReplayBackend(spec(settings, {"backend": "replay", "model": "qwen2.5-coder:32b"}),
                          settings)
    remote = ReplayBackend(spec(settings, {"backend": "replay", "model": "claude-opus-5-5"}),
                           settings)
    assert local.is_local is True and remote.is_local is False
    assert local.complete(ask("hi")).backend == "ollama"


class Scripted(Backend):
    """The wrapped 'real' backend for recording tests."""

    name = "anthropic"

    def __init__(self, spec, settings, text: str) -> None:
        super().__init__(spec, settings)
        self.text = text

    def complete(self, request: ModelRequest, on_progress=None) -> ModelResult:
        return ModelResult(text=self.text, usage=Usage(120, 30, 40, 500), model=self.model,
                           backend=self.name, latency_ms=1500, stop_reason="end_turn")


def test_record_then_replay_round_trips_without_keys(tmp_path: Path) -> None:
    key = "sk-ant-api03-FAKEKEY0123456789"
    plain = "unpatterned-secret-42"
    settings = settings_for(tmp_path, ANTHROPIC_API_KEY=key, HYBRID_OPENAI_API_KEY=plain)
    opus = spec(settings, OPUS)
    inner = Scripted(opus, settings, f"done; the key was {key} and {plain}")
    rec_path = tmp_path / "out" / "rec.jsonl"
    recorder = RecordingBackend(inner, rec_path)
    req = ask(f"use Authorization: Bearer {key} and {plain}", system=f"key {key}")
    recorded = recorder.complete(req)
    assert recorded.text == inner.text  # the caller still sees the real answer

    raw = rec_path.read_text()
    assert key not in raw and "FAKEKEY" not in raw and plain not in raw
    line = json.loads(raw)
    assert line["fingerprint"] == req.fingerprint("claude-opus-5-5")
    assert line["backend"] == "anthropic" and line["request"]["schema"] is None
    assert line["response"]["usage"] == {"input_tokens": 120, "output_tokens": 30,
                                         "cache_write_tokens": 40, "cache_read_tokens": 500}

    replayed_settings = settings_for(tmp_path, rec_path)
    served = ReplayBackend(spec(replayed_settings, OPUS), replayed_settings).complete(req)
    assert served.text == "done; the key was [REDACTED] and [REDACTED]"
    assert served.usage == recorded.usage and served.latency_ms == 1500
    assert served.model == "claude-opus-5-5"


def test_recording_from_parallel_threads_keeps_every_line_whole(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    path = tmp_path / "rec.jsonl"
    # Two tiers, two RecordingBackends, one file: the lock is per file, not per instance.
    recorders = [RecordingBackend(Scripted(spec(settings, OPUS), settings, "x" * 5000), path)
                 for _ in range(2)]

    def work(n: int) -> None:
        for i in range(20):
            recorders[n % 2].complete(ask(f"request {n}-{i}"))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 160
    assert all(json.loads(line)["response"]["text"] == "x" * 5000 for line in lines)
