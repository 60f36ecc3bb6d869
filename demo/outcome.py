"""The result of one demo check, as the report prints it and processes exchange it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Check:
    label: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"[{'ok' if self.ok else 'FAIL'}] {self.detail}"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Check:
        data = json.loads(text)
        return cls(label=str(data["label"]), ok=bool(data["ok"]), detail=str(data["detail"]))
