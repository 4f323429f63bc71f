"""A trained model on disk, in a safe format, for ``make recommend`` and ``make similar``.

One folder per model under ``outputs/models/<kind>/``:

    model.json    what the model is and everything that is not a tensor: "format", "kind",
                  where and how it was trained, whose code trained it ("code": the mode,
                  the learner's lessons folder, whose each lesson was, and the path), its
                  metrics, the catalogue (movie ids, titles, genres, in row order) and the
                  user-context layout
    tensors.pt    a plain dict of CPU tensors, written with torch.save and read back with
                  torch.load(weights_only=True): never an arbitrary pickled object

Tensors of the two kinds of lesson 5: its seven parameters by their ``Params`` names, and
``item_vectors`` ``[M, D]`` (each catalogue movie's vector: lesson 7's combined embedding for
the MSE model, lesson 5's item tower for the retrieval model). A user's score for movie i is
``item_vectors[i] · tanh(context @ user_W + user_b)``: lesson 9's ``score_catalogue``.
Lesson 13's kind keeps its four tensors, ``W``, ``b``, ``V`` and ``c`` (``AutoencoderParams``),
and in model.json its settings ``normalise`` and ``nonlinear``; a newcomer is scored by its
``newcomer_scores`` (recommender/newcomers.py), a movie's neighbours by its ``similar_movies``.

Kinds: ``two-tower-mse`` (lessons 1-9), ``softmax-two-tower`` (the retrieval model of lesson
12) and ``autoencoder-two-tower`` (lesson 13); ``make demo`` saves each with its NDCG@10 on
held-out users (lesson 10), and ``choose`` says which answers and why.
"""
from __future__ import annotations

import difflib
import functools
import json
import re
import sys
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import torch

from course.containers import AutoencoderParams, ContextIndex, Params
from course.paths import OUTPUT_DIR, REPO
from recommender import code as learner_code

FORMAT = 2
MODELS_DIR = OUTPUT_DIR / "models"
META_FILE, TENSOR_FILE = "model.json", "tensors.pt"
TENSORS = (*Params.NAMES, "item_vectors")
AUTOENCODER_KIND = "autoencoder-two-tower"
AUTOENCODER_TENSORS = ("W", "b", "V", "c")
# kind -> how the model is named to the learner
KINDS = {"two-tower-mse": "the two-tower model of lessons 1-9 (trained on ratings, mean squared error)",
         "softmax-two-tower": "the retrieval two-tower of lesson 12 (trained with a softmax over the catalogue)",
         AUTOENCODER_KIND: "the autoencoder two-tower of lesson 13 (its user tower reads the whole history)"}
# The metric that decides between kinds, higher is better (lesson 10's ranking evaluation).
RANKING_METRIC = "ndcg@10"
MAKE_ONE = "`make demo` trains one and saves it (a few minutes on ml-latest-small)"
# make similar and make recommend answer with these lessons' functions (lesson 8's similar
# titles, lesson 9's persona context, scores, top n and greeting) for a model of lesson 5's
# kinds; for lesson 13's, with lesson 13's newcomer_scores and similar_movies, and lesson 9's
# top n and greeting.
ANSWERING_LESSONS = (8, 9)
AUTOENCODER_ANSWERING_LESSONS = (9, 13)


def tensor_names(kind: str) -> tuple[str, ...]:
    return AUTOENCODER_TENSORS if kind == AUTOENCODER_KIND else TENSORS


def answering_lessons(model: "SavedModel") -> tuple[int, ...]:
    """The lessons whose functions answer make recommend and make similar for ``model``."""
    return AUTOENCODER_ANSWERING_LESSONS if model.kind == AUTOENCODER_KIND else ANSWERING_LESSONS


def lesson_13_answers(code_record: dict) -> bool:
    """Whether a lesson-13 model may answer, from model.json's "code": its lesson 13 is the
    learner's (all of it or part), or the run was the reference's throughout (CODE=reference)."""
    return (code_record.get("mode", "reference") == "reference"
            or code_record.get("whose", {}).get("13", learner_code.REFERENCE) != learner_code.REFERENCE)


class ModelError(Exception):
    """No usable saved model; the message says what to run."""


