"""Open311's two formats. XML follows the GeoReport v2 element names (built with the standard
library's ElementTree, which escapes text); JSON is the same tree as arrays and objects.
Errors are a list of ``{code, description}`` in both."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import Response

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
FORMATS = ("json", "xml")

# The element of one item inside a list element (GeoReport v2's names).
ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}
# Characters XML 1.0 cannot carry at all (control characters other than tab, LF, CR).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Open311Error(Exception):
    """An error in Open311's format: HTTP status = ``code``."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        tag = ITEM_TAGS.get(element.tag, "item")
        for item in value:
            _fill(ET.SubElement(element, tag), item)
    else:
        element.text = _text(value)


def to_xml(root: str, value: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, value)
    body = ET.tostring(element, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode()


def render(fmt: str, root: str, value: Any, *, status_code: int = 200) -> Response:
    """``value`` as JSON, or as XML under the root element ``root``."""
    if fmt == "xml":
        return Response(to_xml(root, value), status_code=status_code, media_type=XML_TYPE)
    return Response(orjson.dumps(value), status_code=status_code, media_type=JSON_TYPE)


def render_errors(fmt: str, errors: list[tuple[int, str]], status_code: int) -> Response:
    body = [{"code": code, "description": description} for code, description in errors]
    return render(fmt if fmt in FORMATS else "json", "errors", body, status_code=status_code)


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(400, f"format: {fmt!r} is not supported; end the path in .json or .xml")
    return fmt
