"""Models: `build_model("rnn" | "transformer" | "frame_rnn" | "infill", size, ...)`."""

from .base import ModelConfigError, SequenceModel, State, WholeSequenceModel, count_parameters
from .bilstm import BiLSTMConfig, BiLSTMInfill  # noqa: F401  (register it)
from .frame_rnn import FrameRNN, FrameRNNConfig
from .infill import InfillConfig, InfillModel
from .note_rnn import NoteRNN, NoteRNNConfig
from .registry import MODELS, build_model, build_model_for, model_options, register_model
from .rnn import RNNConfig, RNNLanguageModel
from .transformer import KVCache, TransformerConfig, TransformerLanguageModel
from .vae import ConvVAE, ReportVAE, SegmentVAE  # noqa: F401  (register them)

__all__ = [
    "FrameRNN",
    "FrameRNNConfig",
    "InfillConfig",
    "InfillModel",
    "WholeSequenceModel",
    "build_model_for",
    "MODELS",
    "KVCache",
    "NoteRNN",
    "NoteRNNConfig",
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
