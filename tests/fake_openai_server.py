"""A fake OpenAI-compatible server, run as a real process by the fault tests.

    python tests/fake_openai_server.py PORT [--script 500,ok,hang,...] [--key KEY] [--delay S]

Requests to /v1/chat/completions take the next fault from the script (then
``ok`` forever): ok | 500 | 429 | hang | malformed | truncated | reset | nologprobs
(a 500 naming logprobs when the request asks for them, as llama-cpp-python's server
without logits_all answers).
Answers are scripted council replies chosen by the request's JSON schema, each
after ``--delay`` seconds (a slow model, for runs that must still be going).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fakes import scripted_reply  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--script", default="")
    ap.add_argument("--key", default="")
    ap.add_argument("--score", type=int, default=9)
    ap.add_argument("--delay", type=float, default=0.0)
    args = ap.parse_args()
    faults = iter([f for f in args.script.split(",") if f])
    lock = threading.Lock()
    counter = itertools.count(1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # quiet
            pass

        def _send(self, status: int, body: bytes, length: int | None = None, **headers):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) if length is None else length))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def do_GET(self):
            self._send(200, json.dumps({"data": [{"id": "fake"}]}).encode())

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if args.key and self.headers.get("Authorization") != f"Bearer {args.key}":
                return self._send(401, b'{"error": "bad key"}')
            with lock:
                fault = next(faults, "ok")
                n = next(counter)
            if fault == "500":
                return self._send(500, b'{"error": "boom"}')
            if fault == "nologprobs" and body.get("logprobs"):
                msg = b'{"error": "logprobs is not supported for models created with '
                msg += b'logits_all=False"}'
                return self._send(500, msg)
            if fault == "429":
                return self._send(429, b'{"error": "slow down"}', **{"Retry-After": "0"})
            if fault == "hang":
                time.sleep(30)
                return
            if fault == "reset":
                self.close_connection = True
                self.connection.close()
                return
            time.sleep(args.delay)
            schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema")
            user = body["messages"][-1]["content"]
            reply = {
                "choices": [
                    {
                        "message": {
                            "role": "assistant",
                            "content": scripted_reply(user, schema, n, args.score),
                        },
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5},
            }
            if body.get("logprobs"):
                top = [{"token": t, "logprob": -0.5 * i} for i, t in enumerate("abc")]
                reply["choices"][0]["logprobs"] = {
                    "content": [{"token": "a", "logprob": 0.0, "top_logprobs": top}]
                }
            data = json.dumps(reply).encode()
            if fault == "malformed":
                return self._send(200, b'{"choices": [ this is not json')
            if fault == "truncated":  # promise the whole body, send half, hang up
                self._send(200, data[: len(data) // 2], length=len(data))
                self.close_connection = True
                return
            self._send(200, data)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
