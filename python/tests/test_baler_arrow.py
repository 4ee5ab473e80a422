"""The Python package against the tool's own output, on the bundled CMS files and generated jets."""

from __future__ import annotations

import json
import pathlib
import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import baler_arrow
import baler_arrow.dask
from baler_arrow import BalerError

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
# The command line, built by `cargo test --workspace` (README's test command runs it first).
CLI = ROOT / "target" / "debug" / "baler-arrow"
TTBAR = DATA / "cms_nanoaod_2015_ttbar.root"
DY = DATA / "cms_nanoaod_small_dy.root"
BOUND = 2.0**-11  # the default guarantee


def generated_jets(path: pathlib.Path, events: int, seed: int) -> pathlib.Path:
    """A small jet table: pt-ordered jets per event, correlated columns, an integer column."""
    rng = np.random.default_rng(seed)
    n = rng.integers(1, 6, size=events)
    event = np.repeat(np.arange(events, dtype=np.uint64), n)
    pt = np.sort(rng.exponential(40.0, size=len(event)).astype(np.float32) + 15)[::-1]
    eta = rng.normal(0, 1.5, size=len(event)).astype(np.float32)
    mass = (pt * rng.uniform(0.05, 0.2, size=len(event))).astype(np.float32)
    ntracks = rng.poisson(12, size=len(event)).astype(np.int32)
    pq.write_table(
        pa.table({"event": event, "pt": pt, "eta": eta, "mass": mass, "nTracks": ntracks}),
        path,
    )
    return path


def assert_within(original: pa.Table, decoded: pa.Table, rel: float):
    assert decoded.schema == original.schema
    for name in original.column_names:
        x = original[name].to_numpy()
        y = decoded[name].to_numpy()
        if x.dtype.kind == "f":
            assert np.all(np.abs(x.astype(np.float64) - y) <= rel * np.abs(x.astype(np.float64))), name
        else:
            assert np.array_equal(x, y), name


@pytest.mark.parametrize("source", ["ttbar", "generated"])
def test_read_equals_decompress_value_for_value(tmp_path, source):
    original = TTBAR if source == "ttbar" else generated_jets(tmp_path / "jets.parquet", 3000, 1)
    compressed = tmp_path / "c.baler.parquet"
    report = baler_arrow.compress(original, compressed)
    assert report["rows"] > 500
    assert compressed.stat().st_size < report["sizes"]["lossless_bytes"]

    table = baler_arrow.read(compressed)
    baler_arrow.decompress(compressed, tmp_path / "d.parquet")
    assert table.equals(pq.read_table(tmp_path / "d.parquet"))

    subset = baler_arrow.read(compressed, columns=["pt", "eta"])
    assert subset.column_names == ["pt", "eta"]
    assert subset.equals(table.select(["pt", "eta"]))

    # Batch by batch, the same rows.
    batches = list(baler_arrow.stream(compressed))
    assert sum(b.num_rows for b in batches) == table.num_rows

    if source == "generated":
        assert_within(pq.read_table(original), table, BOUND)


def test_polars_and_awkward_take_the_result(tmp_path):
    compressed = tmp_path / "c.baler.parquet"
    baler_arrow.compress(TTBAR, compressed)
    table = baler_arrow.read(compressed, columns=["event", "pt"])
    pl = pytest.importorskip("polars")
    frame = pl.from_arrow(table)
    assert frame.height == table.num_rows
    assert frame["pt"].to_list() == table["pt"].to_pylist()
    ak = pytest.importorskip("awkward")
    array = ak.from_arrow(table)
    assert len(array) == table.num_rows
    assert ak.to_list(array.pt) == table["pt"].to_pylist()


