"""GPT (Radford et al. 2018, 2019): a decoder-only causal language model.

    x_0 = Dropout(E[token_ids] + P[t])
    x_l = x_{l-1} + Attn(LN(x_{l-1}));  x_l += FFN(LN(x_l))     (pre-LN, causal, GELU)
    h   = LN(x_N)                                               (`GPTBackbone`)
    p(token_{t+1} | tokens_≤t) = softmax(h Eᵀ)                  (`GPTCausalLM`, tied head)

    lm = gpt(vocabulary_size=65, max_sequence_length=256)    # GPTCausalLM
    lm.backbone                                               # GPTBackbone: token_ids → hidden states
    lm.generate(prompt_ids, max_new_tokens=100, sampler="top_k")
"""

import keras

from kerasnets.layers import activations
from kerasnets.layers.token_and_position_embedding import TokenAndPositionEmbedding
from kerasnets.layers.transformer_decoder_block import TransformerDecoderBlock
from kerasnets.models.backbone_task import BackboneTask
from kerasnets.models.causal_lm import CausalLM
from kerasnets.models.dtype_policy import DTypePolicyConfig
from kerasnets.models.presets import with_presets
from kerasnets.ops import layer_norm

PRESETS = {
    # GPT-2 small (Radford et al. 2019): 124,439,808 parameters with the tied head.
    "gpt2": dict(
        vocabulary_size=50257,
        max_sequence_length=1024,
        num_layers=12,
        num_heads=12,
        hidden_dim=768,
        intermediate_dim=3072,
        dropout=0.1,
    ),
    # GPT-2 medium (Radford et al. 2019): 354,823,168 parameters with the tied head.
    "gpt2_medium": dict(
        vocabulary_size=50257,
        max_sequence_length=1024,
        num_layers=24,
        num_heads=16,
        hidden_dim=1024,
        intermediate_dim=4096,
        dropout=0.1,
    ),
}


def _initializer():
    return keras.initializers.RandomNormal(stddev=0.02)


