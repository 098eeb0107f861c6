"""A node process for the transport tests: follows a stream of opaque payloads.

Usage: python opaque_node.py PUB SNAPSHOT OUT.json [--sleep S] [--gone-after S]
       [--secret FILE --server-key FILE]
Writes {"hash", "last_seq", "end", "stats"} to OUT.json when the session ends or is gone.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time

from transports.security import ClientSecurity
from transports.state import OpaqueState
from transports.subscriber import Event, EventType, Subscriber, follow


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("snapshot")
    parser.add_argument("out")
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds per update (a slow node)")
    parser.add_argument("--gone-after", type=float, default=20.0)
    parser.add_argument("--secret")
    parser.add_argument("--server-key")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="node %(levelname)s %(name)s: %(message)s")
    security = ClientSecurity(args.secret, args.server_key) if args.secret else None
    subscriber = Subscriber(
        args.endpoint,
        args.snapshot,
        stop_on_end=True,
        gone_after=args.gone_after,
        heartbeat_timeout=1.0,
        snapshot_timeout=0.5,
        security=security,
    )
    state = OpaqueState()

    def slow(event: Event, _state: object) -> None:
        if args.sleep and event.type == EventType.UPDATE:
            time.sleep(args.sleep)

    last = follow(subscriber, state, on_event=slow)
    result = {
        "hash": state.state_hash(),
        "last_seq": subscriber.last_seq,
        "end": last.type.value if last else None,
        "stats": dataclasses.asdict(subscriber.stats),
    }
    subscriber.close()
    with open(args.out, "w") as file:
        json.dump(result, file)


if __name__ == "__main__":
    main()
