"""baler-arrow from Python: read error-bounded compressed Parquet into pyarrow, awkward, polars.

    import baler_arrow
    report = baler_arrow.compress("jets.root", "jets.baler.parquet", error_bound="all=1e-3rel")
    table = baler_arrow.read("jets.baler.parquet", columns=["pt", "eta"])   # pyarrow.Table
    events = baler_arrow.read("nano.baler")   # a dataset folder: the per-event NanoAOD layout

    import datafusion
    ctx = datafusion.SessionContext()
    ctx.register_table("jets", baler_arrow.Table("jets.baler.parquet"))
    ctx.sql("SELECT avg(pt) FROM jets WHERE eta > 2").to_arrow_table()

`read` decodes in Rust and hands the batches over through the Arrow C stream interface, without
a copy; `stream` gives them one batch at a time (for files larger than memory). Errors raise
`BalerError` with the command line's message.
"""

from __future__ import annotations

import json
import os
from typing import Iterable, Optional, Sequence, Union

import pyarrow as pa

from ._native import BalerError
from . import _native

__all__ = ["BalerError", "Table", "read", "stream", "compress", "decompress", "inspect"]

PathLike = Union[str, "os.PathLike[str]"]


def stream(path: PathLike, columns: Optional[Sequence[str]] = None) -> pa.RecordBatchReader:
    """The decoded columns of a compressed (or plain) Parquet file, batch by batch.

    A block that fails to decode while iterating raises `pyarrow.ArrowException` with the
    decoder's message (`read` raises `BalerError`).

    `path` may also be a dataset folder (`compress(..., collection="all")`): its tables in the
    per-event layout (`nJet`, `Jet_pt: list<float>`, ...).
    """
    native = _native.stream(os.fspath(path), None if columns is None else list(columns))
    return pa.RecordBatchReader.from_stream(native)


def read(path: PathLike, columns: Optional[Sequence[str]] = None) -> pa.Table:
    """The decoded columns of `path` as one `pyarrow.Table` (see `stream`).

    `polars.from_arrow(table)` and `awkward.from_arrow(table)` take the result.
    """
    reader = stream(path, columns)
    try:
        return reader.read_all()
    except pa.ArrowException as e:
        # A block that fails to decode ends the stream with the decoder's message.
        raise BalerError(str(e).replace("External error: ", "")) from e


def _bounds(error_bound: Union[None, str, Iterable[str]]):
    if error_bound is None:
        return None
    if isinstance(error_bound, str):
        return [error_bound]
    return list(error_bound)


def compress(
    input: PathLike,
    output: PathLike,
    error_bound: Union[None, str, Iterable[str]] = None,
    method: Optional[str] = None,
    collection: Optional[str] = None,
    tree: Optional[str] = None,
    force: bool = False,
) -> dict:
    """Compresses a ROOT or Parquet file, as `baler-arrow compress` does; returns the report.

    `error_bound` is the command line's `--error-bound` (`"all=1e-3rel,eta=1e-4abs"`, `"none"`);
    by default every float is within 2^-11 relative and integers are exact. `collection="all"`
    writes a dataset folder of every collection of a NanoAOD tree.
    """
    return json.loads(
        _native.compress(
            os.fspath(input),
            os.fspath(output),
            _bounds(error_bound),
            method,
            collection,
            tree,
            force,
        )
    )


def decompress(input: PathLike, output: PathLike, layout: str = "tables", force: bool = False) -> dict:
    """Rebuilds a compressed file (or dataset folder) as lossless Parquet; returns a summary.

    For a dataset folder, `layout="events"` writes one file in the per-event NanoAOD layout.
    """
    return json.loads(_native.decompress(os.fspath(input), os.fspath(output), layout, force))


def inspect(path: PathLike) -> dict:
    """What a compressed file holds: rows, bytes, method, and its columns with their bounds."""
    return json.loads(_native.inspect(os.fspath(path)))


def _check_datafusion() -> None:
    """Refuses a datafusion-python whose major version differs from the one this build speaks.

    The table crosses into datafusion-python as FFI structs that are only defined to match
    within one DataFusion major version; a mismatch would be undefined behaviour, not an error.
    """
    try:
        import datafusion
    except ImportError as e:
        raise BalerError(
            f"baler_arrow.Table needs datafusion-python {_native.DATAFUSION_MAJOR}.x: "
            f"pip install 'datafusion=={_native.DATAFUSION_MAJOR}.*'"
        ) from e
    version = getattr(datafusion, "__version__", "")
    major = version.split(".")[0]
    if major != str(_native.DATAFUSION_MAJOR):
        raise BalerError(
            f"datafusion-python {version or '(unknown version)'} is installed, but baler_arrow "
            f"was built against DataFusion {_native.DATAFUSION_MAJOR}: tables cannot cross between "
            f"major versions; pip install 'datafusion=={_native.DATAFUSION_MAJOR}.*'"
        )


class Table:
    """A compressed file (or a folder compressed with one model) as a datafusion-python table.

        ctx = datafusion.SessionContext()
        ctx.register_table("jets", baler_arrow.Table("jets.baler.parquet"))
        ctx.sql("SELECT avg(pt) FROM jets WHERE eta > 2")

    Queries decode on the fly, in Rust, block by block over the session's partitions, and only
    the columns they read; filters cross into the table to skip blocks whose decoded statistics
    rule them out (DataFusion still applies them to the rows). Checks at construction that
    datafusion-python has the major version this build speaks.
    """

    def __init__(self, path: PathLike):
        _check_datafusion()
        self._native = _native.Table(os.fspath(path))

    def __datafusion_table_provider__(self, session):
        return self._native.__datafusion_table_provider__(session)

    @property
    def blocks_decoded(self) -> int:
        """Blocks whose model columns queries on this table have decoded so far."""
        return self._native.blocks_decoded

    def __repr__(self) -> str:
        return repr(self._native)
