"""Search over any autoregressive model through its contract: sample, greedy, beam.

Every strategy primes the model once with the prompt (``forward`` with a fresh
state) and then feeds one token at a time with ``step``; nothing is recomputed.
Finished rows leave the batch (``select_state``), so a long row does not make the
short ones pay. A row that reaches ``max_tokens`` is closed cleanly (the grammar
ends or drops its open frame and adds ``END``) so it still decodes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from cadenza.codecs.base import Vocab
from cadenza.errors import ConfigError
from cadenza.evaluate.likelihood import windows
from cadenza.generate.grammar import ChoraleGrammar, is_chorale_vocab
from cadenza.generate.processors import Context, LogitsProcessor, apply, constraints
from cadenza.limits import MAX_TOKENS

Grammar = ChoraleGrammar | LogitsProcessor | str | None
Chooser = Callable[[Tensor], Tensor]


@dataclass
class Beam:
    """The best sequence beam search found and its log-probability."""

    ids: list[int]
    log_prob: float


def resolve_grammar(vocab: Vocab, grammar: Grammar) -> Any:
    """``"auto"``: the chorale grammar for a chorale vocabulary, else none."""
    if isinstance(grammar, str):
        if grammar != "auto":
            raise ConfigError(f"unknown grammar {grammar!r}; use 'auto', None or a processor")
        return ChoraleGrammar(vocab) if is_chorale_vocab(vocab) else None
    return grammar


@contextmanager
def decoding_mode() -> Iterator[None]:
    """Inference mode with oneDNN off: for one-token steps on CPU, PyTorch's plain LSTM
    kernel is faster than oneDNN's, 2.3-2.6x at batch 32 and 5-14x at batch 1 for
    BachBot's model (``python benchmarks/bench_kernels.py``, torch 2.13, two runs on this
    project's shared 2-core machine)."""
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.backends.mkldnn.enabled = before


class _Setup:
    """What every strategy needs: the chain, the prompt, the end token, the limit."""

    def __init__(self, model: Any, vocab: Vocab, processors: Sequence[LogitsProcessor],
                 max_tokens: int, prompt_ids: Sequence[int] | None, grammar: Grammar):
        grammar = resolve_grammar(vocab, grammar)
        self.model, self.grammar = model, grammar
        self.chain = ([grammar] if grammar is not None else []) + list(processors)
        self.constraints = constraints(self.chain)
        self.end = vocab.role_id("eos")  # roles come from the codec's spec
        if prompt_ids is None:
            if vocab.role_id("bos") is None:
                raise ConfigError("this vocabulary has no start token (role bos); give a prompt")
            prompt_ids = [vocab.role_id("bos")]
        self.prompt = [int(t) for t in prompt_ids]
        if not self.prompt:
            raise ConfigError("the prompt is empty")
        reserve = 2 if isinstance(grammar, ChoraleGrammar) else 1
        self.limit = max_tokens - reserve
        if model.max_context and self.limit > model.max_context + 1:
            model = self.model = Windowed(model)  # the last token is never fed: C + 1 fit
        if self.limit <= len(self.prompt):
            raise ConfigError(
                f"max_tokens {max_tokens} leaves no room after a prompt of {len(self.prompt)}"
            )
        self.device = next(model.parameters()).device

    def start(self, batch: int) -> tuple[Tensor, Any, Tensor, dict[str, Any]]:
        """Prime ``batch`` copies of the prompt: (ids [B, T0], model state, logits, states)."""
        ids = torch.tensor(self.prompt, dtype=torch.long)[None].repeat(batch, 1)
        state = self.model.init_state(batch, self.device)
        logits, state = self.model.forward(ids.to(self.device), state)
        states = {}
        for c in self.constraints:
            s = c.init_state(batch)
            for column in ids.T:
                s = c.advance(s, column)
            states[c.name] = s
        return ids, state, logits[:, -1].float(), states

    def finished(self, tokens: Tensor, states: dict[str, Any]) -> Tensor:
        """[B] bool: rows that end now (the end token, or a constraint that says so)."""
        ended = tokens == self.end if self.end is not None else torch.zeros_like(
            tokens, dtype=torch.bool)
        for c in self.constraints:
            if hasattr(c, "finished"):
                ended = ended | c.finished(states[c.name])
        return ended

    def close(self, ids: list[int]) -> list[int]:
        if isinstance(self.grammar, ChoraleGrammar):
            return self.grammar.finish(ids)
        return ids + ([self.end] if self.end is not None and ids[-1] != self.end else [])


