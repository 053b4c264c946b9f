"""Run by test_oe_layer.py in a subprocess: bitbake's own `bb` library (PyPI bitbake-setup
2.19) parses meta-rootnorm on top of a stand-in for the oe-core pieces it uses, then runs
ROOTFS_POSTPROCESS_COMMAND the way oe-core's image code does.

    python bitbake_driver.py REQUEST.json RESULT.json

`bb.parse` imports `bb.siggen`, which imports bitbake's `hashserv` package at the top; the
wheel does not ship it. Parsing never talks to a hash server, so the caller puts an empty
`hashserv` package first on sys.path (in the request's "stub_path").
"""

from __future__ import annotations

import json
import logging
import os
import sys


def main(request_path: str, result_path: str) -> None:
    with open(request_path) as f:
        request = json.load(f)
    sys.path.insert(0, request["stub_path"])
    import bb.build
    import bb.data
    import bb.parse

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logging.getLogger("BitBake").addHandler(handler)

    # What bitbake's cooker does for the base configuration: each layer.conf with LAYERDIR
    # set, then conf/bitbake.conf, then the base class, then the parser's signature setup.
    base = bb.data.init()
    base.setVar("BBPATH", request["core"])
    base.setVar("LAYERDIR", request["layer"])
    bb.parse.handle(os.path.join(request["layer"], "conf", "layer.conf"), base, True)
    base.expandVarref("LAYERDIR")
    base.delVar("LAYERDIR")
    bb.parse.handle("conf/bitbake.conf", base, True)
    base.setVar("__bbclasstype", "global")
    bb.parse.BBHandler.inherit("base", "bitbake_driver", 0, base)
    bb.parse.init_parser(base)

    result: dict[str, object] = {
        "BBPATH": base.getVar("BBPATH"),
        "BBFILES": base.getVar("BBFILES"),
        "LAYERSERIES_COMPAT": base.getVar("LAYERSERIES_COMPAT_rootnorm"),
        "LAYERDEPENDS": base.getVar("LAYERDEPENDS_rootnorm"),
        "recipes": {},
    }
    recipes: dict[str, object] = {}
    for recipe in request["recipes"]:
        for python_version in request["python_versions"]:
            d = bb.data.createCopy(base)
            d.setVar("PYTHON_BASEVERSION", python_version)
            for variant, rd in bb.parse.handle(recipe, d).items():
                pn = rd.getVar("PN")
                recipes[f"{pn}@{python_version}"] = {
                    "variant": variant,
                    "RDEPENDS": rd.getVar(f"RDEPENDS:{pn}"),
                    "DEPENDS": rd.getVar("DEPENDS"),
                    "SRC_URI": rd.getVar("SRC_URI"),
                    "sha256sum": rd.getVarFlag("SRC_URI", "sha256sum"),
                    "LIC_FILES_CHKSUM": rd.getVar("LIC_FILES_CHKSUM"),
                    "S": rd.getVar("S"),
                    "inherits": [os.path.basename(c) for c in rd.getVar("__inherit_cache") or []],
                }
    result["recipes"] = recipes

    d = bb.data.createCopy(base)
    for name, value in request["image"]["values"].items():
        d.setVar(name, value)
    d.setVarFlag("PATH", "export", "1")
    image = bb.parse.handle(request["image"]["recipe"], d)[""]
    commands = image.getVar("ROOTFS_POSTPROCESS_COMMAND")
    result["image"] = {
        "ROOTFS_POSTPROCESS_COMMAND": commands,
        "ROOTNORM_JOBS": image.getVar("ROOTNORM_JOBS"),
        "ROOTNORM_FOR_OSTREE": image.getVar("ROOTNORM_FOR_OSTREE"),
        "do_rootfs[depends]": image.getVarFlag("do_rootfs", "depends"),
        "do_rootfs[vardeps]": image.getVarFlag("do_rootfs", "vardeps"),
    }
    with open(result_path, "w") as f:
        json.dump(result, f)
    # oe-core's execute_pre_post_process (lib/oe/utils.py), as rootfs.py calls it for
    # ROOTFS_POSTPROCESS_COMMAND: the entries split on ";" and white space, each one run by
    # bb.build.exec_func, which writes ${T}/run.<func>.<pid> and runs it with /bin/sh.
    os.makedirs(image.getVar("T"), exist_ok=True)
    for command in commands.replace(";", " ").split():
        print(f"NOTE: Executing {command} ...", flush=True)
        bb.build.exec_func(command, image)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
