"""The environment project code runs with: the caller's, minus every credential and every
variable that would change how the test runner behaves behind the tool's back.

A variable is a credential when its name says so (``*_KEY``, ``*_TOKEN``, ``*_SECRET``,
``*_PASSWORD``, ``*_CREDENTIALS`` …, anywhere in the name), when it belongs to a model provider
or a cloud (``ANTHROPIC_*``, ``OPENAI_*``, ``AWS_*``, ``GOOGLE_*`` …), or when it points at an
agent that holds keys (``SSH_AUTH_SOCK``). Names, not values, decide: a value never needs to be
read to be dropped, and a credential with an innocent-looking value is still a credential.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

__all__ = ["clean_environment", "is_credential"]

# Providers, clouds and tools whose variables carry keys or point at them.
_PREFIXES = ("HYBRID_", "ANTHROPIC_", "OPENAI_", "OLLAMA_", "CLAUDE_", "AWS_", "AZURE_",
             "GOOGLE_", "GCP_", "GCLOUD_", "CLOUDSDK_", "GITHUB_", "GH_", "GITLAB_", "CI_JOB_",
             "HF_", "HUGGING", "DOCKER_", "VAULT_", "NPM_", "PYPI_", "TWINE_", "SSH_", "GPG_",
             "DIGITALOCEAN_", "HEROKU_", "CF_", "CLOUDFLARE_", "STRIPE_", "SLACK_", "SENTRY_",
             "DATABASE_", "MISTRAL_", "GROQ_", "COHERE_", "GEMINI_", "DEEPSEEK_", "TOGETHER_",
             "XAI_", "REPLICATE_", "PINECONE_")
# Words that mark a credential wherever they sit in the name.
_WORDS = re.compile(r"(?:^|_)(?:KEY|KEYS|APIKEY|TOKEN|TOKENS|SECRET|SECRETS|PASSWORD|PASSWD|"
                    r"PASS|PWD_SECRET|CREDENTIAL|CREDENTIALS|CREDS|AUTH|COOKIE|SESSION|"
                    r"PRIVATE|DSN|CONNECTION_STRING)(?:_|$)")
# Glued to the end without an underscore: PGPASSWORD, NPM_TOKEN's cousins, APIKEY.
_ENDINGS = ("PASSWORD", "PASSWD", "TOKEN", "SECRET", "APIKEY", "CREDENTIALS")
_EXACT = frozenset({"KUBECONFIG", "NETRC", "PGPASSFILE", "BOTO_CONFIG", "GIT_ASKPASS",
                    "SSH_ASKPASS", "SUDO_ASKPASS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
                    "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "POETRY_HTTP_BASIC_PYPI_PASSWORD"})
# The runner decides these; a value from the caller's shell would change what runs.
# (PYTEST_DISABLE_PLUGIN_AUTOLOAD passes: loading fewer plugins never makes a test pass.)
_RUNNER_OWNED = frozenset({"PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_CURRENT_TEST",
                           "PYTHONSTARTUP", "PYTHONHOME",
                           "PYTHONINSPECT", "PYTHONBREAKPOINT", "PYTHONUSERBASE",
                           "VIRTUAL_ENV", "TMPDIR", "TEMP", "TMP", "LD_PRELOAD",
                           "LD_LIBRARY_PATH", "LD_AUDIT", "DYLD_INSERT_LIBRARIES",
                           "COV_CORE_SOURCE", "COV_CORE_CONFIG", "COV_CORE_DATAFILE",
                           # pytest stops truncating assertion output when these are set, so
                           # the feedback a model gets would depend on the host being a CI
                           # machine (adapters that need CI=true, like vitest, set it).
                           "CI", "BUILD_NUMBER"})


def is_credential(name: str) -> bool:
    """Whether an environment variable's name marks it as a secret (or a way to one)."""
    upper = name.upper()
    return (upper in _EXACT or upper.startswith(_PREFIXES) or upper.endswith(_ENDINGS)
            or _WORDS.search(upper) is not None)


def clean_environment(base: Mapping[str, str] | None = None, *,
                      extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) without credentials and runner-owned
    variables, then ``extra`` on top (the adapter's own settings, e.g. ``PYTHONPATH``)."""
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items()
           if not is_credential(k) and k.upper() not in _RUNNER_OWNED}
    env.update(extra or {})
    return env
