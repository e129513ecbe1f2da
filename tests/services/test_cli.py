"""The `xinfang` command line, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import DEMO_FILE, TEST_SECRET

XINFANG = str(Path(sys.executable).with_name("xinfang"))


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "XINFANG_SECRET_KEY": TEST_SECRET}
    return subprocess.run([XINFANG, *args], env=env, capture_output=True, text=True, timeout=60)


def test_migrate_load_and_credentials(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    assert run(url, "migrate").returncode == 0
    loaded = run(url, "directory", "load", str(DEMO_FILE))
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["created"] == 67
    again = run(url, "directory", "load", "--if-empty", str(DEMO_FILE))
    assert "nothing to do" in again.stdout

    token = run(url, "token", "create", "--unit", "qinghe.hrss", "--role", "handler")
    assert token.returncode == 0
    assert token.stdout.strip().startswith("xft_")
    assert (
        run(url, "token", "create", "--unit", "qinghe.nowhere", "--role", "handler").returncode == 2
    )
    assert run(url, "token", "create", "--unit", "qinghe.hrss", "--role", "emperor").returncode == 2

    unregistered = run(url, "apikey", "create", "--system", "12345热线平台")
    assert unregistered.returncode == 2 and "--jurisdiction" in unregistered.stderr
    key = run(
        url, "apikey", "create", "--system", "12345热线平台", "--jurisdiction", "990101000000"
    )
    assert key.stdout.strip().startswith("xfk_")

    # only hashes are stored
    import sqlite3

    with sqlite3.connect(tmp_path / "cli.sqlite3") as db:
        stored = [row[0] for row in db.execute("SELECT secret_hash FROM credential")]
    assert len(stored) == 2
    assert token.stdout.strip() not in stored and key.stdout.strip() not in stored

    revoked = run(url, "token", "revoke", "1")
    assert revoked.returncode == 0
    assert run(url, "apikey", "revoke", "1").returncode == 2  # id 1 is a token, not a key


def test_a_malformed_directory_file_is_refused_with_its_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    run(url, "migrate")
    bad = tmp_path / "bad.json"
    bad.write_text(
        DEMO_FILE.read_text().replace('"parent": "990101100000"', '"parent": "990101777000"', 1)
    )
    result = run(url, "directory", "load", str(bad))
    assert result.returncode == 1
    assert "行" in result.stderr and "990101777000" in result.stderr
    assert "未载入" in result.stderr
    missing = run(url, "directory", "load", str(tmp_path / "nope.json"))
    assert missing.returncode == 2