class UnknownTitle(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def print_answer(make_answer: Callable[[], str]) -> int:
    """Print what ``make_answer()`` returns (exit status 0), or, for a request that cannot be
    answered (no saved model, an unknown or ambiguous title, a genre among the titles, an
    unknown genre, a genre both loved and hated), the reason on stderr, one sentence per
    problem (exit status 2: refused; the Makefile's recipes end quietly on it). An error in
    the learner's lesson 8 or 9 code is named with the check to run (exit status 1)."""
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
    lessons = answering_lessons(model)
    if model.trained_by_reference:
        return learner_code.select("reference", lessons=lessons)
    return learner_code.select("auto", model.lessons_folder, lessons=lessons)


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
    missing = set(tensor_names(kind)) - set(tensors)
    if missing:
        raise ValueError(f"a saved model needs the tensors {sorted(missing)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plain = {name: tensors[name].detach().to("cpu", torch.float32).contiguous().clone()
             for name in tensor_names(kind)}
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
    def autoencoder_params(self) -> AutoencoderParams:
        """Lesson 13's parameters (an ``autoencoder-two-tower`` model)."""
        return AutoencoderParams(*(self.tensors[name] for name in AUTOENCODER_TENSORS))

    @property
    def movie_genres(self) -> list[list[str]]:
        return self.meta["movies"]["genres"]

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
    shapes, names = meta.get("tensors", {}), tensor_names(meta["kind"])
    if (not isinstance(tensors, dict) or set(tensors) != set(names)
            or any(not isinstance(tensors[n], torch.Tensor) or list(tensors[n].shape) != shapes.get(n)
                   for n in names)):
        raise ModelError(f"{folder} does not hold the tensors {', '.join(names)}: {MAKE_ONE} again.")
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
    """The model to answer with, and a sentence saying which and why.

    Lesson 13's model answers whenever it is saved and :func:`lesson_13_answers` (the
    learner wrote lesson 13, or CODE=reference trained it): it answers a newcomer's few titles
    with the films those titles call for (the lift of ``newcomer_scores``), where lesson 5's
    models answer short queries with a popular canon. A learner who has not written lesson 13
    gets the better of their other models: the lesson-13 model that the reference's code
    trained in place of their stub is passed over, and the sentence says so. Among lesson 5's
    kinds, the better by NDCG@10 on held-out users answers."""
    autoencoders = [m for m in models if m.kind == AUTOENCODER_KIND]
    answering = [m for m in autoencoders if lesson_13_answers(m.code)]
    if answering:
        best = answering[0]
        others = "; ".join(f"{m.kind} {m.metrics[RANKING_METRIC]:.3f}" for m in models
                           if RANKING_METRIC in m.metrics and m is not best)
        measured = (f"; {RANKING_METRIC.upper()} on held-out users {best.metrics[RANKING_METRIC]:.3f}, "
                    f"{others or 'no other measured'}" if RANKING_METRIC in best.metrics else "")
        return best, (f"Model: {best.description}, which answers a newcomer's few titles with the films they "
                      f"lift (lesson 13's newcomer_scores{measured}).")
    models = [m for m in models if m.kind != AUTOENCODER_KIND]
    if not models:
        raise ModelError("the only saved model is lesson 13's, trained by the reference's lesson 13 in place of "
                         f"your stub: write lesson 13 (`make check LESSON=13`), then {MAKE_ONE}.")
    model, which = _better_ranking(models)
    if autoencoders:
        which += (" (Lesson 13's model is saved too, trained by the reference's lesson 13 in place of your stub; "
                  "it answers once you have written lesson 13 and run make demo again.)")
    return model, which


def _better_ranking(models: list[SavedModel]) -> tuple[SavedModel, str]:
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


# ---------------------------------------------------------------- titles as people type them
#
# How a typed title finds its movie (``find_title``):
#  1. A title spelt exactly as the catalogue writes it ("Matrix, The (1999)") is that movie.
#  2. Otherwise titles are compared by their names: the name before any brackets, each
#     alternative title MovieLens keeps in brackets ("City of God (Cidade de Deus)", "Seven
#     (a.k.a. Se7en)") and the whole title, each with accents folded ("Amelie" = "Amélie"),
#     case, punctuation, apostrophes, "&"/"and" and an article at either end ignored ("The
#     Matrix" = "Matrix, The"; "Le fabuleux destin d'Amélie Poulain" = "Fabuleux destin
#     d'Amélie Poulain, Le"). A year, in brackets or as the last word ("matrix 1999"), keeps
#     only that year's films; a last word that cannot be one ("blade runner 2049") stays part
#     of the name.
#  3. The candidates, in four tiers, the first that has any deciding: the films with exactly
#     that name; else those whose name begins with it ("shawshank"); else those whose name
#     holds it as whole words ("return of the king"); else those whose name has every one of
#     its words ("star wars new hope"). One film is the answer. Several are
#     listed for the user to pick from (AmbiguousTitle), never picked silently, with one
#     exception that keeps the obvious answers: a single film of exactly that name answers
#     even when longer titles begin with the name ("toy story" is Toy Story, not Toy Story 2),
#     as long as it is the most rated of them; when a longer title is rated more, the name more
#     likely means the series, and all are listed ("lord of the rings": the trilogy before the
#     1978 film). Titles spelt identically (MovieLens lists a few films twice) count as one.
#  4. Nothing: UnknownTitle, with "did you mean" suggestions (difflib, as in lesson 9's
#     resolve_title, on the folded names).
# The catalogue is in lesson 1's order, most rated first, so "rated more" is "earlier".

YEAR = re.compile(r"\s*\((\d{4})(?:[-–]\d{4})?\)\s*$")
BARE_YEAR = re.compile(r"(.*?\S)[\s,]+((?:18|19|20)\d\d)")   # "matrix 2003"
ARTICLES = ("the", "a", "an")
# Articles that MovieLens moves to the end of a name, in English and in the languages of the
# original titles it keeps: "Matrix, The", "Fabuleux destin d'Amélie Poulain, Le",
# "Sjunde inseglet, Det", "Auberge espagnole, L'".
TRAILING_ARTICLES = frozenset(("the", "a", "an", "le", "la", "les", "l'", "il", "lo", "gli", "i", "el", "los", "las",
                               "die", "der", "das", "den", "det", "de", "het", "een", "ein", "eine", "un", "une",
                               "una", "uno", "o", "os", "as", "en"))
# Letters that Unicode does not decompose into a base letter and an accent.
FOLDED_LETTERS = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d",
                                "þ": "th", "ı": "i"})
