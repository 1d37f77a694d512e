"""The consultants' knowledge base: cases, their review and history, search, after-call work."""
