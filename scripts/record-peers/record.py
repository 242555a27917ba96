#!/usr/bin/env python3
"""Wire recorder: subscribes to `>` on a NATS server and writes every message as one JSON line.

Usage: record.py NATS_URL OUT.jsonl

Speaks the NATS client protocol itself (no client library) so that what is written is what the
server delivered: a message without a header block (MSG) has `"headers": null`, one with a header
block (HMSG) has an object, even an empty one, and `headers_raw` keeps the block byte for byte.

Each line:
  seq          1-based order of arrival at the recorder
  t_ms         milliseconds since the subscription was confirmed
  subject      subject of the message
  reply        reply subject or null
  headers      null (no header block) or an object: header name -> value (a list when the name is
               repeated); a status line `NATS/1.0 100 Idle Heartbeat` gives "Status": "100" and
               "Description": "Idle Heartbeat" (as nats.go / nats-py report it)
  headers_raw  the header block as text (only when there is one)
  payload      the payload as text if it is valid UTF-8, else null
  payload_b64  the payload, base64 (always present)
The file is flushed after every line, so `wc -l OUT.jsonl` is the last seq written.
Prints `recording` once subscribed; stops on SIGTERM/SIGINT.
"""
import asyncio
import base64
import json
import signal
import sys
import time
from urllib.parse import urlparse


def parse_headers(block: bytes):
    text = block.decode("utf-8", errors="replace")
    lines = text.split("\r\n")
    first = lines[0]  # NATS/1.0[ status[ description]]
    out = {}
    rest = first[len("NATS/1.0"):].strip()
    if rest:
        status, _, desc = rest.partition(" ")
        out["Status"] = status
        if desc:
            out["Description"] = desc
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        value = value.strip()
        if name in out:
            prev = out[name]
            out[name] = (prev if isinstance(prev, list) else [prev]) + [value]
        else:
            out[name] = value
    return out, text


async def main(url: str, out_path: str) -> None:
    u = urlparse(url)
    reader, writer = await asyncio.open_connection(u.hostname or "127.0.0.1", u.port or 4222)
    info = await reader.readline()
    if not info.startswith(b"INFO "):
        raise SystemExit(f"unexpected greeting {info!r}")
    connect = {
        "verbose": False,
        "pedantic": False,
        "headers": True,
        "no_responders": False,
        "name": "wire-recorder",
        "lang": "python-raw",
        "version": "1",
        "protocol": 1,
    }
    writer.write(b"CONNECT " + json.dumps(connect).encode() + b"\r\nSUB > 1\r\nPING\r\n")
    await writer.drain()
    out = open(out_path, "w", encoding="utf-8")
    seq = 0
    t0 = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)

    async def read_loop():
        nonlocal seq, t0
        while True:
            line = await reader.readline()
            if not line:
                return
            line = line.rstrip(b"\r\n")
            if line == b"PING":
                writer.write(b"PONG\r\n")
                await writer.drain()
                continue
            if line == b"PONG":
                if t0 is None:
                    t0 = time.monotonic()
                    print("recording", flush=True)
                continue
            if line.startswith(b"+OK") or line.startswith(b"INFO "):
                continue
            if line.startswith(b"-ERR"):
                print(line.decode(errors="replace"), file=sys.stderr, flush=True)
                continue
            parts = line.split(b" ")
            op = parts[0]
            if op == b"MSG":
                # MSG subject sid [reply] size
                subject = parts[1]
                reply = parts[3] if len(parts) == 5 else None
                size = int(parts[-1])
                hsize = 0
            elif op == b"HMSG":
                # HMSG subject sid [reply] hdr_size total_size
                subject = parts[1]
                reply = parts[3] if len(parts) == 6 else None
                hsize = int(parts[-2])
                size = int(parts[-1])
            else:
                print(f"unexpected line {line!r}", file=sys.stderr, flush=True)
                continue
            body = await reader.readexactly(size + 2)
            body = body[:size]
            headers = None
            headers_raw = None
            if op == b"HMSG":
                headers, headers_raw = parse_headers(body[:hsize])
                body = body[hsize:]
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            seq += 1
            rec = {
                "seq": seq,
                "t_ms": int((time.monotonic() - (t0 or time.monotonic())) * 1000),
                "subject": subject.decode("utf-8", errors="replace"),
                "reply": reply.decode("utf-8", errors="replace") if reply else None,
                "headers": headers,
            }
            if headers_raw is not None:
                rec["headers_raw"] = headers_raw
            rec["payload"] = text
            rec["payload_b64"] = base64.b64encode(body).decode("ascii")
            out.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
            out.flush()

    task = asyncio.create_task(read_loop())
    done, _ = await asyncio.wait(
        [task, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    if task not in done:
        # Let what is already buffered arrive, then stop.
        writer.write(b"UNSUB 1\r\nPING\r\n")
        await writer.drain()
        await asyncio.sleep(0.3)
        task.cancel()
    out.close()
    writer.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
