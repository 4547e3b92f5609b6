"""Structured logs: JSON shape, context fields, redaction."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import configure_logging, log_context, redact


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging("DEBUG", "json", stream=stream)
    yield stream
    logging.getLogger().removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_line_has_the_context_fields(output: io.StringIO) -> None:
    outer = log_context(delivery_id="d-1", event="push", installation=42, repo="acme/w")
    with outer, log_context(action="opened"):
        logging.getLogger("bot.test").info("hello %s", "world")
    logging.getLogger("bot.test").info("outside")
    inside, outside = lines(output)
    assert inside["message"] == "hello world"
    assert (inside["level"], inside["logger"]) == ("INFO", "bot.test")
    assert {k: inside[k] for k in ("delivery_id", "event", "action", "installation", "repo")} == {
        "delivery_id": "d-1",
        "event": "push",
        "action": "opened",
        "installation": 42,
        "repo": "acme/w",
    }
    assert str(inside["ts"]).endswith("Z")
    assert "delivery_id" not in outside


SECRETS = [
    "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyz0123456789",
    "gho_abcdefghijklmnop1234",
    "ghu_abcdefghijklmnop1234",
    "ghr_abcdefghijklmnop1234",
    "ghs_12345_eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjF9.c2lnbmF0dXJl",
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiIxMjMifQ.dGhpcy1pcy1hLXNpZw",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_secrets_are_redacted_in_json(output: io.StringIO, secret: str) -> None:
    logging.getLogger("bot.test").warning("token is %s, ok", secret)
    [line] = lines(output)
    assert line["message"] == "token is [redacted], ok"


def test_secrets_in_exceptions_are_redacted(output: io.StringIO) -> None:
    try:
        raise ValueError(f"bad token {SECRETS[0]}")
    except ValueError:
        logging.getLogger("bot.test").exception("failed")
    assert SECRETS[0] not in output.getvalue()
    assert "[redacted]" in output.getvalue()


def test_text_format_is_readable_and_redacted() -> None:
    stream = io.StringIO()
    handler = configure_logging("INFO", "text", stream=stream)
    try:
        with log_context(repo="acme/w"):
            logging.getLogger("bot.test").info("using %s", SECRETS[1])
    finally:
        logging.getLogger().removeHandler(handler)
    text = stream.getvalue()
    assert "INFO" in text and "bot.test" in text and "repo=acme/w" in text
    assert SECRETS[1] not in text


@pytest.mark.parametrize("harmless", ["ghost_town", "eyJust a word", "sha256=abc", "acme/ghs"])
def test_ordinary_text_is_left_alone(harmless: str) -> None:
    assert redact(harmless) == harmless


def test_reconfiguring_replaces_the_handler() -> None:
    first = configure_logging("INFO", "json", stream=io.StringIO())
    second = configure_logging("INFO", "json", stream=io.StringIO())
    try:
        assert first not in logging.getLogger().handlers
        assert second in logging.getLogger().handlers
    finally:
        logging.getLogger().removeHandler(second)
