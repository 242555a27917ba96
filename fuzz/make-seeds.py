#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target to fuzz/corpus-work/seeds/<target>/ (gitignored).

The committed corpora (fuzz/corpus/<target>/) are these seeds plus what the fuzzer found,
minimised with `cargo fuzz cmin`; see fuzz/README.md. Run from anywhere:

    python3 fuzz/make-seeds.py [--captures DIR]

Sources:
- event_reducer: every file under assets/events/ (malformed/ too) compacted to one line,
  assets/scenarios/example-lattice.jsonl whole and line by line, all fixtures as one story,
  variants of each fixture with every integer set to an extreme, and hand-written extremes.
- ctl_request: the request shapes real clients send (PROTOCOL.md section 12 and 2.5), and,
  when capture files exist (tests/fixtures/peers/*/capture.jsonl, or --captures DIR), every
  client request to wasmbus.ctl.default.* in them (absolute paths cut to file names). The
  first byte is the subject's index in fuzz/harness/ctl_request.rs SUBJECTS.
- wasm_framing: target/actors/*.wasm (scripts/build-actors.sh) whole and cut at a few points,
  plus small hand-made modules and components.
- link_values, cli_parse: hand-written.
"""

import argparse
import base64
import glob
import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus-work", "seeds")

# Must match SUBJECTS in fuzz/harness/ctl_request.rs.
CTL_SUBJECTS = [
    "ping.hosts", "auction.actor", "auction.provider", "registries.put", "get.links",
    "get.claims", "linkdefs.put", "linkdefs.del", "get.{host}.inv", "cmd.{host}.la",
    "cmd.{host}.sa", "cmd.{host}.scale", "cmd.{host}.upd", "cmd.{host}.lp", "cmd.{host}.sp",
]

U64_MAX = 18446744073709551615
I64_MIN = -9223372036854775808
I64_MAX = 9223372036854775807


def write(target, data, name=None):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = name or hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def one_line(raw):
    try:
        return json.dumps(json.loads(raw), separators=(",", ":"))
    except ValueError:
        return raw.replace("\r", " ").replace("\n", " ")


def with_ints(v, n):
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return n
    if isinstance(v, dict):
        return {k: with_ints(x, n) for k, x in v.items()}
    if isinstance(v, list):
        return [with_ints(x, n) for x in v]
    return v


def event(ty, data, source="N" + "A" * 55, id_="fuzz-1", time="2024-05-01T12:00:00Z"):
    ev = {"specversion": "1.0", "id": id_, "type": "com.wasmcloud.lattice." + ty,
          "source": source, "datacontenttype": "application/json", "data": data}
    if time is not None:
        ev["time"] = time
    return json.dumps(ev, separators=(",", ":"))


def event_reducer():
    t = "event_reducer"
    story = []
    files = sorted(glob.glob(os.path.join(ROOT, "assets", "events", "**", "*.json"), recursive=True))
    for path in files:
        raw = open(path, encoding="utf-8", errors="replace").read()
        line = one_line(raw)
        write(t, line + "\n", "asset-" + os.path.basename(path)[:-5])
        story.append(line)
        try:
            ev = json.loads(raw)
        except ValueError:
            continue
        for tag, n in [("u64max", U64_MAX), ("i64min", I64_MIN), ("zero", 0)]:
            write(t, json.dumps(with_ints(ev, n), separators=(",", ":")) + "\n",
                  "extreme-%s-%s" % (tag, os.path.basename(path)[:-5]))
    write(t, "\n".join(story) + "\n", "story-all-assets")
    scen = os.path.join(ROOT, "assets", "scenarios", "example-lattice.jsonl")
    lines = open(scen, encoding="utf-8").read().splitlines()
    write(t, "\n".join(lines) + "\n", "scenario-example-lattice")
    for i, line in enumerate(lines):
        write(t, line + "\n", "scenario-line-%02d" % i)

    key56 = "M" + "B" * 55
    host = "N" + "C" * 55
    hb = lambda actors, **kw: event("host_heartbeat", dict(
        {"actors": actors, "providers": [], "labels": {}, "friendly_name": "x"}, **kw), source=host)
    extremes = {
        # Known to wrap a sum (ActorState counts summed per host) in a debug build.
        "hb-sum-wraps": hb({"MA": U64_MAX, "MB": 1}),
        "hb-one-max": hb({"MA": U64_MAX}),
        "hb-empty-key": hb({"": 3, key56: 2}),
        "hb-uptime-max": hb({"MA": 1}, uptime_seconds=U64_MAX),
        "hb-uptime-near-max": hb({}, uptime_seconds=U64_MAX - 5),
        "hb-pre060-list": hb([{"public_key": key56, "instance_id": "i-1"},
                              {"public_key": "", "instance_id": ""}]),
        "started-uptime-max": event("host_started", {"labels": {}, "friendly_name": "",
                                                      "uptime_seconds": U64_MAX}, source=host),
        "updated-rev-min": event("actor_updated", {"public_key": key56, "revision": I64_MIN,
                                                   "instance_id": "i-1"}, source=host),
        "updated-rev-max": event("actor_updated", {"public_key": key56, "revision": I64_MAX,
                                                   "instance_id": "i-1"}, source=host),
        "updated-rev-too-big": event("actor_updated", {"public_key": key56,
                                                       "revision": 2 * I64_MAX, "instance_id": ""}),
        "started-rev-neg": event("actor_started", {"public_key": key56, "instance_id": "i-2",
                                                   "image_ref": "", "annotations": {},
                                                   "claims": {"name": "", "revision": -1}},
                                 source=host),
        "actors-started-max": event("actors_started", {"public_key": key56, "count": U64_MAX,
                                                       "image_ref": "x", "annotations": {},
                                                       "claims": {}}, source=host),
        "actors-stopped-max": event("actors_stopped", {"public_key": key56, "count": U64_MAX,
                                                       "remaining": U64_MAX, "annotations": {}},
                                    source=host),
        "empty-source": event("host_heartbeat", {"actors": {"MA": 1}, "providers": []},
                              source=""),
        "empty-id": event("host_stopped", {"labels": {}}, source=host, id_=""),
        "no-time": event("host_started", {"labels": {}}, source=host, time=None),
        "time-far-future": event("host_heartbeat", {"actors": {}, "providers": []},
                                 source=host, time="9999-12-31T23:59:59.999999Z"),
        "time-far-past": event("host_heartbeat", {"actors": {}, "providers": []},
                               source=host, time="0001-01-01T00:00:00Z"),
        "stop-then-late": "\n".join([
            event("host_heartbeat", {"actors": {"MA": 2}, "providers": []}, source=host,
                  id_="a", time="2024-05-01T12:00:10Z"),
            event("host_stopped", {"labels": {}}, source=host, id_="b",
                  time="2024-05-01T12:00:20Z"),
            event("actor_started", {"public_key": "MA", "instance_id": "i-9"}, source=host,
                  id_="c", time="2024-05-01T12:00:15Z"),
            event("host_stopped", {"labels": {}}, source=host, id_="d",
                  time="2024-05-01T12:00:05Z"),
        ]),
        "links-na": event("linkdef_set", {"actor_id": "", "provider_id": "", "contract_id": "",
                                          "link_name": "", "values": {"": ""}}, source="n/a"),
    }
    for name, text in extremes.items():
        write(t, text + "\n", name)


def ctl_request(captures):
    t = "ctl_request"
    h = "N" + "H" * 55
    m = "M" + "E" * 55
    v = "V" + "P" * 55
    shapes = [
        (0, ""), (0, "{}"),
        (1, {"actor_ref": "wasmcloud.azurecr.io/echo:0.3.4", "constraints": {}}),
        (1, {"actor_ref": "x", "constraints": {"hostcore.os": "linux"}}),
        (1, {"actor_ref": "x", "constraints": {"zone": "nowhere"}}),
        (2, {"constraints": {}, "link_name": "default",
             "provider_ref": "wasmcloud.azurecr.io/httpserver:0.17.0"}),
        (2, {"constraints": {}, "link_name": "default", "provider_ref": "builtin:httpserver"}),
        (3, {"ghcr.io": {"registryType": "oci", "username": "u", "password": "p"}}),
        (3, {"example.com": {"registryType": "bindle", "token": "t"}}), (3, {}),
        (4, ""), (5, ""),
        (6, {"actor_id": m, "provider_id": v, "contract_id": "wasmcloud:httpserver",
             "link_name": "default", "values": {"PORT": "8080"}}),
        (6, {"actor_id": m, "provider_id": v, "contract_id": "wasmcloud:keyvalue",
             "link_name": "default"}),
        (7, {"actor_id": m, "contract_id": "wasmcloud:httpserver", "link_name": "default"}),
        (8, ""),
        (9, {"actor_ref": "wasmcloud.azurecr.io/echo:0.3.4", "count": 2, "host_id": h,
             "annotations": {"app": "demo"}}),
        (9, {"actor_ref": "echo.wasm", "count": 1, "host_id": h}),
        (9, {"actor_ref": "bindle://example.com/echo/0.1.0", "count": 1, "host_id": h}),
        (10, {"actor_ref": m, "count": 2, "host_id": h}),
        (10, {"actor_ref": m, "host_id": h}),
        (11, {"actor_id": m, "actor_ref": "wasmcloud.azurecr.io/echo:0.3.4", "annotations": {},
              "count": 3, "host_id": h}),
        (11, {"actor_ref": "wasmcloud.azurecr.io/echo:0.3.4", "count": 1, "host_id": h}),
        (11, {"actor_ref": "wasmcloud.azurecr.io/echo:0.3.4", "count": None, "host_id": h}),
        (11, {"actor_ref": "wasmcloud.azurecr.io/echo:0.3.4", "count": 0, "host_id": h}),
        (12, {"actor_id": m, "host_id": h, "new_actor_ref": "wasmcloud.azurecr.io/echo:0.3.5"}),
        (13, {"host_id": h, "link_name": "default",
              "provider_ref": "wasmcloud.azurecr.io/httpserver:0.17.0", "configuration": ""}),
        (13, {"host_id": h, "link_name": "default", "provider_ref": "builtin:httpserver"}),
        (13, {"host_id": h, "link_name": "other", "provider_ref": "builtin:httpserver",
              "configuration": "{\"x\":1}", "annotations": {"a": "b"}}),
        (14, {"contract_id": "wasmcloud:httpserver", "host_id": h, "link_name": "default",
              "provider_ref": v}),
    ]
    for i, (idx, body) in enumerate(shapes):
        payload = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        write(t, bytes([idx]) + payload.encode(), "shape-%02d-%s" % (i, CTL_SUBJECTS[idx].replace("{host}.", "").replace(".", "-")))
    paths = sorted(glob.glob(os.path.join(captures, "*", "capture.jsonl"))) if captures else []
    found = 0
    for path in paths:
        peer = os.path.basename(os.path.dirname(path))
        for n, line in enumerate(open(path, encoding="utf-8")):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            subject = rec.get("subject") or ""
            prefix = "wasmbus.ctl.default."
            if not subject.startswith(prefix):
                continue
            rest = subject[len(prefix):].split(".")
            if len(rest) == 3 and rest[0] in ("cmd", "get"):
                rest[1] = "{host}"
            name = ".".join(rest)
            if name not in CTL_SUBJECTS:
                continue
            if rec.get("payload_b64") is not None:
                payload = base64.b64decode(rec["payload_b64"])
            else:
                p = rec.get("payload")
                payload = (p if isinstance(p, str) else json.dumps(p)).encode() if p is not None else b""
            write(t, bytes([CTL_SUBJECTS.index(name)]) + relative_refs(payload))
            found += 1
    print("ctl_request: %d capture files, %d client requests" % (len(paths), found), file=sys.stderr)


def relative_refs(payload):
    """Absolute paths in a captured request (the recording machine's actor files) become their
    file names: the harness skips inputs naming absolute paths, and in the fuzzer's empty
    directory a file name still takes the host down its read-the-file path (and fails)."""
    try:
        v = json.loads(payload)
    except ValueError:
        return payload

    def fix(x):
        if isinstance(x, str) and x.startswith("/"):
            return os.path.basename(x)
        if isinstance(x, list):
            return [fix(y) for y in x]
        if isinstance(x, dict):
            return {k: fix(y) for k, y in x.items()}
        return x

    fixed = fix(v)
    return payload if fixed == v else json.dumps(fixed, separators=(",", ":")).encode()


def leb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def section(id_, payload):
    return bytes([id_]) + leb(len(payload)) + payload


def wasm_framing():
    t = "wasm_framing"
    module = b"\0asm\x01\0\0\0"
    component = b"\0asm\x0d\0\x01\0"
    custom = section(0, b"\x04name" + b"\0\0")
    typ = section(1, b"\x01\x60\0\0")            # one type: () -> ()
    func = section(3, b"\x01\0")
    code = section(10, b"\x01\x02\0\x0b")       # one body: no locals, end
    small = {
        "empty": b"",
        "magic-only": b"\0asm",
        "module-empty": module,
        "component-empty": component,
        "module-custom": module + custom,
        "module-func": module + typ + func + code,
        "module-func-no-code": module + typ + func,
        "module-out-of-order": module + func + typ,
        "module-padded-leb": module + bytes([0, 0x80, 0x80, 0x80, 0x80, 0]),
        "module-leb-too-long": module + bytes([0, 0x80, 0x80, 0x80, 0x80, 0x80]),
        "module-leb-too-big": module + bytes([0, 0xff, 0xff, 0xff, 0xff, 0x1f]),
        "module-high-id": module + section(0x80, b""),
        "module-magic-as-section": module + b"\0asm" + b"\0" * 93,
        "component-nested": component + section(1, module + custom) + section(4, component),
        "version-2": b"\0asm\x02\0\0\0" + custom,
        "not-wasm": b"\x7fELF\x02\x01\x01\0",
    }
    for name, data in small.items():
        write(t, data, name)
    for path in sorted(glob.glob(os.path.join(ROOT, "target", "actors", "*.wasm"))):
        data = open(path, "rb").read()
        base = os.path.basename(path)[:-5]
        write(t, data, "actor-" + base)
        for cut in (9, 12, 64, 1000, len(data) // 2, len(data) - 1):
            if 0 < cut < len(data):
                write(t, data[:cut], "actor-%s-cut%d" % (base, cut))


def link_values():
    t = "link_values"
    for i, text in enumerate([
        "", "PORT=8080", "port=0", "ADDRESS=0.0.0.0:9000\nPATH=/api/",
        "address=[::1]:9000\nport=9000", "ADDRESS=127.0.0.1:80\nPORT=81",
        "PATH=/.well-known/lattice/x", "path=api", "path=/a b", "path=/a?b", "Path=////",
        "ADDRESS=[fe80::1%2]:8080", "ADDRESS= 10.0.0.1:1 ", "PORT=65536", "PORT=-1",
        "ADDRESS=localhost:80", "PORT=80\nport=81\nPort=82", "other=value\nPATH=/x/",
    ]):
        write(t, text, "seed-%02d" % i)


def cli_parse():
    t = "cli_parse"
    for i, text in enumerate([
        "10s", "500ms", "2m", "1.5", "0", ".5s", "1min", "10 s", "1e3", "inf", "NaN",
        "18446744073709551616", "99999999999999999999s", "0.0000000001ms", "1.2.3",
        "268435456", "256MiB", "64KiB", "1GiB", "17179869184G", "16K", "5 MiB", "-1", "",
    ]):
        write(t, text, "seed-%02d" % i)
    write(t, (2**53).to_bytes(8, "little"), "n-2p53")
    write(t, U64_MAX.to_bytes(8, "little"), "n-max")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--captures", default=os.path.join(ROOT, "tests", "fixtures", "peers"))
    args = ap.parse_args()
    event_reducer()
    ctl_request(args.captures)
    wasm_framing()
    link_values()
    cli_parse()
    for target in sorted(os.listdir(OUT)):
        print("%s: %d seeds" % (target, len(os.listdir(os.path.join(OUT, target)))), file=sys.stderr)


if __name__ == "__main__":
    main()
