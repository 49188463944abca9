"""The module classes of built networks' blocks (`vgg_block` → `VggBlock`), made on demand.

A block's instances share one class named after the block, so `print(model)` reads like
hand-written code. The classes live here, under a qualified name that also says their base
(`VggBlock__Sequential`), and this module makes any such class when it is first asked for by
name: so `torch.save(model)` pickles a built network, and `torch.load` in another process
(with archc installed) makes the same classes again.
"""
from __future__ import annotations

from torch import nn

from archc import runtime

# the container classes a block's class may derive from, by the name its qualified name carries
BASES: dict[str, type] = {"Sequential": nn.Sequential, "Chain": runtime.Chain, "Residual": runtime.Residual,
                          "Parallel": runtime.Parallel, "Dense": runtime.Dense, "Flow": runtime.Flow}
_SEPARATOR = "__"


def block_class(name: str, base: type) -> type:
    """The class for instances of block `name` deriving from `base` (made once)."""
    qualname = f"{name}{_SEPARATOR}{base.__name__}"
    existing = globals().get(qualname)
    if existing is None:
        existing = type(name, (base,), {"__module__": __name__, "__qualname__": qualname,
                                         "__doc__": f"archc block {name}"})
        globals()[qualname] = existing
    return existing


def __getattr__(qualname: str) -> type:
    # unpickling asks for the class by its qualified name before any network was built here
    name, _, base = qualname.rpartition(_SEPARATOR)
    if not name or base not in BASES or not name.isidentifier():
        raise AttributeError(f"module {__name__!r} has no attribute {qualname!r}")
    return block_class(name, BASES[base])
