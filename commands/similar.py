"""``make similar``: the movies nearest to one movie, from the model ``make demo`` saved.

    make similar TITLE="matrix"
    python -m commands.similar --title matrix [-k 10]

The title is matched as people type it (commands/saved_model.py, ``find_title``): case,
accents and punctuation ignored, "The"/"A"/"An" at either end, the alternative titles
MovieLens keeps in brackets ("se7en"), the year optional and picking between films of one
name ("king kong 1933"); a name several films share is answered with the choices. A title
the model cannot answer for is refused with the reason on stderr and exit status 2, and
``make similar`` then ends quietly (as ``make recommend`` does).

Nearness is the Euclidean distance between the saved movie vectors, found with lesson 8's
``similar_titles``: yours when the saved model is one your code trained (``make demo``
without CODE=reference), the reference's otherwise (commands/saved_model.py,
``answering_code``). When lesson 13's model answers, its ``similar_movies`` finds them
instead: the cosine of both of a movie's embeddings (its rows of W and V), which keeps a
film with its sequels.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from commands import saved_model

USAGE = 'make similar TITLE="matrix"'
GENRE_ADVICE = "make similar starts from one movie; for films of a genre, ask make recommend LOVES={genre}"


def answer(title: str, k: int = 10, models_dir: Path = saved_model.MODELS_DIR) -> str:
    if not title.strip():
        raise ValueError(f"which movie? For example: {USAGE}")
    model, which = saved_model.choose(saved_model.available(models_dir))
    row = saved_model.find_title(title, model.titles, model.genres, GENRE_ADVICE)
    found = model.titles[row]
    id_by_title = {found: model.movie_ids[row]}
    title_by_id = dict(zip(model.movie_ids, model.titles))
    code = saved_model.answering_code(model)
    if model.kind == saved_model.AUTOENCODER_KIND:
        lesson = 13
        nearest = saved_model.run_learner_code(code, lambda: [
            model.titles[int(r)] for r in code.l13.similar_movies(model.autoencoder_params, row,
                                                                   min(k, len(model.titles) - 1))])
    else:
        lesson = 8
        nearest = saved_model.run_learner_code(code, lambda: code.l8.similar_titles(
            found, k, model.item_vectors, model.movie_ids, id_by_title, title_by_id))
    lines = [f"Movies most like {found}:", *(f"{i}. {t}" for i, t in enumerate(nearest, 1)), "",
             which, f"({model.provenance()}; answered by {code.owners([lesson])})"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m commands.similar", description=__doc__.split("\n\n")[0])
    parser.add_argument("--title", default="", help="the movie, e.g. matrix")
    parser.add_argument("-k", type=int, default=10, help="how many neighbours")
    parser.add_argument("--models", type=Path, default=saved_model.MODELS_DIR, help="folder of saved models")
    args = parser.parse_args(argv)
    return saved_model.print_answer(lambda: answer(args.title, args.k, args.models))


if __name__ == "__main__":
    sys.exit(main())
