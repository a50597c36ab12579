"""Configuration from the environment: defaults, and one clear line naming a bad variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reactbin.settings import ConfigError, Settings


def test_defaults_are_the_embedded_set_up() -> None:
    settings = Settings.from_env({})

    assert settings.storage_backend == "filesystem"
    assert settings.storage_dir == Path("data/objects")
    assert settings.max_upload_bytes == 52428800
    assert settings.max_image_pixels == 64_000_000
    assert settings.public_base_url is None
    assert settings.database_url is None


def test_s3_settings_for_r2() -> None:
    settings = Settings.from_env(
        {
            "STORAGE_BACKEND": "s3",
            "S3_ENDPOINT_URL": "https://account.r2.cloudflarestorage.com",
            "S3_REGION": "auto",
            "S3_ACCESS_KEY_ID": "key",
            "S3_SECRET_ACCESS_KEY": "secret",
            "S3_BUCKET_NAME": "reactbin",
            "S3_PUBLIC_BASE_URL": "https://cdn.example.com/",
            "DATABASE_URL": "postgresql://u:p@db/reactbin",
        }
    )

    assert settings.s3 is not None
    assert settings.s3.region == "auto"
    assert settings.s3.bucket == "reactbin"
    assert settings.public_base_url == "https://cdn.example.com"


def test_operations_settings() -> None:
    defaults = Settings.from_env({})
    assert (defaults.metrics, defaults.log_format) == (True, "text")
    chosen = Settings.from_env({"METRICS": "false", "LOG_FORMAT": "JSON"})
    assert (chosen.metrics, chosen.log_format) == (False, "json")


@pytest.mark.parametrize(
    ("raw", "origin"),
    [
        ("https://reactbin.example.com", "https://reactbin.example.com"),
        ("https://Reactbin.Example.com/", "https://reactbin.example.com"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ],
)
def test_public_url_is_an_origin(raw: str, origin: str) -> None:
    assert Settings.from_env({"PUBLIC_URL": raw}).public_url == origin
    assert Settings.from_env({}).public_url is None


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"STORAGE_BACKEND": "ftp"}, "STORAGE_BACKEND"),
        ({"STORAGE_BACKEND": "s3"}, "S3_BUCKET_NAME"),
        ({"STORAGE_BACKEND": "s3", "S3_BUCKET_NAME": "b", "S3_ENDPOINT_URL": "not a url"}, "S3_ENDPOINT_URL"),
        ({"STORAGE_BACKEND": "s3", "S3_BUCKET_NAME": "b", "S3_ACCESS_KEY_ID": "k"}, "S3_ACCESS_KEY_ID"),
        ({"S3_PUBLIC_BASE_URL": "cdn.example.com"}, "S3_PUBLIC_BASE_URL"),
        ({"MAX_UPLOAD_BYTES": "lots"}, "MAX_UPLOAD_BYTES"),
        ({"MAX_UPLOAD_BYTES": "0"}, "MAX_UPLOAD_BYTES"),
        ({"MAX_IMAGE_PIXELS": "-5"}, "MAX_IMAGE_PIXELS"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"METRICS": "maybe"}, "METRICS"),
        ({"PUBLIC_URL": "reactbin.example.com"}, "PUBLIC_URL"),
        ({"PUBLIC_URL": "ftp://reactbin.example.com"}, "PUBLIC_URL"),
        ({"PUBLIC_URL": "https://reactbin.example.com/app"}, "PUBLIC_URL"),
        ({"PUBLIC_URL": "https://reactbin.example.com/?x=1"}, "PUBLIC_URL"),
        ({"PUBLIC_URL": "https://reactbin.example.com:99999"}, "PUBLIC_URL"),
    ],
)
def test_invalid_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env)


def test_serve_with_bad_config_stops_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reactbin.cli", "serve"],
        env={"PATH": "/usr/bin:/bin", "MAX_UPLOAD_BYTES": "lots"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "reactbin: configuration error: MAX_UPLOAD_BYTES must be a number, got 'lots'"
    ]


def test_serve_without_database_names_it() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reactbin.cli", "serve"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr
