# Shared pytest plugins for the whole test suite (fixtures live in tests/support/).
# Add a plugin by appending its module path to this list.
pytest_plugins = [
    "tests.support.mail_fixtures",
    "tests.support.claude_fixtures",
]
