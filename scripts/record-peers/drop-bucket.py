#!/usr/bin/env python3
"""Deletes the lattice bucket's stream (KV_LATTICEDATA_{lattice}) so that a control-interface
0.27/0.28 client started afterwards falls back to its legacy request/reply subjects
(linkdefs.put / linkdefs.del / get.links / get.claims).

Usage: drop-bucket.py NATS_URL [LATTICE]
"""
import asyncio
import sys

import nats


async def main(url: str, lattice: str) -> None:
    nc = await nats.connect(url, name="drop-bucket")
    msg = await nc.request(f"$JS.API.STREAM.DELETE.KV_LATTICEDATA_{lattice}", b"", timeout=5)
    print(msg.data.decode())
    await nc.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "default"))