MAX_CHOICES = 8   # an ambiguous title lists at most this many films (the most rated)


class AmbiguousTitle(UnknownTitle):
    """A title that names several films; ``rows`` are the choices, most rated first."""

    def __init__(self, message: str, rows: list[int]):
        super().__init__(message)
        self.rows = rows


def fold(text: str) -> str:
    """Lower case without accents: 'Amélie' -> 'amelie', 'Alien³' -> 'alien3', 'Straße' -> 'strasse'."""
    text = unicodedata.normalize("NFKD", text.lower()).translate(FOLDED_LETTERS)
    return "".join(c for c in text if not unicodedata.combining(c))


def _plain(text: str, hyphen: str) -> str:
    """Folded text as words: initials closed up ('E.T.' -> 'et'), apostrophes dropped
    ('schindler's' -> 'schindlers'), '&' as 'and', a hyphen (or the dot of 'WALL·E') as
    ``hyphen``, other punctuation as a space."""
    text = re.sub(r"\b(?:\w\.){2,}", lambda m: m.group().replace(".", ""), fold(text))
    text = re.sub(r"['’ʼ`´]", "", text).replace("&", " and ")
    text = re.sub(r"(?<=\w)[-‐·](?=\w)", hyphen, text)
    return " ".join(re.sub(r"[^\w\s]|_", " ", text).split())


def _name_forms(name: str) -> set[str]:
    """The forms one name is known by: with hyphens as spaces and closed up ('spider man',
    'spiderman'), a trailing article moved to the front and dropped ('Matrix, The' -> 'the
    matrix', 'matrix'), a leading English article dropped."""
    text = re.sub(r"^\s*(?:a\.k\.a\.|aka)\s+", "", fold(name)).strip()
    variants = {text}
    trailing = re.fullmatch(r"(.*\S)\s*,\s*([\w']+)", text)
    if trailing and trailing.group(2) in TRAILING_ARTICLES:
        body, article = trailing.groups()
        variants |= {body, article + body if article.endswith("'") else f"{article} {body}"}
    forms = set()
    for variant in variants:
        for plain in {_plain(variant, " "), _plain(variant, "")}:
            words = plain.split()
            if words:
                forms.add(plain)
                if len(words) > 1 and words[0] in ARTICLES:
                    forms.add(" ".join(words[1:]))
    return forms


