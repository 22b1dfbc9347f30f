"""Bounded load test of `rawan serve` on 127.0.0.1: latency at concurrency 1, throughput at 1/8/32, batching on vs off.

    python bench/serve_load.py                       # default champion (rawan-e5-small@champion)
    python bench/serve_load.py --model /path/to/models/tiny --seconds 5 --out bench/serve_load.json

For each mode (dynamic batching on, then off) it starts a fresh server process, waits for /readyz, sends one
~600-word article per request (evidence and regions on, the API default) and records p50/p99 latency and
requests/s per concurrency level, the server's peak RSS, and the evidence cost (same request with evidence off).
It also times offline batch scoring in-process (`Classifier.predict`, same options) as the throughput reference.
The client is a minimal keep-alive HTTP/1.1 client on asyncio streams so it takes little CPU from the server.
Nothing leaves the machine: the host is fixed to 127.0.0.1 and every level is bounded by --seconds and --max-requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def article(words: int = 600) -> str:
    """About `words` words of real Indonesian election news (the seeds, concatenated and cut at a sentence)."""
    text = "\n".join(p.read_text(encoding="utf-8").strip() for p in sorted((REPO / "seeds").glob("*.txt")))
    tokens = text.split(" ")
    cut = " ".join(tokens[:words])
    return cut[: cut.rfind(".") + 1] or cut


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


class Client:
    """One keep-alive HTTP/1.1 connection; POST JSON and read the reply (Content-Length framed)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader = self.writer = None

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        head = (f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def run_level(port: int, body: bytes, concurrency: int, seconds: float, max_requests: int) -> dict:
    """`concurrency` clients send back-to-back requests for `seconds` (or until `max_requests`)."""
    latencies: list[float] = []
    errors = {"count": 0}
    deadline = time.perf_counter() + seconds
    sent = {"n": 0}

    async def worker() -> None:
        client = Client(port)
        try:
            while time.perf_counter() < deadline and sent["n"] < max_requests:
                sent["n"] += 1
                started = time.perf_counter()
                status = await client.post("/v1/classify", body)
                if status == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors["count"] += 1
        finally:
            client.close()

    started = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    elapsed = time.perf_counter() - started
    latencies.sort()
    pick = lambda q: round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1)  # noqa: E731
    return {"concurrency": concurrency, "requests": len(latencies), "errors": errors["count"],
            "seconds": round(elapsed, 2), "rps": round(len(latencies) / elapsed, 2),
            "p50_ms": pick(0.50), "p99_ms": pick(0.99), "mean_ms": round(1000 * statistics.fmean(latencies), 1)}


def start_server(model: str, models_dir: str | None, threads: int, batching: bool, port: int,
                 token_budget: int | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "rawan.cli", "serve", "--host", HOST, "--port", str(port), "--model", model,
           "--threads", str(threads)]
    if models_dir:
        cmd += ["--models-dir", models_dir]
    if not batching:
        cmd.append("--no-batching")
    env = dict(os.environ, RAWAN_LOG_LEVEL="WARNING")
    if token_budget:
        env["RAWAN_TOKEN_BUDGET"] = str(token_budget)
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not become ready")


