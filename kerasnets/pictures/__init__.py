"""Pictures of models: architecture diagrams and attention maps.

    kerasnets plot lenet5 -o lenet5.png                                   # keras.utils.plot_model
    kerasnets attention runs/transformer-spa_eng --text "Hola." -o a.png  # cross-attention of greedy decoding

    from kerasnets import pictures
    pictures.plot_architecture(model, "model.png")
    attention = pictures.attention_map("runs/bert-sst2", "a gripping film", layers="all")
    pictures.draw_attention(attention, "attention.png", heads="each")
    pictures.draw_learning_curves({"lenet5": "runs/lenet5/history.csv"}, "curves.png")
"""

from kerasnets.pictures.architecture import MissingDependency, check_graphviz, plot_architecture  # noqa: F401
from kerasnets.pictures.attention import AttentionMap, attention_map, attention_map_of, load_run  # noqa: F401
from kerasnets.pictures.curves import draw_learning_curves, read_history  # noqa: F401
from kerasnets.pictures.figures import draw_attention, figure_size  # noqa: F401
