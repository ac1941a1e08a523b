"""``ragtune settings show|set``: the settings in force, where they come from, and which
keychain holds the key (never the key itself); and changing one setting by name, with the
same rules as the Settings dialog (``desktop.settings.RULES``)."""

from __future__ import annotations

import argparse

from desktop.commands.result import CommandError, CommandResult


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    settings = subparsers.add_parser(
        "settings", help="show or change the settings", parents=[common]
    )
    actions = settings.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="print settings (never the API key)", parents=[common])
    show.set_defaults(handler=show_settings)
    change = actions.add_parser(
        "set",
        help="change one setting",
        parents=[common],
        description="Change one setting, checked as the Settings dialog checks it. The API "
        "key is not a setting: it lives in the OS keychain.",
    )
    change.add_argument("key", metavar="KEY")
    change.add_argument("value", metavar="VALUE")
    change.set_defaults(handler=set_setting)


def show_settings(args: argparse.Namespace) -> CommandResult:
    from desktop.commands.common import context_from
    from desktop.logs import mask_url
    from desktop.providers.secrets import SecretStoreError
    from desktop.settings import shown

    context = context_from(args)
    settings = context.settings
    settings = settings.replace(base_url=mask_url(settings.base_url))  # shown, never saved
    try:
        config = context.provider_config()
        key_state = "set" if config.api_key else "not set"
        keychain_error = None
    except SecretStoreError as exc:
        config = None
        key_state = "unknown"
        keychain_error = str(exc)
    info = context.secrets.info()
    data = {
        "settings": {k: v for k, v in settings.to_dict().items() if k != "extra"},
        "effective": config.redacted() if config else None,
        "api_key": key_state,
        "keychain": {"backend": info.name, "secure": info.secure, "error": keychain_error},
        "paths": {
            "data_dir": str(context.paths.data_dir),
            "config_file": str(context.paths.settings_file),
            "log_dir": str(context.paths.log_dir),
            "workspace": str(context.workspace_path),
        },
    }
    lines = [f"{k:18} {shown(k, v)}" for k, v in data["settings"].items()]
    if config and (config.base_url_from_env or config.key_from_env):
        lines.append(
            "environment        OPENAI_BASE_URL/OPENAI_API_KEY override the stored settings "
            f"(base URL in use: {mask_url(config.base_url)})"
        )
    lines.append(f"{'api_key':18} {key_state}")
    lines.append(f"{'keychain':18} {info.description}")
    if keychain_error:
        lines.append(f"{'keychain error':18} {keychain_error}")
    for name, path in data["paths"].items():
        lines.append(f"{name:18} {path}")
    return CommandResult(data, "\n".join(lines))


def set_setting(args: argparse.Namespace) -> CommandResult:
    from desktop.commands.common import context_from
    from desktop.retrieval.local_embedder import available_models
    from desktop.settings import SettingsError, parse_setting, shown

    try:
        value = parse_setting(args.key, args.value, local_models=tuple(available_models()))
    except SettingsError as exc:
        raise CommandError(str(exc)) from None
    context = context_from(args)
    before = getattr(context.settings, args.key)
    context.save_settings(context.settings.replace(**{args.key: value}))
    return CommandResult(
        {"key": args.key, "value": value, "previous": before},
        f"{args.key} = {shown(args.key, value)}",
    )
