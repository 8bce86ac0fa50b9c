"""Wire-level fakes that users' own tests can import: real HTTP servers on 127.0.0.1 that speak
the Anthropic Messages API and the Ollama API (plus its OpenAI-compatible ``/v1``)."""

from hybridcode.testing.fake_anthropic import FakeAnthropic
from hybridcode.testing.fake_ollama import FakeOllama

__all__ = ["FakeAnthropic", "FakeOllama"]
