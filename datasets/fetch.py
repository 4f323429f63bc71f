"""Download (or copy from a local source), verify and install a MovieLens dataset.

    python -m datasets.fetch --dataset ml-latest-small [--source PATH] [--data-dir DIR]
    python -m datasets.fetch --verify | --list

An install lands in ``<data_dir>/<name>/`` and is complete only once ``.manifest.json``
is there: the manifest is written last, inside a staging folder that is then renamed into
place, so an interrupted or failed run never leaves a half-installed dataset behind.

A source may also be a *stand-in manifest* (``SOURCE=path/stand-in.json``): a JSON file that
names a project-made archive or folder in a dataset's layout and the facts to check it
against instead of the published ones, so the tests install a small ML-32M look-alike through
``make data`` exactly as a user installs the real one:

    {"stand_in_for": "ml-32m", "source": "ml-32m.zip", "archive_md5": "<its MD5>",
     "rows": {"ratings.csv": 19998, "movies.csv": 400, "links.csv": 400, "tags.csv": 30}}

Only the facts that differ by size are stated: the archive's MD5 (for an archive) and each
CSV's number of rows; the files, their headers and the layout stay ML-32M's, and the same
checks run. Nothing else selects those facts (no setting, no file inside a source), so a
truncated, placeholder or different copy of the real dataset is checked against the
published facts as always; and the install records that it is a stand-in, so ``--verify``,
``--list`` and a later plain ``make data`` never take it for the published dataset.
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
        # every source by its contents: each CSV's header and exact number of rows, the
        # counts of ML-32M's README (a placeholder or truncated file cannot pass), and each
        # CSV's MD5 against the checksums.txt GroupLens ships beside them, where there is one.
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


def _check_contents(dataset: str, folder: Path, source: str, facts: dict) -> None:
    """Each CSV of ``folder`` has the dataset's header and exact number of rows, and no
    expected file is empty; raise :class:`DatasetError` naming every difference."""
    expected = facts.get("contents", {})
    problems = []
    for name in facts["files"]:
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


def _problems(dataset: str, folder: Path, stand_in: dict | None = None) -> list[str]:
    """Why ``folder`` is not a complete, verified install of ``dataset`` (empty list: it is):
    of the published dataset, or of the stand-in ``stand_in`` (its record) when given."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        recorded = manifest["files"]
    except FileNotFoundError:
        return [f"{folder} has no {MANIFEST} (an earlier install did not finish)"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{folder / MANIFEST} is unreadable ({exc})"]
    problems = []
    was = manifest.get("stand_in")
    if was and (not stand_in or was.get("sha256") != stand_in["sha256"]):
        problems.append(f"{folder} holds a project-made stand-in (installed from {was.get('manifest')}), "
                        f"not the published {dataset}")
    elif stand_in and not was:
        problems.append(f"{folder} holds the published {dataset}, not the stand-in {stand_in['manifest']}")
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


#: The MD5 list GroupLens ships beside ML-32M's files; read if present, never installed.
CHECKSUMS = "checksums.txt"


def _extract(dataset: str, archive: Path, staging: Path, source: str, facts: dict) -> str | None:
    """Copy the required files out of a zip (top folder ``<name>/`` or files at the root);
    return the text of its checksums.txt, if it has one."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = set(zf.namelist())

            def member(name):
                return next((m for m in (f"{dataset}/{name}", name) if m in members), None)
            wanted = {name: member(name) for name in facts["files"] if member(name)}
            _require(dataset, wanted, source, facts)
            for name, path in wanted.items():
                # Reading each member to the end makes zipfile check its CRC.
                with zf.open(path) as src, open(staging / name, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
            listed = member(CHECKSUMS)
            return zf.read(listed).decode("utf-8", "replace") if listed else None
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise DatasetError(f"{source} is not a complete zip archive (truncated download?): {exc}. "
                           "Nothing was installed.") from exc


def _copy_folder(dataset: str, folder: Path, staging: Path, source: str, facts: dict) -> str | None:
    """Copy the required files out of a folder; return the text of its checksums.txt, if any."""
    found = {name: name for name in facts["files"] if (folder / name).is_file()}
    _require(dataset, found, source, facts)
    for name in found:
        shutil.copyfile(folder / name, staging / name)  # copyfile: not the source's read-only mode
    listed = folder / CHECKSUMS
    return listed.read_text(encoding="utf-8", errors="replace") if listed.is_file() else None


def _require(dataset: str, found: dict, source: str, facts: dict) -> None:
    missing = [name for name in facts["files"] if name not in found]
    if missing:
        raise DatasetError(f"{source} lacks {', '.join(missing)} (a copy of {dataset} needs "
                           f"{', '.join(facts['files'])}); nothing was installed.")


def parse_checksums(text: str) -> dict[str, str]:
    """``{file name: MD5}`` from an MD5 list, as ``md5sum`` writes it ("<md5>  name") or as
    BSD ``md5`` does ("MD5 (name) = <md5>"); lines in neither form are skipped."""
    sums = {}
    for line in text.splitlines():
        bsd = re.fullmatch(r"\s*MD5\s*\((.+)\)\s*=\s*([0-9a-fA-F]{32})\s*", line)
        gnu = re.fullmatch(r"\s*([0-9a-fA-F]{32})\s+\*?(.+?)\s*", line)
        if bsd:
            name, md5 = bsd.groups()
        elif gnu:
            md5, name = gnu.groups()
        else:
            continue
        sums[Path(name.strip()).name] = md5.lower()
    return sums


def _check_checksums(staging: Path, text: str, source: str) -> None:
    """Every staged file that ``text`` (a checksums.txt) lists has the MD5 it lists."""
    listed = parse_checksums(text)
    wrong = [name for name in sorted(set(listed) & {p.name for p in staging.iterdir()})
             if _md5(staging / name) != listed[name]]
    if wrong:
        raise DatasetError(f"{', '.join(wrong)} from {source} {'does' if len(wrong) == 1 else 'do'} not "
                           f"match the MD5 in its {CHECKSUMS} (corrupt copy?); nothing was installed.")


def _hash_staged(dataset: str, staging: Path, source: str, facts: dict) -> dict[str, str]:
    """SHA-256 of every staged file, checked against the published sums where there are any."""
    sums = {}
    for name, published in facts["files"].items():
        sums[name] = actual = _sha256(staging / name)
        if published and actual != published:
            raise DatasetError(
                f"{name} from {source} has SHA-256 {actual[:12]}… but {dataset}'s published sum "
                f"is {published[:12]}…: the file is corrupt or a different version; "
                "nothing was installed.")
    return sums


def read_stand_in(dataset: str, path: Path) -> tuple[Path, dict, dict]:
    """``(source, facts, record)`` of a stand-in manifest (the module docstring): the archive
    or folder it names, the dataset's facts with its sizes in place of the published ones, and
    what the install records about it. Raise :class:`DatasetError` unless every fact that
    differs by size is stated, and nothing else."""
    where = str(path.resolve())
    try:
        stated = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{where} is not a readable stand-in manifest ({exc}); "
                           "nothing was installed.") from exc
    published = DATASETS[dataset]
    problems = []
    if not isinstance(stated, dict) or stated.get("stand_in_for") != dataset:
        raise DatasetError(f"{where} is not a stand-in manifest for {dataset} (its \"stand_in_for\" must be "
                           f"{dataset!r}); nothing was installed.")
    if any(published["files"].values()) or "contents" not in published:
        raise DatasetError(f"{dataset} is checked against its published SHA-256 sums, which no stand-in can "
                           "replace; nothing was installed.")
    rows = stated.get("rows")
    counted = published["contents"]
    if not isinstance(rows, dict) or set(rows) != set(counted) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in rows.values()):
        problems.append(f"\"rows\" must give the number of rows of each of {', '.join(counted)}")
    unknown = set(stated) - {"stand_in_for", "source", "archive_md5", "rows", "note"}
    if unknown:
        problems.append(f"it states {', '.join(sorted(unknown))}, which a stand-in cannot change")
    source = path.parent / str(stated.get("source", ""))
    if not stated.get("source") or not source.exists():
        problems.append(f"its \"source\" {stated.get('source')!r} is not an archive or folder beside it")
    elif source.is_file() and not re.fullmatch(r"[0-9a-f]{32}", str(stated.get("archive_md5", ""))):
        problems.append("a stand-in archive needs its \"archive_md5\" (32 lowercase hex digits)")
    if problems:
        raise DatasetError(f"{where} is not a usable stand-in manifest for {dataset}: {'; '.join(problems)}. "
                           "Nothing was installed.")
    facts = dict(published, contents={name: (header, rows[name]) for name, (header, _) in counted.items()})
    if source.is_file():
        facts["archive_md5"] = stated["archive_md5"]
    else:
        facts.pop("archive_md5", None)       # a folder is checked by its contents alone
    record = {"manifest": where, "sha256": _sha256(path), "source": str(source.resolve()),
              "archive_md5": stated.get("archive_md5") if source.is_file() else None, "rows": rows}
    return source, facts, record


def install(dataset: str = DEFAULT_DATASET, source: str | None = None,
            data_dir: Path | None = None, quiet: bool = False, *, force: bool = False) -> Path:
    """Install ``dataset`` into ``<data_dir>/<dataset>/`` and return that folder.

    ``source`` (else ``$DATA_SOURCE``) is a local zip or unpacked folder, or a stand-in
    manifest (a ``.json`` file, the module docstring); without one the archive is downloaded.
    A verified install is left alone unless ``force``.
    """
    if dataset not in DATASETS:
        raise DatasetError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}.")
    say = (lambda *_: None) if quiet else print
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    source = source or environment("DATA_SOURCE")
    final = data_dir / dataset
    facts, stand_in = DATASETS[dataset], None
    if source and (given := Path(source).expanduser()).suffix.lower() == ".json" and given.is_file():
        src, facts, stand_in = read_stand_in(dataset, given)   # checked against what it states
        source = str(src)

    if final.exists() and not force:
        if stand_in and not _problems(dataset, final):
            raise DatasetError(f"{final} holds the verified, published {dataset}: a stand-in does not "
                               "replace it (--force to do so); nothing was installed.")
        problems = _problems(dataset, final, stand_in)
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
                checksums = _copy_folder(dataset, src, staging, origin, facts)
            elif src.is_file():
                expected = facts.get("archive_md5")
                if expected and (actual := _md5(src)) != expected:
                    whose = (f"the MD5 its stand-in manifest states ({expected})" if stand_in else
                             f"the MD5 GroupLens publishes for {dataset}.zip ({expected})")
                    raise DatasetError(
                        f"{origin} has MD5 {actual}, not {whose}: it is corrupt, truncated or a different "
                        f"archive; nothing was installed. (An unpacked folder is checked by its contents "
                        f"instead.)")
                checksums = _extract(dataset, src, staging, origin, facts)
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
            checksums = _extract(dataset, part, staging, origin, facts)

        sums = _hash_staged(dataset, staging, origin, facts)
        # Every source by its contents (an archive with the right MD5 always passes; a folder
        # has no MD5), and by the checksums.txt that came with it.
        if "contents" in facts:
            _check_contents(dataset, staging, origin, facts)
        if checksums:
            _check_checksums(staging, checksums, origin)
        # Verified: against per-file sums, against the archive MD5 (a download, or a local
        # archive where the dataset has a published one), or by the folder's contents.
        verified = (None not in facts["files"].values() or not source
                    or "archive_md5" in facts or "contents" in facts)
        if not verified:
            say(f"note: the course publishes no per-file sums for {dataset}; recorded the files' "
                "SHA-256 in the manifest without checking them.")
        # The manifest is the last file written: its presence marks a complete install.
        manifest = {"dataset": dataset, "files": sums, "source": origin}
        if stand_in:
            manifest["stand_in"] = stand_in
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
    if stand_in:
        say(f"{dataset} stand-in installed and verified against {stand_in['manifest']} at {final} "
            f"(project-made, not the published {dataset})")
    else:
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
    parser.add_argument("--source", help="local GroupLens zip or unpacked folder, or a stand-in "
                        "manifest (.json, see the module docstring) (default: $DATA_SOURCE, else download)")
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