def bench_mode(args, batching: bool, text: str) -> dict:
    port = free_port()
    proc = start_server(args.model, args.models_dir, args.threads, batching, port, args.token_budget)
    try:
        body = json.dumps({"text": text}).encode()
        plain = json.dumps({"text": text, "evidence": False}).encode()
        asyncio.run(run_level(port, body, 4, 2.0, 50))  # warm-up
        levels = [asyncio.run(run_level(port, body, c, args.seconds, args.max_requests)) for c in args.concurrency]
        no_evidence = asyncio.run(run_level(port, plain, 1, args.seconds, args.max_requests))
        return {"batching": batching, "levels": levels, "c1_no_evidence": no_evidence, "rss_mb": rss_mb(proc.pid)}
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def offline(args, text: str, n: int = 64) -> dict:
    """In-process batch scoring throughput of the same article (the ceiling the server is compared to)."""
    sys.path.insert(0, str(REPO))
    from model.registry import resolve_model_path
    from model.runtime import Classifier

    path = resolve_model_path(args.model, args.models_dir) if args.models_dir else resolve_model_path(args.model)
    clf = Classifier.load(path, threads=args.threads or None)
    clf.predict([text] * 4)
    backend = clf.backend + (f" {clf.session.precision}" if clf.backend == "openvino" else "")
    out = {"model": clf.info, "onnx_file": clf.onnx_file, "backend": backend,
           "windows_per_article": len(clf.prepare(text).windows), "articles": n}
    for name, kw in (("articles_per_s", {}), ("articles_per_s_no_evidence", {"evidence": False})):
        started = time.perf_counter()
        clf.predict([text] * n, **kw)
        out[name] = round(n / (time.perf_counter() - started), 2)
    one = []
    for _ in range(20):
        started = time.perf_counter()
        clf.predict([text])
        one.append(time.perf_counter() - started)
    out["single_article_ms"] = round(1000 * statistics.median(one), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="rawan-e5-small@champion")
    p.add_argument("--models-dir", default=None)
    p.add_argument("--threads", type=int, default=0, help="ONNX intra-op threads (0 = all cores)")
    p.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32])
    p.add_argument("--seconds", type=float, default=10.0, help="per level")
    p.add_argument("--max-requests", type=int, default=5000, help="per level")
    p.add_argument("--words", type=int, default=600)
    p.add_argument("--token-budget", type=int, default=None, help="server RAWAN_TOKEN_BUDGET (default: settings)")
    p.add_argument("--out", default=None, help="write the JSON report here")
    args = p.parse_args(argv)
    if max(args.concurrency) > 256:
        p.error("concurrency is capped at 256")

    text = article(args.words)
    report = {"host": {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
                       "load_average_at_start": os.getloadavg()},
              "token_budget": args.token_budget,
              "article_words": len(text.split()), "article_chars": len(text)}
    report["offline"] = offline(args, text)
    report["batching_on"] = bench_mode(args, True, text)
    report["batching_off"] = bench_mode(args, False, text)
    on = {lv["concurrency"]: lv for lv in report["batching_on"]["levels"]}
    off = {lv["concurrency"]: lv for lv in report["batching_off"]["levels"]}
    top = max(on)
    c1 = on[min(on)]
    report["summary"] = {
        "p50_ms_c1": c1["p50_ms"], "p99_ms_c1": c1["p99_ms"],
        f"rps_c{top}_on": on[top]["rps"], f"rps_c{top}_off": off[top]["rps"],
        "speedup_vs_no_batching": round(on[top]["rps"] / max(off[top]["rps"], 1e-9), 2),
        "fraction_of_offline": round(on[top]["rps"] / report["offline"]["articles_per_s"], 2),
        "evidence_cost_ratio_c1": round(c1["mean_ms"] / report["batching_on"]["c1_no_evidence"]["mean_ms"], 2),
        "peak_rss_mb": report["batching_on"]["rss_mb"].get("VmHWM"),
    }
    print(f"model {report['offline']['model']} ({report['offline']['onnx_file']} on "
          f"{report['offline']['backend']}), article "
          f"{report['article_words']} words = {report['offline']['windows_per_article']} windows, "
          f"{os.cpu_count()} cpus")
    print(f"{'concurrency':>11} | {'batching rps':>12} {'p50 ms':>8} {'p99 ms':>8} | {'no-batch rps':>12} "
          f"{'p50 ms':>8} {'p99 ms':>8}")
    for c in sorted(on):
        a, b = on[c], off[c]
        print(f"{c:>11} | {a['rps']:>12} {a['p50_ms']:>8} {a['p99_ms']:>8} | {b['rps']:>12} {b['p50_ms']:>8} "
              f"{b['p99_ms']:>8}")
    print(f"offline batch scoring: {report['offline']['articles_per_s']} articles/s "
          f"({report['offline']['articles_per_s_no_evidence']} without evidence)")
    print("summary:", json.dumps(report["summary"]))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
