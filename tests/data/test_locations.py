import os
import pathlib

import pytest
import tensorflow_datasets as tfds

from kerasnets import data
from kerasnets.data import locations, tfds_loading
from tests.data import tfds_dir


def test_argument_beats_environment_beats_walking_up(tmp_path, monkeypatch):
    (tmp_path / "repo" / "a" / "b").mkdir(parents=True)
    (tmp_path / "shared" / "data").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "repo" / "a" / "b")
    monkeypatch.delenv(locations.DATA_DIR_ENV, raising=False)
    found = data.find_data_root()
    assert found.path == (tmp_path / "shared" / "data").resolve()
    assert "current directory" in found.source

    monkeypatch.setenv(locations.DATA_DIR_ENV, str(tmp_path / "env"))
    assert data.find_data_root().path == (tmp_path / "env").resolve()
    assert data.find_data_root(tmp_path / "arg").path == (tmp_path / "arg").resolve()
    assert data.find_data_root(tmp_path / "arg").source == "the data_root argument"


def hide_data_roots_outside(tmp_path, monkeypatch):
    """The machine may hold a shared/data above pytest's temporary directory (e.g. at the root
    of its temp area): let the walk up see only folders inside tmp_path."""
    inside = tmp_path.resolve()
    walk_up = locations._walk_up

    def walk_up_inside(start):
        found = walk_up(start)
        return found if found is not None and found.is_relative_to(inside) else None

    monkeypatch.setattr(locations, "_walk_up", walk_up_inside)


def test_walks_up_from_the_package_when_the_cwd_has_no_data(tmp_path, monkeypatch):
    hide_data_roots_outside(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(locations.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(locations, "_PACKAGE_DIR", tmp_path / "nowhere")
    missing = data.find_data_root()
    assert missing.path is None and not missing
    assert locations.DATA_DIR_ENV in missing.source and str(tmp_path) in missing.source

    package = tmp_path / "elsewhere" / "checkout" / "kerasnets" / "data"
    package.mkdir(parents=True)
    (tmp_path / "elsewhere" / "shared" / "data").mkdir(parents=True)
    monkeypatch.setattr(locations, "_PACKAGE_DIR", package)
    found = data.find_data_root()
    assert found.path == (tmp_path / "elsewhere" / "shared" / "data").resolve()
    assert "package" in found.source


def test_a_shared_data_above_the_temporary_directory_does_not_leak_into_the_walk(tmp_path, monkeypatch):
    # What the test above guards against: a real shared/data above the cwd is found first.
    (tmp_path / "shared" / "data").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "shared")
    monkeypatch.delenv(locations.DATA_DIR_ENV, raising=False)
    found = data.find_data_root()
    assert found.path == (tmp_path / "shared" / "data").resolve()
    assert "current directory" in found.source


def test_not_found_names_the_folder_and_the_file(tmp_path):
    with pytest.raises(data.DatasetNotFoundError) as caught:
        data.load("spa_eng", split="train", data_root=tmp_path, data_dir=str(tmp_path / "tfds"), download=False)
    message = str(caught.value)
    assert str(tmp_path / "spa_eng" / "spa-eng.zip") in message
    assert "[MISSING]" in message and "download=False" in message
    assert "0c4fd7825d3d872488d38c157f784e035edab4f2ff0df25a2a208790ecb5b58f" in message
    assert "KERASNETS_DATA_DIR" in message
    assert isinstance(caught.value, FileNotFoundError)


def test_not_found_after_a_failed_download_says_why(tmp_path, monkeypatch):
    (tmp_path / "imdb").mkdir()
    (tmp_path / "imdb" / "train.tsv.gz").write_bytes(b"")  # test.tsv.gz missing
    monkeypatch.setattr(tfds_loading, "reachable", lambda url, timeout=5.0: "cannot reach the host (offline)")
    with pytest.raises(data.DatasetNotFoundError) as caught:
        data.load("imdb_reviews", split="test", data_root=tmp_path, data_dir=str(tmp_path / "tfds"))
    message = str(caught.value)
    assert f"{tmp_path / 'imdb' / 'test.tsv.gz'}  [MISSING]" in message
    assert f"{tmp_path / 'imdb' / 'train.tsv.gz'}  [found]" in message
    assert "offline" in message and "aclImdb_v1.tar.gz" in message
    assert message.count("\n") < 10  # one message, not a traceback dump
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_without_any_data_root_the_message_says_so(tmp_path, monkeypatch):
    hide_data_roots_outside(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(locations.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(locations, "_PACKAGE_DIR", pathlib.Path(tmp_path))
    with pytest.raises(data.DatasetNotFoundError, match="no data root") as caught:
        data.load("tiny_shakespeare", data_dir=str(tmp_path / "tfds"), download=False)
    assert os.path.join("<data root>", "tiny_shakespeare", "input.txt") in str(caught.value)


def test_a_file_with_the_wrong_checksum_is_rejected_by_tfds(tmp_path):
    (tmp_path / "spa_eng").mkdir()
    (tmp_path / "spa_eng" / "spa-eng.zip").write_bytes(b"not the zip")
    with pytest.raises(Exception, match="(?i)checksum"):
        data.load("spa_eng", split="train", data_root=tmp_path, data_dir=str(tmp_path / "tfds"))


def test_mock_data_goes_through_the_same_front_door(tmp_path):
    # ted_hrlr_translate is not on disk: a placeholder file selects the offline
    # route, and tfds' mock replaces preparation and reading.
    (tmp_path / "ted_hrlr_translate").mkdir()
    (tmp_path / "ted_hrlr_translate" / "qi18naacl-dataset.tar.gz").write_bytes(b"")
    with tfds.testing.mock_data(num_examples=8):
        pairs = data.load_pairs("ted_hrlr_translate/pt_to_en", "train", data_root=tmp_path, data_dir=tfds_dir())
        source, target = next(iter(pairs))
    assert source.dtype.name == "string" and target.dtype.name == "string"
