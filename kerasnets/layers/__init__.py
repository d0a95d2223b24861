"""Building blocks written from scratch with `keras.ops`, one layer per file.

Every layer is registered under the package name "kerasnets", so a `.keras`
file that uses them reloads with `keras.saving.load_model(path)` alone.
"""


from kerasnets.layers.bahdanau_attention import BahdanauAttention
from kerasnets.layers.bias_add import BiasAdd
from kerasnets.layers.feed_forward import FeedForward
from kerasnets.layers.lstm import LSTM
from kerasnets.layers.lstm_cell import LSTMCell
from kerasnets.layers.luong_attention import LuongAttention
from kerasnets.layers.max_over_time_pooling import MaxOverTimePooling
from kerasnets.layers.multi_head_attention import MultiHeadAttention
from kerasnets.layers.position_embedding import PositionEmbedding
from kerasnets.layers.recurrent import Recurrent
from kerasnets.layers.positional_encoding import PositionalEncoding
from kerasnets.layers.scaled_dot_product_attention import ScaledDotProductAttention
from kerasnets.layers.simple_rnn import SimpleRNN
from kerasnets.layers.simple_rnn_cell import SimpleRNNCell
from kerasnets.layers.token_and_position_embedding import TokenAndPositionEmbedding
from kerasnets.layers.transformer_decoder_block import TransformerDecoderBlock
from kerasnets.layers.transformer_encoder_block import TransformerEncoderBlock
