#!/usr/bin/env python3
"""Soak hot-reload driver: replaces the file a `lattice-tui dev` host serves, alternately
with two components, N times spread evenly over a time span, and confirms each reload on
the host's `GET /.well-known/lattice/info` (the route's digest and revision).

Each replacement is written the way cargo writes artifacts: a temporary copy in the same
directory, then an atomic rename over the served file. The driver then polls the info
endpoint until the route serves the new bytes (digest = SHA-256 of the file) with a higher
revision, or --confirm-timeout passes; the next replacement waits for that, so the host is
never given two versions inside one debounce window and every replacement should be one
reload. Reloads that fall behind the schedule are made as soon as possible.

Writes a JSON report (--out) with one record per reload (wall-clock write time, confirm time,
revision) - soak.sh uses the time windows to tell HTTP errors during reloads from the rest.
"""

import argparse
import hashlib
import json
import os
import shutil
import signal
import sys
import time
import urllib.request


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def route(info_url, actor_path):
    """(revision, digest) of the route on "/" (the served actor's), or None."""
    try:
        with urllib.request.urlopen(info_url, timeout=2.0) as r:
            doc = json.loads(r.read())
    except Exception:  # noqa: BLE001 - a failed poll is just retried
        return None
    for rt in doc.get("routes", []):
        if rt.get("path") == "/":
            return rt.get("revision"), rt.get("digest")
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--file", required=True, help="the served file (replaced)")
    p.add_argument("--a", required=True, help="component written on odd reloads (2nd, 4th, ...)")
    p.add_argument("--b", required=True, help="component written on even reloads (1st, 3rd, ...)")
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--span", type=float, required=True, help="seconds to spread the reloads over")
    p.add_argument("--info", required=True, help="URL of /.well-known/lattice/info")
    p.add_argument("--confirm-timeout", type=float, default=15.0)
    p.add_argument("--out", required=True)
    a = p.parse_args()

    versions = [(a.b, digest(a.b)), (a.a, digest(a.a))]
    if versions[0][1] == versions[1][1]:
        sys.exit("reloader: the two components are identical; a reload would not change anything")
    directory = os.path.dirname(os.path.abspath(a.file))
    tmp = os.path.join(directory, f".{os.path.basename(a.file)}.soak-{os.getpid()}")

    start = route(a.info, a.file)
    if start is None:
        sys.exit(f"reloader: no route on / at {a.info}")
    revision = start[0]
    records = []
    t0 = time.monotonic()
    interval = a.span / max(1, a.count)
    interrupted = False

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        revision = run(a, versions, tmp, records, revision, t0, interval)
    except KeyboardInterrupt:
        interrupted = True
        revision = max([revision] + [r["revision"] for r in records if r.get("revision") is not None])
    report(a, records, start, revision, t0, interrupted)


def run(a, versions, tmp, records, revision, t0, interval):
    for i in range(a.count):
        due = t0 + (i + 0.5) * interval
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        src, want = versions[i % 2]
        shutil.copyfile(src, tmp)
        written = time.time()
        os.replace(tmp, a.file)
        rec = {"i": i + 1, "file": os.path.basename(src), "written": written}
        deadline = time.monotonic() + a.confirm_timeout
        while True:
            r = route(a.info, a.file)
            if r is not None and r[1] == want and r[0] is not None and r[0] > revision:
                rec["confirmed"] = time.time()
                rec["revision"] = r[0]
                rec["ms"] = round((rec["confirmed"] - written) * 1e3, 1)
                if r[0] != revision + 1:
                    rec["note"] = f"revision jumped from {revision} to {r[0]}"
                revision = r[0]
                break
            if time.monotonic() >= deadline:
                rec["confirmed"] = None
                rec["seen"] = r
                break
            time.sleep(0.02)
        records.append(rec)
    return revision


def report(a, records, start, revision, t0, interrupted):
    confirmed = [r for r in records if r.get("confirmed")]
    ms = sorted(r["ms"] for r in confirmed)
    report = {
        "requested": a.count,
        "interrupted": interrupted,
        "confirmed": len(confirmed),
        "unconfirmed": [r for r in records if not r.get("confirmed")][:20],
        "start_revision": start[0],
        "end_revision": revision,
        "write_to_serving_ms": {
            "p50": ms[len(ms) // 2] if ms else None,
            "p99": ms[min(len(ms) - 1, int(0.99 * len(ms)))] if ms else None,
            "max": ms[-1] if ms else None,
        },
        "elapsed_s": round(time.monotonic() - t0, 1),
        "records": records,
    }
    with open(a.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"reloader: {len(confirmed)}/{a.count} reloads confirmed, revision {start[0]} -> {revision}, "
          f"write->serving p50 {report['write_to_serving_ms']['p50']} ms max {report['write_to_serving_ms']['max']} ms",
          flush=True)


if __name__ == "__main__":
    main()
