"""The data-only boundary between the grader and a learner's code in the sandbox.

Everything that crosses it is plain data: one JSON document, plus numeric arrays in the
``.npy`` format, each header checked against its bytes (the messages: checks/messages.py). Nothing is ever unpickled and nothing the
other side wrote is imported, so a message can at worst carry wrong *values*, never code.

This module runs on both sides (the sandbox gets a copy), so it imports only the standard
library, numpy, torch, pandas and the course's containers and configs (the ground), never a
reference answer or a check.

Values that cross: None, bool, int, float, str, bytes, list, tuple, dict, set, numpy arrays
and scalars (not object arrays: those become lists), torch tensors (dtype, requires_grad,
whether a leaf, and .grad), torch.Generator (its state), pandas DataFrame / Series / Index
(columns as arrays or lists), pathlib paths, and the dataclasses of course/containers.py and
course/config.py. Anything else is refused with a sentence saying what it was.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import PurePath

import numpy as np

MAX_DEPTH = 60


class BoundaryError(Exception):
    """A value that cannot cross, or a message that is not well formed."""


@functools.cache
def container_classes() -> dict[str, type]:
    """The dataclasses of course/containers.py and course/config.py, by name."""
    from course import config, containers

    return {name: value for module in (containers, config) for name, value in vars(module).items()
            if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__}


# ---------------------------------------------------------------- encoding

class Encoder:
    def __init__(self):
        self.arrays: list[np.ndarray] = []

    def array(self, a: np.ndarray) -> int:
        if a.dtype.hasobject:
            raise BoundaryError("an array of Python objects")
        self.arrays.append(a)
        return len(self.arrays) - 1

    def encode(self, value, depth: int = 0):
        if depth > MAX_DEPTH:
            raise BoundaryError("a value nested too deeply")
        d = depth + 1
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and type(value) in (int,):
            return value if abs(value) < 2 ** 62 else {"$bigint": str(value)}
        if type(value) is float:
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, (bytes, bytearray)):
            return {"$bytes": self.array(np.frombuffer(bytes(value), dtype=np.uint8))}
        if isinstance(value, np.generic):
            if value.dtype.hasobject:
                raise BoundaryError("a numpy object scalar")
            return {"$npscalar": self.array(np.asarray(value).reshape(1))}
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                return {"$objarray": [self.encode(v, d) for v in value.reshape(-1).tolist()],
                        "shape": list(value.shape)}
            return {"$nd": self.array(value)}
        if isinstance(value, PurePath):
            return {"$path": str(value)}
        module = type(value).__module__.split(".")[0]
        if module == "torch":
            return self._torch(value, d)
        if module == "pandas":
            return self._pandas(value, d)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            name = type(value).__name__
            if container_classes().get(name) is not type(value):
                raise BoundaryError(f"a {name} (only the course's own containers cross)")
            return {"$dc": name, "fields": {f.name: self.encode(getattr(value, f.name), d)
                                            for f in dataclasses.fields(value)}}
        # Exact types only: a subclass of list or dict could carry behaviour.
        if type(value) is list:
            return {"$list": [self.encode(v, d) for v in value]}
        if type(value) is tuple:
            return {"$tuple": [self.encode(v, d) for v in value]}
        if type(value) in (set, frozenset):
            return {"$set": [self.encode(v, d) for v in value]}
        if type(value) is dict:
            return {"$dict": [[self.encode(k, d), self.encode(v, d)] for k, v in value.items()]}
        if isinstance(value, int):          # int subclasses (IntEnum...) as plain ints
            return int(value)
        if isinstance(value, float):
            return self.encode(float(value), d)
        raise BoundaryError(f"a {type(value).__module__}.{type(value).__qualname__}")

    def _torch(self, value, d):
        import torch

        if isinstance(value, torch.Generator):
            return {"$generator": self.array(value.get_state().numpy())}
        if isinstance(value, torch.dtype):
            return {"$torchdtype": str(value).replace("torch.", "")}
        if isinstance(value, torch.Tensor) and value.layout == torch.sparse_csr:
            # Lesson 10's interactions: a sparse CSR matrix crosses as its three arrays and size.
            t = value.detach().cpu()
            return {"$csr": [self.array(t.crow_indices().numpy()), self.array(t.col_indices().numpy()),
                             self.array(t.values().numpy())],
                    "shape": [int(n) for n in t.shape], "dtype": str(t.dtype).replace("torch.", "")}
        if isinstance(value, torch.Tensor):
            if type(value) is not torch.Tensor and not isinstance(value, torch.nn.Parameter):
                value = value.as_subclass(torch.Tensor)
            t = value.detach().cpu()
            dtype = str(t.dtype).replace("torch.", "")
            if t.dtype == torch.bfloat16:
                t = t.float()
            grad = value.grad if value.is_leaf else None
            return {"$tensor": self.array(t.numpy()), "dtype": dtype, "rg": bool(value.requires_grad),
                    "leaf": bool(value.is_leaf),
                    "grad": None if grad is None else self._torch(grad, d)}
        raise BoundaryError(f"a {type(value).__qualname__} from torch")

    def _column(self, values, d):
        import pandas as pd

        dtype = values.dtype
        if isinstance(dtype, np.dtype) and not dtype.hasobject:
            return {"$nd": self.array(np.asarray(values))}
        if isinstance(dtype, pd.CategoricalDtype):
            return {"$categorical": self.encode(list(values.astype(object)), d),
                    "categories": self.encode(list(dtype.categories), d), "ordered": bool(dtype.ordered)}
        return {"$objcol": [self.encode(_plain(v), d) for v in list(values)], "dtype": str(dtype)}

    def _index(self, index, d):
        import pandas as pd

        if type(index) is pd.RangeIndex:
            return {"$range": [index.start, index.stop, index.step], "name": self.encode(index.name, d)}
        if isinstance(index, pd.MultiIndex):
            return {"$multi": [self._column(index.get_level_values(i), d) for i in range(index.nlevels)],
                    "names": self.encode(list(index.names), d)}
        return {"$index": self._column(index, d), "name": self.encode(index.name, d)}

    def _pandas(self, value, d):
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return {"$frame": [[self.encode(name, d), self._column(value.iloc[:, i], d)]
                               for i, name in enumerate(value.columns)],
                    "index": self._index(value.index, d), "columns": self._index(value.columns, d)}
        if isinstance(value, pd.Series):
            return {"$series": self._column(value, d), "name": self.encode(value.name, d),
                    "index": self._index(value.index, d)}
        if isinstance(value, pd.Index):
            return self._index(value, d)
        raise BoundaryError(f"a {type(value).__qualname__} from pandas")


def _plain(v):
    """Missing values of object columns (pd.NA, NaT) as None, numpy scalars as Python ones."""
    import pandas as pd

    if v is pd.NA or v is pd.NaT:
        return None
    return v.item() if isinstance(v, np.generic) else v


# ---------------------------------------------------------------- decoding

class Decoder:
    def __init__(self, arrays: list[np.ndarray]):
        self.arrays = arrays

    def array(self, i) -> np.ndarray:
        if type(i) is not int or not 0 <= i < len(self.arrays):
            raise BoundaryError("a message refers to an array it does not hold")
        return self.arrays[i]

    def decode(self, value, depth: int = 0):
        if depth > MAX_DEPTH:
            raise BoundaryError("a value nested too deeply")
        d = depth + 1
        if value is None or type(value) in (bool, int, float, str):
            return value
        if type(value) is not dict or len(value) == 0:
            raise BoundaryError("a malformed value")
        tag = next(iter(value))
        body = value[tag]
        if tag == "$bigint":
            return int(str(body)[:400])
        if tag == "$float":
            return float(str(body))
        if tag == "$bytes":
            return self.array(body).tobytes()
        if tag == "$npscalar":
            return self.array(body)[0]
        if tag == "$nd":
            return self.array(body).copy()
        if tag == "$objarray":
            items = [self.decode(v, d) for v in body]
            return _object_array(items).reshape([int(s) for s in value.get("shape", [len(items)])])
        if tag == "$path":
            from pathlib import Path
            return Path(str(body))
        if tag == "$list":
            return [self.decode(v, d) for v in body]
        if tag == "$tuple":
            return tuple(self.decode(v, d) for v in body)
        if tag == "$set":
            return {self.decode(v, d) for v in body}
        if tag == "$dict":
            return {self.decode(k, d): self.decode(v, d) for k, v in body}
        if tag == "$dc":
            cls = container_classes().get(str(body))
            if cls is None:
                raise BoundaryError(f"an unknown container {str(body)[:60]!r}")
            fields = {str(k): self.decode(v, d) for k, v in value["fields"].items()}
            return cls(**fields)
        if tag == "$csr":
            return self._csr(value)
        if tag in ("$tensor", "$generator", "$torchdtype"):
            return self._torch(tag, value, d)
        if tag in ("$frame", "$series", "$range", "$multi", "$index"):
            return self._pandas(tag, value, d)
        raise BoundaryError(f"an unknown tag {tag[:40]!r}")

    def _csr(self, value):
        """A sparse CSR matrix, its arrays checked before torch builds it: row starts from 0 to
        the number of values, never decreasing, and every column inside the matrix."""
        import torch

        body, shape = value["$csr"], value.get("shape")
        if type(body) is not list or len(body) != 3 or type(shape) is not list or len(shape) != 2 \
                or any(type(n) is not int or n < 0 for n in shape):
            raise BoundaryError("a malformed sparse matrix")
        starts, columns, values = (self.array(i) for i in body)
        if starts.dtype.kind != "i" or columns.dtype.kind != "i" or starts.ndim != 1 or columns.ndim != 1 \
                or values.ndim != 1 or len(starts) != shape[0] + 1 or len(columns) != len(values) \
                or (len(starts) and (starts[0] != 0 or starts[-1] != len(values) or (np.diff(starts) < 0).any())) \
                or (len(columns) and (columns.min() < 0 or columns.max() >= shape[1])):
            raise BoundaryError("a sparse matrix whose arrays do not describe one")
        dtype = getattr(torch, str(value.get("dtype", "")), None)
        matrix = torch.sparse_csr_tensor(torch.from_numpy(starts.astype(np.int64)),
                                         torch.from_numpy(columns.astype(np.int64)),
                                         torch.from_numpy(values.copy()), size=tuple(shape))
        return matrix.to(dtype) if isinstance(dtype, torch.dtype) and dtype != matrix.dtype else matrix

    def _torch(self, tag, value, d):
        import torch

        if tag == "$generator":
            g = torch.Generator()
            g.set_state(torch.from_numpy(self.array(value["$generator"]).astype(np.uint8).copy()))
            return g
        if tag == "$torchdtype":
            dtype = getattr(torch, str(value["$torchdtype"]), None)
            if not isinstance(dtype, torch.dtype):
                raise BoundaryError("an unknown torch dtype")
            return dtype
        t = torch.from_numpy(self.array(value["$tensor"]).copy())
        dtype = getattr(torch, str(value.get("dtype", "")), None)
        if isinstance(dtype, torch.dtype) and dtype != t.dtype:
            t = t.to(dtype)
        if value.get("rg"):
            t.requires_grad_(True)
            if not value.get("leaf", True):
                t = t.clone()            # a tensor computed from others: not a leaf, as on the other side
        grad = value.get("grad")
        if grad is not None and t.is_leaf:
            t.grad = self._torch("$tensor", grad, d)
        return t

    def _column(self, value, d):
        import pandas as pd

        tag = next(iter(value))
        if tag == "$nd":
            return self.array(value["$nd"]).copy()
        if tag == "$categorical":
            return pd.Categorical(self.decode(value["$categorical"], d),
                                  categories=self.decode(value["categories"], d), ordered=bool(value["ordered"]))
        if tag == "$objcol":
            items = [self.decode(v, d) for v in value["$objcol"]]
            dtype = str(value.get("dtype", "object"))
            try:
                return pd.array(items, dtype=dtype) if dtype != "object" else _object_array(items)
            except (TypeError, ValueError):
                return _object_array(items)
        raise BoundaryError("a malformed column")

    def _index_of(self, value, d):
        import pandas as pd

        tag = next(iter(value))
        if tag == "$range":
            start, stop, step = (int(x) for x in value["$range"])
            return pd.RangeIndex(start, stop, step, name=self.decode(value.get("name"), d))
        if tag == "$multi":
            levels = [self._column(v, d) for v in value["$multi"]]
            return pd.MultiIndex.from_arrays(levels, names=self.decode(value.get("names"), d))
        if tag == "$index":
            return pd.Index(self._column(value["$index"], d), name=self.decode(value.get("name"), d))
        raise BoundaryError("a malformed index")

    def _pandas(self, tag, value, d):
        import pandas as pd

        if tag == "$frame":
            index = self._index_of(value["index"], d)
            columns = self._index_of(value["columns"], d)
            data = [self._column(col, d) for _, col in value["$frame"]]
            frame = pd.DataFrame({i: pd.Series(col, index=index, copy=False) for i, col in enumerate(data)},
                                 index=index)
            frame.columns = columns
            return frame
        if tag == "$series":
            return pd.Series(self._column(value["$series"], d), index=self._index_of(value["index"], d),
                             name=self.decode(value.get("name"), d))
        return self._index_of(value, d)


def _object_array(items):
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out
