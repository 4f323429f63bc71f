"""Plain data containers passed between lessons.

They live here, not in a lesson file, so that the learner's stubs and the reference
solutions hand each other exactly the same types.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: keeps `import course.containers` light
    import numpy as np
    import torch


@dataclass(frozen=True)
class MovieMaps:
    """Lookups about movies built in lesson 1."""
    title_by_id: dict[int, str]             # every movie in movies.csv
    id_by_title: dict[str, int]             # duplicate titles resolve to the smallest movieId
    genres_by_id: dict[int, tuple[str, ...]]  # top movies only, genres sorted
    avg_rating_by_id: dict[int, float]      # top movies only
    num_ratings_by_id: dict[int, int]       # top movies only


@dataclass(frozen=True)
class ContextIndex:
    """Slots of the user context vector (lesson 2): context movies first, then genres."""
    movie_slot: dict[int, int]
    genre_slot: dict[str, int]
    size: int


@dataclass(frozen=True)
class Examples:
    """Training examples (lesson 4): one row per (user, label movie)."""
    user_row: torch.Tensor   # int64 [N], row of the user in the user context matrix
    movie_row: torch.Tensor  # int64 [N], row of the movie in the movie index
    target: torch.Tensor     # float32 [N], the label rating minus the user's history mean

    def __len__(self) -> int:
        return int(self.target.shape[0])


@dataclass(frozen=True)
class PreparedData:
    """Everything lessons 1-4 produce, ready for the model (built by solutions.pipeline)."""
    top_movies: list[int]
    maps: MovieMaps
    movie_index: dict[int, int]
    genre_index: dict[str, int]
    context_index: ContextIndex
    user_ids: np.ndarray          # userId of each row of user_context
    user_means: np.ndarray        # float64, each user's mean history rating
    user_context: torch.Tensor    # float32 [num_users, context_size]
    movie_genres: torch.Tensor    # float32 [num_movies, num_genres], multi-hot
    train: Examples
    val: Examples


@dataclass
class Params:
    """The model's trainable tensors (lesson 5), named after what they are.

    Shapes, with G genres, M movies, C user-context slots, F = item feature size and
    E = item id size (the user embedding has F + E entries, to match the item side):
    """
    item_feature_W: torch.Tensor        # [G, F]   genre multi-hot -> item feature embedding
    item_feature_b: torch.Tensor        # [F]
    item_embedding_table: torch.Tensor  # [M, E]   one learned row per movie
    item_id_W: torch.Tensor             # [E, E]   layer on top of the id embedding
    item_id_b: torch.Tensor             # [E]
    user_W: torch.Tensor                # [C, F+E] user context -> user embedding
    user_b: torch.Tensor                # [F+E]

    NAMES = ("item_feature_W", "item_feature_b", "item_embedding_table", "item_id_W", "item_id_b",
             "user_W", "user_b")

    def as_list(self) -> list[torch.Tensor]:
        """All parameters, in the seed post's order."""
        return [getattr(self, name) for name in self.NAMES]

    def clone(self) -> "Params":
        """A detached copy that still requires gradients (for snapshots and checks)."""
        return Params(*(p.detach().clone().requires_grad_(True) for p in self.as_list()))


@dataclass(frozen=True)
class TrainHistory:
    """What training records (lesson 6): full-set losses at every evaluation."""
    steps: list[int]          # the step at which each evaluation happened
    train_loss: list[float]   # mean squared error on the whole training set
    val_loss: list[float]     # mean squared error on the whole validation set
    best_step: int            # step of the lowest validation loss (its parameters are kept)
    stopped_early: bool


@dataclass(frozen=True)
class MovieEmbeddings:
    """Every movie's embeddings (lesson 7), row i for top_movies[i]."""
    id: torch.Tensor        # [M, E]   tanh(table @ item_id_W + item_id_b)
    feature: torch.Tensor   # [M, F]   tanh(genres @ item_feature_W + item_feature_b)
    combined: torch.Tensor  # [M, F+E] feature then id, the vector the user embedding is dotted with


@dataclass
class AutoencoderParams:
    """Lesson 13's autoencoder two-tower, M movies and a hidden layer of H units.

    The user tower is ``tanh(x @ W + b)`` on a user's watched row ``x`` ``[M]``: row i of
    ``W`` is what movie i adds to a user who watched it (its *input* embedding). The item
    tower is ``V`` and ``c``: movie i's score for a user embedding ``h`` is ``h · V[i] + c[i]``.
    """
    W: torch.Tensor   # [M, H]  input embeddings: watched row -> hidden layer
    b: torch.Tensor   # [H]
    V: torch.Tensor   # [M, H]  output embeddings: the item tower
    c: torch.Tensor   # [M]     each movie's bias (its popularity, learnt)

    NAMES = ("W", "b", "V", "c")

    def as_list(self) -> list[torch.Tensor]:
        return [getattr(self, name) for name in self.NAMES]

    def clone(self) -> "AutoencoderParams":
        """A detached copy that still requires gradients."""
        return AutoencoderParams(*(p.detach().clone().requires_grad_(True) for p in self.as_list()))


