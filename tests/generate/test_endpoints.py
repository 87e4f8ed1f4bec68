"""The pure parts of `generate --endpoint`: settings, backoff, reading a reply, resuming, and
how cleaning counts a prompt no server answered. The real servers are in
test_endpoints_servers.py."""

from __future__ import annotations

import json

import pytest

from synthpack.clean.pipeline import clean_generations
from synthpack.common.errors import SynthpackError
from synthpack.generate.from_endpoints import _answers, endpoint_provenance, list_stops
from synthpack.generate.resumable import batches_of, load_answered, raw_row
from synthpack.generate.run import GenerateSettings
from synthpack.models.backends import Sampling
from synthpack.models.endpoints import Endpoints, RequestFailed, base_url, parse_answers


def test_an_endpoint_is_named_by_its_api_root_however_it_is_written():
    assert base_url("http://gpu1:8000") == "http://gpu1:8000/v1"
    assert base_url("http://gpu1:8000/v1/") == "http://gpu1:8000/v1"
    with pytest.raises(SynthpackError, match="expected an http"):
        base_url("gpu1:8000")
    with pytest.raises(SynthpackError, match="given twice"):
        Endpoints(("http://a:1", "http://a:1/v1"))
    with pytest.raises(SynthpackError, match="at least one"):
        Endpoints(())


def test_the_api_key_comes_from_the_named_variable_only(monkeypatch):
    assert Endpoints(("http://a:1",)).headers() == {}
    monkeypatch.setenv("MY_KEY", "k")
    assert Endpoints(("http://a:1",), api_key_env="MY_KEY").headers() == {
        "Authorization": "Bearer k"
    }
    monkeypatch.delenv("MY_KEY")
    with pytest.raises(SynthpackError, match="MY_KEY: that environment variable is not set"):
        Endpoints(("http://a:1",), api_key_env="MY_KEY").headers()


def test_backoff_doubles_up_to_a_cap_and_honours_retry_after():
    e = Endpoints(("http://a:1",), backoff_s=1.0)
    assert [e.backoff(a) for a in (1, 2, 3, 4, 5, 6, 7)] == [1, 2, 4, 8, 16, 30, 30]
    assert e.backoff(1, retry_after=7) == 7


def test_a_reply_gives_one_answer_per_choice_in_index_order():
    body = {
        "choices": [
            {"index": 1, "message": {"content": "b"}, "finish_reason": "length"},
            {"index": 0, "message": {"content": "a"}, "finish_reason": "stop"},
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14},
    }
    answers, usage = parse_answers(body, 2)
    assert [a["text"] for a in answers] == ["a", "b"]
    assert usage == {"prompt_tokens": 5, "completion_tokens": 9}
    with pytest.raises(RequestFailed, match="1 choices for n=2") as bad:
        parse_answers({"choices": body["choices"][:1]}, 2)
    assert bad.value.retryable
    with pytest.raises(RequestFailed, match="without a message"):
        parse_answers({"choices": ["text"]}, 1)


def test_a_list_is_cut_where_entry_n_plus_1_starts_when_asked():
    sampling = Sampling(stop_at_list_end=True)
    assert list_stops(3, sampling) == ["\n4.", "\n4)"]
    assert list_stops(3, Sampling()) is None
    raw = [{"text": "1. a\n2. b\n3. c\n1. again", "finish_reason": "length"}]
    (cut,) = _answers(raw, 3, sampling, {"completion_tokens": 12})
    assert cut == {"text": "1. a\n2. b\n3. c", "stopped": True, "new_tokens": 12,
                   "finish_reason": "list_done"}  # fmt: skip
    (whole,) = _answers(raw, 3, Sampling(), {"completion_tokens": 12})
    assert whole["text"] == raw[0]["text"] and whole["stopped"] is False
    assert whole["finish_reason"] == "length"


PROMPT = {"id": "p", "stem": "hate_pos_v1", "category": "hate", "version": "v1",
          "polarity": "pos", "n_entries": 2, "examples": [], "prompt": "Write two."}  # fmt: skip


