"""Reading delimited files as text columns, with the whole-file checks of every source."""

from __future__ import annotations

import codecs
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from adapters.sources.csv_checks import NULL_VALUES, check_columns, require_file
from domain.errors import InvalidInputFile, first_line

# Small blocks bound the CSV reader's read-ahead, which otherwise dominates peak memory.
BLOCK_SIZE = 2 << 20


def open_text_table(path: Path, what: str, required: tuple[str, ...], *, delimiter: str = ",",
                    names: list[str] | None = None, encoding: str = "utf8", quoting: bool = True,
                    on_malformed=None) -> pacsv.CSVStreamingReader:
    """Stream ``path`` with every column as text, after checking it is there, not empty,
    parseable and holds the required columns."""
    require_file(path, what, "check the path or the --format")
    _require_text(path, what, encoding)
    read = pacsv.ReadOptions(block_size=BLOCK_SIZE, column_names=names, encoding=encoding)
    parse = pacsv.ParseOptions(delimiter=delimiter, quote_char='"' if quoting else False,
                               invalid_row_handler=on_malformed)
    # the header probe skips malformed lines without reporting them: the reader proper will
    probe = pacsv.ParseOptions(delimiter=delimiter, quote_char='"' if quoting else False,
                               invalid_row_handler=(lambda row: "skip") if on_malformed else None)
    try:
        header = pacsv.open_csv(path, read_options=pacsv.ReadOptions(
            block_size=1 << 16, column_names=names, encoding=encoding), parse_options=probe)
        columns = header.schema.names
        check_columns(path, columns, required)
        convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in columns},
                                       null_values=NULL_VALUES, strings_can_be_null=True)
        # opening parses the first block already
        return pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise InvalidInputFile(str(path), f"not a readable {what} ({first_line(error)})") from None


# Leading bytes of compressed files people pass by mistake.
COMPRESSED = {b"\x1f\x8b": "gzip", b"PK\x03\x04": "zip", b"BZh": "bzip2", b"\xfd7zXZ": "xz"}
TEXT_SAMPLE = 1 << 16


def _require_text(path: Path, what: str, encoding: str) -> None:
    """Refuse binary, compressed and wrongly encoded files before the reader meets them part
    way (its callbacks cannot report a decoding error, only print it)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as handle:
        sample = handle.read(TEXT_SAMPLE)
        for magic, kind in COMPRESSED.items():
            if sample.startswith(magic):
                raise InvalidInputFile(str(path), f"is a {kind}-compressed file, not a {what}; "
                                       "decompress it first")
        chunk = sample
        while chunk:
            if b"\0" in chunk:
                raise InvalidInputFile(str(path), f"is a binary file, not a {what}")
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                raise InvalidInputFile(str(path), f"is not {encoding} text (byte {offset + error.start}); "
                                       f"save the {what} as UTF-8") from None
            offset += len(chunk)
            chunk = handle.read(4 << 20)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InvalidInputFile(str(path), f"is not {encoding} text (it ends inside a character)") from None


def read_text_table(path: Path, what: str, required: tuple[str, ...], **options) -> pa.Table:
    """A small file read whole, with the same checks; a header without rows is an error."""
    reader = open_text_table(path, what, required, **options)
    try:
        table = reader.read_all()
    except pa.ArrowInvalid as error:
        raise InvalidInputFile(str(path), f"not a readable {what} ({first_line(error)})") from None
    if table.num_rows == 0:
        raise InvalidInputFile(str(path), f"{what} has a header but no rows")
    return table
