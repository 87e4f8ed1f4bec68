"""Answer chat prompts through OpenAI-compatible servers: `vllm serve`, SGLang, `llamafactory-cli
api`, or any hosted endpoint that speaks `/v1/chat/completions`.

This is the route to generating at scale: the tuned model is served on GPUs by the tool built
for it, and synthpack only sends requests. The client is httpx's asynchronous one (already
installed with LLaMA-Factory's dependencies), with a bounded number of requests in flight per
endpoint. `check_endpoints` finds bad configuration before any generation; `request_answers`
sends one prompt and sorts every failure into retryable (429, 5xx, timeouts, dropped
connections) or final, so the caller can retry with backoff and record what never succeeded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from synthpack.common.errors import SynthpackError

PROBE_TIMEOUT_S = 30.0  # the checks before a run: a listing and a one-token answer
RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
MAX_BACKOFF_S = 30.0
DETAIL_CHARS = 200  # of a server's error message kept in a failed row (never the prompt)


@dataclass(frozen=True)
class Endpoints:
    """Where to send prompts and how hard to push: `concurrency` requests in flight per
    endpoint; a request that fails for a passing reason is tried again up to `retries` more
    times, waiting `backoff_s`, then twice as long, ... (at most 30 s, or what the server's
    Retry-After asks). `served_model` None: the one model the servers list. The API key is
    read from the environment variable `api_key_env`, so it is never written to a record."""

    urls: tuple[str, ...]
    served_model: str | None = None
    concurrency: int = 8
    api_key_env: str | None = None
    timeout_s: float = 600.0
    retries: int = 4
    backoff_s: float = 1.0

    def __post_init__(self):
        if not self.urls:
            raise SynthpackError("give at least one --endpoint URL")
        object.__setattr__(self, "urls", tuple(base_url(u) for u in self.urls))
        if len(set(self.urls)) != len(self.urls):
            raise SynthpackError(f"the same --endpoint given twice: {', '.join(self.urls)}")

    def headers(self) -> dict[str, str]:
        """The request headers, with the key from `api_key_env` when one is named."""
        if not self.api_key_env:
            return {}
        key = os.environ.get(self.api_key_env)
        if not key:
            raise SynthpackError(
                f"--api-key-env {self.api_key_env}: that environment variable is not set"
            )
        return {"Authorization": f"Bearer {key}"}

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try `attempt + 1` (attempt counts from 1)."""
        wait = self.backoff_s * 2 ** (attempt - 1)
        return min(MAX_BACKOFF_S, max(wait, retry_after or 0.0))


def base_url(url: str) -> str:
    """`http://host:8000`, `.../v1` and `.../v1/` all name the same API root."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise SynthpackError(f"--endpoint {url!r}: expected an http:// or https:// URL")
    return url if url.endswith("/v1") else url + "/v1"


class RequestFailed(Exception):
    """A request that did not give answers: `reason` says why in one line, `retryable` says
    whether trying again may help, `retry_after` is the server's Retry-After in seconds."""

    def __init__(self, reason: str, retryable: bool, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.retryable, self.retry_after = reason, retryable, retry_after


def _detail(response) -> str:
    """The server's error message, short: FastAPI's `detail`, OpenAI's `error.message`."""
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text.split())[:DETAIL_CHARS]
    if isinstance(body, dict):
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else body.get("detail")
        if message is not None:
            return " ".join(str(message).split())[:DETAIL_CHARS]
    return " ".join(str(body).split())[:DETAIL_CHARS]


