"""The Tencent Video endpoints: what the user points at, the article id, and the pages.

See ``../shared/tencent_comment_api.md`` (and ``docs/crawl.md``). A target is a play-page URL
(``v.qq.com/x/cover/{cid}/{vid}.html``, ``v.qq.com/x/page/{vid}.html``), a ``vid`` (11
characters), a ``cid`` (15 characters) or a numeric comment article id; ``vid:``, ``cid:`` and
``article:`` prefixes settle any doubt. The article id comes from the play page
(``"comment_id":"..."``), else from the ``video_comment_id`` endpoint.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from cinesense.crawl.endpoints import Endpoint
from cinesense.crawl.http import CrawlError, PoliteClient
from cinesense.crawl.parse import (
    CommentPage, ResponseError, as_str, danmu_items, danmu_segments, decode_body, parse_comment_page,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

_COVER_URL = re.compile(r"/x/cover/([A-Za-z0-9]+)(?:/([A-Za-z0-9]+))?\.html")
_PAGE_URL = re.compile(r"/x/page/([A-Za-z0-9]+)\.html")
_COMMENT_ID = re.compile(r'"comment_id"\s*:\s*"?(\d+)')


@dataclass(frozen=True)
class Target:
    """What to crawl: any of an episode id (``vid``), a cover id (``cid``) and an article id."""

    vid: str | None = None
    cid: str | None = None
    article: str | None = None


def parse_target(text: str) -> Target:
    """Read a play-page URL, a vid, a cid or an article id (optionally prefixed ``vid:`` etc.).

    Raises:
        ValueError: the text is none of those, or is ambiguous.
    """
    text = text.strip()
    kind, _, value = text.partition(":")
    if kind in ("vid", "cid", "article") and value and "/" not in value:
        return Target(**{kind: value})
    if "/" in text:
        parts = urlsplit(text if "://" in text else f"https://{text}")
        query_vid = (parse_qs(parts.query).get("vid") or [None])[0]
        if cover := _COVER_URL.search(parts.path):
            return Target(vid=cover.group(2) or query_vid, cid=cover.group(1))
        if page := _PAGE_URL.search(parts.path):
            return Target(vid=page.group(1))
        if query_vid:
            return Target(vid=query_vid)
        raise ValueError(f"{text!r} is not a Tencent Video play-page URL (v.qq.com/x/cover/CID/VID.html)")
    if text.isdigit():
        return Target(article=text)
    if re.fullmatch(r"[A-Za-z0-9]{11}", text):
        return Target(vid=text)
    if re.fullmatch(r"[A-Za-z0-9]{15}", text):
        return Target(cid=text)
    raise ValueError(f"cannot tell whether {text!r} is a vid, a cid or an article id; write vid:..., cid:... or article:...")


class TencentApi:
    """The endpoints, called through a :class:`PoliteClient`.

    A body that does not parse, or a page with ``errCode != 0``, is retried with the client's
    back-off (at most ``backoff.retries`` times) before :class:`CrawlError` is raised.
    """

    def __init__(self, client: PoliteClient, endpoints: dict[str, Endpoint]) -> None:
        self.client, self.endpoints = client, endpoints

    def _text(self, name: str, **values: str) -> str:
        endpoint = self.endpoints[name]
        return self.client.get(endpoint.build(**values), endpoint.headers).text()

    def _retrying(self, what: str, call: Callable[[], T], check: Callable[[T], str | None] = lambda _: None) -> T:
        for attempt in range(self.client.backoff.retries + 1):
            try:
                result = call()
                problem = check(result)
            except ResponseError as error:
                problem = str(error)
            if problem is None:
                return result
            logger.warning("%s: %s (attempt %d)", what, problem, attempt + 1)
            if attempt < self.client.backoff.retries:
                self.client.pause(attempt)
        raise CrawlError(f"{what}: gave up after {attempt + 1} attempts ({problem})")

    def _page(self, what: str, name: str, reply_page: bool, **values: str) -> CommentPage:
        return self._retrying(
            what,
            lambda: parse_comment_page(decode_body(self._text(name, **values)), reply_page=reply_page),
            lambda page: f"errCode {page.err_code}" if page.err_code != 0 else None,
        )

    def resolve_article(self, target: Target) -> str:
        """The comment article id of ``target``: given, from the play page, or from ``video_comment_id``.

        Raises:
            CrawlError: neither way found one.
        """
        if target.article:
            return target.article
        page = "play_page" if target.vid and target.cid else "video_page" if target.vid else "cover_page"
        try:
            if match := _COMMENT_ID.search(self._text(page, vid=target.vid or "", cid=target.cid or "")):
                return match.group(1)
        except CrawlError as error:
            logger.warning("play page unavailable (%s); asking video_comment_id", error)
        body = self._retrying(
            "video_comment_id",
            lambda: decode_body(self._text("comment_id", vid=target.vid or "", cid="" if target.vid else target.cid or "")),
        )
        article = as_str(body.get("comment_id")).strip()
        if not article.isdigit() or article == "0":
            raise CrawlError(f"no comment article id for {target} (video_comment_id said {body.get('comment_id')!r}); "
                             "pass it as article:ID")
        return article

    def comment_page(self, article: str, cursor: str) -> CommentPage:
        """One page of top-level comments, ``cursor`` "0" for the first."""
        return self._page(f"comments of {article} at cursor {cursor}", "comments", False, targetid=article, cursor=cursor)

    def reply_page(self, article: str, comment_id: str, cursor: str) -> CommentPage:
        """One page of replies to ``comment_id``, ``cursor`` "0" for the first."""
        return self._page(f"replies to {comment_id} at cursor {cursor}", "replies", True,
                          targetid=article, commentid=comment_id, cursor=cursor)

    def danmu_segments(self, vid: str) -> list[str]:
        """The danmu segment names of video ``vid`` (``barrage/base``), in time order."""
        return self._retrying(f"danmu index of {vid}", lambda: danmu_segments(decode_body(self._text("danmu_base", vid=vid))))

    def danmu(self, vid: str, segment: str) -> list[dict[str, Any]]:
        """The danmu objects of one segment."""
        return self._retrying(f"danmu {vid}/{segment}", lambda: danmu_items(decode_body(self._text("danmu_segment", vid=vid, segment=segment))))