def test_a_dataset_folder_reads_in_the_per_event_layout_as_uproot_reads_the_file(tmp_path):
    uproot = pytest.importorskip("uproot")
    ak = pytest.importorskip("awkward")
    folder = tmp_path / "dy.baler"
    summary = baler_arrow.compress(DY, folder, collection="all")
    assert {t["table"] for t in summary["tables"]} >= {"events"}
    events = ak.from_arrow(baler_arrow.read(folder))
    tree = uproot.open(DY)["tree"]
    assert len(events) == tree.num_entries
    for name in events.fields:
        original = tree[name].array()
        decoded = events[name]
        if original.ndim > 1:
            assert ak.all(ak.num(original) == ak.num(decoded)), name
            original, decoded = ak.flatten(original), ak.flatten(decoded)
        x, y = ak.to_numpy(original), ak.to_numpy(decoded)
        if x.dtype.kind == "f":
            assert np.all(np.abs(x.astype(np.float64) - y) <= BOUND * np.abs(x.astype(np.float64))), name
        else:
            assert np.array_equal(x, y), name


def test_coffea_opens_the_per_event_layout_as_nanoevents(tmp_path):
    # coffea's NanoEvents reads the decompressed per-event layout of the ttbar NanoAOD file as
    # it reads NanoAOD: collections come back as records (with their four-vectors), within the
    # bound of uproot's arrays.
    coffea = pytest.importorskip("coffea.nanoevents")
    uproot = pytest.importorskip("uproot")
    ak = pytest.importorskip("awkward")
    folder = tmp_path / "ttbar.baler"
    # `residual` keeps the test short; the format and the guarantee are the same.
    baler_arrow.compress(TTBAR, folder, collection="all", method="residual")
    layout = tmp_path / "ttbar.events.parquet"
    baler_arrow.decompress(folder, layout, layout="events")
    with pytest.warns(RuntimeWarning):  # the file has no SubJet collection: coffea says so
        events = coffea.NanoEventsFactory.from_parquet(
            str(layout), schemaclass=coffea.NanoAODSchema, mode="eager"
        ).events()
    tree = uproot.open(TTBAR)["Events"]
    assert len(events) == tree.num_entries
    checked = 0
    for collection in ["Jet", "Muon", "Electron", "GenPart"]:
        for field in ["pt", "eta", "phi", "mass", "charge", "pdgId", "jetId"]:
            name = f"{collection}_{field}"
            if name not in tree:
                continue
            original = tree[name].array()
            decoded = events[collection][field]
            assert ak.all(ak.num(original) == ak.num(decoded)), name
            x, y = ak.to_numpy(ak.flatten(original)), ak.to_numpy(ak.flatten(decoded))
            if x.dtype.kind == "f":
                assert np.all(np.abs(x.astype(np.float64) - y) <= BOUND * np.abs(x.astype(np.float64))), name
            else:
                assert np.array_equal(x, y), name
            checked += 1
    assert checked >= 14
    # The four-vector behaviour works on the decoded values.
    dijet = events.Jet[ak.num(events.Jet) >= 2]
    mass = (dijet[:, 0] + dijet[:, 1]).mass
    assert len(mass) > 0 and ak.all(mass > 0)


def test_dask_over_three_files_equals_their_concatenation(tmp_path):
    pytest.importorskip("dask.dataframe")
    paths = []
    for seed in range(3):
        jets = generated_jets(tmp_path / f"jets{seed}.parquet", 500 + 100 * seed, seed)
        out = tmp_path / f"jets{seed}.baler.parquet"
        baler_arrow.compress(jets, out, error_bound="all=1e-3rel")
        paths.append(out)
    frame = baler_arrow.dask.read(paths, columns=["event", "pt", "nTracks"])
    assert frame.npartitions == 3
    expected = pa.concat_tables([baler_arrow.read(p, ["event", "pt", "nTracks"]) for p in paths])
    result = frame.compute().reset_index(drop=True)
    assert result.equals(expected.to_pandas())
    assert float(frame.pt.sum().compute()) == pytest.approx(float(np.sum(expected["pt"].to_numpy(), dtype=np.float64)))


