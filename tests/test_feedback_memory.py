"""What Bulwark remembers of its own check runs and status comments."""

from __future__ import annotations

from bot.engine.feedback import FeedbackMemory


def test_a_memory_remembers_runs_and_comments_within_its_bound() -> None:
    memory = FeedbackMemory(maxsize=2)
    memory.remember_check_run(("acme/api", "a" * 40), 7)
    memory.remember_comment(("acme/api", 1), None)
    memory.remember_comment(("acme/api", 2), (9, "body"))

    assert memory.check_run(("acme/api", "a" * 40)) == 7
    assert memory.comment(("acme/api", 1)) is None  # known: none of Bulwark's
    assert memory.comment(("acme/api", 2)) == (9, "body")
    memory.remember_comment(("acme/api", 3), None)
    assert memory.comment(("acme/api", 1)) is False  # the oldest is forgotten: not known
    memory.remember_check_run(("acme/api", "a" * 40), None)
    assert memory.check_run(("acme/api", "a" * 40)) is None


def test_a_memory_shared_with_other_workers_remembers_nothing() -> None:
    memory = FeedbackMemory(shared=True)
    memory.remember_check_run(("acme/api", "a" * 40), 7)
    memory.remember_comment(("acme/api", 1), None)

    assert memory.check_run(("acme/api", "a" * 40)) is None
    assert memory.comment(("acme/api", 1)) is False
