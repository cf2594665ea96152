"""The Outlook add-in manifest: valid against Microsoft's schemas, and true to the rules
the schemas cannot check (https, one origin, icon files and sizes, resources)."""

from __future__ import annotations

import copy
import os
import re
import struct
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree

from addin.manifest import TEMPLATE_PATH, ManifestError, main, render_manifest
from interactions.config import DEMO_CLIENT_ID

BASE_URL = "https://addin.example.com"
CLIENT_ID = "0b7f3c1e-2d4a-4e6b-8c9d-1a2b3c4d5e6f"
ICONS = Path(__file__).resolve().parents[1] / "addin" / "static" / "icons"
ICONS_PATH = "/addin/static/icons/"

# The schemas are third-party files kept beside the checkout, not in it.
SHARED = Path(__file__).resolve().parents[2] / "shared"
SCHEMAS = Path(
    os.environ.get("OFFICE_ADDIN_SCHEMAS")
    or SHARED / "schemas" / "office-addin-manifest"
)
ROOT_SCHEMA = SCHEMAS / "OfficeAppManifestV1_1.xsd"

NS = {
    "o": "http://schemas.microsoft.com/office/appforoffice/1.1",
    "bt": "http://schemas.microsoft.com/office/officeappbasictypes/1.0",
    "v": "http://schemas.microsoft.com/office/mailappversionoverrides/1.1",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
XSI_TYPE = f"{{{NS['xsi']}}}type"


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    if not ROOT_SCHEMA.is_file():
        pytest.skip(
            f"The Office add-in manifest schemas are not at {SCHEMAS}; "
            "set OFFICE_ADDIN_SCHEMAS to the folder that holds them."
        )

    return etree.XMLSchema(etree.parse(str(ROOT_SCHEMA)))


@pytest.fixture(scope="module")
def manifest() -> etree._Element:
    return etree.fromstring(render_manifest(BASE_URL, CLIENT_ID).encode("utf-8"))


def _one(root: etree._Element, path: str) -> etree._Element:
    found = root.findall(path, NS)
    assert len(found) == 1, f"expected one {path}, found {len(found)}"
    return found[0]


def _resources(manifest: etree._Element) -> etree._Element:
    return _one(manifest, ".//v:Resources")


def _resource_value(manifest: etree._Element, resid: str) -> str:
    resource = _one(_resources(manifest), f"*/*[@id='{resid}']")
    return resource.get("DefaultValue", "")


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert header[12:16] == b"IHDR", f"{path.name} has no IHDR first"

    width, height = struct.unpack(">II", header[16:24])
    return width, height


# -- the schemas ----------------------------------------------------------------------


def test_the_manifest_is_valid(
    schema: etree.XMLSchema, manifest: etree._Element
) -> None:
    schema.assertValid(manifest)


def _version_after_provider(root: etree._Element) -> None:
    version = _one(root, "o:Version")
    _one(root, "o:ProviderName").addnext(version)


def _unknown_permission(root: etree._Element) -> None:
    _one(root, "o:Permissions").text = "ReadEverything"


def _no_rule(root: etree._Element) -> None:
    root.remove(_one(root, "o:Rule"))


def _button_without_icon(root: etree._Element) -> None:
    icon = root.findall(".//v:Control/v:Icon", NS)[0]
    icon.getparent().remove(icon)


@pytest.mark.parametrize(
    "breakage",
    [_version_after_provider, _unknown_permission, _no_rule, _button_without_icon],
    ids=lambda breakage: breakage.__name__.strip("_"),
)
def test_a_broken_manifest_is_refused(
    schema: etree.XMLSchema,
    manifest: etree._Element,
    breakage: Callable[[etree._Element], None],
) -> None:
    broken = copy.deepcopy(manifest)
    breakage(broken)

    assert not schema.validate(broken)


# -- what the schemas cannot check ----------------------------------------------------


def test_the_placeholders_are_all_filled() -> None:
    template = TEMPLATE_PATH.read_text(encoding="utf-8")
    rendered = render_manifest(BASE_URL, CLIENT_ID)

    assert "{{BASE_URL}}" in template
    assert "{{HOST}}" in template
    assert "{{CLIENT_ID}}" in template
    assert "{{" not in rendered
    assert "}}" not in rendered


def test_every_url_is_https_on_an_app_domain(manifest: etree._Element) -> None:
    app_domains = {domain.text for domain in manifest.findall(".//o:AppDomain", NS)}
    source = _one(manifest, ".//o:Form[@xsi:type='ItemRead']//o:SourceLocation")
    source_parts = urlsplit(source.get("DefaultValue", ""))
    allowed = app_domains | {f"{source_parts.scheme}://{source_parts.netloc}"}
    urls = [
        value
        for element in manifest.iter()
        for value in element.attrib.values()
        if "://" in value
    ]

    assert BASE_URL in app_domains
    assert len(urls) >= 10, "the URLs of the manifest were not found"
    for url in [*urls, *app_domains]:
        parts = urlsplit(url)
        assert parts.scheme == "https", url
        assert f"{parts.scheme}://{parts.netloc}" in allowed, url


def test_every_icon_is_a_file_of_its_declared_size(manifest: etree._Element) -> None:
    # Outlook shows IconUrl at 64 px and HighResolutionIconUrl at 128 px.
    icons = [
        (_one(manifest, "o:IconUrl").get("DefaultValue", ""), 64),
        (_one(manifest, "o:HighResolutionIconUrl").get("DefaultValue", ""), 128),
    ]
    icons += [
        (_resource_value(manifest, image.get("resid", "")), int(image.get("size", "")))
        for image in manifest.findall(".//v:Icon/bt:Image", NS)
    ]

    assert {size for _, size in icons} == {16, 32, 64, 80, 128}
    for url, size in icons:
        path = urlsplit(url).path
        assert path.startswith(ICONS_PATH), url

        file = ICONS / path.removeprefix(ICONS_PATH)
        assert file.is_file(), f"{url} names no file in addin/static/icons"
        assert _png_size(file) == (size, size), url


def test_group_and_control_ids_are_unique(manifest: etree._Element) -> None:
    ids = [element.get("id") for element in manifest.iterfind(".//v:Group", NS)] + [
        element.get("id") for element in manifest.iterfind(".//v:Control", NS)
    ]

    assert len(ids) == 4
    assert [id for id, count in Counter(ids).items() if count > 1] == []


def test_every_reference_resolves_and_every_resource_is_used(
    manifest: etree._Element,
) -> None:
    resource_ids = [
        resource.get("id") for resource in _resources(manifest).iterfind("*/*")
    ]
    references = {
        element.get("resid") for element in manifest.iter() if element.get("resid")
    }

    assert len(resource_ids) == len(set(resource_ids)), "a resource id is repeated"
    assert references - set(resource_ids) == set(), "a reference names no resource"
    assert set(resource_ids) - references == set(), "a resource is never used"


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("o:DisplayName", 125),
        ("o:Description", 250),
        (".//v:Resources/bt:ShortStrings/bt:String", 125),
        (".//v:Resources/bt:LongStrings/bt:String", 250),
    ],
)
def test_strings_fit_their_limits(
    manifest: etree._Element, path: str, limit: int
) -> None:
    strings = [
        element.get("DefaultValue", "") for element in manifest.iterfind(path, NS)
    ]

    assert strings
    for string in strings:
        assert 0 < len(string) <= limit, string


