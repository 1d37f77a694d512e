"""Menus as data: the typed menu model, its validation, loading, and the pure stepper."""
