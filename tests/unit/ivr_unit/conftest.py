"""Shared fixtures for the IVR unit tests: the shipped menu, prompts and hours, and a clock."""

from __future__ import annotations

import pytest

from ivr.hours import ServiceHours, load_service_hours
from ivr.menu.loader import Menu, load_menu
from ivr.prompts.manifest import PromptManifest, load_manifest


@pytest.fixture(scope="session")
def manifest() -> PromptManifest:
    return load_manifest()


@pytest.fixture(scope="session")
def hours() -> ServiceHours:
    return load_service_hours()


@pytest.fixture(scope="session")
def menu(manifest: PromptManifest, hours: ServiceHours) -> Menu:
    return load_menu(None, manifest, hours)
