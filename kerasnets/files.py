"""Writing files so that a kill at any instant leaves the previous good version.

Everything goes to a temporary name in the same directory, is flushed to
disk, and is renamed over the target (`os.replace` is atomic on POSIX and
Windows): a reader sees the old file or the new one, never half of one.
"""

import contextlib
import json
import os
import shutil
import tempfile


def _fsync_directory(directory):
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def staging_path(path):
    """A fresh temporary name beside `path` that keeps its suffix (Keras checks `.keras` / `.weights.h5`)."""
    directory, name = os.path.split(os.path.abspath(path))
    suffix = ".weights.h5" if name.endswith(".weights.h5") else os.path.splitext(name)[1]
    descriptor, staging = tempfile.mkstemp(prefix=f".{name}.", suffix=f".partial{suffix}", dir=directory)
    os.close(descriptor)
    # mkstemp makes the file 0600; the renamed file gets what `open` would give it (0666 less the
    # umask), so a server running as another user can still read exports and checkpoints.
    os.chmod(staging, 0o666 & ~_umask())
    return staging


def _umask():
    mask = os.umask(0o022)  # the only way to read it is to set it
    os.umask(mask)
    return mask


@contextlib.contextmanager
def replacing(path):
    """`with replacing(path) as staging: write(staging)`; `path` is replaced only if the block succeeds."""
    staging = staging_path(path)
    try:
        yield staging
        with open(staging, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(staging, path)
        _fsync_directory(os.path.dirname(os.path.abspath(path)))
    finally:
        if os.path.exists(staging):
            os.remove(staging)


@contextlib.contextmanager
def replacing_directory(path):
    """`with replacing_directory(path) as staging: write files into staging`; then `path` is
    replaced as a whole (a directory already there, and anything in it, goes). If the block
    fails, `path` is left as it was and the staging directory removed. Two renames, so a kill
    between them leaves the previous directory under a `.NAME.previous-*` name beside it."""
    path = os.path.abspath(os.fspath(path))
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{name}.partial-", dir=parent)
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it 0700; give it what mkdir would
        yield staging
        previous = None
        if os.path.exists(path):
            previous = tempfile.mkdtemp(prefix=f".{name}.previous-", dir=parent)
            os.rmdir(previous)
            os.rename(path, previous)
        os.rename(staging, path)
        _fsync_directory(parent)
        if previous:
            shutil.rmtree(previous, ignore_errors=True)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)


def write_text(path, text):
    with replacing(path) as staging:
        with open(staging, "w", encoding="utf-8") as handle:
            handle.write(text)


def write_json(path, value, **kwargs):
    write_text(path, json.dumps(value, indent=2, **kwargs) + "\n")
