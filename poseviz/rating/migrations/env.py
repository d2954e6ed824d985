"""Alembic environment for rating studies; run through `poseviz.rating.store.migrate`."""

from alembic import context
from sqlalchemy import create_engine

from poseviz.rating.schema import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # `alembic` command line: the URL comes from the config
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
