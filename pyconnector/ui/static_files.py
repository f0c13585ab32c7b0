"""Serving the files under static/: ETag from the content, revalidation (304), cache lifetimes.

Pages and the project's own scripts are revalidated on every load (`no-cache`: a connector upgrade
shows at once, an unchanged file costs a 304); vendored libraries live in a versioned folder and are
cached for a day.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Request, Response

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR_MAX_AGE = 86_400
TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml",
         ".png": "image/png", ".md": "text/markdown", "": "text/plain"}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    etag: str
    content_type: str
    cache_control: str


class StaticFiles:
    """The files of one directory, read once on first use (they are part of the installed package)."""

    def __init__(self, root: Path = STATIC_DIR):
        self.root = root
        self._files: dict[str, StaticFile] = {}

    def get(self, relative: str) -> StaticFile:
        cached = self._files.get(relative)
        if cached is not None:
            return cached
        path = (self.root / relative).resolve()
        # no path outside root (werkzeug's <path:> converter already drops "..", this is the second lock)
        if self.root not in path.parents or not path.is_file():
            raise NotFound(f"no UI file {relative!r}")
        body = path.read_bytes()
        suffix = path.suffix.lower()
        content_type = TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("+xml"):
            content_type += "; charset=utf-8"
        cache = f"public, max-age={VENDOR_MAX_AGE}" if relative.startswith("vendor/") else "no-cache"
        entry = StaticFile(body, hashlib.sha256(body).hexdigest()[:20], content_type, cache)
        self._files[relative] = entry
        return entry

    def response(self, request: Request, relative: str) -> Response:
        entry = self.get(relative)
        response = Response(status=200, content_type=entry.content_type)
        response.set_etag(entry.etag)
        response.headers["Cache-Control"] = entry.cache_control
        response.headers["X-Content-Type-Options"] = "nosniff"
        if request.if_none_match.contains(entry.etag):
            response.status_code = 304
            return response
        if request.method != "HEAD":
            response.set_data(entry.body)
        else:
            response.content_length = len(entry.body)
        return response
