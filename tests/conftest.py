"""Shared pytest configuration.

Plugins are listed here; engineers append their own entries to the list
(append-only, to keep concurrent edits from clashing).
"""

pytest_plugins = [
    "tests.support.claude_fixtures",
]
