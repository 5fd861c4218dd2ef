"""One check's outcome: the shape every doctor check returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["ok", "fail", "skip"]


@dataclass(frozen=True)
class Check:
    """``name`` is stable (scripts key on it); ``detail`` the line shown; ``fix`` what to do about a failure;
    ``note`` something worth knowing about a check that passed (a deprecated value, a risky choice)."""

    name: str
    status: Status
    detail: str
    fix: str | None = None
    note: str | None = None

    @classmethod
    def ok(cls, name: str, detail: str, *, note: str | None = None) -> Check:
        return cls(name, "ok", detail, note=note)

    @classmethod
    def fail(cls, name: str, detail: str, fix: str) -> Check:
        return cls(name, "fail", detail, fix=fix)

    @classmethod
    def skip(cls, name: str, detail: str) -> Check:
        return cls(name, "skip", detail)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}
