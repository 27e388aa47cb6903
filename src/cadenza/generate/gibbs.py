"""Gibbs-style continuation for a masked (bidirectional) token model.

Such a model cannot sample left to right, so a continuation is made by resampling:
the future starts hidden (MASK), and each of a fixed number of ``sweeps`` visits every
future position in turn, hides it and draws it from p(x_i | everything else). The
first sweep therefore samples each token from the primer, the tokens already drawn and
a still hidden future; later sweeps revise every token in the light of both sides. The
primer is never touched.
"""

from __future__ import annotations

import torch

from cadenza.errors import ConfigError


@torch.no_grad()
def gibbs_continue(model: torch.nn.Module, primer: torch.Tensor, length: int, sweeps: int,
                   temperature: float = 1.0, seed: int = 0) -> torch.Tensor:
    """``primer`` [k] followed by ``length`` tokens resampled for ``sweeps`` sweeps ->
    [k + length]. Padding (id 0) and MASK are never drawn."""
    if sweeps < 1 or length < 1:
        raise ConfigError(f"gibbs continuation needs sweeps >= 1 and length >= 1, "
                          f"got {sweeps} and {length}")
    if not temperature > 0:
        raise ConfigError(f"temperature must be > 0, got {temperature}")
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    k = len(primer)
    device = next(model.parameters()).device
    tokens = torch.cat([primer.long().cpu(),
                        torch.full((length,), model.mask_id, dtype=torch.long)]).to(device)
    try:
        for _ in range(sweeps):
            for i in range(k, k + length):
                tokens[i] = model.mask_id
                logits = model(tokens[None])[0, i].float() / temperature
                logits[0] = float("-inf")
                tokens[i] = int(torch.multinomial(torch.softmax(logits, -1), 1,
                                                  generator=generator))
    finally:
        model.train(was_training)
    return tokens
