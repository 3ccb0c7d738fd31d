"""A bounded load test of `serve` on 127.0.0.1: one-sentence requests, sent one at a time, then from C clients.

Starts `python cli.py serve` on a free loopback port, waits until it is traced, then
  1. sends --sequential requests one at a time (the reference, measured in the same run),
  2. sends --requests requests from --concurrency clients, each on its own keep-alive connection,
and prints and writes to JSON: throughput, p50/p95/p99 latency, errors, the speed-up of (2) over (1), the
search calls the server made (its batching), and the server's resident memory after warm-up, after the
first 1,000 requests of (2) and after the last. Every phase also stops at --time-limit seconds.

    python bench/serve_load.py                       # the default model, 10,000 requests at concurrency 32
    python bench/serve_load.py --model-dir translator/pretrained/spa-eng-small --requests 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("TRANSLATOR_CORPORA", REPO.parent / "shared" / "corpora"))
HOST = "127.0.0.1"


def sentences() -> list[str]:
    """The unique Spanish sentences (column 2) of the test split, or of the toy corpus where the corpora are absent."""
    test = CORPORA / "spa-eng" / "test.tsv"
    lines = (test if test.exists() else REPO / "data" / "sample" / "toy-spa-eng.tsv").read_text(encoding="utf-8")
    return list(dict.fromkeys(line.split("\t")[1] for line in lines.splitlines() if "\t" in line))


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Connection:
    """One keep-alive HTTP/1.1 connection: the least a client can cost on the same two cores."""

    def __init__(self, port: int):
        self.port, self.reader, self.writer = port, None, None

    async def post(self, path: str, body: dict) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        data = json.dumps(body).encode()
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        return status, await self.reader.readexactly(length)


async def run_phase(port: int, texts: list[str], requests: int, concurrency: int, time_limit: float, on_count=None):
    """`requests` one-sentence requests from `concurrency` clients; latencies in ms, error count."""
    latencies, errors, counter = [], 0, iter(range(requests))
    deadline = time.monotonic() + time_limit

    async def client():
        nonlocal errors
        connection = Connection(port)
        for index in counter:
            if time.monotonic() > deadline:
                return
            started = time.perf_counter()
            try:
                status, body = await connection.post("/translate", {"q": texts[index % len(texts)], "format": "text"})
                ok = status == 200 and "translatedText" in json.loads(body)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                ok, connection = False, Connection(port)
            latencies.append((time.perf_counter() - started) * 1000)
            errors += not ok
            if on_count:
                on_count(len(latencies))

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - started


def summary(latencies: list[float], errors: int, seconds: float, concurrency: int) -> dict:
    ordered = sorted(latencies)

    def percentile(p):
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2) if ordered else None

    return {"concurrency": concurrency, "requests": len(latencies), "errors": errors, "seconds": round(seconds, 2),
            "requests_per_s": round(len(latencies) / seconds, 1),
            "latency_ms": {"p50": percentile(50), "p95": percentile(95), "p99": percentile(99)}}


def start_server(model_dir: str, extra: list[str]) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen([sys.executable, str(REPO / "cli.py"), "serve", "--model-dir", model_dir, "--host", HOST,
                                "--port", "0", *extra], stderr=subprocess.PIPE, text=True)
    line = process.stderr.readline()
    match = re.search(r":(\d+)/", line)
    if not match:
        process.kill()
        sys.exit(f"the server did not start: {line}{process.stderr.read()}")
    return process, int(match.group(1))


def wait_ready(port: int, timeout: float = 180) -> dict:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=5) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    sys.exit("the server was not ready in time")


def search_calls(port: int) -> int:
    return sum(m["search_calls"] for m in wait_ready(port)["models"].values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=str(REPO / "translator" / "pretrained" / "spa-eng"))
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--sequential", type=int, default=500, help="Requests sent one at a time, the reference.")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--time-limit", type=float, default=600, help="Seconds per phase at most.")
    parser.add_argument("--out", help="the JSON record [default: bench/results/DATE-serve-load.json]")
    parser.add_argument("server_options", nargs="*", help="Passed to serve after --, e.g. -- --max-wait-ms 2")
    args = parser.parse_args()

    texts = sentences()
    process, port = start_server(args.model_dir, args.server_options)
    try:
        wait_ready(port)
        asyncio.run(run_phase(port, texts, 50, 4, 60))  # warm-up: connections, allocator, search shapes
        rss = {"after_warm_up": resident_mb(process.pid)}
        before = search_calls(port)
        one = summary(*asyncio.run(run_phase(port, texts, args.sequential, 1, args.time_limit)), 1)
        after_one = search_calls(port)
        one["search_calls"] = after_one - before
        rss_by_thousand = []

        def sample(count):
            if count % 1000 == 0:
                rss_by_thousand.append(round(resident_mb(process.pid), 1))
            if count == 1000:
                rss["after_1000"] = rss_by_thousand[-1]

        many = summary(*asyncio.run(run_phase(port, texts, args.requests, args.concurrency, args.time_limit, sample)),
                       args.concurrency)
        rss["after_all"] = resident_mb(process.pid)
        many["search_calls"] = search_calls(port) - after_one
    finally:
        process.terminate()
        status = process.wait(timeout=60)
    result = {
        "model_dir": args.model_dir, "sentences": len(texts), "sequential": one, "concurrent": many,
        "speedup": round(many["requests_per_s"] / one["requests_per_s"], 2),
        "rss_mb": {k: round(v, 1) for k, v in rss.items()},
        "rss_growth_after_1000": round(rss["after_all"] / rss["after_1000"] - 1, 4) if "after_1000" in rss else None,
        "rss_mb_every_1000_requests": rss_by_thousand,
        "server_exit_status": status, "cpu": os.cpu_count(),
    }
    out = Path(args.out or REPO / "bench" / "results" / f"{time.strftime('%Y-%m-%d')}-serve-load.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"{'':<14}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'search calls':>14}")
    for name, row in (("one at a time", one), (f"concurrency {args.concurrency}", many)):
        lat = row["latency_ms"]
        print(f"{name:<14}{row['requests']:>9}{row['requests_per_s']:>9}{lat['p50']:>9}{lat['p95']:>9}{lat['p99']:>9}"
              f"{row['errors']:>8}{row['search_calls']:>14}")
    print(f"speed-up {result['speedup']}x; server RSS MB {result['rss_mb']} "
          f"(growth after the first 1,000: {100 * (result['rss_growth_after_1000'] or 0):.2f} %); "
          f"SIGTERM exit status {status}; written to {args.out}")


if __name__ == "__main__":
    main()
