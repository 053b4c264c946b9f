"""The one module that changes the tree. Handlers decide; this applies.

Safety rules, all here:
- every name is reached through a directory fd verified against the walk, the last component
  with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW: a symlink is never followed, nothing outside the root
  is written;
- an inode with links outside the root is never changed: its in-tree names move to a new inode;
- small changes are one pwrite in place; anything else is a temp file in the same directory
  with owner, mode, every xattr and the mtime copied, fsync'ed, then renamed over each name;
- after a content change the file gets the final mtime the caller gives (so the mtime pass has
  nothing left to do for it), else its old one; its directory's mtime is restored, so the
  mtime policy (and a profile without one) sees the tree as it was;
- before each change, what a stopped run's successor needs to finish it (the original mtimes
  it moves, what a patched cache was valid against, a hard-link group's move) is appended to
  the run's journal (`rootnorm.journal`); a change whose record cannot be written is not made.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO

import xattr

from rootnorm import stopping
from rootnorm.decisions import Patch
from rootnorm.dirfds import DirFds, Raced, close_quietly, same_inode
from rootnorm.inventory import Entry, Inventory, shown
from rootnorm.journal import Journal
from rootnorm.safeopen import READ_FLAGS, open_file

Produce = Callable[[BinaryIO, BinaryIO], None]
WRITE_FLAGS = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
READ_WRITE_FLAGS = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _copy(src: BinaryIO, dst: BinaryIO) -> None:
    while chunk := src.read(1 << 20):
        dst.write(chunk)


def _patched(patch: Patch) -> Produce:
    def produce(src: BinaryIO, dst: BinaryIO) -> None:
        _copy(src, dst)
        dst.seek(patch.offset)
        dst.write(patch.data)

    return produce


def _temp_name(name: bytes) -> bytes:
    return b"." + name[:200] + b"." + os.urandom(4).hex().encode() + b".rootnorm-tmp"


class Writer:
    """Applies decisions. Use as a context manager: leaving it makes the renames durable
    (one fsync per directory touched, not one per file) and closes the directory fds."""

    def __init__(self, inventory: Inventory, journal: Journal | None = None) -> None:
        self.inventory = inventory
        self.journal = journal
        self.dirs = DirFds(inventory.root, inventory.entries)
        self._unsynced: set[int] = set()
        self._noted: set[int] = set()  # directories whose original mtime is in the journal

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.sync()
        finally:
            self.dirs.close()

    def sync(self) -> list[tuple[int, OSError]]:
        """fsync every directory changed so far; the directories that failed (the renames in
        them may not be durable), with why, are returned, not raised."""
        failed = []
        for dir_index in sorted(self._unsynced):
            try:
                os.fsync(self.dirs.get(dir_index))
            except OSError as exc:
                failed.append((dir_index, exc))
        self._unsynced.clear()
        return failed

    def _record(self, records: bytes, dirs: Sequence[int] = ()) -> None:
        """Append to the journal before the change the records announce; `dirs` are the
        directories whose original mtime they hold."""
        journal = self.journal
        if journal is None or not (records or dirs):
            return
        try:
            if journal.open(self.dirs.get(journal.dir_index)):
                self._settle_dir(journal.dir_index)  # the journal's name holds its original mtime
            if records:
                journal.append(records)
        except OSError as exc:
            home = self.inventory.entries[journal.dir_index].rel
            path = shown(home + b"/" + journal.name if home else journal.name)
            raise OSError(exc.errno, f"cannot write the journal {path}: {exc.strerror}") from None
        self._noted.update(dirs)

    def _record_dirs(self, index: int) -> None:
        """Journal the original mtime of each directory holding a name of `index`."""
        entries = self.inventory.entries
        self._record_dir(*dict.fromkeys(entries[i].parent for i in self.inventory.names_of(index)))

    def _record_dir(self, *dir_indices: int) -> None:
        """Journal the original mtime of each directory, the first time this writer changes
        it (that of the journal's own directory is in its name)."""
        journal = self.journal
        if journal is None:
            return
        entries = self.inventory.entries
        new = [d for d in dir_indices if d not in self._noted]
        records = b"".join(
            journal.mtime(entries[d].rel, entries[d].ino, entries[d].mtime_ns)
            for d in new
            if d != journal.dir_index
        )
        self._record(records, new)

    def _patch_records(self, index: int, patch: Patch, in_place: bool) -> bytes:
        journal = self.journal
        if journal is None:
            return b""
        entry = self.inventory.entries[index]
        records = journal.mtime(entry.rel, entry.ino, entry.mtime_ns) if in_place else b""
        if patch.anchor is not None:
            anchor = self.inventory.entries[patch.anchor]
            size = anchor.size if anchor.is_file else -1
            records += journal.vouch(entry.rel, anchor.rel, anchor.mtime_ns, size)
        return records

    def open_item(self, index: int, writable: bool) -> tuple[int, bool]:
        """A verified fd of regular file `index` for handlers to inspect, and whether it is
        writable. Read-write only when asked (the caller expects a patch) and the inode has no
        links outside the root; else, and when the open for writing is refused, read-only:
        opening for writing alone makes an overlay file system copy the file up."""
        entry = self.inventory.entries[index]
        dir_fd = self.dirs.get(entry.parent)
        if writable and not self.inventory.shared_outside(index):
            try:
                return open_file(self.inventory, index, dir_fd, READ_WRITE_FLAGS), True
            except OSError as exc:
                # a 0444 file without CAP_DAC_OVERRIDE, an immutable file, a read-only file
                # system: inspected all the same, the write (if any) reports why it failed
                if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                    raise
        return open_file(self.inventory, index, dir_fd), False

    def patch(
        self, index: int, patch: Patch, mtime_ns: int | None = None, fd: int | None = None
    ) -> None:
        """Write `patch` in place, or through a new inode when the inode is shared outside;
        the file is left with `mtime_ns` (default: the mtime it had). `fd` is a writable fd
        from `open_item` to write through (it stays open); without it the file is opened."""
        if fd is not None:
            self._patch_fd(index, patch, mtime_ns, fd)
            return
        if self.inventory.shared_outside(index):
            self.replace(index, _patched(patch), mtime_ns, self._patch_records(index, patch, False))
            return
        entry = self.inventory.entries[index]
        try:
            fd = open_file(self.inventory, index, self.dirs.get(entry.parent), WRITE_FLAGS)
        except PermissionError:  # a 0444 file and no CAP_DAC_OVERRIDE: the directory decides
            self.replace(index, _patched(patch), mtime_ns, self._patch_records(index, patch, False))
            return
        try:
            self._patch_fd(index, patch, mtime_ns, fd)
        finally:
            os.close(fd)

    def _patch_fd(self, index: int, patch: Patch, mtime_ns: int | None, fd: int) -> None:
        mtime = self.inventory.entries[index].mtime_ns if mtime_ns is None else mtime_ns
        self._record(self._patch_records(index, patch, True))
        if os.pwrite(fd, patch.data, patch.offset) != len(patch.data):
            raise OSError(errno.EIO, "short write")
        os.utime(fd, ns=(mtime, mtime))
        self._mtime_set(index, mtime)

    def replace(
        self, index: int, produce: Produce, mtime_ns: int | None = None, records: bytes = b""
    ) -> None:
        """Give every in-tree name of `index` a new inode holding what `produce` writes, with
        `mtime_ns` (default: the mtime it had). `records` go to the journal before the rename."""
        inventory = self.inventory
        entry = inventory.entries[index]
        mtime = entry.mtime_ns if mtime_ns is None else mtime_ns
        dir_fd = self.dirs.get(entry.parent)
        self._record_dirs(index)
        src_fd = open_file(inventory, index, dir_fd, READ_FLAGS)
        temp = _temp_name(entry.name)
        try:
            tmp_fd = os.open(temp, TEMP_FLAGS, 0o600, dir_fd=dir_fd)
        except BaseException:
            os.close(src_fd)
            raise
        try:
            with open(src_fd, "rb", closefd=False) as src, open(tmp_fd, "wb", closefd=False) as dst:
                produce(src, dst)
            self._copy_metadata(src_fd, tmp_fd, mtime)
            os.fsync(tmp_fd)
            new_st = os.fstat(tmp_fd)
            self._check_unchanged(entry, dir_fd)
            self._record(records + self._group_record(index, new_st.st_ino))
            os.rename(temp, entry.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            _unlink_quietly(temp, dir_fd)
            with contextlib.suppress(OSError):  # the temp file changed the directory's mtime
                self._settle_dir(entry.parent)
            raise
        finally:
            close_quietly(tmp_fd)  # fsynced, or removed
            close_quietly(src_fd)
        self._move_other_names(index, dir_fd)
        inventory.update_inode(index, new_st.st_dev, new_st.st_ino, new_st.st_size)
        self._mtime_set(index, mtime)

    def _move_other_names(self, index: int, dir_fd: int) -> None:
        """After `index` was renamed to a new inode: re-link its other names, settle the dirs."""
        others = [i for i in self.inventory.names_of(index) if i != index]
        self._link_names(index, dir_fd, others)

    def _link_names(self, first: int, dir_fd: int, others: Sequence[int]) -> None:
        """Point each of `others` at the inode `first` names (in directory `dir_fd`), and give
        every directory touched back its mtime."""
        entries = self.inventory.entries
        first_entry = entries[first]
        touched = {first_entry.parent, *(entries[i].parent for i in others)}
        self._record_dir(*touched)
        # Our own copy of the first name's directory fd: the other names' directories pass
        # through the cache, which may close the cached one (or reuse its number) meanwhile.
        first_dir_fd = os.dup(dir_fd)
        try:
            for other in others:
                self._relink(first_entry, first_dir_fd, entries[other])
        finally:
            os.close(first_dir_fd)
            for dir_index in touched:
                self._settle_dir(dir_index)

    def _replace_special(self, index: int, mtime_ns: int) -> None:
        """A new inode (with mtime_ns) for a symlink, FIFO, socket or device node."""
        inventory = self.inventory
        entry = inventory.entries[index]
        dir_fd = self.dirs.get(entry.parent)
        self._check_unchanged(entry, dir_fd)
        self._record_dirs(index)
        st = os.stat(entry.name, dir_fd=dir_fd, follow_symlinks=False)
        temp = _temp_name(entry.name)
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(entry.name, dir_fd=dir_fd), temp, dir_fd=dir_fd)
        else:
            os.mknod(temp, st.st_mode, st.st_rdev, dir_fd=dir_fd)  # never opened
        try:
            os.chown(temp, st.st_uid, st.st_gid, dir_fd=dir_fd, follow_symlinks=False)
            if not stat.S_ISLNK(st.st_mode):
                os.chmod(temp, stat.S_IMODE(st.st_mode), dir_fd=dir_fd)
            here = b"/proc/self/fd/%d/" % dir_fd  # the xattr calls take no dir_fd
            old, new = here + entry.name, here + temp
            for name in xattr.listxattr(old, symlink=True):
                xattr.setxattr(new, name, xattr.getxattr(old, name, symlink=True), symlink=True)
            os.utime(temp, ns=(mtime_ns, mtime_ns), dir_fd=dir_fd, follow_symlinks=False)
            new_st = os.stat(temp, dir_fd=dir_fd, follow_symlinks=False)
            self._check_unchanged(entry, dir_fd)
            self._record(self._group_record(index, new_st.st_ino))
            os.rename(temp, entry.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            _unlink_quietly(temp, dir_fd)
            with contextlib.suppress(OSError):
                self._settle_dir(entry.parent)
            raise
        self._move_other_names(index, dir_fd)
        inventory.update_inode(index, new_st.st_dev, new_st.st_ino, new_st.st_size)
        self._mtime_set(index, mtime_ns)

    def remove(self, index: int) -> None:
        """Unlink every in-tree name of `index`."""
        self._record_dirs(index)
        for name_index in self.inventory.names_of(index):
            entry = self.inventory.entries[name_index]
            dir_fd = self.dirs.get(entry.parent)
            self._check_unchanged(entry, dir_fd)
            os.unlink(entry.name, dir_fd=dir_fd)
            self._settle_dir(entry.parent)
        self.inventory.forget(index)

    def remove_leftover(self, rel: bytes, dir_index: int) -> None:
        """Unlink one of rootnorm's own temp files, left by a stopped run (never followed or
        opened: the walk saw a non-directory with rootnorm's exact temp-name pattern)."""
        self._record_dir(dir_index)
        os.unlink(rel[rel.rfind(b"/") + 1 :], dir_fd=self.dirs.get(dir_index))
        self._settle_dir(dir_index)

    def finish_group(self, first: int, others: Sequence[int]) -> None:
        """Finish a stopped run's move of a hard-link group: `first` already names the new
        inode, each of `others` still the old one; they are linked to the new one."""
        inventory = self.inventory
        entries = inventory.entries
        first_entry = entries[first]
        self._link_names(first, self.dirs.get(first_entry.parent), others)
        old_key = entries[others[0]].key
        names = [*inventory.names_of(first), *others]
        old_names = inventory.links.get(old_key)
        if old_names is not None:
            rest = [i for i in old_names if i not in others]
            if rest:
                inventory.links[old_key] = rest
            else:
                del inventory.links[old_key]
        inventory.update_inode(first, first_entry.dev, first_entry.ino, first_entry.size, names)

    def set_special_mtime(self, index: int, mtime_ns: int) -> None:
        """Set the mtime of the root, or of an entry whose inode has links outside the root
        (its in-tree names get a new inode with that mtime); every other entry goes through
        `set_plain_mtimes`."""
        inventory = self.inventory
        entry = inventory.entries[index]
        if entry.parent < 0:
            os.utime(self.dirs.get(index), ns=(mtime_ns, mtime_ns))
            entry.mtime_ns = mtime_ns
        elif entry.is_file:
            self.replace(index, _copy, mtime_ns)
        else:
            self._replace_special(index, mtime_ns)

    def set_plain_mtimes(
        self, indices: Sequence[int], news: Sequence[int]
    ) -> Iterator[tuple[int, OSError]]:
        """Set each entry's mtime (and atime) to the value at the same position, one utime
        each, never following links; for entries that are neither the root nor linked outside
        it. Yields what failed."""
        entries = self.inventory.entries
        get_dir = self.dirs.get
        utime = os.utime
        for index, new in zip(indices, news):
            if stopping.requested:  # one look per entry: the common case costs no call
                stopping.check()
            entry = entries[index]
            rel = entry.rel
            try:
                utime(
                    rel[rel.rfind(b"/") + 1 :],
                    ns=(new, new),
                    dir_fd=get_dir(entry.parent),
                    follow_symlinks=False,
                )
            except OSError as exc:
                yield index, exc

    def _group_record(self, index: int, new_ino: int) -> bytes:
        """A hard-link group about to move to inode `new_ino`, name by name."""
        names = self.inventory.names_of(index)
        if self.journal is None or len(names) < 2:
            return b""
        entries = self.inventory.entries
        rels = [entries[index].rel] + [entries[i].rel for i in names if i != index]
        return self.journal.group(entries[index].ino, new_ino, rels)

    def _mtime_set(self, index: int, mtime_ns: int) -> None:
        for name_index in self.inventory.names_of(index):
            self.inventory.entries[name_index].mtime_ns = mtime_ns

    def _copy_metadata(self, src_fd: int, dst_fd: int, mtime_ns: int) -> None:
        st = os.fstat(src_fd)
        try:
            os.fchown(dst_fd, st.st_uid, st.st_gid)
        except PermissionError:
            if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                raise
        # After chown (which drops security.capability), before chmod (user.* needs write
        # permission: a 0444 file without CAP_DAC_OVERRIDE refuses it); a failure aborts the
        # replace: an xattr is never lost silently.
        for name in xattr.listxattr(src_fd):
            xattr.setxattr(dst_fd, name, xattr.getxattr(src_fd, name))
        os.fchmod(dst_fd, stat.S_IMODE(st.st_mode))  # after chown, which clears set-id bits
        os.utime(dst_fd, ns=(mtime_ns, mtime_ns))

    def _check_unchanged(self, entry: Entry, dir_fd: int) -> None:
        st = os.stat(entry.name, dir_fd=dir_fd, follow_symlinks=False)
        if not same_inode(st, entry) or st.st_mtime_ns != entry.mtime_ns:
            raise Raced(f"{entry.display()} changed since the walk")

    def _relink(self, first: Entry, first_dir_fd: int, other: Entry) -> None:
        """Point the name `other` at the inode now named by `first`, atomically."""
        other_dir_fd = self.dirs.get(other.parent)
        self._check_unchanged(other, other_dir_fd)
        temp = _temp_name(other.name)
        os.link(
            first.name,
            temp,
            src_dir_fd=first_dir_fd,
            dst_dir_fd=other_dir_fd,
            follow_symlinks=False,
        )
        try:
            os.rename(temp, other.name, src_dir_fd=other_dir_fd, dst_dir_fd=other_dir_fd)
        except BaseException:
            _unlink_quietly(temp, other_dir_fd)
            raise

    def _settle_dir(self, dir_index: int) -> None:
        """Give a directory back the mtime the inventory holds for it; fsync it on exit.

        Atomicity needs only the temp file's fsync before the rename; the directory's fsync
        (durability of the rename) can wait for the end of the run.
        """
        mtime = self.inventory.entries[dir_index].mtime_ns
        os.utime(self.dirs.get(dir_index), ns=(mtime, mtime))
        self._unsynced.add(dir_index)


def _unlink_quietly(name: bytes, dir_fd: int) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=dir_fd)
