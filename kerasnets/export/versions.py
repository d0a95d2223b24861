"""Version directories as TensorFlow Serving reads them: see `kerasnets.serving.disk_layout`.

Kept so `from kerasnets.export.versions import …` goes on working; the rules
live in one module shared by the exporter and the server.
"""

from kerasnets.serving.disk_layout import (  # noqa: F401
    atomic_version_directory,
    check_version,
    list_versions,
    next_version,
    remove_stale_staging,
)