def _retry_after(response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def chat_request(
    model: str, prompt: str, n: int, sampling, seed: int, stop: list[str] | None = None
) -> dict:
    """The chat-completions body: the same settings the hf backend decodes with. `seed` is
    honoured by vLLM and SGLang (a resumed run then gives the same answers) and ignored by
    servers without it; temperature 0 is greedy everywhere."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "n": n,
        "max_tokens": sampling.max_new_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "seed": seed,
    }
    if stop:
        body["stop"] = stop
    return body


def parse_answers(body, n: int) -> tuple[list[dict], dict]:
    """(one answer per choice: text and finish reason, usage) of a chat-completions reply."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or len(choices) != n:
        got = len(choices) if isinstance(choices, list) else "no"
        raise RequestFailed(f"bad reply: {got} choices for n={n}", retryable=True)
    if not all(isinstance(c, dict) and isinstance(c.get("message"), dict) for c in choices):
        raise RequestFailed("bad reply: a choice without a message", retryable=True)
    answers = []
    for choice in sorted(choices, key=lambda c: c.get("index") or 0):
        text = choice["message"].get("content")
        if not isinstance(text, str):
            raise RequestFailed("bad reply: a choice without text content", retryable=True)
        answers.append({"text": text, "finish_reason": choice.get("finish_reason")})
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    return answers, {k: usage.get(k) for k in ("prompt_tokens", "completion_tokens")}


async def request_answers(client, url: str, body: dict, headers: dict, timeout_s: float):
    """POST one chat completion; (answers, usage) or RequestFailed."""
    import httpx

    try:
        response = await client.post(
            f"{url}/chat/completions", json=body, headers=headers, timeout=timeout_s
        )
    except httpx.TimeoutException:
        raise RequestFailed(f"timed out after {timeout_s:g} s", retryable=True) from None
    except httpx.TransportError as exc:  # refused, reset, dropped mid-reply
        raise RequestFailed(f"connection failed ({type(exc).__name__})", retryable=True) from None
    if response.status_code != 200:
        raise RequestFailed(
            f"HTTP {response.status_code}: {_detail(response)}",
            retryable=response.status_code in RETRYABLE_STATUS,
            retry_after=_retry_after(response),
        )
    try:
        body_out = response.json()
    except ValueError:
        raise RequestFailed("bad reply: not JSON", retryable=True) from None
    return parse_answers(body_out, body["n"])


def check_endpoints(endpoints: Endpoints) -> str:
    """Fail with one clear line when a run could not generate: an endpoint that cannot be
    reached or is not an OpenAI-compatible server, a key it refuses, a served model it does not
    list, or a chat completion it cannot make (a model without a chat template is the usual
    cause). Returns the served model's name."""
    import httpx

    headers = endpoints.headers()
    listed: dict[str, list[str]] = {}
    with httpx.Client(timeout=PROBE_TIMEOUT_S) as client:
        for url in endpoints.urls:
            listed[url] = _served_models(client, url, headers)
        model = endpoints.served_model or _only_model(listed)
        for url, names in listed.items():
            if model not in names:
                raise SynthpackError(
                    f"{url} does not serve {model!r}; it serves: {', '.join(names) or 'nothing'} "
                    "(give --served-model)"
                )
        for url in endpoints.urls:
            _one_token(client, url, model, headers)
    return model


def _served_models(client, url: str, headers: dict) -> list[str]:
    import httpx

    try:
        response = client.get(f"{url}/models", headers=headers)
    except httpx.TransportError as exc:
        raise SynthpackError(
            f"cannot reach {url} ({type(exc).__name__}): is the server running there?"
        ) from None
    if response.status_code in (401, 403):
        raise SynthpackError(
            f"{url} refused the API key (HTTP {response.status_code}); name the environment "
            "variable that holds it with --api-key-env"
        )
    if response.status_code != 200:
        raise SynthpackError(
            f"{url}: GET /models answered HTTP {response.status_code}; not an OpenAI-compatible "
            "server? (give the URL of its API root, such as http://host:8000/v1)"
        )
    try:
        data = response.json()["data"]
        return [str(m["id"]) for m in data]
    except (ValueError, KeyError, TypeError):
        raise SynthpackError(
            f"{url}: GET /models did not answer with a model list; not an OpenAI-compatible server?"
        ) from None


def _only_model(listed: dict[str, list[str]]) -> str:
    names = sorted({n for names in listed.values() for n in names})
    if len(names) != 1:
        raise SynthpackError(
            f"the endpoints serve {len(names)} models ({', '.join(names) or 'none'}); "
            "choose one with --served-model"
        )
    return names[0]


def _one_token(client, url: str, model: str, headers: dict) -> None:
    """A chat completion of one token: catches a served model that cannot chat."""
    import httpx

    body = {"model": model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 1}
    try:
        response = client.post(f"{url}/chat/completions", json=body, headers=headers)
    except httpx.TransportError as exc:
        raise SynthpackError(
            f"{url}: a test chat completion failed ({type(exc).__name__})"
        ) from None
    if response.status_code != 200:
        detail = _detail(response)
        hint = (
            " (the served model has no chat template: serve it with one, e.g. vLLM's "
            "--chat-template)"
            if "template" in detail.lower()
            else ""
        )
        raise SynthpackError(
            f"{url}: a test chat completion failed: HTTP {response.status_code}: {detail}{hint}"
        )