@functools.lru_cache(maxsize=1 << 16)
def title_names(title: str) -> tuple[frozenset[str], str | None]:
    """``(forms, year)``: every form the title's names take (the name before the brackets,
    each bracketed alternative title, the whole title) and its year, or None.
    'Seven (a.k.a. Se7en) (1995)' gives {'seven', 'se7en', 'seven se7en', ...} and '1995'."""
    text = title.strip()
    year = None
    found = YEAR.search(text)
    if found:
        year, text = found.group(1), text[:found.start()]
    main = re.sub(r"\s*\([^)]*\)", " ", text).strip()
    alternatives = re.findall(r"\(([^()]*)\)", text)
    whole = re.sub(r"\(\s*(?:a\.k\.a\.|aka)\s+", "(", text, flags=re.IGNORECASE)
    forms = set()
    for name in (main, *alternatives, whole):
        forms |= _name_forms(name)
    return frozenset(forms), year


def title_key(title: str) -> tuple[str, str | None]:
    """``(name, year)``: the name before any brackets, folded, without punctuation or an
    article at either end: 'Matrix, The (1999)' and 'the matrix' both give 'matrix'."""
    year = title_names(title)[1]
    text = YEAR.sub("", title.strip())
    forms = _name_forms(re.sub(r"\s*\([^)]*\)", " ", text).strip() or text)
    return (min(forms, key=lambda f: (len(f), f)) if forms else ""), year


def _readings(query: str) -> list[tuple[frozenset[str], str | None, str]]:
    """The ways to read a typed title, the likelier first: ``(forms, year, name as typed)``.
    'matrix 2003' is read as "matrix" of 2003, then as a film called "matrix 2003"."""
    text = query.strip()
    forms, year = title_names(text)
    if year:
        return [(forms, year, YEAR.sub("", text).strip())]
    bare = BARE_YEAR.fullmatch(text)
    readings = [(title_names(bare.group(1))[0], bare.group(2), bare.group(1))] if bare else []
    return [*readings, (forms, None, text)]


def _tiers(forms: frozenset[str], year: str | None, titles: list[str]) -> tuple[list[int], ...]:
    """Rows whose names are exactly one of ``forms``, begin with one, hold one as whole
    words, or have all the words of one (each row in its best tier only), of ``year`` when
    given; catalogue order."""
    exact, prefix, inside, words = [], [], [], []
    form_words = [set(form.split()) for form in forms]
    for row, title in enumerate(titles):
        names, title_year = title_names(title)
        if year is not None and title_year != year:
            continue
        if forms & names:
            exact.append(row)
        elif any(name.startswith(form + " ") for form in forms for name in names):
            prefix.append(row)
        elif any(f" {form} " in f" {name} " for form in forms for name in names):
            inside.append(row)
        elif any(wanted <= set(name.split()) for wanted in form_words for name in names):
            words.append(row)
    return exact, prefix, inside, words


def _one_per_title(rows: list[int], titles: list[str]) -> list[int]:
    """``rows`` without repeats of a title spelt identically (the first, most rated, kept)."""
    seen: set[str] = set()
    return [row for row in rows if not (titles[row] in seen or seen.add(titles[row]))]


def _choose(titles: list[str], exact: list[int], prefix: list[int], *looser: list[int]) -> list[int]:
    """The films the typed title may mean, by the rule above (one row: the answer)."""
    exact, prefix, *looser = (_one_per_title(rows, titles) for rows in (exact, prefix, *looser))
    if len(exact) == 1 and all(exact[0] < row for row in prefix):
        return exact
    if exact:
        return sorted(exact + prefix)
    return next((rows for rows in (prefix, *looser) if rows), [])


