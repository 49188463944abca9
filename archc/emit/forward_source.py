"""A Flow's program written as a `forward()` a person would write (torchvision's style):

    def forward(self, image):
        enc_r1 = self.enc.r1(self.enc.c1(image))   # (one statement per step, in fact)
        ...
        return {"out": head, "resized": resized}

It reads the same plan entry the built module's runtime.Flow interprets, so the two compute
the same thing (tests compare them on every spec). Every name in it is made here: values
become fresh identifiers, modules are reached by attribute when their name is a plain
identifier and otherwise by `_modules[<literal>]`; what comes from the spec is written only
as a `py_literal`.
"""
from __future__ import annotations

import builtins
import keyword

from archc.emit.literal import py_literal

_TAKEN = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | {"self", "torch", "nn", "F"}


class _Names:
    """Value names (module paths, `y.0`) as unique Python identifiers."""

    def __init__(self):
        self.known: dict[str, str] = {}
        self.used: set[str] = set(_TAKEN)

    def __call__(self, value: str) -> str:
        if value not in self.known:
            base = "".join(ch if ch.isalnum() and ch.isascii() else "_" for ch in value).strip("_") or "x"
            if not base[0].isalpha():
                base = "x_" + base
            name, n = base, 2
            while name in self.used or keyword.iskeyword(name):
                name, n = f"{base}_{n}", n + 1
            self.used.add(name)
            self.known[value] = name
        return self.known[value]


def module_expression(path: str, store: str = "_modules") -> str:
    """`self.enc.c1`, or `self.model._modules['0']` for a name that is not a plain identifier
    (`store` is where the last part lives: `_parameters` for a parameter the module owns)."""
    out, parts = "self", path.split(".")
    for i, part in enumerate(parts):
        plain = part.isidentifier() and part.isascii() and not keyword.iskeyword(part) and not part.startswith("_")
        out += f".{part}" if plain else f".{store if i == len(parts) - 1 else '_modules'}[{py_literal(part)}]"
    return out


def forward_source(options: dict, merge_kinds: dict[str, bool], indent: str = "    ") -> str:
    """The `forward` method of a Flow plan (options as emit/plan.py writes them).
    `merge_kinds[target]` is True for steps whose module is the identity a merge kind leaves
    in the module tree (concat, add, mul): the merge is the whole step."""
    names = _Names()
    args = [names(name) for name in options["inputs"]]
    body = [f"{names(p[0])} = {module_expression(p[0], '_parameters')}" for p in options["parameters"]]  # own parameters by name
    for target, reads, how, dim, writes, unpack, keys, expand in options["program"]:
        values = [names(r) for r in reads]
        if expand:  # a batched parameter joins every sample: the batch is the first input's
            batch = f"{args[0]}.shape[0]"
            values = [f"{v}.expand({batch}, *{v}.shape[1:])" if i in expand else v for i, v in enumerate(values)]
        if how == "concat":
            call_args = [f"torch.cat([{', '.join(values)}], dim={py_literal(dim)})"]
        elif how:
            call_args = [f" {'+' if how == 'add' else '*'} ".join(values)]
        else:
            call_args = values
        call = call_args[0] if merge_kinds.get(target) else f"{module_expression(target)}({', '.join(call_args)})"
        if unpack == "one":
            body.append(f"{names(writes[0])} = {call}")
        elif unpack == "seq":
            body.append(f"{', '.join(names(w) for w in writes)}{',' if len(writes) == 1 else ''} = {call}")
        else:
            whole = names(target + "#out")
            body.append(f"{whole} = {call}")
            body += [f"{names(w)} = {whole}[{py_literal(k)}]" for w, k in zip(writes, keys)]
    form, outputs = options["outputs"]
    if form == "one":
        body.append(f"return {names(outputs[0][1])}")
    elif form == "tuple":
        body.append("return (" + ", ".join(names(v) for _, v in outputs) + ("," if len(outputs) == 1 else "") + ")")
    else:
        body.append("return {" + ", ".join(f"{py_literal(k)}: {names(v)}" for k, v in outputs) + "}")
    lines = "".join(f"{indent}    {line}\n" for line in body)
    return f"{indent}def forward(self, {', '.join(args)}):\n{lines}"
