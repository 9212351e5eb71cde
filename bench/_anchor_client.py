"""The least possible exactly-once client, run as its own process: the anchor of `slope_bench.py`.

    python bench/_anchor_client.py URL ORDERS TAG WINDOW JOURNAL

What the bare client of `_harness.py` does (websocket-client, auth, subscribe, add_order and wait
for its answer, or keep WINDOW unanswered), plus the one cost exactly-once cannot skip: before
an order leaves, its intent line is appended to JOURNAL and fsync'd. When the window is refilled
(after one answer and every answer already arrived), the orders filling it are written together
and fsync'd once (group commit), as the runner does.
Nothing else: no validation, no answers journaled, no reconciliation, no report. Prints the
seconds of the submission loop (first intent to last answer).
"""

import hashlib
import hmac
import json
import os
import secrets
import select
import sys
import time

import websocket

url, n, tag, window, journal_path = (sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]),
                                     sys.argv[5])
ws = websocket.create_connection(url + "?api_key=qfex_pub_demo", skip_utf8_validation=True)
nonce, ts = secrets.token_hex(16), int(time.time())
sig = hmac.new(b"qfex_secret_demo", f"{nonce}:{ts}".encode(), hashlib.sha256).hexdigest()
ws.send(json.dumps({"type": "auth", "params": {"hmac": {"public_key": "qfex_pub_demo", "nonce": nonce,
                                                        "unix_ts": ts, "signature": sig}}}))
assert json.loads(ws.recv()).get("authenticated") is True
for channel in ("order_responses", "fills"):
    ws.send(json.dumps({"type": "subscribe", "params": {"channels": [channel]}}))
    json.loads(ws.recv())
journal = os.open(journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
start = time.perf_counter()
sent = answered = 0
while answered < n:
    burst = []
    while sent + len(burst) < n and sent + len(burst) - answered < window:
        i = sent + len(burst)
        burst.append(json.dumps({"type": "add_order", "params": {
            "symbol": "AAPL-USD", "side": "BUY", "order_type": "LIMIT", "order_time_in_force": "GTC",
            "quantity": "0.001", "price": "%.2f" % (180 + (i % 100) / 100),
            "client_order_id": f"{tag}-{i}"}}))
    if burst:  # intents first, durable, then the sends
        os.write(journal, "".join(f'{{"intent":{m}}}\n' for m in burst).encode())
        os.fsync(journal)
        for message in burst:
            ws.send(message)
        sent += len(burst)
    while True:  # one answer awaited, then every one already here: the next burst is larger
        reply = json.loads(ws.recv())
        if "order_response" in reply:
            assert reply["order_response"]["status"] == "ACK", reply
            answered += 1
        elif "err" in reply:
            raise SystemExit(f"err: {reply}")
        if not (ws.frame_buffer.recv_buffer or select.select([ws.sock], [], [], 0)[0]):
            break
loop = time.perf_counter() - start
os.close(journal)
ws.close()
print(f"{loop:.6f}")
