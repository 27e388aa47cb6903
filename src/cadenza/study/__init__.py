"""The four-way comparison as a study: one TOML, many runs, one report (issue 17)."""
