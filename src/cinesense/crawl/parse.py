"""Lenient parsing of what the Tencent endpoints send back.

Bodies are JSON, JSONP (``callback({...})``) or ``QZOutputJson={...};``; values are strings or
numbers, sometimes in the same field; ``repCommList`` is an object keyed by parent id, a plain
array, or ``[]`` when empty; ``userList`` may be ``[]``; ids are 19-digit numbers kept as strings.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

_BAD_CURSORS = {"", "0", "false", "null", "none", "undefined"}


class ResponseError(ValueError):
    """A body that is not the JSON the endpoint should send; the message quotes its start."""


def decode_body(text: str) -> dict[str, Any]:
    """The JSON object in a JSON, JSONP or ``QZOutputJson=...;`` body.

    Raises:
        ResponseError: there is no JSON object in the body.
    """
    body = text.strip().lstrip("\ufeff")
    if not body.startswith("{"):
        start, end = body.find("{"), body.rfind("}")
        if start < 0 or end < start:
            raise ResponseError(f"no JSON object in the response: {body[:80]!r}")
        body = body[start : end + 1]
    try:
        value = json.loads(body, strict=False)  # strict=False: raw control characters occur
    except json.JSONDecodeError as error:
        raise ResponseError(f"malformed JSON in the response ({error.msg} at column {error.colno}): {body[:80]!r}") from None
    except RecursionError:
        raise ResponseError(f"malformed JSON in the response (nested too deeply): {body[:80]!r}") from None
    if not isinstance(value, dict):
        raise ResponseError(f"expected a JSON object, got {type(value).__name__}")
    return value


def as_int(value: Any, default: int | None = 0) -> int | None:
    """An integer from an int, a float or a numeric string; ``default`` otherwise."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else default
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                return int(float(value))
            except (ValueError, OverflowError):  # "abc"; "1e400", "inf"
                return default
    return default


def as_float(value: Any) -> float | None:
    """A float from a number or a numeric string; None otherwise (NaN included)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None


def as_str(value: Any) -> str:
    """A string id or text from a string or a number (integral floats lose no digits to ``.0``)."""
    if value is None or value is False:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def as_bool(value: Any) -> bool | None:
    """``True``/``False`` from a bool, a number or a string like ``"true"``/``"0"``; None if absent."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "null")
    return bool(value)


def next_cursor(value: Any) -> str | None:
    """A usable paging cursor, or None for the empty, ``false``, ``"false"`` and ``"0"`` ones."""
    text = as_str(value).strip()
    return None if text.lower() in _BAD_CURSORS else text


def id_of(comment: dict[str, Any]) -> str:
    """A comment's id as a string ("" when missing)."""
    return as_str(comment.get("id")).strip()


def parse_query(value: Any) -> dict[str, str]:
    """A URL-query string such as ``thirdid`` as a dict, with ``datakey``'s nested query flattened."""
    pairs = dict(parse_qsl(as_str(value), keep_blank_values=True))
    nested = pairs.pop("datakey", "")
    if nested:
        pairs.update({k: v for k, v in parse_qsl(nested, keep_blank_values=True) if k not in pairs})
    return pairs


@dataclass
class CommentPage:
    """One page of ``comment/v2`` (or ``reply/v2``), normalised.

    ``comments`` are the top-level (or, for replies, the reply) objects; ``replies`` are the
    embedded replies of a top-level page; ``users`` is ``userList``; ``last``/``first`` are raw.
    """

    err_code: int
    comments: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    hot: list[dict[str, Any]] = field(default_factory=list)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    total: int | None = None
    requested: int | None = None
    returned: int | None = None
    first: Any = None
    last: Any = None
    has_next: bool | None = None
    target_id: str = ""


def _objects(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        value = [item for items in value.values() for item in (items if isinstance(items, list) else [items])]
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def parse_comment_page(body: dict[str, Any], *, reply_page: bool = False) -> CommentPage:
    """Normalise a decoded ``comment/v2`` or ``reply/v2`` body (``errCode`` is kept, not raised)."""
    data = body.get("data")
    data = data if isinstance(data, dict) else {}
    users = data.get("userList")
    code_key = next((k for k in ("errCode", "errcode") if k in body), None)
    page = CommentPage(
        err_code=as_int(body[code_key], default=-1) if code_key else 0,
        users={as_str(k): v for k, v in users.items() if isinstance(v, dict)} if isinstance(users, dict) else {},
        total=as_int(data.get("oritotal"), default=None),
        requested=as_int(data.get("orireqnum", data.get("reqnum")), default=None),
        returned=as_int(data.get("oriretnum", data.get("retnum")), default=None),
        first=data.get("first"),
        last=data.get("last"),
        has_next=as_bool(data.get("hasnext")),
        target_id=as_str(data.get("targetid")),
    )
    if reply_page:
        page.comments = _objects(data.get("repCommList"))
    else:
        page.comments = _objects(data.get("oriCommList"))
        page.replies = _objects(data.get("repCommList"))
        page.hot = _objects(data.get("hotCommList"))
    return page


def danmu_segments(body: dict[str, Any]) -> list[str]:
    """Segment names of a ``barrage/base`` body, in time order."""
    index = body.get("segment_index")
    entries = index.values() if isinstance(index, dict) else index if isinstance(index, list) else []
    named = [(as_int(e.get("segment_start"), 0), as_str(e.get("segment_name"))) for e in entries if isinstance(e, dict)]
    return [name for _, name in sorted(named) if name]


def danmu_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The danmu objects of a ``barrage/segment`` body."""
    return _objects(body.get("barrage_list"))
