"""`synthpack check` on YAML files that are not configs at all: empty, comments only, binary,
a list, broken YAML. One clear message with the file (and line where there is one), exit 1,
no traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from synthpack.cli import main


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", ": empty file: no settings (comments only, or nothing)"),
        (b"# only a comment\n\n", ": empty file: no settings (comments only, or nothing)"),
        (b"---\n", ": empty file: no settings (comments only, or nothing)"),
        (b"- a\n- b\n", ":1: expected key: value pairs"),
        (b"model: [unclosed\n", ":2: not valid YAML: expected ',' or ']', but got '<stream end>'"),
        (b"\x7fELF\x02\x01\x01\x00\xff\xfe", ": not UTF-8 text (byte 0xff at offset 8)"),
    ],
)
def test_a_yaml_that_is_no_config_gets_one_clear_message(tmp_path, content, expected):
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert f"{path}{expected}" in result.output, result.output
