"""Plain-text formats known by their content: configuration (YAML, TOML, INI), logs,
source code (the language is kept as metadata) and files without an extension whose
content is text (a README, a Makefile, a script with a #! line)."""

from __future__ import annotations

import re
from pathlib import Path

from desktop.library.formats.common import Extracted, LoadOptions, decode_text

#: Source-code extensions → language name (kept as the document's metadata).
LANGUAGES: dict[str, str] = {
    ".py": "Python",
    ".pyi": "Python",
    ".js": "JavaScript",
    ".mjs": "JavaScript",
    ".cjs": "JavaScript",
    ".jsx": "JavaScript",
    ".ts": "TypeScript",
    ".tsx": "TypeScript",
    ".java": "Java",
    ".kt": "Kotlin",
    ".kts": "Kotlin",
    ".scala": "Scala",
    ".go": "Go",
    ".rs": "Rust",
    ".c": "C",
    ".h": "C",
    ".cc": "C++",
    ".cpp": "C++",
    ".cxx": "C++",
    ".hpp": "C++",
    ".hh": "C++",
    ".cs": "C#",
    ".swift": "Swift",
    ".m": "Objective-C",
    ".rb": "Ruby",
    ".php": "PHP",
    ".pl": "Perl",
    ".pm": "Perl",
    ".lua": "Lua",
    ".r": "R",
    ".jl": "Julia",
    ".dart": "Dart",
    ".ex": "Elixir",
    ".exs": "Elixir",
    ".erl": "Erlang",
    ".hs": "Haskell",
    ".ml": "OCaml",
    ".clj": "Clojure",
    ".sh": "Shell",
    ".bash": "Shell",
    ".zsh": "Shell",
    ".fish": "Shell",
    ".ps1": "PowerShell",
    ".bat": "Batch",
    ".cmd": "Batch",
    ".sql": "SQL",
    ".css": "CSS",
    ".scss": "SCSS",
    ".less": "Less",
    ".vue": "Vue",
    ".svelte": "Svelte",
    ".xml": "XML",
    ".proto": "Protocol Buffers",
    ".graphql": "GraphQL",
    ".tf": "Terraform",
    ".gradle": "Gradle",
    ".cmake": "CMake",
    ".rst": "reStructuredText",
    ".adoc": "AsciiDoc",
    ".tex": "TeX",
}
_CONFIG_LANGUAGES = {
    ".yaml": "YAML",
    ".yml": "YAML",
    ".toml": "TOML",
    ".ini": "INI",
    ".cfg": "INI",
    ".conf": "config",
    ".properties": "Java properties",
    ".env": "dotenv",
}
# Known names without an extension.
_NAMED = {
    "makefile": "Makefile",
    "gnumakefile": "Makefile",
    "dockerfile": "Dockerfile",
    "containerfile": "Dockerfile",
    "jenkinsfile": "Groovy",
    "vagrantfile": "Ruby",
    "gemfile": "Ruby",
    "rakefile": "Ruby",
    "procfile": "Procfile",
}
_SHEBANG = re.compile(rb"\A#![ \t]*(?:/usr/bin/env[ \t]+(?:-S[ \t]+)?)?\S*?([A-Za-z]+)[\d.]*\b")
_INTERPRETERS = {
    "python": "Python",
    "bash": "Shell",
    "sh": "Shell",
    "zsh": "Shell",
    "dash": "Shell",
    "ksh": "Shell",
    "fish": "Shell",
    "node": "JavaScript",
    "deno": "TypeScript",
    "ruby": "Ruby",
    "perl": "Perl",
    "php": "PHP",
    "lua": "Lua",
    "Rscript": "R",
}
_LOG_LINE = re.compile(
    r"^\s*(?:\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d|\[?\w{3} [ \d]\d \d\d:\d\d:\d\d|"
    r"\[?(?:DEBUG|INFO|WARN|WARNING|ERROR|CRITICAL|FATAL|TRACE)\b)",
    re.M,
)


def language_of(path: Path, data: bytes = b"") -> str | None:
    suffix = path.suffix.lower()
    if suffix in LANGUAGES:
        return LANGUAGES[suffix]
    if suffix in _CONFIG_LANGUAGES:
        return _CONFIG_LANGUAGES[suffix]
    if not suffix:
        named = _NAMED.get(path.name.lower())
        if named:
            return named
        found = _SHEBANG.match(data[:200])
        if found:
            return _INTERPRETERS.get(found.group(1).decode("ascii", "replace"))
    return None


def sniff_text(data: bytes) -> str | None:
    """ "text", "code" or "log" for bytes that decode as text; None for binary data."""
    from desktop.library.formats.common import LoadError

    sample = data[:8192]
    try:
        text, _ = decode_text(Path("sniffed"), sample)
    except LoadError:
        # A cut in the middle of a multi-byte character must not count as binary.
        try:
            text, _ = decode_text(Path("sniffed"), sample[: max(0, len(sample) - 4)])
        except LoadError:
            return None
    if not text.strip():
        return "text"
    if _SHEBANG.match(sample):
        return "code"
    lines = [line for line in text.splitlines() if line.strip()][:40]
    if len(lines) >= 3 and sum(bool(_LOG_LINE.match(line)) for line in lines) >= 0.6 * len(lines):
        return "log"
    return "text"


def load_plain(path: Path, data: bytes, options: LoadOptions) -> Extracted:
    """A text file kept as it is (``text``)."""
    text, encoding = decode_text(path, data)
    return Extracted(text, encoding=encoding)


def load_code(path: Path, data: bytes, options: LoadOptions) -> Extracted:
    """Source code or configuration, with the language as metadata. The text stays as
    written: indentation and line breaks carry meaning."""
    text, encoding = decode_text(path, data)
    language = language_of(path, data)
    metadata = {"language": language} if language else {}
    return Extracted(text, encoding=encoding, metadata=metadata)


def load_log(path: Path, data: bytes, options: LoadOptions) -> Extracted:
    text, encoding = decode_text(path, data)
    return Extracted(text, encoding=encoding, metadata={"language": "log"})
