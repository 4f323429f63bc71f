"""A trained model on disk, in a safe format, for ``make recommend`` and ``make similar``.

One folder per model under ``outputs/models/<kind>/``:

    model.json    what the model is and everything that is not a tensor: "format", "kind",
                  where and how it was trained, whose code trained it ("code": the mode,
                  the learner's lessons folder, whose each lesson was, and the path), its
                  metrics, the catalogue (movie ids, titles, genres, in row order) and the
                  user-context layout
    tensors.pt    a plain dict of CPU tensors, written with torch.save and read back with
                  torch.load(weights_only=True): never an arbitrary pickled object

Tensors of every kind: lesson 5's seven parameters by their ``Params`` names, and
``item_vectors`` ``[M, D]`` (each catalogue movie's vector: lesson 7's combined embedding for
the MSE model, lesson 5's item tower for the retrieval model). A user's score for movie i is
``item_vectors[i] · tanh(context @ user_W + user_b)``, for every kind: lesson 9's
``score_catalogue``.

Kinds: ``two-tower-mse`` (lessons 1-9) and ``softmax-two-tower`` (the retrieval model of
lesson 12); ``make demo`` saves both, each with its NDCG@10 on held-out users (lesson 10),
and ``choose`` picks the one with the better ranking metric and says why.
"""
from __future__ import annotations

import difflib
import json
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import torch

from course.containers import ContextIndex, Params
from course.paths import OUTPUT_DIR, REPO
from recommender import code as learner_code

FORMAT = 2
MODELS_DIR = OUTPUT_DIR / "models"
META_FILE, TENSOR_FILE = "model.json", "tensors.pt"
TENSORS = (*Params.NAMES, "item_vectors")
# kind -> how the model is named to the learner
KINDS = {"two-tower-mse": "the two-tower model of lessons 1-9 (trained on ratings, mean squared error)",
         "softmax-two-tower": "the retrieval two-tower of lesson 12 (trained with a softmax over the catalogue)"}
# The metric that decides between kinds, higher is better (lesson 10's ranking evaluation).
RANKING_METRIC = "ndcg@10"
MAKE_ONE = "`make demo` trains one and saves it (a few minutes on ml-latest-small)"
# make similar and make recommend answer with these lessons' functions (lesson 8's similar
# titles, lesson 9's persona context, scores, top n and greeting).
ANSWERING_LESSONS = (8, 9)


class ModelError(Exception):
    """No usable saved model; the message says what to run."""


