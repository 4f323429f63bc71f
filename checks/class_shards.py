"""A class larger than one machine: grade a share of it (``--shard k/n``, ``make grade
SHARD=k/n``) on each of n machines or processes, then merge the shares into the class
reports (``--merge``, ``make grade-merge``).

Every shard lists the whole class the same way (sorted folder names) and takes every n-th
learner from the k-th on, so the shares are disjoint, cover the class and come out the same
wherever they run. A shard writes its learners' reports, as an unsharded run does, and
``shards/shard-k-of-n.json`` (its learners' grades, as data); the merge reads every
shard's file, checks that they are one class graded one way, and writes ``class.csv`` and
``class.md``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from checks.class_grades import LearnerGrade

SHARD_FOLDER = "shards"


def parse_shard(text: str) -> tuple[int, int]:
    """'2/8' -> (2, 8); ValueError with a sentence otherwise."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not found or not 1 <= int(found.group(1)) <= int(found.group(2)):
        raise ValueError(f"{text!r} is not a share of the class: write k/n with 1 <= k <= n, e.g. 2/8")
    return int(found.group(1)), int(found.group(2))


def share(learners: list, k: int, n: int) -> list:
    """The k-th of n shares: every n-th learner, from the k-th (round robin spreads a class
    whose names cluster, e.g. by group, evenly)."""
    return learners[k - 1::n]


def shard_path(reports: Path, k: int, n: int) -> Path:
    return reports / SHARD_FOLDER / f"shard-{k}-of-{n}.json"


def write_shard(reports: Path, k: int, n: int, grades: list[LearnerGrade], everyone: list[str],
                lessons: list[int], sandbox: bool, graded_at: str, commit: str) -> Path:
    path = shard_path(reports, k, n)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"shard": k, "of": n, "class": everyone, "lessons": lessons, "sandbox": sandbox,
                "graded_at": graded_at, "commit": commit, "learners": [g.to_json() for g in grades]}
    temporary = path.with_suffix(".part")
    temporary.write_text(json.dumps(document) + "\n")
    temporary.replace(path)          # a merge never reads half a shard
    return path


class MergeError(Exception):
    """The shards in the reports folder are not one whole class graded one way."""


def read_shards(reports: Path) -> dict:
    """The class put together from ``reports/shards/``: {"grades", "lessons", "sandbox",
    "graded_at", "commit"}, learners in the class's order. MergeError says what is missing."""
    files = sorted((reports / SHARD_FOLDER).glob("shard-*-of-*.json"))
    if not files:
        raise MergeError(f"{reports / SHARD_FOLDER} holds no shard: grade the shares first "
                         f"(`make grade SUBMISSION=... REPORTS={reports} SHARD=k/n`)")
    documents = []
    for path in files:
        try:
            documents.append(json.loads(path.read_text()))
        except (OSError, ValueError) as e:
            raise MergeError(f"{path} cannot be read ({e})") from None
    of = {d.get("of") for d in documents}
    if len(of) != 1:
        raise MergeError(f"the shards were cut differently ({sorted(of)} shares): grade again with one n")
    n = of.pop()
    missing = sorted(set(range(1, n + 1)) - {d.get("shard") for d in documents})
    if missing:
        raise MergeError(f"shard(s) {', '.join(f'{k}/{n}' for k in missing)} not graded yet")
    for key in ("class", "lessons", "sandbox", "commit"):
        if len({json.dumps(d.get(key)) for d in documents}) != 1:
            raise MergeError(f"the shards differ in {key}: they were not graded as one class (same submission "
                             f"folder, LESSONS, options and grader commit)")
    by_name = {learner["name"]: LearnerGrade.from_json(learner) for d in documents for learner in d["learners"]}
    order = documents[0]["class"]
    if set(by_name) != set(order):
        raise MergeError("the shards do not hold exactly the class's learners")
    return {"grades": [by_name[name] for name in order], "lessons": documents[0]["lessons"],
            "sandbox": documents[0]["sandbox"], "commit": documents[0]["commit"],
            "graded_at": min(d["graded_at"] for d in documents)}
