"""``gsp keys``, option checks, bind warnings, and a CURVE session through the CLI."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from scene_helpers import CliProcess, file_state_hash, free_port_pair, record_animation

from gsplog_cli.main import cli
from transports.endpoints import check_bind_endpoint
from transports.security import ClientSecurity


def test_keys_writes_a_usable_pair(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["keys", "-o", str(tmp_path / "k"), "alice"])
    assert result.exit_code == 0, result.output
    public, secret = tmp_path / "k" / "alice.key", tmp_path / "k" / "alice.key_secret"
    assert public.is_file() and secret.is_file()
    assert (secret.stat().st_mode & 0o077) == 0
    assert ClientSecurity(secret, public).public_key


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["node", "tcp://127.0.0.1:5999", "--null", "--backend", "matplotlib"])
    assert result.exit_code == 2 and "--null" in result.output
    result = runner.invoke(cli, ["node", "tcp://127.0.0.1:5999", "--curve-secret", __file__])
    assert result.exit_code == 2 and "--server-key" in result.output
    result = runner.invoke(cli, ["relay", "--sub", "tcp://127.0.0.1:5999", "--pub", "tcp://127.0.0.1:5997",
                                 "--opaque", "--max-scene-gib", "1"])
    assert result.exit_code == 2 and "--opaque keeps no scene" in result.output
    result = runner.invoke(cli, ["node", "tcp://127.0.0.1:5999", "--null", "--max-scene-gib", "-1"])
    assert result.exit_code == 2 and "Invalid value for '--max-scene-gib'" in result.output
    not_a_log = tmp_path / "x.gsplog"
    not_a_log.write_bytes(b"hello" * 20)
    result = runner.invoke(cli, ["serve", str(not_a_log), "--bind", "tcp://127.0.0.1:5999"])
    assert result.exit_code == 1 and "not a gsplog file" in result.output


def test_binding_beyond_loopback_warns(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    check_bind_endpoint("tcp://127.0.0.1:5555")
    assert not caplog.records
    check_bind_endpoint("tcp://0.0.0.0:5555")
    assert "reachable from other machines" in caplog.text


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_curve_session_through_cli(tmp_path: Path) -> None:
    session = tmp_path / "s.gsplog"
    record_animation(session, frames=30, interval=0.04)
    runner = CliRunner()
    for name in ("server", "node", "stranger"):
        assert runner.invoke(cli, ["keys", "-o", str(tmp_path / "keys"), name]).exit_code == 0
    keys, allowed = tmp_path / "keys", tmp_path / "allowed"
    allowed.mkdir()
    shutil.copy(keys / "node.key", allowed)
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"
    server_args = ["--curve-secret", str(keys / "server.key_secret"), "--allow", str(allowed)]
    admitted = CliProcess(
        "node", endpoint, "--null", "--timeout", "30", "-v",
        "--curve-secret", str(keys / "node.key_secret"), "--server-key", str(keys / "server.key"),
    )  # fmt: skip
    stranger = CliProcess(
        "node", endpoint, "--null", "--timeout", "4",
        "--curve-secret", str(keys / "stranger.key_secret"), "--server-key", str(keys / "server.key"),
    )  # fmt: skip
    server = CliProcess("serve", str(session), "--bind", endpoint, "--wait", "2.5", *server_args)
    try:
        good, bad = admitted.result(), stranger.result()
        server.result_code = server.proc.wait(30)
    finally:
        for proc in (server, admitted, stranger):
            proc.stop()
    assert good["state_hash"] == file_state_hash(session)
    assert bad["commands"] == 0 and bad["last_seq"] == 0 and bad["session"] is None


@pytest.mark.timeout(60)
def test_replay_of_a_silent_endpoint_says_it_waits_then_why_it_gave_up(tmp_path: Path) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"  # nothing publishes there
    replay = CliProcess("replay", endpoint, "-o", str(tmp_path / "out.png"), "--timeout", "4")
    replay.wait_for(f"waiting for a publisher at {endpoint}", timeout=10)  # said before it gives up
    assert replay.proc.poll() is None
    assert replay.proc.wait(timeout=30) == 2
    replay._reader.join(5)
    said = "".join(replay.lines)
    assert f"{endpoint}: no session arrived in 4 s" in said, said
    assert not (tmp_path / "out.png").exists()
