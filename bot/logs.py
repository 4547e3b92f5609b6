"""Structured logging: JSON lines or text, per-job context fields, secrets redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

CONTEXT_FIELDS = ("delivery_id", "event", "action", "installation", "repo")
REDACTED = "[redacted]"

_context: ContextVar[Mapping[str, Any]] = ContextVar("bulwark_log_context", default={})  # noqa: B039

# GitHub token prefixes: https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/
# Installation tokens are becoming `ghs_APPID_JWT`, so dots and dashes belong to the token too.
_SECRET_PATTERNS = (
    re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?-----END [A-Z0-9 ]+-----", re.DOTALL),
    re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9_.\-]{8,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{8,}"),
    re.compile(r"\beyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"),
)
_HANDLER_MARK = "_bulwark_handler"


# Every secret pattern starts with one of these; most log lines contain none, and a
# substring test is far cheaper than the regular expressions (this runs on every line).
_SECRET_MARKERS = ("-----BEGIN", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "eyJ")


def redact(text: str) -> str:
    """Replace anything that looks like a token, a JWT or a PEM block with `[redacted]`."""
    if not any(marker in text for marker in _SECRET_MARKERS):
        return text
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add context fields (delivery_id, repo, …) to every record logged inside the block."""
    merged = {**_context.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copy the current context fields onto each record (explicit `extra=` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class RedactingFilter(logging.Filter):
    """Redact secrets from the message before any formatter sees it (defence in depth)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: getattr(record, k) for k in CONTEXT_FIELDS if getattr(record, k, None) is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message and the context fields."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line: dict[str, Any] = {
            "ts": ts.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return redact(json.dumps(line, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """Readable lines for a terminal, context fields appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        return redact(f"{text} [{extras}]" if extras else text)


def configure_logging(level: str, fmt: str, *, stream: IO[str] | None = None) -> logging.Handler:
    """Send the root logger's records to stderr (or `stream`) as JSON lines or text."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter())
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
