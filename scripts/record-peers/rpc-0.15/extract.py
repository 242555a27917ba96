#!/usr/bin/env python3
"""Cuts an rpc-015 session's capture.jsonl into one file per message, and checks it.

Usage: extract.py DIR        (DIR = tests/fixtures/rpc: capture.jsonl, keys.json, results.json …)

The capture is split at the recorder's `recorder.step` markers. For each step the messages the
step sent (wasmbus.rpc.… requests and publishes) and the replies to them are written raw:
`<step>.<role>.msgpack` (payload bytes exactly as on the wire; `.json` / `.txt` for the JSON and
text ones). For every invocation also `<name>.jwt` (its `encoded_claims`), `<name>.claims.json`
(the JWT's claims segment, base64url-decoded, byte for byte) and `<name>.msg.msgpack` (its `msg`
field); for every InvocationResponse with a non-empty `msg`, `<name>.msg.msgpack`.

Checked here, independently of the Rust SDK (own msgpack reader, hashlib, the `cryptography`
package's Ed25519): the invocation hash (uppercase hex SHA-256 of origin_url ++ target_url ++
operation ++ msg, with the chunked payload reassembled from the object store), the entity URLs,
every JWT signature against its issuer, and that signing the JWT's header.claims again with the
seed from keys.json gives the same signature (Ed25519 is deterministic).

Writes manifest.json (every file: step, seq, subject, reply, producer, contents, msgpack shape,
checks) and provider_subscriptions.json (the provider's rows of subsz.json). Exits non-zero if a
check fails.
"""
import base64
import hashlib
import json
import re
import struct
import sys
from collections import OrderedDict
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

# ---------------------------------------------------------------- msgpack (reader, with types)


class Bin(bytes):
    """msgpack bin (as opposed to str)."""


def mp_read(buf, i=0):
    b = buf[i]
    i += 1
    if b <= 0x7F:
        return b, i
    if 0x80 <= b <= 0x8F:
        return mp_map(buf, i, b & 0x0F)
    if 0x90 <= b <= 0x9F:
        return mp_arr(buf, i, b & 0x0F)
    if 0xA0 <= b <= 0xBF:
        n = b & 0x1F
        return buf[i : i + n].decode("utf-8"), i + n
    if b >= 0xE0:
        return b - 0x100, i
    fmt = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i",
           0xD3: ">q", 0xCA: ">f", 0xCB: ">d"}
    if b in fmt:
        size = struct.calcsize(fmt[b])
        return struct.unpack(fmt[b], buf[i : i + size])[0], i + size
    if b == 0xC0:
        return None, i
    if b in (0xC2, 0xC3):
        return b == 0xC3, i
    if b in (0xC4, 0xC5, 0xC6):
        size = {0xC4: 1, 0xC5: 2, 0xC6: 4}[b]
        n = int.from_bytes(buf[i : i + size], "big")
        i += size
        return Bin(buf[i : i + n]), i + n
    if b in (0xD9, 0xDA, 0xDB):
        size = {0xD9: 1, 0xDA: 2, 0xDB: 4}[b]
        n = int.from_bytes(buf[i : i + size], "big")
        i += size
        return buf[i : i + n].decode("utf-8"), i + n
    if b in (0xDC, 0xDD):
        size = 2 if b == 0xDC else 4
        return mp_arr(buf, i + size, int.from_bytes(buf[i : i + size], "big"))
    if b in (0xDE, 0xDF):
        size = 2 if b == 0xDE else 4
        return mp_map(buf, i + size, int.from_bytes(buf[i : i + size], "big"))
    raise ValueError(f"msgpack byte 0x{b:02x} at {i - 1} not handled")


def mp_map(buf, i, n):
    out = OrderedDict()
    for _ in range(n):
        k, i = mp_read(buf, i)
        v, i = mp_read(buf, i)
        out[k] = v
    return out, i


def mp_arr(buf, i, n):
    out = []
    for _ in range(n):
        v, i = mp_read(buf, i)
        out.append(v)
    return out, i


def mp_decode(buf):
    v, i = mp_read(buf, 0)
    if i != len(buf):
        raise ValueError(f"{len(buf) - i} trailing bytes")
    return v


def shape(v):
    """A readable description of a decoded msgpack value: key order and wire types."""
    if isinstance(v, OrderedDict):
        return OrderedDict((k, shape(x)) for k, x in v.items())
    if isinstance(v, list):
        return [shape(x) for x in v]
    if isinstance(v, Bin):
        return f"bin({len(v)})"
    if isinstance(v, str):
        return f"str({len(v.encode())})"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if v is None:
        return "nil"
    return type(v).__name__


