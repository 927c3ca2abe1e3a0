"""Draw the app icon: resources/icons/app.{png,svg,ico,icns}.

A rounded square (blue to teal) holding three stacked layers: the two lower ones pale
(the pretrained backbone, kept), the top one amber (the part that learns your classes).
Drawn once at 1024 px and scaled down, so the small sizes stay smooth. Needs Pillow;
run it again only to change the design (the files are kept in the repository).
"""
from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "resources" / "icons"
BIG = 1024
MARGIN, RADIUS = 32, 200
TOP_LEFT, BOTTOM_RIGHT = (31, 78, 121), (42, 157, 143)  # #1f4e79 -> #2a9d8f
HALF_W, HALF_H, THICK = 300, 150, 44
LAYERS = (  # (centre y, top face RGBA, side RGBA), drawn bottom to top
    (660, (255, 255, 255, 140), (255, 255, 255, 80)),
    (500, (255, 255, 255, 200), (255, 255, 255, 110)),
    (340, (244, 162, 97, 255), (209, 111, 52, 255)),  # #f4a261 / #d16f34
)


def layer_polygons(cy: int, cx: int = BIG // 2) -> tuple[list, list, list]:
    """(top face, left side, right side) of one isometric layer."""
    top = [(cx, cy - HALF_H), (cx + HALF_W, cy), (cx, cy + HALF_H), (cx - HALF_W, cy)]
    left = [(cx - HALF_W, cy), (cx, cy + HALF_H), (cx, cy + HALF_H + THICK), (cx - HALF_W, cy + THICK)]
    right = [(cx, cy + HALF_H), (cx + HALF_W, cy), (cx + HALF_W, cy + THICK), (cx, cy + HALF_H + THICK)]
    return top, left, right


def draw(size: int = 256) -> Image.Image:
    down = Image.linear_gradient("L").resize((BIG, BIG))  # 0 at the top, 255 at the bottom
    ramp = Image.blend(down, down.transpose(Image.Transpose.TRANSPOSE), 0.5)  # diagonal: (x + y) / 2
    bg = Image.composite(Image.new("RGBA", (BIG, BIG), BOTTOM_RIGHT + (255,)),
                         Image.new("RGBA", (BIG, BIG), TOP_LEFT + (255,)), ramp)
    mask = Image.new("L", (BIG, BIG), 0)
    ImageDraw.Draw(mask).rounded_rectangle((MARGIN, MARGIN, BIG - MARGIN, BIG - MARGIN), RADIUS, fill=255)
    icon = Image.new("RGBA", (BIG, BIG), (0, 0, 0, 0))
    icon.paste(bg, (0, 0), mask)
    for cy, face, side in LAYERS:
        overlay = Image.new("RGBA", (BIG, BIG), (0, 0, 0, 0))
        d = ImageDraw.Draw(overlay)
        top, left, right = layer_polygons(cy)
        d.polygon(left, fill=side)
        d.polygon(right, fill=tuple(max(0, c - 25) for c in side[:3]) + (side[3],))
        d.polygon(top, fill=face)
        icon = Image.alpha_composite(icon, overlay)
    return icon.resize((size, size), Image.LANCZOS)


def hexcolour(c) -> str:
    return "#" + "".join(f"{v:02x}" for v in c[:3])


def svg() -> str:
    """The same design as SVG (a 256-unit view box)."""
    s = 256 / BIG

    def pts(poly):
        return " ".join(f"{x * s:g},{y * s:g}" for x, y in poly)

    def rgba(c):
        return f'fill="{hexcolour(c)}" fill-opacity="{c[3] / 255:.2f}"'

    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">',
             '  <defs><linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">',
             f'    <stop offset="0" stop-color="{hexcolour(TOP_LEFT)}"/><stop offset="1" stop-color="{hexcolour(BOTTOM_RIGHT)}"/>',
             "  </linearGradient></defs>",
             f'  <rect x="{MARGIN * s:g}" y="{MARGIN * s:g}" width="{(BIG - 2 * MARGIN) * s:g}" '
             f'height="{(BIG - 2 * MARGIN) * s:g}" rx="{RADIUS * s:g}" fill="url(#bg)"/>']
    for cy, face, side in LAYERS:
        top, left, right = layer_polygons(cy)
        darker = tuple(max(0, c - 25) for c in side[:3]) + (side[3],)
        parts += [f'  <polygon points="{pts(left)}" {rgba(side)}/>',
                  f'  <polygon points="{pts(right)}" {rgba(darker)}/>',
                  f'  <polygon points="{pts(top)}" {rgba(face)}/>']
    parts.append("</svg>\n")
    return "\n".join(parts)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    big = draw(BIG)
    big.resize((256, 256), Image.LANCZOS).save(OUT / "app.png", optimize=True)
    big.save(OUT / "app.ico", sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])
    try:
        big.save(OUT / "app.icns")
    except (OSError, ValueError) as exc:  # older Pillow builds cannot write ICNS
        print(f"app.icns not written: {exc}", file=sys.stderr)
    (OUT / "app.svg").write_text(svg(), encoding="utf-8")
    print(f"wrote {', '.join(sorted(p.name for p in OUT.glob('app.*')))} in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