class UnknownTitle(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def print_answer(make_answer: Callable[[], str]) -> int:
    """Print what ``make_answer()`` returns (exit status 0), or, when no model, title or
    genre fits, the reason as one sentence on stderr (exit status 2). An error in the
    learner's lesson 8 or 9 code is named with the check to run (exit status 1)."""
    try:
        print(make_answer())
    except (ModelError, UnknownTitle, ValueError) as error:
        text = str(error)
        print(text[:1].upper() + text[1:], file=sys.stderr)
        return 2
    except LearnerCodeError as error:
        print(str(error), file=sys.stderr)
        return 1
    return 0


class LearnerCodeError(Exception):
    """The learner's lesson 8 or 9 function failed while answering; the message says which."""


def answering_code(model: "SavedModel") -> learner_code.Code:
    """The lessons 8-9 that answer for ``model``: the reference's for a model the reference
    trained (``make demo CODE=reference``), else the learner's where written (the lessons
    folder that trained it), the reference's elsewhere."""
    if model.trained_by_reference:
        return learner_code.select("reference", lessons=ANSWERING_LESSONS)
    return learner_code.select("auto", model.lessons_folder, lessons=ANSWERING_LESSONS)


def run_learner_code(code: learner_code.Code, work: Callable[[], str]) -> str:
    """``work()``, with an exception raised in the learner's code said in words."""
    try:
        return work()
    except (ModelError, UnknownTitle) as error:
        raise error
    except Exception as error:  # noqa: BLE001 - any bug of the learner's, said in words
        if not code.learner_files:
            raise
        raise LearnerCodeError(learner_code.explain_failure(error, code)) from error


# ---------------------------------------------------------------- saving

def save(folder: Path, kind: str, tensors: dict[str, torch.Tensor], movie_ids: list[int], titles: list[str],
         genres: list[tuple[str, ...]], context_index: ContextIndex, info: dict) -> Path:
    """Write a model folder (see the module docstring); returns the folder."""
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(KINDS)}")
    missing = set(TENSORS) - set(tensors)
    if missing:
        raise ValueError(f"a saved model needs the tensors {sorted(missing)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plain = {name: tensors[name].detach().to("cpu", torch.float32).contiguous().clone() for name in TENSORS}
    meta = {
        "format": FORMAT,
        "kind": kind,
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **info,
        "movies": {"id": [int(m) for m in movie_ids], "title": list(titles),
                   "genres": [list(g) for g in genres]},
        "context": {"size": int(context_index.size),
                    "movie_slot": {str(k): int(v) for k, v in context_index.movie_slot.items()},
                    "genre_slot": {str(k): int(v) for k, v in context_index.genre_slot.items()}},
        "tensors": {name: list(t.shape) for name, t in plain.items()},
    }
    torch.save(plain, folder / TENSOR_FILE)
    (folder / META_FILE).write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    return folder


# ---------------------------------------------------------------- loading

@dataclass
class SavedModel:
    folder: Path
    meta: dict
    tensors: dict[str, torch.Tensor]

    @property
    def kind(self) -> str:
        return self.meta["kind"]

    @property
    def description(self) -> str:
        return KINDS[self.kind]

    @property
    def movie_ids(self) -> list[int]:
        return self.meta["movies"]["id"]

    @property
    def titles(self) -> list[str]:
        return self.meta["movies"]["title"]

    @property
    def context_index(self) -> ContextIndex:
        c = self.meta["context"]
        return ContextIndex({int(k): v for k, v in c["movie_slot"].items()}, dict(c["genre_slot"]), c["size"])

    @property
    def genres(self) -> list[str]:
        return sorted(self.meta["context"]["genre_slot"])

    @property
    def metrics(self) -> dict:
        return self.meta.get("metrics", {})

    @property
    def params(self) -> Params:
        """Lesson 5's parameters of the model (for lesson 9's ``score_catalogue``)."""
        return Params(*(self.tensors[name] for name in Params.NAMES))

    @property
    def item_vectors(self) -> torch.Tensor:
        return self.tensors["item_vectors"]

    @property
    def code(self) -> dict:
        """Whose code trained the model: model.json's "code" record (recommender.code)."""
        return self.meta.get("code", {})

    @property
    def lessons_folder(self) -> Path:
        """The folder of the learner's lessons that trained the model (repository-relative
        in the record)."""
        folder = Path(self.code.get("lessons_folder", "lessons"))
        return folder if folder.is_absolute() else REPO / folder

    @property
    def trained_by_reference(self) -> bool:
        return self.code.get("mode", "reference") == "reference"

    def provenance(self) -> str:
        m = self.meta
        bits = [f"trained by `{m.get('command', 'make demo')}` on {m.get('source', 'unknown data')}"]
        if m.get("saved_at"):
            bits.append(f"saved {m['saved_at']}")
        if self.code.get("summary"):
            bits.append(f"code: {self.code['summary']}, {self.code.get('path', 'textbook')} path")
        return "; ".join(bits)


def load(folder: Path) -> SavedModel:
    """Read one model folder, checking its format, kind and tensors."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / META_FILE).read_text())
    except FileNotFoundError:
        raise ModelError(f"no saved model in {folder}: {MAKE_ONE}.") from None
    except json.JSONDecodeError as error:
        raise ModelError(f"{folder / META_FILE} is damaged ({error}): {MAKE_ONE} again.") from None
    if meta.get("format") != FORMAT or meta.get("kind") not in KINDS:
        raise ModelError(f"{folder} holds a model of format {meta.get('format')!r} and kind {meta.get('kind')!r}, "
                         f"which this version of the course cannot read: {MAKE_ONE} again.")
    try:
        tensors = torch.load(folder / TENSOR_FILE, map_location="cpu", weights_only=True)
    except Exception as error:  # missing, truncated, or not plain tensors
        raise ModelError(f"{folder / TENSOR_FILE} cannot be read ({type(error).__name__}): {MAKE_ONE} again.") from None
    shapes = meta.get("tensors", {})
    if (not isinstance(tensors, dict) or set(tensors) != set(TENSORS)
            or any(not isinstance(tensors[n], torch.Tensor) or list(tensors[n].shape) != shapes.get(n)
                   for n in TENSORS)):
        raise ModelError(f"{folder} does not hold the tensors {', '.join(TENSORS)}: {MAKE_ONE} again.")
    return SavedModel(folder, meta, tensors)


def available(models_dir: Path = MODELS_DIR) -> list[SavedModel]:
    """Every readable model under ``models_dir``; ModelError when there is none."""
    folders = sorted(p.parent for p in Path(models_dir).glob(f"*/{META_FILE}"))
    if not folders:
        raise ModelError(f"there is no saved model yet (looked in {models_dir}): {MAKE_ONE}.")
    models, problems = [], []
    for folder in folders:
        try:
            models.append(load(folder))
        except ModelError as error:
            problems.append(str(error))
    if not models:
        raise ModelError(" ".join(problems))
    return models


def choose(models: list[SavedModel]) -> tuple[SavedModel, str]:
    """The model to answer with, and a sentence saying which and why."""
    if len(models) == 1:
        return models[0], f"Model: {models[0].description} (the only saved model)."
    ranked = [m for m in models if RANKING_METRIC in m.metrics]
    if ranked:
        best = max(ranked, key=lambda m: m.metrics[RANKING_METRIC])
        others = "; ".join(f"{m.kind} {m.metrics[RANKING_METRIC]:.3f}" for m in ranked if m is not best)
        return best, (f"Model: {best.description}, the better of the saved models by {RANKING_METRIC.upper()} "
                      f"on held-out users ({best.metrics[RANKING_METRIC]:.3f}; {others or 'no other measured'}).")
    newest = max(models, key=lambda m: m.meta.get("saved_at", ""))
    return newest, f"Model: {newest.description} (the newest saved model; none has a ranking metric yet)."


# ---------------------------------------------------------------- forgiving title matching

YEAR = re.compile(r"\s*\((\d{4})(?:[-–]\d{4})?\)\s*$")
ARTICLES = ("the", "a", "an")


def title_key(title: str) -> tuple[str, str | None]:
    """``(name, year)`` with case, punctuation, bracketed alternative titles and a leading
    or trailing article ignored: 'Matrix, The (1999)' and 'the matrix' both give 'matrix'."""
    text = title.strip()
    year = None
    found = YEAR.search(text)
    if found:
        year, text = found.group(1), text[:found.start()]
    text = re.sub(r"\s*\([^)]*\)", "", text) or text   # "Seven (a.k.a. Se7en)" -> "Seven"
    text = text.lower().replace("&", " and ")
    trailing = re.fullmatch(r"(.*), (the|a|an)", text.strip())
    if trailing:
        text = trailing.group(1)
    text = re.sub(r"[^\w\s]", " ", text)
    words = text.split()
    if len(words) > 1 and words[0] in ARTICLES:
        words = words[1:]
    return " ".join(words), year


def find_title(query: str, titles: list[str]) -> int:
    """The row of the title ``query`` names (titles in catalogue order, most-rated first):
    exact, then the same name and year, then the same name (the most-rated one). An
    unknown title raises :class:`UnknownTitle` with "did you mean" suggestions, found like
    lesson 9's resolve_title (difflib, up to three, cutoff 0.5) plus titles that contain
    the words asked for."""
    if query in titles:
        return titles.index(query)
    name, year = title_key(query)
    bare_year = re.fullmatch(r"(.*?)\s+((?:18|19|20)\d\d)", name)
    if year is None and bare_year and any(title_key(t) == (bare_year.group(1), bare_year.group(2)) for t in titles):
        name, year = bare_year.group(1), bare_year.group(2)   # "enigma 1974"
    keys = [title_key(t) for t in titles]
    for row, (key_name, key_year) in enumerate(keys):
        if key_name == name and (year is None or key_year == year):
            return row
    names = list(dict.fromkeys(k for k, _ in keys))
    containing = [t for t, (k, _) in zip(titles, keys) if name and re.search(rf"\b{re.escape(name)}\b", k)][:3]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    close_titles = [titles[next(i for i, (k, _) in enumerate(keys) if k == c)] for c in close]
    suggestions = list(dict.fromkeys([*containing, *close_titles]))[:5]
    hint = ("; did you mean " + " or ".join(f'"{t}"' for t in suggestions) + "?") if suggestions else \
        " (nor anything close to it)."
    year_note = f" from {year}" if year and any(k == name for k, _ in keys) else ""
    raise UnknownTitle(f'no movie called "{query}"{year_note} in the model\'s catalogue{hint}')


def find_genre(query: str, genres: list[str]) -> str:
    """The genre named ``query``, ignoring case, spaces and hyphens; ValueError listing the valid ones."""
    def simple(text: str) -> str:
        return re.sub(r"[\s_-]", "", text.lower())
    for genre in genres:
        if simple(genre) == simple(query):
            return genre
    raise ValueError(f'"{query}" is not a genre of this model; the genres are: {", ".join(genres)}')


def split_list(text: str | None, separators: str = ";") -> list[str]:
    """'toy story; finding nemo' -> ['toy story', 'finding nemo'] (empty parts dropped)."""
    if not text:
        return []
    return [part.strip() for part in re.split(f"[{re.escape(separators)}]", text) if part.strip()]