def plain(v):
    """JSON-able copy (bin as {"bin_hex"} / {"bin_len"} when long)."""
    if isinstance(v, OrderedDict):
        return OrderedDict((k, plain(x)) for k, x in v.items())
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, Bin):
        return {"bin_hex": v.hex()} if len(v) <= 64 else {"bin_len": len(v)}
    if isinstance(v, str) and len(v) > 200:
        return f"<str of {len(v)} chars>"
    return v


# ---------------------------------------------------------------- nkeys / JWT


def b32(s):
    return base64.b32decode(s + "=" * (-len(s) % 8))


def crc16(data):
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def nkey_public(pk):
    raw = b32(pk)
    assert len(raw) == 35 and crc16(raw[:-2]) == int.from_bytes(raw[-2:], "little"), pk
    return Ed25519PublicKey.from_public_bytes(raw[1:33])


def nkey_seed(seed):
    raw = b32(seed)
    assert len(raw) == 36 and crc16(raw[:-2]) == int.from_bytes(raw[-2:], "little"), "bad seed"
    return Ed25519PrivateKey.from_private_bytes(raw[2:34])


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def entity_url(e):
    pk = e["public_key"]
    if pk.upper().startswith("M"):
        return f"wasmbus://{pk}"
    cid = e["contract_id"].replace(":", "/").replace(" ", "_").lower()
    link = e["link_name"].replace(" ", "_").lower()
    return f"wasmbus://{cid}/{link}/{pk}"


# ---------------------------------------------------------------- the session


def lock_versions(lock):
    out = {}
    text = lock.read_text()
    for m in re.finditer(r'\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', text):
        out.setdefault(m.group(1), []).append(m.group(2))
    return {k: ", ".join(v) for k, v in out.items()}


