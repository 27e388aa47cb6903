"""``cadenza serve``: the studio page and the blind listening test.

FastAPI with Jinja templates and a vendored HTMX (no CDN: the page works offline);
audio rendered with FluidSynth and scores engraved with verovio on the server;
listening-test data in a SQLAlchemy database (SQLite by default, PostgreSQL by URL)
whose schema Alembic migrates.
"""
