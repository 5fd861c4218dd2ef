"""Printing the checks: ✓/✗ lines with the fix indented under each ✗, or one JSON document."""

from __future__ import annotations

import json

from taskping.doctor.result import Check

MARK = {"ok": "✓", "fail": "✗", "skip": "-"}


def human(checks: list[Check]) -> str:
    lines: list[str] = []
    for check in checks:
        lines.append(f"{MARK[check.status]} {check.detail}")
        if check.fix:
            lines.append(f"    fix: {check.fix}")
        if check.note:
            lines.append(f"    note: {check.note}")
    failed = sum(1 for c in checks if c.status == "fail")
    lines.append(f"{failed} problem{'s' if failed != 1 else ''} found" if failed else "all checks passed")
    return "\n".join(lines)


def as_json(checks: list[Check]) -> str:
    return json.dumps(
        {"ok": not any(c.status == "fail" for c in checks), "checks": [c.as_dict() for c in checks]},
        indent=2,
        ensure_ascii=False,
    )
