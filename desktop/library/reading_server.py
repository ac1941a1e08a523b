"""Loaded once by the reading processes' fork server (``importer.reading_context``),
before it forks any reading process: the importer with its readers and the default
tokenizer, which each reading process would otherwise import and load at every import's
start (~0.3 s of CPU each). Only that server imports this module; it runs at the reading
processes' lower priority, as they do."""

from desktop.library.importer import ImportOptions, lower_priority

lower_priority()
ImportOptions().tokenizer().count("warm up")
