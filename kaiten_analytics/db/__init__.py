"""The data layer: tables, engine set-up, dialect quirks, migrations runner."""
