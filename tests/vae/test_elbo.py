"""The ELBO against a hand-computed case, its schedules, and the collapse monitors on
toys whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from cadenza.errors import ConfigError
from cadenza.evaluate import latent
from cadenza.objectives.elbo import ELBO, beta_at


class Fixed(nn.Module):
    """A 'VAE' whose output and posterior are given: checks the loss arithmetic."""

    steps, width, latent, output = 1, 2, 1, "logits"

    def __init__(self, out, mu, logvar):
        super().__init__()
        self.out, self.mu, self.logvar = out, mu, logvar

    def forward(self, x, sample=True):
        return self.out, self.mu, self.logvar

    def mean(self, out):
        return torch.sigmoid(out)


class Batch:
    def __init__(self, inputs, step=0):
        self.inputs, self.step = inputs, step


def test_elbo_matches_a_hand_computed_case() -> None:
    x = torch.tensor([[[1.0, 0.0]]])
    # logits 0 and ln 3: -log sigmoid(0) = ln 2, -log(1 - sigmoid(ln 3)) = ln 4
    model = Fixed(torch.tensor([[[0.0, math.log(3.0)]]]), torch.tensor([[1.0]]),
                  torch.tensor([[0.0]]))
    step = ELBO(None).loss(model, Batch(x))
    assert step.loss.item() == pytest.approx(math.log(8.0) + 0.5)  # KL = (1 + 1 - 1 - 0) / 2
    assert step.count == 1
    half = ELBO(None, beta=0.5).loss(model, Batch(x))
    assert half.loss.item() == pytest.approx(math.log(8.0) + 0.25)
    # one free bit (ln 2 = 0.69 nats) covers the 0.5 nats of KL: only the reconstruction
    free = ELBO(None, free_bits=1.0).loss(model, Batch(x))
    assert free.loss.item() == pytest.approx(math.log(8.0))
    # 0.5 free bits (0.347 nats): the KL above them counts
    part = ELBO(None, free_bits=0.5).loss(model, Batch(x))
    assert part.loss.item() == pytest.approx(math.log(8.0) + 0.5 - 0.5 * math.log(2.0))


def test_the_sources_loss_averages_both_terms() -> None:
    x = torch.tensor([[[1.0, 0.0]]])
    model = Fixed(torch.tensor([[[0.0, 0.0]]]), torch.tensor([[2.0]]), torch.tensor([[0.0]]))
    model.output = "linear"
    model.mean = lambda out: out
    mean = ELBO(None, reconstruction="mse", reduction="mean").loss(model, Batch(x))
    assert mean.loss.item() == pytest.approx((1.0 + 0.0) / 2 + 2.0)  # MSE mean + KL mean
    laplace = ELBO(None, reconstruction="laplace", scale=0.5).loss(model, Batch(x))
    assert laplace.loss.item() == pytest.approx(1 / 0.5 + 2 * math.log(1.0) + 2.0)


def test_annealing_follows_its_schedules() -> None:
    assert beta_at(0, 0.5, "musicvae", 0.99) == 0.0
    assert beta_at(100, 0.5, "musicvae", 0.99) == pytest.approx((1 - 0.99 ** 100) * 0.5)
    assert beta_at(10 ** 6, 0.5, "musicvae", 0.99) == pytest.approx(0.5)
    rising = [beta_at(s, 1.0, "musicvae", 0.999) for s in range(0, 5000, 100)]
    assert all(a < b for a, b in zip(rising, rising[1:]))
    cycle = [beta_at(s, 2.0, "cyclical", cycle_steps=100, cycle_ratio=0.5) for s in
             (0, 25, 50, 75, 99, 100, 125)]
    assert cycle == pytest.approx([0.0, 1.0, 2.0, 2.0, 2.0, 0.0, 1.0])
    assert beta_at(123, 0.3) == 0.3


def test_the_loss_reads_the_step_of_the_batch() -> None:
    x = torch.tensor([[[1.0, 0.0]]])
    model = Fixed(torch.tensor([[[0.0, math.log(3.0)]]]), torch.tensor([[1.0]]),
                  torch.tensor([[0.0]]))
    objective = ELBO(None, anneal="cyclical", cycle_steps=10, cycle_ratio=1.0)
    losses = [objective.loss(model, Batch(x, step)).loss.item() for step in (0, 5, 10)]
    assert losses == pytest.approx([math.log(8.0), math.log(8.0) + 0.25, math.log(8.0)])


def test_bad_options_are_refused() -> None:
    for options in ({"reconstruction": "poisson"}, {"anneal": "sometimes"},
                    {"beta": -1.0}, {"free_bits": float("nan")}, {"reduction": "max"},
                    {"scale": 0.0}):
        with pytest.raises(ConfigError):
            ELBO(None, **options)


def test_active_units_on_a_known_toy() -> None:
    rng = np.random.default_rng(0)
    mu = torch.zeros(200, 5)
    mu[:, :3] = torch.from_numpy(rng.normal(0, 1, (200, 3))).float()  # 3 used dimensions
    mu[:, 3] = 0.05 * torch.from_numpy(rng.normal(0, 1, 200)).float()  # variance 0.0025
    assert latent.active_units(mu) == 3
    logvar = torch.zeros(200, 5)
    per_dim = latent.kl_per_dim(mu, logvar)
    assert per_dim[4] == 0.0 and per_dim[0] > 0.3


def test_the_shuffle_never_gives_an_example_its_own_z() -> None:
    for n in (2, 3, 10, 101):
        partner = latent.shuffled(n, seed=n)
        assert sorted(partner) == list(range(n))
        assert (partner != np.arange(n)).all()


class Toy(nn.Module):
    """Decodes z straight into the segment's logits (``used``), or ignores it."""

    steps, latent, output = 1, 12, "logits"

    def __init__(self, used: bool):
        super().__init__()
        self.width, self.used = 12, used
        self.bias = nn.Parameter(torch.zeros(12))

    def decode(self, z):
        return (z * 4 if self.used else self.bias.expand(len(z), -1))[:, None, :]

    def mean(self, out):
        return torch.sigmoid(out)


