"""Tencent comment and danmu objects as records of the shared JSONL format.

A comment record: ``id`` (string), ``text`` (the content verbatim, emoticon codes such as
``[流泪]`` included; left out when empty), ``kind`` (comment / reply / danmu), ``time`` (Unix
seconds, UTC), ``likes``, ``dislikes``, ``reply_count``, ``parent`` and ``root`` (None for a
top-level comment), ``article``, ``vid`` and ``cid`` (recovered from ``thirdid``), ``author`` (a
pseudonym: a keyed hash of the user id, stable within one crawl directory), ``image_urls`` when
the comment carries attachments, and ``raw``: every field not mapped above, so nothing is lost.

Personal data stays out unless asked for: no user id, nickname, avatar, gender or region; the
user-id parts of ``thirdid`` are removed. ``Privacy(nicknames=True)`` / ``avatars=True`` add
``author_nick`` / ``author_avatar``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from cinesense.crawl.parse import as_float, as_int, as_str, id_of, parse_query

SITE = "v.qq.com"
_MAPPED = {
    "id", "content", "time", "up", "pokenum", "poke", "parent", "rootid", "orireplynum", "repnum",
    "targetid", "thirdid", "userid", "puserid",
}
_DANMU_MAPPED = {"id", "content", "create_time", "time_offset", "up_count", "content_score", "nick"}


@dataclass(frozen=True)
class Privacy:
    """What author data a record may carry; ``salt`` keys the author pseudonyms."""

    salt: str
    nicknames: bool = False
    avatars: bool = False

    def pseudonym(self, user_id: Any) -> str | None:
        """A stable, non-reversible author reference (None for a missing or zero user id)."""
        uid = as_str(user_id).strip()
        if uid in ("", "0"):
            return None
        return "u" + hmac.new(self.salt.encode(), uid.encode(), hashlib.sha256).hexdigest()[:16]


def _ref(value: Any) -> str | None:
    text = as_str(value).strip()
    return None if text in ("", "0") else text


def image_urls(comment: dict[str, Any]) -> list[str]:
    """URLs of attached images: any array of objects holding an http(s) ``url`` (see the API note §6)."""
    urls: list[str] = []
    for value in comment.values():
        if isinstance(value, list):
            for item in value:
                url = item.get("url") if isinstance(item, dict) else None
                if isinstance(url, str) and url.startswith(("http://", "https://")) and url not in urls:
                    urls.append(url)
    return urls


def comment_record(comment: dict[str, Any], users: dict[str, dict[str, Any]], privacy: Privacy) -> dict[str, Any]:
    """The record of one comment or reply object (``users`` is the page's ``userList``)."""
    text = as_str(comment.get("content"))
    parent = _ref(comment.get("parent"))
    third = {k: v for k, v in parse_query(comment.get("thirdid")).items() if "user" not in k.lower() and "uin" not in k.lower()}
    record: dict[str, Any] = {"id": id_of(comment)}
    if text.strip():
        record["text"] = text
    record.update(
        kind="reply" if parent else "comment",
        time=as_int(comment.get("time"), default=None),
        likes=as_int(comment.get("up")),
        dislikes=as_int(comment.get("pokenum", comment.get("poke"))),
        reply_count=as_int(comment.get("orireplynum", comment.get("repnum"))),
        parent=parent,
        root=_ref(comment.get("rootid")) or parent,
        article=_ref(comment.get("targetid")) or _ref(third.get("targetid")),
        vid=third.get("vid") or None,
        cid=third.get("cid") or None,
        author=privacy.pseudonym(comment.get("userid")),
        site=SITE,
    )
    if parent:
        record["parent_author"] = privacy.pseudonym(comment.get("puserid"))
    user = users.get(as_str(comment.get("userid")), {})
    if privacy.nicknames:
        record["author_nick"] = as_str(user.get("nick")) or None
    if privacy.avatars:
        record["author_avatar"] = as_str(user.get("head")) or None
    urls = image_urls(comment)
    if urls:
        record["image_urls"] = urls
    raw = {k: v for k, v in comment.items() if k not in _MAPPED}
    rest = {k: v for k, v in third.items() if k not in ("targetid", "vid", "cid")}
    if rest:
        raw["thirdid"] = rest
    record["raw"] = raw
    return record


def danmu_record(item: dict[str, Any], vid: str, privacy: Privacy) -> dict[str, Any]:
    """The record of one danmu (bullet comment) of video ``vid``."""
    text = as_str(item.get("content"))
    record: dict[str, Any] = {"id": id_of(item)}
    if text.strip():
        record["text"] = text
    record.update(
        kind="danmu",
        time=as_int(item.get("create_time"), default=None),
        offset_ms=as_int(item.get("time_offset"), default=None),
        likes=as_int(item.get("up_count"), default=None),
        score=as_float(item.get("content_score")),
        vid=vid,
        site=SITE,
    )
    if privacy.nicknames:
        record["author_nick"] = as_str(item.get("nick")) or None
    record["raw"] = {k: v for k, v in item.items() if k not in _DANMU_MAPPED}
    return record
