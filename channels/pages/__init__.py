"""The citizen's chat page (static files served at /chat)."""
