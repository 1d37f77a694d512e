"""Alembic migration scripts for every Dasan table (run by ``common.storage.Storage.open``)."""
