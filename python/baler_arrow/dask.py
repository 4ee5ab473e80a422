"""Many compressed files as one Dask DataFrame, one partition per file.

    import baler_arrow.dask
    df = baler_arrow.dask.read(["a.baler.parquet", "b.baler.parquet"], columns=["pt", "eta"])
    df[df.eta > 2].pt.mean().compute()

Each partition is decoded by `baler_arrow.read` on the worker that computes it, so the files are
decoded where Dask schedules them: on the cores of one machine, or on a cluster's workers.
"""

from __future__ import annotations

import functools
import os
from typing import Iterable, Optional, Sequence

from . import read as _read
from . import stream as _stream


def _partition(path, columns=None):
    return _read(path, columns).to_pandas()


def read(paths: Iterable["os.PathLike[str] | str"], columns: Optional[Sequence[str]] = None):
    """A `dask.dataframe.DataFrame` over `paths`, one partition per file."""
    import dask.dataframe as dd

    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError("no files to read")
    columns = None if columns is None else list(columns)
    # The schema comes from the first file's footer; nothing is decoded until compute().
    meta = _stream(paths[0], columns).schema.empty_table().to_pandas()
    return dd.from_map(functools.partial(_partition, columns=columns), paths, meta=meta)
