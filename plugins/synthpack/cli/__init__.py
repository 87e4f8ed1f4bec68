"""The `synthpack` command: one module per command group, and the only code that imports click.

Each module lists its commands in `COMMANDS`; a command parses its options, calls one runner
of the step it belongs to, and prints. A `SynthpackError` from anywhere below becomes one
`Error: ...` line and exit status 1, without a traceback. So does an unexpected error that bad
input causes (a file that cannot be read or decoded, a value a library rejects): one line
naming the error, exit status 1, and the traceback only with `synthpack --debug ...`.
"""

from __future__ import annotations

import click

from synthpack import __version__
from synthpack.cli import data, demo, evaluate, generate, model, train
from synthpack.common.errors import SynthpackError
from synthpack.models.precision import PRECISIONS

# What bad input raises from below synthpack's own checks: unreadable or missing files
# (OSError), undecodable bytes (UnicodeDecodeError is a ValueError), values a library refuses.
INPUT_ERRORS = (OSError, ValueError)


def one_line(exc: BaseException) -> str:
    """`OSError: [Errno 21] Is a directory: 'x'` style, on one line, without a traceback."""
    text = " ".join(str(exc).split()) or "(no message)"
    if isinstance(exc, UnicodeDecodeError):
        text = f"{exc.reason} at byte {exc.start}: the input is not UTF-8 text (binary file?)"
    return f"{type(exc).__name__}: {text} (rerun with synthpack --debug for the traceback)"


class SynthpackGroup(click.Group):
    """The root group: turns the library's errors, and errors bad input causes below it, into
    click's one-line errors; `--debug` lets them through with their traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SynthpackError as exc:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(exc.message) from exc
        except INPUT_ERRORS as exc:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(one_line(exc)) from exc


@click.group(cls=SynthpackGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="synthpack")
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    help="Number format of every model this command trains, runs or scores: auto (default, "
    "or $SYNTHPACK_PRECISION) picks bf16 where the CPU or GPU computes it natively, else fp32.",
)
def main(debug: bool, precision: str | None) -> None:
    """Synthetic data and debiasing recipes for LLaMA-Factory, for content-safety teams."""
    # Resolved once, when a command first runs a model (`synthpack.cli.options.cli_precision`).


# In the order of the data flow: model, render / sft / register / category, check / train,
# generate / augment, eval / classify, demo / report.
for _module in (model, data, train, generate, evaluate, demo):
    for _command in _module.COMMANDS:
        main.add_command(_command)