def test_both_surfaces_open_the_task_pane(manifest: etree._Element) -> None:
    panes = {}
    for surface in manifest.iterfind(".//v:ExtensionPoint", NS):
        button = _one(surface, ".//v:Control[@xsi:type='Button']")
        action = _one(button, "v:Action")
        label = _resource_value(manifest, _one(button, "v:Label").get("resid", ""))
        url = _resource_value(
            manifest, _one(action, "v:SourceLocation").get("resid", "")
        )

        assert label == "Log to Interactions"
        assert action.get(XSI_TYPE) == "ShowTaskpane"
        panes[surface.get(XSI_TYPE)] = url

    assert panes == {
        "MessageReadCommandSurface": f"{BASE_URL}/addin/taskpane.html",
        "MessageComposeCommandSurface": f"{BASE_URL}/addin/taskpane.html?mode=compose",
    }


def test_the_requirements_match_what_the_pane_calls(manifest: etree._Element) -> None:
    base = _one(manifest, "o:Requirements/o:Sets/o:Set")
    override = _one(manifest, ".//v:Requirements/bt:Sets")

    assert (base.get("Name"), base.get("MinVersion")) == ("Mailbox", "1.1")
    assert override.get("DefaultMinVersion") == "1.3"
    assert _one(override, "bt:Set").get("Name") == "Mailbox"


