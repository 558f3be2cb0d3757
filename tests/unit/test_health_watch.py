"""The dashboard's channel health readings: in the background, bounded, redacted."""

from __future__ import annotations

import asyncio
from typing import Any

from router.channel import Health
from router.ingest.health_watch import HealthWatch, redact


class Element:
    """A channel whose ``health()`` answers, raises or hangs, counting its calls."""

    def __init__(self, answer: Health | Exception | None) -> None:
        self.answer = answer
        self.calls = 0

    async def health(self) -> Health:
        self.calls += 1
        if self.answer is None:
            await asyncio.sleep(3600)
        if isinstance(self.answer, Exception):
            raise self.answer
        assert isinstance(self.answer, Health)
        return self.answer


def watch_of(**channels: Element) -> tuple[HealthWatch, dict[str, Any]]:
    return HealthWatch(every_s=3600, timeout_s=0.05), channels


async def test_the_stream_never_waits_and_each_element_is_read_once_per_period() -> None:
    cbc = Element(Health(True, "https://ops:s3cret@cbc.example/api answers (200)",
                         {"on_air": [{"identifier": 4370, "state": "held"}],
                          "cbc": "https://ops:s3cret@cbc.example"}))
    watch, channels = watch_of(cell_broadcast=cbc, sms=Element(OSError("refused")),
                               wallet=Element(None))
    assert watch.current(channels) == {}  # the first reading is under way, not awaited
    await watch.wait()
    latest = watch.current(channels)
    assert latest["cell_broadcast"]["ok"] is True
    assert latest["cell_broadcast"]["facts"]["on_air"] == [{"identifier": 4370,
                                                            "state": "held"}]
    assert "s3cret" not in repr(latest)
    assert latest["cell_broadcast"]["facts"]["cbc"] == "https://cbc.example"
    assert latest["sms"] == {**latest["sms"], "ok": False,
                             "detail": "health check failed: OSError: refused"}
    assert latest["wallet"]["ok"] is False
    assert "within 0.05 s" in latest["wallet"]["detail"]
    assert cbc.calls == 1  # not due again within every_s


async def test_a_new_reading_starts_when_the_last_is_old() -> None:
    element = Element(Health(True, "fine"))
    watch = HealthWatch(every_s=0, timeout_s=1)
    watch.current({"file": element})
    await watch.wait()
    watch.current({"file": element})
    await watch.wait()
    assert element.calls == 2


def test_redact_takes_userinfo_out_of_nested_values() -> None:
    assert redact({"a": ["http://u:p@h:1/x", 3], "b": None}) == {"a": ["http://h:1/x", 3],
                                                                 "b": None}
