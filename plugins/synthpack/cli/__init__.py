"""The `synthpack` command: one module per command group, and the only code that imports click.

Each module lists its commands in `COMMANDS`; a command parses its options, calls one runner
of the step it belongs to, and prints. A `SynthpackError` from anywhere below becomes one
`Error: ...` line and exit status 1, without a traceback.
"""

from __future__ import annotations

import click

from synthpack import __version__
from synthpack.cli import data, demo, evaluate, generate, model, train
from synthpack.common.errors import SynthpackError


class SynthpackGroup(click.Group):
    """The root group: turns the library's errors into click's one-line errors."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SynthpackError as exc:
            raise click.ClickException(exc.message) from exc


@click.group(cls=SynthpackGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="synthpack")
def main() -> None:
    """Synthetic data and debiasing recipes for LLaMA-Factory, for content-safety teams."""


# In the order of the data flow: model, render / sft / register / category, check / train,
# generate / augment, eval / classify, demo / report.
for _module in (model, data, train, generate, evaluate, demo):
    for _command in _module.COMMANDS:
        main.add_command(_command)
