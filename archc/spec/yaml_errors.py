"""PyYAML's syntax errors in archc's words, at the place where the mistake starts.

PyYAML reports a problem where it noticed it (`problem_mark`), which for an unclosed bracket
or quote is the end of the file; where the construct began is its `context_mark`. Each rule
below recognises one mistake a person makes and says which mark to point at and how to fix
it. Anything unrecognised keeps PyYAML's own words, still located.
"""
from __future__ import annotations

import yaml

from archc.errors import ArchcError, Loc


def _loc(file: str, mark) -> Loc:
    return Loc(file, mark.line + 1, mark.column + 1) if mark is not None else Loc(file, 1, 1)


def _found(exc: yaml.MarkedYAMLError) -> str:
    """What PyYAML met, in plain words ('end of file', "':' at line 7")."""
    problem, mark = exc.problem or "", exc.problem_mark
    if "<stream end>" in problem or "end of stream" in problem:
        return "the end of the file"
    token = problem.rsplit("found ", 1)[-1].rsplit("got ", 1)[-1].strip()
    token = {"'<block mapping start>'": "a new key", "'<block sequence start>'": "a list item",
             "'<block end>'": "the end of an indented block", "'<scalar>'": "a value"}.get(token, token)
    return f"{token} at line {mark.line + 1}" if mark is not None and token else token


def syntax_error(exc: yaml.YAMLError, file: str, text: str) -> ArchcError:
    """One located, explained `yaml-syntax` error for a PyYAML exception."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        return ArchcError("yaml-syntax", "a control character is not allowed in YAML", Loc(file, line, col),
                          expected="printable text", found=f"character U+{exc.character:04X}"
                          if isinstance(exc.character, int) else repr(exc.character),
                          hint="remove it, or write it as an escape (\\t, \\x07) inside double quotes")
    if not isinstance(exc, yaml.MarkedYAMLError):
        return ArchcError("yaml-syntax", f"invalid YAML: {exc}", Loc(file, 1, 1))
    problem, context = exc.problem or "", exc.context or ""
    at_problem, at_context = _loc(file, exc.problem_mark), _loc(file, exc.context_mark or exc.problem_mark)

    def error(message: str, loc: Loc, hint: str, expected: str = "", found: str | None = None) -> ArchcError:
        return ArchcError("yaml-syntax", message, loc, expected=expected,
                          found=_found(exc) if found is None else found, hint=hint)

    if "'\\t'" in problem:
        return error("a tab is not allowed for indentation in YAML", at_problem,
                     "use spaces to indent; set your editor to insert spaces for tabs",
                     expected="spaces", found="a tab")
    if "quoted scalar" in context:
        quote = _char_at(text, exc.context_mark)
        return error(f"this {quote} is never closed", at_context,
                     f"end the string with a matching {quote} (a string in quotes may not run to the end of the file)",
                     expected=f"a closing {quote}")
    if "flow mapping" in context or "flow sequence" in context:
        opener, closer = ("{", "}") if "mapping" in context else ("[", "]")
        same_line = exc.problem_mark is not None and exc.context_mark is not None and \
            exc.problem_mark.line == exc.context_mark.line
        if same_line and "<stream end>" not in problem:
            return error(f"expected ',' or '{closer}' here", at_problem,
                         f"separate the entries of '{opener}…{closer}' with ',' (a key needs ': ' before its value)",
                         expected=f"',' or '{closer}'")
        return error(f"this '{opener}' is never closed", at_context,
                     f"close it with '{closer}', and separate its entries with ','", expected=f"'{closer}'")
    if "could not find expected ':'" in problem:
        return error("a key needs a ':' after it", at_context,
                     "write 'key: value' (with a space after ':'); a list item starts with '- '",
                     expected="'key: value'", found="a key without ':'")
    if "mapping values are not allowed here" in problem:
        return error("a ':' is not allowed here", at_problem,
                     "put quotes around a value that contains ': ', or check the line above for a missing ':' "
                     "or a wrong indentation", expected="a value without ': '", found="':'")
    if "sequence entries are not allowed here" in problem:
        return error("a list item '- ' cannot start here", at_problem,
                     "put list items on their own lines, indented under their key, or write a list as [a, b]",
                     expected="a value", found="'- '")
    if "expected <block end>" in problem:
        token = (exc.problem or "").rsplit("found ", 1)[-1]
        if token in ("'}'", "']'"):
            return error(f"a closing {token} without an opening bracket before it", at_problem,
                         "remove it, or add the bracket it should close", expected="a key or the end of the file",
                         found=token)
        return error("this line's indentation does not fit the lines above", at_problem,
                     "indent the items of one list or mapping by the same number of spaces",
                     expected="the indentation of the list or mapping it belongs to")
    if "another document" in problem:
        return error("a spec holds one YAML document, this file has more", at_problem,
                     "remove the second '---' (or '...') and what follows, or split the file",
                     expected="one document", found="a second document")
    if "undefined alias" in problem:
        return error(f"{problem.replace('found ', '')}: no anchor of that name comes before it", at_problem,
                     "define the anchor ('&name value') before using it ('*name')",
                     expected="'&name' before '*name'", found="an alias with no anchor")
    where = at_problem if exc.problem_mark is not None else at_context
    message = (problem or "invalid YAML") + (f" ({context})" if context else "")
    return error(message, where, "check the YAML syntax at this position", expected="valid YAML")


def _char_at(text: str, mark) -> str:
    try:
        char = text.splitlines()[mark.line][mark.column]
    except (IndexError, AttributeError):
        return "quote"
    return "'\"'" if char == '"' else "\"'\"" if char == "'" else "quote"
