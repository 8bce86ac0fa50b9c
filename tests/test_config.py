"""Settings layering: defaults < user file < pyproject < .hybrid/config.toml < env < flags."""

from __future__ import annotations

import os

import pytest

from hybridcode.config import load_settings
from hybridcode.errors import ConfigError


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_defaults(repo):
    s = load_settings(repo, environ={})
    # one Claude model plans, fixes and reviews (one cache serves them all)
    assert s.tiers.planner.model == s.tiers.reviewer.model == "claude-sonnet-5-5"
    assert [t.label for t in s.tiers.implementer] == ["ollama:qwen2.5-coder:32b",
                                                      "anthropic:claude-sonnet-5-5"]
    assert s.counterfactual == "claude-sonnet-5-5"
    assert s.price_for("claude-opus-5-5").input == 4.0
    assert s.anthropic.api_key is None


def test_layers_in_order(repo):
    user = os.environ["HYBRID_USER_CONFIG"]
    write(__import__("pathlib").Path(user), "parallel = 3\nattempts = 5\nbudget_usd = 9.0\n")
    write(repo / "pyproject.toml", "[tool.hybrid]\nparallel = 4\nattempts = 6\n")
    write(repo / ".hybrid" / "config.toml", "parallel = 5\n")
    s = load_settings(repo, environ={"HYBRID_PARALLEL": "6"}, overrides={"attempts": 7})
    assert s.parallel == 6  # env beats the project file
    assert s.attempts == 7  # flags beat everything
    assert s.budget_usd == 9.0  # user file still applies where nobody overrides it
    s = load_settings(repo, environ={})
    assert (s.parallel, s.attempts) == (5, 6)


def test_env_aliases_and_nested_variables(repo):
    s = load_settings(repo, environ={
        "ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        "OLLAMA_HOST": "http://gpu:11434", "HYBRID_OLLAMA__NUM_CTX_MAX": "65536"})
    assert s.anthropic.api_key.get_secret_value() == "sk-ant-test"
    assert "sk-ant-test" not in repr(s)  # secrets never print
    assert s.anthropic.base_url == "http://127.0.0.1:9"
    assert s.ollama.host == "http://gpu:11434"
    assert s.ollama.num_ctx_max == 65536


def test_user_prices_merge_with_defaults(repo):
    write(repo / ".hybrid" / "config.toml",
          '[prices."qwen2.5-coder:32b"]\nhourly = 0.4\n[prices.claude-opus-5-5]\noutput = 21\n')
    s = load_settings(repo, environ={})
    assert s.price_for("qwen2.5-coder:32b").hourly == 0.4
    assert s.price_for("claude-opus-5-5").output == 21
    assert s.price_for("claude-opus-5-5").input == 4.0  # untouched fields keep defaults
    assert s.price_for("claude-sonnet-5-5-20261001").input == 2.0  # dated ids by prefix


def test_ladder_replaced_by_project(repo):
    write(repo / ".hybrid" / "config.toml",
          '[[tiers.implementer]]\nbackend = "openai"\nmodel = "qwen-32b"\n')
    s = load_settings(repo, environ={})
    assert [t.label for t in s.tiers.implementer] == ["openai:qwen-32b"]
    assert s.counterfactual == "claude-sonnet-5-5"  # no Claude rung: falls back to the reviewer


@pytest.mark.parametrize("where,text,key", [
    (".hybrid/config.toml", "parallel = 0\n", "parallel"),
    (".hybrid/config.toml", "[tiers.planner]\nbackend = \"gpt\"\nmodel = \"x\"\n",
     "tiers.planner.backend"),
    ("pyproject.toml", "[tool.hybrid]\nunknown_key = 1\n", "unknown_key"),
    (".hybrid/config.toml", "[ollama]\nnum_ctx_max = \"big\"\n", "ollama.num_ctx_max"),
])
def test_invalid_value_names_key_and_file(repo, where, text, key):
    write(repo / where, text)
    with pytest.raises(ConfigError) as err:
        load_settings(repo, environ={})
    assert key in err.value.message
    assert where.split("/")[-1] in err.value.message
    assert err.value.exit_code == 2


def test_invalid_env_names_the_variable(repo):
    with pytest.raises(ConfigError, match="HYBRID_BUDGET_USD"):
        load_settings(repo, environ={"HYBRID_BUDGET_USD": "-1"})


def test_broken_toml_is_a_config_error(repo):
    write(repo / ".hybrid" / "config.toml", "parallel = = 2\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(repo, environ={})


def test_settings_found_from_a_subdirectory(repo):
    write(repo / ".hybrid" / "config.toml", "parallel = 4\n")
    sub = repo / "src" / "pkg"
    sub.mkdir(parents=True)
    assert load_settings(sub, environ={}).parallel == 4


def test_loading_never_mutates_the_defaults(repo):
    from hybridcode.config import DEFAULT_PRICES

    write(repo / ".hybrid" / "config.toml", '[prices.claude-opus-5-5]\noutput = 99\n')
    load_settings(repo, environ={})
    assert DEFAULT_PRICES["claude-opus-5-5"]["output"] == 20.0
