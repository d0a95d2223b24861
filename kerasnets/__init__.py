"""kerasnets: the classic neural-network architectures as Keras 3 layers and builders.

    import kerasnets
    model = kerasnets.models.lenet5()          # a Functional keras.Model
    model = kerasnets.build("gpt", preset="gpt2")
    model.summary()
"""

__version__ = "0.1.0"

from kerasnets import layers  # noqa: E402,F401  (registers the serializable layers)
from kerasnets import models  # noqa: E402,F401
from kerasnets.models import build  # noqa: E402,F401
from kerasnets import tokenizers  # noqa: E402,F401  (registers the tokenizer layers for .keras files)
from kerasnets import training  # noqa: E402,F401
from kerasnets.training import train  # noqa: E402,F401
