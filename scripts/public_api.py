#!/usr/bin/env python3
"""Prints the public API of a crate from its rustdoc JSON, one sorted line an item.

    python3 scripts/public_api.py target/doc/itsclassified.json

scripts/public_api.sh runs it (with `cargo rustdoc --all-features ... --output-format json`) and
diffs the output against scripts/public-api.txt. A line names the item by its public path (where
a user reaches it, through re-exports), its kind and its signature; types are written with the
full path of their definition (`core::result::Result`, `serde::de::DeserializeOwned`), so a
change of a `use` line inside the crate does not show, while a change a user can see does:
a renamed or removed item, a new field or variant, a changed signature, bound or constant, a
lost auto trait (Send, Sync, Unpin, UnwindSafe), a trait impl gained or lost, `#[non_exhaustive]`.
Blanket impls (`impl<T> From<T> for T` and the like) are left out: they come with every type.

The rustdoc JSON format is unstable; this reads format version 57 (Rust 1.95) and fails with a
clear message on a shape it does not know, rather than printing a guess.
"""

import json
import sys

KNOWN_FORMATS = {57}


class Unknown(Exception):
    pass


def fail_unknown(what, value):
    raise Unknown(f"unknown rustdoc JSON shape for {what}: {json.dumps(value)[:200]}")