@keras.saving.register_keras_serializable(package="kerasnets")
class GPTBackbone(DTypePolicyConfig, keras.Model):
    """The GPT decoder stack: `token_ids` `(B, T)` → hidden states `(B, T, hidden_dim)`.

    Token + learned position embeddings, `num_layers` pre-LN causal
    `TransformerDecoderBlock`s (GELU) and a final layer norm. Position t
    never sees a later token.

    Args:
        vocabulary_size: Number of token ids.
        num_layers: Decoder blocks.
        num_heads: Attention heads.
        hidden_dim: Model width.
        intermediate_dim: Feed-forward width (4 × hidden_dim in GPT-2).
        max_sequence_length: Context length (position embeddings).
        dropout: Dropout on embeddings, residuals and attention.
        layer_norm_epsilon: Epsilon of the layer normalisations.
        activation: Feed-forward activation, a name: "gelu" (exact, x Φ(x)) or
            "gelu_approximate" (the tanh form, GPT-2's "gelu_new"), or any Keras name.

    Attributes:
        token_embedding: `TokenAndPositionEmbedding` (its `reverse` call is the tied head).
        transformer_layers: The decoder blocks, in order.
        layer_norm: The final layer normalisation.
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        max_sequence_length=1024,
        dropout=0.1,
        layer_norm_epsilon=1e-5,
        activation="gelu",
        **kwargs,
    ):
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}.")
        if not isinstance(activation, str):
            raise ValueError(f"activation must be a name (a string, so the config stores it), got {activation!r}.")
        activation_function = activations.get(activation)
        self.token_embedding = TokenAndPositionEmbedding(
            vocabulary_size, max_sequence_length, hidden_dim, embeddings_initializer=_initializer(), name="embeddings"
        )
        self.embeddings_dropout = keras.layers.Dropout(dropout, name="embeddings_dropout")
        self.transformer_layers = [
            TransformerDecoderBlock(
                intermediate_dim,
                num_heads,
                dropout=dropout,
                activation=activation_function,
                layer_norm_epsilon=layer_norm_epsilon,
                normalize_first=True,
                kernel_initializer=_initializer(),
                name=f"decoder_block_{index}",
            )
            for index in range(num_layers)
        ]
        self.layer_norm = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="final_layer_norm")

        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        x = self.embeddings_dropout(self.token_embedding(token_ids))
        for block in self.transformer_layers:
            x = block(x)
        super().__init__(inputs=token_ids, outputs=self.layer_norm(x), **kwargs)

        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.max_sequence_length = max_sequence_length
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.activation = activation

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
            "dropout": self.dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "activation": self.activation,
        }


@keras.saving.register_keras_serializable(package="kerasnets")
class GPTCausalLM(BackboneTask, CausalLM):
    """GPT with its language-model head: `token_ids` `(B, T)` → `probabilities` `(B, T, V)`.

        logits = h Eᵀ (tied) or h W_lm;    probabilities = softmax(logits)

    Training (`fit`) reads the `probabilities` output; decoding reads logits
    from `call_with_cache`, one position at a time over a key/value cache
    `(B, 2, S, H, head_dim)` per block.

    Args:
        backbone: A `GPTBackbone`.
        tie_embeddings: Project onto the vocabulary with the token embedding
            (no extra weights); otherwise a separate bias-free `lm_head`.
        padding_token_id: The id prompts are padded with and that is never
            generated (0, as in every kerasnets tokenizer); None for a
            vocabulary with no padding id (GPT-2's: id 0 is "!"), where
            `generate(…, padding_mask=…)` says which prompt positions are real.

    Example:

    >>> lm = GPTCausalLM(GPTBackbone(65, num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64))
    >>> lm.generate(np.array([[5, 9, 2]]), max_new_tokens=4).shape
    (1, 7)
    """

    def __init__(self, backbone, tie_embeddings=True, padding_token_id=0, **kwargs):
        self.backbone = backbone
        self.lm_head = (
            None
            if tie_embeddings
            else keras.layers.Dense(
                backbone.vocabulary_size, use_bias=False, kernel_initializer=_initializer(), name="lm_head"
            )
        )
        self.probabilities = keras.layers.Activation("softmax", dtype="float32", name="probabilities")
        token_ids = backbone.input
        outputs = self.probabilities(self.logits(backbone(token_ids)))
        kwargs.setdefault("name", "gpt")
        super().__init__(inputs=token_ids, outputs=outputs, **kwargs)
        self.tie_embeddings = tie_embeddings
        self.padding_token_id = None if padding_token_id is None else int(padding_token_id)
        self.vocabulary_size = backbone.vocabulary_size
        self.max_sequence_length = backbone.max_sequence_length

    def logits(self, hidden_states):
        """Vocabulary logits `(…, V)` of final hidden states `(…, hidden_dim)`."""
        if self.lm_head is None:
            return self.backbone.token_embedding(hidden_states, reverse=True)
        return self.lm_head(hidden_states)

    def call_with_cache(self, token_ids, cache, index):
        """Runs `token_ids` `(B, T)` at positions `index …`; `cache` is a list of one
        `(B, 2, S, H, head_dim)` key/value cache per block. Returns `(logits (B, T, V), cache)`."""
        backbone = self.backbone
        x = backbone.token_embedding(token_ids, start_index=index)
        updated = []
        for block, block_cache in zip(backbone.transformer_layers, cache):
            x, block_cache = block(
                x, self_attention_cache=block_cache, self_attention_cache_update_index=index, training=False
            )
            updated.append(block_cache)
        x = layer_norm(x, backbone.layer_norm)
        if x.shape[1] is None:
            return self.logits(x), updated
        # A known number of positions (one per decoding step): the head as one plain matrix product.
        logits = self.logits(keras.ops.reshape(x, (-1, x.shape[-1])))
        return keras.ops.reshape(logits, (-1, x.shape[1], logits.shape[-1])), updated

    def build_cache(self, token_ids, length, padding_mask=None):
        """Prefill: the prompts run once, written at 0 into empty caches of `length` positions;
        decoding starts at the shortest prompt's end (what lies after a longer row's
        padding is rewritten, one position at a time, before anything attends to it)."""
        batch_size = keras.ops.shape(token_ids)[0]
        empty = [block.self_attention.empty_cache(batch_size, length) for block in self.backbone.transformer_layers]
        _, cache = self.call_with_cache(token_ids, empty, 0)
        prompt_lengths = keras.ops.sum(keras.ops.cast(self.prompt_mask(token_ids, padding_mask), "int32"), axis=1)
        return cache, keras.ops.maximum(keras.ops.min(prompt_lengths), 1)

    def get_config(self):
        return {**super().get_config(), "tie_embeddings": self.tie_embeddings, "padding_token_id": self.padding_token_id}


@with_presets(PRESETS)
def gpt(
    *,
    vocabulary_size=50257,
    num_layers=4,
    num_heads=4,
    hidden_dim=128,
    intermediate_dim=512,
    max_sequence_length=256,
    dropout=0.1,
    tie_embeddings=True,
    layer_norm_epsilon=1e-5,
    activation="gelu",
    name="gpt",
):
    """GPT: a decoder-only causal language model (Radford et al. 2018, 2019).

        x_0 = Dropout(E[token_ids] + P[t])
        x_l = x_{l-1} + Attn(LN(x_{l-1}));  x_l += FFN(LN(x_l))     (pre-LN, causal, GELU)
        p(token_{t+1} | tokens_≤t) = softmax(LN(x_N) Eᵀ)            (tied head)

    Every position predicts the next token; the causal mask guarantees that
    position t never sees a later token. The defaults are a small model that
    trains on a CPU; `preset="gpt2"` is GPT-2 small.

    Args:
        preset: "gpt2" or "gpt2_medium"; explicit arguments override it.
        vocabulary_size: Number of token ids.
        num_layers: Decoder blocks.
        num_heads: Attention heads.
        hidden_dim: Model width.
        intermediate_dim: Feed-forward width (4 × hidden_dim in GPT-2).
        max_sequence_length: Context length (position embeddings).
        dropout: Dropout on embeddings, residuals and attention.
        tie_embeddings: Project onto the vocabulary with the token embedding
            (no extra weights); otherwise a separate bias-free projection.
        layer_norm_epsilon: Epsilon of the layer normalisations.
        activation: Feed-forward activation: "gelu" (exact) or "gelu_approximate"
            (tanh form, as in the published GPT-2 weights).
        name: Model name.

    Returns:
        A `GPTCausalLM`: `token_ids` `(B, T)` → `probabilities` `(B, T, vocabulary)`,
        with `.backbone` (a `GPTBackbone`) and `.generate(...)`.
    """
    backbone = GPTBackbone(
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        max_sequence_length=max_sequence_length,
        dropout=dropout,
        layer_norm_epsilon=layer_norm_epsilon,
        activation=activation,
        name=f"{name}_backbone",
    )
    return GPTCausalLM(backbone, tie_embeddings=tie_embeddings, name=name)
