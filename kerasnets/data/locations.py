"""Where the offline dataset copies live, and the one clear "not found" error.

The *data root* holds one folder per dataset with the byte-exact upstream files
(`<root>/mnist/train-images-idx3-ubyte.gz`, `<root>/tiny_shakespeare/input.txt`,
…; see `shared/data/README.md`). It is found, first match wins:

1. the `data_root=` argument of a loader;
2. the environment variable `KERASNETS_DATA_DIR`;
3. a folder `shared/data` in the current directory or any parent of it;
4. a folder `shared/data` beside the installed package or any parent of it
   (so `../shared/data` next to a checkout is found from anywhere in it).

No root at all is fine: the loaders then download as tfds (or Keras) usually
does. tfds writes the prepared TFRecords to `data_dir` (tfds' default
`~/tensorflow_datasets`, or `$TFDS_DATA_DIR`), never into the data root.
"""

import dataclasses
import os
import pathlib

DATA_DIR_ENV = "KERASNETS_DATA_DIR"
_PACKAGE_DIR = pathlib.Path(__file__).resolve().parent


@dataclasses.dataclass(frozen=True)
class DataRoot:
    """A resolved data root: `path` (None when none was found) and how it was found."""

    path: pathlib.Path | None
    source: str

    def __bool__(self):
        return self.path is not None


def _walk_up(start):
    start = pathlib.Path(start).resolve()
    for directory in (start, *start.parents):
        candidate = directory / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


def find_data_root(data_root=None):
    """Resolve the data root (see the module docstring). Returns a `DataRoot`."""
    if data_root is not None:
        return DataRoot(pathlib.Path(data_root).expanduser().resolve(), "the data_root argument")
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return DataRoot(pathlib.Path(env).expanduser().resolve(), f"${DATA_DIR_ENV}")
    found = _walk_up(os.getcwd())
    if found is not None:
        return DataRoot(found, "shared/data above the current directory")
    found = _walk_up(_PACKAGE_DIR)
    if found is not None:
        return DataRoot(found, "shared/data above the kerasnets package")
    return DataRoot(
        None,
        f"no data root: data_root not given, ${DATA_DIR_ENV} not set, and no shared/data "
        f"folder above {os.getcwd()} or above {_PACKAGE_DIR}",
    )


def data_root():
    """The data root found by the default rules, as a `pathlib.Path`, or None."""
    return find_data_root().path


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is neither in the data root nor downloadable. The message says
    where it looked and which file(s) to put there."""


def missing_files(folder, files):
    """The names in `files` that are not plain files in `folder` (all of them when folder is None)."""
    if folder is None:
        return list(files)
    return [f for f in files if not (pathlib.Path(folder) / f).is_file()]


def not_found_error(name, folder_name, files, root, reason=None, sha256=None, url=None):
    """Build the single clear error for dataset `name`.

    Args:
        name: The dataset name the user asked for.
        folder_name: The dataset's folder inside the data root (e.g. "imdb").
        files: The file names expected in that folder.
        root: The `DataRoot` that was searched.
        reason: Why the download did not happen or failed (one line).
        sha256: Optional {file: sha256} to print next to each file.
        url: Optional upstream URL of the files.
    """
    sha256 = sha256 or {}
    if root.path is not None:
        folder = root.path / folder_name
        where = f"{folder} (data root {root.path}, from {root.source})"
        missing = missing_files(folder, files)
    else:
        folder = pathlib.Path("<data root>") / folder_name
        where = f"{folder}; {root.source}"
        missing = list(files)
    lines = [f"Dataset '{name}' is not available: it is not on disk and was not downloaded."]
    lines.append(f"  Looked in: {where}")
    for f in files:
        state = "MISSING" if f in missing else "found"
        digest = f"  sha256 {sha256[f]}" if f in sha256 else ""
        lines.append(f"    {folder / f}  [{state}]{digest}")
    if reason:
        lines.append(f"  Download: {reason}")
    upstream = f" (upstream: {url})" if url else ""
    lines.append(
        f"  Fix: put {', '.join(missing) or ', '.join(files)} into {folder}/{upstream}; or point "
        f"${DATA_DIR_ENV} (or data_root=) at a folder holding {folder_name}/; "
        "or load with download=True on a machine with network access."
    )
    return DatasetNotFoundError("\n".join(lines))
