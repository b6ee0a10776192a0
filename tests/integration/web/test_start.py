"""`kravflyt web` says where it serves; `kravflyt demo` keeps to its own demo.db and never
replaces another database without --fresh --yes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from adapter.cli import main
from adapter.commands.demo import DEMO_DATABASE, demo_database
from adapter.settings import AppSettings

KRAVFLYT = Path(sys.executable).with_name("kravflyt")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_kravflyt_web_prints_its_url(tmp_path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "KRAVFLYT_DATABASE_URL": f"sqlite:///{tmp_path}/k.db",
        "KRAVFLYT_KEY_FILE": f"{tmp_path}/k.key",
    }
    subprocess.run(
        [str(KRAVFLYT), "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120
    )
    server = subprocess.Popen(
        [str(KRAVFLYT), "web", "--port", str(port)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert first.strip() == (
        f"Kravflyt viser sidene på http://127.0.0.1:{port}/ (database sqlite:///{tmp_path}/k.db)"
    )


def test_the_demo_uses_its_own_file_and_refuses_another_without_fresh_yes(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.delenv("KRAVFLYT_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    assert (
        demo_database(AppSettings(), fresh=True, yes=False) == DEMO_DATABASE == "sqlite:///demo.db"
    )
    real = tmp_path / "kravflyt.db"
    real.write_bytes(b"an installation's data")
    monkeypatch.setenv("KRAVFLYT_DATABASE_URL", f"sqlite:///{real}")
    for args in (["demo"], ["demo", "--fresh"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert "is not a demo.db: give --fresh --yes" in result.output
    assert real.read_bytes() == b"an installation's data"
    assert demo_database(AppSettings(), fresh=True, yes=True) == f"sqlite:///{real}"
