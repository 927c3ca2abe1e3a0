"""Charts as SVG text built from numbers: no plotting library, no Qt, works headless.

The report embeds them as data: URIs (<img src="data:image/svg+xml;base64,...">), which
browsers and Qt's QTextDocument (the app's PDF printing) both draw.
"""
from __future__ import annotations

import base64
from html import escape

W, H = 360, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 60
COLOURS = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457")


def _x(v: float) -> float:
    return LEFT + v * (W - LEFT - RIGHT)


def _y(v: float) -> float:
    return H - BOTTOM - v * (H - TOP - BOTTOM)


def _frame(title: str, xlabel: str, ylabel: str) -> list[str]:
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
           f'<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{escape(title)}</text>',
           f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" height="{H - TOP - BOTTOM}" fill="none" '
           'stroke="#999"/>']
    for t in (0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line x1="{_x(t):.1f}" y1="{_y(0)}" x2="{_x(t):.1f}" y2="{_y(0) + 4}" stroke="#666"/>')
        out.append(f'<text x="{_x(t):.1f}" y="{_y(0) + 15}" text-anchor="middle">{t:g}</text>')
        out.append(f'<line x1="{_x(0) - 4}" y1="{_y(t):.1f}" x2="{_x(0)}" y2="{_y(t):.1f}" stroke="#666"/>')
        out.append(f'<text x="{_x(0) - 6}" y="{_y(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    out.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 28}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text x="14" y="{(TOP + H - BOTTOM) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 14 {(TOP + H - BOTTOM) / 2})">{escape(ylabel)}</text>')
    return out


def _polyline(xs, ys, colour: str, width: float = 2, dash: str = "") -> str:
    pts = " ".join(f"{_x(min(1, max(0, a))):.1f},{_y(min(1, max(0, b))):.1f}" for a, b in zip(xs, ys))
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="{width}"{d}/>'


def _legend(labels: list[tuple[str, str]]) -> list[str]:
    """One row under the x-axis label, so no key hides a curve."""
    out, x, y = [], 8.0, H - 8
    for label, colour in labels:
        out.append(f'<line x1="{x:.1f}" y1="{y - 4}" x2="{x + 16:.1f}" y2="{y - 4}" stroke="{colour}" stroke-width="3"/>')
        out.append(f'<text x="{x + 20:.1f}" y="{y}" fill="#222">{escape(label)}</text>')
        x += 28 + 6.2 * len(label)
    return out


def curve_chart(title: str, xlabel: str, ylabel: str, series: list[tuple[str, list, list]],
                point: tuple[float, float] | None = None, diagonal: bool = False,
                baseline: float | None = None) -> str:
    """Lines (label, xs, ys) on [0, 1]², an optional marked operating point and reference line."""
    out = _frame(title, xlabel, ylabel)
    if diagonal:
        out.append(_polyline([0, 1], [0, 1], "#aaa", 1, "4 3"))
    if baseline is not None:
        out.append(_polyline([0, 1], [baseline, baseline], "#aaa", 1, "4 3"))
    legend = []
    for i, (label, xs, ys) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        out.append(_polyline(xs, ys, colour))
        legend.append((label, colour))
    if point is not None:
        px, py = _x(point[0]), _y(point[1])
        out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="5.5" fill="#ffb300" stroke="black" stroke-width="1.2"/>')
        legend.append(("operating point", "#ffb300"))
    out += _legend(legend[-4:])
    return "\n".join(out + ["</svg>"])


def reliability_chart(title: str, before: list[dict], after: list[dict]) -> str:
    """Mean predicted probability against the observed rate per bin, before and after scaling."""
    out = _frame(title, "predicted probability", "observed frequency")
    out.append(_polyline([0, 1], [0, 1], "#aaa", 1, "4 3"))
    legend = []
    for label, bins, colour in (("before scaling", before, COLOURS[1]), ("after scaling", after, COLOURS[0])):
        if not bins:
            continue
        xs, ys = [b["mean_predicted"] for b in bins], [b["observed"] for b in bins]
        out.append(_polyline(xs, ys, colour))
        n_max = max(b["n"] for b in bins) or 1
        for b in bins:
            r = 2.5 + 4 * (b["n"] / n_max) ** 0.5
            out.append(f'<circle cx="{_x(b["mean_predicted"]):.1f}" cy="{_y(b["observed"]):.1f}" r="{r:.1f}" '
                       f'fill="{colour}" fill-opacity="0.6"/>')
        legend.append((label, colour))
    out += _legend(legend)
    return "\n".join(out + ["</svg>"])


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
