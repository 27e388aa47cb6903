"""Variational autoencoders over fixed-size segments of frames (piano rolls, log-mels).

Both keep the whole-sequence contract: a segment ``[B, T, W]`` (T steps of W pitches or
mel bands) is encoded to a diagonal Gaussian ``q(z|x)`` and decoded from ``z`` at once.
The ``elbo`` objective trains them; the models know no loss.

- ``vae-conv``: 1-D convolutions over time with the W values of a step as channels,
  halving time ``downsample`` times, then a dense layer to ``2 x latent``; the decoder
  mirrors it with transposed convolutions. A non-autoregressive decoder cannot model a
  segment without ``z``, which is what keeps the latent in use.
- ``vae-report``: the report's (source ``002_…``) image VAE: 3 x (conv2d, max-pool,
  batch-norm), dense 512, latent 256; decoder 3 x (upsample, transposed conv,
  batch-norm) and a sigmoid, trained there with MSE + KL, both means.

``output`` says what the decoder gives: ``logits`` (Bernoulli rolls), ``linear``
(log-mel values) or ``sigmoid`` (the report's values in [0, 1]); :meth:`mean` turns it
into the expected frame either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from cadenza.models.base import ModelConfigError, WholeSequenceModel
from cadenza.models.registry import register_model

OUTPUTS = ("logits", "linear", "sigmoid")


def _positive(name: str, **values: int) -> None:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ModelConfigError(f"{name} option {key} must be a positive int, "
                                   f"got {value!r}")


class SegmentVAE(WholeSequenceModel):
    """What every segment VAE offers: encode, reparameterize, decode, mean."""

    inputs = "frames"
    width: int
    steps: int
    latent: int
    output: str

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x [B, T, W] -> (mu, logvar), each [B, latent]."""
        raise NotImplementedError

    def decode(self, z: Tensor) -> Tensor:
        """z [B, latent] -> the decoder's output [B, T, W] (see ``output``)."""
        raise NotImplementedError

    def forward(self, x: Tensor, sample: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        """x [B, T, W] -> (decoder output [B, T, W], mu, logvar); ``z`` is drawn from
        q(z|x) with ``sample`` (training), else it is the mean."""
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        return self.decode(z), mu, logvar

    def mean(self, out: Tensor) -> Tensor:
        """The expected frame values under the decoder's output."""
        return torch.sigmoid(out) if self.output == "logits" else out


@dataclass
class ConvVAEConfig:
    """``steps`` per segment (a multiple of 2 ** downsample), ``latent`` dimensions,
    ``channels`` of every convolution, ``output`` (see the module docstring)."""

    steps: int = 16
    latent: int = 64
    channels: int = 256
    downsample: int = 2
    dropout: float = 0.0
    output: str = "logits"

    def __post_init__(self) -> None:
        _positive("vae-conv", steps=self.steps, latent=self.latent, channels=self.channels,
                  downsample=self.downsample)
        if self.steps % (2 ** self.downsample):
            raise ModelConfigError(f"vae-conv steps ({self.steps}) must be a multiple of "
                                   f"2 ** downsample ({2 ** self.downsample})")
        if self.output not in OUTPUTS:
            raise ModelConfigError(f"vae-conv output must be one of {OUTPUTS}")
        if not 0.0 <= self.dropout < 1.0:
            raise ModelConfigError("vae-conv dropout must be in [0, 1)")


def _block(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(channels, channels, 3, padding=1),
                         nn.GroupNorm(1, channels), nn.GELU())


@register_model("vae-conv")
class ConvVAE(SegmentVAE):
    """1-D convolutional VAE over time (the W values of a step are the channels)."""

    config_class = ConvVAEConfig

    def __init__(self, width: int, config: ConvVAEConfig) -> None:
        super().__init__()
        c, d = config.channels, config.downsample
        self.config, self.width, self.steps = config, width, config.steps
        self.latent, self.output = config.latent, config.output
        self.reduced = config.steps // 2 ** d
        down: list[nn.Module] = [nn.Conv1d(width, c, 3, padding=1), nn.GELU()]
        for _ in range(d):
            down += [nn.Conv1d(c, c, 4, stride=2, padding=1), nn.GroupNorm(1, c), nn.GELU(),
                     _block(c)]
        self.encoder = nn.Sequential(*down)
        self.dropout = nn.Dropout(config.dropout)
        self.to_stats = nn.Linear(c * self.reduced, 2 * config.latent)
        self.from_z = nn.Linear(config.latent, c * self.reduced)
        up: list[nn.Module] = [nn.GELU()]
        for _ in range(d):
            up += [nn.ConvTranspose1d(c, c, 4, stride=2, padding=1), nn.GroupNorm(1, c),
                   nn.GELU(), _block(c)]
        up.append(nn.Conv1d(c, width, 3, padding=1))
        self.decoder = nn.Sequential(*up)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(x.transpose(1, 2))  # [B, C, T / 2**d]
        mu, logvar = self.to_stats(self.dropout(h.flatten(1))).chunk(2, dim=-1)
        return mu, logvar.clamp(-30.0, 20.0)

    def decode(self, z: Tensor) -> Tensor:
        h = self.from_z(z).view(len(z), -1, self.reduced)  # [B, C, T / 2**d]
        return self.decoder(h).transpose(1, 2)  # [B, T, W]


@dataclass
class ReportVAEConfig:
    """The report's sizes: filters (64, 64, 32), kernels (5, 3, 3), dense 512, latent
    256. ``steps`` and the width must be multiples of 8 (three 2x poolings)."""

    steps: int = 16
    latent: int = 256
    dense: int = 512
    output: str = "sigmoid"

    def __post_init__(self) -> None:
        _positive("vae-report", steps=self.steps, latent=self.latent, dense=self.dense)
        if self.steps % 8:
            raise ModelConfigError(f"vae-report steps ({self.steps}) must be a multiple of 8")
        if self.output not in OUTPUTS:
            raise ModelConfigError(f"vae-report output must be one of {OUTPUTS}")


FILTERS, KERNELS = (64, 64, 32), (5, 3, 3)


@register_model("vae-report")
class ReportVAE(SegmentVAE):
    """The report's convolutional image VAE, a segment being a 1-channel image."""

    config_class = ReportVAEConfig

    def __init__(self, width: int, config: ReportVAEConfig) -> None:
        super().__init__()
        if width % 8:
            raise ModelConfigError(f"vae-report needs a width divisible by 8, got {width}")
        self.config, self.width, self.steps = config, width, config.steps
        self.latent, self.output = config.latent, config.output
        layers: list[nn.Module] = []
        channels = 1
        for filters, kernel in zip(FILTERS, KERNELS):
            layers += [nn.Conv2d(channels, filters, kernel, padding=kernel // 2), nn.ReLU(),
                       nn.MaxPool2d(2), nn.BatchNorm2d(filters)]
            channels = filters
        self.encoder = nn.Sequential(*layers, nn.Flatten(),
                                     nn.Linear(32 * (config.steps // 8) * (width // 8),
                                               config.dense), nn.ReLU())
        self.to_stats = nn.Linear(config.dense, 2 * config.latent)
        self.from_z = nn.Sequential(nn.Linear(config.latent, config.dense), nn.ReLU(),
                                    nn.Linear(config.dense, 32 * (config.steps // 8)
                                              * (width // 8)), nn.ReLU())
        up: list[nn.Module] = []
        for filters, kernel in zip((*FILTERS[::-1][1:], 1), KERNELS[::-1]):
            up += [nn.Upsample(scale_factor=2),
                   nn.ConvTranspose2d(channels, filters, kernel, padding=kernel // 2)]
            if filters > 1:
                up += [nn.ReLU(), nn.BatchNorm2d(filters)]
            channels = filters
        self.decoder = nn.Sequential(*up)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.to_stats(self.encoder(x[:, None])).chunk(2, dim=-1)
        return mu, logvar.clamp(-30.0, 20.0)

    def decode(self, z: Tensor) -> Tensor:
        h = self.from_z(z).view(len(z), 32, self.steps // 8, self.width // 8)
        out = self.decoder(h)[:, 0]  # [B, T, W]
        return torch.sigmoid(out) if self.output == "sigmoid" else out

    def mean(self, out: Tensor) -> Tensor:
        return torch.sigmoid(out) if self.output == "logits" else out
