"""Tests of datasets.fetch: install from a zip, a folder or a loopback HTTP server (no internet)."""
from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from datasets import fetch
from datasets.fetch import DatasetError, install

REPO = Path(__file__).resolve().parents[1]
# CI clones the repo into a fresh folder with a copy of shared/ beside it.
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
ZIP = SHARED / "ml-latest-small.zip"
FOLDER = SHARED / "ml-latest-small"
NAME = "ml-latest-small"

needs_zip = pytest.mark.skipif(not ZIP.is_file(), reason=f"reference archive {ZIP} is absent")
needs_folder = pytest.mark.skipif(not FOLDER.is_dir(),
                                  reason=f"reference folder {FOLDER} is absent")


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """Every test installs into its own folder and ignores the caller's source/URL settings."""
    target = tmp_path / "data"
    monkeypatch.setenv("COURSE_DATA_DIR", str(target))
    monkeypatch.delenv("DATA_SOURCE", raising=False)
    monkeypatch.delenv("MOVIELENS_BASE_URL", raising=False)
    return target


def leftovers(data_dir: Path) -> list[str]:
    return sorted(p.name for p in data_dir.iterdir()) if data_dir.exists() else []


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in folder.iterdir()}


def writable_copy(tmp_path: Path) -> Path:
    """A copy of the reference folder we may damage (copyfile: not its read-only modes)."""
    dest = tmp_path / "src" / NAME
    dest.mkdir(parents=True)
    for f in FOLDER.iterdir():
        shutil.copyfile(f, dest / f.name)
    return dest


@needs_zip
def test_install_from_zip(data_dir):
    folder = install(NAME, source=str(ZIP), quiet=True)  # data_dir from COURSE_DATA_DIR
    assert folder == data_dir / NAME
    manifest = json.loads((folder / ".manifest.json").read_text())
    assert manifest["dataset"] == NAME and manifest["source"] == str(ZIP.resolve())
    assert manifest["files"] == fetch.DATASETS[NAME]["files"]
    assert leftovers(data_dir) == [NAME]
    assert fetch.verify(NAME) == folder


@needs_folder
def test_install_from_folder_then_idempotent(data_dir, capsys):
    folder = install(NAME, source=str(FOLDER), data_dir=data_dir, quiet=True)
    before = snapshot(folder)
    assert set(before) == set(fetch.DATASETS[NAME]["files"]) | {".manifest.json"}
    assert install(NAME, source=str(FOLDER), data_dir=data_dir) == folder
    assert "already installed and verified" in capsys.readouterr().out
    assert snapshot(folder) == before and leftovers(data_dir) == [NAME]


@needs_folder
def test_data_source_env(data_dir, monkeypatch):
    monkeypatch.setenv("DATA_SOURCE", str(FOLDER))
    assert install(NAME, quiet=True) == data_dir / NAME


@needs_folder
def test_zip_with_files_at_root(tmp_path, data_dir):
    flat = tmp_path / "flat.zip"
    with zipfile.ZipFile(flat, "w") as zf:
        for f in FOLDER.iterdir():
            zf.write(f, f.name)
    assert (install(NAME, source=str(flat), quiet=True) / "ratings.csv").is_file()


@needs_folder
def test_corrupt_file_installs_nothing(tmp_path, data_dir):
    src = writable_copy(tmp_path)
    data = bytearray((src / "ratings.csv").read_bytes())
    data[1000] ^= 0x01
    (src / "ratings.csv").write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"ratings\.csv from .* SHA-256 .* published sum is aa28"):
        install(NAME, source=str(src), quiet=True)
    assert leftovers(data_dir) == []  # no final folder, no staging, no .part


@needs_folder
def test_missing_file_is_named(tmp_path, data_dir):
    src = writable_copy(tmp_path)
    (src / "tags.csv").unlink()
    with pytest.raises(DatasetError, match="tags.csv") as err:
        install(NAME, source=str(src), quiet=True)
    assert str(src.resolve()) in str(err.value)
    assert leftovers(data_dir) == []


