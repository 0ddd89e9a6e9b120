"""Shape small SQL results into DataFrames with the documented dtypes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd


def frame(rows: Iterable[Sequence], columns: Sequence[str], *, times: Sequence[str] = ()
          ) -> pd.DataFrame:
    """Return a DataFrame of ``rows`` with ``columns``; ``times`` become aware UTC timestamps."""
    df = pd.DataFrame([tuple(row) for row in rows], columns=list(columns))
    for column in times:
        df[column] = pd.to_datetime(df[column], utc=True)
    return df
