"""Alembic migration scripts for every Dasan table (run by ``dasan.storage.Storage.open``)."""