def test_inspect_says_what_a_file_holds(tmp_path):
    compressed = tmp_path / "c.baler.parquet"
    baler_arrow.compress(TTBAR, compressed, error_bound="all=1e-3rel", method="residual")
    info = baler_arrow.inspect(compressed)
    assert info["method"] == "residual"
    assert info["rows"] == 537
    assert info["bytes"] == compressed.stat().st_size
    names = [c["name"] for c in info["header"]["columns"]]
    assert "pt" in names and "event" in names


def test_bad_input_raises_a_clear_exception(tmp_path):
    with pytest.raises(BalerError, match="cannot open"):
        baler_arrow.read(tmp_path / "missing.parquet")
    with pytest.raises(BalerError, match="not a ROOT or Parquet file|magic"):
        baler_arrow.compress(DATA / "not_root.root", tmp_path / "x.parquet")
    with pytest.raises(BalerError, match="is not `column=bound`"):
        baler_arrow.compress(TTBAR, tmp_path / "x.parquet", error_bound="pt")
    with pytest.raises(BalerError, match="unknown method"):
        baler_arrow.compress(TTBAR, tmp_path / "x.parquet", method="zip")
    assert not (tmp_path / "x.parquet").exists()

    compressed = tmp_path / "c.baler.parquet"
    baler_arrow.compress(TTBAR, compressed)
    with pytest.raises(BalerError, match="already exists"):
        baler_arrow.compress(TTBAR, compressed)
    with pytest.raises(BalerError, match="column `nope`"):
        baler_arrow.read(compressed, columns=["nope"])
    with pytest.raises(BalerError, match="needs a dataset folder"):
        baler_arrow.decompress(compressed, tmp_path / "e.parquet", layout="events")

    # A flipped bit in a block: the decoder's checksum names it, the interpreter lives on.
    data = bytearray(compressed.read_bytes())
    data[len(data) // 3] ^= 0x10
    damaged = tmp_path / "damaged.baler.parquet"
    damaged.write_bytes(bytes(data))
    with pytest.raises(BalerError):
        baler_arrow.read(damaged)


def cli_sql(query: str, table: str, path: pathlib.Path) -> list:
    assert CLI.exists(), f"{CLI} is built by `cargo test --workspace`, which README's test command runs first"
    out = subprocess.run(
        [str(CLI), "sql", query, "--table", f"{table}={path}", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def test_datafusion_python_queries_a_compressed_file_as_baler_arrow_sql_does(tmp_path):
    datafusion = pytest.importorskip("datafusion")
    compressed = tmp_path / "jets.baler.parquet"
    baler_arrow.compress(generated_jets(tmp_path / "jets.parquet", 4000, 7), compressed, error_bound="all=1e-3rel")
    decoded = baler_arrow.read(compressed)

    ctx = datafusion.SessionContext()
    ctx.register_table("jets", baler_arrow.Table(compressed))

    # A filtered aggregate: the same numbers as the command line and as the decoded table.
    query = "SELECT count(*) AS n, avg(pt) AS mean_pt, max(eta) AS max_eta FROM jets WHERE eta > 1"
    got = ctx.sql(query).to_arrow_table().to_pylist()[0]
    want = cli_sql(query, "jets", compressed)[0]
    eta = decoded["eta"].to_numpy()
    pt = decoded["pt"].to_numpy()
    assert got["n"] == want["n"] == int(np.sum(eta > 1))
    assert np.float32(got["max_eta"]) == np.float32(want["max_eta"]) == eta[eta > 1].max()
    # Partial sums meet in whatever order the partitions finish: equal to rounding.
    assert got["mean_pt"] == pytest.approx(want["mean_pt"], rel=1e-12)
    assert got["mean_pt"] == pytest.approx(float(np.mean(pt[eta > 1], dtype=np.float64)), rel=1e-12)

    # Rows, ordered: value for value.
    query = "SELECT event, pt, \"nTracks\" FROM jets WHERE pt > 60 ORDER BY event, pt"
    got = ctx.sql(query).to_arrow_table()
    want = cli_sql(query, "jets", compressed)
    assert got.num_rows == len(want) > 100
    assert got["event"].to_pylist() == [r["event"] for r in want]
    assert got["nTracks"].to_pylist() == [r["nTracks"] for r in want]
    assert np.array_equal(got["pt"].to_numpy(), np.array([r["pt"] for r in want], dtype=np.float32))


def test_a_table_refuses_what_it_cannot_serve(tmp_path, monkeypatch):
    datafusion = pytest.importorskip("datafusion")
    plain = generated_jets(tmp_path / "jets.parquet", 100, 3)
    with pytest.raises(BalerError, match="cannot be a baler_arrow.Table"):
        baler_arrow.Table(plain)
    compressed = tmp_path / "jets.baler.parquet"
    baler_arrow.compress(plain, compressed)
    # Another major version of datafusion-python would be undefined behaviour across the FFI.
    monkeypatch.setattr(datafusion, "__version__", "54.0.0")
    with pytest.raises(BalerError, match="built against DataFusion 55"):
        baler_arrow.Table(compressed)


def test_a_cfd_field_compresses_reads_and_decompresses_with_numpy_shape_and_type(tmp_path):
    original = np.load(DATA / "cfd_animation.npz")["data"]
    eps = 1e-3 * float(np.ptp(original))
    compressed = tmp_path / "cfd.baler.parquet"
    report = baler_arrow.compress(DATA / "cfd_animation.npz", compressed, error_bound=f"all={eps!r}abs")
    assert report["shape"] == [60, 50, 50] and report["dtype"] == "float64"
    assert compressed.stat().st_size * 10 < original.nbytes

    # Decompressed by the package, loaded by numpy: the shape, the type, every value within the
    # bound (docs/format.md: eps plus half an ulp of the value).
    restored = tmp_path / "cfd.npz"
    baler_arrow.decompress(compressed, restored)
    with np.load(restored) as z:
        decoded = z["data"]
    assert decoded.shape == original.shape and decoded.dtype == original.dtype
    half_ulp = (np.nextafter(np.abs(original), np.inf) - np.abs(original)) / 2
    assert np.all(np.abs(decoded - original) <= eps + half_ulp)

    # Read as a table: one row per value in scan order, with its indices.
    table = baler_arrow.read(compressed)
    assert table.column_names == ["frame", "y", "x", "data"]
    assert np.array_equal(table["data"].to_numpy(), decoded.ravel())
    t, y, x = np.unravel_index(np.arange(decoded.size), decoded.shape)
    assert np.array_equal(table["frame"].to_numpy(), t) and np.array_equal(table["x"].to_numpy(), x)
    assert baler_arrow.read(compressed, columns=["data"]).column_names == ["data"]
    assert baler_arrow.inspect(compressed)["header"]["shape"] == [60, 50, 50]

    with pytest.raises(BalerError, match="not shape"):
        np.save(tmp_path / "line.npy", np.zeros(10))
        baler_arrow.compress(tmp_path / "line.npy", tmp_path / "line.baler.parquet")


def test_filters_cross_into_the_table_and_skip_blocks_their_statistics_rule_out(tmp_path):
    datafusion = pytest.importorskip("datafusion")
    compressed = tmp_path / "jets.baler.parquet"
    baler_arrow.compress(generated_jets(tmp_path / "jets.parquet", 60_000, 11), compressed, error_bound="all=1e-3rel")
    blocks = pq.ParquetFile(compressed).metadata.num_row_groups
    assert blocks >= 2
    table = baler_arrow.Table(compressed)
    ctx = datafusion.SessionContext()
    ctx.register_table("jets", table)
    query = "SELECT count(*) AS n, sum(pt) AS s FROM jets WHERE event < 100"
    got = ctx.sql(query).to_arrow_table().to_pylist()[0]
    want = cli_sql(query, "jets", compressed)[0]
    assert got["n"] == want["n"] > 0
    assert got["s"] == pytest.approx(want["s"], rel=1e-12)
    assert table.blocks_decoded == 1, "events below 100 sit in the first block only"
    ctx.sql("SELECT sum(pt) FROM jets").to_arrow_table()
    assert table.blocks_decoded == 1 + blocks
