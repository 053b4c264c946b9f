"""Java keystores: entry creation dates follow the mtime policy, the digest is recomputed.

JKS and JCEKS keystores (Debian's /etc/ssl/certs/java/cacerts) store each entry's creation
time, written at install time, and end with a SHA-1 keyed with the store password. The digest
is recomputed only when it verifies with the conventional `changeit`: a store with another
password, or a PKCS#12 store (random salts: not reproducible), is reported and left alone.
"""

from __future__ import annotations

from rootnorm.decisions import Decision, Finding, Findings, Leave, Outcome
from rootnorm.handlers.base import Handler, Item
from rootnorm.handlers.replace import patch_or_rewrite
from rootnorm.inventory import Entry

PASSWORD = "changeit"
SUFFIXES = (b".jks", b".jceks", b".keystore", b".ks", b".truststore", b".p12", b".pfx")
NAMES = (b"cacerts", b"jssecacerts")
MAX_SIZE = 64 << 20
SMALLEST = 12 + 20  # magic, version, count, and the SHA-1 digest
MS = 1_000_000  # ns per ms
DER_SEQUENCE = 0x30
FINDINGS = {
    "keystore-password": (
        "If the build creates this store, use the store password `changeit` (rootnorm then "
        "fixes its dates) or create it at a fixed time (faketime): its entry dates are the "
        "build's. A store shipped as it is by a package needs nothing."
    ),
    "keystore-pkcs12": (
        "If the build creates this store, make it a JKS store (keytool -storetype JKS, password "
        "`changeit`) or create it on the running system: a PKCS#12 store's random salts differ "
        "in every build. A store shipped as it is by a package needs nothing."
    ),
}


class KeystoreHandler(Handler):
    name = "keystore"
    summary = "Java keystores (JKS, JCEKS): entry dates per the mtime policy, digest recomputed"
    uses_clock = True

    def name_keys(self) -> tuple[bytes, ...]:
        return (*SUFFIXES, *NAMES)

    def wants(self, entry: Entry) -> bool:
        name = entry.name.lower()
        return (
            entry.is_file
            and SMALLEST <= entry.size <= MAX_SIZE
            and (name in NAMES or name.endswith(SUFFIXES))
        )

    def _final_ms(self, ms: int) -> int:
        return self.settings.clock.final_ns(ms * MS) // MS

    def inspect(self, item: Item) -> Decision:
        from rootnorm.formats import jks  # only for a tree that has such a file

        kind = jks.kind_of(item.head())
        if kind is None:
            if item.head()[0] == DER_SEQUENCE:
                detail = "a PKCS#12 keystore (DER): its salts and MAC are random per build"
                return Findings((Finding("keystore-pkcs12", detail, FINDINGS["keystore-pkcs12"]),))
            return None
        data = item.pread(item.entry.size, 0)
        try:
            store = jks.parse(data)
        except jks.NotAKeystore as exc:
            return Leave(Outcome.UNSUPPORTED, f"{kind} keystore rootnorm cannot parse: {exc}")
        if not jks.verifies(data, store, PASSWORD):
            detail = f"{kind} keystore whose digest is not keyed with `{PASSWORD}`"
            return Findings((Finding("keystore-password", detail, FINDINGS["keystore-password"]),))
        new = jks.redate(data, store, self._final_ms, PASSWORD)
        if new == data:
            return None
        changed = sum(1 for _, ms in store.dates if self._final_ms(ms) != ms)
        what = f"{kind}: {changed} of {len(store.dates)} entry dates, digest recomputed"
        return patch_or_rewrite(data, new, what)
