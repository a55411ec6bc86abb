"""The case store: SQLAlchemy models, engine and session helpers, repositories, Alembic migrations.

The bottom layer: it imports nothing from the rest of supportline.
"""
