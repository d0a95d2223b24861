import keras
from keras import ops

from kerasnets.layers import activations
from kerasnets.layers.bias_add import BiasAdd
from kerasnets.layers.token_and_position_embedding import TokenAndPositionEmbedding
from kerasnets.layers.transformer_encoder_block import TransformerEncoderBlock
from kerasnets.models.backbone_task import BackboneTask
from kerasnets.models.dtype_policy import DTypePolicyConfig
from kerasnets.models.presets import with_presets

_BERT_COMMON = dict(vocabulary_size=30522, max_sequence_length=512, num_segments=2, dropout=0.1)
PRESETS = {
    # Devlin et al. 2019: 109,482,240 parameters in the backbone.
    "bert_base_uncased": dict(_BERT_COMMON, num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072),
    # The small BERTs of Turc et al. 2019 ("Well-Read Students Learn Better"); heads = H / 64.
    "bert_tiny": dict(_BERT_COMMON, num_layers=2, num_heads=2, hidden_dim=128, intermediate_dim=512),
    "bert_mini": dict(_BERT_COMMON, num_layers=4, num_heads=4, hidden_dim=256, intermediate_dim=1024),
    "bert_small": dict(_BERT_COMMON, num_layers=4, num_heads=8, hidden_dim=512, intermediate_dim=2048),
    "bert_medium": dict(_BERT_COMMON, num_layers=8, num_heads=8, hidden_dim=512, intermediate_dim=2048),
    # BERT-Large (Devlin et al. 2019): 335,141,888 parameters in the backbone.
    "bert_large_uncased": dict(_BERT_COMMON, num_layers=24, num_heads=16, hidden_dim=1024, intermediate_dim=4096),
}
HEADS = (None, "pretraining", "classifier")


def _initializer():
    return keras.initializers.TruncatedNormal(stddev=0.02)


@keras.saving.register_keras_serializable(package="kerasnets")
class BertBackbone(DTypePolicyConfig, keras.Model):
    """BERT (Devlin et al. 2019): a bidirectional Transformer encoder.

        x = Dropout(LayerNorm(E_tok[token_ids] + E_pos[t] + E_seg[segment_ids]))
        h = N × TransformerEncoderBlock(x, padding_mask)        (post-LN, GELU)
        pooled = tanh(h[:, 0] W_p + b_p)                         (the [CLS] token)

    Inputs `token_ids`, `segment_ids`, `padding_mask` (1 for real tokens),
    all `(B, T)`; outputs `sequence_output` `(B, T, H)` and `pooled_output`
    `(B, H)`. Padded positions never change the real positions' outputs.

    Args:
        vocabulary_size: WordPiece vocabulary (0 = [PAD]).
        num_layers: Encoder blocks (L).
        num_heads: Attention heads (A).
        hidden_dim: Hidden size (H).
        intermediate_dim: Feed-forward size (4H in the paper).
        max_sequence_length: Position embeddings.
        num_segments: Segment (token type) embeddings; 2 for sentence pairs.
        dropout: Dropout everywhere (0.1 in the paper).
        layer_norm_epsilon: Epsilon of every layer normalisation.
        activation: Feed-forward (and MLM transform) activation, a name: "gelu"
            (exact, as in the paper) or "gelu_approximate" (tanh form, as KerasHub's BERT).

    Attributes:
        token_embedding (token + position + segment tables), embeddings_layer_norm,
        transformer_layers, pooler.
    """

    def __init__(
        self,
        vocabulary_size=30522,
        num_layers=2,
        num_heads=2,
        hidden_dim=128,
        intermediate_dim=512,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        activation="gelu",
        **kwargs,
    ):
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}.")
        if not isinstance(activation, str):
            raise ValueError(f"activation must be a name (a string, so the config stores it), got {activation!r}.")
        activation_function = activations.get(activation)
        self.token_embedding = TokenAndPositionEmbedding(
            vocabulary_size,
            max_sequence_length,
            hidden_dim,
            num_segments=num_segments,
            embeddings_initializer=_initializer(),
            name="embeddings",
        )
        self.embeddings_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="embeddings_layer_norm"
        )
        self.embeddings_dropout = keras.layers.Dropout(dropout, name="embeddings_dropout")
        self.transformer_layers = [
            TransformerEncoderBlock(
                intermediate_dim,
                num_heads,
                dropout=dropout,
                activation=activation_function,
                layer_norm_epsilon=layer_norm_epsilon,
                kernel_initializer=_initializer(),
                name=f"encoder_block_{index}",
            )
            for index in range(num_layers)
        ]
        self.pooler = keras.layers.Dense(hidden_dim, activation="tanh", kernel_initializer=_initializer(), name="pooler")

        inputs = {
            "token_ids": keras.Input(shape=(None,), dtype="int32", name="token_ids"),
            "segment_ids": keras.Input(shape=(None,), dtype="int32", name="segment_ids"),
            "padding_mask": keras.Input(shape=(None,), dtype="int32", name="padding_mask"),
        }
        x = self.token_embedding(inputs["token_ids"], segment_ids=inputs["segment_ids"])
        x = self.embeddings_dropout(self.embeddings_layer_norm(x))
        padding_mask = ops.cast(inputs["padding_mask"], "bool")
        for block in self.transformer_layers:
            x = block(x, padding_mask=padding_mask)
        outputs = {"sequence_output": x, "pooled_output": self.pooler(x[:, 0, :])}
        kwargs.setdefault("name", "bert_backbone")
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.activation = activation

    def attention_scores(self, inputs):
        """Every encoder block's self-attention weights (eager; outputs unchanged).

        `inputs` are the backbone's (`token_ids`, `segment_ids`, `padding_mask`,
        each `(B, T)`); returns `{"encoder": [(B, H, T, T)] × num_layers}`, the
        softmax weights of block 0 first. Attention is bidirectional: every real
        query's row sums to 1 over the real tokens, padded keys get zero weight
        and padded queries an all-zero row.
        """
        token_ids = ops.convert_to_tensor(inputs["token_ids"], "int32")
        segment_ids = ops.convert_to_tensor(inputs["segment_ids"], "int32")
        padding_mask = ops.cast(ops.convert_to_tensor(inputs["padding_mask"]), "bool")
        x = self.token_embedding(token_ids, segment_ids=segment_ids)
        x = self.embeddings_layer_norm(x)
        scores = []
        for block in self.transformer_layers:
            x, weights = block(x, padding_mask=padding_mask, return_attention_scores=True, training=False)
            scores.append(weights)
        return {"encoder": scores}

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            **self.dtype_policy_config(),
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "max_sequence_length": self.max_sequence_length,
            "num_segments": self.num_segments,
            "dropout": self.dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "activation": self.activation,
        }


