# Shared pytest plugins for the whole test suite: the one test rig lives in tests/support/
# (mail stack, claude and tmux, the reply-path world). Add a plugin by appending its module path.
pytest_plugins = [
    "tests.support.mail_fixtures",
    "tests.support.claude_fixtures",
    "tests.support.world",
]