class Api:
    def __init__(self, doc):
        self.doc = doc
        self.index = doc["index"]
        self.paths = doc["paths"]
        self.crate = self.index[str(doc["root"])]["name"]
        self.lines = set()
        self.seen_types = set()
        # Where a user reaches each of the crate's items (first pass), so that a type is
        # written with its public path, not the private module that defines it.
        self.public_path = {}
        self.collecting = False
        self.group = None

    # ---- types -------------------------------------------------------------------------------

    def path_name(self, path):
        """The full path of a resolved path's definition, or the path as written."""
        pid = path.get("id")
        if pid is not None and pid in self.public_path:
            name = self.public_path[pid]
        else:
            entry = self.paths.get(str(pid)) if pid is not None else None
            name = "::".join(entry["path"]) if entry else path["path"]
        return name + self.generic_args(path.get("args"))

    def generic_args(self, args):
        if not args:
            return ""
        if "angle_bracketed" in args:
            ab = args["angle_bracketed"]
            parts = [self.generic_arg(a) for a in ab["args"]]
            for c in ab["constraints"]:
                name = c["name"] + self.generic_args(c.get("args"))
                binding = c["binding"]
                if "equality" in binding:
                    term = binding["equality"]
                    value = self.ty(term["type"]) if "type" in term else self.const(term["constant"])
                    parts.append(f"{name} = {value}")
                elif "constraint" in binding:
                    parts.append(f"{name}: {self.bounds(binding['constraint'])}")
                else:
                    fail_unknown("binding", binding)
            return "<" + ", ".join(parts) + ">" if parts else ""
        if "parenthesized" in args:
            p = args["parenthesized"]
            out = "(" + ", ".join(self.ty(t) for t in p["inputs"]) + ")"
            if p.get("output") is not None:
                out += " -> " + self.ty(p["output"])
            return out
        if args == "return_type_notation" or "return_type_notation" in args:
            return "(..)"
        fail_unknown("generic args", args)

    def generic_arg(self, arg):
        if arg == "infer":
            return "_"
        if "lifetime" in arg:
            return arg["lifetime"]
        if "type" in arg:
            return self.ty(arg["type"])
        if "const" in arg:
            return self.const(arg["const"])
        fail_unknown("generic arg", arg)

    @staticmethod
    def const(c):
        return c.get("expr") or c.get("value") or "_"

    def ty(self, t):
        if t is None:
            return "()"
        if "resolved_path" in t:
            return self.path_name(t["resolved_path"])
        if "generic" in t:
            return t["generic"]
        if "primitive" in t:
            return t["primitive"]
        if "tuple" in t:
            items = [self.ty(x) for x in t["tuple"]]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if "slice" in t:
            return "[" + self.ty(t["slice"]) + "]"
        if "array" in t:
            return f"[{self.ty(t['array']['type'])}; {t['array']['len']}]"
        if "borrowed_ref" in t:
            r = t["borrowed_ref"]
            life = (r["lifetime"] + " ") if r.get("lifetime") else ""
            mut = "mut " if r["is_mutable"] else ""
            return f"&{life}{mut}{self.ty(r['type'])}"
        if "raw_pointer" in t:
            r = t["raw_pointer"]
            return ("*mut " if r["is_mutable"] else "*const ") + self.ty(r["type"])
        if "impl_trait" in t:
            return "impl " + self.bounds(t["impl_trait"])
        if "dyn_trait" in t:
            d = t["dyn_trait"]
            parts = []
            for pt in d["traits"]:
                hrtb = self.hrtb(pt.get("generic_params", []))
                parts.append(hrtb + self.path_name(pt["trait"]))
            if d.get("lifetime"):
                parts.append(d["lifetime"])
            return "dyn " + " + ".join(parts)
        if "qualified_path" in t:
            q = t["qualified_path"]
            self_ty = self.ty(q["self_type"])
            name = q["name"] + self.generic_args(q.get("args"))
            if q.get("trait"):
                return f"<{self_ty} as {self.path_name(q['trait'])}>::{name}"
            return f"{self_ty}::{name}"
        if "function_pointer" in t:
            f = t["function_pointer"]
            return self.hrtb(f.get("generic_params", [])) + self.header(f["header"]) + "fn" + \
                self.sig(f["sig"], names=False)
        if t == "infer" or "infer" in t:
            return "_"
        if "pat" in t:
            return self.ty(t["pat"]["type"]) + " is " + t["pat"]["__pat_unstable_do_not_use"]
        fail_unknown("type", t)

    def bounds(self, bounds):
        out = []
        for b in bounds:
            if "trait_bound" in b:
                tb = b["trait_bound"]
                modifier = {"none": "", "maybe": "?", "maybe_const": "~const "}.get(tb["modifier"])
                if modifier is None:
                    fail_unknown("bound modifier", tb["modifier"])
                out.append(self.hrtb(tb.get("generic_params", [])) + modifier +
                           self.path_name(tb["trait"]))
            elif "outlives" in b:
                out.append(b["outlives"])
            elif "use" in b:
                names = [a.get("lifetime") or a.get("param") if isinstance(a, dict) else a
                         for a in b["use"]]
                out.append("use<" + ", ".join(names) + ">")
            else:
                fail_unknown("bound", b)
        return " + ".join(out)

    def hrtb(self, params):
        return f"for<{', '.join(self.params(params))}> " if params else ""

    def params(self, params):
        out = []
        for p in params:
            kind = p["kind"]
            if "lifetime" in kind:
                outlives = kind["lifetime"]["outlives"]
                out.append(p["name"] + (": " + " + ".join(outlives) if outlives else ""))
            elif "type" in kind:
                k = kind["type"]
                if k.get("is_synthetic"):
                    continue  # `impl Trait` in argument position: shown in the argument
                s = p["name"]
                if k["bounds"]:
                    s += ": " + self.bounds(k["bounds"])
                if k.get("default") is not None:
                    s += " = " + self.ty(k["default"])
                out.append(s)
            elif "const" in kind:
                k = kind["const"]
                s = f"const {p['name']}: {self.ty(k['type'])}"
                if k.get("default") is not None:
                    s += " = " + k["default"]
                out.append(s)
            else:
                fail_unknown("generic param", p)
        return out

    def generics(self, g):
        params = self.params(g["params"])
        return "<" + ", ".join(params) + ">" if params else ""

    def where_clause(self, g):
        preds = []
        for w in g["where_predicates"]:
            if "bound_predicate" in w:
                bp = w["bound_predicate"]
                preds.append(self.hrtb(bp.get("generic_params", [])) + self.ty(bp["type"]) + ": " +
                             self.bounds(bp["bounds"]))
            elif "lifetime_predicate" in w:
                lp = w["lifetime_predicate"]
                preds.append(lp["lifetime"] + ": " + " + ".join(lp["outlives"]))
            elif "eq_predicate" in w:
                ep = w["eq_predicate"]
                rhs = ep["rhs"]
                rhs = self.ty(rhs["type"]) if "type" in rhs else self.const(rhs["constant"])
                preds.append(self.ty(ep["lhs"]) + " = " + rhs)
            else:
                fail_unknown("where predicate", w)
        return " where " + ", ".join(preds) if preds else ""

    @staticmethod
    def header(h):
        out = ""
        if h["is_const"]:
            out += "const "
        if h["is_async"]:
            out += "async "
        if h["is_unsafe"]:
            out += "unsafe "
        abi = h["abi"]
        if abi != "Rust":
            out += f'extern "{abi if isinstance(abi, str) else next(iter(abi))}" '
        return out

    def sig(self, sig, names=True):
        args = []
        for name, t in sig["inputs"]:
            if names and name == "self":
                rendered = self.ty(t)
                args.append({"Self": "self", "&Self": "&self", "&mut Self": "&mut self"}.get(
                    rendered, "self: " + rendered))
            elif names:
                args.append(f"{name}: {self.ty(t)}")
            else:
                args.append(self.ty(t))
        if sig.get("is_c_variadic"):
            args.append("...")
        out = "(" + ", ".join(args) + ")"
        if sig.get("output") is not None:
            out += " -> " + self.ty(sig["output"])
        return out

    def function(self, name, f):
        return (self.header(f["header"]) + "fn " + name + self.generics(f["generics"]) +
                self.sig(f["sig"]) + self.where_clause(f["generics"]))

    # ---- items -------------------------------------------------------------------------------

    @staticmethod
    def attrs(item):
        out = []
        for a in item.get("attrs", []):
            text = a if isinstance(a, str) else json.dumps(a)
            if "non_exhaustive" in text:
                out.append("#[non_exhaustive] ")
        return "".join(sorted(set(out)))

    def emit(self, line, rank=0, group=None):
        """Records a line; lines are printed grouped by the item they belong to."""
        if not self.collecting:
            self.lines.add((group or self.group, rank, line))

    def walk(self):
        self.collecting = True
        self.module(self.crate, self.doc["root"])
        self.collecting = False
        self.seen_types.clear()
        self.emit(f"pub mod {self.crate}", group=self.crate)
        self.module(self.crate, self.doc["root"])

    def module(self, path, module_id):
        item = self.index[str(module_id)]
        for child in item["inner"]["module"]["items"]:
            self.item(path, child)

    def item(self, parent, item_id, name=None):
        item = self.index.get(str(item_id))
        if item is None:
            fail_unknown("item id not in the index", item_id)
        (kind, inner), = item["inner"].items()
        if kind == "use":
            target = inner.get("id")
            if inner["is_glob"]:
                if target is not None and str(target) in self.index:
                    self.module(parent, target)
                else:
                    self.emit(f"pub use {parent}::{inner['source']}::*")
            elif target is not None and str(target) in self.index:
                self.item(parent, target, name=inner["name"])
            else:
                self.emit(f"pub use {parent}::{inner['name']} = {inner['source']}")
            return
        if item["visibility"] != "public":
            return
        name = name or item["name"]
        path = f"{parent}::{name}"
        if self.collecting:
            known = self.public_path.get(item_id)
            if known is not None and (len(known), known) <= (len(path), path):
                if kind == "module":
                    return  # already walked: re-exported modules are listed once
            else:
                self.public_path[item_id] = path
        self.group = path
        pre = self.attrs(item)
        if kind == "module":
            self.emit(f"pub mod {path}")
            self.module(path, item_id)
        elif kind == "function":
            self.emit(f"{pre}pub " + self.function(path, inner))
        elif kind == "struct":
            self.struct(path, item_id, item, inner, pre)
        elif kind == "enum":
            self.enum(path, item_id, item, inner, pre)
        elif kind == "constant":
            self.emit(f"pub const {path}: {self.ty(inner['type'])} = {self.const(inner['const'])}")
        elif kind == "static":
            mut = "mut " if inner["is_mutable"] else ""
            self.emit(f"pub static {mut}{path}: {self.ty(inner['type'])}")
        elif kind == "type_alias":
            self.emit(f"pub type {path}{self.generics(inner['generics'])} = "
                      f"{self.ty(inner['type'])}{self.where_clause(inner['generics'])}")
        elif kind == "trait":
            self.trait(path, inner, pre)
        elif kind == "macro" or kind == "proc_macro":
            self.emit(f"pub macro {path}")
        else:
            fail_unknown("item kind", kind)

    def struct(self, path, item_id, item, inner, pre):
        g = inner["generics"]
        head = f"{pre}pub struct {path}{self.generics(g)}"
        kind = inner["kind"]
        if kind == "unit":
            self.emit(head + self.where_clause(g))
        elif "tuple" in kind:
            fields = ["pub " + self.ty(self.index[str(f)]["inner"]["struct_field"])
                      if f is not None else "_" for f in kind["tuple"]]
            self.emit(head + "(" + ", ".join(fields) + ")" + self.where_clause(g))
        elif "plain" in kind:
            stripped = " (private fields)" if kind["plain"]["has_stripped_fields"] else ""
            self.emit(head + self.where_clause(g) + stripped)
            for f in kind["plain"]["fields"]:
                field = self.index[str(f)]
                self.emit(f"pub field {path}::{field['name']}: "
                          f"{self.ty(field['inner']['struct_field'])}", rank=1)
        else:
            fail_unknown("struct kind", kind)
        self.impls(path, inner["impls"])

    def enum(self, path, item_id, item, inner, pre):
        g = inner["generics"]
        stripped = " (hidden variants)" if inner.get("has_stripped_variants") else ""
        self.emit(f"{pre}pub enum {path}{self.generics(g)}{self.where_clause(g)}{stripped}")
        for v in inner["variants"]:
            variant = self.index[str(v)]
            vk = variant["inner"]["variant"]["kind"]
            vpath = f"{path}::{variant['name']}"
            vpre = self.attrs(variant)
            if vk == "plain":
                self.emit(f"{vpre}pub variant {vpath}", rank=1)
            elif "tuple" in vk:
                fields = [self.ty(self.index[str(f)]["inner"]["struct_field"])
                          if f is not None else "_" for f in vk["tuple"]]
                self.emit(f"{vpre}pub variant {vpath}(" + ", ".join(fields) + ")", rank=1)
            elif "struct" in vk:
                fields = [self.index[str(f)] for f in vk["struct"]["fields"]]
                body = ", ".join(f"{f['name']}: {self.ty(f['inner']['struct_field'])}"
                                 for f in fields)
                if vk["struct"]["has_stripped_fields"]:
                    body += ", .."
                self.emit(f"{vpre}pub variant {vpath} {{ {body} }}", rank=1)
            else:
                fail_unknown("variant kind", vk)
        self.impls(path, inner["impls"])

    def trait(self, path, inner, pre):
        unsafe = "unsafe " if inner["is_unsafe"] else ""
        sealed = "" if inner.get("is_dyn_compatible", True) else " (not dyn-compatible)"
        supers = ": " + self.bounds(inner["bounds"]) if inner["bounds"] else ""
        g = inner["generics"]
        self.emit(f"{pre}pub {unsafe}trait {path}{self.generics(g)}{supers}"
                  f"{self.where_clause(g)}{sealed}")
        for i in inner["items"]:
            self.assoc("trait item ", path, self.index[str(i)], rank=2, in_trait=True)
        # Its implementations, blanket ones included: for a trait of the crate they are API.
        for i in inner.get("implementations", []):
            impl = self.index[str(i)]["inner"]["impl"]
            g = self.generics(impl["generics"])
            self.emit(f"impl{g} {self.path_name(impl['trait'])} for {self.ty(impl['for'])}"
                      f"{self.where_clause(impl['generics'])}", rank=3,
                      group=self.public_path.get(impl["trait"]["id"], path))

    def assoc(self, prefix, path, item, rank, in_trait=False):
        (kind, inner), = item["inner"].items()
        name = f"{path}::{item['name']}"
        if kind == "function":
            default = " (provided)" if in_trait and inner["has_body"] else ""
            self.emit(prefix + self.function(name, inner) + default, rank)
        elif kind == "assoc_const":
            # The value only where it is a literal: an expression naming a private constant
            # says nothing to a user and would change with a refactor.
            v = inner.get("value")
            value = f" = {v}" if v and (v[0].isdigit() or v[0] in "\"'-") else ""
            self.emit(f"{prefix}const {name}: {self.ty(inner['type'])}{value}", rank)
        elif kind == "assoc_type":
            bounds = ": " + self.bounds(inner["bounds"]) if inner.get("bounds") else ""
            value = f" = {self.ty(inner['type'])}" if inner.get("type") else ""
            self.emit(f"{prefix}type {name}{self.generics(inner['generics'])}{bounds}{value}",
                      rank)
        else:
            fail_unknown("associated item kind", kind)

    def impls(self, path, impl_ids):
        if path in self.seen_types:
            return
        self.seen_types.add(path)
        for i in impl_ids:
            impl = self.index[str(i)]["inner"]["impl"]
            if impl.get("blanket_impl") is not None:
                continue
            g = self.generics(impl["generics"])
            where = self.where_clause(impl["generics"])
            for_ty = self.ty(impl["for"])
            if impl["trait"] is None:
                # Inherent items: `pub fn Type::name(..)`, with the impl's generics in front
                # when it has any.
                prefix = f"impl{g}{where} pub " if g or where else "pub "
                for item_id in impl["items"]:
                    item = self.index[str(item_id)]
                    if item["visibility"] == "public":
                        self.assoc(prefix, for_ty, item, rank=2)
                continue
            neg = "!" if impl["is_negative"] else ""
            unsafe = "unsafe " if impl["is_unsafe"] else ""
            trait = self.path_name(impl["trait"])
            # Associated types of a trait impl are part of the API (`type Rejection = ...`);
            # its methods are the trait's.
            assoc_types = []
            for item_id in impl["items"]:
                item = self.index[str(item_id)]
                (kind, inner), = item["inner"].items()
                if kind == "assoc_type" and inner.get("type") is not None:
                    assoc_types.append(f"type {item['name']} = {self.ty(inner['type'])}")
            body = " { " + "; ".join(sorted(assoc_types)) + " }" if assoc_types else ""
            auto = impl.get("is_synthetic")
            # Listed once, with the type it is for (rustdoc also lists `From<A> for B` with A).
            target = impl["for"].get("resolved_path", {}).get("id")
            self.emit(f"{unsafe}impl{g} {neg}{trait} for {for_ty}{where}{body}"
                      + (" (auto trait)" if auto else ""), rank=4 if auto else 3,
                      group=self.public_path.get(target, path))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: public_api.py CRATE.json")
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    version = doc.get("format_version")
    if version not in KNOWN_FORMATS:
        print(f"public_api.py: rustdoc JSON format {version}, written for {sorted(KNOWN_FORMATS)}:"
              " reading it anyway; any change in the output may be the format's, not the API's",
              file=sys.stderr)
    api = Api(doc)
    try:
        api.walk()
    except (Unknown, KeyError, TypeError, ValueError, AttributeError) as e:
        sys.exit(f"public_api.py: cannot read this rustdoc JSON (format {version}): "
                 f"{type(e).__name__}: {e}\nUpdate scripts/public_api.py for the new format.")
    for _group, _rank, line in sorted(api.lines):
        print(line)


if __name__ == "__main__":
    main()