@dataclass
class AdamState:
    """The hand-written Adam optimiser's memory (lesson 12): the step count and, for every
    parameter in ``as_list()`` order (``Params``, or lesson 13's ``AutoencoderParams``), the running means of its gradient and of its
    squared gradient."""
    step: int
    first: list[torch.Tensor]
    second: list[torch.Tensor]


@dataclass(frozen=True)
class ContextRows:
    """Many users' context rows kept sparse (lesson 12's contexts of every fold at ML-32M size:
    a catalogue-wide row per user, nearly all zeros), read back a few rows at a time.

    ``contexts[rows]`` (a tensor of row numbers, or a slice) gives those rows dense
    ``[len(rows), width]``, exactly as a dense matrix would: lesson 12's loop indexes it like
    one. :meth:`sparse_rows` gives them as a sparse CSR matrix instead (the fast path)."""
    row_starts: torch.Tensor   # int64 [U + 1]: row u's values are values[row_starts[u]:row_starts[u + 1]]
    columns: torch.Tensor      # int64 [nnz]
    values: torch.Tensor       # [nnz], the dtype of the rows given
    width: int

    @staticmethod
    def from_dense(blocks) -> "ContextRows":
        """The rows of dense blocks ``[B_i, width]``, one after the other (``blocks`` may be a
        generator: each block is made sparse before the next is asked for)."""
        return ContextRows.concat(ContextRows._one(block) for block in blocks)

    @staticmethod
    def _one(block: torch.Tensor) -> "ContextRows":
        import torch

        user, column = block.nonzero(as_tuple=True)
        starts = torch.zeros(block.shape[0] + 1, dtype=torch.int64)
        starts[1:] = torch.cumsum(torch.bincount(user, minlength=block.shape[0]), 0)
        return ContextRows(starts, column, block[user, column], block.shape[1])

    @staticmethod
    def concat(pieces) -> "ContextRows":
        """The rows of several ``ContextRows``, one after the other."""
        import torch

        pieces = list(pieces)
        starts, offset = [torch.zeros(1, dtype=torch.int64)], 0
        for piece in pieces:
            starts.append(piece.row_starts[1:] + offset)
            offset += int(piece.row_starts[-1])
        return ContextRows(torch.cat(starts), torch.cat([p.columns for p in pieces]),
                           torch.cat([p.values for p in pieces]), pieces[0].width if pieces else 0)

    def __len__(self) -> int:
        return len(self.row_starts) - 1

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), self.width)

    def _picked(self, rows):
        import torch

        if isinstance(rows, slice):
            rows = torch.arange(len(self))[rows]
        rows = torch.as_tensor(rows, dtype=torch.int64).cpu()
        first, counts = self.row_starts[rows], self.row_starts[rows + 1] - self.row_starts[rows]
        at = torch.repeat_interleave(first - torch.cumsum(counts, 0) + counts, counts) + torch.arange(int(counts.sum()))
        return rows, counts, at

    def __getitem__(self, rows) -> torch.Tensor:
        """Dense rows ``[len(rows), width]`` (a tensor of row numbers or a slice); one row ``[width]``
        for a plain int, as a dense matrix would give."""
        import torch

        if isinstance(rows, int):
            return self[[rows]][0]
        rows, counts, at = self._picked(rows)
        dense = torch.zeros((len(rows), self.width), dtype=self.values.dtype)
        dense[torch.repeat_interleave(torch.arange(len(rows)), counts), self.columns[at]] = self.values[at]
        return dense

    def sparse_rows(self, rows) -> torch.Tensor:
        """The same rows as a sparse CSR matrix ``[len(rows), width]``."""
        import warnings

        import torch

        rows, counts, at = self._picked(rows)
        starts = torch.zeros(len(rows) + 1, dtype=torch.int64)
        starts[1:] = torch.cumsum(counts, 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sparse CSR support is in beta state"
            return torch.sparse_csr_tensor(starts, self.columns[at], self.values[at], size=(len(rows), self.width))

    def to(self, device) -> "ContextRows":
        """The rows stay in CPU memory (the tensors they give can be moved)."""
        return self

    def to_dense(self) -> torch.Tensor:
        return self[slice(None)]
