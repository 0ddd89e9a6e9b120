"""The Kaiten Analytics console: Streamlit pages and the glue they share.

Ships beside ``kaiten_analytics`` in the same distribution (``pip install
"kaiten-analytics[console]"``) so ``kaiten console`` runs from any directory. The entry
script is ``kaiten_console/app.py``; a checkout's top-level ``streamlit_app.py`` runs the same
navigation. The library never imports this package.
"""
