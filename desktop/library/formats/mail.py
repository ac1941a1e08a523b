"""E-mail: .eml (one message), .mbox (many messages, each a "page" starting with its
subject as a heading) through the standard library's ``email``, and Outlook .msg through
olefile (+ compressed-rtf and striprtf for bodies kept only as RTF). Headers are kept as
the document's metadata and at the top of each message's text; attached files are
handed back as parts, which the loader imports as child documents (a broken attachment
is reported, and the message is imported all the same)."""

from __future__ import annotations

import datetime
import email
import email.policy
import logging
import re
import struct
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from desktop.library.formats.common import (
    OLE_MAGIC,
    Extracted,
    LoadError,
    LoadOptions,
    Part,
    join_pages,
)
from desktop.library.formats.html import html_text

logger = logging.getLogger(__name__)
_SHOWN_HEADERS = ("From", "To", "Cc", "Date")
_MBOX_SEPARATOR = re.compile(rb"(?:\A|\n)From [^\n]*\n")
_UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f]")


def load_email(path: Path, data: bytes, options: LoadOptions) -> Extracted:
    suffix = path.suffix.lower()
    if suffix == ".msg" or data.startswith(OLE_MAGIC):
        return _load_msg(path, data)
    if suffix == ".mbox" or data.startswith(b"From "):
        return _load_mbox(path, data, options)
    message = _parse(data)
    if not _looks_like_mail(message):
        raise LoadError(path, "not an e-mail message (no From, To, Subject or Date header)")
    text, headers, parts = _message(message, "")
    return Extracted(text, title=headers.get("Subject"), metadata={"headers": headers}, parts=parts)


def _parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def _looks_like_mail(message: EmailMessage) -> bool:
    return any(message.get(name) for name in ("From", "To", "Subject", "Date", "Message-ID"))


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a malformed header the parser chokes on
        value = None
    return " ".join(str(value).split()) if value is not None else ""


def _message(message: EmailMessage, where: str) -> tuple[str, dict[str, str], tuple[Part, ...]]:
    """(text, headers, attachments) of one message; ``where`` prefixes part names."""
    headers = {name: _header(message, name) for name in ("Subject", *_SHOWN_HEADERS)}
    headers = {k: v for k, v in headers.items() if v}
    subject = headers.get("Subject") or "(no subject)"
    lines = [f"# {subject}", ""]
    lines += [f"{name}: {headers[name]}" for name in _SHOWN_HEADERS if name in headers]
    body = _body(message)
    text = "\n".join(lines) + ("\n\n" + body if body else "")
    return text, headers, tuple(_attachments(message, where))


def _body(message: EmailMessage) -> str:
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    if part is None:
        return ""
    try:
        content = part.get_content()
    except Exception:  # unknown charset, broken transfer encoding
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content, _ = html_text(content)
    return content.replace("\r\n", "\n").strip()


def _attachments(message: EmailMessage, where: str) -> list[Part]:
    parts: list[Part] = []
    try:
        attachments = list(message.iter_attachments())
    except Exception as error:
        logger.info("attachments cannot be listed: %r", error)
        return [Part(f"{where}attachments", error="the attachments cannot be read")]
    for number, attachment in enumerate(attachments, start=1):
        name = _UNSAFE_NAME.sub("_", attachment.get_filename() or "").strip()
        content_type = attachment.get_content_type()
        if content_type == "message/rfc822":
            inner = attachment.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, EmailMessage):
                subject = _UNSAFE_NAME.sub("_", _header(inner, "Subject") or f"message {number}")
                parts.append(Part(f"{where}{name or subject + '.eml'}", bytes(inner)))
                continue
        if not name:
            name = f"attachment {number}{_extension(content_type)}"
        label = f"{where}{name}"
        if (
            content_type.startswith("image/")
            and attachment.get_content_disposition() != "attachment"
        ):
            parts.append(Part(label, error="an image shown inside the message: not imported"))
            continue
        try:
            payload = attachment.get_payload(decode=True)
        except Exception:
            payload = None
        if not isinstance(payload, bytes) or (attachment.defects and not payload):
            parts.append(Part(label, error="the attachment cannot be decoded"))
            continue
        parts.append(Part(label, payload))
    return parts


