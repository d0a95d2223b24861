"""`models.config` (TF Serving's `--model_config_file`): see `kerasnets.serving.disk_layout`.

Kept so `from kerasnets.export.model_config import …` goes on working; reading,
parsing and writing live in one module shared by the exporter and the server.
"""

from kerasnets.serving.disk_layout import (  # noqa: F401
    CONFIG_FILENAME,
    read_model_config,
    update_model_config,
    write_model_config,
)
