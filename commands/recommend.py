"""``make recommend``: a top 10 for anyone, from the model ``make demo`` saved, without retraining.

    make recommend LIKES="toy story; finding nemo" LOVES=Animation HATES=Horror
    python -m commands.recommend --likes "toy story; finding nemo" --loves Animation --hates Horror

Favourite titles are separated by ";" and matched as people type them (commands/saved_model.py,
``find_title``): case, accents and punctuation ignored, "The"/"A"/"An" at either end, the
alternative titles MovieLens keeps in brackets ("cidade de deus"), the year optional and
picking between films of one name ("matrix 1999"); a name several films share ("lord of the
rings") is answered with the choices. Genres are separated by "," or ";"; a genre cannot be
both loved and hated.

This is lesson 9 for a real person: their context vector (``persona_context``), a score for
every movie of the catalogue, the best ``n`` without the favourites (``recommend``), in the
"Hello, ..." form (``format_recommendations``), with lesson 9's functions on the saved
model: yours when the saved model is one your code trained (``make demo`` without
CODE=reference), the reference's otherwise (commands/saved_model.py, ``answering_code``).
When lesson 13's model answers (commands/saved_model.py, ``choose``), the scores are lesson
13's instead: the lift of the favourites (``newcomer_scores``) with the loved and hated
genres weighted in (recommender/newcomers.py), then lesson 9's ``recommend`` and greeting.

A request the model cannot answer (an unknown or ambiguous title, a genre among the titles,
an unknown genre, a genre both loved and hated, no saved model) is refused with the reason
on stderr and exit status 2; ``make recommend`` then ends quietly (its recipe takes status
2 as "refused, and said why"), so the reason is the last thing on the screen.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from commands import saved_model
from course.config import NUM_RECOMMENDATIONS
from recommender import newcomers

USAGE = 'make recommend LIKES="toy story; finding nemo" LOVES=Animation HATES=Horror'


def answer(likes: list[str], loves: list[str], hates: list[str], name: str = "you", n: int = NUM_RECOMMENDATIONS,
           models_dir: Path = saved_model.MODELS_DIR) -> str:
    """The whole answer as text; raises ModelError, UnknownTitle or ValueError with a message
    meant for the learner."""
    if not (likes or loves or hates):
        raise ValueError(f"tell the model something about you first, for example: {USAGE}")
    model, which = saved_model.choose(saved_model.available(models_dir))
    problems, rows = [], []
    for title in likes:
        try:
            rows.extend(favourite_rows(title, model.titles, model.genres))
        except saved_model.UnknownTitle as error:
            problems.append(str(error))
    liked, hated = [], []
    for wanted, into in ((loves, liked), (hates, hated)):
        for genre in wanted:
            try:
                into.append(saved_model.find_genre(genre, model.genres))
            except ValueError as error:
                problems.append(str(error))
    both = [genre for genre in dict.fromkeys(liked) if genre in hated]
    if both:
        problems.append(f"{' and '.join(both)} {'is' if len(both) == 1 else 'are'} in both LOVES and HATES: a genre "
                        f"can be loved or hated, not both, so take {'it' if len(both) == 1 else 'them'} out of one")
    if problems:
        raise ValueError("\n".join(p[0].upper() + p[1:] for p in problems))
    rows = list(dict.fromkeys(rows))
    liked, hated = list(dict.fromkeys(liked)), list(dict.fromkeys(hated))
    favourite_ids = [model.movie_ids[r] for r in rows]
    strength = float(model.meta["persona_strength"])
    code = saved_model.answering_code(model)
    l9 = code.l9
    lessons = saved_model.answering_lessons(model)

    def scores():
        if model.kind == saved_model.AUTOENCODER_KIND:
            settings = model.meta.get("autoencoder", {})
            return newcomers.scores(code.l13, model.autoencoder_params, rows, model.movie_genres, liked, hated,
                                    settings.get("normalise", True), settings.get("nonlinear", True))
        context = l9.persona_context(liked, hated, favourite_ids, model.context_index, strength)
        return l9.score_catalogue(model.params, context, model.item_vectors)

    def answer_with_lessons() -> str:
        chosen = l9.recommend(scores(), rows, n)
        return l9.format_recommendations(name, liked, hated, [model.titles[r] for r in rows],
                                         [model.titles[r] for r in chosen])
    text = saved_model.run_learner_code(code, answer_with_lessons)
    slots = model.context_index.movie_slot
    # Lesson 13's user tower reads every catalogue movie; lesson 5's only its context's.
    unseen = [] if model.kind == saved_model.AUTOENCODER_KIND else \
        [model.titles[r] for r in rows if model.movie_ids[r] not in slots]
    notes = [which, f"({model.provenance()}; answered by {code.owners([n for n in lessons if n != 8])})"]
    if unseen:
        notes.append(f"(not among the {len(slots)} movies of the user context, so the user tower cannot "
                     f"see them; they are only left out of the list: {'; '.join(unseen)})")
    return "\n".join([text, "", *notes])


GENRE_ADVICE = "genres go in LOVES= (or HATES=), for example LOVES={genre}"


def favourite_rows(title: str, titles: list[str], genres: list[str]) -> list[int]:
    """The catalogue rows of one LIKES entry. An entry that matches nothing but whose
    comma-separated parts each name a film ("toy story, finding nemo": titles separated like
    genres) is read as those films (a part that names several is asked about); otherwise the
    entry's own error stands, with a reminder that titles are separated by ";"."""
    try:
        return [saved_model.find_title(title, titles, genres, GENRE_ADVICE)]
    except saved_model.AmbiguousTitle:
        raise
    except saved_model.UnknownTitle as error:
        parts = saved_model.split_list(title, ",")
        if len(parts) < 2:
            raise
        rows, ambiguous = [], []
        for part in parts:
            try:
                rows.append(saved_model.find_title(part, titles, genres, GENRE_ADVICE))
            except saved_model.AmbiguousTitle as question:
                ambiguous.append(str(question))
            except saved_model.UnknownTitle:
                raise saved_model.UnknownTitle(f'{error} (favourite titles are separated by ";")') from None
        if ambiguous:
            raise saved_model.AmbiguousTitle("\n".join(ambiguous), []) from None
        return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m commands.recommend", description=__doc__.split("\n\n")[0])
    parser.add_argument("--likes", default="", help='favourite titles, separated by ";"')
    parser.add_argument("--loves", default="", help='genres you love, separated by ","')
    parser.add_argument("--hates", default="", help='genres you hate, separated by ","')
    parser.add_argument("--name", default="you", help="who the greeting is for")
    parser.add_argument("-n", type=int, default=NUM_RECOMMENDATIONS, help="how many movies")
    parser.add_argument("--models", type=Path, default=saved_model.MODELS_DIR, help="folder of saved models")
    args = parser.parse_args(argv)
    return saved_model.print_answer(lambda: answer(
        saved_model.split_list(args.likes), saved_model.split_list(args.loves, ",;"),
        saved_model.split_list(args.hates, ",;"), args.name or "you", args.n, args.models))


if __name__ == "__main__":
    sys.exit(main())