def _extension(content_type: str) -> str:
    import mimetypes

    return mimetypes.guess_extension(content_type) or ""


def _load_mbox(path: Path, data: bytes, options: LoadOptions) -> Extracted:
    chunks = [c for c in _MBOX_SEPARATOR.split(data) if c.strip()]
    if not chunks:
        raise LoadError(path, "an empty mailbox")
    texts: list[str] = []
    described: list[dict[str, str]] = []
    parts: list[Part] = []
    for number, raw in enumerate(chunks, start=1):
        options.check_cancelled()
        raw = re.sub(rb"(?m)^>(>*From )", rb"\1", raw)  # mboxrd quoting
        message = _parse(raw)
        if not _looks_like_mail(message):
            continue
        text, headers, attached = _message(message, f"message {number} › ")
        texts.append(text)
        described.append(headers)
        parts.extend(attached)
    if not texts:
        raise LoadError(path, "not a mailbox (.mbox): no message found")
    text, pages = join_pages(texts)
    return Extracted(
        text,
        pages=pages,
        page_count=len(pages),
        metadata={"messages": described},
        parts=tuple(parts),
    )


# ---------------------------------------------------------------------------
# Outlook .msg (an OLE compound file of MAPI properties)
# ---------------------------------------------------------------------------

_PT_UNICODE, _PT_STRING8, _PT_BINARY = 0x001F, 0x001E, 0x0102
_TAGS = {
    0x0037: "subject",
    0x0C1A: "sender_name",
    0x0C1F: "sender_email",
    0x5D01: "sender_smtp",
    0x0E04: "display_to",
    0x0E03: "display_cc",
    0x007D: "transport_headers",
    0x1000: "body",
    0x1013: "html",
    0x1009: "rtf_compressed",
    0x3707: "attachment_long_name",
    0x3704: "attachment_name",
    0x3701: "attachment_data",
}


def _load_msg(path: Path, data: bytes) -> Extracted:
    import olefile

    if not data.startswith(OLE_MAGIC):
        raise LoadError(path, "corrupt or not an Outlook message (.msg)")
    try:
        with olefile.OleFileIO(data) as ole:
            if ole.exists("EncryptionInfo") or ole.exists("EncryptedPackage"):
                raise LoadError(path, "an encrypted Office document, not an Outlook message")
            if not ole.exists("__properties_version1.0"):
                raise LoadError(path, "not an Outlook message (.msg)")
            message = _msg_message(ole, [], top=True)
    except LoadError:
        raise
    except Exception as error:  # olefile raises OSError and others for damaged files
        logger.info("%s: %r", path, error)
        raise LoadError(path, "corrupt Outlook message (.msg)") from None
    if message.get("encrypted"):
        raise LoadError(path, "an encrypted or signed Outlook message: its body cannot be read")
    headers = message["headers"]
    lines = [f"# {headers.get('Subject') or '(no subject)'}", ""]
    lines += [f"{name}: {headers[name]}" for name in _SHOWN_HEADERS if name in headers]
    body = message["body"]
    text = "\n".join(lines) + ("\n\n" + body if body else "")
    return Extracted(
        text,
        title=headers.get("Subject"),
        metadata={"headers": headers},
        parts=tuple(message["parts"]),
    )


