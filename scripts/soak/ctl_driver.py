#!/usr/bin/env python3
"""Soak control-interface driver: a real NATS client (nats-py) sending a fixed mix of
control operations to one lattice-tui host, spread evenly over a time span.

The mix is built from rounds of ten operations, so every round leaves the host where it
found it (second actor stopped, extra link gone; scale counts cycle 2 3 4 5 4 3 2 1):

    0 ping.hosts            5 get.links
    1 cmd.{host}.scale      6 get.claims
    2 cmd.{host}.la second  7 linkdefs.del (second actor -> built-in provider, 2nd port)
    3 get.{host}.inv        8 cmd.{host}.sa second (count 0 = all)
    4 linkdefs.put          9 cmd.{host}.scale

Each operation is a request with a 2 s timeout (control-interface 0.28's default) and is
counted as accepted (an ack with accepted=true, or a query reply of the right shape),
refused (accepted=false or a malformed reply; the error text is kept) or timeout.

Because commands are acked before they are carried out, the driver also follows
`wasmbus.evt.{lattice}` and waits (bounded) for each command's outcome before the operations
that depend on it, like a careful client would: `sa` only after the `la` it stops has produced
`actor_started`, and each `scale` until the instance count it asked for is reached. After
`linkdefs.put` it checks that the second port serves the second actor, and after
`linkdefs.del` that it stops doing so. None of those waits is an operation of the count.

Writes a JSON report (--out) and prints a one-line summary.
"""

import argparse
import asyncio
import collections
import json
import signal
import sys
import time
import urllib.error
import urllib.request

try:
    import nats
    from nats.errors import NoRespondersError, TimeoutError as NatsTimeout
except ImportError:  # pragma: no cover - soak.sh installs it
    sys.stderr.write("ctl_driver: the nats-py package is missing (pip install nats-py)\n")
    sys.exit(3)

HTTP_CONTRACT = "wasmcloud:httpserver"
REQUEST_TIMEOUT = 2.0
SCALE_CYCLE = [2, 3, 4, 5, 4, 3, 2, 1]
ROUND = ["ping", "scale", "la", "inv", "put", "links", "claims", "del", "sa", "scale"]


def now():
    return time.monotonic()


