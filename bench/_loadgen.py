"""The load generator, run as its own process: closed-loop HTTP load with a fixed number of connections.

Reads one JSON job from stdin and writes one JSON result to stdout. A job names the base URL, the method,
the paths to cycle through, headers, an optional JSON body, the concurrency, a warm-up and a measured
duration. Each of ``concurrency`` tasks sends a request, waits for the whole response, records the latency
and sends the next one, over ``concurrency`` keep-alive connections of one httpx client. Requests of the
warm-up are sent but not counted. While measuring it samples the server process's CPU time from /proc so
the report can tell a saturated server from a saturated load generator.

Two variations for the upload row: ``upload`` sends each request a multipart body holding one JPEG made unique
per request (a fixed-size JPEG comment segment with a counter after the start-of-image marker, so the product
stores every upload instead of answering "duplicate"); ``rate`` turns the closed loop into an open one: the
requests are scheduled at ``rate`` per second in all (spread over the connections) and each latency runs from
the request's scheduled time, so a server that falls behind is charged for the wait (no coordinated omission).
``headers_per_connection`` gives each connection its own headers (one user's token per connection).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from _rawhttp import ProtocolError, RawConnection, encode_request


@dataclass
class _Tally:
    latencies_ns: list[int] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    by_status: dict[int, list[int]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)


def _process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds consumed so far by ``pid`` (Linux /proc), or None when unknown."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            # the command name (field 2) may contain spaces; the fields we need follow its closing paren
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _body_and_headers(job: dict[str, Any], index: int = 0) -> tuple[bytes | None, dict[str, str]]:
    # a job may give each connection its own body (one account per connection in the login flood)
    bodies = job.get("json_per_connection")
    document = bodies[index % len(bodies)] if bodies else job.get("json")
    body = json.dumps(document).encode() if document is not None else None
    headers = dict(job.get("headers", {}))
    per_connection = job.get("headers_per_connection")
    if per_connection:
        headers |= per_connection[index % len(per_connection)]
    if body is not None:
        headers["Content-Type"] = "application/json"
    return body, headers


BOUNDARY = "receiptcore-bench-boundary"
_COMMENT_BYTES = 32  # the unique part of each uploaded JPEG


def unique_jpeg(jpeg: bytes, tag: str) -> bytes:
    """``jpeg`` with a comment segment (``FF FE``, 2-byte length) holding ``tag`` right after its SOI marker.

    Still a valid JPEG of the same picture, but with its own bytes (and SHA-256), so the product stores it as a
    new receipt. ``tag`` is padded to a fixed size so every body has the same length.
    """
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG (no start-of-image marker)")
    comment = tag.encode("ascii").ljust(_COMMENT_BYTES, b".")[:_COMMENT_BYTES]
    return jpeg[:2] + b"\xff\xfe" + (2 + len(comment)).to_bytes(2, "big") + comment + jpeg[2:]


def multipart_body(content: bytes, field_name: str, filename: str, media_type: str) -> bytes:
    """A multipart/form-data body with one file part."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field_name}"; filename="{filename}"\r\n'
        f"Content-Type: {media_type}\r\n\r\n"
    ).encode("ascii")
    return head + content + f"\r\n--{BOUNDARY}--\r\n".encode("ascii")