@keras.saving.register_keras_serializable(package="kerasnets")
class BertClassifier(BackboneTask):
    """A sequence (or sentence-pair) classifier on a `BertBackbone`.

        probabilities = softmax(Dropout(pooled) W + b)

    Args:
        backbone: A `BertBackbone`, fresh or pre-trained (e.g. `BertPretrainer(…).backbone`).
        num_classes: Number of classes.
        dropout: Dropout on the pooled output; default the backbone's.
    """

    def __init__(self, backbone, num_classes=2, dropout=None, **kwargs):
        dropout = backbone.dropout if dropout is None else dropout
        self.backbone = backbone
        self.output_dropout = keras.layers.Dropout(dropout, name="classifier_dropout")
        self.output_layer = keras.layers.Dense(
            num_classes, activation="softmax", kernel_initializer=_initializer(), dtype="float32", name="probabilities"
        )
        inputs = backbone.input
        outputs = self.output_layer(self.output_dropout(backbone(inputs)["pooled_output"]))
        kwargs.setdefault("name", "bert")
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.num_classes = num_classes
        self.dropout = dropout

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="kerasnets")
class BertPretrainer(BackboneTask):
    """BERT's two pre-training heads on a `BertBackbone`: masked LM and next sentence.

        mlm_logits = LayerNorm(GELU(h[mask_positions] W + b)) E_tokᵀ + b_mlm    (decoder tied to E_tok)
        nsp_logits = pooled W_nsp + b_nsp                                        (IsNext / NotNext)

    Inputs: the backbone's plus `mask_positions` `(B, P)`; outputs
    `mlm_probabilities` `(B, P, vocabulary)` and `nsp_probabilities` `(B, 2)`.
    After `fit`, `BertClassifier(pretrainer.backbone)` fine-tunes the same
    backbone object.

    Args:
        backbone: A `BertBackbone`.
    """

    def __init__(self, backbone, **kwargs):
        self.backbone = backbone
        epsilon = backbone.layer_norm_epsilon
        self.mlm_dense = keras.layers.Dense(
            backbone.hidden_dim,
            activation=activations.get(backbone.activation),
            kernel_initializer=_initializer(),
            name="mlm_dense",
        )
        self.mlm_layer_norm = keras.layers.LayerNormalization(epsilon=epsilon, name="mlm_layer_norm")
        self.mlm_bias = BiasAdd(name="mlm_bias")
        self.mlm_probabilities = keras.layers.Activation("softmax", dtype="float32", name="mlm_probabilities")
        self.nsp_head = keras.layers.Dense(
            2, activation="softmax", kernel_initializer=_initializer(), dtype="float32", name="nsp_probabilities"
        )
        inputs = dict(backbone.input)
        inputs["mask_positions"] = keras.Input(shape=(None,), dtype="int32", name="mask_positions")
        features = backbone({key: inputs[key] for key in backbone.input})
        masked = ops.take_along_axis(
            features["sequence_output"], ops.expand_dims(inputs["mask_positions"], -1), axis=1
        )
        h = self.mlm_layer_norm(self.mlm_dense(masked))
        outputs = {
            "mlm_probabilities": self.mlm_probabilities(self.mlm_bias(backbone.token_embedding(h, reverse=True))),
            "nsp_probabilities": self.nsp_head(features["pooled_output"]),
        }
        kwargs.setdefault("name", "bert")
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)


