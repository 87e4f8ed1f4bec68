"""Generate through OpenAI-compatible servers into raw.jsonl: nothing lost, nothing doubled.

The unit of work is one prompt with all its samples (one request with `n` = samples). Requests
go out to every endpoint at once, `concurrency` in flight on each, from one shared queue, so a
faster server takes more. Each answer is appended to raw.jsonl as it arrives, with where it
came from (`served`: endpoint, finish reason, token usage, tries). A request that fails for a
passing reason (429, 5xx, timeout, dropped connection) goes back to the queue after a backoff,
and its endpoint rests for as long; after the last try the prompt is written as failed rows
with the reason (`failure`), which cleaning counts as `no_answer`. Rerunning the command sends
only what is missing: prompts never answered and the failed ones. At the end raw.jsonl is put
in prompt order, so a resumed run leaves the same file as an uninterrupted one.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import asdict
from pathlib import Path

from synthpack.common.files import atomic_write_jsonl
from synthpack.common.progress import ProgressBar, silent
from synthpack.generate.resumable import (
    append_rows,
    batch_seed,
    load_answered,
    raw_row,
    read_raw_rows,
)
from synthpack.models.backends import Sampling, list_end
from synthpack.models.endpoints import Endpoints, RequestFailed, chat_request, request_answers

FSYNC_EVERY_S = 1.0  # appended rows reach the disk at least this often (and at the end)


def endpoint_provenance(served_model: str, sampling: Sampling, samples: int) -> dict:
    """What every row a server generated carries, and what a resumed run must match. The
    endpoints themselves are not in it: a resumed run may use other servers of the same model
    (each row records the one that answered it)."""
    return {
        "model": served_model,
        "adapter": None,
        "backend": "endpoint",
        "sampling": asdict(sampling),
        "samples": samples,
    }


def list_stops(n_entries: int, sampling: Sampling) -> list[str] | None:
    """Stop sequences that end an answer where entry n+1 starts (servers honour `stop`;
    LLaMA-Factory's own server ignores it, and the answer is cut on arrival instead)."""
    if not sampling.stop_at_list_end:
        return None
    return [f"\n{n_entries + 1}.", f"\n{n_entries + 1})"]


def _answers(raw: list[dict], n_entries: int, sampling: Sampling, usage: dict) -> list[dict]:
    """The server's choices in the layout of the hf backend's answers, with the server's own
    finish reason (`list_done` when the list's end cut the answer here)."""
    tokens = usage.get("completion_tokens")
    out = []
    for choice in raw:
        text, reason = choice["text"], choice["finish_reason"]
        cut = list_end(text, n_entries) if sampling.stop_at_list_end else None
        out.append(
            {
                "text": text if cut is None else text[:cut],
                "stopped": None if reason is None else reason != "length" or cut is not None,
                "new_tokens": tokens if len(raw) == 1 else None,  # usage is per request
                "finish_reason": "list_done" if cut is not None else reason,
            }
        )
    return out


class _Sender:
    """The queue, the workers and the counts of one run."""

    def __init__(self, batches, todo, raw, provenance, endpoints: Endpoints, model: str,
                 sampling: Sampling, update, budget: int):  # fmt: skip
        self.batches, self.raw, self.provenance = batches, raw, provenance
        self.budget = budget  # the bar's total: tokens written + the most the rest can write
        self.endpoints, self.model, self.sampling, self.update = endpoints, model, sampling, update
        self.headers = endpoints.headers()
        self.todo = todo
        self.rest_until = dict.fromkeys(endpoints.urls, 0.0)
        self.per_endpoint = {
            u: {"answered": 0, "failed": 0, "retries": 0, "new_tokens": 0} for u in endpoints.urls
        }
        self.counts = {"answered": 0, "failed": 0, "retries": 0, "new_tokens": 0}
        self.last_fsync = time.monotonic()

    async def run(self) -> None:
        import httpx

        loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue()
        for b in self.todo:
            self.queue.put_nowait((b, 1))
        self.finished = asyncio.Event()
        in_flight = self.endpoints.concurrency * len(self.endpoints.urls)
        limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
        async with httpx.AsyncClient(limits=limits, timeout=self.endpoints.timeout_s) as client:
            workers = [
                loop.create_task(self._worker(client, url))
                for url in self.endpoints.urls
                for _ in range(self.endpoints.concurrency)
            ]
            finished = loop.create_task(self.finished.wait())
            try:
                if self.todo:  # a worker that dies of an unexpected error ends the run with it
                    done, _ = await asyncio.wait(
                        [finished, *workers], return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in done - {finished}:
                        task.result()
            finally:
                finished.cancel()
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(self, client, url: str) -> None:
        loop = asyncio.get_running_loop()
        while True:
            resting = self.rest_until[url] - loop.time()
            if resting > 0:  # the endpoint failed a request a moment ago
                await asyncio.sleep(resting)
            b, attempt = await self.queue.get()
            items = self.batches[b]
            prompt = items[0][0]
            body = chat_request(
                self.model, prompt["prompt"], len(items), self.sampling,
                batch_seed(self.sampling, b), list_stops(prompt["n_entries"], self.sampling),
            )  # fmt: skip
            try:
                raw, usage = await request_answers(
                    client, url, body, self.headers, self.endpoints.timeout_s
                )
            except RequestFailed as failure:
                if failure.retryable:
                    wait = self.endpoints.backoff(attempt, failure.retry_after)
                    self.rest_until[url] = max(self.rest_until[url], loop.time() + wait)
                    if attempt <= self.endpoints.retries:
                        self.counts["retries"] += 1
                        self.per_endpoint[url]["retries"] += 1
                        loop.call_later(wait, self.queue.put_nowait, (b, attempt + 1))
                        continue
                self._write(b, url, attempt, failure=failure.reason)
            else:
                answers = _answers(raw, prompt["n_entries"], self.sampling, usage)
                self._write(b, url, attempt, answers=answers, usage=usage)
            if self.counts["answered"] + self.counts["failed"] == len(self.todo):
                self.finished.set()

    def _write(self, b: int, url: str, attempt: int, answers=None, usage=None, failure=None):
        """Append the rows of one prompt (`append_rows`), fsynced at most every second."""
        served = {"endpoint": url, "attempts": attempt}
        rows = []
        for k, (prompt, sample) in enumerate(self.batches[b]):
            if failure is None:
                answer = answers[k]
                reason = answer["finish_reason"]
                extra = {"served": {**served, "finish_reason": reason, "usage": usage}}
            else:
                answer = {"text": "", "stopped": None, "new_tokens": 0}
                extra = {"served": served, "failure": failure}
            rows.append({**raw_row(prompt, sample, b, answer, self.provenance), **extra})
        sync = time.monotonic() - self.last_fsync >= FSYNC_EVERY_S
        append_rows(self.raw, rows, sync)
        if sync:
            self.last_fsync = time.monotonic()
        tokens = (usage or {}).get("completion_tokens") or 0
        outcome = "failed" if failure else "answered"
        for counts in (self.counts, self.per_endpoint[url]):
            counts[outcome] += 1
            counts["new_tokens"] += tokens
        self.budget -= len(rows) * self.sampling.max_new_tokens - tokens  # unused budget leaves
        self.update(
            tokens,
            total=self.budget,
            prompts=f"{self.counts['answered'] + self.counts['failed']}/{len(self.todo)}",
            failed=self.counts["failed"],
            **{f"e{i + 1}": c["answered"] for i, c in enumerate(self.per_endpoint.values())},
        )


def generate_from_endpoints(
    batches: list[list[tuple[dict, int]]],
    raw_path: Path,
    provenance: dict,
    endpoints: Endpoints,
    served_model: str,
    sampling: Sampling,
    progress_bar: ProgressBar = silent,
) -> dict:
    """Send every prompt not yet answered (`batches` from `batches_of(prompts, samples,
    samples)`: one prompt each) to the endpoints; returns the run's numbers."""
    done, failed_before = load_answered(raw_path, batches, provenance)
    answered = {r["batch"] for r in done}
    todo = [b for b in range(len(batches)) if b not in answered]
    budget = sum(len(batches[b]) for b in todo) * sampling.max_new_tokens
    started = time.perf_counter()
    fd = os.open(raw_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with (
        os.fdopen(fd, "a", encoding="utf-8") as raw,
        progress_bar(budget, "generate", unit="tok") as update,
    ):
        sender = _Sender(
            batches, todo, raw, provenance, endpoints, served_model, sampling, update, budget
        )
        update(0, prompts=f"0/{len(todo)}")
        try:
            asyncio.run(sender.run())
        finally:
            raw.flush()
            os.fsync(raw.fileno())
    seconds = time.perf_counter() - started
    rows, _ = read_raw_rows(raw_path)
    atomic_write_jsonl(raw_path, sorted(rows, key=lambda r: (r["batch"], r["sample"])))
    return {
        "served_model": served_model,
        "endpoints": list(endpoints.urls),
        "prompts": len(batches),
        "prompts_reused": len(answered),
        "prompts_sent": len(todo),
        "earlier_failures_resent": failed_before,
        **sender.counts,
        "per_endpoint": sender.per_endpoint,
        "seconds": seconds,
    }
