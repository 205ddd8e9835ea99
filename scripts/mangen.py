#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mangen: ursock's man pages, generated from the one place the API is written down: the
doc comments of the public headers (engine/include/ursock.h, ursock_version.h), plus the
lifetime table of README.md for ursock(7). Nothing is kept twice, so a page cannot drift
from the code: change a comment and the page follows at the next build.

    scripts/mangen.py --out build/man --readme README.md engine/include/ursock.h ...
    scripts/mangen.py --check engine/include/ursock.h ...    (parse and check only)

Writes DIR/man3/<call>.3 (one page per documented call or group of calls; the others of a
group are `.so` links), DIR/man3/<type>.3 for each struct and enum type, DIR/man7/ursock.7.
The whole DIR is replaced, so a call removed from the header loses its page.

How the headers are read (the rules a new call must follow, the project's own style):
  - the comment block right above a URS_API declaration (no blank line between) is its
    documentation; declarations that follow one another with no blank line and no comment
    of their own share the comment above the first (urs_getpeername/urs_getsockname), and
    then must take the same parameters (names and all), or the comment cannot be about them;
  - a URS_API function without a comment fails the run (exit 1), so a call cannot land
    undocumented; so does a declaration this script cannot parse;
  - "Returns ..." / "Resolves ..." sentences (or clauses after ';', ':' or ',') are the
    RETURN VALUE; the -E... codes they name are the ERRORS (for a call returning a future,
    the codes anywhere in its comment: they are what the future resolves to);
  - a struct's or enum's members are documented by the comment on their line or the
    comment block right above them; constants (an anonymous enum, a #define) declared right
    after a type belong to its page, and appear too on the pages whose comments name them;
  - "----- name" comments split the header into the sections of ursock(7)'s index.

Python 3 and its standard library only: a packager's build machine needs nothing else.
"""
import argparse
import os
import re
import shutil
import sys
import time

PROG = "mangen"


class ParseError(Exception):
    pass


# ---------------------------------------------------------------- reading the header

class Item:
    """A top-level piece of a header: a comment, a preprocessor line or a declaration."""

    def __init__(self, kind, text, line, end, path):
        self.kind = kind  # "comment", "pre", "decl"
        self.text = text
        self.line = line  # first and last line (1-based)
        self.end = end
        self.path = path
        self.trailing = None  # a comment that starts on the last line of a decl or pre
        self.doc = None  # the comment block right above (no blank line between)
        self.section = None

    def where(self):
        return "%s:%d" % (self.path, self.line)


def blank_cplusplus(src):
    """Blanks `#ifdef __cplusplus ... #endif` blocks (extern "C" glue), keeping lines."""
    out, depth = [], 0
    for line in src.split("\n"):
        s = line.strip()
        if depth == 0 and re.match(r"#\s*ifdef\s+__cplusplus\b", s):
            depth = 1
            out.append("")
            continue
        if depth:
            if re.match(r"#\s*if", s):
                depth += 1
            elif re.match(r"#\s*endif\b", s):
                depth -= 1
            out.append("")
            continue
        out.append(line)
    return "\n".join(out)


def skip_comment(src, i):
    """src[i:] starts a comment: returns the index after it."""
    if src.startswith("//", i):
        j = src.find("\n", i)
        return len(src) if j < 0 else j
    j = src.find("*/", i + 2)
    if j < 0:
        raise ParseError("unterminated comment")
    return j + 2


def skip_string(src, i):
    q = src[i]
    j = i + 1
    while j < len(src) and src[j] != q:
        j += 2 if src[j] == "\\" else 1
    return j + 1


def scan(path):
    """Splits a header into Items, in order."""
    with open(path, encoding="utf-8") as f:
        src = blank_cplusplus(f.read())
    items = []
    i, n = 0, len(src)
    line_of = lambda k: src.count("\n", 0, k) + 1
    while i < n:
        c = src[i]
        if c.isspace():
            i += 1
            continue
        if src.startswith("/*", i) or src.startswith("//", i):
            j = skip_comment(src, i)
            it = Item("comment", src[i:j], line_of(i), line_of(j - 1), path)
            prev = items[-1] if items else None
            if prev and prev.kind != "comment" and prev.end == it.line and prev.trailing is None:
                prev.trailing = it  # `enum { X = 1 }; /* what X is */`
            else:
                items.append(it)
            i = j
            continue
        if c == "#":
            j = i
            while True:  # a preprocessor line, with its continuations
                k = src.find("\n", j)
                if k < 0:
                    k = n
                if src[j:k].rstrip().endswith("\\") and k < n:
                    j = k + 1
                    continue
                break
            text = src[i:k]
            it = Item("pre", text, line_of(i), line_of(k - 1), path)
            m = re.search(r"/\*.*?\*/\s*$", text, re.S)
            if m:
                it.text = text[: m.start()].rstrip()
                it.trailing = Item("comment", m.group(0).strip(), it.line, it.end, path)
            items.append(it)
            i = k
            continue
        # a declaration: up to ';' at depth 0, or the '}' that ends a function body
        j, depth, first_brace = i, 0, None
        while j < n:
            c = src[j]
            if src.startswith("/*", j) or src.startswith("//", j):
                j = skip_comment(src, j)
                continue
            if c in "\"'":
                j = skip_string(src, j)
                continue
            if c in "({[":
                if c == "{" and depth == 0 and first_brace is None:
                    first_brace = j
                depth += 1
            elif c in ")}]":
                depth -= 1
                if depth < 0:
                    raise ParseError("%s:%d: unbalanced '%s'" % (path, line_of(j), c))
                if c == "}" and depth == 0 and first_brace is not None:
                    head = strip_comments(src[i:first_brace]).rstrip()
                    if head.endswith(")"):  # a function definition (static inline)
                        j += 1
                        break
            elif c == ";" and depth == 0:
                j += 1
                break
            j += 1
        else:
            raise ParseError("%s:%d: declaration without an end" % (path, line_of(i)))
        items.append(Item("decl", src[i:j], line_of(i), line_of(j - 1), path))
        i = j
    # doc comments and sections
    section = None
    for k, it in enumerate(items):
        if it.kind == "comment":
            m = re.match(r"/\*\s*-{5,}\s*(.*?)\s*\*/$", it.text, re.S)
            if m:
                section = m.group(1)
                it.kind = "divider"
            continue
        it.section = section
        prev = items[k - 1] if k else None
        if prev is not None and prev.kind == "comment" and prev.end == it.line - 1:
            it.doc = prev
    return items


def strip_comments(text):
    out, i = [], 0
    while i < len(text):
        if text.startswith("/*", i) or text.startswith("//", i):
            i = skip_comment(text, i)
            out.append(" ")
        elif text[i] in "\"'":
            j = skip_string(text, i)
            out.append(text[i:j])
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def squash(text):
    return re.sub(r"\s+", " ", text).strip()


def comment_lines(comment):
    """The lines of a /* */ comment without its markers, keeping indentation after '*'."""
    body = (comment.text if isinstance(comment, Item) else comment).strip()
    if body.startswith("//"):
        return [l.strip()[2:].strip() for l in body.split("\n")]
    body = body[2:-2]
    lines = []
    for l in body.split("\n"):
        l = l.rstrip()
        m = re.match(r"\s*\* ?(.*)$", l)
        lines.append(m.group(1) if m else l.strip())
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def comment_paragraphs(comment):
    """A comment as prose: paragraphs of joined lines."""
    pars, cur = [], []
    for l in comment_lines(comment):
        if l.strip():
            cur.append(l.strip())
        elif cur:
            pars.append(" ".join(cur))
            cur = []
    if cur:
        pars.append(" ".join(cur))
    return [squash(p) for p in pars]


def comment_text(comment):
    return " ".join(comment_paragraphs(comment)) if comment else ""


# ---------------------------------------------------------------- the API model

class Func:
    def __init__(self, item, ret, name, params, inline):
        self.item = item
        self.ret = ret
        self.name = name
        self.params = params  # [(text, name or None)]
        self.inline = inline
        self.group = None

    def prototype(self):
        sep = "" if self.ret.endswith("*") else " "
        p = ", ".join(t for t, _ in self.params) or "void"
        return "%s%s%s%s(%s);" % ("static inline " if self.inline else "", self.ret, sep,
                                  self.name, p)

    def param_names(self):
        return [nm for _, nm in self.params]


class Group:
    """Calls documented by one comment: one page."""

    def __init__(self, doc, first):
        self.doc = doc
        self.funcs = [first]
        self.section = first.item.section

    @property
    def name(self):
        return self.funcs[0].name


class Member:
    def __init__(self, decl, names, value=None):
        self.decl = decl  # the member's declaration text (squashed)
        self.names = names
        self.value = value
        self.comment = None
        self.shared = [self]  # the members one comment block above them covers


class Type:
    def __init__(self, item, kind, name, body_members, notes, definition):
        self.item = item
        self.kind = kind  # "struct", "enum", "opaque", "fnptr"
        self.name = name
        self.members = body_members
        self.notes = notes  # leading comments in the body that describe no single member
        self.definition = definition  # for the SYNOPSIS, comments stripped
        self.constants = []  # constants declared right after it


class Const:
    def __init__(self, item, name, value, comment, owner=None):
        self.item = item
        self.name = name
        self.value = value
        self.comment = comment
        self.owner = owner  # the Type whose page lists it, or None (a free constant)


def split_params(text):
    parts, depth, cur = [], 0, []
    for c in text:
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        if c == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    if "".join(cur).strip():
        parts.append("".join(cur))
    out = []
    for p in parts:
        p = squash(p)
        if p in ("void", ""):
            continue
        name = decl_name(p)
        if name is None:
            raise ParseError("parameter '%s' has no name" % p)
        out.append((p, name))
    return out


def parse_function(item, text, inline):
    m = re.match(r"(?P<ret>.+?)\b(?P<name>urs_\w+)\s*\((?P<params>.*)\)$", text, re.S)
    if not m:
        raise ParseError("%s: cannot read the declaration '%s'" % (item.where(), text))
    try:
        params = split_params(m.group("params"))
    except ParseError as e:
        raise ParseError("%s: %s: %s" % (item.where(), m.group("name"), e))
    return Func(item, squash(m.group("ret")), m.group("name"), params, inline)


def decl_name(text):
    """The name a declarator declares: `int *x[2]` -> x, `void (*cb)(int)` -> cb."""
    m = re.search(r"\(\s*\*\s*(\w+)\s*\)\s*\(", text) or \
        re.search(r"(\w+)\s*(\[[^\]]*\])?\s*$", text)
    return m.group(1) if m and m.group(1) != text.strip() else None


def body_members(body, is_enum, item):
    """The members of a struct or enum body, each with its comment: the one on its line, or
    the block right above it (shared by the members below it up to a blank line, when none
    of them has its own). A block above members that have their own is a note: returned as
    (comment, the member it precedes) in the second list."""
    members, notes = [], []
    line_of = lambda k: body.count("\n", 0, k)
    lead, under = None, []  # a comment block and the members below it so far
    last, last_line = None, -1  # the last member, for a comment on its line
    start, depth, i, n = None, 0, 0, len(body)

    def member(text, end):
        nonlocal last, last_line
        decl = squash(strip_comments(text)).rstrip(";,").strip()
        if not decl:
            return
        if is_enum:
            name, _, value = decl.partition("=")
            m = Member(decl, [name.strip()], squash(value) or None)
        else:
            core = re.sub(r"\{.*\}", " ", decl)  # `union { ... } u`
            parts = [core] if "(" in core else core.split(",")  # `int a, b`
            names = [decl_name(x) for x in parts]
            if None in names:
                raise ParseError("%s: cannot read the member '%s'" % (item.where(), decl))
            m = Member(decl, names)
        members.append(m)
        if lead is not None:
            under.append(m)
        last, last_line = m, line_of(end)

    def end_lead():
        nonlocal lead, under
        if lead is None:
            return
        if under and all(m.comment is None for m in under):
            for m in under:
                m.comment, m.shared = lead, under
        else:
            notes.append((lead, under[0] if under else None))
        lead, under = None, []

    while i < n:
        c = body[i]
        if body.startswith("/*", i) or body.startswith("//", i):
            j = skip_comment(body, i)
            com = body[i:j]
            pending = body[start:i].strip() if start is not None else ""
            if pending and depth == 0 and "\n" not in pending:
                member(body[start:i], i)  # `LAST = 1  /* ... */`: an enum's last, no comma
                start = None
                last.comment = com
            elif start is None and last is not None and line_of(i) == last_line:
                if last.comment is None:
                    last.comment = com  # `int x;  /* ... */`
            else:
                end_lead()
                lead = com
            i = j
            continue
        if c == "\n" and start is None and under and re.match(r"[ \t]*\n", body[i + 1:]):
            end_lead()  # a blank line ends what a block above covers
        if c.isspace():
            i += 1
            continue
        if start is None:
            start = i
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        elif depth == 0 and (c == ";" or (is_enum and c == ",")):
            member(body[start:i + 1], i)
            start = None
        i += 1
    if start is not None:
        member(body[start:], n)
    end_lead()
    return members, notes


def definition_text(text):
    """A struct/enum definition for a SYNOPSIS: comments gone, tabs as 4 spaces."""
    out = []
    for l in strip_comments(text).split("\n"):
        l = l.rstrip().expandtabs(4)
        if l.strip():
            out.append(re.sub(r"(\S)\s{2,}", r"\1 ", l))
    return "\n".join(out)


class Api:
    def __init__(self):
        self.funcs = []
        self.groups = []
        self.types = []
        self.consts = []
        self.tops = []  # top comments of the headers, in order
        self.version = None
        self.errors = []

    def add_header(self, path):
        items = scan(path)
        if items and items[0].kind == "comment" and items[0].line == 1:
            self.tops.append(items[0])
        prev = None
        for it in items:
            if it.kind == "decl":
                self._decl(it, prev)
            elif it.kind == "pre":
                self._pre(it, prev)
            prev = it  # constants right after a type (nothing between) are its own
        vals = {c.name: c.value for c in self.consts}
        if all(("URS_VERSION_" + p) in vals for p in ("MAJOR", "MINOR", "PATCH")):
            self.version = ".".join(vals["URS_VERSION_" + p] for p in ("MAJOR", "MINOR", "PATCH"))

    def _decl(self, it, prev):
        text = squash(strip_comments(it.text))
        if "URS_API" in text and "(" in text:
            f = parse_function(it, squash(text.replace("URS_API", " ")).rstrip(";").strip(),
                               False)
            self._add_func(f, it, prev)
        elif re.match(r"static\s+inline\b", text):
            head = text[: text.index("{")].strip()
            head = re.sub(r"^static\s+inline\s+", "", head)
            m = re.search(r"\b(urs_\w+)\s*\(", head)
            if m:
                self._add_func(parse_function(it, head, True), it, prev)
        elif re.match(r"typedef\s+struct\s+\w+\s*\{", text) or \
                re.match(r"(typedef\s+)?enum\s+\w+\s*\{", text):
            kind = "struct" if "struct" in text.split("{")[0] else "enum"
            name = re.search(r"\}\s*(\w+)\s*;$", text)
            name = name.group(1) if name else re.match(r"(?:typedef\s+)?enum\s+(\w+)", text).group(1)
            raw = it.text
            body = raw[raw.index("{") + 1: raw.rindex("}")]
            members, notes = body_members(body, kind == "enum", it)
            t = Type(it, kind, name, members, notes, definition_text(raw))
            self.types.append(t)
            if kind == "enum":
                for m in members:
                    self.consts.append(Const(it, m.names[0], m.value, m.comment, t))
        elif re.match(r"enum\s*\{", text):
            raw = it.text
            body = raw[raw.index("{") + 1: raw.rindex("}")]
            members, _ = body_members(body, True, it)
            owner = self._adjacent_type(prev)
            for m in members:
                com = m.comment or (it.trailing.text if it.trailing and len(members) == 1 else None) \
                    or (it.doc.text if it.doc else None)
                c = Const(it, m.names[0], m.value, com, owner)
                self.consts.append(c)
                if owner:
                    owner.constants.append(c)
        elif re.match(r"typedef\s+struct\s+(\w+)\s+(\w+)\s*;$", text):
            name = re.match(r"typedef\s+struct\s+(\w+)\s+(\w+)", text).group(2)
            self.types.append(Type(it, "opaque", name, [], [], text))
        elif re.match(r"typedef\s+.*\(\s*\*\s*(\w+)\s*\)\s*\(", text):
            name = re.search(r"\(\s*\*\s*(\w+)\s*\)", text).group(1)
            t = Type(it, "fnptr", name, [], [], text)
            t.params = split_params(text[text.rindex("(") + 1: text.rindex(")")])
            self.types.append(t)
        elif "urs_" in text:
            self.errors.append("%s: a public declaration %s cannot read: '%s'"
                               % (it.where(), PROG, text[:60]))

    def _adjacent_type(self, prev):
        if prev is not None and prev.kind == "decl":
            for t in self.types:
                if t.item is prev and t.kind in ("struct", "enum"):
                    return t
        return None

    def _pre(self, it, prev):
        m = re.match(r"#\s*define\s+(\w+)(\(?)(.*)$", it.text, re.S)
        if not m or m.group(2) or m.group(1).endswith("_") or m.group(1) == "URS_API":
            return
        value = squash(m.group(3).replace("\\\n", " "))
        if not value:
            return  # an include guard
        com = it.doc.text if it.doc else (it.trailing.text if it.trailing else None)
        owner = self._adjacent_type(prev)
        c = Const(it, m.group(1), value, com, owner)
        self.consts.append(c)
        if owner:
            owner.constants.append(c)

    def _add_func(self, f, it, prev):
        self.funcs.append(f)
        if it.doc is not None:
            g = Group(it.doc, f)
            self.groups.append(g)
            f.group = g
            return
        last = self.funcs[-2] if len(self.funcs) > 1 else None
        if last is not None and prev is last.item and last.item.end == it.line - 1 and last.group:
            g = last.group
            if f.param_names() != g.funcs[0].param_names():
                self.errors.append(
                    "%s: %s has no comment of its own: the one above %s, which it follows, is "
                    "about a call taking (%s), not (%s); write one above it"
                    % (it.where(), f.name, g.funcs[0].name,
                       ", ".join(g.funcs[0].param_names()) or "void",
                       ", ".join(f.param_names()) or "void"))
                return
            g.funcs.append(f)
            f.group = g
            return
        self.errors.append("%s: %s has no doc comment: write 1-4 lines right above it (what it "
                           "does, what it returns, who owns what)" % (it.where(), f.name))

    def check(self):
        names = {}
        for f in self.funcs:
            names.setdefault(f.name, []).append(f.item.where())
        for t in self.types:
            names.setdefault(t.name, []).append(t.item.where())
        for n, where in names.items():
            if len(where) > 1:
                self.errors.append("%s: %s declared twice (also %s)" % (where[1], n, where[0]))
        if not self.version:
            self.errors.append("no URS_VERSION_MAJOR/MINOR/PATCH found")
        return self.errors


# ---------------------------------------------------------------- prose

ABBREV = ("e.g.", "i.e.", "etc.", "vs.", "cf.")


def sentences(par):
    out, start, depth, quoted = [], 0, 0, False
    for i, c in enumerate(par):
        if c == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif c in "([":
            depth += 1
        elif c in ")]":
            depth = max(0, depth - 1)
        elif c in ".!?" and depth == 0 and (i + 1 == len(par) or par[i + 1] == " ") and \
                par[i - 1:i] != ".":  # "urs_loop_new .. urs_loop_free" is no end
            s = par[start:i + 1].strip()
            if any(s.endswith(a) for a in ABBREV):
                continue
            if i + 1 < len(par) and not re.match(r" +\S", par[i + 1:]):
                continue
            out.append(s)
            start = i + 1
    rest = par[start:].strip()
    if rest:
        out.append(rest)
    return out


def cap(s, keep=()):
    """Capitalised, unless it starts with a name (a call, r->field, a parameter)."""
    w = re.match(r"[\w>-]*", s).group(0)
    if not s or not s[0].islower() or s.startswith(("urs_", "r->")) or w in keep or \
            "_" in w or s[len(w):len(w) + 1] == "(":  # a name: setsockopt(2), buf_size
        return s
    return s[0].upper() + s[1:]


def lower_first(s):
    w = s.split(" ", 1)[0]
    if w in ("A", "An", "The") or (len(w) > 1 and w[1:].islower() and w[0].isupper()):
        return s[0].lower() + s[1:]
    return s


def split_return(func, sents):
    """(description sentences, return-value sentences) of one call's comment."""
    future = func.ret == "urs_future"
    verb = "resolves" if future else "returns"
    desc, rv = [], []
    for s in sents:
        if s.lower().startswith(verb + " ") or s.lower().startswith(verb + ","):
            rv.append(s)
            continue
        m = re.search(r"[,;:] (%s) " % verb, s)
        if m:
            desc.append(s[: m.start()].rstrip() + ".")
            rv.append(cap(s[m.start() + 2:]))
            continue
        desc.append(s)
        m = re.search(r"\band returns (.*)$", s)
        if not future and m:
            rv.append("Returns " + m.group(1))
    if not rv and future:
        # "... the fd is closed and the close resolves 0": the clause that says it
        for s in sents:
            cl = clauses(s)
            for c in cl:
                if re.search(r"\bresolves (to |0\b|-E)", c):
                    rv.append(cap(c if len(c.split()) >= 6 or c is cl[0] else cl[0] + "; " + c)
                              + ".")
    return desc, rv


def noun_return(func, sents):
    """'The port of ...' over a call that returns it: 'Returns the port of ...'."""
    if func.ret in ("void", "urs_future") or not sents:
        return None
    outs = [p for p in func.params[1:] if "*" in p[0] and not p[0].startswith("const ")]
    outs += [p for p in func.params if "[" in p[0]]
    if outs:
        return None
    s = sents[0]
    m = re.match(r"((?:The|A|An|-?\d+) .*)$", s) or \
        re.match(r"[\w' ]+(?: \([^)]*\))?: ((?:[Tt]he|[Aa]n?) .*)$", s)  # "Backpressure: the..."
    if not m:
        return None
    return "Returns " + lower_first(m.group(1))


CODE = r"-E[A-Z][A-Z0-9]+"
RUN = re.compile(r"%s(?:(?:\s*/\s*|,\s*(?:or\s+)?|\s+or\s+)%s)*" % (CODE, CODE))
CAUSE = ("for ", "when ", "from ", "if ", "on ", "as ", "once ", "(", "after ", "while ",
         "unless ")


def depth_at(s, k):
    d = 0
    for c in s[:k]:
        d += c in "(["
        d -= c in ")]"
    return d


def cause_after(s, k):
    """The cause that follows a code list at s[k:]: up to the next code list, ';' or the
    end of a parenthesis, at depth 0."""
    rest = s[k:].lstrip()
    if not rest.startswith(CAUSE):
        return None
    depth, out = 0, []
    for i, c in enumerate(rest):
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
            if depth < 0:
                break
        if depth == 0:
            if c in ";," or re.match(r"\s+or\s+-E[A-Z]", rest[i:]):
                break
        out.append(c)
    text = "".join(out).strip().rstrip(".,").strip()
    if text.startswith("(") and text.endswith(")") and depth_at(text[1:-1], len(text) - 2) == 0:
        text = text[1:-1]
    return text or None


def clauses(s):
    parts, depth, cur, i = [], 0, [], 0
    while i < len(s):
        c = s[i]
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        if depth == 0 and (s.startswith("; ", i) or s.startswith(": ", i) or
                           s.startswith(" \u2014 ", i)):
            parts.append("".join(cur))
            cur = []
            i += 3 if s.startswith(" \u2014 ", i) else 2
            continue
        cur.append(c)
        i += 1
    parts.append("".join(cur))
    return [p.strip().rstrip(".") for p in parts if p.strip()]


def errors_of(texts, whole):
    """[(codes, [explanations])] for the -E codes named in texts (sentences of the
    comment whole), in order; codes written together ("-EINVAL/-EALREADY") that share
    their explanations make one entry."""
    whys, runs = {}, []

    def note(codes, why):
        runs.append(codes)
        for c in codes:
            lst = whys.setdefault(c, [])
            if why and why not in lst:
                lst.append(why)

    after = r"([^,;:.()]+?)\s*\((%s)( otherwise)?\)"
    for s in texts:
        for m in RUN.finditer(s):
            codes = re.findall(CODE, m.group(0))
            why = cause_after(s, m.end())
            if why is None:
                rest = []
                for c in codes:  # "sock must have no op pending (-EBUSY)" elsewhere
                    p = re.search(after % re.escape(c), whole)
                    if p and not re.match(r"\s*(returns|resolves|or)\b", p.group(1), re.I):
                        note([c], p.group(0).strip())
                    else:
                        rest.append(c)
                codes = rest
                if codes and not re.match(r"(returns|resolves)\b", s, re.I):
                    # "every one queued behind it ... resolves -EPIPE": the clauses
                    cl = [x for x in clauses(s) if any(c in x for c in codes) and
                          not re.fullmatch(r"[\s,/or0-]*(%s[\s,/or]*)+" % CODE, x)]
                    if cl:
                        why = ". ".join(cl)
            if codes:
                note(codes, why)
    for p in re.finditer(after % CODE, whole):  # "(-EXDEV otherwise)"
        if p.group(2) not in whys and not re.match(r"\s*(returns|resolves|or)\b", p.group(1),
                                                   re.I):
            note([p.group(2)], p.group(0).strip())
    out, done = [], set()
    for c in whys:
        if c in done:
            continue
        group = [c]
        for r in runs:
            if c in r:
                group += [d for d in r if d not in group and d not in done and
                          whys[c] and whys[d] == whys[c]]
        done.update(group)
        out.append((group, whys[c]))
    return out


# ---------------------------------------------------------------- roff

def esc(text):
    """Plain text to roff: backslashes, minus signs, non-ASCII as \\[uXXXX]."""
    out = []
    for c in text:
        if c == "\\":
            out.append("\\e")
        elif c == "-":
            out.append("\\-")
        elif ord(c) > 126:
            out.append("\\[u%04X]" % ord(c))
        else:
            out.append(c)
    s = "".join(out)
    for a in ABBREV:
        s = s.replace(a.replace("-", "\\-") + " ", a + "\\& ")
    return s


def lines(text, width=80):
    """Wraps roff text at spaces; a line never starts with '.' or '\\''."""
    out = []
    for para in text.split("\n"):
        cur = ""
        for w in para.split(" "):
            if cur and len(cur) + 1 + len(w) > width:
                out.append(cur)
                cur = w
            else:
                cur = cur + " " + w if cur else w
        out.append(cur)
    return "\n".join("\\&" + l if l[:1] in ".'" else l for l in out)


class Refs:
    """Names worth a cross-reference: pages, functions, types, constants."""

    def __init__(self, api, pages):
        self.bold = set(f.name for f in api.funcs) | set(t.name for t in api.types) | \
            set(c.name for c in api.consts)
        self.pages = pages  # name -> page name

    def roff(self, text):
        """Prose to roff: escaped, API names in bold."""
        s = esc(text)
        return re.sub(r"\b((?:urs|URS)_\w+)\b",
                      lambda m: "\\fB%s\\fP" % m.group(1) if m.group(1) in self.bold else m.group(1),
                      s)

    def prose(self, sents):
        return lines("\n".join(self.roff(s) for s in sents))


def bi(parts):
    """A .BI line from [(bold, italic), ...]."""
    args = []
    for b, i in parts:
        args.append('"%s"' % esc(b).replace('"', '\\(dq') if b else '""')
        if i is not None:
            args.append(esc(i))
    while args and args[-1] == '""':
        args.pop()
    return (".BI " if len(args) > 1 else ".B ") + " ".join(args)


def synopsis_proto(f, width=78):
    """A prototype as .BI lines (parameter names in italics), wrapped after a comma with the
    parameters aligned, as the header does it."""
    head = ("static inline " if f.inline else "") + f.ret + ("" if f.ret.endswith("*") else " ") \
        + f.name + "("
    if not f.params:
        return [bi([(head + "void);", None)])]
    out, parts, text, col = [], [], head, len(head)
    for k, (p, nm) in enumerate(f.params):
        tail = ");" if k == len(f.params) - 1 else ","
        m = list(re.finditer(r"\b%s\b" % nm, p))[-1]
        sep = " " if k else ""
        if k and col + len(sep) + len(p) + len(tail) > width:
            parts.append((text, None))
            out.append(bi(parts))
            parts, text, col, sep = [], " " * len(head), len(head), ""
        parts.append((text + sep + p[: m.start()], nm))
        text = p[m.end():] + tail
        col += len(sep) + len(p) + len(tail)
    parts.append((text, None))
    out.append(bi(parts))
    return out


def th(name, section, version, date):
    # no hyphenation, ragged right: identifiers stay whole (as scdoc's pages do)
    return '.TH %s %s "%s" "ursock %s" "ursock Manual"\n.nh\n.ad l' % (
        name.upper().replace("-", "\\-"), section, date, version)


# ---------------------------------------------------------------- pages

SYSCALLS = {"socket", "socketpair", "bind", "listen", "accept", "connect", "recv", "recvfrom",
            "recvmsg", "send", "sendto", "sendmsg", "sendfile", "shutdown", "close",
            "getpeername", "getsockname", "setsockopt", "getsockopt"}


class Man:
    def __init__(self, api, readme, date):
        self.api = api
        self.readme = readme
        self.date = date
        pages = {}
        for g in api.groups:
            for f in g.funcs:
                pages[f.name] = g.name
        for t in api.types:
            if t.kind in ("struct", "enum"):
                pages[t.name] = t.name
        for c in api.consts:
            if c.owner is not None:
                pages[c.name] = c.owner.name
        self.pages = pages
        self.refs = Refs(api, pages)
        self.funcs = {f.name: f for f in api.funcs}
        self.types = {t.name: t for t in api.types}
        self.consts = {c.name: c for c in api.consts}
        self.out = {}  # relative path -> text
        self.summaries = {}

    # -- relations
    def mentions(self, text):
        """Pages named in text: by a call or type name, or by a constant a page owns."""
        found = []
        for m in re.finditer(r"\b(?:urs|URS)_\w+\b", text):
            p = self.pages.get(m.group(0))
            if p and p not in found:
                found.append(p)
        return found

    def page_text(self, page):
        if page in self.types:
            t = self.types[page]
            return " ".join([comment_text(t.item.doc)] +
                            [comment_text(m.comment) for m in t.members if m.comment] +
                            [comment_text(c) for c, _ in t.notes] +
                            [c.comment and comment_text(c.comment) or "" for c in t.constants])
        return comment_text(self.group_of(page).doc)

    def group_of(self, page):
        for g in self.api.groups:
            if g.name == page:
                return g
        return None

    def related(self, page, names):
        """SEE ALSO: calls of the same family (one name the start of another, a set/get
        pair), pages named in either page, the types in the prototypes."""
        allpages = sorted(set(self.pages.values()))
        text = self.page_text(page)
        rel = set(self.mentions(text))
        for other in allpages:
            if other == page:
                continue
            for n in names:
                o_names = [f.name for f in self.group_of(other).funcs] if self.group_of(other) \
                    else [other]
                for o in o_names:
                    if o.startswith(n) or n.startswith(o):
                        rel.add(other)
                    for a, b in (("urs_set", "urs_get"), ("urs_get", "urs_set")):
                        if n.startswith(a) and o == b + n[len(a):]:
                            rel.add(other)
            if page in self.mentions(self.page_text(other)):
                rel.add(other)
        # the types a prototype uses, and what a callback type hands over
        if page not in self.types:
            for f in self.group_of(page).funcs:
                for tname, t in self.types.items():
                    if re.search(r"\b%s\b" % tname, f.prototype()):
                        if t.kind in ("struct", "enum"):
                            rel.add(tname)
                        if t.kind == "fnptr":
                            for p, _ in t.params:
                                for t2 in self.types.values():
                                    if t2.kind == "struct" and re.search(r"\b%s\b" % t2.name, p):
                                        rel.add(t2.name)
        else:
            for g in self.api.groups:
                for f in g.funcs:
                    ps = " ".join(p for p, _ in f.params)
                    uses = re.search(r"\b%s\b" % page, ps)
                    for t in self.types.values():
                        if t.kind == "fnptr" and re.search(r"\b%s\b" % t.name, ps) and \
                                any(re.search(r"\b%s\b" % page, p) for p, _ in t.params):
                            uses = True
                    if uses:
                        rel.add(g.name)
        rel.discard(page)
        ext = set(re.findall(r"\b([a-z][a-z0-9_]*\([1-8]\))", text))
        for n in names:
            base = n[len("urs_"):]
            if base in SYSCALLS:
                ext.add("%s(2)" % base)
        refs = sorted(ext | {"%s(3)" % r for r in rel} | {"ursock(7)"},
                      key=lambda r: (r[-2], r))
        return refs

    def see_also(self, refs):
        out = [".SH SEE ALSO"]
        items = []
        for r in refs:
            nm, sec = r[:-3], r[-2]
            items.append("\\fB%s\\fP(%s)" % (esc(nm), sec))
        out.append(",\n".join(items))
        return out

    def constants_for(self, text):
        """Free constants a text names, and the constants their values name."""
        want = []
        for m in re.finditer(r"\bURS_\w+\b", text):
            c = self.consts.get(m.group(0))
            if c and c.owner is None and c not in want:
                want.append(c)
        k = 0
        while k < len(want):
            for m in re.finditer(r"\bURS_\w+\b", want[k].value or ""):
                c = self.consts.get(m.group(0))
                if c and c.owner is None and c not in want:
                    want.append(c)
            k += 1
        return want

    def const_entries(self, consts):
        out = []
        for c in consts:
            out.append(".TP")
            if c.value and len(c.value) <= 40:  # longer ones are better read in the header
                out.append('.BR %s " = %s"' % (c.name, esc(c.value)))
            else:
                out.append(".B %s" % c.name)
            text = comment_text(c.comment) if c.comment else ""
            out.append(self.refs.prose(sentences(text)) if text else "\\&")
        return out

    # -- a call's page
    def func_page(self, g):
        f0 = g.funcs[0]
        names = [f.name for f in g.funcs]
        text = comment_text(g.doc)
        sents = sentences(text)
        desc, rv = split_return(f0, sents)
        summary = self.summary(sents)
        for n in names:
            self.summaries[n] = summary
        out = [th(g.name, 3, self.api.version, self.date), ".SH NAME",
               "%s \\- %s" % (", ".join(esc(n) for n in names), esc(summary)),
               ".SH SYNOPSIS", ".nf", '.B "#include <ursock.h>"', ".PP"]
        for f in g.funcs:
            out += synopsis_proto(f)
        out += [".fi", ".PP", "Link with \\fB\\-lursock\\fP "
                "(\\fBpkg\\-config \\-\\-libs ursock\\fP)."]
        if f0.inline:
            out += [".PP", "A \\fBstatic inline\\fP function: it is compiled into the caller."]
        out += [".SH DESCRIPTION", self.refs.prose(desc)]
        consts = self.constants_for(text)
        if consts:
            out += [".SS Constants"] + self.const_entries(consts)
        noun = noun_return(f0, sents) if not rv else None
        stream = f0.ret == "urs_future" and any(p.split(" ")[0] == "urs_cb" for p, _ in f0.params)
        if f0.ret != "void":
            out.append(".SH RETURN VALUE")
            if f0.ret == "urs_future" and stream:
                cb = [nm for p, nm in f0.params if p.split(" ")[0] == "urs_cb"][0]
                out.append(lines(
                    "A future for the stream (see \\fBurs_future\\fP(3)): its events, the last "
                    "one included, go to \\fI%s\\fP, and \\fBurs_cancel\\fP(3) on it ends the "
                    "stream. A call that fails at once returns a future that carries its "
                    "\\-errno (\\fBurs_future_error\\fP(3)), and \\fI%s\\fP never runs." % (cb, cb)))
            elif f0.ret == "urs_future":
                out.append(lines(
                    "A future (see \\fBurs_future\\fP(3)). It resolves once; its result is "
                    "\\fIr\\->res\\fP in the \\fBurs_then\\fP(3) callback, or what "
                    "\\fBurs_await\\fP(3) returns. A call that fails at once returns a future "
                    "that carries its \\-errno (\\fBurs_future_error\\fP(3)); no callback runs "
                    "for it."))
            if rv:
                if f0.ret == "urs_future":
                    out.append(".PP")
                out.append(self.refs.prose(rv))
            elif noun:
                out.append(self.refs.prose([noun]))
            elif f0.ret == "int":
                out.append(lines(
                    "0 or more on success, a negative errno value on failure, as every "
                    "\\fBint\\fP result of ursock (\\fBursock\\fP(7))."))
            elif f0.ret != "urs_future":
                out.pop()
        keep = set(nm for f in g.funcs for nm in f.param_names())
        errs = errors_of(sents if f0.ret == "urs_future" else rv or [noun or ""], text)
        if errs:
            out.append(".SH ERRORS")
            for codes, whys in errs:
                out.append(".TP")
                out.append(".B " + ", ".join(c[1:] for c in codes))
                if whys:
                    out.append(self.refs.prose([cap(w, keep) + ("" if w.endswith(".") else ".")
                                                for w in whys]))
                else:
                    out.append(esc(os.strerror(errno_num(codes[0][1:]))) + ".")
        out += self.see_also(self.related(g.name, names))
        self.out["man3/%s.3" % g.name] = "\n".join(out) + "\n"
        for f in g.funcs[1:]:
            self.out["man3/%s.3" % f.name] = ".so man3/%s.3\n" % g.name

    def summary(self, sents, limit=72):
        s = sents[0].rstrip(".") if sents else ""
        if len(s) > limit:
            # at the first ';' or ':' past the first words, then at a '(', and at a ','
            # only as a last resort
            for seps in (("; ", ": "), (" (",), (", ",)):
                ks = [k for k in (top_level_find(s, sep) for sep in seps) if k > 12]
                if ks:
                    s = s[:min(ks)]
                    if len(s) <= limit:
                        break
        return s

    # -- a type's page
    def type_page(self, t):
        doc = comment_text(t.item.doc)
        sents = sentences(doc)
        users = [g.name for g in self.api.groups
                 if any(re.search(r"\b%s\b" % t.name, " ".join(p for p, _ in f.params))
                        for f in g.funcs)]
        if sents:
            summary = self.summary(sents)
        else:
            named = [p for p in self.pages.values() if p != t.name and
                     t.name in self.mentions(self.page_text(p))]
            what = "structure" if t.kind == "struct" else "values"
            summary = "%s %s %s" % (what, "passed to" if users else "used in",
                                    ", ".join(sorted(set(users or named))) or "ursock")
        self.summaries[t.name] = summary
        out = [th(t.name, 3, self.api.version, self.date), ".SH NAME",
               "%s \\- %s" % (esc(t.name), esc(summary)), ".SH SYNOPSIS", ".nf",
               '.B "#include <ursock.h>"', ".PP"]
        out += [esc(l) if l[:1] not in ".'" else "\\&" + esc(l) for l in t.definition.split("\n")]
        for c in t.constants:
            if c.item.kind == "pre":
                out.append(esc(squash(c.item.text)))
            elif c is t.constants[0] or t.constants[t.constants.index(c) - 1].item is not c.item:
                out += [esc(l) for l in definition_text(c.item.text).split("\n")]
        out += [".fi", ".SH DESCRIPTION"]
        if sents:
            out.append(self.refs.prose(sents))
        else:
            out.append(lines("The %s \\fB%s\\fP, as \\fI<ursock.h>\\fP declares it." % (
                "structure" if t.kind == "struct" else "enumeration", esc(t.name))))
        if t.kind == "struct":
            documented = [m for m in t.members if m.comment]
            notes = dict((id(before), c) for c, before in t.notes)
            if documented or t.notes:
                out.append(".SS Fields")
            done = set()
            for m in t.members:
                if id(m) in notes:
                    out += [".PP", self.refs.prose(sentences(comment_text(notes[id(m)])))]
                if not m.comment or id(m) in done:
                    continue
                group = m.shared
                for x in group:
                    done.add(id(x))
                out.append(".TP")
                out.append(".I " + esc(", ".join(n for x in group for n in x.names)))
                out.append(self.refs.prose(sentences(comment_text(m.comment))))
            for c, before in t.notes:
                if before is None:
                    out += [".PP", self.refs.prose(sentences(comment_text(c)))]
        else:
            out.append(".SS Values")
            for m in t.members:
                out.append(".TP")
                out.append('.BR %s " = %s"' % (m.names[0], esc(m.value)) if m.value
                           else ".B %s" % m.names[0])
                out.append(self.refs.prose(sentences(comment_text(m.comment))) if m.comment
                           else "\\&")
        if t.constants:
            out.append(".SS Constants")
            out += self.const_entries(t.constants)
        out += self.see_also(self.related(t.name, [t.name]))
        self.out["man3/%s.3" % t.name] = "\n".join(out) + "\n"

    # -- ursock(7)
    def overview(self):
        api = self.api
        top = comment_lines(api.tops[0].text) if api.tops else []
        blocks = text_blocks(top)
        first = blocks.pop(0)[1] if blocks and blocks[0][0] == "par" else ""
        m = re.match(r"ursock:\s*(.*)$", first)
        summary = (m.group(1) if m else first).rstrip(".")
        out = [th("ursock", 7, api.version, self.date), ".SH NAME",
               "ursock \\- %s" % esc(summary), ".SH SYNOPSIS", ".nf",
               '.B "#include <ursock.h>"', ".PP",
               ".B cc app.c $(pkg\\-config \\-\\-cflags \\-\\-libs ursock)", ".fi",
               ".SH DESCRIPTION",
               lines("\\fBursock\\fP is %s." % self.refs.roff(summary)),
               lines("This page gathers the conventions every call follows and the lifetime "
                     "of every object; each call and type has a page of its own, listed "
                     "below.")]
        for kind, body in blocks:
            if kind == "head":
                out.append(".SS " + quote_arg(self.refs.roff(re.sub(r"\s*\(see README\.md\)",
                                                                   "", body.rstrip(":")))))
            elif kind == "par":
                out += [".PP", self.refs.prose(sentences(body))]
            else:
                for b in body:
                    out += [".IP \\(bu 2", self.refs.prose(sentences(squash(b))) ]
        if self.readme:
            out += self.readme_lifetimes()
        if len(api.tops) > 1:
            pars = comment_paragraphs(api.tops[1].text)
            out += [".SS Versions", self.refs.prose(sentences(pars[0]))]
            vconsts = [c for c in api.consts if c.owner is None and c.item.path == api.tops[1].path]
            if vconsts:
                out += self.const_entries(vconsts)
        out.append(".SH FUNCTIONS")
        sections = []
        for g in api.groups:
            if g.section not in sections:
                sections.append(g.section)
        for sec in sections:
            out.append(".SS " + quote_arg(cap(sec or "version")))
            for g in api.groups:
                if g.section != sec:
                    continue
                out.append(".TP")
                out.append(", ".join("\\fB%s\\fP(3)" % esc(f.name) for f in g.funcs))
                out.append(self.refs.prose([cap(self.summaries[g.name]) + "."]))
        out.append(".SH TYPES")
        for t in api.types:
            out.append(".TP")
            if t.kind in ("struct", "enum"):
                out.append("\\fB%s\\fP(3)" % esc(t.name))
                out.append(self.refs.prose([cap(self.summaries[t.name]) + "."]))
            elif t.kind == "opaque":
                out.append("\\fB%s\\fP" % esc(t.name))
                out.append(lines("Opaque: the library hands out pointers to it and frees it; "
                                 "see Lifetimes above."))
            else:
                out.append("\\fB%s\\fP" % esc(t.name))
                doc = comment_text(t.item.doc)
                out.append(self.refs.prose(sentences(doc)) if doc else "\\&")
                out.append(".RS")
                out.append(".nf")
                out.append(esc(squash(strip_comments(t.item.text))))
                out.append(".fi")
                out.append(".RE")
        refs = ["io_uring(7)", "ip(7)", "socket(7)", "unix(7)"]
        out.append(".SH SEE ALSO")
        out.append(",\n".join("\\fB%s\\fP(%s)" % (r[:-3], r[-2]) for r in refs) + ";")
        out.append(lines("README.md and docs/ABI.md in the source tree."))
        self.out["man7/ursock.7"] = "\n".join(out) + "\n"

    def readme_lifetimes(self):
        with open(self.readme, encoding="utf-8") as f:
            md = f.read().split("\n")
        head = None
        for k, l in enumerate(md):
            if re.match(r"#+\s+.*lifetime", l, re.I):
                head = k
                break
        if head is None:
            raise ParseError("%s: no 'Lifetimes' section (ursock(7) shows its table)"
                             % self.readme)
        rows = []
        for l in md[head + 1:]:
            if l.startswith("#"):
                break
            if l.startswith("|"):
                rows.append([c.strip() for c in l.strip().strip("|").split("|")])
            elif rows:
                break
        if len(rows) < 3:
            raise ParseError("%s: the Lifetimes section has no table" % self.readme)
        hdr, rows = rows[0], [r for r in rows[2:]]
        out = [".SS " + quote_arg(md_roff(re.sub(r"^#+\s*", "", md[head]), self.refs))]
        for r in rows:
            out.append(".TP")
            out.append(md_roff(r[0], self.refs, strong=True))
            parts = ["\\fI%s\\fP %s" % (esc(hdr[k]), md_roff(r[k], self.refs))
                     for k in range(1, len(r) - 1)]
            last = md_roff(cap(r[-1]) + ("" if r[-1].endswith(".") else "."), self.refs)
            out.append(lines("; ".join(parts) + ". " + last))
        return out

    def build(self):
        for t in self.api.types:
            if t.kind in ("struct", "enum"):
                self.type_page(t)
        for g in self.api.groups:
            self.func_page(g)
        self.overview()
        return self.out


def text_blocks(lines_):
    """A top comment's lines as [("par", text) | ("head", text) | ("list", [items])]."""
    blocks, par, items = [], [], None
    for l in lines_ + [""]:
        m = re.match(r"(\s*)- (.*)$", l)
        if m:
            if par:
                blocks.append(("head" if " ".join(par).endswith(":") else "par", " ".join(par)))
                par = []
            if items is None:
                items = []
            items.append(m.group(2).strip())
            continue
        if items is not None and l.strip() and l.startswith(" "):
            items[-1] += " " + l.strip()
            continue
        if items is not None:
            blocks.append(("list", items))
            items = None
        if l.strip():
            par.append(l.strip())
        elif par:
            blocks.append(("par", " ".join(par)))
            par = []
    return blocks


def md_roff(text, refs, strong=False):
    """A markdown table cell as roff text."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    out, pos = [], 0
    for m in re.finditer(r"`([^`]*)`|\*\*([^*]*)\*\*|\*([^*]*)\*", text):
        out.append(esc(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append("\\fB%s\\fP" % esc(m.group(1)))
        elif m.group(2) is not None:
            out.append("\\fB%s\\fP" % esc(m.group(2)))
        else:
            out.append("\\fI%s\\fP" % esc(m.group(3)))
        pos = m.end()
    out.append(esc(text[pos:]))
    s = "".join(out)
    return "\\fB%s\\fP" % s if strong and "\\f" not in s else s


def quote_arg(s):
    return '"%s"' % s.replace('"', "\\(dq")


def top_level_find(s, sep):
    depth = 0
    for i, c in enumerate(s):
        if c in "([":
            if depth == 0 and sep == " (" and i and s[i - 1] == " ":
                return i - 1
            depth += 1
        elif c in ")]":
            depth -= 1
        elif depth == 0 and s.startswith(sep, i):
            return i
    return -1


def errno_num(name):
    import errno
    return getattr(errno, name, 0)


# ---------------------------------------------------------------- main

def main(argv):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("headers", nargs="+", help="the public headers, ursock.h first")
    ap.add_argument("--out", help="the man tree to write (replaced whole)")
    ap.add_argument("--readme", help="README.md, for ursock(7)'s lifetime table")
    ap.add_argument("--check", action="store_true", help="parse and check only")
    a = ap.parse_args(argv)
    if not a.check and not a.out:
        ap.error("--out DIR or --check")
    api = Api()
    try:
        for h in a.headers:
            api.add_header(h)
        errors = api.check()
        if errors:
            for e in errors:
                print("%s: %s" % (PROG, e), file=sys.stderr)
            print("%s: %d problem%s: no man pages written" % (PROG, len(errors),
                  "" if len(errors) == 1 else "s"), file=sys.stderr)
            return 1
        if a.check:
            return 0
        # the pages' date: the sources' (reproducible: SOURCE_DATE_EPOCH wins, as Debian sets)
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        if not epoch:
            epoch = max(os.path.getmtime(p) for p in a.headers + ([a.readme] if a.readme else []))
        date = time.strftime("%Y-%m-%d", time.gmtime(int(float(epoch))))
        pages = Man(api, a.readme, date).build()
    except (ParseError, OSError) as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 1
    tmp = a.out.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for rel, text in pages.items():
        path = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="ascii") as f:
            f.write(text)
    shutil.rmtree(a.out, ignore_errors=True)
    os.rename(tmp, a.out)
    n3 = sum(1 for p in pages if p.startswith("man3/"))
    links = sum(1 for t in pages.values() if t.startswith(".so "))
    print("%s: %d pages in %s (man3: %d, of which %d .so links; man7: %d)"
          % (PROG, len(pages), a.out, n3, links, len(pages) - n3))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
