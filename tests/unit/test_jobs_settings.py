"""Job settings from the environment: RUN_WORKER, WORKER_CONCURRENCY, JOB_TTL and the retry knobs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from reactbin.settings import ConfigError, Settings


def test_job_defaults() -> None:
    settings = Settings.from_env({})

    assert settings.run_worker is True
    assert settings.worker_concurrency == 2
    assert settings.job_ttl == 7 * 86400
    assert settings.job_max_attempts == 3
    assert (settings.job_heartbeat_timeout, settings.job_poll_interval) == (5.0, 5.0)
    # A Settings built in code runs jobs the same way as an empty environment.
    in_code = Settings()
    for name in ("run_worker", "worker_concurrency", "job_ttl", "job_max_attempts", "job_retry_delay"):
        assert getattr(in_code, name) == getattr(settings, name)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("3600", 3600), ("90s", 90), ("15m", 900), ("12h", 43200), ("7d", 604800), ("1.5h", 5400), (" 2D ", 172800)],
)
def test_job_ttl_takes_seconds_or_a_unit(raw: str, seconds: float) -> None:
    assert Settings.from_env({"JOB_TTL": raw}).job_ttl == seconds


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("1", True), ("YES", True), ("false", False), ("0", False)])
def test_run_worker_is_a_boolean(raw: str, value: bool) -> None:
    assert Settings.from_env({"RUN_WORKER": raw}).run_worker is value


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"RUN_WORKER": "sometimes"}, "RUN_WORKER"),
        ({"JOB_TTL": "7 weeks"}, "JOB_TTL"),
        ({"JOB_TTL": "0"}, "JOB_TTL"),
        ({"JOB_TTL": "-1d"}, "JOB_TTL"),
        ({"WORKER_CONCURRENCY": "0"}, "WORKER_CONCURRENCY"),
        ({"JOB_MAX_ATTEMPTS": "many"}, "JOB_MAX_ATTEMPTS"),
        ({"JOB_HEARTBEAT_TIMEOUT": "0.5"}, "JOB_HEARTBEAT_TIMEOUT"),
        ({"JOB_POLL_INTERVAL": "0"}, "JOB_POLL_INTERVAL"),
        ({"JOB_RETRY_DELAY": "-1"}, "JOB_RETRY_DELAY"),
    ],
)
def test_invalid_job_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ([], {"RUN_WORKER": "maybe"}, "RUN_WORKER must be true or false, got 'maybe'"),
        ([], {}, "DATABASE_URL is required"),
        (["--concurrency", "0"], {"DATABASE_URL": "postgresql://x/y"}, "--concurrency must be at least 1"),
    ],
)
def test_worker_with_bad_config_stops_with_one_line(args: list[str], env: dict[str, str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reactbin.cli", "worker", *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("reactbin: configuration error: ")
    assert message in lines[0]
