"""The handler registry: name -> where its class lives.

Classes are imported only when a profile uses them, so heavy code (ELF, archives) costs
nothing at start-up when a run does not need it. Adding a handler is one module and one line.
"""

from __future__ import annotations

import importlib

from rootnorm.handlers.base import Handler

REGISTRY: dict[str, str] = {
    "pyc": "rootnorm.handlers.pyc:PycHandler",
    "fontconfig": "rootnorm.handlers.fontconfig:FontconfigHandler",
    "hygiene": "rootnorm.handlers.hygiene:HygieneHandler",
    "elf": "rootnorm.handlers.elf:ElfHandler",
    "gzip": "rootnorm.handlers.gzip:GzipHandler",
    "zip": "rootnorm.handlers.zip:ZipHandler",
    "ar": "rootnorm.handlers.ar:ArHandler",
    "shadow": "rootnorm.handlers.shadow:ShadowHandler",
    "keystore": "rootnorm.handlers.keystore:KeystoreHandler",
    "conda": "rootnorm.handlers.conda:CondaHandler",
    "groovy": "rootnorm.handlers.groovy:GroovyHandler",
    "mo": "rootnorm.handlers.mo:MoHandler",
    "png": "rootnorm.handlers.png:PngHandler",
    "javadoc": "rootnorm.handlers.javadoc:JavadocHandler",
    "mtime": "rootnorm.handlers.mtime:MtimeHandler",
}


def load(name: str) -> type[Handler]:
    module_name, _, class_name = REGISTRY[name].partition(":")
    cls: type[Handler] = getattr(importlib.import_module(module_name), class_name)
    return cls
