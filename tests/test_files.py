"""kerasnets.files: a write replaces the file whole or not at all, with the permissions `open` gives."""

import os
import stat

import pytest

from kerasnets import files


def test_a_replaced_file_has_the_permissions_open_would_give_it(tmp_path):
    previous = os.umask(0o027)
    try:
        files.write_text(tmp_path / "config.json", "{}")
        with open(tmp_path / "plain.json", "w") as handle:
            handle.write("{}")
    finally:
        os.umask(previous)
    mode = stat.S_IMODE(os.stat(tmp_path / "config.json").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "plain.json").st_mode) == 0o640  # not mkstemp's 0600


def test_a_failed_write_keeps_the_previous_file_and_leaves_nothing_behind(tmp_path):
    path = tmp_path / "metrics.json"
    files.write_json(path, {"accuracy": 0.9})
    with pytest.raises(RuntimeError):
        with files.replacing(path) as staging:
            with open(staging, "w") as handle:
                handle.write('{"accura')
            raise RuntimeError("killed half-way")
    assert path.read_text() == '{\n  "accuracy": 0.9\n}\n'
    assert os.listdir(tmp_path) == ["metrics.json"]
