"""What hostile requests cost a real ``tocsin serve`` process, against baselines
measured in the same run on the same process.

1. **Attribute flood**: an alert with 60,000 attributes on ``<info>`` (~650 KB).
   Peak RSS of the server during the request (``VmHWM`` after resetting it with
   ``/proc/PID/clear_refs``) minus its RSS before, as a ratio to the same figure
   for the medium fixture alert; the size of the answer body; and the peak RSS
   growth with ``--parallel`` such requests at once.
2. **Idle SSE streams**: the server's CPU (utime + stime from ``/proc/PID/stat``)
   while ``--streams`` event streams watch pending alerts, as a ratio to the same
   server with no stream open, each over ``--seconds``; its open file descriptors.
   The server runs with dispatch disabled, so every delivery stays pending and
   every stream stays open; streams beyond the per-key limit are refused (their
   number is printed), so the figure is what the limit lets through.

Linux only (reads ``/proc``). The machine may be shared: the figures say so.
Run: ``.venv/bin/python bench/hostile_requests.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from verdicts import figure

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.server import DEV_KEY, Server, start_server  # noqa: E402

AUTH = {"Authorization": f"Bearer {DEV_KEY}"}
CAP = {**AUTH, "Content-Type": "application/cap+xml"}
TICKS = os.sysconf("SC_CLK_TCK")
MEDIUM = REPO / "tests" / "fixtures" / "cap" / "medium.xml"


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def reset_peak(pid: int) -> int:
    """Reset VmHWM to the current RSS (``clear_refs`` 5) and return that RSS."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return rss_kib(pid, "VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def flood(count: int) -> bytes:
    attributes = b" ".join(b'a%d="x"' % i for i in range(count))
    return MEDIUM.read_bytes().replace(b"<info>", b"<info " + attributes + b">", 1)


async def peak_rss_of(server: Server, session: aiohttp.ClientSession,
                      body: bytes) -> tuple[int, int, int]:
    """(peak RSS growth in KiB, status, answer bytes) for one POST of ``body``."""
    pid = server.proc.pid
    before = reset_peak(pid)
    async with session.post(f"{server.url}/api/v1/alerts", data=body, headers=CAP) as answer:
        size = len(await answer.read())
        status = answer.status
    return rss_kib(pid, "VmHWM") - before, status, size


async def parallel_peak(server: Server, session: aiohttp.ClientSession, body: bytes,
                        count: int) -> int:
    """Peak RSS growth in KiB while ``count`` copies of ``body`` are posted at once."""
    pid = server.proc.pid
    before = reset_peak(pid)

    async def one() -> None:
        async with session.post(f"{server.url}/api/v1/alerts", data=body,
                                headers=CAP) as answer:
            await answer.read()

    await asyncio.gather(*(one() for _ in range(count)))
    return rss_kib(pid, "VmHWM") - before


async def cpu_share(server: Server, seconds: float) -> float:
    start = cpu_seconds(server.proc.pid)
    await asyncio.sleep(seconds)
    return (cpu_seconds(server.proc.pid) - start) / seconds


async def open_streams(server: Server, session: aiohttp.ClientSession, count: int,
                       ) -> tuple[list[aiohttp.ClientResponse], int]:
    template = MEDIUM.read_bytes()
    opened: list[aiohttp.ClientResponse] = []
    refused = 0
    for number in range(count):
        body = template.replace(b"<identifier>", f"<identifier>SSE-{number}-".encode(), 1)
        async with session.post(f"{server.url}/api/v1/alerts", data=body,
                                headers=CAP) as posted:
            alert_id = (await posted.json())["id"]
        stream = await session.get(f"{server.url}/api/v1/alerts/{alert_id}/events",
                                   headers=AUTH)
        if stream.status == 200:
            opened.append(stream)
        else:
            refused += 1
            stream.release()
    return opened, refused


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "data", env={"TOCSIN_DISPATCH_ENABLED": "false"})
        try:
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as session:
                medium = await peak_rss_of(server, session, MEDIUM.read_bytes())
                hostile = await peak_rss_of(server, session, flood(args.attributes))
                medium_again = await peak_rss_of(server, session, MEDIUM.read_bytes())
                print("note: figures from a shared, loaded machine")
                print(f"medium alert: +{medium[0]} KiB peak RSS, {medium[1]}, "
                      f"{medium[2]} B answer (again after: +{medium_again[0]} KiB)")
                print(f"{args.attributes} attributes: +{hostile[0]} KiB peak RSS, "
                      f"{hostile[1]}, {hostile[2]} B answer; "
                      f"ratio to medium {hostile[0] / max(medium[0], 1):.1f} x")
                together = await parallel_peak(server, session, flood(args.attributes),
                                               args.parallel)
                print(f"{args.parallel} of them at once: +{together} KiB peak RSS")
                idle = await cpu_share(server, args.seconds)
                streams, refused = await open_streams(server, session, args.streams)
                await asyncio.sleep(1.0)  # let the first batches go out
                busy = await cpu_share(server, args.seconds)
                fds = len(os.listdir(f"/proc/{server.proc.pid}/fd"))
                print(f"{len(streams)} SSE streams open ({refused} refused), {fds} fds: "
                      f"server CPU {busy * 100:.1f} % of a core over {args.seconds:.0f} s; "
                      f"idle baseline {idle * 100:.1f} %; "
                      f"difference {max(busy - idle, 0) * 100:.1f} points")
                figure("hostile_requests", "attribute_flood_peak_rss_kib", hostile[0])
                figure("hostile_requests", "attribute_flood_over_medium_rss",
                       hostile[0] / max(medium[0], 1))
                figure("hostile_requests", "sse_streams_open", len(streams))
                figure("hostile_requests", "sse_cpu_points_over_idle",
                       max(busy - idle, 0) * 100)
                for stream in streams:
                    stream.close()
        finally:
            server.stop(signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--attributes", type=int, default=60_000)
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()
    if args.quick:
        args.streams, args.seconds = 20, 2.0
    started = time.monotonic()
    asyncio.run(run(args))
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
