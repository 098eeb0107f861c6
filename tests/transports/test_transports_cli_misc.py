"""``gsp keys``, option checks, bind warnings, and a CURVE session through the CLI."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from scene_helpers import CliProcess, file_state_hash, free_port_pair, gsp_record_example, record_animation

from gsplog_cli.main import cli
from player import replay
from transports.endpoints import check_bind_endpoint, warn_if_exposed
from transports.security import ClientSecurity


def test_keys_writes_a_usable_pair(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["keys", "-o", str(tmp_path / "k"), "alice"])
    assert result.exit_code == 0, result.output
    public, secret = tmp_path / "k" / "alice.key", tmp_path / "k" / "alice.key_secret"
    assert public.is_file() and secret.is_file()
    assert (secret.stat().st_mode & 0o077) == 0
    assert ClientSecurity(secret, public).public_key


def test_keys_into_a_folder_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    """A folder that cannot be made or written printed a Python traceback."""
    (tmp_path / "file").write_text("not a folder")
    for folder in (tmp_path / "file" / "sub", Path("/proc")):
        result = CliRunner().invoke(cli, ["keys", "-o", str(folder), "alice"])
        assert result.exit_code == 1 and result.exception is not None, result.output
        assert result.output.startswith("Error: cannot write the key pair 'alice': "), result.output
        assert str(folder) in result.output and len(result.output.splitlines()) == 1
        assert "Traceback" not in result.output


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
    result = runner.invoke(cli, ["record", __file__, "--end-grace", "2", "--allow", str(tmp_path)])
    assert result.exit_code == 2 and "--allow, --end-grace: only with --publish" in result.output, result.output
    not_a_log = tmp_path / "x.gsplog"
    not_a_log.write_bytes(b"hello" * 20)
    result = runner.invoke(cli, ["serve", str(not_a_log), "--bind", "tcp://127.0.0.1:5999"])
    assert result.exit_code == 1 and "not a gsplog file" in result.output


def test_node_help_says_which_backend_it_draws_with_by_default() -> None:
    result = CliRunner().invoke(cli, ["node", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "[default: matplotlib with -o; else null: commands applied, frames counted, nothing drawn]" in result.output


def test_binding_beyond_loopback_warns(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    check_bind_endpoint("tcp://0.0.0.0:5555")  # checks only: the warning comes once bound
    warn_if_exposed("tcp://127.0.0.1:5555")
    warn_if_exposed("tcp://0.0.0.0:5555", secure=True)
    assert not caplog.records
    warn_if_exposed("tcp://0.0.0.0:5555")
    assert "reachable from other machines" in caplog.text


def test_the_open_door_warning_comes_after_a_bind_and_not_under_curve(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """The warning 'reachable from other machines; use CURVE keys' was printed before binding:
    also when the bind then failed, and also when CURVE keys were given."""
    from transports.publisher import Publisher
    from transports.security import ServerSecurity, generate_keys

    caplog.set_level(logging.WARNING)
    with pytest.raises(OSError, match="cannot bind"):
        Publisher("tcp://999.1.1.1:5")
    _, secret = generate_keys(tmp_path / "keys", "server")
    (tmp_path / "allowed").mkdir()
    secured = Publisher("tcp://0.0.0.0:*", security=ServerSecurity(secret, tmp_path / "allowed"))
    secured.close(end=False)
    assert "reachable from other machines" not in caplog.text
    open_door = Publisher("tcp://0.0.0.0:*")
    open_door.close(end=False)
    warned = [r.getMessage() for r in caplog.records if "reachable from other machines" in r.getMessage()]
    assert len(warned) == 2 and open_door.endpoint in warned[0]  # its port, not '*'


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
    picture = tmp_path / "replayed.png"
    replayer = CliProcess(
        "replay", endpoint, "-o", str(picture), "--timeout", "30",
        "--curve-secret", str(keys / "node.key_secret"), "--server-key", str(keys / "server.key"),
    )  # fmt: skip
    server = CliProcess("serve", str(session), "--bind", endpoint, "--wait", "2.5", *server_args)
    try:
        good, bad = admitted.result(), stranger.result(code=1)  # no session arrived: exit 1
        assert replayer.proc.wait(30) == 0, "".join(replayer.lines)[-2000:]
        server.result_code = server.proc.wait(30)
    finally:
        for proc in (server, admitted, stranger, replayer):
            proc.stop()
    assert good["state_hash"] == file_state_hash(session)
    refusals = [line for line in server.lines if "refused a client's handshake" in line]
    assert 1 <= len(refusals) <= 2, server.lines  # said, once per kind of refusal (not per retry)
    assert any("CURVE: or it refuses this client's key" in line for line in stranger.lines), stranger.lines
    reference = tmp_path / "reference.png"
    replay(session, "matplotlib", reference)  # gsp-replay joins a CURVE session too
    assert np.array_equal(np.asarray(Image.open(picture)), np.asarray(Image.open(reference)))
    assert bad["commands"] == 0 and bad["last_seq"] == 0 and bad["session"] is None


@pytest.mark.timeout(90)
def test_gsp_record_publishes_a_curve_session(tmp_path: Path) -> None:
    """``gsp record --publish`` takes the publisher's options as ``gsp serve`` does: with CURVE
    keys, an admitted node gets the session as recorded (its copy is the log, byte for byte).
    Only a Python caller could publish a recording over CURVE before."""
    runner = CliRunner()
    for name in ("server", "node"):
        assert runner.invoke(cli, ["keys", "-o", str(tmp_path / "keys"), name]).exit_code == 0
    keys, allowed = tmp_path / "keys", tmp_path / "allowed"
    allowed.mkdir()
    shutil.copy(keys / "node.key", allowed)
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"
    copy, log = tmp_path / "copy.gsplog", tmp_path / "rec.gsplog"
    node = CliProcess("node", endpoint, "--null", "--save", str(copy), "--timeout", "30",
                      "--curve-secret", str(keys / "node.key_secret"), "--server-key", str(keys / "server.key"))
    try:
        time.sleep(1.0)  # the node is up, no publisher yet
        recorded = gsp_record_example(log, endpoint, 10, 500, "--wait", "1.5", "--curve-secret",
                                      str(keys / "server.key_secret"), "--allow", str(allowed), "--end-grace", "0.5")
        assert recorded.returncode == 0, recorded.stderr
        summary = node.result()
    finally:
        node.stop()
    assert summary["ended"] and summary["state_hash"] == file_state_hash(log)
    assert copy.read_bytes() == log.read_bytes()


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


def test_replay_takes_a_snapshot_endpoint_of_another_port(tmp_path: Path) -> None:
    session = tmp_path / "s.gsplog"
    record_animation(session, frames=5)
    port, other = free_port_pair(), free_port_pair()
    endpoint, snapshots = f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{other}"
    picture = tmp_path / "replayed.png"
    server = CliProcess("serve", str(session), "--bind", endpoint, "--snapshot", snapshots, "--wait", "2")
    replayer = CliProcess("replay", endpoint, "--snapshot", snapshots, "-o", str(picture), "--timeout", "20")
    try:
        assert replayer.proc.wait(30) == 0, "".join(replayer.lines)[-2000:]
        assert server.proc.wait(30) == 0
    finally:
        for proc in (server, replayer):
            proc.stop()
    reference = tmp_path / "reference.png"
    replay(session, "matplotlib", reference)
    assert np.array_equal(np.asarray(Image.open(picture)), np.asarray(Image.open(reference)))
    result = CliRunner().invoke(cli, ["replay", str(session), "--snapshot", snapshots])
    assert result.exit_code == 2 and "are for tcp:// sources" in result.output


def test_keys_keep_an_existing_pair_unless_forced(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["keys", "-o", str(tmp_path), "server"]).exit_code == 0
    first = (tmp_path / "server.key").read_bytes()
    result = runner.invoke(cli, ["keys", "-o", str(tmp_path), "server"])
    assert result.exit_code == 2 and "exists" in result.output and "--force" in result.output
    assert (tmp_path / "server.key").read_bytes() == first  # every peer holding it still gets in
    assert runner.invoke(cli, ["keys", "-o", str(tmp_path), "server", "--force"]).exit_code == 0
    assert (tmp_path / "server.key").read_bytes() != first


@pytest.mark.parametrize(("args", "says"), [
    (["node", "tcp://127.0.0.1:99999", "--null"], "port 99999 out of range"),
    (["node", "foo", "--null"], "endpoint 'foo'"),
    (["node", "http://x", "--snapshot", "http://y", "--null", "--timeout", "3"], "endpoint 'http://x'"),
    (["node", "tcp://127.0.0.1:abc", "--snapshot", "tcp://127.0.0.1:5998", "--null", "--timeout", "3"],
     "endpoint 'tcp://127.0.0.1:abc' is not of the form tcp://HOST:PORT"),
    (["node", "tcp://127.0.0.1:5999", "--snapshot", "http://y", "--null", "--timeout", "3"], "endpoint 'http://y'"),
    (["node", "tcp://127.0.0.1:5999", "--snapshot", "tcp://127.0.0.1:*", "--null", "--timeout", "3"],
     "a wildcard port can be bound, not connected to"),
    (["replay", "tcp://127.0.0.1:5999", "--snapshot", "tcp://127.0.0.1:abc", "-b", "null", "--timeout", "3"],
     "endpoint 'tcp://127.0.0.1:abc'"),
    (["node", "tcp://127.0.0.1:5999", "--backend", "nosuch"], "unknown renderer 'nosuch'"),
    (["node", "tcp://127.0.0.1:5999", "-b", "nosuch"], "unknown renderer 'nosuch'"),  # -b as gsp-replay's
    (["node", "tcp://127.0.0.1:5999", "-o", "out.xyz"], "unknown suffix '.xyz'"),
    (["node", "tcp://127.0.0.1:5999", "--backend", "null", "-o", "out.png", "--timeout", "2"], "cannot write images"),
    (["node", "tcp://127.0.0.1:5999", "--null", "--save", "/nonexistent/dir/x.gsplog"], "no folder"),
    (["node", "tcp://127.0.0.1:5999", "--null", "--timeout", "-1"], "Invalid value for '--timeout'"),
    (["node", "tcp://127.0.0.1:5999", "--null", "--timeout", "nan"], "not a finite number"),
    (["node", "tcp://127.0.0.1:5999", "--null", "--heartbeat-timeout", "0"], "--heartbeat-timeout"),
    (["node", "tcp://127.0.0.1:5999", "--null", "--max-queue-mib", "0"], "Invalid value for '--max-queue-mib'"),
    (["node", "tcp://127.0.0.1:5999", "--null", "--max-queue-mib", "inf"], "not a finite number"),
    (["serve", "SESSION", "--bind", "tcp://127.0.0.1:99999"], "port 99999 out of range"),
    (["serve", "SESSION", "--bind", "localhost:5999"], "is not of the form tcp://HOST:PORT"),
    (["serve", "SESSION", "--wait", "-1"], "Invalid value for '--wait'"),
    (["serve", "SESSION", "--speed", "inf"], "not a finite number"),
    (["relay", "--sub", "tcp://127.0.0.1:5999", "--pub", "tcp://127.0.0.1:5999"], "would subscribe to itself"),
    (["relay", "--sub", "http://x", "--sub-snapshot", "http://y", "--pub", "tcp://127.0.0.1:6001"], "endpoint 'http://x'"),
    (["relay", "--sub", "tcp://127.0.0.1:5999", "--sub-snapshot", "ipc", "--pub", "tcp://127.0.0.1:6001"],
     "endpoint 'ipc'"),
    (["relay", "--sub", "tcp://127.0.0.1:5999", "--pub", "tcp://127.0.0.1:6001", "--max-pending-mib", "0"],
     "Invalid value for '--max-pending-mib'"),
    (["relay", "--sub", "tcp://127.0.0.1:5999", "--pub", "tcp://127.0.0.1:6001", "--max-pending-mib", "nan"],
     "not a finite number"),
])
def test_bad_live_arguments_are_one_line_errors(tmp_path: Path, args: list[str], says: str) -> None:
    """They used to end in tracebacks (a bad endpoint, backend or output; --save into a missing
    folder, once the session came) or be taken (a timeout of nan waited forever)."""
    session = tmp_path / "s.gsplog"
    record_animation(session, frames=2)
    result = CliRunner().invoke(cli, [str(session) if arg == "SESSION" else arg for arg in args])
    assert result.exit_code in (1, 2) and says in result.output, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)


def test_a_node_that_got_no_session_fails(tmp_path: Path) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"  # nothing publishes there
    node = CliProcess("node", endpoint, "--null", "--timeout", "2")
    summary = node.result(timeout=30, code=1)  # the JSON line is still printed
    assert summary["sessions"] == 0 and summary["session"] is None
    assert f"no session arrived from {endpoint} in 2 s" in "".join(node.lines)


def test_a_session_whose_publisher_died_is_not_reported_as_ended(tmp_path: Path) -> None:
    """A publisher killed mid-session: the node draws and saves what came, then says the session
    did not end (exit 1, "ended": false), and its copy reads as unterminated, as the publisher's
    own file does after a crash. It used to exit 0 with a copy that verified as whole."""
    import signal

    from sessions import LogReader, tools

    session = tmp_path / "slow.gsplog"
    record_animation(session, frames=60, interval=0.02)
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"
    copy, frames = tmp_path / "copy.gsplog", tmp_path / "frames"
    server = CliProcess("serve", str(session), "--bind", endpoint, "--wait", "1", "--speed", "0.25")
    node = CliProcess("node", endpoint, "-o", f"{frames}/", "--save", str(copy), "--timeout", "3", "-v")
    try:
        node.wait_for("synchronised to session")
        deadline = time.monotonic() + 20
        while not (frames.is_dir() and len(list(frames.iterdir())) >= 2):
            assert time.monotonic() < deadline, "".join(node.lines)[-2000:]
            time.sleep(0.05)
        server.proc.send_signal(signal.SIGKILL)
        summary = node.result(timeout=30, code=1)
    finally:
        server.stop()
        node.stop()
    assert summary["ended"] is False and 2 <= summary["frames"] < 60
    assert "the session did not end" in "".join(node.lines)
    report = tools.verify(copy)
    assert not report.ok and report.footer_offset is None and not report.damaged  # unterminated, intact
    with LogReader(copy) as reader:
        assert sum(1 for c in reader.commands() if c.op == "Renderer.render") >= summary["frames"] - 1


def test_serve_leaves_out_a_chunk_over_max_message_and_ends_the_session(tmp_path: Path) -> None:
    """It crashed with a traceback, and its cleanup told the nodes the session had ended."""
    session = tmp_path / "s.gsplog"
    record_animation(session, frames=5, interval=0.05)  # a first chunk of 5 kB, then chunks of 2.5 kB
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"
    server = CliProcess("serve", str(session), "--bind", endpoint, "--wait", "1.5", "--max-message", "4096")
    node = CliProcess("node", endpoint, "--null", "--timeout", "10")
    try:
        summary = node.result(timeout=30)
        assert server.proc.wait(30) == 0
    finally:
        server.stop()
        node.stop()
    said = "".join(server.lines)
    assert f"on {endpoint} (snapshots on " in said  # where it serves, said at the start
    assert "left out a chunk of" in said and "--max-message" in said and "Traceback" not in said
    assert summary["ended"] is True and summary["sessions"] == 1 and summary["commands"] > 0


def test_keep_going_sessions_write_outputs_of_their_own() -> None:
    from gsplog_cli.cmd_live import _nth_output

    assert [_nth_output("last.png", n) for n in (1, 2, 3)] == ["last.png", "last-2.png", "last-3.png"]
    assert _nth_output("out/frames/", 2) == "out/frames-2/"
    assert _nth_output("frames", 2) == "frames-2"
    assert _nth_output("movie.mp4", 2) == "movie-2.mp4"
    assert _nth_output(None, 2) is None


def test_live_commands_stopped_by_a_signal_exit_as_killed_ones_after_closing(tmp_path: Path) -> None:
    """Ctrl-C or SIGTERM stops serve, node and relay cleanly (the node still prints its line and
    keeps its --save copy whole), then they exit 128 + the signal, so `gsp node ... && next`
    stops there. They used to exit 0."""
    import signal

    from sessions import tools

    session = tmp_path / "slow.gsplog"
    record_animation(session, frames=60, interval=0.02)
    endpoint, downstream = (f"tcp://127.0.0.1:{free_port_pair()}" for _ in range(2))
    copy = tmp_path / "copy.gsplog"
    server = CliProcess("serve", str(session), "--bind", endpoint, "--wait", "1", "--speed", "0.1", "--loop")
    relay = CliProcess("relay", "--sub", endpoint, "--pub", downstream)
    node = CliProcess("node", endpoint, "--null", "--save", str(copy), "-v")
    try:
        node.wait_for("synchronised to session")
        relay.wait_for("relaying")
        time.sleep(2)  # past serve's --wait: commands flow
        node.proc.send_signal(signal.SIGINT)
        summary = node.result(timeout=30, code=130)
        relay.proc.send_signal(signal.SIGTERM)
        assert relay.proc.wait(timeout=30) == 143
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.wait(timeout=30) == 130
    finally:
        for process in (server, relay, node):
            process.stop()
    assert summary["sessions"] == 1 and summary["commands"] > 0 and summary["ended"] is False
    assert tools.verify(copy).ok  # the copy was closed, footer and all
