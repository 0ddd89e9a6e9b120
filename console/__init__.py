"""Streamlit glue shared by the console's pages (cached connection, sidebar, time zone)."""
