"""The one error type synthpack raises for bad input: the CLI prints it without a traceback."""

import click


class SynthpackError(click.ClickException):
    """A user-facing problem; the message names the file, line and field where it can."""
