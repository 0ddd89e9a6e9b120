"""Kaiten Analytics console, as installed: ``kaiten console`` runs this script."""

from kaiten_console.navigation import run

run()
