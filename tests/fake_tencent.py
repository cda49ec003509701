"""A local stand-in for the Tencent endpoints, on 127.0.0.1, for tests and benchmarks.

:class:`FakeServer` runs ``http.server`` in a thread and answers every GET with a handler
``(path, query) -> (status, headers, body)``; :class:`SyntheticArticle` is such a handler serving
any number of comments of one article in the documented ``comment/v2`` shape (newest first,
``cursor = last`` paging), without holding them in memory; :class:`FakeClock` lets the client
sleep without waiting.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Reply = tuple[int, dict[str, str], bytes]
Handler = Callable[[str, dict[str, str]], Reply]


@dataclass
class Seen:
    """One request the server received."""

    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


class FakeClock:
    """Monotonic time that only moves when someone sleeps: back-off and rate limits without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeServer:
    """``with FakeServer(handler) as server:`` serves ``handler`` at ``server.url`` until the block ends."""

    def __init__(self, handler: Handler, *, log_requests: bool = True) -> None:
        self.handler, self.log_requests = handler, log_requests
        self.requests: list[Seen] = []
        self.url = ""

    def __enter__(self) -> "FakeServer":
        outer = self

        class RequestHandler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                if outer.log_requests:
                    outer.requests.append(Seen(parts.path, query, dict(self.headers.items())))
                status, headers, body = outer.handler(parts.path, query)
                try:
                    self.send_response(status)
                    for key, value in {"Content-Length": str(len(body)), **headers}.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout or size-limit test): nothing to answer

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def json_reply(obj: Any, *, status: int = 200, callback: str | None = None) -> Reply:
    """A JSON (or, with ``callback``, JSONP) reply; non-ASCII escaped as the real service does."""
    text = json.dumps(obj)
    if callback:
        text = f"{callback}({text})"
    return status, {"Content-Type": "application/json; charset=utf-8"}, text.encode("utf-8")


def comment(cid: int | str, *, content: str = "好看[强]", parent: str = "0", root: str = "0", userid: str = "210000001",
            time: int = 1660000000, up: int | str = "3", replies: int | str = "0", article: str = "7700000001",
            vid: str = "x0000abcd12", **extra: Any) -> dict[str, Any]:
    """A comment object in the documented shape (strings for numbers, as the service mostly sends)."""
    return {
        "id": str(cid), "rootid": root, "targetid": article, "parent": parent, "puserid": "0" if parent == "0" else "210000009",
        "userid": userid, "time": str(time), "content": content, "up": str(up), "pokenum": "0",
        "orireplynum": str(replies), "repnum": str(replies), "richtype": "0", "source": "132", "isdeleted": "0",
        "thirdid": f"pubsource=mobileupdate&userid={userid}&datakey=targetid%3D{article}%26vid%3D{vid}%26cid%3Dmzc00200example",
        **extra,
    }


def user(userid: str, nick: str = "追剧的小王") -> dict[str, Any]:
    """A ``userList`` entry."""
    return {"userid": userid, "nick": nick, "head": f"https://thirdqq.qlogo.cn/g?b={userid}", "gender": "2", "region": "中国::"}


def page_body(comments: list[dict[str, Any]], *, last: Any, hasnext: Any = True, total: Any = 1000, orinum: int = 10,
              replies: Any = None, article: str = "7700000001", err_code: Any = 0) -> dict[str, Any]:
    """A ``comment/v2`` body around ``comments`` (``replies``: the ``repCommList``, ``[]`` by default)."""
    users = {c["userid"]: user(c["userid"]) for c in comments}
    return {"errCode": err_code, "data": {
        "targetid": article, "oritotal": total, "orireqnum": orinum, "oriretnum": len(comments),
        "first": comments[0]["id"] if comments else "", "last": last, "hasnext": hasnext,
        "hotCommList": [], "oriCommList": comments, "repCommList": [] if replies is None else replies,
        "userList": users if users else [],
    }}


class SyntheticArticle:
    """Serves ``total`` top-level comments of ``article`` (ids falling with age), each with one
    embedded reply when ``with_replies``; JSONP when the request names a ``callback``."""

    def __init__(self, total: int, *, article: str = "7700000001", first_id: int = 6990000000000000000,
                 with_replies: bool = False) -> None:
        self.total, self.article, self.first_id, self.with_replies = total, article, first_id, with_replies

    def _id(self, index: int) -> str:
        return str(self.first_id + self.total - index)

    def __call__(self, path: str, query: dict[str, str]) -> Reply:
        if path != f"/varticle/{self.article}/comment/v2":
            return 404, {}, b"not found"
        size = int(query.get("orinum") or 10)
        cursor = query.get("cursor", "0")
        start = 0 if cursor == "0" else self.first_id + self.total - int(cursor) + 1
        stop = min(start + size, self.total)
        comments = [comment(self._id(i), content=f"第{i}条评论，好看[强]", userid=str(210000000 + i % 997),
                            time=1660000000 - i, replies=1 if self.with_replies else 0, article=self.article)
                    for i in range(start, stop)]
        replies = {c["id"]: [comment(str(int(c["id"]) * 10), content="同感[感谢]", parent=c["id"], root=c["id"],
                                     article=self.article)] for c in comments} if self.with_replies else []
        body = page_body(comments, last=comments[-1]["id"] if comments else "", hasnext=stop < self.total,
                         total=self.total, orinum=size, replies=replies, article=self.article)
        return json_reply(body, callback=query.get("callback") or None)
