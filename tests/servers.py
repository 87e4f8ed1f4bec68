"""Real OpenAI-compatible servers for the tests and the benchmark: `llamafactory-cli api` (a
dependency already) serving a model folder on 127.0.0.1, started, killed and started again.

No mock: the client meets a real FastAPI/uvicorn server, its chat template, its error replies
and its dropped connections. Shared by tests/generate/test_endpoints_servers.py and
bench/bench_endpoints.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

READY_TIMEOUT_S = 240  # importing torch and LLaMA-Factory, loading the model: ~8 s idle


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def llamafactory_cli() -> str:
    """The `llamafactory-cli` of the interpreter running the tests."""
    beside = Path(sys.executable).with_name("llamafactory-cli")
    return str(beside) if beside.exists() else shutil.which("llamafactory-cli")


class LlamaFactoryServer:
    """`llamafactory-cli api` for one model folder (and adapter). `cpu`: pin the server to
    that core with taskset (the benchmark's server-bound comparison)."""

    def __init__(
        self,
        model_dir: Path,
        log: Path,
        template: str = "chatml",
        name: str = "tiny",
        adapter_dir: Path | None = None,
        api_key: str | None = None,
        cpu: int | None = None,
        port: int | None = None,
        threads: int = 1,
    ):
        self.model_dir, self.log, self.template, self.name = model_dir, log, template, name
        self.adapter_dir, self.api_key, self.cpu, self.threads = adapter_dir, api_key, cpu, threads
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LlamaFactoryServer:
        argv = [llamafactory_cli(), "api", "--model_name_or_path", str(self.model_dir),
                "--template", self.template, "--infer_backend", "huggingface"]  # fmt: skip
        if self.adapter_dir:
            argv += ["--adapter_name_or_path", str(self.adapter_dir)]
        if self.cpu is not None:
            argv = ["taskset", "-c", str(self.cpu), *argv]
        env = {
            **os.environ,
            "API_HOST": "127.0.0.1",
            "API_PORT": str(self.port),
            "API_MODEL_NAME": self.name,
            "API_VERBOSE": "0",  # no request bodies in its log (they may hold harmful text)
            "OMP_NUM_THREADS": str(self.threads),
            "HF_HUB_OFFLINE": "1",
            "DISABLE_VERSION_CHECK": "1",
        }
        env.pop("API_KEY", None)
        if self.api_key:
            env["API_KEY"] = self.api_key
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llamafactory-cli api exited; see {self.log}")
            try:
                request = urllib.request.Request(f"{self.url}/models", headers=headers)
                with urllib.request.urlopen(request, timeout=2) as reply:
                    if json.load(reply)["data"]:
                        return
            except (OSError, urllib.error.URLError, ValueError):
                time.sleep(0.3)
        self.kill()
        raise RuntimeError(f"llamafactory-cli api not ready after {READY_TIMEOUT_S} s; {self.log}")

    def kill(self) -> None:
        """SIGKILL, as a crash or a preempted node would: no goodbye to open connections."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def __enter__(self) -> LlamaFactoryServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()


def numbered_prompts(source: Path, out: Path, n: int) -> Path:
    """`n` prompts.jsonl records made from the records of `source`, each with its own id and
    a distinct ending, so that greedy answers differ from prompt to prompt."""
    rows = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    with open(out, "w", encoding="utf-8") as f:
        for i in range(n):
            row = dict(rows[i % len(rows)])
            row["id"] = f"{row['id']}-{i}"
            row["prompt"] = f"{row['prompt']}\nRequest {i}."
            f.write(json.dumps(row) + "\n")
    return out
