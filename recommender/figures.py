"""The map of movie embeddings that ``make demo`` draws (``outputs/movie_map.png``)."""
from __future__ import annotations

import re
from pathlib import Path

import torch

from course.containers import PreparedData

MAP_MOVIES = 40          # the most-rated movies drawn on the embedding map
# The genre that names a movie's colour on the map: the first of these it has.
MAP_GENRES = ("Animation", "Children", "Horror", "Sci-Fi", "Fantasy", "War", "Crime", "Romance",
              "Comedy", "Action", "Thriller", "Drama")


def short_title(title: str, width: int = 28) -> str:
    """A label for the map: 'Matrix, The (1999)' -> 'The Matrix'. A long title keeps its
    subtitle ('Star Wars: Episode IV - A New Hope' -> 'A New Hope'), then is cut."""
    name = re.sub(r"\s*\(\d{4}(?:-\d{4})?\)\s*$", "", title)
    name = re.sub(r"\s*\(.*?\)", "", name) or name  # alternative titles in brackets
    match = re.fullmatch(r"(.*), (The|A|An)", name)
    if match:
        name = f"{match.group(2)} {match.group(1)}"
    if len(name) > width and ":" in name:
        name = name.split(":", 1)[1].split(" - ")[-1].strip() or name
    return name if len(name) <= width else name[:width - 1].rstrip() + "…"


def plot_embedding_map(combined: torch.Tensor, data: PreparedData, path: Path,
                       num_movies: int = MAP_MOVIES) -> Path:
    """PCA of the combined embeddings of the most-rated movies, one labelled dot each."""
    from matplotlib.figure import Figure

    rows = list(range(min(num_movies, len(data.top_movies))))
    points = combined[rows].detach().cpu().double()
    points = points - points.mean(dim=0)
    # The two directions along which these embeddings vary most (principal components).
    _, _, vh = torch.linalg.svd(points, full_matrices=False)
    xy = (points @ vh[:2].T).numpy() if vh.shape[0] >= 2 else torch.zeros((len(rows), 2)).numpy()

    figure = Figure(figsize=(11, 8))
    axes = figure.subplots()
    colours: dict[str, str] = {}
    for i, row in enumerate(rows):
        movie_id = data.top_movies[row]
        genres = data.maps.genres_by_id.get(movie_id, ())
        group = next((g for g in MAP_GENRES if g in genres), "other")
        first = group not in colours
        colours.setdefault(group, f"C{len(colours) % 10}")
        axes.scatter(xy[i, 0], xy[i, 1], color=colours[group], s=30, label=group if first else None)
        axes.annotate(short_title(data.maps.title_by_id[movie_id]), (xy[i, 0], xy[i, 1]), fontsize=7,
                      xytext=(3, 3), textcoords="offset points")
    axes.legend(title="genre", fontsize=8, loc="best")
    axes.set_title(f"Combined embeddings of the {len(rows)} most-rated movies (PCA, 2 components)")
    axes.set_xlabel("first principal component")
    axes.set_ylabel("second principal component")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path
