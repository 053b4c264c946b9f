"""Read what an ELF file leaks about its build, with pyelftools, looking only where it decides.

Looked at: the CU top DIEs and line-table headers of the DWARF (never the DIE trees or the line
programs), `.comment` and `.rodata*` (raw strings), DT_RPATH/DT_RUNPATH, and the notes for a
GNU build-id. Nothing else is read, so a stripped binary costs a few small reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import NoteSection
from elftools.elf.segments import NoteSegment

from rootnorm.audit.buildpaths import BuildPaths, dates_in


class Unparsable(Exception):
    """pyelftools could not make sense of the file (the message says where it stopped)."""


@dataclass
class ElfReport:
    build_paths: list[tuple[str, bytes]] = field(default_factory=list)  # (where, path)
    rpaths: list[tuple[str, bytes]] = field(default_factory=list)
    dates: list[tuple[str, bytes]] = field(default_factory=list)
    dwarf_cut: bool = False  # the DWARF scan stopped at the first leaking CU
    linked: bool = False  # an executable or shared object (ET_EXEC, ET_DYN)
    build_id: bool = False


def scan(stream: BinaryIO, paths: BuildPaths) -> ElfReport:
    """Audit one ELF file. Raises Unparsable for anything pyelftools rejects; OSError passes."""
    try:
        return _scan(ELFFile(stream), paths)
    except OSError:
        raise
    except Exception as exc:  # pyelftools raises ELFError, DWARFError, struct.error, IndexError,
        # KeyError, UnicodeDecodeError, construct errors... on malformed input: all mean "cannot
        # parse", and one bad file must never end the run.
        raise Unparsable(f"{type(exc).__name__}: {exc}") from None


def _scan(elf: ELFFile, paths: BuildPaths) -> ElfReport:
    report = ElfReport(linked=elf["e_type"] in ("ET_EXEC", "ET_DYN"))
    report.build_id = _has_build_id(elf)
    for section in elf.iter_sections():
        name = section.name
        if section["sh_type"] == "SHT_PROGBITS" and (
            name == ".comment" or name == ".rodata" or name.startswith(".rodata.")
        ):
            data = section.data()
            report.build_paths += [(name, path) for path in paths.in_data(data)]
            if name != ".comment":
                report.dates += [(name, date) for date in dates_in(data)]
        elif isinstance(section, DynamicSection):
            for tag in section.iter_tags():
                if tag.entry.d_tag in ("DT_RPATH", "DT_RUNPATH"):
                    value = getattr(tag, tag.entry.d_tag[3:].lower()).encode("utf-8", "replace")
                    kind = tag.entry.d_tag
                    report.rpaths += [
                        (kind, part) for part in value.split(b":") if paths.is_build_path(part)
                    ]
    if elf.get_section_by_name(".debug_info") or elf.get_section_by_name(".zdebug_info"):
        leaks, report.dwarf_cut = _dwarf_paths(elf, paths)
        report.build_paths += leaks
    return report


def _has_build_id(elf: ELFFile) -> bool:
    if elf.num_sections():
        notes: Iterator = (
            note
            for section in elf.iter_sections()
            if isinstance(section, NoteSection)
            for note in section.iter_notes()
        )
    else:  # section headers stripped (sstrip): the loadable notes are still there
        notes = (
            note
            for segment in elf.iter_segments()
            if isinstance(segment, NoteSegment)
            for note in segment.iter_notes()
        )
    return any(note["n_type"] == "NT_GNU_BUILD_ID" for note in notes)


def _text(value: object) -> bytes | None:
    """A path from a DWARF attribute value or a line-table entry (its shape varies by version)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "replace")
    for key in ("name", "DW_LNCT_path"):
        inner = getattr(value, key, None)
        if isinstance(inner, bytes):
            return inner
    return None


def _dwarf_paths(elf: ELFFile, paths: BuildPaths) -> tuple[list[tuple[str, bytes]], bool]:
    """Leaked paths of the first CU that has any, and whether CUs were left unread.

    Parsing a CU's top DIE means parsing its whole abbreviation table (GCC writes one per CU,
    ~10 ms each on a big CU), so a binary that leaks is not read to the end.
    """
    # Relocations matter only in relocatable objects; never follow .gnu_debugaltlink: it names a
    # file outside the tree being audited.
    dwarf = elf.get_dwarf_info(
        relocate_dwarf_sections=elf["e_type"] == "ET_REL", follow_links=False
    )
    found: dict[bytes, str] = {}  # path -> the first field it was seen in
    for cu in dwarf.iter_CUs():
        if found:
            return [(where, path) for path, where in found.items()], True
        top = cu.get_top_DIE()
        comp_dir = top.attributes.get("DW_AT_comp_dir")
        if comp_dir is not None:
            value = _text(comp_dir.value)
            if value is not None and paths.is_leaked_comp_dir(value):
                found.setdefault(value, "DW_AT_comp_dir")
        name = top.attributes.get("DW_AT_name")
        if name is not None:
            value = _text(name.value)
            if value is not None and paths.is_build_path(value):
                found.setdefault(value, "DW_AT_name")
        program = dwarf.line_program_for_CU(cu) if "DW_AT_stmt_list" in top.attributes else None
        if program is None:
            continue
        for directory in program.header["include_directory"]:
            value = _text(directory)
            if value is not None and paths.is_build_path(value):
                found.setdefault(value, "line table directory")
        for entry in program.header["file_entry"]:
            value = _text(entry)
            if value is not None and paths.is_build_path(value):
                found.setdefault(value, "line table file")
    return [(where, path) for path, where in found.items()], False