@with_presets(PRESETS)
def bert(
    *,
    head=None,
    num_classes=2,
    vocabulary_size=30522,
    num_layers=2,
    num_heads=2,
    hidden_dim=128,
    intermediate_dim=512,
    max_sequence_length=512,
    num_segments=2,
    dropout=0.1,
    layer_norm_epsilon=1e-12,
    activation="gelu",
    name="bert",
):
    """BERT (Devlin et al. 2019): a bidirectional Transformer encoder.

        x = Dropout(LayerNorm(E_tok[token_ids] + E_pos[t] + E_seg[segment_ids]))
        h = N × TransformerEncoderBlock(x, padding_mask)        (post-LN, GELU)
        pooled = tanh(h[:, 0] W_p + b_p)                         (the [CLS] token)

    Heads:
      * None (default): the backbone; outputs `sequence_output` `(B, T, H)`
        and `pooled_output` `(B, H)`.
      * "pretraining": adds the masked-LM head, read at `mask_positions`:
        `softmax(LayerNorm(GELU(h W + b)) E_tokᵀ + b_mlm)` with the decoder
        tied to the word embeddings and a bias of its own, and the 2-way
        next-sentence head `softmax(pooled W_nsp + b)`. Outputs
        `mlm_probabilities` `(B, P, vocabulary)` and `nsp_probabilities` `(B, 2)`.
      * "classifier": `softmax(Dropout(pooled) W + b)`, output `probabilities`.

    The defaults are BERT-Tiny (L=2, H=128, A=2); `preset` names the
    published sizes: bert_base_uncased, bert_large_uncased, bert_tiny, bert_mini, bert_small,
    bert_medium.

    Args:
        preset: A name from `PRESETS`; explicit arguments override it.
        head: None, "pretraining" or "classifier".
        num_classes: Classes of the "classifier" head.
        vocabulary_size: WordPiece vocabulary (0 = [PAD]).
        num_layers: Encoder blocks (L).
        num_heads: Attention heads (A).
        hidden_dim: Hidden size (H).
        intermediate_dim: Feed-forward size (4H in the paper).
        max_sequence_length: Position embeddings.
        num_segments: Segment (token type) embeddings; 2 for sentence pairs.
        dropout: Dropout everywhere (0.1 in the paper).
        layer_norm_epsilon: Epsilon of every layer normalisation.
        activation: "gelu" (exact) or "gelu_approximate" (tanh form).
        name: Model name.

    Returns:
        A `BertBackbone` (head None), `BertClassifier` or `BertPretrainer`, with
        inputs `token_ids`, `segment_ids`, `padding_mask` (1 for real tokens),
        plus `mask_positions` for the pre-training heads; the heads keep the
        backbone as `.backbone`.
    """
    if head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(map(str, HEADS))}; got '{head}'.")
    backbone = BertBackbone(
        vocabulary_size=vocabulary_size,
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim,
        max_sequence_length=max_sequence_length,
        num_segments=num_segments,
        dropout=dropout,
        layer_norm_epsilon=layer_norm_epsilon,
        activation=activation,
        name=name if head is None else f"{name}_backbone",
    )
    if head is None:
        return backbone
    if head == "classifier":
        return BertClassifier(backbone, num_classes=num_classes, name=name)
    return BertPretrainer(backbone, name=name)
