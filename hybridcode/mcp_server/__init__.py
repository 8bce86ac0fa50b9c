"""``hybrid mcp``: hybrid's stages served over MCP (stdio) to a coding agent.

The agent's own Claude conducts — map, spec, plan, implement, review — and the local model
implements, verified by the spec's tests and gated like any other plan. Modules:

- :mod:`.server`: the tools, thin shells over the core (built on the official ``mcp`` SDK);
- :mod:`.calls`: a tool call's thread, progress, cancellation and error result;
- :mod:`.implement`: the implement core on the local ladder, with per-item test output;
- :mod:`.review`: review preparation and the agent's verdict, decided and recorded;
- :mod:`.estimate`: the agent's saving, estimated (its tokens are invisible to hybrid);
- :mod:`.results`: the tools' structured results.

The package is not named ``mcp``: that would shadow the SDK. Nothing outside it (and the
``hybrid mcp`` command) imports the SDK, so ``hybrid --help`` never loads it.
"""
