"""Latency of signed Zoom webhook deliveries against a running service, next to /healthz.

Zoom gives a webhook 3 seconds. This posts N signed participant events (join/leave pairs for
distinct participants of one webinar) and N plain /healthz requests to the same server and
prints latency percentiles of both, and their ratio.

    TRACKER_ZOOM_WEBHOOK_SECRET=s tracker serve --port 8097 &
    python bench/zoom_webhook.py --url http://127.0.0.1:8097 --secret s --webinar 81234567890
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import time
from datetime import UTC, datetime, timedelta

import aiohttp


def _signed(secret: str, payload: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    digest = hmac.new(
        secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256
    ).hexdigest()
    return body, {
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": "v0=" + digest,
        "Content-Type": "application/json",
    }


def _event(kind: str, webinar: str, n: int, at: datetime) -> dict[str, object]:
    field = "join_time" if kind == "joined" else "leave_time"
    return {
        "event": f"webinar.participant_{kind}",
        "payload": {
            "object": {
                "id": webinar,
                "uuid": "bench==",
                "participant": {
                    "email": f"bench{n}@example.org",
                    "participant_uuid": f"bench-{n}",
                    field: at.isoformat().replace("+00:00", "Z"),
                },
            }
        },
    }


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms  max {ordered[-1] * 1000:7.2f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8097")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--webinar", default="81234567890")
    parser.add_argument("-n", type=int, default=200)
    args = parser.parse_args()
    now = datetime.now(UTC)
    async with aiohttp.ClientSession() as http:
        baseline: list[float] = []
        for _ in range(args.n):
            started = time.perf_counter()
            async with http.get(f"{args.url}/healthz") as response:
                await response.read()
            baseline.append(time.perf_counter() - started)
        webhook: list[float] = []
        for n in range(args.n):
            kind = "joined" if n % 2 == 0 else "left"
            body, headers = _signed(
                args.secret, _event(kind, args.webinar, n // 2, now - timedelta(minutes=30 - n % 2))
            )
            started = time.perf_counter()
            async with http.post(
                f"{args.url}/webhooks/zoom", data=body, headers=headers
            ) as response:
                await response.read()
                assert response.status == 200, response.status
            webhook.append(time.perf_counter() - started)
    print(f"/healthz (baseline)  {_percentiles(baseline)}")
    print(f"/webhooks/zoom       {_percentiles(webhook)}")
    print(
        f"ratio of medians     {statistics.median(webhook) / statistics.median(baseline):.1f}x; Zoom's limit is 3000 ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
