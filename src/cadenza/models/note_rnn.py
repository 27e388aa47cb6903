"""The six-head note LSTM (source ``000_…``): note features in, six heads out.

Each step reads the codes of one note (``cadenza.codecs.notes``: pitch, step, duration,
interval, velocity, polyphony) and predicts the next note's six features from one
LSTM state. Two ways to read a note and two kinds of heads:

- ``input = "embed"``: each feature's code is looked up in its own embedding table and
  the six vectors are concatenated; ``input = "scaled"``: each code divided by its
  number of classes, six numbers in [0, 1] (the source's normalised features).
- ``heads = "categorical"``: every feature gets logits over all its codes, so each has
  a likelihood and its own temperature; ``heads = "tutorial"``: logits for pitch and
  polyphony, one regressed value for step, duration, interval and velocity.

Both readings are functions of the codes inside the model, so training and generation
feed it exactly the same thing: the codec's codes (the source normalised its seed but
fed generated pitches back raw).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .base import ModelConfigError, SequenceModel
from .frame_rnn import FrameRNN
from .heads import Heads
from .registry import register_model

NoteState = tuple[Tensor, Tensor]
INPUTS = ("embed", "scaled")
HEADS = ("categorical", "tutorial")
REGRESSED = (1, 2, 3, 4)  # step, duration, interval, velocity under heads="tutorial"


def feature_classes(time_classes: int) -> tuple[int, ...]:
    """Codes per feature (pitch, step, duration, interval, velocity, polyphony), as
    :class:`cadenza.codecs.notes.NoteCodec` writes them."""
    return (128, time_classes, time_classes, 255, 128, 13)


@dataclass
class NoteRNNConfig:
    """Options of `NoteRNN`. ``time_classes`` must match the dataset codec's."""

    hidden: int = 128
    layers: int = 1
    embedding: int = 16
    dropout: float = 0.0
    input: str = "embed"
    heads: str = "categorical"
    time_classes: int = 120

    def __post_init__(self) -> None:
        for key in ("hidden", "layers", "embedding", "time_classes"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelConfigError(f"note-rnn option {key} must be a positive int, "
                                       f"got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ModelConfigError(f"note-rnn dropout must be in [0, 1), got {self.dropout!r}")
        if self.input not in INPUTS or self.heads not in HEADS:
            raise ModelConfigError(f"note-rnn input must be one of {INPUTS} and heads one of "
                                   f"{HEADS}, got {self.input!r}, {self.heads!r}")


@register_model("note-rnn")
class NoteRNN(SequenceModel):
    """LSTM over note feature codes [B, T, 6] -> six heads side by side [B, T, sum]."""

    config_class = NoteRNNConfig
    inputs = "frames"
    max_context = None

    def __init__(self, width: int, config: NoteRNNConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or NoteRNNConfig()
        self.classes = feature_classes(config.time_classes)
        if width != len(self.classes):
            raise ModelConfigError(f"note-rnn reads {len(self.classes)} features per note, "
                                   f"but this codec gives {width}")
        self.head_sizes = tuple(1 if config.heads == "tutorial" and i in REGRESSED else n
                                for i, n in enumerate(self.classes))
        self.vocab_size = sum(self.head_sizes)
        if config.input == "embed":
            self.embeddings = nn.ModuleList(nn.Embedding(n, config.embedding)
                                            for n in self.classes)
            width_in = config.embedding * len(self.classes)
        else:
            self.register_buffer("scale", 1.0 / torch.tensor(self.classes, dtype=torch.float),
                                 persistent=False)
            width_in = len(self.classes)
        self.rnn = nn.LSTM(width_in, config.hidden, num_layers=config.layers, batch_first=True,
                           dropout=config.dropout if config.layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)
        self.head = Heads(config.hidden, self.head_sizes)

    def features(self, codes: Tensor) -> Tensor:
        """What the LSTM reads for codes [B, T, 6] (floats or ints holding codes)."""
        if self.config.input == "scaled":
            return codes.float() * self.scale
        codes = codes.long()
        return torch.cat([emb(codes[..., i]) for i, emb in enumerate(self.embeddings)], -1)

    def forward(self, codes: Tensor, state: NoteState | None = None
                ) -> tuple[Tensor, NoteState]:
        out, (h, c) = self.rnn(self.features(codes), state)
        return self.head(self.dropout(out)), (h, c)

    # the recurrent state is the frame LSTM's, (h, c): the same code keeps it
    init_state = FrameRNN.init_state
    select_state = FrameRNN.select_state
    step = FrameRNN.step  # one note: codes [B, 6] -> (the next note's heads [B, sum], state)
