"""`taskping doctor`: the whole setup checked end to end, one line per check.

Each check module returns :class:`~taskping.doctor.result.Check` values;
:mod:`~taskping.doctor.run` runs them in order and :mod:`~taskping.doctor.render`
prints them (✓/✗ with the fix under each ✗, or JSON). The doctor only reads:
it never writes the session map, never marks mail, never types anything.
"""
