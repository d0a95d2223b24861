"""Version directories as TensorFlow Serving reads them.

TF Serving's file-system source watches `<model_base_path>/` and treats every
sub-directory whose name is a positive integer as a version of the model; any
other name (such as our `.incomplete-…` staging directories) is ignored. A
version therefore has to appear in one step: the SavedModel is written into a
staging directory beside the final one and then renamed, which is atomic on
one file system, so a polling server never sees a half-written model.
"""

import contextlib
import os
import shutil
import tempfile


def list_versions(model_dir):
    """The versions present under `model_dir`, ascending (only all-digit names count)."""
    if not os.path.isdir(model_dir):
        return []
    versions = []
    for entry in os.listdir(model_dir):
        if entry.isdigit() and int(entry) > 0 and os.path.isdir(os.path.join(model_dir, entry)):
            versions.append(int(entry))
    return sorted(versions)


def next_version(model_dir):
    """One more than the highest version under `model_dir`, or 1 if there is none."""
    versions = list_versions(model_dir)
    return versions[-1] + 1 if versions else 1


def check_version(version):
    """Returns `version` as an int, or raises ValueError unless it is a positive integer."""
    if isinstance(version, bool) or not isinstance(version, (int, str)):
        raise ValueError(f"A model version must be a positive integer, got {version!r}.")
    text = str(version)
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f"A model version must be a positive integer, got {version!r}.")
    return int(text)


@contextlib.contextmanager
def atomic_version_directory(model_dir, version):
    """Yields a staging directory; on success renames it to `model_dir/<version>`.

    On any exception the staging directory is removed and nothing appears.
    """
    final_path = os.path.join(model_dir, str(version))
    if os.path.exists(final_path):
        raise FileExistsError(
            f"Version {version} of this model already exists at {final_path}; "
            "pick another version or leave it out to use the next free one."
        )
    os.makedirs(model_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".incomplete-{version}-", dir=model_dir)
    try:
        yield staging
        try:
            os.rename(staging, final_path)
        except OSError as error:
            raise FileExistsError(
                f"Could not publish version {version} at {final_path}: {error}"
            ) from None
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)
