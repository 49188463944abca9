"""What a name in a spec may be.

Names become module attributes and state_dict keys (layer and branch names), Python
class and file names (the network's and blocks' names) in what archc builds. The rules
live here, torch-free, so that `check` refuses every name that `build` or the generated
source could not use: `build` never meets a name it has to refuse.
"""
from __future__ import annotations

import re
import sys

MAX_NAME_LENGTH = 100
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# module names may also hold '-', as torchvision's RegNet's 'block1-0' do; never '.', which
# separates state_dict keys, and never a leading digit (automatic numbering's)
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

# Attributes a container module already has: nn.Module's (class and instance), nn.Sequential's
# and those of archc's runtime containers. torch's add_module refuses these names, or a later
# assignment in the container's __init__ fails. Names starting with '__' are refused by rule.
# tests/test_source_safety.py checks this list against the installed torch's dir(nn.Module).
MODULE_ATTRIBUTES = frozenset("""
    T_destination call_super_init dump_patches training
    add_module apply bfloat16 buffers children compile cpu cuda double eval extra_repr float
    forward get_buffer get_extra_state get_parameter get_submodule half ipu load_state_dict
    modules mtia named_buffers named_children named_modules named_parameters parameters
    register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
    register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter register_state_dict_post_hook
    register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule share_memory
    state_dict to to_empty train type xpu zero_grad
    _apply _backward_hooks _backward_pre_hooks _buffers _call_impl _compiled_call_impl _forward_hooks
    _forward_hooks_always_called _forward_hooks_with_kwargs _forward_pre_hooks _forward_pre_hooks_with_kwargs
    _get_backward_hooks _get_backward_pre_hooks _get_name _is_full_backward_hook _load_from_state_dict
    _load_state_dict_post_hooks _load_state_dict_pre_hooks _maybe_warn_non_full_backward_hook _modules
    _named_members _non_persistent_buffers_set _parameters _register_load_state_dict_pre_hook
    _register_state_dict_hook _replicate_for_data_parallel _save_to_state_dict _slow_forward
    _state_dict_hooks _state_dict_pre_hooks _version _wrapped_call_impl
    append extend insert pop _get_item_by_idx
    wiring kept body_names after_names shortcut_name how
""".split())

# 'from: input' reads the enclosing list's input: a layer may not take that name
_RESERVED_SOURCES = frozenset({"input"})

# The generated file is written as <name>.py and imports these; a file of the same name
# beside it would be imported instead of them when it runs as a script.
_MODULES_THE_SOURCE_NEEDS = frozenset({"torch", "typing_extensions", "sympy", "filelock", "networkx",
                                       "jinja2", "fsspec", "numpy", "mpmath", "markupsafe", "triton"})


def module_name_problem(name: object) -> str:
    """What a module name (a layer, branch or shortcut) must be, when `name` is not; '' when it is."""
    if not isinstance(name, str) or not name:
        return "a non-empty name"
    if len(name) > MAX_NAME_LENGTH:
        return f"a name of at most {MAX_NAME_LENGTH} characters"
    if not MODULE_NAME.fullmatch(name):
        return "letters, digits, _ and -, not starting with a digit"
    if name.startswith("__") or name in MODULE_ATTRIBUTES:
        return f"a name torch modules do not already use ('{name}' is an attribute of every module)"
    if name in _RESERVED_SOURCES:
        return f"a name other than '{name}' ('from: {name}' reads the enclosing list's input)"
    return ""


NAME_HINT = "names become module attributes and state_dict keys, e.g. 'conv1', 'block1-0', 'downsample'"


def identifier_problem(name: object) -> str:
    """Why `name` cannot name a block, a parameter or a size, or '' when it can."""
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
        return "a name of letters, digits and _, not starting with a digit"
    if len(name) > MAX_NAME_LENGTH:
        return f"a name of at most {MAX_NAME_LENGTH} characters"
    return ""


def network_name_problem(name: str) -> str:
    """Why `name` cannot name a network (its output file is <name>.py), or '' when it can."""
    if name in sys.stdlib_module_names or name in _MODULES_THE_SOURCE_NEEDS or name.startswith("__"):
        return (f"a name other than '{name}': the generated file {name}.py would be imported in place of "
                "the module of that name")
    return ""