def test_a_resume_keeps_answered_prompts_and_sends_failed_ones_again(tmp_path):
    prompts = [{**PROMPT, "id": f"p{i}"} for i in range(3)]
    batches = batches_of(prompts, 2, 2)  # one prompt, both samples, per request
    provenance = endpoint_provenance("m", Sampling(), 2)
    answered = {"text": "1. one\n2. two", "stopped": True, "new_tokens": 4}
    failed = {"text": "", "stopped": None, "new_tokens": 0}
    lines = [raw_row(prompts[0], s, 0, answered, provenance) for s in (0, 1)]
    lines += [{**raw_row(prompts[1], s, 1, failed, provenance), "failure": "HTTP 503"}
              for s in (0, 1)]  # fmt: skip
    lines += [raw_row(prompts[2], 0, 2, answered, provenance)]  # its second sample never came
    raw = tmp_path / "raw.jsonl"
    raw.write_text("".join(json.dumps(r) + "\n" for r in lines))
    kept, failed_before = load_answered(raw, batches, provenance)
    assert [(r["batch"], r["sample"]) for r in kept] == [(0, 0), (0, 1)]
    assert failed_before == 1
    assert len(raw.read_text().splitlines()) == 2  # what is sent again is gone from the file


def test_cleaning_counts_an_unanswered_prompt_as_one_no_answer_row():
    provenance = endpoint_provenance("m", Sampling(), 1)
    good = raw_row({**PROMPT, "id": "a"}, 0, 0, {"text": "1. first thing here\n2. second "
                   "thing here", "stopped": True}, provenance)  # fmt: skip
    lost = {**raw_row({**PROMPT, "id": "b"}, 0, 1, {"text": "", "stopped": None}, provenance),
            "failure": "timed out after 600 s"}  # fmt: skip
    cleaned = clean_generations([good, lost])
    report = cleaned.report
    assert report["generations_unanswered"] == 1 and report["generations"] == 1
    assert report["rejected_by_reason"]["no_answer"] == 1
    (row,) = [r for r in cleaned.rejected if r["reason"] == "no_answer"]
    assert row["failure"] == "timed out after 600 s" and row["prompt_id"] == "b"
    assert report["by_polarity"]["pos"]["success_rate_mean"] == 1.0  # the model is not blamed
    assert report["entries_parsed"] == report["accepted"] + report["rejected"]


def test_one_source_of_answers_and_no_adapter_for_a_server(tmp_path):
    servers = Endpoints(("http://a:1",))
    with pytest.raises(SynthpackError, match="give one of --model"):
        GenerateSettings(prompts=tmp_path / "p", model_dir=tmp_path, endpoints=servers)
    with pytest.raises(SynthpackError, match="--adapter goes with --model"):
        GenerateSettings(prompts=tmp_path / "p", endpoints=servers, adapter_dir=tmp_path)


# Replies no server here can be made to give (a rate limit, vLLM's error for a model without a
# chat template), replayed at the transport level with the bodies those servers send.
VLLM_NO_TEMPLATE = {
    "object": "error",
    "message": "As of transformers v4.44, default chat template is no longer allowed, so you "
    "must provide a chat template if the tokenizer does not define one.",
    "type": "BadRequestError",
    "code": 400,
}


def replay(status: int, body: dict, headers: dict | None = None):
    import httpx

    return httpx.MockTransport(lambda request: httpx.Response(status, json=body, headers=headers))


@pytest.mark.parametrize(
    ("status", "headers", "retryable", "retry_after"),
    [(429, {"Retry-After": "3"}, True, 3.0), (503, None, True, None), (400, None, False, None)],
)
def test_each_failure_is_sorted_into_retryable_or_final(status, headers, retryable, retry_after):
    import asyncio

    import httpx

    from synthpack.models.endpoints import request_answers

    async def send():
        transport = replay(status, {"detail": "busy"}, headers)
        async with httpx.AsyncClient(transport=transport) as client:
            await request_answers(client, "http://a:1/v1", {"n": 1}, {}, 5.0)

    with pytest.raises(RequestFailed, match=f"HTTP {status}: busy") as failed:
        asyncio.run(send())
    assert failed.value.retryable is retryable and failed.value.retry_after == retry_after


def test_a_server_without_a_chat_template_fails_the_checks_in_one_line(monkeypatch):
    import httpx

    from synthpack.models.endpoints import check_endpoints

    def server(request):
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": "base"}]})
        return httpx.Response(400, json=VLLM_NO_TEMPLATE)

    real_client = httpx.Client
    monkeypatch.setattr(
        httpx, "Client", lambda **kw: real_client(transport=httpx.MockTransport(server), **kw)
    )
    with pytest.raises(SynthpackError) as error:
        check_endpoints(Endpoints(("http://gpu1:8000",)))
    message = str(error.value)
    assert message.startswith("http://gpu1:8000/v1: a test chat completion failed: HTTP 400")
    assert "has no chat template" in message and "\n" not in message
