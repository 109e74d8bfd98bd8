"""The per-folder CSV shape fast path gives exactly what full classification gives."""

from __future__ import annotations

from shoal.catalog.types import HiveType
from shoal.crawler.classify import FileSchema, classify
from shoal.crawler.infer import InferredColumn, csv_value_type, merge_types
from shoal.crawler.sample import Sample
from shoal.crawler.shapes import ShapeCache, _body_pattern


def sample(text: str) -> Sample:
    data = text.encode()
    return Sample(len(data), "none", text, True, len(data))


def counting_classifier() -> tuple[list[str], ShapeCache]:
    seen: list[str] = []

    def full(s: Sample, size: int) -> FileSchema:
        seen.append(s.text or "")
        return classify(s, size)

    return seen, ShapeCache(full)


def types(schema: FileSchema) -> list[tuple[str, str]]:
    return [(c.name, str(c.type)) for c in schema.columns]


def test_files_fitting_the_shape_skip_full_classification() -> None:
    seen, shapes = counting_classifier()
    first = "id,name,amount,ok\n1,a,2.5,true\n2,b,3,false\n"
    second = "id,name,amount,ok\n3,,4.25,TRUE\n4,d e,5,false\n5,f,6.0,true"
    a = shapes.classify("f", sample(first), len(first))
    b = shapes.classify("f", sample(second), len(second))
    assert seen == [first]  # the second file fit the shape: no parse
    expected = [("id", "bigint"), ("name", "string"), ("amount", "double"), ("ok", "boolean")]
    assert types(a) == types(b) == expected
    assert (b.records, b.estimated_records) == (3, 3)
    assert types(b) == types(classify(sample(second), len(second)))


def test_a_wider_value_takes_the_full_classifier_and_widens_the_shape() -> None:
    seen, shapes = counting_classifier()
    first = "id,amount\n1,2\n2,3\n"
    wider = "id,amount\n3,4.5\n"
    text = "id,amount\n7,x\n"
    shapes.classify("f", sample(first), len(first))
    b = shapes.classify("f", sample(wider), len(wider))
    assert seen == [first, wider]
    assert types(b) == [("id", "bigint"), ("amount", "double")]
    c = shapes.classify("f", sample(text), len(text))  # a string: parsed again
    assert seen == [first, wider, text]
    assert types(c) == [("id", "bigint"), ("amount", "string")]


def test_other_headers_quotes_and_folders_are_classified_fully() -> None:
    seen, shapes = counting_classifier()
    base = "id,amount\n1,2\n"
    for folder, text in [
        ("f", base),
        ("f", "id,total\n1,2\n"),  # another header
        ("f", 'id,amount\n1,"2"\n'),  # quoted field
        ("g", base),  # another folder has no shape yet
        ("f", "id,amount\r\n1,2\r\n"),  # CRLF line ends
    ]:
        shapes.classify(folder, sample(text), len(text))
    assert len(seen) == 5


TRICKY_VALUES = [
    "",
    "0",
    "00",
    "007",
    "-0",
    "+3",
    "+",
    "-",
    "12",
    "123456789012345678",
    "1234567890123456789",
    "1.5",
    ".5",
    "5.",
    "-.5",
    "00.5",
    "1e5",
    "true",
    "False",
    "TRUE",
    "tRuE",
    "tru",
    "x",
    "a b",
    "\u0663",
    "1\u0662",
    " 1",
    "1 ",
]


def test_a_value_fits_a_column_only_if_its_type_fits() -> None:
    # The invariant the fast path rests on: what a column's pattern matches is typed
    # that column's type or narrower when classified on its own.
    for name in ("unknown", "boolean", "bigint", "double", "string"):
        column_type = HiveType(name)
        pattern = _body_pattern((InferredColumn("c", column_type),), ",")
        for value in TRICKY_VALUES:
            if pattern.match(value + "\n"):
                assert merge_types(column_type, csv_value_type(value)) == column_type, (
                    name,
                    value,
                )
