"""Read queries returning documented pandas DataFrames; aggregation happens in SQL."""
