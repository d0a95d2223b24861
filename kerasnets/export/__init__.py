"""SavedModel export for TensorFlow Serving (TensorFlow-specific; the layers stay backend-agnostic).

    from kerasnets.export import export_model
    export_model(model, "lenet5")   # saved_models/lenet5/<next version>/ + saved_models/models.config
"""

from kerasnets.export.model_config import read_model_config, update_model_config
from kerasnets.export.saved_model import DEFAULT_BASE_DIR, ExportedModel, export_model
from kerasnets.export.versions import list_versions, next_version
