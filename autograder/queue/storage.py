"""How PostgreSQL keeps the task queue's tables fast at 50,000 submissions: psycopg2
sends an executemany in pages, and the notebook columns of new tables are compressed
with lz4. Other databases (SQLite in tests) keep their defaults."""

from __future__ import annotations

import sqlalchemy as sa

#: the columns of notebooks and results (tens of KB each, compressed when stored)
LZ4_COLUMNS = (("autograder_submissions", "notebook"), ("autograder_results", "result"),
               ("autograder_results", "graded_notebook"))


def engine_options(url: str) -> dict:
    """psycopg2 runs an executemany UPDATE (a batch's jobs queued again, or marked
    published) row by row, a round trip each, unless told to send them in pages."""
    if sa.engine.make_url(url).get_driver_name() == "psycopg2":
        return {"executemany_mode": "values_plus_batch"}
    return {}


def compress_with_lz4(conn: sa.Connection, created: set[str]) -> None:
    """Tables just created compress their notebooks with lz4 (PostgreSQL 14 and later,
    when built with it) rather than pglz, the default: half the database server's
    time per batch of 500 notebooks stored. Elsewhere they keep the default."""
    for table, column in LZ4_COLUMNS:
        if table in created:
            try:
                with conn.begin_nested():
                    conn.execute(sa.text(f"ALTER TABLE {table} ALTER COLUMN {column} "
                                         "SET COMPRESSION lz4"))
            except sa.exc.DBAPIError:
                return  # a server without lz4