def _decode(model: Any, vocab: Vocab, n: int, processors: Sequence[LogitsProcessor],
            max_tokens: int, prompt_ids: Sequence[int] | None, grammar: Grammar,
            choose: Chooser) -> list[list[int]]:
    setup = _Setup(model, vocab, processors, max_tokens, prompt_ids, grammar)
    model = setup.model  # the model, or a window sliding over it past its context
    out: list[list[int] | None] = [None] * n
    with decoding_mode():
        ids, state, logits, states = setup.start(n)
        rows = torch.arange(n)  # which output row each batch row is
        buffer = torch.zeros(n, setup.limit, dtype=torch.long)
        buffer[:, :ids.shape[1]] = ids
        for t in range(ids.shape[1], setup.limit):
            context = Context(buffer[:, :t], t - len(setup.prompt), states)
            tokens = choose(apply(setup.chain, logits, context)).cpu()  # [B]
            buffer[:, t] = tokens
            for c in setup.constraints:
                states[c.name] = c.advance(states[c.name], tokens)
            ended = setup.finished(tokens, states)
            if ended.any():
                for i in torch.nonzero(ended).squeeze(1).tolist():
                    out[int(rows[i])] = buffer[i, :t + 1].tolist()
                keep = torch.nonzero(~ended).squeeze(1)
                if not len(keep):
                    break
                rows, buffer, tokens = rows[keep], buffer[keep], tokens[keep]
                state = model.select_state(state, keep.to(setup.device))
                states = {c.name: c.select_state(states[c.name], keep)
                          for c in setup.constraints}
            if t + 1 < setup.limit:
                logits, state = model.step(tokens.to(setup.device), state)
                logits = logits.float()
        else:
            for i, row in enumerate(rows.tolist()):
                out[row] = setup.close(buffer[i].tolist())
    return [row for row in out if row is not None]


def sample(model: Any, vocab: Vocab, n: int = 1, processors: Sequence[LogitsProcessor] = (),
           max_tokens: int = MAX_TOKENS, seed: int | None = None,
           prompt_ids: Sequence[int] | None = None, grammar: Grammar = "auto") -> list[list[int]]:
    """Draw ``n`` sequences at once; each starts with the prompt (default ``START``)
    and stops at ``END`` or ``max_tokens``. The same seed gives the same sequences."""
    generator = torch.Generator()
    generator.manual_seed(seed if seed is not None else int(torch.randint(2**62, ()).item()))

    def draw(logits: Tensor) -> Tensor:
        # Gumbel-max: argmax(logits + Gumbel noise) is a draw from softmax(logits),
        # and cheaper than torch.multinomial for a whole batch
        uniform = torch.rand(logits.shape, generator=generator).clamp_(min=1e-20)
        return (logits.float().cpu() - (-uniform.log()).log()).argmax(dim=-1)

    return _decode(model, vocab, n, processors, max_tokens, prompt_ids, grammar, draw)


def greedy(model: Any, vocab: Vocab, processors: Sequence[LogitsProcessor] = (),
           max_tokens: int = MAX_TOKENS, prompt_ids: Sequence[int] | None = None,
           grammar: Grammar = "auto") -> list[int]:
    """The sequence that takes the most likely (legal) token at every step."""
    return _decode(model, vocab, 1, processors, max_tokens, prompt_ids, grammar,
                   lambda logits: logits.argmax(dim=-1))[0]


