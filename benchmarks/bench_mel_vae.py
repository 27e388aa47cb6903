"""The mel-spectrogram VAE table of issue 15 (BENCHMARKS.md §6): for each run, on
held-out segments of the dataset it was trained on, the log-mel L1 (dB) of
reconstructions beside the mean-spectrogram predictor's, active units, KL, the z-shuffle
rise in L1, and the multi-resolution STFT distance of Griffin-Lim audio from the
reconstruction beside the Griffin-Lim ceiling (Griffin-Lim on the true mel).

    python benchmarks/bench_mel_vae.py runs/mel-vae runs/mel-vae-tutorial \
        [--data data/mel-jsb] [--clips 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from cadenza.data.dataset import PreparedDataset
from cadenza.evaluate.vae import griffin_lim_measures, mel_measures
from cadenza.train.checkpoint import load_run
from table import print_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, default=None, help="default: each run's own")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=1024, help="held-out segments at most")
    parser.add_argument("--clips", type=int, default=8, help="clips for the MR-STFT distance")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for path in args.runs:
        run = load_run(path)
        dataset = PreparedDataset(args.data or run.config.data)
        run.codec.check_same(dataset.codec.config(), f"{path} with {dataset.folder}")
        found = mel_measures(run.model, dataset, args.split, args.limit)
        found.update(griffin_lim_measures(run.model, dataset, args.split, args.clips))
        found["l1_ratio_to_mean_predictor"] = found["l1_db"] / found["mean_predictor_l1_db"]
        results[str(path)] = found
    header = ["measure", "target", *(Path(p).name for p in results)]
    rows = [["log-mel L1 (dB)", "<= mean / 3", *(f"{r['l1_db']:.3f}" for r in results.values())],
            ["mean-spectrogram predictor L1 (dB)", "",
             *(f"{r['mean_predictor_l1_db']:.3f}" for r in results.values())],
            ["L1 / mean predictor's", "<= 0.333",
             *(f"{r['l1_ratio_to_mean_predictor']:.3f}" for r in results.values())],
            ["active units", ">= 8", *(str(r["active_units"]) for r in results.values())],
            ["KL (nats / segment)", "", *(f"{r['kl_nats']:.1f}" for r in results.values())],
            ["L1 under z-shuffle (dB)", "",
             *(f"{r['l1_db_shuffled']:.3f}" for r in results.values())],
            ["MR-STFT, Griffin-Lim of the VAE", "beside ceiling",
             *(f"{r['mrstft_vae']:.3f}" for r in results.values())],
            ["MR-STFT, Griffin-Lim ceiling", "",
             *(f"{r['mrstft_griffin_lim_ceiling']:.3f}" for r in results.values())],
            ["held-out segments / clips", "",
             *(f"{r['segments']} / {r['clips']}" for r in results.values())]]
    print_grid(header, rows)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
