"""The one error type synthpack raises for bad input; the CLI prints it without a traceback."""


class SynthpackError(Exception):
    """A user-facing problem; the message names the file, line and field where it can.

    It is a plain exception so the library never needs click; `synthpack.cli` turns it into
    a one-line error and exit status 1.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
