"""The distribution registers itself as an Airflow provider: both connection types with their
form fields, discovered the way the UI discovers them (entry point → ProvidersManager)."""

from __future__ import annotations

import pytest

from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
from campaign_media.provider import PACKAGE, get_provider_info


@pytest.fixture(scope="module")
def manager():
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    pm.initialize_providers_hooks()
    return pm


def test_the_entry_point_is_installed_and_found(manager) -> None:
    assert PACKAGE in manager.providers, "run 'make install': it installs the project with its provider entry point"
    assert manager.providers[PACKAGE].data["connection-types"] == get_provider_info()["connection-types"]


@pytest.mark.parametrize(("conn_type", "hook", "fields"), [
    ("cloudinary", CloudinaryHook, {"auth_token_key", "private_cdn", "upload_prefix", "delivery_host", "timeout"}),
    ("photoshelter", PhotoShelterHook, {"api_key", "org_id", "api_version", "timeout", "metadata_write"}),
])
def test_connection_type_form(manager, conn_type: str, hook: type, fields: set[str]) -> None:
    assert manager.hooks[conn_type].hook_class_name == f"{hook.__module__}.{hook.__name__}"
    assert manager.hooks[conn_type].hook_name == hook.hook_name and hook.conn_type == conn_type
    widgets = {name.split("__")[-1]: info for name, info in manager.connection_form_widgets.items()
               if name.startswith(f"extra__{conn_type}__")}
    assert fields <= set(widgets)
    secret = "auth_token_key" if conn_type == "cloudinary" else "api_key"
    assert widgets[secret].is_sensitive  # masked in the form and in the API's answers
    assert all(info.field["schema"].get("title") and info.field["description"] for info in widgets.values())
    behaviour = manager.field_behaviours[conn_type]
    assert behaviour["hidden_fields"] == ["schema"]  # the port stays: see provider.HIDDEN
    assert hook.get_ui_field_behaviour()["relabeling"] == behaviour["relabeling"]


def test_operators_and_hooks_modules_import(manager) -> None:
    import importlib

    info = get_provider_info()
    for group in ("hooks", "operators", "triggers"):
        for entry in info[group]:
            for module in entry["python-modules"]:
                importlib.import_module(module)
    [plugin] = info["plugins"]
    module, _, name = plugin["plugin-class"].rpartition(".")
    assert getattr(importlib.import_module(module), name).name == plugin["name"]
