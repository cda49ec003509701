"""The polite client: rate limit, back-off with jitter, bounded retries, timeouts, size cap, User-Agent.

A local server on 127.0.0.1 answers; time is a fake clock, so nothing really waits.
"""

from __future__ import annotations

import random
import time

import pytest

from fake_tencent import FakeClock, FakeServer, json_reply
from cinesense.crawl.http import DEFAULT_USER_AGENT, Backoff, CrawlError, HttpError, PoliteClient


def client(clock: FakeClock, **kwargs) -> PoliteClient:
    kwargs.setdefault("backoff", Backoff(base=1.0, max_delay=30.0, retries=4))
    return PoliteClient(clock=clock, sleep=clock.sleep, rng=random.Random(0), **kwargs)


def scripted(*statuses: int, headers: dict[str, str] | None = None):
    """A handler answering with these statuses in turn, then 200 for ever."""
    queue = list(statuses)

    def handler(path, query):
        status = queue.pop(0) if queue else 200
        return (status, headers or {}, b"busy") if status != 200 else json_reply({"ok": True})

    return handler


def test_backoff_grows_exponentially_with_bounded_jitter_and_a_cap():
    backoff, rng = Backoff(base=1.0, factor=2.0, max_delay=10.0), random.Random(1)
    for attempt in range(8):
        ceiling = min(10.0, 2.0**attempt)
        delays = [backoff.delay(attempt, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered: clients that failed together do not retry together


def test_rate_limit_spaces_requests_per_host():
    clock = FakeClock()
    with FakeServer(scripted()) as server:
        polite = client(clock, rate=1.0)
        for _ in range(3):
            polite.get(server.url + "/a")
            clock.now += 0.25  # the caller's own work between requests
    assert clock.sleeps == pytest.approx([0.75, 0.75])
    assert polite.stats.requests == 3


def test_rate_limit_can_be_lifted():
    clock = FakeClock()
    with FakeServer(scripted()) as server:
        polite = client(clock, rate=None)
        for _ in range(3):
            polite.get(server.url)
    assert clock.sleeps == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_status_is_retried_with_growing_backoff(status):
    clock = FakeClock()
    with FakeServer(scripted(status, status, status)) as server:
        polite = client(clock, rate=None)
        response = polite.get(server.url)
    assert response.status == 200
    assert len(server.requests) == 4
    assert len(clock.sleeps) == 3
    for attempt, slept in enumerate(clock.sleeps):
        assert 2.0**attempt / 2 <= slept <= 2.0**attempt
    assert polite.stats.statuses[status] == 3


def test_retry_after_is_honoured_up_to_the_cap():
    clock = FakeClock()
    with FakeServer(scripted(429, 429, headers={"Retry-After": "7"})) as server:
        client(clock, rate=None).get(server.url)
    assert clock.sleeps == [7.0, 7.0]


def test_gives_up_after_the_retries_no_retry_storm():
    clock = FakeClock()
    with FakeServer(scripted(*[500] * 100)) as server:
        with pytest.raises(CrawlError, match="gave up after 5 attempts"):
            client(clock, rate=None).get(server.url)
    assert len(server.requests) == 5  # 1 + 4 retries, then stop


def test_client_errors_are_not_retried():
    clock = FakeClock()
    with FakeServer(scripted(404)) as server:
        with pytest.raises(HttpError) as error:
            client(clock, rate=None).get(server.url + "/missing")
    assert error.value.status == 404 and "/missing" in str(error.value)
    assert len(server.requests) == 1 and clock.sleeps == []


def test_descriptive_user_agent_is_sent():
    with FakeServer(scripted()) as server:
        client(FakeClock()).get(server.url)
    agent = server.requests[0].headers["User-Agent"]
    assert agent == DEFAULT_USER_AGENT and agent.startswith("cinesense/")


def test_oversized_response_is_refused():
    with FakeServer(lambda path, query: (200, {}, b"x" * 5000)) as server:
        with pytest.raises(CrawlError, match="over the limit"):
            client(FakeClock(), max_bytes=1000).get(server.url)


def test_timeout_is_a_retried_network_error():
    def slow(path, query):
        time.sleep(0.3)
        return json_reply({})

    clock = FakeClock()
    with FakeServer(slow) as server:
        with pytest.raises(CrawlError, match="gave up after 2 attempts"):
            client(clock, timeout=0.05, backoff=Backoff(retries=1)).get(server.url)
    assert len(clock.sleeps) == 1
