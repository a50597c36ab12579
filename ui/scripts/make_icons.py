"""Draw the installed app's icons (ui/public/icons) from the logo in favicon.svg: the same face, in PNG.

Usage (from the repository root): .venv/bin/python ui/scripts/make_icons.py

Browsers need PNG icons of 192 and 512 px for installation; a "maskable" one fills its square, with the face inside
the central 80% circle that Android may crop to. Drawn at 4x and reduced, for smooth edges.
"""

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parents[1] / "public" / "icons"
ACCENT = (0x6D, 0x4A, 0xFF, 255)
WHITE = (255, 255, 255, 255)
SCALE = 4


def face(size: int, *, maskable: bool) -> Image.Image:
    big = size * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    unit = big / 32  # favicon.svg's viewBox is 32 units
    if maskable:
        draw.rectangle((0, 0, big, big), fill=ACCENT)
        # The face shrinks to 70% around the centre: well inside the 80% safe circle.
        unit *= 0.7
        offset = big * 0.15
    else:
        draw.rounded_rectangle((unit, unit, 31 * unit, 31 * unit), radius=9 * unit, fill=ACCENT)
        offset = 0.0

    def point(x: float, y: float) -> tuple[float, float]:
        return (offset + x * unit, offset + y * unit)

    for cx in (11.5, 20.5):
        left, top = point(cx - 2.2, 13 - 2.2)
        right, bottom = point(cx + 2.2, 13 + 2.2)
        draw.ellipse((left, top, right, bottom), fill=WHITE)
    # The smile: the cubic c3.5 4 9.5 4 13 0 from (9.5, 19.5), stamped as discs along the curve (round caps, no seams).
    radius = 1.2 * unit
    p0, p1, p2, p3 = (9.5, 19.5), (13.0, 23.5), (19.0, 23.5), (22.5, 19.5)
    steps = 600
    for i in range(steps + 1):
        t = i / steps
        x = (1 - t) ** 3 * p0[0] + 3 * (1 - t) ** 2 * t * p1[0] + 3 * (1 - t) * t**2 * p2[0] + t**3 * p3[0]
        y = (1 - t) ** 3 * p0[1] + 3 * (1 - t) ** 2 * t * p1[1] + 3 * (1 - t) * t**2 * p2[1] + t**3 * p3[1]
        cx, cy = point(x, y)
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=WHITE)
    return image.resize((size, size), Image.Resampling.LANCZOS)


if __name__ == "__main__":
    HERE.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        face(size, maskable=False).save(HERE / f"icon-{size}.png", optimize=True)
    face(512, maskable=True).save(HERE / "maskable-512.png", optimize=True)
    # iOS takes the apple-touch-icon, full-bleed (it rounds the corners itself).
    face(180, maskable=True).convert("RGB").save(HERE / "apple-touch-icon.png", optimize=True)
