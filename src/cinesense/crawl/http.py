"""A polite HTTP client: per-host rate limit, bounded retries with jittered exponential back-off,
timeouts, a size cap and a descriptive User-Agent.

Time is injected (``clock`` and ``sleep``), so tests drive it with a fake clock and never wait.
Retried: network errors, timeouts, HTTP 429 and 5xx (``Retry-After`` is honoured up to the
back-off ceiling). Other HTTP errors fail at once. Every attempt, retries included, goes through
the rate limit, and a request is tried at most ``1 + backoff.retries`` times: no retry storm.
"""

from __future__ import annotations

import http.client
import random
import socket
import time
import urllib.error
import urllib.request
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cinesense import __version__

DEFAULT_USER_AGENT = f"cinesense/{__version__} (research crawler of film-review comments; rate-limited, backs off on errors)"
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


class CrawlError(RuntimeError):
    """A request or response that the crawler gave up on; the message names the URL."""


class HttpError(CrawlError):
    """An HTTP error status (after retries, for the retried ones)."""

    def __init__(self, url: str, status: int, reason: str, retry_after: float | None = None) -> None:
        super().__init__(f"{url}: HTTP {status} {reason}")
        self.url, self.status, self.retry_after = url, status, retry_after


def is_transient(error: Exception) -> bool:
    """Whether a failed attempt is worth retrying (network trouble, 429, 5xx)."""
    if isinstance(error, HttpError):
        return error.status == 429 or error.status >= 500
    return isinstance(error, (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, http.client.HTTPException))


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with equal jitter: attempt ``k`` waits between half and all of
    ``min(max_delay, base * factor**k)`` seconds; at most ``retries`` retries."""

    base: float = 2.0
    factor: float = 2.0
    max_delay: float = 60.0
    retries: int = 5

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        ceiling = min(self.max_delay, self.base * self.factor**attempt)
        return ceiling / 2 + rng.uniform(0.0, ceiling / 2)


@dataclass
class Response:
    """A successful response: final URL, status, headers and the (decompressed) body."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    def text(self) -> str:
        """The body decoded with the declared charset (UTF-8 by default), bad bytes replaced."""
        content_type = self.headers.get("Content-Type", "")
        charset = content_type.split("charset=")[-1].split(";")[0].strip() if "charset=" in content_type else "utf-8"
        try:
            return self.body.decode(charset or "utf-8", errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


@dataclass
class ClientStats:
    """What the client did: requests sent, retries, seconds slept, and responses by status."""

    requests: int = 0
    retries: int = 0
    slept: float = 0.0
    statuses: Counter = field(default_factory=Counter)


class PoliteClient:
    """GET with a per-host rate limit, retries with back-off, timeouts and a size cap.

    Args:
        rate: Requests per second per host (``None`` or 0 lifts the limit).
        timeout: Socket timeout (connect and each read), seconds.
        backoff: Retry policy, for HTTP and for callers' own retries (:meth:`pause`).
        user_agent: Sent with every request.
        max_bytes: Largest accepted body (after decompression).
        clock: Monotonic seconds; ``sleep``: waits; ``rng``: the jitter's randomness.
    """

    def __init__(
        self,
        *,
        rate: float | None = 1.0,
        timeout: float = 20.0,
        backoff: Backoff = Backoff(),
        user_agent: str = DEFAULT_USER_AGENT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.timeout, self.backoff, self.user_agent, self.max_bytes = timeout, backoff, user_agent, max_bytes
        self.clock, self._sleep, self.rng = clock, sleep, rng or random.Random()
        self.stats = ClientStats()
        self._last_start: dict[str, float] = {}

    def get(self, url: str, headers: Mapping[str, str] | None = None, *, max_bytes: int | None = None) -> Response:
        """GET ``url``, retrying transient failures; raises :class:`CrawlError` when it gives up."""
        for attempt in range(self.backoff.retries + 1):
            self._wait_turn(urlsplit(url).netloc)
            try:
                response = self._fetch(url, headers or {}, max_bytes or self.max_bytes)
            except Exception as error:  # noqa: BLE001 - sorted into transient / fatal just below
                if isinstance(error, CrawlError) and not is_transient(error):
                    raise
                if not is_transient(error):
                    raise CrawlError(f"{url}: {error}") from error
                if attempt == self.backoff.retries:
                    raise CrawlError(f"{url}: gave up after {attempt + 1} attempts ({error})") from error
                self.pause(attempt, getattr(error, "retry_after", None))
                continue
            return response
        raise AssertionError("unreachable")

    def pause(self, attempt: int, at_least: float | None = None) -> float:
        """Sleep the back-off delay for retry ``attempt`` (0-based) and return it."""
        delay = self.backoff.delay(attempt, self.rng)
        if at_least:
            delay = min(max(delay, at_least), self.backoff.max_delay)
        self.stats.retries += 1
        self._sleep_for(delay)
        return delay

    def _sleep_for(self, seconds: float) -> None:
        if seconds > 0:
            self.stats.slept += seconds
            self._sleep(seconds)

    def _wait_turn(self, host: str) -> None:
        last = self._last_start.get(host)
        if last is not None and self.interval:
            self._sleep_for(last + self.interval - self.clock())
        self._last_start[host] = self.clock()

    def _fetch(self, url: str, headers: Mapping[str, str], max_bytes: int) -> Response:
        request = urllib.request.Request(
            url, headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip", **headers}
        )
        self.stats.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as raw:
                declared = int(raw.headers.get("Content-Length") or 0)
                if declared > max_bytes:
                    raise CrawlError(f"{url}: response of {declared:,} bytes is over the limit of {max_bytes:,}")
                body = raw.read(max_bytes + 1)
                status, response_headers, final_url = raw.status, dict(raw.headers.items()), raw.url
        except urllib.error.HTTPError as error:
            self.stats.statuses[error.code] += 1
            raise HttpError(url, error.code, str(error.reason), _retry_after(error.headers.get("Retry-After"))) from None
        self.stats.statuses[status] += 1
        if response_headers.get("Content-Encoding", "").lower() == "gzip":
            body = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, max_bytes + 1)
        if len(body) > max_bytes:
            raise CrawlError(f"{url}: response is over the limit of {max_bytes:,} bytes")
        return Response(final_url, status, response_headers, body)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: ignored, the back-off applies
