"""Hypothesis strategies that damage real data files the way users and spreadsheets do.

A mutation takes the text of a file (its lines, the header lines first) and returns new bytes. The strategies draw
one to three of them and apply them in turn to a real seed file; the fuzz tests then read the result and demand a
correct frame or a :class:`~wattbit.errors.WattbitInputError` that says where and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import strategies as st

NUMBER = re.compile(r"(?<![\w.:/-])-?\d+(?:\.\d+)?(?![\w.:/-])")
ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
SLASH_DATE = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})")
SPECIAL_VALUES = ["NaN", "nan", "inf", "-inf", "Infinity", "1e309", "#N/A", "N/A", "-", "null", "#VALUE!"]
ABSURD_VALUES = ["1e30", "-1e30", "99999999", "-99999999", "1e15", "-273.16e3", "3.4e38"]
ENCODINGS = ["utf-16", "utf-16-le", "latin-1", "cp932", "utf-8", "utf-32"]


@dataclass
class Doc:
    """A file under mutation: its lines (without line ends), how many header lines, the separator, the encoding."""

    lines: list[str]
    header_lines: int
    sep: str
    encoding: str
    newline: str = "\n"
    bom: bool = False
    final_newline: bool = True
    raw_override: bytes | None = None

    def data_range(self) -> range:
        return range(self.header_lines, len(self.lines))

    def encode(self) -> bytes:
        if self.raw_override is not None:
            return self.raw_override
        text = self.newline.join(self.lines) + (self.newline if self.final_newline else "")
        raw = text.encode(self.encoding, errors="replace")
        return (b"\xef\xbb\xbf" + raw) if self.bom and self.encoding == "utf-8" else raw


def seed_doc(raw: bytes, header_lines: int, encoding: str = "utf-8", sep: str = ",") -> Doc:
    """Split a seed file into a :class:`Doc`."""
    text = raw.decode(encoding)
    lines = text.splitlines()
    return Doc(lines, header_lines, sep, encoding, final_newline=text.endswith("\n"))


Mutation = Callable[[Doc], None]


@st.composite
def mutation(draw: st.DrawFn) -> Mutation:
    """One kind of damage, with its parameters drawn; applied in place to a :class:`Doc`."""
    kind = draw(
        st.sampled_from(
            [
                "truncate_bytes",
                "cut_last_row",
                "reencode",
                "bom",
                "crlf",
                "stray_separator",
                "excel_date",
                "thousands",
                "special_value",
                "absurd",
                "duplicate_row",
                "drop_row",
                "swap_rows",
                "reverse_rows",
                "garbage_line",
                "flip_byte",
                "blank_line",
                "drop_column",
            ]
        )
    )
    seed = draw(st.integers(0, 2**32 - 1))

    def apply(doc: Doc) -> None:
        r = _Rng(seed)  # every parameter comes from `seed`: the mutation is a plain, replayable value
        data = list(doc.data_range())
        if kind == "truncate_bytes":
            raw = doc.encode()
            doc.raw_override = raw[: r.below(len(raw) + 1)]
        elif kind == "cut_last_row" and data:
            last = doc.lines[-1]
            doc.lines[-1] = last[: 1 + r.below(max(len(last) - 1, 1))]
            doc.final_newline = False
        elif kind == "reencode":
            doc.encoding = ENCODINGS[r.below(len(ENCODINGS))]
        elif kind == "bom":
            doc.bom, doc.encoding = True, "utf-8"
        elif kind == "crlf":
            doc.newline = "\r\n" if r.below(4) else "\r"
        elif kind == "stray_separator" and data:
            i = data[r.below(len(data))]
            pos = r.below(len(doc.lines[i]) + 1)
            doc.lines[i] = doc.lines[i][:pos] + doc.sep + doc.lines[i][pos:]
        elif kind == "excel_date" and data:
            style = r.below(3)
            for i in data:
                doc.lines[i] = ISO_DATE.sub(_excel_date(style), doc.lines[i])
                doc.lines[i] = SLASH_DATE.sub(_excel_date(style, slash=True), doc.lines[i])
        elif kind == "thousands" and data:
            i = data[r.below(len(data))]
            doc.lines[i] = NUMBER.sub(_thousands(doc.sep), doc.lines[i])
        elif kind == "special_value" and data:
            _replace_seeded(doc, r, SPECIAL_VALUES[r.below(len(SPECIAL_VALUES))])
        elif kind == "absurd" and data:
            _replace_seeded(doc, r, ABSURD_VALUES[r.below(len(ABSURD_VALUES))])
        elif kind == "duplicate_row" and data:
            i = data[r.below(len(data))]
            doc.lines.insert(i + 1, doc.lines[i])
        elif kind == "drop_row" and data:
            del doc.lines[data[r.below(len(data))]]
        elif kind == "swap_rows" and len(data) > 1:
            i, j = data[r.below(len(data))], data[r.below(len(data))]
            doc.lines[i], doc.lines[j] = doc.lines[j], doc.lines[i]
        elif kind == "reverse_rows" and data:
            doc.lines[doc.header_lines :] = doc.lines[doc.header_lines :][::-1]
        elif kind == "garbage_line":
            pos = r.below(len(doc.lines) + 1)
            doc.lines.insert(pos, "".join(chr(32 + r.below(95)) for _ in range(r.below(40))))
        elif kind == "flip_byte":
            raw = bytearray(doc.encode())
            if raw:
                raw[r.below(len(raw))] = r.below(256)
            doc.raw_override = bytes(raw)
        elif kind == "blank_line":
            doc.lines.insert(r.below(len(doc.lines) + 1), "")
        elif kind == "drop_column" and doc.lines:
            k = len(doc.lines[max(doc.header_lines - 1, 0)].split(doc.sep))
            col = r.below(max(k, 1))
            doc.lines = [doc.sep.join(c for j, c in enumerate(line.split(doc.sep)) if j != col) for line in doc.lines]

    apply.__name__ = f"{kind}(seed={seed})"
    apply.__qualname__ = apply.__name__
    return apply


class _Rng:
    """A tiny deterministic generator so that a drawn mutation is replayable from its seed alone."""

    def __init__(self, seed: int) -> None:
        self.state = seed or 1

    def below(self, n: int) -> int:
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) % 2**64
        return (self.state >> 33) % max(n, 1)


def _replace_seeded(doc: Doc, r: _Rng, replacement: str) -> None:
    data = list(doc.data_range())
    i = data[r.below(len(data))]
    matches = list(NUMBER.finditer(doc.lines[i]))
    if matches:
        m = matches[r.below(len(matches))]
        doc.lines[i] = doc.lines[i][: m.start()] + replacement + doc.lines[i][m.end() :]


def _excel_date(style: int, slash: bool = False) -> Callable[[re.Match[str]], str]:
    def sub(m: re.Match[str]) -> str:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if style == 0:
            return f"{mo}/{d}/{y}"  # US Excel
        if style == 1:
            return f"{d:02d}.{mo:02d}.{y}"  # European Excel
        import datetime as dt

        return str((dt.date(y, mo, d) - dt.date(1899, 12, 30)).days)  # Excel serial day number

    return sub


def _thousands(sep: str) -> Callable[[re.Match[str]], str]:
    def sub(m: re.Match[str]) -> str:
        text = m.group(0)
        whole, _, frac = text.partition(".")
        neg = whole.startswith("-")
        digits = whole.lstrip("-")
        if len(digits) <= 3:
            return text
        grouped = f"{int(digits):,}"
        out = ("-" if neg else "") + grouped + (f".{frac}" if frac else "")
        return f'"{out}"' if sep == "," else out

    return sub


def mutated(seed: bytes, header_lines: int, encoding: str = "utf-8", sep: str = ",") -> st.SearchStrategy[bytes]:
    """Bytes of ``seed`` damaged by one to three mutations."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        doc = seed_doc(seed, header_lines, encoding, sep)
        for m in draw(st.lists(mutation(), min_size=1, max_size=3)):
            if doc.raw_override is not None:
                break
            m(doc)
        return doc.encode()

    return build()


def random_bytes() -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, and arbitrary text that looks a little like CSV."""
    csvish = st.text(alphabet=st.sampled_from(list('0123456789,.-:T /\n\r"#abcxyz日本')), max_size=400)
    return st.one_of(st.binary(max_size=400), csvish.map(lambda s: s.encode("utf-8")))
