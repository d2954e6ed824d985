"""Opening a study database: SQLite by default (WAL mode), PostgreSQL by URL.

The schema is created and upgraded by Alembic migrations shipped in
``poseviz/rating/migrations``, so a study file written by an older poseviz is upgraded in
place rather than recreated.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Store", "database_url", "migrate"]


def database_url(db: str | Path) -> str:
    """A SQLAlchemy URL for ``db``: a URL as is, a file path as ``sqlite:///path``."""
    text = str(db)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("poseviz.rating") / "migrations"))
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` (default: the newest)."""
    cfg = _alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


class Store:
    """A study database. ``Store(url_or_path)`` opens (and migrates) it.

    SQLite connections use WAL journaling (readers never block the writer), a busy timeout
    so concurrent writers wait instead of failing, and enforced foreign keys. Every
    ``with store.session() as s:`` block commits on success and rolls back on error.
    """

    def __init__(self, db: str | Path, *, create: bool = True, echo: bool = False) -> None:
        self.url = database_url(db)
        if self.url.startswith("sqlite") and not create:
            path = Path(self.url.removeprefix("sqlite:///"))
            if not path.exists():
                raise FileNotFoundError(f"study database {path} does not exist")
        kwargs = (
            {"connect_args": {"timeout": 30}}
            if self.url.startswith("sqlite")
            else {"pool_size": 10, "max_overflow": 20}
        )
        self.engine = create_engine(self.url, echo=echo, pool_pre_ping=True, **kwargs)
        if self.url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        migrate(self.engine)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._factory() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # an acknowledged rating survives a crash
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
