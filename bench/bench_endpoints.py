"""`synthpack generate --endpoint` against real `llamafactory-cli api` servers (tiny model).

Three measurements, all in one run on the machine at hand (it prints the CPU):

1. Client overhead: N requests of `max_tokens=1` to one server pinned to core 1, the client
   pinned to core 0, at concurrency 1 and 32. Reported: the client's own CPU time per request
   (what it adds, whatever the server does), and the wall time per request at 32 minus that
   at 1 (the server's own time per request, measured at concurrency 1, subtracted).
2. Two endpoints against one on server-bound work (32 new tokens per prompt): one server
   pinned to core 0, then two pinned to cores 0 and 1; throughput ratio.
3. Kill and resume: 1,000 prompts through the CLI, the client killed (SIGKILL) three times
   and rerun, against an uninterrupted reference: answers lost, doubled and different.

    python bench/bench_endpoints.py --out bench/endpoints_results.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

from bench_train_step import cpu_name

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the tests' tiny model and server launcher

from servers import LlamaFactoryServer, numbered_prompts  # noqa: E402
from tiny_model import build_tiny_llama  # noqa: E402

SOURCE_PROMPTS = REPO / "tests" / "fixtures" / "smollm2_hate_prompts.jsonl"
SYNTHPACK = str(Path(sys.executable).with_name("synthpack"))


def run_client(prompts: Path, out: Path, urls: list[str], concurrency: int, max_tokens: int):
    """One generation in this process; (wall s, client CPU s, stats)."""
    from synthpack.generate.run import GenerateSettings, run_generate
    from synthpack.models.backends import Sampling
    from synthpack.models.endpoints import Endpoints

    settings = GenerateSettings(
        prompts=prompts,
        endpoints=Endpoints(tuple(urls), concurrency=concurrency),
        sampling=Sampling(max_new_tokens=max_tokens, temperature=0.0),
    )
    wall, cpu = time.perf_counter(), time.process_time()
    stats = run_generate(settings, out)
    return time.perf_counter() - wall, time.process_time() - cpu, stats


def client_overhead(model: Path, work: Path, n: int) -> dict:
    prompts = numbered_prompts(SOURCE_PROMPTS, work / "overhead.jsonl", n)
    os.sched_setaffinity(0, {0})
    result = {"requests": n, "max_tokens": 1}
    with LlamaFactoryServer(model, work / "overhead.log", cpu=1) as server:
        run_client(prompts, work / "warm", [server.url], 4, 1)  # first requests load lazily
        for concurrency in (1, 32):
            wall, cpu, stats = run_client(prompts, work / f"c{concurrency}", [server.url],
                                          concurrency, 1)  # fmt: skip
            assert stats["answered"] == n, stats
            result[f"c{concurrency}"] = {
                "wall_s": round(wall, 3),
                "wall_ms_per_request": round(1000 * wall / n, 3),
                "client_cpu_ms_per_request": round(1000 * cpu / n, 3),
            }
    os.sched_setaffinity(0, {0, 1})
    result["overhead_ms_per_request_wall"] = round(
        result["c32"]["wall_ms_per_request"] - result["c1"]["wall_ms_per_request"], 3
    )
    return result


def two_endpoints(model: Path, work: Path, n: int, max_tokens: int) -> dict:
    prompts = numbered_prompts(SOURCE_PROMPTS, work / "load.jsonl", n)
    result = {"prompts": n, "max_tokens": max_tokens, "concurrency_per_endpoint": 4}
    with (
        LlamaFactoryServer(model, work / "a.log", cpu=0) as a,
        LlamaFactoryServer(model, work / "b.log", cpu=1) as b,
    ):
        run_client(prompts, work / "warm2", [a.url, b.url], 4, 4)
        for name, urls in (("one", [a.url]), ("two", [a.url, b.url])):
            wall, _, stats = run_client(prompts, work / name, urls, 4, max_tokens)
            result[name] = {
                "seconds": round(wall, 3),
                "prompts_per_s": round(n / wall, 3),
                "tokens_per_s": round(stats["new_tokens"] / wall, 1),
                "per_endpoint": {u: c["answered"] for u, c in stats["per_endpoint"].items()},
            }
    result["speedup"] = round(result["two"]["prompts_per_s"] / result["one"]["prompts_per_s"], 3)
    return result


def cli(prompts: Path, out: Path, url: str) -> list[str]:
    return [SYNTHPACK, "generate", "--prompts", str(prompts), "--endpoint", url, "--out",
            str(out), "--quiet", "--max-new-tokens", "4", "--temperature", "0",
            "--concurrency", "16"]  # fmt: skip


def rows(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "raw.jsonl").read_text().splitlines()]


def kill_and_resume(model: Path, work: Path, n: int, kills: int) -> dict:
    prompts = numbered_prompts(SOURCE_PROMPTS, work / "kill.jsonl", n)
    with LlamaFactoryServer(model, work / "kill.log") as server:
        subprocess.run(cli(prompts, work / "reference", server.url), check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        out, killed_at = work / "resumed", []
        for k in range(1, kills + 1):
            client = subprocess.Popen(cli(prompts, out, server.url), stdout=subprocess.DEVNULL)
            target = k * n // (kills + 1)
            while rows_written(out) < target:
                assert client.poll() is None, "the client finished before it was killed"
                time.sleep(0.01)
            client.send_signal(signal.SIGKILL)
            client.wait()
            killed_at.append(rows_written(out))
        subprocess.run(cli(prompts, out, server.url), check=True, stdout=subprocess.DEVNULL)
    reference = {(r["prompt_id"], r["sample"]): r["output"] for r in rows(work / "reference")}
    resumed = rows(out)
    keys = Counter((r["prompt_id"], r["sample"]) for r in resumed)
    return {
        "requests": n,
        "kills": kills,
        "rows_when_killed": killed_at,
        "lost": sum(1 for k in reference if k not in keys),
        "doubled": sum(c - 1 for c in keys.values() if c > 1),
        "different": sum(1 for r in resumed
                         if reference.get((r["prompt_id"], r["sample"])) != r["output"]),
        "failed": sum(1 for r in resumed if r.get("failure")),
    }  # fmt: skip


def rows_written(out: Path) -> int:
    raw = out / "raw.jsonl"
    return len(raw.read_text().splitlines()) if raw.exists() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "endpoints_results.json")
    parser.add_argument("--overhead-requests", type=int, default=400)
    parser.add_argument("--load-prompts", type=int, default=96)
    parser.add_argument("--load-tokens", type=int, default=32)
    parser.add_argument("--kill-requests", type=int, default=1000)
    args = parser.parse_args()
    os.environ.update({"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    with tempfile.TemporaryDirectory(prefix="bench-endpoints-") as tmp:
        work = Path(tmp)
        model = build_tiny_llama(work / "tiny", REPO / "dataset_info")
        server = "llamafactory-cli api (huggingface engine), tiny random Llama"
        result = {"date": date.today().isoformat(), "cpu": cpu_name(), "server": server}
        result["client_overhead"] = client_overhead(model, work, args.overhead_requests)
        print(json.dumps(result["client_overhead"]), flush=True)
        result["two_endpoints"] = two_endpoints(model, work, args.load_prompts, args.load_tokens)
        print(json.dumps(result["two_endpoints"]), flush=True)
        result["kill_and_resume"] = kill_and_resume(model, work, args.kill_requests, 3)
        print(json.dumps(result["kill_and_resume"]), flush=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
