"""Kaiten Analytics console in a checkout (``streamlit run streamlit_app.py``): the same
navigation that ``kaiten console`` runs from the installed package."""

from kaiten_console.navigation import run

run()
