"""`synthpack generate --endpoint` against real `llamafactory-cli api` servers (tests/servers.py).

Every run answers the same 60 prompts greedily (temperature 0: the server's answer to a prompt
is fixed), so a run that was interrupted, whether its client was killed, its server was killed
and came back, or its server stayed down until a rerun, must leave the same raw.jsonl as the
uninterrupted reference: nothing lost, nothing doubled.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES
from servers import LlamaFactoryServer, free_port, numbered_prompts

from synthpack.cli import main

pytestmark = pytest.mark.integration

N_PROMPTS = 60
SETTINGS = ["--max-new-tokens", "24", "--temperature", "0", "--near-threshold", "1"]
SYNTHPACK = str(Path(sys.executable).with_name("synthpack"))


def rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "raw.jsonl").read_text().splitlines()]


def answers(folder: Path) -> list[tuple]:
    """What a run produced, without where it came from: one tuple per row, in file order."""
    return [(r["prompt_id"], r["sample"], r["batch"], r["output"], r["truncated"],
             r.get("failure")) for r in rows(folder)]  # fmt: skip


def stats(folder: Path) -> dict:
    return json.loads((folder / "generation_stats.json").read_text())


def argv(prompts: Path, out: Path, *urls: str, extra=()) -> list[str]:
    endpoints = [a for url in urls for a in ("--endpoint", url)]
    return ["generate", "--prompts", str(prompts), *endpoints, "--out", str(out), "--quiet",
            *SETTINGS, *extra]  # fmt: skip


def generate(prompts, out, *urls, extra=()):
    return CliRunner().invoke(main, argv(prompts, out, *urls, extra=extra))


def start_client(prompts, out, *urls, extra=()) -> subprocess.Popen:
    command = [SYNTHPACK, *argv(prompts, out, *urls, extra=extra)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_rows(out: Path, at_least: int, client: subprocess.Popen, timeout=120) -> int:
    deadline = time.monotonic() + timeout
    raw = out / "raw.jsonl"
    while time.monotonic() < deadline:
        done = len(raw.read_text().splitlines()) if raw.exists() else 0
        if done >= at_least:
            return done
        assert client.poll() is None, client.stdout.read()
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} rows after {timeout} s")


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    with LlamaFactoryServer(tiny_model, tmp_path_factory.mktemp("server") / "server.log") as s:
        yield s


@pytest.fixture(scope="module")
def prompts(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("prompts")
    return numbered_prompts(FIXTURES / "smollm2_hate_prompts.jsonl", folder / "p.jsonl", N_PROMPTS)


@pytest.fixture(scope="module")
def reference(server, prompts, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "out"
    result = generate(prompts, out, server.url)
    assert result.exit_code == 0, result.output
    return out


def test_an_uninterrupted_run_records_every_answer_and_where_it_came_from(server, reference):
    got = rows(reference)
    assert len(got) == N_PROMPTS and [r["batch"] for r in got] == list(range(N_PROMPTS))
    for row in got:
        assert row["provenance"]["backend"] == "endpoint"
        assert row["provenance"]["model"] == "tiny"
        assert row["served"]["endpoint"] == server.url and row["served"]["attempts"] == 1
        assert row["served"]["finish_reason"] in {"stop", "length"}
        assert row["served"]["usage"]["completion_tokens"] == row["new_tokens"] > 0
        assert row["truncated"] == (row["served"]["finish_reason"] == "length")
    numbers = stats(reference)
    assert numbers["answered"] == N_PROMPTS and numbers["failed"] == numbers["retries"] == 0
    assert numbers["new_tokens"] == sum(r["new_tokens"] for r in got)
    report = json.loads((reference / "report.json").read_text())
    assert report["generations"] == N_PROMPTS and report["generation"]["served_model"] == "tiny"
    assert report["entries_parsed"] == report["accepted"] + report["rejected"]
    assert (reference / "raw.jsonl").stat().st_mode & 0o077 == 0  # owner-only
    card = (reference / "README.md").read_text()
    assert f"(prompts each answered in the last run): `{server.url}` (60)." in card


def test_a_killed_client_resumes_and_leaves_the_same_file(server, prompts, reference, tmp_path):
    out = tmp_path / "out"
    client = start_client(prompts, out, server.url)
    written = wait_for_rows(out, 10, client)
    client.send_signal(signal.SIGKILL)
    client.wait()
    assert written < N_PROMPTS
    result = generate(prompts, out, server.url)
    assert result.exit_code == 0, result.output
    assert answers(out) == answers(reference)
    resumed = stats(out)
    assert resumed["prompts_reused"] >= 10
    assert resumed["prompts_reused"] + resumed["answered"] == N_PROMPTS


def test_a_server_killed_and_started_again_loses_nothing(server, prompts, reference, tmp_path):
    out = tmp_path / "out"
    client = start_client(prompts, out, server.url, extra=["--retries", "6"])
    wait_for_rows(out, 10, client)
    server.kill()
    time.sleep(1)
    server.start()
    output, _ = client.communicate(timeout=300)
    assert client.returncode == 0, output
    assert answers(out) == answers(reference)
    numbers = stats(out)
    assert numbers["retries"] >= 1 and numbers["failed"] == 0
    assert any(r["served"]["attempts"] > 1 for r in rows(out))


def test_a_server_that_stays_down_leaves_failed_rows_that_a_rerun_sends_again(
    server, prompts, reference, tmp_path
):
    out = tmp_path / "out"
    client = start_client(prompts, out, server.url, extra=["--retries", "1"])
    wait_for_rows(out, 10, client)
    server.kill()
    output, _ = client.communicate(timeout=300)
    assert client.returncode == 0, output
    failed = [r for r in rows(out) if r.get("failure")]
    numbers = stats(out)
    assert failed and len(failed) == numbers["failed"]
    assert numbers["answered"] + numbers["failed"] == N_PROMPTS == len(rows(out))
    assert all(r["failure"].startswith("connection failed") for r in failed)
    report = json.loads((out / "report.json").read_text())
    assert report["rejected_by_reason"]["no_answer"] == len(failed)
    assert report["generations_unanswered"] == len(failed)
    assert f"{len(failed)} prompt(s) got no answer" in output

    server.start()
    result = generate(prompts, out, server.url)
    assert result.exit_code == 0, result.output
    assert stats(out)["earlier_failures_resent"] == len(failed)
    assert answers(out) == answers(reference)
    assert "no_answer" not in json.loads((out / "report.json").read_text())["rejected_by_reason"]


def test_two_servers_share_the_load(server, tiny_model, prompts, reference, tmp_path):
    with LlamaFactoryServer(tiny_model, tmp_path / "second.log") as second:
        result = generate(prompts, tmp_path / "out", server.url, second.url)
    assert result.exit_code == 0, result.output
    assert answers(tmp_path / "out") == answers(reference)
    per_endpoint = stats(tmp_path / "out")["per_endpoint"]
    assert set(per_endpoint) == {server.url, second.url}
    assert all(counts["answered"] > 0 for counts in per_endpoint.values())


def one_line_error(result) -> str:
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_bad_configuration_fails_before_anything_is_written(server, prompts, tmp_path):
    out = tmp_path / "out"
    nobody = f"http://127.0.0.1:{free_port()}"
    assert "cannot reach" in one_line_error(generate(prompts, out, nobody))
    wrong = generate(prompts, out, server.url, extra=["--served-model", "llama"])
    assert "does not serve 'llama'; it serves: tiny" in one_line_error(wrong)
    keyless = generate(prompts, out, server.url, extra=["--api-key-env", "SYNTHPACK_NO_SUCH_KEY"])
    assert "SYNTHPACK_NO_SUCH_KEY" in one_line_error(keyless)
    with subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port := free_port()), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
    ) as web:  # fmt: skip
        try:
            time.sleep(1.5)
            plain = generate(prompts, out, f"http://127.0.0.1:{port}")
            assert "not an OpenAI-compatible server" in one_line_error(plain)
        finally:
            web.kill()
    assert not out.exists()


def test_a_server_with_a_key_refuses_a_client_without_it(tiny_model, prompts, tmp_path):
    with LlamaFactoryServer(tiny_model, tmp_path / "keyed.log", api_key="s3cret") as keyed:
        refused = generate(prompts, tmp_path / "refused", keyed.url)
        assert "refused the API key" in one_line_error(refused)
        os.environ["SYNTHPACK_TEST_KEY"] = "s3cret"
        try:
            accepted = generate(
                prompts, tmp_path / "out", keyed.url, extra=["--api-key-env", "SYNTHPACK_TEST_KEY"]
            )
        finally:
            del os.environ["SYNTHPACK_TEST_KEY"]
    assert accepted.exit_code == 0, accepted.output
    assert len(rows(tmp_path / "out")) == N_PROMPTS
    assert "s3cret" not in (tmp_path / "out" / "generate.step.json").read_text()


@pytest.mark.slow
def test_the_embedded_model_with_a_lora_adapter_served_by_llamafactory(smollm2, tmp_path):
    """SmolLM2 and a LoRA adapter behind `llamafactory-cli api`, asked for real lists: the
    answers parse into entries, as the model's answers do when it runs in-process."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from synthpack.models.embedded import llamafactory_template

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(smollm2)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    get_peft_model(base, lora).save_pretrained(tmp_path / "adapter")
    template = llamafactory_template(smollm2)
    served = LlamaFactoryServer(smollm2, tmp_path / "smollm2.log", template=template,
                                name="smollm2-lora", adapter_dir=tmp_path / "adapter")  # fmt: skip
    with served as server:
        result = generate(
            FIXTURES / "smollm2_hate_prompts.jsonl", tmp_path / "out", server.url,
            extra=["--max-new-tokens", "160"],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    got = rows(tmp_path / "out")
    assert len(got) == 6 and {r["provenance"]["model"] for r in got} == {"smollm2-lora"}
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["generations_without_entries"] <= 1  # SmolLM2 answers with numbered lists
    assert report["entries_parsed"] >= 2 * 6  # 24 on 2026-12-06 (answers cut at 160 tokens)
