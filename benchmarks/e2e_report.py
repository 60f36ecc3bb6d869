"""Markdown tables of the end-to-end rows: medians per side, paired ratios of
ours to each other side, and whether issue 22's and 23's targets are met."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from e2e import DJANGO_TARGETS, GroupResult, Measurement


@dataclass(frozen=True)
class _Target:
    versus: str  # the side ours is compared with
    min_rps_ratio: float | None
    max_rss_ratio: float | None


def _target(group: str, row: str) -> _Target | None:
    if group == "django":
        view = row.split()[0]
        limit = DJANGO_TARGETS.get(view)
        return _Target("upstream", limit, None) if limit else None
    if group == "flask":
        return _Target("a2wsgi", 1.0, 1.0 if row.startswith("10 MiB") else None)
    if group == "asgitowsgi":
        return _Target("a2wsgi", 1.0, 1.0)
    return None


def _paired(ours: Sequence[Measurement], other: Sequence[Measurement], rss: bool) -> list[float]:
    def value(m: Measurement) -> float:
        return m.peak_rss_mib if rss else m.requests_per_second

    return [
        value(a) / value(b) if value(b) else float("inf") for a, b in zip(ours, other, strict=True)
    ]


def _ratio_text(ratios: Sequence[float], digits: int = 2) -> str:
    median = f"{statistics.median(ratios):.{digits}f}x"
    if len(ratios) == 1:
        return median
    return f"{median} ({min(ratios):.{digits}f}-{max(ratios):.{digits}f})"


def _met(target: _Target | None, rps: float, rss: float) -> str:
    if target is None:
        return "-"
    checks = []
    if target.min_rps_ratio is not None:
        checks.append(rps >= target.min_rps_ratio)
    if target.max_rss_ratio is not None:
        checks.append(rss <= target.max_rss_ratio)
    return "yes" if all(checks) else "NO"


def _target_text(target: _Target | None) -> str:
    if target is None:
        return "-"
    parts = []
    if target.min_rps_ratio is not None:
        parts.append(f"req/s >= {target.min_rps_ratio:.1f}x {target.versus}")
    if target.max_rss_ratio is not None:
        parts.append(f"RSS <= {target.max_rss_ratio:.1f}x")
    return ", ".join(parts)


def table(group: str, result: GroupResult) -> list[str]:
    lines = [f"### {result.title}", ""]
    if result.skipped:
        return [*lines, result.skipped]
    others = [side for side in result.sides if side != "ours"]
    header = (
        ["row"]
        + [f"{side} req/s" for side in result.sides]
        + [f"ours/{side} req/s" for side in others]
        + [f"{side} p99 ms" for side in result.sides]
        + [f"{side} peak RSS MiB" for side in result.sides]
        + [f"ours/{side} RSS" for side in others]
        + ["errors " + " / ".join(result.sides), "target", "met"]
    )
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in result.rows:
        by_side = result.samples[row.name]
        rps = {
            s: statistics.median(m.requests_per_second for m in by_side[s]) for s in result.sides
        }
        p99 = {s: statistics.median(m.p99_ms for m in by_side[s]) for s in result.sides}
        rss = {s: statistics.median(m.peak_rss_mib for m in by_side[s]) for s in result.sides}
        rps_ratios = {s: _paired(by_side["ours"], by_side[s], rss=False) for s in others}
        rss_ratios = {s: _paired(by_side["ours"], by_side[s], rss=True) for s in others}
        target = _target(group, row.name)
        met = "-"
        if target is not None:
            met = _met(
                target,
                statistics.median(rps_ratios[target.versus]),
                statistics.median(rss_ratios[target.versus]),
            )
        cells = (
            [row.name]
            + [f"{rps[s]:.0f}" for s in result.sides]
            + [_ratio_text(rps_ratios[s]) for s in others]
            + [f"{p99[s]:.1f}" for s in result.sides]
            + [f"{rss[s]:.1f}" for s in result.sides]
            # Three digits: RSS targets are met or missed by a few hundred KiB.
            + [_ratio_text(rss_ratios[s], digits=3) for s in others]
            + [
                " / ".join(str(sum(m.errors for m in by_side[s])) for s in result.sides),
                _target_text(target),
                met,
            ]
        )
        lines.append("| " + " | ".join(cells) + " |")
    return lines
