"""Download images attached to comments into content-addressed files, checking size and type.

A file is named by the SHA-256 of its bytes plus the extension of its real format
(``images/<sha256>.png``), so the same sticker posted a thousand times is stored once and a
re-run never duplicates it. A download is rejected, and the reason recorded on the comment,
when it is over the byte limit, is not an image Pillow can fully decode (HTML error pages,
truncated files), has more pixels than the limit, or is of a format outside
:data:`ALLOWED_FORMATS`.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

from PIL import Image

from cinesense.crawl.checkpoint import write_atomic
from cinesense.crawl.http import CrawlError, PoliteClient
from cinesense.image.loading import DEFAULT_MAX_PIXELS, ImageError, load_image

IMAGE_DIR = "images"
DEFAULT_MAX_IMAGE_BYTES = 5 * 1024 * 1024
ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp"}


class ImageRejected(ValueError):
    """A downloaded file that is not an acceptable image; the message says why."""


def check_image(data: bytes, *, max_bytes: int = DEFAULT_MAX_IMAGE_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS,
                name: str = "image") -> str:
    """The file extension for ``data`` if it is an acceptable image.

    Raises:
        ImageRejected: too large, not decodable, too many pixels, or a format not allowed.
    """
    if len(data) > max_bytes:
        raise ImageRejected(f"{len(data):,} bytes is over the limit of {max_bytes:,}")
    try:
        load_image(data, max_pixels=max_pixels, name=name)
        kind = Image.open(io.BytesIO(data)).format or "unknown"
    except ImageError as error:
        raise ImageRejected(error.reason) from None
    if kind not in ALLOWED_FORMATS:
        raise ImageRejected(f"format {kind} is not one of {', '.join(ALLOWED_FORMATS)}")
    return ALLOWED_FORMATS[kind]


class ImageDownloader:
    """Fetches attachments through the polite client into ``directory/images/``."""

    def __init__(self, client: PoliteClient, directory: Path, *, max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.client, self.directory = client, directory
        self.max_bytes, self.max_pixels = max_bytes, max_pixels

    def fetch(self, url: str) -> str:
        """Download, check and store one image; returns its path relative to ``directory``.

        Raises:
            ImageRejected: the download failed or is not an acceptable image.
        """
        try:
            data = self.client.get(url, max_bytes=self.max_bytes).body
        except CrawlError as error:
            raise ImageRejected(str(error)) from None
        extension = check_image(data, max_bytes=self.max_bytes, max_pixels=self.max_pixels, name=url)
        relative = f"{IMAGE_DIR}/{hashlib.sha256(data).hexdigest()}.{extension}"
        path = self.directory / relative
        if not path.exists():
            write_atomic(path, data)
        return relative

    def attach(self, record: dict[str, Any]) -> tuple[int, int]:
        """Download ``record["image_urls"]`` into ``record["images"]``, failures into
        ``record["image_errors"]``; returns (stored, rejected)."""
        images, errors = [], []
        for url in record.get("image_urls", []):
            try:
                images.append(self.fetch(url))
            except ImageRejected as error:
                errors.append({"url": url, "reason": str(error)})
        if images:
            record["images"] = list(dict.fromkeys(images))
        if errors:
            record["image_errors"] = errors
        return len(images), len(errors)
