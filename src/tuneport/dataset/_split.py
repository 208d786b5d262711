"""Split a dataset into training and held-out parts, and name examples by content.

Identical examples always land on the same side. The split is stratified by length:
examples are ranked by size and each held-out example is drawn from its own band of that
ranking, so the held-out set has the short and the long examples in the same proportions as
the whole (a random split of a small set easily holds out only short ones, and then says
little about the long). Seeded, so the same data and seed always give the same split.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import TYPE_CHECKING

from tuneport._exceptions import ConfigError, DatasetError
from tuneport.dataset._examples import Example

if TYPE_CHECKING:
    from tuneport.dataset._dataset import Dataset

__all__ = ["example_hash", "split_dataset"]


def example_hash(example: Example) -> str:
    """sha256 (hex) of an example's canonical form: equal examples, equal hashes, whatever
    the source's whitespace, key order or line."""
    text = json.dumps(example.to_dict(), sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def split_dataset(dataset: Dataset, validation: float = 0.1,
                  seed: int = 0) -> tuple[Dataset, Dataset]:
    """``(train, heldout)``: see :meth:`tuneport.Dataset.split`."""
    from tuneport.dataset._dataset import Dataset

    if not 0.0 < validation < 1.0:
        raise ConfigError(f"split(validation={validation!r}): give the held-out share as a "
                          "fraction between 0 and 1, e.g. validation=0.1.")
    examples = list(dataset.iter_examples())
    if len(examples) < 2:
        raise DatasetError(f"{dataset!r} has {len(examples)} usable example(s); a split needs "
                           "at least 2 (run validate to see why lines were skipped).")
    # Copies of one example go to the same side: a copy in each would leak the answer.
    hashes = [example_hash(e) for e in examples]
    first_of: dict[str, int] = {}
    for i, h in enumerate(hashes):
        first_of.setdefault(h, i)
    unique = list(first_of.values())
    if len(unique) < 2:
        raise DatasetError(f"{dataset!r} holds one distinct example (repeated); a split needs "
                           "at least 2 different ones.")
    n_held = min(len(unique) - 1, max(1, round(len(unique) * validation)))
    rng = random.Random(seed)
    # Rank by size (ties broken by content, not by position, so reordering the file
    # does not change which examples are held out), then draw one per band.
    keyed = sorted(unique, key=lambda i: (len(json.dumps(examples[i].to_dict())), hashes[i]))
    held_hashes: set[str] = set()
    for band in range(n_held):
        lo = band * len(keyed) // n_held
        hi = (band + 1) * len(keyed) // n_held
        held_hashes.add(hashes[keyed[rng.randrange(lo, hi)]])
    held = {i for i, h in enumerate(hashes) if h in held_hashes}
    train = Dataset.from_records([e.to_dict() for i, e in enumerate(examples) if i not in held])
    heldout = Dataset.from_records([e.to_dict() for i, e in enumerate(examples) if i in held])
    return train, heldout