@needs_zip
def test_truncated_zip(tmp_path, data_dir):
    half = tmp_path / "half.zip"
    half.write_bytes(ZIP.read_bytes()[: ZIP.stat().st_size // 2])
    with pytest.raises(DatasetError, match="not a complete zip archive"):
        install(NAME, source=str(half), quiet=True)
    assert leftovers(data_dir) == []


@needs_zip
def test_crc_error_in_zip(tmp_path, data_dir):
    """A flipped byte inside a member's compressed data (central directory intact)."""
    bad = tmp_path / "bad.zip"
    data = bytearray(ZIP.read_bytes())
    with zipfile.ZipFile(ZIP) as zf:
        info = zf.getinfo(f"{NAME}/ratings.csv")
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + 5000] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="not a complete zip archive"):
        install(NAME, source=str(bad), quiet=True)
    assert leftovers(data_dir) == []


def test_missing_source(tmp_path, data_dir):
    with pytest.raises(DatasetError, match="does not exist"):
        install(NAME, source=str(tmp_path / "nope.zip"), quiet=True)
    assert leftovers(data_dir) == []


@needs_folder
def test_failing_reinstall_keeps_previous_install(tmp_path, data_dir):
    folder = install(NAME, source=str(FOLDER), quiet=True)
    before = snapshot(folder)
    src = writable_copy(tmp_path)
    (src / "movies.csv").write_text("movieId,title,genres\n")
    with pytest.raises(DatasetError, match="movies.csv"):
        install(NAME, source=str(src), quiet=True, force=True)
    assert snapshot(folder) == before and leftovers(data_dir) == [NAME]
    fetch.verify(NAME)


