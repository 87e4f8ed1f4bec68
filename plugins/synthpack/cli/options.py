"""What several commands share: the run's precision, resolved once per command line."""

from __future__ import annotations

import click


def cli_precision():
    """The `Precision` of this command line (`synthpack --precision`, else
    `$SYNTHPACK_PRECISION`, else auto), resolved on first use and then passed as a value."""
    from synthpack.models.precision import (
        as_precision,
    )

    root = click.get_current_context().find_root()
    root.ensure_object(dict)
    if "precision" not in root.obj:
        choice = root.params.get("precision")
        root.obj["precision"] = as_precision(choice)
    return root.obj["precision"]
