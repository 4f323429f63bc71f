"""Download (or copy from a local source), verify and install a MovieLens dataset.

    python -m datasets.fetch --dataset ml-latest-small [--source PATH] [--data-dir DIR]
    python -m datasets.fetch --verify | --list

An install lands in ``<data_dir>/<name>/`` and is complete only once ``.manifest.json``
is there: the manifest is written last, inside a staging folder that is then renamed into
place, so an interrupted or failed run never leaves a half-installed dataset behind.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from http.client import HTTPException
from pathlib import Path

from course.config import environment
from course.paths import data_dir

DEFAULT_BASE_URL = "https://files.grouplens.org/datasets/movielens"

# The single home of the facts about each dataset. A sum of None means the course has no
# published SHA-256 for that file: it is recorded in the manifest, not checked against one.
DATASETS: dict[str, dict] = {
    "ml-latest-small": {
        "url": f"{DEFAULT_BASE_URL}/ml-latest-small.zip",
        "files": {
            "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
            "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
            "links.csv": "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31",
            "tags.csv": "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d",
            "README.txt": "caa1eb1d1d113578e9dbb36b37398404e00f379492b7aa31df0b30c855017095",
        },
    },
    "ml-32m": {
        # No per-file sums. A download is checked against the archive MD5 GroupLens
        # publishes at <url>.md5; a local archive against that same published MD5 (below);
        # a local folder by its contents: each CSV's header and exact number of rows, the
        # counts of ML-32M's README (a placeholder or truncated file cannot pass).
        "url": f"{DEFAULT_BASE_URL}/ml-32m.zip",
        "archive_md5": "d472be332d4daa821edc399621853b57",
        "files": dict.fromkeys(["ratings.csv", "movies.csv", "links.csv", "tags.csv", "README.txt"]),
        "contents": {
            "ratings.csv": ("userId,movieId,rating,timestamp", 32_000_204),
            "movies.csv": ("movieId,title,genres", 87_585),
            "links.csv": ("movieId,imdbId,tmdbId", 87_585),
            "tags.csv": ("userId,movieId,tag,timestamp", 2_000_072),
        },
    },
}
DEFAULT_DATASET = "ml-latest-small"
MANIFEST = ".manifest.json"
CONNECT_TIMEOUT_S = 30
CHUNK = 1 << 20


class DatasetError(Exception):
    """Any problem installing or verifying a dataset; str() is a message for a human."""


def default_data_dir() -> Path:
    """``$COURSE_DATA_DIR`` (tests use it), else ``<repo>/datasets/data`` (git-ignored)."""
    return data_dir()


def archive_url(dataset: str) -> str:
    """The archive URL; ``$MOVIELENS_BASE_URL`` replaces the GroupLens host (tests serve locally)."""
    base = environment("MOVIELENS_BASE_URL")
    url = DATASETS[dataset]["url"]
    return base.rstrip("/") + url[len(DEFAULT_BASE_URL):] if base else url


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def count_rows(path: Path) -> tuple[bytes, int]:
    """``(header line, number of data rows)`` of a CSV file, counting newlines in binary
    chunks (an 877 MB ratings.csv takes about a second; no parsing)."""
    newlines, last = 0, b"\n"
    with open(path, "rb") as f:
        header = f.readline()
        if header and not header.endswith(b"\n"):  # a header and nothing else, no newline
            return header, 0
        while block := f.read(16 * CHUNK):
            newlines += block.count(b"\n")
            last = block[-1:]
    return header.rstrip(b"\r\n"), newlines + (last != b"\n")


def _check_contents(dataset: str, folder: Path, source: str) -> None:
    """Each CSV of ``folder`` has the dataset's header and exact number of rows, and no
    expected file is empty; raise :class:`DatasetError` naming every difference."""
    expected = DATASETS[dataset].get("contents", {})
    problems = []
    for name in DATASETS[dataset]["files"]:
        path = folder / name
        if path.stat().st_size == 0:
            problems.append(f"{name} is empty")
        elif name in expected:
            want_header, want_rows = expected[name]
            header, rows = count_rows(path)
            if header.decode("utf-8", "replace") != want_header:
                problems.append(f"{name} starts with {header[:60].decode('utf-8', 'replace')!r}, not the header "
                                f"{want_header!r}")
            elif rows != want_rows:
                problems.append(f"{name} has {rows:,} rows, not {want_rows:,}")
    if problems:
        raise DatasetError(f"{source} is not a complete copy of {dataset}: {'; '.join(problems)} "
                           "(placeholder, truncated or different files?). Nothing was installed.")


def _problems(dataset: str, folder: Path) -> list[str]:
    """Why ``folder`` is not a complete, verified install of ``dataset`` (empty list: it is)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        recorded = manifest["files"]
    except FileNotFoundError:
        return [f"{folder} has no {MANIFEST} (an earlier install did not finish)"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{folder / MANIFEST} is unreadable ({exc})"]
    problems = []
    for name, published in DATASETS[dataset]["files"].items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
            continue
        actual = _sha256(path)
        if actual != recorded.get(name) or (published and actual != published):
            problems.append(f"{name} has changed since it was installed (SHA-256 {actual[:12]}…)")
    return problems


def _fetch_md5(url: str) -> str:
    """The archive MD5 GroupLens publishes beside the zip (format varies; take the hex token)."""
    with urllib.request.urlopen(url + ".md5", timeout=CONNECT_TIMEOUT_S) as response:
        match = re.search(r"\b[0-9a-fA-F]{32}\b", response.read().decode("ascii", "replace"))
    if not match:
        raise DatasetError(f"{url}.md5 does not contain an MD5 sum; nothing was installed.")
    return match.group(0).lower()


def _download(dataset: str, url: str, dest: Path, quiet: bool) -> None:
    """Stream ``url`` into ``dest``; any network failure becomes the 'are you offline?' error."""
    from tqdm import tqdm  # imported here so --list/--verify work without it

    expected_md5 = None
    try:
        if None in DATASETS[dataset]["files"].values():
            expected_md5 = _fetch_md5(url)  # before the big download, so a failure is cheap
        md5 = hashlib.md5()
        with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S) as response, \
                open(dest, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            # The one progress bar: to stderr, so stdout stays clean for messages and pipes.
            with tqdm(total=total, unit="B", unit_scale=True, desc=dataset, file=sys.stderr,
                      disable=quiet) as bar:
                while block := response.read(CHUNK):
                    try:
                        out.write(block)
                    except OSError as exc:  # a full disk is not a network problem
                        raise DatasetError(f"could not write {dest}: {exc}") from exc
                    md5.update(block)
                    bar.update(len(block))
    except (urllib.error.URLError, HTTPException, OSError) as exc:  # OSError: sockets, timeouts
        reason = getattr(exc, "reason", None) or exc
        raise DatasetError(
            f"Could not download {dataset} from {url} ({reason}). If this machine is offline, "
            f"install from a local copy: make data SOURCE=/path/to/{dataset}.zip "
            "(a GroupLens zip or an unpacked folder).") from exc
    if total is not None and dest.stat().st_size != total:
        raise DatasetError(f"The download of {url} stopped after {dest.stat().st_size} of {total} "
                           "bytes (truncated download?); nothing was installed.")
    if expected_md5 and md5.hexdigest() != expected_md5:
        raise DatasetError(f"{url} has MD5 {md5.hexdigest()} but GroupLens publishes "
                           f"{expected_md5}: "
                           "the download is corrupt; nothing was installed.")


def _extract(dataset: str, archive: Path, staging: Path, source: str) -> None:
    """Copy the required files out of a zip (top folder ``<name>/`` or files at the root)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = set(zf.namelist())
            wanted = {}
            for name in DATASETS[dataset]["files"]:
                member = next((m for m in (f"{dataset}/{name}", name) if m in members), None)
                if member:
                    wanted[name] = member
            _require(dataset, wanted, source)
            for name, member in wanted.items():
                # Reading each member to the end makes zipfile check its CRC.
                with zf.open(member) as src, open(staging / name, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise DatasetError(f"{source} is not a complete zip archive (truncated download?): {exc}. "
                           "Nothing was installed.") from exc


def _copy_folder(dataset: str, folder: Path, staging: Path, source: str) -> None:
    found = {name: name for name in DATASETS[dataset]["files"] if (folder / name).is_file()}
    _require(dataset, found, source)
    for name in found:
        shutil.copyfile(folder / name, staging / name)  # copyfile: not the source's read-only mode


def _require(dataset: str, found: dict, source: str) -> None:
    missing = [name for name in DATASETS[dataset]["files"] if name not in found]
    if missing:
        raise DatasetError(f"{source} lacks {', '.join(missing)} (a copy of {dataset} needs "
                           f"{', '.join(DATASETS[dataset]['files'])}); nothing was installed.")


def _hash_staged(dataset: str, staging: Path, source: str) -> dict[str, str]:
    """SHA-256 of every staged file, checked against the published sums where there are any."""
    sums = {}
    for name, published in DATASETS[dataset]["files"].items():
        sums[name] = actual = _sha256(staging / name)
        if published and actual != published:
            raise DatasetError(
                f"{name} from {source} has SHA-256 {actual[:12]}… but {dataset}'s published sum "
                f"is {published[:12]}…: the file is corrupt or a different version; "
                "nothing was installed.")
    return sums


def install(dataset: str = DEFAULT_DATASET, source: str | None = None,
            data_dir: Path | None = None, quiet: bool = False, *, force: bool = False) -> Path:
    """Install ``dataset`` into ``<data_dir>/<dataset>/`` and return that folder.

    ``source`` (else ``$DATA_SOURCE``) is a local zip or unpacked folder; without one the
    archive is downloaded. A verified install is left alone unless ``force``.
    """
    if dataset not in DATASETS:
        raise DatasetError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}.")
    say = (lambda *_: None) if quiet else print
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    source = source or environment("DATA_SOURCE")
    final = data_dir / dataset

    if final.exists() and not force:
        problems = _problems(dataset, final)
        if not problems:
            say(f"{dataset} is already installed and verified at {final}")
            return final
        say(f"{final} fails verification ({'; '.join(problems)}); reinstalling.")

    data_dir.mkdir(parents=True, exist_ok=True)
    # Temp names live in data_dir (same filesystem, so the final rename is atomic) and start
    # with a dot so nothing ever mistakes them for an install.
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{dataset}-", dir=data_dir))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; the install should not be
    part = None
    try:
        if source:
            src = Path(source).expanduser()
            origin = str(src.resolve())
            if src.is_dir():
                _copy_folder(dataset, src, staging, origin)
            elif src.is_file():
                official = DATASETS[dataset].get("archive_md5")
                if official and _md5(src) != official:
                    raise DatasetError(
                        f"{origin} has MD5 {_md5(src)}, not the MD5 GroupLens publishes for {dataset}.zip "
                        f"({official}): it is corrupt, truncated or a different archive; nothing was "
                        f"installed. (An unpacked folder is checked by its contents instead.)")
                _extract(dataset, src, staging, origin)
            else:
                raise DatasetError(f"source {source} does not exist (expected a {dataset} "
                                   "zip or an unpacked folder).")
        else:
            origin = archive_url(dataset)
            fd, name = tempfile.mkstemp(prefix=f".download-{dataset}-", suffix=".zip.part",
                                        dir=data_dir)
            os.close(fd)
            part = Path(name)
            say(f"Downloading {origin}")
            _download(dataset, origin, part, quiet)
            _extract(dataset, part, staging, origin)

        sums = _hash_staged(dataset, staging, origin)
        if source and src.is_dir() and "contents" in DATASETS[dataset]:
            _check_contents(dataset, staging, origin)
        # Verified: against per-file sums, against the archive MD5 (a download, or a local
        # archive where the dataset has a published one), or by the folder's contents.
        verified = (None not in DATASETS[dataset]["files"].values() or not source
                    or "archive_md5" in DATASETS[dataset] or "contents" in DATASETS[dataset])
        if not verified:
            say(f"note: the course publishes no per-file sums for {dataset}; recorded the files' "
                "SHA-256 in the manifest without checking them.")
        # The manifest is the last file written: its presence marks a complete install.
        manifest = {"dataset": dataset, "files": sums, "source": origin}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")

        # Swap in the new copy. A directory rename cannot replace a non-empty directory, so
        # the old one is moved aside first and restored if the swap fails.
        old = None
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".old-{dataset}-", dir=data_dir))
        try:
            if old:
                os.replace(final, old / dataset)
            os.replace(staging, final)
        except BaseException:
            if old and (old / dataset).exists() and not final.exists():
                os.replace(old / dataset, final)
            raise
        finally:
            if old and final.exists():  # never delete the old copy unless one is in place
                shutil.rmtree(old, ignore_errors=True)
    finally:
        # On success staging has been renamed away; on any error (or Ctrl-C) both go.
        shutil.rmtree(staging, ignore_errors=True)
        if part:
            part.unlink(missing_ok=True)
    say(f"{dataset} installed{' and verified' if verified else ''} at {final}")
    return final


def verify(dataset: str = DEFAULT_DATASET, data_dir: Path | None = None) -> Path:
    """Return the installed folder if it matches its manifest (and published sums), else raise."""
    if dataset not in DATASETS:
        raise DatasetError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}.")
    folder = (Path(data_dir) if data_dir else default_data_dir()) / dataset
    if not folder.exists():
        raise DatasetError(f"{dataset} is not installed at {folder}; run: make data")
    problems = _problems(dataset, folder)
    if problems:
        raise DatasetError(f"{folder} fails verification: {'; '.join(problems)}. "
                           "Reinstall with: make data")
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datasets.fetch",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default=DEFAULT_DATASET, choices=list(DATASETS))
    parser.add_argument("--source", help="local GroupLens zip or unpacked folder "
                        "(default: $DATA_SOURCE, else download)")
    parser.add_argument("--data-dir", type=Path, help="where datasets are installed "
                        "(default: $COURSE_DATA_DIR, else datasets/data)")
    parser.add_argument("--force", action="store_true",
                        help="reinstall even if a verified copy is present")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or messages")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--verify", action="store_true",
                        help="verify the installed copy (exit 0 or 2)")
    action.add_argument("--list", action="store_true",
                        help="list datasets and whether each is installed")
    args = parser.parse_args(argv)
    try:
        if args.list:
            for name in DATASETS:
                folder = (args.data_dir or default_data_dir()) / name
                problems = _problems(name, folder) if folder.exists() else ["not installed"]
                state = "; ".join(problems) or f"installed and verified at {folder}"
                print(f"{name:16} {state}")
        elif args.verify:
            print(f"{args.dataset} verified at {verify(args.dataset, args.data_dir)}")
        else:
            install(args.dataset, args.source, args.data_dir, quiet=args.quiet, force=args.force)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing was installed.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
