"""Sequence models over token ids: `build_model("rnn" | "transformer", vocab_size, ...)`."""

from .base import ModelConfigError, SequenceModel, State, count_parameters
from .registry import MODELS, build_model, model_options, register_model
from .rnn import RNNConfig, RNNLanguageModel
from .transformer import KVCache, TransformerConfig, TransformerLanguageModel

__all__ = [
    "MODELS",
    "KVCache",
    "ModelConfigError",
    "RNNConfig",
    "RNNLanguageModel",
    "SequenceModel",
    "State",
    "TransformerConfig",
    "TransformerLanguageModel",
    "build_model",
    "count_parameters",
    "model_options",
    "register_model",
]
