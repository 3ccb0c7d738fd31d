"""Half-size weights for distribution: model.weights.h5 rewritten in float16, gzip-compressed.

Keras casts them back to float32 on load, so a shrunk model folder loads
like any other; only the rounding of each weight changes (BLEU effect
measured in the default model's card).
"""

from pathlib import Path

import h5py
import numpy as np

from translator.files import atomic_path
from translator.model.folder import WEIGHTS


def shrink_weights(model_dir: Path) -> tuple[int, int]:
    """Rewrite the weights in float16 (beside, then renamed); returns (bytes before, bytes after)."""
    source = Path(model_dir) / WEIGHTS
    before = source.stat().st_size
    with atomic_path(source) as partial, h5py.File(source, "r") as old, h5py.File(partial, "w") as new:
        _copy(old, new)
    return before, source.stat().st_size


def _copy(old: h5py.Group, new: h5py.Group) -> None:
    new.attrs.update(old.attrs)
    for name, item in old.items():
        if isinstance(item, h5py.Group):
            _copy(item, new.create_group(name))
        else:
            data = item[()]
            if isinstance(data, np.ndarray) and data.dtype == np.float32:
                data = data.astype(np.float16)
            if isinstance(data, np.ndarray) and data.size > 1:
                # the byte-shuffle filter groups exponent bytes, which gzip then squeezes (about 10 %)
                new.create_dataset(name, data=data, compression="gzip", shuffle=True)
            else:
                new.create_dataset(name, data=data)
            new[name].attrs.update(item.attrs)
