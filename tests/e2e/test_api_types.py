"""The UI's API types are generated from the schema the server serves, and the generated files are current."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from reactbin.app import create_app
from reactbin.settings import Settings
from tests.e2e.conftest import UI, ensure_ui_dependencies

REGENERATE = "run `npm run gen:api` in ui/ and commit ui/openapi.json and ui/src/api/schema.d.ts"


def test_committed_schema_is_the_served_schema() -> None:
    served = json.loads(json.dumps(create_app(Settings()).openapi_schema.to_schema()))
    committed = json.loads((UI / "openapi.json").read_text())
    assert committed == served, REGENERATE


def test_committed_types_are_generated_from_the_committed_schema(tmp_path: Path) -> None:
    ensure_ui_dependencies()
    generated = tmp_path / "schema.d.ts"
    command = [str(UI / "node_modules" / ".bin" / "openapi-typescript"), "openapi.json", "-o", str(generated)]
    subprocess.run(command, cwd=UI, check=True, capture_output=True, timeout=120)
    assert generated.read_text() == (UI / "src" / "api" / "schema.d.ts").read_text(), REGENERATE