def test_permissions_are_the_least_that_reads_the_item(
    manifest: etree._Element,
) -> None:
    assert _one(manifest, "o:Permissions").text == "ReadItem"


def test_the_web_application_is_the_api(manifest: etree._Element) -> None:
    application = _one(manifest, ".//v:WebApplicationInfo")
    scopes = [scope.text for scope in application.iterfind("v:Scopes/v:Scope", NS)]

    assert _one(application, "v:Id").text == CLIENT_ID
    assert (
        _one(application, "v:Resource").text == f"api://addin.example.com/{CLIENT_ID}"
    )
    assert scopes == ["openid", "profile"]


def test_the_version_has_four_parts(manifest: etree._Element) -> None:
    version = _one(manifest, "o:Version").text or ""

    assert re.fullmatch(r"\d{1,5}(\.\d{1,5}){3}", version), version


# -- render_manifest and the command --------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("http://addin.example.com", "must start with https://"),
        ("addin.example.com", "must start with https://"),
        ("https://addin.example.com/addin", "without a path"),
        ("https://addin.example.com/?next=1", "without a path"),
        ("https://someone@addin.example.com", "without a user"),
        ("https://", "must name a host"),
        ("https://addin_example.com", "must name a host"),
        ("https://addin.example.com:99999", "bad port"),
    ],
)
def test_an_unusable_base_url_is_refused(base_url: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        render_manifest(base_url, CLIENT_ID)


def test_a_client_id_must_be_a_guid() -> None:
    with pytest.raises(ManifestError, match="GUID"):
        render_manifest(BASE_URL, "interactions-api")


@pytest.mark.parametrize(
    ("base_url", "origin"),
    [
        ("https://Addin.Example.com/", "https://addin.example.com"),
        ("https://addin.example.com:443", "https://addin.example.com"),
        ("https://localhost:3000", "https://localhost:3000"),
    ],
)
def test_the_base_url_is_normalized(base_url: str, origin: str) -> None:
    rendered = render_manifest(base_url, CLIENT_ID.upper())
    host = origin.removeprefix("https://")

    assert f'DefaultValue="{origin}/addin/taskpane.html"' in rendered
    assert f"<Resource>api://{host}/{CLIENT_ID}</Resource>" in rendered


def test_the_command_writes_the_manifest(tmp_path: Path) -> None:
    out = tmp_path / "manifest.xml"
    args = ["--base-url", BASE_URL, "--client-id", CLIENT_ID, "--out", str(out)]

    assert main(args) == 0
    assert out.read_text(encoding="utf-8") == render_manifest(BASE_URL, CLIENT_ID)


def test_the_command_defaults_to_the_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WEB_PORT", "3443")
    monkeypatch.delenv("API_CLIENT_ID", raising=False)

    assert main([]) == 0
    assert capsys.readouterr().out == render_manifest(
        "https://localhost:3443", DEMO_CLIENT_ID
    )


def test_the_command_refuses_http(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["--base-url", "http://addin.example.com", "--client-id", CLIENT_ID])

    assert exit.value.code == 2
    assert "must start with https://" in capsys.readouterr().err
