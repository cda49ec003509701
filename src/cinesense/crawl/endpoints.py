"""Where the Tencent endpoints live: URL templates, query parameters and headers.

The service changes, so none of this is fixed in code: :func:`load_endpoints` overlays a TOML
file (``cinesense crawl endpoints`` prints the defaults in that format) and ``--base-url`` points
every endpoint at one other host while keeping each endpoint's path. Templates use
``{targetid}``, ``{commentid}``, ``{vid}``, ``{cid}``, ``{segment}`` and ``{now_ms}`` (a
millisecond timestamp, for the ``_`` cache-buster). A parameter whose value is empty is left out.
"""

from __future__ import annotations

import json
import time
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from cinesense.config import ConfigError

_COMMENT_PARAMS = {
    "callback": "", "orinum": "10", "oriorder": "o", "pageflag": "1", "cursor": "{cursor}",
    "scorecursor": "0", "orirepnum": "2", "reporder": "o", "reppageflag": "1", "source": "132",
    "_": "{now_ms}",
}
_REPLY_PARAMS = {
    "targetid": "{targetid}", "reqnum": "10", "pageflag": "2", "source": "132",
    "cursor": "{cursor}", "_": "{now_ms}",
}
_REFERER = {"Referer": "https://v.qq.com/"}


@dataclass(frozen=True)
class Endpoint:
    """One endpoint: a URL template, its query parameters and extra request headers."""

    url: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def build(self, **values: str) -> str:
        """The full URL with ``values`` (and ``now_ms``) filled into the template and parameters.

        Raises:
            ConfigError: a template names a value that this request does not have.
        """
        values = {"now_ms": str(int(time.time() * 1000)), **values}
        try:
            url = self.url.format(**values)
            query = {k: v.format(**values) for k, v in self.params.items()}
        except (KeyError, IndexError, ValueError) as error:
            raise ConfigError(f"endpoint {self.url!r}: template needs a value it cannot have ({error})") from None
        query = {k: v for k, v in query.items() if v != ""}
        return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}" if query else url


DEFAULT_ENDPOINTS: dict[str, Endpoint] = {
    "play_page": Endpoint("https://v.qq.com/x/cover/{cid}/{vid}.html"),
    "video_page": Endpoint("https://v.qq.com/x/page/{vid}.html"),
    "cover_page": Endpoint("https://v.qq.com/x/cover/{cid}.html"),
    "comment_id": Endpoint(
        "https://ncgi.video.qq.com/fcgi-bin/video_comment_id", {"otype": "json", "op": "3", "vid": "{vid}", "cid": "{cid}"}
    ),
    "comments": Endpoint("https://video.coral.qq.com/varticle/{targetid}/comment/v2", _COMMENT_PARAMS),
    "replies": Endpoint("https://video.coral.qq.com/vcomment/{commentid}/reply/v2", _REPLY_PARAMS),
    "danmu_base": Endpoint("https://dm.video.qq.com/barrage/base/{vid}", headers=_REFERER),
    "danmu_segment": Endpoint("https://dm.video.qq.com/barrage/segment/{vid}/{segment}", headers=_REFERER),
}


def rebase(url: str, base_url: str) -> str:
    """``url`` with its scheme and host replaced by ``base_url``'s (whose own path is prefixed)."""
    base = urlsplit(base_url)
    parts = urlsplit(url)
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path, parts.query, parts.fragment))


def load_endpoints(path: str | Path | None = None, base_url: str | None = None) -> dict[str, Endpoint]:
    """The default endpoints, overlaid with a TOML file and re-pointed at ``base_url``.

    In the file, each table is an endpoint name; ``url`` replaces the template, ``params`` and
    ``headers`` tables are merged into the defaults (an empty string removes a parameter).

    Raises:
        ConfigError: naming the file and the key, for an unknown endpoint or key or a bad value.
    """
    endpoints = dict(DEFAULT_ENDPOINTS)
    if path is not None:
        try:
            overlay = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: cannot read endpoints file ({error})") from None
        for name, table in overlay.items():
            endpoints[name] = _overlay(endpoints, name, table, str(path))
    if base_url:
        if not urlsplit(base_url).scheme or not urlsplit(base_url).netloc:
            raise ConfigError(f"--base-url {base_url!r}: expected scheme://host[:port][/path]")
        endpoints = {n: replace(e, url=rebase(e.url, base_url)) for n, e in endpoints.items()}
    return endpoints


def _overlay(endpoints: dict[str, Endpoint], name: str, table: object, source: str) -> Endpoint:
    if name not in endpoints:
        raise ConfigError(f"{source}: unknown endpoint [{name}] (known: {', '.join(endpoints)})")
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    unknown = set(table) - {"url", "params", "headers"}
    if unknown:
        raise ConfigError(f"{source}: [{name}] unknown key(s) {', '.join(sorted(unknown))} (known: url, params, headers)")
    current = endpoints[name]
    url = table.get("url", current.url)
    if not isinstance(url, str) or not url:
        raise ConfigError(f"{source}: [{name}] url must be a non-empty string")
    merged = {}
    for key in ("params", "headers"):
        extra = table.get(key, {})
        if not isinstance(extra, dict) or any(isinstance(v, (dict, list)) for v in extra.values()):
            raise ConfigError(f"{source}: [{name}.{key}] must be a table of strings or numbers")
        merged[key] = {**getattr(current, key), **{k: _scalar(v) for k, v in extra.items()}}
    return Endpoint(url, merged["params"], merged["headers"])


def _scalar(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def dump_endpoints(endpoints: dict[str, Endpoint]) -> str:
    """The endpoints as a TOML file that :func:`load_endpoints` reads back."""
    lines: list[str] = []
    for name, endpoint in endpoints.items():
        lines += [f"[{name}]", f"url = {json.dumps(endpoint.url, ensure_ascii=False)}"]
        for key in ("params", "headers"):
            table = getattr(endpoint, key)
            if table:
                lines.append(f"[{name}.{key}]")
                lines += [f"{json.dumps(k)} = {json.dumps(v, ensure_ascii=False)}" for k, v in table.items()]
        lines.append("")
    return "\n".join(lines)
