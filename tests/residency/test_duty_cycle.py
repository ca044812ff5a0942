"""The duty cycle that keeps admin jobs to their share of time (a fake clock: no timing here)."""

from __future__ import annotations

import asyncio

import pytest

from chatkit_onprem.residency import duty_cycle
from chatkit_onprem.residency.duty_cycle import DutyCycle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(duty_cycle.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(duty_cycle.time, "sleep", fake.sleep)
    return fake


def test_a_job_at_half_share_pauses_as_long_as_it_worked_once_a_slice_is_used(clock: Clock) -> None:
    pacing = DutyCycle(0.5, slice_seconds=0.01)
    clock.now += 0.004
    pacing.tick()  # the slice is not used up yet
    assert clock.slept == []
    clock.now += 0.008
    pacing.tick()
    assert clock.slept == [pytest.approx(0.012)]
    clock.now += 0.005
    pacing.tick()  # a new slice began after the pause
    assert len(clock.slept) == 1


def test_a_job_at_a_quarter_share_pauses_three_times_its_work(clock: Clock) -> None:
    pacing = DutyCycle(0.25, slice_seconds=0)
    clock.now += 0.02
    pacing.tick()
    assert clock.slept == [pytest.approx(0.06)]


def test_full_share_never_pauses_and_bad_shares_are_refused(clock: Clock) -> None:
    pacing = DutyCycle(1.0, slice_seconds=0)
    clock.now += 5
    pacing.tick()
    asyncio.run(pacing.pause())
    assert clock.slept == [] and not pacing.throttled
    for share in (0, -0.5, 1.5):
        with pytest.raises(ValueError):
            DutyCycle(share)


def test_the_event_loop_variant_pauses_without_blocking(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(duty_cycle.asyncio, "sleep", fake_sleep)
    pacing = DutyCycle(0.5, slice_seconds=0)
    pacing.restart()
    clock.now += 0.03
    asyncio.run(pacing.pause())
    assert waited == [pytest.approx(0.03)] and clock.slept == []
