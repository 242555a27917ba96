#!/usr/bin/env python3
"""Soak summary: reads what soak.sh and its drivers wrote in the output directory, prints the
summary, writes soak-summary.txt and soak-summary.json next to it, and exits 1 when a goal
or check is missed (0 otherwise).

Goals (from the soak brief): RSS growth start->end <= --rss-growth-pct, open fds flat
(end <= start + --fd-tolerance). Checks: the host lived until it was stopped and exited 0 on
SIGTERM; no HTTP error at all (wrk's socket errors plus every non-2xx response; non-2xx are
split into those within a second of a reload window and the rest, socket errors only exist as
totals); every reload was done (the host's "actor reloaded" log lines, the route's revision on
/.well-known/lattice/info, and the reload driver's confirmations all equal the number
requested, no failed reload); every control operation accepted (none refused, none timed
out), every command's outcome seen, and the host back in its starting state at the end.
"""

import argparse
import csv
import json
import math
import os
import re
import sys


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--secs", type=float, required=True)
    p.add_argument("--elapsed", type=float, required=True)
    p.add_argument("--host-rc", default="")
    p.add_argument("--host-problem", default="")
    p.add_argument("--rss-growth-pct", type=float, default=10.0)
    p.add_argument("--fd-tolerance", type=int, default=2)
    p.add_argument("--reloads", type=int, required=True)
    p.add_argument("--ops", type=int, required=True)
    p.add_argument("--wrk-desc", default="")
    a = p.parse_args()
    d = a.dir

    lines, failures = [], []

    def out(s=""):
        lines.append(s)

    def fail(s):
        failures.append(s)

    # ---- samples ------------------------------------------------------------------------
    rows = []
    try:
        with open(os.path.join(d, "soak-samples.csv")) as f:
            rows = list(csv.DictReader(f))
    except OSError:
        pass
    start = next((r for r in rows if r["phase"] == "start"), None)
    end = next((r for r in rows if r["phase"] == "end"), None)
    measured = []
    if start:
        i = rows.index(start)
        measured = rows[i:rows.index(end) + 1] if end else rows[i:]
    res = {"samples": len(rows)}

    def col(r, k):
        return int(r[k]) if r and r.get(k, "").strip().lstrip("-").isdigit() else None

    out(f"lattice-tui soak: {a.elapsed:.0f} s (SOAK_SECS={a.secs:.0f}), {len(rows)} samples in soak-samples.csv")
    if start and end:
        rs, re_ = col(start, "rss_kb"), col(end, "rss_kb")
        rmax = max(col(r, "rss_kb") or 0 for r in measured)
        growth = (re_ - rs) * 100.0 / rs if rs else math.inf
        fs, fe = col(start, "fds"), col(end, "fds")
        fmax = max(col(r, "fds") or 0 for r in measured)
        ts, te = col(start, "threads"), col(end, "threads")
        tmax = max(col(r, "threads") or 0 for r in measured)
        hwm = col(end, "hwm_kb")
        out(f"RSS      start {rs / 1024:.1f} MiB (t={float(start['elapsed_s']):.0f} s)  end {re_ / 1024:.1f} MiB  "
            f"max {rmax / 1024:.1f} MiB (VmHWM {hwm / 1024 if hwm else 0:.1f} MiB)  growth {growth:+.1f} %  "
            f"[goal <= {a.rss_growth_pct:g} %: {'ok' if growth <= a.rss_growth_pct else 'MISSED'}]")
        pts = [(float(r["elapsed_s"]), col(r, "rss_kb")) for r in measured if col(r, "rss_kb")]
        slope = None
        if len(pts) >= 3:
            mx = sum(x for x, _ in pts) / len(pts)
            my = sum(y for _, y in pts) / len(pts)
            sxx = sum((x - mx) ** 2 for x, _ in pts)
            if sxx:
                slope = sum((x - mx) * (y - my) for x, y in pts) / sxx * 60 / 1024  # MiB per minute
                out(f"         RSS trend over the {len(pts)} samples from start to end (least squares): "
                    f"{slope:+.2f} MiB/min")
        out(f"fds      start {fs}  end {fe}  max {fmax}  "
            f"[goal flat, end <= start + {a.fd_tolerance}: {'ok' if fe <= fs + a.fd_tolerance else 'MISSED'}]")
        out(f"threads  start {ts}  end {te}  max {tmax}")
        res.update(rss_kb={"start": rs, "end": re_, "max": rmax, "hwm": hwm, "growth_pct": round(growth, 2),
                           "trend_mib_per_min": round(slope, 3) if slope is not None else None},
                   fds={"start": fs, "end": fe, "max": fmax}, threads={"start": ts, "end": te, "max": tmax})
        if growth > a.rss_growth_pct:
            fail(f"RSS grew {growth:.1f} % (> {a.rss_growth_pct:g} %)")
        if fe > fs + a.fd_tolerance:
            fail(f"open fds grew from {fs} to {fe}")
    else:
        out("RSS/fds  no start and end samples (the run did not get that far)")
        fail("no start/end samples")

    # ---- host ---------------------------------------------------------------------------
    if a.host_problem:
        fail(a.host_problem)
    out(f"host     {'exit ' + a.host_rc + ' on SIGTERM' if a.host_rc != '' else 'not stopped by the script'}"
        f"{'  PROBLEM: ' + a.host_problem if a.host_problem else ''}")
    res["host"] = {"rc": a.host_rc, "problem": a.host_problem}

    # ---- reloads ------------------------------------------------------------------------
    log = ""
    try:
        with open(os.path.join(d, "host.log"), errors="replace") as f:
            log = f.read()
    except OSError:
        pass
    reloaded = len(re.findall(r"actor reloaded", log))
    reload_failed = len(re.findall(r"hot reload (failed|refused)", log))
    loglines = log.splitlines()
    # Guest output is logged under the target `guest`; a guest's panic is not the host's.
    host_lines = [l for l in loglines if " guest: " not in l]
    panics = sum(1 for l in host_lines if "panicked at" in l)
    warn_lines = [l for l in host_lines if re.search(r"\b(WARN|ERROR)\b", l)]
    failed_calls = [l for l in host_lines if "guest call failed" in l]
    folded = sum(int(m) for l in failed_calls for m in re.findall(r"suppressed=(\d+)", l))
    guest_panics = sum(1 for l in loglines if " guest: " in l and "panicked at" in l)
    other_warns = [l for l in warn_lines if "guest call failed" not in l]
    rl = load(os.path.join(d, "reloads.json"), {})
    info_start = load(os.path.join(d, "info-start.json"), {})
    info_end = load(os.path.join(d, "info-end.json"), {})

    def root_route(doc):
        return next((r for r in (doc or {}).get("routes", []) if r.get("path") == "/"), {})

    r0, r1 = root_route(info_start), root_route(info_end)
    rev = (r1.get("revision", 0) - r0.get("revision", 0)) if r0 and r1 else None
    wts = rl.get("write_to_serving_ms", {})
    out(f"reloads  requested {a.reloads}  confirmed by the driver {rl.get('confirmed', 0)}  "
        f"'actor reloaded' log lines {reloaded}  revision +{rev}  failed/refused {reload_failed}  "
        f"write->serving p50 {wts.get('p50')} ms max {wts.get('max')} ms"
        f"{'  (driver stopped early)' if rl.get('interrupted') else ''}")
    res["reloads"] = {"requested": a.reloads, "confirmed": rl.get("confirmed", 0), "log_lines": reloaded,
                      "revision_delta": rev, "failed": reload_failed, "write_to_serving_ms": wts}
    if not (rl.get("confirmed", 0) == reloaded == rev == a.reloads):
        fail(f"reloads: {a.reloads} requested, {rl.get('confirmed', 0)} confirmed, {reloaded} logged, revision +{rev}")
    if reload_failed:
        fail(f"{reload_failed} reloads failed or were refused (see host.log)")

    # ---- HTTP ---------------------------------------------------------------------------
    wrk = load(os.path.join(d, "wrk.json"))
    if wrk:
        e = wrk["errors"]
        sock = e["connect"] + e["read"] + e["write"] + e["timeout"]
        non2xx = wrk.get("non2xx_total", 0)
        windows = []
        for r in rl.get("records", []):
            lo = math.floor(r["written"]) - 1
            hi = math.ceil(r["confirmed"] if r.get("confirmed") else r["written"] + 15) + 1
            windows.append((lo, hi))
        during = outside = 0
        statuses = {}
        for item in wrk.get("non2xx", []):
            sec, status = item.split(":")
            statuses[status] = statuses.get(status, 0) + 1
            if any(lo <= int(sec) <= hi for lo, hi in windows):
                during += 1
            else:
                outside += 1
        lat = wrk["latency_us"]
        dur = wrk["duration_us"] / 1e6
        out(f"HTTP     {a.wrk_desc}: {wrk['requests']} requests in {dur:.0f} s ({wrk['requests'] / dur:.0f}/s), "
            f"latency mean {lat['mean'] / 1e3:.2f} ms p50 {lat['p50'] / 1e3:.2f} p99 {lat['p99'] / 1e3:.2f} "
            f"p99.9 {lat['p999'] / 1e3:.2f} max {lat['max'] / 1e3:.1f} ms")
        out(f"         errors: socket {sock} (connect {e['connect']}, read {e['read']}, write {e['write']}, "
            f"timeout {e['timeout']}), non-2xx {non2xx} {statuses or ''} "
            f"(within a reload window {during}, outside {outside})")
        calls = r1.get("stats", {}) if r1 else {}
        if calls:
            out(f"         host's counters for the route: {calls.get('calls')} calls, {calls.get('errors')} errors")
        res["http"] = {"requests": wrk["requests"], "socket_errors": sock, "non2xx": non2xx,
                       "non2xx_during_reload": during, "non2xx_outside_reload": outside, "statuses": statuses,
                       "latency_us": lat, "host_route_stats": calls}
        if wrk["requests"] == 0:
            fail("wrk made no request")
        if outside:
            fail(f"{outside} non-2xx HTTP responses outside reload moments")
        if during:
            fail(f"{during} non-2xx HTTP responses during reloads (reloads must not fail requests)")
        if sock:
            fail(f"{sock} HTTP socket errors")
    else:
        out("HTTP     no wrk report (wrk.json missing)")
        fail("no wrk report")

    # ---- control ------------------------------------------------------------------------
    ctl = load(os.path.join(d, "ctl.json"))
    if ctl:
        t = ctl["totals"]
        by = "  ".join(f"{op} {v.get('accepted', 0)}/{sum(v.values())}" for op, v in ctl["by_op"].items())
        out(f"control  {ctl['ops_sent']} of {a.ops} ops in {ctl['elapsed_s']} s: accepted {t.get('accepted', 0)}, "
            f"refused {t.get('refused', 0)}, timeouts {t.get('timeout', 0)}, no responders {t.get('no_responders', 0)}; "
            f"reply p50 {ctl['reply_ms']['p50']} ms p99 {ctl['reply_ms']['p99']} ms max {ctl['reply_ms']['max']} ms"
            f"{'  (driver stopped early)' if ctl.get('interrupted') else ''}")
        out(f"         accepted/sent per op: {by}")
        out(f"         outcomes: {ctl['checks']}  final state: {'ok' if ctl['final_state'].get('ok') else ctl['final_state']}")
        fe = {k: v for k, v in ctl["events"].items() if k.endswith("failed")}
        out(f"         events seen: {sum(ctl['events'].values())} ({', '.join(f'{k} {v}' for k, v in sorted(ctl['events'].items()))})")
        res["control"] = {k: ctl[k] for k in ("ops_sent", "totals", "by_op", "checks", "final_state", "reply_ms", "events")}
        if ctl["ops_sent"] != a.ops:
            fail(f"control: {ctl['ops_sent']} of {a.ops} operations sent")
        bad = {k: v for k, v in t.items() if k != "accepted" and v}
        if bad:
            fail(f"control operations not accepted: {bad}")
            for r in ctl.get("refusals", [])[:5]:
                out(f"         refusal at {r['at_s']} s: {r['op']}: {r['error']}")
        badchecks = {k: v for k, v in ctl["checks"].items() if re.search(r"not|still|skipped", k)}
        if badchecks:
            fail(f"control outcomes: {badchecks}")
            for n in ctl.get("check_notes", [])[:5]:
                out(f"         at {n['at_s']} s: {n['note']}")
        if fe:
            fail(f"failure events: {fe}")
        if not ctl["final_state"].get("ok"):
            fail(f"final state: {ctl['final_state'].get('problems')}")
    else:
        out("control  no driver report (ctl.json missing)")
        fail("no control driver report")

    out(f"host log {len(warn_lines)} WARN/ERROR lines of the host, {panics} host panics (host.log)")
    if failed_calls:
        # Not failures of the run by themselves: they count only if a client saw an error
        # (the HTTP line above). Listed because each one is a guest trap the host logged.
        out(f"         'guest call failed': {len(failed_calls)} warnings + {folded} folded into them "
            f"({guest_panics} guest panics logged); first: {failed_calls[0][:220]}")
        res["guest_calls_failed"] = {"warnings": len(failed_calls), "folded": folded, "guest_panics": guest_panics}
    for l in other_warns[:8]:
        out("         " + l[:220])
    if panics:
        fail(f"{panics} host panics in the host log")

    out("")
    if failures:
        out("RESULT: FAIL")
        for f_ in failures:
            out("  - " + f_)
    else:
        out("RESULT: PASS (RSS growth and fds within goals, no HTTP error, every reload and control operation done)")
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(d, "soak-summary.txt"), "w") as f:
        f.write(text + "\n")
    res["failures"] = failures
    with open(os.path.join(d, "soak-summary.json"), "w") as f:
        json.dump(res, f, indent=1)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
