"""Results as a table: printed for the terminal and rendered as Markdown for docs/benchmarks.md."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DOCS_START = "<!-- bench:results:start -->"
DOCS_END = "<!-- bench:results:end -->"


@dataclass
class Row:
    section: str
    measurement: str
    result: str
    target: str = ""
    verdict: str = ""  # "PASS", "FAIL" or "" for information only


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, section: str, measurement: str, result: str, target: str = "", passed: bool | None = None) -> None:
        verdict = "" if passed is None else ("PASS" if passed else "FAIL")
        self.rows.append(Row(section, measurement, result, target, verdict))
        print(f"  [{section}] {measurement}: {result}" + (f"  (target {target}: {verdict})" if target else ""))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def table(self) -> str:
        headers = ("section", "measurement", "result", "target", "verdict")
        cells = [headers, *((r.section, r.measurement, r.result, r.target, r.verdict) for r in self.rows)]
        widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
        lines = []
        for index, row in enumerate(cells):
            lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
            if index == 0:
                lines.append("  ".join("-" * width for width in widths))
        return "\n".join(lines)

    def markdown(self, machine: dict[str, str], command: str, seconds: float) -> str:
        out = [f"Command: `{command}` (finished in {seconds:.0f} s)", "", "| | |", "|---|---|"]
        out += [f"| {key} | {_escape(value)} |" for key, value in machine.items()]
        out += ["", "| section | measurement | result | target | verdict |", "|---|---|---|---|---|"]
        for row in self.rows:
            verdict = f"**{row.verdict}**" if row.verdict == "FAIL" else row.verdict
            cells = (row.section, row.measurement, row.result, row.target, verdict)
            out.append("| " + " | ".join(_escape(cell) for cell in cells) + " |")
        if self.notes:
            out += ["", *[f"- {_escape(note)}" for note in self.notes]]
        return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def update_docs(path: Path, block: str, *, name: str = "results") -> None:
    """Replace the generated block `name` between its markers in `path` (append a new section if there is none)."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    generated = f"{start}\n{block}{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in text and end in text:
        pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
        text = pattern.sub(lambda _: generated, text, count=1)
    else:
        title = "Latest results" if name == "results" else f"Latest results: {name}"
        text = text.rstrip("\n") + f"\n\n## {title}\n\n" + generated + "\n"
    path.write_text(text)
