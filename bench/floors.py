"""Floors that are not HTTP servers: the raw event path and raw webhook POSTs.

* Event latency floor: an aiokafka producer (``acks=all``, idempotent, as the outbox relay
  produces) sends a message; an aiokafka consumer already polling the topic receives it and
  makes one signed httpx POST of it to the sink. Latency = sink arrival − moment of sending.
* Delivery floor: signed httpx POSTs to the same sink from ``concurrency`` workers, the
  notifier's own send concurrency (its claimed batch is sent with one ``gather``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from gov_common.signing import signature_headers


def _signed(secret: str, message: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(message)
    signed = signature_headers(
        [secret], msg_id=str(message.get("bench_id") or uuid.uuid4()), body=body
    )
    headers = {"Content-Type": "application/cloudevents+json", **signed}
    return body, headers


async def event_floor(
    *, bootstrap: str, topic: str, sink_url: str, secret: str, samples: int, rate: float
) -> dict[str, float]:
    """Send ``samples`` messages at ``rate``; returns bench_id → time.time() sent."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=0
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"{topic}.floor",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    sent: dict[str, float] = {}
    await producer.start()
    await consumer.start()
    http = httpx.AsyncClient(timeout=30)
    try:
        received = asyncio.Event()
        expected = samples + 1  # and one warm-up message that creates the topic
        seen = 0

        async def consume() -> None:
            nonlocal seen
            async for record in consumer:
                body, headers = _signed(secret, orjson.loads(record.value))
                await http.post(sink_url, content=body, headers=headers)
                await consumer.commit()
                seen += 1
                if seen >= expected:
                    received.set()
                    return

        consuming = asyncio.create_task(consume())
        warmup = {"bench_id": f"floor-warmup-{uuid.uuid4().hex}", "data": {}}
        await producer.send_and_wait(topic, orjson.dumps(warmup), key=b"warmup")
        await asyncio.sleep(2)  # the consumer has its partitions and has read the warm-up
        start = time.perf_counter()
        for i in range(samples):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            key = f"floor-{uuid.uuid4()}"
            sent[key] = time.time()
            message = {"bench_id": key, "type": "bench.floor", "data": {"n": i}}
            await producer.send_and_wait(topic, orjson.dumps(message), key=key.encode())
        async with asyncio.timeout(120):
            await received.wait()
        await consuming
    finally:
        await http.aclose()
        await consumer.stop()
        await producer.stop()
    return sent


async def delivery_floor(
    *, sink_url: str, secret: str, count: int, concurrency: int, body_size: int
) -> dict[str, Any]:
    """``count`` signed POSTs of a webhook-sized body from ``concurrency`` workers."""
    padding = "x" * max(0, body_size - 120)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    failures = 0
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:

        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                i = queue.get_nowait()
                body, headers = _signed(
                    secret, {"bench_id": f"delivery-{i}-{uuid.uuid4().hex}", "pad": padding}
                )
                response = await http.post(sink_url, content=body, headers=headers)
                failures += response.status_code != 200

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        took = time.perf_counter() - start
    return {"count": count, "seconds": round(took, 3), "per_s": round(count / took, 1),
            "failures": failures}  # fmt: skip
