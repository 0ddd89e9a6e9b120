"""Alembic environment: metadata from the models, the connection handed in by the caller."""

from alembic import context

from kaiten_analytics.db.models import metadata

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the `alembic` command line: URL from the settings
    from kaiten_analytics.config import database_url
    from kaiten_analytics.db.engine import create_engine as kaiten_engine

    engine = kaiten_engine(config.get_main_option("sqlalchemy.url") or database_url())
    with engine.begin() as conn:
        _run(conn)