@needs_folder
def test_failed_swap_restores_previous_install(monkeypatch, data_dir):
    folder = install(NAME, source=str(FOLDER), quiet=True)
    before = snapshot(folder)
    real_replace = os.replace

    def failing_replace(src, dst):
        if Path(src).name.startswith(".staging-"):
            raise OSError("simulated failure renaming the new copy into place")
        real_replace(src, dst)
    monkeypatch.setattr(fetch.os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated"):
        install(NAME, source=str(FOLDER), quiet=True, force=True)
    assert snapshot(folder) == before and leftovers(data_dir) == [NAME]


@needs_folder
def test_damaged_install_is_replaced(data_dir, capsys):
    folder = install(NAME, source=str(FOLDER), quiet=True)
    (folder / "links.csv").write_text("tampered\n")
    with pytest.raises(DatasetError, match="links.csv has changed"):
        fetch.verify(NAME)
    install(NAME, source=str(FOLDER))
    assert "fails verification" in capsys.readouterr().out
    fetch.verify(NAME)
    assert leftovers(data_dir) == [NAME]


@needs_folder
def test_interrupt_leaves_nothing(monkeypatch, data_dir):
    def interrupted(path):
        raise KeyboardInterrupt
    monkeypatch.setattr(fetch, "_sha256", interrupted)
    with pytest.raises(KeyboardInterrupt):
        install(NAME, source=str(FOLDER), quiet=True)
    assert leftovers(data_dir) == []


@pytest.fixture
def http_base(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/www; yields (base_url, folder)."""
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", www
    server.shutdown()
    server.server_close()


@needs_zip
def test_download_from_local_server(http_base, monkeypatch, data_dir):
    base, www = http_base
    shutil.copyfile(ZIP, www / ZIP.name)
    monkeypatch.setenv("MOVIELENS_BASE_URL", base + "/")
    folder = install(NAME, quiet=True)
    manifest = json.loads((folder / ".manifest.json").read_text())
    assert manifest["source"] == f"{base}/{NAME}.zip"
    assert leftovers(data_dir) == [NAME]


def fake_ml32m(www: Path, md5: str | None = None) -> None:
    """A tiny stand-in for ml-32m.zip plus its .md5 file (right sum unless one is given)."""
    archive = www / "ml-32m.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in fetch.DATASETS["ml-32m"]["files"]:
            zf.writestr(f"ml-32m/{name}", f"contents of {name}\n")
    md5 = md5 or hashlib.md5(archive.read_bytes()).hexdigest()
    (www / "ml-32m.zip.md5").write_text(f"MD5 (ml-32m.zip) = {md5}\n")


def test_download_ml32m_checks_md5(http_base, monkeypatch, data_dir, tmp_path):
    base, www = http_base
    archive, rows = project_ml32m(tmp_path / "made")
    shutil.copyfile(archive, www / "ml-32m.zip")
    (www / "ml-32m.zip.md5").write_text(f"MD5 (ml-32m.zip) = {fetch._md5(archive)}\n")
    monkeypatch.setenv("MOVIELENS_BASE_URL", base)
    # A download is checked by its contents too: here the stand-in's counts, in this process only.
    monkeypatch.setitem(fetch.DATASETS["ml-32m"], "contents", stand_in_contents(rows))
    folder = install("ml-32m", quiet=True)
    made = tmp_path / "made" / "ml-32m" / "ratings.csv"
    assert (folder / "ratings.csv").read_bytes() == made.read_bytes()
    assert set(json.loads((folder / ".manifest.json").read_text())["files"]) == set(
        fetch.DATASETS["ml-32m"]["files"])


def test_download_ml32m_is_checked_by_its_contents(http_base, monkeypatch, data_dir):
    base, www = http_base
    fake_ml32m(www)        # the right MD5, but nothing like ML-32M inside
    monkeypatch.setenv("MOVIELENS_BASE_URL", base)
    with pytest.raises(DatasetError, match="ratings.csv starts with 'contents of ratings.csv'"):
        install("ml-32m", quiet=True)
    assert leftovers(data_dir) == []


def test_download_ml32m_md5_mismatch(http_base, monkeypatch, data_dir):
    base, www = http_base
    fake_ml32m(www, md5="0" * 32)
    monkeypatch.setenv("MOVIELENS_BASE_URL", base)
    with pytest.raises(DatasetError, match="MD5"):
        install("ml-32m", quiet=True)
    assert leftovers(data_dir) == []


def test_unreachable_server_gives_offline_hint(monkeypatch, data_dir):
    monkeypatch.setenv("MOVIELENS_BASE_URL", "http://127.0.0.1:9")  # discard port: refused
    expected = "Could not download ml-latest-small from http://127.0.0.1:9/"
    with pytest.raises(DatasetError, match=expected) as err:
        install(NAME, quiet=True)
    assert "make data SOURCE=" in str(err.value)
    assert leftovers(data_dir) == []


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COURSE_DATA_DIR": str(data_dir)}
    env.pop("DATA_SOURCE", None)
    return subprocess.run([sys.executable, "-m", "datasets.fetch", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)


def test_cli_error_exits_2_without_traceback(tmp_path, data_dir):
    result = run_cli("--source", str(tmp_path / "nope.zip"), data_dir=data_dir)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert run_cli("--verify", data_dir=data_dir).returncode == 2


@needs_folder
def test_cli_install_verify_list(data_dir):
    assert run_cli("--source", str(FOLDER), "--quiet", data_dir=data_dir).returncode == 0
    assert run_cli("--verify", data_dir=data_dir).returncode == 0
    listing = run_cli("--list", data_dir=data_dir)
    assert listing.returncode == 0
    assert "installed and verified" in listing.stdout and "not installed" in listing.stdout


# ---------------------------------------------------------------- ml-32m from a local copy

ML32M_HEADERS = {name: header for name, (header, _) in fetch.DATASETS["ml-32m"]["contents"].items()}


def fake_ml32m_folder(root: Path, rows: dict[str, int], headers: dict[str, str] | None = None) -> Path:
    """A small folder in ml-32m's layout: each CSV with a header and ``rows[name]`` rows."""
    folder = root / "ml-32m"
    folder.mkdir(parents=True)
    for name, header in (headers or ML32M_HEADERS).items():
        lines = [header] + [",".join(["1"] * (header.count(",") + 1))] * rows.get(name, 0)
        (folder / name).write_text("\n".join(lines) + "\n")
    (folder / "README.txt").write_text("MovieLens 32M stand-in\n")
    return folder


def test_count_rows_counts_data_lines(tmp_path):
    path = tmp_path / "x.csv"
    for text, rows in (("a,b\n1,2\n3,4\n", 2), ("a,b\n1,2\n3,4", 2), ("a,b\r\n1,2\r\n", 1), ("a,b\n", 0),
                       ("a,b", 0), ("", 0)):
        path.write_bytes(text.encode())
        header, counted = fetch.count_rows(path)
        assert counted == rows, text
        assert header in (b"a,b", b"")


def test_ml32m_placeholder_folder_is_refused(tmp_path, data_dir):
    folder = tmp_path / "ml-32m"
    folder.mkdir()
    for name in fetch.DATASETS["ml-32m"]["files"]:
        (folder / name).write_text("")
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,0\n")
    with pytest.raises(DatasetError, match="movies.csv is empty") as err:
        install("ml-32m", source=str(folder), quiet=True)
    assert "ratings.csv has 1 rows, not 32,000,204" in str(err.value)
    assert leftovers(data_dir) == []


def test_ml32m_folder_with_wrong_counts_or_header_is_refused(tmp_path, data_dir):
    folder = fake_ml32m_folder(tmp_path / "a", {"ratings.csv": 10, "movies.csv": 3, "links.csv": 3, "tags.csv": 2})
    with pytest.raises(DatasetError, match="not a complete copy of ml-32m") as err:
        install("ml-32m", source=str(folder), quiet=True)
    assert "tags.csv has 2 rows, not 2,000,072" in str(err.value)
    headers = dict(ML32M_HEADERS, **{"movies.csv": "id,name,genres"})
    folder = fake_ml32m_folder(tmp_path / "b", {}, headers)
    with pytest.raises(DatasetError, match="movies.csv starts with 'id,name,genres'"):
        install("ml-32m", source=str(folder), quiet=True)
    assert leftovers(data_dir) == []


def test_ml32m_folder_with_the_published_counts_installs(tmp_path, data_dir, monkeypatch, capsys):
    rows = {"ratings.csv": 7, "movies.csv": 3, "links.csv": 3, "tags.csv": 2}
    contents = {name: (header, rows[name]) for name, header in ML32M_HEADERS.items()}
    monkeypatch.setitem(fetch.DATASETS["ml-32m"], "contents", contents)  # counts small enough to write
    folder = install("ml-32m", source=str(fake_ml32m_folder(tmp_path, rows)))
    assert (folder / ".manifest.json").is_file()
    assert "installed and verified" in capsys.readouterr().out


def test_ml32m_local_archive_must_have_the_published_md5(tmp_path, data_dir):
    fake_ml32m(tmp_path)
    with pytest.raises(DatasetError, match="not the MD5 GroupLens publishes"):
        install("ml-32m", source=str(tmp_path / "ml-32m.zip"), quiet=True)
    assert leftovers(data_dir) == []


# ---------------------------------------------------------------- ml-32m: a project-made stand-in
# The real archive (ml-32m.zip, 880 MB) holds one folder, ml-32m/, with ratings.csv, movies.csv,
# links.csv, tags.csv, README.txt and checksums.txt (the MD5 of each CSV). The stand-in below
# has that layout and those headers, with the synthetic fixture's ratings and movies.

def project_ml32m(root: Path, *, placeholder: bool = False) -> tuple[Path, dict[str, int]]:
    """Write ``root/ml-32m/`` in ML-32M's layout and zip it as ``root/ml-32m.zip``; return the
    archive and each CSV's number of rows. ``placeholder``: one row per CSV."""
    import pandas as pd

    from datasets import synthetic

    data = synthetic.generate("fixture", seed=0)
    ratings = data.ratings.dropna().astype({"movieId": "int64"})   # ML-32M has no dirty rows
    movies = data.movies
    links = pd.DataFrame({"movieId": movies["movieId"],
                          "imdbId": [f"{113000 + i:07d}" for i in range(len(movies))],
                          "tmdbId": [str(800 + i) if i % 7 else "" for i in range(len(movies))]})
    tags = ratings.iloc[::700][["userId", "movieId", "timestamp"]].assign(tag="dark, moody")
    tags = tags[["userId", "movieId", "tag", "timestamp"]]
    if placeholder:
        ratings, movies, links, tags = (t.iloc[:1] for t in (ratings, movies, links, tags))
    folder = root / "ml-32m"
    folder.mkdir(parents=True)
    rows = {}
    for name, table in (("ratings.csv", ratings), ("movies.csv", movies), ("links.csv", links),
                        ("tags.csv", tags)):
        table.to_csv(folder / name, index=False, lineterminator="\n")
        rows[name] = len(table)
    (folder / "README.txt").write_text("Summary\n=======\n\nA project-made stand-in in the layout of ml-32m, "
                                       "made by the course's tests from its synthetic data.\n")
    (folder / "checksums.txt").write_text("".join(
        f"{fetch._md5(folder / name)}  {name}\n"
        for name in ("links.csv", "movies.csv", "ratings.csv", "tags.csv")))
    archive = root / "ml-32m.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            info = zipfile.ZipInfo(f"ml-32m/{path.name}", date_time=(2023, 10, 13, 0, 0, 0))
            zf.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return archive, rows


def stand_in_contents(rows: dict[str, int]) -> dict[str, tuple[str, int]]:
    return {name: (header, rows[name]) for name, (header, _) in fetch.DATASETS["ml-32m"]["contents"].items()}


def stand_in_manifest(made: Path, counts: dict[str, int], **stated) -> Path:
    """A stand-in manifest beside ``made`` stating its MD5 (an archive) and its rows;
    ``stated`` changes or (None) removes an entry."""
    facts = {"stand_in_for": "ml-32m", "source": made.name, "rows": counts,
             "note": "a project-made archive in ML-32M's layout, for the tests"}
    if made.is_file():
        facts["archive_md5"] = fetch._md5(made)
    facts.update(stated)
    path = made.parent / "ml-32m.stand-in.json"
    path.write_text(json.dumps({k: v for k, v in facts.items() if v is not None}, indent=2))
    return path


MAKE = shutil.which("make")
needs_make = pytest.mark.skipif(not (MAKE and (REPO / ".venv" / "bin" / "python").is_file()),
                                reason="make data needs make and the course's .venv")


def make_data(source: Path, data_dir: Path) -> subprocess.CompletedProcess:
    """``make data DATASET=ml-32m SOURCE=...`` as a user runs it (the installed .venv as it is)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k != "DATA_SOURCE"}
    env["COURSE_DATA_DIR"] = str(data_dir)
    return subprocess.run([MAKE, "-s", "-C", str(REPO), "-o", ".venv/.installed", "data", "DATASET=ml-32m",
                           f"SOURCE={source}"], capture_output=True, text=True, env=env, timeout=900)


@needs_make
def test_project_made_ml32m_installs_through_make_data(tmp_path, data_dir):
    archive, rows = project_ml32m(tmp_path / "made")
    manifest = stand_in_manifest(archive, rows)
    done = make_data(manifest, data_dir)
    assert done.returncode == 0, done.stderr
    assert "ml-32m stand-in installed and verified against" in done.stdout
    folder = data_dir / "ml-32m"
    assert leftovers(data_dir) == ["ml-32m"]
    assert {p.name for p in folder.iterdir()} == set(fetch.DATASETS["ml-32m"]["files"]) | {".manifest.json"}
    record = json.loads((folder / ".manifest.json").read_text())
    assert record["stand_in"]["manifest"] == str(manifest.resolve())
    assert record["source"] == str(archive.resolve())
    for name in fetch.DATASETS["ml-32m"]["files"]:
        assert (folder / name).read_bytes() == (tmp_path / "made" / "ml-32m" / name).read_bytes()
    # The course reads it where it reads the real ML-32M: course.paths.data_dir() / "ml-32m".
    from commands.demo import load_tables
    ratings, movies, _ = load_tables("ml-32m", None, 0)
    assert (len(ratings), len(movies)) == (rows["ratings.csv"], rows["movies.csv"])
    assert list(ratings.columns) == ["userId", "movieId", "rating", "timestamp"]
    # Installing the same stand-in again leaves it alone.
    again = make_data(manifest, data_dir)
    assert again.returncode == 0 and "already installed and verified" in again.stdout


@needs_make
def test_placeholder_or_truncated_real_layout_archive_is_refused_by_make_data(tmp_path, data_dir):
    archive, _ = project_ml32m(tmp_path / "whole")
    truncated = tmp_path / "ml-32m.zip"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    archive, rows = project_ml32m(tmp_path / "made", placeholder=True)
    for source in (truncated, archive):             # no stand-in manifest: the published facts
        done = make_data(source, data_dir)
        assert done.returncode != 0
        assert "not the MD5 GroupLens publishes for ml-32m.zip" in done.stderr
        assert "Traceback" not in done.stderr
    # Its own MD5 stated, but ML-32M's published sizes: the rows give it away.
    published = {name: n for name, (_, n) in fetch.DATASETS["ml-32m"]["contents"].items()}
    done = make_data(stand_in_manifest(archive, published), data_dir)
    assert done.returncode != 0 and "ratings.csv has 1 rows, not 32,000,204" in done.stderr
    assert leftovers(data_dir) == []


def test_stand_in_is_never_taken_for_the_published_ml32m(tmp_path, data_dir, capsys):
    archive, rows = project_ml32m(tmp_path / "made")
    folder = install("ml-32m", source=str(stand_in_manifest(archive, rows)), quiet=True)
    with pytest.raises(DatasetError, match="holds a project-made stand-in .* not the published ml-32m"):
        fetch.verify("ml-32m")
    assert "project-made stand-in" in run_cli("--list", data_dir=data_dir).stdout
    # The same archive without its manifest is checked against the published MD5, and the
    # stand-in already there stays as it was.
    before = snapshot(folder)
    with pytest.raises(DatasetError, match="not the MD5 GroupLens publishes"):
        install("ml-32m", source=str(archive), quiet=True)
    assert snapshot(folder) == before and leftovers(data_dir) == ["ml-32m"]


def test_truncated_stand_in_archive_is_refused(tmp_path, data_dir):
    archive, rows = project_ml32m(tmp_path / "made")
    manifest = stand_in_manifest(archive, rows)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DatasetError, match="not the MD5 its stand-in manifest states"):
        install("ml-32m", source=str(manifest), quiet=True)
    # Even with the truncated archive's own MD5 stated, it is no complete zip.
    with pytest.raises(DatasetError, match="not a complete zip archive"):
        install("ml-32m", source=str(stand_in_manifest(archive, rows)), quiet=True)
    assert leftovers(data_dir) == []


def test_stand_in_with_other_rows_is_refused(tmp_path, data_dir):
    archive, rows = project_ml32m(tmp_path / "made")
    with pytest.raises(DatasetError, match="tags.csv has 29 rows, not 30"):
        install("ml-32m", source=str(stand_in_manifest(archive, {**rows, "tags.csv": 30})), quiet=True)
    assert leftovers(data_dir) == []


def test_checksums_txt_catches_a_changed_file_with_the_right_rows(tmp_path, data_dir):
    archive, rows = project_ml32m(tmp_path / "made")
    folder = tmp_path / "made" / "ml-32m"
    text = (folder / "ratings.csv").read_text()
    (folder / "ratings.csv").write_text(text.replace(",4.0,", ",3.0,", 1))     # same rows, other bytes
    changed = r"ratings\.csv from .* does not match the MD5 in its checksums\.txt"
    with pytest.raises(DatasetError, match=changed):
        install("ml-32m", source=str(stand_in_manifest(folder, rows)), quiet=True)
    assert leftovers(data_dir) == []
    (folder / "ratings.csv").write_text(text)
    assert install("ml-32m", source=str(stand_in_manifest(folder, rows)), quiet=True) == data_dir / "ml-32m"


@pytest.mark.parametrize("change, message", [
    ({"stand_in_for": "ml-latest-small"}, "not a stand-in manifest for ml-32m"),
    ({"rows": {"ratings.csv": 5}}, "must give the number of rows of each of"),
    ({"archive_md5": None}, "needs its \"archive_md5\""),
    ({"source": "nowhere.zip"}, "is not an archive or folder beside it"),
    ({"contents": {"ratings.csv": ["a,b", 1]}}, "states contents, which a stand-in cannot change"),
    ({"files": {"ratings.csv": "0" * 64}}, "states files, which a stand-in cannot change"),
])
def test_stand_in_manifest_states_sizes_and_nothing_else(tmp_path, data_dir, change, message):
    archive, rows = project_ml32m(tmp_path / "made")
    with pytest.raises(DatasetError, match=message):
        install("ml-32m", source=str(stand_in_manifest(archive, rows, **change)), quiet=True)
    assert leftovers(data_dir) == []


def test_no_stand_in_replaces_published_sums(tmp_path, data_dir):
    manifest = tmp_path / "small.json"
    manifest.write_text(json.dumps({"stand_in_for": NAME, "source": "x.zip", "rows": {}}))
    with pytest.raises(DatasetError, match="published SHA-256 sums, which no stand-in can replace"):
        install(NAME, source=str(manifest), quiet=True)


def test_parse_checksums_reads_both_md5_formats():
    text = ("d41d8cd98f00b204e9800998ecf8427e  ratings.csv\n"
            "MD5 (movies.csv) = 0CC175B9C0F1B6A831C399E269772661\n"
            "900150983cd24fb0d6963f7d28e17f72 *ml-32m/links.csv\n"
            "not a checksum line\n")
    assert fetch.parse_checksums(text) == {"ratings.csv": "d41d8cd98f00b204e9800998ecf8427e",
                                           "movies.csv": "0cc175b9c0f1b6a831c399e269772661",
                                           "links.csv": "900150983cd24fb0d6963f7d28e17f72"}


def test_stand_in_never_replaces_a_verified_published_install(tmp_path, data_dir, monkeypatch):
    # A verified ML-32M install (here a folder that passes the published checks, with the
    # counts lowered in this process only) is not replaced by a stand-in unless forced.
    archive, rows = project_ml32m(tmp_path / "made")
    monkeypatch.setitem(fetch.DATASETS["ml-32m"], "contents", stand_in_contents(rows))
    folder = install("ml-32m", source=str(tmp_path / "made" / "ml-32m"), quiet=True)
    fetch.verify("ml-32m")
    before = snapshot(folder)
    manifest = stand_in_manifest(archive, rows)
    kept = "holds the verified, published ml-32m: a stand-in does not replace it"
    with pytest.raises(DatasetError, match=kept):
        install("ml-32m", source=str(manifest), quiet=True)
    assert snapshot(folder) == before
    install("ml-32m", source=str(manifest), quiet=True, force=True)
    with pytest.raises(DatasetError, match="project-made stand-in"):
        fetch.verify("ml-32m")
