"""Numbers and durations written the way a person reads them (Qt-free, shared by views)."""
from __future__ import annotations

import math


def count(n: int | float | None) -> str:
    """4_690_000 -> '4.7 M', 12_300 -> '12.3 k', 950 -> '950'."""
    if n is None:
        return "–"
    n = float(n)
    for div, suffix in ((1e9, " B"), (1e6, " M"), (1e3, " k")):
        if abs(n) >= div:
            v = n / div
            return f"{v:.1f}{suffix}" if v < 100 else f"{v:.0f}{suffix}"
    return f"{n:.0f}"


def duration(seconds: float | None) -> str:
    """Rounded so it does not flicker: '45 s', '3 min', '1 h 20 min'."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    if seconds < 60:
        return f"{max(1, int(round(seconds)))} s"
    minutes = int(round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def percent(x: float | None, digits: int = 1) -> str:
    if x is None or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "–"
    return f"{100 * x:.{digits}f}%"


def share(x: float) -> str:
    """A percentage that never rounds a partial share to 0 % or 100 % (16 k frozen of 3.4 M is 99.5 %)."""
    if x <= 0 or x >= 1:
        return percent(min(max(x, 0.0), 1.0), 0)
    for digits in range(3):
        text = percent(x, digits)
        if float(text[:-1]) not in (0.0, 100.0):
            return text
    return "<0.01%" if x < 0.5 else ">99.99%"


def number(x: float | None, digits: int = 3) -> str:
    if x is None or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "–"
    return f"{x:.{digits}g}"


def bytes_(n: int | None) -> str:
    if not n:
        return ""
    for div, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= div:
            return f"{n / div:.0f} {suffix}"
    return f"{n} B"
