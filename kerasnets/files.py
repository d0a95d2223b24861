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
import time


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


# A staging directory untouched this long belongs to a writer that was killed.
STALE_STAGING_SECONDS = 10 * 60


def _leftovers(parent, name, kind):
    prefix = f".{name}.{kind}-"
    try:
        entries = os.listdir(parent)
    except OSError:
        return []
    return sorted(os.path.join(parent, entry) for entry in entries if entry.startswith(prefix))


def recover_directory(path, now=None):
    """Undoes what a killed `replacing_directory` left beside `path`.

    A kill between its two renames leaves no `path` and the previous directory as
    `.NAME.previous-*`: that is renamed back. Once `path` exists, older `.NAME.previous-*`
    copies are removed, and so are `.NAME.partial-*` staging directories not modified for
    `STALE_STAGING_SECONDS` (a live writer keeps touching its own). Returns the paths removed.
    """
    path = os.path.abspath(os.fspath(path))
    parent, name = os.path.split(path)
    previous = _leftovers(parent, name, "previous")
    if previous and not os.path.exists(path):
        newest = max(previous, key=os.path.getmtime)
        os.rename(newest, path)
        previous.remove(newest)
    now = time.time() if now is None else now
    stale = []
    for staging in _leftovers(parent, name, "partial"):
        try:
            if now - os.path.getmtime(staging) >= STALE_STAGING_SECONDS:
                stale.append(staging)
        except OSError:  # removed meanwhile
            pass
    for leftover in previous + stale:
        shutil.rmtree(leftover, ignore_errors=True)
    return previous + stale


@contextlib.contextmanager
def replacing_directory(path):
    """`with replacing_directory(path) as staging: write files into staging`; then `path` is
    replaced as a whole (a directory already there, and anything in it, goes). If the block
    fails, `path` is left as it was and the staging directory removed. Two renames: a kill
    between them leaves the previous directory as `.NAME.previous-*`, which the next call
    puts back first (`recover_directory`)."""
    path = os.path.abspath(os.fspath(path))
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    recover_directory(path)
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
