"""Type-ahead keys: one queue in the order pressed, fed by AGI replies and an AMI witness."""

from __future__ import annotations

import asyncio

from ivr.keys import EARLY_KEEP_S, KeyQueue, KeyWitnesses


async def test_without_a_witness_agi_digits_are_the_queue() -> None:
    queue = KeyQueue()
    await queue.read("1")
    await queue.read("2")
    assert (queue.take(), queue.take(), queue.take()) == ("1", "2", None)


async def test_keys_agi_dropped_come_first_and_none_twice() -> None:
    queue = KeyQueue(witnessed=True)
    queue.witnessed_key("5")  # pressed between two AGI commands: only AMI saw it
    queue.witnessed_key("1")  # then read by STREAM FILE, reported by AMI first
    await queue.read("1")
    assert queue.pending() == "51"


async def test_an_agi_digit_waits_for_its_witness_report() -> None:
    queue = KeyQueue(witnessed=True)
    reading = asyncio.create_task(queue.read("3"))
    await asyncio.sleep(0)
    assert not reading.done()
    queue.witnessed_key("3")
    await reading
    assert queue.pending() == "3"


async def test_a_late_witness_report_is_not_counted_twice() -> None:
    queue = KeyQueue(witnessed=True, confirm_wait_s=0.01)
    await queue.read("7")  # AMI slow or down: the AGI digit is queued on its own
    queue.witnessed_key("7")  # ...and its late report absorbed
    assert queue.pending() == "7"
    queue.witnessed_key("8")
    assert queue.pending() == "78"


def test_keys_before_the_ivr_opens_its_queue_are_kept() -> None:
    now = [100.0]
    witnesses = KeyWitnesses(lambda: True, clock=lambda: now[0])
    witnesses.key("1.1", "1")  # during the dialplan, before the AGI session
    witnesses.key("9.9", "4")
    now[0] += EARLY_KEEP_S + 1
    witnesses.key("2.2", "2")  # the stale channel's keys are dropped
    queue = witnesses.open("1.1")
    assert queue.witnessed and queue.pending() == ""
    witnesses.key("1.1", "1")
    assert queue.pending() == "1"
    assert witnesses.open("2.2").pending() == "2"
    witnesses.close("1.1")
    witnesses.key("1.1", "3")
    assert queue.pending() == "1"  # a closed queue hears nothing more


def test_other_events_are_not_keys() -> None:
    queue = KeyQueue(witnessed=True)
    queue.witnessed_key("x")
    assert not queue


def test_clear_drops_the_unused_keys() -> None:
    queue = KeyQueue(witnessed=True)
    queue.witnessed_key("1")
    queue.witnessed_key("2")
    assert queue.clear() == "12" and queue.take() is None
