"""Connector options: flags win over PROMSCALE_* variables, which win over defaults."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pyconnector import config
from pyconnector.config import Config

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_are_the_embedded_cluster_and_port_9201():
    loaded = config.load([], environ={})
    assert loaded == Config()
    assert loaded.db_uri == "postgresql://promscale@127.0.0.1:54320/promscale"
    assert loaded.listen == "127.0.0.1:9201"


def test_environment_then_flags():
    environ = {"PROMSCALE_DB_URI": "postgresql://x@db/y", "PROMSCALE_WORKERS": "4", "PROMSCALE_MAX_BODY_BYTES": "1MiB"}
    loaded = config.load(["--workers", "3"], environ=environ)
    assert (loaded.db_uri, loaded.workers, loaded.max_body_bytes) == ("postgresql://x@db/y", 3, 1 << 20)


def test_read_uris_repeat_as_flags_or_separate_by_commas():
    replica, other = "postgresql://r@replica1/db", "postgresql://r@replica2:5433/db?sslmode=require"
    multi_host = "postgresql://r@h1:5432,h2:5432/db?target_session_attrs=any"
    assert config.load(["--db-read-uri", replica, "--db-read-uri", other], environ={}).db_read_uri == (replica, other)
    loaded = config.load([], environ={"PROMSCALE_DB_READ_URI": f"{replica}, {multi_host},{other}"})
    assert loaded.db_read_uri == (replica, multi_host, other)  # a libpq multi-host URI stays whole
    assert config.load([], environ={}).db_read_uri == ()


@pytest.mark.parametrize("argv, environ, message", [
    (["--db-read-uri", "replica1:5432"], {}, "expected postgresql:// URIs"),
    (["--listen", "9201"], {}, "expected HOST:PORT"),
    ([], {"PROMSCALE_WORKERS": "many"}, "invalid PROMSCALE_WORKERS='many'"),
])
def test_bad_values_name_the_option(argv, environ, message, capsys):
    with pytest.raises(SystemExit) as exc:
        config.load(argv, environ=environ)
    assert message in str(exc.value) + capsys.readouterr().err


def test_every_option_is_documented_in_help_and_readme():
    help_text = subprocess.run([sys.executable, "-m", "pyconnector", "--help"], capture_output=True, text=True,
                               check=True).stdout
    readme = README.read_text()
    for name, _option, _default in Config.options():
        assert config.flag_name(name) in help_text
        assert config.env_name(name) in help_text
        assert config.flag_name(name) in readme, f"README does not document {config.flag_name(name)}"


@pytest.mark.parametrize("argv, environ, expected", [
    ([], {}, False),
    (["--high-availability"], {}, True),
    (["--high-availability", "false"], {"PROMSCALE_HIGH_AVAILABILITY": "true"}, False),
    ([], {"PROMSCALE_HIGH_AVAILABILITY": "1"}, True),
    ([], {"PROMSCALE_HIGH_AVAILABILITY": "off"}, False),
])
def test_high_availability_is_a_switch(argv, environ, expected):
    assert config.load(argv, environ=environ).high_availability is expected


def test_bad_boolean_names_the_option():
    with pytest.raises(SystemExit) as exc:
        config.load([], environ={"PROMSCALE_HIGH_AVAILABILITY": "maybe"})
    assert "invalid PROMSCALE_HIGH_AVAILABILITY='maybe'" in str(exc.value)