def beam_search(model: Any, vocab: Vocab, width: int = 4,
                processors: Sequence[LogitsProcessor] = (), max_tokens: int = MAX_TOKENS,
                prompt_ids: Sequence[int] | None = None, grammar: Grammar = "auto",
                scoring: str = "processed") -> Beam:
    """The most likely sequence beam search of ``width`` finds (sum of log-probabilities
    of the generated tokens, no length penalty, accumulated in float64).

    ``scoring="processed"`` ranks by the processed distribution (renormalized after the
    processors); ``"model"`` by the model's own log-probabilities, the processors only
    ruling tokens out (``-inf``): with tokens forced by a constraint this is the joint
    log-probability of forced and chosen tokens, which orders the choices as their
    conditional likelihood given the forced ones does (the harmonizer's search).

    As in Hugging Face's beam search, an ``END`` enters the finished set only when it
    ranks among the best ``width`` candidates, so ``width=1`` is greedy search. It stops
    as soon as no live beam can beat the best finished one.
    """
    if width < 1:
        raise ConfigError(f"beam width must be >= 1, got {width}")
    if scoring not in ("processed", "model"):
        raise ConfigError(f"beam scoring must be 'processed' or 'model', not {scoring!r}")
    setup = _Setup(model, vocab, processors, max_tokens, prompt_ids, grammar)
    model = setup.model
    finished: list[tuple[float, list[int]]] = []
    with decoding_mode():
        ids, state, logits, states = setup.start(1)
        scores = torch.zeros(1, dtype=torch.float64)
        for t in range(ids.shape[1], setup.limit):
            context = Context(ids, t - len(setup.prompt), states)
            processed = apply(setup.chain, logits, context)
            if scoring == "model":
                logp = logits.log_softmax(dim=-1).masked_fill(processed == float("-inf"),
                                                              float("-inf"))
            else:
                logp = processed.log_softmax(dim=-1)
            logp = logp.double().cpu()
            total = (scores[:, None] + logp).flatten()
            top = total.topk(min(2 * width, len(total)))
            chosen: list[tuple[int, int, float]] = []
            for rank, (score, index) in enumerate(zip(top.values.tolist(), top.indices.tolist())):
                if score == float("-inf"):
                    break
                beam, token = divmod(index, logp.shape[1])
                if token == setup.end:
                    if rank < width:
                        finished.append((score, ids[beam].tolist() + [token]))
                    continue
                chosen.append((beam, token, score))
                if len(chosen) == width:
                    break
            best_done = max((s for s, _ in finished), default=float("-inf"))
            if not chosen or best_done >= chosen[0][2]:
                break
            index = torch.tensor([b for b, _, _ in chosen])
            tokens = torch.tensor([tok for _, tok, _ in chosen])
            scores = torch.tensor([s for _, _, s in chosen], dtype=torch.float64)
            ids = torch.cat([ids[index], tokens[:, None]], dim=1)
            state = model.select_state(state, index.to(setup.device))
            for c in setup.constraints:
                states[c.name] = c.advance(c.select_state(states[c.name], index), tokens)
            logits, state = model.step(tokens.to(setup.device), state)
            logits = logits.float()
        else:
            finished.extend((s, setup.close(row)) for s, row in zip(scores.tolist(),
                                                                      ids.tolist()))
    score, best = max(finished, key=lambda item: item[0])
    return Beam(best, score)


def log_prob(model: Any, vocab: Vocab, ids: Sequence[int], prompt_length: int = 1,
             processors: Sequence[LogitsProcessor] = (), grammar: Grammar = "auto") -> float:
    """Log-probability of ``ids`` after its first ``prompt_length`` tokens, under the
    same processed distribution the strategies draw from."""
    grammar = resolve_grammar(vocab, grammar)
    chain = ([grammar] if grammar is not None else []) + list(processors)
    cons = constraints(chain)
    device = next(model.parameters()).device
    tokens = torch.tensor([int(t) for t in ids], dtype=torch.long)[None]
    with torch.inference_mode():
        all_logits, _ = model.forward(tokens[:, :-1].to(device),
                                      model.init_state(1, device))
        states = {c.name: c.init_state(1) for c in cons}
        total = 0.0
        for t in range(tokens.shape[1] - 1):
            for c in cons:
                states[c.name] = c.advance(states[c.name], tokens[:, t])
            if t + 1 < prompt_length:
                continue
            context = Context(tokens[:, :t + 1], t + 1 - prompt_length, states)
            logp = apply(chain, all_logits[:, t].float(), context).log_softmax(-1)
            total += float(logp[0, tokens[0, t + 1]])
    return total


