"""Prompt texts per language (the manifest) and the placeholder-audio builder."""
