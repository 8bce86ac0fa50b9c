"""The deterministic judge of model-written code: test runners per language, their reports read
test by test, and the accounting that decides whether an item passes.

- :mod:`.detect`   which runner a repository uses for a test file (pytest, go, vitest, jest, node)
- :mod:`.expected` the tests a Go or JavaScript/TypeScript test file declares
- :mod:`.adapters` how each runner is invoked (types stage, tests stage, report file)
- :mod:`.reports`  per-test outcomes from go test -json, jest/vitest JSON, JUnit XML
- :mod:`.execute`  the seam through which commands of project code run
- :mod:`.tests`    judge a set of test files: run, account every expected test, trim feedback
"""
