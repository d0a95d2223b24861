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


def _directory(path, text):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "weights.txt"), "w") as handle:
        handle.write(text)


def _read(path):
    with open(os.path.join(path, "weights.txt")) as handle:
        return handle.read()


def test_replacing_directory_swaps_the_whole_directory_or_nothing(tmp_path):
    target = tmp_path / "checkpoint"
    _directory(target, "old")
    (target / "stale.txt").write_text("from the old version")
    with files.replacing_directory(target) as staging:
        assert not os.path.samefile(staging, target)
        _directory(staging, "new")
    assert _read(target) == "new" and not (target / "stale.txt").exists()
    with pytest.raises(RuntimeError), files.replacing_directory(target) as staging:
        _directory(staging, "half")
        raise RuntimeError("killed mid-write")
    assert _read(target) == "new"
    assert sorted(os.listdir(tmp_path)) == ["checkpoint"]


def test_a_kill_between_the_two_renames_is_undone_by_the_next_write(tmp_path):
    target = tmp_path / "checkpoint"
    # What a kill after `rename(path, previous)` and before `rename(staging, path)` leaves:
    _directory(tmp_path / ".checkpoint.previous-k2j1x", "good")
    _directory(tmp_path / ".checkpoint.partial-a8q0z", "half")
    with pytest.raises(RuntimeError), files.replacing_directory(target) as staging:
        raise RuntimeError("this write fails too")
    assert _read(target) == "good"  # the previous good state is back under its own name
    with files.replacing_directory(target) as staging:
        _directory(staging, "new")
    assert _read(target) == "new"
    # the killed writer's staging directory is recent, so it may still be a live writer's: kept
    assert sorted(os.listdir(tmp_path)) == [".checkpoint.partial-a8q0z", "checkpoint"]


def test_recover_directory_removes_staging_only_once_it_is_stale(tmp_path):
    target = tmp_path / "checkpoint"
    _directory(target, "good")
    staging = tmp_path / ".checkpoint.partial-a8q0z"
    _directory(staging, "half")
    _directory(tmp_path / ".checkpoint.previous-b7", "older")
    _directory(tmp_path / ".other.partial-c1", "someone else's")
    modified = os.path.getmtime(staging)
    assert files.recover_directory(target, now=modified + 1) == [str(tmp_path / ".checkpoint.previous-b7")]
    assert staging.exists()
    assert files.recover_directory(target, now=modified + files.STALE_STAGING_SECONDS) == [str(staging)]
    assert sorted(os.listdir(tmp_path)) == [".other.partial-c1", "checkpoint"]
    assert _read(target) == "good"