class Driver:
    def __init__(self, args):
        self.a = args
        self.ctl = f"wasmbus.ctl.{args.lattice}"
        self.nc = None
        self.host = None
        self.served_pk = None
        self.provider = None
        self.second_pk = None
        self.counts = collections.defaultdict(lambda: collections.Counter())
        self.latency = collections.defaultdict(list)
        self.refusals = []  # (op, text), first few
        self.events = collections.Counter()
        self.failure_events = []
        self.checks = collections.Counter()
        self.check_notes = []
        # state from events
        self.served_instances = None
        self.second_running = asyncio.Event()
        self.second_outcome = None
        self.instance_change = asyncio.Event()
        self.scale_index = 0
        self.link_present = False

    # ---- events -------------------------------------------------------------------------
    async def on_event(self, msg):
        try:
            ev = json.loads(msg.data)
            kind = ev.get("type", "?").rsplit(".", 1)[-1]
            data = ev.get("data") or {}
        except Exception:  # noqa: BLE001 - count, never die on input
            self.events["<undecodable>"] += 1
            return
        self.events[kind] += 1
        if kind.endswith("failed") and len(self.failure_events) < 50:
            self.failure_events.append({"type": kind, "data": data})
        pk = data.get("public_key")
        if kind == "actor_started":
            if pk and pk == self.served_pk and self.served_instances is not None:
                self.served_instances += 1
                self.instance_change.set()
            if data.get("image_ref") == self.a.second_ref:
                self.second_pk = pk
                self.second_outcome = "started"
                self.second_running.set()
        elif kind == "actor_stopped":
            if pk and pk == self.served_pk and self.served_instances is not None:
                self.served_instances -= 1
                self.instance_change.set()
        elif kind == "actor_start_failed":
            if data.get("actor_ref") == self.a.second_ref or data.get("image_ref") == self.a.second_ref:
                self.second_outcome = "start_failed: " + str(data.get("error"))
                self.second_running.set()

    # ---- requests -----------------------------------------------------------------------
    async def request(self, op, subject, body, check):
        payload = b"" if body is None else json.dumps(body).encode()
        t = now()
        try:
            msg = await self.nc.request(subject, payload, timeout=REQUEST_TIMEOUT)
        except (NatsTimeout, asyncio.TimeoutError):
            self.counts[op]["timeout"] += 1
            return None
        except NoRespondersError:
            self.counts[op]["no_responders"] += 1
            return None
        self.latency[op].append(now() - t)
        try:
            reply = json.loads(msg.data)
        except ValueError:
            reply = None
        problem = check(reply)
        if problem is None:
            self.counts[op]["accepted"] += 1
            return reply
        self.counts[op]["refused"] += 1
        if len(self.refusals) < 40:
            self.refusals.append({"op": op, "at_s": round(now() - self.t0, 2), "error": problem})
        return None

    @staticmethod
    def ack(reply):
        if not isinstance(reply, dict):
            return f"not an ack: {reply!r}"[:300]
        if reply.get("accepted") is True:
            return None
        return "refused: " + str(reply.get("error"))[:300]

    async def ping(self):
        def check(r):
            if isinstance(r, dict) and r.get("id") == self.host:
                return None
            return f"unexpected ping reply: {r!r}"[:300]

        await self.request("ping.hosts", f"{self.ctl}.ping.hosts", None, check)

    async def inv(self):
        def check(r):
            if isinstance(r, dict) and r.get("host_id") == self.host and isinstance(r.get("actors"), list):
                return None
            return f"unexpected inventory: {r!r}"[:300]

        return await self.request("get.inv", f"{self.ctl}.get.{self.host}.inv", None, check)

    async def links(self):
        def check(r):
            return None if isinstance(r, dict) and isinstance(r.get("links"), list) else f"bad links reply: {r!r}"[:300]

        return await self.request("get.links", f"{self.ctl}.get.links", None, check)

    async def claims(self):
        def check(r):
            return None if isinstance(r, dict) and isinstance(r.get("claims"), list) else f"bad claims reply: {r!r}"[:300]

        await self.request("get.claims", f"{self.ctl}.get.claims", None, check)

    async def scale(self):
        n = SCALE_CYCLE[self.scale_index % len(SCALE_CYCLE)]
        self.scale_index += 1
        body = {"actor_id": self.served_pk, "actor_ref": self.a.served_ref, "count": n,
                "host_id": self.host, "annotations": {}}
        self.instance_change.clear()
        reply = await self.request("cmd.scale", f"{self.ctl}.cmd.{self.host}.scale", body, self.ack)
        if reply is None:
            return
        deadline = now() + self.a.settle_timeout
        while self.served_instances != n and now() < deadline:
            self.instance_change.clear()
            try:
                await asyncio.wait_for(self.instance_change.wait(), max(0.01, deadline - now()))
            except asyncio.TimeoutError:
                break
        if self.served_instances == n:
            self.checks["scale_reached"] += 1
        else:
            self.checks["scale_not_reached"] += 1
            # Resync from the inventory (not an operation of the count) so that one lost
            # event does not fail every later scale.
            seen = None
            try:
                msg = await self.nc.request(f"{self.ctl}.get.{self.host}.inv", b"", timeout=REQUEST_TIMEOUT)
                for a in json.loads(msg.data).get("actors", []):
                    if a.get("id") == self.served_pk:
                        seen = len(a.get("instances", []))
            except Exception:  # noqa: BLE001
                pass
            self.note(f"scale to {n}: events say {self.served_instances} instances after "
                      f"{self.a.settle_timeout}s, the inventory {seen}")
            if seen is not None:
                self.served_instances = seen

    async def la(self):
        self.second_running.clear()
        self.second_outcome = None
        body = {"actor_ref": self.a.second_ref, "count": 1, "host_id": self.host, "annotations": {}}
        reply = await self.request("cmd.la", f"{self.ctl}.cmd.{self.host}.la", body, self.ack)
        if reply is None:
            return
        try:
            await asyncio.wait_for(self.second_running.wait(), self.a.settle_timeout)
        except asyncio.TimeoutError:
            pass
        if self.second_outcome == "started":
            self.checks["la_started"] += 1
        else:
            self.checks["la_not_started"] += 1
            self.note(f"la of the second actor: {self.second_outcome or 'no actor_started within %ss' % self.a.settle_timeout}")

    async def sa(self):
        if not self.second_running.is_set() or self.second_outcome != "started" or not self.second_pk:
            self.checks["sa_skipped_not_running"] += 1
            return
        body = {"actor_ref": self.second_pk, "count": 0, "host_id": self.host}
        reply = await self.request("cmd.sa", f"{self.ctl}.cmd.{self.host}.sa", body, self.ack)
        if reply is not None:
            self.second_running.clear()
            self.second_outcome = None

    def link_body(self):
        return {"actor_id": self.second_pk, "provider_id": self.provider, "contract_id": HTTP_CONTRACT,
                "link_name": "default", "values": {"address": f"127.0.0.1:{self.a.link_port}"}}

    async def put(self):
        if not self.second_pk:
            self.checks["put_skipped_no_second_pk"] += 1
            return
        reply = await self.request("linkdefs.put", f"{self.ctl}.linkdefs.put", self.link_body(), self.ack)
        self.link_present = self.link_present or reply is not None
        if reply is not None and self.second_outcome == "started":
            ok = await self.probe(expect_serving=True)
            self.checks["link_served" if ok else "link_not_served"] += 1
            if not ok:
                self.note(f"after linkdefs.put, 127.0.0.1:{self.a.link_port} did not serve the second actor within {self.a.probe_timeout}s")

    async def delete(self):
        if not self.second_pk:
            self.checks["del_skipped_no_second_pk"] += 1
            return
        body = {"actor_id": self.second_pk, "contract_id": HTTP_CONTRACT, "link_name": "default"}
        reply = await self.request("linkdefs.del", f"{self.ctl}.linkdefs.del", body, self.ack)
        if reply is not None:
            self.link_present = False
            ok = await self.probe(expect_serving=False)
            self.checks["link_removed" if ok else "link_still_served"] += 1
            if not ok:
                self.note(f"after linkdefs.del, 127.0.0.1:{self.a.link_port} still served within {self.a.probe_timeout}s")

    async def probe(self, expect_serving):
        url = f"http://127.0.0.1:{self.a.link_port}/soak-probe"

        def get():
            try:
                with urllib.request.urlopen(url, timeout=1.0) as r:
                    return r.status, r.headers.get("x-echo-path")
            except urllib.error.HTTPError as e:
                return e.code, None
            except Exception:  # noqa: BLE001 - connection refused, reset, timeout
                return None, None

        deadline = now() + self.a.probe_timeout
        while True:
            status, echo_path = await asyncio.to_thread(get)
            serving = status == 200 and echo_path == "/soak-probe"
            if serving == expect_serving:
                return True
            if now() >= deadline:
                return False
            await asyncio.sleep(0.05)

    def note(self, text):
        if len(self.check_notes) < 40:
            self.check_notes.append({"at_s": round(now() - self.t0, 2), "note": text})

    # ---- main ---------------------------------------------------------------------------
    async def discover(self):
        deadline = now() + 60
        while now() < deadline:
            try:
                msg = await self.nc.request(f"{self.ctl}.ping.hosts", b"", timeout=REQUEST_TIMEOUT)
                self.host = json.loads(msg.data)["id"]
                break
            except Exception:  # noqa: BLE001 - not up yet
                await asyncio.sleep(0.5)
        if not self.host:
            raise SystemExit("ctl_driver: no host answered ping.hosts within 60 s")
        msg = await self.nc.request(f"{self.ctl}.get.{self.host}.inv", b"", timeout=REQUEST_TIMEOUT)
        inv = json.loads(msg.data)
        for a in inv.get("actors", []):
            if a.get("image_ref") == self.a.served_ref:
                self.served_pk = a["id"]
                self.served_instances = len(a.get("instances", []))
        for p in inv.get("providers", []):
            if p.get("contract_id") == HTTP_CONTRACT or p.get("image_ref") == "builtin:httpserver":
                self.provider = p["id"]
        if not self.served_pk or not self.provider:
            raise SystemExit(f"ctl_driver: served actor or built-in provider missing from the inventory: {inv}")
        # Start from the state the rounds assume: one served instance.
        if self.served_instances != 1:
            raise SystemExit(f"ctl_driver: expected 1 instance of the served actor, found {self.served_instances}")

    async def restore(self):
        async def send(verb_subject, body):
            try:
                await self.nc.request(verb_subject, json.dumps(body).encode(), timeout=REQUEST_TIMEOUT)
            except Exception as e:  # noqa: BLE001
                self.note(f"restore: {verb_subject}: {e!r}")

        if self.link_present and self.second_pk:
            await send(f"{self.ctl}.linkdefs.del",
                       {"actor_id": self.second_pk, "contract_id": HTTP_CONTRACT, "link_name": "default"})
        if self.second_running.is_set() and self.second_outcome == "started" and self.second_pk:
            await send(f"{self.ctl}.cmd.{self.host}.sa", {"actor_ref": self.second_pk, "count": 0})
        if self.served_instances != 1:
            await send(f"{self.ctl}.cmd.{self.host}.scale",
                       {"actor_id": self.served_pk, "actor_ref": self.a.served_ref, "count": 1})

    async def final_check(self):
        await asyncio.sleep(1.0)
        result = {"ok": True, "problems": []}
        try:
            msg = await self.nc.request(f"{self.ctl}.get.{self.host}.inv", b"", timeout=REQUEST_TIMEOUT)
            inv = json.loads(msg.data)
            links = json.loads((await self.nc.request(f"{self.ctl}.get.links", b"", timeout=REQUEST_TIMEOUT)).data)
        except Exception as e:  # noqa: BLE001
            return {"ok": False, "problems": [f"final queries failed: {e!r}"]}
        actors = {a["id"]: a for a in inv.get("actors", [])}
        served = actors.get(self.served_pk)
        n = len(served["instances"]) if served else 0
        if n != 1:
            result["problems"].append(f"served actor has {n} instances at the end, expected 1")
        if self.second_pk and self.second_pk in actors:
            result["problems"].append("the second actor still runs at the end")
        extra = [l for l in links.get("links", []) if l.get("actor_id") != self.served_pk]
        if extra:
            result["problems"].append(f"links left at the end: {extra}")
        result["served_instances"] = n
        result["actors"] = len(actors)
        result["links"] = len(links.get("links", []))
        result["ok"] = not result["problems"]
        return result

    async def run(self):
        self.nc = await nats.connect(self.a.nats, name="lattice-tui-soak-driver", connect_timeout=5,
                                     max_reconnect_attempts=-1)
        await self.nc.subscribe(f"wasmbus.evt.{self.a.lattice}", cb=self.on_event)
        await self.nc.flush()
        await self.discover()
        ops = {"ping": self.ping, "scale": self.scale, "la": self.la, "inv": self.inv, "put": self.put,
               "links": self.links, "claims": self.claims, "del": self.delete, "sa": self.sa}
        self.t0 = now()
        interval = self.a.span / max(1, self.a.ops)
        behind_max = 0.0
        interrupted = False
        task = asyncio.current_task()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            for i in range(self.a.ops):
                due = self.t0 + i * interval
                wait = due - now()
                if wait > 0:
                    await asyncio.sleep(wait)
                else:
                    behind_max = max(behind_max, -wait)
                await ops[ROUND[i % len(ROUND)]]()
            # Leave the host as found whatever the rounds did (only needed when --ops is not a
            # multiple of 40; not counted as operations).
            await self.restore()
            elapsed = now() - self.t0
            final = await self.final_check()
            await self.nc.drain()
        except asyncio.CancelledError:
            # Stopped (SIGTERM from soak.sh): report what was done.
            interrupted = True
            elapsed = now() - self.t0
            final = {"ok": False, "problems": ["the driver was stopped before it finished"]}
        totals = collections.Counter()
        for c in self.counts.values():
            totals.update(c)
        lat = sorted(x for v in self.latency.values() for x in v)

        def pct(p):
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1e3, 1) if lat else None

        report = {
            "ops_planned": self.a.ops,
            "ops_sent": sum(totals.values()),
            "interrupted": interrupted,
            "elapsed_s": round(elapsed, 1),
            "max_behind_schedule_s": round(behind_max, 2),
            "totals": dict(totals),
            "by_op": {k: dict(v) for k, v in sorted(self.counts.items())},
            "reply_ms": {"p50": pct(0.5), "p99": pct(0.99), "max": round(lat[-1] * 1e3, 1) if lat else None},
            "refusals": self.refusals,
            "checks": dict(self.checks),
            "check_notes": self.check_notes,
            "events": dict(self.events),
            "failure_events": self.failure_events,
            "final_state": final,
            "host_id": self.host,
            "served_actor": self.served_pk,
            "second_actor": self.second_pk,
            "provider": self.provider,
        }
        with open(self.a.out, "w") as f:
            json.dump(report, f, indent=1)
        print(f"ctl_driver: {report['ops_sent']} ops in {report['elapsed_s']} s: {dict(totals)}; checks {dict(self.checks)}",
              flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nats", required=True)
    p.add_argument("--lattice", required=True)
    p.add_argument("--served-ref", required=True, help="the served actor's reference as the host started it")
    p.add_argument("--second-ref", required=True, help="a file under --allow-file-load to la / sa")
    p.add_argument("--link-port", type=int, required=True, help="port of the second link's address")
    p.add_argument("--ops", type=int, default=1000)
    p.add_argument("--span", type=float, required=True, help="seconds to spread the operations over")
    p.add_argument("--settle-timeout", type=float, default=10.0)
    p.add_argument("--probe-timeout", type=float, default=5.0)
    p.add_argument("--out", required=True)
    asyncio.run(Driver(p.parse_args()).run())


if __name__ == "__main__":
    main()
