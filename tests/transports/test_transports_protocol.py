"""The wire format: round trips, and each kind of bad message named in the error."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transports.endpoints import EndpointError, snapshot_endpoint_for
from transports.protocol import (
    Header,
    MessageTooLarge,
    PayloadKind,
    ProtocolError,
    decode_snapshot_reply,
    decode_snapshot_request,
    decode_stream_message,
    encode_end,
    encode_heartbeat,
    encode_refusal,
    encode_snapshot_reply,
    encode_snapshot_request,
    encode_update,
    new_session_id,
)
from transports.state import OpaqueState

SESSION = new_session_id()


def test_round_trips() -> None:
    message = decode_stream_message(encode_update(Header(SESSION, 7, PayloadKind.DELTA), b"chunk"))
    assert (message.type, message.header.seq, message.header.session_id, message.payload) == (
        b"U",
        7,
        SESSION,
        b"chunk",
    )
    assert decode_stream_message(encode_heartbeat(SESSION, 9)).header.seq == 9
    assert decode_stream_message(encode_end(SESSION, 9)).type == b"E"
    nonce = b"12345678"
    assert decode_snapshot_request(encode_snapshot_request(nonce)) == nonce
    reply = decode_snapshot_reply(
        encode_snapshot_reply(nonce, Header(SESSION, 3, PayloadKind.KEYFRAME), b"state", b"head")
    )
    assert (reply.header.seq, reply.payload, reply.session_header) == (3, b"state", b"head")
    refusal = decode_snapshot_reply(encode_refusal(nonce, "busy"))
    assert refusal.header is None and refusal.reason == "busy"


def test_limits_on_both_ends() -> None:
    with pytest.raises(MessageTooLarge, match="exceeds the limit of 4"):
        encode_update(Header(SESSION, 1, PayloadKind.DELTA), b"12345", max_payload=4)
    frames = encode_update(Header(SESSION, 1, PayloadKind.DELTA), b"12345")
    with pytest.raises(ProtocolError, match="exceeds the limit of 4"):
        decode_stream_message(frames, max_payload=4)


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        ([], "empty message"),
        ([b"U", Header(SESSION, 0, PayloadKind.DELTA).pack(), b""], "sequence 0"),
        ([b"U", Header(SESSION, 1, PayloadKind.NONE).pack(), b""], "payload kind NONE"),
        ([b"E", Header(SESSION, 1, PayloadKind.NONE).pack(), b"x"], "session end has 3 frames"),
        ([b"U", "text", b""], "not bytes"),
    ],
)
def test_bad_stream_messages_are_named(frames: list, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        decode_stream_message(frames)


def test_bad_snapshot_replies_are_named() -> None:
    nonce = b"12345678"
    good = encode_snapshot_reply(nonce, Header(SESSION, 3, PayloadKind.KEYFRAME), b"state")
    with pytest.raises(ProtocolError, match="expected 5"):
        decode_snapshot_reply(good[:4])
    with pytest.raises(ProtocolError, match="payload kind DELTA"):
        decode_snapshot_reply([b"S", nonce, Header(SESSION, 3, PayloadKind.DELTA).pack(), b"", b""])
    with pytest.raises(ProtocolError, match="reply nonce is 3 bytes"):
        decode_snapshot_reply([b"S", b"abc", *good[2:]])
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        decode_snapshot_reply(good, max_payload=2)


@given(st.lists(st.binary(max_size=40), max_size=6))
def test_random_frames_never_escape_as_other_errors(frames: list[bytes]) -> None:
    for decode in (decode_stream_message, decode_snapshot_reply, decode_snapshot_request):
        try:
            decode(frames)
        except ProtocolError:
            pass


def test_snapshot_endpoint_convention() -> None:
    assert snapshot_endpoint_for("tcp://127.0.0.1:5555") == "tcp://127.0.0.1:5556"
    assert snapshot_endpoint_for("tcp://[::1]:7000") == "tcp://[::1]:7001"
    with pytest.raises(EndpointError, match="HOST:PORT"):
        snapshot_endpoint_for("tcp://nowhere")
    with pytest.raises(EndpointError, match="explicitly"):
        snapshot_endpoint_for("ipc:///tmp/x")


def test_opaque_state_replays_equal() -> None:
    a, b = OpaqueState(), OpaqueState()
    for i in range(5):
        a.apply(PayloadKind.DELTA, b"%d" % i)
    b.reset(a.snapshot())
    a.apply(PayloadKind.DELTA, b"x")
    b.apply(PayloadKind.DELTA, b"x")
    assert a.state_hash() == b.state_hash()
    a.apply(PayloadKind.KEYFRAME, b"k")
    assert a.snapshot() == b"k"


def test_a_scene_snapshot_is_encoded_once_until_the_scene_changes(tmp_path: Path) -> None:
    """Nodes that join or resync together are served one encode of the scene; a changed scene
    (an update, a keyframe, a reset) gets a new one."""
    from scene_helpers import record_animation

    from sessions import ChunkKind, LogReader, decode_chunk
    from transports.scene_state import SceneStreamState

    session = tmp_path / "s.gsplog"
    record_animation(session, frames=6, interval=0.03)  # a chunk every 20 ms
    data = session.read_bytes()
    with LogReader(session) as reader:
        chunks = [data[e.offset:e.offset + e.size] for e in reader.index.entries if e.kind == ChunkKind.COMMANDS]
    state = SceneStreamState()
    state.apply(PayloadKind.DELTA, chunks[0])
    first = state.snapshot()
    assert state.snapshot() is first  # served again, not encoded again
    state.apply(PayloadKind.DELTA, chunks[1])
    second = state.snapshot()
    assert second is not first and decode_chunk(second).info.seq_last > decode_chunk(first).info.seq_last
    state.reset(first)
    assert state.snapshot() is not second and state.state_hash() != ""
    other = SceneStreamState()
    other.reset(state.snapshot())
    assert other.state_hash() == state.state_hash()
