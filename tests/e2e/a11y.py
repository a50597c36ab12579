"""Accessibility checks for browser tests: an axe-core scan of what a page shows, and measured text contrast.

`await assert_accessible(page)` injects axe-core (the npm package pinned in ui/package.json, installed by `npm ci`)
and fails on any serious or critical violation, naming the rule, the elements and axe's advice. A screen added
later is checked with that one line, in whatever state (theme, size, open menus) the test has put the page.
"""

from __future__ import annotations

import functools
from typing import Any

from playwright.async_api import Locator, Page

from tests.e2e.conftest import UI, ensure_ui_dependencies

AXE = UI / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = frozenset({"serious", "critical"})


@functools.cache
def _axe_source() -> str:
    if not AXE.is_file():
        ensure_ui_dependencies()
    return AXE.read_text()


_RUN_AXE = """async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => `${n.target.join(" ")}: ${n.failureSummary.replace(/\\s+/g, " ")}`),
    }));
}"""


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Every axe violation on the page as it is now (any impact)."""
    # Evaluated through the DevTools protocol, which the page's CSP (script-src 'self') does not govern, so the page
    # is scanned exactly as it is served.
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(_axe_source())
    violations: list[dict[str, Any]] = await page.evaluate(_RUN_AXE)
    return violations


async def assert_accessible(page: Page, where: str = "") -> None:
    """Fail when axe finds a serious or critical violation on the page as it is now."""
    failing = [v for v in await axe_violations(page) if v["impact"] in FAILING_IMPACTS]
    if failing:
        report = "\n".join(
            f"- {v['impact']} {v['id']}: {v['help']}\n" + "\n".join(f"    {node}" for node in v["nodes"][:8])
            for v in failing
        )
        raise AssertionError(f"axe found serious or critical violations on {where or page.url}:\n{report}")


# The contrast of an element's text against what is painted behind it: semi-transparent backgrounds of ancestors are
# composited over the first opaque one (the page's canvas colour when none is). Background images are not seen.
_CONTRAST = """(element) => {
    const parse = (value) => {
        const m = value.match(/rgba?\\(([^)]+)\\)/);
        if (!m) return [0, 0, 0, 0];
        const parts = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
        return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
    };
    const over = (top, bottom) => {
        const a = top[3] + bottom[3] * (1 - top[3]);
        if (a === 0) return [0, 0, 0, 0];
        return [0, 1, 2].map((i) => (top[i] * top[3] + bottom[i] * bottom[3] * (1 - top[3])) / a).concat(a);
    };
    const layers = [];
    for (let node = element; node; node = node.parentElement) {
        const colour = parse(getComputedStyle(node).backgroundColor);
        if (colour[3] > 0) layers.push(colour);
        if (colour[3] >= 1) break;
    }
    const canvas = parse(getComputedStyle(document.documentElement).backgroundColor);
    let background = canvas[3] >= 1 ? canvas : [255, 255, 255, 1];
    for (const layer of layers.reverse()) background = over(layer, background);
    const text = over(parse(getComputedStyle(element).color), background);
    const luminance = ([r, g, b]) => {
        const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const [hi, lo] = [luminance(text), luminance(background)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
}"""


async def contrast_of(element: Locator) -> float:
    """The WCAG contrast ratio of `element`'s text colour against its background, as painted now."""
    ratio: float = await element.evaluate(_CONTRAST)
    return ratio
