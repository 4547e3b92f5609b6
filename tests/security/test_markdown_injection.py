"""Hostile names end to end: what the sandbox received stays inert markdown.

Unit tables of the renderers are in tests/core/test_render.py; here the names
travel through webhooks, the gateway and GitHub's API as they would for real.
GitHub allows repository names of `[A-Za-z0-9._-]` only, but branch names,
commit messages and the words of a comment are much freer.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bot.cli.embedded import Embedded
from bot.sandbox.app import WRITE_METHODS
from tests.fixtures import install, weak_protection

# Legal git ref: no space, ~ ^ : ? * [ \ or "@{"; everything else here is allowed.
BRANCH = "x/<img_src=x_onerror=alert(1)>@acme/admins|`--><!--#1&lt;**b**"
REPO = "--.-_"
MESSAGE = "**bold** <img src=x> @acme/admins #1\n# heading\n<!-- hide -->\n| a | b |\n```"
# GitHub shows these as plain text, never as markdown (checked separately below).
PLAIN_TEXT = frozenset({"title", "name", "head_sha", "label", "description", "identifier"})
WORD = "<details><summary>@acme/admins</summary>[x](javascript:alert(1))"


def sent_bodies(bulwark: Embedded) -> list[str]:
    """Return every markdown text Bulwark sent to GitHub (bodies, summaries, titles)."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                if key not in PLAIN_TEXT:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for record in bulwark.sandbox.requests:
        if record.method in WRITE_METHODS and record.body is not None:
            walk(record.body)
    return out


@pytest.fixture
async def hostile(bulwark: Embedded) -> list[str]:
    """Run every flow over hostile names; return the texts Bulwark sent."""
    state = bulwark.sandbox.state
    payloads = bulwark.sandbox.payloads
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: report\n")
    state.add_repo("acme", REPO, branches=(BRANCH,))
    state.set_protection("acme", REPO, BRANCH, weak_protection())
    state.add_collaborator("acme", REPO, "adam", "admin")
    number = state.add_pull("acme", REPO, head_sha=state.new_sha(), base=BRANCH, author="bob")
    await install(bulwark)
    opened = payloads.pull_request("opened", "acme", REPO, number, "bob")
    assert await bulwark.deliver("pull_request", opened) == 202
    text = f"/protection {WORD}\n/protection status\n/protection fix\n/protection report"
    comment = payloads.issue_comment("created", "acme", REPO, number, text, "adam")
    assert await bulwark.deliver("issue_comment", comment) == 202
    await bulwark.settle()
    sha = state.add_commit("acme", REPO, BRANCH, message=MESSAGE, author="bob")
    assert await bulwark.deliver("push", payloads.push("acme", REPO, BRANCH, [sha], "bob")) == 202
    await bulwark.settle()
    return sent_bodies(bulwark)


async def test_hostile_names_reach_github_only_as_inert_text(hostile: list[str]) -> None:
    markdown = [text for text in hostile if "\n" in text or "bulwark" in text]
    assert len(markdown) >= 5, "comments, the check run and the report were written"
    joined = "\n".join(hostile)
    assert "onerror" in joined and "summary" in joined  # the branch and the word are named
    for text in hostile:
        assert "@acme/admins" not in text, "a team would be pinged"
        assert not re.search(r"<(img|details|summary)\b", text, re.IGNORECASE), "raw HTML"
        assert "<!-- hide" not in text and "<!--#1" not in text, "content hidden in a comment"
        assert "](javascript" not in text, "a live link"
        assert not re.search(r"(?m)^# heading", text), "a heading started by user text"
        assert not re.search(r"(?<![\w\u200d])#1\b", text), "a cross-reference created"


async def test_hostile_names_keep_markers_single(bulwark: Embedded, hostile: list[str]) -> None:
    for text in hostile:
        assert text.count("<!-- bulwark:") <= 1
    comments = bulwark.sandbox.state.comments("acme", REPO, 1)
    replies = [c["body"] for c in comments if c["author"] == bulwark.sandbox.state.bot_login]
    assert replies and all(body.count("<!-- bulwark:") == 1 for body in replies)
    assert json.dumps(replies).count("details") <= len(replies)


async def test_plain_text_fields_stay_one_line(bulwark: Embedded, hostile: list[str]) -> None:
    outputs = [
        r.body["output"]
        for r in bulwark.sandbox.requests
        if r.method in WRITE_METHODS and isinstance(r.body, dict) and "output" in r.body
    ]
    assert outputs
    for output in outputs:
        assert "\n" not in output["title"] and len(output["title"]) <= 255