class Windowed:
    """A bounded-context model that generates past its context ``C``: the model's own
    cache while the sequence fits, then each token from the last ``C`` tokens before it,
    re-run. A model is only ever fed positions it was trained on. With ``cache=False``
    every step re-runs its window: the reference the cached path is checked against
    (the same tokens at the same seed) and what the cache saves is measured by."""

    def __init__(self, model: Any, cache: bool = True):
        self.model, self.window, self.max_context = model, model.max_context, None
        self.cache = cache

    def parameters(self) -> Any:
        return self.model.parameters()

    def init_state(self, batch_size: int, device: Any = None) -> tuple[Any, Tensor]:
        """(the model's cache, or None once past the window or without one; every token
        so far)."""
        cache = self.model.init_state(batch_size, device) if self.cache else None
        return cache, torch.zeros(batch_size, 0, dtype=torch.long, device=device)

    def forward(self, tokens: Tensor, state: tuple[Any, Tensor]) -> tuple[Tensor, Any]:
        cache, seen = state
        seen = torch.cat([seen, tokens], dim=1)
        if cache is not None and seen.shape[1] <= self.window:
            logits, cache = self.model.forward(tokens, cache)
            return logits, (cache, seen)
        return self._recompute(seen, tokens.shape[1])

    def _recompute(self, seen: Tensor, new: int) -> tuple[Tensor, Any]:
        """Logits of the last ``new`` tokens of ``seen``, through the strided windows
        that cover them; the state keeps the ``C - 1`` tokens the next step needs."""
        parts = []
        for begin, done, end in windows(seen.shape[1], self.window):
            if end > seen.shape[1] - new:
                logits, _ = self.model.forward(seen[:, begin:end])
                parts.append(logits[:, done - begin:])
        logits = torch.cat(parts, dim=1)[:, -new:]
        return logits, (None, seen[:, -(self.window - 1):])

    def step(self, tokens: Tensor, state: tuple[Any, Tensor]) -> tuple[Tensor, Any]:
        cache, seen = state
        if cache is not None and seen.shape[1] < self.window:
            logits, cache = self.model.step(tokens, cache)
            return logits, (cache, torch.cat([seen, tokens[:, None]], dim=1))
        logits, state = self._recompute(torch.cat([seen, tokens[:, None]], dim=1), 1)
        return logits[:, 0], state

    def select_state(self, state: tuple[Any, Tensor], index: Tensor) -> tuple[Any, Tensor]:
        cache, seen = state
        return (None if cache is None else self.model.select_state(cache, index),
                seen.index_select(0, index))


class Recompute:
    """A model seen through its contract but with no cache: every step re-runs the
    whole prefix. Only for checking caches and measuring what they save."""

    def __init__(self, model: Any):
        self.model, self.max_context = model, model.max_context

    def parameters(self) -> Any:
        return self.model.parameters()

    def init_state(self, batch_size: int, device: Any = None) -> Tensor:
        return torch.zeros(batch_size, 0, dtype=torch.long, device=device)

    def forward(self, tokens: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        prefix = torch.cat([state, tokens], dim=1)
        logits, _ = self.model.forward(prefix)
        return logits[:, -tokens.shape[1]:], prefix

    def step(self, tokens: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        logits, prefix = self.forward(tokens[:, None], state)
        return logits[:, 0], prefix

    def select_state(self, state: Tensor, index: Tensor) -> Tensor:
        return state.index_select(0, index)
