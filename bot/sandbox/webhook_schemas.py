"""Check webhook payloads against the schemas in GitHub's REST description.

The description's ``x-webhooks`` are keyed like ``pull-request-opened``; each
entry names its event in ``x-github.subcategory`` (``pull_request``) and its
action after the slash of ``operationId`` (``pull-request/opened``).
"""

from __future__ import annotations

import copy
import functools
import gzip
import json
from importlib import resources
from typing import Any

from jsonschema import Draft4Validator

from bot.sandbox.openapi import nullable_to_type

JSON = dict[str, Any]


@functools.cache
def load_webhook_spec() -> JSON:
    """Return the packaged webhook descriptions, with OpenAPI nullables converted."""
    spec = resources.files("bot.sandbox").joinpath("spec", "webhooks.json.gz")
    with spec.open("rb") as raw, gzip.open(raw, "rb") as unzipped:
        converted: JSON = nullable_to_type(json.load(unzipped))
        return converted


def webhook_key(event: str, action: str | None) -> str | None:
    """Return the ``x-webhooks`` key of an event and action, or None if not described."""
    return _keys().get((event, action))


@functools.cache
def _keys() -> dict[tuple[str, str | None], str]:
    keys: dict[tuple[str, str | None], str] = {}
    for key, item in load_webhook_spec()["x-webhooks"].items():
        post = item["post"]
        _, _, action = post["operationId"].partition("/")
        keys[(post["x-github"]["subcategory"], action.replace("-", "_") or None)] = key
    return keys


def webhook_example(event: str, action: str | None) -> JSON | None:
    """Return a copy of the description's example payload of an event, if it has one."""
    key = webhook_key(event, action)
    content = _content(key) if key else {}
    example = content.get("examples", {}).get("default")
    if example is None:
        return None
    name = example["$ref"].rsplit("/", 1)[1]
    value: JSON = load_webhook_spec()["components"]["examples"][name]["value"]
    return copy.deepcopy(value)


def validate_webhook(event: str, action: str | None, payload: JSON) -> list[str]:
    """Return why ``payload`` is not a realistic ``event`` delivery ([] when it is)."""
    key = webhook_key(event, action)
    if key is None:
        return [f"GitHub describes no {event!r} webhook with action {action!r}"]
    errors = sorted(_validator(key).iter_errors(payload), key=lambda e: list(map(str, e.path)))
    return [f"{error.json_path}: {error.message}" for error in errors]


def _content(key: str) -> JSON:
    post: JSON = load_webhook_spec()["x-webhooks"][key]["post"]
    content: JSON = post["requestBody"]["content"]["application/json"]
    return content


@functools.cache
def _validator(key: str) -> Draft4Validator:
    root = {"allOf": [_content(key)["schema"]], "components": load_webhook_spec()["components"]}
    return Draft4Validator(root)