class _Uploads:
    """The next upload request of one connection: the job's JPEG made unique by a per-job nonce and a counter."""

    def __init__(self, job: dict[str, Any], connection: int, headers: dict[str, str]) -> None:
        spec = job["upload"]
        with open(spec["file"], "rb") as source:
            self._jpeg = source.read()
        self._spec = spec
        self._prefix = f"{spec.get('nonce', time.time_ns()):x}-{connection}-"
        self._counter = 0
        self._base_url, self._headers = (
            job["base_url"],
            headers | {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )

    def next(self) -> bytes:
        self._counter += 1
        content = unique_jpeg(self._jpeg, f"{self._prefix}{self._counter}")
        body = multipart_body(content, "file", self._spec.get("filename", "receipt.jpg"), "image/jpeg")
        return encode_request(self._base_url, "POST", self._spec.get("path", "/api/receipts"), self._headers, body)


def _record(tally: _Tally, phase: dict[str, Any], measuring: bool, began: int, status: int) -> None:
    elapsed = time.perf_counter_ns() - began
    # a request that began during the warm-up is not counted even if it ends after it
    if measuring and phase["measuring"]:
        tally.latencies_ns.append(elapsed)
        tally.statuses[status] = tally.statuses.get(status, 0) + 1
        tally.by_status.setdefault(status, []).append(elapsed)


def _fail(tally: _Tally, measuring: bool, exc: BaseException) -> None:
    if measuring:
        name = type(exc).__name__
        tally.failures[name] = tally.failures.get(name, 0) + 1


async def _raw_worker(job: dict[str, Any], start_index: int, phase: dict[str, Any], tally: _Tally) -> None:
    body, headers = _body_and_headers(job, start_index)
    requests = [encode_request(job["base_url"], job["method"], path, headers, body) for path in job["paths"]]
    uploads = _Uploads(job, start_index, headers) if job.get("upload") else None
    rate = float(job.get("rate") or 0)
    address = urlsplit(job["base_url"])
    # distinct_clients: each connection from its own loopback address (127.0.1.1, 127.0.1.2, ...)
    source = f"127.0.{1 + start_index // 250}.{1 + start_index % 250}" if job.get("distinct_clients") else None
    connection = RawConnection(address.hostname or "127.0.0.1", address.port or 80, source)
    index = start_index
    try:
        while not phase["stop"]:
            raw = uploads.next() if uploads is not None else requests[index % len(requests)]
            began = time.perf_counter_ns()
            if rate:
                # open loop: request number ``index`` of the whole job is due at index / rate after the start
                due = phase["start_ns"] + int(index / rate * 1e9)
                if due > began:
                    await asyncio.sleep((due - began) / 1e9)
                    if phase["stop"]:
                        break
                began = due
            index += job["concurrency"]
            measuring = phase["measuring"]
            try:
                status, _ = await connection.request(raw)
            except (OSError, asyncio.IncompleteReadError, ProtocolError) as exc:
                _fail(tally, measuring, exc)
                continue
            _record(tally, phase, measuring, began, status)
    finally:
        await connection.close()


async def _httpx_worker(
    client: httpx.AsyncClient, job: dict[str, Any], start_index: int, phase: dict[str, Any], tally: _Tally
) -> None:
    paths: list[str] = job["paths"]
    method: str = job["method"]
    body, headers = _body_and_headers(job)
    index = start_index
    while not phase["stop"]:
        path = paths[index % len(paths)]
        index += job["concurrency"]
        measuring = phase["measuring"]
        began = time.perf_counter_ns()
        try:
            response = await client.request(method, path, content=body, headers=headers)
            await response.aread()
        except httpx.HTTPError as exc:
            _fail(tally, measuring, exc)
            continue
        _record(tally, phase, measuring, began, response.status_code)


def _percentile(sorted_values: list[int], fraction: float) -> float:
    """Nearest-rank percentile in milliseconds."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1] / 1e6


async def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job and return its figures (see the module docstring)."""
    concurrency = int(job["concurrency"])
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    timeout = httpx.Timeout(float(job.get("timeout_s", 30.0)))
    tally = _Tally()
    phase: dict[str, Any] = {"measuring": False, "stop": False, "start_ns": time.perf_counter_ns()}
    async with httpx.AsyncClient(base_url=job["base_url"], limits=limits, timeout=timeout) as client:
        if job.get("client", "raw") == "httpx":
            workers = [_httpx_worker(client, job, i, phase, tally) for i in range(concurrency)]
        else:
            workers = [_raw_worker(job, i, phase, tally) for i in range(concurrency)]
        tasks = [asyncio.create_task(worker) for worker in workers]
        await asyncio.sleep(float(job["warmup_s"]))
        server_cpu_0, own_cpu_0 = _process_cpu_seconds(job.get("server_pid")), _own_cpu_seconds()
        started = time.perf_counter()
        phase["measuring"] = True
        await asyncio.sleep(float(job["duration_s"]))
        phase["measuring"] = False
        elapsed = time.perf_counter() - started
        server_cpu_1, own_cpu_1 = _process_cpu_seconds(job.get("server_pid")), _own_cpu_seconds()
        phase["stop"] = True
        await asyncio.gather(*tasks)
    latencies = sorted(tally.latencies_ns)
    by_status = {}
    for status, values in sorted(tally.by_status.items()):
        values.sort()
        by_status[str(status)] = {
            "count": len(values),
            "p50_ms": _percentile(values, 0.50),
            "p99_ms": _percentile(values, 0.99),
            "max_ms": values[-1] / 1e6,
        }
    ok = sum(count for status, count in tally.statuses.items() if 200 <= status < 300)
    server_cpu = None if server_cpu_0 is None or server_cpu_1 is None else (server_cpu_1 - server_cpu_0) / elapsed
    return {
        "requests": len(latencies),
        "ok": ok,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "by_status": by_status,
        "failures": tally.failures,
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": _percentile(latencies, 0.50),
        "p90_ms": _percentile(latencies, 0.90),
        "p99_ms": _percentile(latencies, 0.99),
        "max_ms": latencies[-1] / 1e6 if latencies else float("nan"),
        "mean_ms": sum(latencies) / len(latencies) / 1e6 if latencies else float("nan"),
        "server_cpu": server_cpu,
        "loadgen_cpu": (own_cpu_1 - own_cpu_0) / elapsed,
    }


def main() -> None:
    """Read a job from stdin, run it, print the result as JSON."""
    job = json.load(sys.stdin)
    if not str(job["base_url"]).startswith("http://127.0.0.1:"):
        raise SystemExit("the load generator only talks to 127.0.0.1")
    print(json.dumps(asyncio.run(run_job(job))))


if __name__ == "__main__":
    main()