def test_the_z_shuffle_test_tells_a_used_latent_from_an_ignored_one() -> None:
    rng = np.random.default_rng(1)
    x = torch.from_numpy((rng.random((64, 1, 12)) < 0.3).astype(np.float32))
    mu = x[:, 0] * 2 - 1  # the latent is the segment
    logvar = torch.zeros_like(mu)
    objective = ELBO(None)
    used = objective.monitors(Toy(True), x, mu, logvar)
    assert used["f1"] == 1.0 and used["shuffle_drop"] > 0.5
    assert used["active_units"] == 12
    ignored = objective.monitors(Toy(False), x, torch.zeros_like(mu), logvar)
    assert ignored["shuffle_drop"] == 0.0 and ignored["active_units"] == 0
    assert ignored["kl_nats"] == 0.0


def test_overlap_and_monotonic_paths() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 500), rng.normal(0, 1, 500)
    assert latent.overlapping_area(a, b) > 0.9
    assert latent.overlapping_area(a, b + 10) < 0.01
    assert latent.overlapping_area(np.ones(10), np.ones(10)) == 1.0
    assert latent.overlapping_area(np.ones(10), 2 * np.ones(10)) == 0.0
    few = np.array([0.0] * 9 + [0.125])  # a feature of few values: counted exactly
    assert latent.overlapping_area(np.zeros(8), few) == pytest.approx(0.9)
    spike = np.zeros(40)
    spike[0] = 1e-3 * np.pi  # many distinct values, one sample nearly constant: KDE
    assert latent.overlapping_area(spike, rng.normal(0, 1, 40)) < 0.5
    path = np.zeros((4, 2, 3), bool)
    path[1, 0, 0] = path[2, 0, :2] = path[3, 0, :3] = True
    assert latent.monotonic_fraction(path) == 1.0
    assert latent.monotonic_fraction(path[[0, 2, 1, 3]]) == pytest.approx(2 / 3)
    assert latent.monotonic_fraction(np.repeat(path[:1], 4, 0)) == 0.0  # it never moves


def test_roll_features_of_a_known_roll() -> None:
    roll = np.zeros((1, 8, 88), bool)
    roll[0, 0:2, [39, 43]] = True  # C4 and E4 for two steps, then silence
    found = latent.roll_features(roll, steps_per_beat=2)
    assert found["polyphony"][0] == 2.0
    assert found["pitch_range"][0] == 4
    assert found["pitch_class_entropy"][0] == pytest.approx(1.0)
    assert found["note_density"][0] == pytest.approx(2 / 8)
    assert found["empty_beat_rate"][0] == pytest.approx(3 / 4)


def test_onset_f1_counts_notes_not_cells() -> None:
    truth = np.zeros((1, 4, 3), bool)
    truth[0, :, 0] = True  # one long note
    guess = truth.copy()
    guess[0, 2, 0] = False  # split in two: one extra onset, three of four cells right
    assert latent.onset_f1(truth, truth) == 1.0
    assert latent.note_f1(guess, truth) == pytest.approx(6 / 7)
    assert latent.onset_f1(guess, truth) == pytest.approx(2 / 3)
