"""Hyperparameter search with Optuna: every trial is a normal cadenza run.

``space`` reads a search space (TOML), ``storage`` opens where a study lives (a
journal file several local workers share, or an RDB URL), ``study`` runs the trials
and writes the study's results.
"""

from cadenza.search.space import Space, load_space
from cadenza.search.study import SearchSettings, run_search

__all__ = ["SearchSettings", "Space", "load_space", "run_search"]
