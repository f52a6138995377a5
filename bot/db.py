"""Database engine and migrations. SQLite (WAL) by default, PostgreSQL via DATABASE_URL."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x7472_6F6C_79  # PostgreSQL advisory lock key: "troly"


def insert_ignore(session_or_conn, table, values: dict, keys: list[str], returning: bool = False):
    """Runs INSERT ... ON CONFLICT (keys) DO NOTHING on PostgreSQL and SQLite: creating a row
    two workers may create at the same instant, without an error and without a duplicate.
    returning=True: True when this call inserted the row (rowcount is not reliable here)."""
    dialect = getattr(session_or_conn, "dialect", None) or session_or_conn.get_bind().dialect
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    if returning:
        return session_or_conn.execute(stmt.returning(*[table.c[k] for k in keys])).first() is not None
    return session_or_conn.execute(stmt)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            # WAL lets the web server read while a worker writes; NORMAL sync is safe under WAL.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


SCHEDULER_TABLE = "apscheduler_jobs"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to every head: each feature keeps its own migration branch."""
    import bot.all_models  # noqa: F401  (registers every table on the metadata)

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Several workers starting at once on an empty database: one migrates, the others
            # wait here, then find nothing left to do. The lock ends with this transaction.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
        # APScheduler creates its job table itself when the scheduler starts; workers starting
        # together would race on that CREATE TABLE (PostgreSQL: duplicate pg_type row). Made here,
        # under the same lock, it already exists by then.
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        SQLAlchemyJobStore(engine=engine, tablename=SCHEDULER_TABLE).jobs_t.create(conn, checkfirst=True)


class Database:
    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)

    def migrate(self) -> None:
        migrate(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
