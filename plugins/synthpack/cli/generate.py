"""Click commands for Pipeline A steps 5-6: `synthpack generate` and `synthpack augment`.

Thin: read the options, call `synthpack.generate.run`, print. Harmful text is printed only when
asked for with --show-samples.
"""

from __future__ import annotations

from pathlib import Path

import click

from synthpack.clean.label_check import MODES
from synthpack.cli.options import cli_precision
from synthpack.generate.run import DEFAULT_SAMPLING
from synthpack.models.backends import DEFAULT_BATCH_SIZE
from synthpack.models.endpoints import Endpoints


@click.command()
@click.option(
    "--prompts",
    "prompts_path",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="prompts.jsonl written by `synthpack render`.",
)
@click.option(
    "--model",
    "model_dir",
    help="Model folder to generate with; 'default' = the embedded SmolLM2, or an embedded "
    "model's name (gemma3-270m).",
)
@click.option(
    "--adapter", type=click.Path(exists=True, path_type=Path), help="LoRA adapter folder."
)
@click.option(
    "--endpoint",
    "endpoint_urls",
    multiple=True,
    help="URL of an OpenAI-compatible server to generate on instead of --model (vllm serve, "
    "SGLang, llamafactory-cli api), e.g. http://gpu1:8000/v1; repeat it to spread the prompts "
    "over several servers. See docs/scale-out.md.",
)
@click.option(
    "--served-model",
    help="The model name the servers serve (default: the only one they list).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1024),
    default=Endpoints.concurrency,
    show_default=True,
    help="Requests in flight per --endpoint.",
)
@click.option(
    "--api-key-env",
    metavar="VAR",
    help="Environment variable that holds the servers' API key (the key is never recorded).",
)
@click.option(
    "--request-timeout",
    type=click.FloatRange(min=1),
    default=Endpoints.timeout_s,
    show_default=True,
    help="Seconds one request may take before it is retried.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=Endpoints.retries,
    show_default=True,
    help="Tries after the first for a request that failed with 429, 5xx, a timeout or a "
    "dropped connection; then the prompt is recorded as failed (a rerun sends it again).",
)
@click.option(
    "--predictions",
    type=click.Path(exists=True, path_type=Path),
    help="LLaMA-Factory generated_predictions.jsonl, line-aligned with --prompts.",
)
@click.option(
    "--against",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Seed or training texts the entries must not repeat (JSONL, CSV or TXT).",
)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Prompts per padded batch (--model).",
)
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Generations per prompt.",
)
@click.option(
    "--max-new-tokens",
    type=click.IntRange(min=1),
    default=DEFAULT_SAMPLING.max_new_tokens,
    show_default=True,
)
@click.option("--temperature", type=float, default=DEFAULT_SAMPLING.temperature, show_default=True)
@click.option("--top-p", type=float, default=DEFAULT_SAMPLING.top_p, show_default=True)
@click.option("--seed", type=int, default=DEFAULT_SAMPLING.seed, show_default=True)
@click.option(
    "--stop-at-list-end",
    is_flag=True,
    help="Stop each answer once an entry starts after the n it was asked for (the next "
    "number, or a list started again at 1), and cut it there.",
)
@click.option(
    "--near-threshold",
    type=click.FloatRange(0, 1),
    default=0.7,
    show_default=True,
    help="Word-bigram Jaccard at or above which two entries are near duplicates.",
)
@click.option(
    "--semantic-dedup",
    "semantic",
    type=click.FloatRange(0.0, 1.0),
    help="Also drop paraphrases: all-MiniLM-L6-v2 cosine at or above THRESHOLD (e.g. 0.9), "
    "after exact and MinHash dedup, within each polarity and against --against.",
)
@click.option(
    "--register",
    "dataset_dir",
    type=click.Path(path_type=Path),
    help="dataset_dir (or its dataset_info.json) to register the cleaned data in.",
)
@click.option("--name", help="Dataset name for --register (e.g. hate_pos_v2_gen).")
@click.option(
    "--label-check",
    "checker_dir",
    type=click.Path(exists=True, path_type=Path),
    help="Classifier folder trained on REAL data only (`synthpack eval train-checker`, a model "
    "of `eval mlp`, or a Hugging Face classifier): entries whose P(harmful) contradicts their "
    "prompt's polarity are rejected as label_disagrees (or relabelled).",
)
@click.option(
    "--label-check-threshold",
    type=click.FloatRange(0, 1),
    help="P(harmful) below it: a positive disagrees. Default: the checker's own decision "
    "threshold (0.5 for a Hugging Face classifier).",
)
@click.option(
    "--label-check-negative-threshold",
    type=click.FloatRange(0, 1),
    help="P(harmful) at or above it: a negative disagrees (default 0.5).",
)
@click.option(
    "--label-check-mode",
    type=click.Choice(MODES),
    default="reject",
    show_default=True,
    help="reject: drop a disagreeing entry; relabel: keep it with the checker's label.",
)
@click.option(
    "--show-samples",
    type=click.IntRange(min=0),
    default=0,
    help="Print this many accepted entries.",
)
@click.option("--restart", is_flag=True, help="Discard raw.jsonl of an earlier run in --out.")
@click.option("--quiet", is_flag=True, help="No progress bars (they only show on a terminal).")
def generate(
    prompts_path,
    model_dir,
    adapter,
    endpoint_urls,
    served_model,
    concurrency,
    api_key_env,
    request_timeout,
    retries,
    predictions,
    against,
    out,
    batch_size,
    samples,
    max_new_tokens,
    temperature,
    top_p,
    seed,
    stop_at_list_end,
    near_threshold,
    semantic,
    dataset_dir,
    name,
    checker_dir,
    label_check_threshold,
    label_check_negative_threshold,
    label_check_mode,
    show_samples,
    restart,
    quiet,
) -> None:
    """Generate with a model here (--model), on OpenAI-compatible servers (--endpoint), or read a
    model's predictions (--predictions); then parse, filter, deduplicate and report.

    Writes OUT/raw.jsonl, generation_stats.json, accepted.jsonl, rejected.jsonl, alpaca.json,
    report.json and the dataset card README.md, all owner-only. Rerun the same command to
    resume a stopped generation. Steps: generate, clean, label check (with --label-check),
    register (with --register).
    """
    from synthpack.clean.checker import LabelCheckSettings, checker_settings, run_label_check
    from synthpack.clean.dedup import DedupSettings
    from synthpack.clean.files import CleanedFiles
    from synthpack.clean.label_check import LabelCheck
    from synthpack.clean.report import format_report
    from synthpack.clean.run import CleanSettings, run_clean
    from synthpack.common.errors import SynthpackError
    from synthpack.common.progress import progress_bars
    from synthpack.common.step import Context, check_steps, run_step
    from synthpack.generate.run import GenerateSettings, run_generate
    from synthpack.models.backends import Sampling
    from synthpack.models.embedded import resolve_model
    from synthpack.register import RegisterSettings, run_register

    if bool(dataset_dir) != bool(name):
        raise SynthpackError("--register and --name go together")
    generation = GenerateSettings(
        prompts=prompts_path,
        model_dir=resolve_model(model_dir) if model_dir else None,
        adapter_dir=adapter,
        endpoints=Endpoints(
            endpoint_urls, served_model, concurrency, api_key_env, request_timeout, retries
        )
        if endpoint_urls
        else None,
        predictions=predictions,
        sampling=Sampling(
            max_new_tokens, temperature, top_p, seed, stop_at_list_end=stop_at_list_end
        ),
        batch_size=batch_size,
        samples=samples,
        restart=restart,
        precision=cli_precision() if model_dir else None,
    )
    cleaning = CleanSettings(
        generations=out,
        prompts=prompts_path,
        against=tuple(against),
        dedup=DedupSettings(threshold=near_threshold),
        semantic=semantic,
    )
    steps = [(run_generate, generation, out), (run_clean, cleaning, out)]
    if checker_dir:  # loaded first: a bad checker should fail before minutes of generation
        cut = LabelCheck(label_check_threshold, label_check_mode, label_check_negative_threshold)
        checker_settings(checker_dir, cut)
        checking = LabelCheckSettings(cleaned=out, check=cut, checker=checker_dir)
        steps.append((run_label_check, checking, out))
    if dataset_dir:
        registering = RegisterSettings(name, CleanedFiles.of(out).alpaca)
        steps.append((run_register, registering, dataset_dir))
    check_steps([(settings, folder) for _, settings, folder in steps])
    context = Context(progress_bar=progress_bars(quiet))
    done = {s.step: run_step(runner, s, folder, context) for runner, s, folder in steps}
    click.echo(format_report(done.get(LabelCheckSettings.step) or done[CleanSettings.step]))
    if dataset_dir:
        registered = done[RegisterSettings.step]
        click.echo(
            f"dataset {name}: {registered['status']} in "
            f"{registered['dataset_dir']}/dataset_info.json"
        )
    if show_samples:
        from synthpack.common.files import read_jsonl

        for row in read_jsonl(CleanedFiles.of(out).accepted)[:show_samples]:
            click.echo(f"  [{row['polarity']}] {row['text']}")
    click.echo(f"outputs in {out} (owner-only; they may contain harmful text)")


@click.command()
@click.option(
    "--train",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Real labelled data (text + label).",
)
@click.option(
    "--synthetic",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="accepted.jsonl files from `synthpack generate`.",
)
@click.option("--out", required=True, type=click.Path(path_type=Path))
def augment(train, synthetic, out) -> None:
    """Form D_augmented = D_train ∪ D_synthetic (exact duplicates of real rows dropped)."""
    from synthpack.common.step import check_outputs
    from synthpack.evaluate.augment import augment as run_augment

    inputs = {f"train {n}": p for n, p in enumerate(train, 1)}
    inputs |= {f"synthetic {n}": p for n, p in enumerate(synthetic, 1)}
    check_outputs(inputs, {"augmented": out})
    counts = run_augment(list(train), list(synthetic), out)
    click.echo(
        f"read {counts['read']} = written {counts['written']} + duplicates dropped "
        f"{counts['duplicates_dropped']} -> {out}"
    )


COMMANDS = (generate, augment)
