"""What ``cadenza serve`` is configured with."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ServerConfig:
    data_dir: Path  # the database (by default), clips, studio results, the secret
    db_url: str | None = None  # default: SQLite in data_dir
    admin_token: str = ""
    test_mode: str = "pairs"  # pairs | single | mixed (each session drawn at random)
    runs: list[Path] = field(default_factory=list)  # extra local run folders
    max_upload_bytes: int = 1_000_000
    parse_seconds: float = 10.0  # an upload's parse: wall-clock bound
    parse_memory_bytes: int = 1_500_000_000  # and address-space bound
    generate_per_minute: int = 12  # per client, studio jobs
    build_pool: bool = True  # fill an empty stimulus pool in the background
    pool_sizes: tuple[int, int, int] = (16, 16, 4)  # human, machine, catch

    @property
    def database(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'cadenza.db'}"

    @property
    def media(self) -> Path:
        return self.data_dir / "clips"

    @property
    def results(self) -> Path:
        return self.data_dir / "studio"
