"""Command-line entry points. Thin: parse arguments, call into the packages."""
