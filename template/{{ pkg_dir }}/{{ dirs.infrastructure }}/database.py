"""SQLAlchemy engine and schema migrations (Alembic) for the users table."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import DeclarativeBase

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class Base(DeclarativeBase):
    pass


def make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite"):
        # Threads share the pool; wait for a writer rather than fail at once.
        return create_engine(database_url, connect_args={"check_same_thread": False, "timeout": 30})
    return create_engine(database_url, pool_pre_ping=True)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def migrate(database_url: str, revision: str = "head") -> None:
    """Create or upgrade the user tables."""
    command.upgrade(alembic_config(database_url), revision)
