"""SHA-256 checks for the project's builders (the same guarantee tfds gives its own)."""

import hashlib
import os


def check_sha256(path, expected):
    """Raise ValueError unless the file at `path` has SHA-256 `expected`."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise ValueError(
            f"{path}: SHA-256 {digest.hexdigest()} does not match the expected {expected} "
            f"({os.path.getsize(path)} bytes). Replace it with the original file."
        )