def _or_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _ambiguous(query: str, name: str, rows: list[int], titles: list[str]) -> AmbiguousTitle:
    shown = [f'"{titles[row]}"' for row in rows[:MAX_CHOICES]]
    if len(rows) > MAX_CHOICES:
        shown[-1] += f" and {len(rows) - MAX_CHOICES} more (the most rated are listed)"
    years = [title_names(titles[row])[1] for row in rows]
    if None not in years and len(set(years)) == len(years):
        how = f'add its year ("{name} {years[0]}") or copy its title as listed'
    else:
        how = "give more of its title, or copy it as listed"
    return AmbiguousTitle(f'"{query}" matches {len(rows)} movies: {_or_list(shown)}; say which: {how}', rows)


def genre_named(query: str, genres: Sequence[str]) -> str | None:
    """The genre ``query`` names, if it names one ('horror', 'Sci Fi', 'horror movies'), else None."""
    def simple(text: str) -> str:
        return re.sub(r"[\s_-]", "", fold(text))
    wanted = simple(re.sub(r"\s+(?:movies?|films?)\s*$", "", query.strip(), flags=re.IGNORECASE))
    return next((genre for genre in genres if simple(genre) == wanted), None)


def find_title(query: str, titles: list[str], genres: Sequence[str] = (),
               genre_advice: str = "name it as a genre") -> int:
    """The row of the film ``query`` names, in ``titles`` (catalogue order, most rated
    first), by the rule at the head of this section. A title naming several films raises
    :class:`AmbiguousTitle` listing them; an unknown one :class:`UnknownTitle` with "did you
    mean" suggestions. A query that is one of ``genres`` raises UnknownTitle saying it is a
    genre, followed by ``genre_advice`` (formatted with ``genre``)."""
    if query in titles:
        return titles.index(query)
    genre = genre_named(query, genres)
    if genre and not title_names(query)[1]:
        films = _one_per_title(_tiers(title_names(query)[0], None, titles)[0], titles)
        film = (f'; for the film{"s" if len(films) > 1 else ""} of that name, add the year: '
                + _or_list([f'"{query.strip()} {title_names(titles[row])[1]}"' for row in films])) if films else ""
        raise UnknownTitle(f'"{query.strip()}" is a genre, not a movie title: '
                           f'{genre_advice.format(genre=genre)}{film}')
    readings = _readings(query)
    for forms, year, name in readings:
        rows = _choose(titles, *_tiers(forms, year, titles))
        if len(rows) == 1:
            return rows[0]
        if rows:
            raise _ambiguous(query.strip(), name, rows, titles)
    # Nothing: the films of that name in other years, else the closest names.
    forms, year, name = readings[0]
    other_years = _choose(titles, *_tiers(forms, None, titles)) if year else []
    if other_years:
        suggestions = [titles[row] for row in other_years[:5]]
        where = f'no movie called "{name}" from {year} in the model\'s catalogue'
    else:
        by_name: dict[str, int] = {}
        for row, title in enumerate(titles):
            for form in sorted(title_names(title)[0]):
                by_name.setdefault(form, row)
        key = title_key(name)[0]
        close = difflib.get_close_matches(key, list(by_name), n=6, cutoff=0.5) if key else []
        suggestions = list(dict.fromkeys(titles[by_name[c]] for c in close))[:3]
        where = f'no movie called "{query.strip()}" in the model\'s catalogue'
    hint = ("; did you mean " + _or_list([f'"{t}"' for t in suggestions]) + "?") if suggestions else \
        " (nor anything close to it)."
    raise UnknownTitle(where + hint)


def find_genre(query: str, genres: list[str]) -> str:
    """The genre named ``query``, ignoring case, accents, spaces, hyphens and a trailing
    "movies"/"films" (``genre_named``); ValueError listing the valid ones."""
    genre = genre_named(query, genres)
    if genre:
        return genre
    raise ValueError(f'"{query}" is not a genre of this model; the genres are: {", ".join(genres)}')


def split_list(text: str | None, separators: str = ";") -> list[str]:
    """'toy story; finding nemo' -> ['toy story', 'finding nemo'] (empty parts dropped)."""
    if not text:
        return []
    return [part.strip() for part in re.split(f"[{re.escape(separators)}]", text) if part.strip()]