def _msg_properties(ole: Any, prefix: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for entry in ole.listdir(streams=True, storages=False):
        if len(entry) != len(prefix) + 1 or entry[:-1] != prefix:
            continue
        if not entry[-1].startswith("__substg1.0_"):
            continue
        tag = entry[-1][12:20]
        try:
            property_id, kind = int(tag[:4], 16), int(tag[4:], 16)
        except ValueError:
            continue
        name = _TAGS.get(property_id)
        if name is None:
            continue
        raw = ole.openstream(entry).read()
        if kind == _PT_UNICODE:
            out[name] = raw.decode("utf-16-le", "replace").rstrip("\x00")
        elif kind == _PT_STRING8:
            out[name] = raw.decode("cp1252", "replace").rstrip("\x00")
        elif kind == _PT_BINARY:
            out[name] = raw
    return out


def _msg_date(ole: Any, prefix: list[str], top: bool) -> str:
    """PR_CLIENT_SUBMIT_TIME or PR_MESSAGE_DELIVERY_TIME from the fixed properties."""
    stream = [*prefix, "__properties_version1.0"]
    if not ole.exists("/".join(stream)):
        return ""
    data = ole.openstream(stream).read()[32 if top else 24 :]
    for offset in range(0, len(data) - 15, 16):
        kind, property_id = struct.unpack_from("<HH", data, offset)
        if kind == 0x0040 and property_id in (0x0039, 0x0E06):
            ticks = struct.unpack_from("<Q", data, offset + 8)[0]
            moment = datetime.datetime(1601, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
                microseconds=ticks // 10
            )
            return moment.strftime("%a, %d %b %Y %H:%M:%S +0000")
    return ""


def _msg_message(ole: Any, prefix: list[str], *, top: bool) -> dict[str, Any]:
    props = _msg_properties(ole, prefix)
    body = props.get("body") or ""
    if not body and "html" in props:
        body, _ = html_text(props["html"].decode("utf-8", "replace"))
    elif not body and "rtf_compressed" in props:
        import compressed_rtf
        from striprtf.striprtf import rtf_to_text

        try:
            rtf = compressed_rtf.decompress(props["rtf_compressed"])
            body = rtf_to_text(rtf.decode("latin-1"), encoding="cp1252", errors="replace")
        except Exception as error:
            logger.info("msg RTF body: %r", error)
            body = ""
    sender = props.get("sender_name") or ""
    address = props.get("sender_smtp") or props.get("sender_email") or ""
    headers = {
        "Subject": props.get("subject", ""),
        "From": f"{sender} <{address}>" if sender and address else sender or address,
        "To": props.get("display_to", ""),
        "Cc": props.get("display_cc", ""),
        "Date": _msg_date(ole, prefix, top),
    }
    if "transport_headers" in props:
        parsed = email.message_from_string(props["transport_headers"], policy=email.policy.default)
        for name in ("From", "To", "Cc", "Date"):
            if parsed.get(name) and not headers.get(name):
                headers[name] = " ".join(str(parsed[name]).split())
    headers = {k: " ".join(v.split()) for k, v in headers.items() if v}
    parts: list[Part] = []
    for storage in ole.listdir(streams=False, storages=True):
        if len(storage) != len(prefix) + 1 or storage[:-1] != prefix:
            continue
        if not storage[-1].startswith("__attach_version1.0_"):
            continue
        attached = _msg_properties(ole, storage)
        name = _UNSAFE_NAME.sub(
            "_", attached.get("attachment_long_name") or attached.get("attachment_name") or ""
        )
        embedded = [*storage, "__substg1.0_3701000D"]
        if ole.exists("/".join(embedded)):
            inner = _msg_message(ole, embedded, top=False)
            subject = _UNSAFE_NAME.sub("_", inner["headers"].get("Subject") or "message")
            lines = [f"# {inner['headers'].get('Subject') or '(no subject)'}", ""]
            lines += [
                f"{k}: {inner['headers'][k]}" for k in _SHOWN_HEADERS if k in inner["headers"]
            ]
            text = "\n".join(lines) + "\n\n" + inner["body"]
            parts.append(Part(f"{name or subject}.txt", text.encode("utf-8")))
            parts.extend(inner["parts"])
            continue
        data = attached.get("attachment_data")
        if not name:
            name = f"attachment {len(parts) + 1}"
        if not isinstance(data, bytes):
            parts.append(Part(name, error="the attachment cannot be read"))
        else:
            parts.append(Part(name, data))
    return {"headers": headers, "body": body.replace("\r\n", "\n").strip(), "parts": parts}