def main(d):
    d = Path(d)
    here = Path(__file__).resolve().parent
    repo = here.parent.parent.parent
    rec_v = lock_versions(here / "Cargo.lock")
    prov_v = lock_versions(repo / "assets/providers/kv-memory/Cargo.lock")
    v = lambda name: rec_v.get(name, "?")  # noqa: E731
    keys = json.loads((d / "keys.json").read_text())
    results = {r["step"]: r["result"] for r in json.loads((d / "results.json").read_text())}
    caps = [json.loads(line) for line in (d / "capture.jsonl").read_text().splitlines() if line]
    for c in caps:
        c["bytes"] = base64.b64decode(c["payload_b64"])

    steps, order, cur = {}, [], None
    for c in caps:
        if c["subject"] == "recorder.step":
            cur = json.loads(c["payload"])["step"]
            steps[cur] = {"marker": c, "msgs": []}
            order.append(cur)
        elif cur is not None:
            steps[cur]["msgs"].append(c)

    V = keys["provider_public_key"]
    prov_subj = f"wasmbus.rpc.{keys['lattice_prefix']}.{V}.{keys['link_name']}"
    side_subj = f"wasmbus.rpc.mitm.{V}.{keys['link_name']}"
    manifest, failures = [], []
    SDK = f"wasmbus-rpc {v('wasmbus-rpc')}"
    PROV = f"kv-memory (assets/providers/kv-memory; wasmbus-rpc {prov_v.get('wasmbus-rpc', '?')})"

    def write(name, data):
        (d / name).write_bytes(data)

    def entry(name, c, step, producer, contains, **extra):
        e = OrderedDict(file=name, step=step)
        if c is not None:
            e.update(seq=c["seq"], subject=c["subject"], reply=c["reply"], headers=c["headers"])
        e["produced_by"] = producer
        e["contains"] = contains
        e.update(extra)
        manifest.append(e)

    def reply_to(step, c):
        if not c["reply"]:
            return None
        for m in steps[step]["msgs"]:
            if m["subject"] == c["reply"]:
                return m
        return None

    def check(ok, what):
        if not ok:
            failures.append(what)
        return bool(ok)

    def invocation_files(name, c, step, producer, contains, full_msg=None, signer=None):
        inv = mp_decode(c["bytes"])
        write(f"{name}.msgpack", c["bytes"])
        jwt = inv["encoded_claims"]
        write(f"{name}.jwt", jwt.encode())
        head_s, claims_s, sig_s = jwt.split(".")
        claims_raw = b64url(claims_s)
        write(f"{name}.claims.json", claims_raw)
        claims = json.loads(claims_raw, object_pairs_hook=OrderedDict)
        msg = bytes(inv["msg"]) if isinstance(inv["msg"], (bytes, bytearray)) else inv["msg"].encode()
        if msg:
            write(f"{name}.msg.msgpack", msg)
        payload = full_msg if full_msg is not None else msg
        origin_url = entity_url(inv["origin"])
        target_url = entity_url(inv["target"]) + "/" + inv["operation"]
        h = hashlib.sha256((origin_url + target_url + inv["operation"]).encode() + payload)
        hash_hex = h.hexdigest().upper()
        sig = b64url(sig_s)
        signed = f"{head_s}.{claims_s}".encode()
        try:
            nkey_public(claims["iss"]).verify(sig, signed)
            sig_ok = True
        except Exception:  # noqa: BLE001
            sig_ok = False
        checks = OrderedDict(
            jwt_header=b64url(head_s).decode(),
            claims_key_order=list(claims.keys()),
            wascap_key_order=list(claims["wascap"].keys()),
            origin_url=origin_url,
            target_url=target_url,
            urls_match_claims=claims["wascap"]["origin_url"] == origin_url
            and claims["wascap"]["target_url"] == target_url,
            hash_recomputed=hash_hex,
            hash_in_claims=claims["wascap"]["hash"],
            hash_matches=hash_hex == claims["wascap"]["hash"],
            hash_over="reassembled object-store payload" if full_msg is not None else "msg",
            sub_is_invocation_id=claims["sub"] == inv["id"],
            signature_valid_for_iss=sig_ok,
        )
        if signer:
            again = nkey_seed(keys[signer]).sign(signed)
            checks["resigned_with"] = signer
            checks["resigned_signature_identical"] = again == sig
        entry(f"{name}.msgpack", c, step, producer, contains, shape=shape(inv), decoded=plain(inv),
              checks=checks)
        entry(f"{name}.jwt", None, step, producer, f"encoded_claims of {name}.msgpack (wascap {v('wascap')} Claims<Invocation>)")
        entry(f"{name}.claims.json", None, step, "extract.py (base64url-decoded JWT segment 2)",
              f"the claims JSON of {name}.jwt, byte for byte")
        if msg:
            entry(f"{name}.msg.msgpack", None, step, producer, f"the msg field of {name}.msgpack (operation payload)",
                  shape=shape(mp_decode(msg)), decoded=plain(mp_decode(msg)))
        return inv, claims, checks

    def response_files(name, c, step, producer, contains):
        write(f"{name}.msgpack", c["bytes"])
        resp = mp_decode(c["bytes"])
        entry(f"{name}.msgpack", c, step, producer, contains, shape=shape(resp), decoded=plain(resp))
        msg = resp.get("msg", b"")
        if isinstance(msg, (bytes, bytearray)) and msg:
            write(f"{name}.msg.msgpack", bytes(msg))
            entry(f"{name}.msg.msgpack", None, step, producer, f"the msg field of {name}.msgpack (operation result)",
                  shape=shape(mp_decode(bytes(msg))), decoded=plain(mp_decode(bytes(msg))))
        return resp

    inv_producer = OrderedDict(
        crate="wasmbus-rpc", version=v("wasmbus-rpc"),
        function="rpc_client::RpcClient::send (called by wasmcloud-interface-keyvalue "
        f"{v('wasmcloud-interface-keyvalue')} KeyValueSender; claims: wascap {v('wascap')} "
        "Claims::<jwt::Invocation>::new + encode; body: common::serialize = rmp_serde::to_vec_named)")
    resp_producer = OrderedDict(
        crate="wasmbus-rpc", version=prov_v.get("wasmbus-rpc", "?"),
        function="provider::HostBridge::subscribe_rpc -> RpcClient::publish_invocation_response "
        "(common::serialize), in the kv-memory provider process")
    altered_producer = OrderedDict(
        crate="rpc-015", version="(this repo)",
        function="the SDK's invocation taken from the side subject, common::deserialize::<Invocation>, "
        "one field changed, common::serialize again")
    resign = OrderedDict(
        crate="wascap", version=v("wascap"),
        function="jwt::Claims::<jwt::Invocation>::decode, one claim changed, Claims::encode(key) "
        "(in rpc-015, on the SDK's invocation taken from the side subject; then common::serialize)")

    notes = {}
    for step in order:
        msgs = steps[step]["msgs"]
        sent = [m for m in msgs if m["subject"].startswith("wasmbus.rpc.")]
        if step == "linkdefs_put" or step == "linkdefs_del":
            c = sent[0]
            write(f"{step}.msgpack", c["bytes"])
            ld = mp_decode(c["bytes"])
            entry(f"{step}.msgpack", c, step,
                  OrderedDict(crate="wasmbus-rpc", version=v("wasmbus-rpc"),
                              function="common::serialize(&core::LinkDefinition), published by rpc-015 (no reply subject, as the host does)"),
                  "LinkDefinition actor -> provider", shape=shape(ld), decoded=plain(ld))
        elif step == "health":
            c = sent[0]
            write("health_request.msgpack", c["bytes"])
            entry("health_request.msgpack", c, step,
                  OrderedDict(crate="wasmbus-rpc", version=v("wasmbus-rpc"),
                              function='common::serialize(&BTreeMap{"placeholder": true}) in rpc-015 (the body the OTP host sends; the SDK\'s own HealthCheckRequest is an empty map)'),
                  "health check request", shape=shape(mp_decode(c["bytes"])))
            r = reply_to(step, c)
            write("health_reply.msgpack", r["bytes"])
            entry("health_reply.msgpack", r, step,
                  OrderedDict(crate="wasmbus-rpc", version=prov_v.get("wasmbus-rpc", "?"),
                              function="provider::HostBridge::subscribe_health -> common::serialize(&HealthCheckResponse), in kv-memory"),
                  "HealthCheckResponse", shape=shape(mp_decode(r["bytes"])), decoded=plain(mp_decode(r["bytes"])))
        elif step in ("kv_set", "kv_get", "kv_increment", "err_unlinked", "err_foreign_issuer", "err_after_linkdel"):
            c = [m for m in sent if m["subject"] == prov_subj][0]
            signer = "foreign_cluster_seed" if step == "err_foreign_issuer" else "cluster_seed"
            what = {
                "kv_set": "Invocation KeyValue.Set actor -> provider",
                "kv_get": "Invocation KeyValue.Get actor -> provider",
                "kv_increment": "Invocation KeyValue.Increment actor -> provider",
                "err_unlinked": "Invocation KeyValue.Get from an actor that has no link",
                "err_foreign_issuer": "Invocation KeyValue.Get signed by a cluster key that is not in cluster_issuers",
                "err_after_linkdel": "Invocation KeyValue.Get after the link was deleted",
            }[step]
            inv, claims, checks = invocation_files(f"{step}.inv", c, step, inv_producer, what, signer=signer)
            check(checks["hash_matches"] and checks["urls_match_claims"] and checks["signature_valid_for_iss"]
                  and checks["resigned_signature_identical"], f"{step}: checks")
            r = reply_to(step, c)
            resp = response_files(f"{step}.resp", r, step, resp_producer, f"InvocationResponse to {step}.inv")
            if "error" in resp:
                notes[step] = resp["error"]
        elif step.startswith("err_") and step != "err_after_linkdel":
            orig = [m for m in sent if m["subject"] == side_subj][0]
            fwd = [m for m in sent if m["subject"] == prov_subj][0]
            _, _, chk = invocation_files(f"{step}.signed", orig, step, inv_producer,
                                         "the invocation as the SDK wrote it (sent to the side subject wasmbus.rpc.mitm.…, never to the provider)",
                                         signer="cluster_seed")
            check(chk["hash_matches"] and chk["resigned_signature_identical"], f"{step}: signed checks")
            signer = {"err_forged": "foreign_cluster_seed"}.get(step, "cluster_seed")
            change = {
                "err_tampered": 'msg replaced by msgpack "password" (same length as "greeting"); claims untouched',
                "err_tampered_shorter": 'msg replaced by msgpack "secret" (7 bytes; content_length still 9); claims untouched',
                "err_forged": "claims unchanged (iss = the cluster key) but signed with the foreign cluster key",
                "err_expired": "claims exp = iat - 60, re-signed with the cluster key",
                "err_not_yet_valid": "claims nbf = iat + 3600, re-signed with the cluster key",
            }[step]
            producer = altered_producer if step.startswith("err_tampered") else resign
            _, _, chk = invocation_files(f"{step}.inv", fwd, step, producer,
                                         f"the invocation the provider received: {change}", signer=signer)
            r = reply_to(step, fwd)
            resp = response_files(f"{step}.resp", r, step, resp_producer, f"InvocationResponse to {step}.inv")
            notes[step] = resp.get("error")
        elif step == "to_actor":
            c = [m for m in sent if m["subject"] == f"wasmbus.rpc.{keys['lattice_prefix']}.{keys['actor_public_key']}"][0]
            producer = OrderedDict(
                crate="wasmbus-rpc", version=v("wasmbus-rpc"),
                function="provider::ProviderTransport::send -> RpcClient::send_timeout (HostBridge from the "
                "session's HostData via provider::init_host_bridge_for_test; called by "
                f"wasmcloud-interface-httpserver {v('wasmcloud-interface-httpserver')} HttpServerSender::for_actor(&ld).handle_request)")
            _, _, chk = invocation_files("to_actor.inv", c, step, producer,
                                         "Invocation HttpServer.HandleRequest provider -> actor (no one answered)",
                                         signer="cluster_seed")
            check(chk["hash_matches"] and chk["resigned_signature_identical"], "to_actor checks")
            write("to_actor.error.txt", results[step]["error"].encode())
            entry("to_actor.error.txt", None, step, producer,
                  f"the error the SDK returned after {results[step].get('elapsed_ms')} ms (RpcError Display)")
        elif step in ("chunked_set", "chunked_get"):
            c = [m for m in sent if m["subject"] == prov_subj][0]
            r = reply_to(step, c)
            metas = [m for m in msgs if m["subject"].startswith("$O.") and ".M." in m["subject"]
                     and m["reply"] and m["reply"].startswith("_INBOX.")]
            put_meta = [m for m in metas if not json.loads(m["payload"]).get("deleted")][0]
            del_meta = [m for m in metas if json.loads(m["payload"]).get("deleted")]
            meta = json.loads(put_meta["payload"], object_pairs_hook=OrderedDict)
            chunk_subj = f"$O.{meta['bucket']}.C.{meta['nuid']}"
            chunks = [m for m in msgs if m["subject"] == chunk_subj and m["reply"] and m["reply"].startswith("_INBOX.")]
            obj = b"".join(m["bytes"] for m in chunks)
            check(len(obj) == meta["size"], f"{step}: object size")
            check(hashlib.sha256(obj).digest() == b64url(meta["digest"].split("=", 1)[1]),
                  f"{step}: object digest")
            write(f"{step}.object_meta.json", put_meta["bytes"])
            objstore = OrderedDict(
                bucket=meta["bucket"], stream=f"OBJ_{meta['bucket']}", object_name=meta["name"],
                meta_subject=put_meta["subject"],
                meta_subject_token_is_base64url_of_name=b64url(put_meta["subject"].split(".M.", 1)[1]).decode() == meta["name"],
                chunk_subject=chunk_subj, chunks=[len(m["bytes"]) for m in chunks],
                chunk_seqs=[m["seq"] for m in chunks], size=len(obj),
                deleted_by_reader=[m["seq"] for m in del_meta],
            )
            if step == "chunked_set":
                inv, claims, chk = invocation_files(
                    "chunked_set.inv", c, step, inv_producer,
                    "Invocation KeyValue.Set with a 921,700-byte value: msg empty, content_length = the payload size, payload in the object store",
                    full_msg=obj, signer="cluster_seed")
                check(chk["hash_matches"] and chk["resigned_signature_identical"], "chunked_set checks")
                check(inv["msg"] == b"" and inv["content_length"] == len(obj), "chunked_set: empty msg + content_length")
                check(meta["name"] == inv["id"], "chunked_set: object name = invocation id")
                response_files("chunked_set.resp", r, step, resp_producer, "InvocationResponse to chunked_set.inv")
                entry("chunked_set.object_meta.json", put_meta, step,
                      OrderedDict(crate="async-nats", version=v("async-nats"),
                                  function="jetstream::object_store::ObjectStore::put, called by wasmbus-rpc chunkify::ChunkEndpoint::chunkify inside RpcClient::send"),
                      "the object's metadata message (the request payload's chunks precede it in capture.jsonl)",
                      objstore=objstore)
            else:
                inv, claims, chk = invocation_files(
                    "chunked_get.inv", c, step, inv_producer,
                    "Invocation KeyValue.Get \"big\" (small request; the reply is chunked)", signer="cluster_seed")
                check(chk["hash_matches"], "chunked_get checks")
                resp = response_files("chunked_get.resp", r, step, resp_producer,
                                      "InvocationResponse with msg empty and content_length = size of the GetResponse in the object store")
                check(meta["name"] == inv["id"] + "-r", "chunked_get: object name = invocation id + -r")
                check(resp["msg"] == b"" and resp["content_length"] == len(obj), "chunked_get: empty msg + content_length")
                entry("chunked_get.object_meta.json", put_meta, step,
                      OrderedDict(crate="async-nats", version=prov_v.get("async-nats", "?"),
                                  function="jetstream::object_store::ObjectStore::put, called by wasmbus-rpc ChunkEndpoint::chunkify_response in the provider (RpcClient::publish_invocation_response)"),
                      "the chunked reply's metadata message", objstore=objstore)
        elif step == "shutdown":
            c = [m for m in sent if m["subject"] == prov_subj + ".shutdown"][0]
            write("shutdown_request.json", c["bytes"])
            entry("shutdown_request.json", c, step,
                  OrderedDict(crate="rpc-015", version="(this repo)", function='serde_json::to_vec(&json!({"host_id": …})) (as the OTP host sends it)'),
                  "shutdown request")
            r = reply_to(step, c)
            write("shutdown_reply.txt", r["bytes"])
            entry("shutdown_reply.txt", r, step,
                  OrderedDict(crate="wasmbus-rpc", version=prov_v.get("wasmbus-rpc", "?"),
                              function="provider::HostBridge::subscribe_shutdown (publish b\"shutting down\"), in kv-memory"),
                  f"the provider's reply; it then exited with {results[step]['exit']}")
            (d / "provider_exit.json").write_text(json.dumps(results[step]["exit"], sort_keys=True) + "\n")
            entry("provider_exit.json", None, step, OrderedDict(crate="rpc-015", version="(this repo)", function="tokio::process::Child::wait after the shutdown reply"),
                  "the provider process's exit status (code, ms from the shutdown request to the exit)")

    # provider's subscriptions from the monitoring endpoint
    subsz = json.loads((d / "subsz.json").read_text())
    rows = subsz["subscriptions_list"]
    cids = {r["cid"] for r in rows if r["subject"].startswith(prov_subj)}
    mine = sorted(
        (OrderedDict(subject=r["subject"], queue_group=r.get("qgroup"), sid=r["sid"]) for r in rows if r["cid"] in cids),
        key=lambda r: int(r["sid"]))
    (d / "provider_subscriptions.json").write_text(json.dumps(mine, indent=2) + "\n")

    other = [
        ("README.md", "provenance, observations, how to re-record"),
        ("capture.jsonl", "every message of the session as record.py (../record.py) received it"),
        ("keys.json", "the fixed test keys (rpc-015 keygen, nkeys 0.3): seeds and public keys"),
        ("host_data.b64", f"the exact line written to the provider's stdin (base64 0.13 encode of serde_json::to_vec(&wasmbus_rpc::core::HostData), {SDK}, + \\n); not on the wire"),
        ("host_data.json", "the same JSON, decoded, for readers"),
        ("subsz.json", "nats-server /subsz?subs=1 once the provider had subscribed (monitoring endpoint)"),
        ("connz.json", "nats-server /connz?subs=detail at the same moment"),
        ("provider_subscriptions.json", "the provider connection's rows of subsz.json (subject, queue group, sid)"),
        ("results.json", "what each step returned to rpc-015 (Ok value or the RpcError's Display and Debug)"),
        ("provider-stderr.log", f"the provider's stdout+stderr ({PROV})"),
        ("manifest.json", "this list"),
    ]
    doc = OrderedDict(
        recorder=OrderedDict(crate="rpc-015 (scripts/record-peers/rpc-0.15)", dependencies=OrderedDict(
            (k, v(k)) for k in ("wasmbus-rpc", "wascap", "async-nats", "rmp-serde", "nkeys",
                                "wasmcloud-interface-keyvalue", "wasmcloud-interface-httpserver"))),
        provider=OrderedDict(crate=PROV, dependencies=OrderedDict(
            (k, prov_v.get(k, "?")) for k in ("wasmbus-rpc", "wascap", "async-nats", "rmp-serde",
                                              "wasmcloud-interface-keyvalue"))),
        capture=OrderedDict(file="capture.jsonl", messages=len(caps), steps=order),
        error_texts=notes,
        files=[OrderedDict(file=f, contains=c) for f, c in other] + manifest,
    )
    (d / "manifest.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    print(f"extract: {len(manifest)} files from {len(caps)} messages, {len(failures)} failed checks", file=sys.stderr)
    for f in failures:
        print(f"  FAILED: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
