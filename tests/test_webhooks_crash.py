"""The relay as real processes (``kaiten webhooks run``) against a real loopback receiver:
killed with ``kill -9`` at random moments, and two at once on PostgreSQL.

A killed relay loses nothing: what it had claimed comes due again when its lease ends (2 s
here, ``--lease``) and is sent again with the same ``webhook-id``. Every message is verified
with ``standardwebhooks`` and with ``svix``.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook
from svix.webhooks import Webhook as SvixWebhook
from webhook_receiver import Receiver

import kaiten_analytics as ka

ROOT = Path(__file__).resolve().parents[1]
EVENTS = 200
KILLS = 20


class Relay:
    """``kaiten webhooks run`` in a subprocess, its standard error in a file."""

    def __init__(self, url: str, env: dict[str, str], log: Path, *options: str) -> None:
        self.log = log
        with log.open("w") as stderr:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kaiten_analytics.cli", "webhooks", "run", "--url", url,
                 "--timeout", "1", "--lease", "2", "--poll-interval", "0.05", *options],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)

    def wait_started(self, timeout: float = 30.0) -> None:
        """Return once it has connected and starts delivering."""
        deadline = time.monotonic() + timeout
        while "delivering webhooks" not in self.log.read_text():
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "the relay did not start"
            time.sleep(0.02)

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> int:
        """SIGTERM; return the attempts it says it made."""
        self.process.terminate()
        assert self.process.wait(timeout=30) == 0, self.log.read_text()
        return int(re.search(r"(\d+) attempts", self.log.read_text()).group(1))


@pytest.fixture
def setup(database_url, monkeypatch):
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("KAITEN_WEBHOOKS_SECRET_KEY", key)
    env = {**os.environ, "KAITEN_WEBHOOKS_SECRET_KEY": key,
           "KAITEN_WEBHOOKS_ALLOW_PRIVATE": "1"}
    kaiten = ka.connect(database_url)
    kaiten.customers.create("acme", "Acme")
    kaiten.entitlements.create("seats", "Seats", aggregation_method="MAX")
    kaiten.licenses.create("pro", "Pro", {"seats": 10})
    with Receiver() as receiver:
        yield database_url, env, kaiten, receiver
    kaiten.close()


def _create(kaiten: ka.Kaiten, numbers: range, pause: float = 0.0) -> None:
    for n in numbers:
        kaiten.instances.create("acme", f"I{n}", f"i-{n}", "pro")
        time.sleep(pause)


def _outbox_ids(kaiten: ka.Kaiten) -> set[str]:
    frame = kaiten.webhooks.deliveries(limit=1000)
    assert len(frame) == EVENTS
    return set(frame.event_id)


def _unique(receiver: Receiver) -> int:
    return len({m.webhook_id for m in list(receiver.received)})


def _verified_bodies(receiver: Receiver, secret: str) -> dict[str, set[bytes]]:
    """webhook-id → the bodies that arrived with it; each message verified by both libraries."""
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for message in receiver.received:
        SvixWebhook(secret).verify(message.body, message.headers)
        Webhook(secret).verify(message.body, message.headers)
        bodies[message.webhook_id].add(message.body)
    return bodies


@pytest.mark.slow
def test_a_relay_killed_at_random_moments_loses_nothing(setup, tmp_path):
    url, env, kaiten, receiver = setup
    receiver.on("/hook", delay=0.05)  # slow enough that kills land mid-delivery
    secret = kaiten.webhooks.add(receiver.url("/hook")).secret
    _create(kaiten, range(EVENTS // 2))
    # the other half is written while relays start and die
    writer = threading.Thread(target=_create, args=(kaiten, range(EVENTS // 2, EVENTS), 0.02))
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    mid_stream = 0
    writer.start()
    try:
        for n in range(KILLS):
            relay = Relay(url, env, tmp_path / f"relay-{n}.log", "--max-in-flight", "2")
            if rng.random() < 0.25:  # any moment: starting, connecting, claiming, sending
                time.sleep(rng.uniform(0.0, 1.0))
            else:  # a moment while it delivers
                before = len(receiver.received)
                deadline = time.monotonic() + 15
                while len(receiver.received) == before and time.monotonic() < deadline \
                        and _unique(receiver) < EVENTS:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0.0, 0.3))
            relay.kill()
            mid_stream += 0 < _unique(receiver) < EVENTS
    finally:
        writer.join()
    # one relay that is not killed finishes what is left, once the leases run out
    # (a message a killed relay sent may still be 'delivering' under its lease: wait for the
    # deliveries' own status, not only for the receiver to have seen every event)
    last = Relay(url, env, tmp_path / "relay-last.log")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
            _unique(receiver) < EVENTS
            or set(kaiten.webhooks.deliveries(limit=1000).status) != {"succeeded"}):
        time.sleep(0.1)
    time.sleep(0.3)
    last.stop()

    bodies = _verified_bodies(receiver, secret)
    assert set(bodies) == _outbox_ids(kaiten), f"seed {seed}"  # every event, no stranger
    # a duplicate is the same message: the same webhook-id with the same body, and no event
    # arrived under two ids
    assert all(len(found) == 1 for found in bodies.values())
    slugs = [json.loads(next(iter(found)))["data"]["instance"]["slug"]
             for found in bodies.values()]
    assert sorted(slugs) == sorted(f"i-{n}" for n in range(EVENTS))
    assert mid_stream >= 5, f"only {mid_stream} kills happened mid-stream (seed {seed})"
    statuses = kaiten.webhooks.deliveries(limit=1000).status
    assert set(statuses) == {"succeeded"}
    duplicates = len(receiver.received) - EVENTS
    print(f"seed {seed}: {KILLS} kills ({mid_stream} mid-stream), {duplicates} duplicates")


@pytest.mark.slow
def test_two_relay_processes_deliver_each_event_exactly_once_postgresql_only(setup, tmp_path):
    """Several relays at once need PostgreSQL's row locks (on SQLite, one relay at a time)."""
    url, env, kaiten, receiver = setup
    receiver.on("/hook", delay=0.01)
    secret = kaiten.webhooks.add(receiver.url("/hook")).secret
    relays = [Relay(url, env, tmp_path / f"relay-{n}.log", "--max-in-flight", "2")
              for n in range(2)]
    try:
        for relay in relays:
            relay.wait_started()
        _create(kaiten, range(EVENTS))
        assert receiver.wait_for(EVENTS, timeout=60)
        time.sleep(1.0)  # a duplicate would arrive now
    finally:
        attempts = [relay.stop() for relay in relays]
    bodies = _verified_bodies(receiver, secret)
    assert len(receiver.received) == EVENTS
    assert set(bodies) == _outbox_ids(kaiten)
    assert sum(attempts) == EVENTS and min(attempts) > 0, attempts  # both took part
    with kaiten.db.engine.connect() as connection:  # one attempt recorded per delivery
        assert connection.execute(sa.text("SELECT count(*) FROM webhook_attempts")
                                  ).scalar() == EVENTS
