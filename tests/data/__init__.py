"""Helpers for the kerasnets.data tests.

The tests read the offline copies in the data root (skipped when there is
none). tfds prepares them once per test process into one temporary
`data_dir`; set KERASNETS_TEST_TFDS_DIR (e.g. to ~/tensorflow_datasets) to
reuse prepared datasets between runs.
"""

import atexit
import functools
import os
import shutil
import tempfile

import pytest

from kerasnets.data.locations import find_data_root


@functools.lru_cache(maxsize=None)
def tfds_dir():
    """The tfds data_dir shared by every test of the process."""
    configured = os.environ.get("KERASNETS_TEST_TFDS_DIR")
    if configured:
        return os.path.expanduser(configured)
    path = tempfile.mkdtemp(prefix="kerasnets-tfds-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def data_root_or_skip(*needed):
    """The data root, skipping the test when it (or a needed file) is missing."""
    root = find_data_root()
    if root.path is None:
        pytest.skip(f"no offline data: {root.source}")
    for relative in needed:
        if not (root.path / relative).exists():
            pytest.skip(f"{root.path / relative} is missing")
    return root.path
