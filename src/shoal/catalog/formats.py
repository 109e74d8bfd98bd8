"""Storage facts per data format, as a table of differences.

Glue describes a table's layout with a classification (``csv``, ``json``,
``parquet``, ``orc``, ``avro``), a SerDe, input/output formats and a handful of table parameters.
Those facts differ per format in a few small ways, so they live here as one
declarative table (``FORMATS``) instead of ``if`` chains scattered through the
crawler, the API and the engines.

TSV is not a format of its own: Glue classifies it as ``csv`` with a tab delimiter.
Quoted CSV is the same classification with another SerDe (``OpenCSVSerde``), which
is what Glue picks when it sees quoted fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shoal.catalog.model import Column, SerDeInfo, StorageDescriptor

TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
# What Athena records for ``ROW FORMAT SERDE '<OpenX JSON>'`` without STORED AS.
JSON_OUTPUT = "org.apache.hadoop.hive.ql.io.IgnoreKeyTextOutputFormat"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
ORC_INPUT = "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat"
ORC_OUTPUT = "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat"
AVRO_INPUT = "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat"
AVRO_OUTPUT = "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat"
LAZY_SIMPLE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
ORC_SERDE = "org.apache.hadoop.hive.ql.io.orc.OrcSerde"
AVRO_SERDE = "org.apache.hadoop.hive.serde2.avro.AvroSerDe"
# The Avro SerDe's schema, in SERDEPROPERTIES or TBLPROPERTIES (Athena documents both).
AVRO_SCHEMA_LITERAL = "avro.schema.literal"

# Glue's spelling of each compression codec in the ``compressionType`` parameter.
COMPRESSION_TYPES = ("none", "gzip", "bzip2", "zstd")


@dataclass(frozen=True)
class FormatSpec:
    """The fixed storage facts of one format variant."""

    classification: str
    serde: str
    input_format: str
    output_format: str
    delimited: bool = False  # writes delimiter / areColumnsQuoted / header parameters
    fixed_serde_parameters: Mapping[str, str] = field(default_factory=dict)


FORMATS: dict[str, FormatSpec] = {
    "csv": FormatSpec("csv", LAZY_SIMPLE_SERDE, TEXT_INPUT, TEXT_OUTPUT, delimited=True),
    "csv-quoted": FormatSpec("csv", OPEN_CSV_SERDE, TEXT_INPUT, TEXT_OUTPUT, delimited=True),
    "json": FormatSpec("json", JSON_SERDE, TEXT_INPUT, TEXT_OUTPUT),
    "parquet": FormatSpec(
        "parquet",
        PARQUET_SERDE,
        PARQUET_INPUT,
        PARQUET_OUTPUT,
        fixed_serde_parameters={"serialization.format": "1"},
    ),
    "orc": FormatSpec(
        "orc",
        ORC_SERDE,
        ORC_INPUT,
        ORC_OUTPUT,
        fixed_serde_parameters={"serialization.format": "1"},
    ),
    "avro": FormatSpec("avro", AVRO_SERDE, AVRO_INPUT, AVRO_OUTPUT),
}


@dataclass(frozen=True)
class DiscoveredFormat:
    """What the crawler learned about a group of files' layout.

    ``name_mapping`` maps a normalised JSON column name to the key found in the
    data when the two differ (``trip_distance`` -> ``Trip Distance``); the JSON
    SerDe needs it to find the value.
    """

    classification: str
    compression: str = "none"
    delimiter: str | None = None
    quoted: bool = False
    header: bool = False
    name_mapping: Mapping[str, str] = field(default_factory=dict)

    @property
    def variant(self) -> str:
        """The key of this format's row in ``FORMATS``."""
        if self.classification == "csv" and self.quoted:
            return "csv-quoted"
        return self.classification


def format_spec(fmt: DiscoveredFormat) -> FormatSpec:
    """The ``FORMATS`` row for a discovered format; KeyError for an unknown one."""
    return FORMATS[fmt.variant]


def serde_parameters(fmt: DiscoveredFormat, columns: Sequence[Column]) -> dict[str, str]:
    """SerDe parameters as Glue writes them for this format."""
    spec = format_spec(fmt)
    params = dict(spec.fixed_serde_parameters)
    if spec.serde == LAZY_SIMPLE_SERDE:
        params["field.delim"] = fmt.delimiter or ","
    elif spec.serde == OPEN_CSV_SERDE:
        params["separatorChar"] = fmt.delimiter or ","
        params["quoteChar"] = '"'
    elif spec.serde == JSON_SERDE:
        params["paths"] = ",".join(sorted(fmt.name_mapping.get(c.name, c.name) for c in columns))
        params.update({f"mapping.{k}": v for k, v in sorted(fmt.name_mapping.items())})
    return params


def format_parameters(fmt: DiscoveredFormat) -> dict[str, str]:
    """The layout parameters Glue writes on tables, partitions and storage descriptors."""
    spec = format_spec(fmt)
    params = {
        "classification": spec.classification,
        "compressionType": fmt.compression,
        "typeOfData": "file",
    }
    if spec.delimited:
        params["delimiter"] = fmt.delimiter or ","
        params["areColumnsQuoted"] = "true" if fmt.quoted else "false"
        if fmt.header:
            params["skip.header.line.count"] = "1"
    return params


def storage_descriptor(
    fmt: DiscoveredFormat, location: str, columns: Sequence[Column]
) -> StorageDescriptor:
    """The StorageDescriptor of a table or partition holding files of ``fmt``."""
    spec = format_spec(fmt)
    return StorageDescriptor(
        location=location,
        columns=tuple(columns),
        input_format=spec.input_format,
        output_format=spec.output_format,
        compressed=fmt.compression != "none",
        serde=SerDeInfo(spec.serde, serde_parameters(fmt, columns)),
        parameters=format_parameters(fmt),
    )
