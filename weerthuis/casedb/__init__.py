"""The case database: the source of truth for every case (SQLite by default, PostgreSQL by URL)."""
